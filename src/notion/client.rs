//! The HTTP side of the Notion client: auth, version header, user agent, connection reuse, the
//! shared rate limiter (a 429/529 pauses every request, not only the one that got it), and what
//! Notion's statuses mean. Retries, backoff, `Retry-After` and timeouts are the crate's one policy
//! ([`crate::http`]). Every request to Notion goes through [`NotionClient::request`]; nothing else
//! in the crate talks to the API.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::ratelimit::RateLimiter;
use super::NotionError;
use crate::http::{self, Retry, StatusClass, Timeouts, TransportKind};

/// Newest API version; `2025-09-03` responses are understood too.
pub const DEFAULT_VERSION: &str = "2026-03-11";
pub const DEFAULT_API_URL: &str = "https://api.notion.com/v1";

/// How often and how long one request is retried: the crate's one policy. The defaults suit
/// Notion: 8 failed attempts, throttled answers (429/529) waited out up to 100 times, within
/// 10 minutes.
pub use crate::http::RetryPolicy;

/// Longest wait for a connection to Notion.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub base_url: String,
    pub token: String,
    pub version: String,
    /// Sustained requests per second (NOTION_RATE_LIMIT).
    pub rate_per_second: f64,
    pub burst: u32,
    /// Longest silence of Notion on one request (no answer, or no byte of it), not a bound on
    /// the whole request.
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
    /// `sent`: the request may have reached Notion (an answer lost or a 5xx), as opposed to
    /// being refused before Notion acted on it (no connection, 429/529).
    Retry {
        retry: Retry,
        sent: bool,
    },
    Fail(NotionError),
}

/// What a request sends: JSON, or raw bytes with their content type (multipart file uploads).
#[derive(Debug, Clone, Copy)]
pub enum Body<'a> {
    Json(&'a Value),
    Bytes { content_type: &'a str, bytes: &'a [u8] },
}

/// Whether a failed request may be sent again by the retry loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replay {
    /// Reads and writes that give the same result twice: retried after any transient failure.
    Always,
    /// Creates (a page, a database, appended blocks): retried only when Notion surely did not
    /// act on it (no connection, 429/529). When the request may have landed (no answer, a
    /// broken connection, 5xx, an unreadable answer) the caller gets [`NotionError::Unsure`]
    /// and must look at what exists before sending it again, so a lost answer never makes a
    /// duplicate.
    NotAfterSent,
}

impl NotionClient {
    pub fn new(cfg: ClientConfig) -> Result<Self, NotionError> {
        let http = http::client_builder(&cfg.user_agent, &Timeouts::new(CONNECT_TIMEOUT, cfg.timeout))
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
        self.send(method, path, query, body.map(Body::Json), what, Replay::Always).await
    }

    /// [`Self::request`] with any [`Body`] and an explicit [`Replay`] rule (the write
    /// endpoints use it).
    pub async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<Body<'_>>,
        what: &str,
        replay: Replay,
    ) -> Result<T, NotionError> {
        let mut retrier = self.inner.cfg.retry.start(what);
        loop {
            self.inner.limiter.acquire().await;
            self.inner.stats.requests.fetch_add(1, Ordering::Relaxed);
            let retry = match self.attempt(method.clone(), path, query, body, what).await {
                Ok(v) => return Ok(v),
                // A create whose answer arrived broken did land (or may have).
                Err(Attempt::Fail(NotionError::Decode { message, .. })) if replay == Replay::NotAfterSent => {
                    return Err(NotionError::Unsure {
                        what: what.to_string(),
                        reason: format!("unreadable answer: {message}"),
                    })
                }
                Err(Attempt::Fail(e)) => return Err(e),
                Err(Attempt::Retry { retry, sent: true }) if replay == Replay::NotAfterSent => {
                    return Err(NotionError::Unsure { what: what.to_string(), reason: retry.reason })
                }
                Err(Attempt::Retry { retry, .. }) => retry,
            };
            if let Err(g) = retrier.pause(retry).await {
                return Err(NotionError::Exhausted {
                    what: what.to_string(),
                    attempts: g.attempts,
                    elapsed: g.elapsed,
                    last: g.last,
                });
            }
            self.inner.stats.retries.fetch_add(1, Ordering::Relaxed);
        }
    }

    async fn attempt<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<Body<'_>>,
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
        let mut raw = None;
        match body {
            Some(Body::Json(b)) => req = req.json(b),
            Some(Body::Bytes { content_type, bytes }) => {
                req = req.header(reqwest::header::CONTENT_TYPE, content_type);
                raw = Some(bytes::Bytes::copy_from_slice(bytes));
            }
            None => {}
        }
        let timeouts = Timeouts::new(CONNECT_TIMEOUT, cfg.timeout);
        let answer = match http::exchange(req, raw, &timeouts).await {
            Ok(a) => a,
            Err(t) => {
                let reason = t.describe(&http::origin(&cfg.base_url), &format!("while requesting {what}"), &timeouts);
                if t.kind == TransportKind::Silent {
                    tracing::warn!("{reason}; retrying");
                }
                // Without a connection the request never reached Notion; anything later may have.
                let sent = !matches!(t.kind, TransportKind::Connect | TransportKind::ConnectTimeout);
                return Err(if t.retryable() {
                    Attempt::Retry { retry: Retry::failed(reason), sent }
                } else {
                    Attempt::Fail(NotionError::BadRequest {
                        what: what.to_string(),
                        status: 0,
                        code: "request".into(),
                        message: reason,
                    })
                });
            }
        };
        let status = answer.status;
        let retry_after = http::retry_after(&answer.headers);
        let text = answer.text();
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
            // 529: Notion is overloaded; like 429, a request to wait, not a failure.
            429 | 529 => {
                self.inner.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
                let wait = retry_after.unwrap_or(Duration::from_secs(1)).min(self.inner.cfg.retry.max_retry_after);
                self.inner.limiter.pause(wait);
                Err(Attempt::Retry {
                    retry: Retry::throttled(format!("HTTP {status} {code}"), Some(wait)),
                    sent: false,
                })
            }
            _ if http::status_class(status) == StatusClass::Transient => Err(Attempt::Retry {
                retry: Retry::failed(format!("HTTP {status} {code} {message}")).after(retry_after),
                sent: true,
            }),
            401 => Err(Attempt::Fail(NotionError::Unauthorized)),
            404 => Err(Attempt::Fail(NotionError::NotFound { what: what.to_string(), message })),
            403 => Err(Attempt::Fail(NotionError::Forbidden { what: what.to_string(), code, message })),
            s => Err(Attempt::Fail(NotionError::BadRequest { what: what.to_string(), status: s, code, message })),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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
