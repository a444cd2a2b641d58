//! The engine's vocabulary: the plain data that flows from one stage to the next (a [`Task`] to
//! prepare, the [`Prepared`] result a committer turns into a commit, a database [`Listing`], the
//! [`Evidence`] that a page is gone). No behaviour beyond small constructors, and no import of a
//! sibling stage: every stage may use this module, this module uses none of them.

pub mod spill;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::notion::model::{DataSourceRef, Database, Page};
use crate::notion::NotionError;
use crate::sink::{FileWrite, SinkError};
use crate::state::{NodeKind, PageRecord};

pub use spill::Held;

/// Index of a repository in the run's list (configured databases in order, then the workspace).
pub type RepoIx = usize;

/// Why a node is backed up in this run (logged at `-v`, counted in the summary).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    New,
    Edited,
    /// Its folder changed (renamed, moved to another parent, or a new title collision).
    Moved,
    /// Read within the minute of its last edit (`last_edited_time` is rounded to the minute).
    SameMinute,
    /// Upgraded from the Python script's state, moved between repositories, or marked for a retry.
    Unverified,
    FullSync,
    /// Its files in the repository are missing or differ from what the state recorded.
    Repair,
    /// Its links pointed at pages whose backup is known now.
    Links,
    /// Re-checked against Notion (VERIFY_DAYS); backed up only if Notion shows an edit.
    Verify,
    /// A database or the workspace: read on every run.
    Listing,
    /// A child or root left unfinished by an earlier run.
    Pending,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::New => "new",
            Reason::Edited => "edited in Notion",
            Reason::Moved => "moved or renamed",
            Reason::SameMinute => "read within the minute of its last edit",
            Reason::Unverified => "not verified yet",
            Reason::FullSync => "--full-sync",
            Reason::Repair => "its files in the repository are missing or changed",
            Reason::Links => "links to pages backed up since",
            Reason::Verify => "periodic re-check (VERIFY_DAYS)",
            Reason::Listing => "listing",
            Reason::Pending => "left unfinished by an earlier run",
        }
    }
}

/// What kind of work a task is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskKind {
    Page,
    Database,
    /// Workspace discovery: the roots of the workspace repository (WORKSPACE_REPO).
    Workspace,
}

impl From<NodeKind> for TaskKind {
    fn from(k: NodeKind) -> Self {
        match k {
            NodeKind::Page => TaskKind::Page,
            NodeKind::Database => TaskKind::Database,
        }
    }
}

/// A node to prepare.
#[derive(Debug)]
pub struct Task {
    pub repo: RepoIx,
    /// Canonical id ("" for workspace discovery).
    pub id: String,
    pub title: String,
    /// Repository-relative folder ("" = the repository root).
    pub folder: String,
    pub parent: Option<String>,
    pub kind: TaskKind,
    /// The page object, when already known (rows of a listing, search results).
    pub page: Option<Held>,
    /// The database object, when already known.
    pub db: Option<Box<Database>>,
    /// The configured database at the repository root.
    pub root: bool,
    /// The node's record when it was scheduled.
    pub rec: Option<PageRecord>,
    /// Title of the database a row belongs to (front matter `database`).
    pub db_title: Option<String>,
    pub reason: Reason,
    /// Only back it up if Notion shows a change (one `GET /pages/{id}` first).
    pub check_first: bool,
}

impl Task {
    /// A task for a recorded node, at `folder`.
    pub fn from_record(repo: RepoIx, id: &str, r: &PageRecord, folder: String, reason: Reason) -> Task {
        Task {
            repo,
            id: id.to_string(),
            title: r.title.clone(),
            folder,
            parent: r.parent.clone(),
            kind: r.kind.into(),
            page: None,
            db: None,
            root: false,
            rec: Some(r.clone()),
            db_title: r.database_title.clone(),
            reason,
            check_first: false,
        }
    }

    pub fn shown(&self) -> &str {
        shown(&self.title)
    }
}

/// `Untitled` for an empty title.
pub fn shown(title: &str) -> &str {
    if title.trim().is_empty() {
        "Untitled"
    } else {
        title
    }
}

/// A child page or database found in a node, or a row of a database, with the task to run for it
/// when it needs a backup.
#[derive(Debug)]
pub struct Child {
    pub id: String,
    pub title: String,
    pub kind: NodeKind,
    pub folder: String,
    /// `Some` when the child needs a backup in this run.
    pub task: Option<Task>,
}

/// Notion's word on a node that a listing, a block tree or a search no longer shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Evidence {
    /// `in_trash` (or `archived`): deleted in Notion.
    Trashed,
    /// 404: deleted for good, or no longer shared. Evidence only when it was 404 on an earlier run too.
    NotFound,
    /// Alive under another parent (canonical id of the page, database or data source).
    Moved { parent: String },
    /// Alive where it was: the listing or block tree that left it out was short.
    Alive,
}

/// A recorded child (row, child page, child database, workspace root) its parent no longer shows,
/// and what Notion said about it.
#[derive(Debug, Clone)]
pub struct Absent {
    pub id: String,
    pub title: String,
    pub evidence: Evidence,
}

/// A database and its live rows.
#[derive(Debug, Clone)]
pub struct Listing {
    pub db: Database,
    pub data_sources: Vec<(DataSourceRef, usize)>,
    /// Rows not in the trash, in creation order.
    pub rows: Vec<Page>,
}

/// What the database index needs of a listing when it is rendered at the end of the run (after
/// the rows' downloads, with every link of the run known).
#[derive(Debug)]
pub struct IndexSource {
    pub db: Database,
    pub rows: Vec<Page>,
    /// Row folders relative to the repository, by canonical id.
    pub folders: BTreeMap<String, String>,
}

/// A node ready to commit.
#[derive(Debug)]
pub struct Prepared {
    pub kind: TaskKind,
    pub message: String,
    pub title: String,
    pub last_edited_time: String,
    pub fetched_at: String,
    pub writes: Vec<FileWrite>,
    /// Own files kept as they are (not rewritten this time): a schema read on an earlier run, the
    /// last good copy of a file that could not be downloaded again.
    pub keep: Vec<String>,
    pub children: Vec<Child>,
    /// Recorded children missing now, with Notion's word on each.
    pub absent: Vec<Absent>,
    pub data_sources: Vec<String>,
    /// Property names of a database in its own order.
    pub property_order: Vec<String>,
    /// Data sources of a database: name, dashed id, pages listed.
    pub source_counts: Vec<(String, String, usize)>,
    pub media_names: BTreeMap<String, String>,
    /// Media key (state form) -> path relative to the node folder.
    pub media_keys: BTreeMap<String, String>,
    pub warnings: Vec<String>,
    pub bytes_downloaded: u64,
    /// Files kept from the last backup because they could not be downloaded again.
    pub kept_files: usize,
    pub outcome: Outcome,
    /// Ids this page links to whose backup was not known when it was rendered.
    pub unresolved: BTreeSet<String>,
    /// Every id this page links to, with the link used when it was rendered.
    pub linked: BTreeMap<String, Option<String>>,
    /// What a re-render of `index.md` needs (pages only).
    pub rerender: Option<Box<Rerender>>,
    /// The database index, rendered at the end of the run.
    pub index: Option<Arc<IndexSource>>,
    /// Database-level problems that fail the node's database but not the node (an inline
    /// database that could not be read this time, kept as it was).
    pub failures: Vec<(String, String)>,
}

/// The result of preparing a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Commit its files.
    Backup,
    /// Notion says it is gone (trashed, or 404 on an earlier run too): remove it at the end of
    /// the run, if the deletion guard allows.
    Gone(Evidence),
    /// 404 for the first time: kept, removed if Notion still says 404 on the next run.
    Missing,
    /// Checked against Notion (VERIFY_DAYS) and unchanged: nothing to commit.
    Verified,
}

impl Prepared {
    pub fn empty(kind: TaskKind, title: String, outcome: Outcome) -> Prepared {
        Prepared {
            kind,
            message: String::new(),
            title,
            last_edited_time: String::new(),
            fetched_at: String::new(),
            writes: Vec::new(),
            keep: Vec::new(),
            children: Vec::new(),
            absent: Vec::new(),
            data_sources: Vec::new(),
            property_order: Vec::new(),
            source_counts: Vec::new(),
            media_names: BTreeMap::new(),
            media_keys: BTreeMap::new(),
            warnings: Vec::new(),
            bytes_downloaded: 0,
            kept_files: 0,
            outcome,
            unresolved: BTreeSet::new(),
            linked: BTreeMap::new(),
            rerender: None,
            index: None,
            failures: Vec::new(),
        }
    }
}

/// What rendering a page's `index.md` again needs, besides the run's links.
#[derive(Debug, Clone)]
pub struct Rerender {
    pub page: Page,
    pub blocks: Vec<crate::notion::model::Block>,
    pub media: Vec<(crate::markdown::MediaKey, crate::markdown::LocalFile)>,
    pub db_title: Option<String>,
    pub comments: Option<Vec<serde_json::Value>>,
    /// Property names of its database in the database's own order (empty: name order).
    pub property_order: Vec<String>,
}

/// Why a task failed. Typed, so an error that dooms the run (a revoked token) stops it at once.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    #[error(transparent)]
    Notion(#[from] NotionError),
    #[error(transparent)]
    Sink(#[from] SinkError),
    #[error("{0}")]
    Media(String),
    #[error("{0}")]
    Other(String),
}

impl TaskError {
    /// The run cannot go on (401: the token was revoked mid-run).
    pub fn is_fatal(&self) -> bool {
        matches!(self, TaskError::Notion(e) if e.is_fatal())
    }
}
