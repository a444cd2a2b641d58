//! The Notion client against the fake Notion server: whole block trees, survival of 429 storms
//! and 5xx, the rate it never exceeds, typed errors with the fix, the 10,000-row cap, and
//! truncated properties completed.

mod common;

use std::time::Duration;

use common::fake_notion::{FakeNotion, RateLimit, World, DEFAULT_TOKEN};
use common::fixtures::*;
use futures::TryStreamExt;
use notion_git_backup::notion::model::{BlockKind, PropertyKind};
use notion_git_backup::notion::tree::TreeOptions;
use notion_git_backup::notion::{ClientConfig, NotionClient, NotionError, RetryPolicy};
use serde_json::json;

fn client(fake: &FakeNotion, rate: f64, burst: u32) -> NotionClient {
    let mut c = ClientConfig::new(&fake.base_url(), DEFAULT_TOKEN);
    c.rate_per_second = rate;
    c.burst = burst;
    c.retry = RetryPolicy {
        max_attempts: 10,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
        max_total: Duration::from_secs(120),
        ..RetryPolicy::default()
    };
    NotionClient::new(c).unwrap()
}

#[tokio::test]
async fn page_with_250_blocks_and_12_deep_nesting_comes_back_whole() {
    let mut w = World::new();
    let page_id = add_page(&mut w, parent_workspace(), "Big page");
    let top: Vec<_> = (0..250).map(|i| paragraph(&format!("p{i}"))).collect();
    let ids = w.set_children(&page_id, top);
    // 12 levels below the 7th paragraph.
    let mut parent = ids[7].clone();
    for depth in 1..=12 {
        let child = w.set_children(&parent, vec![bulleted(&format!("depth {depth}"))]);
        parent = child[0].clone();
    }
    let fake = FakeNotion::start(w).await;
    let tree = client(&fake, 1000.0, 100).fetch_tree(&page_id, TreeOptions::default()).await.unwrap();
    assert_eq!(tree.blocks.len(), 250);
    assert!(tree.warnings.is_empty(), "{:?}", tree.warnings);
    let mut node = &tree.blocks[7];
    for depth in 1..=12 {
        assert_eq!(node.children.len(), 1, "depth {depth}");
        node = &node.children[0];
        match &node.kind {
            BlockKind::BulletedListItem(t) => assert_eq!(t.rich_text[0].plain_text, format!("depth {depth}")),
            other => panic!("{other:?}"),
        }
    }
    assert!(node.children.is_empty());
    // 3 pages of top-level children + one listing per nested level.
    assert_eq!(fake.stats().kind("blocks.children"), 3 + 12);
}

#[tokio::test]
async fn storms_of_429_and_5xx_are_survived_without_exceeding_the_rate() {
    let mut w = World::new();
    let page_id = add_page(&mut w, parent_workspace(), "Flaky");
    let top: Vec<_> = (0..30).map(|i| toggle(&format!("t{i}"))).collect();
    let ids = w.set_children(&page_id, top);
    for id in &ids {
        w.set_children(id, vec![paragraph("inside")]);
    }
    w.faults.burst_429 = 5;
    w.faults.error_rate_5xx = 0.15;
    w.faults.drop_rate = 0.05;
    w.faults.retry_after_secs = 1;
    w.faults.rate_limit = Some(RateLimit { per_second: 20.0, burst: 5 });
    w.seed = 7;
    let fake = FakeNotion::start(w).await;
    let c = client(&fake, 10.0, 3);
    let tree = c.fetch_tree(&page_id, TreeOptions { concurrency: 8, ..Default::default() }).await.unwrap();
    assert_eq!(tree.blocks.len(), 30);
    assert!(tree.blocks.iter().all(|b| b.children.len() == 1));
    let stats = fake.stats();
    assert!(stats.rate_limited >= 5, "the burst of 429s was served: {}", stats.rate_limited);
    assert!(stats.server_errors > 0, "some 5xx were served");
    // Measured in the fake: never more than rate + burst in any one-second window.
    let max = fake.max_in_window(Duration::from_secs(1));
    assert!(max <= 10 + 3, "client sent {max} requests in one second (limit 10/s, burst 3)");
    assert!(c.rate_limited() >= 5);
}

#[tokio::test]
async fn unshared_database_gives_the_sharing_hint() {
    let mut w = World::new();
    let db = add_database(&mut w, "Secret", 2);
    w.unshare(&db.database_id);
    let fake = FakeNotion::start(w).await;
    let err = client(&fake, 1000.0, 100).get_database(&db.database_id).await.unwrap_err();
    assert!(err.is_not_found());
    let msg = err.to_string();
    assert!(msg.contains("Connections") && msg.contains("add your integration"), "{msg}");
    assert!(!msg.contains(DEFAULT_TOKEN));
}

#[tokio::test]
async fn bad_token_is_unauthorized_and_not_retried() {
    let mut w = World::new();
    let db = add_database(&mut w, "Db", 1);
    let fake = FakeNotion::start(w).await;
    let c = NotionClient::new(ClientConfig::new(&fake.base_url(), "secret_wrong")).unwrap();
    let err = c.get_database(&db.database_id).await.unwrap_err();
    assert!(matches!(err, NotionError::Unauthorized), "{err}");
    assert!(err.to_string().contains("NOTION_TOKEN"));
    assert_eq!(fake.stats().requests, 1, "401 must not be retried");
}

#[tokio::test]
async fn malformed_json_is_a_clear_error() {
    let mut w = World::new();
    let page_id = add_page(&mut w, parent_workspace(), "Broken");
    w.set_children(&page_id, vec![paragraph("x")]);
    w.faults.malformed_json_paths = vec!["/blocks/".into()];
    let fake = FakeNotion::start(w).await;
    let err = client(&fake, 1000.0, 100).fetch_tree(&page_id, TreeOptions::default()).await.unwrap_err();
    assert!(matches!(err, NotionError::Decode { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("could not be read") && msg.contains("children of block"), "{msg}");
}

#[tokio::test]
async fn data_source_over_the_10000_row_cap_is_listed_whole() {
    let mut w = World::new();
    let db = add_database_with(&mut w, DbSpec { rows: 25_000, rows_per_minute: 7, lazy: true, ..DbSpec::default() });
    let fake = FakeNotion::start(w).await;
    let rows = client(&fake, 10_000.0, 1000).query_all(&db.data_source_id).await.unwrap();
    assert_eq!(rows.len(), 25_000);
    let unique: std::collections::HashSet<_> = rows.iter().map(|p| p.id.clone()).collect();
    assert_eq!(unique.len(), 25_000);
    // Windows overlap by at most one minute of rows: close to the minimum of 250 requests.
    let q = fake.stats().kind("data_sources.query");
    assert!((250..=256).contains(&q), "{q} query requests");
}

#[tokio::test]
async fn a_40_item_relation_is_complete() {
    let mut w = World::new();
    let targets: Vec<String> = (0..40).map(|i| add_page(&mut w, parent_workspace(), &format!("T{i}"))).collect();
    let id = w.next_id();
    w.insert_page(page(&id, parent_workspace(), "Hub", vec![("Links", p_relation(&targets))]));
    let fake = FakeNotion::start(w).await;
    let c = client(&fake, 1000.0, 100);
    let mut p = c.get_page(&id).await.unwrap();
    match &p.properties["Links"].kind {
        PropertyKind::Relation { ids, has_more } => assert!(ids.len() == 25 && *has_more),
        other => panic!("{other:?}"),
    }
    c.complete_truncated_properties(&mut p).await.unwrap();
    match &p.properties["Links"].kind {
        PropertyKind::Relation { ids, has_more } => {
            assert_eq!(ids.len(), 40);
            assert!(!has_more);
            let want: Vec<String> = targets.iter().map(|t| notion_git_backup::ids::normalize(t)).collect();
            let got: Vec<String> = ids.iter().map(|t| notion_git_backup::ids::normalize(t)).collect();
            assert_eq!(got, want);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn synced_cycles_unsupported_blocks_and_references() {
    let mut w = World::new();
    let page_id = add_page(&mut w, parent_workspace(), "Synced");
    let ids = w.set_children(&page_id, vec![synced_block_original(), unsupported("ai_block"), paragraph("after")]);
    let original = ids[0].clone();
    // The original contains text and a reference to itself.
    w.set_children(&original, vec![paragraph("shared text"), synced_block_reference(&original)]);
    // A second page references the original.
    let other = add_page(&mut w, parent_workspace(), "Other");
    w.set_children(&other, vec![synced_block_reference(&original)]);
    let fake = FakeNotion::start(w).await;
    let c = client(&fake, 1000.0, 100);

    let tree = c.fetch_tree(&page_id, TreeOptions::default()).await.unwrap();
    assert_eq!(tree.blocks.len(), 3);
    assert_eq!(tree.blocks[0].children.len(), 2);
    assert!(tree.blocks[0].children[1].children.is_empty(), "the self-reference is not expanded again");
    assert!(tree.warnings.iter().any(|w| w.contains("cycle")), "{:?}", tree.warnings);
    assert!(matches!(tree.blocks[1].kind, BlockKind::Unsupported { .. }));

    let tree = c.fetch_tree(&other, TreeOptions::default()).await.unwrap();
    let reference = &tree.blocks[0];
    assert_eq!(reference.children.len(), 2, "a reference renders its source's content");
    assert_eq!(reference.children[0].kind.type_name(), "paragraph");
}

#[tokio::test]
async fn version_2025_09_03_responses_are_understood() {
    let mut w = World::new();
    let page_id = add_page(&mut w, parent_workspace(), "Old version");
    w.set_children(
        &page_id,
        vec![block("meeting_notes", json!({"title": [], "status": "notes_ready", "children": {}}))],
    );
    let fake = FakeNotion::start(w).await;
    let mut cfg = ClientConfig::new(&fake.base_url(), DEFAULT_TOKEN);
    cfg.version = "2025-09-03".into();
    let c = NotionClient::new(cfg).unwrap();
    let tree = c.fetch_tree(&page_id, TreeOptions::default()).await.unwrap();
    assert_eq!(tree.blocks[0].type_name(), "meeting_notes");
    let p = c.get_page(&page_id).await.unwrap();
    assert!(!p.is_trashed());
    let all: Vec<_> = c.search(json!({})).try_collect().await.unwrap();
    assert!(!all.is_empty());
}

/// Regression: throttled answers used to count toward the 8-attempt budget, so a short storm of
/// 429s failed a whole database although Notion only asked to wait.
#[tokio::test]
async fn a_storm_longer_than_the_attempt_budget_is_waited_out() {
    let mut w = World::new();
    let page_id = add_page(&mut w, parent_workspace(), "Busy");
    w.set_children(&page_id, vec![paragraph("x")]);
    w.faults.burst_429 = 12;
    w.faults.retry_after_secs = 0;
    let fake = FakeNotion::start(w).await;
    let c = client(&fake, 1000.0, 100);
    let tree = c.fetch_tree(&page_id, TreeOptions::default()).await.unwrap();
    assert_eq!(tree.blocks.len(), 1);
    assert_eq!(c.rate_limited(), 12);
}

/// Regression: property ids went out encoded a second time (`cg%7D~` as `cg%257D%7E`), which
/// Notion answers with 404, so every page holding more than 25 relations, people or mentions
/// failed. The completed values come back whole, in the shape a page object holds them, for
/// restore (`page.json` -> `complete_properties`).
#[tokio::test]
async fn truncated_relation_and_mentions_are_completed_with_their_whole_values() {
    let mut w = World::new();
    let targets: Vec<String> = (0..60).map(|i| add_page(&mut w, parent_workspace(), &format!("T{i}"))).collect();
    let mentions: Vec<serde_json::Value> = (0..30).map(|i| mention_page(&targets[i], &format!("T{i}"))).collect();
    let id = w.next_id();
    w.insert_page(page(
        &id,
        parent_workspace(),
        "Hub",
        vec![
            ("Links", p_relation(&targets)),
            ("Notes", p_rich_text_runs(mentions.clone())),
            ("Few", p_relation(&targets[..2])),
        ],
    ));
    w.page_mut(&id).unwrap()["properties"]["Links"]["id"] = json!("cg%7D~");
    w.record_requests = true;
    let fake = FakeNotion::start(w).await;
    let c = client(&fake, 1000.0, 100);
    let mut p = c.get_page(&id).await.unwrap();
    let notes_id = p.properties["Notes"].id.clone().unwrap();
    let complete = c.complete_truncated_properties(&mut p).await.unwrap();

    assert_eq!(complete.keys().collect::<Vec<_>>(), vec!["Links", "Notes"], "only what was truncated");
    let want_links: Vec<serde_json::Value> = targets.iter().map(|t| json!({"id": t})).collect();
    assert_eq!(
        complete["Links"],
        json!({"id": "cg%7D~", "type": "relation", "relation": want_links, "has_more": false})
    );
    assert_eq!(complete["Notes"], json!({"id": notes_id, "type": "rich_text", "rich_text": mentions}));
    match &p.properties["Links"].kind {
        PropertyKind::Relation { ids, has_more } => assert_eq!((ids.len(), *has_more), (60, false)),
        other => panic!("{other:?}"),
    }
    match &p.properties["Notes"].kind {
        PropertyKind::RichText(runs) => assert_eq!(runs.len(), 30),
        other => panic!("{other:?}"),
    }
    // The property id went into the path exactly as Notion returned it.
    let paths: Vec<String> =
        fake.requests().into_iter().map(|r| r.path).filter(|p| p.contains("/properties/")).collect();
    let dashed_id = common::fake_notion::dashed(&id);
    assert_eq!(
        paths,
        vec![
            format!("/v1/pages/{dashed_id}/properties/cg%7D~"),
            format!("/v1/pages/{dashed_id}/properties/{notes_id}"),
        ]
    );
}
