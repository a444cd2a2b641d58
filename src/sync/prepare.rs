//! The prepare stage: everything a node's commit needs, read from Notion and rendered, without
//! writing anything but staged files. Pages ([`page`]), databases ([`database`]) and workspace
//! discovery ([`workspace`]); and Notion's word on a node that went missing ([`evidence_for_page`],
//! [`evidence_for_database`]), the only thing that can make the commit stage remove a backup.

pub mod database;
pub mod page;
pub mod workspace;

use std::collections::HashSet;
use std::sync::Arc;

use crate::ids;
use crate::notion::model::Parent;
use crate::notion::NotionError;
use crate::state::PageRecord;

use super::engine::Engine;
use super::vocab::{Evidence, Outcome, Prepared, Task, TaskError, TaskKind};

pub(crate) use page::render;

/// Prepare one task. `covered` is what the configured databases cover (for workspace discovery).
pub(crate) async fn prepare(
    engine: Arc<Engine>,
    mut task: Task,
    covered: Arc<HashSet<String>>,
) -> (Task, Result<Prepared, TaskError>) {
    let r = match task.kind {
        TaskKind::Page => page::prepare(&engine, &mut task).await,
        TaskKind::Database => database::prepare(&engine, &mut task).await,
        TaskKind::Workspace => workspace::prepare(&engine, &mut task, &covered).await,
    };
    (task, r)
}

/// A node answered 404: gone for good when it was 404 on an earlier run too, else kept for now.
pub(crate) fn missing_outcome(rec: Option<&PageRecord>, engine: &Engine) -> Outcome {
    let earlier = rec
        .and_then(|r| r.missing_since.as_deref())
        .and_then(super::plan::parse_time)
        .is_some_and(|t| t < engine.run_started);
    if earlier {
        Outcome::Gone(Evidence::NotFound)
    } else {
        Outcome::Missing
    }
}

/// Notion's word on page `id` that a listing or block tree no longer shows, where `expected` is the
/// parent it was recorded under (a database id for rows, a page id for child pages, `None` for
/// workspace roots).
pub(crate) async fn evidence_for_page(
    engine: &Engine,
    id: &str,
    expected: Option<&str>,
) -> Result<Evidence, TaskError> {
    Ok(page_evidence(engine, id, expected).await?.0)
}

/// [`evidence_for_page`], with the page object Notion returned when it is alive where it was or
/// in the trash (a database index keeps showing a trashed row until the row really leaves).
pub(crate) async fn page_evidence(
    engine: &Engine,
    id: &str,
    expected: Option<&str>,
) -> Result<(Evidence, Option<crate::notion::model::Page>), TaskError> {
    match engine.notion.get_page(id).await {
        Ok(p) if p.is_trashed() => Ok((Evidence::Trashed, Some(p))),
        Ok(p) => {
            let parent = resolve_parent(engine, p.parent.as_ref()).await?;
            let e = judge(parent, expected);
            let page = (e == Evidence::Alive).then_some(p);
            Ok((e, page))
        }
        Err(e) if e.is_not_found() => Ok((Evidence::NotFound, None)),
        Err(e) => Err(e.into()),
    }
}

/// Notion's word on database `id` that a page's block tree no longer shows (`expected`: the page it
/// was recorded in, "" for a workspace root).
pub(crate) async fn evidence_for_database(engine: &Engine, id: &str, expected: &str) -> Result<Evidence, TaskError> {
    match engine.notion.get_database(id).await {
        Ok(db) if db.in_trash || db.archived => Ok(Evidence::Trashed),
        Ok(db) => {
            let parent = resolve_parent(engine, db.parent.as_ref()).await?;
            Ok(judge(parent, (!expected.is_empty()).then_some(expected)))
        }
        // Still there, only unreadable this time: never evidence.
        Err(NotionError::LinkedDatabase { .. }) => Ok(Evidence::Alive),
        Err(e) if e.is_not_found() => Ok(Evidence::NotFound),
        Err(e) => Err(e.into()),
    }
}

fn judge(parent: Option<String>, expected: Option<&str>) -> Evidence {
    match (parent, expected) {
        (None, None) => Evidence::Alive,
        (Some(p), Some(e)) if p == ids::normalize(e) => Evidence::Alive,
        (Some(p), _) => Evidence::Moved { parent: p },
        (None, Some(_)) => Evidence::Moved { parent: String::new() },
    }
}

/// The page or database a parent reference points at: a row's database (not its data source); for a
/// block (a page inside a toggle or column), the page holding that block.
async fn resolve_parent(engine: &Engine, parent: Option<&Parent>) -> Result<Option<String>, TaskError> {
    let mut cur = parent.cloned();
    for _ in 0..8 {
        match cur {
            None | Some(Parent::Workspace) | Some(Parent::Unknown { .. }) => return Ok(None),
            Some(Parent::Page { page_id }) => return Ok(Some(ids::normalize(&page_id))),
            Some(Parent::Database { database_id }) => return Ok(Some(ids::normalize(&database_id))),
            Some(Parent::DataSource { data_source_id, database_id }) => {
                if let Some(db) = database_id {
                    return Ok(Some(ids::normalize(&db)));
                }
                let ds = ids::normalize(&data_source_id);
                return Ok(Some(engine.databases_by_source().get(&ds).cloned().unwrap_or(ds)));
            }
            Some(Parent::Block { block_id }) => match engine.notion.get_block(&block_id).await {
                Ok(b) => cur = b.parent,
                Err(e) if e.is_not_found() => return Ok(Some(ids::normalize(&block_id))),
                Err(e) => return Err(e.into()),
            },
        }
    }
    Ok(None)
}
