//! Delivery over HTTP with one bounded retry loop shared by every target: 429 waits as long as
//! the server asks (`Retry-After` header or Discord's JSON `retry_after`), 5xx and connection
//! errors back off exponentially, other 4xx are permanent. Errors name the target by its
//! redacted URL and say what to check; they never carry the URL itself.

use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{RequestBuilder, StatusCode};

use super::Notifier;
use crate::redact;

/// How hard to try before giving up on a notification.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Wait before the first retry after a 5xx or a connection error; doubled each time.
    pub backoff: Duration,
    /// A 429 asking to wait longer than this is not waited for: the notification is dropped.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { max_attempts: 3, backoff: Duration::from_secs(1), max_retry_after: Duration::from_secs(60) }
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
/// precise) or else the `Retry-After` header (seconds, possibly fractional). HTTP-date values
/// and nonsense are ignored.
pub fn retry_after(headers: &HeaderMap, body: &str) -> Option<Duration> {
    let from_body = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("retry_after").and_then(serde_json::Value::as_f64));
    let from_header =
        || headers.get(RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<f64>().ok());
    from_body.or_else(from_header).filter(|s| s.is_finite() && *s >= 0.0).map(Duration::from_secs_f64)
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
    let mut attempt = 0;
    loop {
        attempt += 1;
        let backoff = policy.backoff.saturating_mul(1 << (attempt - 1).min(16));
        let (wait, last) = match make(client).send().await {
            Ok(resp) if resp.status().is_success() => {
                tracing::debug!("{target} delivered to {shown}");
                return Ok(());
            }
            Ok(resp) if resp.status() == StatusCode::TOO_MANY_REQUESTS => {
                let headers = resp.headers().clone();
                let body = resp.text().await.unwrap_or_default();
                let wait = retry_after(&headers, &body).unwrap_or(backoff);
                if wait > policy.max_retry_after {
                    return Err(NotifyError::RateLimited {
                        target,
                        url: shown,
                        wait_secs: wait.as_secs_f64(),
                        max_secs: policy.max_retry_after.as_secs(),
                    });
                }
                (wait, "HTTP 429 Too Many Requests".to_string())
            }
            Ok(resp) if resp.status().is_server_error() => (backoff, format!("HTTP {}", resp.status().as_u16())),
            Ok(resp) => {
                let status = resp.status().as_u16();
                let body = resp.text().await.unwrap_or_default();
                return Err(NotifyError::Rejected { target, url: shown, status, detail: detail(&body) });
            }
            Err(e) if e.is_builder() => return Err(NotifyError::InvalidUrl { target }),
            Err(e) => (backoff, redact::scrub(&e.without_url().to_string())),
        };
        if attempt >= policy.max_attempts {
            return Err(NotifyError::GaveUp { target, url: shown, attempts: attempt, last });
        }
        tracing::debug!("{target} to {shown} failed ({last}); retrying in {:.1}s", wait.as_secs_f64());
        tokio::time::sleep(wait).await;
    }
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
    use reqwest::header::HeaderValue;

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
    fn retry_after_ignores_dates_and_negative_values() {
        assert_eq!(retry_after(&headers("Wed, 21 Oct 2015 07:28:00 GMT"), ""), None);
        assert_eq!(retry_after(&headers("-3"), ""), None);
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
