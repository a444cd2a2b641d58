//! Tests of the fake Notion server itself, through plain reqwest: if these hold, the client and
//! end-to-end tests exercise behaviour that matches the real API (auth/version errors, opaque
//! pagination, the 10k query cap, rate limiting, expiring signed URLs, 404 for unshared ids,
//! 25-item truncation and the property endpoint).

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::fake_notion::{
    dashed, norm, FakeNotion, RateLimit, SearchLag, Stats, World, BOT_ID, VERSION_2025, VERSION_2026,
};
use common::fixtures::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

struct Api {
    fake: FakeNotion,
    http: reqwest::Client,
    version: &'static str,
}

impl Api {
    async fn new(world: World) -> Api {
        Api { fake: FakeNotion::start(world).await, http: reqwest::Client::new(), version: VERSION_2026 }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.fake.base_url()))
            .bearer_auth("secret_test_token")
            .header("Notion-Version", self.version);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let (status, headers) = (resp.status(), resp.headers().clone());
        let text = resp.text().await.unwrap();
        (status, headers, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let (s, _, v) = self.call(Method::GET, path, None).await;
        (s, v)
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let (s, _, v) = self.call(Method::POST, path, Some(body)).await;
        (s, v)
    }
}

fn ids(results: &Value) -> Vec<String> {
    results.as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn auth_and_version_are_checked_like_notion() {
    let api = Api::new(World::new()).await;
    let url = format!("{}/users/me", api.fake.base_url());

    let r = api.http.get(&url).header("Notion-Version", VERSION_2026).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let v: Value = r.json().await.unwrap();
    assert_eq!((v["object"].as_str(), v["code"].as_str()), (Some("error"), Some("unauthorized")));

    let r = api.http.get(&url).bearer_auth("ntn_wrong").header("Notion-Version", VERSION_2026).send().await.unwrap();
    assert_eq!(r.status(), 401);

    let r = api.http.get(&url).bearer_auth("secret_test_token").send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "missing_version");

    let r = api
        .http
        .get(&url)
        .bearer_auth("secret_test_token")
        .header("Notion-Version", "2022-06-28")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "validation_error");

    let (s, me) = api.get("/users/me").await;
    assert_eq!(s, 200);
    assert_eq!(me["bot"]["workspace_name"], "Test Workspace");

    let (s, v) = api.get("/nonsense").await;
    assert_eq!((s.as_u16(), v["code"].as_str()), (400, Some("invalid_request_url")));

    let stats = api.fake.stats();
    assert_eq!(stats.requests, 6);
    assert_eq!(stats.unauthorized, 2);
    assert_eq!(stats.kind("users.me"), 5);
}

#[tokio::test]
async fn older_version_adds_archived_and_transcription() {
    let mut world = World::new();
    let page_id = add_page(&mut world, parent_workspace(), "Notes");
    world.set_children(&page_id, vec![block("meeting_notes", json!({"title": [], "status": "notes_ready"}))]);
    let mut api = Api::new(world).await;

    let (_, page) = api.get(&format!("/pages/{page_id}")).await;
    assert!(page.get("archived").is_none(), "2026-03-11 has no `archived`");
    let (_, kids) = api.get(&format!("/blocks/{page_id}/children")).await;
    assert_eq!(kids["results"][0]["type"], "meeting_notes");

    api.version = VERSION_2025;
    let (_, page) = api.get(&format!("/pages/{page_id}")).await;
    assert_eq!(page["archived"], false);
    let (_, kids) = api.get(&format!("/blocks/{page_id}/children")).await;
    assert_eq!(kids["results"][0]["type"], "transcription");
    assert_eq!(kids["results"][0]["transcription"]["status"], "notes_ready");
}

#[tokio::test]
async fn children_paginate_with_opaque_cursors() {
    let mut world = World::new();
    let page_id = add_page(&mut world, parent_workspace(), "Long page");
    let blocks: Vec<Value> = (0..250).map(|i| paragraph(&format!("p{i}"))).collect();
    let expected = world.set_children(&page_id, blocks);
    let other = add_page(&mut world, parent_workspace(), "Other");
    world.set_children(&other, (0..150).map(|i| bulleted(&format!("b{i}"))).collect());
    let api = Api::new(world).await;

    let mut got = Vec::new();
    let mut cursor: Option<String> = None;
    let mut sizes = Vec::new();
    let mut cursors = Vec::new();
    loop {
        // Undashed id in the path is accepted too.
        let mut path = format!("/blocks/{}/children", norm(&page_id));
        if let Some(c) = &cursor {
            path.push_str(&format!("?start_cursor={c}"));
        }
        let (s, v) = api.get(&path).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!((v["object"].as_str(), v["type"].as_str()), (Some("list"), Some("block")));
        assert_eq!(v["block"], json!({}));
        sizes.push(v["results"].as_array().unwrap().len());
        got.extend(ids(&v["results"]));
        if !v["has_more"].as_bool().unwrap() {
            assert!(v["next_cursor"].is_null());
            break;
        }
        let c = v["next_cursor"].as_str().unwrap().to_string();
        cursors.push(c.clone());
        cursor = Some(c);
    }
    assert_eq!(sizes, vec![100, 100, 50]);
    assert_eq!(got, expected);
    for c in &cursors {
        assert!(!c.contains("100") && !c.contains("200"), "cursor looks like an offset: {c}");
        assert!(!got.contains(c), "cursor is a block id: {c}");
    }
    assert!(got.iter().all(|id| *id == dashed(id)), "ids are served dashed");

    // A cursor from one list is not valid for another; page_size is capped at 100.
    let (s, v) = api.get(&format!("/blocks/{other}/children?start_cursor={}", cursors[0])).await;
    assert_eq!((s.as_u16(), v["code"].as_str()), (400, Some("validation_error")));
    let (s, _) = api.get(&format!("/blocks/{page_id}/children?page_size=101")).await;
    assert_eq!(s, 400);
    let (s, v) = api.get(&format!("/blocks/{page_id}/children?page_size=30")).await;
    assert_eq!((s.as_u16(), v["results"].as_array().unwrap().len()), (200, 30));
    assert_eq!(api.fake.stats().kind("blocks.children"), 6);
}

#[tokio::test]
async fn query_stops_at_the_cap_and_created_time_windows_get_the_rest() {
    let mut world = World::new();
    let started = Instant::now();
    let db =
        add_database_with(&mut world, DbSpec { rows: 25_000, rows_per_minute: 7, lazy: true, ..DbSpec::default() });
    println!("built 25,000 rows in {:?}", started.elapsed());
    assert_eq!(world.query_cap, 10_000);
    let api = Api::new(world).await;
    let path = format!("/data_sources/{}/query", db.data_source_id);

    let mut seen = HashSet::new();
    let mut order = Vec::new();
    let mut windows = Vec::new();
    let mut since: Option<String> = None;
    loop {
        // The window's filter is fixed for all of its pages.
        let window_since = since.clone();
        let mut cursor: Option<String> = None;
        let mut n = 0;
        let status = loop {
            let mut body =
                json!({"sorts": [{"timestamp": "created_time", "direction": "ascending"}], "page_size": 100});
            if let Some(s) = &window_since {
                body["filter"] = json!({"and": [{"timestamp": "created_time", "created_time": {"on_or_after": s}}]});
            }
            if let Some(c) = &cursor {
                body["start_cursor"] = json!(c);
            }
            let (s, v) = api.post(&path, body).await;
            assert_eq!(s, 200, "{v}");
            assert_eq!(v["type"], "page_or_data_source");
            for p in v["results"].as_array().unwrap() {
                n += 1;
                let id = p["id"].as_str().unwrap().to_string();
                order.push(p["created_time"].as_str().unwrap().to_string());
                if seen.insert(id) {
                    since = Some(p["created_time"].as_str().unwrap().to_string());
                }
            }
            if v["has_more"] == false {
                break v.get("request_status").cloned();
            }
            cursor = v["next_cursor"].as_str().map(str::to_string);
        };
        windows.push((n, status.clone()));
        if status.is_none() {
            break;
        }
        assert_eq!(status.unwrap(), json!({"type": "incomplete", "incomplete_reason": "query_result_limit_reached"}));
    }
    assert_eq!(windows[0].0, 10_000, "first window stops at the cap: {windows:?}");
    assert!(windows.len() >= 3, "25,000 rows need at least three windows: {windows:?}");
    assert_eq!(seen.len(), 25_000, "windows by created_time reach every row");
    let mut sorted = order.clone();
    sorted.sort();
    // Within each window rows come in ascending created_time.
    assert!(order.windows(2).filter(|w| w[0] > w[1]).count() < windows.len());

    // Without a sort the default order is the data source's row order, also capped.
    let (_, v) = api.post(&path, json!({})).await;
    assert_eq!(ids(&v["results"])[..3], db.rows[..3]);
}

#[tokio::test]
async fn query_filters_and_sorts_rows() {
    let mut world = World::new();
    let db = add_database(&mut world, "Tasks", 5);
    for (i, id) in db.rows.iter().enumerate() {
        let p = world.page_mut(id).unwrap();
        p["properties"]["Done"] = json!({"id": prop_id("Done"), "type": "checkbox", "checkbox": i % 2 == 0});
        p["last_edited_time"] = json!(ts_plus_minutes(100 - i as i64));
    }
    world.page_mut(&db.rows[4]).unwrap()["in_trash"] = json!(true);
    let api = Api::new(world).await;
    let path = format!("/data_sources/{}/query", db.data_source_id);

    let (_, v) = api
        .post(
            &path,
            json!({"filter": {"property": "Done", "checkbox": {"equals": true}},
                              "sorts": [{"timestamp": "last_edited_time", "direction": "ascending"}]}),
        )
        .await;
    assert_eq!(ids(&v["results"]), vec![db.rows[2].clone(), db.rows[0].clone()]);

    let since = ts_plus_minutes(98);
    let (_, v) = api
        .post(&path, json!({"filter": {"timestamp": "last_edited_time", "last_edited_time": {"on_or_after": since}}}))
        .await;
    assert_eq!(ids(&v["results"]), db.rows[..3].to_vec());

    let (_, v) = api.post(&path, json!({"in_trash": true})).await;
    assert_eq!(ids(&v["results"]), vec![db.rows[4].clone()]);

    let (s, v) = api.post(&path, json!({"page_size": 0})).await;
    assert_eq!((s.as_u16(), v["code"].as_str()), (400, Some("validation_error")));
}

#[tokio::test]
async fn rate_limiter_answers_429_with_retry_after() {
    let mut world = World::new();
    world.faults.rate_limit = Some(RateLimit { per_second: 0.5, burst: 3 });
    world.faults.retry_after_secs = 2;
    let api = Api::new(world).await;

    let mut statuses = Vec::new();
    for _ in 0..10 {
        let (s, h, v) = api.call(Method::GET, "/users/me", None).await;
        if s == 429 {
            assert_eq!(h.get("retry-after").unwrap(), "2");
            assert_eq!(v["code"], "rate_limited");
            assert_eq!(v["status"], 429);
            assert_eq!(v["object"], "error");
        }
        statuses.push(s.as_u16());
    }
    assert_eq!(statuses[..3], [200, 200, 200], "the burst is allowed");
    assert!(statuses[3..].iter().filter(|s| **s == 429).count() >= 6, "{statuses:?}");
    assert_eq!(api.fake.stats().rate_limited, statuses.iter().filter(|s| **s == 429).count());

    // burst_429: exactly the next N requests are throttled.
    api.fake.with_world(|w| {
        w.faults.rate_limit = None;
        w.faults.burst_429 = 2;
        w.faults.retry_after_secs = 1;
    });
    let got: Vec<u16> = {
        let mut v = Vec::new();
        for _ in 0..3 {
            let (s, h, _) = api.call(Method::GET, "/users/me", None).await;
            if s == 429 {
                assert_eq!(h.get("retry-after").unwrap(), "1");
            }
            v.push(s.as_u16());
        }
        v
    };
    assert_eq!(got, vec![429, 429, 200]);

    api.fake.with_world(|w| w.faults.burst_529 = 1);
    let (s, h, v) = api.call(Method::GET, "/users/me", None).await;
    assert_eq!((s.as_u16(), v["code"].as_str()), (529, Some("service_overload")));
    assert_eq!(h.get("retry-after").unwrap(), "1");
}

#[tokio::test]
async fn signed_file_urls_are_fresh_and_expire_with_s3_xml() {
    let png = b"\x89PNG\r\n\x1a\n fake png bytes".to_vec();
    let mut world = World::new();
    let file = world.add_file_with_type("My Photo.png", png.clone(), "image/jpeg");
    let page_id = add_page(&mut world, parent_workspace(), "Photos");
    let ids = world.set_children(&page_id, vec![image_hosted(&file, "cap")]);
    let api = Api::new(world).await;

    let fetch_url = || async {
        let (_, b) = api.get(&format!("/blocks/{}", ids[0])).await;
        assert_eq!(b["image"]["type"], "file");
        assert!(b["image"]["file"]["expiry_time"].as_str().is_some());
        assert_eq!(b["image"]["caption"][0]["plain_text"], "cap");
        b["image"]["file"]["url"].as_str().unwrap().to_string()
    };
    let u1 = fetch_url().await;
    let u2 = fetch_url().await;
    assert_ne!(u1, u2, "a fresh signed URL on every fetch");
    let path = |u: &str| u.split('?').next().unwrap().to_string();
    assert_eq!(path(&u1), path(&u2), "the URL path is stable");
    assert!(path(&u1).ends_with("/My%20Photo.png"), "{u1}");
    assert!(u1.contains("X-Amz-Expires=3600") && u1.contains("X-Amz-Signature="));

    for u in [&u1, &u2] {
        let r = api.http.get(u).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "image/jpeg", "the configured lie");
        assert_eq!(r.bytes().await.unwrap().to_vec(), png);
    }

    let tampered = u1.replace("X-Amz-Signature=", "X-Amz-Signature=00");
    let r = api.http.get(&tampered).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("<Code>SignatureDoesNotMatch</Code>"));

    api.fake.with_world(|w| w.file_url_ttl = Duration::ZERO);
    let expired = fetch_url().await;
    let r = api.http.get(&expired).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let xml = r.text().await.unwrap();
    assert!(xml.contains("<Error><Code>AccessDenied</Code><Message>Request has expired</Message>"), "{xml}");

    let s = api.fake.stats();
    assert_eq!((s.file_downloads, s.file_denied), (2, 2));
    assert_eq!(s.requests, 3, "file downloads are not Notion API requests");
}

#[tokio::test]
async fn hosted_files_are_signed_everywhere_they_appear() {
    let mut world = World::new();
    let f = world.add_file("report.pdf", b"%PDF-1.4".to_vec());
    let page_id = world.next_id();
    let mut p = page(&page_id, parent_workspace(), "P", vec![("Files", p_files(vec![files_entry_hosted(&f)]))]);
    p["cover"] = file_hosted(&f);
    world.insert_page(p);
    let api = Api::new(world).await;
    let (_, v) = api.get(&format!("/pages/{page_id}")).await;
    for u in [&v["cover"]["file"]["url"], &v["properties"]["Files"]["files"][0]["file"]["url"]] {
        let u = u.as_str().unwrap();
        assert!(u.starts_with(&api.fake.origin()), "{u}");
        let r = api.http.get(u).send().await.unwrap();
        assert_eq!(r.headers()["content-type"], "application/pdf");
    }
    assert_eq!(v["properties"]["Files"]["files"][0]["name"], "report.pdf");
}

#[tokio::test]
async fn unshared_ids_answer_404_with_the_real_message() {
    let mut world = World::new();
    let shared = add_page(&mut world, parent_workspace(), "Shared");
    let hidden = add_page(&mut world, parent_workspace(), "Hidden");
    world.set_children(&hidden, vec![paragraph("secret")]);
    let db = add_database(&mut world, "Private DB", 2);
    world.unshare(&hidden);
    world.unshare(&db.database_id);
    let api = Api::new(world).await;

    let (s, v) = api.get(&format!("/pages/{}", norm(&hidden))).await;
    assert_eq!(s, 404);
    assert_eq!(v["code"], "object_not_found");
    assert_eq!(
        v["message"],
        format!(
            "Could not find page with ID: {hidden}. Make sure the relevant pages and databases are shared with your integration."
        )
    );
    let (s, v) = api.get(&format!("/blocks/{hidden}/children")).await;
    assert_eq!((s.as_u16(), v["code"].as_str()), (404, Some("object_not_found")));
    assert!(v["message"].as_str().unwrap().starts_with("Could not find block with ID:"));
    for path in [
        format!("/databases/{}", db.database_id),
        format!("/data_sources/{}", db.data_source_id),
        format!("/pages/{}", db.rows[0]),
    ] {
        assert_eq!(api.get(&path).await.0, 404, "{path}");
    }
    let (s, _) = api.post(&format!("/data_sources/{}/query", db.data_source_id), json!({})).await;
    assert_eq!(s, 404);
    let (s, _) = api.get(&format!("/pages/{}", api.fake.with_world(|w| w.next_id()))).await;
    assert_eq!(s, 404, "unknown ids look the same as unshared ones");

    // Search simply leaves them out.
    let (_, v) = api.post("/search", json!({"filter": {"property": "object", "value": "page"}})).await;
    assert_eq!(ids(&v["results"]), vec![shared.clone()]);
    let (_, v) = api.post("/search", json!({"query": "shar"})).await;
    assert_eq!(ids(&v["results"]), vec![shared]);
    let (s, v) = api.get("/pages/not-a-uuid").await;
    assert_eq!((s.as_u16(), v["code"].as_str()), (400, Some("validation_error")));
}

#[tokio::test]
async fn relation_over_25_is_truncated_on_the_page_and_paginated_by_the_property_endpoint() {
    let mut world = World::new();
    let targets: Vec<String> = (0..40).map(|_| world.next_id()).collect();
    let page_id = world.next_id();
    world.insert_page(page(
        &page_id,
        parent_workspace(),
        "Hub",
        vec![("Links", p_relation(&targets)), ("Score", p_number(Some(7.0)))],
    ));
    let api = Api::new(world).await;

    let (_, p) = api.get(&format!("/pages/{page_id}")).await;
    let rel = &p["properties"]["Links"];
    assert_eq!(rel["relation"].as_array().unwrap().len(), 25);
    assert_eq!(rel["has_more"], true);
    let prop = rel["id"].as_str().unwrap().to_string();
    assert!(prop.contains('%'), "property ids are percent-encoded strings: {prop}");

    let mut got = Vec::new();
    let mut cursor: Option<String> = None;
    let mut calls = 0;
    loop {
        let mut path = format!("/pages/{page_id}/properties/{prop}?page_size=25");
        if let Some(c) = &cursor {
            path.push_str(&format!("&start_cursor={c}"));
        }
        let (s, v) = api.get(&path).await;
        assert_eq!(s, 200, "{v}");
        calls += 1;
        assert_eq!((v["object"].as_str(), v["type"].as_str()), (Some("list"), Some("property_item")));
        assert_eq!(v["property_item"]["type"], "relation");
        assert_eq!(v["property_item"]["relation"], json!({}));
        for r in v["results"].as_array().unwrap() {
            assert_eq!((r["object"].as_str(), r["type"].as_str()), (Some("property_item"), Some("relation")));
            got.push(r["relation"]["id"].as_str().unwrap().to_string());
        }
        if v["has_more"] == false {
            assert!(v["property_item"]["next_url"].is_null());
            break;
        }
        assert!(v["property_item"]["next_url"].as_str().unwrap().contains("start_cursor="));
        cursor = v["next_cursor"].as_str().map(str::to_string);
    }
    assert_eq!(calls, 2);
    assert_eq!(got, targets);

    // Simple types come back as one property_item; the title id is "title".
    let score = p["properties"]["Score"]["id"].as_str().unwrap();
    let (_, v) = api.get(&format!("/pages/{page_id}/properties/{score}")).await;
    assert_eq!(v, json!({"object": "property_item", "id": score, "type": "number", "number": 7.0}));
    let (_, v) = api.get(&format!("/pages/{page_id}/properties/title")).await;
    assert_eq!(v["results"][0]["title"]["plain_text"], "Hub");
}

#[tokio::test]
async fn injected_faults_look_like_the_real_failures() {
    let mut world = World::new();
    let page_id = add_page(&mut world, parent_workspace(), "P");
    let ids = world.set_children(&page_id, vec![unsupported("ai_block")]);
    world.faults.malformed_json_paths = vec!["/pages/".into()];
    let api = Api::new(world).await;

    let (s, v) = api.get(&format!("/blocks/{}/children", ids[0])).await;
    assert_eq!(s, 400);
    assert_eq!(v["message"], "Block type ai_block is not supported via the API.");

    let r = api
        .http
        .get(format!("{}/pages/{page_id}", api.fake.base_url()))
        .bearer_auth("secret_test_token")
        .header("Notion-Version", VERSION_2026)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(serde_json::from_slice::<Value>(&r.bytes().await.unwrap()).is_err(), "truncated JSON");

    api.fake.with_world(|w| w.faults.error_rate_5xx = 1.0);
    let mut seen = HashSet::new();
    for _ in 0..30 {
        let (s, h, v) = api.call(Method::GET, "/users/me", None).await;
        assert!([500, 502, 503, 504].contains(&s.as_u16()));
        if s == 502 {
            assert!(h["content-type"].to_str().unwrap().starts_with("text/html"));
            assert!(v.as_str().unwrap().contains("502 Bad Gateway"));
        } else {
            assert_eq!(v["object"], "error");
        }
        seen.insert(s.as_u16());
    }
    assert_eq!(seen.len(), 4, "all four 5xx kinds occur: {seen:?}");

    api.fake.with_world(|w| {
        w.faults.error_rate_5xx = 0.0;
        w.faults.drop_rate = 1.0;
    });
    let err = api
        .http
        .get(format!("{}/users/me", api.fake.base_url()))
        .bearer_auth("secret_test_token")
        .header("Notion-Version", VERSION_2026)
        .send()
        .await
        .unwrap_err();
    assert!(!err.is_status(), "{err}");
    let s = api.fake.stats();
    assert_eq!((s.server_errors, s.dropped, s.malformed), (30, 1, 1));
}

#[tokio::test]
async fn comments_users_and_databases_are_served() {
    let mut world = World::new();
    let alice = world.next_id();
    world.insert_user(person(&alice, "Alice", "alice@example.com"));
    let db = add_database(&mut world, "Tasks", 1);
    world.add_comment(&db.rows[0], comment(&db.rows[0], "Looks good", &alice));
    let api = Api::new(world).await;

    let (_, v) = api.get(&format!("/comments?block_id={}", db.rows[0])).await;
    assert_eq!(v["type"], "comment");
    assert_eq!(v["results"][0]["rich_text"][0]["plain_text"], "Looks good");
    let (_, v) = api.get(&format!("/users/{alice}")).await;
    assert_eq!(v["name"], "Alice");
    let (_, v) = api.get(&format!("/users/{}", norm(BOT_ID))).await;
    assert_eq!(v["type"], "bot");
    let (_, v) = api.get(&format!("/databases/{}", db.database_id)).await;
    assert_eq!(v["data_sources"][0]["id"], db.data_source_id.as_str());
    assert!(v.get("properties").is_none(), "schemas live on data sources");
    let (_, v) = api.get(&format!("/data_sources/{}", db.data_source_id)).await;
    assert_eq!(v["properties"]["Name"]["type"], "title");
    let (_, v) = api.post("/search", json!({"filter": {"property": "object", "value": "data_source"}})).await;
    assert_eq!(ids(&v["results"]), vec![db.data_source_id.clone()]);
    let (_, v) = api.get(&format!("/blocks/{}", db.rows[0])).await;
    assert_eq!((v["type"].as_str(), v["child_page"]["title"].as_str()), (Some("child_page"), Some("Row 0")));
}

#[test]
fn max_in_window_counts_the_busiest_second() {
    let t0 = Instant::now();
    let ms = |m: u64| t0 + Duration::from_millis(m);
    let stats =
        Stats { timestamps: vec![ms(0), ms(100), ms(900), ms(1000), ms(1050), ms(1800), ms(3000)], ..Stats::default() };
    assert_eq!(stats.max_in_window(Duration::from_secs(1)), 4); // 100, 900, 1000, 1050
    assert_eq!(stats.max_in_window(Duration::from_millis(10)), 1);
    assert_eq!(Stats::default().max_in_window(Duration::from_secs(1)), 0);
}

// ---------------------------------------------------------------------------------------------
// The fake says no where Notion says no
// ---------------------------------------------------------------------------------------------

impl Api {
    /// A request with exactly these headers and body bytes (no JSON helper).
    async fn raw(&self, method: Method, path: &str, content_type: Option<&str>, body: &str) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.fake.base_url()))
            .bearer_auth("secret_test_token")
            .header("Notion-Version", self.version);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        if !body.is_empty() {
            req = req.body(body.to_string());
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        (status, serde_json::from_str(&resp.text().await.unwrap()).unwrap_or(Value::Null))
    }
}

/// `(status, code, message)` of an answer.
fn refusal(r: (StatusCode, Value)) -> (u16, String, String) {
    let (s, v) = r;
    (s.as_u16(), v["code"].as_str().unwrap_or("").to_string(), v["message"].as_str().unwrap_or("").to_string())
}

fn validation(message: &str) -> (u16, String, String) {
    (400, "validation_error".to_string(), message.to_string())
}

/// Regression for the fake: its property route accepted the raw id, its decoded form and the
/// double-encoded form, so a client that encoded property ids twice passed every test and failed
/// against Notion (404 for every page with a property of more than 25 items).
#[tokio::test]
async fn property_route_takes_the_id_exactly_as_notion_returned_it() {
    let mut world = World::new();
    let targets: Vec<String> = (0..3).map(|_| world.next_id()).collect();
    let page_id = world.next_id();
    world.insert_page(page(
        &page_id,
        parent_workspace(),
        "Hub",
        vec![("Links", p_relation(&targets)), ("Score", p_number(Some(1.0)))],
    ));
    world.page_mut(&page_id).unwrap()["properties"]["Links"]["id"] = json!("cg%7D~");
    let score = world.page(&page_id).unwrap()["properties"]["Score"]["id"].as_str().unwrap().to_string();
    assert!(score.contains("%3A"), "{score}");
    let api = Api::new(world).await;
    let prop = |id: &str| format!("/pages/{page_id}/properties/{id}");

    for accepted in ["cg%7D~", "cg%7d~", "cg%7D%7E"] {
        let (s, v) = api.get(&prop(accepted)).await;
        assert_eq!(s, 200, "{accepted}: {v}");
        assert_eq!(v["results"].as_array().unwrap().len(), 3);
        assert_eq!(v["property_item"]["id"], "cg%7D~");
    }
    assert_eq!(
        refusal(api.get(&prop("cg%257D%7E")).await),
        (404, "object_not_found".into(), "Could not find property with ID: cg%257D%7E.".into()),
        "double-encoded"
    );
    // The decoded form (`%3A` -> `:`), where it differs from what Notion returned.
    let decoded = score.replace("%3A", ":");
    assert_eq!(refusal(api.get(&prop(&decoded)).await).0, 404, "decoded {decoded}");
    assert_eq!(refusal(api.get(&prop(&score.replace("%3A", "%253A"))).await).0, 404);
    let (s, v) = api.get(&prop(&score)).await;
    assert_eq!((s.as_u16(), v["number"].as_f64()), (200, Some(1.0)));
}

#[tokio::test]
async fn request_validation_says_no_like_notion() {
    let mut world = World::new();
    let db = add_database(&mut world, "Tasks", 3);
    let page_id = add_page(&mut world, parent_workspace(), "Page");
    world.set_children(&page_id, (0..3).map(|i| paragraph(&format!("p{i}"))).collect());
    let api = Api::new(world).await;
    let children = format!("/blocks/{page_id}/children");
    let query = format!("/data_sources/{}/query", db.data_source_id);

    // page_size in a query string: a number from 1 to 100.
    assert_eq!(
        refusal(api.get(&format!("{children}?page_size=101")).await),
        validation("query failed validation: query.page_size should be ≤ `100`, instead was `101`.")
    );
    assert_eq!(
        refusal(api.get(&format!("{children}?page_size=0")).await),
        validation("query failed validation: query.page_size should be ≥ `1`, instead was `0`.")
    );
    assert_eq!(
        refusal(api.get(&format!("{children}?page_size=ten")).await),
        validation("query failed validation: query.page_size should be a number, instead was `\"ten\"`.")
    );
    // page_size in a body: a JSON number (Notion's own message for a string).
    assert_eq!(
        refusal(api.post("/search", json!({"page_size": "50"})).await),
        validation("body failed validation: body.page_size should be a number or `undefined`, instead was `\"50\"`.")
    );
    assert_eq!(
        refusal(api.post(&query, json!({"page_size": 101})).await),
        validation("body failed validation: body.page_size should be ≤ `100`, instead was `101`.")
    );
    // Parameters the endpoint does not take.
    assert_eq!(
        refusal(api.post(&format!("{query}?start_cursor=abc"), json!({})).await),
        validation("query failed validation: query.start_cursor should be not present, instead was `\"abc\"`.")
    );
    assert_eq!(
        refusal(api.post("/search", json!({"in_trash": true})).await),
        validation("body failed validation: body.in_trash should be not present, instead was `true`.")
    );
    assert_eq!(
        refusal(api.get("/users/me?page_size=10").await),
        validation("query failed validation: query.page_size should be not present, instead was `\"10\"`.")
    );
    // Cursors: strings, and only from the list that issued them.
    assert_eq!(
        refusal(api.post("/search", json!({"start_cursor": {}})).await),
        validation("body failed validation: body.start_cursor should be a string or `undefined`, instead was `{}`.")
    );
    assert_eq!(
        refusal(api.post("/search", json!({"start_cursor": null})).await),
        validation("body failed validation: body.start_cursor should be a string or `undefined`, instead was `null`.")
    );
    let (_, first) = api.get(&format!("{children}?page_size=1")).await;
    let cursor = first["next_cursor"].as_str().unwrap().to_string();
    let (s, _) = api.get(&format!("{children}?page_size=1&start_cursor={cursor}")).await;
    assert_eq!(s, 200);
    assert_eq!(
        refusal(api.get(&format!("/users?start_cursor={cursor}")).await),
        validation(&format!("The start_cursor provided is invalid: {cursor}"))
    );
    assert_eq!(
        refusal(api.post(&query, json!({"start_cursor": cursor})).await),
        validation(&format!("The start_cursor provided is invalid: {cursor}"))
    );
    // Bodies: JSON, declared as JSON, and none on a GET.
    assert_eq!(
        refusal(api.raw(Method::GET, &children, Some("application/json"), r#"{"page_size":10}"#).await),
        validation("body failed validation: body should be not present, instead was `{\"page_size\":10}`.")
    );
    assert_eq!(
        refusal(api.raw(Method::POST, "/search", Some("text/plain"), r#"{"query":"x"}"#).await),
        (400, "invalid_json".into(), "Error parsing JSON body.".into())
    );
    assert_eq!(
        refusal(api.raw(Method::POST, "/search", None, r#"{"query":"x"}"#).await),
        (400, "invalid_json".into(), "Error parsing JSON body.".into())
    );
    assert_eq!(
        refusal(api.raw(Method::POST, "/search", Some("application/json"), r#"{"query":"#).await),
        (400, "invalid_json".into(), "Error parsing JSON body.".into())
    );
    let (s, _) = api.raw(Method::POST, "/search", Some("application/json; charset=utf-8"), r#"{"query":"x"}"#).await;
    assert_eq!(s, 200, "a charset parameter is fine");
    let (s, _) = api.raw(Method::POST, "/search", None, "").await;
    assert_eq!(s, 200, "no body at all is an empty search");
    // Search filters and sorts as documented; nothing else.
    let (s, v) = api.post("/search", json!({"filter": {"property": "object", "value": "database"}})).await;
    assert_eq!(
        (s.as_u16(), v["code"].as_str()),
        (400, Some("validation_error")),
        "`database` is gone since 2025-09-03"
    );
    for bad in [
        json!({"filter": {"property": "title", "value": "page"}}),
        json!({"filter": {"value": "page"}}),
        json!({"filter": {"property": "object", "value": "page", "in_trash": "yes"}}),
        json!({"sort": {"timestamp": "created_time", "direction": "ascending"}}),
        json!({"sort": {"timestamp": "last_edited_time", "direction": "up"}}),
        json!({"query": 7}),
    ] {
        let (s, v) = api.post("/search", bad.clone()).await;
        assert_eq!((s.as_u16(), v["code"].as_str()), (400, Some("validation_error")), "{bad}");
    }
    for good in [
        json!({"filter": {"property": "object", "value": "page", "in_trash": false}}),
        json!({"filter": {"in_trash": true}}),
        json!({"sort": {"property": "relevance"}}),
        json!({"sort": {"timestamp": "last_edited_time", "direction": "ascending"}, "query": "", "page_size": 5}),
    ] {
        let (s, v) = api.post("/search", good.clone()).await;
        assert_eq!(s, 200, "{good}: {v}");
    }
    // Query filters the fake cannot evaluate are refused, never ignored.
    let (s, v) = api.post(&query, json!({"filter": {"or": "x"}})).await;
    assert_eq!((s.as_u16(), v["code"].as_str()), (400, Some("validation_error")), "{v}");
    // Versions.
    let mut api = api;
    api.version = "latest";
    let (s, v) = api.get("/users/me").await;
    assert_eq!((s.as_u16(), v["code"].as_str()), (400, Some("validation_error")));
}

#[tokio::test]
async fn filter_properties_are_decoded_once_and_must_exist() {
    let mut world = World::new();
    let db = add_database(&mut world, "Tasks", 1);
    let (name, prop_id) = ("Status".to_string(), "s%3Ab~".to_string());
    world.data_sources.get_mut(&norm(&db.data_source_id)).unwrap().json["properties"]["Status"] =
        json!({"id": prop_id, "name": "Status", "type": "select", "select": {"options": []}});
    world.page_mut(&db.rows[0]).unwrap()["properties"]["Status"] =
        json!({"id": prop_id, "type": "select", "select": null});
    let api = Api::new(world).await;
    let query = format!("/data_sources/{}/query", db.data_source_id);
    // As the SDK sends it: decoded, then encoded by the query string (`%3A` -> `:` -> `%3A`).
    let once = prop_id.replace('%', "%25").replace("%253A", "%3A");
    let (s, v) = api.post(&format!("{query}?filter_properties={once}"), json!({})).await;
    assert_eq!(s, 200, "{v}");
    let props = v["results"][0]["properties"].as_object().unwrap();
    assert_eq!(props.keys().collect::<Vec<_>>(), vec![&name]);
    // Encoded once more: no such property.
    let twice = once.replace('%', "%25");
    let (s, v) = api.post(&format!("{query}?filter_properties={twice}"), json!({})).await;
    assert_eq!((s.as_u16(), v["code"].as_str()), (400, Some("validation_error")), "{v}");
    let (s, v) = api.get(&format!("/pages/{}?filter_properties={twice}", db.rows[0])).await;
    assert_eq!((s.as_u16(), v["code"].as_str()), (400, Some("validation_error")), "{v}");
    let (s, v) = api.get(&format!("/pages/{}?filter_properties={once}", db.rows[0])).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["properties"].as_object().unwrap().len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Search: neither immediate nor exhaustive
// ---------------------------------------------------------------------------------------------

fn titles(v: &Value) -> Vec<String> {
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["properties"]["title"]["title"][0]["plain_text"].as_str().unwrap_or("").to_string())
        .collect()
}

#[tokio::test]
async fn search_lags_behind_edits_by_a_number_of_searches() {
    let mut world = World::new();
    let a = add_page(&mut world, parent_workspace(), "A");
    world.faults.search.lag = Some(SearchLag::Searches(2));
    let api = Api::new(world).await;
    let pages = json!({"filter": {"property": "object", "value": "page"}});

    let (_, v) = api.post("/search", pages.clone()).await;
    assert_eq!(titles(&v), vec!["A"], "the index starts up to date");
    api.fake.with_world(|w| {
        let p = w.page_mut(&a).unwrap();
        p["last_edited_time"] = json!("2026-06-01T10:00:00.000Z");
        p["properties"]["title"] = p_title("A edited");
        let b = w.next_id();
        w.insert_page(with_times(
            page(&b, parent_workspace(), "B new", vec![]),
            "2026-06-01T11:00:00.000Z",
            "2026-06-01T11:00:00.000Z",
        ));
    });
    for _ in 0..2 {
        let (_, v) = api.post("/search", pages.clone()).await;
        assert_eq!(titles(&v), vec!["A"], "the edit and the new page are not indexed yet");
        assert_eq!(v["results"][0]["last_edited_time"], "2026-01-01T00:00:00.000Z");
    }
    let (_, v) = api.post("/search", pages.clone()).await;
    assert_eq!(titles(&v), vec!["B new", "A edited"]);
    // Retrieving the page was never lagging.
    let (_, p) = api.get(&format!("/pages/{a}")).await;
    assert_eq!(p["last_edited_time"], "2026-06-01T10:00:00.000Z");
}

#[tokio::test]
async fn search_lag_in_seconds_hides_an_edit_until_the_time_has_passed() {
    let mut world = World::new();
    let a = add_page(&mut world, parent_workspace(), "A");
    world.faults.search.lag = Some(SearchLag::Seconds(Duration::from_secs(3600)));
    let api = Api::new(world).await;
    api.post("/search", json!({})).await;
    api.fake.with_world(|w| w.page_mut(&a).unwrap()["properties"]["title"] = p_title("A edited"));
    api.fake.with_world(|w| w.page_mut(&a).unwrap()["last_edited_time"] = json!("2026-06-01T10:00:00.000Z"));
    for _ in 0..3 {
        let (_, v) = api.post("/search", json!({})).await;
        assert_eq!(titles(&v), vec!["A"]);
    }
    api.fake.with_world(|w| w.faults.search.lag = Some(SearchLag::Seconds(Duration::ZERO)));
    let (_, v) = api.post("/search", json!({})).await;
    assert_eq!(titles(&v), vec!["A edited"]);
}

#[tokio::test]
async fn search_omits_named_and_seeded_pages_and_can_answer_empty() {
    let mut world = World::new();
    let ids: Vec<String> = (0..40).map(|i| add_page(&mut world, parent_workspace(), &format!("P{i:02}"))).collect();
    world.faults.search.omit_ids.insert(norm(&ids[0]));
    let api = Api::new(world).await;
    let found = |v: &Value| -> HashSet<String> {
        v["results"].as_array().unwrap().iter().map(|p| norm(p["id"].as_str().unwrap())).collect()
    };

    let (_, v) = api.post("/search", json!({})).await;
    let all = found(&v);
    assert_eq!(all.len(), 39);
    assert!(!all.contains(&norm(&ids[0])), "a named page never appears");
    let (s, _) = api.get(&format!("/pages/{}", ids[0])).await;
    assert_eq!(s, 200, "but it is still there");

    api.fake.with_world(|w| {
        w.faults.search.omit_ids.clear();
        w.faults.search.omit_fraction = 0.5;
    });
    let (_, v) = api.post("/search", json!({})).await;
    let half = found(&v);
    assert!((5..=35).contains(&half.len()), "about half are left out: {}", half.len());
    let (_, v) = api.post("/search", json!({})).await;
    assert_eq!(found(&v), half, "the same pages every time");
    // Reproducible from the seed.
    let mut again = World::new();
    for i in 0..40 {
        add_page(&mut again, parent_workspace(), &format!("P{i:02}"));
    }
    again.faults.search.omit_fraction = 0.5;
    let other = Api::new(again).await;
    let (_, v) = other.post("/search", json!({})).await;
    assert_eq!(found(&v), half);

    api.fake.with_world(|w| {
        w.faults.search.omit_fraction = 0.0;
        w.faults.search.empty_answers = 1;
    });
    let (s, v) = api.post("/search", json!({})).await;
    assert_eq!(s, 200);
    assert_eq!(
        (v["results"].as_array().unwrap().len(), v["has_more"].as_bool()),
        (0, Some(false)),
        "an empty, complete answer"
    );
    let (_, v) = api.post("/search", json!({})).await;
    assert_eq!(found(&v).len(), 40, "only the next N answers are empty");
}
