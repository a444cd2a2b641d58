//! Reliability end to end: the engine in-process against the fake Notion (5xx, dropped
//! connections, 429/529 storms under a tight rate limit, signed file URLs that expire within a
//! second) and against the fake Gitea (5xx with and without the commit landing, a branch moved by
//! another writer, a proxy refusing big bodies with 413).
//!
//! What every test holds to: the run ends with exit 0, or with 1 and the next run ends with 0;
//! afterwards every page and every file is in the repository, byte for byte, and the tree equals
//! the one a fault-free run produces; and at every moment (checked by a watcher polling during
//! the runs, and after each run) every file the state records for a page is committed with that
//! blob id. Longer soak variants are `#[ignore]`d: `cargo test --test reliability -- --ignored`.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::fake_gitea::{self, CommitFault, FakeGitea};
use common::fake_notion::{FakeNotion, RateLimit, World, DEFAULT_TOKEN};
use common::fixtures::*;
use notion_git_backup::config::{from_vars, Config, Overrides};
use notion_git_backup::notify::RunReport;
use notion_git_backup::state::State;
use notion_git_backup::sync::{run_with, ExitStatus, Interrupt};

const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, b'I', b'H', b'D', b'R', 0, 0, 0, 2, 0, 0, 0, 2, 8, 2,
    0, 0, 0, 0xFD, 0xD4, 0x9A, 0x73,
];

/// A distinct valid PNG per (page, slot).
fn png(page: usize, slot: usize) -> Vec<u8> {
    let mut v = PNG.to_vec();
    v.extend_from_slice(format!("page {page} slot {slot}").as_bytes());
    v
}

fn pdf(page: usize) -> Vec<u8> {
    format!("%PDF-1.4\n% page {page}\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n").into_bytes()
}

/// Incompressible bytes (so base64 bodies really are big), deterministic per `seed`.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

struct Ws {
    fake: FakeNotion,
    db: DbIds,
    /// Normalized page id -> bytes of every file that page must end up with.
    media: BTreeMap<String, Vec<Vec<u8>>>,
}

/// `pages` rows, each: heading, text, a hosted image, and a chain of `depth` nested toggles whose
/// innermost holds a hosted image and a PDF (`depth + 1` child listings per page, three files).
fn fill(w: &mut World, pages: usize, depth: usize) -> (DbIds, BTreeMap<String, Vec<Vec<u8>>>) {
    let db = add_database(w, "Notes", pages);
    let mut media = BTreeMap::new();
    for (i, id) in db.rows.iter().enumerate() {
        let top = w.add_file_with_type(&format!("photo{i}.jpg"), png(i, 0), "image/jpeg");
        let deep = w.add_file(&format!("deep{i}.png"), png(i, 1));
        let doc = w.add_file(&format!("Report {i}.pdf"), pdf(i));
        let kids = w.set_children(
            id,
            vec![
                heading(1, "Overview"),
                paragraph(&format!("Text of row {i}")),
                image_hosted(&top, ""),
                toggle("More"),
            ],
        );
        let mut parent = kids[3].clone();
        for level in 1..depth {
            parent = w.set_children(&parent, vec![paragraph(&format!("level {level}")), toggle("Deeper")])[1].clone();
        }
        w.set_children(&parent, vec![paragraph(&format!("deep text {i}")), image_hosted(&deep, "x"), file_block(&doc)]);
        media.insert(common::fake_notion::norm(id), vec![png(i, 0), png(i, 1), pdf(i)]);
    }
    (db, media)
}

async fn workspace(pages: usize, depth: usize, seed: u64) -> Ws {
    let mut w = World::new();
    w.seed = seed;
    let (db, media) = fill(&mut w, pages, depth);
    Ws { fake: FakeNotion::start(w).await, db, media }
}

fn config(ws: &Ws, dir: &Path, extra: &[(&str, String)]) -> Config {
    let mut vars: BTreeMap<String, String> = [
        ("NOTION_TOKEN", DEFAULT_TOKEN.to_string()),
        ("NOTION_API_URL", ws.fake.base_url()),
        ("NOTION_RATE_LIMIT", "500".into()),
        ("DB1_NOTION_ID", ws.db.database_id.clone()),
        ("DB1_GIT_REPO", "notes".into()),
        ("BACKUP_DIR", "backup".into()),
        ("STATE_FILE", "state.json".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    for (k, v) in extra {
        vars.insert(k.to_string(), v.clone());
    }
    from_vars(&vars, dir, &Overrides::default()).unwrap()
}

fn gitea_vars(g: &FakeGitea) -> Vec<(&'static str, String)> {
    vec![
        ("GIT_BASE_URL", g.base_url.clone()),
        ("GIT_TOKEN", fake_gitea::TOKEN.to_string()),
        ("GIT_OWNER", fake_gitea::USER.to_string()),
    ]
}

fn git(repo: &Path, args: &[&str]) -> Option<Vec<u8>> {
    let out = Command::new("git").arg("-C").arg(repo).args(args).output().ok()?;
    out.status.success().then_some(out.stdout)
}

/// path -> blob id of every file at `rev` (empty when `rev` does not exist yet).
fn tree_blobs(repo: &Path, rev: &str) -> BTreeMap<String, String> {
    let Some(out) = git(repo, &["ls-tree", "-r", "-z", rev]) else { return BTreeMap::new() };
    String::from_utf8_lossy(&out)
        .split('\0')
        .filter_map(|rec| {
            let (meta, path) = rec.split_once('\t')?;
            Some((path.to_string(), meta.split(' ').nth(2)?.to_string()))
        })
        .collect()
}

/// Every file the state records for a page of `repo_name`, missing from `rev` or with another
/// blob id there. Reads the state first, then the tree: the tree can only have moved forward.
fn uncommitted_records(state_file: &Path, repo: &Path, rev: &str, repo_name: &str) -> Vec<String> {
    let state = match State::load(state_file) {
        Ok(s) => s,
        Err(e) => return vec![format!("state unreadable: {e}")],
    };
    let tree = tree_blobs(repo, rev);
    let mut bad = Vec::new();
    for (id, rec) in state.pages_in_repo(repo_name) {
        if rec.files.is_empty() {
            bad.push(format!("page {id} recorded without files"));
        }
        for (path, blob) in &rec.files {
            if tree.get(path) != Some(blob) {
                bad.push(format!("page {id}: state lists {path} = {blob}, {rev} holds {:?}", tree.get(path)));
            }
        }
    }
    bad
}

/// Polls the state against the repository while runs are going on.
struct Watcher {
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<(usize, Vec<String>)>,
}

impl Watcher {
    fn start(state_file: PathBuf, repo: PathBuf, rev: &str) -> Watcher {
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, rev) = (stop.clone(), rev.to_string());
        let handle = std::thread::spawn(move || {
            let (mut checks, mut bad) = (0, Vec::new());
            while !flag.load(Ordering::SeqCst) {
                bad.extend(uncommitted_records(&state_file, &repo, &rev, "notes"));
                checks += 1;
                std::thread::sleep(Duration::from_millis(25));
            }
            (checks, bad)
        });
        Watcher { stop, handle }
    }

    /// Stops and asserts that no check ever found the state ahead of the commits.
    fn finish(self) -> usize {
        self.stop.store(true, Ordering::SeqCst);
        let (checks, bad) = self.handle.join().unwrap();
        assert!(
            bad.is_empty(),
            "the state was ahead of the commits {} time(s): {:#?}",
            bad.len(),
            &bad[..bad.len().min(5)]
        );
        checks
    }
}

/// Runs until a run ends with exit 0 (at most `max_runs`), checking the state against the
/// commits after every run. Returns each run's status and report.
async fn run_until_clean(
    max_runs: usize,
    make: impl Fn() -> Config,
    repo: &Path,
    rev: &str,
) -> Vec<(ExitStatus, RunReport)> {
    let mut runs = Vec::new();
    for _ in 0..max_runs {
        let cfg = make();
        let state_file = cfg.state_file.clone();
        let (status, report) = run_with(cfg, Interrupt::default()).await;
        let bad = uncommitted_records(&state_file, repo, rev, "notes");
        assert!(bad.is_empty(), "after run {}: {bad:#?}", runs.len() + 1);
        assert_ne!(status, ExitStatus::Fatal, "{report:#?}");
        runs.push((status, report));
        if status == ExitStatus::Success {
            return runs;
        }
    }
    panic!("no clean run after {max_runs} runs: {:#?}", runs.last().map(|r| &r.1));
}

/// Why pages or databases failed, over all runs.
fn failures(runs: &[(ExitStatus, RunReport)]) -> Vec<String> {
    let dbs = runs.iter().flat_map(|r| r.1.databases.iter());
    dbs.flat_map(|d| d.error.iter().cloned().chain(d.failed.iter().map(|f| format!("{}: {}", f.title, f.reason))))
        .collect()
}

/// Files of `rev` (path -> bytes).
fn files(repo: &Path, rev: &str) -> BTreeMap<String, Vec<u8>> {
    fake_gitea::read_files(repo, rev)
}

/// Every page has its folder with `index.md` and every one of its files, byte for byte.
fn assert_everything_present(ws: &Ws, state_file: &Path, got: &BTreeMap<String, Vec<u8>>) {
    let state = State::load(state_file).unwrap();
    let pages = state.pages.values().filter(|r| r.kind == notion_git_backup::state::NodeKind::Page).count();
    assert_eq!(pages, ws.db.rows.len(), "every page recorded");
    for (id, want) in &ws.media {
        let rec = &state.pages[id];
        let folder = rec.folder.clone().unwrap();
        let md = got.get(&format!("{folder}/index.md")).unwrap_or_else(|| panic!("{folder}/index.md missing"));
        assert!(String::from_utf8_lossy(md).contains("deep text"), "{folder}: nested content missing");
        let in_folder: Vec<&Vec<u8>> =
            got.iter().filter(|(p, _)| p.starts_with(&format!("{folder}/"))).map(|(_, b)| b).collect();
        for bytes in want {
            assert!(in_folder.contains(&bytes), "{folder}: a file ({} bytes) is missing or altered", bytes.len());
        }
    }
    assert!(got.contains_key("README.md"));
}

/// The tree of a fault-free run of the same workspace into local git.
async fn reference_tree(ws: &Ws) -> BTreeMap<String, Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    let (status, report) = run_with(config(ws, dir.path(), &[]), Interrupt::default()).await;
    assert_eq!(status, ExitStatus::Success, "{report:#?}");
    files(&dir.path().join("backup/notes"), "HEAD")
}

fn fault_seed(default: u64) -> u64 {
    std::env::var("FAULT_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

/// 5% 5xx (JSON 500/503/504 and Cloudflare's HTML 502) and 2% connections closed without an
/// answer, over about 11 requests per page (ten nested toggles), so that with 40 pages both
/// faults happen (no drop at all in 440 requests has a chance of about 1 in 7000).
async fn notion_5xx_and_drops(pages: usize, seed: u64) {
    let ws = workspace(pages, 10, seed).await;
    let want = reference_tree(&ws).await;
    ws.fake.reset_stats();
    ws.fake.with_world(|w| {
        w.faults.error_rate_5xx = 0.05;
        w.faults.drop_rate = 0.02;
    });
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("backup/notes");
    let watcher = Watcher::start(dir.path().join("state.json"), repo.clone(), "HEAD");
    let runs = run_until_clean(3, || config(&ws, dir.path(), &[]), &repo, "HEAD").await;
    let checks = watcher.finish();
    let s = ws.fake.stats();
    eprintln!(
        "seed {seed}: {} run(s), {} requests, {} 5xx, {} dropped, {checks} state checks",
        runs.len(),
        s.requests,
        s.server_errors,
        s.dropped
    );
    assert!(s.server_errors > 0 && s.dropped > 0, "faults were not exercised: {:?}", (s.server_errors, s.dropped));
    let got = files(&repo, "HEAD");
    assert_everything_present(&ws, &dir.path().join("state.json"), &got);
    assert!(got == want, "the tree differs from a fault-free run: {:?} vs {:?}", got.keys(), want.keys());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notion_5xx_and_dropped_connections_lose_nothing() {
    notion_5xx_and_drops(40, fault_seed(7)).await;
}

/// Soak: 120 pages, three seeds (about 4,300 requests). `cargo test --test reliability -- --ignored`
/// (about two minutes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "soak variant, about two minutes: cargo test --test reliability -- --ignored"]
async fn soak_notion_5xx_and_dropped_connections_over_seeds() {
    for seed in [1, 2, 3] {
        notion_5xx_and_drops(120, seed).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notion_429_and_529_storms_under_a_tight_rate_limit_lose_nothing() {
    let ws = workspace(10, 2, fault_seed(11)).await;
    let want = reference_tree(&ws).await;
    ws.fake.reset_stats();
    ws.fake.with_world(|w| {
        // A storm at the start (the listing), then a server allowing far less than we send.
        // (7 in a row fits the client's 8 attempts per request.)
        w.faults.burst_429 = 5;
        w.faults.burst_529 = 2;
        w.faults.rate_limit = Some(RateLimit { per_second: 25.0, burst: 8 });
    });
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("backup/notes");
    let watcher = Watcher::start(dir.path().join("state.json"), repo.clone(), "HEAD");
    let extra = [("NOTION_RATE_LIMIT", "200".to_string())];
    let runs = run_until_clean(3, || config(&ws, dir.path(), &extra), &repo, "HEAD").await;
    watcher.finish();
    let s = ws.fake.stats();
    eprintln!(
        "{} run(s), {} requests, {} answered 429, {} answered 5xx/529; failures: {:?}",
        runs.len(),
        s.requests,
        s.rate_limited,
        s.server_errors,
        failures(&runs)
    );
    assert!(s.rate_limited > 5, "the rate limit was never hit: {:?}", s.by_kind);
    assert!(runs[0].1.notion_rate_limited > 0, "the report counts the 429s");
    let got = files(&repo, "HEAD");
    assert_everything_present(&ws, &dir.path().join("state.json"), &got);
    assert!(got == want, "the tree differs from a fault-free run");
}

/// No commit repeats its parent's tree (a commit whose answer was lost is not made twice).
fn assert_no_empty_commits(repo: &Path, rev: &str) {
    let log = String::from_utf8(git(repo, &["log", "--format=%T %P", rev]).unwrap()).unwrap();
    for line in log.lines() {
        let mut parts = line.split(' ');
        let tree = parts.next().unwrap();
        if let Some(parent) = parts.next().filter(|p| !p.is_empty()) {
            let parent_tree = git(repo, &["rev-parse", &format!("{parent}^{{tree}}")]).unwrap();
            assert_ne!(tree, String::from_utf8_lossy(&parent_tree).trim(), "a commit repeats its parent's content");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gitea_5xx_moved_branch_and_413_lose_nothing() {
    let mut w = World::new();
    let (db, mut media) = fill(&mut w, 6, 2);
    // One page too big for the proxy in one request: three 120 KB attachments (~480 KB of base64).
    let big = db.rows[5].clone();
    let mut blocks = vec![paragraph("big attachments")];
    for k in 0..3 {
        let bytes = noise(120_000, k);
        let f = w.add_file(&format!("blob{k}.bin"), bytes.clone());
        blocks.push(file_block(&f));
        media.get_mut(&common::fake_notion::norm(&big)).unwrap().push(bytes);
    }
    w.append_children(&big, blocks);
    let ws = Ws { fake: FakeNotion::start(w).await, db, media };
    let mut want = reference_tree(&ws).await;

    let gitea = FakeGitea::start().await;
    let bare = gitea.add_repo(fake_gitea::USER, "notes");
    let fault = |status, land, html| CommitFault { status, land, html };
    gitea.fail_next_commits(&[
        fault(500, false, false),
        fault(502, true, true), // the commit lands, the answer is a proxy's error page
        fault(503, false, true),
        fault(504, true, false),
        fault(500, false, false),
    ]);
    gitea.non_fast_forward_next(2);
    gitea.reject_bodies_over(Some(300_000));

    let dir = tempfile::tempdir().unwrap();
    let rev = "refs/heads/main";
    let watcher = Watcher::start(dir.path().join("state.json"), bare.clone(), rev);
    let extra = gitea_vars(&gitea);
    let runs = run_until_clean(4, || config(&ws, dir.path(), &extra), &bare, rev).await;
    let checks = watcher.finish();
    eprintln!(
        "{} run(s), {} commit requests, {} commits, {checks} state checks; failures: {:?}",
        runs.len(),
        gitea.commit_posts(),
        gitea.commit_count(fake_gitea::USER, "notes", "main"),
        failures(&runs)
    );
    // Bodies the proxy refused (413) never reach Gitea's handler, so they are not in its log.
    assert!(gitea.commit_posts() > gitea.commit_bodies().len(), "the 413 was never provoked");
    assert!(gitea.commit_bodies().iter().all(|b| b.to_string().len() <= 300_000));

    let mut got = gitea.files(fake_gitea::USER, "notes", "main");
    // The other writer's file is theirs, not ours.
    assert!(got.remove("other-writer.txt").is_some(), "the branch was never moved under the sink");
    want.remove("other-writer.txt");
    assert_everything_present(&ws, &dir.path().join("state.json"), &got);
    assert!(got == want, "the tree differs from a fault-free run: {:?}\nvs {:?}", got.keys(), want.keys());
    assert_no_empty_commits(&bare, rev);
    // The big page went in several commits, each under the proxy's limit.
    let big_folder = State::load(&dir.path().join("state.json")).unwrap().pages
        [&common::fake_notion::norm(&ws.db.rows[5])]
        .folder
        .clone()
        .unwrap();
    assert!(got.keys().filter(|k| k.starts_with(&format!("{big_folder}/attachments/"))).count() >= 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_urls_expiring_within_a_second_still_deliver_every_file() {
    let mut w = World::new();
    let db = add_database(&mut w, "Media", 3);
    let mut want: Vec<(String, Vec<Vec<u8>>)> = Vec::new();
    for (i, id) in db.rows.iter().enumerate() {
        let top = w.add_file(&format!("top{i}.png"), png(i, 0));
        let nested = w.add_file(&format!("nested{i}.png"), png(i, 1));
        let doc = w.add_file(&format!("Doc {i}.pdf"), pdf(i));
        let cover = w.add_file(&format!("cover{i}.png"), png(i, 2));
        let prop = w.add_file(&format!("Sheet {i}.pdf"), pdf(100 + i));
        let kids = w.set_children(id, vec![heading(2, "Pictures"), image_hosted(&top, ""), toggle("More")]);
        w.set_children(&kids[2], vec![image_hosted(&nested, ""), file_block(&doc)]);
        let p = w.page_mut(id).unwrap();
        p["cover"] = file_hosted(&cover);
        p["properties"]["Files"] = p_files(vec![files_entry_hosted(&prop)]);
        want.push((common::fake_notion::norm(id), vec![png(i, 0), png(i, 1), pdf(i), png(i, 2), pdf(100 + i)]));
    }
    // Every signed link dies 1 s after it is issued, and every API answer takes 1.2 s: by the
    // time a page's tree is read, the links of its first blocks (and of the listing) are dead.
    w.file_url_ttl = Duration::from_secs(1);
    w.faults.latency = Duration::from_millis(1200);
    let fake = FakeNotion::start(w).await;
    let ws = Ws { fake, db, media: want.iter().cloned().collect() };
    let dir = tempfile::tempdir().unwrap();
    let (status, report) = run_with(config(&ws, dir.path(), &[]), Interrupt::default()).await;
    assert_eq!(status, ExitStatus::Success, "{report:#?}");
    let s = ws.fake.stats();
    eprintln!(
        "{} requests ({} block and {} page re-reads), {} downloads, {} denied",
        s.requests,
        s.kind("blocks.get"),
        s.kind("pages.get"),
        s.file_downloads,
        s.file_denied
    );
    // The dead links were renewed by re-reading their owners (3 blocks + cover + property per page).
    assert!(s.kind("blocks.get") >= 9 && s.kind("pages.get") >= 3, "{:?}", s.by_kind);
    assert!(s.file_downloads >= 15, "{s:?}");
    let repo = dir.path().join("backup/notes");
    let got = files(&repo, "HEAD");
    let state = State::load(&dir.path().join("state.json")).unwrap();
    for (id, bytes) in &want {
        let folder = state.pages[id].folder.clone().unwrap();
        let in_folder: Vec<&Vec<u8>> =
            got.iter().filter(|(p, _)| p.starts_with(&format!("{folder}/"))).map(|(_, b)| b).collect();
        for b in bytes {
            assert!(in_folder.contains(&b), "{folder}: a file is missing or altered: {:?}", got.keys());
        }
        let md = String::from_utf8_lossy(&got[&format!("{folder}/index.md")]).into_owned();
        assert!(!md.contains("X-Amz-Signature") && !md.contains("/s3/"), "a signed URL reached index.md:\n{md}");
    }
    assert!(uncommitted_records(&dir.path().join("state.json"), &repo, "HEAD", "notes").is_empty());
}
