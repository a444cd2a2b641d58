//! One page through the pipeline: complete its properties, fetch its block tree, download its
//! media, render `index.md`, and build the change set that replaces its folder.

use std::collections::{BTreeMap, HashMap};

use crate::config::DatabaseConfig;
use crate::markdown::{self, RenderContext};
use crate::media::{self, OwnerSource};
use crate::notion::model::{Block, Page};
use crate::notion::tree::TreeOptions;
use crate::notion::NotionClient;
use crate::sink::{ChangeSet, Content, FileWrite};
use crate::state::PageRecord;

use super::{Engine, Listed};

pub(crate) struct Prepared {
    pub change: ChangeSet,
    pub fetched_at: String,
    pub media_names: BTreeMap<String, String>,
    pub warnings: Vec<String>,
    pub bytes_downloaded: u64,
}

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

pub(crate) async fn prepare(
    engine: &Engine<'_>,
    db: &DatabaseConfig,
    db_title: &str,
    links: &HashMap<String, String>,
    listed: Listed,
    rec: Option<&PageRecord>,
) -> Result<Prepared, String> {
    let fetched_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut page = listed.page;
    engine.notion.complete_truncated_properties(&mut page).await.map_err(|e| e.to_string())?;
    let tree = engine.notion.fetch_tree(&page.id, TreeOptions::default()).await.map_err(|e| e.to_string())?;
    let mut warnings = tree.warnings;
    let items = media::collect(&page, &tree.blocks);

    let remembered = rec.map(|r| r.media_names.clone()).unwrap_or_default();
    let page_media = match &engine.downloader {
        Some(d) => {
            let staging = engine.staging.path().join(&listed.id);
            std::fs::create_dir_all(&staging).map_err(|e| format!("cannot create staging folder: {e}"))?;
            d.download_page(&items, &NotionOwners(engine.notion.clone()), &remembered, &staging)
                .await
                .map_err(|e| e.to_string())?
        }
        None => {
            if !items.is_empty() {
                tracing::info!(page = %listed.title, "would download {} file(s)", items.len());
            }
            media::PageMedia::default()
        }
    };
    warnings.extend(page_media.warnings.iter().cloned());

    let ctx = RenderContext {
        database_title: Some(db_title),
        media: Some(&page_media.map),
        links: Some(links),
        users: Some(&engine.users),
        titles: Some(&engine.titles),
    };
    let index_md = markdown::render_page(&page, &tree.blocks, &ctx);

    let folder = &listed.folder;
    let mut writes =
        vec![FileWrite { path: format!("{folder}/index.md"), content: Content::Bytes(index_md.into_bytes()) }];
    for f in &page_media.files {
        writes
            .push(FileWrite { path: format!("{folder}/{}", f.rel_path), content: Content::File(f.disk_path.clone()) });
    }
    let mut replace_dirs = vec![folder.clone()];
    if let Some(old) = rec.and_then(|r| r.folder.clone()).filter(|f| f != folder) {
        replace_dirs.push(old);
    }
    let title = if listed.title.trim().is_empty() { "Untitled".to_string() } else { listed.title.clone() };
    let _ = db;
    Ok(Prepared {
        change: ChangeSet {
            message: format!("Backup: {title} ({})", engine.run_date),
            writes,
            replace_dirs,
            deletes: Vec::new(),
        },
        fetched_at,
        media_names: page_media.names,
        warnings,
        bytes_downloaded: page_media.bytes_downloaded,
    })
}
