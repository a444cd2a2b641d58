//! Health-check pings, so a silent cron job is noticed: the healthchecks.io convention (GET
//! `<url>/start` at start, GET `<url>` on success, POST `<url>/fail` with the summary as body on
//! failure), and Uptime Kuma push URLs (`.../api/push/<token>`), which know no start signal and
//! take `status=up|down` and `msg` in the query string instead.

use super::http::{deliver, parse_url, NotifyError, Target};
use super::summary::one_line;
use super::{summary_text, Notifier, RunReport};
use crate::redact;

/// healthchecks.io keeps the first 100 kB of a ping body.
const MAX_BODY_BYTES: usize = 100_000;
/// Uptime Kuma shows `msg` in its event list: keep it to a line.
const MAX_KUMA_MSG_CHARS: usize = 150;

/// The signal a ping carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Start,
    Success,
    Fail,
}

/// The URL to ping for `signal`, or `None` when the service has no such signal (Uptime Kuma
/// has no start). `message` is used by Uptime Kuma's `msg`.
pub fn ping_url(base: &url::Url, signal: Signal, message: &str) -> Option<url::Url> {
    let mut url = base.clone();
    if base.path().contains("/api/push/") {
        let (status, msg) = match signal {
            Signal::Start => return None,
            Signal::Success => ("up", "OK".to_string()),
            Signal::Fail => ("down", kuma_message(message)),
        };
        let kept: Vec<(String, String)> = base
            .query_pairs()
            .filter(|(k, _)| k != "status" && k != "msg")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        url.query_pairs_mut().clear().extend_pairs(kept).append_pair("status", status).append_pair("msg", &msg);
        return Some(url);
    }
    let suffix = match signal {
        Signal::Start => "start",
        Signal::Success => return Some(url),
        Signal::Fail => "fail",
    };
    url.path_segments_mut().ok()?.pop_if_empty().push(suffix);
    Some(url)
}

fn kuma_message(message: &str) -> String {
    let line = one_line(message);
    match line.char_indices().nth(MAX_KUMA_MSG_CHARS) {
        Some((i, _)) => format!("{}…", &line[..i]),
        None => line,
    }
}

pub(super) async fn start(notifier: &Notifier, url: &str) -> Result<(), NotifyError> {
    let base = parse_url(Target::HealthCheck, url)?;
    match ping_url(&base, Signal::Start, "") {
        Some(ping) => get(notifier, ping).await,
        None => Ok(()),
    }
}

pub(super) async fn finish(notifier: &Notifier, url: &str, report: &RunReport) -> Result<(), NotifyError> {
    let base = parse_url(Target::HealthCheck, url)?;
    if !report.has_failures() {
        return match ping_url(&base, Signal::Success, "") {
            Some(ping) => get(notifier, ping).await,
            None => Ok(()),
        };
    }
    let mut body = redact::scrub(&summary_text(report));
    if body.len() > MAX_BODY_BYTES {
        let mut end = MAX_BODY_BYTES;
        while !body.is_char_boundary(end) {
            end -= 1;
        }
        body.truncate(end);
    }
    let first_line = body.lines().next().unwrap_or_default().to_string();
    let Some(ping) = ping_url(&base, Signal::Fail, &first_line) else {
        return Ok(());
    };
    deliver(notifier, Target::HealthCheck, ping.as_str(), |client| {
        client.post(ping.clone()).header(reqwest::header::CONTENT_TYPE, "text/plain; charset=utf-8").body(body.clone())
    })
    .await
}

async fn get(notifier: &Notifier, ping: url::Url) -> Result<(), NotifyError> {
    deliver(notifier, Target::HealthCheck, ping.as_str(), |client| client.get(ping.clone())).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> url::Url {
        url::Url::parse(s).unwrap()
    }

    fn ping(base: &str, signal: Signal, msg: &str) -> Option<String> {
        ping_url(&url(base), signal, msg).map(|u| u.to_string())
    }

    #[test]
    fn healthchecks_io_convention() {
        let base = "https://hc-ping.com/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
        assert_eq!(ping(base, Signal::Start, "").unwrap(), format!("{base}/start"));
        assert_eq!(ping(base, Signal::Success, "").unwrap(), base);
        assert_eq!(ping(base, Signal::Fail, "x").unwrap(), format!("{base}/fail"));
    }

    #[test]
    fn trailing_slash_and_query_are_kept_in_place() {
        assert_eq!(
            ping("https://hc.example/ping/abc/?rid=1", Signal::Start, "").unwrap(),
            "https://hc.example/ping/abc/start?rid=1"
        );
    }

    #[test]
    fn uptime_kuma_push_uses_status_and_msg() {
        let base = "https://kuma.example/api/push/AbCdEf123?status=up&msg=OK&ping=";
        assert_eq!(ping(base, Signal::Start, ""), None);
        assert_eq!(
            ping(base, Signal::Success, "").unwrap(),
            "https://kuma.example/api/push/AbCdEf123?ping=&status=up&msg=OK"
        );
        assert_eq!(
            ping(base, Signal::Fail, "Notion backup\nfinished with errors").unwrap(),
            "https://kuma.example/api/push/AbCdEf123?ping=&status=down&msg=Notion+backup+finished+with+errors"
        );
    }
}
