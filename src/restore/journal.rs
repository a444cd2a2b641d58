//! `restore-state.json`, beside the state file: what a restore has created so far, so that a
//! restore stopped at any moment finishes without a duplicate and a finished one, run again,
//! creates nothing. For each restore (a target page and the backups restored into it): old id ->
//! new id of every page, database and data source created; for every block container the number
//! of its blocks already appended and the id of the last one; the steps done; and the one write
//! in flight (`pending`), recorded *before* it is sent, so that after a crash the restore looks
//! at what landed instead of sending it again.
//!
//! Written atomically like `sync-state.json` (temp file, fsync, rename, fsync of the folder).
//! This module knows nothing about Notion requests.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub const JOURNAL_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("restore journal {path} is not valid ({reason}): move it away to start the restore over (pages already created would then be created again)")]
    Corrupt { path: String, reason: String },
    #[error("cannot {action} restore journal {path}: {source}")]
    Io { action: &'static str, path: String, source: std::io::Error },
}

/// Progress of appending blocks into one container (a page, or a block with children).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Container {
    /// Restored id of the container.
    pub id: String,
    /// Blocks of the container already appended.
    pub done: usize,
    /// Restored id of the last block appended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<String>,
}

/// The write in flight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Pending {
    /// A page or database created below `parent` (a page), or a row in a data source.
    Create {
        /// Canonical old id of the node.
        node: String,
        /// New id of the parent page, or of the data source for a row.
        parent: String,
        parent_is_data_source: bool,
        title: String,
        /// RFC 3339 time the request was sent (a page created then or later is a candidate).
        since: String,
    },
    /// Another data source of a restored database.
    CreateDataSource { data_source: String, database: String, title: String },
    /// Blocks appended to a container.
    Append {
        container: String,
        /// New id of the container.
        id: String,
        /// Restored id of the block they go after (`None`: the start of the container, or its
        /// end when `at_end`).
        after: Option<String>,
        at_end: bool,
        count: usize,
    },
    /// A comment on a restored page.
    Comment { page: String, id: String, index: usize },
}

/// One restore: a target and the backups restored into it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub target: String,
    /// What was restored (`repo` or `repo@commit` each, and `--only`).
    pub source: String,
    pub started: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished: Option<String>,
    /// Canonical old id -> new id: pages, databases, data sources.
    #[serde(default)]
    pub ids: BTreeMap<String, String>,
    /// Canonical old id of a page or block -> append progress.
    #[serde(default)]
    pub containers: BTreeMap<String, Container>,
    /// Canonical old id of an original synced block -> its restored id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub synced: BTreeMap<String, String>,
    /// Steps done (`schema:<ds>`, `relations:<page>`, `content:<page>`, ...).
    #[serde(default)]
    pub done: BTreeSet<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<Pending>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Journal {
    pub version: u32,
    /// Key (target + source) -> restore.
    pub restores: BTreeMap<String, Entry>,
    #[serde(skip)]
    path: PathBuf,
}

/// `restore-state.json` in the folder of the state file.
pub fn path_beside(state_file: &Path) -> PathBuf {
    let dir = state_file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    dir.join("restore-state.json")
}

impl Journal {
    pub fn load(path: &Path) -> Result<Journal, JournalError> {
        let corrupt = |reason: String| JournalError::Corrupt { path: path.display().to_string(), reason };
        match std::fs::read_to_string(path) {
            Ok(t) => {
                let mut j: Journal = serde_json::from_str(&t).map_err(|e| corrupt(e.to_string()))?;
                if j.version > JOURNAL_VERSION {
                    return Err(corrupt(format!(
                        "written by a newer version (format {}): upgrade notion-git-backup",
                        j.version
                    )));
                }
                j.path = path.to_path_buf();
                Ok(j)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Ok(Journal { version: JOURNAL_VERSION, restores: BTreeMap::new(), path: path.to_path_buf() })
            }
            Err(e) => Err(JournalError::Io { action: "read", path: path.display().to_string(), source: e }),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Write atomically.
    pub fn save(&self) -> Result<(), JournalError> {
        let path = &self.path;
        let io = |action: &'static str| {
            move |e: std::io::Error| JournalError::Io { action, path: path.display().to_string(), source: e }
        };
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(io("create the folder of"))?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io("create a temporary file for"))?;
        {
            let mut w = std::io::BufWriter::with_capacity(64 * 1024, tmp.as_file_mut());
            // Compact: it is rewritten twice per write request.
            serde_json::to_writer(&mut w, self).map_err(|e| io("write")(std::io::Error::other(e)))?;
            w.write_all(b"\n").map_err(io("write"))?;
            w.flush().map_err(io("write"))?;
        }
        tmp.as_file().sync_all().map_err(io("sync"))?;
        tmp.persist(path).map_err(|e| JournalError::Io {
            action: "replace",
            path: path.display().to_string(),
            source: e.error,
        })?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_and_loads_with_the_pending_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = path_beside(&dir.path().join("sync-state.json"));
        assert_eq!(path, dir.path().join("restore-state.json"));
        let mut j = Journal::load(&path).unwrap();
        let mut e = Entry { target: "t".into(), source: "notes".into(), ..Default::default() };
        e.ids.insert("a".into(), "b".into());
        e.containers.insert("a".into(), Container { id: "b".into(), done: 3, last: Some("c".into()) });
        e.pending =
            Some(Pending::Append { container: "a".into(), id: "b".into(), after: None, at_end: true, count: 2 });
        j.restores.insert("k".into(), e.clone());
        j.save().unwrap();
        j.save().unwrap();
        let back = Journal::load(&path).unwrap();
        assert_eq!(back.restores["k"], e);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        std::fs::write(&path, "{").unwrap();
        let err = Journal::load(&path).unwrap_err().to_string();
        assert!(err.contains("move it away"), "{err}");
    }
}
