//! Secrets never leak: the real binary, run with `-vv` (debug logs of the tool and its libraries
//! included), in a successful run, a run with a failing page, a configuration error, a Gitea that
//! answers HTML or rejects the token, and a rejected Notion token. Discord, the health check, the
//! JSON webhook and the AI naming endpoint are small axum fakes on 127.0.0.1 that record what
//! they receive.
//!
//! Checked everywhere: stdout, stderr, commit messages and authors, every file of the produced
//! repository, the state file, and every body the fakes received. None may contain the Notion
//! token, the Gitea token, the AI key, the Discord webhook token, the health-check id, the
//! webhook's secret path or query, or a signed file URL's signature. Each scenario also checks
//! that the secret was really in play (the fake received the key, the notification was sent), so
//! a clean output means something.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use common::fake_gitea::{self, FakeGitea};
use common::fake_notion::{FakeNotion, World};
use common::fixtures::*;

const NOTION_TOKEN: &str = "ntn_S3CRET_notion_token_5f2a9c1e7b4d";
const AI_KEY: &str = "sk-ant-S3CRET-ai-key-77e1d0c4b2a9";
const DISCORD_TOKEN: &str = "S3CRETdiscordWebhookToken_aa11bb22cc33";
const HEALTH_ID: &str = "5ec7e75a-1d2c-4b3a-8f9e-00000000c0de";
const HOOK_PATH: &str = "S3CRETwebhookPath_cc33dd44ee55";
const HOOK_QUERY: &str = "S3CRETwebhookQuery_ee55ff66aa77";
const WRONG_GITEA_TOKEN: &str = "gitea-S3CRET-wrong-token-0a9b8c7d";

/// Everything that must never show up (the fake Gitea's own token included).
fn forbidden() -> Vec<&'static str> {
    vec![
        "S3CRET",
        NOTION_TOKEN,
        AI_KEY,
        DISCORD_TOKEN,
        HEALTH_ID,
        HOOK_PATH,
        HOOK_QUERY,
        WRONG_GITEA_TOKEN,
        fake_gitea::TOKEN,
        "X-Amz-Signature",
        "X-Amz-Credential",
    ]
}

fn assert_clean(what: &str, text: &str) {
    for s in forbidden() {
        if let Some(i) = text.find(s) {
            let from = text[..i].char_indices().rev().nth(80).map(|(j, _)| j).unwrap_or(0);
            let to = (i + s.len() + 80).min(text.len());
            let to = (to..=text.len()).find(|&t| text.is_char_boundary(t)).unwrap_or(text.len());
            panic!("{what} leaks {s:?}: ...{}...", &text[from..to]);
        }
    }
}

#[derive(Debug, Clone)]
struct Received {
    method: String,
    path: String,
    api_key: Option<String>,
    body: String,
}

type Log = Arc<Mutex<Vec<Received>>>;

/// Discord, health check, webhook and AI endpoint in one server; records every request.
struct Receivers {
    base: String,
    log: Log,
    /// Answer everything with a 404 page that echoes the request URL (secrets included).
    echo: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receivers {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn record(
    axum::extract::State((log, echo)): axum::extract::State<(Log, Arc<AtomicBool>)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    log.lock().unwrap().push(Received {
        method: method.to_string(),
        path: path.clone(),
        api_key: headers.get("x-api-key").and_then(|v| v.to_str().ok()).map(str::to_string),
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    if echo.load(Ordering::SeqCst) {
        return (StatusCode::NOT_FOUND, format!("<html>no route for {uri}</html>")).into_response();
    }
    if path == "/v1/messages" {
        let answer = serde_json::json!({"id": "msg_1", "type": "message", "role": "assistant",
            "content": [{"type": "text", "text": "blue square"}], "stop_reason": "end_turn"});
        return axum::Json(answer).into_response();
    }
    if path.starts_with("/api/webhooks/") {
        return StatusCode::NO_CONTENT.into_response();
    }
    (StatusCode::OK, "OK").into_response()
}

impl Receivers {
    async fn start() -> Receivers {
        let log = Arc::new(Mutex::new(Vec::new()));
        let echo = Arc::new(AtomicBool::new(false));
        let app = Router::new().fallback(record).with_state((log.clone(), echo.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.ok();
        });
        Receivers { base, log, echo, task }
    }

    fn discord_url(&self) -> String {
        format!("{}/api/webhooks/123456789012345678/{DISCORD_TOKEN}", self.base)
    }
    fn health_url(&self) -> String {
        format!("{}/ping/{HEALTH_ID}", self.base)
    }
    fn hook_url(&self) -> String {
        format!("{}/hook/{HOOK_PATH}?token={HOOK_QUERY}", self.base)
    }
    fn ai_url(&self) -> String {
        format!("{}/v1/messages", self.base)
    }

    fn received(&self) -> Vec<Received> {
        self.log.lock().unwrap().clone()
    }

    fn assert_bodies_clean(&self) {
        for r in self.received() {
            assert_clean(
                &format!("the body of {} {}", r.method, r.path.split('/').take(3).collect::<Vec<_>>().join("/")),
                &r.body,
            );
        }
    }
}

/// A PNG header big enough (200x200) to be sent to the AI namer.
fn big_png(tag: &str) -> Vec<u8> {
    let mut v = vec![0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, b'I', b'H', b'D', b'R'];
    v.extend_from_slice(&200u32.to_be_bytes());
    v.extend_from_slice(&200u32.to_be_bytes());
    v.extend_from_slice(&[8, 2, 0, 0, 0, 0x12, 0x34, 0x56, 0x78]);
    v.extend_from_slice(tag.as_bytes());
    v
}

/// Three pages with text, a hosted image and a hosted PDF; the token is [`NOTION_TOKEN`].
async fn notion() -> (FakeNotion, DbIds) {
    let mut w = World::new();
    w.token = NOTION_TOKEN.to_string();
    let db = add_database(&mut w, "Notes", 3);
    for (i, id) in db.rows.iter().enumerate() {
        let img = w.add_file(&format!("photo{i}.png"), big_png(&format!("img{i}")));
        let pdf = w.add_file(&format!("Report {i}.pdf"), format!("%PDF-1.4\n{i}\n%%EOF\n").into_bytes());
        w.set_children(
            id,
            vec![heading(1, "Photos"), paragraph(&format!("row {i}")), image_hosted(&img, ""), file_block(&pdf)],
        );
    }
    (FakeNotion::start(w).await, db)
}

/// All settings, every secret among them; `extra` overrides.
fn vars(
    n: &FakeNotion,
    db: &DbIds,
    r: &Receivers,
    g: Option<&FakeGitea>,
    extra: &[(&str, &str)],
) -> Vec<(String, String)> {
    let mut v: BTreeMap<String, String> = [
        ("NOTION_TOKEN", NOTION_TOKEN.to_string()),
        ("NOTION_API_URL", n.base_url()),
        ("NOTION_RATE_LIMIT", "500".into()),
        ("DB1_NOTION_ID", db.database_id.clone()),
        ("DB1_GIT_REPO", "notes".into()),
        ("DISCORD_LEVEL", "2".into()),
        ("DISCORD_WEBHOOK_URL", r.discord_url()),
        ("HEALTHCHECK_URL", r.health_url()),
        ("WEBHOOK_URL", r.hook_url()),
        ("AI_NAMING_ENABLED", "1".into()),
        ("AI_API_URL", r.ai_url()),
        ("AI_API_KEY", AI_KEY.into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    if let Some(g) = g {
        v.insert("GIT_BASE_URL".into(), g.base_url.clone());
        v.insert("GIT_TOKEN".into(), fake_gitea::TOKEN.into());
        v.insert("GIT_OWNER".into(), fake_gitea::USER.into());
    }
    for (k, x) in extra {
        v.insert(k.to_string(), x.to_string());
    }
    v.into_iter().collect()
}

/// Runs the binary with `-vv` in `dir` (its `.env` holds `env_file`) and checks its output.
async fn run(dir: &Path, env_file: &str, vars: Vec<(String, String)>) -> Output {
    std::fs::write(dir.join(".env"), env_file).unwrap();
    let mut c = Command::new(assert_cmd::cargo::cargo_bin("notion-git-backup"));
    c.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TMPDIR", dir)
        .envs(vars)
        .arg("--env")
        .arg(dir.join(".env"))
        .arg("-vv");
    let out = tokio::task::spawn_blocking(move || c.output().unwrap()).await.unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(stderr.lines().count() > 3 || out.status.code() == Some(2), "debug logs expected with -vv:\n{stderr}");
    assert_clean("stdout", &stdout);
    assert_clean("stderr", &stderr);
    out
}

/// Commit messages, authors and every file of `repo` at `rev`, and the state file.
fn assert_repo_clean(repo: &Path, rev: &str, state: &Path) {
    let log = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["log", "--format=%an <%ae> %cn <%ce>%n%B", rev])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&log.stdout);
    assert!(!log.trim().is_empty(), "no commits in {}", repo.display());
    assert_clean("commit messages", &log);
    for (path, bytes) in fake_gitea::read_files(repo, rev) {
        assert_clean(&format!("repository file {path}"), &String::from_utf8_lossy(&bytes));
    }
    if state.exists() {
        assert_clean("the state file", &std::fs::read_to_string(state).unwrap());
    }
}

fn code(out: &Output) -> Option<i32> {
    out.status.code()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_successful_run_with_every_notifier_and_ai_naming_leaks_no_secret() {
    let (fake, db) = notion().await;
    let r = Receivers::start().await;
    let g = FakeGitea::start().await;
    let bare = g.add_repo(fake_gitea::USER, "notes");
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), "", vars(&fake, &db, &r, Some(&g), &[])).await;
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    assert_repo_clean(&bare, "refs/heads/main", &dir.path().join("sync-state.json"));
    r.assert_bodies_clean();
    // The secrets were in play: the AI got its key, every notifier was called.
    let got = r.received();
    let ai: Vec<&Received> = got.iter().filter(|x| x.path == "/v1/messages").collect();
    assert!(!ai.is_empty() && ai.iter().all(|x| x.api_key.as_deref() == Some(AI_KEY)), "{got:?}");
    assert!(g.files(fake_gitea::USER, "notes", "main").keys().any(|k| k.contains("blue-square")), "AI names used");
    assert!(got.iter().any(|x| x.path.ends_with(DISCORD_TOKEN) && x.body.contains("content")));
    assert!(
        got.iter().any(|x| x.path.ends_with("/start")) && got.iter().any(|x| x.path == format!("/ping/{HEALTH_ID}"))
    );
    assert!(got.iter().any(|x| x.path.starts_with("/hook/") && x.body.contains("\"status\"")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_with_a_failing_page_leaks_no_secret() {
    let (fake, db) = notion().await;
    let child = fake.with_world(|w| w.append_children(&db.rows[1], vec![toggle("private")]))[0].clone();
    fake.with_world(|w| {
        w.set_children(&child, vec![paragraph("hidden")]);
        w.unshare(&child);
    });
    let r = Receivers::start().await;
    let g = FakeGitea::start().await;
    let bare = g.add_repo(fake_gitea::USER, "notes");
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), "", vars(&fake, &db, &r, Some(&g), &[("DISCORD_LEVEL", "1")])).await;
    assert_eq!(code(&out), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("failed: Row 1"));
    assert_repo_clean(&bare, "refs/heads/main", &dir.path().join("sync-state.json"));
    r.assert_bodies_clean();
    let got = r.received();
    assert!(got.iter().any(|x| x.path.starts_with("/api/webhooks/") && x.body.contains("Row 1")), "{got:?}");
    assert!(got.iter().any(|x| x.path.ends_with("/fail") && x.body.contains("Row 1")), "{got:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configuration_error_leaks_no_secret() {
    let (fake, db) = notion().await;
    let r = Receivers::start().await;
    let dir = tempfile::tempdir().unwrap();
    // A broken .env line holding a secret, plus mistakes next to every secret setting.
    let env_file = format!("NOTION_TOKEN {NOTION_TOKEN}\nAI_API_KEY=\"{AI_KEY}\n");
    let extra = [
        ("DISCORD_LEVEL", "9"),
        ("DB1_NOTION_ID", "not-an-id"),
        ("GIT_BASE_URL", "git.example.com"),
        ("GIT_TOKEN", WRONG_GITEA_TOKEN),
        ("TIMEZONE", "Mars/Olympus"),
    ];
    let mut v = vars(&fake, &db, &r, None, &extra);
    // The same secrets, pasted where they do not belong.
    v.push(("HEALTHCHECK_URL".into(), format!("ping {HEALTH_ID}")));
    v.push(("WEBHOOK_URL".into(), format!("hook/{HOOK_PATH}?token={HOOK_QUERY}")));
    let out = run(dir.path(), &env_file, v).await;
    let err = stderr(&out);
    assert_eq!(code(&out), Some(2), "{err}");
    for key in ["DISCORD_LEVEL", "DB1_NOTION_ID", "GIT_BASE_URL", "TIMEZONE", "HEALTHCHECK_URL", "WEBHOOK_URL"] {
        assert!(err.contains(key), "{key} not reported:\n{err}");
    }
    assert!(r.received().is_empty(), "nothing is sent when the configuration is wrong");
    assert_eq!(fake.stats().requests, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gitea_answering_html_or_rejecting_the_token_leaks_no_secret() {
    let (fake, db) = notion().await;
    let r = Receivers::start().await;
    let g = FakeGitea::start().await;
    g.add_repo(fake_gitea::USER, "notes");

    g.set_html_everything(true);
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), "", vars(&fake, &db, &r, Some(&g), &[])).await;
    assert_eq!(code(&out), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("login page"));

    g.set_html_everything(false);
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), "", vars(&fake, &db, &r, Some(&g), &[("GIT_TOKEN", WRONG_GITEA_TOKEN)])).await;
    assert_ne!(code(&out), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("rejected the token") && stderr(&out).contains("GIT_TOKEN"), "{}", stderr(&out));
    // The wrong token really was sent (and refused).
    assert!(g.requests().iter().any(|(_, p)| p.starts_with("/api/v1/repos/")));
    r.assert_bodies_clean();
    let got = r.received();
    assert_eq!(got.iter().filter(|x| x.path.starts_with("/api/webhooks/")).count(), 2, "{got:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_notion_token_leaks_no_secret() {
    let (fake, db) = notion().await;
    fake.with_world(|w| w.token = "ntn_the_right_one_is_different".into());
    let r = Receivers::start().await;
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), "", vars(&fake, &db, &r, None, &[])).await;
    assert_eq!(code(&out), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("Notion rejected the token") && stderr(&out).contains("NOTION_TOKEN"));
    assert!(fake.stats().unauthorized > 0, "the token was sent and refused");
    r.assert_bodies_clean();
    assert!(r.received().iter().any(|x| x.path.ends_with("/fail")), "the failure is reported");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifiers_that_echo_the_url_in_errors_or_cannot_be_reached_leak_no_secret() {
    let (fake, db) = notion().await;
    let r = Receivers::start().await;
    r.echo.store(true, Ordering::SeqCst);
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), "", vars(&fake, &db, &r, None, &[])).await;
    // Notifications failing never fail the backup; each failure is a warning naming its setting.
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("404") && err.contains("no route for"), "the echoing error pages are reported: {err}");
    assert!(r.received().iter().any(|x| x.path.ends_with("/start")));
    r.assert_bodies_clean();
    assert_repo_clean(&dir.path().join("notion-backup/notes"), "HEAD", &dir.path().join("sync-state.json"));

    // Nothing listening at all.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let dir = tempfile::tempdir().unwrap();
    let extra = [
        ("DISCORD_WEBHOOK_URL", format!("{closed}/api/webhooks/1/{DISCORD_TOKEN}")),
        ("HEALTHCHECK_URL", format!("{closed}/ping/{HEALTH_ID}")),
        ("WEBHOOK_URL", format!("{closed}/hook/{HOOK_PATH}?token={HOOK_QUERY}")),
        ("AI_API_URL", format!("{closed}/v1/messages")),
    ];
    let extra: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = run(dir.path(), "", vars(&fake, &db, &r, None, &extra)).await;
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("WARN"), "{}", stderr(&out));
}
