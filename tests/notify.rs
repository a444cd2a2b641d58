//! End-to-end tests of run notifications against in-process fake receivers on 127.0.0.1: a
//! Discord webhook, a health-check service and a generic JSON webhook. They check exactly what
//! is sent, when nothing is sent, how retries are bounded, and that no secret leaks into a
//! message, a warning or a log line.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use axum::Router;
use chrono::{TimeZone, Utc};
use notion_git_backup::notify::{
    discord_message, summary_text, DatabaseReport, Notifier, NotifyConfig, PageFailure, RetryPolicy, RunReport,
    DISCORD_LIMIT,
};
use notion_git_backup::redact;
use tracing_subscriber::fmt::MakeWriter;

// ---------------------------------------------------------------------------------------------
// Fake receiver
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Received {
    method: String,
    /// path and query
    uri: String,
    content_type: String,
    body: String,
}

#[derive(Debug, Clone)]
struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
}

impl Reply {
    fn status(status: u16) -> Self {
        Self { status, headers: Vec::new(), body: String::new() }
    }
}

#[derive(Default)]
struct FakeState {
    received: Vec<Received>,
    script: VecDeque<Reply>,
}

struct Fake {
    base: String,
    state: Arc<Mutex<FakeState>>,
    default: Reply,
}

#[derive(Clone)]
struct Shared(Arc<Mutex<FakeState>>, Reply);

async fn record(
    State(Shared(state, default)): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> Response {
    let mut state = state.lock().unwrap();
    state.received.push(Received {
        method: method.to_string(),
        uri: uri.to_string(),
        content_type: headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string(),
        body,
    });
    let reply = state.script.pop_front().unwrap_or(default);
    let mut response = Response::builder().status(StatusCode::from_u16(reply.status).unwrap());
    for (name, value) in &reply.headers {
        response = response.header(*name, value);
    }
    response.body(Body::from(reply.body)).unwrap()
}

impl Fake {
    /// A receiver answering with `script` in order, then `default` forever.
    async fn start(script: Vec<Reply>, default: Reply) -> Fake {
        let state = Arc::new(Mutex::new(FakeState { received: Vec::new(), script: script.into() }));
        let app = Router::new()
            .fallback(record)
            .layer(DefaultBodyLimit::disable())
            .with_state(Shared(state.clone(), default.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Fake { base, state, default }
    }

    async fn ok() -> Fake {
        Fake::start(Vec::new(), Reply::status(204)).await
    }

    fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    fn discord_contents(&self) -> Vec<String> {
        self.received()
            .iter()
            .map(|r| {
                let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
                assert_eq!(v["allowed_mentions"]["parse"], serde_json::json!([]));
                v["content"].as_str().unwrap().to_string()
            })
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Secrets and configuration
// ---------------------------------------------------------------------------------------------

const DISCORD_TOKEN: &str = "dIsCoRdToKeN-abcdefghijklmnop_0123456789";
const HC_UUID: &str = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
const HOOK_ID: &str = "hook-id-5f2b9c0e7d4a1b3c";
const HOOK_KEY: &str = "hook-key-9a8b7c6d5e4f3a2b1c0d";
const NOTION_TOKEN: &str = "ntn_fakeNotionToken0123456789abcdef";

fn discord_url(fake: &Fake) -> String {
    format!("{}/api/webhooks/112233445566/{DISCORD_TOKEN}", fake.base)
}
fn healthcheck_url(fake: &Fake) -> String {
    format!("{}/ping/{HC_UUID}", fake.base)
}
fn webhook_url(fake: &Fake) -> String {
    format!("{}/hooks/{HOOK_ID}?key={HOOK_KEY}", fake.base)
}

fn all_secrets() -> [&'static str; 5] {
    [DISCORD_TOKEN, HC_UUID, HOOK_ID, HOOK_KEY, NOTION_TOKEN]
}

fn assert_no_secret(what: &str, text: &str) {
    for secret in all_secrets() {
        assert!(!text.contains(secret), "{what} leaks a secret ({secret}):\n{text}");
    }
}

fn config() -> NotifyConfig {
    redact::register_secret(NOTION_TOKEN);
    NotifyConfig {
        discord_level: 2,
        discord_webhook_url: None,
        healthcheck_url: None,
        webhook_url: None,
        timezone: chrono_tz::Europe::Berlin,
        hostname: "nas".to_string(),
        user_agent: "notion-git-backup-test".to_string(),
    }
}

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        max_throttled: 3,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(10),
        max_total: Duration::from_secs(60),
        max_retry_after: Duration::from_secs(5),
    }
}

fn discord_notifier(fake: &Fake, level: u8) -> Notifier {
    Notifier::new(NotifyConfig { discord_level: level, discord_webhook_url: Some(discord_url(fake)), ..config() })
        .with_retry_policy(fast_retry())
}

// ---------------------------------------------------------------------------------------------
// Reports
// ---------------------------------------------------------------------------------------------

fn at(h: u32, m: u32, s: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, h, m, s).unwrap()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Two databases, everything backed up.
fn success_report() -> RunReport {
    RunReport {
        started_at: at(1, 59, 18),
        finished_at: at(2, 0, 0),
        dry_run: false,
        databases: vec![
            DatabaseReport {
                label: "Projects".into(),
                repo: "backups/projects".into(),
                pages_checked: 40,
                backed_up: strings(&["Roadmap 2027", "Meeting notes", "Launch *plan*"]),
                deleted: strings(&["Old idea"]),
                moved: vec![],
                failed: vec![],
                files_committed: 7,
                bytes_downloaded: 3 * 1024 * 1024 + 512 * 1024,
                commits: strings(&[
                    "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d",
                    "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432",
                ]),
                warnings: strings(&["image too large, linked instead"]),
                duration: Duration::from_millis(30_250),
                error: None,
                ..DatabaseReport::default()
            },
            DatabaseReport {
                label: "Reading list".into(),
                repo: "backups/reading".into(),
                pages_checked: 12,
                backed_up: strings(&["Dune"]),
                files_committed: 1,
                bytes_downloaded: 0,
                commits: strings(&["abcdef0123456789abcdef0123456789abcdef01"]),
                duration: Duration::from_millis(4_500),
                ..DatabaseReport::default()
            },
        ],
        notion_requests: 123,
        notion_rate_limited: 2,
        fatal: None,
        stopped: None,
    }
}

/// One database with failed pages (one reason carries a secret), one not shared.
fn failure_report() -> RunReport {
    RunReport {
        started_at: at(1, 58, 0),
        finished_at: at(2, 0, 5),
        dry_run: false,
        databases: vec![
            DatabaseReport {
                label: "Projects".into(),
                repo: "backups/projects".into(),
                pages_checked: 40,
                backed_up: strings(&["Roadmap 2027"]),
                failed: vec![
                    PageFailure {
                        title: "Budget 2026".into(),
                        id: "0123456789abcdef0123456789abcdef".into(),
                        reason: "file download failed (HTTP 403)".into(),
                    },
                    PageFailure {
                        title: "".into(),
                        id: "fedcba9876543210fedcba9876543210".into(),
                        reason: format!("Notion answered 500 for Bearer {NOTION_TOKEN}\nretried 3 times"),
                    },
                ],
                files_committed: 2,
                bytes_downloaded: 2048,
                commits: strings(&["1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d"]),
                duration: Duration::from_secs(100),
                ..DatabaseReport::default()
            },
            DatabaseReport {
                label: "Archive".into(),
                repo: "backups/archive".into(),
                error: Some("database not shared with the integration: open it in Notion -> ... -> Connections".into()),
                duration: Duration::from_millis(300),
                ..DatabaseReport::default()
            },
        ],
        notion_requests: 57,
        notion_rate_limited: 0,
        fatal: None,
        stopped: None,
    }
}

fn fatal_report() -> RunReport {
    RunReport {
        started_at: at(2, 0, 0),
        finished_at: at(2, 0, 1),
        fatal: Some("Notion rejected the token (HTTP 401): create a new integration token".into()),
        ..RunReport::default()
    }
}

fn forty_page_report() -> RunReport {
    let names: Vec<String> = (1..=40).map(|i| format!("Page {i:02}")).collect();
    RunReport {
        started_at: at(1, 50, 0),
        finished_at: at(2, 0, 0),
        databases: vec![DatabaseReport {
            label: "Wiki".into(),
            repo: "backups/wiki".into(),
            pages_checked: 40,
            backed_up: names,
            files_committed: 40,
            ..DatabaseReport::default()
        }],
        ..RunReport::default()
    }
}

/// Far beyond 2,000 characters: many databases, long non-ASCII titles, many failures.
fn huge_report() -> RunReport {
    let databases = (0..30)
        .map(|d| DatabaseReport {
            label: format!("Datenbank Nummer {d} — Übersicht 📚"),
            repo: format!("backups/db{d}"),
            pages_checked: 500,
            backed_up: (0..200)
                .map(|p| format!("Seite {p} mit einem sehr langen Titel 🚀 {}", "ä".repeat(300)))
                .collect(),
            failed: (0..15)
                .map(|p| PageFailure {
                    title: format!("Kaputt {p} ✏️"),
                    id: format!("{p:032x}"),
                    reason: "Zeitüberschreitung beim Herunterladen 🐢 ".repeat(20),
                })
                .collect(),
            files_committed: 900,
            ..DatabaseReport::default()
        })
        .collect();
    RunReport { started_at: at(0, 0, 0), finished_at: at(2, 0, 0), databases, ..RunReport::default() }
}

// ---------------------------------------------------------------------------------------------
// Log capture (raw: before any scrubbing, so it proves the notifier itself never logs a secret)
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Capture {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Capture {
        self.clone()
    }
}

fn capture_logs() -> (Capture, tracing::subscriber::DefaultGuard) {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(capture.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    (capture, guard)
}

// ---------------------------------------------------------------------------------------------
// Summary
// ---------------------------------------------------------------------------------------------

#[test]
fn summary_snapshot_of_a_successful_run() {
    let expected = "\
Notion backup complete
Projects (backups/projects): 40 pages checked, 3 backed up, 1 deleted, 0 moved, 0 failed, 7 files committed, 3.5 MiB downloaded, 1 warning, 30.2s
  commits: 1a2b3c4 9f8e7d6
Reading list (backups/reading): 12 pages checked, 1 backed up, 0 deleted, 0 moved, 0 failed, 1 file committed, 0 B downloaded, 0 warnings, 4.5s
  commits: abcdef0
Total: 2 databases, 52 pages checked, 4 backed up, 1 deleted, 0 moved, 0 failed, 8 files committed, 3.5 MiB downloaded, 1 warning, 42.0s
Notion API: 123 requests, 2 rate-limited (HTTP 429)
";
    assert_eq!(summary_text(&success_report()), expected);
}

#[test]
fn summary_snapshot_of_a_run_with_failures() {
    redact::register_secret(NOTION_TOKEN);
    let expected = "\
Notion backup finished with errors
Projects (backups/projects): 40 pages checked, 1 backed up, 0 deleted, 0 moved, 2 failed, 2 files committed, 2.0 KiB downloaded, 0 warnings, 1m 40s
  failed: Budget 2026 [0123456789abcdef0123456789abcdef]: file download failed (HTTP 403)
  failed: Untitled [fedcba9876543210fedcba9876543210]: Notion answered 500 for Bearer ntn_fakeNotionToken0123456789abcdef retried 3 times
  commits: 1a2b3c4
Archive (backups/archive): 0 pages checked, 0 backed up, 0 deleted, 0 moved, 0 failed, 0 files committed, 0 B downloaded, 0 warnings, 0.3s
  error: database not shared with the integration: open it in Notion -> ... -> Connections
Total: 2 databases, 40 pages checked, 1 backed up, 0 deleted, 0 moved, 2 failed, 2 files committed, 2.0 KiB downloaded, 0 warnings, 2m 05s
Notion API: 57 requests, 0 rate-limited (HTTP 429)
";
    // summary_text is pure; scrubbing happens where it is written (log writer, notifications).
    let summary = summary_text(&failure_report());
    assert_eq!(summary, expected);
    assert_eq!(
        redact::scrub(&summary).lines().nth(3).unwrap(),
        "  failed: Untitled [fedcba9876543210fedcba9876543210]: Notion answered 500 for Bearer *** retried 3 times"
    );
}

#[test]
fn summary_of_a_fatal_dry_run() {
    let report = RunReport { dry_run: true, ..fatal_report() };
    assert_eq!(
        summary_text(&report),
        "\
Notion backup failed: Notion rejected the token (HTTP 401): create a new integration token (dry run: nothing was written)
Total: 0 databases, 0 pages checked, 0 backed up, 0 deleted, 0 moved, 0 failed, 0 files committed, 0 B downloaded, 0 warnings, 1.0s
Notion API: 0 requests, 0 rate-limited (HTTP 429)
"
    );
}

// ---------------------------------------------------------------------------------------------
// Discord
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn discord_success_message() {
    let fake = Fake::ok().await;
    let warnings = discord_notifier(&fake, 2).run_finished(&success_report()).await;
    assert!(warnings.is_empty(), "{warnings:?}");
    let received = fake.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].method, "POST");
    assert_eq!(received[0].uri, format!("/api/webhooks/112233445566/{DISCORD_TOKEN}"));
    assert_eq!(received[0].content_type, "application/json");
    assert_eq!(
        fake.discord_contents(),
        vec![
            "\
✅ Notion backup complete

**Projects**: 3 pages synced, 7 files committed, 1 deleted
• Roadmap 2027
• Meeting notes
• Launch \\*plan\\*

**Reading list**: 1 page synced, 1 file committed
• Dune

Completed at 2026-11-21 03:00 CET
Host: nas"
        ]
    );
}

#[tokio::test]
async fn discord_failure_message_is_scrubbed() {
    let fake = Fake::ok().await;
    let warnings = discord_notifier(&fake, 1).run_finished(&failure_report()).await;
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(
        fake.discord_contents(),
        vec![
            "\
⚠️ Notion backup finished with errors

**Projects**: 1 page synced, 2 files committed
• Roadmap 2027
Errors:
• Budget 2026: file download failed (HTTP 403)
• Untitled: Notion answered 500 for Bearer \\*\\*\\* retried 3 times

**Archive**: 0 pages synced, 0 files committed
❌ database not shared with the integration: open it in Notion -\\> ... -\\> Connections

Completed at 2026-11-21 03:00 CET
Host: nas"
        ]
    );
}

#[tokio::test]
async fn discord_fatal_message() {
    let fake = Fake::ok().await;
    let warnings = discord_notifier(&fake, 1).run_finished(&fatal_report()).await;
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(
        fake.discord_contents(),
        vec![
            "\
❌ Notion backup failed
Notion rejected the token (HTTP 401): create a new integration token

Completed at 2026-11-21 03:00 CET
Host: nas"
        ]
    );
}

#[tokio::test]
async fn discord_forty_pages_lists_ten_then_more() {
    let fake = Fake::ok().await;
    discord_notifier(&fake, 2).run_finished(&forty_page_report()).await;
    assert_eq!(
        fake.discord_contents(),
        vec![
            "\
✅ Notion backup complete

**Wiki**: 40 pages synced, 40 files committed
• Page 01
• Page 02
• Page 03
• Page 04
• Page 05
• Page 06
• Page 07
• Page 08
• Page 09
• Page 10
+30 more

Completed at 2026-11-21 03:00 CET
Host: nas"
        ]
    );
}

#[tokio::test]
async fn discord_huge_report_fits_in_2000_characters() {
    let fake = Fake::ok().await;
    let warnings = discord_notifier(&fake, 2).run_finished(&huge_report()).await;
    assert!(warnings.is_empty(), "{warnings:?}");
    let contents = fake.discord_contents();
    assert_eq!(contents.len(), 1);
    let content = &contents[0];
    assert!(content.chars().count() <= DISCORD_LIMIT, "{}", content.chars().count());
    assert!(content.encode_utf16().count() <= DISCORD_LIMIT);
    let lines: Vec<&str> = content.lines().collect();
    assert_eq!(lines[0], "⚠️ Notion backup finished with errors");
    assert_eq!(lines[2], "**Datenbank Nummer 0 — Übersicht 📚**: 200 pages synced, 900 files committed");
    // Errors are kept before page names: the compact form lists no names.
    assert_eq!(lines[3], "Errors:");
    assert!(lines[4].starts_with("• Kaputt 0 ✏️: Zeitüberschreitung"), "{}", lines[4]);
    assert!(lines[4].ends_with('…'), "{}", lines[4]);
    assert_eq!(lines[7], "+12 more");
    assert_eq!(lines[9], "**Datenbank Nummer 1 — Übersicht 📚**: 200 pages synced, 900 files committed");
    let omitted = lines[lines.len() - 4];
    assert!(omitted.starts_with("… ") && omitted.ends_with(" more lines: see the log on nas"), "{omitted}");
    assert_eq!(lines[lines.len() - 3], "");
    assert_eq!(lines[lines.len() - 2], "Completed at 2026-11-21 03:00 CET");
    assert_eq!(lines[lines.len() - 1], "Host: nas");
    // The pure function gives the same text.
    assert_eq!(&discord_message(&huge_report(), chrono_tz::Europe::Berlin, "nas"), content);
}

#[tokio::test]
async fn discord_429_with_retry_after_then_success_sends_twice() {
    let rate_limited = Reply {
        status: 429,
        headers: vec![("retry-after", "1".to_string()), ("content-type", "application/json".to_string())],
        body: r#"{"message": "You are being rate limited.", "retry_after": 0.05, "global": false}"#.to_string(),
    };
    let fake = Fake::start(vec![rate_limited], Reply::status(204)).await;
    let warnings = discord_notifier(&fake, 2).run_finished(&success_report()).await;
    assert!(warnings.is_empty(), "{warnings:?}");
    let contents = fake.discord_contents();
    assert_eq!(contents.len(), 2);
    assert_eq!(contents[0], contents[1]);
}

#[tokio::test]
async fn discord_429_with_header_only_then_success_sends_twice() {
    let rate_limited = Reply { status: 429, headers: vec![("retry-after", "1".to_string())], body: String::new() };
    let fake = Fake::start(vec![rate_limited], Reply::status(204)).await;
    let warnings = discord_notifier(&fake, 2).run_finished(&success_report()).await;
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(fake.received().len(), 2);
}

#[tokio::test]
async fn discord_429_asking_too_long_a_wait_is_dropped_with_a_warning() {
    let rate_limited = Reply { status: 429, headers: vec![("retry-after", "3600".to_string())], body: String::new() };
    let fake = Fake::start(vec![rate_limited], Reply::status(204)).await;
    let warnings = discord_notifier(&fake, 2).run_finished(&success_report()).await;
    assert_eq!(fake.received().len(), 1);
    assert_eq!(
        warnings,
        vec![format!(
            "Discord notification not sent: {}/api/webhooks/112233445566/*** asked to wait 3600s (HTTP 429), longer than the 5s this run waits",
            fake.base
        )]
    );
}

#[tokio::test]
async fn discord_500_forever_gives_up_with_a_warning() {
    let fake = Fake::start(Vec::new(), Reply::status(500)).await;
    assert_eq!(fake.default.status, 500);
    let (logs, _guard) = capture_logs();
    let warnings = discord_notifier(&fake, 2).run_finished(&failure_report()).await;
    assert_eq!(fake.received().len(), 3, "bounded by max_attempts");
    assert_eq!(
        warnings,
        vec![format!(
            "Discord notification not sent after 3 attempts to {}/api/webhooks/112233445566/*** (last: HTTP 500); it is retried next run",
            fake.base
        )]
    );
    let logs = logs.text();
    assert!(logs.contains(&warnings[0]), "{logs}");
    assert_no_secret("log", &logs);
}

#[tokio::test]
async fn discord_400_is_not_retried_and_explains() {
    let rejected = Reply {
        status: 400,
        headers: vec![("content-type", "application/json".to_string())],
        body: r#"{"content": ["Must be 2000 or fewer in length."]}"#.to_string(),
    };
    let fake = Fake::start(vec![rejected], Reply::status(204)).await;
    let warnings = discord_notifier(&fake, 2).run_finished(&success_report()).await;
    assert_eq!(fake.received().len(), 1);
    assert_eq!(
        warnings,
        vec![format!(
            "Discord notification rejected with HTTP 400 by {}/api/webhooks/112233445566/***: {{\"content\": [\"Must be 2000 or fewer in length.\"]}}: check DISCORD_WEBHOOK_URL",
            fake.base
        )]
    );
}

#[tokio::test]
async fn unreachable_receiver_is_a_bounded_warning() {
    // Bind then drop a listener: nothing accepts on that port any more.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let notifier = Notifier::new(NotifyConfig {
        discord_webhook_url: Some(format!("http://127.0.0.1:{port}/api/webhooks/1/{DISCORD_TOKEN}")),
        ..config()
    })
    .with_retry_policy(fast_retry());
    let (logs, _guard) = capture_logs();
    let warnings = notifier.run_finished(&success_report()).await;
    assert_eq!(warnings.len(), 1);
    assert!(
        warnings[0].starts_with(&format!(
            "Discord notification not sent after 3 attempts to http://127.0.0.1:{port}/api/webhooks/1/*** (last: "
        )),
        "{}",
        warnings[0]
    );
    assert_no_secret("warning", &warnings[0]);
    assert_no_secret("log", &logs.text());
}

#[tokio::test]
async fn dry_run_sends_nothing_at_all() {
    let discord = Fake::ok().await;
    let health = Fake::ok().await;
    let hook = Fake::ok().await;
    let notifier = Notifier::new(NotifyConfig {
        discord_level: 2,
        discord_webhook_url: Some(discord_url(&discord)),
        healthcheck_url: Some(healthcheck_url(&health)),
        webhook_url: Some(webhook_url(&hook)),
        ..config()
    });
    assert!(notifier.run_started(true).await.is_empty());
    for report in [success_report(), failure_report(), fatal_report()] {
        let report = RunReport { dry_run: true, ..report };
        assert!(notifier.run_finished(&report).await.is_empty());
    }
    assert!(discord.received().is_empty());
    assert!(health.received().is_empty());
    assert!(hook.received().is_empty());
}

#[tokio::test]
async fn level_1_without_failures_sends_nothing_to_discord() {
    let fake = Fake::ok().await;
    let warnings = discord_notifier(&fake, 1).run_finished(&success_report()).await;
    assert!(warnings.is_empty());
    assert!(fake.received().is_empty());
}

#[tokio::test]
async fn level_0_never_sends() {
    let fake = Fake::ok().await;
    discord_notifier(&fake, 0).run_finished(&failure_report()).await;
    assert!(fake.received().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Health checks
// ---------------------------------------------------------------------------------------------

fn health_notifier(fake: &Fake) -> Notifier {
    Notifier::new(NotifyConfig { healthcheck_url: Some(healthcheck_url(fake)), ..config() })
        .with_retry_policy(fast_retry())
}

#[tokio::test]
async fn healthcheck_start_then_success() {
    let fake = Fake::start(Vec::new(), Reply::status(200)).await;
    let notifier = health_notifier(&fake);
    assert!(notifier.run_started(false).await.is_empty());
    assert!(notifier.run_finished(&success_report()).await.is_empty());
    let received: Vec<(String, String)> = fake.received().into_iter().map(|r| (r.method, r.uri)).collect();
    assert_eq!(
        received,
        vec![("GET".to_string(), format!("/ping/{HC_UUID}/start")), ("GET".to_string(), format!("/ping/{HC_UUID}")),]
    );
}

#[tokio::test]
async fn healthcheck_start_then_fail_with_the_summary() {
    let fake = Fake::start(Vec::new(), Reply::status(200)).await;
    let notifier = health_notifier(&fake);
    notifier.run_started(false).await;
    assert!(notifier.run_finished(&failure_report()).await.is_empty());
    let received = fake.received();
    assert_eq!(received.len(), 2);
    assert_eq!((received[0].method.as_str(), received[0].uri.clone()), ("GET", format!("/ping/{HC_UUID}/start")));
    assert_eq!((received[1].method.as_str(), received[1].uri.clone()), ("POST", format!("/ping/{HC_UUID}/fail")));
    assert_eq!(received[1].content_type, "text/plain; charset=utf-8");
    assert_eq!(received[1].body, redact::scrub(&summary_text(&failure_report())));
    assert_no_secret("health-check body", &received[1].body);
}

#[tokio::test]
async fn healthcheck_ping_failure_is_a_warning() {
    let fake = Fake::start(Vec::new(), Reply::status(404)).await;
    let warnings = health_notifier(&fake).run_started(false).await;
    assert_eq!(fake.received().len(), 1);
    assert_eq!(
        warnings,
        vec![format!("health-check ping rejected with HTTP 404 by {}/***/start: check HEALTHCHECK_URL", fake.base)]
    );
}

#[tokio::test]
async fn uptime_kuma_push_gets_status_down_with_a_message() {
    let fake = Fake::start(Vec::new(), Reply::status(200)).await;
    let notifier = Notifier::new(NotifyConfig {
        healthcheck_url: Some(format!("{}/api/push/kumaPushToken123456?status=up&msg=OK&ping=", fake.base)),
        ..config()
    });
    notifier.run_started(false).await;
    notifier.run_finished(&failure_report()).await;
    let uris: Vec<String> = fake.received().into_iter().map(|r| r.uri).collect();
    assert_eq!(
        uris,
        vec!["/api/push/kumaPushToken123456?ping=&status=down&msg=Notion+backup+finished+with+errors".to_string()]
    );
}

// ---------------------------------------------------------------------------------------------
// JSON webhook
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn webhook_gets_the_report_as_json_with_totals() {
    let fake = Fake::ok().await;
    let notifier = Notifier::new(NotifyConfig { webhook_url: Some(webhook_url(&fake)), ..config() });
    assert!(notifier.run_finished(&failure_report()).await.is_empty());
    let received = fake.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].method, "POST");
    assert_eq!(received[0].uri, format!("/hooks/{HOOK_ID}?key={HOOK_KEY}"));
    assert_eq!(received[0].content_type, "application/json");
    assert_no_secret("webhook body", &received[0].body);
    let json: serde_json::Value = serde_json::from_str(&received[0].body).unwrap();
    assert_eq!(json["status"], "failed");
    assert_eq!(json["host"], "nas");
    assert_eq!(json["dry_run"], false);
    assert_eq!(json["started_at"], "2026-11-21T01:58:00Z");
    assert_eq!(json["finished_at"], "2026-11-21T02:00:05Z");
    assert_eq!(json["duration_ms"], 125_000);
    assert_eq!(json["notion_requests"], 57);
    assert_eq!(
        json["totals"],
        serde_json::json!({
            "databases": 2,
            "database_errors": 1,
            "pages_checked": 40,
            "backed_up": 1,
            "deleted": 0,
            "moved": 0,
            "failed": 2,
            "files_committed": 2,
            "bytes_downloaded": 2048,
            "commits": 1,
            "warnings": 0
        })
    );
    let projects = &json["databases"][0];
    assert_eq!(projects["label"], "Projects");
    assert_eq!(projects["duration_ms"], 100_000);
    assert_eq!(projects["failed"][0]["title"], "Budget 2026");
    assert_eq!(projects["failed"][1]["reason"], "Notion answered 500 for Bearer ***\nretried 3 times");
    assert_eq!(
        json["databases"][1]["error"].as_str().unwrap().split(':').next(),
        Some("database not shared with the integration")
    );
    assert!(json["summary"].as_str().unwrap().starts_with("Notion backup finished with errors\n"));
}

#[tokio::test]
async fn webhook_status_is_fatal_or_ok() {
    let fake = Fake::ok().await;
    let notifier = Notifier::new(NotifyConfig { webhook_url: Some(webhook_url(&fake)), ..config() });
    notifier.run_finished(&fatal_report()).await;
    notifier.run_finished(&success_report()).await;
    let statuses: Vec<String> = fake
        .received()
        .iter()
        .map(|r| serde_json::from_str::<serde_json::Value>(&r.body).unwrap()["status"].to_string())
        .collect();
    assert_eq!(statuses, vec!["\"fatal\"", "\"ok\""]);
}

// ---------------------------------------------------------------------------------------------
// Secrets, across everything sent, returned and logged
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn no_secret_in_any_message_warning_or_log_line() {
    let discord = Fake::ok().await;
    let health = Fake::start(Vec::new(), Reply::status(200)).await;
    let hook = Fake::start(Vec::new(), Reply::status(503)).await;
    let (logs, _guard) = capture_logs();
    let notifier = Notifier::new(NotifyConfig {
        discord_level: 2,
        discord_webhook_url: Some(discord_url(&discord)),
        healthcheck_url: Some(healthcheck_url(&health)),
        webhook_url: Some(webhook_url(&hook)),
        ..config()
    })
    .with_retry_policy(fast_retry());
    let mut warnings = notifier.run_started(false).await;
    for report in [success_report(), failure_report(), fatal_report(), huge_report()] {
        warnings.extend(notifier.run_finished(&report).await);
    }
    // The webhook receiver always answers 503: one warning per finished run.
    assert_eq!(warnings.len(), 4, "{warnings:?}");
    let expected = format!(
        "webhook notification not sent after 3 attempts to {}/*** (last: HTTP 503); it is retried next run",
        hook.base
    );
    assert!(warnings.iter().all(|w| *w == expected), "{warnings:?}");
    assert_eq!(discord.received().len(), 4);
    assert_eq!(health.received().len(), 5);
    assert_eq!(hook.received().len(), 12);
    for fake in [&discord, &health, &hook] {
        for r in fake.received() {
            assert_no_secret("a notification body", &r.body);
        }
    }
    for w in &warnings {
        assert_no_secret("a warning", w);
    }
    let logs = logs.text();
    assert!(!logs.is_empty());
    assert_no_secret("the log", &logs);
    // The same lines through the real log writer are scrubbed as well.
    for secret in all_secrets() {
        assert_eq!(redact::scrub(secret), "***");
    }
}
