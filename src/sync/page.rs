//! One page through the pipeline: read it (when only its id is known), complete its properties,
//! fetch its block tree, find its child pages and databases, download its media, render
//! `index.md` and `page.json`, and hand back the files of its folder.

use std::collections::HashMap;

use futures::TryStreamExt;
use serde_json::Value;

use crate::markdown::{self, RenderContext};
use crate::media::{self, OwnerSource};
use crate::notion::model::{Block, BlockKind, Database, Page};
use crate::notion::tree::TreeOptions;
use crate::notion::{NotionClient, NotionError};
use crate::sink::{Content, FileWrite};
use crate::state::NodeKind;
use crate::{ids, paths};

use super::plan;
use super::repo::{Child, Prepared, RepoCtx, Task};
use crate::markdown::page_json as json;

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

pub(crate) async fn prepare(ctx: &RepoCtx<'_>, task: &Task, page: Option<Page>) -> Result<Prepared, String> {
    let (id, folder) = (task.id.as_str(), task.folder.as_str());
    let engine = ctx.engine;
    let fetched_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut page = match page {
        // A listed page without its raw JSON (dropped to save memory) is read again for page.json.
        Some(p) if !p.properties.is_empty() && p.raw.is_some() => p,
        _ => engine.notion.get_page(id).await.map_err(|e| e.to_string())?,
    };
    let title = page.title();
    if page.is_trashed() {
        return Ok(Prepared::gone(NodeKind::Page, title));
    }
    engine.notion.complete_truncated_properties(&mut page).await.map_err(|e| e.to_string())?;
    let tree = engine.notion.fetch_tree(&page.id, TreeOptions::default()).await.map_err(|e| e.to_string())?;
    let mut warnings = tree.warnings;

    // Child pages and databases: folders inside this page's folder.
    let mut found = Vec::new();
    find_children(&tree.blocks, &mut found);
    let mut children = Vec::new();
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
                // A linked view (its data lives in another database) or a database the
                // integration cannot see: recorded as a link to its source, never a failed page.
                let link = linked_source(ctx, &cid).await;
                warnings.push(format!(
                    "database {ctitle:?} ({}) is a linked view or not shared: kept as a link to {}",
                    ids::dashed(&cid),
                    if link.is_some() { "its source" } else { "Notion" }
                ));
                ctx.set_link(&cid, link.unwrap_or_else(|| markdown::inline::notion_url(&cid)));
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    let folders = plan::child_folders(folder, real.iter().map(|(i, t, _)| (i.as_str(), t.as_str())));
    for (cid, ctitle, db) in real {
        let cfolder = folders[&cid].clone();
        ctx.move_links(&cid, &cfolder);
        ctx.set_link(&cid, format!("{cfolder}/index.md"));
        ctx.engine.set_title(&cid, &ctitle);
        let kind = if db.is_some() { NodeKind::Database } else { NodeKind::Page };
        children.push(Child {
            id: cid,
            title: ctitle,
            kind,
            folder: cfolder,
            page: None,
            db: db.map(Box::new),
            listing: None,
            needs: false,
        });
    }

    // Media.
    let items = media::collect(&page, &tree.blocks);
    let remembered = task.rec.as_ref().map(|r| r.media_names.clone()).unwrap_or_default();
    let page_media = match &engine.downloader {
        Some(d) => {
            let staging = engine.staging.path().join(ids::normalize(id));
            let _ = std::fs::remove_dir_all(&staging);
            std::fs::create_dir_all(&staging).map_err(|e| format!("cannot create a staging folder: {e}"))?;
            d.download_page(&items, &NotionOwners(engine.notion.clone()), &remembered, &Default::default(), &staging)
                .await
                .map_err(|e| e.to_string())?
        }
        None => {
            if !items.is_empty() {
                tracing::info!(page = %title, "would download {} file(s)", items.len());
            }
            media::PageMedia::default()
        }
    };
    warnings.extend(page_media.warnings.iter().cloned());

    // Comments (opt-in: one request per block).
    let comments = if engine.cfg.backup_comments {
        Some(fetch_comments(&engine.notion, &page.id, &tree.blocks).await?)
    } else {
        None
    };

    let users = engine.users().await;
    let prefix = plan::prefix_to_root(folder);
    let mut index_md = {
        let links = ctx.links.read().expect("links lock");
        let titles = engine.titles.read().expect("titles lock");
        let rctx = RenderContext {
            database_title: task.db_title.as_deref(),
            media: Some(&page_media.map),
            links: Some(&links),
            link_prefix: &prefix,
            users: Some(users),
            titles: Some(&titles),
            unresolved: None,
            property_order: None,
            front_matter: engine.cfg.front_matter,
        };
        markdown::render_page(&page, &tree.blocks, &rctx)
    };
    if let Some(c) = &comments {
        index_md.push_str(&markdown::comments::render_comments(c, users));
    }

    // page.json: signed URLs replaced by the local files.
    let mut local: HashMap<String, String> = HashMap::new();
    for item in &items {
        if let (Some(url), Some(f)) = (item.file.url(), page_media.map.get(&item.key)) {
            local.insert(url.to_string(), f.path.clone());
        }
    }
    let page_json = json::page_json(&page, &tree.blocks, &local, comments.as_deref(), &Default::default());

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
    let shown = if title.trim().is_empty() { "Untitled" } else { title.as_str() };
    Ok(Prepared {
        kind: NodeKind::Page,
        message: format!("Backup: {shown} ({})", engine.run_date),
        title: title.clone(),
        last_edited_time: page.last_edited_time.clone(),
        fetched_at,
        writes,
        keep: Vec::new(),
        children,
        data_sources: Vec::new(),
        media_names: page_media.names,
        warnings,
        bytes_downloaded: page_media.bytes_downloaded,
        gone: false,
    })
}

/// Where a linked database view's data lives: the backup of its source database when there is
/// one (this repository: a path from the root; another: its link), else the source on Notion.
/// `None` when the views API does not say.
async fn linked_source(ctx: &RepoCtx<'_>, view_db: &str) -> Option<String> {
    let views: Vec<Value> = ctx.engine.notion.views(view_db).try_collect().await.ok()?;
    let ds = views.iter().find_map(|v| v.get("data_source_id").and_then(Value::as_str)).map(ids::normalize)?;
    let recorded = {
        let st = ctx.state.read().expect("state lock");
        st.pages
            .iter()
            .find(|(_, r)| r.kind == NodeKind::Database && r.data_sources.contains(&ds) && !r.orphan)
            .map(|(id, r)| (id.clone(), r.repo.clone(), r.folder.clone().unwrap_or_default()))
    };
    if let Some((id, repo, folder)) = recorded {
        if repo == ctx.repo {
            return Some(if folder.is_empty() { "README.md".to_string() } else { format!("{folder}/index.md") });
        }
        if let Some(l) = ctx.links.read().expect("links lock").get(&id) {
            return Some(l.clone());
        }
        return Some(markdown::inline::notion_url(&id));
    }
    let source = ctx.engine.notion.get_data_source(&ds).await.ok()?;
    match source.parent {
        Some(crate::notion::model::Parent::Database { database_id }) => {
            Some(markdown::inline::notion_url(&database_id))
        }
        _ => Some(markdown::inline::notion_url(&ds)),
    }
}

async fn fetch_comments(notion: &NotionClient, page_id: &str, blocks: &[Block]) -> Result<Vec<Value>, String> {
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
                return Err("comments cannot be read: give the integration the \"Read comments\" capability, or set BACKUP_COMMENTS=0".into())
            }
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(all)
}
