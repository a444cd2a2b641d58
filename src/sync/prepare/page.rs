//! One page: read it (when only its id is known), complete its truncated properties, fetch its block
//! tree, find its child pages and databases (and what Notion says of recorded children it no longer
//! shows), download its media, render `index.md` and `page.json`. Reads Notion and the state; writes
//! nothing but staged files.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use futures::TryStreamExt;
use serde_json::Value;

use crate::markdown::{self, page_json, LinkTargets as _, RenderContext};
use crate::media::{self, OwnerSource};
use crate::notion::model::{Block, BlockKind, Database, Page};
use crate::notion::tree::TreeOptions;
use crate::notion::{NotionClient, NotionError};
use crate::sink::{Content, FileWrite};
use crate::state::NodeKind;
use crate::{ids, paths};

use super::super::engine::Engine;
use super::super::plan;
use super::super::vocab::{Absent, Child, Evidence, Outcome, Prepared, Reason, Rerender, Task, TaskError, TaskKind};
use super::{evidence_for_database, evidence_for_page, missing_outcome};

/// Re-reads blocks and pages for fresh signed file URLs.
pub(crate) struct NotionOwners(pub NotionClient);

#[async_trait::async_trait]
impl OwnerSource for NotionOwners {
    async fn block(&self, id: &str) -> Result<Block, String> {
        self.0.get_block(id).await.map_err(|e| e.to_string())
    }
    async fn page(&self, id: &str) -> Result<Page, String> {
        self.0.get_page(id).await.map_err(|e| e.to_string())
    }
}

/// Child pages and databases in a block tree, in document order (not inside synced-block
/// references: those belong to the page holding the original).
fn find_children(blocks: &[Block], out: &mut Vec<(String, String, bool)>) {
    for b in blocks {
        match &b.kind {
            BlockKind::ChildPage { title } => out.push((ids::normalize(&b.id), title.clone(), false)),
            BlockKind::ChildDatabase { title } => out.push((ids::normalize(&b.id), title.clone(), true)),
            BlockKind::SyncedBlock { synced_from: Some(_) } => {}
            _ => find_children(&b.children, out),
        }
    }
}

pub(crate) async fn prepare(engine: &Arc<Engine>, task: &mut Task) -> Result<Prepared, TaskError> {
    let fetched_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let held = task.page.take().and_then(|h| h.take());
    let mut page = match held {
        // A listed page without its raw JSON (dropped to save memory) is read again for page.json.
        Some(p) if !p.properties.is_empty() && p.raw.is_some() && !task.check_first => p,
        _ => match engine.notion.get_page(&task.id).await {
            Ok(p) => p,
            Err(e) if e.is_not_found() => {
                return Ok(Prepared::empty(
                    TaskKind::Page,
                    task.title.clone(),
                    missing_outcome(task.rec.as_ref(), engine),
                ))
            }
            Err(e) => return Err(e.into()),
        },
    };
    let title = page.title();
    if page.is_trashed() {
        return Ok(Prepared::empty(TaskKind::Page, title, Outcome::Gone(Evidence::Trashed)));
    }
    if task.check_first {
        // VERIFY_DAYS or a search hit: back it up only when Notion shows a change.
        let rec = task.rec.as_ref();
        let parent = task.parent.as_deref();
        let repo = &engine.repos[task.repo].name;
        let need = plan::needs_backup(rec, repo, &page.last_edited_time, &task.folder, parent, engine.cfg.full_sync);
        if need.is_none() && !engine.cfg.full_sync {
            let mut p = Prepared::empty(TaskKind::Page, title, Outcome::Verified);
            p.last_edited_time = page.last_edited_time.clone();
            p.fetched_at = fetched_at;
            return Ok(p);
        }
        // A re-check that found an edit keeps its reason: the summary counts it as re-checked.
        if let Some(r) = need.filter(|_| task.reason != Reason::Verify) {
            task.reason = r;
        }
    }
    let complete = engine.notion.complete_truncated_properties(&mut page).await?;
    let tree = engine.notion.fetch_tree(&page.id, TreeOptions::default()).await?;
    let mut warnings = tree.warnings;
    let mut failures = Vec::new();

    // Child pages and databases: folders inside this page's folder.
    let mut found = Vec::new();
    find_children(&tree.blocks, &mut found);
    let mut real: Vec<(String, String, Option<Database>)> = Vec::new();
    for (cid, ctitle, is_db) in found {
        if real.iter().any(|(i, _, _)| *i == cid) {
            continue;
        }
        if !is_db {
            real.push((cid, ctitle, None));
            continue;
        }
        match engine.notion.get_database(&cid).await {
            Ok(db) if !db.data_sources.is_empty() => {
                let t = if db.title_text().trim().is_empty() { ctitle } else { db.title_text() };
                real.push((cid, t, Some(db)));
            }
            Ok(_) | Err(NotionError::LinkedDatabase { .. }) | Err(NotionError::NotFound { .. }) => {
                let recorded = engine.record(&cid).filter(|r| {
                    r.kind == NodeKind::Database && !r.data_sources.is_empty() && r.parent.as_deref() == Some(&task.id)
                });
                if let Some(r) = recorded {
                    // A database backed up before that cannot be read now: its backup stays as it
                    // is (never deleted on one bad answer), and the database is reported.
                    let reason = format!(
                        "inline database {:?} ({}) could not be read this time (not found, not shared, or without an accessible data source): its last backup is kept; it is retried next run",
                        r.title,
                        ids::dashed(&cid)
                    );
                    failures.push((r.title.clone(), reason));
                    real.push((cid, r.title.clone(), None));
                    continue;
                }
                // A linked view (its data lives in another database) or a database the integration
                // cannot see: a link to its source, never a failed page.
                let link = linked_source(engine, task, &cid).await;
                warnings.push(format!(
                    "database {ctitle:?} ({}) is a linked view or not shared: kept as a link to {}",
                    ids::dashed(&cid),
                    if link.is_some() { "its source" } else { "Notion" }
                ));
                engine.set_link(task.repo, &cid, &link.unwrap_or_else(|| markdown::inline::notion_url(&cid)));
            }
            Err(e) => return Err(e.into()),
        }
    }
    let folders = plan::child_folders(&task.folder, real.iter().map(|(i, t, _)| (i.as_str(), t.as_str())));
    let repo_name = engine.repos[task.repo].name.clone();
    let mut children = Vec::new();
    for (cid, ctitle, db) in real {
        let cfolder = folders[&cid].clone();
        let unreadable_db = db.is_none() && failures.iter().any(|(t, _)| *t == ctitle);
        let kind = if db.is_some() || unreadable_db { NodeKind::Database } else { NodeKind::Page };
        engine.confirm_location(&cid, task.repo, &cfolder, kind);
        engine.set_title(&cid, &ctitle);
        let crec = engine.record(&cid);
        let need = if unreadable_db {
            None
        } else {
            let edited = crec.as_ref().map(|r| r.last_edited_time.clone()).unwrap_or_default();
            plan::needs_backup(crec.as_ref(), &repo_name, &edited, &cfolder, Some(&task.id), engine.cfg.full_sync)
        };
        let t = need.map(|reason| Task {
            repo: task.repo,
            id: cid.clone(),
            title: ctitle.clone(),
            folder: cfolder.clone(),
            parent: Some(task.id.clone()),
            kind: kind.into(),
            page: None,
            db: db.map(Box::new),
            root: false,
            rec: crec,
            db_title: None,
            reason,
            check_first: false,
        });
        children.push(Child { id: cid, title: ctitle, kind, folder: cfolder, task: t });
    }

    // Recorded children this page no longer shows: ask Notion about each (an empty or short
    // block listing is never evidence by itself).
    let mut absent = Vec::new();
    if let Some(rec) = &task.rec {
        for c in rec.children.iter().filter(|c| !children.iter().any(|n| n.id == c.id)) {
            let still_here = engine.record(&c.id).is_some_and(|r| r.parent.as_deref() == Some(task.id.as_str()));
            if !still_here {
                continue;
            }
            let evidence = match c.kind {
                NodeKind::Page => evidence_for_page(engine, &c.id, Some(&task.id)).await?,
                NodeKind::Database => evidence_for_database(engine, &c.id, &task.id).await?,
            };
            absent.push(Absent { id: c.id.clone(), title: c.title.clone(), evidence });
        }
    }

    // Media.
    let items = media::collect(&page, &tree.blocks);
    let remembered = task.rec.as_ref().map(|r| r.media_names.clone()).unwrap_or_default();
    let previous = task.rec.as_ref().map(|r| r.media_keys.clone()).unwrap_or_default();
    let page_media = match &engine.downloader {
        Some(d) => {
            let staging = engine.staging.path().join(ids::normalize(&task.id));
            let _ = std::fs::remove_dir_all(&staging);
            std::fs::create_dir_all(&staging)
                .map_err(|e| TaskError::Other(format!("cannot create a staging folder: {e}")))?;
            d.download_page(&items, &NotionOwners(engine.notion.clone()), &remembered, &previous, &staging)
                .await
                .map_err(|e| TaskError::Media(e.to_string()))?
        }
        None => media::PageMedia::default(),
    };
    warnings.extend(page_media.warnings.iter().cloned());

    // Comments (opt-in: one request per block).
    let comments = if engine.cfg.backup_comments {
        Some(fetch_comments(&engine.notion, &page.id, &tree.blocks).await?)
    } else {
        None
    };

    let db_title = task.db_title.clone().or_else(|| task.rec.as_ref().and_then(|r| r.database_title.clone()));
    let media_list: Vec<(markdown::MediaKey, markdown::LocalFile)> =
        page_media.map.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let order = task.parent.as_deref().and_then(|p| engine.property_order(p)).unwrap_or_default();
    let rerender = Rerender { page, blocks: tree.blocks, media: media_list, db_title, comments, property_order: order };
    let (index_md, linked) = render(engine, task.repo, &task.folder, &rerender).await;
    let unresolved: BTreeSet<String> = linked.iter().filter(|(_, l)| l.is_none()).map(|(id, _)| id.clone()).collect();

    // page.json: signed URLs replaced by the local files.
    let mut local: HashMap<String, String> = HashMap::new();
    for item in &items {
        if let (Some(url), Some(f)) = (item.file.url(), page_media.map.get(&item.key)) {
            local.insert(url.to_string(), f.path.clone());
        }
    }
    let page_json =
        page_json::page_json(&rerender.page, &rerender.blocks, &local, rerender.comments.as_deref(), &complete);

    let folder = task.folder.as_str();
    let mut writes = vec![
        FileWrite { path: plan::join(folder, "index.md"), content: Content::Bytes(index_md.into_bytes()) },
        FileWrite { path: plan::join(folder, "page.json"), content: Content::Bytes(page_json) },
    ];
    for f in &page_media.files {
        if paths::is_safe_relative(&f.rel_path) {
            writes
                .push(FileWrite { path: plan::join(folder, &f.rel_path), content: Content::File(f.disk_path.clone()) });
        }
    }
    let kept: Vec<String> = page_media.kept.iter().map(|p| plan::join(folder, p)).collect();
    let shown = super::super::vocab::shown(&title).to_string();
    let last_edited_time = rerender.page.last_edited_time.clone();
    let mut prep = Prepared::empty(TaskKind::Page, title, Outcome::Backup);
    prep.message = format!("Backup: {shown} ({})", engine.run_date);
    prep.last_edited_time = last_edited_time;
    prep.fetched_at = fetched_at;
    prep.writes = writes;
    prep.children = children;
    prep.absent = absent;
    prep.media_names = page_media.names;
    prep.media_keys = page_media.keys;
    prep.kept_files = kept.len();
    prep.keep = kept;
    prep.warnings = warnings;
    prep.failures = failures;
    prep.bytes_downloaded = page_media.bytes_downloaded;
    prep.unresolved = unresolved;
    let all_final = linked.keys().all(|id| engine.location(id).is_some_and(|l| l.confirmed));
    if !all_final {
        prep.rerender = Some(Box::new(rerender));
    }
    prep.linked = linked;
    Ok(prep)
}

/// Render `index.md` of a page with the run's current links. Returns the text and every id it
/// linked to with the link used (`None`: unresolved).
pub(crate) async fn render(
    engine: &Engine,
    repo: usize,
    folder: &str,
    r: &Rerender,
) -> (String, BTreeMap<String, Option<String>>) {
    let users = engine.users().await;
    let prefix = plan::prefix_to_root(folder);
    let media: HashMap<markdown::MediaKey, markdown::LocalFile> = r.media.iter().cloned().collect();
    let linked = RefCell::new(BTreeMap::new());
    let mut text = {
        let links = engine.links(repo);
        let titles = engine.titles.read().expect("titles lock");
        let rctx = RenderContext {
            database_title: r.db_title.as_deref(),
            media: Some(&media),
            links: Some(&links),
            link_prefix: &prefix,
            users: Some(users),
            titles: Some(&titles),
            unresolved: None,
            linked: Some(&linked),
            property_order: (!r.property_order.is_empty()).then_some(r.property_order.as_slice()),
            front_matter: engine.cfg.front_matter,
        };
        markdown::render_page(&r.page, &r.blocks, &rctx)
    };
    if let Some(c) = &r.comments {
        text.push_str(&markdown::comments::render_comments(c, users));
    }
    (text, linked.into_inner())
}

/// Where a linked database view's data lives: the backup of its source database when there is one
/// (a link from this repository), else the source on Notion. `None` when the views API does not say.
async fn linked_source(engine: &Engine, task: &Task, view_db: &str) -> Option<String> {
    let views: Vec<Value> = engine.notion.views(view_db).try_collect().await.ok()?;
    let ds = views.iter().find_map(|v| v.get("data_source_id").and_then(Value::as_str)).map(ids::normalize)?;
    if let Some(db) = engine.databases_by_source().get(&ds) {
        if let Some(link) = engine.links(task.repo).target(db) {
            return Some(link);
        }
    }
    let source = engine.notion.get_data_source(&ds).await.ok()?;
    match source.parent {
        Some(crate::notion::model::Parent::Database { database_id }) => {
            Some(markdown::inline::notion_url(&database_id))
        }
        _ => Some(markdown::inline::notion_url(&ds)),
    }
}

async fn fetch_comments(notion: &NotionClient, page_id: &str, blocks: &[Block]) -> Result<Vec<Value>, TaskError> {
    let mut ids = vec![page_id.to_string()];
    fn walk(bs: &[Block], out: &mut Vec<String>) {
        for b in bs {
            out.push(b.id.clone());
            walk(&b.children, out);
        }
    }
    walk(blocks, &mut ids);
    let mut all = Vec::new();
    for id in ids {
        match notion.comments(&id).try_collect::<Vec<Value>>().await {
            Ok(c) => all.extend(c),
            Err(NotionError::Forbidden { .. }) => {
                return Err(TaskError::Other("comments cannot be read: give the integration the \"Read comments\" capability, or set BACKUP_COMMENTS=0".into()))
            }
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(all)
}
