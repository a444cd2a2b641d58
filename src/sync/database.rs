//! One database through the pipeline: list its rows (every data source, past the 10,000-row
//! cap), fetch its schema when the database changed, and write its folder's generated files:
//! the index (`README.md` at a repository root, `index.md` for a child database),
//! `database.csv` and `schema.json`. Its rows become its children.

use std::collections::HashSet;

use serde_json::{json, Value};

use crate::ids;
use crate::markdown::RenderContext;
use crate::notion::api::KeepRaw;
use crate::notion::model::{DataSourceRef, Database, Page};
use crate::notion::{NotionClient, NotionError};
use crate::sink::{Content, FileWrite};
use crate::state::NodeKind;

use super::plan;
use super::repo::{Child, Prepared, RepoCtx, Task};
use crate::markdown::database::{self as index, Row};

/// A database and its live rows.
#[derive(Debug, Clone)]
pub(crate) struct Listing {
    pub db: Database,
    pub data_sources: Vec<(DataSourceRef, usize)>,
    /// Rows not in the trash, in creation order.
    pub rows: Vec<Page>,
}

/// Resolve a database to its data sources and list every row of each.
pub(crate) async fn list(notion: &NotionClient, database_id: &str, keep_raw: KeepRaw) -> Result<Listing, NotionError> {
    let db = notion.get_database(database_id).await?;
    list_rows(notion, db, keep_raw).await
}

/// Every live row of every data source of `db`.
pub(crate) async fn list_rows(notion: &NotionClient, db: Database, keep_raw: KeepRaw) -> Result<Listing, NotionError> {
    let mut rows: Vec<Page> = Vec::new();
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

pub(crate) async fn prepare(
    ctx: &RepoCtx<'_>,
    task: &Task,
    listing: Option<Listing>,
    root: bool,
) -> Result<Prepared, String> {
    let engine = ctx.engine;
    let fetched_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let listing = match listing {
        Some(l) => l,
        None => match list(&engine.notion, &task.id, engine.keep_raw.clone()).await {
            Ok(l) => l,
            Err(NotionError::LinkedDatabase { .. }) => {
                return Ok(Prepared::gone(NodeKind::Database, task.title.clone()))
            }
            Err(e) => return Err(e.to_string()),
        },
    };
    let db = &listing.db;
    let title = db.title_text();
    let folder = task.folder.as_str();

    // Rows: children in sub-folders.
    let titles: Vec<(String, String)> = listing.rows.iter().map(|p| (ids::normalize(&p.id), p.title())).collect();
    let folders = plan::child_folders(folder, titles.iter().map(|(i, t)| (i.as_str(), t.as_str())));
    let mut children = Vec::new();
    for (p, (rid, rtitle)) in listing.rows.iter().zip(titles.iter()) {
        let rfolder = folders[rid].clone();
        ctx.set_link(rid, format!("{rfolder}/index.md"));
        engine.set_title(rid, rtitle);
        let needs = {
            let st = ctx.state.read().expect("state lock");
            let rec = st.pages.get(rid);
            plan::needs_backup(rec, &ctx.repo, &p.last_edited_time, &rfolder, engine.cfg.full_sync).is_some()
                || rec.is_some_and(|r| r.parent.as_deref() != Some(task.id.as_str()))
        };
        children.push(Child {
            id: rid.clone(),
            title: rtitle.clone(),
            kind: NodeKind::Page,
            folder: rfolder,
            // Set below, once the generated files no longer need the rows.
            page: None,
            db: None,
            listing: None,
            needs,
        });
    }

    // Generated files.
    let rows: Vec<Row> = listing
        .rows
        .iter()
        .zip(titles.iter())
        .map(|(p, (rid, t))| Row {
            page: p,
            title: t,
            rel_folder: folders[rid].strip_prefix(&format!("{folder}/")).unwrap_or(&folders[rid]).to_string(),
            media: None,
        })
        .collect();
    let index_name = if root { "README.md" } else { "index.md" };
    let label = if root { ctx.label.as_str() } else { title.as_str() };
    let users = engine.users_for_index().await;
    let (index_text, csv) = {
        let links = ctx.links.read().expect("links lock");
        let t = engine.titles.read().expect("titles lock");
        let prefix = plan::prefix_to_root(folder);
        let rctx = RenderContext {
            links: Some(&links),
            link_prefix: &prefix,
            users: Some(users),
            titles: Some(&t),
            ..Default::default()
        };
        (
            index::render_index(&index::DatabaseMeta::new(db, &title), label, &rows, &rctx),
            index::render_csv(&rows, &rctx),
        )
    };
    let mut writes = vec![
        FileWrite { path: plan::join(folder, index_name), content: Content::Bytes(index_text.into_bytes()) },
        FileWrite { path: plan::join(folder, "database.csv"), content: Content::Bytes(csv.into_bytes()) },
    ];
    // The schema is read again only when the database changed (or on a full sync).
    let schema_path = plan::join(folder, "schema.json");
    let rec = task.rec.as_ref();
    let schema_current =
        rec.is_some_and(|r| r.last_edited_time == db.last_edited_time && r.files.contains_key(&schema_path));
    let mut keep = Vec::new();
    if schema_current && !engine.cfg.full_sync {
        keep.push(schema_path);
    } else {
        let mut sources = Vec::new();
        for (ds, _) in &listing.data_sources {
            let d = engine.notion.get_data_source(&ds.id).await.map_err(|e| e.to_string())?;
            sources.push(json!({"id": ds.id, "name": ds.name, "title": d.title_text(), "properties": Value::Object(d.properties.into_iter().collect())}));
        }
        let schema = json!({"database_id": db.id, "title": title, "data_sources": sources});
        let mut bytes = serde_json::to_vec_pretty(&schema).expect("schema serializes");
        bytes.push(b'\n');
        writes.push(FileWrite { path: schema_path, content: Content::Bytes(bytes) });
    }
    let data_sources = listing.data_sources.iter().map(|(d, _)| ids::normalize(&d.id)).collect();
    let last_edited_time = db.last_edited_time.clone();
    // Rows to back up keep their page object, on disk until their turn (memory: thousands of
    // rows wait for hours at Notion's rate limit); the others are dropped here.
    for (child, p) in children.iter_mut().zip(listing.rows) {
        if child.needs {
            child.page = Some(engine.hold(p));
        }
    }
    let message = if root {
        format!("Update index ({})", engine.run_date)
    } else {
        format!("Backup database: {} ({})", if title.trim().is_empty() { "Untitled" } else { &title }, engine.run_date)
    };
    Ok(Prepared {
        kind: NodeKind::Database,
        message,
        title,
        last_edited_time,
        fetched_at,
        writes,
        keep,
        children,
        data_sources,
        media_names: Default::default(),
        warnings: Vec::new(),
        bytes_downloaded: 0,
        gone: false,
    })
}
