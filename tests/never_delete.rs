//! Issue 12: a backup never throws away what it holds. Each test is a night on which Notion (or the
//! user) does something that used to make the tool delete backed-up pages and exit 0: one empty
//! or broken listing, a rename crossing a new page, an inline database or block listing that fails
//! once, an empty search answer, an image host that is down, folders removed by hand. After each,
//! the repository still holds every page, and only Notion's word on a page removes it.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::env::{files, local_repo, page_folders, texts, Settings};
use common::fake_gitea::{self, FakeGitea};
use common::fake_notion::{dashed, BadAnswer, FakeNotion, World};
use common::fixtures::*;
use notion_git_backup::notify::RunReport;
use notion_git_backup::state::State;
use notion_git_backup::sync::{run_with, ExitStatus, Interrupt};
use serde_json::{json, Value};

async fn run(s: &Settings, dir: &Path) -> (ExitStatus, RunReport) {
    run_with(s.config(dir), Interrupt::default()).await
}

async fn run_ok(s: &Settings, dir: &Path) -> RunReport {
    let (status, report) = run(s, dir).await;
    assert_eq!(status, ExitStatus::Success, "{}", notion_git_backup::notify::summary_text(&report));
    report
}

/// A database of `n` rows, each with a paragraph.
async fn notes(n: usize) -> (FakeNotion, DbIds) {
    let mut w = World::new();
    let db = add_database(&mut w, "Notes", n);
    for (i, id) in db.rows.iter().enumerate() {
        w.set_children(id, vec![heading(1, "Text"), paragraph(&format!("row {i}"))]);
    }
    (FakeNotion::start(w).await, db)
}

/// The two trees hold the same files with the same bytes (on failure: which paths differ).
fn assert_same(got: &BTreeMap<String, Vec<u8>>, want: &BTreeMap<String, Vec<u8>>, what: &str) {
    let diff: Vec<&String> = got
        .keys()
        .chain(want.keys())
        .filter(|k| got.get(*k) != want.get(*k))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert!(diff.is_empty(), "{what}: these paths differ: {diff:?}");
}

fn bad(method: &'static str, prefix: &str, body: Value) -> BadAnswer {
    BadAnswer { method, path_prefix: prefix.to_string(), body, times: u32::MAX }
}

fn empty_list() -> Value {
    json!({"object": "list", "results": [], "next_cursor": null, "has_more": false, "type": "page_or_data_source", "page_or_data_source": {}})
}

fn later() -> String {
    ts_plus_minutes(10_000)
}

/// Case 1: one empty, short or malformed listing never deletes the repository. A broken answer
/// fails the database (exit 1); a valid empty one keeps every page Notion still shows (exit 0,
/// with a warning naming the kept rows).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_empty_or_broken_listing_deletes_nothing() {
    let (fake, db) = notes(8).await;
    let dir = tempfile::tempdir().unwrap();
    let s = Settings::new(&fake).db(&db.database_id, "notes").label("Notes");
    run_ok(&s, dir.path()).await;
    let repo = local_repo(dir.path(), "notes");
    let before = files(&repo, "HEAD");
    assert_eq!(page_folders(&before).len(), 8);

    let db_object = fake.with_world(|w| w.databases[&common::fake_notion::norm(&db.database_id)].clone());
    let mut no_sources = db_object.clone();
    no_sources["data_sources"] = json!([]);
    let nights: Vec<(&str, BadAnswer, ExitStatus)> = vec![
        ("valid empty list", bad("POST", "/data_sources/", empty_list()), ExitStatus::Success),
        ("200 {}", bad("POST", "/data_sources/", json!({})), ExitStatus::PartialFailure),
        (
            "has_more without a cursor",
            bad(
                "POST",
                "/data_sources/",
                json!({"object": "list", "results": [], "next_cursor": null, "has_more": true, "type": "page_or_data_source", "page_or_data_source": {}}),
            ),
            ExitStatus::PartialFailure,
        ),
        ("database without data sources", bad("GET", "/databases/", no_sources), ExitStatus::PartialFailure),
    ];
    for (night, fault, want) in nights {
        fake.with_world(|w| w.faults.bad_answers = vec![fault]);
        let (status, report) = run(&s, dir.path()).await;
        let summary = notion_git_backup::notify::summary_text(&report);
        assert_eq!(status, want, "{night}: {summary}");
        assert_same(&files(&repo, "HEAD"), &before, night);
        assert!(report.databases[0].deleted.is_empty(), "{night}");
        if want == ExitStatus::Success {
            let warnings = &report.databases[0].warnings;
            assert!(
                warnings.iter().any(|w| w.contains("8 recorded pages were not in the listing")),
                "{night}: the kept rows are not mentioned: {warnings:?}"
            );
        }
    }
    fake.with_world(|w| w.faults.bad_answers.clear());
    run_ok(&s, dir.path()).await;
    assert_same(&files(&repo, "HEAD"), &before, "after the bad nights");
}

/// The same empty listing against Gitea: nothing is sent but the reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_listing_deletes_nothing_on_gitea() {
    let (fake, db) = notes(6).await;
    let gitea = FakeGitea::start().await;
    gitea.add_repo(fake_gitea::USER, "notes");
    let dir = tempfile::tempdir().unwrap();
    let s = Settings::new(&fake).db(&db.database_id, "notes").gitea(&gitea);
    run_ok(&s, dir.path()).await;
    let before = gitea.files(fake_gitea::USER, "notes", "main");
    let commits = gitea.commit_count(fake_gitea::USER, "notes", "main");
    fake.with_world(|w| w.faults.bad_answers = vec![bad("POST", "/data_sources/", empty_list())]);
    run_ok(&s, dir.path()).await;
    assert_same(&gitea.files(fake_gitea::USER, "notes", "main"), &before, "gitea");
    assert_eq!(gitea.commit_count(fake_gitea::USER, "notes", "main"), commits);
}

/// Case 2: a page renamed while a new page takes its old title, in the same run: both backups
/// exist afterwards, in the right folders, and a second run changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renamed_page_never_deletes_the_new_page_that_took_its_old_folder() {
    for gitea in [false, true] {
        let (fake, db) = notes(3).await;
        let g = FakeGitea::start().await;
        g.add_repo(fake_gitea::USER, "notes");
        let dir = tempfile::tempdir().unwrap();
        let mut s = Settings::new(&fake).db(&db.database_id, "notes");
        if gitea {
            s = s.gitea(&g);
        }
        run_ok(&s, dir.path()).await;
        let t = later();
        fake.with_world(|w| {
            let p = w.page_mut(&db.rows[0]).unwrap();
            p["properties"]["Name"] = p_title("Row 0 renamed");
            p["last_edited_time"] = json!(t);
            let id = w.next_id();
            let page = page(&id, parent_data_source(&db.data_source_id, &db.database_id), "Row 0", vec![]);
            w.insert_page(with_times(page, &t, &t));
            w.set_children(&id, vec![paragraph("the new page")]);
        });
        run_ok(&s, dir.path()).await;
        let read = || {
            if gitea {
                g.files(fake_gitea::USER, "notes", "main")
            } else {
                files(&local_repo(dir.path(), "notes"), "HEAD")
            }
        };
        let f = read();
        assert_eq!(page_folders(&f), vec!["row-0", "row-0-renamed", "row-1", "row-2"], "gitea={gitea}");
        let new = String::from_utf8_lossy(&f["row-0/index.md"]).to_string();
        assert!(new.contains("the new page"), "gitea={gitea}: {new}");
        assert!(String::from_utf8_lossy(&f["row-0-renamed/index.md"]).contains("row 0"));
        run_ok(&s, dir.path()).await;
        assert_same(&read(), &f, "a later run");
    }
}

/// Cases 3 and 4: an inline database that answers 404 once, and a page whose block listing comes
/// back empty once, keep everything below them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_inline_database_or_empty_block_listing_keeps_what_is_below() {
    let mut w = World::new();
    let db = add_database(&mut w, "Projects", 2);
    let hub = db.rows[0].clone();
    let child = add_page(&mut w, parent_page(&hub), "Child page");
    w.set_children(&child, vec![paragraph("child text")]);
    let inline = add_database_with(
        &mut w,
        DbSpec { title: "Tasks".into(), parent: parent_page(&hub), rows: 3, ..DbSpec::default() },
    );
    w.set_children(
        &hub,
        vec![paragraph("hub"), child_page(&child, "Child page"), child_database(&inline.database_id, "Tasks")],
    );
    let fake = FakeNotion::start(w).await;
    let dir = tempfile::tempdir().unwrap();
    let s = Settings::new(&fake).db(&db.database_id, "projects");
    run_ok(&s, dir.path()).await;
    let repo = local_repo(dir.path(), "projects");
    let before = files(&repo, "HEAD");
    assert!(before.contains_key("row-0/tasks/row-2/index.md") && before.contains_key("row-0/child-page/index.md"));

    // The hub is edited; its inline database answers 404 this time.
    let t = later();
    fake.with_world(|w| {
        w.page_mut(&hub).unwrap()["last_edited_time"] = json!(t);
        w.unshare(&inline.database_id);
    });
    let (status, report) = run(&s, dir.path()).await;
    assert_eq!(status, ExitStatus::PartialFailure, "the unreadable database is reported");
    let after = files(&repo, "HEAD");
    for path in before.keys().filter(|p| p.starts_with("row-0/tasks/")) {
        assert!(after.contains_key(path), "{path} was deleted: {:?}", report.databases[0]);
    }
    fake.with_world(|w| w.share(&inline.database_id));
    run_ok(&s, dir.path()).await;

    // Now its block listing comes back empty once.
    let t = ts_plus_minutes(20_000);
    fake.with_world(|w| {
        w.page_mut(&hub).unwrap()["last_edited_time"] = json!(t);
        w.faults.bad_answers = vec![BadAnswer {
            method: "GET",
            path_prefix: format!("/blocks/{}/children", dashed(&hub)),
            body: json!({"object": "list", "results": [], "next_cursor": null, "has_more": false, "type": "block", "block": {}}),
            times: 1,
        }];
    });
    run_ok(&s, dir.path()).await;
    let after = files(&repo, "HEAD");
    for path in before.keys().filter(|p| p.starts_with("row-0/tasks/") || p.starts_with("row-0/child-page/")) {
        assert!(after.contains_key(path), "{path} was deleted after an empty block listing");
    }
    // The next normal run still knows them (nothing was forgotten in the state).
    fake.with_world(|w| w.faults.bad_answers.clear());
    // An edit made after the last run (search finds edits below the rows by their time).
    let t = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    fake.with_world(|w| {
        w.page_mut(&child).unwrap()["last_edited_time"] = json!(t);
        w.set_children(&child, vec![paragraph("child edited")]);
    });
    run_ok(&s, dir.path()).await;
    let md = String::from_utf8_lossy(&files(&repo, "HEAD")["row-0/child-page/index.md"]).to_string();
    assert!(md.contains("child edited"), "{md}");
}

/// Case 5: in workspace mode, one empty search answer never empties the repository.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_empty_search_answer_keeps_the_workspace() {
    let mut w = World::new();
    let mut roots = Vec::new();
    for i in 0..6 {
        let id = add_page(&mut w, parent_workspace(), &format!("Handbook {i}"));
        w.set_children(&id, vec![paragraph("text")]);
        roots.push(id);
    }
    let fake = FakeNotion::start(w).await;
    let dir = tempfile::tempdir().unwrap();
    let s = Settings::new(&fake).set("WORKSPACE_REPO", "everything");
    run_ok(&s, dir.path()).await;
    let repo = local_repo(dir.path(), "everything");
    let before = files(&repo, "HEAD");
    assert_eq!(page_folders(&before).len(), 6);
    fake.with_world(|w| w.faults.search.empty_answers = 5);
    let report = run_ok(&s, dir.path()).await;
    assert_same(&files(&repo, "HEAD"), &before, &format!("{:?}", report.databases[0].warnings));
}

/// Case 6: an external image host answering 503 while the page gets an unrelated edit: the image
/// already in the backup stays, and the Markdown still shows it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_host_that_is_down_keeps_the_last_good_copy() {
    let host = ImageHost::start().await;
    let mut w = World::new();
    let db = add_database(&mut w, "Notes", 1);
    let id = db.rows[0].clone();
    w.set_children(&id, vec![heading(1, "Plan"), image_external(&host.url("plan.png"))]);
    let fake = FakeNotion::start(w).await;
    let dir = tempfile::tempdir().unwrap();
    let s = Settings::new(&fake).db(&db.database_id, "notes").set("DOWNLOAD_ALLOW_HOSTS", &host.authority());
    run_ok(&s, dir.path()).await;
    let repo = local_repo(dir.path(), "notes");
    let image = "row-0/assets/1-plan.png";
    assert!(files(&repo, "HEAD").contains_key(image));

    host.set_down(true);
    let t = later();
    fake.with_world(|w| {
        w.page_mut(&id).unwrap()["last_edited_time"] = json!(t);
        // An unrelated edit: the image block stays the same block.
        w.append_children(&id, vec![paragraph("added")]);
    });
    let report = run_ok(&s, dir.path()).await;
    let f = files(&repo, "HEAD");
    assert!(f.contains_key(image), "the last good copy was deleted: {:?}", report.databases[0]);
    let md = String::from_utf8_lossy(&f["row-0/index.md"]).to_string();
    assert!(md.contains("assets/1-plan.png") && md.contains("added"), "{md}");
    assert_eq!(report.databases[0].kept_files, 1);
    assert!(
        report.databases[0].warnings.iter().any(|w| w.contains("kept the copy")),
        "{:?}",
        report.databases[0].warnings
    );
}

/// Case 7: page folders removed by hand while the state is kept: the next run notices and puts
/// them back, counted as repaired; the index never links a missing folder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn folders_removed_by_hand_are_repaired_from_notion() {
    let (fake, db) = notes(5).await;
    let dir = tempfile::tempdir().unwrap();
    let s = Settings::new(&fake).db(&db.database_id, "notes");
    run_ok(&s, dir.path()).await;
    let repo = local_repo(dir.path(), "notes");
    let before = files(&repo, "HEAD");
    for f in ["row-1", "row-3"] {
        std::fs::remove_dir_all(repo.join(f)).unwrap();
    }
    let git = |args: &[&str]| {
        let ok = std::process::Command::new("git")
            .arg("-C")
            .arg(&repo)
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .status()
            .unwrap()
            .success();
        assert!(ok, "git {args:?}");
    };
    git(&["add", "-A"]);
    git(&["commit", "-qm", "removed by hand"]);
    let report = run_ok(&s, dir.path()).await;
    assert_same(&files(&repo, "HEAD"), &before, "everything is back");
    let mut repaired = report.databases[0].repaired.clone();
    repaired.sort();
    assert_eq!(repaired, vec!["Row 1".to_string(), "Row 3".to_string()]);
    let summary = notion_git_backup::notify::summary_text(&report);
    assert!(summary.contains("repaired: 2 pages"), "{summary}");
}

/// The deletion guard: a run that would remove most pages at once removes none, fails the database
/// and says how to confirm; with --allow-mass-delete the same run removes them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deletion_guard_keeps_everything_until_confirmed() {
    let (fake, db) = notes(12).await;
    let dir = tempfile::tempdir().unwrap();
    let s = Settings::new(&fake).db(&db.database_id, "notes").label("Notes");
    run_ok(&s, dir.path()).await;
    let repo = local_repo(dir.path(), "notes");
    let before = files(&repo, "HEAD");
    fake.with_world(|w| {
        for id in &db.rows[..10] {
            w.page_mut(id).unwrap()["in_trash"] = json!(true);
        }
    });
    let (status, report) = run(&s, dir.path()).await;
    assert_eq!(status, ExitStatus::PartialFailure);
    assert_same(&files(&repo, "HEAD"), &before, "nothing removed");
    let summary = notion_git_backup::notify::summary_text(&report);
    assert!(summary.contains("10 of 12 pages") && summary.contains("--allow-mass-delete"), "{summary}");
    // The alert says it too, also with DISCORD_LEVEL=1 (only when something failed).
    assert!(notion_git_backup::notify::discord_should_send(1, &report));
    let alert = notion_git_backup::notify::discord_message(&report, chrono_tz::UTC, "backup-host");
    assert!(alert.contains("Deletion guard: this run would remove 10 of 12 pages"), "{alert}");
    let state = State::load(&dir.path().join("state.json")).unwrap();
    assert_eq!(state.pages.values().filter(|r| r.kind == notion_git_backup::state::NodeKind::Page).count(), 12);

    let confirmed = notion_git_backup::config::Overrides { allow_mass_delete: true, ..Default::default() };
    let (status, report) = run_with(s.config_with(dir.path(), &confirmed), Interrupt::default()).await;
    assert_eq!(status, ExitStatus::Success, "{report:?}");
    assert_eq!(page_folders(&files(&repo, "HEAD")), vec!["row-10", "row-11"]);
    assert_eq!(report.databases[0].deleted.len(), 10);
}

/// A page deleted for good (404) is kept on the first run that sees it missing and removed only
/// when Notion still answers 404 on the next.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_gone_for_good_is_removed_only_after_two_runs_of_404() {
    let (fake, db) = notes(6).await;
    let dir = tempfile::tempdir().unwrap();
    let s = Settings::new(&fake).db(&db.database_id, "notes");
    run_ok(&s, dir.path()).await;
    let repo = local_repo(dir.path(), "notes");
    fake.with_world(|w| w.remove_page(&db.rows[2]));
    let report = run_ok(&s, dir.path()).await;
    assert!(page_folders(&files(&repo, "HEAD")).contains(&"row-2".to_string()), "removed on the first 404");
    assert!(report.databases[0].warnings.iter().any(|w| w.contains("404")), "{:?}", report.databases[0].warnings);
    let report = run_ok(&s, dir.path()).await;
    assert!(!page_folders(&files(&repo, "HEAD")).contains(&"row-2".to_string()));
    assert_eq!(report.databases[0].deleted, vec!["Row 2".to_string()]);
}

/// An external image server on 127.0.0.1 that can go down (503).
struct ImageHost {
    addr: std::net::SocketAddr,
    down: std::sync::Arc<std::sync::atomic::AtomicBool>,
    _task: tokio::task::JoinHandle<()>,
}

impl ImageHost {
    async fn start() -> ImageHost {
        use axum::routing::get;
        let down = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let d = down.clone();
        let app = axum::Router::new().route(
            "/{name}",
            get(move || {
                let d = d.clone();
                async move {
                    if d.load(std::sync::atomic::Ordering::SeqCst) {
                        (axum::http::StatusCode::SERVICE_UNAVAILABLE, Vec::new())
                    } else {
                        (axum::http::StatusCode::OK, png())
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        ImageHost { addr, down, _task: task }
    }

    fn url(&self, name: &str) -> String {
        format!("http://{}/{name}", self.addr)
    }

    fn authority(&self) -> String {
        self.addr.to_string()
    }

    fn set_down(&self, down: bool) {
        self.down.store(down, std::sync::atomic::Ordering::SeqCst);
    }
}

fn png() -> Vec<u8> {
    vec![
        0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, b'I', b'H', b'D', b'R', 0, 0, 0, 2, 0, 0, 0, 2, 8,
        2, 0, 0, 0, 0xFD, 0xD4, 0x9A, 0x73,
    ]
}

/// Notion's search is not exhaustive: an edit to a child page that search never returns would be
/// missed for good. VERIFY_DAYS re-reads child pages from Notion (here every run, `VERIFY_DAYS=1`),
/// so the edit lands and the summary says how many were re-checked; with `VERIFY_DAYS=0` it is
/// missed, which is what the setting is for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_search_never_returns_is_found_by_the_periodic_re_check() {
    let mut w = World::new();
    let db = add_database(&mut w, "Projects", 2);
    let hub = db.rows[0].clone();
    let child = add_page(&mut w, parent_page(&hub), "Child page");
    w.set_children(&child, vec![paragraph("first text")]);
    w.set_children(&hub, vec![paragraph("hub"), child_page(&child, "Child page")]);
    let fake = FakeNotion::start(w).await;
    let dir = tempfile::tempdir().unwrap();
    let never = Settings::new(&fake).db(&db.database_id, "projects").set("VERIFY_DAYS", "0");
    run_ok(&never, dir.path()).await;
    let repo = local_repo(dir.path(), "projects");

    // The child is edited after the last run, and search never returns it.
    let t = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    fake.with_world(|w| {
        w.page_mut(&child).unwrap()["last_edited_time"] = json!(t);
        w.set_children(&child, vec![paragraph("edited, but search does not say so")]);
        w.faults.search.omit_ids.insert(common::fake_notion::norm(&child));
    });
    let child_md = |dir: &Path| texts(&local_repo(dir, "projects"), "HEAD")["row-0/child-page/index.md"].clone();
    let report = run_ok(&never, dir.path()).await;
    assert!(child_md(dir.path()).contains("first text"), "VERIFY_DAYS=0 cannot see it");
    assert_eq!(report.databases[0].verified, 0);

    // A day later (a page is re-checked at most once in 20 hours).
    let age = |dir: &Path| {
        let path = dir.join("state.json");
        let mut st = State::load(&path).unwrap();
        let r = st.pages.get_mut(&common::fake_notion::norm(&child)).unwrap();
        let day_ago = (chrono::Utc::now() - chrono::Duration::hours(25)).to_rfc3339();
        r.verified_at = Some(day_ago.clone());
        r.fetched_at = Some(day_ago);
        st.save(&path).unwrap();
    };
    age(dir.path());
    let daily = Settings::new(&fake).db(&db.database_id, "projects").set("VERIFY_DAYS", "1");
    let report = run_ok(&daily, dir.path()).await;
    assert!(child_md(dir.path()).contains("edited, but search does not say so"), "{report:?}");
    assert_eq!(report.databases[0].verified, 1, "{report:?}");
    let summary = notion_git_backup::notify::summary_text(&report);
    assert!(summary.contains("re-checked: 1 child page against Notion (VERIFY_DAYS)"), "{summary}");
    // Re-checked pages that did not change are not committed again.
    let commits = common::env::commit_count(&repo);
    age(dir.path());
    let report = run_ok(&daily, dir.path()).await;
    assert_eq!(report.databases[0].verified, 1);
    assert_eq!(common::env::commit_count(&repo), commits);
    // Checked a moment ago: not again in the same day.
    assert_eq!(run_ok(&daily, dir.path()).await.databases[0].verified, 0);
}
