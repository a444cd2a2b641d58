//! Crash safety: the real binary is SIGKILLed at random moments while backing up into a local git
//! repository; after every kill the state lists no page whose files are not committed, and a
//! final uninterrupted run produces exactly the tree of a run that was never interrupted, with no
//! commit that repeats its parent's content.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::fake_gitea::read_files;
use common::fake_notion::{FakeNotion, World, DEFAULT_TOKEN};
use common::fixtures::*;
use notion_git_backup::state::State;
use rand::{Rng, SeedableRng};

const PNG_HEAD: &[u8] = &[0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, b'I', b'H', b'D', b'R'];

async fn world() -> (FakeNotion, String) {
    let mut w = World::new();
    let db = add_database(&mut w, "Journal", 12);
    for (i, id) in db.rows.iter().enumerate() {
        let mut png = PNG_HEAD.to_vec();
        png.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 4, 8, 2, 0, 0, 0]);
        png.extend_from_slice(format!("img{i}").as_bytes());
        let img = w.add_file(&format!("img{i}.png"), png);
        let parent = w.set_children(
            id,
            vec![heading(2, "Day"), paragraph(&format!("entry {i}")), image_hosted(&img, ""), toggle("more")],
        );
        w.set_children(&parent[3], vec![paragraph("hidden detail"), bulleted("a"), bulleted("b")]);
    }
    // Enough latency that a run lasts long enough to be killed in the middle.
    w.faults.latency = Duration::from_millis(15);
    (FakeNotion::start(w).await, db.database_id)
}

fn command(dir: &Path, base: &str, db: &str) -> Command {
    // Settings come from the environment; the .env file fixes where the state and backups go.
    std::fs::write(dir.join(".env"), "# settings are in the environment\n").unwrap();
    let mut c = Command::new(assert_cmd::cargo::cargo_bin("notion-git-backup"));
    c.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("NOTION_TOKEN", DEFAULT_TOKEN)
        .env("NOTION_API_URL", base)
        .env("NOTION_RATE_LIMIT", "200")
        .env("DB1_NOTION_ID", db)
        .env("DB1_GIT_REPO", "journal")
        .env("PAGE_CONCURRENCY", "3")
        .arg("--env")
        .arg(dir.join(".env"))
        .arg("-q");
    c
}

fn run_to_end(dir: &Path, base: &str, db: &str) {
    let out = command(dir, base, db).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}

fn git(repo: &Path, args: &[&str]) -> String {
    let out = Command::new("git").arg("-C").arg(repo).args(args).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every page the state lists has exactly its recorded blobs committed at HEAD.
fn assert_state_matches_commits(dir: &Path) {
    let state = State::load(&dir.join("sync-state.json")).unwrap();
    let repo = dir.join("notion-backup/journal");
    let tree: BTreeMap<String, String> = git(&repo, &["ls-tree", "-r", "HEAD"])
        .lines()
        .filter_map(|l| {
            let (meta, path) = l.split_once('\t')?;
            Some((path.to_string(), meta.split(' ').nth(2)?.to_string()))
        })
        .collect();
    for (id, rec) in &state.pages {
        assert!(!rec.files.is_empty(), "page {id} recorded without files");
        for (path, blob) in &rec.files {
            assert_eq!(tree.get(path), Some(blob), "state lists {path} of page {id} but HEAD does not hold it");
        }
    }
}

/// No commit has the same tree as its parent (no duplicate commit of the same content).
fn assert_no_empty_commits(repo: &Path) {
    let log = git(repo, &["log", "--format=%T %P"]);
    for line in log.lines() {
        let mut parts = line.split(' ');
        let tree = parts.next().unwrap();
        if let Some(parent) = parts.next().filter(|p| !p.is_empty()) {
            let parent_tree = git(repo, &["rev-parse", &format!("{parent}^{{tree}}")]);
            assert_ne!(tree, parent_tree.trim(), "a commit repeats its parent's content");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_moments_then_rerun_gives_the_uninterrupted_tree() {
    let (fake, db) = world().await;
    let base = fake.base_url();

    // The reference: one uninterrupted run.
    let reference = tempfile::tempdir().unwrap();
    let (r, b, d) = (reference.path().to_path_buf(), base.clone(), db.clone());
    let started = Instant::now();
    tokio::task::spawn_blocking(move || run_to_end(&r, &b, &d)).await.unwrap();
    let full = started.elapsed();
    let want = read_files(&reference.path().join("notion-backup/journal"), "HEAD");
    assert!(want.len() > 12 * 2, "{:?}", want.keys());

    let trials = 10;
    let seed: u64 = std::env::var("KILL_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(20261121);
    let (b, d) = (base.clone(), db.clone());
    tokio::task::spawn_blocking(move || {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        for trial in 0..trials {
            let dir = tempfile::tempdir().unwrap();
            // One or two kills before the run is allowed to finish.
            for _ in 0..rng.random_range(1..=2) {
                let wait = full.mul_f64(rng.random_range(0.05..1.0));
                let mut child = command(dir.path(), &b, &d).spawn().unwrap();
                std::thread::sleep(wait);
                let _ = child.kill();
                let _ = child.wait();
                if dir.path().join("notion-backup/journal/.git").exists()
                    && git(&dir.path().join("notion-backup/journal"), &["rev-parse", "HEAD"]).trim().len() == 40
                {
                    assert_state_matches_commits(dir.path());
                } else {
                    let st = State::load(&dir.path().join("sync-state.json")).unwrap();
                    assert!(st.pages.is_empty(), "trial {trial}: state lists pages but nothing was committed");
                }
            }
            run_to_end(dir.path(), &b, &d);
            let repo = dir.path().join("notion-backup/journal");
            let got = read_files(&repo, "HEAD");
            assert_eq!(got.keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>(), "trial {trial} (seed {seed})");
            assert!(got == want, "trial {trial}: content differs from the uninterrupted run (seed {seed})");
            assert_state_matches_commits(dir.path());
            assert_no_empty_commits(&repo);
            let status = git(&repo, &["status", "--porcelain"]);
            assert!(status.trim().is_empty(), "trial {trial}: work tree left dirty: {status}");
        }
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_cleanly_with_state_saved_and_the_next_run_finishes() {
    let (fake, db) = world().await;
    let base = fake.base_url();
    let dir = tempfile::tempdir().unwrap();
    let (p, b, d) = (dir.path().to_path_buf(), base.clone(), db.clone());
    tokio::task::spawn_blocking(move || {
        let child = command(&p, &b, &d).stderr(std::process::Stdio::piped()).spawn().unwrap();
        // Let it commit a few pages, then ask it to stop.
        std::thread::sleep(Duration::from_millis(700));
        let ok = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().unwrap();
        assert!(ok.success());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        // Interrupted runs are not "all good": 130 if it stopped early, 0 if it had already finished.
        assert!(matches!(out.status.code(), Some(0) | Some(130)), "exit {:?}: {stderr}", out.status);
        assert_state_matches_commits(&p);
        let repo = p.join("notion-backup/journal");
        if repo.join(".git").exists() {
            assert!(git(&repo, &["status", "--porcelain"]).trim().is_empty(), "work tree left dirty");
        }
        run_to_end(&p, &b, &d);
        assert_state_matches_commits(&p);
        let state = State::load(&p.join("sync-state.json")).unwrap();
        let pages = state.pages.values().filter(|r| r.kind == notion_git_backup::state::NodeKind::Page).count();
        assert_eq!(pages, 12);
    })
    .await
    .unwrap();
}
