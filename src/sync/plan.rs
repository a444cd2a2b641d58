//! Pure decisions of the engine, each rule in one place and unit-tested (no I/O here): which folder
//! each node gets, whether a node needs a backup ([`needs_backup`], the one rule), which paths a
//! commit may delete (paths are owned), when a run would delete too much (the deletion guard),
//! whether the repository still holds what the state recorded, and which pages are due for a
//! re-check.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};

use crate::ids;
use crate::paths;
use crate::state::PageRecord;

use super::vocab::Reason;

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

/// Margin added to the minute granularity of `last_edited_time`, for clock skew.
const SAME_MINUTE_WINDOW_SECS: i64 = 120;

/// Whether a node whose record is `rec` needs a backup in this run, and why: the one rule every
/// stage asks. `last_edited_time` is what Notion shows now, `folder` where it goes now, `parent`
/// the node it was found in (`None` for rows of a configured database and workspace roots).
pub fn needs_backup(
    rec: Option<&PageRecord>,
    repo: &str,
    last_edited_time: &str,
    folder: &str,
    parent: Option<&str>,
    full_sync: bool,
) -> Option<Reason> {
    let Some(rec) = rec else { return Some(Reason::New) };
    if full_sync {
        return Some(Reason::FullSync);
    }
    if rec.is_legacy() || rec.repo != repo || rec.orphan || rec.last_edited_time.is_empty() {
        return Some(Reason::Unverified);
    }
    if rec.parent.as_deref() != parent {
        return Some(Reason::Moved);
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

/// The page folder a repository path belongs to: the folder of the `index.md` beside it, or above
/// its `assets/` or `attachments/` folder. `""` for files at the repository root.
pub fn owner_folder(path: &str) -> &str {
    let dir = path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
    match dir.rsplit_once('/') {
        Some((parent, last)) if last == "assets" || last == "attachments" => parent,
        None if dir == "assets" || dir == "attachments" => "",
        _ => dir,
    }
}

/// True when `path` belongs to the folder of another node in this run: such a path is never
/// deleted by `me` (a page that moved away never deletes what a page now at its old place writes).
pub fn owned_by_other(path: &str, me: &str, claimant: impl Fn(&str) -> Option<String>) -> bool {
    claimant(owner_folder(path)).is_some_and(|owner| owner != me)
}

/// The deletion guard: `Some(explanation)` when removing `removing` of the `total` pages of a
/// repository is more than `fraction` of them and more than [`crate::config::DELETE_GUARD_MIN_PAGES`].
pub fn guard_trips(removing: usize, total: usize, fraction: f64) -> Option<String> {
    let allowed = ((fraction * total as f64).floor() as usize).max(crate::config::DELETE_GUARD_MIN_PAGES);
    (removing > allowed).then(|| {
        format!(
            "this run would remove {removing} of {total} pages (more than DELETE_GUARD={}% and more than {} pages), so it removed none",
            (fraction * 100.0).round(),
            crate::config::DELETE_GUARD_MIN_PAGES
        )
    })
}

/// True when the repository no longer holds what the state recorded for a node: a file missing,
/// or a blob id that differs. `blob_of` reads the destination's current tree.
pub fn needs_repair(rec: &PageRecord, blob_of: impl Fn(&str) -> Option<String>) -> bool {
    rec.files.iter().any(|(path, blob)| blob_of(path).as_deref() != Some(blob.as_str()))
}

/// VERIFY_DAYS: whether the recorded child page `id` is re-checked against Notion in this run. Each
/// run takes the slice of pages whose id falls on today's day number, plus every page not
/// confirmed for `days` days (missed runs), so every page is checked at least every `days` days.
pub fn due_for_verify(id: &str, rec: &PageRecord, now: DateTime<Utc>, days: u32) -> bool {
    if days == 0 {
        return false;
    }
    let last = rec.verified_at.as_deref().or(rec.fetched_at.as_deref()).and_then(parse_time);
    let Some(last) = last else { return true };
    if now - last >= chrono::Duration::days(days as i64) {
        return true;
    }
    let day = now.timestamp().div_euclid(86_400) as u64;
    let slot = u64::from_str_radix(&ids::normalize(id).chars().take(8).collect::<String>(), 16).unwrap_or(0);
    slot % days as u64 == day % days as u64 && now - last >= chrono::Duration::hours(20)
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
        assert_eq!(needs_backup(None, "r", t, "a", None, false), Some(Reason::New));
        assert_eq!(needs_backup(Some(&r), "r", t, "a", None, false), None);
        assert_eq!(needs_backup(Some(&r), "r", t, "a", None, true), Some(Reason::FullSync));
        assert_eq!(needs_backup(Some(&r), "r", "2026-11-01T10:06:00.000Z", "a", None, false), Some(Reason::Edited));
        assert_eq!(needs_backup(Some(&r), "r", t, "b", None, false), Some(Reason::Moved));
        assert_eq!(needs_backup(Some(&r), "r", t, "a", Some("p"), false), Some(Reason::Moved));
        assert_eq!(needs_backup(Some(&r), "other", t, "a", None, false), Some(Reason::Unverified));
        let mut retry = r.clone();
        retry.last_edited_time.clear();
        assert_eq!(needs_backup(Some(&retry), "r", t, "a", None, false), Some(Reason::Unverified));
    }

    #[test]
    fn edit_within_the_same_minute_is_not_missed() {
        let t = "2026-11-01T10:05:00.000Z";
        // Backed up 30 s after the (rounded) edit time: a second edit in that minute would keep
        // the same last_edited_time, so the page is read again.
        let r = rec(t, "2026-11-01T10:05:30Z", "a");
        assert_eq!(needs_backup(Some(&r), "r", t, "a", None, false), Some(Reason::SameMinute));
    }

    #[test]
    fn paths_belong_to_the_page_folder_beside_or_above_them() {
        assert_eq!(owner_folder("a/index.md"), "a");
        assert_eq!(owner_folder("a/assets/1-x.png"), "a");
        assert_eq!(owner_folder("a/b/attachments/r.pdf"), "a/b");
        assert_eq!(owner_folder("README.md"), "");
        assert_eq!(owner_folder("assets/x.png"), "");
        // A child page named "assets" gets a suffixed folder, so "a/assets-1234abcd" is a page.
        assert_eq!(owner_folder("a/assets-1234abcd/index.md"), "a/assets-1234abcd");
        let claims = |f: &str| (f == "old").then(|| "B".to_string());
        assert!(owned_by_other("old/index.md", "A", claims));
        assert!(owned_by_other("old/assets/1-x.png", "A", claims));
        assert!(!owned_by_other("old/index.md", "B", claims));
        // A child folder of the claimed one is not the claimant's.
        assert!(!owned_by_other("old/child/index.md", "A", claims));
    }

    #[test]
    fn the_guard_allows_a_few_pages_and_a_small_share() {
        assert_eq!(guard_trips(5, 10, 0.2), None, "5 pages are always allowed");
        assert!(guard_trips(6, 10, 0.2).is_some());
        assert_eq!(guard_trips(20, 100, 0.2), None);
        let msg = guard_trips(21, 100, 0.2).unwrap();
        assert!(msg.contains("21 of 100") && msg.contains("DELETE_GUARD=20%"), "{msg}");
        assert!(guard_trips(62, 62, 0.2).is_some(), "a whole repository is never removed at once");
        assert_eq!(guard_trips(62, 62, 1.0), None);
    }

    #[test]
    fn repair_when_a_recorded_file_is_missing_or_differs() {
        let mut r = rec("t", "f", "a");
        r.files.insert("a/index.md".into(), "b1".into());
        r.files.insert("a/page.json".into(), "b2".into());
        let tree: HashMap<&str, &str> = [("a/index.md", "b1"), ("a/page.json", "b2")].into();
        assert!(!needs_repair(&r, |p| tree.get(p).map(|s| s.to_string())));
        let missing: HashMap<&str, &str> = [("a/index.md", "b1")].into();
        assert!(needs_repair(&r, |p| missing.get(p).map(|s| s.to_string())));
        let changed: HashMap<&str, &str> = [("a/index.md", "b1"), ("a/page.json", "zz")].into();
        assert!(needs_repair(&r, |p| changed.get(p).map(|s| s.to_string())));
    }

    #[test]
    fn every_page_is_verified_within_the_bound() {
        let start = parse_time("2026-11-01T03:00:00Z").unwrap();
        let ids: Vec<String> =
            (0..200u32).map(|i| format!("{:08x}{}", i.wrapping_mul(2654435761), "0".repeat(24))).collect();
        let mut last: HashMap<String, DateTime<Utc>> = ids.iter().map(|i| (i.clone(), start)).collect();
        let mut worst = chrono::Duration::zero();
        for day in 1..60 {
            let now = start + chrono::Duration::days(day);
            for id in &ids {
                let mut r = rec("t", "f", "a");
                r.verified_at = Some(last[id].to_rfc3339());
                if due_for_verify(id, &r, now, 7) {
                    worst = worst.max(now - last[id]);
                    last.insert(id.clone(), now);
                }
            }
        }
        assert!(worst <= chrono::Duration::days(7), "a page waited {worst}");
        assert!(!due_for_verify(&ids[0], &rec("t", "2026-11-01T03:00:00Z", "a"), start, 0));
    }
}
