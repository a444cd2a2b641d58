//! One HTTP download attempt, streamed to a file on disk while hashing, plus the classification
//! of what went wrong (expired signed URL, transient, permanent, too large).
//!
//! Never holds a whole file in memory: bytes go from the response stream through a SHA-256
//! hasher into a buffered file writer; only the first [`HEAD_LEN`] bytes are kept, for sniffing.
//! Retrying, refreshing and naming are decided by the caller (`download.rs`).

use std::fmt::Display;
use std::path::Path;
use std::time::Duration;

use futures::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::sniff::HEAD_LEN;

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

/// The outcome of one GET.
#[derive(Debug)]
pub enum Attempt {
    Done(Streamed),
    /// 400/401/403/404 on a Notion-hosted URL: most likely an expired signature; re-read the owner.
    Stale(String),
    /// 408/429/5xx, timeout, connection reset: retry after a pause (`Retry-After` when given).
    Transient(String, Option<Duration>),
    /// Anything else (404 on an external URL, bad URL, too many redirects).
    Permanent(String),
    /// The file is larger than the limit (from `Content-Length` or counted while streaming).
    TooLarge {
        size: Option<u64>,
        limit: u64,
    },
}

/// GET `url` and stream the body to `path`. Only a disk error is an `Err`.
pub async fn attempt(
    client: &reqwest::Client,
    url: &str,
    hosted: bool,
    path: &Path,
    limit: u64,
) -> Result<Attempt, std::io::Error> {
    let mut req = client.get(url);
    if !hosted {
        req = req.header(reqwest::header::ACCEPT, "image/avif,image/webp,image/*,*/*;q=0.8");
    }
    let resp = match req.send().await {
        Ok(r) => r,
        Err(e) => return Ok(classify_error(&e)),
    };
    let status = resp.status();
    if !status.is_success() {
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let code = status.as_u16();
        let body = read_prefix(resp, 4096).await;
        let expired = body.contains("AccessDenied") || body.contains("expired");
        let reason = if expired { format!("HTTP {code} (signed link expired)") } else { format!("HTTP {code}") };
        return Ok(match code {
            400 | 401 | 403 | 404 if hosted => Attempt::Stale(reason),
            408 | 429 | 500..=599 => Attempt::Transient(reason, retry_after),
            _ => Attempt::Permanent(reason),
        });
    }
    if let Some(len) = resp.content_length().filter(|&l| l > limit) {
        return Ok(Attempt::TooLarge { size: Some(len), limit });
    }
    match stream_to_file(resp.bytes_stream(), path, limit).await {
        Ok(s) => Ok(Attempt::Done(s)),
        Err(StreamError::TooLarge { limit }) => Ok(Attempt::TooLarge { size: None, limit }),
        Err(StreamError::Body(e)) => Ok(Attempt::Transient(format!("download broke off: {e}"), None)),
        Err(StreamError::Io(e)) => Err(e),
    }
}

fn classify_error(e: &reqwest::Error) -> Attempt {
    // reqwest errors carry the URL; strip it (signed query strings are secrets).
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_redirect() {
        return Attempt::Permanent("too many redirects".into());
    } else if e.is_builder() {
        return Attempt::Permanent("not a valid URL".into());
    } else {
        "connection failed"
    };
    let detail = std::error::Error::source(e).map(|s| format!(": {s}")).unwrap_or_default();
    Attempt::Transient(format!("{what}{detail}"), None)
}

/// Up to `max` bytes of an error body, as lossy text (the rest is dropped unread).
async fn read_prefix(resp: reqwest::Response, max: usize) -> String {
    let mut buf = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(Ok(chunk)) = stream.next().await {
        buf.extend_from_slice(&chunk);
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
