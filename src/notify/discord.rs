//! Discord webhook messages in the format of the Python script this tool replaces: a status
//! title, per database `**<label>**: N pages synced, M files committed` with up to 10 page names
//! and the errors, then "Completed at <local time>" and "Host: <hostname>".
//!
//! Messages fit Discord's 2,000-character limit: page names are dropped before errors, then
//! whole lines, never a character in half. User text is escaped so a page title cannot format
//! the message or ping anyone (`allowed_mentions` is empty too).

use chrono_tz::Tz;
use serde_json::json;

use super::http::{deliver, parse_url, NotifyError, Target};
use super::summary::{one_line, title};
use super::{DatabaseReport, Notifier, RunReport, RunStatus};
use crate::redact;

/// Discord's limit on `content`. Measured in UTF-16 code units, which is never less than the
/// character count, so the message fits whichever way Discord counts.
pub const DISCORD_LIMIT: usize = 2000;
/// How much of each database section a message shows.
#[derive(Clone, Copy)]
struct Detail {
    /// page names listed before "+N more" (0: none, the count is in the heading)
    names: usize,
    /// failed pages listed before "+N more"
    failures: usize,
    /// any single page title, error or label is cut to this many characters
    item_chars: usize,
}

/// Tried in order until the message fits: everything, then errors only, then short errors.
const DETAILS: [Detail; 3] = [
    Detail { names: 10, failures: 10, item_chars: 200 },
    Detail { names: 0, failures: 10, item_chars: 200 },
    Detail { names: 0, failures: 3, item_chars: 80 },
];
const MAX_FATAL_CHARS: usize = 500;
const MAX_HOST_CHARS: usize = 100;

/// `DISCORD_LEVEL`: 0 never, 1 only when something failed, 2 (or more) always.
pub fn should_send(level: u8, report: &RunReport) -> bool {
    match level {
        0 => false,
        1 => report.has_failures(),
        _ => true,
    }
}

/// The message `content` for a finished run, scrubbed of registered secrets and at most
/// [`DISCORD_LIMIT`] long.
pub fn discord_message(report: &RunReport, tz: Tz, host: &str) -> String {
    let header = header(report);
    let footer = format!(
        "Completed at {}\nHost: {}",
        report.finished_at.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z"),
        show(host, MAX_HOST_CHARS),
    );
    for detail in DETAILS {
        let message = assemble(&header, &body(report, detail), &footer);
        if units(&message) <= DISCORD_LIMIT {
            return redact::scrub(&message);
        }
    }
    // Still too long: drop whole lines from the end of the shortest form.
    let compact = body(report, DETAILS[DETAILS.len() - 1]);
    for keep in (0..=compact.len()).rev() {
        let mut lines = compact[..keep].to_vec();
        let omitted = compact[keep..].iter().filter(|l| !l.is_empty()).count();
        if omitted > 0 {
            lines.push(format!(
                "… {omitted} more {}: see the log on {}",
                if omitted == 1 { "line" } else { "lines" },
                show(host, MAX_HOST_CHARS)
            ));
        }
        let message = assemble(&header, &lines, &footer);
        if units(&message) <= DISCORD_LIMIT {
            return redact::scrub(&message);
        }
    }
    // Unreachable with the caps above; kept so the limit holds whatever they become.
    redact::scrub(&cut_to_units(&assemble(&header, &[], &footer), DISCORD_LIMIT))
}

fn header(report: &RunReport) -> String {
    let all_databases_failed = !report.databases.is_empty() && report.databases.iter().all(|d| d.error.is_some());
    match report.status() {
        RunStatus::Ok => "✅ Notion backup complete".to_string(),
        RunStatus::Failed if !all_databases_failed => "⚠️ Notion backup finished with errors".to_string(),
        RunStatus::Failed => "❌ Notion backup failed".to_string(),
        RunStatus::Fatal => {
            format!("❌ Notion backup failed\n{}", show(report.fatal.as_deref().unwrap_or_default(), MAX_FATAL_CHARS))
        }
    }
}

/// Body lines; sections are separated by an empty line.
fn body(report: &RunReport, detail: Detail) -> Vec<String> {
    let mut lines = Vec::new();
    for (i, db) in report.databases.iter().enumerate() {
        if i > 0 {
            lines.push(String::new());
        }
        database_section(&mut lines, db, detail);
    }
    lines
}

fn database_section(lines: &mut Vec<String>, db: &DatabaseReport, detail: Detail) {
    let synced = db.backed_up.len();
    let mut head = format!(
        "**{}**: {synced} {} synced, {} {} committed",
        show(&db.label, detail.item_chars),
        if synced == 1 { "page" } else { "pages" },
        db.files_committed,
        if db.files_committed == 1 { "file" } else { "files" },
    );
    if !db.deleted.is_empty() {
        head.push_str(&format!(", {} deleted", db.deleted.len()));
    }
    if !db.moved.is_empty() {
        head.push_str(&format!(", {} moved", db.moved.len()));
    }
    lines.push(head);
    if let Some(error) = &db.error {
        lines.push(format!("❌ {}", show(error, detail.item_chars)));
    }
    if let Some(guard) = &db.guard {
        lines.push(format!("🛑 Deletion guard: {}", show(guard, detail.item_chars)));
    }
    if detail.names > 0 {
        for name in db.backed_up.iter().take(detail.names) {
            lines.push(format!("• {}", show(&title(name), detail.item_chars)));
        }
        if synced > detail.names {
            lines.push(format!("+{} more", synced - detail.names));
        }
    }
    if !db.failed.is_empty() {
        lines.push("Errors:".to_string());
        for failure in db.failed.iter().take(detail.failures) {
            lines.push(format!(
                "• {}: {}",
                show(&title(&failure.title), detail.item_chars),
                show(&failure.reason, detail.item_chars)
            ));
        }
        if db.failed.len() > detail.failures {
            lines.push(format!("+{} more", db.failed.len() - detail.failures));
        }
    }
}

fn assemble(header: &str, body: &[String], footer: &str) -> String {
    if body.is_empty() {
        format!("{header}\n\n{footer}")
    } else {
        format!("{header}\n\n{}\n\n{footer}", body.join("\n"))
    }
}

fn units(s: &str) -> usize {
    s.encode_utf16().count()
}

/// At most `max` characters, ending in `…` when cut.
fn cap(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_string(),
        Some(_) => {
            let cut: String = s.chars().take(max.saturating_sub(1)).collect();
            format!("{cut}…")
        }
    }
}

/// The longest prefix of whole characters within `max` UTF-16 units.
fn cut_to_units(s: &str, max: usize) -> String {
    let mut used = 0;
    s.chars()
        .take_while(|c| {
            used += c.len_utf16();
            used <= max
        })
        .collect()
}

/// User text as shown: scrubbed (before escaping, which would hide a secret from the
/// scrubber), on one line, capped at `max` characters, markdown-escaped.
fn show(text: &str, max: usize) -> String {
    escape(&cap(&one_line(&redact::scrub(text)), max))
}

/// Backslash-escapes Discord markdown so user text shows as typed.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '*' | '_' | '~' | '`' | '|' | '[' | ']' | '<' | '>') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Posts the message for `report` to the webhook.
pub(super) async fn send(notifier: &Notifier, url: &str, report: &RunReport) -> Result<(), NotifyError> {
    let url = parse_url(Target::Discord, url)?;
    let content = discord_message(report, notifier.cfg.timezone, &notifier.cfg.hostname);
    let payload = json!({ "content": content, "allowed_mentions": { "parse": [] } });
    deliver(notifier, Target::Discord, url.as_str(), |client| client.post(url.clone()).json(&payload)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels() {
        let ok = RunReport::default();
        let failed = RunReport { fatal: Some("no token".into()), ..RunReport::default() };
        assert!(!should_send(0, &failed));
        assert!(!should_send(1, &ok));
        assert!(should_send(1, &failed));
        assert!(should_send(2, &ok));
        assert!(should_send(7, &ok));
    }

    #[test]
    fn markdown_and_mentions_are_escaped() {
        assert_eq!(escape("a*b_c~`|[x](y)<@1>\\"), "a\\*b\\_c\\~\\`\\|\\[x\\](y)\\<@1\\>\\\\");
    }

    #[test]
    fn secret_with_markdown_characters_is_scrubbed_before_escaping() {
        redact::register_secret("ntn_discord_unit_secret");
        let report = RunReport { fatal: Some("bad token ntn_discord_unit_secret".into()), ..RunReport::default() };
        let message = discord_message(&report, chrono_tz::UTC, "host_ntn_discord_unit_secret");
        assert!(!message.contains("ntn"), "{message}");
        assert!(message.contains("bad token \\*\\*\\*"), "{message}");
    }

    #[test]
    fn cap_never_splits_a_character() {
        assert_eq!(cap("héllo wörld", 5), "héll…");
        assert_eq!(cap("héllo", 5), "héllo");
        assert_eq!(cut_to_units("a😀b", 2), "a");
        assert_eq!(cut_to_units("a😀b", 3), "a😀");
    }
}
