//! `notion-git-backup --dry-run` end to end: the real binary against the fake Notion server,
//! configured from the environment only (no .env file): it prints each database's data sources
//! and page counts and what would be committed, and writes nothing.

mod common;

use common::fake_notion::{FakeNotion, World, DEFAULT_TOKEN};
use common::fixtures::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_prints_data_sources_and_page_counts_and_writes_nothing() {
    let mut w = World::new();
    let notes = add_database(&mut w, "Notes", 3);
    let tasks = add_database(&mut w, "Tasks", 120);
    w.set_children(&notes.rows[0], vec![heading(1, "Hello"), paragraph("world")]);
    // A page with an image and a PDF: the dry run lists the files it would add too (issue 13).
    let img = w.add_file_with_type("photo.jpg", PNG.to_vec(), "image/jpeg");
    let pdf = w.add_file("Quarterly report.pdf", PDF.to_vec());
    w.set_children(&notes.rows[1], vec![heading(1, "Overview"), image_hosted(&img, "a caption"), file_block(&pdf)]);
    let fake = FakeNotion::start(w).await;
    let dir = tempfile::tempdir().unwrap();
    let base = fake.base_url();
    let d = dir.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(assert_cmd::cargo::cargo_bin("notion-git-backup"))
            .current_dir(&d)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("NOTION_TOKEN", DEFAULT_TOKEN)
            .env("NOTION_API_URL", base)
            .env("NOTION_RATE_LIMIT", "100")
            .env("DB1_NOTION_ID", &notes.database_id)
            .env("DB1_GIT_REPO", "notes")
            .env("DB1_LABEL", "My notes")
            .env("DB2_NOTION_ID", format!("https://www.notion.so/acme/Tasks-{}?v=123", notes_free(&tasks.database_id)))
            .env("DB2_GIT_REPO", "tasks")
            .arg("--dry-run")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("Database My notes"), "{stdout}");
    assert!(stdout.contains("data source \"Notes\"") && stdout.contains(": 3 pages"), "{stdout}");
    assert!(stdout.contains("data source \"Tasks\"") && stdout.contains(": 120 pages"), "{stdout}");
    assert!(stdout.contains("+ row-0/index.md"), "{stdout}");
    assert!(stdout.contains("+ README.md"), "{stdout}");
    assert!(stdout.contains("+ row-1/assets/1-overview.png"), "the image is listed, named by its bytes: {stdout}");
    assert!(stdout.contains("+ row-1/attachments/Quarterly report.pdf"), "{stdout}");
    // Nothing written: no backup folder, no state, no lock.
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "dry run wrote {left:?}");
    assert!(!stdout.contains(DEFAULT_TOKEN) && !stderr.contains(DEFAULT_TOKEN));
}

/// The id without dashes, as it appears in a pasted Notion URL.
fn notes_free(id: &str) -> String {
    id.replace('-', "")
}

/// A minimal PNG (signature and IHDR): typed as an image by its bytes.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, b'I', b'H', b'D', b'R', 0, 0, 0, 2, 0, 0, 0, 2, 8, 2,
    0, 0, 0, 0xFD, 0xD4, 0x9A, 0x73,
];
const PDF: &[u8] = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n";
