//! Media: every file object of a page (image/video/audio/pdf/file blocks, the files property, page
//! icon and cover, callout icons) downloaded into the page folder, typed by its bytes, named stably.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use crate::markdown::{LocalFile, MediaKey};
use crate::notion::model::FileObject;

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
    /// Human-readable warnings (failed external download with its URL, size limit exceeded, ...).
    pub warnings: Vec<String>,
    pub bytes_downloaded: u64,
}
