//! The engine: back up every configured database (and, with WORKSPACE_REPO, the rest of the
//! workspace) into its repository, as one pipeline of one-way stages:
//!
//! - [`discover`]: what to look at besides the listings (recent edits below the rows, a VERIFY_DAYS
//!   slice, repairs, unfinished work);
//! - [`plan`]: the pure rules (folders, the one `needs_backup`, owned paths, the deletion guard);
//! - [`prepare`]: fetch, render and download one node, writing nothing but staged files;
//! - [`commit`]: one committer per repository, the only writer of the state;
//! - [`pipeline`]: one work queue across all repositories;
//!
//! over a shared context ([`engine`]), a vocabulary ([`vocab`]) and the stop conditions
//! ([`control`]). This module opens the destinations, starts the pipeline and returns a
//! [`RunReport`]; `main` prints it.
//!
//! Rules the engine guarantees:
//! - a node is recorded in the state only after its commit is durable (a failed or interrupted page
//!   is retried next run);
//! - commits to one repository are serialised; one failing page never stops the others; a failing
//!   database never stops the other databases;
//! - a run with nothing changed in Notion makes no commit;
//! - nothing is deleted without Notion's word about that very node, and a run that would delete
//!   many pages deletes none;
//! - what the state records is in the repository, or it is backed up again.

pub mod adopt;
pub mod commit;
pub mod control;
pub mod discover;
pub mod engine;
pub mod pipeline;
pub mod plan;
pub mod prepare;
pub mod sinks;
pub mod vocab;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use crate::config::{Config, DatabaseConfig};
use crate::ids;
use crate::notify::{DatabaseReport, Notifier, RunReport};
use crate::notion::api::KeepRaw;
use crate::notion::model::Page;
use crate::notion::{ClientConfig, NotionClient};
use crate::sink::{Sink, SinkError};
use crate::state::{NodeKind, RunLock, State};

pub use control::Interrupt;

use commit::{Committer, StateSaver};
use control::{Control, Stop};
use engine::{Engine, RepoInfo};

/// The process exit code contract (cron and health checks rely on it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Every page backed up.
    Success = 0,
    /// Some pages or databases failed; the run went on; they are retried next run.
    PartialFailure = 1,
    /// The run could not start: configuration, authentication, lock.
    Fatal = 2,
    /// Stopped by SIGINT/SIGTERM: the page in flight was finished and the state saved; the next
    /// run goes on (128 + SIGINT, as shells report it).
    Interrupted = 130,
}

impl ExitStatus {
    pub fn code(self) -> i32 {
        self as i32
    }
}

/// Makes the destination of one repository (the seam tests use to back up into memory).
pub type SinkFactory = dyn Fn(&Config, &DatabaseConfig) -> Result<Box<dyn Sink>, SinkError> + Send + Sync;

/// Run the backup. Never panics on bad input; the report says what happened.
pub async fn run(cfg: Config) -> (ExitStatus, RunReport) {
    let interrupt = Interrupt::default();
    interrupt.install_signal_handlers();
    run_with(cfg, interrupt).await
}

pub async fn run_with(cfg: Config, interrupt: Interrupt) -> (ExitStatus, RunReport) {
    run_with_sinks(cfg, interrupt, &sinks::make_sink).await
}

/// [`run_with`], with the destinations made by `make_sink`.
pub async fn run_with_sinks(cfg: Config, interrupt: Interrupt, make_sink: &SinkFactory) -> (ExitStatus, RunReport) {
    let started = chrono::Utc::now();
    let mut report =
        RunReport { started_at: started, finished_at: started, dry_run: cfg.dry_run, ..Default::default() };
    for w in &cfg.warnings {
        tracing::warn!("{w}");
    }
    let notifier = Notifier::new(sinks::notify_config(&cfg));
    let fatal = |mut report: RunReport, msg: String| {
        tracing::error!("{msg}");
        report.fatal = Some(msg);
        report.finished_at = chrono::Utc::now();
        (ExitStatus::Fatal, report)
    };
    // One run per state file at a time (dry runs write nothing and do not need the lock).
    let _lock = if cfg.dry_run {
        None
    } else {
        match RunLock::acquire(&cfg.state_file) {
            Ok(l) => Some(l),
            Err(e) => return fatal(report, e.to_string()),
        }
    };
    // The notifier logs its own warnings; a failed notification never fails the backup.
    let _ = notifier.run_started(cfg.dry_run).await;
    let cfg = Arc::new(cfg);
    let control = Control::new(interrupt.clone(), cfg.max_run);
    if let Err(msg) = run_locked(cfg.clone(), control.clone(), make_sink, &mut report).await {
        let (status, report) = fatal(report, msg);
        let _ = notifier.run_finished(&report).await;
        return (status, report);
    }
    report.finished_at = chrono::Utc::now();
    let status = if report.fatal.is_some() {
        ExitStatus::Fatal
    } else if interrupt.is_set() {
        ExitStatus::Interrupted
    } else if report.has_failures() {
        ExitStatus::PartialFailure
    } else {
        ExitStatus::Success
    };
    let _ = notifier.run_finished(&report).await;
    (status, report)
}

async fn run_locked(
    cfg: Arc<Config>,
    control: Control,
    make_sink: &SinkFactory,
    report: &mut RunReport,
) -> Result<(), String> {
    let state = State::load(&cfg.state_file).map_err(|e| e.to_string())?;
    let mut ncfg = ClientConfig::new(&cfg.notion.api_url, &cfg.notion.token);
    ncfg.version = cfg.notion.version.clone();
    ncfg.rate_per_second = cfg.notion.rate_limit;
    let notion = NotionClient::new(ncfg).map_err(|e| e.to_string())?;

    // Raw JSON (for page.json) is kept only for pages that look changed; others are re-read if
    // they turn out to need a backup after all.
    let keep_raw: KeepRaw = if cfg.full_sync {
        Arc::new(|_: &Page| true)
    } else {
        let known: std::collections::HashMap<String, String> =
            state.pages.iter().map(|(id, r)| (id.clone(), r.last_edited_time.clone())).collect();
        Arc::new(move |p: &Page| known.get(&ids::normalize(&p.id)) != Some(&p.last_edited_time))
    };
    // Downloads are reads: a dry run downloads too, so it can list every file that would change.
    let downloader = Some(sinks::downloader(&cfg).map_err(|e| e.to_string())?);
    let staging = tempfile::Builder::new()
        .prefix("notion-git-backup-")
        .tempdir()
        .map_err(|e| format!("cannot create a temporary folder: {e}"))?;

    // The repositories of the run: one per configured database, then the workspace.
    let mut targets: Vec<DatabaseConfig> = cfg.databases.clone();
    if let Some(ws) = &cfg.workspace_repo {
        targets.push(DatabaseConfig {
            index: 0,
            notion_id: String::new(),
            repo: ws.clone(),
            label: "Workspace".into(),
        });
    }
    // Open every destination first (taking its lock and reading its tree once): a repository
    // another run holds stops this run before anything is read from Notion; one that cannot be
    // opened fails as a whole and the others go on.
    let mut opened: Vec<(usize, Box<dyn Sink>)> = Vec::new();
    let mut failed_reports: Vec<(usize, DatabaseReport)> = Vec::new();
    for (ix, t) in targets.iter().enumerate() {
        let known = state.destinations.get(&t.repo).cloned();
        match open_sink(&cfg, t, make_sink, known).await {
            Ok(sink) => opened.push((ix, sink)),
            Err(SinkError::Locked(msg)) => return Err(msg),
            Err(e) => {
                let msg = format!("repository {}: {e}", t.repo);
                tracing::error!(repository = %t.repo, "{msg}");
                let dr = DatabaseReport {
                    label: t.label.clone(),
                    repo: t.repo.clone(),
                    error: Some(msg),
                    ..Default::default()
                };
                failed_reports.push((ix, dr));
            }
        }
    }
    // Links into a repository on Gitea/Forgejo point at its web pages, as its sink spells them.
    let repos: Vec<RepoInfo> = targets
        .iter()
        .enumerate()
        .map(|(ix, t)| RepoInfo {
            name: t.repo.clone(),
            label: t.label.clone(),
            root_db: (!t.notion_id.is_empty()).then(|| ids::normalize(&t.notion_id)),
            web_base: opened
                .iter()
                .find(|(i, _)| *i == ix)
                .and_then(|(_, s)| s.web_url(""))
                .map(|u| format!("{}/", u.trim_end_matches('/'))),
        })
        .collect();
    let recent_needed = state.last_run_started.clone().filter(|_| discover::has_nested_pages(&state) && !cfg.full_sync);
    let engine = Arc::new(Engine::new(
        cfg.clone(),
        notion.clone(),
        downloader,
        control.clone(),
        repos,
        state,
        staging,
        keep_raw,
    ));
    let saver = Arc::new(Mutex::new(StateSaver::new(cfg.clone())));
    let mut committers = Vec::new();
    let mut adoption = Vec::new();
    for (ix, sink) in opened {
        let t = &targets[ix];
        let mut dr = DatabaseReport { label: t.label.clone(), repo: t.repo.clone(), ..Default::default() };
        notice_destination(&engine, &t.repo, sink.as_ref(), &mut dr);
        let earlier = discover::earlier_folders(&engine, ix, sink.as_ref()).await;
        adoption.extend(discover::adoption_tasks(&engine, ix, &earlier));
        let mut c = Committer::new(engine.clone(), ix, sink, dr, saver.clone());
        c.earlier = earlier;
        committers.push((ix, c));
    }

    // Edits below the rows since the last run (search; its misses are caught by VERIFY_DAYS).
    let mut recent = match recent_needed {
        Some(since) => discover::recently_edited(&engine, &since).await.map_err(|e| e.to_string())?,
        None => discover::Recent::default(),
    };
    let mut initial = adoption;
    let mut workspace = None;
    let mut covered: HashSet<String> = HashSet::new();
    {
        let st = engine.state.read().expect("state lock");
        for (id, r) in st.pages.iter() {
            if cfg.databases.iter().any(|d| d.repo == r.repo) {
                covered.insert(id.clone());
                covered.extend(r.data_sources.iter().cloned());
            }
        }
    }
    for (ix, c) in committers.iter() {
        let root = discover::root_task(&engine, *ix);
        if root.kind == vocab::TaskKind::Database {
            engine.confirm_location(&root.id, *ix, "", NodeKind::Database);
            engine.set_title(&root.id, &engine.repos[*ix].label);
            covered.insert(root.id.clone());
            initial.push(root);
        } else {
            workspace = Some(root);
        }
        initial.extend(discover::initial_tasks(&engine, *ix, &mut recent, c.sink()));
    }

    let finished = pipeline::run(engine.clone(), committers, initial, covered, workspace).await;
    let mut reports = finished.reports;
    reports.extend(failed_reports);
    reports.sort_by_key(|(ix, _)| *ix);
    report.databases = reports.into_iter().map(|(_, r)| r).collect();
    if let Some(f) = finished.fatal {
        report.fatal = Some(f);
    }
    match finished.stop {
        Some(Stop::Interrupted) if report.fatal.is_none() => {
            report.stopped = Some("interrupted by a signal: the state is saved; the next run finishes the job".into());
        }
        Some(Stop::Deadline) => {
            let mins = control.limit().map(|d| d.as_secs() / 60).unwrap_or_default();
            report.stopped = Some(format!(
                "stopped after MAX_RUN_MINUTES={mins}: what was committed is saved; the next run goes on from there"
            ));
        }
        _ => {}
    }

    if !cfg.dry_run {
        let mut st = engine.state.write().expect("state lock");
        if let Some(u) = engine.users_read.get() {
            st.users = Some(u.iter().map(|(k, v)| (k.clone(), v.clone())).collect());
        }
        let all_opened = report.databases.iter().all(|d| d.error.is_none());
        if finished.all_listed && all_opened && finished.stop.is_none() && report.fatal.is_none() {
            st.last_run_started = Some(engine.run_started.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        }
        let mut saver = saver.lock().expect("saver lock");
        saver.save(&st, true);
        if let Some(e) = saver.error.take() {
            return Err(e);
        }
    }
    report.notion_requests = notion.requests_made();
    report.notion_rate_limited = notion.rate_limited();
    Ok(())
}

async fn open_sink(
    cfg: &Config,
    t: &DatabaseConfig,
    make_sink: &SinkFactory,
    known: Option<String>,
) -> Result<Box<dyn Sink>, SinkError> {
    let mut sink = make_sink(cfg, t)?;
    if known.is_some_and(|k| k == sink.identity()) {
        sink.known_destination();
    }
    if !cfg.dry_run {
        sink.lock().await?;
    }
    sink.open(!cfg.dry_run).await?;
    Ok(sink)
}

/// A state written for another destination (the same repository name on another server or
/// folder): said in the summary; the records are checked against this tree like any others, so
/// whatever is missing here is backed up again.
fn notice_destination(engine: &Engine, repo: &str, sink: &dyn Sink, report: &mut DatabaseReport) {
    let st = engine.state.read().expect("state lock");
    if let Some(before) = st.destinations.get(repo) {
        let now = sink.identity();
        if *before != now {
            let msg = format!(
                "the state file was written for {before}, this run backs up to {now}: every recorded page missing here is backed up again"
            );
            tracing::warn!(repository = %repo, "{msg}");
            report.warnings.push(msg);
        }
    }
}
