//! Issue 17: upgrading from `notion-gitea-backup.py` (the seed) is a real drop-in upgrade. The
//! seed's repositories and its `{"synced_pages": …}` state are built the way the seed writes them
//! (`tests/common/seed.rs`, checked against the real script's output), then this tool runs on
//! them: every page ends in exactly one folder, the repository holds exactly the files a clean
//! backup by this tool holds (the seed's folders with other slugs and its image names are gone,
//! removed in each page's own commit), the summary counts what was taken over, and a second run
//! changes nothing. The same for a state of this tool that lost its folder records.
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use common::env::{commit_count, files, local_repo, page_folders, Settings};
use common::fake_gitea::{self, FakeGitea};
use common::fake_notion::{FakeNotion, World};
use common::seed::{self, SeedPage};
use notion_git_backup::notify::RunReport;
use notion_git_backup::state::State;
use notion_git_backup::sync::{run_with, ExitStatus, Interrupt};

/// When the seed ran (its `backed_up:` front matter).
const SEED_RAN: &str = "2026-03-10T03:00:01.123456+00:00";

async fn world(pages: &[SeedPage]) -> (FakeNotion, String) {
    let mut w = World::new();
    let db = seed::add_database(&mut w, "Notes", pages);
    (FakeNotion::start(w).await, db.database_id)
}

async fn run(s: &Settings, dir: &Path) -> RunReport {
    let (status, report) = run_with(s.config(dir), Interrupt::default()).await;
    assert_eq!(status, ExitStatus::Success, "{report:?}");
    report
}

/// `adopted_pages` / `adopted_files` of the run's (only) database report: the summary's "N
/// pages and M files taken over from the seed".
fn adopted(report: &RunReport) -> (u64, u64) {
    let db = serde_json::to_value(&report.databases[0]).unwrap();
    let n = |k: &str| db[k].as_u64().unwrap_or_else(|| panic!("database report has no `{k}` count: {db}"));
    (n("adopted_pages"), n("adopted_files"))
}

/// What taking over must count: seed files that a clean backup does not hold, and the pages
/// they belong to.
fn expected_takeover(pages: &[SeedPage], clean: &BTreeMap<String, Vec<u8>>) -> (u64, u64) {
    let folders = seed::folders(pages);
    let (mut n, mut m) = (0, 0);
    for p in pages {
        let stale = seed::page_files(p, &folders[&p.id], SEED_RAN)
            .into_iter()
            .filter(|(path, bytes)| clean.get(path) != Some(bytes))
            .count() as u64;
        if stale > 0 {
            n += 1;
            m += stale;
        }
    }
    (n, m)
}

fn assert_same_tree(upgraded: &BTreeMap<String, Vec<u8>>, clean: &BTreeMap<String, Vec<u8>>) {
    assert_eq!(page_folders(upgraded), page_folders(clean), "exactly one folder per page, ours");
    let up: BTreeSet<&String> = upgraded.keys().collect();
    let cl: BTreeSet<&String> = clean.keys().collect();
    assert_eq!(
        up.difference(&cl).collect::<Vec<_>>(),
        Vec::<&&String>::new(),
        "files left over from the seed beside ours"
    );
    assert_eq!(cl.difference(&up).collect::<Vec<_>>(), Vec::<&&String>::new(), "files missing after the upgrade");
    for (p, b) in clean {
        assert_eq!(&upgraded[p], b, "{p} differs from a clean backup");
    }
}

#[tokio::test]
async fn seed_local_repository_is_taken_over_into_exactly_a_clean_backup() {
    let pages = seed::issue17_pages();
    let (fake, db) = world(&pages).await;
    let s = Settings::new(&fake).db(&db, "notes").label("Notes");

    // A clean backup by this tool, for reference.
    let clean_dir = tempfile::tempdir().unwrap();
    run(&s, clean_dir.path()).await;
    let clean = files(&local_repo(clean_dir.path(), "notes"), "HEAD");

    // The seed's repository (as a clone of its Gitea repository holds it) and its state.
    let dir = tempfile::tempdir().unwrap();
    let repo = local_repo(dir.path(), "notes");
    seed::write_local(&repo, &pages, SEED_RAN);
    std::fs::write(dir.path().join("state.json"), seed::state_json(&[&pages])).unwrap();
    let seed_folders: BTreeSet<String> = seed::folders(&pages).into_values().collect();
    assert!(seed_folders.contains("etcpasswd") && seed_folders.contains("mk-0043-0001"), "{seed_folders:?}");

    let report = run(&s, dir.path()).await;
    let upgraded = files(&repo, "HEAD");
    assert_same_tree(&upgraded, &clean);
    assert_eq!(adopted(&report), expected_takeover(&pages, &clean));
    let state = State::load(&dir.path().join("state.json")).unwrap();
    assert!(state.pages.values().all(|r| r.folder.is_some()), "every record has its folder after the upgrade");

    // A second run changes nothing and takes nothing over.
    let commits = commit_count(&repo);
    let again = run(&s, dir.path()).await;
    assert_eq!(commit_count(&repo), commits, "second run made a commit");
    assert_eq!(files(&repo, "HEAD"), upgraded);
    assert_eq!(adopted(&again), (0, 0));
}

#[tokio::test]
async fn seed_gitea_repository_is_taken_over_into_exactly_a_clean_backup() {
    let pages = seed::issue17_pages();
    let (fake, db) = world(&pages).await;

    let clean_gitea = FakeGitea::start().await;
    clean_gitea.add_repo(fake_gitea::USER, "notes");
    let clean_dir = tempfile::tempdir().unwrap();
    run(&Settings::new(&fake).db(&db, "notes").label("Notes").gitea(&clean_gitea), clean_dir.path()).await;
    let clean = clean_gitea.files(fake_gitea::USER, "notes", "main");

    let gitea = FakeGitea::start().await;
    gitea.add_repo(fake_gitea::USER, "notes");
    seed::write_gitea(&gitea.base_url, fake_gitea::TOKEN, fake_gitea::USER, "notes", &pages, SEED_RAN).await;
    let seed_files = gitea.files(fake_gitea::USER, "notes", "main");
    assert_eq!(seed_files, seed::repo_files(&pages, SEED_RAN), "the seed's repository as it writes it");
    let seed_commits = gitea.commit_count(fake_gitea::USER, "notes", "main");
    assert_eq!(seed_commits, seed_files.len(), "the seed commits one file at a time");

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("state.json"), seed::state_json(&[&pages])).unwrap();
    let s = Settings::new(&fake).db(&db, "notes").label("Notes").gitea(&gitea);
    let report = run(&s, dir.path()).await;
    let upgraded = gitea.files(fake_gitea::USER, "notes", "main");
    assert_same_tree(&upgraded, &clean);
    assert_eq!(adopted(&report), expected_takeover(&pages, &clean));

    let commits = gitea.commit_count(fake_gitea::USER, "notes", "main");
    let again = run(&s, dir.path()).await;
    assert_eq!(gitea.commit_count(fake_gitea::USER, "notes", "main"), commits, "second run made a commit");
    assert_eq!(adopted(&again), (0, 0));
}

#[tokio::test]
async fn state_that_lost_its_folder_records_still_ends_in_one_folder_per_page() {
    let pages = seed::issue17_pages();
    let (fake, db) = world(&pages).await;
    let s = Settings::new(&fake).db(&db, "notes").label("Notes");
    let dir = tempfile::tempdir().unwrap();
    run(&s, dir.path()).await;

    // The state loses its folder records (folders and file lists); meanwhile a page is renamed in Notion, so its folder
    // changes and only its old index.md says where it was.
    let state_path = dir.path().join("state.json");
    let mut state = State::load(&state_path).unwrap();
    for r in state.pages.values_mut() {
        r.folder = None;
        r.files.clear();
    }
    state.save(&state_path).unwrap();
    let renamed = &pages[6].id; // "Weekly review"
    let old_folder_files =
        files(&local_repo(dir.path(), "notes"), "HEAD").keys().filter(|p| p.starts_with("weekly-review/")).count()
            as u64;
    assert!(old_folder_files >= 3, "index.md, page.json and the page's files");
    fake.with_world(|w| {
        let p = w.page_mut(renamed).unwrap();
        p["properties"]["Name"] = common::fixtures::p_title("Weekly review 2026");
        p["last_edited_time"] = serde_json::json!("2026-03-20T10:00:00.000Z");
    });
    let report = run(&s, dir.path()).await;
    let repo = local_repo(dir.path(), "notes");
    let upgraded = files(&repo, "HEAD");

    let clean_dir = tempfile::tempdir().unwrap();
    run(&s, clean_dir.path()).await;
    let clean = files(&local_repo(clean_dir.path(), "notes"), "HEAD");
    assert_same_tree(&upgraded, &clean);
    assert!(!page_folders(&upgraded).contains(&"weekly-review".to_string()));
    // Taken over: the renamed page's old folder, every file of it.
    assert_eq!(adopted(&report), (1, old_folder_files));
}
