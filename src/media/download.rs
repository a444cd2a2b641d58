//! The [`Downloader`]: one page's file references in, staged files plus a key -> local path map
//! out.
//!
//! Per reference: renew the signed URL first when its `expiry_time` is past, GET it (streamed to
//! `staging_dir/.part-*`), on a stale Notion-hosted URL re-read the owner through
//! [`OwnerSource`] and try the fresh one, on 5xx/timeouts/resets back off and retry under the
//! crate's retry policy, all bounded. An external file that cannot be fetched (refused address,
//! error, a web page instead of the file, over the size limit) is a warning: the reference keeps
//! the copy of the last backup when there is one (`previous`), else its link. Then, in document
//! order: dedupe by SHA-256, sniff the type, name (remembered name first, else AI or heading),
//! and move each file to `staging_dir/<rel_path>`. It owns its HTTP clients (not the Notion API's
//! rate limit) and never writes outside `staging_dir`.
//!
//! `staging_dir` must be private to one `download_page` call (a fresh temp dir per page).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures::StreamExt;
use tokio::sync::Semaphore;

use super::ai::{AiNamer, AiOutcome, AI_MEDIA_TYPES, BREAKER_THRESHOLD, MAX_AI_IMAGE_BYTES};
use super::collect::{fresh_file_in_block, fresh_file_in_page};
use super::fetch::{display_url, Attempt, Fetcher, Streamed};
use super::guard::{host_and_port, Guard};
use super::naming::{self, Taken};
use super::sniff::{looks_like_html, sniff, Sniffed};
use super::{MediaConfig, MediaError, MediaItem, OwnerSource, PageMedia, Role, StagedFile};
use crate::http::Retry;
use crate::markdown::{LocalFile, MediaKey};
use crate::notion::model::FileObject;

/// A signed URL this close to its `expiry_time` is renewed before use.
const EXPIRY_MARGIN_SECS: i64 = 30;
/// Smallest image side worth asking the AI about.
const MIN_AI_SIDE: u32 = 100;

/// Downloads media for the whole run: one set of HTTP clients, one concurrency budget, one AI
/// breaker.
pub struct Downloader {
    fetcher: Fetcher,
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
    /// Not downloaded, with the warning's first part (external failure, refused address, over
    /// the size limit); the reference keeps its previous copy or its link.
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
        let fetcher = Fetcher::new(&cfg.user_agent, cfg.timeouts, Guard::new(&cfg.allow_hosts))
            .map_err(|e| MediaError::Client(e.without_url().to_string()))?;
        let ai = AiNamer::new(fetcher.plain().clone(), cfg.ai.clone(), cfg.timeouts.silence);
        let permits = Arc::new(Semaphore::new(cfg.concurrency.max(1)));
        Ok(Downloader { fetcher, cfg, ai, permits, parts: AtomicU64::new(0) })
    }

    /// True while AI naming is configured and its circuit breaker has not tripped.
    pub fn ai_enabled(&self) -> bool {
        self.ai.enabled()
    }

    /// Download every item of one page into `staging_dir` and name the files.
    ///
    /// `remembered` maps SHA-256 -> path (relative to the page folder) from earlier runs; the
    /// returned [`PageMedia::names`] is the complete map to remember for this page now (it
    /// replaces the old one). `previous` maps each reference's state key
    /// ([`MediaKey::to_state_key`]) to the path its file had in the last backup
    /// ([`PageMedia::keys`] of that run): a reference that cannot be downloaded now keeps that
    /// file ([`PageMedia::kept`]). `Err` means the page must fail: a Notion-hosted file could not
    /// be downloaded (even with renewed links), or the disk failed.
    pub async fn download_page(
        &self,
        items: &[MediaItem],
        source: &dyn OwnerSource,
        remembered: &BTreeMap<String, String>,
        previous: &BTreeMap<String, String>,
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

        // References that were not downloaded keep the file of the last backup, if any.
        let kept_of_item: Vec<Option<String>> = items
            .iter()
            .zip(&job_of_item)
            .map(|(item, &job)| match &results[job] {
                Fetched::Skipped(_) => {
                    previous.get(&item.key.to_state_key()).filter(|p| naming::is_valid_remembered(p)).cloned()
                }
                Fetched::Got { .. } => None,
            })
            .collect();

        let mut uniques = self.group(items, &job_of_item, &results, &kept_of_item, &mut media).await;
        let kept_paths: Vec<&str> = kept_of_item.iter().flatten().map(String::as_str).collect();
        self.name_all(items, &mut uniques, remembered, &kept_paths, &mut media).await;

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
                media.keys.insert(k.to_state_key(), rel.to_string());
            }
            media.names.insert(u.sha.clone(), rel.to_string());
            media.files.push(StagedFile {
                rel_path: rel.to_string(),
                disk_path: disk,
                size: u.size,
                sha256: u.sha.clone(),
            });
        }
        for (item, path) in items.iter().zip(&kept_of_item) {
            let Some(path) = path else { continue };
            let is_image = path.starts_with(naming::ASSETS);
            media.map.insert(item.key.clone(), LocalFile { path: path.clone(), width: None, height: None, is_image });
            media.keys.insert(item.key.to_state_key(), path.clone());
            if !media.kept.contains(path) {
                media.kept.push(path.clone());
            }
            // The kept file's bytes keep their name for when the download works again.
            for (sha, p) in remembered {
                if p == path {
                    media.names.entry(sha.clone()).or_insert_with(|| p.clone());
                }
            }
        }
        Ok(media)
    }

    /// Fold download results into distinct contents in document order; collect warnings (one
    /// per URL, saying whether the last backup's copy was kept).
    async fn group(
        &self,
        items: &[MediaItem],
        job_of_item: &[usize],
        results: &[Fetched],
        kept_of_item: &[Option<String>],
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
                        let kept: Vec<&str> = (i..items.len())
                            .filter(|&k| job_of_item[k] == job)
                            .filter_map(|k| kept_of_item[k].as_deref())
                            .collect();
                        let outcome = match (kept.first(), item.file.is_hosted()) {
                            (Some(p), _) => format!("; kept the copy from the last backup ({p})"),
                            (None, true) => String::new(),
                            (None, false) => "; the page keeps a link to the original".to_string(),
                        };
                        media.warnings.push(format!("{w}{outcome}"));
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
    /// else a new one (images numbered after the highest number in use). `kept` paths (the last
    /// backup's copies of what could not be downloaded) are in use.
    async fn name_all(
        &self,
        items: &[MediaItem],
        uniques: &mut [Unique],
        remembered: &BTreeMap<String, String>,
        kept: &[&str],
        media: &mut PageMedia,
    ) {
        let mut taken = Taken::default();
        for p in kept {
            taken.insert(p);
        }
        for u in uniques.iter_mut() {
            if let Some(p) = remembered.get(&u.sha).filter(|p| naming::is_valid_remembered(p)) {
                if !taken.contains(p) {
                    taken.insert(p);
                    u.path = Some(p.clone());
                }
            }
        }
        let in_use = uniques.iter().filter_map(|u| u.path.as_deref()).chain(kept.iter().copied());
        let mut next = in_use.filter_map(naming::number_of).max().unwrap_or(0) + 1;
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
        let mut retrier = self.cfg.retry.start(name.as_str());
        if is_expired(&file) {
            file = self.refresh(item, &file, source).await?;
            refreshes += 1;
        }
        loop {
            let (Some(url), hosted) = (file.url(), file.is_hosted()) else {
                return Err(MediaError::Vanished { name, owner: item.owner.describe() });
            };
            let io = |e| io_err(&name, &part, e);
            let outcome = self.fetcher.attempt(url, hosted, &part, self.cfg.max_file_bytes).await.map_err(io)?;
            let reason = match outcome {
                Attempt::Done(streamed, content_type) => {
                    tracing::debug!(file = %name, url = %display_url(url), bytes = streamed.size, "downloaded");
                    match (hosted, refused_content(item, &streamed, &content_type)) {
                        (false, Some(reason)) => {
                            // An external "file" that answers with an HTML error or login page
                            // (200 OK) must stay a link, not become an attachment.
                            let _ = tokio::fs::remove_file(&part).await;
                            reason
                        }
                        _ => return Ok(Fetched::Got { part, streamed }),
                    }
                }
                Attempt::TooLarge { size, limit } => return Ok(Fetched::Skipped(too_large(&name, url, size, limit))),
                Attempt::Refused(refusal) => {
                    tracing::warn!(file = %name, host = %refusal.host, why = %refusal.why, "external file refused");
                    return Ok(Fetched::Skipped(format!(
                        "refused to download the external file `{name}` from {}: {refusal} (only hosts listed in \
                         DOWNLOAD_ALLOW_HOSTS may be on loopback, link-local or private addresses)",
                        refusal.host
                    )));
                }
                Attempt::Stale(reason) if hosted && refreshes < self.cfg.max_refreshes => {
                    tracing::debug!(file = %name, %reason, "signed link stale; re-reading its owner");
                    file = self.refresh(item, &file, source).await?;
                    refreshes += 1;
                    continue;
                }
                Attempt::Transient(reason, after, throttled) => {
                    let retry =
                        if throttled { Retry::throttled(&reason, after) } else { Retry::failed(&reason).after(after) };
                    match retrier.pause(retry).await {
                        Ok(()) => continue,
                        Err(_) => reason,
                    }
                }
                Attempt::Stale(r) | Attempt::Permanent(r) => r,
            };
            if hosted {
                return Err(MediaError::Hosted { name, url: display_url(url), reason });
            }
            let host = url_host(url);
            tracing::warn!(file = %name, %host, %reason, "external file not downloaded");
            return Ok(Fetched::Skipped(format!(
                "could not download the external file `{name}` from {host}: {reason}"
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

/// Why the bytes an external URL sent are not the file: an image reference that got no image,
/// or a web page instead of a file.
fn refused_content(item: &MediaItem, streamed: &Streamed, content_type: &str) -> Option<String> {
    let complete = streamed.size as usize <= streamed.head.len();
    let sniffed = sniff(&streamed.head, complete, None);
    if item.role == Role::Image && !sniffed.is_image {
        return Some("the server did not send an image".to_string());
    }
    let html = content_type.starts_with("text/html") || content_type.starts_with("application/xhtml");
    (html || looks_like_html(&streamed.head)).then(|| "the server sent a web page instead of the file".to_string())
}

/// `host[:port]` of a URL, for warnings (never its path or query string).
fn url_host(url: &str) -> String {
    url::Url::parse(url).map(|u| host_and_port(&u)).unwrap_or_else(|_| "an invalid URL".to_string())
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
        "skipped `{name}` from {}{size}: larger than the {:.0} MB limit; raise MAX_FILE_MB to back it up",
        url_host(url),
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
}
