//! The engine: for each configured database, list its pages, decide what changed against the
//! state, fetch + render + download + commit the changed pages, record each page right after its
//! commit lands, remove pages deleted in Notion, keep a README index, and report.
//!
//! Rules this module guarantees:
//! - a page is recorded in the state only after its commit is durable (a failed or interrupted
//!   page is retried next run);
//! - commits to one repository are serialised, and the state is saved in commit order;
//! - one failing page never stops the others; a failing database never stops the other databases;
//! - a run with nothing changed in Notion makes no commit;
//! - child pages and databases are backed up in sub-folders of their parent and tracked one by
//!   one: an edit deep in a tree is found through search (sorted by last edit, stopping at the
//!   previous run) without re-reading the pages above it.

pub mod adopt;
pub mod database;
pub mod page;
pub mod plan;
pub mod repo;
pub mod sinks;
pub mod spill;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use serde_json::json;

use crate::config::{Config, DatabaseConfig};
use crate::ids;
use crate::media::Downloader;
use crate::notify::{DatabaseReport, Notifier, RunReport};
use crate::notion::api::KeepRaw;
use crate::notion::model::{Page, Parent};
use crate::notion::{ClientConfig, NotionClient, NotionError};
use crate::sink::{ChangeSet, Content, FileWrite, Plan};
use crate::state::{NodeKind, RunLock, State};

use database::Listing;
use repo::{RepoCtx, Task};

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
    let status = if interrupt.is_set() && status != ExitStatus::Fatal { ExitStatus::Interrupted } else { status };
    let _ = notifier.run_finished(&report).await;
    (status, report)
}

/// Shared, read-only context of one run.
pub(crate) struct Engine<'a> {
    pub cfg: &'a Config,
    pub notion: NotionClient,
    pub downloader: Option<Downloader>,
    users: tokio::sync::OnceCell<HashMap<String, String>>,
    /// The user names read from Notion in this run, to be saved.
    users_read: std::sync::OnceLock<HashMap<String, String>>,
    /// The user names saved by a previous run (`None`: never read).
    persisted_users: Option<HashMap<String, String>>,
    /// Canonical page id -> title, across all databases (relations, links).
    pub titles: RwLock<HashMap<String, String>>,
    pub interrupt: &'a Interrupt,
    pub staging: tempfile::TempDir,
    pub run_date: String,
    /// Which listed pages keep their raw JSON.
    pub keep_raw: KeepRaw,
}

impl Engine<'_> {
    /// User id -> name, read once per run, only when a page is actually rendered (the saved
    /// names when Notion does not allow listing users).
    pub async fn users(&self) -> &HashMap<String, String> {
        self.users
            .get_or_init(|| async {
                match load_users(&self.notion).await {
                    Some(fresh) => {
                        let _ = self.users_read.set(fresh.clone());
                        fresh
                    }
                    None => self.persisted_users.clone().unwrap_or_default(),
                }
            })
            .await
    }

    /// User names for generated indexes: this run's if already read, else the saved ones, so a
    /// run that renders no page neither reads the user list nor changes an index.
    pub async fn users_for_index(&self) -> &HashMap<String, String> {
        match &self.persisted_users {
            Some(saved) if !self.users.initialized() => saved,
            _ => self.users().await,
        }
    }

    /// Keep a page object until its node is prepared (on disk, in the run's staging folder).
    pub fn hold(&self, page: Page) -> spill::Held {
        spill::Held::new(&self.staging.path().join("rows"), page)
    }

    pub fn set_title(&self, id: &str, title: &str) {
        self.titles.write().expect("titles lock").insert(ids::normalize(id), title.to_string());
    }
}

/// Minutes of overlap when searching for pages edited since the last run (clock skew, and
/// `last_edited_time` being rounded to the minute).
const SEARCH_OVERLAP_MINUTES: i64 = 5;

async fn run_locked(cfg: &Config, interrupt: &Interrupt, mut report: RunReport) -> Result<RunReport, String> {
    let started = chrono::Utc::now();
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
        let known: HashMap<String, String> =
            state.pages.iter().map(|(id, r)| (id.clone(), r.last_edited_time.clone())).collect();
        Arc::new(move |p: &Page| known.get(&ids::normalize(&p.id)) != Some(&p.last_edited_time))
    };

    // Phase 1: list every configured database, so relations, links and moves see all rows.
    let mut listings: Vec<Result<Listing, NotionError>> = Vec::new();
    for db in &cfg.databases {
        if interrupt.is_set() {
            break;
        }
        tracing::info!(database = %db.label, "listing pages");
        let l = database::list(&notion, &db.notion_id, keep_raw.clone()).await;
        if let Err(NotionError::Unauthorized) = &l {
            return Err(NotionError::Unauthorized.to_string());
        }
        if let (Ok(l), true) = (&l, cfg.dry_run) {
            println!(
                "Database {} ({:?}, {}) -> repository {}",
                db.label,
                l.db.title_text(),
                ids::dashed(&db.notion_id),
                db.repo
            );
            for (ds, n) in &l.data_sources {
                println!("  data source {:?} ({}): {n} pages", ds.name, ids::dashed(&ds.id));
            }
        }
        listings.push(l);
    }
    let all_listed = listings.len() == cfg.databases.len() && listings.iter().all(|l| l.is_ok());

    // Phase 1.5: pages below the rows that were edited since the last run.
    let changed = match (&state.last_run_started, has_nested_pages(&state)) {
        (Some(since), true) if !cfg.full_sync => {
            recently_edited(&notion, since, &state).await.map_err(|e| e.to_string())?
        }
        _ => Recent::default(),
    };

    let downloader = if cfg.dry_run { None } else { Some(sinks::downloader(cfg).map_err(|e| e.to_string())?) };
    let mut titles = HashMap::new();
    for r in state.pages.iter() {
        titles.insert(r.0.clone(), r.1.title.clone());
    }
    for l in listings.iter().flatten() {
        for p in &l.rows {
            titles.insert(ids::normalize(&p.id), p.title());
        }
    }
    let staging = tempfile::Builder::new()
        .prefix("notion-git-backup-")
        .tempdir()
        .map_err(|e| format!("cannot create a temporary folder: {e}"))?;
    let engine = Engine {
        cfg,
        notion: notion.clone(),
        downloader,
        users: tokio::sync::OnceCell::new(),
        users_read: std::sync::OnceLock::new(),
        persisted_users: state.users.as_ref().map(|u| u.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        titles: RwLock::new(titles),
        interrupt,
        staging,
        run_date: chrono::Utc::now().with_timezone(&cfg.timezone).format("%Y-%m-%d").to_string(),
        keep_raw,
    };
    // Where every known page lives (repository, folder), for links across repositories.
    let mut locations: HashMap<String, (String, String)> = HashMap::new();
    for (id, r) in state.pages.iter().filter(|(_, r)| !r.orphan) {
        if let Some(f) = r.folder.as_ref().filter(|f| !f.is_empty()) {
            locations.insert(id.clone(), (r.repo.clone(), f.clone()));
        }
    }
    // What the configured databases cover (not backed up again by workspace discovery).
    let mut covered: HashSet<String> = state
        .pages
        .iter()
        .filter(|(_, r)| cfg.databases.iter().any(|d| d.repo == r.repo))
        .map(|(id, _)| id.clone())
        .collect();
    for (db, l) in cfg.databases.iter().zip(listings.iter()) {
        covered.insert(ids::normalize(&db.notion_id));
        if let Ok(l) = l {
            let titles: Vec<(String, String)> = l.rows.iter().map(|p| (ids::normalize(&p.id), p.title())).collect();
            let folders = plan::child_folders("", titles.iter().map(|(i, t)| (i.as_str(), t.as_str())));
            for (id, f) in folders {
                covered.insert(id.clone());
                locations.insert(id, (db.repo.clone(), f));
            }
            for (ds, _) in &l.data_sources {
                covered.insert(ids::normalize(&ds.id));
            }
        }
    }
    let state = RwLock::new(state);
    let mut saver = StateSaver::new(cfg);
    // Links into another repository name the branch that repository's backup goes to.
    let repos: Vec<String> = cfg.databases.iter().map(|d| d.repo.clone()).chain(cfg.workspace_repo.clone()).collect();
    let branches = if repos.len() > 1 { sinks::link_branches(cfg, &repos).await } else { HashMap::new() };

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
                dr.pages_checked = listing.rows.len();
                let roots = Roots::Database { id: ids::normalize(&db.notion_id), listing: Box::new(listing) };
                let foreign = foreign_links(cfg, &locations, &branches, &db.repo);
                if let Err(e) = backup_repo(&engine, db, roots, &changed, &foreign, &state, &mut saver, &mut dr).await {
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
    if let (Some(ws), false) = (&cfg.workspace_repo, interrupt.is_set()) {
        let t0 = Instant::now();
        let target = DatabaseConfig { index: 0, notion_id: String::new(), repo: ws.clone(), label: "Workspace".into() };
        let mut dr = DatabaseReport { label: target.label.clone(), repo: ws.clone(), ..Default::default() };
        let foreign = foreign_links(cfg, &locations, &branches, ws);
        let roots = Roots::Workspace { covered };
        if let Err(e) = backup_repo(&engine, &target, roots, &changed, &foreign, &state, &mut saver, &mut dr).await {
            tracing::error!(repository = %ws, "{e}");
            dr.error = Some(e);
        }
        dr.duration = t0.elapsed();
        report.databases.push(dr);
    }
    if !cfg.dry_run {
        let mut st = state.write().expect("state lock");
        if let Some(u) = engine.users_read.get() {
            st.users = Some(u.iter().map(|(k, v)| (k.clone(), v.clone())).collect());
        }
        if all_listed && !interrupt.is_set() {
            st.last_run_started = Some(started.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        }
        saver.save(&st, true);
        if let Some(e) = saver.error.take() {
            return Err(e);
        }
    }
    report.notion_requests = notion.requests_made();
    report.notion_rate_limited = notion.rate_limited();
    Ok(report)
}

/// `None` when the list cannot be read (personal access tokens, missing capability).
async fn load_users(notion: &NotionClient) -> Option<HashMap<String, String>> {
    match notion.list_users().try_collect::<Vec<_>>().await {
        Ok(users) => {
            Some(users.into_iter().filter_map(|u| u.name.clone().map(|n| (ids::normalize(&u.id), n))).collect())
        }
        Err(e) => {
            tracing::debug!("user names unavailable ({e}); ids are used instead");
            None
        }
    }
}

/// True when the state records pages below the rows of configured databases (only those need
/// the search for recent edits).
fn has_nested_pages(st: &State) -> bool {
    st.pages.values().any(|r| r.kind == NodeKind::Page && !is_row_of_root(st, r))
}

fn is_row_of_root(st: &State, r: &crate::state::PageRecord) -> bool {
    match r.parent.as_ref().and_then(|p| st.pages.get(p)) {
        Some(p) => p.kind == NodeKind::Database && p.parent.is_none(),
        None => r.parent.is_none(),
    }
}

/// What search found edited since the last run.
#[derive(Default)]
pub(crate) struct Recent {
    /// Recorded pages below the rows (not rows: their listing tells) whose `last_edited_time`
    /// changed, with their fresh page object.
    pages: HashMap<String, Page>,
    /// Recorded databases that got a new row.
    databases: HashSet<String>,
}

async fn recently_edited(notion: &NotionClient, since: &str, state: &State) -> Result<Recent, NotionError> {
    let cutoff = plan::parse_time(since).map(|t| t - chrono::Duration::minutes(SEARCH_OVERLAP_MINUTES));
    let body = json!({
        "filter": {"property": "object", "value": "page"},
        "sort": {"timestamp": "last_edited_time", "direction": "descending"},
    });
    let by_source: HashMap<&str, &str> =
        state.pages.iter().flat_map(|(id, r)| r.data_sources.iter().map(move |d| (d.as_str(), id.as_str()))).collect();
    let mut recent = Recent::default();
    let mut stream = notion.search(body);
    while let Some(v) = stream.try_next().await? {
        let Ok(page) = Page::from_json(v) else { continue };
        let edited = plan::parse_time(&page.last_edited_time);
        if let (Some(e), Some(c)) = (edited, cutoff) {
            if e < c {
                break;
            }
        }
        let id = ids::normalize(&page.id);
        match state.pages.get(&id) {
            Some(r) if r.parent.is_some() && !r.orphan && r.last_edited_time != page.last_edited_time => {
                // Rows of configured databases are found by their listing; everything deeper here.
                let is_row = r
                    .parent
                    .as_ref()
                    .and_then(|p| state.pages.get(p))
                    .is_some_and(|p| p.kind == NodeKind::Database && p.parent.is_none());
                if !is_row {
                    recent.pages.insert(id, page);
                }
            }
            None => {
                if let Some(Parent::DataSource { data_source_id, .. }) = &page.parent {
                    if let Some(db) = by_source.get(ids::normalize(data_source_id).as_str()) {
                        recent.databases.insert(db.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    Ok(recent)
}

/// What sits at the root of a repository.
pub(crate) enum Roots {
    /// A configured database (`DB<n>_*`): its rows are the top-level folders.
    Database { id: String, listing: Box<Listing> },
    /// Everything the token can see that no configured database covers (`WORKSPACE_REPO`).
    Workspace { covered: HashSet<String> },
}

#[allow(clippy::too_many_arguments)]
async fn backup_repo(
    engine: &Engine<'_>,
    target: &DatabaseConfig,
    roots: Roots,
    recent: &Recent,
    foreign: &HashMap<String, String>,
    state: &RwLock<State>,
    saver: &mut StateSaver<'_>,
    dr: &mut DatabaseReport,
) -> Result<(), String> {
    let cfg = engine.cfg;
    let repo_name = target.repo.clone();
    let mut sink = sinks::make_sink(cfg, target).map_err(|e| e.to_string())?;
    sink.open(!cfg.dry_run).await.map_err(|e| format!("repository {}: {e}", sink.describe()))?;

    // Links: pages of other repositories (web links), then every node recorded in this one.
    let mut links: HashMap<String, String> = foreign.clone();
    {
        let st = state.read().expect("state lock");
        for (id, r) in st.pages.iter().filter(|(_, r)| r.repo == repo_name && !r.orphan) {
            if let Some(f) = r.folder.as_ref().filter(|f| !f.is_empty()) {
                links.insert(id.clone(), format!("{f}/index.md"));
            }
        }
    }
    let ctx =
        RepoCtx { engine, repo: repo_name.clone(), label: target.label.clone(), links: RwLock::new(links), state };

    let mut initial = Vec::new();
    let mut root_id = String::new();
    let mut workspace_roots: Vec<(String, String, String)> = Vec::new();
    match roots {
        Roots::Database { id, listing } => {
            root_id = id.clone();
            initial.push(Task {
                id: id.clone(),
                title: listing.db.title_text(),
                folder: String::new(),
                parent: None,
                kind: NodeKind::Database,
                page: None,
                db: None,
                listing: Some(listing),
                root: true,
                rec: ctx.record(&id),
                db_title: None,
            });
        }
        Roots::Workspace { covered } => {
            let (tasks, found) = workspace_tasks(&ctx, &covered, sink.as_mut(), dr).await?;
            dr.pages_checked = found.len();
            initial.extend(tasks);
            workspace_roots = found;
        }
    }
    {
        let st = state.read().expect("state lock");
        for (id, page) in &recent.pages {
            let Some(r) = st.pages.get(id).filter(|r| r.repo == repo_name) else { continue };
            let folder = expected_folder(&st, id, &page.title()).or_else(|| r.folder.clone()).unwrap_or_default();
            let mut t = repo::task_from_record(id, r, folder);
            t.title = page.title();
            t.page = Some(spill::Held::Memory(Box::new(page.clone())));
            initial.push(t);
        }
        for id in &recent.databases {
            if let Some(r) = st.pages.get(id).filter(|r| r.repo == repo_name && *id != root_id) {
                initial.push(repo::task_from_record(id, r, r.folder.clone().unwrap_or_default()));
            }
        }
        initial.extend(repo::pending(&st, &repo_name, &root_id));
    }

    let mut planned = repo::Planned::default();
    repo::run(&ctx, sink.as_mut(), initial, dr, saver, &mut planned).await;
    if !workspace_roots.is_empty() && !engine.interrupt.is_set() {
        let readme = crate::markdown::database::render_workspace_index(&target.label, &workspace_roots);
        let change = ChangeSet {
            message: format!("Update index ({})", engine.run_date),
            writes: vec![FileWrite { path: "README.md".into(), content: Content::Bytes(readme.into_bytes()) }],
            ..Default::default()
        };
        match sink.commit(change).await {
            Ok(out) => {
                dr.commits.extend(out.commits.iter().cloned());
                if cfg.dry_run && !out.plan.is_empty() {
                    planned.plans.push(("README.md index".into(), out.plan));
                }
            }
            Err(e) => {
                tracing::warn!(repository = %repo_name, "README.md index not updated: {e}");
                dr.warnings.push(format!("README.md index not updated: {e}"));
            }
        }
    }
    if !cfg.dry_run && !engine.interrupt.is_set() {
        // Pages that left their parent and were not found elsewhere are gone for good.
        let mut st = state.write().expect("state lock");
        st.pages.retain(|_, r| !(r.orphan && r.repo == repo_name));
        saver.save(&st, true);
    }
    if let Some(e) = saver.error.take() {
        return Err(e);
    }
    if !cfg.dry_run {
        sink.finish().await.map_err(|e| format!("repository {}: {e}", sink.describe()))?;
    } else {
        print_plans(&repo_name, &planned.plans);
    }
    Ok(())
}

/// Workspace discovery: every page and database the token can see whose parent it cannot see (or
/// the workspace itself) is a root folder of the workspace repository, unless a configured
/// database covers it. Roots that disappeared are removed. Returns the tasks and the roots
/// (id, title, folder) for the index.
async fn workspace_tasks(
    ctx: &RepoCtx<'_>,
    covered: &HashSet<String>,
    sink: &mut dyn crate::sink::Sink,
    dr: &mut DatabaseReport,
) -> Result<(Vec<Task>, Vec<(String, String, String)>), String> {
    let engine = ctx.engine;
    let all: Vec<serde_json::Value> = engine.notion.search(json!({})).try_collect().await.map_err(|e| e.to_string())?;
    let mut pages: HashMap<String, Page> = HashMap::new();
    let mut sources: Vec<serde_json::Value> = Vec::new();
    for v in all {
        match v.get("object").and_then(serde_json::Value::as_str) {
            Some("page") => {
                if let Ok(p) = Page::from_json(v) {
                    if !p.is_trashed() {
                        pages.insert(ids::normalize(&p.id), p);
                    }
                }
            }
            Some("data_source") | Some("database") => sources.push(v),
            _ => {}
        }
    }
    let visible_dbs: HashSet<String> = sources
        .iter()
        .filter_map(|s| s.pointer("/parent/database_id").or_else(|| s.get("id")).and_then(serde_json::Value::as_str))
        .map(ids::normalize)
        .collect();
    let parent_visible = |parent: Option<&str>| {
        parent.is_some_and(|p| pages.contains_key(p) || visible_dbs.contains(p) || covered.contains(p))
    };
    let mut roots: Vec<(String, String, Option<Page>)> = Vec::new();
    for (id, p) in &pages {
        if covered.contains(id) {
            continue;
        }
        let parent = match &p.parent {
            Some(Parent::Page { page_id }) => Some(ids::normalize(page_id)),
            Some(Parent::Block { block_id }) => Some(ids::normalize(block_id)),
            Some(Parent::DataSource { database_id, data_source_id }) => {
                Some(database_id.as_deref().map(ids::normalize).unwrap_or_else(|| ids::normalize(data_source_id)))
            }
            Some(Parent::Database { database_id }) => Some(ids::normalize(database_id)),
            _ => None,
        };
        if !parent_visible(parent.as_deref()) {
            roots.push((id.clone(), p.title(), Some(p.clone())));
        }
    }
    let mut seen_dbs = HashSet::new();
    for s in &sources {
        let Some(db_id) = s
            .pointer("/parent/database_id")
            .or_else(|| s.get("id"))
            .and_then(serde_json::Value::as_str)
            .map(ids::normalize)
        else {
            continue;
        };
        if covered.contains(&db_id) || !seen_dbs.insert(db_id.clone()) {
            continue;
        }
        let dparent = s
            .pointer("/database_parent/page_id")
            .or_else(|| s.pointer("/database_parent/block_id"))
            .and_then(serde_json::Value::as_str)
            .map(ids::normalize);
        if !parent_visible(dparent.as_deref()) {
            let title: String = s
                .get("title")
                .and_then(serde_json::Value::as_array)
                .map(|a| a.iter().filter_map(|r| r.get("plain_text").and_then(serde_json::Value::as_str)).collect())
                .unwrap_or_default();
            roots.push((db_id, title, None));
        }
    }
    roots.sort_by(|a, b| a.0.cmp(&b.0));
    let folders = plan::child_folders("", roots.iter().map(|(i, t, _)| (i.as_str(), t.as_str())));
    let cfg = engine.cfg;
    let mut tasks = Vec::new();
    let mut found = Vec::new();
    for (id, title, page) in roots {
        let folder = folders[&id].clone();
        ctx.set_link(&id, format!("{folder}/index.md"));
        engine.set_title(&id, &title);
        found.push((id.clone(), title.clone(), folder.clone()));
        let rec = ctx.record(&id);
        let (kind, needed) = match &page {
            Some(p) => (
                NodeKind::Page,
                plan::needs_backup(rec.as_ref(), &ctx.repo, &p.last_edited_time, &folder, cfg.full_sync).is_some(),
            ),
            None => (NodeKind::Database, true),
        };
        if needed || rec.as_ref().is_some_and(|r| r.orphan || r.parent.is_some()) {
            tasks.push(Task {
                id,
                title,
                folder,
                parent: None,
                kind,
                page: page.map(|p| engine.hold(p)),
                db: None,
                listing: None,
                root: false,
                rec,
                db_title: None,
            });
        }
    }
    // Roots that are gone: their folders go too.
    let gone: Vec<(String, PageRecordLite)> = {
        let st = ctx.state.read().expect("state lock");
        st.pages
            .iter()
            .filter(|(id, r)| {
                r.repo == ctx.repo && r.parent.is_none() && !r.orphan && !found.iter().any(|(f, _, _)| f == *id)
            })
            .map(|(id, r)| (id.clone(), PageRecordLite { title: r.title.clone(), folder: r.folder.clone() }))
            .collect()
    };
    for (id, r) in gone {
        if cfg.keep_deleted {
            continue;
        }
        if let Err(e) = repo::remove_gone(ctx, sink, &id, &r.title, r.folder, dr).await {
            tracing::warn!(page = %r.title, "removing its folder failed: {e}");
            dr.warnings.push(format!("{}: removing its folder failed: {e}", r.title));
        }
    }
    Ok((tasks, found))
}

struct PageRecordLite {
    title: String,
    folder: Option<String>,
}

/// Links to pages backed up in other repositories: their web page on the Gitea/Forgejo server
/// (branch GIT_BRANCH, or `main`); in local mode none, so those links keep their Notion URL.
fn foreign_links(
    cfg: &Config,
    locations: &HashMap<String, (String, String)>,
    branches: &HashMap<String, String>,
    this_repo: &str,
) -> HashMap<String, String> {
    use crate::sink::gitea::enc;
    let crate::config::Destination::Gitea(g) = &cfg.destination else { return HashMap::new() };
    locations
        .iter()
        .filter(|(_, (repo, _))| repo != this_repo)
        .map(|(id, (repo, folder))| {
            let branch = enc(branches.get(repo).map(String::as_str).unwrap_or("main"), true);
            let folder = enc(folder, true);
            (id.clone(), format!("{}/{}/{}/src/branch/{branch}/{folder}/index.md", g.base_url, g.owner, repo))
        })
        .collect()
}

/// The folder a recorded page should have now, from its parent's folder and its siblings' titles
/// (with its own title updated).
fn expected_folder(st: &State, id: &str, title: &str) -> Option<String> {
    let r = st.pages.get(id)?;
    let p = st.pages.get(r.parent.as_ref()?)?;
    let pf = p.folder.clone()?;
    let sib: Vec<(String, String)> = p
        .children
        .iter()
        .map(|c| (c.id.clone(), if c.id == id { title.to_string() } else { c.title.clone() }))
        .collect();
    plan::child_folders(&pf, sib.iter().map(|(i, t)| (i.as_str(), t.as_str()))).remove(id)
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
pub(crate) struct StateSaver<'a> {
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
