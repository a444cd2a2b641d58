//! The `restore` command: put a backup back into Notion, below a page the user names, page for
//! page: databases with their schemas and rows, pages and child pages in their hierarchy, every
//! block type the API can create, files uploaded with the File Upload API, links and relations
//! pointing at the restored pages. It reads only the backup (a work tree, or git history at
//! `--at`), so it works when the original workspace is gone.
//!
//! - [`source`]: the files of each backed-up repository (disk or git history)
//! - [`backup`]: what they hold, as a tree of pages and databases (pure)
//! - [`convert`]: API response shapes -> API request shapes, and what cannot be written (pure)
//! - [`plan`]: cutting blocks into requests within Notion's limits (pure)
//! - [`people`]: matching people with the target workspace's users
//! - [`journal`]: `restore-state.json`, so a restore resumes and never duplicates
//! - [`write`]: executing it, request by request, through the Notion client
//! - [`report`]: the restore report, printed and written as `restore-report.md`
//!
//! It never writes anywhere but below the target page, never modifies or deletes a page it did
//! not create, and never touches the backup or the backup's state file.

pub mod backup;
pub mod convert;
pub mod journal;
pub mod people;
pub mod plan;
pub mod report;
pub mod source;
pub mod write;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::time::Instant;

use serde_json::Value;

use crate::config::Config;
use crate::ids;
use crate::notion::{ClientConfig, NotionClient, NotionError};
use crate::state::{RunLock, State};
use crate::sync::Interrupt;

use backup::{Backup, Kind};
use journal::{Entry, Journal};
use report::{NodeReport, RestoreReport, Status};

/// The oldest API version restore works with: it needs `position` on appends (2026-03-11) to put
/// content back around child pages.
pub const MIN_VERSION: &str = "2026-03-11";

/// What the command line asks for.
#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    /// `--from`: a backed-up repository, or a folder holding several.
    pub from: PathBuf,
    /// `--to`: the page (id or link) everything is created below.
    pub to: String,
    /// `--at`: a date or a commit.
    pub at: Option<String>,
    /// `--only`: a folder in the backup (`repo/folder` or `folder`).
    pub only: Option<String>,
    pub dry_run: bool,
}

/// The restore cannot run: the summary says why (printed once, not also logged).
fn fatal(mut report: RestoreReport, msg: String) -> RestoreReport {
    report.fatal = Some(msg);
    report
}

/// [`run`], stopping cleanly (between two requests, the journal saved) on SIGINT/SIGTERM.
pub async fn run_with_signals(cfg: &Config, opts: &RestoreOptions) -> RestoreReport {
    let interrupt = Interrupt::default();
    interrupt.install_signal_handlers();
    run(cfg, opts, interrupt).await
}

/// Run a restore (or plan it, with `dry_run`). Never panics on bad input; the report says what
/// happened and [`RestoreReport::exit_status`] gives the exit code.
pub async fn run(cfg: &Config, opts: &RestoreOptions, interrupt: Interrupt) -> RestoreReport {
    let started = Instant::now();
    let mut report = RestoreReport { dry_run: opts.dry_run, target: opts.to.clone(), ..Default::default() };
    let Some(target) = ids::parse_user_id(&opts.to) else {
        return fatal(report, format!("--to {:?} is not a Notion page id or link: copy the link of the page to restore into (••• menu -> Copy link)", opts.to));
    };
    report.target = ids::dashed(&target);
    if cfg.notion.version.as_str() < MIN_VERSION {
        return fatal(report, format!(
            "NOTION_VERSION={} is too old for restore: it needs {MIN_VERSION} or newer (to place content around child pages); remove NOTION_VERSION from the settings or set it to {MIN_VERSION}",
            cfg.notion.version
        ));
    }

    // The backup.
    let repos = match source::open(&opts.from, opts.at.as_deref(), cfg.timezone) {
        Ok(r) => r,
        Err(e) => return fatal(report, e.to_string()),
    };
    report.sources = repos.iter().map(|r| r.label()).collect();
    let b = Backup::read(&repos);
    for (path, why) in &b.unreadable {
        report.warnings.push(format!("{path} could not be read ({why}); that page is not restored"));
    }
    if b.nodes.is_empty() {
        return fatal(
            report,
            format!(
                "--from {}: no page.json or schema.json found; point it at a repository written by notion-git-backup",
                opts.from.display()
            ),
        );
    }
    let set: Vec<usize> = match &opts.only {
        Some(only) => match b.find(&repos, only) {
            Some(n) => b.subtree(n),
            None => {
                return fatal(
                    report,
                    format!(
                    "--only {only:?}: no page or database folder with that path in the backup; folders look like: {}",
                    b.sample_paths(&repos, 5).join(", ")
                ),
                )
            }
        },
        None => b.roots().into_iter().flat_map(|r| b.subtree(r)).collect(),
    };
    let in_set: HashSet<usize> = set.iter().copied().collect();

    // Notion: the token, the upload limit, the target.
    let mut ncfg = ClientConfig::new(&cfg.notion.api_url, &cfg.notion.token);
    ncfg.version = cfg.notion.version.clone();
    ncfg.rate_per_second = cfg.notion.rate_limit;
    let client = match NotionClient::new(ncfg) {
        Ok(c) => c,
        Err(e) => return fatal(report, e.to_string()),
    };
    let me: Value =
        match client.request(reqwest::Method::GET, "/users/me", &[], None, "the integration's bot user").await {
            Ok(v) => v,
            Err(e) => return fatal(report, e.to_string()),
        };
    let bot_id = me["id"].as_str().unwrap_or("").to_string();
    let upload_limit = me["bot"]["workspace_limits"]["max_file_upload_size_in_bytes"].as_u64().unwrap_or(u64::MAX);
    let target_page: Value = match client.request(reqwest::Method::GET, &format!("/pages/{}", ids::dashed(&target)), &[], None, "the target page").await {
        Ok(v) => v,
        Err(NotionError::NotFound { .. }) => {
            return fatal(report, format!(
                "the target page {} was not found or is not shared with the integration: in Notion, open the page -> ••• menu -> Connections -> add your integration (it needs the Insert content capability), then run restore again",
                ids::dashed(&target)
            ))
        }
        Err(e) => return fatal(report, format!("cannot read the target page {}: {e}", ids::dashed(&target))),
    };
    if target_page["in_trash"].as_bool() == Some(true) || target_page["archived"].as_bool() == Some(true) {
        return fatal(
            report,
            format!(
                "the target page {} is in the trash: restore it in Notion, or pick another page",
                ids::dashed(&target)
            ),
        );
    }
    let target_title: String = target_page["properties"]
        .as_object()
        .and_then(|p| p.values().find(|v| v["type"] == "title"))
        .and_then(|t| t["title"].as_array())
        .map(|a| a.iter().filter_map(|r| r["plain_text"].as_str()).collect())
        .unwrap_or_default();
    report.target = format!("{:?} ({})", target_title, ids::dashed(&target));

    // People.
    let known_names: BTreeMap<String, String> =
        State::load(&cfg.state_file).ok().and_then(|s| s.users).unwrap_or_default();
    let (users, warnings) = match people::match_users(&client, &b, &known_names).await {
        Ok(x) => x,
        Err(e) => return fatal(report, e.to_string()),
    };
    report.warnings.extend(warnings);

    // The journal (a dry run reads it only).
    let journal_path = journal::path_beside(&cfg.state_file);
    let _lock = if opts.dry_run {
        None
    } else {
        match RunLock::acquire(&journal_path) {
            Ok(l) => Some(l),
            Err(e) => return fatal(report, e.to_string().replace("backup run", "restore")),
        }
    };
    let mut journal = match Journal::load(&journal_path) {
        Ok(j) => j,
        Err(e) => return fatal(report, e.to_string()),
    };
    let source = format!(
        "{}{}",
        report.sources.join(", "),
        opts.only.as_ref().map(|o| format!(" --only {o}")).unwrap_or_default()
    );
    let key = format!("{target} {source}");
    journal.restores.entry(key.clone()).or_insert_with(|| Entry {
        target: target.clone(),
        source: source.clone(),
        started: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        ..Default::default()
    });
    report.journal = Some(journal_path.display().to_string());

    let mut reports = HashMap::new();
    for n in &set {
        let node = &b.nodes[*n];
        reports.insert(
            *n,
            NodeReport {
                kind: node.kind,
                title: node.title.clone(),
                path: node.path(&repos),
                new_id: None,
                status: Status::Skipped("not reached".into()),
                losses: Vec::new(),
                errors: Vec::new(),
                original: node.page.as_ref().map(|p| write::original_of(&p.page, &users)).unwrap_or_default(),
            },
        );
    }
    let pages = set.iter().filter(|n| b.nodes[**n].kind == Kind::Page).count();
    let progress = if opts.dry_run {
        crate::logging::Progress::hidden()
    } else {
        crate::logging::progress((set.len() + pages) as u64, "restore")
    };
    let mut r = write::Restorer {
        client: client.clone(),
        b: &b,
        repos: &repos,
        set: set.clone(),
        in_set,
        target: target.clone(),
        journal,
        key,
        users,
        limits: plan::Limits::default(),
        upload_limit,
        bot_id,
        interrupt,
        reports,
        created: Default::default(),
        failed: HashSet::new(),
        warnings: Vec::new(),
        progress,
        dry_run: opts.dry_run,
    };
    if opts.dry_run {
        report.planned = r.plan_counts();
    } else {
        match r.run().await {
            Ok(()) => {
                let entry = r.journal.restores.get_mut(&r.key).expect("entry");
                if r.failed.is_empty() && entry.finished.is_none() {
                    entry.finished = Some(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
                    if let Err(e) = r.journal.save() {
                        report.warnings.push(e.to_string());
                    }
                }
            }
            Err(write::StepError::Interrupted) => report.interrupted = true,
            Err(write::StepError::Fatal(m)) => report.fatal = Some(m),
            Err(write::StepError::Node(m)) => report.fatal = Some(m),
        }
        r.progress.finish();
    }
    report.warnings.extend(r.warnings.clone());
    report.nodes = set.iter().filter_map(|n| r.reports.remove(n)).collect();
    report.created = r.created.clone();
    report.created.requests = client.requests_made();
    report.created.rate_limited = client.rate_limited();
    report.seconds = started.elapsed().as_secs_f64();
    if !opts.dry_run {
        let file = journal_path.with_file_name("restore-report.md");
        report.report_file = Some(file.display().to_string());
        if let Err(e) = std::fs::write(&file, report.markdown()) {
            report.warnings.push(format!("cannot write {}: {e}", file.display()));
            report.report_file = None;
        }
    }
    report
}

/// The restore's journal entry for `target` (a canonical id), for tests and tools: old id ->
/// new id of everything it created.
pub fn created_ids(journal_path: &std::path::Path, target: &str) -> BTreeMap<String, String> {
    Journal::load(journal_path)
        .map(|j| {
            j.restores.values().filter(|e| e.target == ids::normalize(target)).flat_map(|e| e.ids.clone()).collect()
        })
        .unwrap_or_default()
}
