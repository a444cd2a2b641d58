//! `--dry-run`: a decorator around any [`Sink`] that plans instead of writing.
//!
//! `open` never creates anything (a missing repository is planned against as an empty tree and
//! reported by [`DryRunSink::would_create`]); `commit` returns the plan without writing and records
//! it, so the run can print per repository the files that would be added, changed and deleted and
//! the commits that would be made. `finish` never pushes, and `lock` takes no lock: a dry run
//! writes nothing, so it may run beside a real one.

use std::collections::BTreeSet;

use super::diff;
use super::{ChangeSet, CommitOutcome, Plan, Sink, SinkError};

/// A commit that would have been made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedCommit {
    pub message: String,
    pub plan: Plan,
}

pub struct DryRunSink<S: Sink> {
    inner: S,
    missing: bool,
    planned: Vec<PlannedCommit>,
}

impl<S: Sink> DryRunSink<S> {
    pub fn new(inner: S) -> Self {
        DryRunSink { inner, missing: false, planned: Vec::new() }
    }

    /// Change sets that would have made a commit, in order.
    pub fn planned(&self) -> &[PlannedCommit] {
        &self.planned
    }

    /// True when the repository does not exist and a real run would have to create it.
    pub fn would_create(&self) -> bool {
        self.missing
    }

    pub fn inner(&self) -> &S {
        &self.inner
    }

    pub fn into_inner(self) -> S {
        self.inner
    }
}

#[async_trait::async_trait]
impl<S: Sink> Sink for DryRunSink<S> {
    fn describe(&self) -> String {
        format!("{} (dry run)", self.inner.describe())
    }

    fn identity(&self) -> String {
        self.inner.identity()
    }

    fn web_url(&self, path: &str) -> Option<String> {
        self.inner.web_url(path)
    }

    async fn lock(&mut self) -> Result<(), SinkError> {
        Ok(())
    }

    async fn open(&mut self, _create: bool) -> Result<(), SinkError> {
        match self.inner.open(false).await {
            Ok(()) => Ok(()),
            Err(SinkError::Missing(_)) => {
                self.missing = true;
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    async fn plan(&self, change: &ChangeSet) -> Result<Plan, SinkError> {
        if self.missing {
            let writes = diff::prepare(change).await?;
            return Ok(diff::plan_of(&diff::diff(&diff::Tree::new(), &writes, change), &writes));
        }
        self.inner.plan(change).await
    }

    async fn commit(&mut self, change: ChangeSet) -> Result<CommitOutcome, SinkError> {
        let plan = self.plan(&change).await?;
        let blob_ids = diff::blob_ids(&diff::prepare(&change).await?);
        if !plan.is_empty() {
            self.planned.push(PlannedCommit { message: super::commit_message(&change.message), plan: plan.clone() });
        }
        Ok(CommitOutcome { plan, commits: vec![], blob_ids })
    }

    async fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>, SinkError> {
        if self.missing {
            return Ok(None);
        }
        self.inner.read_file(path).await
    }

    /// The inner tree as it would look after the planned commits.
    fn files_under(&self, dir: &str) -> Vec<String> {
        let mut files: BTreeSet<String> =
            if self.missing { BTreeSet::new() } else { self.inner.files_under(dir).into_iter().collect() };
        let inside = |p: &str| dir.is_empty() || p.strip_prefix(dir).is_some_and(|r| r.starts_with('/'));
        for c in &self.planned {
            for p in &c.plan.deleted {
                files.remove(p);
            }
            files.extend(c.plan.added.iter().filter(|p| inside(p)).cloned());
        }
        files.into_iter().collect()
    }

    /// The inner tree's blob (a dry run does not track the blobs of planned writes).
    fn blob_of(&self, path: &str) -> Option<String> {
        if self.missing {
            return None;
        }
        self.inner.blob_of(path)
    }

    async fn finish(&mut self) -> Result<(), SinkError> {
        Ok(())
    }

    fn take_notices(&mut self) -> Vec<String> {
        self.inner.take_notices()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::memory::MemorySink;
    use crate::sink::{Content, FileWrite};

    fn cs(path: &str, c: &str) -> ChangeSet {
        ChangeSet {
            message: format!("write {path}"),
            writes: vec![FileWrite { path: path.into(), content: Content::Bytes(c.as_bytes().to_vec()) }],
            replace_dirs: vec!["p".into()],
            deletes: vec![],
        }
    }

    #[tokio::test]
    async fn records_plans_and_writes_nothing() {
        let inner = MemorySink::new("r").with_files([("p/old.md".to_string(), b"o".to_vec())]);
        let mut d = DryRunSink::new(inner);
        d.open(true).await.unwrap();
        let out = d.commit(cs("p/index.md", "x")).await.unwrap();
        assert!(out.commits.is_empty());
        assert_eq!(out.plan.added, vec!["p/index.md"]);
        assert_eq!(out.plan.deleted, vec!["p/old.md"]);
        assert_eq!(d.planned().len(), 1);
        assert_eq!(d.files_under("p"), vec!["p/index.md"]);
        let inner = d.into_inner();
        assert!(inner.commits().is_empty());
        assert!(inner.file("p/index.md").is_none());
    }

    #[tokio::test]
    async fn missing_repository_is_planned_as_empty_and_not_created() {
        let mut d = DryRunSink::new(MemorySink::missing("r"));
        d.open(true).await.unwrap();
        assert!(d.would_create());
        let out = d.commit(cs("p/index.md", "x")).await.unwrap();
        assert_eq!(out.plan.added, vec!["p/index.md"]);
        let mut inner = d.into_inner();
        assert!(matches!(inner.open(false).await, Err(SinkError::Missing(_))));
    }
}
