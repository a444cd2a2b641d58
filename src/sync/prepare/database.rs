//! One database: list its rows (every data source, past the 10,000-row cap), read its schema when the
//! database changed, ask Notion about recorded rows the listing no longer shows, and hand back its
//! rows as children. Its index (`README.md` at a repository root, `index.md` for a child database)
//! and `database.csv` are rendered at the end of the run, when every row's files and every link of
//! the run are known; `schema.json` is written here.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use serde_json::{json, Value};

use crate::ids;
use crate::notion::api::KeepRaw;
use crate::notion::model::Database;
use crate::notion::{NotionClient, NotionError};
use crate::sink::{Content, FileWrite};
use crate::state::NodeKind;

use super::super::engine::Engine;
use super::super::plan;
use super::super::vocab::{
    Absent, Child, Evidence, IndexSource, Listing, Outcome, Prepared, Reason, Task, TaskError, TaskKind,
};
use super::{missing_outcome, page_evidence};

/// Resolve a database to its data sources and list every row of each.
pub(crate) async fn list(notion: &NotionClient, database_id: &str, keep_raw: KeepRaw) -> Result<Listing, NotionError> {
    let db = notion.get_database(database_id).await?;
    list_rows(notion, db, keep_raw).await
}

/// Every live row of every data source of `db`. A database without an accessible data source is an
/// error (never "a database with no rows").
pub(crate) async fn list_rows(notion: &NotionClient, db: Database, keep_raw: KeepRaw) -> Result<Listing, NotionError> {
    if db.data_sources.is_empty() {
        return Err(NotionError::BadRequest {
            what: format!("database {}", ids::dashed(&db.id)),
            status: 200,
            code: "no_data_sources".into(),
            message: "Notion answered with no data source the integration can read; nothing was listed (share the database's source with the integration)".into(),
        });
    }
    let mut rows = Vec::new();
    let mut data_sources = Vec::new();
    let mut seen = HashSet::new();
    for ds in &db.data_sources {
        let mut found = notion.query_all_keeping(&ds.id, keep_raw.clone()).await?;
        data_sources.push((ds.clone(), found.len()));
        found.retain(|p| !p.is_trashed() && seen.insert(ids::normalize(&p.id)));
        // Moved, not copied: a listing of thousands of rows is held for the whole run.
        if rows.is_empty() {
            rows = found;
        } else {
            rows.append(&mut found);
        }
    }
    rows.shrink_to_fit();
    Ok(Listing { db, data_sources, rows })
}

pub(crate) async fn prepare(engine: &Arc<Engine>, task: &mut Task) -> Result<Prepared, TaskError> {
    let fetched_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let listed = match task.db.take() {
        Some(db) => list_rows(&engine.notion, *db, engine.keep_raw.clone()).await,
        None => list(&engine.notion, &task.id, engine.keep_raw.clone()).await,
    };
    let listing = match listed {
        Ok(l) => l,
        Err(e) if e.is_not_found() && !task.root => {
            return Ok(Prepared::empty(
                TaskKind::Database,
                task.title.clone(),
                missing_outcome(task.rec.as_ref(), engine),
            ))
        }
        Err(e) => return Err(e.into()),
    };
    if listing.db.in_trash || listing.db.archived {
        if task.root {
            return Err(TaskError::Other(format!(
                "the database {} is in Notion's trash: restore it in Notion, or remove its DB<n>_* settings; its backup is kept",
                ids::dashed(&task.id)
            )));
        }
        return Ok(Prepared::empty(TaskKind::Database, task.title.clone(), Outcome::Gone(Evidence::Trashed)));
    }
    let db = &listing.db;
    for (ds, _) in &listing.data_sources {
        engine.add_source(&ds.id, &task.id);
    }
    let title = db.title_text();
    let folder = task.folder.clone();
    let repo_name = engine.repos[task.repo].name.clone();

    // Recorded rows the listing no longer shows: Notion's word on each. A listing that is short or
    // empty is never evidence by itself; a row Notion says is still there stays a row.
    let listed: HashSet<String> = listing.rows.iter().map(|p| ids::normalize(&p.id)).collect();
    let mut absent = Vec::new();
    let mut trashed = Vec::new();
    let mut rows_all = listing.rows;
    for (id, rtitle) in recorded_rows(engine, &task.id, &repo_name) {
        if listed.contains(&id) {
            continue;
        }
        let (evidence, page) = page_evidence(engine, &id, Some(&task.id)).await?;
        match page {
            Some(p) if evidence == Evidence::Alive => rows_all.push(p),
            // A trashed row stays in the index until it really leaves the backup (the deletion
            // guard may keep it); it is not backed up again.
            Some(p) => {
                if let Some(f) = engine.record(&id).and_then(|r| r.folder) {
                    trashed.push((p, f));
                }
            }
            None => {}
        }
        absent.push(Absent { id, title: rtitle, evidence });
    }
    let listing = Listing { db: listing.db, data_sources: listing.data_sources, rows: rows_all };
    let db = &listing.db;

    // Rows: children in sub-folders.
    let titles: Vec<(String, String)> = listing.rows.iter().map(|p| (ids::normalize(&p.id), p.title())).collect();
    let folders = plan::child_folders(&folder, titles.iter().map(|(i, t)| (i.as_str(), t.as_str())));
    let db_title = title.clone();
    let mut children = Vec::new();
    for (p, (rid, rtitle)) in listing.rows.iter().zip(titles.iter()) {
        let rfolder = folders[rid].clone();
        engine.confirm_location(rid, task.repo, &rfolder, NodeKind::Page);
        engine.set_title(rid, rtitle);
        let rec = engine.record(rid);
        let need = plan::needs_backup(
            rec.as_ref(),
            &repo_name,
            &p.last_edited_time,
            &rfolder,
            Some(&task.id),
            engine.cfg.full_sync,
        );
        let t = need.map(|reason| Task {
            repo: task.repo,
            id: rid.clone(),
            title: rtitle.clone(),
            folder: rfolder.clone(),
            parent: Some(task.id.clone()),
            kind: TaskKind::Page,
            page: None,
            db: None,
            root: false,
            rec,
            db_title: Some(db_title.clone()),
            reason,
            check_first: false,
        });
        children.push(Child { id: rid.clone(), title: rtitle.clone(), kind: NodeKind::Page, folder: rfolder, task: t });
    }

    // The schema is read again only when the database changed (or on a full sync, or a repair).
    let schema_path = plan::join(&folder, "schema.json");
    let rec = task.rec.as_ref();
    let schema_current =
        rec.is_some_and(|r| r.last_edited_time == db.last_edited_time && r.files.contains_key(&schema_path));
    let mut writes = Vec::new();
    let mut keep = Vec::new();
    let property_order;
    if schema_current
        && !engine.cfg.full_sync
        && task.reason != Reason::Repair
        && !rec.is_some_and(|r| r.property_order.is_empty())
    {
        keep.push(schema_path);
        property_order = rec.map(|r| r.property_order.clone()).unwrap_or_default();
    } else {
        let mut sources = Vec::new();
        let mut order: Vec<String> = Vec::new();
        for (ds, _) in &listing.data_sources {
            let d = engine.notion.get_data_source(&ds.id).await?;
            for name in d.properties.keys() {
                if !order.contains(name) {
                    order.push(name.clone());
                }
            }
            sources.push(json!({"id": ds.id, "name": ds.name, "title": d.title_text(), "properties": Value::Object(d.properties)}));
        }
        property_order = order;
        let schema = json!({"database_id": db.id, "title": title, "data_sources": sources});
        let mut bytes = serde_json::to_vec_pretty(&schema).expect("schema serializes");
        bytes.push(b'\n');
        writes.push(FileWrite { path: schema_path, content: Content::Bytes(bytes) });
    }
    engine.set_property_order(&task.id, property_order.clone());
    let data_sources = listing.data_sources.iter().map(|(d, _)| ids::normalize(&d.id)).collect();
    let source_counts = listing.data_sources.iter().map(|(d, n)| (d.name.clone(), ids::dashed(&d.id), *n)).collect();
    let last_edited_time = db.last_edited_time.clone();

    // Rows to back up keep their page object, on disk until their turn (thousands of rows wait
    // for hours at Notion's rate limit); the listing itself is kept for the index.
    let Listing { db, mut rows, .. } = listing;
    for (child, p) in children.iter_mut().zip(rows.iter()) {
        if let Some(t) = child.task.as_mut() {
            t.page = Some(engine.hold(p.clone()));
        }
    }
    let mut row_folders: BTreeMap<String, String> = children.iter().map(|c| (c.id.clone(), c.folder.clone())).collect();
    for (p, f) in trashed {
        row_folders.insert(ids::normalize(&p.id), f);
        rows.push(p);
    }
    let shown = super::super::vocab::shown(&title).to_string();
    let mut prep = Prepared::empty(TaskKind::Database, title, Outcome::Backup);
    prep.message = format!("Backup database: {shown} ({})", engine.run_date);
    prep.last_edited_time = last_edited_time;
    prep.fetched_at = fetched_at;
    prep.writes = writes;
    prep.keep = keep;
    prep.children = children;
    prep.absent = absent;
    prep.data_sources = data_sources;
    prep.property_order = property_order;
    prep.source_counts = source_counts;
    prep.index = Some(Arc::new(IndexSource { db, rows: strip_raw(rows), folders: row_folders }));
    Ok(prep)
}

/// The rows of database `id` the state knows in this repository: its recorded children, and (for a
/// state from before child tracking) the rows recorded with it as parent.
fn recorded_rows(engine: &Engine, id: &str, repo: &str) -> Vec<(String, String)> {
    let st = engine.state.read().expect("state lock");
    let mut out: Vec<(String, String)> = Vec::new();
    if let Some(r) = st.pages.get(id) {
        for c in &r.children {
            if st.pages.get(&c.id).is_some_and(|cr| cr.parent.as_deref() == Some(id) && cr.repo == repo && !cr.orphan) {
                out.push((c.id.clone(), c.title.clone()));
            }
        }
    }
    for (k, r) in st.pages.iter() {
        if r.repo == repo
            && r.kind == NodeKind::Page
            && r.parent.as_deref() == Some(id)
            && !r.orphan
            && !out.iter().any(|(o, _)| o == k)
        {
            out.push((k.clone(), r.title.clone()));
        }
    }
    out
}

/// The index only needs the rows' properties: their raw JSON goes.
fn strip_raw(mut rows: Vec<crate::notion::model::Page>) -> Vec<crate::notion::model::Page> {
    for r in &mut rows {
        r.raw = None;
    }
    rows
}
