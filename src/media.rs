//! Media: every file object of a page (image/video/audio/pdf/file blocks, the files property, page
//! icon and cover, callout icons) downloaded into the page folder, typed by its bytes, named stably.
//!
//! This module owns finding file references ([`collect`]), downloading them ([`Downloader`]:
//! streamed to disk, hashed, size-limited, retried, expired signed URLs renewed through
//! [`OwnerSource`]), refusing external URLs that point at loopback, link-local or private
//! addresses unless `DOWNLOAD_ALLOW_HOSTS` lists them ([`guard`]), sniffing their real type, and
//! naming them (`assets/<n>-<slug>.<ext>` for images, `attachments/<safe original name>` for the
//! rest, stable across runs through the remembered SHA-256 -> path map). It must not talk to the
//! Notion API itself (re-reading owners goes through [`OwnerSource`], implemented by the engine),
//! write into a repository, or let a signed URL's query string or the AI key reach a message.
//!
//! Files hosted by Notion must be downloaded (or the page fails and is retried). Files linked from
//! elsewhere are downloaded best-effort: one that cannot be (an error, a refused address, a web
//! page instead of the file, over `MAX_FILE_MB`) is a warning, and keeps the copy of the last
//! backup when there is one, else stays a link. Videos on streaming sites (YouTube, Vimeo, Loom,
//! ...) are not files and stay links.

mod ai;
mod collect;
mod download;
mod fetch;
pub mod guard;
mod naming;
mod sniff;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use crate::http::{RetryPolicy, Timeouts};

use crate::markdown::{LocalFile, MediaKey};
use crate::notion::model::{Block, FileObject, Page};

pub use ai::{sanitize_answer, BREAKER_THRESHOLD};
pub use collect::{
    collect, extension_of, fresh_file_in_block, fresh_file_in_page, is_streaming_site, looks_like_image, url_file_name,
};
pub use download::Downloader;
pub use fetch::{display_url, stream_to_file, StreamError, Streamed};
pub use sniff::{looks_like_html, sniff, Sniffed};

/// The Notion object to re-read when a signed URL has expired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// A block (image/file/... block, or a callout whose icon is a file): `GET /blocks/{id}`.
    Block(String),
    /// A page (icon, cover, files property): `GET /pages/{id}`.
    Page(String),
}

/// Where a file belongs in the page folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `assets/<n>-<slug-of-nearest-heading>.<ext>` (image blocks, icon, cover, image files).
    Image,
    /// `attachments/<original name>` (everything else).
    Attachment,
}

/// One file reference found on a page.
#[derive(Debug, Clone)]
pub struct MediaItem {
    pub key: MediaKey,
    pub file: FileObject,
    pub owner: Owner,
    pub role: Role,
    /// The name Notion shows (file block `name`, files-property entry `name`, or the URL's last
    /// path segment without the query string).
    pub original_name: Option<String>,
    /// Caption text (alt text for images).
    pub caption: String,
    /// Text of the nearest heading above the reference ("" when none).
    pub heading: String,
    /// Text of the paragraph just before the reference ("" when none), for AI naming.
    pub context: String,
}

/// A downloaded file, staged on disk until it is committed.
#[derive(Debug, Clone)]
pub struct StagedFile {
    /// Path relative to the page folder (`assets/1-intro.png`).
    pub rel_path: String,
    pub disk_path: PathBuf,
    pub size: u64,
    /// Lowercase hex SHA-256 of the content.
    pub sha256: String,
}

/// The outcome of downloading one page's media.
#[derive(Debug, Default)]
pub struct PageMedia {
    pub files: Vec<StagedFile>,
    /// For the renderer: where each reference ended up.
    pub map: HashMap<MediaKey, LocalFile>,
    /// SHA-256 -> path relative to the page folder, to remember in the state so that the same
    /// bytes keep the same name on the next run.
    pub names: BTreeMap<String, String>,
    /// Reference ([`MediaKey::to_state_key`]) -> path relative to the page folder of every
    /// reference whose file is in the page folder after this run (downloaded or kept): to
    /// remember, and pass back as `previous` to the next run's [`Downloader::download_page`].
    pub keys: BTreeMap<String, String>,
    /// Paths (relative to the page folder) of files from the last backup kept because this run
    /// could not download them again: not in [`PageMedia::files`], must not be deleted, and
    /// [`PageMedia::map`] points at them.
    pub kept: Vec<String>,
    /// Human-readable warnings (failed external download with its host, size limit exceeded,
    /// copy of the last backup kept, ...).
    pub warnings: Vec<String>,
    pub bytes_downloaded: u64,
}

/// Re-reads the owner of a file reference when its signed URL has expired. Implemented by the
/// engine on the Notion client (`GET /blocks/{id}`, `GET /pages/{id}`); errors are plain
/// messages (already free of secrets).
#[async_trait::async_trait]
pub trait OwnerSource: Send + Sync {
    async fn block(&self, id: &str) -> Result<Block, String>;
    async fn page(&self, id: &str) -> Result<Page, String>;
}

/// Optional AI naming of images through a Messages-API-compatible endpoint.
#[derive(Clone)]
pub struct AiConfig {
    /// Full URL of the messages endpoint (`https://api.anthropic.com/v1/messages`).
    pub api_url: String,
    pub api_key: String,
    pub model: String,
}

impl std::fmt::Debug for AiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AiConfig")
            .field("api_url", &self.api_url)
            .field("api_key", &"<redacted>")
            .field("model", &self.model)
            .finish()
    }
}

/// Settings of the [`Downloader`].
#[derive(Debug, Clone)]
pub struct MediaConfig {
    /// Files larger than this are skipped with a warning (`MAX_FILE_MB`, default 100 MB).
    pub max_file_bytes: u64,
    /// Downloads running at once (per run, across pages). Default 4.
    pub concurrency: usize,
    /// Sent with every download; many CDNs refuse requests without one.
    pub user_agent: String,
    pub ai: Option<AiConfig>,
    /// Connect bound and longest silence of a download (no answer, or no byte of the body; not
    /// a cap on the whole download, so large files on slow links still finish). The silence is
    /// also the AI call's timeout.
    pub timeouts: Timeouts,
    /// Retries of transient failures (5xx, 429, timeouts, resets) per URL.
    pub retry: RetryPolicy,
    /// How often an expired signed URL is renewed through the [`OwnerSource`] before giving up.
    pub max_refreshes: u32,
    /// `DOWNLOAD_ALLOW_HOSTS`: lowercase `host` or `host:port` entries external files may be
    /// fetched from even when they resolve to loopback, link-local or private addresses.
    pub allow_hosts: Vec<String>,
}

/// The default `User-Agent`: browser-compatible prefix (some CDNs insist), honest product token.
pub const DEFAULT_USER_AGENT: &str =
    concat!("Mozilla/5.0 (compatible; notion-git-backup/", env!("CARGO_PKG_VERSION"), ")");

impl Default for MediaConfig {
    fn default() -> Self {
        MediaConfig {
            max_file_bytes: 100 * 1024 * 1024,
            concurrency: 4,
            user_agent: DEFAULT_USER_AGENT.to_string(),
            ai: None,
            timeouts: Timeouts::new(Duration::from_secs(30), Duration::from_secs(60)),
            retry: RetryPolicy {
                max_attempts: 4,
                max_throttled: 4,
                base_delay: Duration::from_secs(1),
                max_delay: Duration::from_secs(30),
                max_total: Duration::from_secs(300),
                max_retry_after: Duration::from_secs(30),
            },
            max_refreshes: 3,
            allow_hosts: Vec::new(),
        }
    }
}

/// Why a page's media could not be backed up. Every variant fails the page (it is retried on
/// the next run and never recorded as backed up); failed or refused external downloads and
/// files over the size limit are warnings in [`PageMedia::warnings`] instead.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("could not set up the HTTP client for downloads: {0}")]
    Client(String),
    #[error(
        "could not download the Notion-hosted file `{name}` ({url}): {reason}. The page is marked \
         failed and retried on the next run; if this keeps happening, check that the file still \
         opens in Notion"
    )]
    Hosted { name: String, url: String, reason: String },
    #[error(
        "the link to the Notion-hosted file `{name}` ({url}) expired and re-reading its {owner} \
         failed: {error}. The page is retried on the next run; check that the integration can \
         still read it"
    )]
    Refresh { name: String, url: String, owner: String, error: String },
    #[error(
        "the file `{name}` is no longer on its {owner} (edited during the backup?); the page is \
         retried on the next run"
    )]
    Vanished { name: String, owner: String },
    #[error(
        "could not write `{path}` while downloading `{name}`: {source}. Check free disk space and \
         that the staging directory is writable"
    )]
    Io {
        name: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Owner {
    /// `block <id>` / `page <id>`, for messages.
    pub fn describe(&self) -> String {
        match self {
            Owner::Block(id) => format!("block {id}"),
            Owner::Page(id) => format!("page {id}"),
        }
    }
}
