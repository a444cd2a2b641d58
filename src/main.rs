//! Entry point: parse the command line, build the configuration, run, map the outcome to an exit
//! code. Everything else lives in the library. `main` returns the code (instead of calling
//! `process::exit`) so that every destructor runs: locks, temp folders, the runtime.

use std::process::ExitCode;

use notion_git_backup::cli::{Cli, Command};
use notion_git_backup::{check, config, logging, notify, redact, restore, sync, ExitStatus};

fn main() -> ExitCode {
    let cli = Cli::parse_args();
    logging::init(&cli.log_options());
    let cfg = match config::load(&cli.overrides()) {
        Ok(c) => c,
        Err(e) => {
            eprint!("notion-git-backup: {e}");
            return exit(ExitStatus::Fatal.code());
        }
    };
    for s in cfg.secrets() {
        redact::register_secret(&s);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        // Pages are prepared on worker threads; very deep block trees recurse while rendering.
        .thread_stack_size(32 * 1024 * 1024)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("notion-git-backup: cannot start the async runtime: {e}");
            return exit(ExitStatus::Fatal.code());
        }
    };
    match cli.to_run() {
        Command::Check => {
            let report = runtime.block_on(check::check(&cfg));
            print!("{}", redact::scrub(&report.table()));
            exit(report.exit_code())
        }
        Command::Restore(a) => {
            let opts = restore::RestoreOptions { from: a.from, to: a.to, at: a.at, only: a.only, dry_run: a.dry_run };
            let report = runtime.block_on(restore::run_with_signals(&cfg, &opts));
            print!("{}", redact::scrub(&report.summary_text()));
            exit(report.exit_status().code())
        }
        Command::Backup(_) => {
            let (status, report) = runtime.block_on(sync::run(cfg));
            print!("{}", redact::scrub(&notify::dry_run_text(&report)));
            eprint!("{}", redact::scrub(&notify::summary_text(&report)));
            exit(status.code())
        }
    }
}

/// An exit code from the library's 0..=255 contract.
fn exit(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code).unwrap_or(2))
}
