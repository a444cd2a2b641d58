//! The discover stage: what to look at in this run besides the listings themselves. Pages below the
//! rows edited since the last run (through search, which Notion documents as neither immediate nor
//! exhaustive), a slice of child pages re-checked against Notion so a missed edit is caught within
//! VERIFY_DAYS, records whose files the repository no longer holds (the repository is the truth, the
//! state a cache), and work an earlier run left unfinished.

use std::collections::{BTreeMap, HashMap, HashSet};

use futures::TryStreamExt;
use serde_json::json;

use crate::ids;
use crate::notion::model::{Page, Parent};
use crate::notion::NotionError;
use crate::sink::Sink;
use crate::state::{NodeKind, State};

use super::adopt;
use super::engine::Engine;
use super::plan;
use super::vocab::{Held, Reason, RepoIx, Task, TaskKind};

/// Minutes of overlap when searching for pages edited since the last run (clock skew, and
/// `last_edited_time` being rounded to the minute).
const SEARCH_OVERLAP_MINUTES: i64 = 5;

/// What search found edited since the last run.
#[derive(Default)]
pub(crate) struct Recent {
    /// Recorded pages below the rows whose `last_edited_time` changed, with their page object.
    pub pages: HashMap<String, Page>,
    /// Recorded databases that got a new row.
    pub databases: HashSet<String>,
}

/// True when the state records pages below the rows of configured databases (only those need the
/// search for recent edits).
pub(crate) fn has_nested_pages(st: &State) -> bool {
    st.pages.values().any(|r| r.kind == NodeKind::Page && !is_row_of_root(st, r))
}

fn is_row_of_root(st: &State, r: &crate::state::PageRecord) -> bool {
    match r.parent.as_ref().and_then(|p| st.pages.get(p)) {
        Some(p) => p.kind == NodeKind::Database && p.parent.is_none(),
        None => r.parent.is_none(),
    }
}

pub(crate) async fn recently_edited(engine: &Engine, since: &str) -> Result<Recent, NotionError> {
    let cutoff = plan::parse_time(since).map(|t| t - chrono::Duration::minutes(SEARCH_OVERLAP_MINUTES));
    let body = json!({
        "filter": {"property": "object", "value": "page"},
        "sort": {"timestamp": "last_edited_time", "direction": "descending"},
    });
    let by_source = engine.databases_by_source();
    let mut recent = Recent::default();
    let mut stream = engine.notion.search(body);
    while let Some(v) = stream.try_next().await? {
        let Ok(page) = Page::from_json(v) else { continue };
        if let (Some(e), Some(c)) = (plan::parse_time(&page.last_edited_time), cutoff) {
            if e < c {
                break;
            }
        }
        let id = ids::normalize(&page.id);
        let st = engine.state.read().expect("state lock");
        match st.pages.get(&id) {
            // Rows of configured databases are found by their listing; everything deeper here.
            Some(r)
                if r.parent.is_some()
                    && !r.orphan
                    && r.last_edited_time != page.last_edited_time
                    && !is_row_of_root(&st, r) =>
            {
                recent.pages.insert(id, page);
            }
            None => {
                if let Some(Parent::DataSource { data_source_id, .. }) = &page.parent {
                    if let Some(db) = by_source.get(&ids::normalize(data_source_id)) {
                        recent.databases.insert(db.clone());
                    }
                }
            }
            _ => {}
        }
    }
    Ok(recent)
}

/// The folder a recorded node should have now, from its parent's folder and its siblings' titles
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

/// The tasks repository `repo` starts with besides its root (database listing or workspace
/// discovery): recent edits below the rows, databases with new rows, repairs, a VERIFY_DAYS slice,
/// and what an earlier run left unfinished. `sink` is open (its tree is read).
pub(crate) fn initial_tasks(engine: &Engine, repo: RepoIx, recent: &mut Recent, sink: &dyn Sink) -> Vec<Task> {
    let name = engine.repos[repo].name.clone();
    let root = engine.repos[repo].root_db.clone().unwrap_or_default();
    let st = engine.state.read().expect("state lock");
    let mut out: Vec<Task> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let push = |t: Task, seen: &mut HashSet<String>, out: &mut Vec<Task>| {
        if seen.insert(t.id.clone()) {
            out.push(t);
        }
    };
    // Edited below the rows.
    let ids: Vec<String> =
        recent.pages.keys().filter(|id| st.pages.get(*id).is_some_and(|r| r.repo == name)).cloned().collect();
    for id in ids {
        let page = recent.pages.remove(&id).expect("listed");
        let r = &st.pages[&id];
        let folder = expected_folder(&st, &id, &page.title()).or_else(|| r.folder.clone()).unwrap_or_default();
        let mut t = Task::from_record(repo, &id, r, folder, Reason::Edited);
        t.title = page.title();
        t.page = Some(Held::Memory(Box::new(page)));
        push(t, &mut seen, &mut out);
    }
    // Databases that got a new row.
    for id in &recent.databases {
        if let Some(r) = st.pages.get(id).filter(|r| r.repo == name && *id != root) {
            push(
                Task::from_record(repo, id, r, r.folder.clone().unwrap_or_default(), Reason::Listing),
                &mut seen,
                &mut out,
            );
        }
    }
    // The repository is the truth: recorded nodes whose files are missing or changed are redone.
    for (id, r) in st.pages.iter().filter(|(_, r)| r.repo == name && !r.orphan && r.folder.is_some()) {
        if *id == root || seen.contains(id) {
            continue;
        }
        if plan::needs_repair(r, |p| sink.blob_of(p)) {
            tracing::info!(page = %r.title, "its files in the repository are missing or changed: backing it up again");
            push(
                Task::from_record(repo, id, r, r.folder.clone().unwrap_or_default(), Reason::Repair),
                &mut seen,
                &mut out,
            );
        }
    }
    // Left unfinished: records marked for a retry, and children a recorded node lists that have no
    // record (or one at another place).
    for (id, r) in st.pages.iter().filter(|(_, r)| r.repo == name && !r.orphan) {
        let Some(folder) = r.folder.clone() else { continue };
        if r.last_edited_time.is_empty() && *id != root {
            push(Task::from_record(repo, id, r, folder.clone(), Reason::Unverified), &mut seen, &mut out);
        }
        if *id == root || r.children.is_empty() {
            continue;
        }
        let f = plan::child_folders(&folder, r.children.iter().map(|c| (c.id.as_str(), c.title.as_str())));
        for c in &r.children {
            let cfolder = f[&c.id].clone();
            let ok = st.pages.get(&c.id).is_some_and(|cr| {
                cr.folder.as_deref() == Some(cfolder.as_str())
                    && cr.parent.as_deref() == Some(id.as_str())
                    && cr.repo == name
            });
            if !ok {
                let t = Task {
                    repo,
                    id: c.id.clone(),
                    title: c.title.clone(),
                    folder: cfolder,
                    parent: Some(id.clone()),
                    kind: c.kind.into(),
                    page: None,
                    db: None,
                    root: false,
                    rec: st.pages.get(&c.id).cloned(),
                    db_title: (r.kind == NodeKind::Database).then(|| r.title.clone()),
                    reason: Reason::Pending,
                    check_first: false,
                };
                push(t, &mut seen, &mut out);
            }
        }
    }
    // VERIFY_DAYS: a slice of the child pages is re-checked (one request each, no block walk).
    if engine.cfg.verify_days > 0 && !engine.cfg.full_sync {
        for (id, r) in st.pages.iter().filter(|(_, r)| r.repo == name && !r.orphan && r.kind == NodeKind::Page) {
            if seen.contains(id) || is_row_of_root(&st, r) || r.parent.is_none() || r.folder.is_none() {
                continue;
            }
            if plan::due_for_verify(id, r, engine.run_started, engine.cfg.verify_days) {
                let mut t = Task::from_record(repo, id, r, r.folder.clone().unwrap_or_default(), Reason::Verify);
                t.check_first = true;
                push(t, &mut seen, &mut out);
            }
        }
    }
    out
}

/// Folders of an earlier backup the state does not record (notion-gitea-backup.py's, or this
/// tool's under a state that lost its folder records), by the page their `index.md` names, when
/// the state knows that page. Reads only the `index.md` of folders no record has: nothing in a
/// repository this tool wrote and recorded.
pub(crate) async fn earlier_folders(engine: &Engine, repo: RepoIx, sink: &dyn Sink) -> BTreeMap<String, String> {
    let name = engine.repos[repo].name.clone();
    let nodes: Vec<adopt::NodeLayout> = {
        let st = engine.state.read().expect("state lock");
        st.pages
            .iter()
            .filter(|(_, r)| r.repo == name && !r.orphan)
            .filter_map(|(id, r)| {
                r.folder.clone().filter(|f| !f.is_empty()).map(|f| adopt::NodeLayout {
                    id: id.clone(),
                    folder: f,
                    files: Default::default(),
                })
            })
            .collect()
    };
    let files = sink.files_under("");
    let mut out = BTreeMap::new();
    for path in adopt::index_files_to_read(files.iter().map(String::as_str), &nodes) {
        let bytes = match sink.read_file(&path).await {
            Ok(Some(b)) => b,
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!(repository = %name, "cannot read {path} to tell which page it belongs to: {e}");
                continue;
            }
        };
        let Some(id) = adopt::front_matter_id(&bytes) else { continue };
        if engine.record(&id).is_some() {
            let folder = path.strip_suffix("/index.md").unwrap_or(&path).to_string();
            tracing::debug!(repository = %name, "{folder}/ is an earlier backup of {}", ids::dashed(&id));
            out.insert(folder, id);
        }
    }
    out
}

/// Recorded pages an earlier folder belongs to whose backup looks current: backed up again, so
/// their commit takes the earlier folder over.
pub(crate) fn adoption_tasks(engine: &Engine, repo: RepoIx, earlier: &BTreeMap<String, String>) -> Vec<Task> {
    let st = engine.state.read().expect("state lock");
    let name = &engine.repos[repo].name;
    earlier
        .iter()
        .filter_map(|(f, id)| {
            let r = st.pages.get(id)?;
            let folder = r.folder.clone().filter(|cur| cur != f && r.repo == *name && r.kind == NodeKind::Page)?;
            Some(Task::from_record(repo, id, r, folder, Reason::Moved))
        })
        .collect()
}

/// The root task of a repository: its configured database, or workspace discovery.
pub(crate) fn root_task(engine: &Engine, repo: RepoIx) -> Task {
    let info = &engine.repos[repo];
    let (id, kind) = match &info.root_db {
        Some(id) => (id.clone(), TaskKind::Database),
        None => (String::new(), TaskKind::Workspace),
    };
    Task {
        repo,
        rec: engine.record(&id),
        id,
        title: info.label.clone(),
        folder: String::new(),
        parent: None,
        kind,
        page: None,
        db: None,
        root: true,
        db_title: None,
        reason: Reason::Listing,
        check_first: false,
    }
}
