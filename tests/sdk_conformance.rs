//! The fake Notion server and our client, checked against something we did not write: the
//! official SDK (`@notionhq/client`, pinned in `tests/sdk/package.json`).
//!
//! `tests/sdk/driver.mjs` makes the SDK call every endpoint the tool uses against the fake; the
//! fake records what arrived (method, raw path, raw query, body, `Notion-Version`,
//! `Authorization`, `Content-Type`). Every SDK call must succeed (the fake serves what the SDK
//! accepts and parses), its refusals must reach the SDK as Notion errors with the right code,
//! and its requests must equal the recorded fixture `tests/sdk/sdk-requests.json`. Our client then
//! makes the same calls against a fake built from the same world, and its requests must equal
//! the fixture too: the same paths (property ids as Notion returned them), the same query
//! parameters (order aside), the same JSON bodies and headers.
//!
//! Without node the SDK half is skipped with a notice, and our client is still compared with the
//! fixture; on CI (`CI=true`) a missing node is a failure. `tests/sdk/record.sh` records the
//! fixture again (`UPDATE_SDK_FIXTURE=1`); review its diff like code.

mod common;

use std::sync::Arc;

use common::fake_notion::{dashed, FakeNotion, SeenRequest, World, DEFAULT_TOKEN, VERSION_2026};
use common::fixtures::*;
use futures::TryStreamExt;
use notion_git_backup::notion::model::Page;
use notion_git_backup::notion::{ClientConfig, NotionClient, RetryPolicy};
use serde_json::{json, Value};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sdk/sdk-requests.json");

/// Property ids as Notion returns them: already percent-encoded, and one holding characters a
/// path cannot carry as they are (a space and a non-ASCII letter), which the SDK's URL parser
/// encodes.
const LINKS_ID: &str = "cg%7D~";
const NOTES_ID: &str = "n%3A\u{e9} x";
const STATUS_ID: &str = "s%3Ab~";

/// The ids the calls use.
struct Ids {
    user: String,
    hub: String,
    first_block: String,
    database: String,
    data_source: String,
    view_database: String,
}

/// A deterministic workspace where every list the tool reads takes more than one page (or holds
/// something), so cursors are exercised too.
fn world() -> (World, Ids) {
    let mut w = World::new();
    w.seed = 1300;
    let mut users = Vec::new();
    for name in ["Alice", "Bob", "Carol"] {
        let id = w.next_id();
        w.insert_user(person(&id, name, &format!("{}@example.com", name.to_lowercase())));
        users.push(id);
    }
    let targets: Vec<String> = (0..130).map(|i| add_page(&mut w, parent_workspace(), &format!("Target {i}"))).collect();
    let hub = w.next_id();
    let notes: Vec<Value> = (0..30).map(|i| mention_page(&targets[i], &format!("Target {i}"))).collect();
    w.insert_page(page(
        &hub,
        parent_workspace(),
        "Hub",
        vec![("Links", p_relation(&targets)), ("Notes", p_rich_text_runs(notes))],
    ));
    let props = &mut w.page_mut(&hub).unwrap()["properties"];
    props["Links"]["id"] = json!(LINKS_ID);
    props["Notes"]["id"] = json!(NOTES_ID);
    // Block ids from the world's seed (the fixtures' blocks get random ones), so every run
    // sends the same requests.
    let paragraphs: Vec<Value> = (0..150)
        .map(|i| {
            let mut b = paragraph(&format!("Paragraph {i}"));
            b["id"] = json!(w.next_id());
            b
        })
        .collect();
    let blocks = w.set_children(&hub, paragraphs);
    w.add_comment(&hub, comment(&hub, "Looks good", &users[0]));

    let db = add_database_with(&mut w, DbSpec { title: "Tasks".into(), rows: 150, ..DbSpec::default() });
    w.data_sources.get_mut(&common::fake_notion::norm(&db.data_source_id)).unwrap().json["properties"]["Status"] =
        json!({"id": STATUS_ID, "name": "Status", "type": "select", "select": {"options": []}});
    for row in &db.rows {
        w.page_mut(row).unwrap()["properties"]["Status"] = json!({"id": STATUS_ID, "type": "select", "select": null});
    }
    let view_database = w.next_id();
    w.linked_views.insert(common::fake_notion::norm(&view_database), common::fake_notion::norm(&db.data_source_id));
    let ids = Ids {
        user: users[1].clone(),
        hub: dashed(&hub),
        first_block: blocks[0].clone(),
        database: dashed(&db.database_id),
        data_source: dashed(&db.data_source_id),
        view_database: dashed(&view_database),
    };
    (w, ids)
}

/// The calls the tool makes, as SDK calls (`tests/sdk/driver.mjs` maps each name to the SDK
/// method). Our client's side is [`our_calls`], in the same order.
fn plan(ids: &Ids) -> Vec<Value> {
    vec![
        json!({"call": "users.me"}),
        json!({"call": "users.list", "args": {"page_size": 100}, "paginate": true}),
        json!({"call": "users.retrieve", "args": {"user_id": ids.user}}),
        json!({"call": "search", "paginate": true, "args": {
            "filter": {"property": "object", "value": "page"},
            "sort": {"timestamp": "last_edited_time", "direction": "descending"},
            "page_size": 100}}),
        json!({"call": "databases.retrieve", "args": {"database_id": ids.database}}),
        json!({"call": "dataSources.retrieve", "args": {"data_source_id": ids.data_source}}),
        json!({"call": "dataSources.query", "paginate": true, "args": {
            "data_source_id": ids.data_source,
            "filter_properties": [STATUS_ID, "title"],
            "sorts": [{"timestamp": "created_time", "direction": "ascending"}],
            "page_size": 100}}),
        json!({"call": "pages.retrieve", "args": {"page_id": ids.hub}}),
        json!({"call": "pages.properties.retrieve", "paginate": true,
               "args": {"page_id": ids.hub, "property_id": LINKS_ID, "page_size": 100}}),
        json!({"call": "pages.properties.retrieve", "paginate": true,
               "args": {"page_id": ids.hub, "property_id": NOTES_ID, "page_size": 100}}),
        json!({"call": "blocks.retrieve", "args": {"block_id": ids.first_block}}),
        json!({"call": "blocks.children.list", "paginate": true, "args": {"block_id": ids.hub, "page_size": 100}}),
        json!({"call": "comments.list", "paginate": true, "args": {"block_id": ids.hub, "page_size": 100}}),
        json!({"call": "views.list", "paginate": true, "args": {"database_id": ids.view_database, "page_size": 100}}),
    ]
}

/// Requests the fake refuses; the SDK must read each answer as a Notion error with this code.
fn refused_plan(ids: &Ids) -> Vec<Value> {
    vec![
        json!({"call": "pages.properties.retrieve", "expect_error": "object_not_found",
               "args": {"page_id": ids.hub, "property_id": "cg%257D%7E"}}),
        json!({"call": "blocks.children.list", "expect_error": "validation_error",
               "args": {"block_id": ids.hub, "page_size": 101}}),
        json!({"call": "search", "expect_error": "validation_error",
               "args": {"filter": {"property": "object", "value": "database"}}}),
        json!({"call": "users.list", "expect_error": "validation_error", "args": {"start_cursor": "not-a-cursor"}}),
        json!({"call": "pages.retrieve", "expect_error": "object_not_found",
               "args": {"page_id": "00000000-0000-4000-8000-000000000000"}}),
    ]
}

/// The same calls through our client.
async fn our_calls(c: &NotionClient, ids: &Ids) {
    c.users_me().await.unwrap();
    let users: Vec<_> = c.list_users().try_collect().await.unwrap();
    assert_eq!(users.len(), 3);
    c.get_user(&ids.user).await.unwrap();
    let found: Vec<Value> = c
        .search(json!({
            "filter": {"property": "object", "value": "page"},
            "sort": {"timestamp": "last_edited_time", "direction": "descending"},
        }))
        .try_collect()
        .await
        .unwrap();
    assert!(found.len() > 100, "{}", found.len());
    c.get_database(&ids.database).await.unwrap();
    c.get_data_source(&ids.data_source).await.unwrap();
    let keep_all = Arc::new(|_: &Page| true);
    let rows =
        c.query_all_with(&ids.data_source, &[STATUS_ID.to_string(), "title".to_string()], keep_all).await.unwrap();
    assert_eq!(rows.len(), 150);
    c.get_page(&ids.hub).await.unwrap();
    let links: Vec<Value> = c.property_items(&ids.hub, LINKS_ID).try_collect().await.unwrap();
    assert_eq!(links.len(), 130);
    let notes: Vec<Value> = c.property_items(&ids.hub, NOTES_ID).try_collect().await.unwrap();
    assert_eq!(notes.len(), 30);
    c.get_block(&ids.first_block).await.unwrap();
    let blocks: Vec<_> = c.block_children(&ids.hub).try_collect().await.unwrap();
    assert_eq!(blocks.len(), 150);
    let comments: Vec<Value> = c.comments(&ids.hub).try_collect().await.unwrap();
    assert_eq!(comments.len(), 1);
    let views: Vec<Value> = c.views(&ids.view_database).try_collect().await.unwrap();
    assert_eq!(views.len(), 1);
}

/// A request as compared: query parameters as raw `key=value` pairs in sorted order (their
/// order carries no meaning), the content type without parameters; the user agent left out.
fn comparable(r: &SeenRequest) -> Value {
    let mut query: Vec<&str> = r.query.as_deref().unwrap_or("").split('&').filter(|p| !p.is_empty()).collect();
    query.sort_unstable();
    let content_type = r.content_type.as_deref().map(|c| c.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
    json!({
        "method": r.method, "path": r.path, "query": query, "body": r.body,
        "notion_version": r.notion_version, "authorization": r.authorization, "content_type": content_type,
    })
}

fn assert_same_requests(what: &str, got: &[Value], want: &[Value]) {
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(
            g,
            w,
            "{what}: request {i} differs from the SDK's\n ours/now: {}\n SDK:      {}",
            serde_json::to_string(g).unwrap(),
            serde_json::to_string(w).unwrap()
        );
    }
    assert_eq!(got.len(), want.len(), "{what}: {} requests, the SDK sent {}", got.len(), want.len());
}

fn fixture() -> Value {
    let text = std::fs::read_to_string(FIXTURE).unwrap_or_else(|e| panic!("{FIXTURE}: {e}: run tests/sdk/record.sh"));
    serde_json::from_str(&text).unwrap()
}

fn node_available() -> bool {
    std::process::Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success())
}

/// Whether the SDK half can run here; on CI a missing node fails instead of skipping.
fn sdk_runnable() -> bool {
    if node_available() {
        return true;
    }
    let on_ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    assert!(
        !on_ci,
        "CI=true but `node` is not on PATH: the official-SDK conformance check cannot run. Install Node.js and npm (Debian: apt-get install -y nodejs npm), as .ci/run does"
    );
    eprintln!("NOTICE: node is not installed: the official SDK half of sdk_conformance is skipped (our client is still compared with the recorded {FIXTURE})");
    false
}

/// Run the driver with `calls` against a fresh fake of [`world`]; the driver's report and what
/// the fake received.
async fn run_sdk(calls: Vec<Value>) -> (Value, Vec<SeenRequest>) {
    common::sdk::install_sdk();
    let (mut w, _) = world();
    w.record_requests = true;
    let fake = FakeNotion::start(w).await;
    let report = common::sdk::drive(&fake, calls).await;
    (report, fake.requests())
}

fn our_client(fake: &FakeNotion) -> NotionClient {
    let mut cfg = ClientConfig::new(&fake.base_url(), DEFAULT_TOKEN);
    cfg.version = VERSION_2026.to_string();
    cfg.rate_per_second = 10_000.0;
    cfg.burst = 1000;
    cfg.retry = RetryPolicy { max_attempts: 1, ..RetryPolicy::default() };
    NotionClient::new(cfg).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_sends_what_the_official_sdk_sends() {
    let (_, ids) = world();
    let recorded = fixture();
    let want: Vec<Value> = recorded["requests"].as_array().unwrap().clone();

    if sdk_runnable() {
        let (report, seen) = run_sdk(plan(&ids)).await;
        let now: Vec<Value> = seen.iter().map(comparable).collect();
        if std::env::var("UPDATE_SDK_FIXTURE").is_ok_and(|v| v == "1") {
            let fixture = json!({
                "about": "Requests the official Notion SDK sent to the fake Notion server for every call notion-git-backup makes (tests/sdk_conformance.rs). Recorded by tests/sdk/record.sh; review changes like code.",
                "sdk_version": report["sdk_version"],
                "requests": now,
            });
            std::fs::write(FIXTURE, serde_json::to_string_pretty(&fixture).unwrap() + "\n").unwrap();
            eprintln!("recorded {} SDK requests into {FIXTURE}", now.len());
        } else {
            assert_eq!(report["sdk_version"], recorded["sdk_version"], "the installed SDK is not the one recorded");
            assert_same_requests("the SDK now", &now, &want);
        }
    }

    let (mut w, _) = world();
    w.record_requests = true;
    let fake = FakeNotion::start(w).await;
    our_calls(&our_client(&fake), &ids).await;
    let ours: Vec<Value> = fake.requests().iter().map(comparable).collect();
    let want = if std::env::var("UPDATE_SDK_FIXTURE").is_ok_and(|v| v == "1") {
        fixture()["requests"].as_array().unwrap().clone()
    } else {
        want
    };
    assert_same_requests("our client", &ours, &want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_sdk_reads_the_fakes_refusals_as_notion_errors() {
    if !sdk_runnable() {
        return;
    }
    let (_, ids) = world();
    let (report, _) = run_sdk(refused_plan(&ids)).await;
    let calls = report["calls"].as_array().unwrap();
    assert_eq!(calls.len(), refused_plan(&ids).len());
    for c in calls {
        assert_eq!(c["ok"], false, "{c}");
        assert_eq!(c["status"].as_u64().map(|s| s / 100), Some(4), "{c}");
    }
}

/// The fixture is what the driver's plan produces: one request per page of every call, each the
/// SDK's own encoding of the property ids (a guard against a hand-edited fixture).
#[test]
fn the_recorded_fixture_holds_the_sdks_encoding_of_property_ids() {
    let f = fixture();
    let paths: Vec<&str> = f["requests"].as_array().unwrap().iter().filter_map(|r| r["path"].as_str()).collect();
    assert!(paths.iter().any(|p| p.ends_with("/properties/cg%7D~")), "{paths:?}");
    assert!(paths.iter().any(|p| p.ends_with("/properties/n%3A%C3%A9%20x")), "{paths:?}");
    let query = f["requests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["path"].as_str().is_some_and(|p| p.ends_with("/query")))
        .unwrap();
    assert!(query["query"].as_array().unwrap().contains(&json!("filter_properties=s%3Ab%7E")), "{query}");
}
