//! Workspace discovery (WORKSPACE_REPO): every page and database the token can see whose parent it
//! cannot see (or the workspace itself) is a root folder of the workspace repository, unless a
//! configured database covers it. Search is neither immediate nor exhaustive, so a recorded root the
//! search does not return is asked about directly: only Notion's word on that root removes it.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use futures::TryStreamExt;
use serde_json::{json, Value};

use crate::ids;
use crate::notion::model::{Page, Parent};
use crate::state::NodeKind;

use super::super::engine::Engine;
use super::super::plan;
use super::super::vocab::{Absent, Child, Evidence, Outcome, Prepared, Task, TaskError, TaskKind};
use super::{evidence_for_database, evidence_for_page};

pub(crate) async fn prepare(
    engine: &Arc<Engine>,
    task: &mut Task,
    covered: &HashSet<String>,
) -> Result<Prepared, TaskError> {
    let all: Vec<Value> = engine.notion.search(json!({})).try_collect().await?;
    let mut pages: HashMap<String, Page> = HashMap::new();
    let mut sources: Vec<Value> = Vec::new();
    for v in all {
        match v.get("object").and_then(Value::as_str) {
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
    let db_of = |s: &Value| {
        s.pointer("/parent/database_id").or_else(|| s.get("id")).and_then(Value::as_str).map(ids::normalize)
    };
    let visible_dbs: HashSet<String> = sources.iter().filter_map(db_of).collect();
    let parent_visible = |parent: Option<&str>| {
        parent.is_some_and(|p| pages.contains_key(p) || visible_dbs.contains(p) || covered.contains(p))
    };
    let mut roots: Vec<(String, String, Option<Page>)> = Vec::new();
    for (id, p) in &pages {
        if covered.contains(id) {
            continue;
        }
        if !parent_visible(page_parent(p).as_deref()) {
            roots.push((id.clone(), p.title(), Some(p.clone())));
        }
    }
    let mut seen_dbs = HashSet::new();
    for s in &sources {
        let Some(db_id) = db_of(s) else { continue };
        if covered.contains(&db_id) || !seen_dbs.insert(db_id.clone()) {
            continue;
        }
        let dparent = s
            .pointer("/database_parent/page_id")
            .or_else(|| s.pointer("/database_parent/block_id"))
            .and_then(Value::as_str)
            .map(ids::normalize);
        if !parent_visible(dparent.as_deref()) {
            let title: String = s
                .get("title")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(|r| r.get("plain_text").and_then(Value::as_str)).collect())
                .unwrap_or_default();
            roots.push((db_id, title, None));
        }
    }

    // Recorded roots the search did not return: still roots unless Notion says otherwise.
    let repo_name = engine.repos[task.repo].name.clone();
    let recorded: Vec<(String, String, NodeKind)> = {
        let st = engine.state.read().expect("state lock");
        st.pages
            .iter()
            .filter(|(_, r)| r.repo == repo_name && r.parent.is_none() && !r.orphan)
            .map(|(id, r)| (id.clone(), r.title.clone(), r.kind))
            .collect()
    };
    let mut absent = Vec::new();
    for (id, title, kind) in recorded {
        if roots.iter().any(|(r, _, _)| *r == id) {
            continue;
        }
        let evidence = match kind {
            NodeKind::Page => evidence_for_page(engine, &id, None).await?,
            NodeKind::Database => evidence_for_database(engine, &id, "").await?,
        };
        match evidence {
            Evidence::Alive => roots.push((id, title, None)),
            evidence => absent.push(Absent { id, title, evidence }),
        }
    }
    roots.sort_by(|a, b| a.0.cmp(&b.0));
    let folders = plan::child_folders("", roots.iter().map(|(i, t, _)| (i.as_str(), t.as_str())));
    let mut children = Vec::new();
    for (id, title, page) in roots {
        let folder = folders[&id].clone();
        let rec = engine.record(&id);
        let kind = match (&page, &rec) {
            (Some(_), _) => NodeKind::Page,
            (None, Some(r)) => r.kind,
            (None, None) => NodeKind::Database,
        };
        engine.confirm_location(&id, task.repo, &folder, kind);
        engine.set_title(&id, &title);
        let need = match (&page, kind) {
            (Some(p), _) => {
                plan::needs_backup(rec.as_ref(), &repo_name, &p.last_edited_time, &folder, None, engine.cfg.full_sync)
            }
            // A database is listed on every run; a recorded page the search missed is re-checked.
            (None, NodeKind::Database) => Some(super::super::vocab::Reason::Listing),
            (None, NodeKind::Page) => Some(super::super::vocab::Reason::Verify),
        };
        let check_first = page.is_none() && kind == NodeKind::Page;
        let t = need.map(|reason| Task {
            repo: task.repo,
            id: id.clone(),
            title: title.clone(),
            folder: folder.clone(),
            parent: None,
            kind: kind.into(),
            page: page.map(|p| engine.hold(p)),
            db: None,
            root: false,
            rec,
            db_title: None,
            reason,
            check_first,
        });
        children.push(Child { id, title, kind, folder, task: t });
    }
    let mut prep = Prepared::empty(TaskKind::Workspace, engine.repos[task.repo].label.clone(), Outcome::Backup);
    prep.children = children;
    prep.absent = absent;
    Ok(prep)
}

/// The page's parent as a canonical id (a row's database, not its data source).
pub(crate) fn page_parent(p: &Page) -> Option<String> {
    match &p.parent {
        Some(Parent::Page { page_id }) => Some(ids::normalize(page_id)),
        Some(Parent::Block { block_id }) => Some(ids::normalize(block_id)),
        Some(Parent::DataSource { database_id, data_source_id }) => {
            Some(database_id.as_deref().map(ids::normalize).unwrap_or_else(|| ids::normalize(data_source_id)))
        }
        Some(Parent::Database { database_id }) => Some(ids::normalize(database_id)),
        _ => None,
    }
}
