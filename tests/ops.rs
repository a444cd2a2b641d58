//! Operations end to end: the real binary against the fake Notion server, into local git
//! repositories, with an in-process recorder standing in for Discord, a health-check service and
//! a JSON webhook. Proves what cron relies on: exit codes, the health-check start/success/fail
//! pings, Discord per DISCORD_LEVEL naming the failed page and why, the webhook's totals, the
//! per-database summary on stderr, `--log-format json` lines, `-q`, no control characters
//! without a terminal, that no token or webhook secret appears anywhere, that Ctrl-C sent to
//! the whole process group lets the commit in flight land (exit 130), and that two
//! configurations pointing at one repository never run at once (a `git` on PATH holds a commit
//! open so the tests can act while it is in flight).

mod common;

use std::path::Path;
use std::process::Output;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::Router;
use common::fake_notion::{dashed, FakeNotion, World, DEFAULT_TOKEN};
use common::fixtures::*;
use serde_json::Value;

const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, b'I', b'H', b'D', b'R', 0, 0, 0, 2, 0, 0, 0, 2, 8, 2,
    0, 0, 0, 0xFD, 0xD4, 0x9A, 0x73,
];

const DISCORD_SECRET: &str = "DiScOrDsEcReT0123456789abcdefghijKLMNOP";
const HC_SECRET: &str = "5ec7e7a1-0000-4abc-8def-5ec7e7a1c0de";
const HOOK_SECRET: &str = "whsecret-0123456789abcdef0123456789";

/// One request the recorder received.
#[derive(Debug, Clone)]
struct Hit {
    method: String,
    path: String,
    body: String,
}

/// Discord, the health check and the webhook in one server, told apart by path.
struct Recorder {
    base: String,
    hits: Arc<Mutex<Vec<Hit>>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn record(State(hits): State<Arc<Mutex<Vec<Hit>>>>, method: Method, uri: Uri, body: Bytes) -> StatusCode {
    let path = uri.path().to_string();
    hits.lock().unwrap().push(Hit {
        method: method.to_string(),
        path: path.clone(),
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    if path.starts_with("/api/webhooks/") {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::OK
    }
}

impl Recorder {
    async fn start() -> Recorder {
        let hits = Arc::new(Mutex::new(Vec::new()));
        let app = Router::new().fallback(record).with_state(hits.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.ok();
        });
        Recorder { base, hits, server }
    }
    fn discord_url(&self) -> String {
        format!("{}/api/webhooks/1234567890/{DISCORD_SECRET}", self.base)
    }
    fn hc_url(&self) -> String {
        format!("{}/ping/{HC_SECRET}", self.base)
    }
    fn hook_url(&self) -> String {
        format!("{}/hook/{HOOK_SECRET}", self.base)
    }
    fn take(&self) -> Vec<Hit> {
        std::mem::take(&mut *self.hits.lock().unwrap())
    }
}

/// Health-check pings in order, as `METHOD suffix` (`GET /start`, `GET ` for success, `POST /fail`).
fn pings(hits: &[Hit]) -> Vec<String> {
    let prefix = format!("/ping/{HC_SECRET}");
    hits.iter().filter_map(|h| h.path.strip_prefix(&prefix).map(|rest| format!("{} {rest}", h.method))).collect()
}

fn discord(hits: &[Hit]) -> Vec<Value> {
    hits.iter()
        .filter(|h| h.path.starts_with("/api/webhooks/"))
        .map(|h| {
            assert_eq!(h.method, "POST");
            serde_json::from_str(&h.body).unwrap()
        })
        .collect()
}

fn webhook(hits: &[Hit]) -> Vec<Value> {
    hits.iter().filter(|h| h.path.starts_with("/hook/")).map(|h| serde_json::from_str(&h.body).unwrap()).collect()
}

struct Ws {
    fake: FakeNotion,
    notes: DbIds,
    tasks: DbIds,
    dir: tempfile::TempDir,
    png_bytes: u64,
}

/// "Notes": 4 pages with a heading, text and a hosted PNG; "Tasks": 2 pages of text.
async fn workspace() -> Ws {
    let mut w = World::new();
    let notes = add_database(&mut w, "Notes", 4);
    let tasks = add_database(&mut w, "Tasks", 2);
    let mut png_bytes = 0;
    for (i, id) in notes.rows.iter().enumerate() {
        let mut png = PNG.to_vec();
        png.extend_from_slice(format!("variant {i}").as_bytes());
        png_bytes += png.len() as u64;
        let img = w.add_file(&format!("photo{i}.png"), png);
        w.set_children(id, vec![heading(1, "Overview"), paragraph(&format!("Text {i}")), image_hosted(&img, "")]);
    }
    for id in &tasks.rows {
        w.set_children(id, vec![paragraph("todo")]);
    }
    let fake = FakeNotion::start(w).await;
    Ws { fake, notes, tasks, dir: tempfile::tempdir().unwrap(), png_bytes }
}

/// Row 2 of "Notes" holds a toggle whose content is not shared with the integration.
fn break_row_2(ws: &Ws) -> String {
    let bad = ws.notes.rows[2].clone();
    let child = ws.fake.with_world(|w| w.append_children(&bad, vec![toggle("secret")]))[0].clone();
    ws.fake.with_world(|w| {
        w.set_children(&child, vec![paragraph("x")]);
        w.unshare(&child);
    });
    child
}

/// Runs the binary in the workspace folder with only these settings in the environment.
async fn run(ws: &Ws, rec: &Recorder, discord_level: u8, args: &[&str]) -> Output {
    let vars: Vec<(String, String)> = vec![
        ("NOTION_TOKEN".into(), DEFAULT_TOKEN.into()),
        ("NOTION_API_URL".into(), ws.fake.base_url()),
        ("NOTION_RATE_LIMIT".into(), "200".into()),
        ("DB1_NOTION_ID".into(), ws.notes.database_id.clone()),
        ("DB1_GIT_REPO".into(), "notes".into()),
        ("DB1_LABEL".into(), "Notes".into()),
        ("DB2_NOTION_ID".into(), ws.tasks.database_id.clone()),
        ("DB2_GIT_REPO".into(), "tasks".into()),
        ("BACKUP_DIR".into(), ws.dir.path().join("backup").display().to_string()),
        ("STATE_FILE".into(), ws.dir.path().join("state.json").display().to_string()),
        ("DISCORD_LEVEL".into(), discord_level.to_string()),
        ("DISCORD_WEBHOOK_URL".into(), rec.discord_url()),
        ("HEALTHCHECK_URL".into(), rec.hc_url()),
        ("WEBHOOK_URL".into(), rec.hook_url()),
        ("PAGE_CONCURRENCY".into(), "2".into()),
    ];
    let dir = ws.dir.path().to_path_buf();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(assert_cmd::cargo::cargo_bin("notion-git-backup"))
            .current_dir(&dir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(vars)
            .args(args)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("output is UTF-8")
}

/// Splits stderr into the log lines and the summary (which starts at "Notion backup ").
fn split_summary(stderr: &str) -> (Vec<&str>, Vec<&str>) {
    let lines: Vec<&str> = stderr.lines().collect();
    let at =
        lines.iter().position(|l| l.starts_with("Notion backup ")).unwrap_or_else(|| panic!("no summary:\n{stderr}"));
    (lines[..at].to_vec(), lines[at..].to_vec())
}

/// No secret in any output or received body; no control characters on stderr (no terminal).
fn assert_clean(out: &Output, hits: &[Hit]) {
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    for secret in [DEFAULT_TOKEN, DISCORD_SECRET, HC_SECRET, HOOK_SECRET] {
        assert!(!stdout.contains(secret), "{secret} on stdout:\n{stdout}");
        assert!(!stderr.contains(secret), "{secret} on stderr:\n{stderr}");
        for h in hits {
            assert!(!h.body.contains(secret), "{secret} in the body sent to {}:\n{}", h.method, h.body);
        }
    }
    let control: Vec<char> = stderr.chars().filter(|c| c.is_control() && *c != '\n').collect();
    assert!(control.is_empty(), "control characters {control:?} on stderr without a terminal:\n{stderr:?}");
}

/// The summary line of one database up to its duration (the last `, ` field).
fn db_line<'a>(summary: &[&'a str], label_repo: &str) -> &'a str {
    let line = summary
        .iter()
        .find(|l| l.starts_with(&format!("{label_repo}: ")))
        .unwrap_or_else(|| panic!("no {label_repo} line:\n{}", summary.join("\n")));
    &line[..line.rfind(", ").unwrap()]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn successful_run_pings_start_then_success_and_reports_everywhere() {
    let ws = workspace().await;
    let rec = Recorder::start().await;
    let out = run(&ws, &rec, 2, &[]).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let hits = rec.take();
    assert_clean(&out, &hits);

    // The start ping comes before any other notification, success after.
    assert_eq!(pings(&hits), vec!["GET /start", "GET "]);
    let start = hits.iter().position(|h| h.path.ends_with("/start")).unwrap();
    assert_eq!(start, 0, "start is the first request: {hits:?}");

    // Discord (level 2: after every run) names each database's counts.
    let d = discord(&hits);
    assert_eq!(d.len(), 1);
    let content = d[0]["content"].as_str().unwrap();
    let lines: Vec<&str> = content.lines().collect();
    assert_eq!(lines[0], "✅ Notion backup complete");
    assert!(lines.contains(&"**Notes**: 4 pages synced, 15 files committed"), "{content}");
    assert!(lines.contains(&"**tasks**: 2 pages synced, 7 files committed"), "{content}");
    assert_eq!(d[0]["allowed_mentions"]["parse"], serde_json::json!([]));

    // The webhook gets the totals.
    let w = webhook(&hits);
    assert_eq!(w.len(), 1);
    assert_eq!(w[0]["status"], "ok");
    let t = &w[0]["totals"];
    assert_eq!(
        (t["databases"].as_u64(), t["pages_checked"].as_u64(), t["backed_up"].as_u64(), t["failed"].as_u64()),
        (Some(2), Some(6), Some(6), Some(0))
    );
    assert_eq!(t["files_committed"], 22);
    assert_eq!(t["bytes_downloaded"].as_u64(), Some(ws.png_bytes));
    assert_eq!(w[0]["databases"][0]["label"], "Notes");
    assert_eq!(w[0]["databases"][1]["repo"], "tasks");

    // Stderr ends with the summary, one line per database with its counts.
    let (logs, summary) = split_summary(&stderr);
    assert_eq!(summary[0], "Notion backup complete");
    assert_eq!(
        db_line(&summary, "Notes (notes)"),
        format!(
            "Notes (notes): 4 pages checked, 4 backed up, 0 deleted, 0 moved, 0 failed, 15 files committed, {} downloaded, 0 warnings",
            notion_git_backup::notify::human_bytes(ws.png_bytes)
        )
    );
    assert_eq!(
        db_line(&summary, "tasks (tasks)"),
        "tasks (tasks): 2 pages checked, 2 backed up, 0 deleted, 0 moved, 0 failed, 7 files committed, 0 B downloaded, 0 warnings"
    );
    assert!(summary.iter().any(|l| l.starts_with("Total: 2 databases, 6 pages checked, 6 backed up,")), "{stderr}");
    // The engine's per-node progress lines are in the log (text format, info level): the
    // database itself first, then its four rows, out of a total that is known once the database
    // is listed.
    assert!(logs.iter().any(|l| l.contains(" INFO ") && l.contains("[1/5] Notes")), "{stderr}");
    for i in 2..=5 {
        assert!(logs.iter().any(|l| l.contains(" INFO ") && l.contains(&format!("[{i}/5] Row "))), "{stderr}");
    }

    // A second run with nothing changed is still a success and pings again.
    let out = run(&ws, &rec, 2, &[]).await;
    assert_eq!(out.status.code(), Some(0));
    let hits = rec.take();
    assert_clean(&out, &hits);
    assert_eq!(pings(&hits), vec!["GET /start", "GET "]);
    assert!(discord(&hits)[0]["content"].as_str().unwrap().contains("**Notes**: 0 pages synced, 0 files committed"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_page_exits_1_pings_fail_and_discord_names_the_page_and_why() {
    let ws = workspace().await;
    let rec = Recorder::start().await;
    let child = break_row_2(&ws);
    let out = run(&ws, &rec, 1, &[]).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let hits = rec.take();
    assert_clean(&out, &hits);

    // Start, then fail with the summary as the body.
    assert_eq!(pings(&hits), vec!["GET /start", "POST /fail"]);
    let fail = hits.iter().find(|h| h.path.ends_with("/fail")).unwrap();
    assert!(fail.body.starts_with("Notion backup finished with errors\n"), "{}", fail.body);
    assert!(fail.body.contains("  failed: Row 2 ["), "{}", fail.body);

    // Discord at level 1 (only on failure) names the page and the reason.
    let d = discord(&hits);
    assert_eq!(d.len(), 1);
    let content = d[0]["content"].as_str().unwrap();
    let lines: Vec<&str> = content.lines().collect();
    assert_eq!(lines[0], "⚠️ Notion backup finished with errors");
    assert!(lines.contains(&"**Notes**: 3 pages synced, 12 files committed"), "{content}");
    let i = lines.iter().position(|l| *l == "Errors:").unwrap_or_else(|| panic!("{content}"));
    let err = lines[i + 1];
    assert!(err.starts_with("• Row 2: "), "{err}");
    // Discord caps each item at 200 characters; the reason names the block and the cause.
    assert!(
        err.starts_with(&format!(
            "• Row 2: children of block {} not found or not shared with the integration",
            dashed(&child)
        )),
        "{err}"
    );

    let w = webhook(&hits);
    assert_eq!(w[0]["status"], "failed");
    assert_eq!(w[0]["totals"]["failed"], 1);
    assert_eq!(w[0]["databases"][0]["failed"][0]["title"], "Row 2");

    // The summary shows the failure under its database.
    let (_, summary) = split_summary(&stderr);
    assert_eq!(summary[0], "Notion backup finished with errors");
    assert!(db_line(&summary, "Notes (notes)")
        .starts_with("Notes (notes): 4 pages checked, 3 backed up, 0 deleted, 0 moved, 1 failed, 12 files committed,"));
    assert!(summary.iter().any(|l| l.starts_with("  failed: Row 2 [") && l.contains("Connections")), "{stderr}");

    // Shared again: the next run backs it up, exits 0, pings success, and Discord level 1 stays quiet.
    ws.fake.with_world(|w| w.share(&child));
    let out = run(&ws, &rec, 1, &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let hits = rec.take();
    assert_clean(&out, &hits);
    assert_eq!(pings(&hits), vec!["GET /start", "GET "]);
    assert!(discord(&hits).is_empty(), "level 1 sends nothing on success");
    assert_eq!(webhook(&hits)[0]["totals"]["backed_up"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_log_format_every_line_before_the_summary_is_json() {
    let ws = workspace().await;
    let rec = Recorder::start().await;
    break_row_2(&ws);
    let out = run(&ws, &rec, 2, &["--log-format", "json"]).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_clean(&out, &rec.take());
    let (logs, summary) = split_summary(&stderr);
    assert!(logs.len() >= 6, "{stderr}");
    let mut levels = Vec::new();
    for line in &logs {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(v["timestamp"].is_string() && v["fields"]["message"].is_string(), "{line}");
        levels.push(v["level"].as_str().unwrap().to_string());
    }
    assert!(levels.iter().any(|l| l == "INFO") && levels.iter().any(|l| l == "ERROR"), "{levels:?}");
    let page_error = logs
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|v| v["level"] == "ERROR" && v["fields"]["page"] == "Row 2")
        .unwrap_or_else(|| panic!("no ERROR line for Row 2:\n{stderr}"));
    assert!(page_error["fields"]["message"].as_str().unwrap().contains("Connections"));
    assert_eq!(summary[0], "Notion backup finished with errors");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiet_prints_only_warnings_errors_and_the_summary() {
    let ws = workspace().await;
    let rec = Recorder::start().await;
    // A clean run with -q: the summary and nothing else.
    let out = run(&ws, &rec, 0, &["-q"]).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_clean(&out, &rec.take());
    let (logs, summary) = split_summary(&stderr);
    assert!(logs.is_empty(), "a clean quiet run logs nothing:\n{stderr}");
    assert_eq!(summary[0], "Notion backup complete");
    assert!(out.stdout.is_empty());

    // A failing page with -q: only WARN/ERROR lines before the summary, one naming the page.
    break_row_2(&ws);
    ws.fake.with_world(|w| {
        let later = ts_plus_minutes(10_000);
        w.page_mut(&ws.notes.rows[2]).unwrap()["last_edited_time"] = serde_json::json!(later);
    });
    let out = run(&ws, &rec, 0, &["-q"]).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_clean(&out, &rec.take());
    let (logs, summary) = split_summary(&stderr);
    assert!(!logs.is_empty(), "{stderr}");
    for line in &logs {
        let level = line.split_whitespace().nth(1).unwrap_or_default();
        assert!(level == "WARN" || level == "ERROR", "quiet printed a {level} line: {line}");
    }
    assert!(logs.iter().any(|l| l.contains(" ERROR ") && l.contains("Row 2")), "{stderr}");
    assert_eq!(summary[0], "Notion backup finished with errors");
    assert!(summary.iter().any(|l| l.starts_with("  failed: Row 2 [")), "{stderr}");
    assert!(Path::new(&ws.dir.path().join("backup/notes/.git")).is_dir());
}

/// A `git` first on PATH that holds the first `commit-tree` of a run until the test releases it,
/// so a test can act while a commit is in flight. Everything else goes straight to the real git.
struct GatedGit {
    bin: tempfile::TempDir,
    gate: tempfile::TempDir,
}

impl GatedGit {
    fn new() -> GatedGit {
        use std::os::unix::fs::PermissionsExt;
        let (bin, gate) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let real =
            String::from_utf8(std::process::Command::new("sh").args(["-c", "command -v git"]).output().unwrap().stdout)
                .unwrap();
        let g = gate.path().display();
        let script = format!(
            "#!/bin/sh\ncase \" $* \" in *\" commit-tree \"*)\n  if mkdir '{g}/first' 2>/dev/null; then\n    \
             : > '{g}/waiting'\n    while [ ! -e '{g}/go' ]; do sleep 0.02; done\n  fi;;\nesac\nexec {} \"$@\"\n",
            real.trim()
        );
        let path = bin.path().join("git");
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        GatedGit { bin, gate }
    }

    fn path_var(&self) -> String {
        format!("{}:{}", self.bin.path().display(), std::env::var("PATH").unwrap_or_default())
    }

    /// Blocks until a commit is held at the gate (the run's first commit-tree has started).
    fn wait_until_held(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        while !self.gate.path().join("waiting").exists() {
            assert!(std::time::Instant::now() < deadline, "no commit reached the gate");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    fn release(&self) {
        std::fs::write(self.gate.path().join("go"), "").unwrap();
    }
}

/// The binary with `vars` only, in `dir`, in a process group of its own (as a shell's job is).
fn backup_command(dir: &Path, vars: &std::collections::BTreeMap<String, String>, path: &str) -> std::process::Command {
    use std::os::unix::process::CommandExt;
    let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("notion-git-backup"));
    c.current_dir(dir)
        .env_clear()
        .env("PATH", path)
        .envs(vars)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .process_group(0);
    c
}

/// Pages of the state file whose folder has no committed `index.md`.
fn recorded_but_not_committed(state: &Path, repo: &Path) -> Vec<String> {
    let st = notion_git_backup::state::State::load(state).unwrap();
    let files = common::env::files(repo, "HEAD");
    st.pages
        .values()
        .filter_map(|r| r.folder.clone())
        .filter(|f| !f.is_empty() && !files.contains_key(&format!("{f}/index.md")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_to_the_process_group_mid_commit_lets_the_commit_land_and_exits_130() {
    let ws = workspace().await;
    let vars = common::env::Settings::new(&ws.fake)
        .db(&ws.notes.database_id, "notes")
        .label("Notes")
        .set("PAGE_CONCURRENCY", "1")
        .vars();
    let dir = ws.dir.path().to_path_buf();
    let gated = GatedGit::new();
    tokio::task::spawn_blocking(move || {
        let child = backup_command(&dir, &vars, &gated.path_var()).spawn().unwrap();
        gated.wait_until_held();
        // What a terminal does on Ctrl-C: SIGINT to every process of the foreground job's group.
        let pgid = child.id().to_string();
        let ok = std::process::Command::new("kill").args(["-s", "INT", "--", &format!("-{pgid}")]).status().unwrap();
        assert!(ok.success());
        gated.release();
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(130), "{stderr}");
        let repo = common::env::local_repo(&dir, "notes");
        assert!(common::env::commit_count(&repo) >= 1, "the commit in flight landed: {stderr}");
        assert!(!stderr.lines().any(|l| l.contains(" ERROR ")), "{stderr}");
        assert!(
            stderr.contains(
                "Notes (notes): 4 pages checked, 0 backed up, 0 deleted, 0 moved, 0 failed, 3 files committed"
            ),
            "{stderr}"
        );
        assert_eq!(recorded_but_not_committed(&dir.join("state.json"), &repo), Vec::<String>::new());
        let status = common::env::git(&repo, &["status", "--porcelain"]).unwrap();
        assert!(status.is_empty(), "work tree left dirty: {status}");
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_configurations_pointing_at_one_repository_never_run_at_once() {
    let ws = workspace().await;
    let first = common::env::Settings::new(&ws.fake).db(&ws.notes.database_id, "notes").label("Notes");
    // Another configuration (its own state file), same repository.
    let second = first.clone().set("STATE_FILE", "other-state.json").vars();
    let first = first.vars();
    let dir = ws.dir.path().to_path_buf();
    let gated = GatedGit::new();
    tokio::task::spawn_blocking(move || {
        let a = backup_command(&dir, &first, &gated.path_var()).spawn().unwrap();
        gated.wait_until_held();
        let repo = common::env::local_repo(&dir, "notes");
        let before = common::env::commit_count(&repo);
        let b = backup_command(&dir, &second, &std::env::var("PATH").unwrap()).output().unwrap();
        let b_err = String::from_utf8_lossy(&b.stderr);
        // 1 today (the database failed); 2 once the engine reports a held lock as "could not start".
        assert!(matches!(b.status.code(), Some(1) | Some(2)), "{b_err}");
        assert!(b_err.contains(&format!("is locked by another backup run (pid {} on ", a.id())), "{b_err}");
        assert!(b_err.contains(".git/notion-git-backup.lock"), "{b_err}");
        assert_eq!(common::env::commit_count(&repo), before, "the second run wrote nothing");
        gated.release();
        let out = a.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        let files = common::env::files(&repo, "HEAD");
        assert_eq!(common::env::page_folders(&files).len(), 4, "{:?}", files.keys());
        assert!(!repo.join(".git/notion-git-backup.lock").exists(), "the lock goes with the run");
        // The second configuration runs once the first is done.
        let b = backup_command(&dir, &second, &std::env::var("PATH").unwrap()).output().unwrap();
        assert_eq!(b.status.code(), Some(0), "{}", String::from_utf8_lossy(&b.stderr));
    })
    .await
    .unwrap();
}
