//! Servers that accept a connection and then say nothing: a stalled Gitea or Notion must fail the
//! request within the silence bound, with a message naming the server and what was waited for,
//! never hang the run (issue 12: "a stalled Gitea hangs a run for tens of minutes").

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use notion_git_backup::http::{RetryPolicy, Timeouts};
use notion_git_backup::notion::{ClientConfig, NotionClient, NotionError};
use notion_git_backup::sink::gitea::{GiteaConfig, GiteaSink, DEFAULT_MAX_REQUEST_BYTES};
use notion_git_backup::sink::{ChangeSet, Content, FileWrite, Sink};
use serde_json::json;

const TOKEN: &str = "gitea-token-0123456789";

fn short() -> Timeouts {
    Timeouts::new(Duration::from_secs(5), Duration::from_millis(300))
}

/// Accepts connections, reads whatever arrives, never answers. Returns its base URL and a count
/// of connections accepted.
async fn silent_server() -> (String, Arc<AtomicU32>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicU32::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        loop {
            let (mut sock, _) = listener.accept().await.unwrap();
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 1 << 16];
                while let Ok(n) = tokio::io::AsyncReadExt::read(&mut sock, &mut buf).await {
                    if n == 0 {
                        break;
                    }
                }
            });
        }
    });
    (base, accepted)
}

fn gitea_config(base: &str) -> GiteaConfig {
    GiteaConfig {
        base_url: base.to_string(),
        token: TOKEN.into(),
        owner: "alice".into(),
        repo: "notes".into(),
        branch: None,
        create_repos: false,
        ca_file: None,
        max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
        author_name: "Notion Backup".into(),
        author_email: "backup@example.org".into(),
        user_agent: "notion-git-backup-test".into(),
    }
}

#[tokio::test]
async fn a_gitea_that_never_answers_fails_opening_within_the_silence_bound() {
    let (base, accepted) = silent_server().await;
    let mut sink = GiteaSink::new(gitea_config(&base)).unwrap().with_timeouts(short()).unwrap();
    let e = sink.open(true).await.unwrap_err();
    assert!(e.is_transient(), "{e}");
    assert_eq!(e.to_string(), format!("no answer from {base} within 300 ms while trying to read the server version"));
    assert_eq!(accepted.load(Ordering::SeqCst), 3, "a read is tried three times");
    assert!(!e.to_string().contains(TOKEN));
}

/// Gitea answers reads but a commit request is swallowed: the commit fails (transient) naming
/// the commit, instead of waiting for the old 10-minute bound.
#[derive(Default)]
struct Swallow {
    posts: AtomicU32,
    bytes: AtomicU32,
}

async fn commit_swallowed(State(s): State<Arc<Swallow>>, body: Bytes) -> Response {
    s.posts.fetch_add(1, Ordering::SeqCst);
    s.bytes.store(body.len() as u32, Ordering::SeqCst);
    std::future::pending::<Response>().await
}

async fn swallowing_gitea() -> (String, Arc<Swallow>) {
    let state = Arc::new(Swallow::default());
    let app = Router::new()
        .route("/api/v1/version", get(|| async { Json(json!({"version": "1.22.3"})) }))
        .route(
            "/api/v1/repos/alice/notes",
            get(|| async {
                Json(json!({"empty": true, "archived": false, "mirror": false, "default_branch": "main",
                    "permissions": {"admin": true, "push": true, "pull": true}, "object_format_name": "sha1"}))
            }),
        )
        .route(
            "/api/v1/repos/alice/notes/branches/main",
            get(|| async {
                (StatusCode::NOT_FOUND, Json(json!({"message": "branch does not exist [name: main]"}))).into_response()
            }),
        )
        .route("/api/v1/repos/alice/notes/contents", post(commit_swallowed))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, state)
}

#[tokio::test]
async fn a_gitea_that_swallows_a_commit_fails_it_naming_the_commit() {
    let (base, state) = swallowing_gitea().await;
    let mut sink = GiteaSink::new(gitea_config(&base)).unwrap().with_timeouts(short()).unwrap();
    sink.open(true).await.unwrap();
    let change = ChangeSet {
        message: "Backup: Weekly review".into(),
        writes: vec![FileWrite {
            path: "weekly-review/index.md".into(),
            content: Content::Bytes(b"# Weekly review\n".repeat(20_000)),
        }],
        replace_dirs: vec!["weekly-review".into()],
        deletes: vec![],
    };
    let e = sink.commit(change).await.unwrap_err();
    assert!(e.is_transient(), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains(&format!("no answer from {base} within 300 ms while trying to commit \"Backup: Weekly review\"")),
        "{msg}"
    );
    assert!(!msg.contains(TOKEN));
    // The whole request arrived (streamed with its length), then the server went quiet; the
    // commit was re-sent after re-reading the branch, as for any answer that got lost.
    assert!(state.bytes.load(Ordering::SeqCst) > 400_000, "{}", state.bytes.load(Ordering::SeqCst));
    assert_eq!(state.posts.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_notion_that_never_answers_fails_the_request_within_the_silence_bound() {
    let (base, accepted) = silent_server().await;
    let mut cfg = ClientConfig::new(&base, "secret_token_0123456789");
    cfg.rate_per_second = 1000.0;
    cfg.timeout = Duration::from_millis(300);
    cfg.retry = RetryPolicy {
        max_attempts: 2,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(10),
        ..RetryPolicy::default()
    };
    let c = NotionClient::new(cfg).unwrap();
    let e = c.get_page("1f2e3d4c5b6a79881f2e3d4c5b6a7988").await.unwrap_err();
    match &e {
        NotionError::Exhausted { attempts, last, .. } => {
            assert_eq!(*attempts, 2);
            assert_eq!(
                last,
                &format!(
                    "no answer from {base} within 300 ms while requesting page 1f2e3d4c-5b6a-7988-1f2e-3d4c5b6a7988"
                )
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(e.is_transient());
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
    assert!(!e.to_string().contains("secret_token"));
}
