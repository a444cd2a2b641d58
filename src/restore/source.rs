//! Reading backups: the files of each backed-up repository given with `--from`, either as they
//! are on disk (a clone's work tree, the local sink's repository, or a plain copy of one) or as
//! they were at `--at` (a date or a commit), read from the repository's git history with the git
//! CLI (`rev-list`, `ls-tree`, `cat-file`; nothing that runs the repository's hooks, filters or
//! fsmonitor). `--from` is one repository or a folder holding several side by side (the local
//! sink's `BACKUP_DIR` layout).
//!
//! This module only lists and reads files; what they mean is `super::backup`'s business. It
//! never writes to a backup, and it never reads outside the repository it lists.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{NaiveDate, TimeZone};

/// A problem reading a backup; each names the thing to fix.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("--from {path}: {reason}")]
    From { path: String, reason: String },
    #[error("--at {at}: {reason}")]
    At { at: String, reason: String },
    #[error("cannot read {path} in the backup {repo}: {reason}")]
    Read { repo: String, path: String, reason: String },
}

/// How a repository's files are read.
#[derive(Debug, Clone)]
enum Reader {
    /// Files on disk below this folder.
    Dir(PathBuf),
    /// Blobs of a commit, through `git -C <dir>`.
    Git { dir: PathBuf },
}

/// One backed-up repository.
#[derive(Debug, Clone)]
pub struct Repo {
    /// Its folder name (the repository name, e.g. `notion-notes`).
    pub name: String,
    /// Where it is on disk.
    pub path: PathBuf,
    /// The commit read (with `--at`, or for a bare repository), else `None` (the work tree).
    pub commit: Option<String>,
    /// Path (with `/`) -> blob id (git) or empty (disk), sorted.
    pub files: BTreeMap<String, String>,
    reader: Reader,
}

impl Repo {
    /// The bytes of `path` (a path listed in [`Repo::files`]).
    pub fn read(&self, path: &str) -> Result<Vec<u8>, SourceError> {
        let err = |reason: String| SourceError::Read { repo: self.name.clone(), path: path.to_string(), reason };
        let Some(blob) = self.files.get(path) else {
            return Err(err("no such file in the backup".into()));
        };
        match &self.reader {
            Reader::Dir(root) => std::fs::read(root.join(path)).map_err(|e| err(e.to_string())),
            Reader::Git { dir } => {
                let out = git(dir).args(["cat-file", "blob", blob]).output().map_err(|e| err(git_missing(&e)))?;
                if !out.status.success() {
                    return Err(err(String::from_utf8_lossy(&out.stderr).trim().to_string()));
                }
                Ok(out.stdout)
            }
        }
    }

    /// Size of `path` in bytes, without reading it when the file is on disk.
    pub fn size(&self, path: &str) -> Option<u64> {
        let blob = self.files.get(path)?;
        match &self.reader {
            Reader::Dir(root) => std::fs::metadata(root.join(path)).ok().map(|m| m.len()),
            Reader::Git { dir } => {
                let out = git(dir).args(["cat-file", "-s", blob]).output().ok()?;
                String::from_utf8_lossy(&out.stdout).trim().parse().ok()
            }
        }
    }

    /// What this source is, for the journal and the report: `name` or `name@commit`.
    pub fn label(&self) -> String {
        match &self.commit {
            Some(c) => format!("{}@{}", self.name, &c[..c.len().min(12)]),
            None => self.name.clone(),
        }
    }
}

/// `git -C dir` with the repository's configuration unable to run programs.
fn git(dir: &Path) -> Command {
    let mut c = Command::new("git");
    c.arg("-C")
        .arg(dir)
        .args(["-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null"])
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_CONFIG_NOSYSTEM", "1");
    c
}

fn git_missing(e: &std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::NotFound {
        "git not found: install git or put it on PATH (restore --at reads the repository's history with it)".into()
    } else {
        format!("cannot run git: {e}")
    }
}

fn is_work_tree(p: &Path) -> bool {
    p.join(".git").exists()
}

fn is_bare(p: &Path) -> bool {
    p.join("HEAD").is_file() && p.join("objects").is_dir() && p.join("refs").is_dir()
}

/// Holds a backup's own files (a plain copy without `.git`).
fn looks_like_backup(p: &Path) -> bool {
    ["schema.json", "README.md"].iter().any(|f| p.join(f).is_file())
        || std::fs::read_dir(p).map(|rd| rd.flatten().any(|e| e.path().join("page.json").is_file())).unwrap_or(false)
}

/// Open every repository `from` names, read as they were at `at` (see [`resolve_at`]) or as
/// they are on disk. `tz` is the zone a bare date is read in.
pub fn open(from: &Path, at: Option<&str>, tz: chrono_tz::Tz) -> Result<Vec<Repo>, SourceError> {
    let shown = from.display().to_string();
    let from_err = |reason: &str| SourceError::From { path: shown.clone(), reason: reason.to_string() };
    if !from.is_dir() {
        return Err(from_err("not a folder: give a backed-up repository (a clone, or the local backup's repository), or the folder holding several of them (BACKUP_DIR)"));
    }
    let single = is_work_tree(from) || is_bare(from) || (at.is_none() && looks_like_backup(from));
    let mut dirs: Vec<PathBuf> = Vec::new();
    if single {
        dirs.push(from.to_path_buf());
    } else {
        let mut subs: Vec<PathBuf> = std::fs::read_dir(from)
            .map_err(|e| from_err(&e.to_string()))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_dir() && !p.is_symlink() && (is_work_tree(p) || is_bare(p)))
            .collect();
        subs.sort();
        if subs.is_empty() {
            return Err(from_err(
                "holds no backed-up repository: point --from at a repository (a folder with .git, or a bare repository) or at the folder that holds them side by side",
            ));
        }
        dirs = subs;
    }
    let mut repos = Vec::new();
    for dir in dirs {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().trim_end_matches(".git").to_string())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "backup".into());
        let repo = match at {
            Some(at) => {
                if !(is_work_tree(&dir) || is_bare(&dir)) {
                    return Err(SourceError::At {
                        at: at.to_string(),
                        reason: format!("{} is not a git repository, so it has no history to read", dir.display()),
                    });
                }
                let commit = resolve_at(&dir, at, tz)?;
                from_commit(&dir, name, commit)?
            }
            None if is_bare(&dir) && !is_work_tree(&dir) => {
                let commit = resolve_at(&dir, "HEAD", tz)?;
                from_commit(&dir, name, commit)?
            }
            None => from_disk(&dir, name)?,
        };
        repos.push(repo);
    }
    Ok(repos)
}

fn from_disk(dir: &Path, name: String) -> Result<Repo, SourceError> {
    let mut files = BTreeMap::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let rd = std::fs::read_dir(dir.join(&rel))
            .map_err(|e| SourceError::From { path: dir.join(&rel).display().to_string(), reason: e.to_string() })?;
        for entry in rd.flatten() {
            let Ok(ft) = entry.file_type() else { continue };
            let Some(fname) = entry.file_name().to_str().map(str::to_string) else { continue };
            if rel.as_os_str().is_empty() && fname == ".git" {
                continue;
            }
            let child = rel.join(&fname);
            // Symlinks are not followed: nothing outside the repository is read.
            if ft.is_dir() {
                stack.push(child);
            } else if ft.is_file() {
                let key = child.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
                files.insert(key, String::new());
            }
        }
    }
    Ok(Repo { name, path: dir.to_path_buf(), commit: None, files, reader: Reader::Dir(dir.to_path_buf()) })
}

fn from_commit(dir: &Path, name: String, commit: String) -> Result<Repo, SourceError> {
    let out = git(dir)
        .args(["ls-tree", "-r", "-z", "--full-tree", &commit])
        .output()
        .map_err(|e| SourceError::From { path: dir.display().to_string(), reason: git_missing(&e) })?;
    if !out.status.success() {
        return Err(SourceError::From {
            path: dir.display().to_string(),
            reason: format!("git ls-tree failed: {}", String::from_utf8_lossy(&out.stderr).trim()),
        });
    }
    let mut files = BTreeMap::new();
    for entry in out.stdout.split(|b| *b == 0).filter(|e| !e.is_empty()) {
        let Ok(entry) = std::str::from_utf8(entry) else { continue };
        let Some((meta, path)) = entry.split_once('\t') else { continue };
        let mut m = meta.split(' ');
        let (_mode, kind, blob) = (m.next(), m.next(), m.next());
        if kind == Some("blob") {
            if let Some(blob) = blob {
                files.insert(path.to_string(), blob.to_string());
            }
        }
    }
    Ok(Repo {
        name,
        path: dir.to_path_buf(),
        commit: Some(commit),
        files,
        reader: Reader::Git { dir: dir.to_path_buf() },
    })
}

/// The commit `at` names in the repository at `dir`: a date (`YYYY-MM-DD`, the end of that day
/// in `tz`: the backup as it was after that day's runs), an RFC 3339 time, or anything git
/// resolves to a commit (a hash, a tag, `HEAD~3`). For a time: the last commit on the checked-out
/// branch made at or before it.
pub fn resolve_at(dir: &Path, at: &str, tz: chrono_tz::Tz) -> Result<String, SourceError> {
    let err = |reason: String| SourceError::At { at: at.to_string(), reason };
    let when = parse_when(at, tz);
    let out = match when {
        Some(ts) => git(dir).args(["rev-list", "-1", "--first-parent", &format!("--before={ts}"), "HEAD"]).output(),
        None => git(dir).args(["rev-parse", "--verify", "--quiet", &format!("{at}^{{commit}}")]).output(),
    }
    .map_err(|e| err(git_missing(&e)))?;
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || id.is_empty() {
        let name = dir.display();
        return Err(err(match when {
            Some(_) => format!("{name} has no backup commit on or before that time: give a later date, or a commit from `git -C {name} log`"),
            None => format!("is neither a date (YYYY-MM-DD or an RFC 3339 time) nor a commit of {name}: see `git -C {name} log`"),
        }));
    }
    Ok(id)
}

/// Unix seconds of a date (end of that day in `tz`) or an RFC 3339 time.
fn parse_when(at: &str, tz: chrono_tz::Tz) -> Option<i64> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(at) {
        return Some(t.timestamp());
    }
    let d = NaiveDate::parse_from_str(at, "%Y-%m-%d").ok()?;
    let end = d.and_hms_opt(23, 59, 59)?;
    tz.from_local_datetime(&end).latest().map(|t| t.timestamp())
}

/// `base/rel` as a repository path: `rel` relative to the folder `base` (no leading `/`, no
/// `..` above the repository root). `None` for absolute paths and URLs.
pub fn join(base: &str, rel: &str) -> Option<String> {
    if rel.contains("://") || rel.starts_with('/') || rel.is_empty() {
        return None;
    }
    let mut parts: Vec<&str> = base.split('/').filter(|s| !s.is_empty()).collect();
    for seg in rel.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            s => parts.push(s),
        }
    }
    Some(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_stays_inside_the_repository() {
        assert_eq!(join("row-0", "assets/1-goals.png").as_deref(), Some("row-0/assets/1-goals.png"));
        assert_eq!(join("", "assets/a.png").as_deref(), Some("assets/a.png"));
        assert_eq!(join("a/b", "../c.png").as_deref(), Some("a/c.png"));
        assert_eq!(join("a", "../../etc/passwd"), None);
        assert_eq!(join("a", "/etc/passwd"), None);
        assert_eq!(join("a", "https://example.com/x.png"), None);
    }

    #[test]
    fn dates_are_the_end_of_that_day_in_the_zone() {
        let utc = parse_when("2026-03-01", chrono_tz::UTC).unwrap();
        assert_eq!(utc, chrono::Utc.with_ymd_and_hms(2026, 3, 1, 23, 59, 59).unwrap().timestamp());
        let prague = parse_when("2026-03-01", chrono_tz::Europe::Prague).unwrap();
        assert_eq!(utc - prague, 3600);
        assert_eq!(parse_when("2026-03-01T10:00:00Z", chrono_tz::UTC), Some(utc - 14 * 3600 + 1));
        assert_eq!(parse_when("HEAD~2", chrono_tz::UTC), None);
    }

    fn run(dir: &Path, args: &[&str]) {
        let st = Command::new("git").arg("-C").arg(dir).args(args).status().unwrap();
        assert!(st.success(), "git {args:?}");
    }

    #[test]
    fn reads_the_work_tree_or_a_commit_of_the_history() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = tmp.path().join("notes");
        std::fs::create_dir_all(repo.join("a")).unwrap();
        run(&repo, &["init", "-q"]);
        let commit = |msg: &str, date: &str| {
            let st = Command::new("git")
                .arg("-C")
                .arg(&repo)
                .args(["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", msg])
                .env("GIT_AUTHOR_DATE", date)
                .env("GIT_COMMITTER_DATE", date)
                .status()
                .unwrap();
            assert!(st.success());
        };
        std::fs::write(repo.join("a/page.json"), "v1").unwrap();
        run(&repo, &["add", "-A"]);
        commit("one", "2026-03-01T03:00:00Z");
        std::fs::write(repo.join("a/page.json"), "v2").unwrap();
        run(&repo, &["add", "-A"]);
        commit("two", "2026-03-02T03:00:00Z");
        std::fs::write(repo.join("a/page.json"), "v3 on disk").unwrap();

        // The folder holding the repository: one repository found.
        let now = open(tmp.path(), None, chrono_tz::UTC).unwrap();
        assert_eq!(now.len(), 1);
        assert_eq!(now[0].name, "notes");
        assert_eq!(now[0].read("a/page.json").unwrap(), b"v3 on disk");
        let first = open(&repo, Some("2026-03-01"), chrono_tz::UTC).unwrap();
        assert_eq!(first[0].read("a/page.json").unwrap(), b"v1");
        let second = open(&repo, Some("HEAD"), chrono_tz::UTC).unwrap();
        assert_eq!(second[0].read("a/page.json").unwrap(), b"v2");
        assert!(second[0].label().starts_with("notes@"));
        let e = open(&repo, Some("2025-01-01"), chrono_tz::UTC).unwrap_err().to_string();
        assert!(e.contains("no backup commit on or before"), "{e}");
        let e = open(&repo, Some("not-a-thing"), chrono_tz::UTC).unwrap_err().to_string();
        assert!(e.contains("neither a date"), "{e}");
        assert!(now[0].read("../outside").is_err());
    }
}
