//! The work queue of one repository: nodes (pages and databases) are prepared concurrently and
//! committed one at a time; committing a node records it and schedules the children it found.
//!
//! A node's commit holds its own files (index, `page.json`, media; or a database's index, CSV and
//! schema), deletes the files it no longer has, and removes the folders of children that left it.
//! Children live in sub-folders and are committed on their own.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, RwLock};

use tokio::sync::Notify;

use futures::stream::{FuturesUnordered, StreamExt};

use crate::ids;
use crate::notify::{DatabaseReport, PageFailure};
use crate::notion::model::Database;
use crate::sink::{ChangeSet, FileWrite, Plan, Sink};
use crate::state::{ChildRef, NodeKind, PageRecord, State};

use super::database::{self, Listing};
use super::spill::Held;
use super::{page, plan, Engine, StateSaver};

/// A node to back up.
pub(crate) struct Task {
    /// Canonical id.
    pub id: String,
    pub title: String,
    /// Repository-relative folder ("" = the repository root).
    pub folder: String,
    pub parent: Option<String>,
    pub kind: NodeKind,
    /// The page object, when already known (rows of a listing, search results).
    pub page: Option<Held>,
    /// The database object, when already known.
    pub db: Option<Box<Database>>,
    /// The database listing, when already known (configured databases).
    pub listing: Option<Box<Listing>>,
    /// The configured database at the repository root.
    pub root: bool,
    /// The node's record when it was scheduled.
    pub rec: Option<PageRecord>,
    /// Title of the database a row belongs to (front matter `database`).
    pub db_title: Option<String>,
}

/// A child page or database found in a node.
pub(crate) struct Child {
    pub id: String,
    pub title: String,
    pub kind: NodeKind,
    pub folder: String,
    pub page: Option<Held>,
    pub db: Option<Box<Database>>,
    pub listing: Option<Box<Listing>>,
    /// Back it up even if its record looks current (a row whose listing shows an edit).
    pub needs: bool,
}

/// A node ready to commit.
pub(crate) struct Prepared {
    pub kind: NodeKind,
    pub message: String,
    pub title: String,
    pub last_edited_time: String,
    pub fetched_at: String,
    pub writes: Vec<FileWrite>,
    /// Own files kept as they are (not rewritten this time).
    pub keep: Vec<String>,
    pub children: Vec<Child>,
    pub data_sources: Vec<String>,
    pub media_names: std::collections::BTreeMap<String, String>,
    pub warnings: Vec<String>,
    pub bytes_downloaded: u64,
    /// Trashed or gone in Notion: its folder is removed.
    pub gone: bool,
}

impl Prepared {
    pub fn gone(kind: NodeKind, title: String) -> Prepared {
        Prepared {
            kind,
            message: String::new(),
            title,
            last_edited_time: String::new(),
            fetched_at: String::new(),
            writes: Vec::new(),
            keep: Vec::new(),
            children: Vec::new(),
            data_sources: Vec::new(),
            media_names: Default::default(),
            warnings: Vec::new(),
            bytes_downloaded: 0,
            gone: true,
        }
    }
}

/// Shared context of one repository's run.
pub(crate) struct RepoCtx<'a> {
    pub engine: &'a Engine<'a>,
    pub repo: String,
    pub label: String,
    /// Canonical id -> link: repository-relative `folder/index.md`, or an absolute URL.
    pub links: RwLock<HashMap<String, String>>,
    pub state: &'a RwLock<State>,
}

impl RepoCtx<'_> {
    pub fn set_link(&self, id: &str, link: String) {
        self.links.write().expect("links lock").insert(ids::normalize(id), link);
    }

    /// A node found at `new_folder` that was recorded elsewhere: links to everything recorded
    /// below its old folder follow it now, so pages written later in this run link right.
    pub fn move_links(&self, id: &str, new_folder: &str) {
        let Some(old) = self.record(id).and_then(|r| r.folder).filter(|f| f != new_folder && !f.is_empty()) else {
            return;
        };
        let prefix = format!("{old}/");
        let st = self.state.read().expect("state lock");
        let mut links = self.links.write().expect("links lock");
        for (k, r) in st.pages.iter().filter(|(_, r)| r.repo == self.repo) {
            if let Some(rest) = r.folder.as_deref().and_then(|f| f.strip_prefix(&prefix)) {
                links.insert(k.clone(), format!("{new_folder}/{rest}/index.md"));
            }
        }
    }

    pub fn record(&self, id: &str) -> Option<PageRecord> {
        self.state.read().expect("state lock").pages.get(&ids::normalize(id)).cloned()
    }
}

/// Outcome counters the caller prints in a dry run.
#[derive(Default)]
pub(crate) struct Planned {
    pub plans: Vec<(String, Plan)>,
}

async fn prepare(ctx: &RepoCtx<'_>, task: &mut Task) -> Result<Prepared, String> {
    match task.kind {
        NodeKind::Page => {
            let p = task.page.take().and_then(Held::take);
            page::prepare(ctx, task, p).await
        }
        NodeKind::Database => {
            let listing = match (task.listing.take(), task.db.take()) {
                (Some(l), _) => Some(*l),
                (None, Some(db)) => Some(
                    database::list_rows(&ctx.engine.notion, *db, ctx.engine.keep_raw.clone())
                        .await
                        .map_err(|e| e.to_string())?,
                ),
                (None, None) => None,
            };
            database::prepare(ctx, task, listing, task.root).await
        }
    }
}

/// Back up every scheduled node and whatever they lead to.
///
/// Two loops run side by side: one prepares nodes (Notion reads, downloads, rendering) with
/// bounded concurrency, the other commits them one at a time and schedules the children they
/// found. Preparing goes on while a commit is in flight, so the Notion rate limit, not the
/// destination, bounds the speed.
pub(crate) async fn run(
    ctx: &RepoCtx<'_>,
    sink: &mut dyn Sink,
    initial: Vec<Task>,
    dr: &mut DatabaseReport,
    saver: &mut StateSaver<'_>,
    planned: &mut Planned,
) {
    let cfg = ctx.engine.cfg;
    let interrupt = ctx.engine.interrupt;
    // Nodes scheduled and not yet committed (queued, being prepared, or waiting to commit).
    let outstanding = AtomicUsize::new(initial.len());
    let queue: Mutex<VecDeque<Task>> = Mutex::new(initial.into());
    let wake = Notify::new();
    // Bounded: prepared pages (rendered files in memory) never pile up behind slow commits.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(Task, Result<Prepared, String>)>(cfg.page_concurrency.max(1));
    let progress = crate::logging::progress(outstanding.load(Ordering::SeqCst) as u64, &ctx.label);

    let producer = async {
        let mut done: HashMap<String, String> = HashMap::new();
        let mut inflight = FuturesUnordered::new();
        loop {
            if interrupt.is_set() {
                break;
            }
            while inflight.len() < cfg.page_concurrency.max(1) {
                let Some(mut task) = queue.lock().expect("queue lock").pop_front() else { break };
                if done.get(&task.id) == Some(&task.folder) {
                    outstanding.fetch_sub(1, Ordering::SeqCst);
                    continue;
                }
                done.insert(task.id.clone(), task.folder.clone());
                inflight.push(async move {
                    let r = prepare(ctx, &mut task).await;
                    (task, r)
                });
            }
            if inflight.is_empty() {
                if outstanding.load(Ordering::SeqCst) == 0 {
                    break;
                }
                // The committer still works on something that may schedule children.
                wake.notified().await;
                continue;
            }
            tokio::select! {
                next = inflight.next() => {
                    if let Some(item) = next {
                        if tx.send(item).await.is_err() {
                            break;
                        }
                    }
                }
                _ = wake.notified() => {}
            }
        }
        drop(tx);
    };

    let committer = async {
        let mut finished = 0usize;
        while let Some((task, result)) = rx.recv().await {
            finished += 1;
            let known = finished + outstanding.load(Ordering::SeqCst).saturating_sub(1);
            let shown = if task.title.trim().is_empty() { "Untitled" } else { task.title.as_str() };
            tracing::info!("[{finished}/{known}] {shown}");
            progress.set_total(known as u64);
            progress.inc(shown);
            match result {
                Err(reason) => fail(ctx, &task, reason, dr, saver),
                Ok(prep) => {
                    let children = commit(ctx, sink, &task, prep, dr, saver, planned).await;
                    outstanding.fetch_add(children.len(), Ordering::SeqCst);
                    queue.lock().expect("queue lock").extend(children);
                }
            }
            outstanding.fetch_sub(1, Ordering::SeqCst);
            wake.notify_one();
            if interrupt.is_set() {
                break;
            }
        }
        // Stop the producer too (a signal, or nothing left).
        rx.close();
        wake.notify_one();
    };
    futures::join!(producer, committer);
    progress.finish();
}

fn fail(ctx: &RepoCtx<'_>, task: &Task, reason: String, dr: &mut DatabaseReport, saver: &mut StateSaver<'_>) {
    let shown = if task.title.trim().is_empty() { "Untitled".to_string() } else { task.title.clone() };
    tracing::error!(page = %shown, "{reason}");
    dr.failed.push(PageFailure { title: shown, id: ids::dashed(&task.id), reason });
    // A recorded node that failed is read again next run even if Notion shows no new edit.
    if !ctx.engine.cfg.dry_run {
        let mut st = ctx.state.write().expect("state lock");
        if let Some(r) = st.pages.get_mut(&task.id) {
            r.last_edited_time.clear();
        }
        saver.save(&st, false);
    }
}

/// Folders the children of a record had (from its titles), by id.
fn previous_children(st: &State, repo: &str, id: &str, rec: Option<&PageRecord>, root: bool) -> Vec<(String, String)> {
    match rec {
        Some(r) if !r.children.is_empty() || r.kind == NodeKind::Database => {
            let folder = r.folder.clone().unwrap_or_default();
            let f = plan::child_folders(&folder, r.children.iter().map(|c| (c.id.as_str(), c.title.as_str())));
            r.children.iter().map(|c| (c.id.clone(), f[&c.id].clone())).collect()
        }
        // A state from before child tracking: the rows recorded in this repository.
        None if root => st
            .pages
            .iter()
            .filter(|(k, r)| {
                r.repo == repo
                    && r.kind == NodeKind::Page
                    && (r.parent.is_none() || r.parent.as_deref() == Some(id))
                    && k.as_str() != id
            })
            .filter_map(|(k, r)| r.folder.clone().map(|f| (k.clone(), f)))
            .collect(),
        _ => Vec::new(),
    }
}

#[allow(clippy::too_many_arguments)]
async fn commit(
    ctx: &RepoCtx<'_>,
    sink: &mut dyn Sink,
    task: &Task,
    prep: Prepared,
    dr: &mut DatabaseReport,
    saver: &mut StateSaver<'_>,
    planned: &mut Planned,
) -> Vec<Task> {
    let cfg = ctx.engine.cfg;
    let id = task.id.clone();
    let rec = ctx.record(&id).filter(|r| r.repo == ctx.repo);
    let shown = if prep.title.trim().is_empty() { "Untitled".to_string() } else { prep.title.clone() };

    if prep.gone {
        let Some(r) = rec else { return Vec::new() };
        match remove_gone(ctx, sink, &id, &shown, r.folder.clone(), dr).await {
            Ok(plan) => {
                if let (Some(plan), true) = (plan, cfg.dry_run) {
                    planned.plans.push((format!("remove {shown}"), plan));
                }
                if !cfg.dry_run {
                    saver.save(&ctx.state.read().expect("state lock"), false);
                }
            }
            Err(e) => fail(ctx, task, format!("removing its folder failed: {e}"), dr, saver),
        }
        return Vec::new();
    }

    // Own files that are gone, and the folders of children that left this node.
    let new_paths: HashSet<&str> = prep.writes.iter().map(|w| w.path.as_str()).collect();
    let moved = rec.as_ref().and_then(|r| r.folder.as_deref()).is_some_and(|f| f != task.folder);
    let mut deletes: Vec<String> = rec
        .as_ref()
        .map(|r| {
            r.files
                .keys()
                .filter(|p| moved || (!new_paths.contains(p.as_str()) && !prep.keep.contains(p)))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let now_ids: HashSet<&str> = prep.children.iter().map(|c| c.id.as_str()).collect();
    let mut departed: Vec<String> = Vec::new();
    {
        let st = ctx.state.read().expect("state lock");
        for (d, folder) in previous_children(&st, &ctx.repo, &id, rec.as_ref(), task.root) {
            if now_ids.contains(d.as_str()) {
                continue;
            }
            // Its folder here goes; if it moved elsewhere, it is written there on its own.
            if !cfg.keep_deleted && !folder.is_empty() {
                deletes.push(folder.clone());
            }
            let still_ours = st.pages.get(&d).is_some_and(|r| {
                r.repo == ctx.repo && (r.parent.as_deref() == Some(id.as_str()) || (task.root && r.parent.is_none()))
            });
            if still_ours {
                dr.deleted.push(st.pages[&d].title.clone());
                departed.push(d);
            }
        }
    }
    deletes.sort();
    deletes.dedup();

    let change = ChangeSet { message: prep.message.clone(), writes: prep.writes, replace_dirs: Vec::new(), deletes };
    let out = match sink.commit(change).await {
        Ok(o) => o,
        Err(e) => {
            fail(ctx, task, format!("commit failed: {e}"), dr, saver);
            return Vec::new();
        }
    };
    let changed = !out.plan.is_empty();
    dr.bytes_downloaded += prep.bytes_downloaded;
    for w in &prep.warnings {
        tracing::warn!(page = %shown, "{w}");
        dr.warnings.push(format!("{shown}: {w}"));
    }
    dr.commits.extend(out.commits.iter().cloned());
    if changed {
        dr.files_committed += out.plan.added.len() + out.plan.changed.len();
        if prep.kind == NodeKind::Page {
            dr.backed_up.push(shown.clone());
            if moved {
                dr.moved.push(shown.clone());
            }
        }
        if cfg.dry_run {
            planned.plans.push((shown.clone(), out.plan.clone()));
        }
    }

    if !cfg.dry_run {
        let mut st = ctx.state.write().expect("state lock");
        let mut files: std::collections::BTreeMap<String, String> = out.blob_ids.clone();
        if let Some(r) = &rec {
            for k in &prep.keep {
                if let Some(b) = r.files.get(k) {
                    files.insert(k.clone(), b.clone());
                }
            }
        }
        for d in &departed {
            // Their files are gone; the records stay (as orphans, with no files) until the end of
            // the run, so a page that moved elsewhere keeps its links when found at its new place.
            for x in st.descendants(d).into_iter().chain([d.clone()]) {
                if let Some(r) = st.pages.get_mut(&x) {
                    r.files.clear();
                    r.orphan = true;
                }
                ctx.links.write().expect("links lock").remove(&x);
            }
        }
        st.pages.insert(
            id.clone(),
            PageRecord {
                repo: ctx.repo.clone(),
                title: prep.title.clone(),
                last_edited_time: prep.last_edited_time.clone(),
                fetched_at: Some(prep.fetched_at.clone()),
                folder: Some(task.folder.clone()),
                files,
                media_names: prep.media_names.clone(),
                parent: task.parent.clone(),
                kind: prep.kind,
                children: prep
                    .children
                    .iter()
                    .map(|c| ChildRef { id: c.id.clone(), title: c.title.clone(), kind: c.kind })
                    .collect(),
                data_sources: prep.data_sources.clone(),
                orphan: false,
            },
        );
        // A renamed child: its parent's list carries the new title, so its folder is derived right.
        if let Some(p) = task.parent.as_ref().and_then(|p| st.pages.get_mut(p)) {
            if let Some(c) = p.children.iter_mut().find(|c| c.id == id) {
                c.title = prep.title.clone();
            }
        }
        saver.save(&st, false);
    }

    // Children to back up.
    let db_title = (prep.kind == NodeKind::Database).then(|| prep.title.clone());
    let mut next = Vec::new();
    for c in prep.children {
        let crec = ctx.record(&c.id);
        let need = c.needs
            || cfg.full_sync
            || match &crec {
                None => true,
                Some(r) => {
                    r.folder.as_deref() != Some(c.folder.as_str())
                        || r.parent.as_deref() != Some(id.as_str())
                        || r.last_edited_time.is_empty()
                        || r.repo != ctx.repo
                        || r.orphan
                }
            };
        if need {
            next.push(Task {
                id: c.id,
                title: c.title,
                folder: c.folder,
                parent: Some(id.clone()),
                kind: c.kind,
                page: c.page,
                db: c.db,
                listing: c.listing,
                root: false,
                rec: crec,
                db_title: db_title.clone(),
            });
        }
    }
    next
}

/// Remove a node that is gone from Notion: one commit deleting its folder (unless KEEP_DELETED
/// keeps it), then its record and its descendants' records. Returns the plan of that commit.
pub(crate) async fn remove_gone(
    ctx: &RepoCtx<'_>,
    sink: &mut dyn Sink,
    id: &str,
    title: &str,
    folder: Option<String>,
    dr: &mut DatabaseReport,
) -> Result<Option<Plan>, crate::sink::SinkError> {
    let cfg = ctx.engine.cfg;
    let mut plan = None;
    if let (Some(f), false) = (folder.filter(|f| !f.is_empty()), cfg.keep_deleted) {
        let change = ChangeSet {
            message: format!("Remove: {title} (deleted in Notion)"),
            deletes: vec![f],
            ..Default::default()
        };
        let out = sink.commit(change).await?;
        dr.commits.extend(out.commits.iter().cloned());
        plan = Some(out.plan);
    }
    dr.deleted.push(title.to_string());
    if !cfg.dry_run {
        let mut st = ctx.state.write().expect("state lock");
        for d in st.descendants(id) {
            st.pages.remove(&d);
        }
        st.pages.remove(id);
    }
    Ok(plan)
}

/// Nodes of this repository left unfinished by an earlier run: records marked for a retry, and
/// children a recorded node lists that have no record (or one at another place).
pub(crate) fn pending(st: &State, repo: &str, root_db: &str) -> Vec<Task> {
    let mut out = Vec::new();
    for (id, r) in st.pages.iter().filter(|(_, r)| r.repo == repo && !r.orphan) {
        let Some(folder) = r.folder.clone() else { continue };
        if r.last_edited_time.is_empty() && id != root_db {
            out.push(task_from_record(id, r, folder.clone()));
        }
        if id == root_db || r.children.is_empty() {
            continue;
        }
        let f = plan::child_folders(&folder, r.children.iter().map(|c| (c.id.as_str(), c.title.as_str())));
        for c in &r.children {
            let cfolder = f[&c.id].clone();
            let ok = st.pages.get(&c.id).is_some_and(|cr| {
                cr.folder.as_deref() == Some(cfolder.as_str())
                    && cr.parent.as_deref() == Some(id.as_str())
                    && cr.repo == repo
            });
            if !ok {
                out.push(Task {
                    id: c.id.clone(),
                    title: c.title.clone(),
                    folder: cfolder,
                    parent: Some(id.clone()),
                    kind: c.kind,
                    page: None,
                    db: None,
                    listing: None,
                    root: false,
                    rec: st.pages.get(&c.id).cloned(),
                    db_title: (r.kind == NodeKind::Database).then(|| r.title.clone()),
                });
            }
        }
    }
    out
}

pub(crate) fn task_from_record(id: &str, r: &PageRecord, folder: String) -> Task {
    Task {
        id: id.to_string(),
        title: r.title.clone(),
        folder,
        parent: r.parent.clone(),
        kind: r.kind,
        page: None,
        db: None,
        listing: None,
        root: false,
        rec: Some(r.clone()),
        db_title: None,
    }
}
