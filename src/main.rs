//! Entry point: parse the command line, build the configuration, run, map the outcome to an exit
//! code. Everything else lives in the library.

use clap::Parser;
use notion_git_backup::cli::{Cli, Command};
use notion_git_backup::{check, config, logging, notify, redact, sync, ExitStatus};

fn main() {
    let cli = Cli::parse();
    logging::init(&cli.log_options());
    let cfg = match config::load(&cli.overrides()) {
        Ok(c) => c,
        Err(e) => {
            eprint!("notion-git-backup: {e}");
            std::process::exit(ExitStatus::Fatal.code());
        }
    };
    for s in cfg.secrets() {
        redact::register_secret(&s);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("notion-git-backup: cannot start the async runtime: {e}");
            std::process::exit(ExitStatus::Fatal.code());
        }
    };
    if cli.command == Some(Command::Check) {
        let report = runtime.block_on(check::check(&cfg));
        print!("{}", redact::scrub(&report.table()));
        std::process::exit(report.exit_code());
    }
    let (status, report) = runtime.block_on(sync::run(cfg));
    eprint!("{}", redact::scrub(&notify::summary_text(&report)));
    std::process::exit(status.code());
}
