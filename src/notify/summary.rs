//! The plain-text end-of-run summary for stderr, the log and the health-check failure body.
//! Pure and deterministic: the same report gives the same text (no clock, no host, no locale).

use std::fmt::Write as _;
use std::time::Duration;

use super::{DatabaseReport, RunReport, RunStatus};

/// Renders the end-of-run summary: a status line, one line per database with its counters
/// (plus its error, failed pages and short commit ids), the totals and the Notion API usage.
pub fn summary_text(report: &RunReport) -> String {
    let mut out = String::new();
    let status = match report.status() {
        RunStatus::Ok => "Notion backup complete".to_string(),
        RunStatus::Failed => "Notion backup finished with errors".to_string(),
        RunStatus::Fatal => format!("Notion backup failed: {}", one_line(report.fatal.as_deref().unwrap_or_default())),
    };
    out.push_str(&status);
    if report.dry_run {
        out.push_str(" (dry run: nothing was written)");
    }
    out.push('\n');
    for db in &report.databases {
        database_lines(&mut out, db);
    }
    let _ = writeln!(
        out,
        "Total: {} {}, {}, {}",
        report.databases.len(),
        plural(report.databases.len(), "database", "databases"),
        counters(
            report.total_pages_checked(),
            report.total_backed_up(),
            report.total_deleted(),
            report.total_moved(),
            report.total_failed(),
            report.total_files_committed(),
            report.total_bytes_downloaded(),
            report.total_warnings(),
        ),
        human_duration(report.duration()),
    );
    let _ = writeln!(
        out,
        "Notion API: {} {}, {} rate-limited (HTTP 429)",
        report.notion_requests,
        plural(report.notion_requests, "request", "requests"),
        report.notion_rate_limited,
    );
    out
}

/// What a dry run would have done, for stdout: each database with its data sources and page
/// counts, then every commit that would have been made with its added (+), changed (~) and deleted
/// (-) files. Empty for a real run.
pub fn dry_run_text(report: &RunReport) -> String {
    let mut out = String::new();
    if !report.dry_run {
        return out;
    }
    for db in &report.databases {
        if db.notion_id.is_empty() {
            let _ = writeln!(out, "{} -> repository {}", one_line(&db.label), one_line(&db.repo));
        } else {
            let _ = writeln!(
                out,
                "Database {} ({:?}, {}) -> repository {}",
                one_line(&db.label),
                one_line(&db.notion_title),
                db.notion_id,
                one_line(&db.repo)
            );
        }
        for ds in &db.data_sources {
            let _ = writeln!(
                out,
                "  data source {:?} ({}): {} {}",
                one_line(&ds.name),
                ds.id,
                ds.pages,
                plural(ds.pages, "page", "pages")
            );
        }
        if db.planned.is_empty() {
            let _ = writeln!(out, "  repository {}: nothing would change", one_line(&db.repo));
            continue;
        }
        let _ = writeln!(out, "  repository {}: {} commit(s) would be made", one_line(&db.repo), db.planned.len());
        for p in &db.planned {
            let _ = writeln!(out, "    commit for {}:", one_line(&p.what));
            for (sign, files) in [("+", &p.added), ("~", &p.changed), ("-", &p.deleted)] {
                for f in files {
                    let _ = writeln!(out, "      {sign} {f}");
                }
            }
        }
    }
    out
}

fn database_lines(out: &mut String, db: &DatabaseReport) {
    let _ = writeln!(
        out,
        "{} ({}): {}, {}",
        one_line(&db.label),
        one_line(&db.repo),
        counters(
            db.pages_checked,
            db.backed_up.len(),
            db.deleted.len(),
            db.moved.len(),
            db.failed.len(),
            db.files_committed,
            db.bytes_downloaded,
            db.warnings.len(),
        ),
        human_duration(db.duration),
    );
    if let Some(error) = &db.error {
        let _ = writeln!(out, "  error: {}", one_line(error));
    }
    if let Some(guard) = &db.guard {
        let _ = writeln!(out, "  deletion guard: {}", one_line(guard));
    }
    if !db.repaired.is_empty() {
        let _ = writeln!(
            out,
            "  repaired: {} {} whose files in the repository were missing or changed, backed up again",
            db.repaired.len(),
            plural(db.repaired.len(), "page", "pages")
        );
    }
    if db.adopted_pages > 0 {
        let _ = writeln!(
            out,
            "  taken over: {} {} and {} {} of an earlier backup, moved into this tool's layout",
            db.adopted_pages,
            plural(db.adopted_pages, "page", "pages"),
            db.adopted_files,
            plural(db.adopted_files, "file", "files")
        );
    }
    if db.child_pages_backed_up > 0 {
        let _ = writeln!(
            out,
            "  of the pages backed up, {} {} inside other pages (not rows of the database)",
            db.child_pages_backed_up,
            if db.child_pages_backed_up == 1 { "is a child page" } else { "are child pages" }
        );
    }
    if db.verified > 0 {
        let _ = writeln!(
            out,
            "  re-checked: {} child {} against Notion (VERIFY_DAYS)",
            db.verified,
            plural(db.verified, "page", "pages")
        );
    }
    if db.kept_files > 0 {
        let _ = writeln!(
            out,
            "  kept: {} {} from the last backup that could not be downloaded again",
            db.kept_files,
            plural(db.kept_files, "file", "files")
        );
    }
    for failure in &db.failed {
        let _ = writeln!(out, "  failed: {} [{}]: {}", title(&failure.title), failure.id, one_line(&failure.reason));
    }
    if !db.commits.is_empty() {
        let ids: Vec<&str> = db.commits.iter().map(|c| short_commit(c)).collect();
        let _ = writeln!(out, "  commits: {}", ids.join(" "));
    }
}

#[allow(clippy::too_many_arguments)]
fn counters(
    checked: usize,
    backed_up: usize,
    deleted: usize,
    moved: usize,
    failed: usize,
    files: usize,
    bytes: u64,
    warnings: usize,
) -> String {
    format!(
        "{checked} {} checked, {backed_up} backed up, {deleted} deleted, {moved} moved, \
         {failed} failed, {files} {} committed, {} downloaded, {warnings} {}",
        plural(checked, "page", "pages"),
        plural(files, "file", "files"),
        human_bytes(bytes),
        plural(warnings, "warning", "warnings"),
    )
}

fn plural<N: TryInto<u64>>(n: N, one: &'static str, many: &'static str) -> &'static str {
    if n.try_into().is_ok_and(|n| n == 1) {
        one
    } else {
        many
    }
}

/// The first 7 characters of a commit id, as git shows it.
pub(super) fn short_commit(id: &str) -> &str {
    id.char_indices().nth(7).map_or(id, |(i, _)| &id[..i])
}

/// Collapses all whitespace (newlines included) to single spaces: every item is one line.
pub(super) fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A page title as shown: one line, `Untitled` when empty.
pub(super) fn title(text: &str) -> String {
    let t = one_line(text);
    if t.is_empty() {
        "Untitled".to_string()
    } else {
        t
    }
}

/// Bytes in binary units with one decimal: `512 B`, `1.5 KiB`, `3.2 MiB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// A duration for people: `0.4s`, `12.3s`, `2m 05s`, `1h 02m`.
pub fn human_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs < 60 {
        format!("{:.1}s", d.as_secs_f64())
    } else if secs < 3600 {
        format!("{}m {:02}s", secs / 60, secs % 60)
    } else {
        format!("{}h {:02}m", secs / 3600, (secs % 3600) / 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_in_binary_units() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(5 * 1024 * 1024), "5.0 MiB");
        assert_eq!(human_bytes(3 * 1024 * 1024 * 1024), "3.0 GiB");
        assert_eq!(human_bytes(u64::MAX), "16384.0 PiB");
    }

    #[test]
    fn durations_for_people() {
        assert_eq!(human_duration(Duration::from_millis(400)), "0.4s");
        assert_eq!(human_duration(Duration::from_millis(12_340)), "12.3s");
        assert_eq!(human_duration(Duration::from_secs(125)), "2m 05s");
        assert_eq!(human_duration(Duration::from_secs(3720)), "1h 02m");
    }

    #[test]
    fn short_commit_is_seven_chars_or_less() {
        assert_eq!(short_commit("1a2b3c4d5e6f"), "1a2b3c4");
        assert_eq!(short_commit("abc"), "abc");
    }

    #[test]
    fn items_are_single_lines() {
        assert_eq!(one_line(" a\nb\t\tc  "), "a b c");
        assert_eq!(title("  \n"), "Untitled");
    }
}
