//! The [`Downloader`]: one page's file references in, staged files plus a key -> local path map
//! out.
//!
//! Per reference: renew the signed URL first when its `expiry_time` is past, GET it (streamed to
//! `staging_dir/.part-*`), on a stale Notion-hosted URL re-read the owner through
//! [`OwnerSource`] and try the fresh one, on 5xx/timeouts/resets back off and retry, all bounded.
//! Then, in document order: dedupe by SHA-256, sniff the type, name (remembered name first, else
//! AI or heading), and move each file to `staging_dir/<rel_path>`. It owns its HTTP client (not
//! the Notion API's rate limit) and never writes outside `staging_dir`.
//!
//! `staging_dir` must be private to one `download_page` call (a fresh temp dir per page).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::Semaphore;

use super::ai::{AiNamer, AiOutcome, AI_MEDIA_TYPES, BREAKER_THRESHOLD, MAX_AI_IMAGE_BYTES};
use super::collect::{fresh_file_in_block, fresh_file_in_page};
use super::fetch::{attempt, display_url, Attempt, Streamed};
use super::naming::{self, Taken};
use super::sniff::{sniff, Sniffed};
use super::{MediaConfig, MediaError, MediaItem, OwnerSource, PageMedia, Role, StagedFile};
use crate::markdown::{LocalFile, MediaKey};
use crate::notion::model::FileObject;

/// A signed URL this close to its `expiry_time` is renewed before use.
const EXPIRY_MARGIN_SECS: i64 = 30;
/// Longest pause between retries.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Smallest image side worth asking the AI about.
const MIN_AI_SIDE: u32 = 100;

/// Downloads media for the whole run: one HTTP client, one concurrency budget, one AI breaker.
pub struct Downloader {
    client: reqwest::Client,
    cfg: MediaConfig,
    ai: AiNamer,
    permits: Arc<Semaphore>,
    parts: AtomicU64,
}

/// What fetching one reference produced.
enum Fetched {
    Got {
        part: PathBuf,
        streamed: Streamed,
    },
    /// Left out of the map, with a warning (external failure, over the size limit).
    Skipped(String),
}

/// One distinct content (by SHA-256) of the page, in document order of its first use.
struct Unique {
    sha: String,
    part: PathBuf,
    size: u64,
    sniffed: Sniffed,
    first: usize,
    keys: Vec<MediaKey>,
    placement: Role,
    width: Option<u32>,
    height: Option<u32>,
    path: Option<String>,
}

impl Downloader {
    pub fn new(cfg: MediaConfig) -> Result<Self, MediaError> {
        let client = reqwest::Client::builder()
            .use_rustls_tls()
            .user_agent(cfg.user_agent.clone())
            .connect_timeout(cfg.request_timeout)
            .read_timeout(cfg.request_timeout)
            .build()
            .map_err(|e| MediaError::Client(e.to_string()))?;
        let ai = AiNamer::new(client.clone(), cfg.ai.clone(), cfg.request_timeout);
        let permits = Arc::new(Semaphore::new(cfg.concurrency.max(1)));
        Ok(Downloader { client, cfg, ai, permits, parts: AtomicU64::new(0) })
    }

    /// True while AI naming is configured and its circuit breaker has not tripped.
    pub fn ai_enabled(&self) -> bool {
        self.ai.enabled()
    }

    /// Download every item of one page into `staging_dir` and name the files.
    ///
    /// `remembered` maps SHA-256 -> path (relative to the page folder) from earlier runs; the
    /// returned [`PageMedia::names`] is the complete map to remember for this page now (it
    /// replaces the old one). `Err` means the page must fail: a Notion-hosted file could not be
    /// downloaded (even with renewed links), or the disk failed.
    pub async fn download_page(
        &self,
        items: &[MediaItem],
        source: &dyn OwnerSource,
        remembered: &BTreeMap<String, String>,
        staging_dir: &Path,
    ) -> Result<PageMedia, MediaError> {
        let mut media = PageMedia::default();
        if items.is_empty() {
            return Ok(media);
        }
        tokio::fs::create_dir_all(staging_dir).await.map_err(|e| io_err("staging directory", staging_dir, e))?;

        // The same URL twice on a page (an external image reused) is fetched once.
        let mut job_of_url: HashMap<&str, usize> = HashMap::new();
        let mut jobs: Vec<usize> = Vec::new();
        let job_of_item: Vec<usize> = items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let url = item.file.url().unwrap_or("");
                *job_of_url.entry(url).or_insert_with(|| {
                    jobs.push(i);
                    jobs.len() - 1
                })
            })
            .collect();
        let results: Vec<Result<Fetched, MediaError>> = futures::stream::iter(jobs.iter().copied())
            .map(|i| self.fetch_item(&items[i], source, staging_dir))
            .buffered(self.cfg.concurrency.max(1))
            .collect()
            .await;
        let mut fetched = Vec::with_capacity(results.len());
        let mut first_error = None;
        for r in results {
            match r {
                Ok(f) => fetched.push(f),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if let Some(e) = first_error {
            remove_parts(&fetched).await;
            return Err(e);
        }
        let results = fetched;

        let mut uniques = self.group(items, &job_of_item, &results, &mut media).await;
        self.name_all(items, &mut uniques, remembered, &mut media).await;

        for u in &uniques {
            let rel = u.path.as_deref().expect("every unique file was named");
            let disk = staging_dir.join(rel);
            if let Some(dir) = disk.parent() {
                tokio::fs::create_dir_all(dir).await.map_err(|e| io_err(rel, dir, e))?;
            }
            tokio::fs::rename(&u.part, &disk).await.map_err(|e| io_err(rel, &disk, e))?;
            let local =
                LocalFile { path: rel.to_string(), width: u.width, height: u.height, is_image: u.sniffed.is_image };
            for k in &u.keys {
                media.map.insert(k.clone(), local.clone());
            }
            media.names.insert(u.sha.clone(), rel.to_string());
            media.files.push(StagedFile {
                rel_path: rel.to_string(),
                disk_path: disk,
                size: u.size,
                sha256: u.sha.clone(),
            });
        }
        Ok(media)
    }

    /// Fold download results into distinct contents in document order; collect warnings.
    async fn group(
        &self,
        items: &[MediaItem],
        job_of_item: &[usize],
        results: &[Fetched],
        media: &mut PageMedia,
    ) -> Vec<Unique> {
        let mut uniques: Vec<Unique> = Vec::new();
        let mut by_sha: HashMap<String, usize> = HashMap::new();
        let mut job_seen = vec![false; results.len()];
        for (i, item) in items.iter().enumerate() {
            let job = job_of_item[i];
            let first_use = !std::mem::replace(&mut job_seen[job], true);
            match &results[job] {
                Fetched::Skipped(w) => {
                    if first_use {
                        media.warnings.push(w.clone());
                    }
                }
                Fetched::Got { part, streamed } => {
                    if first_use {
                        media.bytes_downloaded += streamed.size;
                    }
                    if let Some(&u) = by_sha.get(&streamed.sha256) {
                        uniques[u].keys.push(item.key.clone());
                        if uniques[u].part != *part {
                            let _ = tokio::fs::remove_file(part).await;
                        }
                        continue;
                    }
                    let complete = streamed.size as usize <= streamed.head.len();
                    let sniffed = sniff(&streamed.head, complete, item.original_name.as_deref());
                    let placement =
                        if item.role == Role::Image && sniffed.is_image { Role::Image } else { Role::Attachment };
                    let (width, height) = if sniffed.is_image { dimensions(part).await } else { (None, None) };
                    by_sha.insert(streamed.sha256.clone(), uniques.len());
                    uniques.push(Unique {
                        sha: streamed.sha256.clone(),
                        part: part.clone(),
                        size: streamed.size,
                        sniffed,
                        first: i,
                        keys: vec![item.key.clone()],
                        placement,
                        width,
                        height,
                        path: None,
                    });
                }
            }
        }
        uniques
    }

    /// Give every distinct content its path: the remembered one when still valid and free,
    /// else a new one (images numbered after the highest number in use).
    async fn name_all(
        &self,
        items: &[MediaItem],
        uniques: &mut [Unique],
        remembered: &BTreeMap<String, String>,
        media: &mut PageMedia,
    ) {
        let mut taken = Taken::default();
        for u in uniques.iter_mut() {
            if let Some(p) = remembered.get(&u.sha).filter(|p| naming::is_valid_remembered(p)) {
                if !taken.contains(p) {
                    taken.insert(p);
                    u.path = Some(p.clone());
                }
            }
        }
        let mut next =
            uniques.iter().filter_map(|u| u.path.as_deref().and_then(naming::number_of)).max().unwrap_or(0) + 1;
        for u in uniques.iter_mut().filter(|u| u.path.is_none()) {
            let item = &items[u.first];
            let candidate = match u.placement {
                Role::Image => {
                    let slug = match self.ai_slug(u, item, media).await {
                        Some(s) => s,
                        None => naming::default_slug(&item.key, &item.heading),
                    };
                    let p = naming::image_path(next, &slug, &u.sniffed.ext);
                    next += 1;
                    p
                }
                Role::Attachment => naming::attachment_path(item.original_name.as_deref(), &u.sniffed),
            };
            let path = taken.unique(&candidate);
            taken.insert(&path);
            u.path = Some(path);
        }
    }

    /// An AI slug for a new image, when AI naming is on and the image qualifies.
    async fn ai_slug(&self, u: &Unique, item: &MediaItem, media: &mut PageMedia) -> Option<String> {
        let big_enough = u.width.unwrap_or(0) >= MIN_AI_SIDE && u.height.unwrap_or(0) >= MIN_AI_SIDE;
        if !self.ai.enabled()
            || !AI_MEDIA_TYPES.contains(&u.sniffed.mime.as_str())
            || !big_enough
            || u.size > MAX_AI_IMAGE_BYTES
        {
            return None;
        }
        let bytes = tokio::fs::read(&u.part).await.ok()?;
        match self.ai.name(&bytes, &u.sniffed.mime, &item.heading, &item.context).await {
            AiOutcome::Named(slug) => Some(slug),
            AiOutcome::Tripped(reason) => {
                media.warnings.push(format!(
                    "AI naming turned off for the rest of this run after {BREAKER_THRESHOLD} failures in a row \
                     (last: {reason}); images are named after their headings. Check AI_API_URL, the key and the model"
                ));
                None
            }
            AiOutcome::Failed(_) | AiOutcome::Off => None,
        }
    }

    /// Fetch one reference to a part file, renewing expired links and retrying transient
    /// failures, both bounded.
    async fn fetch_item(
        &self,
        item: &MediaItem,
        source: &dyn OwnerSource,
        staging: &Path,
    ) -> Result<Fetched, MediaError> {
        let _permit = self.permits.acquire().await.expect("the semaphore is never closed");
        let part = staging.join(format!(".part-{}", self.parts.fetch_add(1, Ordering::Relaxed)));
        let name = display_name(item);
        let mut file = item.file.clone();
        let mut refreshes = 0;
        let mut tries = 0;
        if is_expired(&file) {
            file = self.refresh(item, &file, source).await?;
            refreshes += 1;
        }
        loop {
            let (Some(url), hosted) = (file.url(), file.is_hosted()) else {
                return Err(MediaError::Vanished { name, owner: item.owner.describe() });
            };
            let io = |e| io_err(&name, &part, e);
            let outcome = attempt(&self.client, url, hosted, &part, self.cfg.max_file_bytes).await.map_err(io)?;
            let reason = match outcome {
                Attempt::Done(streamed) => {
                    tracing::debug!(file = %name, url = %display_url(url), bytes = streamed.size, "downloaded");
                    // An external "image" that answers with an HTML error page (200 OK) must
                    // stay a link, not become an attachment.
                    let complete = streamed.size as usize <= streamed.head.len();
                    if !hosted && !sniff(&streamed.head, complete, None).is_image {
                        let _ = tokio::fs::remove_file(&part).await;
                        "the server did not send an image".to_string()
                    } else {
                        return Ok(Fetched::Got { part, streamed });
                    }
                }
                Attempt::TooLarge { size, limit } => return Ok(Fetched::Skipped(too_large(&name, url, size, limit))),
                Attempt::Stale(reason) if hosted && refreshes < self.cfg.max_refreshes => {
                    tracing::debug!(file = %name, %reason, "signed link stale; re-reading its owner");
                    file = self.refresh(item, &file, source).await?;
                    refreshes += 1;
                    continue;
                }
                Attempt::Transient(reason, retry_after) if tries + 1 < self.cfg.max_attempts.max(1) => {
                    tries += 1;
                    let pause = backoff(self.cfg.retry_base_delay, tries, retry_after);
                    tracing::debug!(file = %name, %reason, attempt = tries, ?pause, "retrying download");
                    tokio::time::sleep(pause).await;
                    continue;
                }
                Attempt::Stale(r) | Attempt::Transient(r, _) | Attempt::Permanent(r) => r,
            };
            if hosted {
                return Err(MediaError::Hosted { name, url: display_url(url), reason });
            }
            tracing::warn!(file = %name, url = %display_url(url), %reason, "external file not downloaded");
            return Ok(Fetched::Skipped(format!(
                "could not download the external file `{name}` ({}): {reason}; the page keeps a link to the original",
                display_url(url)
            )));
        }
    }

    /// Re-read the owner of `item` for a fresh file object.
    async fn refresh(
        &self,
        item: &MediaItem,
        stale: &FileObject,
        source: &dyn OwnerSource,
    ) -> Result<FileObject, MediaError> {
        let owner = item.owner.describe();
        let fresh = match &item.owner {
            super::Owner::Block(id) => source.block(id).await.map(|b| fresh_file_in_block(&item.key, &b)),
            super::Owner::Page(id) => source.page(id).await.map(|p| fresh_file_in_page(&item.key, &p)),
        };
        let url = display_url(stale.url().unwrap_or(""));
        match fresh {
            Ok(Some(f)) => Ok(f),
            Ok(None) => Err(MediaError::Vanished { name: display_name(item), owner }),
            Err(error) => Err(MediaError::Refresh { name: display_name(item), url, owner, error }),
        }
    }
}

/// True when a Notion-hosted file's `expiry_time` is past (or about to be).
fn is_expired(file: &FileObject) -> bool {
    let FileObject::Hosted { expiry_time: Some(t), .. } = file else {
        return false;
    };
    chrono::DateTime::parse_from_rfc3339(t)
        .map(|t| t.timestamp() - chrono::Utc::now().timestamp() <= EXPIRY_MARGIN_SECS)
        .unwrap_or(false)
}

/// Exponential backoff with jitter; `Retry-After` wins when larger. Capped at [`MAX_BACKOFF`].
fn backoff(base: Duration, attempt: u32, retry_after: Option<Duration>) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.min(10));
    let jitter = exp.mul_f64(rand::random::<f64>() * 0.5);
    (exp + jitter).max(retry_after.unwrap_or_default()).min(MAX_BACKOFF)
}

fn display_name(item: &MediaItem) -> String {
    match (&item.original_name, &item.key) {
        (Some(n), _) => n.clone(),
        (None, MediaKey::Icon) => "page icon".into(),
        (None, MediaKey::Cover) => "page cover".into(),
        (None, MediaKey::Property { name, index }) => format!("{name} #{}", index + 1),
        (None, MediaKey::Block(id)) => format!("file of block {id}"),
    }
}

fn too_large(name: &str, url: &str, size: Option<u64>, limit: u64) -> String {
    let mb = |b: u64| b as f64 / (1024.0 * 1024.0);
    let size = size.map(|s| format!(" ({:.1} MB)", mb(s))).unwrap_or_default();
    format!(
        "skipped `{name}` ({}){size}: larger than the {:.0} MB limit; raise MAX_FILE_MB to back it up",
        display_url(url),
        mb(limit)
    )
}

async fn dimensions(path: &Path) -> (Option<u32>, Option<u32>) {
    let path = path.to_path_buf();
    match tokio::task::spawn_blocking(move || imagesize::size(path)).await {
        Ok(Ok(s)) => (u32::try_from(s.width).ok(), u32::try_from(s.height).ok()),
        _ => (None, None),
    }
}

async fn remove_parts(results: &[Fetched]) {
    for r in results {
        if let Fetched::Got { part, .. } = r {
            let _ = tokio::fs::remove_file(part).await;
        }
    }
}

fn io_err(name: &str, path: &Path, source: std::io::Error) -> MediaError {
    MediaError::Io { name: name.to_string(), path: path.to_path_buf(), source }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry() {
        let f = |t: &str| FileObject::Hosted { url: "u".into(), expiry_time: Some(t.into()) };
        assert!(is_expired(&f("2001-01-01T00:00:00.000Z")));
        assert!(!is_expired(&f("2999-01-01T00:00:00.000Z")));
        assert!(!is_expired(&f("garbage")));
        assert!(!is_expired(&FileObject::External { url: "u".into() }));
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let b = Duration::from_millis(100);
        assert!(backoff(b, 1, None) >= Duration::from_millis(200));
        assert!(backoff(b, 1, None) <= Duration::from_millis(300));
        assert_eq!(backoff(b, 30, None), MAX_BACKOFF);
        assert_eq!(backoff(b, 1, Some(Duration::from_secs(5))), Duration::from_secs(5));
    }
}
