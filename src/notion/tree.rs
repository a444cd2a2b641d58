//! Fetching a page's whole block tree: recursion through `has_children`, synced-block references
//! read from their source, meeting-notes summary/notes fetched, cycles and repeated ids detected,
//! a depth bound, unsupported blocks and child pages/databases never descended into. Independent
//! subtrees are fetched concurrently, always under the client's one rate limiter.

use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use futures::stream::{self, StreamExt, TryStreamExt};
use futures::FutureExt;

use super::model::{Block, BlockKind};
use super::{NotionClient, NotionError};
use crate::ids;

/// Deeper nesting is not fetched (with a warning). Notion's UI nests far less than this.
pub const DEFAULT_MAX_DEPTH: usize = 256;

#[derive(Debug, Clone)]
pub struct TreeOptions {
    pub max_depth: usize,
    /// Child listings in flight at once per level (the rate limiter still bounds the total).
    pub concurrency: usize,
}

impl Default for TreeOptions {
    fn default() -> Self {
        TreeOptions { max_depth: DEFAULT_MAX_DEPTH, concurrency: 4 }
    }
}

/// A page's blocks with their `children` filled in, and what could not be fetched.
#[derive(Debug, Default)]
pub struct BlockTree {
    pub blocks: Vec<Block>,
    /// Parts of the tree that were skipped on purpose (cycles, depth, unshared synced sources).
    pub warnings: Vec<String>,
}

struct Ctx {
    opts: TreeOptions,
    warnings: Mutex<Vec<String>>,
}

impl Ctx {
    fn warn(&self, w: String) {
        self.warnings.lock().expect("warnings lock").push(w);
    }
}

enum Plan {
    /// List the children of this block id (the block itself, or a synced block's source).
    Children(String),
    /// Fetch these blocks (meeting notes summary/notes) and their trees.
    Blocks(Vec<String>),
}

fn plan(b: &Block) -> Option<Plan> {
    match &b.kind {
        BlockKind::Unsupported { .. } | BlockKind::ChildPage { .. } | BlockKind::ChildDatabase { .. } => None,
        BlockKind::SyncedBlock { synced_from: Some(src) } => Some(Plan::Children(src.clone())),
        BlockKind::MeetingNotes(m) => {
            let c = m.children.as_ref()?;
            let ids: Vec<String> = [&c.summary_block_id, &c.notes_block_id].into_iter().flatten().cloned().collect();
            (!ids.is_empty()).then_some(Plan::Blocks(ids))
        }
        _ if b.has_children => Some(Plan::Children(b.id.clone())),
        _ => None,
    }
}

impl NotionClient {
    /// The whole block tree under `root_id` (a page id or block id).
    pub async fn fetch_tree(&self, root_id: &str, opts: TreeOptions) -> Result<BlockTree, NotionError> {
        let ctx = Arc::new(Ctx { opts, warnings: Mutex::new(Vec::new()) });
        let ancestors = Arc::new(vec![ids::normalize(root_id)]);
        let blocks = self.clone().load_children(root_id.to_string(), ancestors, 1, ctx.clone()).await?;
        let warnings = std::mem::take(&mut *ctx.warnings.lock().expect("warnings lock"));
        Ok(BlockTree { blocks, warnings })
    }

    fn load_children(
        self,
        id: String,
        ancestors: Arc<Vec<String>>,
        depth: usize,
        ctx: Arc<Ctx>,
    ) -> BoxFuture<'static, Result<Vec<Block>, NotionError>> {
        async move {
            let mut blocks: Vec<Block> = self.block_children(&id).try_collect().await?;
            let work: Vec<(usize, Plan)> =
                blocks.iter().enumerate().filter_map(|(i, b)| plan(b).map(|p| (i, p))).collect();
            let results: Vec<(usize, Vec<Block>)> = stream::iter(work)
                .map(|(i, p)| {
                    let (client, ctx, ancestors) = (self.clone(), ctx.clone(), ancestors.clone());
                    let block_id = blocks[i].id.clone();
                    async move { client.expand(block_id, p, ancestors, depth, ctx).await.map(|c| (i, c)) }
                })
                .buffer_unordered(ctx.opts.concurrency.max(1))
                .try_collect()
                .await?;
            for (i, children) in results {
                blocks[i].children = children;
            }
            Ok(blocks)
        }
        .boxed()
    }

    async fn expand(
        self,
        block_id: String,
        p: Plan,
        ancestors: Arc<Vec<String>>,
        depth: usize,
        ctx: Arc<Ctx>,
    ) -> Result<Vec<Block>, NotionError> {
        if depth >= ctx.opts.max_depth {
            ctx.warn(format!("block {block_id}: nesting deeper than {} levels was not fetched", ctx.opts.max_depth));
            return Ok(Vec::new());
        }
        let me = ids::normalize(&block_id);
        if ancestors.contains(&me) {
            ctx.warn(format!(
                "block {block_id}: appears inside itself (cycle); its repeated content is not expanded again"
            ));
            return Ok(Vec::new());
        }
        let mut path = (*ancestors).clone();
        path.push(me);
        match p {
            Plan::Children(source) => {
                let src = ids::normalize(&source);
                if src != path[path.len() - 1] {
                    if path.contains(&src) {
                        ctx.warn(format!("synced block {block_id}: its source {source} contains this block (cycle); not expanded again"));
                        return Ok(Vec::new());
                    }
                    path.push(src);
                }
                let is_reference = ids::normalize(&source) != ids::normalize(&block_id);
                match self.clone().load_children(source.clone(), Arc::new(path), depth + 1, ctx.clone()).await {
                    Err(e) if is_reference && e.is_not_found() => {
                        ctx.warn(format!("synced block {block_id}: its source {source} is not shared with the integration; content missing"));
                        Ok(Vec::new())
                    }
                    other => other,
                }
            }
            Plan::Blocks(ids_to_fetch) => {
                let mut out = Vec::new();
                for id in ids_to_fetch {
                    match self.get_block(&id).await {
                        Ok(mut b) => {
                            if let Some(p) = plan(&b) {
                                b.children = Box::pin(self.clone().expand(
                                    b.id.clone(),
                                    p,
                                    Arc::new(path.clone()),
                                    depth + 1,
                                    ctx.clone(),
                                ))
                                .await?;
                            }
                            out.push(b);
                        }
                        Err(e) if e.is_not_found() => {
                            ctx.warn(format!("meeting notes {block_id}: linked block {id} is not accessible"));
                        }
                        Err(e) => return Err(e),
                    }
                }
                Ok(out)
            }
        }
    }
}
