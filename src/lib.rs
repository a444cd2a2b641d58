//! notion-git-backup: back up Notion databases into git repositories as clean Markdown with every
//! image and attachment.
//!
//! The library does all the work; `main.rs` only parses the command line, builds a [`config::Config`],
//! calls [`run`] and maps the outcome to an exit code. One module per boundary:
//!
//! - [`config`]: `.env` + environment -> a validated, plain `Config` (every problem reported at once)
//! - [`http`]: the one retry policy, `Retry-After`, timeouts and transport errors under every client
//! - [`notion`]: the Notion API client (auth, version, rate limit, retry, pagination, models, block tree)
//! - [`markdown`]: pure rendering of a page and its blocks to `index.md`
//! - [`media`]: downloading files, sniffing their real type, naming them stably
//! - [`sink`]: where backups go (Gitea/Forgejo API, local git), behind a `Sink` trait
//! - [`state`]: the versioned `sync-state.json`, written atomically
//! - [`sync`]: the engine: what changed -> fetch -> render -> commit -> record
//! - [`notify`]: run summary, Discord, health checks, webhooks
//! - [`check`]: the `check` command, verifying the setup without writing anything
//! - [`restore`]: the `restore` command, putting a backup back into Notion

pub mod check;
pub mod cli;
pub mod config;
pub mod http;
pub mod ids;
pub mod logging;
pub mod markdown;
pub mod media;
pub mod notify;
pub mod notion;
pub mod paths;
pub mod redact;
pub mod restore;
pub mod sink;
pub mod state;
pub mod sync;

pub use sync::{run, ExitStatus};

/// `notion-git-backup/<version> (+https://github.com/notion-git-backup)`: sent to every server.
pub fn user_agent() -> String {
    format!("notion-git-backup/{}", env!("CARGO_PKG_VERSION"))
}
