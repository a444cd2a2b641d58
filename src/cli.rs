//! The command line (clap derive). It only turns flags into [`crate::config::Overrides`] and
//! logging options; validation lives in [`crate::config`].
//!
//! Flags that every command reads (`--env`, `--state`, `-v`, `-q`, `--log-format`) are global;
//! flags of one command belong to it: `backup`'s flags ([`BackupArgs`]) are accepted after
//! `backup` and, because `backup` is the default, with no command at all, but not by `check`.
//! A new command is a new [`Command`] variant with its own `Args` struct.

use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

use crate::config::Overrides;
use crate::logging::{LogFormat, LogOptions};

#[derive(Debug, Parser)]
#[command(
    name = "notion-git-backup",
    version,
    about = "Back up Notion databases into git repositories (Gitea/Forgejo or local git) as Markdown with every image and attachment.",
    after_help = "Without a command, runs `backup`.\nExit codes: 0 all pages backed up; 1 some pages failed (the run went on; they are retried next run); 2 the run could not start (configuration, authentication, another run holds the lock); 130 stopped by Ctrl-C or SIGTERM (the page in progress was finished, the state saved).\n`check` exit codes: 0 every check passed; 1 a check failed (the table says which and how to fix it); 2 the configuration could not be read.\n`restore` exit codes: 0 everything restored; 1 some pages failed (the report names each with the fix); 2 the restore could not start; 130 interrupted (run it again to finish).\nSettings come from the .env file and the environment; see README.md or .env.example."
)]
pub struct Cli {
    /// Path of the .env file with the settings (variables already set in the environment win).
    #[arg(long = "env", value_name = "PATH", default_value = ".env", global = true)]
    pub env: PathBuf,

    /// Path of the state file (overrides STATE_FILE; default: sync-state.json beside the .env file).
    #[arg(long = "state", value_name = "PATH", global = true)]
    pub state: Option<PathBuf>,

    /// More log output: -v adds each page's decisions, -vv each request (this tool's lines only;
    /// RUST_LOG overrides).
    #[arg(short, long, action = clap::ArgAction::Count, global = true, conflicts_with = "quiet")]
    pub verbose: u8,

    /// Print only warnings, errors and the final summary.
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// Log line format: human-readable text, or one JSON object per line for log shippers.
    #[arg(long, value_enum, default_value_t = CliLogFormat::Text, global = true)]
    pub log_format: CliLogFormat,

    /// `backup`'s flags, given without a command.
    #[command(flatten)]
    pub backup: BackupArgs,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The flags of `backup`.
#[derive(Debug, Args, Clone, Default, PartialEq, Eq)]
pub struct BackupArgs {
    /// Read Notion and render every changed page, but write nothing: no downloads, no commits, no state, no notifications; prints what would change.
    #[arg(long)]
    pub dry_run: bool,

    /// Ignore the saved state and re-render every page; only files that differ are committed.
    #[arg(long)]
    pub full_sync: bool,

    /// Let this run remove more pages than DELETE_GUARD allows (after you checked that they really
    /// were deleted in Notion).
    #[arg(long)]
    pub allow_mass_delete: bool,
}

#[derive(Debug, Subcommand, Clone, PartialEq, Eq)]
pub enum Command {
    /// Run the backup (the default when no command is given).
    Backup(BackupArgs),
    /// Verify the setup without writing anything: the Notion token, each database (shared? how
    /// many pages?), the destination (Gitea version and token, each repository and push access; or
    /// git, each repository and its remote for GIT_PUSH), the state file. Prints a table with the
    /// fix for each failure. Exit code 0: all checks passed; 1: a check failed; 2: the
    /// configuration could not be read.
    Check,
    /// Put a backup back into Notion, below an existing page: databases with their schemas and
    /// rows, pages and child pages, every block type the API can create, files, links and
    /// relations between the restored pages. Resumable (restore-state.json beside the state
    /// file); running it again creates nothing. With --dry-run: what would be created and lost.
    /// Exit code 0: everything restored; 1: some pages failed; 2: could not start.
    Restore(RestoreArgs),
}

/// The flags of `restore`.
#[derive(Debug, Args, Clone, PartialEq, Eq)]
pub struct RestoreArgs {
    /// A backed-up repository (a clone of the Gitea repository, or the local backup's
    /// repository), or the folder holding several side by side (BACKUP_DIR), restored together.
    #[arg(long, value_name = "PATH")]
    pub from: PathBuf,
    /// The Notion page (id or link) to restore into; it must be shared with the integration.
    #[arg(long, value_name = "PAGE")]
    pub to: String,
    /// Restore the backup as it was then: a date (YYYY-MM-DD, end of that day in TIMEZONE), an
    /// RFC 3339 time, or a commit.
    #[arg(long, value_name = "DATE|COMMIT")]
    pub at: Option<String>,
    /// Restore only this page or database folder of the backup (and what is below it).
    #[arg(long, value_name = "PATH")]
    pub only: Option<String>,
    /// Write nothing to Notion: print what would be created (databases, pages, blocks, files,
    /// bytes) and what cannot be restored.
    #[arg(long)]
    pub dry_run: bool,
}

impl Command {
    /// The command's name on the command line.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Backup(_) => "backup",
            Command::Check => "check",
            Command::Restore(_) => "restore",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CliLogFormat {
    Text,
    Json,
}

impl Cli {
    /// Parse the process's arguments; on a mistake print clap's error (or help) and exit 2.
    pub fn parse_args() -> Cli {
        Cli::try_parse_args(std::env::args_os()).unwrap_or_else(|e| e.exit())
    }

    /// Parse `args` (the program name first). `backup`'s flags before another command (such as
    /// `--dry-run check`) are an error, as they are after it.
    pub fn try_parse_args<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let cli = Cli::try_parse_from(args)?;
        if let Some(cmd) = &cli.command {
            if !matches!(cmd, Command::Backup(_)) && cli.backup != BackupArgs::default() {
                let flag = if cli.backup.dry_run {
                    "--dry-run"
                } else if cli.backup.full_sync {
                    "--full-sync"
                } else {
                    "--allow-mass-delete"
                };
                return Err(<Cli as CommandFactory>::command().error(
                    clap::error::ErrorKind::ArgumentConflict,
                    format!("{flag} belongs to `backup` and cannot be used with `{}`", cmd.name()),
                ));
            }
        }
        Ok(cli)
    }

    /// The command to run: `backup` (with the flags given before or after it) when none is named.
    pub fn to_run(&self) -> Command {
        match &self.command {
            None => Command::Backup(self.backup.clone()),
            Some(Command::Backup(b)) => Command::Backup(BackupArgs {
                dry_run: b.dry_run || self.backup.dry_run,
                full_sync: b.full_sync || self.backup.full_sync,
                allow_mass_delete: b.allow_mass_delete || self.backup.allow_mass_delete,
            }),
            Some(c) => c.clone(),
        }
    }

    pub fn overrides(&self) -> Overrides {
        let explicit = std::env::args_os().any(|a| a == "--env" || a.to_string_lossy().starts_with("--env="));
        let backup = match self.to_run() {
            Command::Backup(b) => b,
            Command::Check | Command::Restore(_) => BackupArgs::default(),
        };
        Overrides {
            env_path: self.env.clone(),
            env_path_explicit: explicit,
            state_file: self.state.clone(),
            dry_run: backup.dry_run,
            full_sync: backup.full_sync,
            allow_mass_delete: backup.allow_mass_delete,
        }
    }

    pub fn log_options(&self) -> LogOptions {
        LogOptions {
            format: match self.log_format {
                CliLogFormat::Text => LogFormat::Text,
                CliLogFormat::Json => LogFormat::Json,
            },
            verbosity: if self.quiet { -1 } else { self.verbose.min(2) as i8 },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_args(std::iter::once("notion-git-backup").chain(args.iter().copied()))
    }

    #[test]
    fn backup_flags_work_with_and_without_the_backup_command() {
        let dry = BackupArgs { dry_run: true, ..Default::default() };
        assert_eq!(parse(&["--dry-run"]).unwrap().to_run(), Command::Backup(dry.clone()));
        assert_eq!(parse(&["backup", "--dry-run"]).unwrap().to_run(), Command::Backup(dry));
        let all = parse(&["-v", "backup", "--full-sync", "--allow-mass-delete", "--env", "x.env"]).unwrap();
        assert_eq!(
            all.to_run(),
            Command::Backup(BackupArgs { dry_run: false, full_sync: true, allow_mass_delete: true })
        );
        assert_eq!(all.env, PathBuf::from("x.env"));
        assert_eq!(all.verbose, 1);
        let mixed = parse(&["--dry-run", "backup", "--full-sync"]).unwrap().to_run();
        assert_eq!(mixed, Command::Backup(BackupArgs { dry_run: true, full_sync: true, allow_mass_delete: false }));
        assert_eq!(parse(&[]).unwrap().to_run(), Command::Backup(BackupArgs::default()));
    }

    #[test]
    fn restore_has_its_own_flags_and_dry_run() {
        let r =
            parse(&["-q", "restore", "--from", "backup", "--to", "abc", "--at", "2026-11-20", "--dry-run"]).unwrap();
        match r.to_run() {
            Command::Restore(a) => {
                assert_eq!(
                    (a.from, a.to.as_str(), a.at.as_deref(), a.dry_run),
                    (PathBuf::from("backup"), "abc", Some("2026-11-20"), true)
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(!r.overrides().dry_run, "restore's --dry-run is not the backup's");
        assert!(parse(&["restore", "--from", "b"]).is_err(), "--to is required");
        assert!(parse(&["--dry-run", "restore", "--from", "b", "--to", "x"]).is_err());
    }

    #[test]
    fn check_takes_the_global_flags_only() {
        let c = parse(&["check", "--env", "a.env", "--state", "s.json", "-q"]).unwrap();
        assert_eq!(c.to_run(), Command::Check);
        assert_eq!(parse(&["--env", "a.env", "-v", "check"]).unwrap().to_run(), Command::Check);
        assert!(!c.overrides().dry_run);
        for flag in ["--dry-run", "--full-sync", "--allow-mass-delete"] {
            let e = parse(&["check", flag]).unwrap_err();
            assert_eq!(e.kind(), clap::error::ErrorKind::UnknownArgument, "check {flag}");
            let e = parse(&[flag, "check"]).unwrap_err();
            assert_eq!(e.kind(), clap::error::ErrorKind::ArgumentConflict, "{flag} check");
        }
    }

    #[test]
    fn verbosity_stops_at_two() {
        assert_eq!(parse(&["-vvvv"]).unwrap().log_options().verbosity, 2);
        assert_eq!(parse(&["-q"]).unwrap().log_options().verbosity, -1);
    }
}
