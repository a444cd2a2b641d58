//! Turning a [`ChangeSet`] into operations against a known tree (path -> blob id), shared by
//! every sink so they agree on what "changed" means.
//!
//! Owns: path validation (every path must pass [`crate::paths::is_safe_relative`]), hashing the
//! writes, and the create/update/delete diff including file/folder clashes (a file where a folder
//! must go is deleted, and the other way round). Does no I/O besides hashing staged files.

use std::collections::{BTreeMap, BTreeSet};

use super::{blob_id_of_content, ChangeSet, Content, Plan, SinkError};
use crate::paths::is_safe_relative;

/// Current tree of a repository: file path -> git blob id.
pub type Tree = BTreeMap<String, String>;

/// A write with its blob id and size computed.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub path: String,
    pub content: Content,
    pub blob: String,
    pub size: u64,
}

/// One file operation. `Put::write` indexes the prepared writes; `old` is the blob id being
/// replaced (`None` = create).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Put { write: usize, old: Option<String> },
    Delete { path: String, sha: String },
}

/// Reject unsafe, duplicate or self-contradicting paths before anything is written.
pub fn validate(change: &ChangeSet) -> Result<(), SinkError> {
    let unsafe_path = |kind: &str, p: &str| {
        SinkError::Config(format!(
            "refusing unsafe {kind} path {p:?}: paths must be relative, without `..`, empty parts or `.git`"
        ))
    };
    let mut seen = BTreeSet::new();
    for w in &change.writes {
        if !is_safe_relative(&w.path) {
            return Err(unsafe_path("file", &w.path));
        }
        if !seen.insert(w.path.as_str()) {
            return Err(SinkError::Config(format!("the change set writes {:?} twice", w.path)));
        }
    }
    for w in &change.writes {
        for anc in ancestors(&w.path) {
            if seen.contains(anc) {
                return Err(SinkError::Config(format!(
                    "the change set writes both the file {anc:?} and {:?} inside it",
                    w.path
                )));
            }
        }
    }
    for d in &change.replace_dirs {
        if !is_safe_relative(d) {
            return Err(unsafe_path("folder", d));
        }
    }
    for d in &change.deletes {
        if !is_safe_relative(d) {
            return Err(unsafe_path("delete", d));
        }
    }
    Ok(())
}

/// Validate and hash every write (staged files are streamed).
pub async fn prepare(change: &ChangeSet) -> Result<Vec<Prepared>, SinkError> {
    validate(change)?;
    let mut out = Vec::with_capacity(change.writes.len());
    for w in &change.writes {
        let (blob, size) = blob_id_of_content(&w.content).await.map_err(|e| match &w.content {
            Content::File(p) => SinkError::Io(format!("cannot read staged file {} for {}: {e}", p.display(), w.path)),
            Content::Bytes(_) => SinkError::Io(format!("cannot hash {}: {e}", w.path)),
        })?;
        out.push(Prepared { path: w.path.clone(), content: w.content.clone(), blob, size });
    }
    Ok(out)
}

/// Parent folders of a path, nearest last: `a/b/c` -> `a`, `a/b`.
fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/').map(move |(i, _)| &path[..i])
}

/// Files of `tree` strictly inside folder `dir`.
pub fn files_in<'a>(tree: &'a Tree, dir: &'a str) -> impl Iterator<Item = (&'a String, &'a String)> + 'a {
    let prefix = format!("{dir}/");
    tree.range(prefix.clone()..).take_while(move |(p, _)| p.starts_with(&prefix))
}

/// Operations that turn `tree` into the state the change set asks for: puts in write order, then
/// deletes sorted by path. Empty when nothing would change.
pub fn diff(tree: &Tree, writes: &[Prepared], change: &ChangeSet) -> Vec<Op> {
    let written: BTreeSet<&str> = writes.iter().map(|w| w.path.as_str()).collect();
    let mut deletes: BTreeMap<String, String> = BTreeMap::new();
    let mut delete_unwritten = |p: &str, sha: &str| {
        if !written.contains(p) {
            deletes.insert(p.to_string(), sha.to_string());
        }
    };
    for dir in change.replace_dirs.iter().chain(change.deletes.iter()) {
        if let Some(sha) = tree.get(dir) {
            delete_unwritten(dir, sha);
        }
        for (p, sha) in files_in(tree, dir) {
            delete_unwritten(p, sha);
        }
    }
    let mut ops = Vec::new();
    for (i, w) in writes.iter().enumerate() {
        // A file where one of our folders must go, or files where our file must go.
        for anc in ancestors(&w.path) {
            if let Some(sha) = tree.get(anc) {
                delete_unwritten(anc, sha);
            }
        }
        for (p, sha) in files_in(tree, &w.path) {
            delete_unwritten(p, sha);
        }
        match tree.get(&w.path) {
            Some(sha) if *sha == w.blob => {}
            old => ops.push(Op::Put { write: i, old: old.cloned() }),
        }
    }
    ops.extend(deletes.into_iter().map(|(path, sha)| Op::Delete { path, sha }));
    ops
}

/// The user-facing summary of a list of operations.
pub fn plan_of(ops: &[Op], writes: &[Prepared]) -> Plan {
    let mut plan = Plan::default();
    for op in ops {
        match op {
            Op::Put { write, old: None } => plan.added.push(writes[*write].path.clone()),
            Op::Put { write, old: Some(_) } => plan.changed.push(writes[*write].path.clone()),
            Op::Delete { path, .. } => plan.deleted.push(path.clone()),
        }
    }
    plan
}

/// Record in `tree` the effect of operations that were committed.
pub fn apply(tree: &mut Tree, ops: &[Op], writes: &[Prepared]) {
    for op in ops {
        match op {
            Op::Put { write, .. } => {
                tree.insert(writes[*write].path.clone(), writes[*write].blob.clone());
            }
            Op::Delete { path, .. } => {
                tree.remove(path);
            }
        }
    }
}

/// True when `tree` already holds what `ops` would write (used after an ambiguous failure).
pub fn landed(tree: &Tree, ops: &[Op], writes: &[Prepared]) -> bool {
    ops.iter().all(|op| match op {
        Op::Put { write, .. } => tree.get(&writes[*write].path) == Some(&writes[*write].blob),
        Op::Delete { path, .. } => !tree.contains_key(path),
    })
}

/// Path -> blob id of every write (for [`super::CommitOutcome::blob_ids`]).
pub fn blob_ids(writes: &[Prepared]) -> BTreeMap<String, String> {
    writes.iter().map(|w| (w.path.clone(), w.blob.clone())).collect()
}

/// A change set worked out against a tree: what every sink's `commit` starts with.
pub struct Staged {
    pub writes: Vec<Prepared>,
    pub ops: Vec<Op>,
    pub plan: Plan,
    pub blob_ids: BTreeMap<String, String>,
}

/// Validate and hash `change`, and diff it against `tree`.
pub async fn stage(tree: &Tree, change: &ChangeSet) -> Result<Staged, SinkError> {
    let writes = prepare(change).await?;
    let ops = diff(tree, &writes, change);
    let plan = plan_of(&ops, &writes);
    let blob_ids = blob_ids(&writes);
    Ok(Staged { writes, ops, plan, blob_ids })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::{blob_id, FileWrite};

    fn tree(entries: &[(&str, &[u8])]) -> Tree {
        entries.iter().map(|(p, c)| (p.to_string(), blob_id(c))).collect()
    }

    fn write(path: &str, c: &[u8]) -> FileWrite {
        FileWrite { path: path.into(), content: Content::Bytes(c.to_vec()) }
    }

    async fn plan(t: &Tree, change: &ChangeSet) -> Plan {
        let w = prepare(change).await.unwrap();
        plan_of(&diff(t, &w, change), &w)
    }

    #[tokio::test]
    async fn replace_dir_deletes_unwritten_files_and_skips_equal_ones() {
        let t = tree(&[("p/index.md", b"a"), ("p/old.png", b"x"), ("q/index.md", b"q")]);
        let change = ChangeSet {
            writes: vec![write("p/index.md", b"a"), write("p/new.png", b"n")],
            replace_dirs: vec!["p".into()],
            ..Default::default()
        };
        let p = plan(&t, &change).await;
        assert_eq!(p.added, vec!["p/new.png"]);
        assert!(p.changed.is_empty());
        assert_eq!(p.deleted, vec!["p/old.png"]);
    }

    #[tokio::test]
    async fn renamed_page_removes_old_folder() {
        let t = tree(&[("old-title/index.md", b"a"), ("old-title/img.png", b"i"), ("old-titles/x.md", b"keep")]);
        let change = ChangeSet {
            writes: vec![write("new-title/index.md", b"a2")],
            replace_dirs: vec!["new-title".into()],
            deletes: vec!["old-title".into()],
            ..Default::default()
        };
        let p = plan(&t, &change).await;
        assert_eq!(p.added, vec!["new-title/index.md"]);
        assert_eq!(p.deleted, vec!["old-title/img.png", "old-title/index.md"]);
    }

    #[tokio::test]
    async fn file_folder_clashes_are_resolved() {
        let t = tree(&[("a", b"file"), ("b/c.md", b"c")]);
        let change = ChangeSet { writes: vec![write("a/x.md", b"x"), write("b", b"now a file")], ..Default::default() };
        let p = plan(&t, &change).await;
        assert_eq!(p.added, vec!["a/x.md", "b"]);
        assert_eq!(p.deleted, vec!["a", "b/c.md"]);
    }

    #[tokio::test]
    async fn hostile_and_contradictory_paths_are_rejected() {
        for bad in ["../etc/passwd", "/abs", "a/.git/hooks/pre-commit", ".git/config", "a//b", "a\\b"] {
            let c = ChangeSet { writes: vec![write(bad, b"x")], ..Default::default() };
            let e = validate(&c).unwrap_err().to_string();
            assert!(e.contains("unsafe"), "{bad}: {e}");
            let c = ChangeSet { deletes: vec![bad.into()], ..Default::default() };
            assert!(validate(&c).is_err(), "{bad}");
            let c = ChangeSet { replace_dirs: vec![bad.into()], ..Default::default() };
            assert!(validate(&c).is_err(), "{bad}");
        }
        let c = ChangeSet { writes: vec![write("a", b"1"), write("a/b", b"2")], ..Default::default() };
        assert!(validate(&c).is_err());
        let c = ChangeSet { writes: vec![write("a", b"1"), write("a", b"2")], ..Default::default() };
        assert!(validate(&c).is_err());
    }
}
