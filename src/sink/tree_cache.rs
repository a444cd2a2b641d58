//! The last tree a Gitea repository was seen with, kept on disk between runs so that a run with
//! nothing to commit reads one page of the tree instead of all of them.
//!
//! Owns: git tree ids computed from a flat listing (path -> mode and object id), and the cache
//! file's format: the tree, its tree id and the commit whose tree it is (written atomically).
//! A file is read back only when what it holds hashes to the tree id written in it, git's own hash
//! over every path, mode and blob id below the root; one byte off and it is ignored. The sink
//! writes one only for a tree it knows exactly: read whole from the server at that commit, or
//! committed to and hashing to the tree id the server answered for the commit.
//! Must not: decide when a tree is read (the Gitea sink does), or hold anything secret.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;

use sha1::{Digest, Sha1};

use super::diff::Tree;

/// Entries other than a plain file (mode 100644): path -> (mode, object id). Executable files and
/// symlinks are blobs and are in the [`Tree`] as well; submodules (mode 160000) are only here.
pub type Special = BTreeMap<String, (String, String)>;

const HEADER: &[u8] = b"notion-git-backup tree cache 1\n";

/// The git tree id (SHA-1, lowercase hex) of the root tree holding `files` and `special`.
/// `None` when an object id is not 40 hex digits (nothing to compare then).
pub fn tree_id(files: &Tree, special: &Special) -> Option<String> {
    let mut root = Dir::default();
    for (path, sha) in files {
        let mode = special.get(path).map_or("100644", |(m, _)| m.as_str());
        root.insert(path, mode, sha);
    }
    for (path, (mode, sha)) in special {
        if !files.contains_key(path) {
            root.insert(path, mode, sha);
        }
    }
    root.id()
}

#[derive(Default)]
struct Dir<'a> {
    files: BTreeMap<&'a str, (&'a str, &'a str)>,
    dirs: BTreeMap<&'a str, Dir<'a>>,
}

impl<'a> Dir<'a> {
    fn insert(&mut self, path: &'a str, mode: &'a str, sha: &'a str) {
        match path.split_once('/') {
            Some((dir, rest)) => self.dirs.entry(dir).or_default().insert(rest, mode, sha),
            None => {
                self.files.insert(path, (mode, sha));
            }
        }
    }

    /// `"tree <len>\0"` + entries `"<mode> <name>\0<20 bytes>"`, sorted the way git sorts them: by
    /// name, a folder's name compared as if it ended in `/`.
    fn id(&self) -> Option<String> {
        let mut entries: Vec<(Vec<u8>, String, [u8; 20])> = Vec::with_capacity(self.files.len() + self.dirs.len());
        for (name, (mode, sha)) in &self.files {
            entries.push((name.as_bytes().to_vec(), format!("{mode} {name}"), raw(sha)?));
        }
        for (name, dir) in &self.dirs {
            let mut key = name.as_bytes().to_vec();
            key.push(b'/');
            entries.push((key, format!("40000 {name}"), raw(&dir.id()?)?));
        }
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let mut body = Vec::new();
        for (_, head, id) in &entries {
            body.extend_from_slice(head.as_bytes());
            body.push(0);
            body.extend_from_slice(id);
        }
        let mut h = Sha1::new();
        h.update(format!("tree {}\0", body.len()).as_bytes());
        h.update(&body);
        Some(hex::encode(h.finalize()))
    }
}

fn raw(sha: &str) -> Option<[u8; 20]> {
    let mut out = [0u8; 20];
    hex::decode_to_slice(sha, &mut out).ok()?;
    Some(out)
}

/// A tree kept from an earlier run.
#[derive(Debug, Clone, PartialEq)]
pub struct Kept {
    /// The commit whose tree this is.
    pub commit: String,
    /// Its root tree id.
    pub tree: String,
    pub files: Tree,
    pub special: Special,
}

/// Read the cache at `path`, when the file is whole and what it holds hashes to the tree id
/// written in it. A missing, foreign or damaged file is `None` (the tree is then paged).
pub fn load(path: &Path) -> Option<Kept> {
    let bytes = std::fs::read(path).ok()?;
    let rest = bytes.strip_prefix(HEADER)?;
    let (id, rest) = split_at_byte(rest, b'\n')?;
    let id = std::str::from_utf8(id).ok()?.to_string();
    let (commit, mut rest) = split_at_byte(rest, b'\n')?;
    let commit = std::str::from_utf8(commit).ok()?.to_string();
    let mut files = Tree::new();
    let mut special = Special::new();
    while !rest.is_empty() {
        let (record, tail) = split_at_byte(rest, 0)?;
        rest = tail;
        let record = std::str::from_utf8(record).ok()?;
        let (meta, path) = record.split_once('\t')?;
        let (mode, sha) = meta.split_once(' ')?;
        if mode != "160000" {
            files.insert(path.to_string(), sha.to_string());
        }
        if mode != "100644" {
            special.insert(path.to_string(), (mode.to_string(), sha.to_string()));
        }
    }
    (tree_id(&files, &special)? == id).then_some(Kept { commit, tree: id, files, special })
}

/// Write the cache for the tree `files` + `special` of `commit` to `path` (a temporary file
/// renamed over it, so a crash leaves the old cache or the new one). Returns the tree id written.
pub fn save(path: &Path, commit: &str, files: &Tree, special: &Special) -> std::io::Result<String> {
    let id = tree_id(files, special).ok_or_else(|| std::io::Error::other("an object id is not 40 hex digits"))?;
    let mut out = Vec::with_capacity(HEADER.len() + 84 + files.len() * 64);
    out.extend_from_slice(HEADER);
    out.extend_from_slice(id.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(commit.trim().as_bytes());
    out.push(b'\n');
    let mut record = |path: &str, mode: &str, sha: &str| {
        out.extend_from_slice(format!("{mode} {sha}\t{path}").as_bytes());
        out.push(0);
    };
    for (p, sha) in files {
        let mode = special.get(p).map_or("100644", |(m, _)| m.as_str());
        record(p, mode, sha);
    }
    for (p, (mode, sha)) in special {
        if !files.contains_key(p) {
            record(p, mode, sha);
        }
    }
    let tmp = path.with_extension("tree.tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&out)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    Ok(id)
}

fn split_at_byte(b: &[u8], sep: u8) -> Option<(&[u8], &[u8])> {
    let i = b.iter().position(|&c| c == sep)?;
    Some((&b[..i], &b[i + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn git(dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> String {
        use std::io::Write;
        let mut c = Command::new("git")
            .current_dir(dir)
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(s) = stdin {
            c.stdin.take().unwrap().write_all(s).unwrap();
        }
        drop(c.stdin.take());
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "git {args:?}");
        String::from_utf8(out.stdout).unwrap()
    }

    /// The ids computed here are the ones git computes, for nested folders, names that sort
    /// differently as folders (`a.md` vs `a/`), an executable file, a symlink and a submodule.
    #[test]
    fn tree_ids_are_the_ones_git_computes() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        git(d, &["init", "-q", "--bare"], None);
        let blob =
            |content: &str| git(d, &["hash-object", "-w", "--stdin"], Some(content.as_bytes())).trim().to_string();
        let mut files = Tree::new();
        let mut special = Special::new();
        for (path, content) in [
            ("README.md", "index\n"),
            ("a.md", "x"),
            ("a/index.md", "y"),
            ("a-b/index.md", "z"),
            ("Quarterly report (final).pdf", "%PDF"),
            ("row/assets/1 – image.png", "png"),
            ("row/index.md", ""),
        ] {
            files.insert(path.to_string(), blob(content));
        }
        let exe = blob("#!/bin/sh\n");
        files.insert("run.sh".into(), exe.clone());
        special.insert("run.sh".into(), ("100755".into(), exe));
        let link = blob("README.md");
        files.insert("link".into(), link.clone());
        special.insert("link".into(), ("120000".into(), link));
        let sub = "0123456789abcdef0123456789abcdef01234567".to_string();
        special.insert("vendor/lib".into(), ("160000".into(), sub.clone()));

        let mut info = String::new();
        for (p, sha) in &files {
            let mode = special.get(p).map_or("100644", |(m, _)| m.as_str());
            info.push_str(&format!("{mode} blob {sha}\t{p}\n"));
        }
        info.push_str(&format!("160000 commit {sub}\tvendor/lib\n"));
        let env_index = d.join("index");
        let out = Command::new("git")
            .current_dir(d)
            .env("GIT_INDEX_FILE", &env_index)
            .args(["update-index", "--add", "--index-info"])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write;
                c.stdin.take().unwrap().write_all(info.as_bytes())?;
                c.wait()
            })
            .unwrap();
        assert!(out.success());
        let want = String::from_utf8(
            Command::new("git")
                .current_dir(d)
                .env("GIT_INDEX_FILE", &env_index)
                .arg("write-tree")
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap();
        assert_eq!(tree_id(&files, &special).as_deref(), Some(want.trim()));

        // Round trip through the file, and a changed blob id is refused.
        let cache = d.join("c.tree");
        let id = save(&cache, &sub, &files, &special).unwrap();
        assert_eq!(id, want.trim());
        let kept = load(&cache).unwrap();
        assert_eq!(kept, Kept { commit: sub.clone(), tree: id, files: files.clone(), special: special.clone() });
        let text = std::fs::read(&cache).unwrap();
        let first = files.values().next().unwrap().clone();
        let mut bad = first.clone().into_bytes();
        bad[0] = if bad[0] == b'0' { b'1' } else { b'0' };
        let tampered = String::from_utf8_lossy(&text).replacen(&first, std::str::from_utf8(&bad).unwrap(), 1);
        std::fs::write(&cache, tampered).unwrap();
        assert!(load(&cache).is_none(), "a cache whose entries do not hash to its id is ignored");
        std::fs::write(&cache, b"something else").unwrap();
        assert!(load(&cache).is_none());
        assert!(load(&d.join("missing.tree")).is_none());
    }
}
