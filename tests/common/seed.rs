//! Backups the way `notion-gitea-backup.py` (the "seed", lbakyl/backup-notion-to-git) writes
//! them, for tests of the upgrade from it: its folder names, its asset and attachment names, its
//! `index.md` front matter and body for the blocks used here, its one-commit-per-file writes
//! through Gitea's single-file contents API, and its `{"synced_pages": …}` state file.
//!
//! These are facts read from the seed and checked against its real output (run by hand against
//! the fakes, never from the test suite), written down here as our own code:
//! - folder: `slugify(title, 80)`, else the first 8 characters of the dashed page id; when two
//!   pages of one database share a folder, each gets `-<first 8 characters of the id>` appended;
//!   the title is the first non-empty `title` property's plain text, `Untitled` when empty;
//! - `slugify`: NFD, lowercase, drop everything but `[a-z0-9]`, whitespace and `-`, whitespace
//!   runs -> `-`, dash runs -> one, trim dashes, cut to `max` at the last dash past `max / 3`;
//! - images: `assets/<n>-<slugify(heading, 30)>.<ext>`, `n` counting the page's images, the
//!   heading the last non-empty heading above (the page title before the first), `ext` sniffed
//!   from the bytes (png, jpg, gif, webp), else from the URL path, else `png`;
//! - attachments (`file` blocks): `attachments/<the block's name, unchanged>`;
//! - `index.md`: `---`, `title: "<title>"`, `source: notion`, `notion_id: <dashed id>`,
//!   `backed_up: <time of the run>`, `---`, a blank line, `# <title>`, then the body;
//! - state: `{"synced_pages": {"<dashed id>": "<last_edited_time>"}}`, indented by 2, in the
//!   order the database query returned the pages (last edited first).
//!
//! It must not call the crate under test: it describes someone else's program.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use serde_json::{json, Value};

use super::fake_notion::{dashed, World};
use super::fixtures::{self, DbIds};

/// One block of a seed-era page, as far as these tests need.
#[derive(Clone, Debug)]
pub enum SeedBlock {
    Paragraph(String),
    /// Level 1-3 (the seed writes them one level down: `##`..`####`).
    Heading(u8, String),
    /// A Notion-hosted image: the uploaded file's name (its extension is in the URL) and bytes.
    Image {
        name: String,
        bytes: Vec<u8>,
    },
    /// A `file` block: its `name` and bytes.
    File {
        name: String,
        bytes: Vec<u8>,
    },
}

/// A row of a database as the seed saw it.
#[derive(Clone, Debug)]
pub struct SeedPage {
    /// Dashed id, as the API prints it.
    pub id: String,
    pub title: String,
    pub last_edited_time: String,
    pub blocks: Vec<SeedBlock>,
}

/// The seed's `slugify(text, max_len)`.
pub fn slugify(text: &str, max: usize) -> String {
    let nfd = icu_normalizer::DecomposingNormalizerBorrowed::new_nfd().normalize(text).to_lowercase();
    // Python's `\s` on str: Unicode whitespace, plus the ASCII separators 0x1c-0x1f.
    let is_space = |c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c);
    let kept: String =
        nfd.chars().filter(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || is_space(c)).collect();
    let mut s = String::new();
    let mut in_space = false;
    for c in kept.chars() {
        if is_space(c) {
            if !in_space {
                s.push('-');
            }
            in_space = true;
        } else {
            s.push(c);
            in_space = false;
        }
    }
    while s.contains("--") {
        s = s.replace("--", "-");
    }
    let s = s.trim_matches('-').to_string();
    if s.len() <= max {
        return s;
    }
    let truncated = &s[..max];
    match truncated.rfind('-') {
        Some(i) if i > max / 3 => truncated[..i].to_string(),
        _ => truncated.to_string(),
    }
}

/// The seed's title of a page: `Untitled` when the title is empty.
pub fn title_of(page: &SeedPage) -> &str {
    if page.title.is_empty() {
        "Untitled"
    } else {
        &page.title
    }
}

/// The order the seed's database query returns (`last_edited_time` descending) and processes
/// the pages in. Ties keep the given order.
pub fn query_order(pages: &[SeedPage]) -> Vec<&SeedPage> {
    let mut v: Vec<&SeedPage> = pages.iter().collect();
    v.sort_by(|a, b| b.last_edited_time.cmp(&a.last_edited_time));
    v
}

/// The seed's folder of every page of one database, by dashed id.
pub fn folders(pages: &[SeedPage]) -> BTreeMap<String, String> {
    let base = |p: &SeedPage| {
        let s = slugify(title_of(p), 80);
        if s.is_empty() {
            p.id[..8].to_string()
        } else {
            s
        }
    };
    let mut counts: HashMap<String, usize> = HashMap::new();
    for p in pages {
        *counts.entry(base(p)).or_default() += 1;
    }
    pages
        .iter()
        .map(|p| {
            let b = base(p);
            let folder = if counts[&b] > 1 { format!("{b}-{}", &p.id[..8]) } else { b };
            (p.id.clone(), folder)
        })
        .collect()
}

fn sniffed_ext(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("png")
    } else if bytes.starts_with(&[0xff, 0xd8]) {
        Some("jpg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("gif")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("webp")
    } else {
        None
    }
}

/// The extension the seed takes from a URL path (its fixed list), else `png`.
fn url_ext(name: &str) -> String {
    const LIST: &[&str] = &[
        "png", "jpg", "jpeg", "gif", "webp", "svg", "pdf", "json", "yaml", "yml", "txt", "csv", "xml", "sh", "py",
        "conf", "cfg", "toml", "ini",
    ];
    match name.rsplit_once('.') {
        Some((_, e)) if LIST.contains(&e.to_ascii_lowercase().as_str()) => e.to_ascii_lowercase(),
        _ => "png".into(),
    }
}

/// Width of a PNG or GIF (the formats these tests use), for the seed's `width="300"` rule.
fn image_width(bytes: &[u8]) -> Option<u32> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 24 {
        return Some(u32::from_be_bytes(bytes[16..20].try_into().unwrap()));
    }
    if (bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a")) && bytes.len() > 10 {
        return Some(u16::from_le_bytes(bytes[6..8].try_into().unwrap()) as u32);
    }
    None
}

/// Every file the seed writes for `page` in `folder`, in its commit order: `index.md`, then the
/// images, then the attachments. `backed_up` is the run's time as the seed prints it
/// (`datetime.now(timezone.utc).isoformat()`, e.g. `2026-05-01T03:00:00.123456+00:00`).
pub fn page_files(page: &SeedPage, folder: &str, backed_up: &str) -> Vec<(String, Vec<u8>)> {
    let title = title_of(page);
    let mut heading = title.to_string();
    let mut body = String::new();
    let mut images = Vec::new();
    let mut attachments = Vec::new();
    for b in &page.blocks {
        match b {
            SeedBlock::Paragraph(t) => body.push_str(&format!("{t}\n\n")),
            SeedBlock::Heading(level, t) => {
                if !t.is_empty() {
                    heading = t.clone();
                }
                body.push_str(&format!("{} {t}\n\n", "#".repeat(*level as usize + 1)));
            }
            SeedBlock::Image { name, bytes } => {
                let ext = sniffed_ext(bytes).map(str::to_string).unwrap_or_else(|| url_ext(name));
                let file = format!("{}-{}.{ext}", images.len() + 1, slugify(&heading, 30));
                let caption = file.rsplit_once('.').map(|(s, _)| s).unwrap_or(&file).replace('-', " ");
                let width = if image_width(bytes).is_some_and(|w| w > 300) { "width=\"300\" " } else { "" };
                body.push_str(&format!(
                    "<p align=\"center\"><a href=\"assets/{file}\" target=\"_blank\"><img src=\"assets/{file}\" \
                     alt=\"{caption}\" {width}/></a></p>\n\n"
                ));
                images.push((format!("{folder}/assets/{file}"), bytes.clone()));
            }
            SeedBlock::File { name, bytes } => {
                body.push_str(&format!("\u{1f4ce} [{name}](attachments/{name})\n\n"));
                attachments.push((format!("{folder}/attachments/{name}"), bytes.clone()));
            }
        }
    }
    let index = format!(
        "---\ntitle: \"{title}\"\nsource: notion\nnotion_id: {}\nbacked_up: {backed_up}\n---\n\n# {title}\n\n{body}",
        page.id
    );
    let mut out = vec![(format!("{folder}/index.md"), index.into_bytes())];
    out.extend(images);
    out.extend(attachments);
    out
}

/// Every file of one database's repository after a seed run, path -> bytes.
pub fn repo_files(pages: &[SeedPage], backed_up: &str) -> BTreeMap<String, Vec<u8>> {
    let folders = folders(pages);
    query_order(pages).into_iter().flat_map(|p| page_files(p, &folders[&p.id], backed_up)).collect()
}

/// The seed's `sync-state.json` after backing up `databases` (each a list of pages).
pub fn state_json(databases: &[&[SeedPage]]) -> String {
    let mut lines = Vec::new();
    for pages in databases {
        for p in query_order(pages) {
            lines.push(format!("    {}: {}", json!(p.id), json!(p.last_edited_time)));
        }
    }
    if lines.is_empty() {
        return "{\n  \"synced_pages\": {}\n}".into();
    }
    format!("{{\n  \"synced_pages\": {{\n{}\n  }}\n}}", lines.join(",\n"))
}

/// Add a database holding `pages` (title property `Name`) to the fake Notion world, each page
/// with its blocks; returns its ids (rows in the order given).
pub fn add_database(world: &mut World, title: &str, pages: &[SeedPage]) -> DbIds {
    let db =
        fixtures::add_database_with(world, fixtures::DbSpec { title: title.into(), rows: 0, ..Default::default() });
    let mut rows = Vec::new();
    for p in pages {
        let page =
            fixtures::page(&p.id, fixtures::parent_data_source(&db.data_source_id, &db.database_id), &p.title, vec![]);
        world.insert_page(fixtures::with_times(page, fixtures::TS, &p.last_edited_time));
        let blocks: Vec<Value> = p
            .blocks
            .iter()
            .map(|b| match b {
                SeedBlock::Paragraph(t) => fixtures::paragraph(t),
                SeedBlock::Heading(level, t) => fixtures::heading(*level, t),
                SeedBlock::Image { name, bytes } => {
                    let f = world.add_file(name, bytes.clone());
                    fixtures::image_hosted(&f, "")
                }
                SeedBlock::File { name, bytes } => {
                    let f = world.add_file(name, bytes.clone());
                    fixtures::file_block(&f)
                }
            })
            .collect();
        world.set_children(&p.id, blocks);
        rows.push(dashed(&p.id));
    }
    DbIds { rows, ..db }
}

/// Write a seed repository into a local git repository at `dir` (created if missing): one commit
/// per page, as a clone of the seed's Gitea repository would hold them.
pub fn write_local(dir: &Path, pages: &[SeedPage], backed_up: &str) {
    std::fs::create_dir_all(dir).unwrap();
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(["-c", "user.name=Seed", "-c", "user.email=seed@localhost", "-c", "commit.gpgsign=false"])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    if !dir.join(".git").exists() {
        git(&["init", "-q", "-b", "main"]);
    }
    let folders = folders(pages);
    for p in query_order(pages) {
        for (path, bytes) in page_files(p, &folders[&p.id], backed_up) {
            let full = dir.join(&path);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(full, bytes).unwrap();
        }
        git(&["add", "-A"]);
        git(&["commit", "-q", "-m", &format!("Backup: {}", title_of(p))]);
    }
}

/// Percent-encode one path segment the way Python's `urllib.parse.quote(seg, safe="")` does.
fn quote(seg: &str) -> String {
    seg.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Write a seed repository into Gitea the way the seed does: for each page, list its `assets`
/// and `attachments` folders, then for each file `GET` it and `POST` (new) or `PUT` (with the
/// old `sha`) it through the single-file contents API: one commit per file.
pub async fn write_gitea(base_url: &str, token: &str, owner: &str, repo: &str, pages: &[SeedPage], backed_up: &str) {
    let http = reqwest::Client::new();
    let url = |path: &str| {
        let enc: Vec<String> = path.split('/').map(quote).collect();
        format!("{base_url}/api/v1/repos/{owner}/{repo}/contents/{}", enc.join("/"))
    };
    let auth = format!("token {token}");
    let folders = folders(pages);
    for p in query_order(pages) {
        let folder = &folders[&p.id];
        for dir in ["assets", "attachments"] {
            let r = http.get(url(&format!("{folder}/{dir}"))).header("Authorization", &auth).send().await.unwrap();
            assert!(r.status() == 404 || r.status().is_success(), "listing {folder}/{dir}: {}", r.status());
        }
        for (path, bytes) in page_files(p, folder, backed_up) {
            let r = http.get(url(&path)).header("Authorization", &auth).send().await.unwrap();
            let sha = if r.status().is_success() {
                r.json::<Value>().await.unwrap()["sha"].as_str().map(str::to_string)
            } else {
                None
            };
            let content = base64::engine::general_purpose::STANDARD.encode(&bytes);
            let mut body = json!({"content": content, "message": format!("Backup: {path}")});
            let req = match &sha {
                Some(s) => {
                    body["sha"] = json!(s);
                    http.put(url(&path))
                }
                None => http.post(url(&path)),
            };
            let r = req.header("Authorization", &auth).json(&body).send().await.unwrap();
            assert!(r.status().is_success(), "writing {path}: {} {}", r.status(), r.text().await.unwrap_or_default());
        }
    }
}

/// A PNG header of `w` x `h` plus `payload` (enough for the seed's sniffing and sizing).
pub fn png(w: u32, h: u32, payload: &str) -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    v.extend_from_slice(&w.to_be_bytes());
    v.extend_from_slice(&h.to_be_bytes());
    v.extend_from_slice(&[8, 6, 0, 0, 0, 0, 0, 0, 0]);
    v.extend_from_slice(payload.as_bytes());
    v
}

/// The workspace of issue 17: titles whose seed folders differ from ours (`/etc/passwd`, an
/// empty title, a Japanese title, an emoji title), two pages sharing a title, images under
/// headings and attachments. Ids are fixed, so folders are the same every run.
pub fn issue17_pages() -> Vec<SeedPage> {
    let id = |n: u32| format!("{n:08x}-1111-4222-8000-{n:012x}");
    let t = |m: u32| format!("2026-03-0{}T10:{m:02}:00.000Z", 1 + m % 5);
    let pdf = |s: &str| format!("%PDF-1.4\n% {s}\n%%EOF\n").into_bytes();
    vec![
        SeedPage {
            id: id(1),
            title: "/etc/passwd".into(),
            last_edited_time: t(1),
            blocks: vec![
                SeedBlock::Paragraph("Hostile title.".into()),
                SeedBlock::Image { name: "shot.png".into(), bytes: png(640, 480, "etc-1") },
            ],
        },
        SeedPage {
            id: id(2),
            title: "".into(),
            last_edited_time: t(2),
            blocks: vec![SeedBlock::Paragraph("No title at all.".into())],
        },
        SeedPage {
            id: id(3),
            title: "日本語のメモ MK-0043-0001".into(),
            last_edited_time: t(3),
            blocks: vec![
                SeedBlock::Heading(1, "Knowledge base entry 2 MK".into()),
                SeedBlock::Image { name: "diagram.png".into(), bytes: png(120, 80, "ja-1") },
                SeedBlock::File { name: "spec.pdf".into(), bytes: pdf("ja spec") },
            ],
        },
        SeedPage {
            id: id(4),
            title: "🚀 Launch plan".into(),
            last_edited_time: t(4),
            blocks: vec![
                SeedBlock::Paragraph("Ship it.".into()),
                SeedBlock::Heading(2, "Timeline".into()),
                SeedBlock::Image { name: "gantt.png".into(), bytes: png(1200, 400, "launch-1") },
                SeedBlock::Heading(2, "Budget".into()),
                SeedBlock::Image { name: "budget.png".into(), bytes: png(200, 200, "launch-2") },
                SeedBlock::File { name: "budget.xlsx".into(), bytes: b"PK\x03\x04 budget".to_vec() },
            ],
        },
        SeedPage {
            id: id(5),
            title: "Meeting notes".into(),
            last_edited_time: t(5),
            blocks: vec![SeedBlock::Image { name: "board.png".into(), bytes: png(300, 300, "meet-1") }],
        },
        SeedPage {
            id: id(6),
            title: "Meeting Notes".into(),
            last_edited_time: t(6),
            blocks: vec![SeedBlock::Paragraph("Second meeting.".into())],
        },
        SeedPage {
            id: id(7),
            title: "Weekly review".into(),
            last_edited_time: t(7),
            blocks: vec![
                SeedBlock::Heading(1, "Goals".into()),
                SeedBlock::Image { name: "goals.png".into(), bytes: png(800, 600, "weekly-1") },
                SeedBlock::File { name: "notes.txt".into(), bytes: b"plain notes\n".to_vec() },
            ],
        },
    ]
}
