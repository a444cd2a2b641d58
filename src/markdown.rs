//! Markdown rendering: a page (its properties and its block tree) in, the text of `index.md` out.
//!
//! Pure code: no I/O, no clock, no network. Media and links are handed in through
//! [`RenderContext`] (block id -> local relative path, page id -> relative link), so the renderer
//! never sees a signed URL and the same Notion content always gives byte-identical output.
//!
//! Layout: [`front_matter`] writes the YAML block (page metadata, every property), [`inline`]
//! turns rich text into escaped inline Markdown, `blocks` renders the block tree, [`safe`] keeps
//! control characters out of every file and decides which URLs may be links and how link
//! destinations are encoded, [`database`] writes a database folder's index and CSV. This module
//! must not read files, the clock or the network, and must not write any URL it was not handed
//! (signed Notion file URLs in particular).

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::ids;
use crate::notion::model::{Block, Page, PropertyKind, RichText};

mod blocks;
pub mod comments;
pub mod database;
pub mod front_matter;
pub mod inline;
pub mod page_json;
pub mod safe;

pub use front_matter::{property_to_plain, property_to_plain_named, yaml_str, FrontMatterStyle};
pub use inline::{rich_text_to_html, rich_text_to_markdown, rich_text_to_plain};

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

impl MediaKey {
    /// Stable text form, for the state file: `block:<id>`, `icon`, `cover`, `property:<index>:<name>`.
    pub fn to_state_key(&self) -> String {
        match self {
            MediaKey::Block(id) => format!("block:{}", ids::normalize(id)),
            MediaKey::Icon => "icon".into(),
            MediaKey::Cover => "cover".into(),
            MediaKey::Property { name, index } => format!("property:{index}:{name}"),
        }
    }

    /// The key written by [`MediaKey::to_state_key`] (block ids come back normalized).
    pub fn from_state_key(s: &str) -> Option<MediaKey> {
        match s {
            "icon" => Some(MediaKey::Icon),
            "cover" => Some(MediaKey::Cover),
            _ => {
                if let Some(id) = s.strip_prefix("block:") {
                    return Some(MediaKey::Block(id.to_string()));
                }
                let (index, name) = s.strip_prefix("property:")?.split_once(':')?;
                Some(MediaKey::Property { name: name.to_string(), index: index.parse().ok()? })
            }
        }
    }
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

/// Where the backups of pages and databases are, for links: canonical id -> root-relative path
/// or absolute URL. A map is one; the engine answers from where each node lives instead of
/// keeping a map per repository.
pub trait LinkTargets: std::fmt::Debug {
    fn target(&self, id: &str) -> Option<String>;
}

impl<S: std::hash::BuildHasher> LinkTargets for HashMap<String, String, S> {
    fn target(&self, id: &str) -> Option<String> {
        self.get(id).cloned()
    }
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
    pub links: Option<&'a dyn LinkTargets>,
    /// Prepended to every relative link of `links` (e.g. `../../` for a page two folders below the
    /// repository root when `links` holds root-relative paths). Empty by default.
    pub link_prefix: &'a str,
    /// Normalized user id -> display name, for people, mentions and created_by.
    pub users: Option<&'a HashMap<String, String>>,
    /// Normalized page id -> title, for relation values.
    pub titles: Option<&'a HashMap<String, String>>,
    /// Collects the normalized id of every page or database the output refers to (mention,
    /// `link_to_page`, relation, child page/database, a text link to a Notion page) that `links`
    /// did not resolve, so the engine can render the page again once the target's backup is known.
    pub unresolved: Option<&'a RefCell<BTreeSet<String>>>,
    /// Property names in the database's own (schema) order, for the front matter, the CSV columns
    /// and the README table. Properties it does not name follow by name; without it, name order.
    pub property_order: Option<&'a [String]>,
    /// Layout of the properties in the front matter (`FRONT_MATTER`).
    pub front_matter: FrontMatterStyle,
    /// Collects every page or database id the output links to, with the link used (`None` when
    /// unresolved), so the engine can tell when a target's backup moved after this render.
    pub linked: Option<&'a RefCell<BTreeMap<String, Option<String>>>>,
}

impl<'a> RenderContext<'a> {
    /// Where the file reference `key` was stored, if it was.
    pub fn media_file(&self, key: &MediaKey) -> Option<&'a LocalFile> {
        self.media?.get(key)
    }

    /// Relative link to the backup of page/database `id` (any id form).
    /// An id without a link is noted in `unresolved`.
    pub fn link(&self, id: &str) -> Option<std::borrow::Cow<'a, str>> {
        let found = self.links.and_then(|l| l.target(&ids::normalize(id)));
        if let Some(seen) = self.linked {
            seen.borrow_mut().insert(ids::normalize(id), found.clone());
        }
        let Some(l) = found else {
            if let Some(u) = self.unresolved {
                u.borrow_mut().insert(ids::normalize(id));
            }
            return None;
        };
        if self.link_prefix.is_empty() || l.contains("://") {
            Some(std::borrow::Cow::Owned(l))
        } else {
            Some(std::borrow::Cow::Owned(format!("{}{l}", self.link_prefix)))
        }
    }

    /// Display name of user `id` (any id form).
    pub fn user(&self, id: &str) -> Option<&'a str> {
        self.users?.get(&ids::normalize(id)).map(String::as_str)
    }

    /// Title of page `id` (any id form).
    pub fn title(&self, id: &str) -> Option<&'a str> {
        self.titles?.get(&ids::normalize(id)).map(String::as_str)
    }
}

/// Render `index.md` for `page` with its block tree `blocks` (children already attached):
/// front matter, `# <title>` (the only level-1 heading), then the body.
/// No control character reaches the file (see [`safe`]).
pub fn render_page(page: &Page, blocks: &[Block], ctx: &RenderContext) -> String {
    let mut out = front_matter::front_matter(page, ctx);
    let title_rt: &[RichText] = page
        .properties
        .values()
        .find_map(|p| match &p.kind {
            PropertyKind::Title(rt) => Some(rt.as_slice()),
            _ => None,
        })
        .unwrap_or(&[]);
    let title = inline::render(title_rt, ctx, inline::Mode::Line);
    out.push_str("\n# ");
    out.push_str(if title.is_empty() { inline::UNTITLED } else { &title });
    out.push('\n');

    let mut r = blocks::Renderer::new(ctx, None);
    let mut body = r.seq(blocks).text;
    if r.has_toc {
        // Second pass now that every heading (and so every anchor) is known.
        let title_plain = rich_text_to_plain(title_rt, ctx);
        let toc = blocks::toc(if title.is_empty() { inline::UNTITLED } else { &title_plain }, &r.headings);
        body = blocks::Renderer::new(ctx, Some(toc)).seq(blocks).text;
    }
    if !body.is_empty() {
        out.push('\n');
        out.push_str(&body);
        out.push('\n');
    }
    safe::clean_document(out)
}

#[cfg(test)]
mod key_tests {
    use super::*;

    #[test]
    fn media_keys_round_trip_through_their_state_form() {
        let keys = [
            MediaKey::Block("0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0".into()),
            MediaKey::Icon,
            MediaKey::Cover,
            MediaKey::Property { name: "Files: a:b".into(), index: 3 },
        ];
        for k in keys {
            let back = MediaKey::from_state_key(&k.to_state_key()).unwrap();
            match (&k, &back) {
                (MediaKey::Block(a), MediaKey::Block(b)) => assert_eq!(ids::normalize(a), *b),
                _ => assert_eq!(k, back),
            }
        }
        assert_eq!(MediaKey::from_state_key("property:x:name"), None);
    }

    #[test]
    fn an_unresolved_link_is_collected() {
        let links: HashMap<String, String> = [("a".repeat(32), "a/index.md".to_string())].into();
        let seen = RefCell::new(BTreeSet::new());
        let ctx = RenderContext { links: Some(&links), unresolved: Some(&seen), ..Default::default() };
        assert!(ctx.link(&"a".repeat(32)).is_some());
        assert!(ctx.link(&"b".repeat(32)).is_none());
        assert_eq!(seen.into_inner(), BTreeSet::from(["b".repeat(32)]));
    }
}
