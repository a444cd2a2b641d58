//! Destinations: a [`Sink`] knows repository paths, bytes and commits, never Notion types.
//!
//! Implementations: `gitea` (Gitea/Forgejo REST API, one multi-file commit per change set),
//! `local_git` (a repository on disk through the git CLI), `memory` (for tests) and `dry_run`
//! (a decorator that plans instead of writing).

use std::collections::BTreeMap;
use std::path::PathBuf;

/// Bytes of one file to write: in memory, or staged on disk (large media are never held in memory).
#[derive(Debug, Clone)]
pub enum Content {
    Bytes(Vec<u8>),
    File(PathBuf),
}

#[derive(Debug, Clone)]
pub struct FileWrite {
    /// Repository-relative path with `/` separators; must satisfy [`crate::paths::is_safe_relative`].
    pub path: String,
    pub content: Content,
}

/// One logical commit: write these files; delete every file under `replace_dirs` that is not
/// written here (a page folder is replaced as a whole); delete the `deletes` paths/folders.
#[derive(Debug, Clone, Default)]
pub struct ChangeSet {
    pub message: String,
    pub writes: Vec<FileWrite>,
    pub replace_dirs: Vec<String>,
    pub deletes: Vec<String>,
}

/// What a change set did (or, in dry-run, would do) against the current tree.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub added: Vec<String>,
    pub changed: Vec<String>,
    pub deleted: Vec<String>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.changed.is_empty() && self.deleted.is_empty()
    }
}

#[derive(Debug, Clone, Default)]
pub struct CommitOutcome {
    pub plan: Plan,
    /// Commit ids made (several when a large change set was split); empty when nothing changed.
    pub commits: Vec<String>,
    /// Git blob id of every file written (path -> sha1 hex).
    pub blob_ids: BTreeMap<String, String>,
}

/// Errors from a destination. `transient` errors (5xx, timeouts, a moved branch that could not be
/// rebased) may succeed on the next run; the others need the user to fix something, and the
/// message says what.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("{0}")]
    Config(String),
    #[error("{message}")]
    Remote { message: String, transient: bool },
    #[error("{0}")]
    Io(String),
}

impl SinkError {
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            SinkError::Remote {
                transient: true,
                ..
            }
        )
    }
}

/// A backup destination for one repository.
#[async_trait::async_trait]
pub trait Sink: Send + Sync {
    /// Human-readable name for logs and summaries (`owner/repo` or a local path). Never a secret.
    fn describe(&self) -> String;

    /// Connect and read the current tree once. With `create`, a missing repository is created
    /// (local: `git init`; Gitea: only when the sink was configured to create repos).
    async fn open(&mut self, create: bool) -> Result<(), SinkError>;

    /// What `commit` would do against the current tree, without writing anything.
    async fn plan(&self, change: &ChangeSet) -> Result<Plan, SinkError>;

    /// Apply a change set as one commit (or several when it is too large for one request). A change
    /// set that changes nothing makes no commit. Returns only after the commit is durable.
    async fn commit(&mut self, change: ChangeSet) -> Result<CommitOutcome, SinkError>;

    /// Paths of all files currently in the tree under `dir` ("" = whole repository).
    fn files_under(&self, dir: &str) -> Vec<String>;

    /// End of run (local git: `git push` when configured).
    async fn finish(&mut self) -> Result<(), SinkError>;
}
