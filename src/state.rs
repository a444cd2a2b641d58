//! The versioned `sync-state.json`: for each backed-up page, the `last_edited_time` that was
//! committed, its folder, its files' git blob ids and the names given to its media. Written
//! atomically (temp file, fsync, rename, fsync of the folder), so a crash leaves either the old or
//! the new state, never a torn one. A state written by `notion-gitea-backup.py`
//! (`{"synced_pages": {id: time}}`) is read and upgraded.
//!
//! Also owns the run lock beside the state file, so two overlapping cron runs never interleave.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::ids;

pub const STATE_VERSION: u32 = 2;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state file {path} is not valid ({reason}): fix it, or move it away to start over (the next run then re-checks every page and commits only what differs)")]
    Corrupt { path: String, reason: String },
    #[error("state file {path} was written by a newer version (format {found}, this build reads {STATE_VERSION}): upgrade notion-git-backup")]
    TooNew { path: String, found: u32 },
    #[error("cannot {action} state file {path}: {source}")]
    Io { action: &'static str, path: String, source: std::io::Error },
    #[error("another backup run is in progress (lock {path} is held{holder}); this run exits without touching anything. If no other run exists, the lock is released automatically when its process ends")]
    Locked { path: String, holder: String },
}

/// What was committed for one page.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PageRecord {
    /// Repository (DB<n>_GIT_REPO) the page lives in.
    #[serde(default)]
    pub repo: String,
    #[serde(default)]
    pub title: String,
    /// `last_edited_time` of the version committed.
    pub last_edited_time: String,
    /// When that version was read from Notion (RFC 3339). `last_edited_time` has minute
    /// granularity, so a page read within the minute of its last edit is read again next run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fetched_at: Option<String>,
    /// Folder of the page in the repository (`my-page`); `None` for entries upgraded from the
    /// Python script's state, which did not record it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub folder: Option<String>,
    /// Repository path -> git blob id of every file of the page.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub files: BTreeMap<String, String>,
    /// Content SHA-256 -> path relative to the page folder, so the same bytes keep their name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub media_names: BTreeMap<String, String>,
    /// Canonical id of the page or database this one was found in; `None` for the rows of a
    /// configured database and for workspace roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// What this record is.
    #[serde(default, skip_serializing_if = "NodeKind::is_page")]
    pub kind: NodeKind,
    /// Child pages and databases found in this node when it was committed. A child missing from
    /// the state (its backup failed, or the run was killed before it) is picked up next run
    /// without re-reading this node.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<ChildRef>,
    /// Data sources of a database node (to notice rows added to it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data_sources: Vec<String>,
    /// Left its parent and its folder was removed; kept only until the end of the run (a page that
    /// moved is found at its new place meanwhile), never backed up from here again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub orphan: bool,
    /// Title of the database a row belongs to (its front matter `database`), so a page backed up
    /// again on its own renders exactly like one backed up with its listing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_title: Option<String>,
    /// Media reference (`MediaKey` state form) -> path relative to the folder, of the files stored
    /// for it: a file that cannot be downloaded again keeps this copy.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub media_keys: BTreeMap<String, String>,
    /// Pages and databases this page links to that were not in the backup when it was rendered: it
    /// is rendered again once one of them is.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unresolved_links: Vec<String>,
    /// When Notion first answered 404 for this node (RFC 3339). A second run that gets 404 again
    /// removes it; any other answer clears this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing_since: Option<String>,
    /// When Notion last confirmed this node's `last_edited_time` (backed up or re-checked), for
    /// VERIFY_DAYS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_at: Option<String>,
    /// Property names of a database in the database's own order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub property_order: Vec<String>,
}

/// Kind of a state record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    #[default]
    Page,
    /// A database (configured at the repository root, or a child database inside a page).
    Database,
}

impl NodeKind {
    pub fn is_page(&self) -> bool {
        *self == NodeKind::Page
    }
}

/// A child page or database of a node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChildRef {
    /// Canonical id.
    pub id: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "NodeKind::is_page")]
    pub kind: NodeKind,
}

impl PageRecord {
    /// True when this record came from the Python script's state (no folder known).
    pub fn is_legacy(&self) -> bool {
        self.folder.is_none()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub version: u32,
    /// When the last run that completed its listing started (RFC 3339): pages edited since then
    /// are looked up through search, so edits deep in a page tree are found cheaply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run_started: Option<String>,
    /// Canonical page (or database) id -> record.
    pub pages: BTreeMap<String, PageRecord>,
    /// User id -> name as last read from Notion, so generated indexes do not depend on whether
    /// this run happened to read the user list.
    /// `None` until a run could read the user list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<BTreeMap<String, String>>,
    /// Repository name -> the destination it was backed up to (Gitea server + owner + repository, or
    /// the local path), so a state pointed at another destination is noticed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub destinations: BTreeMap<String, String>,
}

impl Default for State {
    fn default() -> Self {
        State {
            version: STATE_VERSION,
            last_run_started: None,
            pages: BTreeMap::new(),
            users: None,
            destinations: BTreeMap::new(),
        }
    }
}

impl State {
    /// Read the state; a missing file is an empty state.
    pub fn load(path: &Path) -> Result<State, StateError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(State::default()),
            Err(e) => return Err(StateError::Io { action: "read", path: path.display().to_string(), source: e }),
        };
        Self::parse(&text, path)
    }

    fn parse(text: &str, path: &Path) -> Result<State, StateError> {
        let corrupt = |reason: String| StateError::Corrupt { path: path.display().to_string(), reason };
        // Straight into the typed state (no intermediate JSON tree: state files of thousands of
        // pages are megabytes).
        #[derive(Deserialize)]
        struct Probe {
            #[serde(default)]
            version: u32,
        }
        #[derive(Deserialize)]
        struct Legacy {
            synced_pages: BTreeMap<String, serde_json::Value>,
        }
        match serde_json::from_str::<State>(text) {
            Ok(mut st) if st.version <= STATE_VERSION => {
                st.version = STATE_VERSION;
                Ok(st)
            }
            Ok(st) => Err(StateError::TooNew { path: path.display().to_string(), found: st.version }),
            Err(e) => {
                // notion-gitea-backup.py: {"synced_pages": {page_id: last_edited_time}}
                if let Ok(legacy) = serde_json::from_str::<Legacy>(text) {
                    let mut st = State::default();
                    for (id, t) in legacy.synced_pages {
                        let t = t.as_str().unwrap_or_default().to_string();
                        st.pages.insert(ids::normalize(&id), PageRecord { last_edited_time: t, ..Default::default() });
                    }
                    return Ok(st);
                }
                match serde_json::from_str::<Probe>(text) {
                    Ok(p) if p.version > STATE_VERSION => {
                        Err(StateError::TooNew { path: path.display().to_string(), found: p.version })
                    }
                    _ => Err(corrupt(e.to_string())),
                }
            }
        }
    }

    /// Write atomically: temp file in the same folder, fsync, rename over the old file, fsync
    /// the folder.
    pub fn save(&self, path: &Path) -> Result<(), StateError> {
        let io = |action: &'static str| {
            move |e: std::io::Error| StateError::Io { action, path: path.display().to_string(), source: e }
        };
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(io("create the folder of"))?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io("create a temporary file for"))?;
        {
            // Streamed through a small buffer: the state of thousands of pages is megabytes, and
            // it is written up to once a second.
            let mut w = std::io::BufWriter::with_capacity(64 * 1024, tmp.as_file_mut());
            serde_json::to_writer_pretty(&mut w, self).map_err(|e| io("write")(std::io::Error::other(e)))?;
            w.write_all(b"\n").map_err(io("write"))?;
            w.flush().map_err(io("write"))?;
        }
        tmp.as_file().sync_all().map_err(io("sync"))?;
        tmp.persist(path).map_err(|e| StateError::Io {
            action: "replace",
            path: path.display().to_string(),
            source: e.error,
        })?;
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// Ids of every record below `id` (children, grandchildren, ...), following `parent` links.
    pub fn descendants(&self, id: &str) -> Vec<String> {
        let mut by_parent: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (k, r) in &self.pages {
            if let Some(p) = &r.parent {
                by_parent.entry(p.as_str()).or_default().push(k.as_str());
            }
        }
        let mut out = Vec::new();
        let mut stack = vec![id];
        while let Some(cur) = stack.pop() {
            for c in by_parent.get(cur).into_iter().flatten() {
                if !out.iter().any(|o: &String| o == c) && *c != id {
                    out.push(c.to_string());
                    stack.push(c);
                }
            }
        }
        out
    }

    /// Record ids (canonical) of the pages recorded for `repo`.
    pub fn pages_in_repo<'a>(&'a self, repo: &'a str) -> impl Iterator<Item = (&'a String, &'a PageRecord)> + 'a {
        self.pages.iter().filter(move |(_, r)| r.repo == repo)
    }
}

/// An exclusive lock beside the state file, held for the whole run. The operating system drops
/// it when the process ends, however it ends, so a killed run never leaves a stale lock behind.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
    path: PathBuf,
}

impl RunLock {
    pub fn acquire(state_path: &Path) -> Result<RunLock, StateError> {
        let path = lock_path(state_path);
        if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StateError::Io {
                action: "create the folder of",
                path: path.display().to_string(),
                source: e,
            })?;
        }
        let mut file =
            OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(|e| {
                StateError::Io { action: "open the lock beside", path: path.display().to_string(), source: e }
            })?;
        match fs4::fs_std::FileExt::try_lock_exclusive(&file) {
            Ok(true) => {}
            Ok(false) => {
                let holder =
                    std::fs::read_to_string(&path).ok().map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
                return Err(StateError::Locked {
                    path: path.display().to_string(),
                    holder: holder.map(|h| format!(" by {h}")).unwrap_or_default(),
                });
            }
            Err(e) => return Err(StateError::Io { action: "lock", path: path.display().to_string(), source: e }),
        }
        let _ = file.set_len(0);
        let _ = writeln!(
            file,
            "pid {} since {}",
            std::process::id(),
            chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        );
        Ok(RunLock { _file: file, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

pub fn lock_path(state_path: &Path) -> PathBuf {
    let mut p = state_path.as_os_str().to_owned();
    p.push(".lock");
    PathBuf::from(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_atomic_replace() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sync-state.json");
        assert_eq!(State::load(&path).unwrap(), State::default());
        let mut st = State::default();
        st.pages.insert(
            "abc".into(),
            PageRecord {
                repo: "notes".into(),
                last_edited_time: "2026-01-01T00:00:00.000Z".into(),
                folder: Some("a".into()),
                ..Default::default()
            },
        );
        st.save(&path).unwrap();
        st.save(&path).unwrap();
        assert_eq!(State::load(&path).unwrap(), st);
        // No temp files left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn upgrades_python_state() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        std::fs::write(
            &path,
            r#"{"synced_pages": {"1f2e3d4c-5b6a-7988-1f2e-3d4c5b6a7988": "2025-05-01T10:00:00.000Z"}}"#,
        )
        .unwrap();
        let st = State::load(&path).unwrap();
        let rec = &st.pages["1f2e3d4c5b6a79881f2e3d4c5b6a7988"];
        assert_eq!(rec.last_edited_time, "2025-05-01T10:00:00.000Z");
        assert!(rec.is_legacy());
    }

    #[test]
    fn corrupt_state_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        std::fs::write(&path, "{not json").unwrap();
        let e = State::load(&path).unwrap_err().to_string();
        assert!(e.contains("is not valid") && e.contains("move it away"), "{e}");
        std::fs::write(&path, r#"{"version": 99, "pages": {}}"#).unwrap();
        assert!(matches!(State::load(&path), Err(StateError::TooNew { .. })));
    }

    #[test]
    fn second_lock_refused_and_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let first = RunLock::acquire(&path).unwrap();
        let e = RunLock::acquire(&path).unwrap_err();
        assert!(matches!(e, StateError::Locked { .. }), "{e}");
        assert!(e.to_string().contains(&format!("pid {}", std::process::id())));
        drop(first);
        RunLock::acquire(&path).unwrap();
    }
}
