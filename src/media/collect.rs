//! Finding the file objects of a page (pure: no I/O) and pulling a fresh file object for a
//! [`MediaKey`] out of a re-read block or page when a signed URL has expired.
//!
//! Order is document order: page icon, cover, `files` properties (by property name), then the
//! block tree depth-first. Files linked from outside Notion (images, file/pdf/audio/video blocks,
//! `files` entries) are included and downloaded best-effort, like the seed script does; video and
//! audio blocks that embed a streaming site (YouTube, Vimeo, Loom, Spotify, ...) are **excluded**:
//! there is no file to copy, and the renderer keeps them as links.

use std::collections::HashSet;

use crate::markdown::MediaKey;
use crate::notion::model::{plain_text, Block, BlockKind, FileObject, Icon, Page, PropertyKind, RichText};

use super::{MediaItem, Owner, Role};

/// Sites whose video and audio links are players, not files (a host or any of its subdomains).
const STREAMING_SITES: &[&str] = &[
    "youtube.com",
    "youtu.be",
    "youtube-nocookie.com",
    "vimeo.com",
    "loom.com",
    "dailymotion.com",
    "dai.ly",
    "twitch.tv",
    "wistia.com",
    "wistia.net",
    "vidyard.com",
    "streamable.com",
    "tiktok.com",
    "facebook.com",
    "fb.watch",
    "instagram.com",
    "bilibili.com",
    "rumble.com",
    "ted.com",
    "spotify.com",
    "soundcloud.com",
    "music.apple.com",
    "podcasts.apple.com",
    "mixcloud.com",
    "bandcamp.com",
];

/// Extensions that make a `files` entry (or an unknown reference) look like an image.
const IMAGE_EXTS: &[&str] =
    &["png", "jpg", "jpeg", "gif", "webp", "svg", "bmp", "tif", "tiff", "avif", "heic", "heif", "ico"];

/// Every downloadable file reference of `page` and its block tree, in document order, each key
/// once (a synced block shown twice yields its files once).
pub fn collect(page: &Page, blocks: &[Block]) -> Vec<MediaItem> {
    let mut out = Collector { items: Vec::new(), seen: HashSet::new(), heading: String::new(), context: String::new() };
    let page_owner = || Owner::Page(page.id.clone());
    if let Some(Icon::File(f)) = page.icon.as_deref() {
        out.push(MediaKey::Icon, f.clone(), page_owner(), Role::Image, None, String::new());
    }
    if let Some(f) = page.cover.as_deref() {
        out.push(MediaKey::Cover, f.clone(), page_owner(), Role::Image, None, String::new());
    }
    for (name, prop) in &page.properties {
        if let PropertyKind::Files(entries) = &prop.kind {
            for (index, e) in entries.iter().enumerate() {
                let original =
                    Some(e.name.clone()).filter(|n| !n.is_empty()).or_else(|| e.file.url().and_then(url_file_name));
                let role =
                    if original.as_deref().is_some_and(looks_like_image) { Role::Image } else { Role::Attachment };
                let key = MediaKey::Property { name: name.clone(), index };
                out.push(key, e.file.clone(), page_owner(), role, original, String::new());
            }
        }
    }
    out.walk(blocks);
    out.items
}

struct Collector {
    items: Vec<MediaItem>,
    seen: HashSet<MediaKey>,
    heading: String,
    context: String,
}

impl Collector {
    fn push(
        &mut self,
        key: MediaKey,
        file: FileObject,
        owner: Owner,
        role: Role,
        name: Option<String>,
        caption: String,
    ) {
        let downloadable = match &file {
            FileObject::Hosted { .. } | FileObject::External { .. } => true,
            FileObject::Upload { .. } | FileObject::Unknown { .. } => false,
        };
        if !downloadable || !self.seen.insert(key.clone()) {
            return;
        }
        let original_name = name.or_else(|| file.url().and_then(url_file_name));
        self.items.push(MediaItem {
            key,
            file,
            owner,
            role,
            original_name,
            caption,
            heading: self.heading.clone(),
            context: self.context.clone(),
        });
    }

    fn walk(&mut self, blocks: &[Block]) {
        for b in blocks {
            self.visit(b);
            self.walk(&b.children);
        }
    }

    fn visit(&mut self, b: &Block) {
        let text = |rt: &[RichText]| plain_text(rt).trim().to_string();
        match &b.kind {
            BlockKind::Heading1(h) | BlockKind::Heading2(h) | BlockKind::Heading3(h) | BlockKind::Heading4(h) => {
                self.heading = text(&h.rich_text);
                self.context.clear();
            }
            BlockKind::Paragraph(t) | BlockKind::Quote(t) | BlockKind::Toggle(t) | BlockKind::BulletedListItem(t) => {
                let t = text(&t.rich_text);
                if !t.is_empty() {
                    self.context = t;
                }
            }
            BlockKind::Callout(c) => {
                if let Some(Icon::File(f)) = &c.icon {
                    let key = MediaKey::Block(b.id.clone());
                    self.push(key, f.clone(), Owner::Block(b.id.clone()), Role::Image, None, String::new());
                }
                let t = text(&c.rich_text);
                if !t.is_empty() {
                    self.context = t;
                }
            }
            kind => {
                if let Some(m) = kind.media() {
                    let player = matches!(kind, BlockKind::Video(_) | BlockKind::Audio(_))
                        && matches!(&m.file, FileObject::External { url } if is_streaming_site(url));
                    if player {
                        return;
                    }
                    let role = if matches!(kind, BlockKind::Image(_)) { Role::Image } else { Role::Attachment };
                    let key = MediaKey::Block(b.id.clone());
                    let name = m.name.clone().filter(|n| !n.is_empty());
                    self.push(key, m.file.clone(), Owner::Block(b.id.clone()), role, name, text(&m.caption));
                }
            }
        }
    }
}

/// True when `url` points at a streaming site's player (YouTube, Vimeo, Loom, ...), not a file.
pub fn is_streaming_site(url: &str) -> bool {
    let Some(host) = url::Url::parse(url).ok().and_then(|u| u.host_str().map(str::to_ascii_lowercase)) else {
        return false;
    };
    let host = host.trim_end_matches('.');
    STREAMING_SITES.iter().any(|site| host == *site || host.strip_suffix(site).is_some_and(|p| p.ends_with('.')))
}

/// True when `name` (a file name or URL path) ends in an image extension.
pub fn looks_like_image(name: &str) -> bool {
    extension_of(name).is_some_and(|e| IMAGE_EXTS.contains(&e.as_str()))
}

/// Lowercase extension of a file name (`Photo.JPG` -> `jpg`), when it has a plausible one.
pub fn extension_of(name: &str) -> Option<String> {
    let (stem, ext) = name.rsplit_once('.')?;
    (!stem.is_empty() && !ext.is_empty() && ext.len() <= 10 && ext.chars().all(|c| c.is_ascii_alphanumeric()))
        .then(|| ext.to_ascii_lowercase())
}

/// The last path segment of a URL, percent-decoded, without query or fragment.
pub fn url_file_name(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    let last = parsed.path_segments()?.next_back()?.to_string();
    let decoded = percent_decode(&last);
    (!decoded.is_empty()).then_some(decoded)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 3 <= bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The current file object for `key` in a freshly re-read block (media block or callout icon).
pub fn fresh_file_in_block(key: &MediaKey, block: &Block) -> Option<FileObject> {
    if !matches!(key, MediaKey::Block(_)) {
        return None;
    }
    match &block.kind {
        BlockKind::Callout(c) => match &c.icon {
            Some(Icon::File(f)) => Some(f.clone()),
            _ => None,
        },
        kind => kind.media().map(|m| m.file.clone()),
    }
}

/// The current file object for `key` (icon, cover or `files` entry) in a freshly re-read page.
pub fn fresh_file_in_page(key: &MediaKey, page: &Page) -> Option<FileObject> {
    match key {
        MediaKey::Icon => match page.icon.as_deref() {
            Some(Icon::File(f)) => Some(f.clone()),
            _ => None,
        },
        MediaKey::Cover => page.cover.as_deref().cloned(),
        MediaKey::Property { name, index } => match &page.properties.get(name)?.kind {
            PropertyKind::Files(entries) => entries.get(*index).map(|e| e.file.clone()),
            _ => None,
        },
        MediaKey::Block(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rt(s: &str) -> serde_json::Value {
        json!([{"type": "text", "text": {"content": s}, "plain_text": s}])
    }

    fn block(v: serde_json::Value) -> Block {
        serde_json::from_value(v).unwrap()
    }

    fn hosted(url: &str) -> serde_json::Value {
        json!({"type": "file", "file": {"url": url, "expiry_time": "2030-01-01T00:00:00.000Z"}})
    }

    #[test]
    fn streaming_sites_are_players_and_other_hosts_are_not() {
        for url in [
            "https://www.youtube.com/watch?v=x",
            "https://youtu.be/x",
            "https://player.vimeo.com/video/1",
            "https://www.loom.com/share/abc",
            "https://open.spotify.com/episode/1",
            "https://YOUTUBE.com./watch",
        ] {
            assert!(is_streaming_site(url), "{url}");
        }
        for url in [
            "https://cdn.example/clip.mp4",
            "https://notyoutube.com/v.mp4",
            "https://youtube.com.evil.example/x",
            "nonsense",
        ] {
            assert!(!is_streaming_site(url), "{url}");
        }
    }

    #[test]
    fn document_order_headings_context_and_exclusions() {
        let page: Page = serde_json::from_value(json!({
            "id": "p1",
            "icon": hosted("https://s3.example/sp/u/icon.png?X-Amz-Signature=s"),
            "cover": {"type": "external", "external": {"url": "https://cdn.example/cover.jpg"}},
            "properties": {
                "Files": {"id": "f", "type": "files", "files": [
                    {"name": "scan.PDF", "type": "file", "file": {"url": "https://s3.example/a/b/scan.PDF?sig=1"}},
                    {"name": "pic.jpeg", "type": "external", "external": {"url": "https://x.example/pic.jpeg"}},
                    {"name": "doc.pdf", "type": "external", "external": {"url": "https://x.example/doc.pdf"}}
                ]},
                "Name": {"id": "title", "type": "title", "title": rt("T")}
            }
        }))
        .unwrap();
        let mut toggle = block(json!({"id": "t1", "type": "toggle", "toggle": {"rich_text": rt("toggle text")}}));
        toggle.children = vec![block(json!({"id": "img2", "type": "image", "image": {
            "type": "file", "file": {"url": "https://s3.example/a/b/My%20Photo.png?x=1"},
            "caption": rt("nested")}}))];
        let blocks = vec![
            block(json!({"id": "h1", "type": "heading_2", "heading_2": {"rich_text": rt("Intro")}})),
            block(json!({"id": "p", "type": "paragraph", "paragraph": {"rich_text": rt("Look at this")}})),
            block(json!({"id": "img1", "type": "image", "image": {
                "type": "external", "external": {"url": "https://cdn.example/a.gif"}, "caption": rt("cap")}})),
            toggle,
            block(json!({"id": "c1", "type": "callout", "callout": {"rich_text": rt("note"),
                "icon": hosted("https://s3.example/a/b/ic.svg?s=1")}})),
            block(json!({"id": "v1", "type": "video", "video": {"type": "external",
                "external": {"url": "https://www.youtube.com/watch?v=v"}}})),
            block(json!({"id": "v2", "type": "video", "video": {"type": "external",
                "external": {"url": "https://cdn.example/talk.mp4"}}})),
            block(json!({"id": "f1", "type": "file", "file": {"type": "file",
                "file": {"url": "https://s3.example/a/b/raw?s=1"}, "name": "Report Q1.xlsx"}})),
        ];
        let items = collect(&page, &blocks);
        let keys: Vec<_> = items.iter().map(|i| i.key.clone()).collect();
        assert_eq!(
            keys,
            vec![
                MediaKey::Icon,
                MediaKey::Cover,
                MediaKey::Property { name: "Files".into(), index: 0 },
                MediaKey::Property { name: "Files".into(), index: 1 },
                MediaKey::Property { name: "Files".into(), index: 2 },
                MediaKey::Block("img1".into()),
                MediaKey::Block("img2".into()),
                MediaKey::Block("c1".into()),
                MediaKey::Block("v2".into()),
                MediaKey::Block("f1".into()),
            ]
        );
        let by = |k: &str| items.iter().find(|i| i.key == MediaKey::Block(k.into())).unwrap();
        assert_eq!(items[2].role, Role::Attachment);
        assert_eq!(items[2].original_name.as_deref(), Some("scan.PDF"));
        assert_eq!(items[3].role, Role::Image);
        assert_eq!(items[4].role, Role::Attachment);
        assert_eq!(items[4].original_name.as_deref(), Some("doc.pdf"));
        assert_eq!(by("v2").role, Role::Attachment);
        assert_eq!(by("v2").original_name.as_deref(), Some("talk.mp4"));
        assert_eq!(by("img1").heading, "Intro");
        assert_eq!(by("img1").context, "Look at this");
        assert_eq!(by("img1").caption, "cap");
        assert_eq!(by("img2").context, "toggle text");
        assert_eq!(by("img2").original_name.as_deref(), Some("My Photo.png"));
        assert_eq!(by("c1").role, Role::Image);
        assert_eq!(by("c1").owner, Owner::Block("c1".into()));
        assert_eq!(by("f1").original_name.as_deref(), Some("Report Q1.xlsx"));
        assert_eq!(by("f1").role, Role::Attachment);
        assert_eq!(items[0].owner, Owner::Page("p1".into()));
    }

    #[test]
    fn synced_copies_yield_one_item() {
        let img = json!({"id": "same", "type": "image", "image": {"type": "file", "file": {"url": "https://s/x.png"}}});
        let mut s1 = block(json!({"id": "s1", "type": "synced_block", "synced_block": {"synced_from": null}}));
        s1.children = vec![block(img.clone())];
        let mut s2 =
            block(json!({"id": "s2", "type": "synced_block", "synced_block": {"synced_from": {"block_id": "s1"}}}));
        s2.children = vec![block(img)];
        let page: Page = serde_json::from_value(json!({"id": "p"})).unwrap();
        assert_eq!(collect(&page, &[s1, s2]).len(), 1);
    }

    #[test]
    fn fresh_files_from_reread_owners() {
        let b = block(json!({"id": "i", "type": "image", "image": hosted("https://new/x.png")}));
        let f = fresh_file_in_block(&MediaKey::Block("i".into()), &b).unwrap();
        assert_eq!(f.url(), Some("https://new/x.png"));
        let page: Page = serde_json::from_value(json!({"id": "p", "cover": hosted("https://new/c.png"),
            "properties": {"F": {"id": "f", "type": "files", "files": [
                {"name": "a", "type": "file", "file": {"url": "https://new/a"}}]}}}))
        .unwrap();
        assert_eq!(fresh_file_in_page(&MediaKey::Cover, &page).unwrap().url(), Some("https://new/c.png"));
        let k = MediaKey::Property { name: "F".into(), index: 0 };
        assert_eq!(fresh_file_in_page(&k, &page).unwrap().url(), Some("https://new/a"));
        assert!(fresh_file_in_page(&MediaKey::Property { name: "F".into(), index: 1 }, &page).is_none());
        assert!(fresh_file_in_page(&MediaKey::Icon, &page).is_none());
    }

    #[test]
    fn url_names_and_extensions() {
        assert_eq!(url_file_name("https://a/b/c%20d.png?x=1#f").as_deref(), Some("c d.png"));
        assert_eq!(url_file_name("https://a/").as_deref(), None);
        assert_eq!(extension_of("a.JPG").as_deref(), Some("jpg"));
        assert_eq!(extension_of(".bashrc"), None);
        assert!(looks_like_image("x.webp") && !looks_like_image("x.pdf"));
    }
}
