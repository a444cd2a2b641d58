//! Notifications: the run report, its end-of-run summary, and its delivery to Discord, a
//! health-check service (healthchecks.io, Uptime Kuma push) and a generic JSON webhook.
//!
//! The sync engine fills a [`RunReport`]; [`summary_text`] renders it for stderr and the log;
//! [`Notifier`] delivers it. Delivery never fails a backup: every problem becomes a warning
//! (logged and returned) that names the target by its redacted URL. Webhook and ping URLs are
//! secrets and are registered with [`crate::redact`] when the [`Notifier`] is built. Nothing is
//! sent on a dry run. This module must not decide what a run does or how it exits.

mod discord;
mod healthcheck;
mod http;
mod summary;
mod webhook;

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use discord::{discord_message, should_send as discord_should_send, DISCORD_LIMIT};
pub use http::{retry_after, NotifyError, RetryPolicy, Target};
pub use summary::{dry_run_text, human_bytes, human_duration, summary_text};
pub use webhook::webhook_payload;

use crate::redact;

/// Everything a run did, for the summary, notifications and the exit code.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunReport {
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub dry_run: bool,
    pub databases: Vec<DatabaseReport>,
    pub notion_requests: u64,
    pub notion_rate_limited: u64,
    /// the run could not start or had to stop: configuration, authentication, lock
    pub fatal: Option<String>,
    /// the run stopped before its work was done (signal, MAX_RUN_MINUTES); the next run goes on
    pub stopped: Option<String>,
}

/// What happened to one configured database.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DatabaseReport {
    pub label: String,
    pub repo: String,
    pub pages_checked: usize,
    /// titles of pages committed (rows and child pages)
    pub backed_up: Vec<String>,
    /// how many of `backed_up` are child pages (pages inside pages, rows of inline databases)
    pub child_pages_backed_up: usize,
    /// pages backed up again because their files in the repository were missing or changed
    pub repaired: Vec<String>,
    /// child pages re-checked against Notion (VERIFY_DAYS)
    pub verified: usize,
    /// files kept from the last backup because they could not be downloaded again
    pub kept_files: usize,
    /// pages and files taken over from a backup this tool did not record (notion-gitea-backup.py's,
    /// or one whose state lost its folder records): moved into this tool's layout
    pub adopted_pages: usize,
    pub adopted_files: usize,
    /// the deletion guard stopped this run from removing pages (they were all kept)
    pub guard: Option<String>,
    /// dry run: the commits that would have been made
    pub planned: Vec<PlannedCommit>,
    /// the configured database as listed in this run: its Notion id, title and data sources
    pub notion_id: String,
    pub notion_title: String,
    pub data_sources: Vec<DataSourceCount>,
    pub deleted: Vec<String>,
    pub moved: Vec<String>,
    pub failed: Vec<PageFailure>,
    pub files_committed: usize,
    pub bytes_downloaded: u64,
    pub commits: Vec<String>,
    pub warnings: Vec<String>,
    #[serde(rename = "duration_ms", serialize_with = "as_millis")]
    pub duration: Duration,
    /// database-level failure (not shared, repo missing)
    pub error: Option<String>,
}

/// A data source of a database and how many pages it listed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DataSourceCount {
    pub name: String,
    pub id: String,
    pub pages: usize,
}

/// A commit a dry run would have made.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PlannedCommit {
    pub what: String,
    pub added: Vec<String>,
    pub changed: Vec<String>,
    pub deleted: Vec<String>,
}

/// A page that could not be backed up this run (it is retried next run).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PageFailure {
    pub title: String,
    pub id: String,
    pub reason: String,
}

/// The outcome of a run as notifications name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// every database and page was backed up
    Ok,
    /// the run went on, but a database or some pages failed
    Failed,
    /// the run could not start or had to stop
    Fatal,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Ok => "ok",
            RunStatus::Failed => "failed",
            RunStatus::Fatal => "fatal",
        }
    }
}

impl DatabaseReport {
    /// A database-level error or at least one failed page.
    pub fn has_failures(&self) -> bool {
        self.error.is_some() || !self.failed.is_empty() || self.guard.is_some()
    }
}

impl RunReport {
    /// A fatal error, a database-level error or at least one failed page.
    pub fn has_failures(&self) -> bool {
        self.fatal.is_some() || self.stopped.is_some() || self.databases.iter().any(DatabaseReport::has_failures)
    }

    pub fn status(&self) -> RunStatus {
        if self.fatal.is_some() {
            RunStatus::Fatal
        } else if self.has_failures() {
            RunStatus::Failed
        } else {
            RunStatus::Ok
        }
    }

    /// Wall-clock time of the run (zero if the clock went backwards).
    pub fn duration(&self) -> Duration {
        (self.finished_at - self.started_at).to_std().unwrap_or_default()
    }

    fn sum(&self, f: impl Fn(&DatabaseReport) -> usize) -> usize {
        self.databases.iter().map(f).sum()
    }

    pub fn total_pages_checked(&self) -> usize {
        self.sum(|d| d.pages_checked)
    }
    pub fn total_backed_up(&self) -> usize {
        self.sum(|d| d.backed_up.len())
    }
    pub fn total_deleted(&self) -> usize {
        self.sum(|d| d.deleted.len())
    }
    pub fn total_moved(&self) -> usize {
        self.sum(|d| d.moved.len())
    }
    pub fn total_failed(&self) -> usize {
        self.sum(|d| d.failed.len())
    }
    pub fn total_files_committed(&self) -> usize {
        self.sum(|d| d.files_committed)
    }
    pub fn total_bytes_downloaded(&self) -> u64 {
        self.databases.iter().map(|d| d.bytes_downloaded).sum()
    }
    pub fn total_commits(&self) -> usize {
        self.sum(|d| d.commits.len())
    }
    pub fn total_warnings(&self) -> usize {
        self.sum(|d| d.warnings.len())
    }
    /// Databases that failed as a whole (not shared, repository missing).
    pub fn total_database_errors(&self) -> usize {
        self.sum(|d| usize::from(d.error.is_some()))
    }
}

fn as_millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Where and when to notify; built by `config` from `DISCORD_LEVEL`, `DISCORD_WEBHOOK_URL`,
/// `HEALTHCHECK_URL`, `WEBHOOK_URL` and `TIMEZONE`.
#[derive(Debug, Clone)]
pub struct NotifyConfig {
    /// 0 never, 1 only when something failed, 2 (or more) always.
    pub discord_level: u8,
    pub discord_webhook_url: Option<String>,
    pub healthcheck_url: Option<String>,
    pub webhook_url: Option<String>,
    /// for "Completed at" in Discord messages
    pub timezone: chrono_tz::Tz,
    pub hostname: String,
    pub user_agent: String,
}

/// Delivers run start and run end to the configured targets.
pub struct Notifier {
    cfg: NotifyConfig,
    client: Result<reqwest::Client, String>,
    retry: RetryPolicy,
}

/// Per-request limit: a hung notification endpoint must not hold up the cron job for long.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

impl Notifier {
    /// Registers every configured URL as a secret (whoever has one can post or ping) and builds
    /// the HTTP client. Empty URLs count as not configured.
    pub fn new(mut cfg: NotifyConfig) -> Self {
        for url in [&mut cfg.discord_webhook_url, &mut cfg.healthcheck_url, &mut cfg.webhook_url] {
            if url.as_deref().is_some_and(|u| u.trim().is_empty()) {
                *url = None;
            }
            if let Some(u) = url.as_deref() {
                redact::register_url_secret(u);
            }
        }
        let client = reqwest::Client::builder()
            .user_agent(cfg.user_agent.clone())
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(|e| redact::scrub(&e.without_url().to_string()));
        Self { cfg, client, retry: http::default_policy() }
    }

    /// Replaces the retry policy (tests use short waits).
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Pings the health check's start endpoint. Returns warnings (already logged); nothing is
    /// sent on a dry run.
    pub async fn run_started(&self, dry_run: bool) -> Vec<String> {
        if dry_run {
            return Vec::new();
        }
        let Some(url) = self.cfg.healthcheck_url.as_deref() else {
            return Vec::new();
        };
        warnings([healthcheck::start(self, url).await])
    }

    /// Sends the end-of-run notifications (Discord per `discord_level`, the health-check
    /// success or failure ping, the JSON webhook) concurrently. Returns warnings (already
    /// logged); nothing is sent on a dry run.
    pub async fn run_finished(&self, report: &RunReport) -> Vec<String> {
        if report.dry_run {
            return Vec::new();
        }
        let discord = async {
            match self.cfg.discord_webhook_url.as_deref() {
                Some(url) if discord::should_send(self.cfg.discord_level, report) => {
                    discord::send(self, url, report).await
                }
                _ => Ok(()),
            }
        };
        let health = async {
            match self.cfg.healthcheck_url.as_deref() {
                Some(url) => healthcheck::finish(self, url, report).await,
                None => Ok(()),
            }
        };
        let hook = async {
            match self.cfg.webhook_url.as_deref() {
                Some(url) => webhook::send(self, url, report).await,
                None => Ok(()),
            }
        };
        let (d, h, w) = futures::join!(discord, health, hook);
        warnings([d, h, w])
    }
}

/// Turns delivery errors into scrubbed warning lines and logs them.
fn warnings(results: impl IntoIterator<Item = Result<(), NotifyError>>) -> Vec<String> {
    results
        .into_iter()
        .filter_map(Result::err)
        .map(|e| {
            let warning = redact::scrub(&e.to_string());
            tracing::warn!("{warning}");
            warning
        })
        .collect()
}
