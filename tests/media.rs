//! End-to-end tests of the media step against in-process fakes (tests/media_common): signed URLs
//! that expire, CDNs, lying extensions, large and oversized files, hostile names, stable names,
//! dedupe, AI naming with its circuit breaker, external files, refused private addresses
//! (server-side request forgery), stalled hosts, and last good copies kept.

mod media_common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use base64::Engine;
use media_common::*;
use notion_git_backup::http::{RetryPolicy, Timeouts};
use notion_git_backup::markdown::{render_page, LocalFile, MediaKey, RenderContext};
use notion_git_backup::media::{collect, AiConfig, Downloader, MediaConfig, MediaError, PageMedia};
use notion_git_backup::notion::model::{Block, Page};
use notion_git_backup::paths::is_safe_relative;
use serde_json::json;

/// Quick retries, and the fakes' address (127.0.0.1, any port) allowed for external files.
fn cfg() -> MediaConfig {
    let d = MediaConfig::default();
    MediaConfig {
        retry: RetryPolicy { base_delay: Duration::from_millis(5), max_delay: Duration::from_millis(20), ..d.retry },
        allow_hosts: vec!["127.0.0.1".into()],
        ..d
    }
}

/// [`cfg`] without the allow list: what a user gets by default.
fn strict_cfg() -> MediaConfig {
    MediaConfig { allow_hosts: Vec::new(), ..cfg() }
}

fn bare_page() -> Page {
    page(json!({"id": "p1"}))
}

async fn run(
    d: &Downloader,
    page: &Page,
    blocks: &[Block],
    owners: &FakeOwners,
    remembered: &BTreeMap<String, String>,
    dir: &Path,
) -> Result<PageMedia, MediaError> {
    run_with(d, page, blocks, owners, remembered, &BTreeMap::new(), dir).await
}

async fn run_with(
    d: &Downloader,
    page: &Page,
    blocks: &[Block],
    owners: &FakeOwners,
    remembered: &BTreeMap<String, String>,
    previous: &BTreeMap<String, String>,
    dir: &Path,
) -> Result<PageMedia, MediaError> {
    let items = collect(page, blocks);
    d.download_page(&items, owners, remembered, previous, dir).await
}

/// Link and image targets of rendered Markdown: Markdown links, and `src`/`href` of the HTML the
/// renderer writes for images.
fn link_targets(md: &str) -> Vec<String> {
    use pulldown_cmark::{Event, Parser, Tag};
    let mut out = Vec::new();
    for ev in Parser::new(md) {
        match ev {
            Event::Start(Tag::Link { dest_url, .. }) => out.push(dest_url.to_string()),
            Event::Html(h) | Event::InlineHtml(h) => {
                for attr in ["src=\"", "href=\""] {
                    let mut rest = h.as_ref();
                    while let Some(i) = rest.find(attr) {
                        rest = &rest[i + attr.len()..];
                        let end = rest.find('"').unwrap();
                        out.push(rest[..end].replace("&amp;", "&"));
                        rest = &rest[end..];
                    }
                }
            }
            _ => {}
        }
    }
    out.sort();
    out.dedup();
    out
}

/// `index.md` of `blocks` on a bare page, rendered with the media map.
fn render(blocks: &[Block], m: &PageMedia) -> String {
    render_page(&bare_page(), blocks, &RenderContext { media: Some(&m.map), ..Default::default() })
}

fn at<'a>(m: &'a PageMedia, block_id: &str) -> &'a LocalFile {
    m.map.get(&MediaKey::Block(block_id.into())).unwrap_or_else(|| panic!("{block_id} not in map: {:?}", m.map))
}

fn read(dir: &Path, rel: &str) -> Vec<u8> {
    std::fs::read(dir.join(rel)).unwrap()
}

/// Every file under `dir`, relative, sorted.
fn tree(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, d: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(d).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() {
                walk(root, &e.path(), out);
            } else {
                out.push(e.path().strip_prefix(root).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[tokio::test]
async fn expired_signed_urls_are_renewed_through_the_owner() {
    let fake = Fake::start().await;
    let photo = png(640, 480, b"photo");
    let cover = jpeg(1500, 600, b"cover");
    fake.add("photo.png", Served::Bytes(photo.clone()));
    fake.add("report.pdf", Served::Bytes(PDF.to_vec()));
    fake.add("cover.jpg", Served::Bytes(cover.clone()));
    let mut owners = FakeOwners::new(&fake);
    owners.blocks.insert("img".into(), ("image".into(), "photo.png".into(), None));
    owners.blocks.insert("pdf".into(), ("pdf".into(), "report.pdf".into(), None));
    owners.covers.insert("p1".into(), "cover.jpg".into());
    // The crawl was slow: every URL handed out with the page has expired by download time. The
    // image and cover still claim a future expiry (S3 answers 403), the PDF's expiry is past.
    let page = page(json!({"id": "p1", "cover": hosted(&fake.stale("cover.jpg"), FUTURE)}));
    let blocks = vec![
        heading("h", "Holiday"),
        media_block("img", "image", hosted(&fake.stale("photo.png"), FUTURE), None),
        media_block("pdf", "pdf", hosted(&fake.stale("report.pdf"), PAST), None),
    ];
    let dir = tempfile::tempdir().unwrap();
    let d = Downloader::new(cfg()).unwrap();
    let m = run(&d, &page, &blocks, &owners, &BTreeMap::new(), dir.path()).await.unwrap();

    assert_eq!(owners.block_calls.load(Ordering::SeqCst), 2);
    assert_eq!(owners.page_calls.load(Ordering::SeqCst), 1);
    // Only the image and the cover tried their stale URL; the PDF was renewed before use.
    assert_eq!(fake.state.stale_hits.load(Ordering::SeqCst), 2);
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);

    let cover_file = &m.map[&MediaKey::Cover];
    assert_eq!(cover_file.path, "assets/1-cover.jpg");
    assert_eq!((cover_file.width, cover_file.height), (Some(1500), Some(600)));
    assert_eq!(read(dir.path(), &cover_file.path), cover);
    assert_eq!(at(&m, "img").path, "assets/2-holiday.png");
    assert_eq!(read(dir.path(), "assets/2-holiday.png"), photo);
    assert_eq!(at(&m, "pdf").path, "attachments/report.pdf");
    assert!(!at(&m, "pdf").is_image);
    assert_eq!(read(dir.path(), "attachments/report.pdf"), PDF);
    assert_eq!(m.bytes_downloaded, (photo.len() + cover.len() + PDF.len()) as u64);
    assert_eq!(m.names[&sha256(&photo)], "assets/2-holiday.png");
    assert_eq!(tree(dir.path()), vec!["assets/1-cover.jpg", "assets/2-holiday.png", "attachments/report.pdf"]);
}

#[tokio::test]
async fn a_hosted_file_that_cannot_be_downloaded_fails_the_page() {
    let fake = Fake::start().await;
    fake.add("photo.png", Served::Bytes(png(10, 10, b"x")));
    let mut owners = FakeOwners::new(&fake);
    owners.blocks.insert("img".into(), ("image".into(), "photo.png".into(), None));
    owners.broken = true; // every re-read hands out another dead URL
    let blocks = vec![media_block("img", "image", hosted(&fake.stale("photo.png"), FUTURE), None)];
    let dir = tempfile::tempdir().unwrap();
    let d = Downloader::new(cfg()).unwrap();
    let err = run(&d, &bare_page(), &blocks, &owners, &BTreeMap::new(), dir.path()).await.unwrap_err();
    assert!(matches!(err, MediaError::Hosted { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("photo.png") && msg.contains("retried on the next run"), "{msg}");
    assert!(!msg.contains("secret") && !msg.contains("X-Amz"), "signed query leaked: {msg}");
    assert_eq!(owners.block_calls.load(Ordering::SeqCst), cfg().max_refreshes);
    assert!(tree(dir.path()).is_empty(), "{:?}", tree(dir.path()));

    // The owner cannot be re-read at all: also a page failure, naming the file.
    let nobody = FakeOwners::new(&fake);
    let err = run(&d, &bare_page(), &blocks, &nobody, &BTreeMap::new(), dir.path()).await.unwrap_err();
    assert!(matches!(err, MediaError::Refresh { .. }), "{err:?}");
    assert!(err.to_string().contains("block img not found") && !err.to_string().contains("secret"));
}

#[tokio::test]
async fn real_types_come_from_the_bytes() {
    let fake = Fake::start().await;
    let png_bytes = png(64, 32, b"png-as-jpg");
    let jpeg_bytes = jpeg(120, 80, b"no-ext");
    fake.add("photo.jpg", Served::Bytes(png_bytes.clone()));
    fake.add("noext", Served::Bytes(jpeg_bytes.clone()));
    fake.add("diagram.svg", Served::Bytes(SVG.to_vec()));
    fake.add("upload", Served::Bytes(PDF.to_vec()));
    fake.add("data.csv", Served::Bytes(b"a,b\n1,2\n".to_vec()));
    let owners = FakeOwners::new(&fake);
    let blocks = vec![
        heading("h", "Types"),
        media_block("png", "image", hosted(&fake.mint("photo.jpg"), FUTURE), None),
        media_block("jpg", "image", hosted(&fake.mint("noext"), FUTURE), None),
        media_block("svg", "image", hosted(&fake.mint("diagram.svg"), FUTURE), None),
        media_block("pdf", "file", hosted(&fake.mint("upload"), FUTURE), Some("Quarterly Report")),
        media_block("csv", "file", hosted(&fake.mint("data.csv"), FUTURE), Some("data.csv")),
    ];
    let dir = tempfile::tempdir().unwrap();
    let d = Downloader::new(cfg()).unwrap();
    let m = run(&d, &bare_page(), &blocks, &owners, &BTreeMap::new(), dir.path()).await.unwrap();
    assert_eq!(
        at(&m, "png"),
        &LocalFile { path: "assets/1-types.png".into(), width: Some(64), height: Some(32), is_image: true }
    );
    assert_eq!(read(dir.path(), "assets/1-types.png"), png_bytes);
    assert_eq!(
        at(&m, "jpg"),
        &LocalFile { path: "assets/2-types.jpg".into(), width: Some(120), height: Some(80), is_image: true }
    );
    assert_eq!(at(&m, "svg").path, "assets/3-types.svg");
    assert!(at(&m, "svg").is_image);
    assert_eq!(at(&m, "pdf").path, "attachments/Quarterly Report.pdf");
    assert_eq!(at(&m, "csv").path, "attachments/data.csv");
    assert_eq!(read(dir.path(), "attachments/data.csv"), b"a,b\n1,2\n");
}

#[tokio::test]
async fn fifty_megabytes_stream_to_disk_with_bounded_memory() {
    const CHUNKS: usize = 50;
    let fake = Fake::start().await;
    let dir = tempfile::tempdir().unwrap();
    fake.add("big.bin", Served::Big { chunks: CHUNKS, watch: dir.path().to_path_buf() });
    let owners = FakeOwners::new(&fake);
    let blocks = vec![media_block("big", "file", hosted(&fake.mint("big.bin"), FUTURE), Some("big.bin"))];
    let d = Downloader::new(cfg()).unwrap();
    let m = run(&d, &bare_page(), &blocks, &owners, &BTreeMap::new(), dir.path()).await.unwrap();

    let mut expected = sha2::Sha256::default();
    for k in 0..CHUNKS {
        sha2::Digest::update(&mut expected, big_chunk(k));
    }
    let expected = hex::encode(sha2::Digest::finalize(expected));
    assert_eq!(m.files.len(), 1);
    assert_eq!(m.files[0].sha256, expected);
    assert_eq!(m.files[0].size, (CHUNKS * BIG_CHUNK) as u64);
    assert_eq!(m.bytes_downloaded, (CHUNKS * BIG_CHUNK) as u64);
    assert_eq!(at(&m, "big").path, "attachments/big.bin");
    assert_eq!(std::fs::metadata(dir.path().join("attachments/big.bin")).unwrap().len(), (CHUNKS * BIG_CHUNK) as u64);
    // While the server was still sending, the bytes already sent were on disk, give or take the
    // socket buffers: a downloader that buffered the whole body would lag by ~50 MiB.
    let lag = *fake.state.big_max_lag.lock().unwrap();
    println!("largest lag between bytes sent and bytes on disk: {:.1} MiB", lag as f64 / BIG_CHUNK as f64);
    assert!(lag < 20 * BIG_CHUNK as u64, "lag {lag}");
}

#[tokio::test]
async fn files_over_the_size_limit_are_skipped_with_a_warning() {
    let fake = Fake::start().await;
    let mut huge = PDF.to_vec();
    huge.resize(2 << 20, b' ');
    fake.add("huge.pdf", Served::Bytes(huge.clone()));
    fake.add("streamed.pdf", Served::Chunked(huge));
    fake.add("ok.pdf", Served::Bytes(PDF.to_vec()));
    let owners = FakeOwners::new(&fake);
    let blocks = vec![
        media_block("a", "file", hosted(&fake.mint("huge.pdf"), FUTURE), Some("huge.pdf")),
        media_block("b", "file", hosted(&fake.mint("streamed.pdf"), FUTURE), Some("streamed.pdf")),
        media_block("c", "file", hosted(&fake.mint("ok.pdf"), FUTURE), Some("ok.pdf")),
    ];
    let dir = tempfile::tempdir().unwrap();
    let d = Downloader::new(MediaConfig { max_file_bytes: 1 << 20, ..cfg() }).unwrap();
    let m = run(&d, &bare_page(), &blocks, &owners, &BTreeMap::new(), dir.path()).await.unwrap();
    assert_eq!(m.map.len(), 1);
    assert_eq!(at(&m, "c").path, "attachments/ok.pdf");
    assert_eq!(m.warnings.len(), 2, "{:?}", m.warnings);
    assert!(m.warnings[0].contains("huge.pdf") && m.warnings[0].contains("2.0 MB"), "{}", m.warnings[0]);
    assert!(m.warnings[1].contains("streamed.pdf"), "{}", m.warnings[1]);
    for w in &m.warnings {
        assert!(w.contains("MAX_FILE_MB") && w.contains("1 MB limit") && !w.contains("secret"), "{w}");
    }
    // No partial file is left behind.
    assert_eq!(tree(dir.path()), vec!["attachments/ok.pdf"]);
}

#[tokio::test]
async fn a_cdn_that_requires_a_user_agent_gets_one() {
    let fake = Fake::start().await;
    let logo = png(200, 100, b"logo");
    fake.add("logo.png", Served::Bytes(logo.clone()));
    let url = fake.url("cdn", "logo.png");
    // The fake really refuses anonymous clients.
    let anonymous = reqwest::Client::new().get(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), 403);

    let blocks = vec![media_block("logo", "image", external(&url), None)];
    let dir = tempfile::tempdir().unwrap();
    let d = Downloader::new(cfg()).unwrap();
    let m = run(&d, &bare_page(), &blocks, &FakeOwners::new(&fake), &BTreeMap::new(), dir.path()).await.unwrap();
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);
    assert_eq!(at(&m, "logo").path, "assets/1-image.png");
    assert_eq!(read(dir.path(), "assets/1-image.png"), logo);
}

#[tokio::test]
async fn hostile_file_names_stay_inside_attachments() {
    let fake = Fake::start().await;
    let hostile = [
        "../../.git/hooks/post-commit",
        "..\\..\\Windows\\evil.exe",
        ".git",
        "/etc/passwd",
        "CON",
        "a\u{0}b\nc.txt",
        "",
    ];
    let mut blocks = Vec::new();
    for (i, name) in hostile.iter().enumerate() {
        let f = format!("f{i}");
        fake.add(&f, Served::Bytes(format!("#!/bin/sh\necho pwned {i}\n").into_bytes()));
        blocks.push(media_block(&format!("b{i}"), "file", hosted(&fake.mint(&f), FUTURE), Some(name)));
    }
    let dir = tempfile::tempdir().unwrap();
    let staging = dir.path().join("page");
    let d = Downloader::new(cfg()).unwrap();
    let m = run(&d, &bare_page(), &blocks, &FakeOwners::new(&fake), &BTreeMap::new(), &staging).await.unwrap();
    assert_eq!(m.files.len(), hostile.len());
    let mut paths: Vec<&str> = m.files.iter().map(|f| f.rel_path.as_str()).collect();
    for f in &m.files {
        assert!(is_safe_relative(&f.rel_path), "{}", f.rel_path);
        let name = f.rel_path.strip_prefix("attachments/").unwrap_or_else(|| panic!("{}", f.rel_path));
        assert!(!name.contains('/') && !name.contains('\\') && !name.starts_with('.'), "{name}");
        assert!(!name.chars().any(char::is_control), "{name:?}");
        assert!(f.disk_path.starts_with(&staging));
    }
    paths.sort();
    paths.dedup();
    assert_eq!(paths.len(), hostile.len(), "names collided: {paths:?}");
    // Nothing was written anywhere but the staging folder's attachments/.
    assert!(tree(dir.path()).iter().all(|p| p.starts_with("page/attachments/")), "{:?}", tree(dir.path()));
}

#[tokio::test]
async fn image_names_stay_stable_across_runs() {
    let fake = Fake::start().await;
    let (a, b, c) = (png(50, 50, b"A"), png(50, 50, b"B"), png(50, 50, b"C"));
    fake.add("a.png", Served::Bytes(a.clone()));
    fake.add("b.png", Served::Bytes(b.clone()));
    fake.add("c.png", Served::Bytes(c.clone()));
    let owners = FakeOwners::new(&fake);
    let d = Downloader::new(cfg()).unwrap();

    let first = vec![
        heading("h1", "Intro"),
        media_block("ia", "image", hosted(&fake.mint("a.png"), FUTURE), None),
        heading("h2", "Results"),
        media_block("ib", "image", hosted(&fake.mint("b.png"), FUTURE), None),
    ];
    let dir1 = tempfile::tempdir().unwrap();
    let m1 = run(&d, &bare_page(), &first, &owners, &BTreeMap::new(), dir1.path()).await.unwrap();
    assert_eq!(at(&m1, "ia").path, "assets/1-intro.png");
    assert_eq!(at(&m1, "ib").path, "assets/2-results.png");

    // Next run: the heading was renamed, a new image was added at the top, URLs are new.
    let second = vec![
        heading("h0", "Overview"),
        media_block("ic", "image", hosted(&fake.mint("c.png"), FUTURE), None),
        heading("h1", "Introduction"),
        media_block("ia", "image", hosted(&fake.mint("a.png"), FUTURE), None),
        heading("h2", "Results"),
        media_block("ib", "image", hosted(&fake.mint("b.png"), FUTURE), None),
    ];
    let dir2 = tempfile::tempdir().unwrap();
    let m2 = run(&d, &bare_page(), &second, &owners, &m1.names, dir2.path()).await.unwrap();
    assert_eq!(at(&m2, "ia").path, "assets/1-intro.png");
    assert_eq!(at(&m2, "ib").path, "assets/2-results.png");
    assert_eq!(at(&m2, "ic").path, "assets/3-overview.png");
    assert_eq!(read(dir2.path(), "assets/3-overview.png"), c);
    let expected: BTreeMap<String, String> = [
        (sha256(&a), "assets/1-intro.png".to_string()),
        (sha256(&b), "assets/2-results.png".to_string()),
        (sha256(&c), "assets/3-overview.png".to_string()),
    ]
    .into();
    assert_eq!(m2.names, expected);
}

#[tokio::test]
async fn the_same_bytes_are_stored_once() {
    let fake = Fake::start().await;
    let shared = png(30, 30, b"shared");
    fake.add("one.png", Served::Bytes(shared.clone()));
    fake.add("two.png", Served::Bytes(shared.clone()));
    fake.add("logo.gif", Served::Bytes(b"GIF89a\x10\0\x10\0\x80\0\0".to_vec()));
    let logo_url = fake.url("files", "logo.gif");
    let blocks = vec![
        heading("h", "Dupes"),
        media_block("i1", "image", hosted(&fake.mint("one.png"), FUTURE), None),
        media_block("i2", "image", hosted(&fake.mint("two.png"), FUTURE), None),
        media_block("e1", "image", external(&logo_url), None),
        media_block("e2", "image", external(&logo_url), None),
    ];
    let dir = tempfile::tempdir().unwrap();
    let d = Downloader::new(cfg()).unwrap();
    let m = run(&d, &bare_page(), &blocks, &FakeOwners::new(&fake), &BTreeMap::new(), dir.path()).await.unwrap();
    assert_eq!(m.files.len(), 2, "{:?}", m.files);
    assert_eq!(at(&m, "i1"), at(&m, "i2"));
    assert_eq!(at(&m, "i1").path, "assets/1-dupes.png");
    assert_eq!(at(&m, "e1"), at(&m, "e2"));
    assert_eq!(at(&m, "e1").path, "assets/2-dupes.gif");
    assert_eq!(fake.hits("files/logo.gif"), 1, "the same URL is fetched once");
    assert_eq!(m.names.len(), 2);
    assert_eq!(tree(dir.path()), vec!["assets/1-dupes.png", "assets/2-dupes.gif"]);
}

#[tokio::test]
async fn an_external_image_that_404s_is_a_warning_and_stays_a_link() {
    let fake = Fake::start().await;
    fake.add("fine.png", Served::Bytes(png(20, 20, b"fine")));
    let missing = format!("{}?token=secret-abc", fake.url("files", "missing.png"));
    // A CDN that answers 200 with an HTML error page instead of the image.
    let page_html = b"<!DOCTYPE html><html><body><svg/>Image not found</body></html>".to_vec();
    fake.add("soft404.png", Served::Bytes(page_html));
    let blocks = vec![
        media_block("gone", "image", external(&missing), None),
        media_block("fine", "image", external(&fake.url("files", "fine.png")), None),
        media_block("soft", "image", external(&fake.url("files", "soft404.png")), None),
    ];
    let dir = tempfile::tempdir().unwrap();
    let d = Downloader::new(cfg()).unwrap();
    let m = run(&d, &bare_page(), &blocks, &FakeOwners::new(&fake), &BTreeMap::new(), dir.path()).await.unwrap();
    assert!(!m.map.contains_key(&MediaKey::Block("gone".into())));
    assert_eq!(at(&m, "fine").path, "assets/1-image.png");
    assert!(!m.map.contains_key(&MediaKey::Block("soft".into())));
    assert_eq!(m.warnings.len(), 2, "{:?}", m.warnings);
    let w = &m.warnings[0];
    assert_eq!(
        w,
        &format!(
            "could not download the external file `missing.png` from {}: HTTP 404; the page keeps a link to the original",
            fake.host()
        )
    );
    assert!(m.warnings[1].contains("soft404.png") && m.warnings[1].contains("did not send an image"));
    assert_eq!(fake.hits("files/missing.png"), 1, "a 404 is not retried");
    assert_eq!(tree(dir.path()), vec!["assets/1-image.png"]);
}

#[tokio::test]
async fn transient_errors_are_retried() {
    let fake = Fake::start().await;
    let bytes = png(20, 20, b"flaky");
    let big = png(20, 20, &vec![7u8; 3 << 20]);
    fake.add("f.png", Served::Bytes(bytes.clone()));
    fake.add("r.png", Served::Bytes(big.clone()));
    let blocks = vec![
        media_block("f", "image", external(&fake.url("flaky", "f.png")), None),
        media_block("r", "image", hosted(&fake.url("reset", "r.png"), FUTURE), None),
    ];
    let dir = tempfile::tempdir().unwrap();
    let d = Downloader::new(cfg()).unwrap();
    let m = run(&d, &bare_page(), &blocks, &FakeOwners::new(&fake), &BTreeMap::new(), dir.path()).await.unwrap();
    // Two 503s, then the file.
    assert_eq!(fake.hits("flaky/f.png"), 3);
    assert_eq!(read(dir.path(), &at(&m, "f").path), bytes);
    // The body broke off half-way once; the second attempt got all of it.
    assert_eq!(fake.hits("reset/r.png"), 2);
    assert_eq!(read(dir.path(), &at(&m, "r").path), big);
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);
    assert_eq!(tree(dir.path()).len(), 2, "no partial file left: {:?}", tree(dir.path()));
}

fn ai(fake: &Fake, route: &str) -> AiConfig {
    AiConfig {
        api_url: format!("{}/ai/{route}", fake.base),
        api_key: "sk-test-SECRETKEY".into(),
        model: "claude-test".into(),
    }
}

#[tokio::test]
async fn a_failing_ai_endpoint_trips_the_breaker_after_five_calls() {
    let fake = Fake::start().await;
    let mut blocks = vec![heading("h", "Gallery")];
    for i in 0..7 {
        fake.add(&format!("g{i}.png"), Served::Bytes(png(200, 200, format!("img{i}").as_bytes())));
        blocks.push(media_block(&format!("g{i}"), "image", hosted(&fake.mint(&format!("g{i}.png")), FUTURE), None));
    }
    let d = Downloader::new(MediaConfig { ai: Some(ai(&fake, "bad")), ..cfg() }).unwrap();
    assert!(d.ai_enabled());
    let dir = tempfile::tempdir().unwrap();
    let m = run(&d, &bare_page(), &blocks, &FakeOwners::new(&fake), &BTreeMap::new(), dir.path()).await.unwrap();
    assert_eq!(fake.state.ai_calls.load(Ordering::SeqCst), 5);
    assert!(!d.ai_enabled());
    for i in 0..7 {
        assert_eq!(at(&m, &format!("g{i}")).path, format!("assets/{}-gallery.png", i + 1));
    }
    assert_eq!(m.warnings.len(), 1, "{:?}", m.warnings);
    assert!(m.warnings[0].contains("AI naming turned off") && m.warnings[0].contains("HTTP 500"));
    assert!(!m.warnings[0].contains("SECRETKEY"));

    // The breaker stays open for the rest of the run.
    fake.add("later.png", Served::Bytes(png(300, 300, b"later")));
    let later = vec![media_block("l", "image", hosted(&fake.mint("later.png"), FUTURE), None)];
    let dir2 = tempfile::tempdir().unwrap();
    let m2 = run(&d, &bare_page(), &later, &FakeOwners::new(&fake), &BTreeMap::new(), dir2.path()).await.unwrap();
    assert_eq!(at(&m2, "l").path, "assets/1-image.png");
    assert_eq!(fake.state.ai_calls.load(Ordering::SeqCst), 5);
    assert!(m2.warnings.is_empty());
}

#[tokio::test]
async fn ai_names_are_used_and_remembered() {
    let fake = Fake::start().await;
    let big = png(300, 200, b"big");
    fake.add("big.png", Served::Bytes(big.clone()));
    fake.add("small.png", Served::Bytes(png(50, 50, b"small")));
    fake.add("d.svg", Served::Bytes(SVG.to_vec()));
    let blocks = vec![
        heading("h", "Trip"),
        paragraph("p", "We hiked up at dusk."),
        media_block("big", "image", hosted(&fake.mint("big.png"), FUTURE), None),
        media_block("small", "image", hosted(&fake.mint("small.png"), FUTURE), None),
        media_block("svg", "image", hosted(&fake.mint("d.svg"), FUTURE), None),
    ];
    let d = Downloader::new(MediaConfig { ai: Some(ai(&fake, "good")), ..cfg() }).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let m = run(&d, &bare_page(), &blocks, &FakeOwners::new(&fake), &BTreeMap::new(), dir.path()).await.unwrap();
    assert_eq!(at(&m, "big").path, "assets/1-sunset-over-mountains.png");
    // Too small and SVG are not sent; they are named after the heading.
    assert_eq!(at(&m, "small").path, "assets/2-trip.png");
    assert_eq!(at(&m, "svg").path, "assets/3-trip.svg");
    assert_eq!(fake.state.ai_calls.load(Ordering::SeqCst), 1);
    {
        let reqs = fake.state.ai_requests.lock().unwrap();
        let (headers, body) = &reqs[0];
        assert_eq!(headers["x-api-key"], "sk-test-SECRETKEY");
        assert_eq!(headers["anthropic-version"], "2023-06-01");
        assert_eq!(body["model"], "claude-test");
        assert!(body["max_tokens"].as_u64().unwrap() > 0);
        let content = &body["messages"][0]["content"];
        assert_eq!(body["messages"][0]["role"], "user");
        assert_eq!(content[0]["type"], "image");
        assert_eq!(content[0]["source"]["type"], "base64");
        assert_eq!(content[0]["source"]["media_type"], "image/png");
        let data = content[0]["source"]["data"].as_str().unwrap();
        assert_eq!(base64::engine::general_purpose::STANDARD.decode(data).unwrap(), big);
        let text = content[1]["text"].as_str().unwrap();
        assert!(text.contains("Trip") && text.contains("We hiked up at dusk."), "{text}");
    }
    assert_eq!(m.names[&sha256(&big)], "assets/1-sunset-over-mountains.png");

    // Next run: the remembered name is kept and the AI is not asked again.
    let again = vec![heading("h", "Trip"), media_block("big", "image", hosted(&fake.mint("big.png"), FUTURE), None)];
    let dir2 = tempfile::tempdir().unwrap();
    let m2 = run(&d, &bare_page(), &again, &FakeOwners::new(&fake), &m.names, dir2.path()).await.unwrap();
    assert_eq!(at(&m2, "big").path, "assets/1-sunset-over-mountains.png");
    assert_eq!(fake.state.ai_calls.load(Ordering::SeqCst), 1);
}

// ---------------------------------------------------------------------------------------------
// External files (issue 13 §4)
// ---------------------------------------------------------------------------------------------

const MP3: &[u8] = b"ID3\x04\x00\x00\x00\x00\x00\x00\xff\xfb\x90\x44\x00\x00\x00\x00";
const MP4: &[u8] = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom\x00\x00\x00\x08free";

#[tokio::test]
async fn external_files_of_every_kind_are_downloaded_and_typed_by_their_bytes() {
    let fake = Fake::start().await;
    fake.add("report", Served::Bytes(PDF.to_vec()));
    let slides = [PDF, b"%slides\n"].concat();
    fake.add("slides.pdf", Served::Chunked(slides.clone()));
    fake.add("episode.mp3", Served::Bytes(MP3.to_vec()));
    fake.add("talk.mp4", Served::Bytes(MP4.to_vec()));
    fake.add("notes.csv", Served::Bytes(b"a,b\n1,2\n".to_vec()));
    let youtube = "https://www.youtube.com/watch?v=dQw4w9WgXcQ";
    let page = page(json!({"id": "p1", "properties": {"Files": {"id": "f", "type": "files", "files": [
        {"name": "notes.csv", "type": "external", "external": {"url": fake.url("files", "notes.csv")}}
    ]}}}));
    let blocks = vec![
        media_block("file", "file", external(&fake.url("files", "report")), Some("Quarterly report")),
        media_block("pdf", "pdf", external(&fake.url("files", "slides.pdf")), None),
        media_block("audio", "audio", external(&fake.url("files", "episode.mp3")), None),
        media_block("video", "video", external(&fake.url("files", "talk.mp4")), None),
        media_block("yt", "video", external(youtube), None),
    ];
    let dir = tempfile::tempdir().unwrap();
    let d = Downloader::new(cfg()).unwrap();
    let m = run(&d, &page, &blocks, &FakeOwners::new(&fake), &BTreeMap::new(), dir.path()).await.unwrap();
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);
    assert_eq!(at(&m, "file").path, "attachments/Quarterly report.pdf");
    assert_eq!(at(&m, "pdf").path, "attachments/slides.pdf");
    assert_eq!(at(&m, "audio").path, "attachments/episode.mp3");
    assert_eq!(at(&m, "video").path, "attachments/talk.mp4");
    let csv = &m.map[&MediaKey::Property { name: "Files".into(), index: 0 }];
    assert_eq!(csv.path, "attachments/notes.csv");
    assert_eq!(read(dir.path(), "attachments/Quarterly report.pdf"), PDF);
    assert_eq!(read(dir.path(), "attachments/slides.pdf"), slides);
    assert_eq!(read(dir.path(), "attachments/talk.mp4"), MP4);
    assert_eq!(read(dir.path(), "attachments/notes.csv"), b"a,b\n1,2\n");
    // A video on a streaming site is a player, not a file: never fetched, still a link.
    assert!(!m.map.contains_key(&MediaKey::Block("yt".into())));
    let targets = link_targets(&render(&blocks, &m));
    for t in ["attachments/Quarterly%20report.pdf", "attachments/slides.pdf", "attachments/talk.mp4", youtube] {
        assert!(targets.iter().any(|x| x == t || x == &t.replace("%20", " ")), "{t} not in {targets:?}");
    }
    assert!(!targets.iter().any(|t| t.contains("127.0.0.1")), "{targets:?}");
    let keys: Vec<&str> = m.keys.keys().map(String::as_str).collect();
    assert_eq!(keys, vec!["block:audio", "block:file", "block:pdf", "block:video", "property:0:Files"]);
}

#[tokio::test]
async fn an_external_file_that_serves_a_web_page_or_fails_stays_a_link() {
    let fake = Fake::start().await;
    fake.add("login.pdf", Served::Html(b"<html><body><form>Sign in</form></body></html>".to_vec()));
    fake.add("sniffed.docx", Served::Bytes(b"<!DOCTYPE html>\n<title>Not found</title>".to_vec()));
    let mut huge = PDF.to_vec();
    huge.resize(2 << 20, b' ');
    fake.add("huge.pdf", Served::Bytes(huge));
    let blocks = vec![
        media_block("login", "file", external(&format!("{}?session=secret-xyz", fake.url("files", "login.pdf"))), None),
        media_block("sniffed", "file", external(&fake.url("files", "sniffed.docx")), None),
        media_block("gone", "pdf", external(&fake.url("files", "gone.pdf")), None),
        media_block("huge", "file", external(&fake.url("files", "huge.pdf")), None),
    ];
    let dir = tempfile::tempdir().unwrap();
    let d = Downloader::new(MediaConfig { max_file_bytes: 1 << 20, ..cfg() }).unwrap();
    let m = run(&d, &bare_page(), &blocks, &FakeOwners::new(&fake), &BTreeMap::new(), dir.path()).await.unwrap();
    assert!(m.map.is_empty(), "{:?}", m.map);
    assert!(m.files.is_empty() && m.keys.is_empty() && m.kept.is_empty());
    let host = fake.host();
    assert_eq!(
        m.warnings,
        vec![
            format!("could not download the external file `login.pdf` from {host}: the server sent a web page instead of the file; the page keeps a link to the original"),
            format!("could not download the external file `sniffed.docx` from {host}: the server sent a web page instead of the file; the page keeps a link to the original"),
            format!("could not download the external file `gone.pdf` from {host}: HTTP 404; the page keeps a link to the original"),
            format!("skipped `huge.pdf` from {host} (2.0 MB): larger than the 1 MB limit; raise MAX_FILE_MB to back it up; the page keeps a link to the original"),
        ]
    );
    assert_eq!(tree(dir.path()), Vec::<String>::new(), "no partial or refused file is left");
    // The Markdown links the originals.
    let targets = link_targets(&render(&blocks, &m));
    assert!(targets.contains(&fake.url("files", "gone.pdf")), "{targets:?}");
    assert!(targets.contains(&fake.url("files", "huge.pdf")), "{targets:?}");
}

// ---------------------------------------------------------------------------------------------
// Server-side request forgery (issue 12)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn external_files_on_loopback_or_private_addresses_are_refused_by_default() {
    let fake = Fake::start().await;
    fake.add("a.png", Served::Bytes(png(20, 20, b"a")));
    fake.add("hosted.png", Served::Bytes(png(20, 20, b"hosted")));
    let by_ip = fake.url("files", "a.png");
    let by_name = format!("http://localhost:{}/files/a.png?token=secret-1", fake.port());
    let blocks = vec![
        media_block("ip", "image", external(&by_ip), None),
        media_block("name", "image", external(&by_name), None),
        media_block("meta", "file", external("http://169.254.169.254/latest/meta-data/iam/security-credentials"), None),
        media_block("mapped", "file", external("http://[::ffff:10.0.0.7]/x"), None),
        // Notion-hosted files come from the API, not from page content: not checked.
        media_block("hosted", "image", hosted(&fake.mint("hosted.png"), FUTURE), None),
    ];
    let dir = tempfile::tempdir().unwrap();
    let d = Downloader::new(strict_cfg()).unwrap();
    let m = run(&d, &bare_page(), &blocks, &FakeOwners::new(&fake), &BTreeMap::new(), dir.path()).await.unwrap();
    assert_eq!(fake.hits("files/a.png"), 0, "the refused URL was never requested");
    assert_eq!(at(&m, "hosted").path, "assets/1-image.png");
    assert_eq!(m.map.len(), 1, "{:?}", m.map);
    assert_eq!(m.warnings.len(), 4, "{:?}", m.warnings);
    let port = fake.port();
    let rule = "(only hosts listed in DOWNLOAD_ALLOW_HOSTS may be on loopback, link-local or private addresses); the page keeps a link to the original";
    assert_eq!(
        m.warnings[0],
        format!("refused to download the external file `a.png` from 127.0.0.1:{port}: 127.0.0.1 is a loopback address {rule}")
    );
    let w = &m.warnings[1];
    assert!(
        w.starts_with(&format!(
            "refused to download the external file `a.png` from localhost:{port}: localhost resolves to "
        )),
        "{w}"
    );
    assert!(w.contains("a loopback address") && w.ends_with(rule) && !w.contains("secret"), "{w}");
    assert_eq!(
        m.warnings[2],
        format!("refused to download the external file `security-credentials` from 169.254.169.254: 169.254.169.254 is a link-local (cloud metadata) address {rule}")
    );
    assert!(m.warnings[3].contains("::ffff:10.0.0.7 is a private address"), "{}", m.warnings[3]);
    // The Markdown keeps the links.
    let targets = link_targets(&render(&blocks, &m));
    assert!(targets.contains(&by_ip) && targets.contains(&by_name), "{targets:?}");
}

#[tokio::test]
async fn hosts_listed_in_download_allow_hosts_are_fetched() {
    let fake = Fake::start().await;
    fake.add("a.png", Served::Bytes(png(20, 20, b"a")));
    fake.add("b.pdf", Served::Bytes(PDF.to_vec()));
    let blocks = vec![
        media_block("ip", "image", external(&fake.url("files", "a.png")), None),
        media_block("name", "file", external(&format!("http://localhost:{}/files/b.pdf", fake.port())), None),
    ];
    let allow = vec![fake.host(), format!("localhost:{}", fake.port())];
    let d = Downloader::new(MediaConfig { allow_hosts: allow, ..strict_cfg() }).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let m = run(&d, &bare_page(), &blocks, &FakeOwners::new(&fake), &BTreeMap::new(), dir.path()).await.unwrap();
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);
    assert_eq!(read(dir.path(), &at(&m, "ip").path), png(20, 20, b"a"));
    assert_eq!(read(dir.path(), &at(&m, "name").path), PDF);

    // Listed with another port: not this one.
    let other = vec![format!("127.0.0.1:{}", fake.port().wrapping_add(1))];
    let d = Downloader::new(MediaConfig { allow_hosts: other, ..strict_cfg() }).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let m = run(&d, &bare_page(), &blocks[..1], &FakeOwners::new(&fake), &BTreeMap::new(), dir.path()).await.unwrap();
    assert!(m.map.is_empty() && m.warnings[0].contains("127.0.0.1 is a loopback address"), "{:?}", m.warnings);
}

#[tokio::test]
async fn a_redirect_to_a_private_address_is_refused_on_every_hop() {
    let fake = Fake::start().await;
    fake.add("ok.png", Served::Bytes(png(20, 20, b"ok")));
    fake.add("inside.png", Served::Bytes(png(20, 20, b"inside")));
    let port = fake.port();
    let hop = |name: &str, to: &str| format!("{}?to={}", fake.url("redirect", name), url_encode(to));
    let blocks = vec![
        // Allowed host -> the same allowed host: followed.
        media_block("fine", "image", external(&hop("fine", &fake.url("files", "ok.png"))), None),
        // Allowed host -> a name that resolves to loopback: refused before it is requested.
        media_block(
            "name",
            "image",
            external(&hop("name", &format!("http://localhost:{port}/files/inside.png"))),
            None,
        ),
        // Allowed host -> cloud metadata.
        media_block("meta", "file", external(&hop("meta", "http://169.254.169.254/latest/meta-data/")), None),
        // Two hops, the second to a private address.
        media_block(
            "two",
            "file",
            external(&hop("two", &hop("two-b", "http://192.168.1.1/admin.cgi"))),
            Some("admin.cgi"),
        ),
    ];
    let d = Downloader::new(MediaConfig { allow_hosts: vec![fake.host()], ..strict_cfg() }).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let m = run(&d, &bare_page(), &blocks, &FakeOwners::new(&fake), &BTreeMap::new(), dir.path()).await.unwrap();
    assert_eq!(read(dir.path(), &at(&m, "fine").path), png(20, 20, b"ok"));
    assert_eq!(m.map.len(), 1, "{:?}", m.map);
    assert_eq!(fake.hits("files/inside.png"), 0);
    assert_eq!(fake.hits("redirect/two-b"), 1, "the first hop was followed");
    assert_eq!(m.warnings.len(), 3, "{:?}", m.warnings);
    assert!(m.warnings[0].contains(&format!("from localhost:{port}: localhost resolves to ")), "{}", m.warnings[0]);
    assert!(m.warnings[1].contains("from 169.254.169.254: 169.254.169.254 is a link-local (cloud metadata) address"));
    assert!(m.warnings[2].contains("`admin.cgi` from 192.168.1.1: 192.168.1.1 is a private address"));
}

fn url_encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

// ---------------------------------------------------------------------------------------------
// Timeouts (issue 15: one HTTP layer)
// ---------------------------------------------------------------------------------------------

fn impatient() -> MediaConfig {
    let c = cfg();
    MediaConfig {
        timeouts: Timeouts::new(Duration::from_secs(5), Duration::from_millis(300)),
        retry: RetryPolicy { max_attempts: 2, ..c.retry.clone() },
        ..c
    }
}

#[tokio::test]
async fn a_host_that_accepts_and_never_answers_fails_within_the_silence_bound() {
    let fake = Fake::start().await;
    let blocks =
        vec![media_block("img", "image", external(&format!("{}?sig=secret-2", fake.url("stall", "x.png"))), None)];
    let d = Downloader::new(impatient()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let m = run(&d, &bare_page(), &blocks, &FakeOwners::new(&fake), &BTreeMap::new(), dir.path()).await.unwrap();
    assert_eq!(fake.hits("stall/x.png"), 2, "retried once, then given up");
    assert_eq!(
        m.warnings,
        vec![format!(
            "could not download the external file `x.png` from {}: no answer from {} within 300 ms; the page keeps a link to the original",
            fake.host(),
            fake.base
        )]
    );

    // A Notion-hosted file on a stalled host fails the page, saying what was waited for.
    let blocks = vec![media_block(
        "h",
        "image",
        hosted(&format!("{}?X-Amz-Signature=secret-3", fake.url("stall", "h.png")), FUTURE),
        None,
    )];
    let err = run(&d, &bare_page(), &blocks, &FakeOwners::new(&fake), &BTreeMap::new(), dir.path()).await.unwrap_err();
    assert!(matches!(err, MediaError::Hosted { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains(&format!("no answer from {} within 300 ms", fake.base)), "{msg}");
    assert!(!msg.contains("secret") && !msg.contains("X-Amz"), "{msg}");
}

/// A Notion-hosted body that always breaks off is retried, then fails the page with a message
/// that carries neither the signed URL's query string nor reqwest's URL-bearing text.
#[tokio::test]
async fn a_body_that_always_breaks_off_fails_the_page_without_the_signed_url() {
    let fake = Fake::start().await;
    fake.add("cut.png", Served::Broken(png(20, 20, &vec![1u8; 3 << 20])));
    let blocks = vec![media_block("img", "image", hosted(&fake.mint("cut.png"), FUTURE), None)];
    let d = Downloader::new(impatient()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let err = run(&d, &bare_page(), &blocks, &FakeOwners::new(&fake), &BTreeMap::new(), dir.path()).await.unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("download broke off"), "{msg}");
    assert!(!msg.contains("secret") && !msg.contains("X-Amz") && !msg.contains("for url"), "{msg}");
    assert_eq!(fake.hits("s3/cut.png"), 2);
    assert!(tree(dir.path()).is_empty(), "{:?}", tree(dir.path()));
}

// ---------------------------------------------------------------------------------------------
// Last good copies (issue 12, case 6)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_host_answering_503_keeps_the_copy_from_the_last_backup() {
    let fake = Fake::start().await;
    let chart = png(400, 300, b"chart");
    fake.add("chart.png", Served::Bytes(chart.clone()));
    fake.add("plan.pdf", Served::Bytes(PDF.to_vec()));
    fake.add("new.png", Served::Bytes(png(20, 20, b"new")));
    let owners = FakeOwners::new(&fake);
    let d = Downloader::new(cfg()).unwrap();
    let first = vec![
        heading("h", "Plan"),
        media_block("chart", "image", external(&fake.url("files", "chart.png")), None),
        media_block("plan", "file", external(&fake.url("files", "plan.pdf")), None),
    ];
    let dir1 = tempfile::tempdir().unwrap();
    let m1 = run(&d, &bare_page(), &first, &owners, &BTreeMap::new(), dir1.path()).await.unwrap();
    assert_eq!(at(&m1, "chart").path, "assets/1-plan.png");
    assert_eq!(at(&m1, "plan").path, "attachments/plan.pdf");
    let expected_keys: BTreeMap<String, String> = [
        ("block:chart".to_string(), "assets/1-plan.png".to_string()),
        ("block:plan".to_string(), "attachments/plan.pdf".to_string()),
    ]
    .into();
    assert_eq!(m1.keys, expected_keys);

    // The page is edited (a new image) while the other host answers 503 to everything.
    let second = vec![
        heading("h", "Plan"),
        media_block("chart", "image", external(&fake.url("down", "chart.png")), None),
        media_block("plan", "file", external(&fake.url("down", "plan.pdf")), None),
        media_block("new", "image", external(&fake.url("files", "new.png")), None),
    ];
    let dir2 = tempfile::tempdir().unwrap();
    let m2 = run_with(&d, &bare_page(), &second, &owners, &m1.names, &m1.keys, dir2.path()).await.unwrap();
    assert_eq!(fake.hits("down/chart.png"), cfg().retry.max_attempts, "retried before giving up");
    assert_eq!(m2.kept, vec!["assets/1-plan.png".to_string(), "attachments/plan.pdf".to_string()]);
    assert_eq!(
        at(&m2, "chart"),
        &LocalFile { path: "assets/1-plan.png".into(), width: None, height: None, is_image: true }
    );
    assert_eq!(at(&m2, "plan").path, "attachments/plan.pdf");
    // The new image does not take the kept file's name or number.
    assert_eq!(at(&m2, "new").path, "assets/2-plan.png");
    assert_eq!(m2.files.iter().map(|f| f.rel_path.as_str()).collect::<Vec<_>>(), vec!["assets/2-plan.png"]);
    assert_eq!(tree(dir2.path()), vec!["assets/2-plan.png"], "kept files are not staged again");
    let mut keys = expected_keys.clone();
    keys.insert("block:new".into(), "assets/2-plan.png".into());
    assert_eq!(m2.keys, keys);
    // The kept bytes keep their name for when the host is back.
    assert_eq!(m2.names[&sha256(&chart)], "assets/1-plan.png");
    assert_eq!(m2.names[&sha256(PDF)], "attachments/plan.pdf");
    let host = fake.host();
    assert_eq!(
        m2.warnings,
        vec![
            format!("could not download the external file `chart.png` from {host}: HTTP 503; kept the copy from the last backup (assets/1-plan.png)"),
            format!("could not download the external file `plan.pdf` from {host}: HTTP 503; kept the copy from the last backup (attachments/plan.pdf)"),
        ]
    );
    let targets = link_targets(&render(&second, &m2));
    assert_eq!(targets, vec!["assets/1-plan.png", "assets/2-plan.png", "attachments/plan.pdf"]);

    // The host is back: the same names again, nothing kept.
    let dir3 = tempfile::tempdir().unwrap();
    let m3 = run_with(&d, &bare_page(), &first, &owners, &m2.names, &m2.keys, dir3.path()).await.unwrap();
    assert!(m3.kept.is_empty() && m3.warnings.is_empty(), "{:?}", m3.warnings);
    assert_eq!(at(&m3, "chart").path, "assets/1-plan.png");
    assert_eq!(read(dir3.path(), "assets/1-plan.png"), chart);
}

#[tokio::test]
async fn a_host_answering_503_without_a_previous_copy_keeps_the_link() {
    let fake = Fake::start().await;
    let url = fake.url("down", "chart.png");
    let blocks = vec![media_block("chart", "image", external(&url), None)];
    // A previous path that is not a media path (a damaged or hostile state) is not kept either.
    let previous: BTreeMap<String, String> = [("block:other".into(), "assets/1-x.png".into())].into();
    let hostile: BTreeMap<String, String> = [("block:chart".into(), "../../index.md".into())].into();
    let d = Downloader::new(cfg()).unwrap();
    for prev in [previous, hostile] {
        let dir = tempfile::tempdir().unwrap();
        let m = run_with(&d, &bare_page(), &blocks, &FakeOwners::new(&fake), &BTreeMap::new(), &prev, dir.path())
            .await
            .unwrap();
        assert!(m.map.is_empty() && m.kept.is_empty() && m.keys.is_empty(), "{m:?}");
        assert_eq!(
            m.warnings,
            vec![format!(
                "could not download the external file `chart.png` from {}: HTTP 503; the page keeps a link to the original",
                fake.host()
            )]
        );
        assert_eq!(link_targets(&render(&blocks, &m)), vec![url.clone()]);
    }
}

#[tokio::test]
async fn a_notion_hosted_file_that_cannot_be_downloaded_fails_the_page_even_with_a_previous_copy() {
    let fake = Fake::start().await;
    fake.add("photo.png", Served::Bytes(png(10, 10, b"x")));
    let mut owners = FakeOwners::new(&fake);
    owners.blocks.insert("img".into(), ("image".into(), "photo.png".into(), None));
    owners.broken = true;
    let blocks = vec![media_block("img", "image", hosted(&fake.stale("photo.png"), FUTURE), None)];
    let previous: BTreeMap<String, String> = [("block:img".into(), "assets/1-image.png".into())].into();
    let dir = tempfile::tempdir().unwrap();
    let d = Downloader::new(cfg()).unwrap();
    let err = run_with(&d, &bare_page(), &blocks, &owners, &BTreeMap::new(), &previous, dir.path()).await.unwrap_err();
    assert!(matches!(err, MediaError::Hosted { .. }), "{err:?}");
}
