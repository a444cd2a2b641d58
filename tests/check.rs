//! `notion-git-backup --env <file> check` end to end: the real binary against the fake Notion
//! server and the fake Gitea or a local folder. A good setup prints one `ok` line per check with
//! the bot, workspace, data sources, page counts and destination state, and exits 0; each broken
//! setup prints the exact fix on its `FAIL` line and exits 1; an unreadable configuration exits 2.
//! `check` writes nothing: the temp folder is byte-for-byte and mtime-for-mtime unchanged, and the
//! fake Gitea receives no write request.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::SystemTime;

use common::fake_gitea::{self, FakeGitea};
use common::fake_notion::{FakeNotion, World, DEFAULT_TOKEN};
use common::fixtures::*;

/// One parsed row of the table: the CHECK column, `ok`/`FAIL`, the detail.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Row {
    what: String,
    status: String,
    detail: String,
}

fn row(what: &str, status: &str, detail: &str) -> Row {
    Row { what: what.into(), status: status.into(), detail: detail.into() }
}

/// Parses the table by its header: the RESULT column starts where the header says; the status is
/// its first word and the detail follows two spaces after the 4-wide status column.
fn parse(stdout: &str) -> (Vec<Row>, String) {
    let mut lines = stdout.lines();
    let header = lines.next().expect("a header line");
    assert!(header.starts_with("CHECK ") && header.ends_with("  RESULT"), "header: {header:?}");
    let col = header.chars().count() - "RESULT".len();
    let mut rows = Vec::new();
    for line in lines.by_ref() {
        if line.is_empty() {
            break;
        }
        let chars: Vec<char> = line.chars().collect();
        assert!(chars.len() > col + 6, "short table line {line:?}");
        let what: String = chars[..col].iter().collect();
        let status: String = chars[col..col + 4].iter().collect();
        let sep: String = chars[col + 4..col + 6].iter().collect();
        assert_eq!(sep, "  ", "columns misaligned in {line:?}");
        assert!(what.ends_with("  "), "no gap after the CHECK column in {line:?}");
        rows.push(Row {
            what: what.trim_end().to_string(),
            status: status.trim_end().to_string(),
            detail: chars[col + 6..].iter().collect(),
        });
    }
    let verdict: Vec<&str> = lines.collect();
    assert_eq!(verdict.len(), 1, "one verdict line after the table:\n{stdout}");
    (rows, verdict[0].to_string())
}

/// Every file and folder under `dir` with its size, mtime and (for files) bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (u64, SystemTime, Vec<u8>)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let meta = std::fs::symlink_metadata(e.path()).unwrap();
            let bytes = if meta.is_file() { std::fs::read(e.path()).unwrap() } else { Vec::new() };
            if meta.is_dir() {
                stack.push(e.path());
            }
            out.insert(e.path(), (meta.len(), meta.modified().unwrap(), bytes));
        }
    }
    out
}

fn write_env(dir: &Path, vars: &[(&str, String)]) -> PathBuf {
    let env = dir.join(".env");
    let text: String = vars.iter().map(|(k, v)| format!("{k}='{v}'\n")).collect();
    std::fs::write(&env, text).unwrap();
    env
}

/// Runs `notion-git-backup --env <env> check` with a clean environment (PATH = `path`).
async fn run_check(env: &Path, path: Option<String>) -> Output {
    let env = env.to_path_buf();
    let path = path.unwrap_or_else(|| std::env::var("PATH").unwrap_or_default());
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(assert_cmd::cargo::cargo_bin("notion-git-backup"))
            .current_dir(env.parent().unwrap())
            .env_clear()
            .env("PATH", path)
            .arg("--env")
            .arg(&env)
            .arg("check")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

struct Outcome {
    code: Option<i32>,
    rows: Vec<Row>,
    verdict: String,
    stdout: String,
    stderr: String,
}

impl Outcome {
    fn get(&self, what: &str) -> &Row {
        self.rows.iter().find(|r| r.what == what).unwrap_or_else(|| panic!("no {what:?} line:\n{}", self.stdout))
    }
}

async fn check(env: &Path, path: Option<String>) -> Outcome {
    let out = run_check(env, path).await;
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(stdout.starts_with("CHECK "), "no table (exit {:?}); stderr:\n{stderr}", out.status.code());
    let (rows, verdict) = parse(&stdout);
    Outcome { code: out.status.code(), rows, verdict, stdout, stderr }
}

fn base_vars(fake: &FakeNotion, db: &DbIds) -> Vec<(&'static str, String)> {
    vec![
        ("NOTION_TOKEN", DEFAULT_TOKEN.to_string()),
        ("NOTION_API_URL", fake.base_url()),
        ("NOTION_RATE_LIMIT", "200".into()),
        ("DB1_NOTION_ID", db.database_id.clone()),
        ("DB1_GIT_REPO", "notes".into()),
        ("DB1_LABEL", "My notes".into()),
        ("BACKUP_DIR", "backup".into()),
        ("STATE_FILE", "state.json".into()),
    ]
}

const BOT_LINE: &str = "bot \"Backup bot\" in workspace \"Test Workspace\"";
const NOTES_LINE: &str = "\"Notes\": 3 pages (data source \"Notes\": 3 pages)";
const NO_NOTIFY: &str = "none configured (DISCORD_WEBHOOK_URL, HEALTHCHECK_URL, WEBHOOK_URL); nothing is sent by check";
const PASSED: &str = "All checks passed: the backup is ready to run.";

fn failed(n: usize) -> String {
    format!("{n} check(s) failed: fix the lines marked FAIL and run `check` again.")
}

fn git(dir: &Path, args: &[&str]) {
    let ok = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .status()
        .unwrap()
        .success();
    assert!(ok, "git {args:?}");
}

/// A database with two data sources ("Active" with 2 pages, "Archive" with 1).
fn add_two_source_database(w: &mut World) -> String {
    let (db, a, b) = (w.next_id(), w.next_id(), w.next_id());
    w.insert_database(database(&db, parent_workspace(), "Projects", &[(&a, "Active"), (&b, "Archive")]));
    for (ds, name, rows) in [(&a, "Active", 2), (&b, "Archive", 1)] {
        w.insert_data_source(data_source(ds, &db, name, vec![schema_entry("Name", "title", serde_json::json!({}))]));
        for i in 0..rows {
            let id = w.next_id();
            w.insert_page(page(&id, parent_data_source(ds, &db), &format!("{name} {i}"), vec![]));
        }
    }
    db
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn good_local_setup_prints_every_check_ok_and_writes_nothing() {
    let mut w = World::new();
    let notes = add_database(&mut w, "Notes", 3);
    let tasks = add_database(&mut w, "Tasks", 120);
    let projects = add_two_source_database(&mut w);
    let fake = FakeNotion::start(w).await;
    let dir = tempfile::tempdir().unwrap();
    // The tasks repository exists already, with one committed file.
    let tasks_repo = dir.path().join("backup/tasks");
    std::fs::create_dir_all(&tasks_repo).unwrap();
    git(&tasks_repo, &["init", "-q", "-b", "main"]);
    std::fs::write(tasks_repo.join("README.md"), "# Tasks\n").unwrap();
    git(&tasks_repo, &["add", "README.md"]);
    git(&tasks_repo, &["commit", "-q", "-m", "first"]);
    let mut vars = base_vars(&fake, &notes);
    vars.extend([
        ("DB2_NOTION_ID", tasks.database_id.clone()),
        ("DB2_GIT_REPO", "tasks".into()),
        ("DB3_NOTION_ID", projects.clone()),
        ("DB3_GIT_REPO", "projects".into()),
    ]);
    let env = write_env(dir.path(), &vars);
    let before = snapshot(dir.path());

    let out = check(&env, None).await;
    assert_eq!(out.code, Some(0), "stdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
    let d = dir.path().display();
    let git_line = out.get("git").clone();
    assert!(git_line.detail.starts_with("git version 2."), "{git_line:?}");
    assert_eq!(
        out.rows,
        vec![
            row("Notion token", "ok", BOT_LINE),
            row("Database My notes", "ok", NOTES_LINE),
            row("Database tasks", "ok", "\"Tasks\": 120 pages (data source \"Tasks\": 120 pages)"),
            row(
                "Database projects",
                "ok",
                "\"Projects\": 3 pages (data sources \"Active\": 2 pages, \"Archive\": 1 page)"
            ),
            git_line,
            row("Repository notes", "ok", &format!("{d}/backup/notes: missing, will be created with git init")),
            row("Repository tasks", "ok", &format!("{d}/backup/tasks: exists, branch main, 1 file")),
            row("Repository projects", "ok", &format!("{d}/backup/projects: missing, will be created with git init")),
            row("State file", "ok", &format!("{d}/state.json: none yet, the first run backs up every page")),
            row("Notifications", "ok", NO_NOTIFY),
        ]
    );
    assert_eq!(out.verdict, PASSED);
    assert_eq!(snapshot(dir.path()), before, "check wrote into the folder");
    assert!(!dir.path().join("backup/notes").exists() && !dir.path().join("state.json.lock").exists());
    assert!(!out.stdout.contains(DEFAULT_TOKEN) && !out.stderr.contains(DEFAULT_TOKEN));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn good_gitea_setup_names_the_server_version_the_user_and_push_access() {
    let mut w = World::new();
    let notes = add_database(&mut w, "Notes", 3);
    let fresh = add_database(&mut w, "Fresh", 1);
    let fake = FakeNotion::start(w).await;
    let gitea = FakeGitea::start().await;
    gitea.add_repo(fake_gitea::USER, "notes");
    gitea.external_commit(fake_gitea::USER, "notes", "main", "README.md", b"hello\n");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("state.json"),
        r#"{"synced_pages": {"1f2e3d4c5b6a79881f2e3d4c5b6a7988": "2026-01-01T00:00:00.000Z"}}"#,
    )
    .unwrap();
    let mut vars = base_vars(&fake, &notes);
    vars.extend([
        ("GIT_BASE_URL", gitea.base_url.clone()),
        ("GIT_TOKEN", fake_gitea::TOKEN.to_string()),
        ("GIT_OWNER", fake_gitea::USER.to_string()),
        ("GIT_CREATE_REPOS", "1".into()),
        ("DB2_NOTION_ID", fresh.database_id.clone()),
        ("DB2_GIT_REPO", "fresh".into()),
        ("DISCORD_LEVEL", "1".into()),
        ("DISCORD_WEBHOOK_URL", "https://discord.com/api/webhooks/1/SECRETPART".into()),
        ("HEALTHCHECK_URL", "https://hc-ping.com/secret-uuid".into()),
    ]);
    let env = write_env(dir.path(), &vars);
    let before = snapshot(dir.path());

    let out = check(&env, None).await;
    assert_eq!(out.code, Some(0), "stdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
    let d = dir.path().display();
    let url = &gitea.base_url;
    assert_eq!(
        out.rows,
        vec![
            row("Notion token", "ok", BOT_LINE),
            row("Database My notes", "ok", NOTES_LINE),
            row("Database fresh", "ok", "\"Fresh\": 1 page (data source \"Fresh\": 1 page)"),
            row("Gitea server", "ok", &format!("Gitea 1.22.3 at {url}, token of user \"backup-bot\"")),
            row("Repository notes", "ok", "backup-bot/notes: exists, branch main, 1 file, token can push"),
            row(
                "Repository fresh",
                "ok",
                "backup-bot/fresh: missing, will be created (private) by the first run (GIT_CREATE_REPOS=1)"
            ),
            row("State file", "ok", &format!("{d}/state.json: 1 page recorded")),
            row(
                "Notifications",
                "ok",
                "Discord only when something failed (DISCORD_LEVEL=1), health check pings; nothing is sent by check"
            ),
        ]
    );
    assert_eq!(out.verdict, PASSED);
    // Only reads reached Gitea; the missing repository was not created.
    let requests = gitea.requests();
    assert!(requests.iter().all(|(m, _)| m == "GET"), "{requests:?}");
    assert!(gitea.repo(fake_gitea::USER, "fresh").is_none());
    assert_eq!(snapshot(dir.path()), before, "check wrote into the folder");
    for secret in [fake_gitea::TOKEN, DEFAULT_TOKEN, "SECRETPART", "secret-uuid"] {
        assert!(!out.stdout.contains(secret) && !out.stderr.contains(secret), "{secret} printed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_notion_token_names_notion_token_and_skips_the_databases() {
    let mut w = World::new();
    let notes = add_database(&mut w, "Notes", 3);
    let fake = FakeNotion::start(w).await;
    let dir = tempfile::tempdir().unwrap();
    let mut vars = base_vars(&fake, &notes);
    vars[0].1 = "ntn_wrong_token_value_123".into();
    let env = write_env(dir.path(), &vars);
    let out = check(&env, None).await;
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert_eq!(
        out.get("Notion token"),
        &row(
            "Notion token",
            "FAIL",
            "Notion rejected the token (401 unauthorized): check NOTION_TOKEN; create or copy it at https://www.notion.so/profile/integrations"
        )
    );
    assert_eq!(
        out.get("Database My notes"),
        &row("Database My notes", "FAIL", "not checked: fix the Notion token line first")
    );
    assert_eq!(out.verdict, failed(2));
    assert!(!out.stdout.contains("ntn_wrong_token_value_123") && !out.stderr.contains("ntn_wrong_token_value_123"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_not_shared_gives_the_connections_fix() {
    let mut w = World::new();
    let notes = add_database(&mut w, "Notes", 3);
    let hidden = add_database(&mut w, "Hidden", 2);
    w.unshare(&hidden.database_id);
    let fake = FakeNotion::start(w).await;
    let dir = tempfile::tempdir().unwrap();
    let mut vars = base_vars(&fake, &notes);
    vars.extend([("DB2_NOTION_ID", hidden.database_id.clone()), ("DB2_GIT_REPO", "hidden".into())]);
    let env = write_env(dir.path(), &vars);
    let out = check(&env, None).await;
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert_eq!(out.get("Database My notes").status, "ok");
    assert_eq!(
        out.get("Database hidden"),
        &row(
            "Database hidden",
            "FAIL",
            &format!(
                "{} not found or not shared with the integration: in Notion, open the database -> ••• menu -> \
                 Connections -> add your integration (\"Backup bot\")",
                hidden.database_id
            )
        )
    );
    assert_eq!(out.verdict, failed(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_gitea_repo_without_create_repos_is_an_error_naming_it() {
    let mut w = World::new();
    let notes = add_database(&mut w, "Notes", 3);
    let fake = FakeNotion::start(w).await;
    let gitea = FakeGitea::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut vars = base_vars(&fake, &notes);
    vars.extend([
        ("GIT_BASE_URL", gitea.base_url.clone()),
        ("GIT_TOKEN", fake_gitea::TOKEN.to_string()),
        ("GIT_OWNER", fake_gitea::USER.to_string()),
    ]);
    let env = write_env(dir.path(), &vars);
    let out = check(&env, None).await;
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert_eq!(
        out.get("Repository notes"),
        &row(
            "Repository notes",
            "FAIL",
            &format!(
                "repository backup-bot/notes not found on {} (or the token cannot see it): create it, or set \
                 GIT_CREATE_REPOS=1 to let the backup create it (token scopes write:repository, write:user)",
                gitea.base_url
            )
        )
    );
    assert!(gitea.requests().iter().all(|(m, _)| m == "GET"));
    assert!(gitea.repo(fake_gitea::USER, "notes").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gitea_older_than_1_20_and_a_token_without_push_are_failures() {
    let mut w = World::new();
    let notes = add_database(&mut w, "Notes", 3);
    let fake = FakeNotion::start(w).await;
    let gitea = FakeGitea::start().await;
    gitea.add_repo(fake_gitea::USER, "notes");
    let dir = tempfile::tempdir().unwrap();
    let mut vars = base_vars(&fake, &notes);
    vars.extend([
        ("GIT_BASE_URL", gitea.base_url.clone()),
        ("GIT_TOKEN", fake_gitea::TOKEN.to_string()),
        ("GIT_OWNER", fake_gitea::USER.to_string()),
    ]);
    let env = write_env(dir.path(), &vars);

    gitea.set_version("1.19.4");
    let out = check(&env, None).await;
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert_eq!(
        out.get("Gitea server"),
        &row(
            "Gitea server",
            "FAIL",
            &format!(
                "{}: the git server runs Gitea 1.19.4; multi-file commits need Gitea 1.20 or newer (or Forgejo): \
                 upgrade it",
                gitea.base_url
            )
        )
    );
    assert_eq!(
        out.get("Repository notes"),
        &row("Repository notes", "FAIL", "not checked: fix the Gitea server line first")
    );

    // Forgejo reports its own version with the Gitea one it is compatible with.
    gitea.set_version("9.0.3+gitea-1.22.0");
    gitea.set_push(fake_gitea::USER, "notes", false);
    let out = check(&env, None).await;
    assert_eq!(
        out.get("Gitea server").detail,
        format!("Forgejo 9.0.3 (Gitea 1.22.0 compatible) at {}, token of user \"backup-bot\"", gitea.base_url)
    );
    assert_eq!(
        out.get("Repository notes"),
        &row(
            "Repository notes",
            "FAIL",
            "the token's user cannot push to backup-bot/notes: give it write access (collaborator or team with write)"
        )
    );
    assert_eq!(out.code, Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_gitea_token_names_git_token() {
    let mut w = World::new();
    let notes = add_database(&mut w, "Notes", 3);
    let fake = FakeNotion::start(w).await;
    let gitea = FakeGitea::start().await;
    gitea.add_repo(fake_gitea::USER, "notes");
    let dir = tempfile::tempdir().unwrap();
    let mut vars = base_vars(&fake, &notes);
    vars.extend([
        ("GIT_BASE_URL", gitea.base_url.clone()),
        ("GIT_TOKEN", "gitea-wrong-token-999".to_string()),
        ("GIT_OWNER", fake_gitea::USER.to_string()),
    ]);
    let env = write_env(dir.path(), &vars);
    let out = check(&env, None).await;
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert_eq!(
        out.get("Gitea server"),
        &row(
            "Gitea server",
            "FAIL",
            &format!(
                "Gitea 1.22.3 at {} rejected GIT_TOKEN (HTTP 401): create a new token (Settings -> Applications) \
                 with scopes write:repository and read:user (write:user to create repositories)",
                gitea.base_url
            )
        )
    );
    assert!(!out.stdout.contains("gitea-wrong-token-999") && !out.stderr.contains("gitea-wrong-token-999"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_gitea_server_says_so_without_the_token() {
    let mut w = World::new();
    let notes = add_database(&mut w, "Notes", 3);
    let fake = FakeNotion::start(w).await;
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let mut vars = base_vars(&fake, &notes);
    vars.extend([
        ("GIT_BASE_URL", format!("http://127.0.0.1:{port}")),
        ("GIT_TOKEN", fake_gitea::TOKEN.to_string()),
        ("GIT_OWNER", fake_gitea::USER.to_string()),
    ]);
    let env = write_env(dir.path(), &vars);
    let out = check(&env, None).await;
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    let server = out.get("Gitea server");
    assert_eq!(server.status, "FAIL");
    assert!(
        server.detail.starts_with(&format!("cannot reach http://127.0.0.1:{port} (could not connect"))
            && server.detail.ends_with("): check GIT_BASE_URL and that the server is up"),
        "{server:?}"
    );
    assert!(!out.stdout.contains(fake_gitea::TOKEN));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn git_missing_from_path_is_reported_for_local_mode() {
    let mut w = World::new();
    let notes = add_database(&mut w, "Notes", 3);
    let fake = FakeNotion::start(w).await;
    let dir = tempfile::tempdir().unwrap();
    let empty_bin = tempfile::tempdir().unwrap();
    let env = write_env(dir.path(), &base_vars(&fake, &notes));
    let out = check(&env, Some(empty_bin.path().display().to_string())).await;
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert_eq!(
        out.get("git"),
        &row(
            "git",
            "FAIL",
            "git not found on PATH: install git (e.g. apt install git), or add its folder to PATH in the cron job or service"
        )
    );
    assert_eq!(out.get("Repository notes"), &row("Repository notes", "FAIL", "not checked: git not found"));
    // Notion was still checked.
    assert_eq!(out.get("Database My notes"), &row("Database My notes", "ok", NOTES_LINE));
    assert_eq!(out.verdict, failed(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_dir_that_cannot_be_written_is_a_failure() {
    let mut w = World::new();
    let notes = add_database(&mut w, "Notes", 3);
    let fake = FakeNotion::start(w).await;
    let dir = tempfile::tempdir().unwrap();
    // BACKUP_DIR is a file: nothing can be created under it (also true for root).
    std::fs::write(dir.path().join("backup"), "not a folder").unwrap();
    let env = write_env(dir.path(), &base_vars(&fake, &notes));
    let before = snapshot(dir.path());
    let out = check(&env, None).await;
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    let d = dir.path().display();
    assert_eq!(
        out.get("Repository notes"),
        &row(
            "Repository notes",
            "FAIL",
            &format!("cannot create {d}/backup/notes: {d}/backup is a file, not a folder: fix BACKUP_DIR")
        )
    );
    assert_eq!(snapshot(dir.path()), before);

    // A read-only folder (only meaningful when not running as root, who may write anywhere).
    std::fs::remove_file(dir.path().join("backup")).unwrap();
    let ro = dir.path().join("backup");
    std::fs::create_dir(&ro).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
    let root = std::fs::write(ro.join("probe"), "x").is_ok();
    if !root {
        let out = check(&env, None).await;
        assert_eq!(out.code, Some(1), "{}", out.stdout);
        let r = out.get("Repository notes");
        assert_eq!(r.status, "FAIL");
        assert!(
            r.detail.starts_with(&format!("cannot create {d}/backup/notes: {d}/backup: not writable ("))
                && r.detail.ends_with("): fix BACKUP_DIR or its permissions"),
            "{r:?}"
        );
    }
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configuration_errors_exit_2_before_any_check() {
    let dir = tempfile::tempdir().unwrap();
    let env = write_env(dir.path(), &[("DB1_NOTION_ID", "not-an-id".into()), ("DB1_GIT_REPO", "notes".into())]);
    let out = run_check(&env, None).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "no table on a configuration error");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let problems: Vec<&str> = stderr.lines().filter(|l| l.trim_start().starts_with("- ")).collect();
    assert_eq!(problems.len(), 2, "{stderr}");
    for key in ["NOTION_TOKEN", "DB1_NOTION_ID"] {
        assert!(problems.iter().any(|p| p.trim_start().starts_with(&format!("- {key}"))), "no {key}:\n{stderr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_in_progress_is_mentioned_and_left_alone() {
    let mut w = World::new();
    let notes = add_database(&mut w, "Notes", 3);
    let fake = FakeNotion::start(w).await;
    let dir = tempfile::tempdir().unwrap();
    let env = write_env(dir.path(), &base_vars(&fake, &notes));
    let held = notion_git_backup::state::RunLock::acquire(&dir.path().join("state.json")).unwrap();
    let before = snapshot(dir.path());
    let out = check(&env, None).await;
    assert_eq!(out.code, Some(0), "{}", out.stdout);
    assert_eq!(
        out.get("State file").detail,
        format!(
            "{}/state.json: none yet, the first run backs up every page; a backup run is in progress right now",
            dir.path().display()
        )
    );
    assert_eq!(snapshot(dir.path()), before);
    drop(held);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_notion_fails_the_token_line_after_a_few_attempts() {
    let mut w = World::new();
    let notes = add_database(&mut w, "Notes", 3);
    let fake = FakeNotion::start(w).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let mut vars = base_vars(&fake, &notes);
    vars[1].1 = format!("http://127.0.0.1:{port}/v1");
    let env = write_env(dir.path(), &vars);
    let out = check(&env, None).await;
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    let token = out.get("Notion token");
    assert_eq!(token.status, "FAIL");
    assert!(
        token.detail.starts_with("Notion kept failing for the integration's bot user after 3 attempts"),
        "{token:?}"
    );
    assert_eq!(out.get("Database My notes").detail, "not checked: fix the Notion token line first");
}

/// A repository with one commit on `main` under `BACKUP_DIR` (`backup/<name>`).
fn committed_repo(dir: &Path, name: &str) -> PathBuf {
    let repo = dir.join("backup").join(name);
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("README.md"), "# Notes\n").unwrap();
    git(&repo, &["add", "README.md"]);
    git(&repo, &["commit", "-q", "-m", "first"]);
    repo
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn git_push_without_a_remote_to_push_to_fails_with_the_fix() {
    let mut w = World::new();
    let notes = add_database(&mut w, "Notes", 3);
    let fake = FakeNotion::start(w).await;
    let dir = tempfile::tempdir().unwrap();
    let repo = committed_repo(dir.path(), "notes");
    let mut vars = base_vars(&fake, &notes);
    vars.push(("GIT_PUSH", "1".into()));
    let env = write_env(dir.path(), &vars);
    let r = repo.display();

    let out = check(&env, None).await;
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert_eq!(
        out.get("Repository notes"),
        &row(
            "Repository notes",
            "FAIL",
            &format!(
                "GIT_PUSH=1 but {r} has no remote to push to: add one with `git -C {r} remote add origin <url>`, or \
                 set GIT_PUSH=0"
            )
        )
    );
    assert_eq!(out.verdict, failed(1));

    // Two remotes, neither origin nor the branch's upstream: which one is unknown.
    let bare = dir.path().join("remote.git");
    git(dir.path(), &["init", "-q", "--bare", bare.to_str().unwrap()]);
    git(&repo, &["remote", "add", "backup", bare.to_str().unwrap()]);
    git(&repo, &["remote", "add", "mirror", bare.to_str().unwrap()]);
    let out = check(&env, None).await;
    assert_eq!(
        out.get("Repository notes"),
        &row(
            "Repository notes",
            "FAIL",
            &format!(
                "GIT_PUSH=1 but {r} has several remotes (backup, mirror), none is origin and branch main has no \
                 upstream: choose one with `git -C {r} config branch.main.remote <remote>`, or set GIT_PUSH=0"
            )
        )
    );

    // An upstream naming a remote that is gone.
    git(&repo, &["config", "branch.main.remote", "gone"]);
    let out = check(&env, None).await;
    let line = out.get("Repository notes");
    assert_eq!(line.status, "FAIL");
    assert!(
        line.detail.starts_with("GIT_PUSH=1 but the upstream remote \"gone\" of branch main does not exist"),
        "{line:?}"
    );

    git(&repo, &["config", "branch.main.remote", "mirror"]);
    let out = check(&env, None).await;
    assert_eq!(out.code, Some(0), "{}", out.stdout);
    assert_eq!(
        out.get("Repository notes"),
        &row(
            "Repository notes",
            "ok",
            &format!("{r}: exists, branch main, 1 file; GIT_PUSH=1: pushed to remote \"mirror\" after each run")
        )
    );

    // A repository the first run would create has no remote either.
    let vars: Vec<(&str, String)> =
        vars.into_iter().map(|(k, v)| if k == "DB1_GIT_REPO" { (k, "fresh".to_string()) } else { (k, v) }).collect();
    let env = write_env(dir.path(), &vars);
    let out = check(&env, None).await;
    let fresh = dir.path().join("backup/fresh").display().to_string();
    assert_eq!(
        out.get("Repository fresh"),
        &row(
            "Repository fresh",
            "FAIL",
            &format!(
                "{fresh}: missing; the first run would create it with git init, without a remote, and GIT_PUSH=1 \
                 would then fail every run: clone the repository to push to there first (git clone <url> {fresh}), \
                 or set GIT_PUSH=0"
            )
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repository_owned_by_another_user_names_safe_directory_instead_of_emptying_it() {
    let mut w = World::new();
    let notes = add_database(&mut w, "Notes", 3);
    let fake = FakeNotion::start(w).await;
    let dir = tempfile::tempdir().unwrap();
    let repo = committed_repo(dir.path(), "notes");
    let env = write_env(dir.path(), &base_vars(&fake, &notes));
    let r = repo.display();
    let want = row(
        "Repository notes",
        "FAIL",
        &format!(
            "git refuses to use {r}: it is owned by another user than the one running the backup (git: \"detected \
             dubious ownership\"). Run the backup as the user who owns the repository, or trust it for this user \
             with `git config --global --add safe.directory {r}`"
        ),
    );

    // git's answer as it prints it, from a git on PATH that answers every rev-parse so.
    let bin = tempfile::tempdir().unwrap();
    let real =
        String::from_utf8(std::process::Command::new("sh").args(["-c", "command -v git"]).output().unwrap().stdout)
            .unwrap();
    let script = bin.path().join("git");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ncase \" $* \" in *\" rev-parse \"*)\n  echo \"fatal: detected dubious ownership in repository at \
             '{r}'\" >&2\n  printf 'To add an exception for this directory, call:\\n\\n\\tgit config --global --add \
             safe.directory {r}\\n' >&2\n  exit 128;;\nesac\nexec {} \"$@\"\n",
            real.trim()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.path().display(), std::env::var("PATH").unwrap_or_default());
    let out = check(&env, Some(path)).await;
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert_eq!(out.get("Repository notes"), &want);

    // The real thing, where this test may hand the repository to another user (as root).
    let nobody = 65534;
    let handed = std::os::unix::fs::chown(&repo, Some(nobody), Some(nobody)).is_ok()
        && std::os::unix::fs::chown(repo.join(".git"), Some(nobody), Some(nobody)).is_ok();
    if handed {
        let before = snapshot(dir.path());
        let out = check(&env, None).await;
        assert_eq!(out.code, Some(1), "{}", out.stdout);
        assert_eq!(out.get("Repository notes"), &want);
        assert_eq!(snapshot(dir.path()), before, "check wrote into the folder");
    }
}

/// Issue 12: `check` compares the state file with the repository. Folders removed by hand (the
/// state still says they are backed up) are a FAIL naming the pages, not "all is well".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_missing_from_the_repository_are_reported() {
    let mut w = World::new();
    let notes = add_database(&mut w, "Notes", 3);
    let fake = FakeNotion::start(w).await;
    let dir = tempfile::tempdir().unwrap();
    let env = write_env(dir.path(), &base_vars(&fake, &notes));
    let env2 = env.clone();
    let backup = tokio::task::spawn_blocking(move || {
        std::process::Command::new(assert_cmd::cargo::cargo_bin("notion-git-backup"))
            .current_dir(env2.parent().unwrap())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .arg("--env")
            .arg(&env2)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(backup.status.success(), "{}", String::from_utf8_lossy(&backup.stderr));

    let out = check(&env, None).await;
    assert_eq!(out.code, Some(0), "{}", out.stdout);
    assert_eq!(
        out.get("Backup in notes").clone(),
        row(
            "Backup in notes",
            "ok",
            "the 4 pages and databases the state file records are all in the repository, byte for byte"
        )
    );

    let repo = dir.path().join("backup/notes");
    git(&repo, &["rm", "-q", "-r", "row-1"]);
    git(&repo, &["commit", "-q", "-m", "removed by hand"]);
    std::fs::write(repo.join("row-2/index.md"), "edited by hand\n").unwrap();
    git(&repo, &["commit", "-q", "-a", "-m", "edited by hand"]);
    let out = check(&env, None).await;
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    let line = out.get("Backup in notes");
    assert_eq!(line.status, "FAIL");
    assert!(
        line.detail.starts_with("2 of the 4 pages and databases the state file records have")
            && line.detail.contains("\"Row 1\", \"Row 2\"")
            && line.detail.contains("the next backup run backs them up again from Notion"),
        "{line:?}"
    );
    assert_eq!(out.verdict, failed(1));
}
