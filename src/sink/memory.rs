//! An in-memory [`Sink`] for engine tests: a tree of files and the list of commits made.
//!
//! Same diff rules as the real sinks (shared `diff` module). It can be told to fail the next
//! commits with a transient error, to test how the engine carries on. Never touches the disk
//! except to read staged `Content::File` files.

use std::collections::BTreeMap;

use super::diff::{self, Tree};
use super::{blob_id, ChangeSet, CommitOutcome, Content, Plan, Sink, SinkError};

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

    async fn open(&mut self, create: bool) -> Result<(), SinkError> {
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
        let id = blob_id(format!("{}:{}:{}", self.name, self.commits.len(), change.message).as_bytes());
        self.commits.push(MemoryCommit { id: id.clone(), message: change.message, plan: plan.clone() });
        Ok(CommitOutcome { plan, commits: vec![id], blob_ids })
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
}
