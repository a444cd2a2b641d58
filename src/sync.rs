//! The engine: for each configured database, list its pages, decide what changed against the
//! state, fetch + render + download + commit the changed pages, record each page right after its
//! commit lands, remove pages deleted in Notion, keep a README index, and report.
//!
//! Rules this module guarantees:
//! - a page is recorded in the state only after its commit is durable (a failed or interrupted
//!   page is retried next run);
//! - commits to one repository are serialised, and the state is saved in commit order;
//! - one failing page never stops the others; a failing database never stops the other databases;
//! - a run with nothing changed in Notion makes no commit.

pub mod index;
pub mod page;
pub mod plan;
pub mod sinks;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};

use crate::config::Config;
use crate::ids;
use crate::media::Downloader;
use crate::notify::{DatabaseReport, Notifier, PageFailure, RunReport};
use crate::notion::model::{DataSourceRef, Page};
use crate::notion::{ClientConfig, NotionClient, NotionError};
use crate::sink::{ChangeSet, Plan, Sink};
use crate::state::{PageRecord, RunLock, State};

/// The process exit code contract (cron and health checks rely on it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Every page backed up.
    Success = 0,
    /// Some pages or databases failed; the run went on; they are retried next run.
    PartialFailure = 1,
    /// The run could not start: configuration, authentication, lock.
    Fatal = 2,
}

impl ExitStatus {
    pub fn code(self) -> i32 {
        self as i32
    }
}

/// Set by SIGINT/SIGTERM: no new page is started, the page being committed finishes, the state is
/// saved, and the run ends.
#[derive(Debug, Clone, Default)]
pub struct Interrupt(Arc<AtomicBool>);

impl Interrupt {
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
    pub fn set(&self) {
        self.0.store(true, Ordering::SeqCst)
    }
    /// Install SIGINT/SIGTERM handlers that set this flag.
    pub fn install_signal_handlers(&self) {
        let flag = self.clone();
        tokio::spawn(async move {
            #[cfg(unix)]
            {
                use tokio::signal::unix::{signal, SignalKind};
                let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt()))
                else {
                    return;
                };
                tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
            }
            #[cfg(not(unix))]
            {
                let _ = tokio::signal::ctrl_c().await;
            }
            tracing::warn!("interrupted: finishing the page being committed, saving state, then stopping");
            flag.set();
        });
    }
}

/// A listed page with where it goes.
#[derive(Debug, Clone)]
pub(crate) struct Listed {
    pub page: Page,
    pub id: String,
    pub title: String,
    pub folder: String,
}

/// Everything known about one database after listing it.
pub(crate) struct Listing {
    pub title: String,
    pub data_sources: Vec<(DataSourceRef, usize)>,
    pub pages: Vec<Listed>,
}

/// Run the backup. Never panics on bad input; the report says what happened.
pub async fn run(cfg: Config) -> (ExitStatus, RunReport) {
    let interrupt = Interrupt::default();
    interrupt.install_signal_handlers();
    run_with(cfg, interrupt).await
}

pub async fn run_with(cfg: Config, interrupt: Interrupt) -> (ExitStatus, RunReport) {
    let started = chrono::Utc::now();
    let report = RunReport { started_at: started, finished_at: started, dry_run: cfg.dry_run, ..Default::default() };
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

    // One run at a time (dry runs write nothing and do not need the lock).
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
    let (status, mut report) = match run_locked(&cfg, &interrupt, report.clone()).await {
        Ok(r) => {
            let failed = r.databases.iter().any(|d| d.error.is_some() || !d.failed.is_empty()) || r.fatal.is_some();
            (if failed { ExitStatus::PartialFailure } else { ExitStatus::Success }, r)
        }
        Err(msg) => fatal(report, msg),
    };
    report.finished_at = chrono::Utc::now();
    let status = if interrupt.is_set() && status == ExitStatus::Success { ExitStatus::PartialFailure } else { status };
    let _ = notifier.run_finished(&report).await;
    (status, report)
}

/// Shared, read-only context of one run.
pub(crate) struct Engine<'a> {
    pub cfg: &'a Config,
    pub notion: NotionClient,
    pub downloader: Option<Downloader>,
    pub users: HashMap<String, String>,
    /// Canonical page id -> title, across all databases (relations).
    pub titles: HashMap<String, String>,
    pub interrupt: &'a Interrupt,
    pub staging: tempfile::TempDir,
    pub run_date: String,
}

async fn run_locked(cfg: &Config, interrupt: &Interrupt, mut report: RunReport) -> Result<RunReport, String> {
    let mut state = State::load(&cfg.state_file).map_err(|e| e.to_string())?;
    let mut ncfg = ClientConfig::new(&cfg.notion.api_url, &cfg.notion.token);
    ncfg.version = cfg.notion.version.clone();
    ncfg.rate_per_second = cfg.notion.rate_limit;
    let notion = NotionClient::new(ncfg).map_err(|e| e.to_string())?;

    // Phase 1: list every database, so relations and deletions can see all pages.
    let mut listings: Vec<Result<Listing, NotionError>> = Vec::new();
    for db in &cfg.databases {
        if interrupt.is_set() {
            break;
        }
        tracing::info!(database = %db.label, "listing pages");
        let l = list_database(&notion, &db.notion_id, &db.repo).await;
        if let Err(NotionError::Unauthorized) = &l {
            return Err(NotionError::Unauthorized.to_string());
        }
        listings.push(l);
    }

    let downloader = if cfg.dry_run { None } else { Some(sinks::downloader(cfg).map_err(|e| e.to_string())?) };
    let users = load_users(&notion).await;
    let mut titles = HashMap::new();
    for l in listings.iter().flatten() {
        for p in &l.pages {
            titles.insert(p.id.clone(), p.title.clone());
        }
    }
    // Pages now listed in some database, by canonical id -> repo.
    let listed_in: HashMap<String, String> = cfg
        .databases
        .iter()
        .zip(listings.iter())
        .filter_map(|(db, l)| l.as_ref().ok().map(|l| (db, l)))
        .flat_map(|(db, l)| l.pages.iter().map(move |p| (p.id.clone(), db.repo.clone())))
        .collect();
    let staging = tempfile::Builder::new()
        .prefix("notion-git-backup-")
        .tempdir()
        .map_err(|e| format!("cannot create a temporary folder: {e}"))?;
    let engine = Engine {
        cfg,
        notion: notion.clone(),
        downloader,
        users,
        titles,
        interrupt,
        staging,
        run_date: chrono::Utc::now().with_timezone(&cfg.timezone).format("%Y-%m-%d").to_string(),
    };

    for (db, listing) in cfg.databases.iter().zip(listings) {
        let t0 = Instant::now();
        let mut dr = DatabaseReport { label: db.label.clone(), repo: db.repo.clone(), ..Default::default() };
        match listing {
            Err(e) => {
                let msg = format!("database {} ({}): {e}", db.label, ids::dashed(&db.notion_id));
                tracing::error!("{msg}");
                dr.error = Some(msg);
            }
            Ok(listing) => {
                if let Err(e) = backup_database(&engine, db, listing, &listed_in, &mut state, &mut dr).await {
                    tracing::error!(database = %db.label, "{e}");
                    dr.error = Some(e);
                }
            }
        }
        dr.duration = t0.elapsed();
        report.databases.push(dr);
        if interrupt.is_set() {
            report.fatal = Some("interrupted by a signal: the state is saved; the next run finishes the job".into());
            break;
        }
    }
    if !cfg.dry_run {
        state.save(&cfg.state_file).map_err(|e| e.to_string())?;
    }
    report.notion_requests = notion.requests_made();
    report.notion_rate_limited = notion.rate_limited();
    Ok(report)
}

async fn load_users(notion: &NotionClient) -> HashMap<String, String> {
    use futures::TryStreamExt;
    match notion.list_users().try_collect::<Vec<_>>().await {
        Ok(users) => users.into_iter().filter_map(|u| u.name.clone().map(|n| (ids::normalize(&u.id), n))).collect(),
        Err(e) => {
            tracing::debug!("user names unavailable ({e}); ids are used instead");
            HashMap::new()
        }
    }
}

/// Resolve a database to its data sources and list every page of each.
pub(crate) async fn list_database(
    notion: &NotionClient,
    database_id: &str,
    repo: &str,
) -> Result<Listing, NotionError> {
    let db = notion.get_database(database_id).await?;
    let mut pages: Vec<Page> = Vec::new();
    let mut data_sources = Vec::new();
    let mut seen = HashSet::new();
    for ds in &db.data_sources {
        let rows = notion.query_all(&ds.id).await?;
        data_sources.push((ds.clone(), rows.len()));
        for p in rows {
            if seen.insert(ids::normalize(&p.id)) {
                pages.push(p);
            }
        }
    }
    let _ = repo;
    let active: Vec<Page> = pages.into_iter().filter(|p| !p.is_trashed()).collect();
    let titles: Vec<(String, String)> = active.iter().map(|p| (p.id.clone(), p.title())).collect();
    let folders = plan::assign_folders(titles.iter().map(|(i, t)| (i.as_str(), t.as_str())));
    let pages = active
        .into_iter()
        .map(|p| {
            let id = ids::normalize(&p.id);
            let title = p.title();
            let folder = folders[&id].clone();
            Listed { page: p, id, title, folder }
        })
        .collect();
    Ok(Listing { title: db.title_text(), data_sources, pages })
}

async fn backup_database(
    engine: &Engine<'_>,
    db: &crate::config::DatabaseConfig,
    listing: Listing,
    listed_in: &HashMap<String, String>,
    state: &mut State,
    dr: &mut DatabaseReport,
) -> Result<(), String> {
    let cfg = engine.cfg;
    dr.pages_checked = listing.pages.len();
    if cfg.dry_run {
        println!(
            "Database {} ({:?}, {}) -> repository {}",
            db.label,
            listing.title,
            ids::dashed(&db.notion_id),
            db.repo
        );
        for (ds, n) in &listing.data_sources {
            println!("  data source {:?} ({}): {n} pages", ds.name, ids::dashed(&ds.id));
        }
    }
    let mut sink = sinks::make_sink(cfg, db).map_err(|e| e.to_string())?;
    sink.open(!cfg.dry_run).await.map_err(|e| format!("repository {}: {e}", sink.describe()))?;

    let mut plans: Vec<(String, Plan)> = Vec::new();
    let mut saver = StateSaver::new(cfg);

    // Pages gone from this repository: deleted or trashed in Notion, or moved to another database.
    let gone: Vec<(String, PageRecord)> = state
        .pages_in_repo(&db.repo)
        .filter(|(id, _)| listed_in.get(*id).map(|r| r != &db.repo).unwrap_or(true))
        .map(|(id, r)| (id.clone(), r.clone()))
        .collect();
    for (id, rec) in gone {
        if engine.interrupt.is_set() {
            break;
        }
        let moved_elsewhere = listed_in.contains_key(&id);
        if cfg.keep_deleted && !moved_elsewhere {
            continue;
        }
        let Some(folder) = rec.folder.clone() else { continue };
        let change = ChangeSet {
            message: format!(
                "Remove: {} ({})",
                rec.title,
                if moved_elsewhere { "moved to another database" } else { "deleted in Notion" }
            ),
            deletes: vec![folder],
            ..Default::default()
        };
        match sink.commit(change).await {
            Ok(out) => {
                dr.deleted.push(rec.title.clone());
                dr.commits.extend(out.commits.iter().cloned());
                if cfg.dry_run {
                    plans.push((format!("remove {}", rec.title), out.plan));
                } else {
                    if state.pages.get(&id).map(|r| r.repo == db.repo).unwrap_or(false) {
                        state.pages.remove(&id);
                    }
                    saver.save(state, false);
                }
            }
            Err(e) => dr.failed.push(PageFailure {
                title: rec.title.clone(),
                id: ids::dashed(&id),
                reason: format!("removing its folder failed: {e}"),
            }),
        }
    }

    // Pages to back up.
    let links: HashMap<String, String> =
        listing.pages.iter().map(|p| (p.id.clone(), format!("../{}/index.md", p.folder))).collect();
    let todo: Vec<(Listed, Option<PageRecord>)> = listing
        .pages
        .iter()
        .filter_map(|p| {
            let rec = state.pages.get(&p.id);
            plan::needs_backup(rec, &db.repo, &p.page.last_edited_time, &p.folder, cfg.full_sync)
                .map(|_| (p.clone(), rec.cloned()))
        })
        .collect();
    let total = todo.len();
    tracing::info!(database = %db.label, pages = listing.pages.len(), to_back_up = total, "change check done");

    let db_title = listing.title.clone();
    let links = &links;
    let db_title = &db_title;
    let mut prepared = stream::iter(todo.into_iter().enumerate())
        .take_while(|_| futures::future::ready(!engine.interrupt.is_set()))
        .map(|(i, (listed, rec))| async move {
            tracing::info!("[{}/{}] {}", i + 1, total, listed.title);
            let r = page::prepare(engine, db, db_title, links, listed.clone(), rec.as_ref()).await;
            (listed, rec, r)
        })
        .buffer_unordered(cfg.page_concurrency.max(1));

    while let Some((listed, rec, result)) = prepared.next().await {
        let prepared = match result {
            Ok(p) => p,
            Err(reason) => {
                tracing::error!(page = %listed.title, "{reason}");
                dr.failed.push(PageFailure { title: listed.title.clone(), id: ids::dashed(&listed.id), reason });
                continue;
            }
        };
        dr.bytes_downloaded += prepared.bytes_downloaded;
        dr.warnings.extend(prepared.warnings.iter().map(|w| format!("{}: {w}", listed.title)));
        let moved = rec.as_ref().and_then(|r| r.folder.clone()).filter(|f| f != &listed.folder);
        match sink.commit(prepared.change).await {
            Ok(out) => {
                let changed = !out.plan.is_empty();
                if changed {
                    dr.backed_up.push(listed.title.clone());
                    dr.files_committed += out.plan.added.len() + out.plan.changed.len();
                    if moved.is_some() {
                        dr.moved.push(listed.title.clone());
                    }
                }
                dr.commits.extend(out.commits.iter().cloned());
                if cfg.dry_run {
                    if changed {
                        plans.push((listed.title.clone(), out.plan));
                    }
                    continue;
                }
                let folder_prefix = format!("{}/", listed.folder);
                let files: BTreeMap<String, String> = if changed || rec.is_none() {
                    out.blob_ids.into_iter().filter(|(p, _)| p.starts_with(&folder_prefix)).collect()
                } else {
                    rec.as_ref().map(|r| r.files.clone()).unwrap_or_default()
                };
                state.pages.insert(
                    listed.id.clone(),
                    PageRecord {
                        repo: db.repo.clone(),
                        title: listed.title.clone(),
                        last_edited_time: listed.page.last_edited_time.clone(),
                        fetched_at: Some(prepared.fetched_at.clone()),
                        folder: Some(listed.folder.clone()),
                        files,
                        media_names: prepared.media_names,
                    },
                );
                saver.save(state, false);
            }
            Err(e) => {
                let reason = format!("commit failed: {e}");
                tracing::error!(page = %listed.title, "{reason}");
                dr.failed.push(PageFailure { title: listed.title.clone(), id: ids::dashed(&listed.id), reason });
            }
        }
        if engine.interrupt.is_set() {
            break;
        }
    }
    drop(prepared);

    // The repository's README index.
    if !engine.interrupt.is_set() {
        let readme = index::render_index(db_title, &db.label, &listing.pages, engine);
        let change = ChangeSet {
            message: format!("Update index ({})", engine.run_date),
            writes: vec![crate::sink::FileWrite {
                path: "README.md".into(),
                content: crate::sink::Content::Bytes(readme.into_bytes()),
            }],
            ..Default::default()
        };
        match sink.commit(change).await {
            Ok(out) => {
                dr.commits.extend(out.commits.iter().cloned());
                if cfg.dry_run && !out.plan.is_empty() {
                    plans.push(("README.md index".into(), out.plan));
                }
            }
            Err(e) => dr.warnings.push(format!("README.md index not updated: {e}")),
        }
    }
    saver.save(state, true);
    if let Some(e) = saver.error.take() {
        return Err(e);
    }
    if !cfg.dry_run {
        sink.finish().await.map_err(|e| format!("repository {}: {e}", sink.describe()))?;
    } else {
        print_plans(&db.repo, &plans);
    }
    Ok(())
}

fn print_plans(repo: &str, plans: &[(String, Plan)]) {
    if plans.is_empty() {
        println!("  repository {repo}: nothing would change");
        return;
    }
    println!("  repository {repo}: {} commit(s) would be made", plans.len());
    for (what, p) in plans {
        println!("    commit for {what}:");
        for f in &p.added {
            println!("      + {f}");
        }
        for f in &p.changed {
            println!("      ~ {f}");
        }
        for f in &p.deleted {
            println!("      - {f}");
        }
    }
}

/// Saves the state after commits, at most once a second (and always when forced). A record
/// missing because the process died before the next save only costs a re-check next run: the
/// sink finds the files identical and commits nothing.
struct StateSaver<'a> {
    cfg: &'a Config,
    last: Option<Instant>,
    error: Option<String>,
}

impl<'a> StateSaver<'a> {
    fn new(cfg: &'a Config) -> Self {
        StateSaver { cfg, last: None, error: None }
    }

    fn save(&mut self, state: &State, force: bool) {
        if self.cfg.dry_run {
            return;
        }
        if !force && self.last.is_some_and(|l| l.elapsed() < Duration::from_secs(1)) {
            return;
        }
        if let Err(e) = state.save(&self.cfg.state_file) {
            tracing::error!("{e}");
            self.error = Some(e.to_string());
        }
        self.last = Some(Instant::now());
    }
}
