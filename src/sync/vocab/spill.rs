//! Page objects waiting in the work queue, kept on disk instead of in memory.
//!
//! A full backup of a 5,000-row database lists every row up front (the index, `database.csv` and
//! relation titles need them all) and then backs the rows up one by one, which takes hours at
//! Notion's rate limit. Holding the parsed row and its raw JSON (for `page.json`) for that long
//! costs megabytes per thousand rows, so a queued row keeps only the path of its raw JSON in the
//! run's staging folder and is parsed again when its turn comes: the same bytes give the same
//! page, and no request is spent.

use std::path::{Path, PathBuf};

use crate::ids;
use crate::notion::model::Page;

/// A page object known before its node is prepared.
#[derive(Debug)]
pub enum Held {
    Memory(Box<Page>),
    /// Raw JSON of the page object as Notion returned it.
    Disk(SpillFile),
}

/// A spilled page's file, removed when dropped (taken, or left in the queue by an interrupt).
#[derive(Debug)]
pub struct SpillFile(PathBuf);

impl SpillFile {
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for SpillFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl Held {
    /// Keep `page` on disk under `dir` when its raw JSON is known; in memory otherwise (or when
    /// the staging folder cannot be written: memory is the fallback, never a failed page).
    pub fn new(dir: &Path, page: Page) -> Held {
        let Some(raw) = page.raw.as_deref() else { return Held::Memory(Box::new(page)) };
        let path = dir.join(format!("{}.json", ids::normalize(&page.id)));
        match std::fs::create_dir_all(dir).and_then(|_| std::fs::write(&path, raw)) {
            Ok(()) => Held::Disk(SpillFile(path)),
            Err(e) => {
                tracing::debug!("cannot spill page {} to {}: {e}; keeping it in memory", page.id, dir.display());
                Held::Memory(Box::new(page))
            }
        }
    }

    /// The page object (with its raw JSON). `None` when the spilled copy cannot be read back:
    /// the caller reads the page from Notion again.
    pub fn take(self) -> Option<Page> {
        match self {
            Held::Memory(p) => Some(*p),
            Held::Disk(file) => {
                let read = std::fs::read(file.path());
                let parsed = read
                    .map_err(|e| e.to_string())
                    .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
                    .and_then(|v| Page::from_json(v).map_err(|e| e.to_string()));
                match parsed {
                    Ok(p) => Some(p),
                    Err(e) => {
                        tracing::debug!("spilled page {} unreadable ({e}); reading it again", file.path().display());
                        None
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(raw: bool) -> Page {
        let v = serde_json::json!({
            "object": "page",
            "id": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
            "last_edited_time": "2026-01-02T03:04:00.000Z",
            "properties": {"Name": {"id": "title", "type": "title", "title": [
                {"type": "text", "plain_text": "Hello", "text": {"content": "Hello"}}
            ]}}
        });
        let mut p = Page::from_json(v).unwrap();
        if !raw {
            p.raw = None;
        }
        p
    }

    #[test]
    fn a_page_with_raw_json_round_trips_through_disk_and_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = page(true);
        let held = Held::new(dir.path(), p.clone());
        let Held::Disk(file) = &held else { panic!("expected a spilled page") };
        let path = file.path().to_path_buf();
        assert!(path.exists());
        let back = held.take().expect("read back");
        assert_eq!(back, p);
        assert_eq!(back.raw, p.raw);
        assert_eq!(back.title(), "Hello");
        assert!(!path.exists(), "the spilled copy is removed once taken");
    }

    #[test]
    fn a_page_without_raw_json_stays_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let held = Held::new(dir.path(), page(false));
        assert!(matches!(held, Held::Memory(_)));
        assert_eq!(held.take().unwrap().title(), "Hello");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn an_unwritable_staging_folder_keeps_the_page_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, b"x").unwrap();
        let held = Held::new(&blocker.join("sub"), page(true));
        assert!(matches!(held, Held::Memory(_)));
    }

    #[test]
    fn a_damaged_spilled_copy_asks_for_a_fresh_read_and_a_dropped_one_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let held = Held::new(dir.path(), page(true));
        let Held::Disk(file) = &held else { panic!() };
        std::fs::write(file.path(), b"{not json").unwrap();
        assert!(held.take().is_none());
        let held = Held::new(dir.path(), page(true));
        let Held::Disk(file) = &held else { panic!() };
        let path = file.path().to_path_buf();
        drop(held);
        assert!(!path.exists());
    }
}
