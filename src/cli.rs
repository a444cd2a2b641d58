//! The command line (clap derive). It only turns flags into [`crate::config::Overrides`] and
//! logging options; validation lives in [`crate::config`].

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::config::Overrides;
use crate::logging::{LogFormat, LogOptions};

#[derive(Debug, Parser)]
#[command(
    name = "notion-git-backup",
    version,
    about = "Back up Notion databases into git repositories (Gitea/Forgejo or local git) as Markdown with every image and attachment.",
    after_help = "Exit codes: 0 all pages backed up; 1 some pages failed (the run went on; they are retried next run); 2 the run could not start (configuration, authentication, another run holds the lock).\n`check` exit codes: 0 every check passed; 1 a check failed (the table says which and how to fix it); 2 the configuration could not be read.\nSettings come from the .env file and the environment; see README.md or .env.example."
)]
pub struct Cli {
    /// Path of the .env file with the settings (variables already set in the environment win).
    #[arg(long = "env", value_name = "PATH", default_value = ".env", global = true)]
    pub env: PathBuf,

    /// Read Notion and render every changed page, but write nothing: no downloads, no commits, no state, no notifications; prints what would change.
    #[arg(long, global = true)]
    pub dry_run: bool,

    /// Ignore the saved state and re-render every page; only files that differ are committed.
    #[arg(long, global = true)]
    pub full_sync: bool,

    /// Let this run remove more pages than DELETE_GUARD allows (after you checked that they really
    /// were deleted in Notion).
    #[arg(long, global = true)]
    pub allow_mass_delete: bool,

    /// Path of the state file (overrides STATE_FILE; default: sync-state.json beside the .env file).
    #[arg(long = "state", value_name = "PATH", global = true)]
    pub state: Option<PathBuf>,

    /// More log output (-v debug, -vv trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true, conflicts_with = "quiet")]
    pub verbose: u8,

    /// Print only warnings, errors and the final summary.
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// Log line format: human-readable text, or one JSON object per line for log shippers.
    #[arg(long, value_enum, default_value_t = CliLogFormat::Text, global = true)]
    pub log_format: CliLogFormat,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Run the backup (the default when no command is given).
    Backup,
    /// Verify the setup without writing anything: the Notion token, each database (shared? how
    /// many pages?), the destination (Gitea version and token, each repository and push access; or
    /// git and the backup folder), the state file. Prints a table with the fix for each failure.
    /// Exit code 0: all checks passed; 1: a check failed; 2: the configuration could not be read.
    Check,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CliLogFormat {
    Text,
    Json,
}

impl Cli {
    pub fn overrides(&self) -> Overrides {
        let explicit = std::env::args_os().any(|a| a == "--env" || a.to_string_lossy().starts_with("--env="));
        Overrides {
            env_path: self.env.clone(),
            env_path_explicit: explicit,
            state_file: self.state.clone(),
            dry_run: self.dry_run,
            full_sync: self.full_sync,
            allow_mass_delete: self.allow_mass_delete,
        }
    }

    pub fn log_options(&self) -> LogOptions {
        LogOptions {
            format: match self.log_format {
                CliLogFormat::Text => LogFormat::Text,
                CliLogFormat::Json => LogFormat::Json,
            },
            verbosity: if self.quiet { -1 } else { self.verbose.min(3) as i8 },
        }
    }
}
