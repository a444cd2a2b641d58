//! Pure decisions of the engine: which folder each page gets, and whether a page needs backing up.
//! No I/O here, so every rule is unit-tested.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};

use crate::ids;
use crate::paths;
use crate::state::PageRecord;

/// Folder names for every page of one repository: the slug of the title (ASCII, URL-safe,
/// length-capped); `-<8 hex of id>` appended for every page whose slug collides with another's;
/// `untitled-<8 hex>` for empty titles. Deterministic for a given set of (id, title).
pub fn assign_folders<'a>(pages: impl IntoIterator<Item = (&'a str, &'a str)>) -> HashMap<String, String> {
    let mut by_slug: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut out = HashMap::new();
    for (id, title) in pages {
        let id = ids::normalize(id);
        let slug = paths::slugify(title, paths::MAX_SLUG_LEN);
        if slug.is_empty() {
            out.insert(id.clone(), format!("untitled-{}", &id[..8.min(id.len())]));
        } else {
            by_slug.entry(slug).or_default().push(id);
        }
    }
    for (slug, group) in by_slug {
        let collides = group.len() > 1 || is_reserved(&slug);
        for id in group {
            let folder = if collides { format!("{slug}-{}", &id[..8.min(id.len())]) } else { slug.clone() };
            out.insert(id, folder);
        }
    }
    out
}

/// Names the backup itself uses inside a folder (a page's media folders, id-based names).
fn is_reserved(slug: &str) -> bool {
    slug == "assets" || slug == "attachments" || slug.starts_with("untitled-")
}

/// Folders of the children of the node at `parent_folder` ("" = repository root), by id.
pub fn child_folders<'a>(
    parent_folder: &str,
    children: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> HashMap<String, String> {
    assign_folders(children).into_iter().map(|(id, slug)| (id, join(parent_folder, &slug))).collect()
}

/// `parent/child`, or `child` at the root.
pub fn join(parent: &str, child: &str) -> String {
    if parent.is_empty() {
        child.to_string()
    } else {
        format!("{parent}/{child}")
    }
}

/// `../` once per folder level of `folder`: from its `index.md` up to the repository root.
pub fn prefix_to_root(folder: &str) -> String {
    if folder.is_empty() {
        String::new()
    } else {
        "../".repeat(folder.split('/').count())
    }
}

/// Why a page is backed up in this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    New,
    Edited,
    /// Its folder changed (renamed, or a new title collision).
    Moved,
    /// Read within the minute of its last edit: an edit in the same minute would not change
    /// `last_edited_time` (it is rounded to the minute), so it is read once more.
    SameMinute,
    /// Upgraded from the Python script's state, or moved between repositories.
    Unverified,
    FullSync,
}

/// Margin added to the minute granularity of `last_edited_time`, for clock skew.
const SAME_MINUTE_WINDOW_SECS: i64 = 120;

pub fn needs_backup(
    rec: Option<&PageRecord>,
    repo: &str,
    last_edited_time: &str,
    folder: &str,
    full_sync: bool,
) -> Option<Reason> {
    let Some(rec) = rec else { return Some(Reason::New) };
    if full_sync {
        return Some(Reason::FullSync);
    }
    if rec.is_legacy() || rec.repo != repo {
        return Some(Reason::Unverified);
    }
    if rec.last_edited_time != last_edited_time {
        return Some(Reason::Edited);
    }
    if rec.folder.as_deref() != Some(folder) {
        return Some(Reason::Moved);
    }
    let edited = parse_time(last_edited_time);
    let fetched = rec.fetched_at.as_deref().and_then(parse_time);
    match (edited, fetched) {
        (Some(e), Some(f)) if f < e + chrono::Duration::seconds(SAME_MINUTE_WINDOW_SECS) => Some(Reason::SameMinute),
        (Some(_), None) => Some(Reason::SameMinute),
        _ => None,
    }
}

pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|d| d.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "aaaaaaaa-0000-0000-0000-000000000001";
    const B: &str = "bbbbbbbb-0000-0000-0000-000000000002";
    const C: &str = "cccccccc-0000-0000-0000-000000000003";

    #[test]
    fn folders_collide_and_empty_titles() {
        let f = assign_folders([(A, "Meeting notes"), (B, "Meeting Notes!"), (C, "")]);
        assert_eq!(f[&ids::normalize(A)], "meeting-notes-aaaaaaaa");
        assert_eq!(f[&ids::normalize(B)], "meeting-notes-bbbbbbbb");
        assert_eq!(f[&ids::normalize(C)], "untitled-cccccccc");
        let f = assign_folders([(A, "../../etc/passwd"), (B, ".git"), (C, "CON")]);
        for folder in f.values() {
            assert!(paths::is_safe_relative(folder) && !folder.starts_with('.'), "{folder}");
        }
    }

    fn rec(let_: &str, fetched: &str, folder: &str) -> PageRecord {
        PageRecord {
            repo: "r".into(),
            last_edited_time: let_.into(),
            fetched_at: Some(fetched.into()),
            folder: Some(folder.into()),
            ..Default::default()
        }
    }

    #[test]
    fn children_and_reserved_names() {
        let f = child_folders("parent", [(A, "Assets"), (B, "Notes")]);
        assert_eq!(f[&ids::normalize(A)], "parent/assets-aaaaaaaa");
        assert_eq!(f[&ids::normalize(B)], "parent/notes");
        assert_eq!(prefix_to_root(""), "");
        assert_eq!(prefix_to_root("a/b"), "../../");
    }

    #[test]
    fn change_detection() {
        let t = "2026-11-01T10:05:00.000Z";
        let r = rec(t, "2026-11-01T11:00:00Z", "a");
        assert_eq!(needs_backup(None, "r", t, "a", false), Some(Reason::New));
        assert_eq!(needs_backup(Some(&r), "r", t, "a", false), None);
        assert_eq!(needs_backup(Some(&r), "r", t, "a", true), Some(Reason::FullSync));
        assert_eq!(needs_backup(Some(&r), "r", "2026-11-01T10:06:00.000Z", "a", false), Some(Reason::Edited));
        assert_eq!(needs_backup(Some(&r), "r", t, "b", false), Some(Reason::Moved));
        assert_eq!(needs_backup(Some(&r), "other", t, "a", false), Some(Reason::Unverified));
    }

    #[test]
    fn edit_within_the_same_minute_is_not_missed() {
        let t = "2026-11-01T10:05:00.000Z";
        // Backed up 30 s after the (rounded) edit time: a second edit in that minute would keep
        // the same last_edited_time, so the page is read again.
        let r = rec(t, "2026-11-01T10:05:30Z", "a");
        assert_eq!(needs_backup(Some(&r), "r", t, "a", false), Some(Reason::SameMinute));
    }
}
