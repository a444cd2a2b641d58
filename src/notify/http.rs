//! Delivery over HTTP for every target under the crate's one retry policy ([`crate::http`]):
//! 429 waits as long as the server asks (Discord's JSON `retry_after`, else the `Retry-After`
//! header) without spending an attempt, but a wait longer than the policy's `max_retry_after`
//! drops the notification; 5xx and connection errors back off exponentially; other 4xx are
//! permanent. Every silence of the receiver is bounded ([`TIMEOUTS`]). Errors name the target by
//! its redacted URL and say what to check; they never carry the URL itself.

use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::{RequestBuilder, StatusCode};

use super::Notifier;
use crate::http::{self, Retry, StatusClass, Timeouts};
use crate::redact;

/// The crate's retry policy; [`default_policy`] is the one notifications use.
pub use crate::http::RetryPolicy;

/// A receiver that does not answer within 30 s (or connect within 10 s) is given up on for
/// this attempt: a hung endpoint must not hold up the cron job for long.
pub const TIMEOUTS: Timeouts = Timeouts::new(Duration::from_secs(10), Duration::from_secs(30));

/// 3 attempts, 1-2 s then 2-4 s apart (jittered); 429s waited out 3 times, up to 60 s each; at most
/// 3 minutes per notification.
pub fn default_policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        max_throttled: 3,
        base_delay: Duration::from_secs(2),
        max_delay: Duration::from_secs(10),
        max_total: Duration::from_secs(180),
        max_retry_after: Duration::from_secs(60),
    }
}

/// A notification target, named after the setting that configures it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Discord,
    HealthCheck,
    Webhook,
}

impl Target {
    pub fn setting(self) -> &'static str {
        match self {
            Target::Discord => "DISCORD_WEBHOOK_URL",
            Target::HealthCheck => "HEALTHCHECK_URL",
            Target::Webhook => "WEBHOOK_URL",
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Target::Discord => "Discord notification",
            Target::HealthCheck => "health-check ping",
            Target::Webhook => "webhook notification",
        })
    }
}

/// Why a notification was not delivered. `url` fields hold redacted URLs only.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("{target} not sent: {setting} is not a valid http(s) URL; fix it in the configuration", setting = target.setting())]
    InvalidUrl { target: Target },
    #[error("{target} not sent: could not set up HTTP ({detail})")]
    Client { target: Target, detail: String },
    #[error("{target} rejected with HTTP {status} by {url}{detail}: check {setting}", setting = target.setting())]
    Rejected { target: Target, url: String, status: u16, detail: String },
    #[error(
        "{target} not sent: {url} asked to wait {wait_secs:.0}s (HTTP 429), longer than the {max_secs}s this run waits"
    )]
    RateLimited { target: Target, url: String, wait_secs: f64, max_secs: u64 },
    #[error("{target} not sent after {attempts} attempts to {url} (last: {last}); it is retried next run")]
    GaveUp { target: Target, url: String, attempts: u32, last: String },
}

/// The wait a 429 response asks for: Discord's JSON `retry_after` (float seconds, the more
/// precise) or else the `Retry-After` header ([`http::parse_retry_after`]: seconds, possibly
/// fractional, or an HTTP date). Negative values and nonsense are ignored.
pub fn retry_after(headers: &HeaderMap, body: &str) -> Option<Duration> {
    let from_body = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("retry_after").and_then(serde_json::Value::as_f64))
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| Duration::from_secs_f64(s.min(http::RETRY_AFTER_CAP.as_secs_f64())));
    from_body.or_else(|| http::retry_after(headers))
}

/// Sends the request built by `make` until it succeeds (2xx), fails permanently or the policy
/// gives up.
pub(super) async fn deliver(
    notifier: &Notifier,
    target: Target,
    url: &str,
    make: impl Fn(&reqwest::Client) -> RequestBuilder,
) -> Result<(), NotifyError> {
    let client = notifier.client.as_ref().map_err(|detail| NotifyError::Client { target, detail: detail.clone() })?;
    let policy = &notifier.retry;
    let shown = redact::redact_url(url);
    let mut retrier = policy.start(target.to_string());
    loop {
        let retry = match http::exchange(make(client), None, &TIMEOUTS).await {
            Ok(a) => match http::status_class(a.status) {
                StatusClass::Success => {
                    tracing::debug!("{target} delivered to {shown}");
                    return Ok(());
                }
                StatusClass::Throttled => {
                    let asked = retry_after(&a.headers, &a.text());
                    if let Some(wait) = asked.filter(|w| *w > policy.max_retry_after) {
                        return Err(NotifyError::RateLimited {
                            target,
                            url: shown,
                            wait_secs: wait.as_secs_f64(),
                            max_secs: policy.max_retry_after.as_secs(),
                        });
                    }
                    Retry::throttled(format!("HTTP 429 {}", canonical(a.status)), asked)
                }
                StatusClass::Transient if a.status.is_server_error() => {
                    Retry::failed(format!("HTTP {}", a.status.as_u16()))
                }
                _ => {
                    return Err(NotifyError::Rejected {
                        target,
                        url: shown,
                        status: a.status.as_u16(),
                        detail: detail(&a.text()),
                    })
                }
            },
            Err(t) if t.kind == http::TransportKind::InvalidUrl => return Err(NotifyError::InvalidUrl { target }),
            Err(t) => Retry::failed(redact::scrub(&t.describe(
                &http::origin(url),
                &format!("while sending the {target}"),
                &TIMEOUTS,
            ))),
        };
        let reason = retry.reason.clone();
        if let Err(g) = retrier.pause(retry).await {
            return Err(NotifyError::GaveUp { target, url: shown, attempts: g.attempts, last: g.last });
        }
        tracing::debug!("{target} to {shown} failed ({reason}); retrying");
    }
}

fn canonical(s: StatusCode) -> &'static str {
    s.canonical_reason().unwrap_or("")
}

/// A short, single-line, scrubbed excerpt of an error body (Discord explains 400s there).
fn detail(body: &str) -> String {
    let one_line: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.is_empty() {
        return String::new();
    }
    let mut excerpt: String = one_line.chars().take(200).collect();
    if excerpt.len() < one_line.len() {
        excerpt.push('…');
    }
    format!(": {}", redact::scrub(&excerpt))
}

/// Parses a configured URL, accepting only http and https.
pub(super) fn parse_url(target: Target, url: &str) -> Result<url::Url, NotifyError> {
    url::Url::parse(url.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
        .ok_or(NotifyError::InvalidUrl { target })
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderValue, RETRY_AFTER};

    fn headers(retry_after: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_str(retry_after).unwrap());
        h
    }

    #[test]
    fn retry_after_prefers_discord_json_float() {
        let body = r#"{"message": "You are being rate limited.", "retry_after": 0.25, "global": false}"#;
        assert_eq!(retry_after(&headers("1"), body), Some(Duration::from_millis(250)));
    }

    #[test]
    fn retry_after_falls_back_to_header_seconds() {
        assert_eq!(retry_after(&headers("2"), "not json"), Some(Duration::from_secs(2)));
        assert_eq!(retry_after(&headers("1.5"), ""), Some(Duration::from_millis(1500)));
    }

    #[test]
    fn retry_after_reads_dates_and_ignores_negative_values() {
        // A date in the past means "now" (one parser for every client: crate::http).
        assert_eq!(retry_after(&headers("Wed, 21 Oct 2015 07:28:00 GMT"), ""), Some(Duration::ZERO));
        assert_eq!(retry_after(&headers("-3"), ""), None);
        assert_eq!(retry_after(&headers("1"), r#"{"retry_after": -1}"#), Some(Duration::from_secs(1)));
        assert_eq!(retry_after(&HeaderMap::new(), "{}"), None);
    }

    #[test]
    fn error_detail_is_one_short_line() {
        let body = format!("{{\"content\":\n [\"{}\"]}}", "x".repeat(500));
        let d = detail(&body);
        assert!(!d.contains('\n'));
        assert!(d.chars().count() <= 203, "{d}");
        assert!(d.ends_with('…'));
        assert_eq!(detail("  \n "), "");
    }

    #[test]
    fn only_http_urls_are_accepted() {
        assert!(parse_url(Target::Webhook, "https://example.com/hook").is_ok());
        assert!(parse_url(Target::Webhook, "ftp://example.com/hook").is_err());
        assert!(parse_url(Target::Webhook, "example.com/hook").is_err());
    }
}
