//! The commit stage: one [`Committer`] per repository owns its sink, turns each prepared node into
//! one commit, and is the only writer of the state (a node is recorded only after its commit is
//! durable). The rules that keep a backup whole live here, applied with the pure checks of
//! [`super::plan`]:
//!
//! - **Paths are owned.** A commit deletes a node's old files and the strays in its own folder, never a
//!   path that belongs to the folder another node claims in this run.
//! - **Delete only on evidence.** A node leaves the backup only when Notion says so for that very
//!   node (trashed, 404 on two runs, or moved out of the backup); removals wait until the end of the
//!   run, and the deletion guard keeps them all when there are too many.
//! - **Links never depend on timing.** A page rendered while a target's place was not yet known is
//!   rendered again once it is (right away when possible, else at the end of the run).
//! - **Generated indexes are written last**, when every row's files and every link are known.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::ids;
use std::collections::HashMap;

use crate::markdown::{self, LinkTargets as _, LocalFile, MediaKey, RenderContext};
use crate::notify::{DatabaseReport, PageFailure, PlannedCommit};
use crate::sink::{ChangeSet, Content, FileWrite, Plan, Sink};
use crate::state::{ChildRef, NodeKind, PageRecord, State};

use super::engine::Engine;
use super::plan;
use super::prepare;
use super::vocab::{
    Absent, Evidence, IndexSource, Outcome, Prepared, Reason, RepoIx, Rerender, Task, TaskError, TaskKind,
};

/// Saves the state after commits, at most once a second (and always when forced). A record missing
/// because the process died before the next save only costs a re-check next run: the sink finds the
/// files identical and commits nothing.
pub(crate) struct StateSaver {
    cfg: Arc<Config>,
    last: Option<Instant>,
    pub error: Option<String>,
}

impl StateSaver {
    pub fn new(cfg: Arc<Config>) -> Self {
        StateSaver { cfg, last: None, error: None }
    }

    pub fn save(&mut self, state: &State, force: bool) {
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

/// A node that leaves the backup at the end of the run (if the deletion guard allows).
#[derive(Debug, Clone)]
struct Removal {
    id: String,
    title: String,
    why: String,
}

/// A page whose links may still change: rendered again at the end of the run if one did.
struct PendingRerender {
    id: String,
    folder: String,
    linked: BTreeMap<String, Option<String>>,
    data: Box<Rerender>,
}

/// A database whose index and CSV are written at the end of the run.
struct IndexNode {
    id: String,
    folder: String,
    root: bool,
    source: Arc<IndexSource>,
    property_order: Vec<String>,
}

/// Work the pipeline must schedule because of a commit.
pub(crate) type FollowUps = Vec<Task>;

pub(crate) struct Committer {
    engine: Arc<Engine>,
    repo: RepoIx,
    sink: Box<dyn Sink>,
    pub report: DatabaseReport,
    saver: Arc<Mutex<StateSaver>>,
    removals: Vec<Removal>,
    /// Nodes that left the backup this run: no longer rows of any index.
    removed: HashSet<String>,
    rerenders: Vec<PendingRerender>,
    indexes: Vec<IndexNode>,
    workspace_roots: Option<Vec<(String, String, String)>>,
    /// Folders of an earlier backup this run has no record of (notion-gitea-backup.py's, or one
    /// whose state lost its folder records), by the page their `index.md` names: that page's commit
    /// takes them over.
    pub earlier: BTreeMap<String, String>,
    /// Ids whose task this committer already asked for (so a follow-up is scheduled once).
    asked: HashSet<String>,
    /// Nodes handled so far (for progress lines).
    done: usize,
}

impl Committer {
    pub fn new(
        engine: Arc<Engine>,
        repo: RepoIx,
        sink: Box<dyn Sink>,
        report: DatabaseReport,
        saver: Arc<Mutex<StateSaver>>,
    ) -> Self {
        Committer {
            engine,
            repo,
            sink,
            report,
            saver,
            removals: Vec::new(),
            removed: HashSet::new(),
            rerenders: Vec::new(),
            indexes: Vec::new(),
            workspace_roots: None,
            earlier: BTreeMap::new(),
            asked: HashSet::new(),
            done: 0,
        }
    }

    pub fn sink(&self) -> &dyn Sink {
        self.sink.as_ref()
    }

    fn repo_name(&self) -> &str {
        &self.engine.repos[self.repo].name
    }

    fn dry_run(&self) -> bool {
        self.engine.dry_run()
    }

    fn save(&self, st: &State, force: bool) {
        self.saver.lock().expect("saver lock").save(st, force);
    }

    /// Commit one prepared node (or record its failure). Returns the tasks it leads to.
    pub async fn handle(&mut self, task: Task, result: Result<Prepared, TaskError>) -> FollowUps {
        self.done += 1;
        let known = self.engine.scheduled[self.repo].load(std::sync::atomic::Ordering::SeqCst).max(self.done);
        tracing::info!("[{}/{known}] {}", self.done, task.shown());
        match result {
            Err(e) => {
                self.fail(&task, e.to_string());
                Vec::new()
            }
            Ok(prep) => match prep.outcome.clone() {
                Outcome::Backup => {
                    // A re-check that found an edit search missed counts as re-checked too.
                    if task.reason == Reason::Verify {
                        self.report.verified += 1;
                    }
                    self.commit(task, prep).await
                }
                Outcome::Gone(evidence) => {
                    self.gone(&task.id, &task.title, evidence);
                    Vec::new()
                }
                Outcome::Missing => {
                    self.missing(&task.id, &task.title);
                    Vec::new()
                }
                Outcome::Verified => {
                    self.report.verified += 1;
                    if !self.dry_run() {
                        let mut st = self.engine.state.write().expect("state lock");
                        if let Some(r) = st.pages.get_mut(&task.id) {
                            r.verified_at = Some(prep.fetched_at.clone());
                            r.missing_since = None;
                        }
                        self.save(&st, false);
                    }
                    Vec::new()
                }
            },
        }
    }

    /// A node that failed: reported, and read again next run even if Notion shows no new edit. A
    /// configured database that could not be listed fails as a whole (nothing of it is touched).
    pub fn fail(&mut self, task: &Task, reason: String) {
        let shown = task.shown().to_string();
        if task.root {
            let msg = match &self.engine.repos[self.repo].root_db {
                Some(id) => format!("database {} ({}): {reason}", self.report.label, ids::dashed(id)),
                None => format!("workspace discovery: {reason}"),
            };
            tracing::error!("{msg}");
            self.report.error.get_or_insert(msg);
            return;
        }
        tracing::error!(page = %shown, "{reason}");
        self.report.failed.push(PageFailure { title: shown, id: ids::dashed(&task.id), reason });
        if !self.dry_run() {
            let mut st = self.engine.state.write().expect("state lock");
            if let Some(r) = st.pages.get_mut(&task.id) {
                r.last_edited_time.clear();
            }
            self.save(&st, false);
        }
    }

    fn gone(&mut self, id: &str, title: &str, evidence: Evidence) {
        let rec = self.engine.record(id).filter(|r| r.repo == self.repo_name());
        let Some(rec) = rec else { return };
        if self.engine.cfg.keep_deleted {
            tracing::info!(page = %shown(&rec.title), "deleted in Notion; its folder is kept (KEEP_DELETED=1)");
            return;
        }
        let why = match evidence {
            Evidence::Trashed => "deleted in Notion".to_string(),
            Evidence::NotFound => "not found in Notion on two runs".to_string(),
            Evidence::Moved { .. } => "moved out of the backup in Notion".to_string(),
            Evidence::Alive => return,
        };
        let title = if rec.title.is_empty() { title.to_string() } else { rec.title.clone() };
        if !self.removals.iter().any(|r| r.id == id) {
            self.removals.push(Removal { id: id.to_string(), title, why });
        }
    }

    fn missing(&mut self, id: &str, title: &str) {
        let shown = shown(title).to_string();
        let msg = format!(
            "{shown} ({}): Notion answers 404 (deleted, or no longer shared with the integration); its backup is kept, and removed only if Notion still answers 404 on the next run",
            ids::dashed(id)
        );
        tracing::warn!("{msg}");
        self.report.warnings.push(msg);
        if !self.dry_run() {
            let mut st = self.engine.state.write().expect("state lock");
            let now = self.engine.run_started.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            if let Some(r) = st.pages.get_mut(id) {
                r.missing_since.get_or_insert(now);
            }
            self.save(&st, false);
        }
    }

    async fn commit(&mut self, task: Task, mut prep: Prepared) -> FollowUps {
        let engine = self.engine.clone();
        let id = task.id.clone();
        let rec = engine.record(&id).filter(|r| r.repo == self.repo_name());
        let shown = shown(&prep.title).to_string();
        let mut follow = Vec::new();

        if prep.kind == TaskKind::Workspace {
            self.workspace_roots =
                Some(prep.children.iter().map(|c| (c.id.clone(), c.title.clone(), c.folder.clone())).collect());
            self.report.pages_checked = prep.children.len();
            follow.extend(self.absent(&task, &prep.absent));
            return follow;
        }

        // A target's place became known (or changed) since the page was rendered: render it again now.
        if let Some(data) = prep.rerender.as_ref() {
            if is_stale(&engine, self.repo, &prep.linked) {
                let (text, linked) = prepare::render(&engine, self.repo, &task.folder, data).await;
                let index = plan::join(&task.folder, "index.md");
                if let Some(w) = prep.writes.iter_mut().find(|w| w.path == index) {
                    w.content = Content::Bytes(text.into_bytes());
                }
                prep.unresolved = linked.iter().filter(|(_, l)| l.is_none()).map(|(i, _)| i.clone()).collect();
                prep.linked = linked;
            }
        }

        if task.root && prep.kind == TaskKind::Database {
            self.report.pages_checked = prep.children.len();
            self.report.notion_id = ids::dashed(&task.id);
            self.report.notion_title = prep.title.clone();
            self.report.data_sources = prep
                .source_counts
                .iter()
                .map(|(name, id, pages)| crate::notify::DataSourceCount {
                    name: name.clone(),
                    id: id.clone(),
                    pages: *pages,
                })
                .collect();
        }
        let moved = rec.as_ref().and_then(|r| r.folder.as_deref()).is_some_and(|f| f != task.folder);
        // Generated files of a database are written at the end of the run; its commit now keeps them.
        // A database's index and CSV as far as this run knows now; written again at the end of the
        // run if every row's files and every link change them.
        if let (TaskKind::Database, Some(source)) = (prep.kind, prep.index.as_ref()) {
            let node = IndexNode {
                id: id.clone(),
                folder: task.folder.clone(),
                root: task.root,
                source: source.clone(),
                property_order: prep.property_order.clone(),
            };
            // Rows Notion says are gone leave the index now; should the deletion guard keep them,
            // the index written at the end of the run shows them again.
            let mut leaving = self.removed.clone();
            if !engine.cfg.keep_deleted {
                leaving.extend(
                    prep.absent
                        .iter()
                        .filter(|a| matches!(a.evidence, Evidence::Trashed | Evidence::Moved { .. }))
                        .map(|a| a.id.clone()),
                );
            }
            prep.writes.extend(self.render_index(&node, &leaving).await);
        }
        let deletes = self.deletes_for(&id, &task.folder, rec.as_ref(), &prep, moved);
        let change = ChangeSet {
            message: prep.message.clone(),
            writes: std::mem::take(&mut prep.writes),
            replace_dirs: Vec::new(),
            deletes,
        };
        let out = match self.sink.commit(change).await {
            Ok(o) => o,
            Err(e) => {
                self.fail(&task, format!("commit failed: {e}"));
                return follow;
            }
        };
        let changed = !out.plan.is_empty();
        self.report.bytes_downloaded += prep.bytes_downloaded;
        self.report.kept_files += prep.kept_files;
        for w in &prep.warnings {
            tracing::warn!(page = %shown, "{w}");
            self.report.warnings.push(format!("{shown}: {w}"));
        }
        for (t, reason) in &prep.failures {
            self.report.failed.push(PageFailure { title: shown_owned(t), id: String::new(), reason: reason.clone() });
        }
        self.report.commits.extend(out.commits.iter().cloned());
        // Taken over from an earlier backup: the files of it this commit removed or replaced.
        let legacy = engine.record(&id).is_some_and(|r| r.is_legacy());
        if (legacy || self.earlier.values().any(|e| *e == id)) && prep.kind == TaskKind::Page {
            let n = out.plan.deleted.len() + out.plan.changed.len();
            if n > 0 {
                self.report.adopted_pages += 1;
                self.report.adopted_files += n;
            }
        }
        if changed {
            self.report.files_committed += out.plan.added.len() + out.plan.changed.len();
            if prep.kind == TaskKind::Page {
                self.report.backed_up.push(shown.clone());
                if !self.is_row(&task) {
                    self.report.child_pages_backed_up += 1;
                }
                if moved {
                    self.report.moved.push(shown.clone());
                }
                if task.reason == Reason::Repair {
                    self.report.repaired.push(shown.clone());
                }
            }
            tracing::info!(page = %shown, reason = task.reason.as_str(), "committed");
            if self.dry_run() {
                self.plan_commit(&shown, &out.plan);
            }
        } else {
            tracing::debug!(page = %shown, "unchanged: nothing to commit");
        }

        // The record: what is in the repository now.
        let kept_children: Vec<ChildRef> = self
            .kept_children(&prep.absent)
            .into_iter()
            .filter(|k| !prep.children.iter().any(|c| c.id == k.id))
            .collect();
        if !self.dry_run() {
            let mut st = engine.state.write().expect("state lock");
            let mut files: BTreeMap<String, String> = out.blob_ids.clone();
            if let Some(r) = &rec {
                for k in &prep.keep {
                    if let Some(b) = r.files.get(k) {
                        files.insert(k.clone(), b.clone());
                    }
                }
            }
            let mut children: Vec<ChildRef> = prep
                .children
                .iter()
                .map(|c| ChildRef { id: c.id.clone(), title: c.title.clone(), kind: c.kind })
                .collect();
            children.extend(kept_children);
            st.pages.insert(
                id.clone(),
                PageRecord {
                    repo: self.repo_name().to_string(),
                    title: prep.title.clone(),
                    last_edited_time: prep.last_edited_time.clone(),
                    fetched_at: Some(prep.fetched_at.clone()),
                    folder: Some(task.folder.clone()),
                    files,
                    media_names: prep.media_names.clone(),
                    parent: task.parent.clone(),
                    kind: match prep.kind {
                        TaskKind::Database => NodeKind::Database,
                        _ => NodeKind::Page,
                    },
                    children,
                    data_sources: prep.data_sources.clone(),
                    orphan: false,
                    database_title: task
                        .db_title
                        .clone()
                        .or_else(|| rec.as_ref().and_then(|r| r.database_title.clone())),
                    media_keys: prep.media_keys.clone(),
                    unresolved_links: prep.unresolved.iter().cloned().collect(),
                    missing_since: None,
                    verified_at: Some(prep.fetched_at.clone()),
                    property_order: prep.property_order.clone(),
                },
            );
            // A renamed child: its parent's list carries the new title.
            if let Some(p) = task.parent.as_ref().and_then(|p| st.pages.get_mut(p)) {
                if let Some(c) = p.children.iter_mut().find(|c| c.id == id) {
                    c.title = prep.title.clone();
                }
            }
            self.save(&st, false);
        }

        follow.extend(self.absent(&task, &prep.absent));
        if let Some(data) = prep.rerender.take() {
            if !prep.linked.is_empty() {
                self.rerenders.push(PendingRerender {
                    id: id.clone(),
                    folder: task.folder.clone(),
                    linked: prep.linked.clone(),
                    data,
                });
            }
        }
        if let Some(source) = prep.index.take() {
            self.indexes.push(IndexNode {
                id,
                folder: task.folder.clone(),
                root: task.root,
                source,
                property_order: prep.property_order,
            });
        }
        follow
    }

    /// A row of a configured database (not a child page).
    fn is_row(&self, task: &Task) -> bool {
        task.parent.is_some() && task.parent == self.engine.repos[self.repo].root_db
    }

    fn plan_commit(&mut self, what: &str, plan: &Plan) {
        self.report.planned.push(PlannedCommit {
            what: what.to_string(),
            added: plan.added.clone(),
            changed: plan.changed.clone(),
            deleted: plan.deleted.clone(),
        });
    }

    /// What a node's commit deletes: its files from the last backup that it does not write or keep
    /// now (all of them when it moved), the strays in its own folder, and what an older backup left
    /// for it; never a path of another node's folder in this run.
    fn deletes_for(
        &self,
        id: &str,
        folder: &str,
        rec: Option<&PageRecord>,
        prep: &Prepared,
        moved: bool,
    ) -> Vec<String> {
        let new_paths: HashSet<&str> = prep.writes.iter().map(|w| w.path.as_str()).collect();
        let keep: HashSet<&str> = prep.keep.iter().map(String::as_str).collect();
        let mut out: BTreeSet<String> = BTreeSet::new();
        if let Some(r) = rec {
            for p in r.files.keys() {
                if moved || (!new_paths.contains(p.as_str()) && !keep.contains(p.as_str())) {
                    out.insert(p.clone());
                }
            }
        }
        if prep.kind == TaskKind::Page && !folder.is_empty() {
            // Files in the page's own folder (and its assets/attachments) that it does not write now:
            // left by hand, by an older version, or by notion-gitea-backup.py.
            for p in self.sink.files_under(folder) {
                if plan::owner_folder(&p) == folder && !new_paths.contains(p.as_str()) && !keep.contains(p.as_str()) {
                    out.insert(p);
                }
            }
        }
        for (f, owner) in &self.earlier {
            if owner == id && f != folder {
                out.extend(self.files_of_earlier_folder(f));
            }
        }
        let engine = &self.engine;
        out.into_iter()
            .filter(|p| !new_paths.contains(p.as_str()))
            .filter(|p| !plan::owned_by_other(p, id, |f| engine.claimant(self.repo, f)))
            .collect()
    }

    /// The files of an earlier backup's page folder `f`: everything below it except what lies in a
    /// deeper folder holding its own `index.md` (another page's).
    fn files_of_earlier_folder(&self, f: &str) -> Vec<String> {
        let all = self.sink.files_under(f);
        let pages: HashSet<&str> = all.iter().filter_map(|p| p.strip_suffix("/index.md")).collect();
        all.iter()
            .filter(|p| {
                let mut dir = p.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
                while dir.len() > f.len() {
                    if pages.contains(dir) {
                        return false;
                    }
                    dir = dir.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
                }
                true
            })
            .cloned()
            .collect()
    }

    /// Recorded children that are no longer shown but stay (Notion says they are alive there, or
    /// answered 404 for the first time): they remain in the parent's child list.
    fn kept_children(&self, absent: &[Absent]) -> Vec<ChildRef> {
        let mut out = Vec::new();
        for a in absent {
            let keep = match &a.evidence {
                Evidence::Alive => true,
                Evidence::NotFound => !self.missing_before(&a.id),
                _ => false,
            };
            if keep {
                let kind = self.engine.record(&a.id).map(|r| r.kind).unwrap_or_default();
                out.push(ChildRef { id: a.id.clone(), title: a.title.clone(), kind });
            }
        }
        out
    }

    fn missing_before(&self, id: &str) -> bool {
        self.engine
            .record(id)
            .and_then(|r| r.missing_since)
            .and_then(|t| plan::parse_time(&t))
            .is_some_and(|t| t < self.engine.run_started)
    }

    /// Act on Notion's word about recorded children a node no longer shows.
    fn absent(&mut self, task: &Task, absent: &[Absent]) -> FollowUps {
        let mut follow = Vec::new();
        let mut alive = Vec::new();
        for a in absent {
            match &a.evidence {
                Evidence::Alive => {
                    tracing::debug!(page = %shown(&a.title), "not listed this time, but Notion says it is still there: kept");
                    alive.push(shown(&a.title).to_string());
                }
                Evidence::Trashed => self.gone(&a.id, &a.title, Evidence::Trashed),
                Evidence::NotFound => {
                    if self.missing_before(&a.id) {
                        self.gone(&a.id, &a.title, Evidence::NotFound);
                    } else {
                        self.missing(&a.id, &a.title);
                    }
                }
                Evidence::Moved { parent } => {
                    let workspace_root = task.kind == TaskKind::Workspace;
                    match self.engine.location(parent) {
                        Some(loc) => {
                            // Found at its new place when that node is read; make sure it is.
                            if let Some(r) = self.engine.record(parent) {
                                if loc.repo == self.repo && self.asked.insert(parent.clone()) {
                                    follow.push(Task::from_record(
                                        loc.repo,
                                        parent,
                                        &r,
                                        loc.folder.clone(),
                                        Reason::Moved,
                                    ));
                                }
                            }
                        }
                        None if workspace_root => {}
                        None => self.gone(&a.id, &a.title, a.evidence.clone()),
                    }
                }
            }
        }
        if !alive.is_empty() && task.kind != TaskKind::Workspace {
            let n = alive.len();
            let some: Vec<&str> = alive.iter().take(5).map(String::as_str).collect();
            let msg = format!(
                "{}: {n} recorded {} not in the listing this time although Notion says {} still there ({}{}): kept as backed up",
                shown(&task.title),
                if n == 1 { "page was" } else { "pages were" },
                if n == 1 { "it is" } else { "they are" },
                some.join(", "),
                if n > 5 { ", ..." } else { "" }
            );
            tracing::warn!("{msg}");
            self.report.warnings.push(msg);
        }
        follow
    }

    /// The end of the run for this repository: removals (if the guard allows), pages whose links
    /// changed, database indexes, the workspace index; then the state is saved and the sink
    /// finished (local git: push).
    pub async fn finalize(&mut self, stopped: bool) {
        if !stopped {
            self.remove_gone().await;
            self.rerender_stale().await;
            self.write_indexes().await;
            self.write_workspace_index().await;
        }
        for n in self.sink.take_notices() {
            tracing::warn!(repository = %self.repo_name(), "{n}");
            self.report.warnings.push(n);
        }
        if !self.dry_run() {
            {
                let mut st = self.engine.state.write().expect("state lock");
                let name = self.repo_name().to_string();
                if !stopped {
                    st.pages.retain(|_, r| !(r.orphan && r.repo == name));
                }
                st.destinations.insert(name, self.sink.identity());
                self.save(&st, true);
            }
            if let Err(e) = self.sink.finish().await {
                let msg = format!("repository {}: {e}", self.sink.describe());
                tracing::error!("{msg}");
                self.report.error.get_or_insert(msg);
            }
        }
    }

    async fn remove_gone(&mut self) {
        if self.removals.is_empty() {
            return;
        }
        let engine = self.engine.clone();
        let name = self.repo_name().to_string();
        let (removing, total) = {
            let st = engine.state.read().expect("state lock");
            let mut ids: HashSet<String> = HashSet::new();
            for r in &self.removals {
                ids.insert(r.id.clone());
                ids.extend(st.descendants(&r.id));
            }
            let pages = |i: &String| st.pages.get(i).is_some_and(|r| r.kind == NodeKind::Page);
            let total =
                st.pages.iter().filter(|(_, r)| r.repo == name && r.kind == NodeKind::Page && !r.orphan).count();
            (ids.iter().filter(|i| pages(i)).count(), total)
        };
        if !engine.cfg.allow_mass_delete {
            if let Some(why) = plan::guard_trips(removing, total, engine.cfg.delete_guard) {
                let msg = format!(
                    "{why}: nothing was deleted. If these pages really were deleted in Notion, run once with --allow-mass-delete (or raise DELETE_GUARD); otherwise check that the integration still sees the database"
                );
                tracing::error!(repository = %name, "{msg}");
                self.report.guard = Some(msg);
                return;
            }
        }
        for r in std::mem::take(&mut self.removals) {
            self.remove(&r).await;
        }
    }

    /// Remove one node gone from Notion: one commit deleting its folder (what it and its descendants
    /// recorded, and what else is in its folder), never a path another node owns in this run.
    async fn remove(&mut self, r: &Removal) {
        let engine = self.engine.clone();
        let (folder, paths, below) = {
            let st = engine.state.read().expect("state lock");
            let Some(rec) = st.pages.get(&r.id) else { return };
            let below = st.descendants(&r.id);
            let mut paths: BTreeSet<String> = rec.files.keys().cloned().collect();
            for d in &below {
                if let Some(dr) = st.pages.get(d) {
                    paths.extend(dr.files.keys().cloned());
                }
            }
            (rec.folder.clone().unwrap_or_default(), paths, below)
        };
        let mut all = paths;
        if !folder.is_empty() {
            all.extend(self.sink.files_under(&folder));
        }
        let live: HashSet<String> = engine.confirmed_in(self.repo);
        let deletes: Vec<String> = all
            .into_iter()
            .filter(|p| {
                let owner = plan::owner_folder(p);
                engine.claimant(self.repo, owner).is_none_or(|o| o == r.id || below.contains(&o) || !live.contains(&o))
            })
            .collect();
        let change =
            ChangeSet { message: format!("Remove: {} ({})", shown(&r.title), r.why), deletes, ..Default::default() };
        match self.sink.commit(change).await {
            Ok(out) => {
                self.report.commits.extend(out.commits.iter().cloned());
                self.report.deleted.push(shown(&r.title).to_string());
                self.removed.extend(below.iter().cloned().chain([r.id.clone()]));
                tracing::info!(page = %shown(&r.title), "removed: {}", r.why);
                if self.dry_run() && !out.plan.is_empty() {
                    self.plan_commit(&format!("remove {}", shown(&r.title)), &out.plan);
                }
                if !self.dry_run() {
                    let mut st = engine.state.write().expect("state lock");
                    for d in below.iter().chain([&r.id]) {
                        st.pages.remove(d);
                        engine.forget_location(d);
                    }
                    for p in st.pages.values_mut() {
                        p.children.retain(|c| c.id != r.id);
                    }
                    self.save(&st, false);
                }
            }
            Err(e) => {
                let msg = format!("{}: removing its folder failed: {e}", shown(&r.title));
                tracing::warn!("{msg}");
                self.report.warnings.push(msg);
            }
        }
    }

    /// Pages rendered while a link target's place was unknown or provisional: rendered again if a
    /// target's link changed since.
    async fn rerender_stale(&mut self) {
        let engine = self.engine.clone();
        for p in std::mem::take(&mut self.rerenders) {
            if !is_stale(&engine, self.repo, &p.linked) {
                continue;
            }
            let (text, linked) = prepare::render(&engine, self.repo, &p.folder, &p.data).await;
            let title = p.data.page.title();
            let change = ChangeSet {
                message: format!("Update links: {} ({})", shown(&title), engine.run_date),
                writes: vec![FileWrite {
                    path: plan::join(&p.folder, "index.md"),
                    content: Content::Bytes(text.into_bytes()),
                }],
                ..Default::default()
            };
            match self.sink.commit(change).await {
                Ok(out) => {
                    self.report.commits.extend(out.commits.iter().cloned());
                    if self.dry_run() && !out.plan.is_empty() {
                        self.plan_commit(&format!("links of {}", shown(&title)), &out.plan);
                    }
                    if !self.dry_run() {
                        let mut st = engine.state.write().expect("state lock");
                        if let Some(r) = st.pages.get_mut(&p.id) {
                            r.files.extend(out.blob_ids);
                            r.unresolved_links =
                                linked.iter().filter(|(_, l)| l.is_none()).map(|(i, _)| i.clone()).collect();
                        }
                        self.save(&st, false);
                    }
                }
                Err(e) => {
                    let msg = format!("{}: updating its links failed: {e}", shown(&title));
                    tracing::warn!("{msg}");
                    self.report.warnings.push(msg);
                }
            }
        }
    }

    /// The index (`README.md` or `index.md`) and `database.csv` of a database, with the run's
    /// current links and the rows' files as recorded, without the rows `leaving` the backup.
    async fn render_index(&self, n: &IndexNode, leaving: &HashSet<String>) -> Vec<FileWrite> {
        let engine = &self.engine;
        let users = engine.users_for_index().await;
        let title = n.source.db.title_text();
        let label = if n.root { engine.repos[self.repo].label.clone() } else { title.clone() };
        let index_name = if n.root { "README.md" } else { "index.md" };
        let rel = |rid: &str| -> String {
            let f = n.source.folders.get(rid).cloned().unwrap_or_default();
            f.strip_prefix(&format!("{}/", n.folder)).map(str::to_string).unwrap_or(f)
        };
        let kept: Vec<&crate::notion::model::Page> =
            n.source.rows.iter().filter(|p| !leaving.contains(&ids::normalize(&p.id))).collect();
        let rows: Vec<(String, String)> = kept.iter().map(|p| (ids::normalize(&p.id), p.title())).collect();
        let links = engine.links(self.repo);
        let titles = engine.titles.read().expect("titles lock");
        let prefix = plan::prefix_to_root(&n.folder);
        let rctx = RenderContext {
            links: Some(&links),
            link_prefix: &prefix,
            users: Some(users),
            titles: Some(&titles),
            ..Default::default()
        };
        let rctx = RenderContext {
            property_order: (!n.property_order.is_empty()).then_some(n.property_order.as_slice()),
            ..rctx
        };
        // Each row's files as the state records them (paths relative to the row's folder).
        let media: Vec<Option<HashMap<MediaKey, LocalFile>>> = {
            let st = engine.state.read().expect("state lock");
            rows.iter()
                .map(|(rid, _)| {
                    st.pages.get(rid).filter(|r| r.repo == self.repo_name()).map(|r| {
                        r.media_keys
                            .iter()
                            .filter_map(|(k, path)| {
                                let key = MediaKey::from_state_key(k)?;
                                let is_image = path.starts_with("assets/");
                                Some((key, LocalFile { path: path.clone(), width: None, height: None, is_image }))
                            })
                            .collect()
                    })
                })
                .collect()
        };
        let row_views: Vec<markdown::database::Row> = kept
            .iter()
            .zip(rows.iter())
            .zip(media.iter())
            .map(|((p, (rid, t)), m)| markdown::database::Row {
                page: p,
                title: t,
                rel_folder: rel(rid),
                media: m.as_ref(),
            })
            .collect();
        let meta = markdown::database::DatabaseMeta::new(&n.source.db, &title);
        let index = markdown::database::render_index(&meta, &label, &row_views, &rctx);
        let csv = markdown::database::render_csv(&row_views, &rctx);
        vec![
            FileWrite { path: plan::join(&n.folder, index_name), content: Content::Bytes(index.into_bytes()) },
            FileWrite { path: plan::join(&n.folder, "database.csv"), content: Content::Bytes(csv.into_bytes()) },
        ]
    }

    /// Database indexes and CSVs again, now that every row's files and every link are known:
    /// committed only where they changed.
    async fn write_indexes(&mut self) {
        let engine = self.engine.clone();
        for n in std::mem::take(&mut self.indexes) {
            let title = n.source.db.title_text();
            let change = ChangeSet {
                message: if n.root {
                    format!("Update index ({})", engine.run_date)
                } else {
                    format!("Update index of {} ({})", shown(&title), engine.run_date)
                },
                writes: self.render_index(&n, &self.removed).await,
                ..Default::default()
            };
            match self.sink.commit(change).await {
                Ok(out) => {
                    self.report.commits.extend(out.commits.iter().cloned());
                    if !out.plan.is_empty() {
                        self.report.files_committed += out.plan.added.len() + out.plan.changed.len();
                        if self.dry_run() {
                            self.plan_commit(&format!("index of {}", shown(&title)), &out.plan);
                        }
                    }
                    if !self.dry_run() {
                        let mut st = engine.state.write().expect("state lock");
                        if let Some(r) = st.pages.get_mut(&n.id) {
                            r.files.extend(out.blob_ids);
                        }
                        self.save(&st, false);
                    }
                }
                Err(e) => {
                    // One oversized index never blocks the rows: they are committed already.
                    let msg = format!("{}: its index was not updated: {e}", shown(&title));
                    tracing::warn!("{msg}");
                    self.report.warnings.push(msg);
                }
            }
        }
    }

    async fn write_workspace_index(&mut self) {
        let Some(roots) = self.workspace_roots.take() else { return };
        let label = self.engine.repos[self.repo].label.clone();
        let readme = markdown::database::render_workspace_index(&label, &roots);
        let change = ChangeSet {
            message: format!("Update index ({})", self.engine.run_date),
            writes: vec![FileWrite { path: "README.md".into(), content: Content::Bytes(readme.into_bytes()) }],
            ..Default::default()
        };
        match self.sink.commit(change).await {
            Ok(out) => {
                self.report.commits.extend(out.commits.iter().cloned());
                if self.dry_run() && !out.plan.is_empty() {
                    self.plan_commit("README.md index", &out.plan);
                }
            }
            Err(e) => {
                tracing::warn!(repository = %self.repo_name(), "README.md index not updated: {e}");
                self.report.warnings.push(format!("README.md index not updated: {e}"));
            }
        }
    }

    pub fn into_report(self) -> DatabaseReport {
        self.report
    }
}

/// True when a target's link changed since the page was rendered with `linked`.
fn is_stale(engine: &Engine, repo: RepoIx, linked: &BTreeMap<String, Option<String>>) -> bool {
    let links = engine.links(repo);
    linked.iter().any(|(id, used)| links.target(id) != *used)
}

fn shown(title: &str) -> &str {
    super::vocab::shown(title)
}

fn shown_owned(title: &str) -> String {
    shown(title).to_string()
}
