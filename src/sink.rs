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
