//! The backup end to end: the engine against the fake Notion server, into a real local git
//! repository and into the fake Gitea (which commits into a real bare repository).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::fake_gitea::{self, FakeGitea};
use common::fake_notion::{FakeNotion, World, DEFAULT_TOKEN};
use common::fixtures::*;
use notion_git_backup::config::{from_vars, Config, Overrides};
use notion_git_backup::state::{NodeKind, RunLock, State};
use notion_git_backup::sync::{run_with, ExitStatus, Interrupt};
use serde_json::json;

const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, b'I', b'H', b'D', b'R', 0, 0, 0, 2, 0, 0, 0, 2, 8, 2,
    0, 0, 0, 0xFD, 0xD4, 0x9A, 0x73,
];
const PDF: &[u8] = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n";

struct Ws {
    fake: FakeNotion,
    db: DbIds,
    dir: tempfile::TempDir,
}

/// Five pages with headings, text, a hosted image (served with a lying type) and a PDF.
async fn workspace() -> Ws {
    let mut w = World::new();
    let db = add_database(&mut w, "Notes", 5);
    for (i, id) in db.rows.iter().enumerate() {
        let img = w.add_file_with_type(&format!("photo{i}.jpg"), png_variant(i), "image/jpeg");
        let pdf = w.add_file(&format!("Report {i}.pdf"), PDF.to_vec());
        w.set_children(
            id,
            vec![
                heading(1, "Overview"),
                paragraph(&format!("Text of row {i}")),
                image_hosted(&img, "a caption"),
                file_block(&pdf),
            ],
        );
        w.page_mut(id).unwrap()["properties"]["Tags"] = p_multi_select(&["x", "y"]);
    }
    let fake = FakeNotion::start(w).await;
    Ws { fake, db, dir: tempfile::tempdir().unwrap() }
}

/// A distinct valid PNG per index (the trailing byte differs after the IEND-less header: still
/// sniffed as PNG).
fn png_variant(i: usize) -> Vec<u8> {
    let mut v = PNG.to_vec();
    v.extend_from_slice(format!("variant {i}").as_bytes());
    v
}

fn config(ws: &Ws, extra: &[(&str, String)]) -> Config {
    let mut vars: BTreeMap<String, String> = [
        ("NOTION_TOKEN", DEFAULT_TOKEN.to_string()),
        ("NOTION_API_URL", ws.fake.base_url()),
        ("NOTION_RATE_LIMIT", "500".into()),
        ("DB1_NOTION_ID", ws.db.database_id.clone()),
        ("DB1_GIT_REPO", "notes".into()),
        ("DB1_LABEL", "Notes".into()),
        ("BACKUP_DIR", "backup".into()),
        ("STATE_FILE", "state.json".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    for (k, v) in extra {
        vars.insert(k.to_string(), v.clone());
    }
    from_vars(&vars, ws.dir.path(), &Overrides::default()).unwrap()
}

async fn run(cfg: Config) -> (ExitStatus, notion_git_backup::notify::RunReport) {
    run_with(cfg, Interrupt::default()).await
}

fn repo(ws: &Ws) -> PathBuf {
    ws.dir.path().join("backup/notes")
}

fn files(repo: &Path) -> BTreeMap<String, Vec<u8>> {
    fake_gitea::read_files(repo, "HEAD")
}

fn commits(repo: &Path) -> usize {
    let out =
        std::process::Command::new("git").arg("-C").arg(repo).args(["rev-list", "--count", "HEAD"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(0)
}

/// Page records (the state also records each database).
fn pages(state: &State) -> usize {
    state.pages.values().filter(|r| r.kind == NodeKind::Page).count()
}

fn folders(files: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    let mut f: Vec<String> = files.keys().filter_map(|p| p.strip_suffix("/index.md")).map(str::to_string).collect();
    f.sort();
    f
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_backup_then_no_change_run_makes_no_request_for_blocks_and_no_commit() {
    let ws = workspace().await;
    let (status, report) = run(config(&ws, &[])).await;
    assert_eq!(status, ExitStatus::Success, "{report:?}");
    let f = files(&repo(&ws));
    assert_eq!(folders(&f), vec!["row-0", "row-1", "row-2", "row-3", "row-4"]);
    for i in 0..5 {
        let md = String::from_utf8(f[&format!("row-{i}/index.md")].clone()).unwrap();
        assert!(md.starts_with("---\n"), "{md}");
        // The PNG served as image/jpeg from a .jpg URL is stored as .png under assets/.
        let asset = format!("row-{i}/assets/1-overview.png");
        assert_eq!(
            f.get(&asset).map(Vec::as_slice),
            Some(png_variant(i).as_slice()),
            "missing {asset}: {:?}",
            f.keys()
        );
        assert_eq!(f[&format!("row-{i}/attachments/Report {i}.pdf")], PDF);
    }
    assert!(f.contains_key("README.md"));
    // One commit per page + the index.
    assert_eq!(commits(&repo(&ws)), 6);
    let state = State::load(&ws.dir.path().join("state.json")).unwrap();
    assert_eq!(pages(&state), 5);
    for rec in state.pages.values().filter(|r| r.kind == NodeKind::Page) {
        assert!(rec.files.contains_key(&format!("{}/index.md", rec.folder.as_deref().unwrap())), "{rec:?}");
    }
    assert_eq!(report.databases[0].backed_up.len(), 5);

    // Second run, nothing changed in Notion.
    ws.fake.reset_stats();
    let (status, report) = run(config(&ws, &[])).await;
    assert_eq!(status, ExitStatus::Success, "{report:?}");
    let s = ws.fake.stats();
    assert_eq!(s.kind("blocks.children"), 0, "{:?}", s.by_kind);
    assert_eq!(s.file_downloads, 0);
    // ceil(5/100) query + database + user list.
    assert!(s.requests <= 3, "{:?}", s.by_kind);
    assert_eq!(commits(&repo(&ws)), 6, "no change, no commit");
    assert!(report.databases[0].backed_up.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_renames_trash_and_additions_become_exactly_those_commits() {
    let ws = workspace().await;
    assert_eq!(run(config(&ws, &[])).await.0, ExitStatus::Success);
    let before = commits(&repo(&ws));
    let later = ts_plus_minutes(10_000);
    ws.fake.with_world(|w| {
        for id in &ws.db.rows[0..3] {
            w.set_children(id, vec![paragraph("rewritten")]);
            w.page_mut(id).unwrap()["last_edited_time"] = json!(later);
        }
        let p = w.page_mut(&ws.db.rows[3]).unwrap();
        p["properties"]["Name"] = p_title("Renamed page");
        p["last_edited_time"] = json!(later);
        w.page_mut(&ws.db.rows[4]).unwrap()["in_trash"] = json!(true);
        let id = w.next_id();
        let page = page(&id, parent_data_source(&ws.db.data_source_id, &ws.db.database_id), "Brand new", vec![]);
        w.insert_page(with_times(page, &later, &later));
        w.set_children(&id, vec![paragraph("hello")]);
    });
    let (status, report) = run(config(&ws, &[])).await;
    assert_eq!(status, ExitStatus::Success, "{report:?}");
    let f = files(&repo(&ws));
    assert_eq!(folders(&f), vec!["brand-new", "renamed-page", "row-0", "row-1", "row-2"]);
    assert!(!f.keys().any(|k| k.starts_with("row-3/") || k.starts_with("row-4/")), "old folders gone: {:?}", f.keys());
    // The renamed page kept its media.
    assert!(f.contains_key("renamed-page/assets/1-overview.png"));
    // 3 edits + 1 rename + 1 addition + the removal of the trashed page (its own commit, after
    // Notion confirmed it is in the trash) + the index.
    assert_eq!(commits(&repo(&ws)) - before, 7);
    let md = String::from_utf8(f["row-0/index.md"].clone()).unwrap();
    assert!(md.contains("rewritten"));
    // The media of edited pages are gone with the blocks that held them.
    assert!(!f.contains_key("row-0/assets/1-overview.png"));
    let d = &report.databases[0];
    assert_eq!(d.deleted, vec!["Row 4".to_string()]);
    assert_eq!(d.moved, vec!["Renamed page".to_string()]);
    let state = State::load(&ws.dir.path().join("state.json")).unwrap();
    assert_eq!(pages(&state), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_page_is_reported_not_recorded_and_retried_next_run() {
    let ws = workspace().await;
    // Row 2's content is not shared with the integration.
    let bad = ws.db.rows[2].clone();
    let child = ws.fake.with_world(|w| w.set_children(&bad, vec![toggle("secret")]))[0].clone();
    ws.fake.with_world(|w| w.unshare(&child));
    ws.fake.with_world(|w| w.set_children(&child, vec![paragraph("x")]));
    let (status, report) = run(config(&ws, &[])).await;
    assert_eq!(status, ExitStatus::PartialFailure);
    let d = &report.databases[0];
    assert_eq!(d.failed.len(), 1, "{d:?}");
    assert_eq!(d.failed[0].title, "Row 2");
    assert!(d.failed[0].reason.contains("Connections"), "{}", d.failed[0].reason);
    assert_eq!(d.backed_up.len(), 4);
    let state = State::load(&ws.dir.path().join("state.json")).unwrap();
    assert!(!state.pages.contains_key(&notion_git_backup::ids::normalize(&bad)), "a failed page must not be recorded");

    ws.fake.with_world(|w| w.share(&child));
    let (status, report) = run(config(&ws, &[])).await;
    assert_eq!(status, ExitStatus::Success, "{report:?}");
    assert_eq!(report.databases[0].backed_up, vec!["Row 2".to_string()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_while_one_holds_the_lock_refuses_cleanly() {
    let ws = workspace().await;
    let cfg = config(&ws, &[]);
    let _held = RunLock::acquire(&cfg.state_file).unwrap();
    let (status, report) = run(cfg).await;
    assert_eq!(status, ExitStatus::Fatal);
    let msg = report.fatal.unwrap();
    assert!(msg.contains("another backup run is in progress"), "{msg}");
    assert!(!repo(&ws).exists(), "the refused run wrote nothing");
    assert_eq!(ws.fake.stats().requests, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unshared_database_is_reported_with_the_fix_and_others_go_on() {
    let ws = workspace().await;
    let other = ws.fake.with_world(|w| {
        let db = add_database(w, "Hidden", 2);
        w.unshare(&db.database_id);
        db
    });
    let cfg = config(&ws, &[("DB2_NOTION_ID", other.database_id.clone()), ("DB2_GIT_REPO", "hidden".into())]);
    let (status, report) = run(cfg).await;
    assert_eq!(status, ExitStatus::PartialFailure);
    assert_eq!(report.databases[0].backed_up.len(), 5);
    let err = report.databases[1].error.clone().unwrap();
    assert!(err.contains("Connections"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gitea_full_backup_then_nothing_sent_when_nothing_changed() {
    let ws = workspace().await;
    let gitea = FakeGitea::start().await;
    gitea.add_repo(fake_gitea::USER, "notes");
    let extra = [
        ("GIT_BASE_URL", gitea.base_url.clone()),
        ("GIT_TOKEN", fake_gitea::TOKEN.to_string()),
        ("GIT_OWNER", fake_gitea::USER.to_string()),
    ];
    let (status, report) = run(config(&ws, &extra)).await;
    assert_eq!(status, ExitStatus::Success, "{report:?}");
    let f = gitea.files(fake_gitea::USER, "notes", "main");
    assert_eq!(folders(&f), vec!["row-0", "row-1", "row-2", "row-3", "row-4"]);
    assert_eq!(f["row-1/attachments/Report 1.pdf"], PDF);
    // One multi-file commit per page (index.md + image + PDF together) + the index.
    assert_eq!(gitea.commit_posts(), 6);
    assert_eq!(gitea.commit_count(fake_gitea::USER, "notes", "main"), 6);

    let before = gitea.requests().len();
    let (status, _) = run(config(&ws, &extra)).await;
    assert_eq!(status, ExitStatus::Success);
    assert_eq!(gitea.commit_posts(), 6, "no change, no write");
    // Issue 15: a no-change run asks Gitea twice per repository (the repository, its tree read by
    // the branch's name); the server's version was checked on the first run.
    let asked: Vec<(String, String)> = gitea.requests()[before..].to_vec();
    assert_eq!(asked.len(), 2, "{asked:?}");
    assert!(asked[1].1.contains("/git/trees/main"), "{asked:?}");
    // A forced full sync re-renders everything and still writes nothing.
    let mut cfg = config(&ws, &extra);
    cfg.full_sync = true;
    assert_eq!(run(cfg).await.0, ExitStatus::Success);
    assert_eq!(gitea.commit_posts(), 6, "full sync commits only what differs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_state_is_upgraded_and_verified_once() {
    let ws = workspace().await;
    let ids: serde_json::Map<String, serde_json::Value> =
        ws.db.rows.iter().map(|id| (id.clone(), json!("2026-01-01T00:00:00.000Z"))).collect();
    std::fs::write(ws.dir.path().join("state.json"), serde_json::to_string(&json!({ "synced_pages": ids })).unwrap())
        .unwrap();
    let (status, _) = run(config(&ws, &[])).await;
    assert_eq!(status, ExitStatus::Success);
    let state = State::load(&ws.dir.path().join("state.json")).unwrap();
    assert_eq!(pages(&state), 5);
    assert!(state.pages.values().all(|r| r.folder.is_some() && r.repo == "notes"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comments_are_backed_up_when_asked_for() {
    let ws = workspace().await;
    let row = ws.db.rows[1].clone();
    ws.fake.with_world(|w| {
        let c = comment(&row, "Looks <good> to me", "b07b07b0-7b07-4b07-8b07-b07b07b07b07");
        w.add_comment(&row, c);
    });
    let (status, report) = run(config(&ws, &[("BACKUP_COMMENTS", "1".into())])).await;
    assert_eq!(status, ExitStatus::Success, "{report:?}");
    let f = files(&repo(&ws));
    let md = String::from_utf8(f["row-1/index.md"].clone()).unwrap();
    let tail = &md[md.find("## Comments").expect("a Comments section")..];
    assert!(tail.contains("Looks &lt;good&gt; to me"), "{tail}");
    let pj: serde_json::Value = serde_json::from_slice(&f["row-1/page.json"]).unwrap();
    assert_eq!(pj["comments"][0]["rich_text"][0]["plain_text"], "Looks <good> to me");
    // Pages without comments get no section, and without BACKUP_COMMENTS nothing is asked.
    assert!(!String::from_utf8_lossy(&f["row-0/index.md"]).contains("## Comments"));
}
