//! Destinations: a [`Sink`] knows repository paths, bytes and commits, never Notion types.
//!
//! Implementations: `gitea` (Gitea/Forgejo REST API, one multi-file commit per change set),
//! `local_git` (a repository on disk through the git CLI), `memory` (for tests) and `dry_run`
//! (a decorator that plans instead of writing). Shared by all of them: the diff rules (`diff`),
//! git blob ids (`blob`), commit message sanitising (`message`) and the one-run-per-repository
//! lock (`lock`).

use std::collections::BTreeMap;
use std::path::PathBuf;

pub mod blob;
pub mod diff;
pub mod dry_run;
pub mod gitea;
pub mod local_git;
pub mod lock;
pub mod memory;
pub mod message;
pub mod tree_cache;

pub use blob::{blob_id, blob_id_of_content, blob_id_of_file};
pub use message::commit_message;

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
    /// The repository does not exist (and was not created). Dry runs plan against an empty tree.
    #[error("{0}")]
    Missing(String),
    /// Another run (another process, or another configuration) holds this repository's lock.
    /// The message names the holder (pid, since when) and what to do. The run could not start
    /// for this repository: nothing was written.
    #[error("{0}")]
    Locked(String),
    /// One file can never be committed as it is (larger than `GIT_MAX_REQUEST_MB`, or refused
    /// with HTTP 413 on its own). Permanent: retrying the same bytes fails the same way.
    #[error("{message}")]
    TooLarge { path: String, message: String },
}

impl SinkError {
    pub fn is_transient(&self) -> bool {
        matches!(self, SinkError::Remote { transient: true, .. })
    }
}

/// A backup destination for one repository.
#[async_trait::async_trait]
pub trait Sink: Send + Sync {
    /// Human-readable name for logs and summaries (`owner/repo` or a local path). Never a secret.
    fn describe(&self) -> String;

    /// The destination a state belongs to, stable across runs and spellings of the settings, so
    /// the engine can notice a state pointed at another destination. Gitea/Forgejo:
    /// `<base URL>/<owner>/<repo>` (no credentials; owner and repository lowercased, as Gitea
    /// treats them); local git: the canonical path of the repository. Never a secret.
    fn identity(&self) -> String;

    /// The state says an earlier run backed up to this very destination ([`identity`](Sink::identity)):
    /// checks only a new destination needs (Gitea's server version) may wait for the first commit,
    /// so a run with nothing to commit asks the server as little as it can.
    fn known_destination(&mut self) {}

    /// The web page of the file `path` on the server (`None` when there is none, as for local
    /// git). Gitea: `<base>/<owner>/<repo>/src/branch/<branch>/<path>`, percent-encoded; the
    /// branch is known after `open` (or from `GIT_BRANCH`), `main` before.
    fn web_url(&self, _path: &str) -> Option<String> {
        None
    }

    /// Take the repository's lock: while it is held, no other run (another process, another
    /// configuration pointing at the same repository) can write to it. Released when the sink
    /// is dropped, and by the operating system when the process dies. Fails with
    /// [`SinkError::Locked`] naming the holder. `open(true)` takes it too when it is not held
    /// yet, so a writing run is always locked; call this first to fail before any other work.
    /// Read-only uses (`open(false)`: dry runs, `check`) never lock.
    async fn lock(&mut self) -> Result<(), SinkError> {
        Ok(())
    }

    /// Connect and read the current tree once. With `create` (a writing run), the repository's
    /// lock is taken if [`Sink::lock`] was not called, and a missing repository is created
    /// (local: `git init`; Gitea: only when the sink was configured to create repos). Without it
    /// (dry run, `check`) nothing is created, locked or changed.
    async fn open(&mut self, create: bool) -> Result<(), SinkError>;

    /// What `commit` would do against the current tree, without writing anything.
    async fn plan(&self, change: &ChangeSet) -> Result<Plan, SinkError>;

    /// Apply a change set as one commit (or several when it is too large for one request). A change
    /// set that changes nothing makes no commit. Returns only after the commit is durable.
    async fn commit(&mut self, change: ChangeSet) -> Result<CommitOutcome, SinkError>;

    /// Paths of all files currently in the tree under `dir` ("" = whole repository).
    fn files_under(&self, dir: &str) -> Vec<String>;

    /// The bytes of the file at `path` in the current tree (`None` when there is none). Used
    /// sparingly: to identify folders an earlier backup left (their `index.md`).
    async fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>, SinkError>;

    /// Git blob id of the file at `path` in the current tree, if there is one.
    fn blob_of(&self, path: &str) -> Option<String>;

    /// End of run (local git: `git push` when configured).
    async fn finish(&mut self) -> Result<(), SinkError>;

    /// Things the run summary must say that are not errors (local git: stale git lock files
    /// removed, hand edits put aside in a named `git stash`). Each call returns what was noticed
    /// since the previous call.
    fn take_notices(&mut self) -> Vec<String> {
        Vec::new()
    }
}

/// A boxed sink is a sink (so decorators such as `DryRunSink` can wrap whichever destination the
/// configuration chose).
#[async_trait::async_trait]
impl Sink for Box<dyn Sink> {
    fn describe(&self) -> String {
        (**self).describe()
    }
    fn identity(&self) -> String {
        (**self).identity()
    }
    fn known_destination(&mut self) {
        (**self).known_destination()
    }
    fn web_url(&self, path: &str) -> Option<String> {
        (**self).web_url(path)
    }
    async fn lock(&mut self) -> Result<(), SinkError> {
        (**self).lock().await
    }
    async fn open(&mut self, create: bool) -> Result<(), SinkError> {
        (**self).open(create).await
    }
    async fn plan(&self, change: &ChangeSet) -> Result<Plan, SinkError> {
        (**self).plan(change).await
    }
    async fn commit(&mut self, change: ChangeSet) -> Result<CommitOutcome, SinkError> {
        (**self).commit(change).await
    }
    fn files_under(&self, dir: &str) -> Vec<String> {
        (**self).files_under(dir)
    }
    async fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>, SinkError> {
        (**self).read_file(path).await
    }
    fn blob_of(&self, path: &str) -> Option<String> {
        (**self).blob_of(path)
    }
    async fn finish(&mut self) -> Result<(), SinkError> {
        (**self).finish().await
    }
    fn take_notices(&mut self) -> Vec<String> {
        (**self).take_notices()
    }
}
