//! One HTTP layer below every client (the Notion client, the Gitea sink, media downloads,
//! notifiers): how often and how long to retry, what a `Retry-After` header asks for, what a
//! status or a transport error means for a retry, and how long to wait for the other side.
//!
//! It owns [`RetryPolicy`] and its [`Retrier`] (attempts, exponential backoff with jitter, a
//! bound on the total time, throttled answers that wait without spending attempts),
//! [`parse_retry_after`] (seconds, fractional seconds, HTTP dates; capped), [`status_class`],
//! [`Transport`] (a reqwest error classified, stripped of its URL), and [`Timeouts`] with
//! [`send`]/[`exchange`]/[`body`]: every silence of a request (connecting, sending the body,
//! waiting for the answer, reading it) is bounded, and the message says what was waited for
//! ("no answer from https://git.example.com within 2 min while trying to commit ..."). Each
//! client keeps its own error type and decides what a status means for it: this module never
//! declares a request done or failed for a client. It imports nothing of the crate but
//! [`crate::redact`], and never puts a URL's path, query string, userinfo or a token into a
//! message (only scheme, host and port: [`origin`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use reqwest::header::{HeaderMap, CONTENT_LENGTH, RETRY_AFTER};
use reqwest::{RequestBuilder, StatusCode};
use tokio::time::Instant;

use crate::redact;

/// The longest wait a `Retry-After` value is read as (a policy may cap it lower).
pub const RETRY_AFTER_CAP: Duration = Duration::from_secs(3600);
/// Size of the pieces an uploaded body is handed to the connection in; progress is noticed per piece.
const UPLOAD_CHUNK: usize = 64 * 1024;
/// Longest cause text kept in a [`Transport`] error.
const MAX_DETAIL: usize = 300;

// ---------------------------------------------------------------------------------------------
// Retry policy
// ---------------------------------------------------------------------------------------------

/// How hard one request is tried. The defaults suit the Notion API (a nightly run may wait out
/// an outage of a few minutes); other clients start from [`RetryPolicy::default`] and change
/// what they need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts that may fail (5xx, timeouts, dropped connections), the first included; at least 1.
    /// Throttled answers do not count.
    pub max_attempts: u32,
    /// Throttled answers (429, or what a client treats as such) that are waited out; one more
    /// gives up. They are also bounded by `max_total`.
    pub max_throttled: u32,
    /// Pause before the first retry; doubled for each further failure, up to `max_delay`, and
    /// jittered over its upper half so that parallel requests do not retry in step.
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// No pause is started that would end later than this after the first attempt.
    pub max_total: Duration,
    /// A server's `Retry-After` is honoured up to this long (longer requests are capped; a
    /// client may instead give up on them).
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            max_throttled: 100,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_total: Duration::from_secs(600),
            max_retry_after: RETRY_AFTER_CAP,
        }
    }
}

impl RetryPolicy {
    /// Start counting for one request; `what` names it in debug logs.
    pub fn start(&self, what: impl Into<String>) -> Retrier<'_> {
        Retrier { policy: self, what: what.into(), started: Instant::now(), failures: 0, throttled: 0 }
    }

    /// The pause before retry number `n` (1 = the first retry), jittered: between half and all
    /// of `min(max_delay, base_delay * 2^(n-1))`.
    pub fn backoff(&self, n: u32) -> Duration {
        let exp = self.base_delay.saturating_mul(1u32 << n.saturating_sub(1).min(20)).min(self.max_delay);
        exp.mul_f64(0.5 + rand::random::<f64>() * 0.5)
    }
}

/// Why an attempt is worth another one, and how long the server asked to wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retry {
    /// What went wrong, for logs and for the final error (already free of secrets).
    pub reason: String,
    /// The server's `Retry-After`, if any.
    pub after: Option<Duration>,
    /// A throttled answer (429 and the like): it waits, but does not spend an attempt.
    pub throttled: bool,
}

impl Retry {
    /// A failed attempt (5xx, timeout, dropped connection).
    pub fn failed(reason: impl Into<String>) -> Retry {
        Retry { reason: reason.into(), after: None, throttled: false }
    }

    /// A throttled answer; without `after` the policy's backoff is used.
    pub fn throttled(reason: impl Into<String>, after: Option<Duration>) -> Retry {
        Retry { reason: reason.into(), after, throttled: true }
    }

    /// The server's `Retry-After` (e.g. on a 503).
    pub fn after(mut self, after: Option<Duration>) -> Retry {
        self.after = after;
        self
    }
}

/// The policy's budget is spent: the last attempt's reason and what was tried.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("gave up after {attempts} attempts over {}: {last}", human(*.elapsed))]
pub struct GaveUp {
    /// Attempts sent, throttled ones included.
    pub attempts: u32,
    /// Of those, throttled answers.
    pub throttled: u32,
    pub elapsed: Duration,
    pub last: String,
}

/// The retry budget of one request: created by [`RetryPolicy::start`], asked after every
/// attempt that deserves another one.
#[derive(Debug)]
pub struct Retrier<'p> {
    policy: &'p RetryPolicy,
    what: String,
    started: Instant,
    failures: u32,
    throttled: u32,
}

impl Retrier<'_> {
    /// Count the attempt that ended in `retry` and decide the pause before the next one, or
    /// that the budget is spent.
    pub fn next_wait(&mut self, retry: &Retry) -> Result<Duration, GaveUp> {
        let p = self.policy;
        let cap = |d: Duration| d.min(p.max_retry_after);
        let (wait, spent) = if retry.throttled {
            self.throttled += 1;
            let wait = retry.after.map(cap).unwrap_or_else(|| p.backoff(self.throttled));
            (wait, self.throttled > p.max_throttled)
        } else {
            self.failures += 1;
            let backoff = p.backoff(self.failures);
            let wait = retry.after.map(cap).map_or(backoff, |a| a.max(backoff));
            (wait, self.failures >= p.max_attempts.max(1))
        };
        let elapsed = self.started.elapsed();
        if spent || elapsed + wait > p.max_total {
            return Err(GaveUp {
                attempts: self.failures + self.throttled,
                throttled: self.throttled,
                elapsed,
                last: retry.reason.clone(),
            });
        }
        Ok(wait)
    }

    /// [`Retrier::next_wait`], then sleep for it.
    pub async fn pause(&mut self, retry: Retry) -> Result<(), GaveUp> {
        let wait = self.next_wait(&retry)?;
        tracing::debug!(what = %self.what, attempt = self.failures + self.throttled, wait = %human(wait), reason = %retry.reason, "retrying");
        tokio::time::sleep(wait).await;
        Ok(())
    }

    /// Attempts counted so far (throttled ones included).
    pub fn attempts(&self) -> u32 {
        self.failures + self.throttled
    }
}

// ---------------------------------------------------------------------------------------------
// Retry-After and statuses
// ---------------------------------------------------------------------------------------------

/// The `Retry-After` header of an answer, read by [`parse_retry_after`].
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers.get(RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(parse_retry_after)
}

/// A `Retry-After` value: seconds (`120`, also fractional `0.5`) or an HTTP date (IMF-fixdate,
/// RFC 850 or asctime; a date in the past means now). Capped at [`RETRY_AFTER_CAP`]; negative
/// numbers and anything else are `None`.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0)
            .then(|| Duration::from_secs_f64(secs.min(RETRY_AFTER_CAP.as_secs_f64())));
    }
    let when = chrono::DateTime::parse_from_rfc2822(v).map(|d| d.with_timezone(&chrono::Utc)).ok().or_else(|| {
        ["%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"]
            .iter()
            .find_map(|f| chrono::NaiveDateTime::parse_from_str(v, f).ok())
            .map(|n| n.and_utc())
    })?;
    Some((when - chrono::Utc::now()).to_std().unwrap_or(Duration::ZERO).min(RETRY_AFTER_CAP))
}

/// What a status means for a retry, before a client applies its own meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusClass {
    /// 2xx.
    Success,
    /// 429: wait (as long as `Retry-After` says) and send it again; not a failure.
    Throttled,
    /// 408, 425, and 5xx other than 501/505/511: worth another attempt.
    Transient,
    /// Everything else (4xx, 3xx that reached the client, 501/505/511).
    Permanent,
}

pub fn status_class(status: StatusCode) -> StatusClass {
    match status.as_u16() {
        200..=299 => StatusClass::Success,
        429 => StatusClass::Throttled,
        408 | 425 => StatusClass::Transient,
        501 | 505 | 511 => StatusClass::Permanent,
        500..=599 => StatusClass::Transient,
        _ => StatusClass::Permanent,
    }
}

// ---------------------------------------------------------------------------------------------
// Timeouts and transport errors
// ---------------------------------------------------------------------------------------------

/// How long to wait for the other side. There is no bound on a whole request (a large file on a
/// slow link still finishes), only on silence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Longest wait for a connection (TCP and TLS).
    pub connect: Duration,
    /// Longest silence: no byte of the request body taken, no answer after it was sent, or no
    /// byte of the answer's body.
    pub silence: Duration,
}

impl Timeouts {
    pub const fn new(connect: Duration, silence: Duration) -> Timeouts {
        Timeouts { connect, silence }
    }
}

/// A client builder with the user agent, the connect bound and connection reuse every client
/// wants. Silence is bounded per request by [`send`], [`exchange`] and [`body`].
pub fn client_builder(user_agent: &str, timeouts: &Timeouts) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .user_agent(user_agent)
        .connect_timeout(timeouts.connect)
        .pool_idle_timeout(Duration::from_secs(60))
}

/// What kind of transport failure a request met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// No connection within [`Timeouts::connect`].
    ConnectTimeout,
    /// Refused, unreachable, DNS or TLS failure.
    Connect,
    /// The other side went quiet for [`Timeouts::silence`].
    Silent,
    /// The connection broke off while sending or reading.
    Broken,
    /// Too many redirects (not worth retrying).
    Redirects,
    /// The URL could not be used (not worth retrying).
    InvalidUrl,
    Other,
}

/// A request that got no (complete) answer, classified, with its cause but never its URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transport {
    pub kind: TransportKind,
    /// The underlying causes (`tcp connect error: Connection refused (os error 111)`), scrubbed.
    pub detail: String,
}

impl Transport {
    pub fn new(kind: TransportKind, detail: impl Into<String>) -> Transport {
        Transport { kind, detail: detail.into() }
    }

    /// The other side said nothing for too long.
    pub fn silent() -> Transport {
        Transport::new(TransportKind::Silent, "")
    }

    /// Classify a reqwest error. Only its causes are kept: reqwest's own message names the URL,
    /// and a signed URL's query string is a secret.
    pub fn from_reqwest(e: &reqwest::Error) -> Transport {
        let kind = if e.is_timeout() && e.is_connect() {
            TransportKind::ConnectTimeout
        } else if e.is_timeout() {
            TransportKind::Silent
        } else if e.is_connect() {
            TransportKind::Connect
        } else if e.is_redirect() {
            TransportKind::Redirects
        } else if e.is_builder() {
            TransportKind::InvalidUrl
        } else if e.is_body() || e.is_decode() || e.is_request() {
            TransportKind::Broken
        } else {
            TransportKind::Other
        };
        Transport::new(kind, causes(e))
    }

    /// Worth another attempt (everything but redirect loops and unusable URLs).
    pub fn retryable(&self) -> bool {
        !matches!(self.kind, TransportKind::Redirects | TransportKind::InvalidUrl)
    }

    /// A sentence naming the server (`origin`, from [`origin`]), what the request was doing
    /// (`doing`: "while trying to read the branch"; may be empty) and, for timeouts, how long
    /// was waited.
    pub fn describe(&self, origin: &str, doing: &str, t: &Timeouts) -> String {
        let cause = if self.detail.is_empty() { String::new() } else { format!(": {}", self.detail) };
        let doing = if doing.is_empty() { String::new() } else { format!(" {doing}") };
        match self.kind {
            TransportKind::ConnectTimeout => {
                format!("could not connect to {origin} within {}{doing}", human(t.connect))
            }
            TransportKind::Connect => format!("could not connect to {origin}{doing}{cause}"),
            TransportKind::Silent => format!("no answer from {origin} within {}{doing}", human(t.silence)),
            TransportKind::Broken => format!("the connection to {origin} broke off{doing}{cause}"),
            TransportKind::Redirects => format!("too many redirects from {origin}{doing}"),
            TransportKind::InvalidUrl => format!("cannot use the URL of {origin}{doing}{cause}"),
            TransportKind::Other => format!("the request to {origin} failed{doing}{cause}"),
        }
    }
}

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self.kind {
            TransportKind::ConnectTimeout => "connect timed out",
            TransportKind::Connect => "could not connect",
            TransportKind::Silent => "no answer in time",
            TransportKind::Broken => "connection broke off",
            TransportKind::Redirects => "too many redirects",
            TransportKind::InvalidUrl => "not a usable URL",
            TransportKind::Other => "request failed",
        };
        if self.detail.is_empty() {
            f.write_str(what)
        } else {
            write!(f, "{what}: {}", self.detail)
        }
    }
}

/// The causes of a reqwest error, outermost first, without reqwest's own URL-bearing message.
fn causes(e: &reqwest::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        let text = redact::scrub(&s.to_string());
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        src = s.source();
    }
    let mut out = parts.join(": ");
    if out.len() > MAX_DETAIL {
        let mut cut = MAX_DETAIL;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push('…');
    }
    out
}

/// `scheme://host[:port]` of a URL, for messages: no userinfo, path, query or fragment.
pub fn origin(url: &str) -> String {
    match url::Url::parse(url.trim()) {
        Ok(u) => {
            let host = u.host_str().unwrap_or("");
            match u.port() {
                Some(p) => format!("{}://{host}:{p}", u.scheme()),
                None => format!("{}://{host}", u.scheme()),
            }
        }
        Err(_) => "[invalid URL]".to_string(),
    }
}

/// A duration for people: `750 ms`, `20 s`, `1.5 s`, `2 min`.
pub fn human(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms % 60_000 == 0 && ms >= 120_000 {
        format!("{} min", ms / 60_000)
    } else if ms % 1000 == 0 {
        format!("{} s", ms / 1000)
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

// ---------------------------------------------------------------------------------------------
// Requests with bounded silence
// ---------------------------------------------------------------------------------------------

/// When the request last made progress (an upload piece taken, or its start).
struct Progress {
    start: Instant,
    last_ms: AtomicU64,
}

impl Progress {
    fn new() -> Progress {
        Progress { start: Instant::now(), last_ms: AtomicU64::new(0) }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    /// Resolves once there has been no progress for `silence`.
    async fn quiet_for(&self, silence: Duration) {
        loop {
            let deadline = self.start + Duration::from_millis(self.last_ms.load(Ordering::Relaxed)) + silence;
            if Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep_until(deadline).await;
        }
    }
}

/// `bytes` as a stream of pieces; every piece the connection asks for is progress.
fn upload(bytes: Bytes, progress: Arc<Progress>) -> impl Stream<Item = Result<Bytes, std::io::Error>> {
    futures::stream::unfold((bytes, 0usize, progress), |(bytes, at, progress)| async move {
        progress.touch();
        if at >= bytes.len() {
            return None;
        }
        let end = (at + UPLOAD_CHUNK).min(bytes.len());
        let piece = bytes.slice(at..end);
        Some((Ok(piece), (bytes, end, progress)))
    })
}

/// Send a request and wait for the head of its answer. `body` (if any) is streamed with its
/// `Content-Length`, and the silence bound restarts whenever the connection takes a piece of it,
/// so a large upload on a slow link is not cut off while a stalled server is. Redirects are
/// whatever the client's policy says.
pub async fn send(rb: RequestBuilder, body: Option<Bytes>, t: &Timeouts) -> Result<reqwest::Response, Transport> {
    let progress = Arc::new(Progress::new());
    let rb = match body {
        None => rb,
        Some(bytes) => {
            rb.header(CONTENT_LENGTH, bytes.len()).body(reqwest::Body::wrap_stream(upload(bytes, progress.clone())))
        }
    };
    tokio::select! {
        r = rb.send() => r.map_err(|e| Transport::from_reqwest(&e)),
        () = progress.quiet_for(t.silence) => Err(Transport::silent()),
    }
}

/// The body of an answer as a stream that fails with [`TransportKind::Silent`] when no bytes
/// arrive for [`Timeouts::silence`], and ends after the first error.
pub fn body(resp: reqwest::Response, t: &Timeouts) -> impl Stream<Item = Result<impl AsRef<[u8]>, Transport>> {
    let silence = t.silence;
    futures::stream::unfold(Some(resp.bytes_stream()), move |state| async move {
        let mut stream = state?;
        match tokio::time::timeout(silence, stream.next()).await {
            Ok(Some(Ok(chunk))) => Some((Ok(chunk), Some(stream))),
            Ok(Some(Err(e))) => Some((Err(Transport::from_reqwest(&e)), None)),
            Ok(None) => None,
            Err(_) => Some((Err(Transport::silent()), None)),
        }
    })
}

/// An answer read whole.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// [`send`], then read the whole body, every silence bounded.
pub async fn exchange(rb: RequestBuilder, body_bytes: Option<Bytes>, t: &Timeouts) -> Result<Answer, Transport> {
    let resp = send(rb, body_bytes, t).await?;
    let status = resp.status();
    let headers = resp.headers().clone();
    let mut out = Vec::with_capacity(resp.content_length().unwrap_or(0).min(1 << 20) as usize);
    let mut chunks = std::pin::pin!(body(resp, t));
    while let Some(chunk) = chunks.next().await {
        out.extend_from_slice(chunk?.as_ref());
    }
    Ok(Answer { status, headers, body: out })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 3,
            max_throttled: 2,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(300),
            max_total: Duration::from_secs(60),
            max_retry_after: Duration::from_secs(10),
        }
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after(" 0.5 "), Some(Duration::from_millis(500)));
        assert_eq!(parse_retry_after("0"), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("86400000"), Some(RETRY_AFTER_CAP));
        assert_eq!(parse_retry_after("-3"), None);
        assert_eq!(parse_retry_after("NaN"), None);
        assert_eq!(parse_retry_after("inf"), None);
        assert_eq!(parse_retry_after("soon"), None);
        assert_eq!(parse_retry_after(""), None);
        // HTTP dates in the past mean "now", in all three formats of RFC 9110.
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT"), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("Sun Nov  6 08:49:37 1994"), Some(Duration::ZERO));
        let soon = (chrono::Utc::now() + chrono::Duration::seconds(90)).format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        let d = parse_retry_after(&soon).unwrap();
        assert!(d > Duration::from_secs(80) && d <= Duration::from_secs(90), "{d:?}");
        let far = (chrono::Utc::now() + chrono::Duration::days(3)).format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        assert_eq!(parse_retry_after(&far), Some(RETRY_AFTER_CAP));
    }

    #[test]
    fn statuses() {
        let class = |s: u16| status_class(StatusCode::from_u16(s).unwrap());
        assert_eq!(class(200), StatusClass::Success);
        assert_eq!(class(204), StatusClass::Success);
        assert_eq!(class(429), StatusClass::Throttled);
        for s in [408, 425, 500, 502, 503, 504, 507, 520, 529] {
            assert_eq!(class(s), StatusClass::Transient, "{s}");
        }
        for s in [301, 400, 401, 403, 404, 409, 413, 422, 501, 505, 511] {
            assert_eq!(class(s), StatusClass::Permanent, "{s}");
        }
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let p = policy();
        for _ in 0..50 {
            let b1 = p.backoff(1);
            assert!(b1 >= Duration::from_millis(50) && b1 <= Duration::from_millis(100), "{b1:?}");
            let b2 = p.backoff(2);
            assert!(b2 >= Duration::from_millis(100) && b2 <= Duration::from_millis(200), "{b2:?}");
            let b9 = p.backoff(9);
            assert!(b9 >= Duration::from_millis(150) && b9 <= Duration::from_millis(300), "{b9:?}");
            assert!(p.backoff(u32::MAX) <= Duration::from_millis(300));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn failures_spend_attempts_and_throttled_answers_do_not() {
        let p = policy();
        let mut r = p.start("t");
        // Throttled answers: waited as asked (capped), not counted as failures.
        assert_eq!(r.next_wait(&Retry::throttled("429", Some(Duration::from_secs(2)))), Ok(Duration::from_secs(2)));
        assert_eq!(r.next_wait(&Retry::throttled("429", Some(Duration::from_secs(99)))), Ok(Duration::from_secs(10)));
        // Two failures are retried; a server's wait wins over a shorter backoff.
        assert_eq!(r.next_wait(&Retry::failed("503").after(Some(Duration::from_secs(1)))), Ok(Duration::from_secs(1)));
        assert!(r.next_wait(&Retry::failed("503")).unwrap() <= Duration::from_millis(200));
        // The third failure spends the budget of three attempts.
        let gave_up = r.next_wait(&Retry::failed("HTTP 503")).unwrap_err();
        assert_eq!(gave_up.attempts, 5);
        assert_eq!(gave_up.throttled, 2);
        assert_eq!(gave_up.last, "HTTP 503");
        assert!(gave_up.to_string().starts_with("gave up after 5 attempts over "), "{gave_up}");

        // The third throttled answer is one more than max_throttled.
        let mut r = p.start("t");
        assert!(r.next_wait(&Retry::throttled("429", None)).is_ok());
        assert!(r.next_wait(&Retry::throttled("429", None)).is_ok());
        assert_eq!(r.next_wait(&Retry::throttled("429", None)).unwrap_err().attempts, 3);
    }

    #[tokio::test(start_paused = true)]
    async fn no_pause_outlasts_the_total_bound() {
        let p = RetryPolicy { max_total: Duration::from_secs(5), max_throttled: 10, ..policy() };
        let mut r = p.start("t");
        r.pause(Retry::throttled("429", Some(Duration::from_secs(4)))).await.unwrap();
        // 4 s spent: a 2 s wait would end after the 5 s bound.
        let e = r.next_wait(&Retry::throttled("429", Some(Duration::from_secs(2)))).unwrap_err();
        assert_eq!(e.elapsed, Duration::from_secs(4));
        assert!(r.next_wait(&Retry::throttled("429", Some(Duration::from_millis(500)))).is_ok());
    }

    #[test]
    fn a_single_attempt_policy_never_retries() {
        let p = RetryPolicy { max_attempts: 0, ..policy() };
        assert!(p.start("t").next_wait(&Retry::failed("x")).is_err());
    }

    #[test]
    fn messages_say_what_was_waited_for_and_show_no_secret() {
        let t = Timeouts::new(Duration::from_secs(30), Duration::from_secs(60));
        let o = origin("https://user:pw@git.example.com/api/v1/repos?token=abc#x");
        assert_eq!(o, "https://git.example.com");
        assert_eq!(origin("http://127.0.0.1:3000/a?b"), "http://127.0.0.1:3000");
        assert_eq!(origin("no url"), "[invalid URL]");
        assert_eq!(
            Transport::silent().describe(&o, "while committing 'Weekly review'", &t),
            "no answer from https://git.example.com within 60 s while committing 'Weekly review'"
        );
        let c = Transport::new(TransportKind::ConnectTimeout, "");
        assert_eq!(
            c.describe(&o, "while reading the branch", &t),
            "could not connect to https://git.example.com within 30 s while reading the branch"
        );
        let r = Transport::new(TransportKind::Connect, "tcp connect error: Connection refused (os error 111)");
        assert_eq!(
            r.describe(&o, "while reading the branch", &t),
            "could not connect to https://git.example.com while reading the branch: tcp connect error: Connection refused (os error 111)"
        );
        assert!(r.retryable() && !Transport::new(TransportKind::Redirects, "").retryable());
        assert_eq!(human(Duration::from_millis(750)), "750 ms");
        assert_eq!(human(Duration::from_secs(20)), "20 s");
        assert_eq!(human(Duration::from_millis(1500)), "1.5 s");
        assert_eq!(human(Duration::from_secs(120)), "2 min");
        assert_eq!(human(Duration::from_secs(90)), "90 s");
    }

    /// A server that accepts and reads but never answers: the request ends after the silence
    /// bound with [`TransportKind::Silent`].
    #[tokio::test]
    async fn a_server_that_never_answers_is_bounded_by_the_silence() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let (mut sock, _) = listener.accept().await.unwrap();
                // Read everything, answer nothing, keep the connection open.
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 1 << 16];
                    while let Ok(n) = tokio::io::AsyncReadExt::read(&mut sock, &mut buf).await {
                        if n == 0 {
                            break;
                        }
                    }
                });
            }
        });
        let t = Timeouts::new(Duration::from_secs(5), Duration::from_millis(300));
        let client = client_builder("t", &t).build().unwrap();
        let url = format!("http://{addr}/x?sig=secret");
        let e = exchange(client.get(&url), None, &t).await.unwrap_err();
        assert_eq!(e.kind, TransportKind::Silent);
        // An upload to it is bounded too, however large the body.
        let e = exchange(client.post(&url), Some(Bytes::from(vec![b'x'; 4 << 20])), &t).await.unwrap_err();
        assert_eq!(e.kind, TransportKind::Silent);
        assert!(!e.describe(&origin(&url), "while posting", &t).contains("secret"));
    }

    /// The bytes of a streamed upload arrive whole, with their `Content-Length`.
    #[tokio::test]
    async fn uploads_arrive_whole_with_their_length() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
            let (sock, _) = listener.accept().await.unwrap();
            let mut reader = tokio::io::BufReader::new(sock);
            let mut length = None;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).await.unwrap();
                let lower = line.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    length = Some(v.trim().parse::<usize>().unwrap());
                }
                assert!(!lower.starts_with("transfer-encoding"), "{line}");
                if line == "\r\n" {
                    break;
                }
            }
            let mut got = vec![0u8; length.expect("a Content-Length header")];
            reader.read_exact(&mut got).await.unwrap();
            reader.get_mut().write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok").await.unwrap();
            got
        });
        let t = Timeouts::new(Duration::from_secs(5), Duration::from_secs(10));
        let client = client_builder("t", &t).build().unwrap();
        let sent: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let a = exchange(client.post(format!("http://{addr}/")), Some(Bytes::from(sent.clone())), &t).await.unwrap();
        assert_eq!((a.status, a.body.as_slice()), (StatusCode::OK, b"ok".as_slice()));
        assert_eq!(server.await.unwrap(), sent);
    }
}
