//! The generic JSON webhook: the whole [`RunReport`] plus `status`, `host`, the totals and the
//! plain-text summary, for whatever the user wires it to (n8n, Home Assistant, a chat bridge).

use serde::Serialize;
use serde_json::Value;

use super::http::{deliver, parse_url, NotifyError, Target};
use super::{summary_text, Notifier, RunReport};
use crate::redact;

#[derive(Serialize)]
struct Payload<'a> {
    status: &'static str,
    host: &'a str,
    #[serde(flatten)]
    report: &'a RunReport,
    totals: Totals,
    duration_ms: u64,
    summary: String,
}

#[derive(Serialize)]
struct Totals {
    databases: usize,
    database_errors: usize,
    pages_checked: usize,
    backed_up: usize,
    deleted: usize,
    moved: usize,
    failed: usize,
    files_committed: usize,
    bytes_downloaded: u64,
    commits: usize,
    warnings: usize,
}

/// The JSON document posted to `WEBHOOK_URL`, scrubbed of registered secrets.
pub fn webhook_payload(report: &RunReport, host: &str) -> Value {
    let payload = Payload {
        status: report.status().as_str(),
        host,
        report,
        totals: Totals {
            databases: report.databases.len(),
            database_errors: report.total_database_errors(),
            pages_checked: report.total_pages_checked(),
            backed_up: report.total_backed_up(),
            deleted: report.total_deleted(),
            moved: report.total_moved(),
            failed: report.total_failed(),
            files_committed: report.total_files_committed(),
            bytes_downloaded: report.total_bytes_downloaded(),
            commits: report.total_commits(),
            warnings: report.total_warnings(),
        },
        duration_ms: u64::try_from(report.duration().as_millis()).unwrap_or(u64::MAX),
        summary: summary_text(report),
    };
    // Scrub the serialized text: secrets registered JSON-escaped are found there, and `***`
    // needs no escaping, so the result stays valid JSON.
    let text = serde_json::to_string(&payload).unwrap_or_default();
    serde_json::from_str(&redact::scrub(&text)).unwrap_or(Value::Null)
}

pub(super) async fn send(notifier: &Notifier, url: &str, report: &RunReport) -> Result<(), NotifyError> {
    let url = parse_url(Target::Webhook, url)?;
    let payload = webhook_payload(report, &notifier.cfg.hostname);
    deliver(notifier, Target::Webhook, url.as_str(), |client| client.post(url.clone()).json(&payload)).await
}
