//! `notion-git-backup check`: verifies the whole setup without writing anything, and prints a
//! table with one line per check and the exact fix for each failure: the Notion token (which bot,
//! which workspace), every configured database (shared? data sources, page counts), the
//! destination (Gitea/Forgejo server version, the token's user, each repository and whether the
//! token can push to it; or `git`, and each local repository or the folder it will be created in,
//! with the remote `GIT_PUSH=1` pushes to),
//! the state file, and which notifications are configured (they are not sent).
//!
//! Must not: write a file, create a repository or a lock, send a notification, or print a secret.
//! Exit codes (mapped in `main.rs`): 0 every check passed, 1 a check failed, 2 the configuration
//! could not be read (reported by `config` before any check runs).

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use crate::config::{Config, Destination, GiteaSettings, LocalSettings};
use crate::ids;
use crate::notion::{ClientConfig, NotionClient, NotionError, RetryPolicy};
use crate::sink::gitea::GiteaSink;
use crate::sink::local_git::LocalGitSink;
use crate::sink::{Sink, SinkError};
use crate::state::{self, State};

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckLine {
    pub what: String,
    pub ok: bool,
    pub detail: String,
}

/// The outcome of `check`: every line, and whether all is well.
#[derive(Debug, Clone, Default)]
pub struct CheckReport {
    pub lines: Vec<CheckLine>,
}

impl CheckReport {
    pub fn all_ok(&self) -> bool {
        self.lines.iter().all(|l| l.ok)
    }

    /// 0 when every check passed, 1 otherwise (2, "could not start", is for configuration errors,
    /// which stop before any check).
    pub fn exit_code(&self) -> i32 {
        if self.all_ok() {
            0
        } else {
            1
        }
    }

    fn push(&mut self, what: impl Into<String>, result: Result<String, String>) {
        let (ok, detail) = match result {
            Ok(d) => (true, d),
            Err(d) => (false, d),
        };
        self.lines.push(CheckLine { what: what.into(), ok, detail });
    }

    /// The table printed to stdout: a `CHECK  RESULT` header, then per line the check name padded
    /// to one column, `ok` or `FAIL` padded to 4, and the detail; then a verdict line.
    pub fn table(&self) -> String {
        let width = self.lines.iter().map(|l| l.what.chars().count()).max().unwrap_or(5).max(5);
        let mut out = format!("{:<width$}  RESULT\n", "CHECK");
        for l in &self.lines {
            let status = if l.ok { "ok" } else { "FAIL" };
            let _ = writeln!(out, "{:<width$}  {status:<4}  {}", l.what, one_line(&l.detail));
        }
        let failed = self.lines.iter().filter(|l| !l.ok).count();
        if failed == 0 {
            out.push_str("\nAll checks passed: the backup is ready to run.\n");
        } else {
            let _ = writeln!(out, "\n{failed} check(s) failed: fix the lines marked FAIL and run `check` again.");
        }
        out
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Run every check. Writes nothing anywhere.
pub async fn check(cfg: &Config) -> CheckReport {
    let mut report = CheckReport::default();
    for w in &cfg.warnings {
        tracing::warn!("{w}");
    }
    check_notion(cfg, &mut report).await;
    match &cfg.destination {
        Destination::Gitea(g) => check_gitea(cfg, g, &mut report).await,
        Destination::Local(l) => check_local(cfg, l, &mut report).await,
    }
    report.push("State file", check_state(&cfg.state_file));
    report.push("Notifications", Ok(notifications(cfg)));
    report
}

/// The token and every database.
async fn check_notion(cfg: &Config, report: &mut CheckReport) {
    let mut ncfg = ClientConfig::new(&cfg.notion.api_url, &cfg.notion.token);
    ncfg.version = cfg.notion.version.clone();
    ncfg.rate_per_second = cfg.notion.rate_limit;
    // Someone is waiting at the terminal: give up on an unreachable Notion within seconds, not the
    // ten minutes a nightly run allows for an outage to pass.
    ncfg.timeout = Duration::from_secs(20);
    ncfg.retry = RetryPolicy { max_attempts: 3, max_total: Duration::from_secs(30), ..RetryPolicy::default() };
    let notion = match NotionClient::new(ncfg) {
        Ok(c) => c,
        Err(e) => {
            report.push("Notion token", Err(e.to_string()));
            return;
        }
    };
    let bot = match notion.users_me().await {
        Ok(me) => {
            let name = me.name.clone().unwrap_or_else(|| "unnamed".into());
            let detail = match me.bot.as_ref().and_then(|b| b.workspace_name.clone()) {
                Some(ws) => format!("bot {name:?} in workspace {ws:?}"),
                None => format!("user {name:?}"),
            };
            report.push("Notion token", Ok(detail));
            Some(name)
        }
        Err(e) => {
            report.push("Notion token", Err(e.to_string()));
            None
        }
    };
    for db in &cfg.databases {
        let what = format!("Database {}", db.label);
        match &bot {
            None => report.push(what, Err("not checked: fix the Notion token line first".into())),
            Some(bot) => report.push(what, check_database(&notion, &db.notion_id, bot).await),
        }
    }
}

async fn check_database(notion: &NotionClient, id: &str, bot: &str) -> Result<String, String> {
    let dashed = ids::dashed(id);
    let db = notion.get_database(id).await.map_err(|e| match e {
        NotionError::NotFound { .. } => format!(
            "{dashed} not found or not shared with the integration: in Notion, open the database -> ••• menu -> \
             Connections -> add your integration ({bot:?})"
        ),
        other => other.to_string(),
    })?;
    if db.data_sources.is_empty() {
        return Err(format!(
            "{:?} ({dashed}): the integration sees the database but none of its data sources: share the source \
             database with the integration (••• menu -> Connections)",
            db.title_text()
        ));
    }
    let mut parts = Vec::new();
    let mut total = 0;
    for ds in &db.data_sources {
        let rows = notion.query_all(&ds.id).await.map_err(|e| format!("data source {:?}: {e}", ds.name))?;
        let n = rows.iter().filter(|p| !p.is_trashed()).count();
        total += n;
        parts.push(format!("{:?}: {n} {}", ds.name, pages(n)));
    }
    let sources = if db.data_sources.len() == 1 { "data source" } else { "data sources" };
    Ok(format!("{:?}: {total} {} ({sources} {})", db.title_text(), pages(total), parts.join(", ")))
}

fn pages(n: usize) -> &'static str {
    if n == 1 {
        "page"
    } else {
        "pages"
    }
}

// ---- Gitea / Forgejo ----

async fn check_gitea(cfg: &Config, g: &GiteaSettings, report: &mut CheckReport) {
    // The state file, read once, to compare with each repository's tree.
    let saved = State::load(&cfg.state_file).ok();
    let server = gitea_server(g).await;
    let server_ok = server.is_ok();
    report.push("Gitea server", server);
    for db in &cfg.databases {
        let what = format!("Repository {}", db.repo);
        if !server_ok {
            report.push(what, Err("not checked: fix the Gitea server line first".into()));
            continue;
        }
        let (line, state) = gitea_repo(cfg, g, &db.repo, saved.as_ref()).await;
        report.push(what, line);
        if let Some(state) = state {
            report.push(format!("Backup in {}", db.repo), state);
        }
    }
}

/// Server version (must be Gitea >= 1.20 or Forgejo) and the token's user.
async fn gitea_server(g: &GiteaSettings) -> Result<String, String> {
    let base = g.base_url.trim().trim_end_matches('/').trim_end_matches("/api/v1").trim_end_matches("/api").to_string();
    let shown = crate::sink::gitea::display_url(&base);
    let mut builder = reqwest::Client::builder()
        .user_agent(crate::user_agent())
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30));
    if let Some(ca) = &g.ca_file {
        let pem = std::fs::read(ca).map_err(|e| format!("cannot read GIT_CA_FILE {}: {e}", ca.display()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .ok()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| format!("GIT_CA_FILE {} holds no PEM certificate", ca.display()))?;
        for c in certs {
            builder = builder.add_root_certificate(c);
        }
    }
    let http = builder.build().map_err(|e| format!("cannot set up the HTTP client: {}", e.without_url()))?;
    let get = |path: &str, auth: bool| {
        let mut req = http.get(format!("{base}/api/v1{path}")).header("Accept", "application/json");
        if auth {
            req = req.header("Authorization", format!("token {}", g.token));
        }
        req.send()
    };
    let unreachable = |e: reqwest::Error| {
        // The kind and the causes only: reqwest's own Display would print the URL.
        let mut detail = String::from(if e.is_timeout() {
            "timed out"
        } else if e.is_connect() {
            "could not connect"
        } else {
            "request failed"
        });
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            let _ = write!(detail, ": {s}");
            src = s.source();
        }
        format!("cannot reach {shown} ({detail}){}", unreachable_hint(&detail))
    };

    #[derive(serde::Deserialize)]
    struct Version {
        version: String,
    }
    let resp = get("/version", false).await.map_err(unreachable)?;
    let status = resp.status();
    let version = match resp.json::<Version>().await {
        Ok(v) if status.is_success() => v.version,
        _ => {
            return Err(format!(
                "{shown} did not answer /api/v1/version like Gitea or Forgejo (HTTP {status}): check GIT_BASE_URL \
                 (the server's root URL, e.g. https://git.example.com)"
            ))
        }
    };
    let product = match version.split_once("+gitea-") {
        Some((forgejo, gitea)) => format!("Forgejo {forgejo} (Gitea {gitea} compatible)"),
        None => format!("Gitea {version}"),
    };
    crate::sink::gitea::check_version(&version).map_err(|e| format!("{shown}: {e}"))?;

    #[derive(serde::Deserialize)]
    struct User {
        login: String,
    }
    let resp = get("/user", true).await.map_err(unreachable)?;
    let status = resp.status();
    if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
        return Err(format!(
            "{product} at {shown} rejected GIT_TOKEN (HTTP {}): create a new token (Settings -> Applications) \
             with scopes write:repository and read:user (write:user to create repositories)",
            status.as_u16()
        ));
    }
    let user = match resp.json::<User>().await {
        Ok(u) if status.is_success() => u.login,
        _ => return Err(format!("{shown} answered /api/v1/user with HTTP {status}: check GIT_BASE_URL")),
    };
    Ok(format!("{product} at {shown}, token of user {user:?}"))
}

/// The fix for a server that cannot be reached, from the error's causes.
fn unreachable_hint(detail: &str) -> &'static str {
    if detail.contains("certificate") || detail.contains("UnknownIssuer") {
        ": its TLS certificate is not trusted; for a self-signed or private CA set GIT_CA_FILE to the CA's PEM file"
    } else {
        ": check GIT_BASE_URL and that the server is up"
    }
}

/// A repository's line and, when the state file records pages in it, how the state compares with
/// the repository's tree.
type RepoLines = (Result<String, String>, Option<Result<String, String>>);

async fn gitea_repo(cfg: &Config, g: &GiteaSettings, repo: &str, saved: Option<&State>) -> RepoLines {
    let mut sink = match GiteaSink::new(crate::sync::sinks::gitea_config(cfg, g, repo)) {
        Ok(s) => s,
        Err(e) => return (Err(e.to_string()), None),
    };
    let name = format!("{}/{repo}", g.owner);
    // `open(false)` never creates: a missing repository is reported, not made.
    match sink.open(false).await {
        Ok(()) => {
            let files = sink.files_under("").len();
            let line =
                Ok(format!("{name}: exists, branch {}, {files} {}, token can push", sink.branch(), files_word(files)));
            (line, saved.and_then(|st| compare_state(st, repo, &sink)))
        }
        Err(SinkError::Missing(_)) if g.create_repos => (
            Ok(format!("{name}: missing, will be created (private) by the first run (GIT_CREATE_REPOS=1)")),
            saved.and_then(|st| compare_missing(st, repo)),
        ),
        Err(e) => (Err(e.to_string()), None),
    }
}

/// The state's records of repository `repo` against its tree: every recorded page whose files
/// are missing or differ from the recorded blob ids (the next run backs it up again from Notion),
/// and a state written for another destination. `None` when the state records nothing there.
fn compare_state(st: &State, repo: &str, sink: &dyn Sink) -> Option<Result<String, String>> {
    let records: Vec<&state::PageRecord> = st
        .pages
        .values()
        .filter(|r| r.repo == repo && !r.orphan && r.folder.is_some() && !r.files.is_empty())
        .collect();
    if records.is_empty() {
        return None;
    }
    let mut problems = Vec::new();
    if let Some(before) = st.destinations.get(repo) {
        let now = sink.identity();
        if *before != now {
            problems.push(format!("the state file was written for {before}, this configuration backs up to {now}"));
        }
    }
    let mut broken: Vec<(&str, usize)> = records
        .iter()
        .filter_map(|r| {
            let missing = r.files.iter().filter(|(p, blob)| sink.blob_of(p).as_deref() != Some(blob.as_str())).count();
            (missing > 0).then_some((r.title.as_str(), missing))
        })
        .collect();
    broken.sort();
    if !broken.is_empty() {
        let files: usize = broken.iter().map(|(_, n)| n).sum();
        let some: Vec<String> =
            broken.iter().take(5).map(|(t, _)| format!("{:?}", crate::sync::vocab::shown(t))).collect();
        problems.push(format!(
            "{} of the {} pages and databases the state file records {} {files} {} missing or changed in the repository ({}{}); the next backup run backs {} up again from Notion",
            broken.len(),
            records.len(),
            if broken.len() == 1 { "has" } else { "have" },
            files_word(files),
            some.join(", "),
            if broken.len() > 5 { ", ..." } else { "" },
            if broken.len() == 1 { "it" } else { "them" },
        ));
    }
    Some(if problems.is_empty() {
        Ok(format!(
            "the {} pages and databases the state file records are all in the repository, byte for byte",
            records.len()
        ))
    } else {
        Err(problems.join("; "))
    })
}

/// The repository does not exist yet, but the state file records pages in it.
fn compare_missing(st: &State, repo: &str) -> Option<Result<String, String>> {
    let n = st.pages.values().filter(|r| r.repo == repo && !r.orphan && !r.files.is_empty()).count();
    (n > 0).then(|| {
        Err(format!(
            "the state file records {n} {} in {repo}, but the repository does not exist: the next backup run creates it and backs them up again",
            pages(n)
        ))
    })
}

fn files_word(n: usize) -> &'static str {
    if n == 1 {
        "file"
    } else {
        "files"
    }
}

// ---- local git ----

async fn check_local(cfg: &Config, l: &LocalSettings, report: &mut CheckReport) {
    // The state file, read once, to compare with each repository's tree.
    let saved = State::load(&cfg.state_file).ok();
    let git = git_version().await;
    let git_ok = git.is_ok();
    report.push("git", git);
    for db in &cfg.databases {
        let what = format!("Repository {}", db.repo);
        if !git_ok {
            report.push(what, Err("not checked: git not found".into()));
            continue;
        }
        let (line, state) = local_repo(cfg, l, &db.repo, saved.as_ref()).await;
        report.push(what, line);
        if let Some(state) = state {
            report.push(format!("Backup in {}", db.repo), state);
        }
    }
}

async fn git_version() -> Result<String, String> {
    let out = tokio::process::Command::new("git")
        .arg("--version")
        .env("LC_ALL", "C")
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                "git not found on PATH: install git (e.g. apt install git), or add its folder to PATH in the cron \
                 job or service"
                    .to_string()
            } else {
                format!("cannot run git: {e}")
            }
        })?;
    if !out.status.success() {
        return Err(format!("git --version failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

async fn local_repo(cfg: &Config, l: &LocalSettings, repo: &str, saved: Option<&State>) -> RepoLines {
    let dir = l.backup_dir.join(repo);
    let mut sink = LocalGitSink::new(crate::sync::sinks::local_config(cfg, l, repo));
    let line = local_repo_line(l, &dir, &mut sink).await;
    let state = match &line {
        Ok(_) if sink.is_open() => saved.and_then(|st| compare_state(st, repo, &sink)),
        Ok(_) => saved.and_then(|st| compare_missing(st, repo)),
        Err(_) => None,
    };
    (line, state)
}

async fn local_repo_line(l: &LocalSettings, dir: &Path, sink: &mut LocalGitSink) -> Result<String, String> {
    let shown = dir.display();
    match sink.open(false).await {
        Ok(()) => {
            writable(&dir.join(".git")).map_err(|e| format!("{shown}: {e}"))?;
            writable(dir).map_err(|e| format!("{shown}: {e}"))?;
            let files = sink.files_under("").len();
            let push = if l.push {
                // Every run would fail at its push: say so now (the remote is not contacted).
                let remote = sink.push_remote().await.map_err(|e| e.to_string())?;
                format!("; GIT_PUSH=1: pushed to remote {remote:?} after each run")
            } else {
                String::new()
            };
            Ok(format!("{shown}: exists, branch {}, {files} {}{push}", sink.branch(), files_word(files)))
        }
        Err(SinkError::Missing(_)) => {
            if dir.is_dir() && std::fs::read_dir(dir).map(|mut d| d.next().is_some()).unwrap_or(false) {
                return Err(format!(
                    "{shown} holds files but is not a git repository: empty it, or change BACKUP_DIR or the \
                     repository name"
                ));
            }
            // Will be created: the nearest existing folder must be a writable folder.
            let mut p = dir;
            while !p.exists() {
                match p.parent() {
                    Some(parent) if !parent.as_os_str().is_empty() => p = parent,
                    _ => break,
                }
            }
            if !p.is_dir() {
                return Err(format!("cannot create {shown}: {} is a file, not a folder: fix BACKUP_DIR", p.display()));
            }
            writable(p).map_err(|e| {
                format!("cannot create {shown}: {}: {e}: fix BACKUP_DIR or its permissions", p.display())
            })?;
            if l.push {
                return Err(format!(
                    "{shown}: missing; the first run would create it with git init, without a remote, and GIT_PUSH=1 \
                     would then fail every run: clone the repository to push to there first (git clone <url> \
                     {shown}), or set GIT_PUSH=0"
                ));
            }
            Ok(format!("{shown}: missing, will be created with git init"))
        }
        Err(e) => Err(e.to_string()),
    }
}

/// Whether this process may create files in `dir`, asked of the OS (no test file is written).
fn writable(dir: &Path) -> Result<(), String> {
    #[cfg(unix)]
    {
        use rustix::fs::{access, Access};
        access(dir, Access::WRITE_OK | Access::EXEC_OK).map_err(|e| format!("not writable ({e})"))
    }
    #[cfg(not(unix))]
    {
        match std::fs::metadata(dir) {
            Ok(m) if !m.permissions().readonly() => Ok(()),
            Ok(_) => Err("not writable (read-only)".into()),
            Err(e) => Err(e.to_string()),
        }
    }
}

// ---- state and notifications ----

fn check_state(path: &Path) -> Result<String, String> {
    let shown = path.display();
    let lock = state::lock_path(path);
    let running = std::fs::File::open(&lock)
        .ok()
        .and_then(|f| fs4::fs_std::FileExt::try_lock_shared(&f).ok())
        .is_some_and(|got| !got);
    let note = if running { "; a backup run is in progress right now" } else { "" };
    if path.exists() {
        let st = State::load(path).map_err(|e| e.to_string())?;
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        writable(dir).map_err(|e| format!("{shown}: its folder is {e}: the state cannot be saved"))?;
        return Ok(format!("{shown}: {} {} recorded{note}", st.pages.len(), pages(st.pages.len())));
    }
    let mut p = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    while !p.exists() {
        match p.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => p = parent,
            _ => break,
        }
    }
    if !p.is_dir() {
        return Err(format!("{shown} cannot be created: {} is not a folder: fix STATE_FILE or --state", p.display()));
    }
    writable(p).map_err(|e| format!("{shown} cannot be created: {} is {e}: fix STATE_FILE or --state", p.display()))?;
    Ok(format!("{shown}: none yet, the first run backs up every page{note}"))
}

/// What is configured (nothing is sent by `check`).
fn notifications(cfg: &Config) -> String {
    let mut parts = Vec::new();
    if cfg.discord_webhook_url.is_some() && cfg.discord_level > 0 {
        let when = if cfg.discord_level == 1 { "only when something failed" } else { "after every run" };
        parts.push(format!("Discord {when} (DISCORD_LEVEL={})", cfg.discord_level));
    }
    if cfg.healthcheck_url.is_some() {
        parts.push("health check pings".to_string());
    }
    if cfg.webhook_url.is_some() {
        parts.push("JSON webhook".to_string());
    }
    if parts.is_empty() {
        "none configured (DISCORD_WEBHOOK_URL, HEALTHCHECK_URL, WEBHOOK_URL); nothing is sent by check".to_string()
    } else {
        format!("{}; nothing is sent by check", parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_untrusted_certificate_points_to_git_ca_file() {
        let rustls = "could not connect: client error (Connect): invalid peer certificate: UnknownIssuer";
        assert!(unreachable_hint(rustls).contains("set GIT_CA_FILE to the CA's PEM file"));
        let refused = "could not connect: client error (Connect): tcp connect error: Connection refused (os error 111)";
        assert_eq!(unreachable_hint(refused), ": check GIT_BASE_URL and that the server is up");
    }

    #[test]
    fn table_columns_line_up_and_details_are_one_line() {
        let mut r = CheckReport::default();
        r.push("Notion token", Ok("bot \"B\"".into()));
        r.push("git", Err("git not found\non PATH".into()));
        assert_eq!(
            r.table(),
            "CHECK         RESULT\nNotion token  ok    bot \"B\"\ngit           FAIL  git not found on PATH\n\n\
             1 check(s) failed: fix the lines marked FAIL and run `check` again.\n"
        );
        assert_eq!(r.exit_code(), 1);
    }
}
