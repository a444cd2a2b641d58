//! The fake's write endpoints and our write client, checked against the official SDK
//! (`@notionhq/client`, pinned in `tests/sdk/package.json`, driven by `tests/sdk/driver.mjs`):
//! every write restore makes, sent the SDK's way, is accepted and served back; what Notion
//! refuses reaches the SDK as a Notion error with its code; and a file sent by our client
//! arrives as the same multipart form as the SDK's (field names, file name, type, bytes).
//!
//! Without node the test is skipped with a notice (on CI, `CI=true`, a missing node fails).

mod common;

use common::fake_notion::{FakeNotion, SeenRequest, World, DEFAULT_TOKEN};
use common::fixtures::*;
use notion_git_backup::notion::{ClientConfig, NotionClient};
use serde_json::{json, Value};

const PARENT: &str = "9a9e0000-0000-4000-8000-0000000009a9";
const HIDDEN: &str = "41dde000-0000-4000-8000-0000000041dd";

fn sdk_runnable() -> bool {
    if std::process::Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success()) {
        common::sdk::install_sdk();
        return true;
    }
    assert!(!std::env::var("CI").is_ok_and(|v| v == "true" || v == "1"), "CI=true but node is not on PATH");
    eprintln!("NOTICE: node is not installed: the official SDK write conformance check is skipped");
    false
}

/// A world with a shared parent page, an unshared one, a database and a user.
fn world() -> (World, String) {
    let mut w = World::new();
    w.insert_page(page(PARENT, parent_workspace(), "Parent", vec![]));
    w.insert_page(page(HIDDEN, parent_workspace(), "Hidden", vec![]));
    w.unshare(HIDDEN);
    w.insert_user(person("a11ce000-0000-4000-8000-00000000a11c", "Alice", "alice@example.com"));
    let db = add_database(&mut w, "Tasks", 0);
    w.record_requests = true;
    (w, db.data_source_id)
}

async fn run_sdk(fake: &FakeNotion, calls: Vec<Value>) -> Value {
    common::sdk::drive(fake, calls).await
}

fn text(t: &str) -> Value {
    json!({"type": "text", "text": {"content": t}})
}

/// The parts of a recorded multipart body: (field name, file name, content type, text).
fn form_parts(r: &SeenRequest) -> Vec<(String, Option<String>, Option<String>, String)> {
    let ct = r.content_type.clone().unwrap_or_default();
    let boundary = ct.split("boundary=").nth(1).unwrap_or("").trim_matches('"').to_string();
    let body = r.body.as_ref().and_then(Value::as_str).unwrap_or("").to_string();
    let mut out = Vec::new();
    for chunk in body.split(&format!("--{boundary}")).skip(1) {
        if chunk.starts_with("--") {
            break;
        }
        let chunk = chunk.strip_prefix("\r\n").unwrap_or(chunk);
        let (head, data) = chunk.split_once("\r\n\r\n").unwrap();
        let data = data.strip_suffix("\r\n").unwrap_or(data).to_string();
        let mut name = String::new();
        let mut filename = None;
        let mut ctype = None;
        for line in head.split("\r\n") {
            for part in line.split(';').map(str::trim) {
                if let Some(v) = part.strip_prefix("name=") {
                    name = v.trim_matches('"').to_string();
                }
                if let Some(v) = part.strip_prefix("filename=") {
                    filename = Some(v.trim_matches('"').to_string());
                }
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-type:") {
                ctype = Some(v.trim().to_string());
            }
        }
        out.push((name, filename, ctype, data));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_sdk_can_make_every_write_restore_makes_and_reads_the_refusals() {
    if !sdk_runnable() {
        return;
    }
    let (w, ds) = world();
    let fake = FakeNotion::start(w).await;
    let nested = json!({"type": "toggle", "toggle": {"rich_text": [text("t")], "children": [
        {"type": "bulleted_list_item", "bulleted_list_item": {"rich_text": [text("a")], "children": [
            {"type": "paragraph", "paragraph": {"rich_text": [text("b")]}}]}}]}});
    let calls = vec![
        // 0: a child page with content
        json!({"call": "pages.create", "args": {"parent": {"page_id": PARENT}, "properties": {"title": {"title": [text("Child")]}},
               "children": [nested]}}),
        // 1: blocks placed before it
        json!({"call": "blocks.children.append", "args": {"block_id": PARENT, "children": [{"paragraph": {"rich_text": [text("first")]}}],
               "position": {"type": "start"}}}),
        // 2: a database with its schema
        json!({"call": "databases.create", "args": {"parent": {"type": "page_id", "page_id": PARENT}, "title": [text("DB")], "is_inline": true,
               "initial_data_source": {"properties": {"Name": {"title": {}}, "Tags": {"multi_select": {"options": [{"name": "x", "color": "red"}]}}}}}}),
        // 3, 4: a relation added, then a row
        json!({"call": "dataSources.update", "args": {"data_source_id": ds, "properties": {"Owner": {"people": {}},
               "Self": {"relation": {"data_source_id": ds, "type": "single_property", "single_property": {}}}}}}),
        json!({"call": "pages.create", "args": {"parent": {"type": "data_source_id", "data_source_id": ds},
               "properties": {"Name": {"title": [text("Row")]}, "Owner": {"people": [{"id": "a11ce000-0000-4000-8000-00000000a11c"}]}}}}),
        // 5: relation values
        json!({"call": "pages.update", "args": {"page_id": "$4.id", "properties": {"Self": {"relation": [{"id": "$4.id"}]}}}}),
        // 6-8: a single-part upload, attached
        json!({"call": "fileUploads.create", "args": {"mode": "single_part", "filename": "notes.txt", "content_type": "text/plain"}}),
        json!({"call": "fileUploads.send", "args": {"file_upload_id": "$6.id", "file": {"filename": "notes.txt", "type": "text/plain", "text": "hello from the SDK"}}}),
        json!({"call": "blocks.children.append", "args": {"block_id": PARENT, "children": [{"type": "file", "file": {"type": "file_upload", "file_upload": {"id": "$6.id"}, "name": "notes.txt"}}]}}),
        // 9-12: a multi-part upload
        json!({"call": "fileUploads.create", "args": {"mode": "multi_part", "filename": "big.txt", "content_type": "text/plain", "number_of_parts": 2}}),
        json!({"call": "fileUploads.send", "args": {"file_upload_id": "$9.id", "part_number": "1", "file": {"filename": "big.txt", "type": "text/plain", "text": "a".repeat(5 * 1024 * 1024)}}}),
        json!({"call": "fileUploads.send", "args": {"file_upload_id": "$9.id", "part_number": "2", "file": {"filename": "big.txt", "type": "text/plain", "text": "tail"}}}),
        json!({"call": "fileUploads.complete", "args": {"file_upload_id": "$9.id"}}),
        // 13: a comment
        json!({"call": "comments.create", "args": {"parent": {"page_id": PARENT}, "rich_text": [text("a comment")]}}),
        // 14-18: what Notion refuses arrives as Notion errors
        json!({"call": "blocks.children.append", "args": {"block_id": PARENT,
               "children": (0..101).map(|i| json!({"paragraph": {"rich_text": [text(&i.to_string())]}})).collect::<Vec<_>>()},
               "expect_error": "validation_error"}),
        json!({"call": "pages.create", "args": {"parent": {"page_id": HIDDEN}, "properties": {}}, "expect_error": "object_not_found"}),
        json!({"call": "databases.create", "args": {"parent": {"type": "page_id", "page_id": PARENT},
               "initial_data_source": {"properties": {"Name": {"title": {}}, "S": {"status": {}}}}}, "expect_error": "validation_error"}),
        json!({"call": "blocks.children.append", "args": {"block_id": PARENT, "children": [{"child_page": {"title": "x"}}]}, "expect_error": "validation_error"}),
        json!({"call": "fileUploads.complete", "args": {"file_upload_id": "$6.id"}, "expect_error": "validation_error"}),
    ];
    let report = run_sdk(&fake, calls).await;
    let calls = report["calls"].as_array().unwrap();
    assert_eq!(calls.len(), 19);
    // Served back by the read side.
    fake.with_world(|w| {
        let kids = &w.children[&common::fake_notion::norm(PARENT)];
        let types: Vec<&str> = kids.iter().map(|k| w.blocks[k]["type"].as_str().unwrap()).collect();
        assert_eq!(types, ["paragraph", "child_page", "child_database", "file"]);
        let big = w.writes.uploads.values().find(|u| u.filename.as_deref() == Some("big.txt")).unwrap();
        assert_eq!((big.status.as_str(), big.bytes.len()), ("uploaded", 5 * 1024 * 1024 + 4));
        let row = w.pages.values().find(|p| p["properties"]["Name"]["title"][0]["plain_text"] == "Row").unwrap();
        assert_eq!(row["properties"]["Self"]["relation"][0]["id"], row["id"]);
    });

    // Our client's upload arrives as the same form as the SDK's.
    let sdk_form = fake
        .requests()
        .into_iter()
        .find(|r| {
            r.path.ends_with("/send")
                && r.body.as_ref().and_then(Value::as_str).is_some_and(|b| b.contains("hello from the SDK"))
        })
        .unwrap();
    let (w2, _) = world();
    let ours = FakeNotion::start(w2).await;
    let client = NotionClient::new(ClientConfig::new(&ours.base_url(), DEFAULT_TOKEN)).unwrap();
    client.upload_file("notes.txt", "text/plain", b"hello from the SDK").await.unwrap();
    let our_form = ours.requests().into_iter().find(|r| r.path.ends_with("/send")).unwrap();
    assert!(sdk_form.content_type.as_deref().unwrap().starts_with("multipart/form-data; boundary="));
    assert!(our_form.content_type.as_deref().unwrap().starts_with("multipart/form-data; boundary="));
    assert_eq!(form_parts(&our_form), form_parts(&sdk_form));
    assert_eq!(
        form_parts(&sdk_form),
        vec![(
            "file".to_string(),
            Some("notes.txt".to_string()),
            Some("text/plain".to_string()),
            "hello from the SDK".to_string()
        )]
    );
}
