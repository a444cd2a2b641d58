//! In-process fake of the Notion REST API (versions `2026-03-11` and `2025-09-03`) that every
//! test and the benchmark talk to over real HTTP on 127.0.0.1. It owns the served behaviour only:
//! auth and version checks, request validation, opaque-cursor pagination, the 10,000-row query
//! cap, 25-item truncation on page objects, 404 for unshared ids, expiring signed file URLs, and
//! injected faults (token bucket 429s, 5xx, dropped connections, truncated JSON, latency, search
//! lag and omission), all reproducible from a seed. It must not depend on the crate under test
//! nor on `fixtures.rs`, so a bench binary can include it alone with
//! `#[path = "../tests/common/fake_notion.rs"] mod fake_notion;`.
//!
//! Usage:
//! ```ignore
//! let fake = FakeNotion::start(world).await;      // binds 127.0.0.1:0
//! let base = fake.base_url();                      // "http://127.0.0.1:PORT/v1"
//! fake.with_world(|w| w.faults.burst_429 = 2);     // mutate content or faults between runs
//! let s = fake.stats();                            // requests, per kind, 429s, 5xx, drops, files
//! ```
//! Endpoints (all under `/v1`): `GET users/me`, `GET users`, `GET users/{id}`, `POST search`,
//! `GET databases/{id}`, `GET data_sources/{id}`, `POST data_sources/{id}/query`, `GET pages/{id}`,
//! `GET pages/{id}/properties/{property_id}`, `GET blocks/{id}`, `GET blocks/{id}/children`,
//! `GET comments?block_id=`, `GET views?database_id=`. Signed files are served at
//! `/s3/<key>/<name>?...`. Other routes answer 400 `invalid_request_url`: write endpoints hook in
//! with one match arm in [`dispatch`] (they get the parsed JSON body and, in [`Ctx`], the raw one).
//!
//! What the fake refuses, like the real API (checked against Notion's docs, its status-code
//! table, the official JS SDK 5.26 (`api-endpoints/*.js`: each endpoint's query and body
//! parameters) and error messages Notion sent to users; proved by `tests/fake_notion_selftest.rs`):
//! - no or a wrong `Authorization` -> 401 `unauthorized`; no `Notion-Version` -> 400
//!   `missing_version`; a version it does not serve -> 400 `validation_error`.
//! - a body that is not JSON, or a JSON body sent without `Content-Type: application/json`
//!   -> 400 `invalid_json` ("Error parsing JSON body."); a body on a GET -> 400 `validation_error`.
//! - a query parameter or body member the endpoint does not take -> 400 `validation_error`
//!   (`query.start_cursor should be not present, ...`, `body.in_trash should be not present, ...`).
//! - `page_size` that is not a number (in a body: not a JSON number), below 1 or above 100;
//!   `start_cursor` that is not a string, or not issued by this same list -> 400.
//! - search `filter` other than `{"property": "object", "value": "page" | "data_source"}` (with
//!   an optional `in_trash`) or `{"in_trash": bool}`, a `sort` other than `last_edited_time` or
//!   `relevance`; query filters and sorts it cannot evaluate -> 400 `validation_error`.
//! - `GET pages/{id}/properties/{property_id}` takes the property id exactly as Notion returned
//!   it: it is already percent-encoded (`cg%7D~`), and the escapes it holds must stay escapes. A
//!   double-encoded id (`cg%257D%7E`) or the decoded form where it differs (`cg}~`) is 404
//!   `object_not_found` (notion-sdk-js PR #402). Hex case and escaping a character the id holds
//!   unescaped (`~` as `%7E`) do not matter. `filter_properties` values are decoded once (the SDK
//!   decodes ids before the query string encodes them again); an id that is no property of the
//!   page or data source -> 400 `validation_error`.
//!
//! Search faults (`world.faults.search`, Notion documents search as neither immediate nor
//! exhaustive):
//! - `lag: Some(SearchLag::Searches(n))` / `Some(SearchLag::Seconds(d))`: an edit of a page (a
//!   new `last_edited_time`, or a new page) is served by search only once `n` more search
//!   requests were answered, or `d` has passed, since the first search that could have seen it;
//!   until then search serves the page as it was (new pages: not at all). The index starts up to
//!   date when the lag is switched on.
//! - `omit_fraction: f` (0.0-1.0): a seeded share of the pages never appears in search
//!   (reproducible from `world.seed` and the page id); `omit_ids`: named pages (normalized ids)
//!   never appear. Omitted pages are still served by `GET pages/{id}` and by queries.
//! - `empty_answers: n`: the next `n` search requests answer an empty, complete list.
//!
//! Details worth knowing:
//! - `World` keys every map by the normalized id (32 lowercase hex); paths accept dashed or not.
//! - Any JSON object served with `"url": "fake-notion-file://<key>"` (see [`FileRef`]) gets a fresh
//!   signed URL and an `expiry_time` each time it is served (file blocks, icons, covers, `files`
//!   properties, comment attachments alike).
//! - `has_children` of a served block is true when the world holds children for it (or when the
//!   stored block already says true, e.g. an unsupported block).
//! - Query `in_trash: true` returns only trashed rows; without it trashed rows are left out.
//! - Under `2025-09-03`, pages/blocks/databases/data sources also carry `archived` and the
//!   `meeting_notes` block is served as `transcription`.
//! - Faults apply to `/v1` only, in this order: latency (plus seeded jitter), `burst_429`, `burst_529`, rate limit,
//!   drop, 5xx; the malformed-JSON fault truncates an otherwise correct 200 body.
//!   `malformed_json_paths` are prefixes of the path after `/v1` (e.g. `"/blocks/"`).
//! - `bad_answers` replace the body of a `200` (matching method and path prefix after `/v1`) a
//!   number of times: the valid-but-wrong answers of a bad night (an empty listing, `{}`, `has_more`
//!   with a null cursor, a database with no data sources).
//! - With `world.record_requests`, every `/v1` request that passed the faults is kept as a
//!   [`SeenRequest`] (method, raw path and query, body, headers): [`FakeNotion::requests`].
//! - A bench binary can include both files with `#[path = "../tests/common/mod.rs"] mod common;`
//!   (checked to build and run).

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use chrono::{DateTime, NaiveDate, Utc};
use hyper::body::Incoming;
use hyper::{header, Method, Request, Response, StatusCode};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Map, Value};
use tokio::sync::Notify;
use tokio::task::{JoinHandle, JoinSet};

/// The write endpoints (pages, blocks, databases, data sources, file uploads, comments).
#[path = "fake_notion_write.rs"]
pub mod write;

pub const VERSION_2026: &str = "2026-03-11";
pub const VERSION_2025: &str = "2025-09-03";
pub const DEFAULT_TOKEN: &str = "secret_test_token";
/// Placeholder scheme for Notion-hosted files in stored JSON; replaced when served.
pub const FILE_SCHEME: &str = "fake-notion-file://";
/// Page objects hold at most this many relation/people items or rich-text mentions.
pub const PAGE_ITEM_CAP: usize = 25;

// ---------------------------------------------------------------------------------------------
// Ids and time helpers
// ---------------------------------------------------------------------------------------------

/// 32 lowercase hex characters, no dashes.
pub fn norm(id: &str) -> String {
    id.chars().filter(|c| *c != '-').flat_map(char::to_lowercase).collect()
}

/// Dashed UUID form (8-4-4-4-12) of a 32-hex id; other strings unchanged.
pub fn dashed(id: &str) -> String {
    let n = norm(id);
    if n.len() != 32 {
        return id.to_string();
    }
    format!("{}-{}-{}-{}-{}", &n[0..8], &n[8..12], &n[12..16], &n[16..20], &n[20..32])
}

fn is_hex32(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A uuid-v4-shaped dashed id from 128 random-looking bits.
pub fn uuid_from_bits(bits: u128) -> String {
    let b = (bits & !(0xf << 76) & !(0x3 << 62)) | (0x4 << 76) | (0x2 << 62);
    dashed(&format!("{b:032x}"))
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Notion's timestamp format: `2026-01-01T00:00:00.000Z`.
pub fn iso_ms(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// RFC 3339 datetime or `YYYY-MM-DD` (midnight UTC) to unix milliseconds.
pub fn parse_ms(s: &str) -> Option<i64> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_millis());
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().map(|d| d.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp_millis())
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() && b[i + 1].is_ascii_hexdigit() && b[i + 2].is_ascii_hexdigit() {
            let hex = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
            out.push(hex(b[i + 1]) * 16 + hex(b[i + 2]));
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn plain_text(rich: &Value) -> String {
    rich.as_array()
        .map(|a| a.iter().filter_map(|r| r.get("plain_text").and_then(Value::as_str)).collect())
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// The world: content and fault configuration
// ---------------------------------------------------------------------------------------------

/// Token bucket: `burst` requests at once, refilled at `per_second`.
#[derive(Clone, Debug, PartialEq)]
pub struct RateLimit {
    pub per_second: f64,
    pub burst: u32,
}

#[derive(Clone, Debug)]
pub struct Faults {
    pub rate_limit: Option<RateLimit>,
    /// `Retry-After` seconds sent with every 429 and 529.
    pub retry_after_secs: u64,
    /// Probability of answering 500/502/503/504 (502 with an HTML body).
    pub error_rate_5xx: f64,
    /// Probability of closing the connection without a response.
    pub drop_rate: f64,
    /// Answer the next N requests with 429.
    pub burst_429: u32,
    /// Answer the next N requests with 529 `service_overload` (also with `Retry-After`).
    pub burst_529: u32,
    /// Path prefixes after `/v1` answered with a truncated JSON body (status 200).
    pub malformed_json_paths: Vec<String>,
    /// Added to every `/v1` request.
    pub latency: Duration,
    /// Up to this much more latency per `/v1` request, drawn uniformly from the world's seed.
    pub latency_jitter: Duration,
    /// Search that lags, omits, or answers empty (see the module header).
    pub search: SearchFaults,
    /// A night where Notion answers badly: a `200` whose body is replaced (an empty list, `{}`, a
    /// list saying `has_more` with no cursor, a database with no data sources), for requests
    /// matching method and path prefix.
    pub bad_answers: Vec<BadAnswer>,
}

/// One kind of bad `200` answer (see [`Faults::bad_answers`]).
#[derive(Clone, Debug)]
pub struct BadAnswer {
    pub method: &'static str,
    /// Prefix of the path after `/v1`, e.g. `"/data_sources/"`.
    pub path_prefix: String,
    /// The body served instead of the real answer.
    pub body: Value,
    /// How many matching requests get it (`u32::MAX`: all).
    pub times: u32,
}

/// How long an edit takes to reach search.
#[derive(Clone, Debug, PartialEq)]
pub enum SearchLag {
    /// Served once this many more search requests were answered.
    Searches(u32),
    /// Served once this much time has passed.
    Seconds(Duration),
}

#[derive(Clone, Debug, Default)]
pub struct SearchFaults {
    pub lag: Option<SearchLag>,
    /// Share (0.0-1.0) of the pages search never returns, chosen from the seed and the id.
    pub omit_fraction: f64,
    /// Pages (normalized ids) search never returns.
    pub omit_ids: HashSet<String>,
    /// The next N search requests answer an empty, complete list.
    pub empty_answers: u32,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            rate_limit: None,
            retry_after_secs: 1,
            error_rate_5xx: 0.0,
            drop_rate: 0.0,
            burst_429: 0,
            burst_529: 0,
            malformed_json_paths: Vec::new(),
            latency: Duration::ZERO,
            latency_jitter: Duration::ZERO,
            search: SearchFaults::default(),
            bad_answers: Vec::new(),
        }
    }
}

/// A data source: its served JSON (schema) and its rows (normalized page ids, in order).
#[derive(Clone, Debug)]
pub struct DataSourceEntry {
    pub json: Value,
    pub rows: Vec<String>,
}

/// A database row whose page JSON is built only when served (cheap 25,000-row worlds).
#[derive(Clone, Debug)]
pub struct LazyRow {
    pub id: String,
    pub data_source_id: String,
    pub database_id: String,
    pub title_property: String,
    pub title: String,
    pub created_ms: i64,
    pub edited_ms: i64,
}

impl LazyRow {
    pub fn to_page(&self) -> Value {
        let run = json!({
            "type": "text",
            "text": {"content": self.title, "link": null},
            "annotations": {"bold": false, "italic": false, "strikethrough": false, "underline": false,
                            "code": false, "color": "default"},
            "plain_text": self.title,
            "href": null
        });
        let mut props = Map::new();
        props.insert(self.title_property.clone(), json!({"id": "title", "type": "title", "title": [run]}));
        json!({
            "object": "page",
            "id": self.id,
            "created_time": iso_ms(self.created_ms),
            "last_edited_time": iso_ms(self.edited_ms),
            "created_by": {"object": "user", "id": BOT_ID},
            "last_edited_by": {"object": "user", "id": BOT_ID},
            "cover": null,
            "icon": null,
            "parent": {"type": "data_source_id", "data_source_id": self.data_source_id, "database_id": self.database_id},
            "in_trash": false,
            "is_locked": false,
            "properties": props,
            "url": format!("https://www.notion.so/{}", norm(&self.id)),
            "public_url": null
        })
    }
}

/// A Notion-hosted file held by the fake.
#[derive(Clone, Debug)]
pub struct StoredFile {
    pub name: String,
    pub bytes: Vec<u8>,
    /// What the fake S3 claims in `Content-Type` (may lie on purpose).
    pub content_type: String,
}

/// Handle on a stored file; put [`FileRef::file_object`] (or its `placeholder_url`) in JSON.
#[derive(Clone, Debug, PartialEq)]
pub struct FileRef {
    pub key: String,
    pub name: String,
}

impl FileRef {
    pub fn placeholder_url(&self) -> String {
        format!("{FILE_SCHEME}{}", self.key)
    }
    /// `{"type":"file","file":{"url":"<placeholder>"}}`.
    pub fn file_object(&self) -> Value {
        json!({"type": "file", "file": {"url": self.placeholder_url()}})
    }
    /// The stable URL path the fake serves this file under: `/s3/<key>/<name>`.
    pub fn s3_path(&self) -> String {
        format!("/s3/{}/{}", self.key, percent_encode(&self.name))
    }
}

pub const BOT_ID: &str = "b07b07b0-7b07-4b07-8b07-b07b07b07b07";

pub struct World {
    pub token: String,
    /// Accepted `Notion-Version` values.
    pub versions: Vec<String>,
    /// Answer of `GET /users/me`.
    pub bot: Value,
    pub pages: HashMap<String, Value>,
    pub lazy_rows: HashMap<String, LazyRow>,
    pub blocks: HashMap<String, Value>,
    /// Parent (page or block) -> ordered child block ids (normalized).
    pub children: HashMap<String, Vec<String>>,
    pub databases: HashMap<String, Value>,
    pub data_sources: HashMap<String, DataSourceEntry>,
    pub users: HashMap<String, Value>,
    /// Block or page id -> unresolved comments.
    pub comments: HashMap<String, Vec<Value>>,
    /// Ids answering 404 `object_not_found` (normalized).
    pub unshared: HashSet<String>,
    /// Linked database views: view database id -> the data source it shows. Retrieving such a
    /// database fails like the real API; `GET /views?database_id=` names its data source.
    pub linked_views: HashMap<String, String>,
    pub files: HashMap<String, StoredFile>,
    /// Lifetime of signed file URLs.
    pub file_url_ttl: Duration,
    /// Rows one data-source query returns before it stops as `incomplete`.
    pub query_cap: usize,
    pub faults: Faults,
    /// Seed of every random choice the server makes (faults, cursors, signatures).
    pub seed: u64,
    /// Keep every `/v1` request as a [`SeenRequest`] (see [`FakeNotion::requests`]).
    pub record_requests: bool,
    id_counter: u64,
    /// State of the write endpoints (file uploads, the log of writes).
    pub writes: write::Writes,
}

impl Default for World {
    fn default() -> Self {
        World::new()
    }
}

impl World {
    pub fn new() -> World {
        World {
            token: DEFAULT_TOKEN.to_string(),
            versions: vec![VERSION_2026.to_string(), VERSION_2025.to_string()],
            bot: json!({
                "object": "user", "id": BOT_ID, "name": "Backup bot", "avatar_url": null, "type": "bot",
                "bot": {"owner": {"type": "workspace", "workspace": true}, "workspace_name": "Test Workspace",
                        "workspace_id": "a0a0a0a0-a0a0-4a0a-8a0a-a0a0a0a0a0a0",
                        "workspace_limits": {"max_file_upload_size_in_bytes": 5_368_709_120u64}}
            }),
            pages: HashMap::new(),
            lazy_rows: HashMap::new(),
            blocks: HashMap::new(),
            children: HashMap::new(),
            databases: HashMap::new(),
            data_sources: HashMap::new(),
            users: HashMap::new(),
            comments: HashMap::new(),
            unshared: HashSet::new(),
            linked_views: HashMap::new(),
            files: HashMap::new(),
            file_url_ttl: Duration::from_secs(3600),
            query_cap: 10_000,
            faults: Faults::default(),
            seed: 42,
            record_requests: false,
            id_counter: 0,
            writes: write::Writes::default(),
        }
    }

    /// A fresh deterministic dashed UUID (depends on the seed and how many were made).
    pub fn next_id(&mut self) -> String {
        self.id_counter += 1;
        let hi = splitmix(self.seed ^ (self.id_counter << 1));
        let lo = splitmix(hi ^ self.id_counter);
        uuid_from_bits(((hi as u128) << 64) | lo as u128)
    }

    /// Insert or replace a page; a page whose parent is a data source becomes one of its rows.
    pub fn insert_page(&mut self, page: Value) -> String {
        let id = norm(page["id"].as_str().expect("page needs an id"));
        if let Some(ds) = page["parent"]["data_source_id"].as_str() {
            let entry = self
                .data_sources
                .get_mut(&norm(ds))
                .unwrap_or_else(|| panic!("insert data source {ds} before its rows"));
            if !entry.rows.contains(&id) {
                entry.rows.push(id.clone());
            }
        }
        self.lazy_rows.remove(&id);
        self.pages.insert(id.clone(), page);
        id
    }

    /// Add a lazily built row to a data source.
    pub fn insert_lazy_row(&mut self, row: LazyRow) {
        let id = norm(&row.id);
        let ds = norm(&row.data_source_id);
        self.data_sources.get_mut(&ds).expect("insert the data source first").rows.push(id.clone());
        self.lazy_rows.insert(id, row);
    }

    /// The stored (untruncated, unsigned) page JSON.
    pub fn page(&self, id: &str) -> Option<Value> {
        let id = norm(id);
        self.pages.get(&id).cloned().or_else(|| self.lazy_rows.get(&id).map(LazyRow::to_page))
    }

    pub fn has_page(&self, id: &str) -> bool {
        let id = norm(id);
        self.pages.contains_key(&id) || self.lazy_rows.contains_key(&id)
    }

    /// Mutable page JSON (a lazy row is materialized first).
    pub fn page_mut(&mut self, id: &str) -> Option<&mut Value> {
        let id = norm(id);
        if let Some(row) = self.lazy_rows.remove(&id) {
            self.pages.insert(id.clone(), row.to_page());
        }
        self.pages.get_mut(&id)
    }

    /// Remove a page (and its place among its data source's rows).
    pub fn remove_page(&mut self, id: &str) {
        let id = norm(id);
        self.pages.remove(&id);
        self.lazy_rows.remove(&id);
        for ds in self.data_sources.values_mut() {
            ds.rows.retain(|r| *r != id);
        }
    }

    pub fn insert_block(&mut self, block: Value) -> String {
        let id = norm(block["id"].as_str().expect("block needs an id"));
        self.blocks.insert(id.clone(), block);
        id
    }

    pub fn block_mut(&mut self, id: &str) -> Option<&mut Value> {
        self.blocks.get_mut(&norm(id))
    }

    /// Replace the children of a page or block; sets each block's `parent`. Returns dashed ids.
    pub fn set_children(&mut self, parent_id: &str, blocks: Vec<Value>) -> Vec<String> {
        self.children.insert(norm(parent_id), Vec::new());
        self.append_children(parent_id, blocks)
    }

    pub fn append_children(&mut self, parent_id: &str, blocks: Vec<Value>) -> Vec<String> {
        let parent = if self.has_page(parent_id) {
            json!({"type": "page_id", "page_id": dashed(parent_id)})
        } else {
            json!({"type": "block_id", "block_id": dashed(parent_id)})
        };
        let mut ids = Vec::new();
        for mut b in blocks {
            b["parent"] = parent.clone();
            ids.push(b["id"].as_str().expect("block needs an id").to_string());
            let id = self.insert_block(b);
            self.children.entry(norm(parent_id)).or_default().push(id);
        }
        ids
    }

    pub fn insert_database(&mut self, db: Value) -> String {
        let id = norm(db["id"].as_str().expect("database needs an id"));
        self.databases.insert(id.clone(), db);
        id
    }

    pub fn insert_data_source(&mut self, ds: Value) -> String {
        let id = norm(ds["id"].as_str().expect("data source needs an id"));
        let rows = self.data_sources.remove(&id).map(|e| e.rows).unwrap_or_default();
        self.data_sources.insert(id.clone(), DataSourceEntry { json: ds, rows });
        id
    }

    pub fn insert_user(&mut self, user: Value) -> String {
        let id = norm(user["id"].as_str().expect("user needs an id"));
        self.users.insert(id.clone(), user);
        id
    }

    pub fn add_comment(&mut self, block_id: &str, comment: Value) {
        self.comments.entry(norm(block_id)).or_default().push(comment);
    }

    pub fn unshare(&mut self, id: &str) {
        self.unshared.insert(norm(id));
    }

    pub fn share(&mut self, id: &str) {
        self.unshared.remove(&norm(id));
    }

    /// Store a Notion-hosted file; `Content-Type` is guessed from the name's extension.
    pub fn add_file(&mut self, name: &str, bytes: Vec<u8>) -> FileRef {
        let ct = guess_content_type(name).to_string();
        self.add_file_with_type(name, bytes, &ct)
    }

    /// Store a file whose download claims `content_type` (use it to lie, e.g. PNG as image/jpeg).
    pub fn add_file_with_type(&mut self, name: &str, bytes: Vec<u8>, content_type: &str) -> FileRef {
        let key = self.next_id();
        let file = StoredFile { name: name.to_string(), bytes, content_type: content_type.to_string() };
        self.files.insert(key.clone(), file);
        FileRef { key, name: name.to_string() }
    }

    fn is_unshared(&self, id: &str) -> bool {
        self.unshared.contains(id)
    }

    /// A page is visible when neither it nor its database/data source is unshared.
    fn page_visible(&self, id: &str, page_parent: Option<(&str, &str)>) -> bool {
        if self.unshared.contains(id) {
            return false;
        }
        match page_parent {
            Some((ds, db)) => !self.unshared.contains(&norm(ds)) && !self.unshared.contains(&norm(db)),
            None => true,
        }
    }
}

fn guess_content_type(name: &str) -> &'static str {
    let ext = name.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "pdf" => "application/pdf",
        "mp4" => "video/mp4",
        "mp3" => "audio/mpeg",
        "txt" | "md" => "text/plain",
        _ => "application/octet-stream",
    }
}

// ---------------------------------------------------------------------------------------------
// Stats
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// Every `/v1` request that reached the fake (including faulted ones).
    pub requests: usize,
    /// Per endpoint kind: `users.me`, `users.get`, `users.list`, `search`, `databases.get`,
    /// `data_sources.get`, `data_sources.query`, `pages.get`, `pages.property`, `blocks.get`,
    /// `blocks.children`, `comments.list`, `unknown`.
    pub by_kind: BTreeMap<String, usize>,
    pub rate_limited: usize,
    /// 5xx answers sent (500/502/503/504 and 529).
    pub server_errors: usize,
    pub dropped: usize,
    pub malformed: usize,
    pub unauthorized: usize,
    /// Successful downloads of signed file URLs.
    pub file_downloads: usize,
    /// Signed URL requests answered 403 (expired or bad signature).
    pub file_denied: usize,
    /// Arrival time of every `/v1` request.
    pub timestamps: Vec<Instant>,
    /// When each `/v1` request got past the rate limit (after its latency): the requests Notion
    /// answered, as opposed to the 429s.
    pub answered: Vec<Instant>,
}

impl Stats {
    pub fn kind(&self, kind: &str) -> usize {
        self.by_kind.get(kind).copied().unwrap_or(0)
    }

    /// The most `/v1` requests that arrived within any window of this length.
    pub fn max_in_window(&self, window: Duration) -> usize {
        let mut t = self.timestamps.clone();
        t.sort();
        let (mut best, mut lo) = (0, 0);
        for hi in 0..t.len() {
            while t[hi].duration_since(t[lo]) >= window {
                lo += 1;
            }
            best = best.max(hi - lo + 1);
        }
        best
    }
}

// ---------------------------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------------------------

struct Bucket {
    config: RateLimit,
    tokens: f64,
    last: Instant,
}

struct Signed {
    key: String,
    expires_at: Instant,
    expires_unix: i64,
    ttl_secs: u64,
}

/// Server-side cursor state: random tokens mapping to a list scope and an offset. A query's
/// cursors also keep the id list the query matched, so later pages skip filtering and sorting.
struct Cursors {
    map: HashMap<String, CursorState>,
    rng: StdRng,
}

struct CursorState {
    scope: String,
    offset: usize,
    snapshot: Option<Arc<Vec<String>>>,
}

impl Cursors {
    fn issue(&mut self, scope: &str, offset: usize, snapshot: Option<Arc<Vec<String>>>) -> String {
        let token = uuid_from_bits(self.rng.random());
        self.map.insert(token.clone(), CursorState { scope: scope.to_string(), offset, snapshot });
        token
    }

    fn state(&self, scope: &str, cursor: Option<&str>) -> Result<Option<&CursorState>, ApiError> {
        let Some(c) = cursor else { return Ok(None) };
        match self.map.get(c) {
            Some(st) if st.scope == scope => Ok(Some(st)),
            _ => Err(ApiError::validation(&format!("The start_cursor provided is invalid: {c}"))),
        }
    }
}

/// One `/v1` request as it arrived (kept when `world.record_requests` is on).
#[derive(Clone, Debug, PartialEq)]
pub struct SeenRequest {
    pub method: String,
    /// The raw path, percent-escapes as sent (e.g. `/v1/pages/<id>/properties/cg%7D~`).
    pub path: String,
    /// The raw query string, without `?` (`None` when the URL has none).
    pub query: Option<String>,
    /// The body parsed as JSON (a JSON string holding the text when it is not JSON); `None` when
    /// the request had no body.
    pub body: Option<Value>,
    pub notion_version: Option<String>,
    pub authorization: Option<String>,
    pub content_type: Option<String>,
}

impl SeenRequest {
    pub fn to_json(&self) -> Value {
        json!({
            "method": self.method, "path": self.path, "query": self.query, "body": self.body,
            "notion_version": self.notion_version, "authorization": self.authorization,
            "content_type": self.content_type,
        })
    }
}

/// What search has indexed when it lags: per page, the JSON it serves and the last edit seen.
#[derive(Default)]
struct SearchIndex {
    built: bool,
    searches: u64,
    pages: HashMap<String, Indexed>,
}

struct Indexed {
    /// What search serves for the page (`None`: not indexed yet).
    visible: Option<Value>,
    /// `last_edited_time` of the newest version seen, and when/at which search it was first seen.
    seen_edit: String,
    seen_at: Instant,
    seen_at_search: u64,
}

struct Inner {
    world: World,
    stats: Stats,
    rng: StdRng,
    bucket: Option<Bucket>,
    cursors: Cursors,
    signed: HashMap<String, Signed>,
    seen: Vec<SeenRequest>,
    search_index: SearchIndex,
}

struct Shared {
    inner: Mutex<Inner>,
    origin: String,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The running fake; the server stops when this is dropped.
pub struct FakeNotion {
    shared: Arc<Shared>,
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for FakeNotion {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeNotion {
    pub async fn start(world: World) -> FakeNotion {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let seed = world.seed;
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                world,
                stats: Stats::default(),
                rng: StdRng::seed_from_u64(seed),
                bucket: None,
                cursors: Cursors { map: HashMap::new(), rng: StdRng::seed_from_u64(seed ^ 0xC0C0) },
                signed: HashMap::new(),
                seen: Vec::new(),
                search_index: SearchIndex::default(),
            }),
            origin: format!("http://{addr}"),
        });
        let task = tokio::spawn(accept_loop(listener, shared.clone()));
        FakeNotion { shared, addr, task }
    }

    /// `http://127.0.0.1:PORT/v1`
    pub fn base_url(&self) -> String {
        format!("{}/v1", self.shared.origin)
    }

    /// `http://127.0.0.1:PORT`
    pub fn origin(&self) -> String {
        self.shared.origin.clone()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn with_world<R>(&self, f: impl FnOnce(&mut World) -> R) -> R {
        f(&mut self.shared.lock().world)
    }

    pub fn stats(&self) -> Stats {
        self.shared.lock().stats.clone()
    }

    pub fn reset_stats(&self) {
        self.shared.lock().stats = Stats::default();
    }

    pub fn max_in_window(&self, window: Duration) -> usize {
        self.shared.lock().stats.max_in_window(window)
    }

    /// Every `/v1` request kept since the start (only with `world.record_requests`).
    pub fn requests(&self) -> Vec<SeenRequest> {
        self.shared.lock().seen.clone()
    }

    pub fn clear_requests(&self) {
        self.shared.lock().seen.clear();
    }
}

async fn accept_loop(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    // Connection tasks live in the JoinSet so that aborting this task closes them all.
    let mut conns = JoinSet::new();
    loop {
        while conns.try_join_next().is_some() {}
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let shared = shared.clone();
        conns.spawn(async move {
            let kill = Arc::new(Notify::new());
            let svc = {
                let kill = kill.clone();
                hyper::service::service_fn(move |req| {
                    let (shared, kill) = (shared.clone(), kill.clone());
                    async move { Ok::<_, Infallible>(handle(shared, kill, req).await) }
                })
            };
            let conn =
                hyper::server::conn::http1::Builder::new().serve_connection(hyper_util::rt::TokioIo::new(stream), svc);
            tokio::select! {
                _ = conn => {}
                _ = kill.notified() => {} // drop fault: close without answering
            }
        });
    }
}

/// Per-request facts the handlers need.
struct Ctx {
    version: String,
    origin: String,
    /// Query parameters, decoded once.
    query: Vec<(String, String)>,
    /// The body as sent (write endpoints that take something other than JSON read it here).
    raw_body: Bytes,
    content_type: Option<String>,
}

impl Ctx {
    fn param(&self, k: &str) -> Option<&str> {
        self.query.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }
    fn params(&self, k: &str) -> Vec<&str> {
        self.query.iter().filter(|(n, _)| n == k).map(|(_, v)| v.as_str()).collect()
    }
}

#[derive(Debug)]
struct ApiError {
    status: u16,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: u16, code: &'static str, message: &str) -> ApiError {
        ApiError { status, code, message: message.to_string() }
    }
    fn validation(message: &str) -> ApiError {
        ApiError::new(400, "validation_error", message)
    }
    fn not_found(kind: &str, id: &str) -> ApiError {
        ApiError::new(
            404,
            "object_not_found",
            &format!(
                "Could not find {kind} with ID: {}. Make sure the relevant pages and databases are shared with your integration.",
                dashed(id)
            ),
        )
    }
    fn bad_url() -> ApiError {
        ApiError::new(400, "invalid_request_url", "Invalid request URL.")
    }
}

fn request_id(rng: &mut StdRng) -> String {
    uuid_from_bits(rng.random())
}

fn json_response(status: u16, body: Vec<u8>) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
        .body(Body::from(body))
        .unwrap()
}

fn error_response(inner: &mut Inner, e: &ApiError) -> Response<Body> {
    let body = json!({"object": "error", "status": e.status, "code": e.code, "message": e.message,
                      "request_id": request_id(&mut inner.rng)});
    json_response(e.status, serde_json::to_vec(&body).unwrap())
}

fn rate_limited(inner: &mut Inner) -> Response<Body> {
    inner.stats.rate_limited += 1;
    let e = ApiError::new(429, "rate_limited", "You have been rate limited. Please try again in a few minutes.");
    let mut r = error_response(inner, &e);
    r.headers_mut().insert(header::RETRY_AFTER, inner.world.faults.retry_after_secs.to_string().parse().unwrap());
    r
}

fn server_error(inner: &mut Inner) -> Response<Body> {
    inner.stats.server_errors += 1;
    match inner.rng.random_range(0..4) {
        0 => error_response(inner, &ApiError::new(500, "internal_server_error", "Unexpected error occurred.")),
        1 => Response::builder()
            .status(502)
            .header(header::CONTENT_TYPE, "text/html")
            .header("cf-ray", "8f00000000000000-FRA")
            .body(Body::from(
                "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n",
            ))
            .unwrap(),
        2 => error_response(
            inner,
            &ApiError::new(503, "service_unavailable", "Notion is unavailable. Please try again later."),
        ),
        _ => error_response(inner, &ApiError::new(504, "gateway_timeout", "Notion timed out. Please try again later.")),
    }
}

fn endpoint_kind(method: &Method, segs: &[&str]) -> &'static str {
    match (method.as_str(), segs) {
        ("GET", ["users", "me"]) => "users.me",
        ("GET", ["users"]) => "users.list",
        ("GET", ["users", _]) => "users.get",
        ("POST", ["search"]) => "search",
        ("GET", ["databases", _]) => "databases.get",
        ("GET", ["data_sources", _]) => "data_sources.get",
        ("POST", ["data_sources", _, "query"]) => "data_sources.query",
        ("GET", ["pages", _]) => "pages.get",
        ("GET", ["pages", _, "properties", _]) => "pages.property",
        ("GET", ["blocks", _]) => "blocks.get",
        ("GET", ["blocks", _, "children"]) => "blocks.children",
        ("GET", ["comments"]) => "comments.list",
        ("GET", ["views"]) => "views.list",
        (m, s) => write::endpoint_kind(m, s),
    }
}

async fn handle(shared: Arc<Shared>, kill: Arc<Notify>, req: Request<Incoming>) -> Response<Body> {
    let path = req.uri().path().to_string();
    if path.starts_with("/s3/") {
        let query = req.uri().query().unwrap_or("").to_string();
        return serve_file(&mut shared.lock(), &path, &query);
    }
    let method = req.method().clone();
    let rel = path.strip_prefix("/v1").unwrap_or("").to_string();
    let segs: Vec<&str> = rel.split('/').filter(|s| !s.is_empty()).collect();
    let kind = endpoint_kind(&method, &segs);

    // Count, then latency, then faults.
    let latency = {
        let mut inner = shared.lock();
        inner.stats.requests += 1;
        *inner.stats.by_kind.entry(kind.to_string()).or_default() += 1;
        inner.stats.timestamps.push(Instant::now());
        let jitter = inner.world.faults.latency_jitter;
        let extra = if jitter.is_zero() { Duration::ZERO } else { jitter.mul_f64(inner.rng.random::<f64>()) };
        inner.world.faults.latency + extra
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let dropped = {
        let mut guard = shared.lock();
        let inner = &mut *guard;
        if inner.world.faults.burst_429 > 0 {
            inner.world.faults.burst_429 -= 1;
            return rate_limited(inner);
        }
        if inner.world.faults.burst_529 > 0 {
            inner.world.faults.burst_529 -= 1;
            inner.stats.server_errors += 1;
            let e = ApiError::new(529, "service_overload", "Notion is experiencing high load. Please try again later.");
            let mut r = error_response(inner, &e);
            let after = inner.world.faults.retry_after_secs.to_string();
            r.headers_mut().insert(header::RETRY_AFTER, after.parse().unwrap());
            return r;
        }
        if !take_token(inner) {
            return rate_limited(inner);
        }
        inner.stats.answered.push(Instant::now());
        let drop_rate = inner.world.faults.drop_rate;
        let dropped = drop_rate > 0.0 && inner.rng.random::<f64>() < drop_rate;
        if dropped {
            inner.stats.dropped += 1;
        }
        let rate = inner.world.faults.error_rate_5xx;
        if !dropped && rate > 0.0 && inner.rng.random::<f64>() < rate {
            return server_error(inner);
        }
        dropped
    };
    if dropped {
        kill.notify_one();
        std::future::pending::<()>().await;
    }

    // Auth and version.
    let header_str = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let auth = header_str("authorization");
    let version = header_str("notion-version");
    let content_type = header_str("content-type");
    let raw_query = req.uri().query().map(str::to_string);
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(raw_query.as_deref().unwrap_or("").as_bytes()).into_owned().collect();
    let raw_body = match axum::body::to_bytes(Body::new(req.into_body()), 64 << 20).await {
        Ok(b) => b,
        Err(_) => Bytes::new(),
    };

    let mut guard = shared.lock();
    let inner = &mut *guard;
    if inner.world.record_requests {
        let body = (!raw_body.is_empty()).then(|| {
            serde_json::from_slice(&raw_body)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&raw_body).into_owned()))
        });
        inner.seen.push(SeenRequest {
            method: method.to_string(),
            path: path.clone(),
            query: raw_query.clone(),
            body,
            notion_version: version.clone(),
            authorization: auth.clone(),
            content_type: content_type.clone(),
        });
    }
    let expected = format!("Bearer {}", inner.world.token);
    if auth.as_deref() != Some(expected.as_str()) {
        inner.stats.unauthorized += 1;
        return error_response(inner, &ApiError::new(401, "unauthorized", "API token is invalid."));
    }
    let version = match version {
        None => {
            let e = ApiError::new(
                400,
                "missing_version",
                "Notion-Version header failed validation: Notion-Version header should be defined, instead was `undefined`.",
            );
            return error_response(inner, &e);
        }
        Some(v) if !inner.world.versions.contains(&v) => {
            let e = ApiError::validation(&format!(
                "Notion-Version header failed validation: Notion-Version header should be one of {:?}, instead was `{v}`.",
                inner.world.versions
            ));
            return error_response(inner, &e);
        }
        Some(v) => v,
    };
    let body = match parse_body(kind, &method, &raw_body, content_type.as_deref()) {
        Ok(b) => b,
        Err(e) => return error_response(inner, &e),
    };
    let ctx = Ctx { version, origin: shared.origin.clone(), query, raw_body, content_type };
    if let Err(e) = check_parameters(kind, &ctx, &body) {
        return error_response(inner, &e);
    }

    let result = {
        let Inner { world, cursors, search_index, .. } = &mut *inner;
        dispatch(world, cursors, search_index, &ctx, &method, &segs, &body)
    };
    match result {
        Err(e) => error_response(inner, &e),
        Ok(mut v) => {
            finish_json(inner, &ctx, &mut v);
            if let Some(obj) = v.as_object_mut() {
                if obj.get("object").and_then(Value::as_str) == Some("list") {
                    obj.insert("request_id".into(), json!(request_id(&mut inner.rng)));
                }
            }
            let bad = inner
                .world
                .faults
                .bad_answers
                .iter_mut()
                .find(|b| b.times > 0 && b.method == method.as_str() && rel.starts_with(b.path_prefix.as_str()));
            if let Some(b) = bad {
                b.times = b.times.saturating_sub(1);
                v = b.body.clone();
            }
            let mut bytes = serde_json::to_vec(&v).unwrap();
            if write::lose_answer(&mut inner.world, kind)
                || inner.world.faults.malformed_json_paths.iter().any(|p| rel.starts_with(p.as_str()))
            {
                inner.stats.malformed += 1;
                bytes.truncate(bytes.len() / 2);
            }
            json_response(200, bytes)
        }
    }
}

fn take_token(inner: &mut Inner) -> bool {
    let Some(cfg) = inner.world.faults.rate_limit.clone() else {
        inner.bucket = None;
        return true;
    };
    let now = Instant::now();
    let bucket = match &mut inner.bucket {
        Some(b) if b.config == cfg => b,
        slot => slot.insert(Bucket { tokens: cfg.burst as f64, config: cfg, last: now }),
    };
    let elapsed = now.duration_since(bucket.last).as_secs_f64();
    bucket.tokens = (bucket.tokens + elapsed * bucket.config.per_second).min(bucket.config.burst as f64);
    bucket.last = now;
    if bucket.tokens >= 1.0 {
        bucket.tokens -= 1.0;
        true
    } else {
        false
    }
}

/// Version-dependent fields and fresh signed URLs for every hosted file in a served value.
fn finish_json(inner: &mut Inner, ctx: &Ctx, v: &mut Value) {
    let old = ctx.version == VERSION_2025;
    let ttl = inner.world.file_url_ttl;
    let mut stack: Vec<&mut Value> = vec![v];
    while let Some(v) = stack.pop() {
        match v {
            Value::Array(a) => stack.extend(a.iter_mut()),
            Value::Object(o) => {
                if let Some(key) = o.get("url").and_then(Value::as_str).and_then(|u| u.strip_prefix(FILE_SCHEME)) {
                    let key = key.to_string();
                    let (url, expiry) = sign_url(inner, &ctx.origin, &key, ttl);
                    o.insert("url".into(), json!(url));
                    o.insert("expiry_time".into(), json!(expiry));
                }
                if old {
                    let is_obj = matches!(
                        o.get("object").and_then(Value::as_str),
                        Some("page" | "block" | "database" | "data_source")
                    );
                    if is_obj {
                        if let Some(t) = o.get("in_trash").cloned() {
                            o.insert("archived".into(), t);
                        }
                    }
                    if o.get("object").and_then(Value::as_str) == Some("block")
                        && o.get("type").and_then(Value::as_str) == Some("meeting_notes")
                    {
                        o.insert("type".into(), json!("transcription"));
                        if let Some(p) = o.remove("meeting_notes") {
                            o.insert("transcription".into(), p);
                        }
                    }
                }
                stack.extend(o.values_mut());
            }
            _ => {}
        }
    }
}

fn sign_url(inner: &mut Inner, origin: &str, key: &str, ttl: Duration) -> (String, String) {
    let name = inner.world.files.get(key).map(|f| f.name.clone()).unwrap_or_else(|| "file".into());
    let sig = format!("{:032x}{:032x}", inner.rng.random::<u128>(), inner.rng.random::<u128>());
    let cred = format!("ASIA{:016X}", inner.rng.random::<u64>());
    let now = now_ms();
    let expires_unix = now / 1000 + ttl.as_secs() as i64;
    let date = DateTime::<Utc>::from_timestamp_millis(now).unwrap_or_default().format("%Y%m%dT%H%M%SZ");
    inner.signed.insert(
        sig.clone(),
        Signed { key: key.to_string(), expires_at: Instant::now() + ttl, expires_unix, ttl_secs: ttl.as_secs() },
    );
    let url = format!(
        "{origin}/s3/{key}/{}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Content-Sha256=UNSIGNED-PAYLOAD\
         &X-Amz-Credential={cred}%2F{}%2Fus-west-2%2Fs3%2Faws4_request&X-Amz-Date={date}&X-Amz-Expires={}\
         &X-Amz-Signature={sig}&X-Amz-SignedHeaders=host&x-id=GetObject&expires={expires_unix}",
        percent_encode(&name),
        &date.to_string()[..8],
        ttl.as_secs(),
    );
    (url, iso_ms(now + ttl.as_millis() as i64))
}

fn s3_error(code: &str, message: &str, extra: &str) -> Response<Body> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message>{extra}\
         <RequestId>4442587FB7D0A2F9</RequestId><HostId>fakeHostIdRk3Vz1fSm9Qw==</HostId></Error>"
    );
    Response::builder()
        .status(if code == "NoSuchKey" { 404 } else { 403 })
        .header(header::CONTENT_TYPE, "application/xml")
        .header("server", "AmazonS3")
        .body(Body::from(body))
        .unwrap()
}

fn serve_file(inner: &mut Inner, path: &str, query: &str) -> Response<Body> {
    let mut parts = path.trim_start_matches("/s3/").splitn(2, '/');
    let key = parts.next().unwrap_or("").to_string();
    let sig = url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "X-Amz-Signature")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let Some(signed) = inner.signed.get(&sig).filter(|s| s.key == key) else {
        inner.stats.file_denied += 1;
        return s3_error(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
            "",
        );
    };
    if Instant::now() >= signed.expires_at {
        inner.stats.file_denied += 1;
        let extra = format!(
            "<X-Amz-Expires>{}</X-Amz-Expires><Expires>{}</Expires><ServerTime>{}</ServerTime>",
            signed.ttl_secs,
            iso_ms(signed.expires_unix * 1000).replace(".000", ""),
            iso_ms(now_ms()).replace(".000", "")
        );
        return s3_error("AccessDenied", "Request has expired", &extra);
    }
    let Some(file) = inner.world.files.get(&key) else {
        return s3_error("NoSuchKey", "The specified key does not exist.", "");
    };
    inner.stats.file_downloads += 1;
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, file.content_type.clone())
        .header("server", "AmazonS3")
        .body(Body::from(file.bytes.clone()))
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// Endpoints
// ---------------------------------------------------------------------------------------------

type ApiResult = Result<Value, ApiError>;

/// The request body as JSON (`{}` when there is none). Read endpoints take JSON only, sent with
/// `Content-Type: application/json`, and a GET takes no body at all.
fn parse_body(kind: &str, method: &Method, raw: &[u8], content_type: Option<&str>) -> ApiResult {
    if raw.is_empty() {
        return Ok(json!({}));
    }
    let known = kind != "unknown";
    if known && *method == Method::GET {
        let shown: String = String::from_utf8_lossy(raw).chars().take(100).collect();
        return Err(ApiError::validation(&format!(
            "body failed validation: body should be not present, instead was `{shown}`."
        )));
    }
    let is_json = content_type
        .and_then(|c| c.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        // Write endpoints that take other bodies (multipart uploads) read `Ctx::raw_body`.
        if kind == "file_uploads.send" {
            return Ok(json!({}));
        }
        return if known { Err(ApiError::new(400, "invalid_json", "Error parsing JSON body.")) } else { Ok(json!({})) };
    }
    serde_json::from_slice(raw).map_err(|_| ApiError::new(400, "invalid_json", "Error parsing JSON body."))
}

/// Query parameters and body members each read endpoint takes (the official SDK's
/// `queryParams`/`bodyParams`); `None` for routes this table does not know.
fn endpoint_parameters(kind: &str) -> Option<(&'static [&'static str], &'static [&'static str])> {
    const PAGING: &[&str] = &["start_cursor", "page_size"];
    Some(match kind {
        "users.me" | "users.get" | "databases.get" | "data_sources.get" | "blocks.get" => (&[], &[]),
        "users.list" | "blocks.children" | "pages.property" => (PAGING, &[]),
        "pages.get" => (&["filter_properties"], &[]),
        "comments.list" => (&["block_id", "start_cursor", "page_size"], &[]),
        "views.list" => (&["database_id", "data_source_id", "start_cursor", "page_size"], &[]),
        "search" => (&[], &["sort", "query", "start_cursor", "page_size", "filter"]),
        "data_sources.query" => (
            &["filter_properties"],
            &["archived", "sorts", "filter", "start_cursor", "page_size", "in_trash", "result_type"],
        ),
        _ => return None,
    })
}

fn shown(v: &Value) -> String {
    let s = serde_json::to_string(v).unwrap_or_default();
    if s.chars().count() > 100 {
        s.chars().take(100).collect::<String>() + "…"
    } else {
        s
    }
}

/// Refuse what the endpoint does not take, like Notion's request validation.
fn check_parameters(kind: &str, ctx: &Ctx, body: &Value) -> Result<(), ApiError> {
    let Some((query_ok, body_ok)) = endpoint_parameters(kind) else { return Ok(()) };
    for (k, v) in &ctx.query {
        if !query_ok.contains(&k.as_str()) {
            return Err(ApiError::validation(&format!(
                "query failed validation: query.{k} should be not present, instead was `{}`.",
                shown(&json!(v))
            )));
        }
    }
    let Some(members) = body.as_object() else {
        return Err(ApiError::validation(&format!(
            "body failed validation: body should be an object, instead was `{}`.",
            shown(body)
        )));
    };
    for (k, v) in members {
        if !body_ok.contains(&k.as_str()) {
            return Err(ApiError::validation(&format!(
                "body failed validation: body.{k} should be not present, instead was `{}`.",
                shown(v)
            )));
        }
    }
    if let Some(c) = members.get("start_cursor").filter(|c| !c.is_string()) {
        return Err(ApiError::validation(&format!(
            "body failed validation: body.start_cursor should be a string or `undefined`, instead was `{}`.",
            shown(c)
        )));
    }
    Ok(())
}

fn dispatch(
    w: &mut World,
    cur: &mut Cursors,
    idx: &mut SearchIndex,
    ctx: &Ctx,
    method: &Method,
    segs: &[&str],
    body: &Value,
) -> ApiResult {
    match (method.as_str(), segs) {
        (m, s) if write::handles(m, s) => write::dispatch(w, ctx, m, s, body),
        ("GET", ["users", "me"]) => Ok(w.bot.clone()),
        ("GET", ["users"]) => list_users(w, cur, ctx),
        ("GET", ["users", id]) => {
            let id = path_id(id, "user_id")?;
            if w.bot["id"].as_str().map(norm).as_deref() == Some(id.as_str()) {
                return Ok(w.bot.clone());
            }
            w.users.get(&id).cloned().ok_or_else(|| ApiError::not_found("user", &id))
        }
        ("POST", ["search"]) => search(w, cur, idx, body),
        ("GET", ["databases", id]) => {
            let id = path_id(id, "database_id")?;
            if w.linked_views.contains_key(&id) {
                return Err(ApiError::validation(&format!(
                    "Database with ID {} is a linked database. Database retrievals do not support linked databases.",
                    dashed(&id)
                )));
            }
            match w.databases.get(&id) {
                Some(db) if !w.is_unshared(&id) => Ok(db.clone()),
                _ => Err(ApiError::not_found("database", &id)),
            }
        }
        ("GET", ["data_sources", id]) => {
            let id = path_id(id, "data_source_id")?;
            Ok(visible_data_source(w, &id)?.json.clone())
        }
        ("POST", ["data_sources", id, "query"]) => {
            let id = path_id(id, "data_source_id")?;
            query_data_source(w, cur, ctx, &id, body)
        }
        ("GET", ["pages", id]) => {
            let id = path_id(id, "page_id")?;
            let mut page = visible_page(w, &id)?;
            let ids = property_ids(&page["properties"]);
            let keep = filter_properties(ctx, ids.iter().map(String::as_str))?;
            serve_page(&mut page, &keep);
            Ok(page)
        }
        ("GET", ["pages", id, "properties", prop]) => {
            let id = path_id(id, "page_id")?;
            page_property(w, cur, ctx, &id, prop)
        }
        ("GET", ["blocks", id]) => {
            let id = path_id(id, "block_id")?;
            get_block(w, &id)
        }
        ("GET", ["blocks", id, "children"]) => {
            let id = path_id(id, "block_id")?;
            block_children(w, cur, ctx, &id)
        }
        ("GET", ["comments"]) => list_comments(w, cur, ctx),
        ("GET", ["views"]) => {
            let views: Vec<Value> = match (ctx.param("database_id"), ctx.param("data_source_id")) {
                (Some(raw), None) => {
                    let id = path_id(raw, "database_id")?;
                    w.linked_views.get(&id).map(|ds| vec![view_json(&id, ds)]).unwrap_or_default()
                }
                (None, Some(raw)) => {
                    let ds = path_id(raw, "data_source_id")?;
                    w.linked_views.iter().filter(|(_, d)| **d == ds).map(|(id, d)| view_json(id, d)).collect()
                }
                _ => {
                    return Err(ApiError::validation(
                        "query failed validation: exactly one of query.database_id or query.data_source_id should be defined.",
                    ))
                }
            };
            let size = query_page_size(ctx)?;
            let scope = format!("views:{}", ctx.query.iter().map(|(k, v)| format!("{k}={v}")).collect::<String>());
            let win = window(cur, &scope, views.len(), ctx.param("start_cursor"), size, usize::MAX)?;
            Ok(envelope("view", views[win.start..win.end].to_vec(), &win))
        }
        _ => Err(ApiError::bad_url()),
    }
}

fn view_json(database_id: &str, data_source_id: &str) -> Value {
    json!({"object": "view", "id": dashed(database_id), "type": "table", "data_source_id": dashed(data_source_id)})
}

fn path_id(raw: &str, name: &str) -> Result<String, ApiError> {
    let n = norm(raw);
    if is_hex32(&n) {
        Ok(n)
    } else {
        Err(ApiError::validation(&format!(
            "path failed validation: path.{name} should be a valid uuid, instead was `\"{raw}\"`."
        )))
    }
}

/// Page size from a GET parameter (a decimal string) or a POST body member (a JSON number):
/// default 100, 1..=100.
fn page_size(raw: Option<&Value>, where_: &str) -> Result<usize, ApiError> {
    let n = match (raw, where_) {
        (None, _) => return Ok(100),
        (Some(Value::String(s)), "query") => s.parse::<i64>().ok(),
        (Some(Value::Number(n)), "body") => n.as_i64(),
        _ => None,
    };
    let expected = if where_ == "body" { "a number or `undefined`" } else { "a number" };
    match n {
        Some(n) if (1..=100).contains(&n) => Ok(n as usize),
        Some(n) if n > 100 => Err(ApiError::validation(&format!(
            "{where_} failed validation: {where_}.page_size should be ≤ `100`, instead was `{n}`."
        ))),
        Some(n) => Err(ApiError::validation(&format!(
            "{where_} failed validation: {where_}.page_size should be ≥ `1`, instead was `{n}`."
        ))),
        None => Err(ApiError::validation(&format!(
            "{where_} failed validation: {where_}.page_size should be {expected}, instead was `{}`.",
            raw.map(shown).unwrap_or_default()
        ))),
    }
}

fn query_page_size(ctx: &Ctx) -> Result<usize, ApiError> {
    page_size(ctx.param("page_size").map(|s| json!(s)).as_ref(), "query")
}

struct Window {
    start: usize,
    end: usize,
    next_cursor: Option<String>,
    capped: bool,
}

fn window(
    cur: &mut Cursors,
    scope: &str,
    total: usize,
    cursor: Option<&str>,
    size: usize,
    cap: usize,
) -> Result<Window, ApiError> {
    window_with(cur, scope, total, cursor, size, cap, None)
}

fn window_with(
    cur: &mut Cursors,
    scope: &str,
    total: usize,
    cursor: Option<&str>,
    size: usize,
    cap: usize,
    snapshot: Option<Arc<Vec<String>>>,
) -> Result<Window, ApiError> {
    let start = cur.state(scope, cursor)?.map(|s| s.offset).unwrap_or(0);
    let limit = total.min(cap);
    let start = start.min(limit);
    let end = (start + size).min(limit);
    let next_cursor = (end < limit).then(|| cur.issue(scope, end, snapshot));
    Ok(Window { start, end, next_cursor, capped: end == limit && total > cap })
}

fn envelope(kind: &str, results: Vec<Value>, w: &Window) -> Value {
    let mut o = Map::new();
    o.insert("object".into(), json!("list"));
    o.insert("results".into(), Value::Array(results));
    o.insert("next_cursor".into(), json!(w.next_cursor));
    o.insert("has_more".into(), json!(w.next_cursor.is_some()));
    o.insert("type".into(), json!(kind));
    o.insert(kind.into(), json!({}));
    if w.capped {
        o.insert(
            "request_status".into(),
            json!({"type": "incomplete", "incomplete_reason": "query_result_limit_reached"}),
        );
    }
    Value::Object(o)
}

fn body_cursor(body: &Value) -> Result<Option<&str>, ApiError> {
    match body.get("start_cursor") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::validation("body failed validation: body.start_cursor should be a string.")),
    }
}

fn list_users(w: &World, cur: &mut Cursors, ctx: &Ctx) -> ApiResult {
    let mut users: Vec<&Value> = w.users.values().collect();
    users.sort_by_key(|u| u["id"].as_str().unwrap_or("").to_string());
    let size = query_page_size(ctx)?;
    let win = window(cur, "users", users.len(), ctx.param("start_cursor"), size, usize::MAX)?;
    let results = users[win.start..win.end].iter().map(|u| (*u).clone()).collect();
    Ok(envelope("user", results, &win))
}

fn visible_data_source<'w>(w: &'w World, id: &str) -> Result<&'w DataSourceEntry, ApiError> {
    let ds = w.data_sources.get(id).ok_or_else(|| ApiError::not_found("data_source", id))?;
    let db = ds.json["parent"]["database_id"].as_str().map(norm).unwrap_or_default();
    if w.is_unshared(id) || w.is_unshared(&db) {
        return Err(ApiError::not_found("data_source", id));
    }
    Ok(ds)
}

fn row_parent(page: &Value) -> Option<(&str, &str)> {
    let p = &page["parent"];
    Some((p["data_source_id"].as_str()?, p["database_id"].as_str().unwrap_or("")))
}

fn visible_page(w: &World, id: &str) -> ApiResult {
    let page = w.page(id).ok_or_else(|| ApiError::not_found("page", id))?;
    if !w.page_visible(id, row_parent(&page)) {
        return Err(ApiError::not_found("page", id));
    }
    Ok(page)
}

/// `filter_properties` of the request, each decoded once (the query string's own encoding);
/// every value must be the id of one of `known` (property ids as Notion returns them).
fn filter_properties<'a>(ctx: &Ctx, known: impl Iterator<Item = &'a str> + Clone) -> Result<Vec<String>, ApiError> {
    let wanted = ctx.params("filter_properties");
    let mut keep = Vec::new();
    for v in wanted {
        match known.clone().find(|id| percent_decode(id) == v) {
            Some(id) => keep.push(id.to_string()),
            None => {
                return Err(ApiError::validation(&format!(
                    "filter_properties contains `{v}`, which is not a property id of this object."
                )))
            }
        }
    }
    Ok(keep)
}

fn property_ids(props: &Value) -> Vec<String> {
    props
        .as_object()
        .map(|o| o.values().filter_map(|p| p["id"].as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

/// A page object as served: only the properties `keep` names (all when empty), lists truncated.
fn serve_page(page: &mut Value, keep: &[String]) {
    if !keep.is_empty() {
        if let Some(props) = page.get_mut("properties").and_then(Value::as_object_mut) {
            props.retain(|_, p| p["id"].as_str().is_some_and(|id| keep.iter().any(|k| k == id)));
        }
    }
    truncate_page(page);
}

/// Truncate page-object lists at 25 like the real API.
fn truncate_page(page: &mut Value) {
    let Some(props) = page.get_mut("properties").and_then(Value::as_object_mut) else {
        return;
    };
    for p in props.values_mut() {
        let ty = p["type"].as_str().unwrap_or("").to_string();
        match ty.as_str() {
            "relation" => {
                let more = p["relation"].as_array().is_some_and(|a| a.len() > PAGE_ITEM_CAP);
                if let Some(a) = p["relation"].as_array_mut() {
                    a.truncate(PAGE_ITEM_CAP);
                }
                let stored = p.get("has_more").and_then(Value::as_bool).unwrap_or(false);
                p["has_more"] = json!(more || stored);
            }
            "people" => {
                if let Some(a) = p["people"].as_array_mut() {
                    a.truncate(PAGE_ITEM_CAP);
                }
            }
            "title" | "rich_text" => {
                if let Some(a) = p[&ty].as_array_mut() {
                    let mut mentions = 0;
                    a.retain(|r| {
                        if r["type"] == "mention" {
                            mentions += 1;
                            mentions <= PAGE_ITEM_CAP
                        } else {
                            true
                        }
                    });
                }
            }
            _ => {}
        }
    }
}

fn get_block(w: &World, id: &str) -> ApiResult {
    if w.is_unshared(id) {
        return Err(ApiError::not_found("block", id));
    }
    if let Some(b) = w.blocks.get(id) {
        return Ok(served_block(w, b));
    }
    // A page id works as a block id: the page seen as a child_page block.
    let page = visible_page(w, id).map_err(|_| ApiError::not_found("block", id))?;
    let title = page["properties"]
        .as_object()
        .and_then(|p| p.values().find(|v| v["type"] == "title"))
        .map(|t| plain_text(&t["title"]))
        .unwrap_or_default();
    Ok(json!({
        "object": "block", "id": page["id"], "parent": page["parent"],
        "created_time": page["created_time"], "last_edited_time": page["last_edited_time"],
        "created_by": page["created_by"], "last_edited_by": page["last_edited_by"],
        "has_children": w.children.get(id).is_some_and(|c| !c.is_empty()),
        "in_trash": page["in_trash"], "type": "child_page", "child_page": {"title": title}
    }))
}

fn served_block(w: &World, b: &Value) -> Value {
    let mut b = b.clone();
    let id = norm(b["id"].as_str().unwrap_or(""));
    let stored = b.get("has_children").and_then(Value::as_bool).unwrap_or(false);
    b["has_children"] = json!(stored || w.children.get(&id).is_some_and(|c| !c.is_empty()));
    b
}

fn block_children(w: &World, cur: &mut Cursors, ctx: &Ctx, id: &str) -> ApiResult {
    let block = w.blocks.get(id);
    if w.is_unshared(id) || (block.is_none() && visible_page(w, id).is_err()) {
        return Err(ApiError::not_found("block", id));
    }
    if let Some(b) = block.filter(|b| b["type"] == "unsupported") {
        let ty = b["unsupported"]["block_type"].as_str().unwrap_or("unsupported");
        return Err(ApiError::validation(&format!("Block type {ty} is not supported via the API.")));
    }
    let empty = Vec::new();
    let kids = w.children.get(id).unwrap_or(&empty);
    let size = query_page_size(ctx)?;
    let win = window(cur, &format!("children:{id}"), kids.len(), ctx.param("start_cursor"), size, usize::MAX)?;
    let results = kids[win.start..win.end].iter().filter_map(|k| w.blocks.get(k)).map(|b| served_block(w, b)).collect();
    Ok(envelope("block", results, &win))
}

fn list_comments(w: &World, cur: &mut Cursors, ctx: &Ctx) -> ApiResult {
    let raw = ctx
        .param("block_id")
        .ok_or_else(|| ApiError::validation("query failed validation: query.block_id should be defined."))?;
    let id = path_id(raw, "block_id")?;
    if w.is_unshared(&id) || (!w.blocks.contains_key(&id) && visible_page(w, &id).is_err()) {
        return Err(ApiError::not_found("block", &id));
    }
    let empty = Vec::new();
    let all = w.comments.get(&id).unwrap_or(&empty);
    let size = query_page_size(ctx)?;
    let win = window(cur, &format!("comments:{id}"), all.len(), ctx.param("start_cursor"), size, usize::MAX)?;
    Ok(envelope("comment", all[win.start..win.end].to_vec(), &win))
}

/// A percent-encoded string as (byte, was it escaped) units.
fn escape_units(s: &str) -> Vec<(u8, bool)> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() && b[i + 1].is_ascii_hexdigit() && b[i + 2].is_ascii_hexdigit() {
            let hex = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
            out.push((hex(b[i + 1]) * 16 + hex(b[i + 2]), true));
            i += 3;
        } else {
            out.push((b[i], false));
            i += 1;
        }
    }
    out
}

/// Whether a property id in a request path names the property `stored` (its id as Notion
/// returns it): the same characters, and every escape of the stored id still an escape. So the
/// double-encoded form (`%257D`) and the decoded form (`}` for `%7D`) do not match; the case of
/// hex digits and escaping a character the id holds unescaped (`~` as `%7E`) do not matter.
fn property_id_matches(sent: &str, stored: &str) -> bool {
    let (a, b) = (escape_units(sent), escape_units(stored));
    a.len() == b.len() && a.iter().zip(&b).all(|((ac, ae), (bc, be))| ac == bc && (*ae || !*be))
}

fn page_property(w: &World, cur: &mut Cursors, ctx: &Ctx, id: &str, prop_raw: &str) -> ApiResult {
    let page = visible_page(w, id)?;
    let prop = page["properties"]
        .as_object()
        .and_then(|p| p.values().find(|v| v["id"].as_str().is_some_and(|pid| property_id_matches(prop_raw, pid))))
        .ok_or_else(|| {
            ApiError::new(404, "object_not_found", &format!("Could not find property with ID: {prop_raw}."))
        })?;
    let pid = prop["id"].as_str().unwrap_or("").to_string();
    let ty = prop["type"].as_str().unwrap_or("").to_string();
    let items: Vec<Value> = match ty.as_str() {
        "title" | "rich_text" | "relation" | "people" => prop[&ty].as_array().cloned().unwrap_or_default(),
        "rollup" => match prop["rollup"]["type"].as_str() {
            Some("array") => prop["rollup"]["array"].as_array().cloned().unwrap_or_default(),
            _ => Vec::new(),
        },
        _ => {
            let mut item = Map::new();
            item.insert("object".into(), json!("property_item"));
            item.insert("id".into(), json!(pid));
            item.insert("type".into(), json!(ty));
            item.insert(ty.clone(), prop[&ty].clone());
            return Ok(Value::Object(item));
        }
    };
    let size = query_page_size(ctx)?;
    let scope = format!("prop:{id}:{pid}");
    let win = window(cur, &scope, items.len(), ctx.param("start_cursor"), size, usize::MAX)?;
    let results = items[win.start..win.end]
        .iter()
        .map(|it| {
            let (ity, val) = match ty.as_str() {
                "relation" => ("relation".to_string(), json!({"id": it["id"]})),
                "rollup" => {
                    let t = it["type"].as_str().unwrap_or("").to_string();
                    let v = it[&t].clone();
                    (t, v)
                }
                _ => (ty.clone(), it.clone()),
            };
            let mut o = Map::new();
            o.insert("object".into(), json!("property_item"));
            o.insert("id".into(), json!(pid));
            o.insert("type".into(), json!(ity));
            o.insert(ity, val);
            Value::Object(o)
        })
        .collect();
    let mut env = envelope("property_item", results, &win);
    let next_url = win
        .next_cursor
        .as_ref()
        .map(|c| format!("{}/v1/pages/{}/properties/{pid}?start_cursor={c}", ctx.origin, dashed(id),));
    let mut pi = Map::new();
    pi.insert("id".into(), json!(pid));
    pi.insert("next_url".into(), json!(next_url));
    pi.insert("type".into(), json!(ty));
    if ty == "rollup" {
        let mut r = prop["rollup"].clone();
        if r["type"] == "array" {
            r["array"] = json!([]);
        }
        pi.insert("rollup".into(), r);
    } else {
        pi.insert(ty.clone(), json!({}));
    }
    env["property_item"] = Value::Object(pi);
    Ok(env)
}

// ---------------------------------------------------------------------------------------------
// Search and data-source queries
// ---------------------------------------------------------------------------------------------

fn page_title(page: &Value) -> String {
    page["properties"]
        .as_object()
        .and_then(|p| p.values().find(|v| v["type"] == "title"))
        .map(|t| plain_text(&t["title"]))
        .unwrap_or_default()
}

/// Search's `filter`: which objects (`page`, `data_source` or both) and whether trashed ones.
fn search_filter(body: &Value) -> Result<(Option<String>, bool), ApiError> {
    let Some(f) = body.get("filter") else { return Ok((None, false)) };
    let bad = || {
        ApiError::validation(&format!(
            "body failed validation. Fix one: body.filter.property should be `\"object\"`, instead was `{}`. body.filter.in_trash should be a boolean, instead was `{}`.",
            shown(&f["property"]),
            shown(&f["in_trash"])
        ))
    };
    let obj = f.as_object().ok_or_else(bad)?;
    let trash = match obj.get("in_trash") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(bad()),
    };
    if obj.keys().any(|k| !["property", "value", "in_trash"].contains(&k.as_str())) {
        return Err(bad());
    }
    match (obj.get("property"), obj.get("value")) {
        (None, None) if obj.contains_key("in_trash") => Ok((None, trash)),
        (Some(p), v) if p == "object" => match v.and_then(Value::as_str) {
            Some(v @ ("page" | "data_source")) => Ok((Some(v.to_string()), trash)),
            _ => Err(ApiError::validation(&format!(
                "body failed validation: body.filter.value should be `\"page\"` or `\"data_source\"`, instead was `{}`.",
                v.map(shown).unwrap_or_else(|| "undefined".into())
            ))),
        },
        _ => Err(bad()),
    }
}

/// Search's `sort`: descending by `last_edited_time` unless it asks for ascending.
fn search_descending(body: &Value) -> Result<bool, ApiError> {
    let Some(s) = body.get("sort") else { return Ok(true) };
    if s.as_object().is_some_and(|o| o.len() == 1) && s["property"] == "relevance" {
        return Ok(true);
    }
    let ok = s.as_object().is_some_and(|o| o.len() == 2) && s["timestamp"] == "last_edited_time";
    match s["direction"].as_str() {
        Some("descending") if ok => Ok(true),
        Some("ascending") if ok => Ok(false),
        _ => Err(ApiError::validation(&format!(
            "body failed validation. Fix one: body.sort.timestamp should be `\"last_edited_time\"` and body.sort.direction `\"ascending\"` or `\"descending\"`, or body.sort.property should be `\"relevance\"`, instead was `{}`.",
            shown(s)
        ))),
    }
}

/// Whether the search-omission fault hides page `id` (normalized).
fn search_omits(w: &World, id: &str) -> bool {
    let f = &w.faults.search;
    if f.omit_ids.contains(id) {
        return true;
    }
    if f.omit_fraction <= 0.0 {
        return false;
    }
    let h = id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3));
    (splitmix(w.seed ^ h) as f64 / u64::MAX as f64) < f.omit_fraction
}

/// The pages search serves under a lag: normalized id -> page JSON as indexed (see the module
/// header for the rule).
fn lagged_pages(w: &World, idx: &mut SearchIndex, lag: &SearchLag) -> HashMap<String, Value> {
    let now = Instant::now();
    idx.searches += 1;
    let current: Vec<(String, String)> = w
        .pages
        .iter()
        .map(|(id, p)| (id.clone(), p["last_edited_time"].as_str().unwrap_or("").to_string()))
        .chain(w.lazy_rows.iter().map(|(id, r)| (id.clone(), iso_ms(r.edited_ms))))
        .collect();
    if !idx.built {
        for (id, edit) in &current {
            idx.pages.insert(
                id.clone(),
                Indexed { visible: w.page(id), seen_edit: edit.clone(), seen_at: now, seen_at_search: idx.searches },
            );
        }
        idx.built = true;
    }
    let live: HashSet<&String> = current.iter().map(|(id, _)| id).collect();
    idx.pages.retain(|id, _| live.contains(id));
    let mut out = HashMap::new();
    for (id, edit) in current {
        let e = idx.pages.entry(id.clone()).or_insert_with(|| Indexed {
            visible: None,
            seen_edit: edit.clone(),
            seen_at: now,
            seen_at_search: idx.searches,
        });
        if e.seen_edit != edit {
            (e.seen_edit, e.seen_at, e.seen_at_search) = (edit.clone(), now, idx.searches);
        }
        let matured = match lag {
            SearchLag::Searches(n) => idx.searches - e.seen_at_search >= *n as u64,
            SearchLag::Seconds(d) => now.duration_since(e.seen_at) >= *d,
        };
        let shown_edit = e.visible.as_ref().and_then(|v| v["last_edited_time"].as_str().map(str::to_string));
        if matured && shown_edit.as_deref() != Some(edit.as_str()) {
            e.visible = w.page(&id);
        }
        if let Some(v) = &e.visible {
            out.insert(id, v.clone());
        }
    }
    out
}

fn search(w: &mut World, cur: &mut Cursors, idx: &mut SearchIndex, body: &Value) -> ApiResult {
    let query = match body.get("query") {
        None => String::new(),
        Some(Value::String(q)) => q.to_lowercase(),
        Some(other) => {
            return Err(ApiError::validation(&format!(
                "body failed validation: body.query should be a string or `undefined`, instead was `{}`.",
                shown(other)
            )))
        }
    };
    let (only, trash) = search_filter(body)?;
    let descending = search_descending(body)?;
    let size = page_size(body.get("page_size"), "body")?;
    let cursor = body_cursor(body)?;
    if w.faults.search.empty_answers > 0 {
        cur.state("search", cursor)?;
        w.faults.search.empty_answers -= 1;
        let win = Window { start: 0, end: 0, next_cursor: None, capped: false };
        return Ok(envelope("page_or_data_source", Vec::new(), &win));
    }
    let w = &*w;
    let lagged = w.faults.search.lag.clone().map(|lag| lagged_pages(w, idx, &lag));
    // (edited ms, kind, normalized id)
    let mut hits: Vec<(i64, bool, String)> = Vec::new();
    if only.as_deref() != Some("data_source") {
        match &lagged {
            Some(pages) => {
                for (id, p) in pages {
                    let in_trash = p["in_trash"].as_bool().unwrap_or(false);
                    if in_trash == trash
                        && !search_omits(w, id)
                        && w.page_visible(id, row_parent(p))
                        && (query.is_empty() || page_title(p).to_lowercase().contains(&query))
                    {
                        hits.push((p["last_edited_time"].as_str().and_then(parse_ms).unwrap_or(0), true, id.clone()));
                    }
                }
            }
            None => {
                for (id, p) in &w.pages {
                    let in_trash = p["in_trash"].as_bool().unwrap_or(false);
                    if in_trash == trash
                        && !search_omits(w, id)
                        && w.page_visible(id, row_parent(p))
                        && (query.is_empty() || page_title(p).to_lowercase().contains(&query))
                    {
                        hits.push((p["last_edited_time"].as_str().and_then(parse_ms).unwrap_or(0), true, id.clone()));
                    }
                }
                for (id, r) in &w.lazy_rows {
                    if !trash
                        && !search_omits(w, id)
                        && w.page_visible(id, Some((&r.data_source_id, &r.database_id)))
                        && (query.is_empty() || r.title.to_lowercase().contains(&query))
                    {
                        hits.push((r.edited_ms, true, id.clone()));
                    }
                }
            }
        }
    }
    if only.as_deref() != Some("page") {
        for (id, ds) in &w.data_sources {
            if visible_data_source(w, id).is_ok()
                && ds.json["in_trash"].as_bool().unwrap_or(false) == trash
                && (query.is_empty() || plain_text(&ds.json["title"]).to_lowercase().contains(&query))
            {
                hits.push((ds.json["last_edited_time"].as_str().and_then(parse_ms).unwrap_or(0), false, id.clone()));
            }
        }
    }
    hits.sort_by(|a, b| if descending { b.0.cmp(&a.0) } else { a.0.cmp(&b.0) }.then_with(|| a.2.cmp(&b.2)));
    let win = window(cur, "search", hits.len(), cursor, size, usize::MAX)?;
    let results = hits[win.start..win.end]
        .iter()
        .filter_map(|(_, is_page, id)| {
            if *is_page {
                let page = match &lagged {
                    Some(pages) => pages.get(id).cloned(),
                    None => w.page(id),
                };
                page.map(|mut p| {
                    serve_page_plain(&mut p);
                    p
                })
            } else {
                w.data_sources.get(id).map(|d| d.json.clone())
            }
        })
        .collect();
    Ok(envelope("page_or_data_source", results, &win))
}

fn serve_page_plain(page: &mut Value) {
    truncate_page(page);
}

/// A row as filters and sorts see it, without building lazy JSON.
enum Row<'a> {
    Json(&'a Value),
    Lazy(&'a LazyRow),
}

impl Row<'_> {
    fn created(&self) -> Option<i64> {
        match self {
            Row::Json(p) => p["created_time"].as_str().and_then(parse_ms),
            Row::Lazy(r) => Some(r.created_ms),
        }
    }
    fn edited(&self) -> Option<i64> {
        match self {
            Row::Json(p) => p["last_edited_time"].as_str().and_then(parse_ms),
            Row::Lazy(r) => Some(r.edited_ms),
        }
    }
    fn in_trash(&self) -> bool {
        match self {
            Row::Json(p) => p["in_trash"].as_bool().unwrap_or(false),
            Row::Lazy(_) => false,
        }
    }
    fn prop(&self, name: &str) -> Option<Value> {
        match self {
            Row::Json(p) => p["properties"].get(name).cloned(),
            Row::Lazy(r) if r.title_property == name => r.to_page()["properties"].get(name).cloned(),
            Row::Lazy(_) => None,
        }
    }
}

fn query_data_source(w: &World, cur: &mut Cursors, ctx: &Ctx, id: &str, body: &Value) -> ApiResult {
    let ds = visible_data_source(w, id)?;
    let ids = property_ids(&ds.json["properties"]);
    let keep = filter_properties(ctx, ids.iter().map(String::as_str))?;
    let scope = format!("query:{id}");
    let cursor = body_cursor(body)?;
    let size = page_size(body.get("page_size"), "body")?;
    let matched = match cur.state(&scope, cursor)?.and_then(|s| s.snapshot.clone()) {
        Some(ids) => ids,
        None => Arc::new(matching_rows(w, id, body)?),
    };
    let win = window_with(cur, &scope, matched.len(), cursor, size, w.query_cap, Some(matched.clone()))?;
    let results = matched[win.start..win.end]
        .iter()
        .filter_map(|rid| w.page(rid))
        .map(|mut p| {
            serve_page(&mut p, &keep);
            p
        })
        .collect();
    Ok(envelope("page_or_data_source", results, &win))
}

/// Normalized ids of the rows a query body selects, in its sort order.
fn matching_rows(w: &World, id: &str, body: &Value) -> Result<Vec<String>, ApiError> {
    let ds = visible_data_source(w, id)?;
    let trash = body["in_trash"].as_bool().unwrap_or(false);
    let filter = body.get("filter").filter(|f| !f.is_null());
    let sorts = body["sorts"].as_array().cloned().unwrap_or_default();
    let mut rows: Vec<(&String, Row)> = Vec::with_capacity(ds.rows.len());
    for rid in &ds.rows {
        let row = match (w.lazy_rows.get(rid), w.pages.get(rid)) {
            (Some(r), _) => Row::Lazy(r),
            (None, Some(p)) => Row::Json(p),
            _ => continue,
        };
        if row.in_trash() != trash || w.is_unshared(rid) {
            continue;
        }
        if let Some(f) = filter {
            if !eval_filter(f, &row, 0)? {
                continue;
            }
        }
        rows.push((rid, row));
    }
    if sorts.is_empty() {
        return Ok(rows.into_iter().map(|(rid, _)| rid.clone()).collect());
    }
    let dirs: Vec<bool> = sorts.iter().map(|s| s["direction"] == "descending").collect();
    let mut keyed: Vec<(Vec<SortKey>, usize, &String)> = Vec::with_capacity(rows.len());
    for (i, (rid, row)) in rows.iter().enumerate() {
        keyed.push((sorts.iter().map(|s| sort_key(s, row)).collect::<Result<_, _>>()?, i, rid));
    }
    // Stable: ties keep the data source's row order.
    keyed.sort_by(|a, b| {
        for (k, desc) in dirs.iter().enumerate() {
            let o = cmp_keys(&a.0[k], &b.0[k], *desc);
            if o != std::cmp::Ordering::Equal {
                return o;
            }
        }
        a.1.cmp(&b.1)
    });
    Ok(keyed.into_iter().map(|(_, _, rid)| rid.clone()).collect())
}

#[derive(Debug, Clone, PartialEq, PartialOrd)]
enum SortKey {
    Num(f64),
    Str(String),
    Empty,
}

fn cmp_keys(a: &SortKey, b: &SortKey, desc: bool) -> std::cmp::Ordering {
    use std::cmp::Ordering::*;
    match (a, b) {
        (SortKey::Empty, SortKey::Empty) => Equal,
        (SortKey::Empty, _) => Greater, // empty values last in both directions
        (_, SortKey::Empty) => Less,
        _ => {
            let o = a.partial_cmp(b).unwrap_or(Equal);
            if desc {
                o.reverse()
            } else {
                o
            }
        }
    }
}

fn sort_key(s: &Value, row: &Row) -> Result<SortKey, ApiError> {
    let ms = |v: Option<i64>| v.map(|m| SortKey::Num(m as f64)).unwrap_or(SortKey::Empty);
    match (s["timestamp"].as_str(), s["property"].as_str()) {
        (Some("created_time"), _) => Ok(ms(row.created())),
        (Some("last_edited_time"), _) => Ok(ms(row.edited())),
        (None, Some(name)) => Ok(row.prop(name).map(|p| value_key(&p)).unwrap_or(SortKey::Empty)),
        _ => Err(ApiError::validation(&format!("body failed validation: invalid sort {s}."))),
    }
}

fn value_key(p: &Value) -> SortKey {
    let ty = p["type"].as_str().unwrap_or("");
    let v = &p[ty];
    match ty {
        "title" | "rich_text" => {
            let t = plain_text(v);
            if t.is_empty() {
                SortKey::Empty
            } else {
                SortKey::Str(t.to_lowercase())
            }
        }
        "number" => v.as_f64().map(SortKey::Num).unwrap_or(SortKey::Empty),
        "checkbox" => SortKey::Num(if v.as_bool() == Some(true) { 1.0 } else { 0.0 }),
        "select" | "status" => v["name"].as_str().map(|s| SortKey::Str(s.to_lowercase())).unwrap_or(SortKey::Empty),
        "date" => v["start"].as_str().and_then(parse_ms).map(|m| SortKey::Num(m as f64)).unwrap_or(SortKey::Empty),
        "created_time" | "last_edited_time" => {
            v.as_str().and_then(parse_ms).map(|m| SortKey::Num(m as f64)).unwrap_or(SortKey::Empty)
        }
        "url" | "email" | "phone_number" => {
            v.as_str().map(|s| SortKey::Str(s.to_lowercase())).unwrap_or(SortKey::Empty)
        }
        _ => SortKey::Empty,
    }
}

fn eval_filter(f: &Value, row: &Row, depth: usize) -> Result<bool, ApiError> {
    if depth > 2 {
        return Err(ApiError::validation("body failed validation: filter nesting is limited to two levels."));
    }
    if let Some(all) = f.get("and").and_then(Value::as_array) {
        for sub in all {
            if !eval_filter(sub, row, depth + 1)? {
                return Ok(false);
            }
        }
        return Ok(true);
    }
    if let Some(any) = f.get("or").and_then(Value::as_array) {
        for sub in any {
            if eval_filter(sub, row, depth + 1)? {
                return Ok(true);
            }
        }
        return Ok(false);
    }
    if let Some(ts) = f["timestamp"].as_str() {
        let value = match ts {
            "created_time" => row.created(),
            "last_edited_time" => row.edited(),
            _ => return Err(ApiError::validation(&format!("body failed validation: unknown timestamp `{ts}`."))),
        };
        return date_cond(&f[ts], value);
    }
    let Some(name) = f["property"].as_str() else {
        return Err(ApiError::validation(&format!("body failed validation: unsupported filter {f}.")));
    };
    let prop = row.prop(name);
    let (ty, cond) = f
        .as_object()
        .and_then(|o| o.iter().find(|(k, _)| k.as_str() != "property" && k.as_str() != "type"))
        .map(|(k, v)| (k.as_str(), v))
        .ok_or_else(|| ApiError::validation("body failed validation: property filter without a condition."))?;
    let val = prop.as_ref().map(|p| &p[p["type"].as_str().unwrap_or("")]).unwrap_or(&Value::Null);
    property_cond(ty, cond, val)
}

fn property_cond(ty: &str, cond: &Value, val: &Value) -> Result<bool, ApiError> {
    let (op, arg) = cond
        .as_object()
        .and_then(|o| o.iter().next())
        .ok_or_else(|| ApiError::validation("body failed validation: empty filter condition."))?;
    let unsupported =
        || ApiError::validation(&format!("body failed validation: `{ty}.{op}` is not supported by the fake."));
    match ty {
        "title" | "rich_text" | "url" | "email" | "phone_number" => {
            let s = if val.is_array() { plain_text(val) } else { val.as_str().unwrap_or("").to_string() };
            let a = arg.as_str().unwrap_or("");
            Ok(match op.as_str() {
                "equals" => s == a,
                "does_not_equal" => s != a,
                "contains" => s.contains(a),
                "does_not_contain" => !s.contains(a),
                "starts_with" => s.starts_with(a),
                "ends_with" => s.ends_with(a),
                "is_empty" => s.is_empty(),
                "is_not_empty" => !s.is_empty(),
                _ => return Err(unsupported()),
            })
        }
        "number" => {
            let n = val.as_f64();
            let a = arg.as_f64().unwrap_or(0.0);
            Ok(match op.as_str() {
                "equals" => n == Some(a),
                "does_not_equal" => n != Some(a),
                "greater_than" => n.is_some_and(|n| n > a),
                "less_than" => n.is_some_and(|n| n < a),
                "greater_than_or_equal_to" => n.is_some_and(|n| n >= a),
                "less_than_or_equal_to" => n.is_some_and(|n| n <= a),
                "is_empty" => n.is_none(),
                "is_not_empty" => n.is_some(),
                _ => return Err(unsupported()),
            })
        }
        "checkbox" => {
            let b = val.as_bool().unwrap_or(false);
            Ok(match op.as_str() {
                "equals" => Some(b) == arg.as_bool(),
                "does_not_equal" => Some(b) != arg.as_bool(),
                _ => return Err(unsupported()),
            })
        }
        "select" | "status" => {
            let name = val["name"].as_str();
            Ok(match op.as_str() {
                "equals" => name == arg.as_str(),
                "does_not_equal" => name != arg.as_str(),
                "is_empty" => name.is_none(),
                "is_not_empty" => name.is_some(),
                _ => return Err(unsupported()),
            })
        }
        "multi_select" | "relation" | "people" => {
            let items = val.as_array().cloned().unwrap_or_default();
            let key = if ty == "multi_select" { "name" } else { "id" };
            let has = items.iter().any(|i| {
                let v = i[key].as_str().unwrap_or("");
                if key == "id" {
                    norm(v) == norm(arg.as_str().unwrap_or(""))
                } else {
                    Some(v) == arg.as_str()
                }
            });
            Ok(match op.as_str() {
                "contains" => has,
                "does_not_contain" => !has,
                "is_empty" => items.is_empty(),
                "is_not_empty" => !items.is_empty(),
                _ => return Err(unsupported()),
            })
        }
        "date" | "created_time" | "last_edited_time" => {
            let ms = if ty == "date" { val["start"].as_str() } else { val.as_str() }.and_then(parse_ms);
            date_cond(cond, ms)
        }
        _ => Err(unsupported()),
    }
}

fn date_cond(cond: &Value, value: Option<i64>) -> Result<bool, ApiError> {
    let (op, arg) = cond
        .as_object()
        .and_then(|o| o.iter().next())
        .ok_or_else(|| ApiError::validation("body failed validation: empty date condition."))?;
    let day = 86_400_000i64;
    let now = now_ms();
    let bound = || {
        arg.as_str()
            .and_then(parse_ms)
            .ok_or_else(|| ApiError::validation(&format!("body failed validation: `{arg}` is not a valid date.")))
    };
    let date_only = arg.as_str().is_some_and(|s| s.len() == 10);
    let Some(v) = value else {
        return Ok(op == "is_empty");
    };
    Ok(match op.as_str() {
        "equals" if date_only => (v - bound()?).div_euclid(day) == 0,
        "equals" => v == bound()?,
        "before" => v < bound()?,
        "after" if date_only => v >= bound()? + day,
        "after" => v > bound()?,
        "on_or_before" if date_only => v < bound()? + day,
        "on_or_before" => v <= bound()?,
        "on_or_after" => v >= bound()?,
        "is_empty" => false,
        "is_not_empty" => true,
        "past_week" => v >= now - 7 * day && v <= now,
        "past_month" => v >= now - 30 * day && v <= now,
        "past_year" => v >= now - 365 * day && v <= now,
        "next_week" => v >= now && v <= now + 7 * day,
        "next_month" => v >= now && v <= now + 30 * day,
        "next_year" => v >= now && v <= now + 365 * day,
        _ => return Err(ApiError::validation(&format!("body failed validation: unknown date operator `{op}`."))),
    })
}
