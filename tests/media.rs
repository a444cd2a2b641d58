//! End-to-end tests of the media step against in-process fakes (tests/media_common): signed URLs
//! that expire, CDNs, lying extensions, large and oversized files, hostile names, stable names,
//! dedupe and AI naming with its circuit breaker.

mod media_common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use base64::Engine;
use media_common::*;
use notion_git_backup::markdown::{LocalFile, MediaKey};
use notion_git_backup::media::{collect, AiConfig, Downloader, MediaConfig, MediaError, PageMedia};
use notion_git_backup::notion::model::{Block, Page};
use notion_git_backup::paths::is_safe_relative;
use serde_json::json;

fn cfg() -> MediaConfig {
    MediaConfig { retry_base_delay: Duration::from_millis(5), ..MediaConfig::default() }
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
    let items = collect(page, blocks);
    d.download_page(&items, owners, remembered, dir).await
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
    assert!(w.contains(&fake.url("files", "missing.png")) && w.contains("HTTP 404"), "{w}");
    assert!(!w.contains("secret") && !w.contains('?'), "{w}");
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
