//! The fake's write endpoints say no where Notion says no: each documented limit and rule is
//! tried once over plain HTTP (not through the client under test), and what the fake accepts
//! is served back by its read endpoints.

mod common;

use common::fake_notion::write::{MAX_PAYLOAD, PART_MIN};
use common::fake_notion::{FakeNotion, World, DEFAULT_TOKEN, VERSION_2025, VERSION_2026};
use common::fixtures::*;
use serde_json::{json, Value};

const PARENT: &str = "9a9e0000-0000-4000-8000-0000000009a9";

struct Api {
    fake: FakeNotion,
    http: reqwest::Client,
}

impl Api {
    async fn new(f: impl FnOnce(&mut World)) -> Api {
        let mut w = World::new();
        w.insert_page(page(PARENT, parent_workspace(), "Parent", vec![]));
        w.insert_user(person("a11ce000-0000-4000-8000-00000000a11c", "Alice", "alice@example.com"));
        f(&mut w);
        Api { fake: FakeNotion::start(w).await, http: reqwest::Client::new() }
    }

    async fn call_v(&self, method: reqwest::Method, path: &str, body: Option<Value>, version: &str) -> (u16, Value) {
        let mut r = self
            .http
            .request(method, format!("{}{path}", self.fake.base_url()))
            .bearer_auth(DEFAULT_TOKEN)
            .header("Notion-Version", version);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> (u16, Value) {
        self.call_v(method, path, Some(body), VERSION_2026).await
    }

    async fn append(&self, parent: &str, children: Vec<Value>) -> (u16, Value) {
        self.call(reqwest::Method::PATCH, &format!("/blocks/{parent}/children"), json!({"children": children})).await
    }

    async fn send_file(&self, id: &str, bytes: Vec<u8>, part: Option<u32>, content_type: &str) -> (u16, Value) {
        // multipart/form-data written out by hand (RFC 7578), as a browser sends it.
        let b = "----WebKitFormBoundary7MA4YWxkTrZu0gW";
        let mut body = Vec::new();
        if let Some(p) = part {
            body.extend_from_slice(
                format!("--{b}\r\nContent-Disposition: form-data; name=\"part_number\"\r\n\r\n{p}\r\n").as_bytes(),
            );
        }
        body.extend_from_slice(
            format!("--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f.bin\"\r\nContent-Type: {content_type}\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(&bytes);
        body.extend_from_slice(format!("\r\n--{b}--\r\n").as_bytes());
        let resp = self
            .http
            .post(format!("{}/file_uploads/{id}/send", self.fake.base_url()))
            .bearer_auth(DEFAULT_TOKEN)
            .header("Notion-Version", VERSION_2026)
            .header("Content-Type", format!("multipart/form-data; boundary={b}"))
            .body(body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }
}

fn text(t: &str) -> Value {
    json!({"type": "text", "text": {"content": t}})
}

fn para(t: &str) -> Value {
    json!({"paragraph": {"rich_text": [text(t)]}})
}

fn with_kids(mut b: Value, kids: Vec<Value>) -> Value {
    let ty = b.as_object().unwrap().keys().find(|k| *k != "type" && *k != "object").unwrap().clone();
    b[&ty]["children"] = Value::Array(kids);
    b
}

/// A 400 validation_error whose message holds `needle`.
fn refused(r: &(u16, Value), needle: &str) {
    assert_eq!(r.0, 400, "{}", r.1);
    assert_eq!(r.1["code"], "validation_error", "{}", r.1);
    assert_eq!(r.1["object"], "error");
    let m = r.1["message"].as_str().unwrap();
    assert!(m.contains(needle), "message {m:?} should say {needle:?}");
}

use reqwest::Method;

#[tokio::test]
async fn appends_within_limits_are_stored_and_served_others_are_refused() {
    let api = Api::new(|_| {}).await;
    // Accepted: two levels of nesting below the appended blocks, then served back.
    let ok = api
        .append(
            PARENT,
            vec![with_kids(json!({"toggle": {"rich_text": [text("t")]}}), vec![with_kids(para("a"), vec![para("b")])])],
        )
        .await;
    assert_eq!(ok.0, 200, "{}", ok.1);
    let id = ok.1["results"][0]["id"].as_str().unwrap().to_string();
    let (_, kids) = api.call_v(Method::GET, &format!("/blocks/{id}/children"), None, VERSION_2026).await;
    assert_eq!(kids["results"][0]["paragraph"]["rich_text"][0]["plain_text"], "a");
    assert_eq!(kids["results"][0]["has_children"], true);

    refused(
        &api.append(PARENT, (0..101).map(|i| para(&i.to_string())).collect()).await,
        "body.children.length should be ≤ `100`",
    );
    let deep = with_kids(para("1"), vec![with_kids(para("2"), vec![with_kids(para("3"), vec![para("4")])])]);
    refused(
        &api.append(PARENT, vec![deep]).await,
        "children[0].paragraph.children[0].paragraph.children should be not present",
    );
    // 100 toggles of 10 children: 1,100 blocks.
    let many: Vec<Value> = (0..100)
        .map(|_| with_kids(json!({"toggle": {"rich_text": []}}), (0..10).map(|i| para(&i.to_string())).collect()))
        .collect();
    refused(&api.append(PARENT, many).await, "more than the limit of 1000");
    let big: Vec<Value> = (0..100).map(|_| json!({"paragraph": {"rich_text": [text(&"x".repeat(2000)), text(&"y".repeat(2000)), text(&"z".repeat(2000))]}})).collect();
    let r = api.append(PARENT, big).await;
    refused(&r, &format!("larger than the limit of {MAX_PAYLOAD} bytes"));
    refused(&api.append(PARENT, vec![para(&"x".repeat(2001))]).await, "text.content.length should be ≤ `2000`");
    let runs: Vec<Value> = (0..101).map(|i| text(&i.to_string())).collect();
    refused(
        &api.append(PARENT, vec![json!({"paragraph": {"rich_text": runs}})]).await,
        "rich_text.length should be ≤ `100`",
    );
    let long_url = format!("https://example.com/{}", "a".repeat(2000));
    refused(&api.append(PARENT, vec![json!({"bookmark": {"url": long_url}})]).await, "url.length should be ≤ `2000`");
    refused(
        &api.append(PARENT, vec![json!({"equation": {"expression": "x".repeat(1001)}})]).await,
        "expression.length should be ≤ `1000`",
    );
    // Response shapes are not request shapes.
    let with_plain =
        json!({"paragraph": {"rich_text": [{"type": "text", "text": {"content": "a"}, "plain_text": "a"}]}});
    refused(&api.append(PARENT, vec![with_plain]).await, "plain_text should be not present");
    for (ty, payload) in [
        ("child_page", json!({"title": "x"})),
        ("child_database", json!({"title": "x"})),
        ("link_preview", json!({"url": "https://x.example"})),
    ] {
        refused(&api.append(PARENT, vec![json!({ty: payload})]).await, "cannot be created through the API");
    }
    refused(
        &api.append(
            PARENT,
            vec![with_kids(json!({"column_list": {}}), vec![with_kids(json!({"column": {}}), vec![para("only")])])],
        )
        .await,
        "at least 2 columns",
    );
    let table = with_kids(json!({"table": {"table_width": 2}}), vec![json!({"table_row": {"cells": [[text("a")]]}})]);
    refused(&api.append(PARENT, vec![table]).await, "table_row.cells.length should be `2`");
    refused(&api.append(PARENT, vec![json!({"table": {"table_width": 2}})]).await, "a table is created with its rows");
    refused(
        &api.append(PARENT, vec![json!({"code": {"rich_text": [], "language": "klingon"}})]).await,
        "supported languages",
    );
    refused(
        &api.append(PARENT, vec![with_kids(json!({"heading_2": {"rich_text": [text("h")]}}), vec![para("x")])]).await,
        "only toggleable headings",
    );
    // Children of a block that takes none.
    let div = api.append(PARENT, vec![json!({"divider": {}})]).await;
    let div_id = div.1["results"][0]["id"].as_str().unwrap().to_string();
    refused(&api.append(&div_id, vec![para("x")]).await, "does not support children");
    // 2026-03-11 dropped `after` for `position`.
    let r = api
        .call(Method::PATCH, &format!("/blocks/{PARENT}/children"), json!({"children": [para("x")], "after": div_id}))
        .await;
    refused(&r, "body.after should be not present");
    let r = api
        .call(
            Method::PATCH,
            &format!("/blocks/{PARENT}/children"),
            json!({"children": [para("first")], "position": {"type": "start"}}),
        )
        .await;
    assert_eq!(r.0, 200);
    let (_, all) = api.call_v(Method::GET, &format!("/blocks/{PARENT}/children"), None, VERSION_2026).await;
    assert_eq!(all["results"][0]["paragraph"]["rich_text"][0]["plain_text"], "first");
    let r = api
        .call_v(
            Method::PATCH,
            &format!("/blocks/{PARENT}/children"),
            Some(json!({"children": [para("x")], "after": div_id})),
            VERSION_2025,
        )
        .await;
    assert_eq!(r.0, 200, "2025-09-03 still takes after: {}", r.1);
    // A parent that is not shared: 404.
    api.fake.with_world(|w| w.unshare(PARENT));
    let r = api.append(PARENT, vec![para("x")]).await;
    assert_eq!((r.0, r.1["code"].as_str()), (404, Some("object_not_found")));
}

#[tokio::test]
async fn pages_and_databases_refuse_what_the_api_cannot_write() {
    let api = Api::new(|_| {}).await;
    let alice = "a11ce000-0000-4000-8000-00000000a11c";
    let db = api
        .call(
            Method::POST,
            "/databases",
            json!({"parent": {"type": "page_id", "page_id": PARENT}, "title": [text("DB")], "is_inline": true,
                   "initial_data_source": {"properties": {"Name": {"title": {}}, "Tags": {"multi_select": {"options": [{"name": "a", "color": "red"}]}},
                   "F": {"formula": {"expression": "prop(\"Name\")"}}, "Who": {"people": {}}}}}),
        )
        .await;
    assert_eq!(db.0, 200, "{}", db.1);
    let ds = db.1["data_sources"][0]["id"].as_str().unwrap().to_string();
    // Served by the read side, and shown in the parent.
    let (s, got) = api.call_v(Method::GET, &format!("/data_sources/{ds}"), None, VERSION_2026).await;
    assert_eq!((s, got["properties"]["Tags"]["multi_select"]["options"][0]["color"].as_str()), (200, Some("red")));
    let (_, kids) = api.call_v(Method::GET, &format!("/blocks/{PARENT}/children"), None, VERSION_2026).await;
    assert_eq!(kids["results"][0]["type"], "child_database");

    let status = json!({"parent": {"type": "page_id", "page_id": PARENT}, "initial_data_source": {"properties": {"Name": {"title": {}}, "S": {"status": {}}}}});
    refused(&api.call(Method::POST, "/databases", status).await, "status properties cannot be created");
    let two_titles = json!({"parent": {"type": "page_id", "page_id": PARENT}, "initial_data_source": {"properties": {"A": {"title": {}}, "B": {"title": {}}}}});
    refused(&api.call(Method::POST, "/databases", two_titles).await, "exactly one title property");
    let bad_rollup = json!({"properties": {"R": {"rollup": {"relation_property_name": "Nope", "rollup_property_name": "Name", "function": "count"}}}});
    refused(
        &api.call(Method::PATCH, &format!("/data_sources/{ds}"), bad_rollup).await,
        "relation property \"Nope\" does not exist",
    );

    let row = |props: Value| json!({"parent": {"type": "data_source_id", "data_source_id": ds}, "properties": props});
    let ok = api
        .call(Method::POST, "/pages", row(json!({"Name": {"title": [text("r")]}, "Who": {"people": [{"id": alice}]}})))
        .await;
    assert_eq!(ok.0, 200, "{}", ok.1);
    assert_eq!(ok.1["properties"]["F"]["type"], "formula", "every property of the data source is shown");
    refused(&api.call(Method::POST, "/pages", row(json!({"F": {"formula": {"string": "x"}}}))).await, "read-only");
    let tags: Vec<Value> = (0..101).map(|i| json!({"name": format!("t{i}")})).collect();
    refused(
        &api.call(Method::POST, "/pages", row(json!({"Tags": {"multi_select": tags}}))).await,
        "multi_select.length should be ≤ `100`",
    );
    refused(
        &api.call(
            Method::POST,
            "/pages",
            row(json!({"Who": {"people": [{"id": "b0b00000-0000-4000-8000-000000000b0b"}]}})),
        )
        .await,
        "should be a user of this workspace",
    );
    refused(
        &api.call(Method::POST, "/pages", row(json!({"Nope": {"rich_text": []}}))).await,
        "is not a property that exists",
    );
    // Relations: at most 100, and only to pages of the related data source.
    let rel = api.call(Method::PATCH, &format!("/data_sources/{ds}"), json!({"properties": {"Self": {"relation": {"data_source_id": ds, "type": "single_property", "single_property": {}}}}})).await;
    assert_eq!(rel.0, 200, "{}", rel.1);
    let ids: Vec<Value> = (0..101).map(|_| json!({"id": ok.1["id"]})).collect();
    refused(
        &api.call(
            Method::PATCH,
            &format!("/pages/{}", ok.1["id"].as_str().unwrap()),
            json!({"properties": {"Self": {"relation": ids}}}),
        )
        .await,
        "relation.length should be ≤ `100`",
    );
    // A page below a page has only a title.
    let child = json!({"parent": {"page_id": PARENT}, "properties": {"Tags": {"multi_select": []}}});
    refused(&api.call(Method::POST, "/pages", child).await, "can only have the `title` property");
    let r = api
        .call(
            Method::POST,
            "/pages",
            json!({"parent": {"page_id": "0000dead-0000-4000-8000-00000000dead"}, "properties": {}}),
        )
        .await;
    assert_eq!(r.0, 404);
}

#[tokio::test]
async fn uploads_follow_the_file_upload_api_and_the_workspace_limit() {
    let api =
        Api::new(|w| w.bot["bot"]["workspace_limits"]["max_file_upload_size_in_bytes"] = json!(12 * 1024 * 1024)).await;
    // Single part: created, sent, attached, served as a Notion-hosted file.
    let (s, up) =
        api.call(Method::POST, "/file_uploads", json!({"filename": "a.txt", "content_type": "text/plain"})).await;
    assert_eq!((s, up["status"].as_str()), (200, Some("pending")));
    let id = up["id"].as_str().unwrap().to_string();
    // Not yet uploaded: cannot be attached.
    let early = api.append(PARENT, vec![json!({"file": {"type": "file_upload", "file_upload": {"id": id}}})]).await;
    refused(&early, "it must be `uploaded`");
    let sent = api.send_file(&id, b"hello".to_vec(), None, "text/plain").await;
    assert_eq!(sent.1["status"], "uploaded", "{}", sent.1);
    let r = api
        .append(PARENT, vec![json!({"file": {"type": "file_upload", "file_upload": {"id": id}, "name": "a.txt"}})])
        .await;
    assert_eq!(r.0, 200, "{}", r.1);
    let (_, kids) = api.call_v(Method::GET, &format!("/blocks/{PARENT}/children"), None, VERSION_2026).await;
    let url = kids["results"][0]["file"]["file"]["url"].as_str().unwrap().to_string();
    assert!(url.contains("X-Amz-Signature="));
    assert_eq!(reqwest::get(&url).await.unwrap().bytes().await.unwrap().as_ref(), b"hello");

    // Over the workspace's limit.
    let (_, big) = api.call(Method::POST, "/file_uploads", json!({"filename": "big.bin"})).await;
    let r =
        api.send_file(big["id"].as_str().unwrap(), vec![0u8; 13 * 1024 * 1024], None, "application/octet-stream").await;
    refused(&r, "larger than this workspace's upload limit");
    // Multi-part: part numbers within number_of_parts, parts of 5 MB but the last, complete.
    let (_, mp) = api
        .call(Method::POST, "/file_uploads", json!({"mode": "multi_part", "filename": "m.bin", "number_of_parts": 2}))
        .await;
    let mid = mp["id"].as_str().unwrap().to_string();
    refused(&api.send_file(&mid, vec![1u8; 10], Some(3), "application/octet-stream").await, "part_number");
    refused(&api.send_file(&mid, vec![1u8; 10], Some(1), "application/octet-stream").await, "parts must be 5 to 20 MB");
    assert_eq!(api.send_file(&mid, vec![1u8; PART_MIN], Some(1), "application/octet-stream").await.0, 200);
    refused(&api.call(Method::POST, &format!("/file_uploads/{mid}/complete"), json!({})).await, "1 of 2 parts");
    assert_eq!(api.send_file(&mid, vec![2u8; 10], Some(2), "application/octet-stream").await.0, 200);
    let done = api.call(Method::POST, &format!("/file_uploads/{mid}/complete"), json!({})).await;
    assert_eq!(done.1["status"], "uploaded", "{}", done.1);
    refused(
        &api.call(Method::POST, "/file_uploads", json!({"mode": "multi_part"})).await,
        "body.filename should be defined",
    );
    let long = format!("{}.txt", "n".repeat(900));
    refused(&api.call(Method::POST, "/file_uploads", json!({"filename": long})).await, "≤ `900` bytes");
}
