//! `notion-git-backup check`: verifies the whole setup without writing anything, and prints a
//! table with one line per check and the exact fix for each failure: the token (which bot, which
//! workspace), every configured database (reachable, data sources, page count), and each
//! destination (Gitea version and repository, or git and the local folder).

use std::fmt::Write as _;

use crate::config::{Config, Destination};
use crate::ids;
use crate::notion::{ClientConfig, NotionClient, NotionError};
use crate::sink::gitea::{GiteaConfig, GiteaSink};
use crate::sink::local_git::{LocalGitConfig, LocalGitSink};
use crate::sink::{Sink, SinkError};

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

    fn push(&mut self, what: impl Into<String>, result: Result<String, String>) {
        let (ok, detail) = match result {
            Ok(d) => (true, d),
            Err(d) => (false, d),
        };
        self.lines.push(CheckLine { what: what.into(), ok, detail });
    }

    /// The table printed to stdout.
    pub fn table(&self) -> String {
        let width = self.lines.iter().map(|l| l.what.chars().count()).max().unwrap_or(5).max(5);
        let mut out = format!("{:<width$}  RESULT\n", "CHECK");
        for l in &self.lines {
            let _ = writeln!(out, "{:<width$}  {} {}", l.what, if l.ok { "ok  " } else { "FAIL" }, l.detail);
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

/// Run every check. Writes nothing anywhere.
pub async fn check(cfg: &Config) -> CheckReport {
    let mut report = CheckReport::default();
    let mut ncfg = ClientConfig::new(&cfg.notion.api_url, &cfg.notion.token);
    ncfg.version = cfg.notion.version.clone();
    ncfg.rate_per_second = cfg.notion.rate_limit;
    let notion = match NotionClient::new(ncfg) {
        Ok(c) => c,
        Err(e) => {
            report.push("Notion client", Err(e.to_string()));
            return report;
        }
    };

    // The token.
    let token_ok = match notion.users_me().await {
        Ok(me) => {
            let name = me.name.clone().unwrap_or_else(|| "unnamed".into());
            let ws = me.bot.as_ref().and_then(|b| b.workspace_name.clone());
            let detail = match ws {
                Some(ws) => format!("bot {name:?} in workspace {ws:?}"),
                None => format!("user {name:?}"),
            };
            report.push("Notion token", Ok(detail));
            true
        }
        Err(e) => {
            report.push("Notion token", Err(e.to_string()));
            false
        }
    };

    // Each database.
    for db in &cfg.databases {
        let what = format!("Database {} ({})", db.label, ids::dashed(&db.notion_id));
        if !token_ok {
            report.push(what, Err("not checked: the token does not work".into()));
            continue;
        }
        report.push(what, check_database(&notion, &db.notion_id).await);
    }

    // Each destination.
    for db in &cfg.databases {
        let what = format!("Repository {}", db.repo);
        let result = match &cfg.destination {
            Destination::Gitea(g) => check_gitea(cfg, g, &db.repo).await,
            Destination::Local(l) => {
                let sink = LocalGitSink::new(LocalGitConfig {
                    repo_dir: l.backup_dir.join(&db.repo),
                    push: l.push,
                    author_name: cfg.author_name.clone(),
                    author_email: cfg.author_email.clone(),
                    branch: l.branch.clone(),
                    git_program: None,
                });
                check_local(sink, &l.backup_dir, l.push).await
            }
        };
        report.push(what, result);
    }
    report
}

async fn check_database(notion: &NotionClient, id: &str) -> Result<String, String> {
    let db = notion.get_database(id).await.map_err(|e| match e {
        NotionError::NotFound { .. } => format!(
            "not found or not shared with the integration: open the database in Notion -> ••• menu -> Connections -> add your integration ({e})"
        ),
        other => other.to_string(),
    })?;
    if db.data_sources.is_empty() {
        return Err("the integration sees the database but none of its data sources: share the source database with the integration (••• -> Connections)".into());
    }
    let mut parts = Vec::new();
    let mut total = 0;
    for ds in &db.data_sources {
        let rows = notion.query_all(&ds.id).await.map_err(|e| format!("data source {:?}: {e}", ds.name))?;
        total += rows.len();
        parts.push(format!("{:?}: {} pages", ds.name, rows.len()));
    }
    Ok(format!("{:?}, {} data source(s) ({}), {total} pages", db.title_text(), db.data_sources.len(), parts.join(", ")))
}

async fn check_gitea(cfg: &Config, g: &crate::config::GiteaSettings, repo: &str) -> Result<String, String> {
    let mut sink = GiteaSink::new(GiteaConfig {
        base_url: g.base_url.clone(),
        token: g.token.clone(),
        owner: g.owner.clone(),
        repo: repo.to_string(),
        branch: g.branch.clone(),
        create_repos: g.create_repos,
        ca_file: g.ca_file.clone(),
        max_request_bytes: g.max_request_bytes,
        author_name: cfg.author_name.clone(),
        author_email: cfg.author_email.clone(),
        user_agent: crate::user_agent(),
    })
    .map_err(|e| e.to_string())?;
    match sink.open(false).await {
        Ok(()) => Ok(format!("{} exists, branch {}, push allowed", sink.describe(), sink.branch())),
        Err(SinkError::Missing(m)) if g.create_repos => {
            Ok(format!("{}: missing, will be created (GIT_CREATE_REPOS=1) [{m}]", sink.describe()))
        }
        Err(e) => Err(e.to_string()),
    }
}

async fn check_local(mut sink: LocalGitSink, backup_dir: &std::path::Path, push: bool) -> Result<String, String> {
    match sink.open(false).await {
        Ok(()) => {
            let mut d = format!("{} exists, branch {}", sink.describe(), sink.branch());
            if push {
                d.push_str(" (GIT_PUSH=1: pushed to its configured remote after each run)");
            }
            Ok(d)
        }
        Err(SinkError::Missing(_)) => {
            // Will be created: the nearest existing folder must be writable.
            let mut p = backup_dir.to_path_buf();
            while !p.exists() {
                match p.parent() {
                    Some(parent) => p = parent.to_path_buf(),
                    None => break,
                }
            }
            match std::fs::metadata(&p) {
                Ok(m) if m.is_dir() && !m.permissions().readonly() => {
                    Ok(format!("{}: missing, will be created with git init", sink.describe()))
                }
                Ok(_) => Err(format!("{} is not a writable folder: fix BACKUP_DIR or its permissions", p.display())),
                Err(e) => Err(format!("{}: {e}: fix BACKUP_DIR", p.display())),
            }
        }
        Err(e) => Err(e.to_string()),
    }
}
