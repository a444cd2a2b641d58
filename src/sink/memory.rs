//! An in-memory [`Sink`] for engine tests: a tree of files and the list of commits made.
//!
//! Same diff rules and commit message sanitising as the real sinks (shared `diff` and `message`
//! modules). It can be told to say no as a real destination does: fail the next commits with a
//! transient error, refuse files above a size as too large, have its lock held by another run;
//! and to say what a real one says: notices for the run summary, web links to its files. Never
//! touches the disk except to read staged `Content::File` files.

use std::collections::BTreeMap;

use super::diff::{self, Tree};
use super::{blob_id, commit_message, ChangeSet, CommitOutcome, Content, Plan, Sink, SinkError};

/// One commit recorded by [`MemorySink`].
#[derive(Debug, Clone)]
pub struct MemoryCommit {
    pub id: String,
    pub message: String,
    pub plan: Plan,
}

#[derive(Debug, Default)]
pub struct MemorySink {
    name: String,
    exists: bool,
    opened: bool,
    files: BTreeMap<String, Vec<u8>>,
    tree: Tree,
    commits: Vec<MemoryCommit>,
    fail_next: usize,
    finished: usize,
    /// Files larger than this are refused with [`SinkError::TooLarge`].
    max_file: Option<u64>,
    /// The lock is held by another run.
    held_elsewhere: bool,
    locked: bool,
    notices: Vec<String>,
    /// `web_url` prefix (`<base>/<owner>/<repo>`), when this stands in for a server.
    web_base: Option<String>,
}

impl MemorySink {
    /// An existing, empty repository.
    pub fn new(name: &str) -> Self {
        MemorySink { name: name.to_string(), exists: true, ..Default::default() }
    }

    /// A repository that does not exist yet (`open(false)` fails with [`SinkError::Missing`]).
    pub fn missing(name: &str) -> Self {
        MemorySink { name: name.to_string(), ..Default::default() }
    }

    /// Seed files as if they had been committed earlier (no commit is recorded).
    pub fn with_files<I: IntoIterator<Item = (String, Vec<u8>)>>(mut self, files: I) -> Self {
        for (p, c) in files {
            self.tree.insert(p.clone(), blob_id(&c));
            self.files.insert(p, c);
        }
        self
    }

    /// Make the next `n` commits fail with a transient error (nothing is written).
    pub fn fail_next_commits(&mut self, n: usize) {
        self.fail_next = n;
    }

    /// Refuse (permanently) change sets holding a file larger than `bytes`, as Gitea does with a
    /// file above `GIT_MAX_REQUEST_MB`.
    pub fn refuse_files_over(&mut self, bytes: u64) {
        self.max_file = Some(bytes);
    }

    /// Another run holds this repository's lock: `lock` and `open(true)` fail with
    /// [`SinkError::Locked`].
    pub fn lock_held_elsewhere(mut self) -> Self {
        self.held_elsewhere = true;
        self
    }

    /// Whether this sink's lock was taken.
    pub fn is_locked(&self) -> bool {
        self.locked
    }

    /// Queue a notice for [`Sink::take_notices`] (as a local repository reports a stash).
    pub fn push_notice(&mut self, notice: &str) {
        self.notices.push(notice.to_string());
    }

    /// Answer `web_url` with `<base>/src/branch/main/<path>`, as a Gitea server would.
    pub fn with_web_base(mut self, base: &str) -> Self {
        self.web_base = Some(base.trim_end_matches('/').to_string());
        self
    }

    pub fn files(&self) -> &BTreeMap<String, Vec<u8>> {
        &self.files
    }

    pub fn file(&self, path: &str) -> Option<&[u8]> {
        self.files.get(path).map(|v| v.as_slice())
    }

    pub fn commits(&self) -> &[MemoryCommit] {
        &self.commits
    }

    /// How many times `finish` was called.
    pub fn finished(&self) -> usize {
        self.finished
    }
}

#[async_trait::async_trait]
impl Sink for MemorySink {
    fn describe(&self) -> String {
        format!("memory:{}", self.name)
    }

    fn identity(&self) -> String {
        format!("memory:{}", self.name)
    }

    fn web_url(&self, path: &str) -> Option<String> {
        let base = self.web_base.as_ref()?;
        Some(format!("{base}/src/branch/main/{}", super::gitea::enc(path.trim_matches('/'), true)))
    }

    async fn lock(&mut self) -> Result<(), SinkError> {
        if self.held_elsewhere {
            return Err(SinkError::Locked(format!(
                "repository {} is locked by another backup run (pid 1 on test since 2026-01-01T00:00:00Z)",
                self.name
            )));
        }
        self.locked = true;
        Ok(())
    }

    async fn open(&mut self, create: bool) -> Result<(), SinkError> {
        if create {
            self.lock().await?;
        }
        if !self.exists {
            if !create {
                return Err(SinkError::Missing(format!("repository {} does not exist", self.name)));
            }
            self.exists = true;
        }
        self.opened = true;
        Ok(())
    }

    async fn plan(&self, change: &ChangeSet) -> Result<Plan, SinkError> {
        Ok(diff::stage(&self.tree, change).await?.plan)
    }

    async fn commit(&mut self, change: ChangeSet) -> Result<CommitOutcome, SinkError> {
        if !self.opened {
            return Err(SinkError::Config(format!("{}: commit before open", self.describe())));
        }
        let diff::Staged { writes, ops, plan, blob_ids } = diff::stage(&self.tree, &change).await?;
        if ops.is_empty() {
            return Ok(CommitOutcome { plan, commits: vec![], blob_ids });
        }
        if let Some(max) = self.max_file {
            if let Some(w) = writes.iter().find(|w| w.size > max) {
                return Err(SinkError::TooLarge {
                    path: w.path.clone(),
                    message: format!("{} is too large to commit ({} bytes, at most {max})", w.path, w.size),
                });
            }
        }
        if self.fail_next > 0 {
            self.fail_next -= 1;
            return Err(SinkError::Remote { message: "injected failure".into(), transient: true });
        }
        for op in &ops {
            match op {
                diff::Op::Put { write, .. } => {
                    let w = &writes[*write];
                    let bytes = match &w.content {
                        Content::Bytes(b) => b.clone(),
                        Content::File(p) => {
                            std::fs::read(p).map_err(|e| SinkError::Io(format!("cannot read {}: {e}", p.display())))?
                        }
                    };
                    self.files.insert(w.path.clone(), bytes);
                }
                diff::Op::Delete { path, .. } => {
                    self.files.remove(path);
                }
            }
        }
        diff::apply(&mut self.tree, &ops, &writes);
        let message = commit_message(&change.message);
        let id = blob_id(format!("{}:{}:{}", self.name, self.commits.len(), message).as_bytes());
        self.commits.push(MemoryCommit { id: id.clone(), message, plan: plan.clone() });
        Ok(CommitOutcome { plan, commits: vec![id], blob_ids })
    }

    fn blob_of(&self, path: &str) -> Option<String> {
        self.tree.get(path).cloned()
    }

    async fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>, SinkError> {
        Ok(self.files.get(path).cloned())
    }

    fn files_under(&self, dir: &str) -> Vec<String> {
        if dir.is_empty() {
            return self.tree.keys().cloned().collect();
        }
        diff::files_in(&self.tree, dir).map(|(p, _)| p.clone()).collect()
    }

    async fn finish(&mut self) -> Result<(), SinkError> {
        self.finished += 1;
        Ok(())
    }

    fn take_notices(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notices)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::FileWrite;

    fn w(p: &str, c: &str) -> FileWrite {
        FileWrite { path: p.into(), content: Content::Bytes(c.as_bytes().to_vec()) }
    }

    #[tokio::test]
    async fn commits_once_and_skips_identical_change_sets() {
        let mut s = MemorySink::new("r");
        s.open(false).await.unwrap();
        let cs = ChangeSet {
            message: "m".into(),
            writes: vec![w("p/index.md", "x")],
            replace_dirs: vec!["p".into()],
            deletes: vec![],
        };
        let out = s.commit(cs.clone()).await.unwrap();
        assert_eq!(out.commits.len(), 1);
        assert_eq!(out.plan.added, vec!["p/index.md"]);
        let again = s.commit(cs).await.unwrap();
        assert!(again.commits.is_empty() && again.plan.is_empty());
        assert_eq!(s.commits().len(), 1);
        assert_eq!(s.file("p/index.md"), Some(&b"x"[..]));
        assert_eq!(s.files_under("p"), vec!["p/index.md"]);
    }

    #[tokio::test]
    async fn missing_repo_and_injected_failures() {
        let mut s = MemorySink::missing("r");
        assert!(matches!(s.open(false).await, Err(SinkError::Missing(_))));
        s.open(true).await.unwrap();
        s.fail_next_commits(1);
        let cs = ChangeSet { writes: vec![w("a.md", "1")], ..Default::default() };
        assert!(s.commit(cs.clone()).await.unwrap_err().is_transient());
        assert!(s.files().is_empty());
        assert_eq!(s.commit(cs).await.unwrap().commits.len(), 1);
    }

    #[tokio::test]
    async fn says_no_like_a_real_destination() {
        let mut s = MemorySink::new("r").lock_held_elsewhere();
        assert!(matches!(s.open(true).await, Err(SinkError::Locked(_))));
        s.open(false).await.unwrap();
        assert!(!s.is_locked(), "a read-only open takes no lock");

        let mut s = MemorySink::new("r").with_web_base("https://git.example.org/o/r");
        s.open(true).await.unwrap();
        assert!(s.is_locked());
        s.refuse_files_over(3);
        let cs = ChangeSet { message: "big\0".into(), writes: vec![w("p/a b.bin", "1234")], ..Default::default() };
        match s.commit(cs).await {
            Err(SinkError::TooLarge { path, .. }) => assert_eq!(path, "p/a b.bin"),
            other => panic!("{other:?}"),
        }
        let cs = ChangeSet { message: "t\0itle".into(), writes: vec![w("p/a.md", "1")], ..Default::default() };
        s.commit(cs).await.unwrap();
        assert_eq!(s.commits()[0].message, "t itle");
        assert_eq!(s.web_url("p/a b.bin").as_deref(), Some("https://git.example.org/o/r/src/branch/main/p/a%20b.bin"));
        s.push_notice("n");
        assert_eq!(s.take_notices(), vec!["n"]);
        assert!(s.take_notices().is_empty());
    }

    #[tokio::test]
    async fn a_boxed_sink_forwards_every_method() {
        let mut inner = MemorySink::new("r").with_web_base("https://g.example/o/r").lock_held_elsewhere();
        inner.push_notice("stashed");
        let mut b: Box<dyn Sink> = Box::new(inner);
        assert_eq!(b.identity(), "memory:r");
        assert_eq!(b.web_url("a").as_deref(), Some("https://g.example/o/r/src/branch/main/a"));
        assert!(matches!(b.lock().await, Err(SinkError::Locked(_))));
        assert_eq!(b.take_notices(), vec!["stashed"]);
        let mut d = crate::sink::dry_run::DryRunSink::new(b);
        d.lock().await.unwrap();
        assert_eq!(d.identity(), "memory:r");
        assert_eq!(d.web_url("a").as_deref(), Some("https://g.example/o/r/src/branch/main/a"));
    }
}
