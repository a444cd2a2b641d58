//! One HTTP download attempt, streamed to a file on disk while hashing, plus the classification
//! of what went wrong (expired signed URL, transient, permanent, refused, too large).
//!
//! Never holds a whole file in memory: bytes go from the response stream through a SHA-256
//! hasher into a buffered file writer; only the first [`HEAD_LEN`] bytes are kept, for sniffing.
//! External URLs go through the [`Guard`] on every redirect hop; timeouts, `Retry-After` and
//! status classes are [`crate::http`]'s. Retrying, refreshing and naming are decided by the caller
//! (`download.rs`).

use std::fmt::Display;
use std::path::Path;
use std::time::Duration;

use futures::{Stream, StreamExt};
use reqwest::header::{ACCEPT, CONTENT_TYPE, LOCATION};
use reqwest::StatusCode;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::guard::{Guard, Refusal};
use super::sniff::HEAD_LEN;
use crate::http::{self, StatusClass, Timeouts, Transport, TransportKind};

/// What a finished stream produced.
#[derive(Debug, Clone)]
pub struct Streamed {
    pub size: u64,
    pub sha256: String,
    /// The first up to [`HEAD_LEN`] bytes.
    pub head: Vec<u8>,
}

#[derive(Debug)]
pub enum StreamError {
    /// More than `limit` bytes arrived; the partial file was removed.
    TooLarge { limit: u64 },
    /// The body broke off (connection reset, timeout): worth a retry.
    Body(String),
    /// Writing the file failed.
    Io(std::io::Error),
}

/// Write `stream` to `path` (created or truncated), hashing as it goes, stopping at `limit`
/// bytes. On any error the partial file is removed.
pub async fn stream_to_file<S, B, E>(stream: S, path: &Path, limit: u64) -> Result<Streamed, StreamError>
where
    S: Stream<Item = Result<B, E>>,
    B: AsRef<[u8]>,
    E: Display,
{
    let result = write_stream(stream, path, limit).await;
    if result.is_err() {
        let _ = tokio::fs::remove_file(path).await;
    }
    result
}

async fn write_stream<S, B, E>(stream: S, path: &Path, limit: u64) -> Result<Streamed, StreamError>
where
    S: Stream<Item = Result<B, E>>,
    B: AsRef<[u8]>,
    E: Display,
{
    let file = tokio::fs::File::create(path).await.map_err(StreamError::Io)?;
    let mut out = tokio::io::BufWriter::with_capacity(256 * 1024, file);
    let mut hasher = Sha256::new();
    let mut head = Vec::with_capacity(HEAD_LEN);
    let mut size: u64 = 0;
    let mut stream = std::pin::pin!(stream);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| StreamError::Body(e.to_string()))?;
        let bytes = chunk.as_ref();
        size += bytes.len() as u64;
        if size > limit {
            return Err(StreamError::TooLarge { limit });
        }
        if head.len() < HEAD_LEN {
            let take = (HEAD_LEN - head.len()).min(bytes.len());
            head.extend_from_slice(&bytes[..take]);
        }
        hasher.update(bytes);
        out.write_all(bytes).await.map_err(StreamError::Io)?;
    }
    // Flushing the tokio file also waits for its last in-flight write.
    out.flush().await.map_err(StreamError::Io)?;
    Ok(Streamed { size, sha256: hex::encode(hasher.finalize()), head })
}

/// Redirects followed for an external file; every hop is checked by the [`Guard`].
const MAX_REDIRECTS: usize = 10;

/// The outcome of one GET.
#[derive(Debug)]
pub enum Attempt {
    /// The body, and the `Content-Type` the server gave it.
    Done(Streamed, String),
    /// 400/401/403/404 on a Notion-hosted URL: most likely an expired signature; re-read the owner.
    Stale(String),
    /// 408/429/5xx, timeout, connection reset: retry after a pause (`Retry-After` when given;
    /// `true` for a throttled answer).
    Transient(String, Option<Duration>, bool),
    /// Anything else (404 on an external URL, bad URL, too many redirects).
    Permanent(String),
    /// An external URL (or a hop of its redirects) that points at a non-public address.
    Refused(Refusal),
    /// The file is larger than the limit (from `Content-Length` or counted while streaming).
    TooLarge { size: Option<u64>, limit: u64 },
}

/// The HTTP side of downloads: Notion-hosted files through a plain client, external ones
/// through a client whose resolver only connects to public addresses (unless allow-listed) and
/// that follows redirects here, one checked hop at a time.
pub struct Fetcher {
    hosted: reqwest::Client,
    external: reqwest::Client,
    guard: Guard,
    timeouts: Timeouts,
}

impl Fetcher {
    pub fn new(user_agent: &str, timeouts: Timeouts, guard: Guard) -> Result<Fetcher, reqwest::Error> {
        let hosted = http::client_builder(user_agent, &timeouts).build()?;
        let external = http::client_builder(user_agent, &timeouts)
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(guard.resolver())
            .build()?;
        Ok(Fetcher { hosted, external, guard, timeouts })
    }

    /// The plain client (Notion-hosted files, the AI endpoint).
    pub fn plain(&self) -> &reqwest::Client {
        &self.hosted
    }

    /// GET `url` and stream the body to `path`. Only a disk error is an `Err`.
    pub async fn attempt(&self, url: &str, hosted: bool, path: &Path, limit: u64) -> Result<Attempt, std::io::Error> {
        let Ok(mut current) = url::Url::parse(url) else {
            return Ok(Attempt::Permanent("not a valid URL".into()));
        };
        for _ in 0..=MAX_REDIRECTS {
            if !matches!(current.scheme(), "http" | "https") {
                return Ok(Attempt::Permanent(format!("{}: links are not downloaded", current.scheme())));
            }
            let origin = http::origin(current.as_str());
            let req = if hosted {
                self.hosted.get(current.as_str())
            } else {
                if let Err(refusal) = self.guard.check(&current).await {
                    return Ok(Attempt::Refused(refusal));
                }
                self.external.get(current.as_str()).header(ACCEPT, "image/avif,image/webp,image/*,*/*;q=0.8")
            };
            let resp = match http::send(req, None, &self.timeouts).await {
                Ok(r) => r,
                Err(t) => return Ok(transport(&t, &origin, &self.timeouts)),
            };
            let status = resp.status();
            if !hosted && status.is_redirection() && status != StatusCode::NOT_MODIFIED {
                let next =
                    resp.headers().get(LOCATION).and_then(|v| v.to_str().ok()).and_then(|l| current.join(l).ok());
                match next {
                    Some(n) => {
                        tracing::debug!(from = %display_url(current.as_str()), to = %display_url(n.as_str()), "redirected");
                        current = n;
                        continue;
                    }
                    None => {
                        return Ok(Attempt::Permanent(format!("HTTP {} without a usable Location", status.as_u16())))
                    }
                }
            }
            if !status.is_success() {
                let retry_after = http::retry_after(resp.headers());
                let code = status.as_u16();
                let body = read_prefix(resp, 4096, &self.timeouts).await;
                let expired = body.contains("AccessDenied") || body.contains("expired");
                let reason =
                    if expired { format!("HTTP {code} (signed link expired)") } else { format!("HTTP {code}") };
                return Ok(match (code, http::status_class(status)) {
                    (400 | 401 | 403 | 404, _) if hosted => Attempt::Stale(reason),
                    (_, StatusClass::Throttled) => Attempt::Transient(reason, retry_after, true),
                    (_, StatusClass::Transient) => Attempt::Transient(reason, retry_after, false),
                    _ => Attempt::Permanent(reason),
                });
            }
            if let Some(len) = resp.content_length().filter(|&l| l > limit) {
                return Ok(Attempt::TooLarge { size: Some(len), limit });
            }
            let content_type =
                resp.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
            let timeouts = self.timeouts;
            let chunks = http::body(resp, &timeouts).map(|c| c.map_err(|t| t.describe(&origin, "", &timeouts)));
            return match stream_to_file(chunks, path, limit).await {
                Ok(s) => Ok(Attempt::Done(s, content_type)),
                Err(StreamError::TooLarge { limit }) => Ok(Attempt::TooLarge { size: None, limit }),
                Err(StreamError::Body(e)) => Ok(Attempt::Transient(format!("download broke off: {e}"), None, false)),
                Err(StreamError::Io(e)) => Err(e),
            };
        }
        Ok(Attempt::Permanent(format!("more than {MAX_REDIRECTS} redirects")))
    }
}

/// A request without an answer: worth a retry unless the URL itself is the problem.
fn transport(t: &Transport, origin: &str, timeouts: &Timeouts) -> Attempt {
    match t.kind {
        TransportKind::Redirects => Attempt::Permanent("too many redirects".into()),
        TransportKind::InvalidUrl => Attempt::Permanent("not a valid URL".into()),
        _ => Attempt::Transient(t.describe(origin, "", timeouts), None, false),
    }
}

/// Up to `max` bytes of an error body, as lossy text (the rest is dropped unread).
async fn read_prefix(resp: reqwest::Response, max: usize, timeouts: &Timeouts) -> String {
    let mut buf = Vec::new();
    let mut stream = std::pin::pin!(http::body(resp, timeouts));
    while let Some(Ok(chunk)) = stream.next().await {
        buf.extend_from_slice(chunk.as_ref());
        if buf.len() >= max {
            buf.truncate(max);
            break;
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// `url` without query string, fragment or credentials, for messages (`https://host/path`).
pub fn display_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            u.set_query(None);
            u.set_fragment(None);
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        Err(_) => url.split(['?', '#']).next().unwrap_or("").to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The writer streams: while the source is still producing chunk `k`, the bytes of the
    /// earlier chunks are already in the file (the source checks the file size itself).
    #[tokio::test]
    async fn writer_streams_to_disk_instead_of_buffering() {
        const CHUNK: usize = 1 << 20;
        const CHUNKS: usize = 12;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.part");
        let watch = path.clone();
        let lags = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = lags.clone();
        let source = futures::stream::iter(0..CHUNKS).then(move |k| {
            let watch = watch.clone();
            let seen = seen.clone();
            async move {
                let on_disk = tokio::fs::metadata(&watch).await.map(|m| m.len()).unwrap_or(0);
                seen.lock().unwrap().push((k * CHUNK) as u64 - on_disk);
                Ok::<_, std::io::Error>(vec![k as u8; CHUNK])
            }
        });
        let s = stream_to_file(source, &path, u64::MAX).await.unwrap();
        assert_eq!(s.size, (CHUNK * CHUNKS) as u64);
        assert_eq!(s.head.len(), HEAD_LEN);
        let lags = lags.lock().unwrap();
        // At most the write buffer (256 KiB) plus one chunk is ever held back.
        assert!(lags.iter().all(|&l| l <= (CHUNK + 256 * 1024) as u64), "{lags:?}");
        let mut expected = Sha256::new();
        for k in 0..CHUNKS {
            expected.update(vec![k as u8; CHUNK]);
        }
        assert_eq!(s.sha256, hex::encode(expected.finalize()));
    }

    #[tokio::test]
    async fn limit_stops_and_removes_the_partial_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.part");
        let source = futures::stream::iter((0..10).map(|_| Ok::<_, std::io::Error>(vec![0u8; 1000])));
        match stream_to_file(source, &path, 4500).await {
            Err(StreamError::TooLarge { limit: 4500 }) => {}
            other => panic!("{other:?}"),
        }
        assert!(!path.exists());
    }

    #[test]
    fn urls_lose_their_secrets() {
        assert_eq!(
            display_url("https://user:pw@s3.example/a/b.png?X-Amz-Signature=abc#x"),
            "https://s3.example/a/b.png"
        );
        assert_eq!(display_url("not a url?sig=1"), "not a url");
    }
}
