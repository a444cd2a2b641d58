//! The restore report: what was created, what could not be written, what failed and how to fix
//! it, page by page. Printed at the end of a run (a summary and the problems) and written in
//! full as `restore-report.md` beside the journal. A dry run reports what *would* be created.
//! Pure: it formats what the restore recorded.

use std::fmt::Write as _;

use super::backup::Kind;
use super::convert::human_bytes;
use crate::sync::ExitStatus;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Created (or already created by an earlier run of this restore).
    Restored,
    /// Dry run: would be created.
    Planned,
    /// The restore of this node failed; the message says why and what to do.
    Failed(String),
    /// Not attempted, with why (its parent failed, the run was interrupted).
    Skipped(String),
}

/// One page or database.
#[derive(Debug, Clone)]
pub struct NodeReport {
    pub kind: Kind,
    pub title: String,
    /// `repo/folder` in the backup.
    pub path: String,
    /// Restored id.
    pub new_id: Option<String>,
    pub status: Status,
    /// What the API could not write, one line each.
    pub losses: Vec<String>,
    /// Problems with the fix (e.g. a file over the upload limit); they make the exit code 1.
    pub errors: Vec<String>,
    /// Original creation and last edit, as the backup holds them.
    pub original: String,
}

#[derive(Debug, Clone, Default)]
pub struct Counts {
    pub databases: usize,
    pub data_sources: usize,
    pub pages: usize,
    pub blocks: usize,
    pub files: usize,
    pub bytes: u64,
    pub comments: usize,
    /// Notion requests sent (writes and reads).
    pub requests: u64,
    /// Requests answered 429.
    pub rate_limited: u64,
}

#[derive(Debug, Clone, Default)]
pub struct RestoreReport {
    pub dry_run: bool,
    /// The page restored into (its id, and its title when read).
    pub target: String,
    /// Backups restored (`repo` or `repo@commit`).
    pub sources: Vec<String>,
    pub nodes: Vec<NodeReport>,
    /// Created by this run (not counting what an earlier run created).
    pub created: Counts,
    /// What the whole restore needs (dry run) or holds (real run).
    pub planned: Counts,
    /// The run could not start or had to stop: why, and what to do.
    pub fatal: Option<String>,
    pub interrupted: bool,
    pub warnings: Vec<String>,
    pub seconds: f64,
    /// Where the journal and the report file are.
    pub journal: Option<String>,
    pub report_file: Option<String>,
}

impl RestoreReport {
    pub fn failed(&self) -> usize {
        self.nodes.iter().filter(|n| matches!(n.status, Status::Failed(_)) || !n.errors.is_empty()).count()
    }

    /// The exit code, as for backups: 0 all restored, 1 some pages failed, 2 could not start,
    /// 130 interrupted.
    pub fn exit_status(&self) -> ExitStatus {
        if self.fatal.is_some() {
            ExitStatus::Fatal
        } else if self.interrupted {
            ExitStatus::Interrupted
        } else if self.failed() > 0 {
            ExitStatus::PartialFailure
        } else {
            ExitStatus::Success
        }
    }

    fn url(id: &str) -> String {
        format!("https://www.notion.so/{}", crate::ids::normalize(id))
    }

    /// What the terminal shows at the end: totals, every failure with its fix, where the full
    /// report is.
    pub fn summary_text(&self) -> String {
        let mut s = String::new();
        if let Some(f) = &self.fatal {
            let _ = writeln!(s, "Restore could not run: {f}");
            return s;
        }
        let pages = self.nodes.iter().filter(|n| n.kind == Kind::Page).count();
        let dbs = self.nodes.len() - pages;
        let verb = if self.dry_run { "Restore dry run (nothing was written)" } else { "Restore" };
        let _ = writeln!(s, "{verb}: {} into {}", self.sources.join(", "), self.target);
        let p = &self.planned;
        if self.dry_run {
            let _ = writeln!(
                s,
                "Would create {} database(s) ({} data source(s)), {} page(s), {} block(s), upload {} file(s) ({}), {} comment(s), in about {} request(s).",
                dbs, p.data_sources, pages, p.blocks, p.files, human_bytes(p.bytes), p.comments, p.requests
            );
        } else {
            let c = &self.created;
            let _ = writeln!(
                s,
                "Created {} database(s), {} page(s), {} block(s), {} file(s) ({}), {} comment(s); {} Notion request(s), {} rate-limited; {:.1}s.",
                c.databases, c.pages, c.blocks, c.files, human_bytes(c.bytes), c.comments, c.requests, c.rate_limited, self.seconds
            );
            let already = self.nodes.iter().filter(|n| n.status == Status::Restored).count();
            let _ = writeln!(s, "{already} of {} page(s) and database(s) are restored.", self.nodes.len());
        }
        let lossy = self.nodes.iter().filter(|n| !n.losses.is_empty()).count();
        if lossy > 0 {
            let _ = writeln!(
                s,
                "{lossy} page(s) and database(s) have things Notion's API cannot write (listed in the report{}).",
                if self.dry_run { " below" } else { "" }
            );
        }
        if self.dry_run {
            for n in self.nodes.iter().filter(|n| !n.losses.is_empty()) {
                let _ = writeln!(s, "  {} ({}): {}", n.title_shown(), n.path, n.losses.join("; "));
            }
        }
        for w in &self.warnings {
            let _ = writeln!(s, "Warning: {w}");
        }
        for n in &self.nodes {
            if let Status::Failed(why) = &n.status {
                let _ = writeln!(s, "FAILED {} ({}): {why}", n.title_shown(), n.path);
            }
            for e in &n.errors {
                let _ = writeln!(s, "ERROR {} ({}): {e}", n.title_shown(), n.path);
            }
        }
        let skipped = self.nodes.iter().filter(|n| matches!(n.status, Status::Skipped(_))).count();
        if skipped > 0 {
            let _ = writeln!(s, "{skipped} page(s) and database(s) were not restored yet (see the report); run the same restore again to go on.");
        }
        if self.interrupted {
            let _ = writeln!(
                s,
                "Interrupted: everything created so far is recorded; run the same command again to finish."
            );
        }
        if let Some(f) = &self.report_file {
            let _ = writeln!(s, "Report: {f}");
        }
        s
    }

    /// `restore-report.md`.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "# Restore report\n");
        let _ = writeln!(s, "- Backup: {}", self.sources.join(", "));
        let _ = writeln!(s, "- Restored into: {}", self.target);
        if self.dry_run {
            let _ = writeln!(s, "- Dry run: nothing was written");
        }
        let _ = writeln!(
            s,
            "- Result: {}\n",
            match self.exit_status() {
                ExitStatus::Success => "everything restored",
                ExitStatus::PartialFailure => "some pages failed (see below)",
                ExitStatus::Interrupted => "interrupted; run the same restore again to finish",
                ExitStatus::Fatal => "could not run",
            }
        );
        if let Some(f) = &self.fatal {
            let _ = writeln!(s, "{f}\n");
        }
        let _ = writeln!(
            s,
            "Never restored by Notion's API, for any page: creation and last-edit times and authors (they are the \
             integration and the time of the restore; the originals are listed below and noted on pages that lost \
             something), unique ids (numbered anew), formula and rollup values (computed anew), comment authors \
             (written into the comment's text).\n"
        );
        let _ = writeln!(s, "| Page | In the backup | Restored | Status |");
        let _ = writeln!(s, "|---|---|---|---|");
        for n in &self.nodes {
            let status = match &n.status {
                Status::Restored if n.errors.is_empty() && n.losses.is_empty() => "restored".to_string(),
                Status::Restored if n.errors.is_empty() => "restored, with losses".to_string(),
                Status::Restored => "restored, with errors".to_string(),
                Status::Planned => "would be created".to_string(),
                Status::Failed(_) => "FAILED".to_string(),
                Status::Skipped(why) => format!("not restored: {why}"),
            };
            let link = n
                .new_id
                .as_deref()
                .map(|i| format!("[{}]({})", crate::ids::dashed(i), Self::url(i)))
                .unwrap_or_default();
            let _ = writeln!(s, "| {} | `{}` | {link} | {status} |", cell(&n.title_shown()), n.path);
        }
        let _ = writeln!(s);
        for n in &self.nodes {
            if n.losses.is_empty() && n.errors.is_empty() && !matches!(n.status, Status::Failed(_)) {
                continue;
            }
            let _ = writeln!(s, "## {} (`{}`)\n", n.title_shown(), n.path);
            if !n.original.is_empty() {
                let _ = writeln!(s, "Originally {}.\n", n.original);
            }
            if let Status::Failed(why) = &n.status {
                let _ = writeln!(s, "- **Failed**: {why}");
            }
            for e in &n.errors {
                let _ = writeln!(s, "- **Error**: {e}");
            }
            for l in &n.losses {
                let _ = writeln!(s, "- Not restored: {l}");
            }
            let _ = writeln!(s);
        }
        s
    }
}

impl NodeReport {
    pub fn title_shown(&self) -> String {
        if self.title.trim().is_empty() {
            "Untitled".into()
        } else {
            self.title.clone()
        }
    }
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(status: Status, errors: Vec<String>) -> NodeReport {
        NodeReport {
            kind: Kind::Page,
            title: "Weekly | review".into(),
            path: "notes/weekly-review".into(),
            new_id: Some("a".repeat(32)),
            status,
            losses: vec!["a link preview".into()],
            errors,
            original: "created 2026-01-01 by Alice".into(),
        }
    }

    #[test]
    fn exit_codes_follow_the_backup_contract() {
        let mut r = RestoreReport { nodes: vec![node(Status::Restored, vec![])], ..Default::default() };
        assert_eq!(r.exit_status(), ExitStatus::Success);
        r.nodes.push(node(Status::Restored, vec!["the file x is larger than ...".into()]));
        assert_eq!(r.exit_status(), ExitStatus::PartialFailure);
        r.interrupted = true;
        assert_eq!(r.exit_status(), ExitStatus::Interrupted);
        r.fatal = Some("target not shared".into());
        assert_eq!(r.exit_status(), ExitStatus::Fatal);
    }

    #[test]
    fn the_markdown_report_lists_each_page_and_what_it_lost() {
        let r = RestoreReport {
            nodes: vec![node(Status::Failed("Notion said no: fix it".into()), vec![])],
            sources: vec!["notes".into()],
            target: "Restore here".into(),
            ..Default::default()
        };
        let md = r.markdown();
        let parser = pulldown_cmark_free_table_rows(&md);
        assert_eq!(parser, vec!["| Weekly \\| review | `notes/weekly-review` | [aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa](https://www.notion.so/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa) | FAILED |"]);
        assert!(md.contains("- **Failed**: Notion said no: fix it\n"));
        assert!(md.contains("- Not restored: a link preview\n"));
        assert!(md.contains("Originally created 2026-01-01 by Alice."));
    }

    fn pulldown_cmark_free_table_rows(md: &str) -> Vec<&str> {
        md.lines().filter(|l| l.starts_with("| ") && !l.starts_with("| Page")).collect()
    }
}
