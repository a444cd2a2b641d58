//! The HTTP side of the Notion client: auth, version header, user agent, timeouts, connection
//! reuse, the shared rate limiter, and retries with exponential backoff and jitter. Every request
//! to Notion goes through [`NotionClient::request`]; nothing else in the crate talks to the API.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::time::Instant;

use super::ratelimit::RateLimiter;
use super::NotionError;

/// Newest API version; `2025-09-03` responses are understood too.
pub const DEFAULT_VERSION: &str = "2026-03-11";
pub const DEFAULT_API_URL: &str = "https://api.notion.com/v1";

/// Throttled answers (429/529) one request may receive before it gives up (the total time
/// bound usually ends it first).
const MAX_THROTTLED: u32 = 100;

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// No new attempt is started after this much time spent on one request.
    pub max_total: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_total: Duration::from_secs(600),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub base_url: String,
    pub token: String,
    pub version: String,
    /// Sustained requests per second (NOTION_RATE_LIMIT).
    pub rate_per_second: f64,
    pub burst: u32,
    pub timeout: Duration,
    pub retry: RetryPolicy,
    pub user_agent: String,
}

impl ClientConfig {
    pub fn new(base_url: &str, token: &str) -> Self {
        ClientConfig {
            base_url: base_url.trim_end_matches('/').to_string(),
            token: token.to_string(),
            version: DEFAULT_VERSION.to_string(),
            rate_per_second: 3.0,
            burst: 3,
            timeout: Duration::from_secs(60),
            retry: RetryPolicy::default(),
            user_agent: crate::user_agent(),
        }
    }
}

/// Counters for the run summary and the benchmark.
#[derive(Debug, Default)]
pub struct ClientStats {
    pub requests: AtomicU64,
    pub rate_limited: AtomicU64,
    pub retries: AtomicU64,
}

/// A cheap-to-clone handle; all clones share one connection pool, one rate limiter, one set of
/// counters.
#[derive(Clone)]
pub struct NotionClient {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    http: reqwest::Client,
    cfg: ClientConfig,
    limiter: RateLimiter,
    pub(crate) stats: ClientStats,
}

impl std::fmt::Debug for NotionClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotionClient").field("base_url", &self.inner.cfg.base_url).finish_non_exhaustive()
    }
}

enum Attempt {
    Retry { reason: String, wait: Option<Duration> },
    Fail(NotionError),
}

impl NotionClient {
    pub fn new(cfg: ClientConfig) -> Result<Self, NotionError> {
        let http = reqwest::Client::builder()
            .user_agent(cfg.user_agent.clone())
            .timeout(cfg.timeout)
            .connect_timeout(Duration::from_secs(20))
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| NotionError::BadRequest {
                what: "the HTTP client".into(),
                status: 0,
                code: "client_build".into(),
                message: e.to_string(),
            })?;
        let limiter = RateLimiter::new(cfg.rate_per_second, cfg.burst);
        Ok(NotionClient { inner: Arc::new(Inner { http, cfg, limiter, stats: ClientStats::default() }) })
    }

    pub fn requests_made(&self) -> u64 {
        self.inner.stats.requests.load(Ordering::Relaxed)
    }

    pub fn rate_limited(&self) -> u64 {
        self.inner.stats.rate_limited.load(Ordering::Relaxed)
    }

    /// Send one API request (path relative to the base URL, e.g. `/pages/<id>`) with retries,
    /// and decode the JSON answer. `what` names the object for error messages.
    pub async fn request<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        what: &str,
    ) -> Result<T, NotionError> {
        let policy = &self.inner.cfg.retry;
        let start = Instant::now();
        let mut attempt = 0u32;
        let mut throttled = 0u32;
        loop {
            attempt += 1;
            self.inner.limiter.acquire().await;
            self.inner.stats.requests.fetch_add(1, Ordering::Relaxed);
            let outcome = self.attempt(method.clone(), path, query, body, what).await;
            let (reason, wait) = match outcome {
                Ok(v) => return Ok(v),
                Err(Attempt::Fail(e)) => return Err(e),
                Err(Attempt::Retry { reason, wait }) => (reason, wait),
            };
            // Being told to wait (429/529 with Retry-After) is not a failure: such answers are
            // bounded by the total time (and a generous count), not by the attempt budget.
            if wait.is_some() && (reason.starts_with("HTTP 429") || reason.starts_with("HTTP 529")) {
                throttled += 1;
                attempt -= 1;
            }
            let elapsed = start.elapsed();
            if attempt >= policy.max_attempts || throttled >= MAX_THROTTLED || elapsed >= policy.max_total {
                return Err(NotionError::Exhausted {
                    what: what.to_string(),
                    attempts: attempt,
                    elapsed,
                    last: reason,
                });
            }
            self.inner.stats.retries.fetch_add(1, Ordering::Relaxed);
            let backoff = wait.unwrap_or_else(|| {
                let exp = policy.base_delay.saturating_mul(1u32 << (attempt - 1).min(16));
                let capped = exp.min(policy.max_delay);
                // Full jitter over the upper half keeps retries from synchronising.
                capped.mul_f64(0.5 + rand::random::<f64>() * 0.5)
            });
            tracing::debug!(what, attempt, ?backoff, %reason, "retrying Notion request");
            tokio::time::sleep(backoff).await;
        }
    }

    async fn attempt<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        what: &str,
    ) -> Result<T, Attempt> {
        let cfg = &self.inner.cfg;
        let mut req = self
            .inner
            .http
            .request(method, format!("{}{}", cfg.base_url, path))
            .bearer_auth(&cfg.token)
            .header("Notion-Version", &cfg.version);
        if !query.is_empty() {
            req = req.query(query);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => return Err(Attempt::Retry { reason: describe_reqwest_error(&e), wait: None }),
        };
        let status = resp.status();
        let retry_after =
            resp.headers().get(reqwest::header::RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(parse_retry_after);
        let text = match resp.text().await {
            Ok(t) => t,
            Err(e) => return Err(Attempt::Retry { reason: describe_reqwest_error(&e), wait: None }),
        };
        if status.is_success() {
            return serde_json::from_str(&text).map_err(|e| {
                Attempt::Fail(NotionError::Decode {
                    what: what.to_string(),
                    message: format!("{e} (HTTP {status}, {} bytes)", text.len()),
                })
            });
        }
        let (code, message) = error_fields(&text);
        match status.as_u16() {
            429 | 529 => {
                self.inner.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
                let wait = retry_after.unwrap_or(Duration::from_secs(1));
                self.inner.limiter.pause(wait);
                Err(Attempt::Retry { reason: format!("HTTP {status} {code}"), wait: Some(wait) })
            }
            500 | 502 | 503 | 504 => {
                Err(Attempt::Retry { reason: format!("HTTP {status} {code} {message}"), wait: retry_after })
            }
            401 => Err(Attempt::Fail(NotionError::Unauthorized)),
            404 => Err(Attempt::Fail(NotionError::NotFound { what: what.to_string(), message })),
            403 => Err(Attempt::Fail(NotionError::Forbidden { what: what.to_string(), code, message })),
            s => Err(Attempt::Fail(NotionError::BadRequest { what: what.to_string(), status: s, code, message })),
        }
    }
}

/// `Retry-After` as integer seconds or an HTTP date.
fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<f64>() {
        if secs.is_finite() && secs >= 0.0 {
            return Some(Duration::from_secs_f64(secs.min(3600.0)));
        }
    }
    let when = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let d = when.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(d.to_std().unwrap_or(Duration::ZERO).min(Duration::from_secs(3600)))
}

/// `code` and `message` of a Notion error body; HTML or other bodies give a short description.
fn error_fields(text: &str) -> (String, String) {
    match serde_json::from_str::<Value>(text) {
        Ok(v) => (
            v.get("code").and_then(Value::as_str).unwrap_or("unknown").to_string(),
            v.get("message").and_then(Value::as_str).unwrap_or("").to_string(),
        ),
        Err(_) => {
            let snippet: String = text.chars().filter(|c| !c.is_control()).take(120).collect();
            ("non_json".to_string(), format!("non-JSON body: {snippet}"))
        }
    }
}

fn describe_reqwest_error(e: &reqwest::Error) -> String {
    // reqwest's Display includes the URL; ours carry no secrets, but keep it short and stable.
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "connection dropped while reading the answer"
    } else {
        "request failed"
    };
    let mut msg = kind.to_string();
    let mut src = std::error::Error::source(e);
    if let Some(s) = src.take() {
        msg.push_str(&format!(": {s}"));
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after("0.5"), Some(Duration::from_millis(500)));
        assert!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT").is_some());
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn error_body_fields() {
        let (c, m) = error_fields(
            r#"{"object":"error","status":404,"code":"object_not_found","message":"Could not find page"}"#,
        );
        assert_eq!((c.as_str(), m.as_str()), ("object_not_found", "Could not find page"));
        let (c, _) = error_fields("<html>502 Bad Gateway</html>");
        assert_eq!(c, "non_json");
    }
}
