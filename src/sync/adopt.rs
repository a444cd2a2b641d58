//! Taking over a backup this tool did not record: the folders and files that
//! `notion-gitea-backup.py` (the seed) wrote, or that this tool wrote under a state that lost its
//! folder records. Pure: it gets the repository's file list, a reader for the few `index.md`
//! files it must identify, and the layout of this run (each node's folder and the files it holds
//! after the run), and returns, per node, the paths that node's own commit deletes.
//!
//! The rule, for every file in the repository that no node of this run holds: find the deepest
//! folder above it that is either a node's folder in this run or holds an `index.md`.
//! - That folder is node X's folder: the file is stale in X's folder (X no longer writes or
//!   references it); X's commit deletes it.
//! - That folder is not assigned in this run, and its `index.md` front matter names node A
//!   (`notion_id`): it is A's earlier folder (the seed's slug differs from ours); A's commit
//!   deletes it, so A is moved into its new folder in one commit.
//! - Anything else (no such folder, an `index.md` naming no node of this run or unreadable): the
//!   file is left alone. Deleting pages gone from Notion is not this module's business.
//!
//! It must not decide when pages are backed up, touch the state, or do I/O itself, and it never
//! returns a path that a node of this run holds (paths are owned by the node that writes them).

use std::collections::{BTreeMap, BTreeSet};

use crate::ids;

/// One node (page or database) of the repository in this run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeLayout {
    /// Notion id, any form (compared canonically).
    pub id: String,
    /// Folder this run assigns to the node (`weekly-review`, `parent/child`); never empty.
    pub folder: String,
    /// Every repository path the node holds after this run: the files it writes, and those it
    /// keeps and still references (a file that could not be downloaded again keeps its copy).
    pub files: BTreeSet<String>,
}

/// What taking over the repository means for this run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Adoption {
    /// Canonical node id -> repository paths its commit deletes (sorted, never empty).
    pub deletes: BTreeMap<String, Vec<String>>,
    /// Canonical ids of the nodes whose earlier folder differs from this run's (moved).
    pub moved: BTreeSet<String>,
}

impl Adoption {
    /// Nodes taken over: those with something to delete (moved, or stale files in their folder).
    pub fn pages(&self) -> usize {
        self.deletes.len()
    }

    /// Files taken over: deleted in favour of this run's files.
    pub fn files(&self) -> usize {
        self.deletes.values().map(Vec::len).sum()
    }

    /// Paths `id`'s commit deletes (empty for a node with nothing to take over).
    pub fn deletes_for(&self, id: &str) -> &[String] {
        self.deletes.get(&ids::normalize(id)).map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn is_empty(&self) -> bool {
        self.deletes.is_empty()
    }
}

/// Folder part of a repository path (`a/b/index.md` -> `a/b`, `README.md` -> ``).
fn parent(path: &str) -> &str {
    path.rfind('/').map(|i| &path[..i]).unwrap_or("")
}

/// The `index.md` files that [`plan`] will read: those of folders no node of this run is
/// assigned. Read them first when reading is asynchronous, then hand [`plan`] a map lookup. In a
/// repository this tool wrote and recorded, the list is empty.
pub fn index_files_to_read<'a>(repo_files: impl IntoIterator<Item = &'a str>, nodes: &[NodeLayout]) -> Vec<String> {
    let assigned: BTreeSet<&str> = nodes.iter().map(|n| n.folder.as_str()).collect();
    let mut out: Vec<String> = repo_files
        .into_iter()
        .filter(|p| p.ends_with("/index.md") && !assigned.contains(parent(p)))
        .map(str::to_string)
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The `notion_id` of an `index.md` front matter (this tool's or the seed's), canonical; `None`
/// without front matter or without a valid id. Line-based, since the seed's front matter is not
/// always valid YAML (titles with quotes are written unescaped).
pub fn front_matter_id(index_md: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(index_md);
    let mut lines = text.lines();
    if lines.next()?.trim_end() != "---" {
        return None;
    }
    for line in lines {
        let line = line.trim_end();
        if line == "---" {
            return None;
        }
        if let Some(v) = line.strip_prefix("notion_id:") {
            let v = v.trim().trim_matches(['"', '\'']);
            let id = ids::normalize(v);
            return (id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())).then_some(id);
        }
    }
    None
}

/// Decide what each node's commit deletes to take the repository over (see the module docs).
/// `repo_files` is every file in the repository now; `read` returns a file's bytes (called only
/// for the paths [`index_files_to_read`] names; `None` leaves that folder alone); `other_files`
/// are paths this run writes that belong to no node (the database `README.md`, `database.csv`).
pub fn plan<'a>(
    repo_files: impl IntoIterator<Item = &'a str>,
    mut read: impl FnMut(&str) -> Option<Vec<u8>>,
    nodes: &[NodeLayout],
    other_files: &BTreeSet<String>,
) -> Adoption {
    let repo_files: BTreeSet<&str> = repo_files.into_iter().collect();
    let by_folder: BTreeMap<&str, String> = nodes.iter().map(|n| (n.folder.as_str(), ids::normalize(&n.id))).collect();
    let node_folder: BTreeMap<String, &str> =
        nodes.iter().map(|n| (ids::normalize(&n.id), n.folder.as_str())).collect();
    let held: BTreeSet<&str> = nodes
        .iter()
        .flat_map(|n| n.files.iter().map(String::as_str))
        .chain(other_files.iter().map(String::as_str))
        .collect();

    // Folders holding an index.md that no node is assigned: whose are they?
    let mut earlier: BTreeMap<String, Option<String>> = BTreeMap::new();
    for path in index_files_to_read(repo_files.iter().copied(), nodes) {
        let id = read(&path).as_deref().and_then(front_matter_id).filter(|id| node_folder.contains_key(id));
        earlier.insert(parent(&path).to_string(), id);
    }

    let mut out = Adoption::default();
    for path in repo_files.iter().copied().filter(|p| !held.contains(p)) {
        let mut dir = parent(path);
        let owner = loop {
            if let Some(id) = by_folder.get(dir) {
                break Some((id.clone(), false));
            }
            if let Some(id) = earlier.get(dir) {
                break id.clone().map(|id| (id, true));
            }
            if dir.is_empty() {
                break None;
            }
            dir = parent(dir);
        };
        if let Some((id, moved)) = owner {
            if moved {
                out.moved.insert(id.clone());
            }
            out.deletes.entry(id).or_default().push(path.to_string());
        }
    }
    for v in out.deletes.values_mut() {
        v.sort();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "aaaaaaaa-1111-4222-8000-000000000001";
    const B: &str = "bbbbbbbb-1111-4222-8000-000000000002";
    const C: &str = "cccccccc-1111-4222-8000-000000000003";

    /// `index.md` as the seed writes it.
    fn seed_index(id: &str, title: &str) -> Vec<u8> {
        format!(
            "---\ntitle: \"{title}\"\nsource: notion\nnotion_id: {id}\nbacked_up: 2026-03-01T03:00:00.123456+00:00\n---\n\n# {title}\n\n"
        )
        .into_bytes()
    }

    fn node(id: &str, folder: &str, files: &[&str]) -> NodeLayout {
        NodeLayout {
            id: id.into(),
            folder: folder.into(),
            files: files.iter().map(|f| format!("{folder}/{f}")).collect(),
        }
    }

    fn run(repo: &BTreeMap<&str, Vec<u8>>, nodes: &[NodeLayout], other: &[&str]) -> Adoption {
        let other: BTreeSet<String> = other.iter().map(|s| s.to_string()).collect();
        plan(repo.keys().copied(), |p| repo.get(p).cloned(), nodes, &other)
    }

    #[test]
    fn seed_folder_with_another_slug_is_moved_by_its_page() {
        let repo: BTreeMap<&str, Vec<u8>> = [
            ("etcpasswd/index.md", seed_index(A, "/etc/passwd")),
            ("etcpasswd/assets/1-etcpasswd.png", b"png".to_vec()),
            ("README.md", b"# db".to_vec()),
        ]
        .into_iter()
        .collect();
        let nodes = [node(A, "etc-passwd", &["index.md", "page.json", "assets/1-image.png"])];
        let a = run(&repo, &nodes, &["README.md"]);
        assert_eq!(a.deletes_for(A), ["etcpasswd/assets/1-etcpasswd.png", "etcpasswd/index.md"]);
        assert_eq!(a.moved, BTreeSet::from([ids::normalize(A)]));
        assert_eq!((a.pages(), a.files()), (1, 2));
    }

    #[test]
    fn stale_seed_files_in_our_folder_are_deleted_but_written_and_kept_files_never() {
        let repo: BTreeMap<&str, Vec<u8>> = [
            ("weekly-review/index.md", seed_index(B, "Weekly review")),
            ("weekly-review/assets/1-goals.png", b"same name as ours".to_vec()),
            ("weekly-review/assets/2-weekly-review.png", b"seed only".to_vec()),
            ("weekly-review/attachments/plan.pdf", b"kept: download failed, still referenced".to_vec()),
        ]
        .into_iter()
        .collect();
        let nodes = [node(B, "weekly-review", &["index.md", "assets/1-goals.png", "attachments/plan.pdf"])];
        let a = run(&repo, &nodes, &[]);
        assert_eq!(a.deletes_for(B), ["weekly-review/assets/2-weekly-review.png"]);
        assert!(a.moved.is_empty(), "same folder: nothing moved");
    }

    #[test]
    fn a_seed_folder_that_is_another_pages_folder_now_is_cleaned_in_that_pages_commit() {
        // The seed named A (empty title) `untitled/`; this run gives `untitled/` to C ("Untitled").
        let repo: BTreeMap<&str, Vec<u8>> = [
            ("untitled/index.md", seed_index(A, "Untitled")),
            ("untitled/assets/1-untitled.png", b"A's image".to_vec()),
        ]
        .into_iter()
        .collect();
        let nodes = [node(A, "untitled-aaaaaaaa", &["index.md"]), node(C, "untitled", &["index.md"])];
        let a = run(&repo, &nodes, &[]);
        // C writes untitled/index.md: owned, never deleted; the image is stale in C's folder.
        assert_eq!(a.deletes_for(C), ["untitled/assets/1-untitled.png"]);
        assert!(a.deletes_for(A).is_empty());
    }

    #[test]
    fn paths_another_node_writes_are_never_returned() {
        // A's earlier folder `old/` holds a file that C writes in this run: C's, never deleted.
        let repo: BTreeMap<&str, Vec<u8>> = [
            ("old/index.md", seed_index(A, "Old")),
            ("old/assets/1-old.png", b"x".to_vec()),
            ("old/shared.txt", b"written by C".to_vec()),
        ]
        .into_iter()
        .collect();
        let nodes = [
            node(A, "new", &["index.md"]),
            NodeLayout {
                id: C.into(),
                folder: "c".into(),
                files: ["c/index.md".into(), "old/shared.txt".into()].into(),
            },
        ];
        let a = run(&repo, &nodes, &[]);
        assert_eq!(a.deletes_for(A), ["old/assets/1-old.png", "old/index.md"]);
        let all: Vec<&String> = a.deletes.values().flatten().collect();
        assert!(!all.iter().any(|p| *p == "old/shared.txt"));
    }

    #[test]
    fn unknown_folders_and_loose_files_are_left_alone() {
        let repo: BTreeMap<&str, Vec<u8>> = [
            ("gone/index.md", seed_index(C, "A page deleted in Notion")),
            ("gone/assets/1-gone.png", b"x".to_vec()),
            ("notes.txt", b"the user's own file".to_vec()),
            ("broken/index.md", b"no front matter".to_vec()),
            ("broken/x.png", b"x".to_vec()),
            ("unreadable/index.md", b"---\nnotion_id: aaaaaaaa111142228000000000000001\n---\n".to_vec()),
        ]
        .into_iter()
        .collect();
        let nodes = [node(A, "a", &["index.md"])];
        let other = BTreeSet::new();
        let a = plan(repo.keys().copied(), |p| (p != "unreadable/index.md").then(|| repo[p].clone()), &nodes, &other);
        assert!(a.is_empty(), "{a:?}");
    }

    #[test]
    fn child_folders_of_unchanged_nodes_inside_a_folder_are_protected() {
        // Our own layout with lost folder records: parent P holds a child page folder whose
        // node is not in this run's list; its index.md names an unknown id, so it stays.
        let repo: BTreeMap<&str, Vec<u8>> = [
            ("p/index.md", seed_index(A, "P")),
            ("p/child/index.md", seed_index(C, "Child")),
            ("p/child/assets/1-child.png", b"x".to_vec()),
            ("p/assets/9-old.png", b"x".to_vec()),
        ]
        .into_iter()
        .collect();
        let a = run(&repo, &[node(A, "p", &["index.md"])], &[]);
        assert_eq!(a.deletes_for(A), ["p/assets/9-old.png"]);
    }

    #[test]
    fn this_tools_index_with_lost_folder_records_is_recognised() {
        // A state that lost its folder records: our own front matter (quoted id) in a folder the
        // run now names differently (the title changed while the records were lost).
        let ours = format!(
            "---\ntitle: \"Plan\"\nnotion_id: \"{}\"\nnotion_url: \"https://www.notion.so/x\"\n---\n\n# Plan\n",
            ids::normalize(B)
        );
        let repo: BTreeMap<&str, Vec<u8>> =
            [("plan/index.md", ours.into_bytes()), ("plan/page.json", b"{}".to_vec())].into_iter().collect();
        let a = run(&repo, &[node(B, "plan-2026", &["index.md", "page.json"])], &[]);
        assert_eq!(a.deletes_for(B), ["plan/index.md", "plan/page.json"]);
        assert_eq!(a.moved.len(), 1);
    }

    #[test]
    fn only_unassigned_index_files_are_read() {
        let files = ["a/index.md", "b/index.md", "b/assets/1.png", "README.md", "b/c/index.md"];
        let nodes = [node(A, "a", &["index.md"])];
        assert_eq!(index_files_to_read(files, &nodes), ["b/c/index.md", "b/index.md"]);
        let mut reads = Vec::new();
        let _ = plan(
            files,
            |p| {
                reads.push(p.to_string());
                None
            },
            &nodes,
            &BTreeSet::new(),
        );
        assert_eq!(reads, ["b/c/index.md", "b/index.md"]);
    }

    #[test]
    fn front_matter_ids() {
        assert_eq!(front_matter_id(&seed_index(A, "Title \"quoted\"")), Some(ids::normalize(A)));
        assert_eq!(
            front_matter_id(b"---\r\nnotion_id: 'AAAAAAAA111142228000000000000001'\r\n---\r\n"),
            Some(ids::normalize(A))
        );
        assert_eq!(front_matter_id(b"# no front matter\nnotion_id: x\n"), None);
        assert_eq!(front_matter_id(b"---\ntitle: x\n---\nnotion_id: aaaaaaaa111142228000000000000001\n"), None);
        assert_eq!(front_matter_id(b"---\nnotion_id: not-an-id\n---\n"), None);
    }
}
