//! Markdown rendering: a page (its properties and its block tree) in, the text of `index.md` out.
//!
//! Pure code: no I/O, no clock, no network. Media and links are handed in through
//! [`RenderContext`] (block id -> local relative path, page id -> relative link), so the renderer
//! never sees a signed URL and the same Notion content always gives byte-identical output.

use std::collections::HashMap;

use crate::notion::model::{Block, Page};

/// Identifies one file reference of a page, so the media step can tell the renderer where the
/// file ended up.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MediaKey {
    /// image/video/audio/pdf/file block, or the icon of a callout block, by block id (as in the API).
    Block(String),
    /// The page icon (when it is a file).
    Icon,
    /// The page cover.
    Cover,
    /// Entry `index` of the `files` property named `name`.
    Property { name: String, index: usize },
}

/// A file stored in the page folder by the media step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalFile {
    /// Path relative to the page folder: `assets/1-intro.png`, `attachments/report.pdf`.
    pub path: String,
    /// Pixel size of images, when the header could be read.
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub is_image: bool,
}

/// Everything the renderer needs besides the page itself. All maps may be empty.
#[derive(Debug, Default, Clone, Copy)]
pub struct RenderContext<'a> {
    /// Title of the database the page belongs to (front matter `database`).
    pub database_title: Option<&'a str>,
    /// Where each file reference was stored. A Notion-hosted file missing here is rendered as a
    /// note naming the file, never with its signed URL; an external file missing here stays a
    /// link to its URL.
    pub media: Option<&'a HashMap<MediaKey, LocalFile>>,
    /// Normalized page/database id ([`crate::ids::normalize`]) -> relative link from this page's
    /// `index.md` to the target's backup (e.g. `../other-page/index.md`).
    pub links: Option<&'a HashMap<String, String>>,
    /// Normalized user id -> display name, for people, mentions and created_by.
    pub users: Option<&'a HashMap<String, String>>,
    /// Normalized page id -> title, for relation values.
    pub titles: Option<&'a HashMap<String, String>>,
}

/// Render `index.md` for `page` with its block tree `blocks` (children already attached).
pub fn render_page(page: &Page, blocks: &[Block], ctx: &RenderContext) -> String {
    let _ = (blocks, ctx);
    format!("---\ntitle: {}\n---\n\n# {}\n", serde_json::Value::String(page.title()), page.title())
}
