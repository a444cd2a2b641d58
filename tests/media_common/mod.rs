//! In-process fakes for the media tests, bound to 127.0.0.1 on a free port:
//!
//! - `/s3/{token}/{name}`: Notion-hosted files behind S3-style signed URLs. Only tokens minted by
//!   [`Fake::mint`] are valid; any other gets S3's `403 AccessDenied / Request has expired` XML.
//! - `/files/{name}`: plain external files (404 when unknown).
//! - `/cdn/{name}`: a CDN that answers 403 to requests without a `User-Agent`.
//! - `/flaky/{name}`: 503 twice, then the file.
//! - `/reset/{name}`: the first response breaks off after half the body, then the file.
//! - `/down/{name}`: always `503 Service Unavailable` (a host that is down).
//! - `/redirect/{name}?to=<url>`: `302 Found` to `to`.
//! - `/stall/{name}`: accepts the request and never answers.
//! - `/ai/good`, `/ai/bad`: a Messages-API endpoint that names images / always fails.
//!
//! Plus [`FakeOwners`], an `OwnerSource` that re-reads blocks and pages by minting fresh signed
//! URLs on the fake, counting how often it was asked.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::StreamExt;
use notion_git_backup::media::OwnerSource;
use notion_git_backup::notion::model::{Block, Page};
use serde_json::{json, Value};

pub const BIG_CHUNK: usize = 1 << 20;

/// How a file is served.
#[derive(Clone)]
pub enum Served {
    /// With `Content-Length`.
    Bytes(Vec<u8>),
    /// Chunked, no `Content-Length`.
    Chunked(Vec<u8>),
    /// Always breaks off after half the body (a connection reset).
    Broken(Vec<u8>),
    /// With `Content-Type: text/html` (a login or error page).
    Html(Vec<u8>),
    /// `chunks` MiB generated on the fly (chunk `k` is [`big_chunk`]`(k)`), chunked. Before each
    /// chunk the server measures how far the bytes already on disk in `watch` lag behind what it
    /// has sent, and keeps the maximum.
    Big { chunks: usize, watch: PathBuf },
}

/// Chunk `k` of a [`Served::Big`] file.
pub fn big_chunk(k: usize) -> Vec<u8> {
    (0..BIG_CHUNK).map(|i| (i as u8).wrapping_mul(31).wrapping_add(k as u8)).collect()
}

#[derive(Default)]
pub struct FakeState {
    files: Mutex<HashMap<String, Served>>,
    tokens: Mutex<HashMap<String, String>>,
    next_token: AtomicU32,
    hits: Mutex<HashMap<String, u32>>,
    pub stale_hits: AtomicU32,
    pub big_max_lag: Mutex<u64>,
    pub ai_calls: AtomicU32,
    pub ai_requests: Mutex<Vec<(HeaderMap, Value)>>,
}

#[derive(Clone)]
pub struct Fake {
    pub base: String,
    pub state: Arc<FakeState>,
}

impl Fake {
    pub async fn start() -> Fake {
        let state = Arc::new(FakeState::default());
        let app = Router::new()
            .route("/s3/{token}/{name}", get(s3))
            .route("/files/{name}", get(plain))
            .route("/cdn/{name}", get(cdn))
            .route("/flaky/{name}", get(flaky))
            .route("/reset/{name}", get(reset))
            .route("/down/{name}", get(down))
            .route("/redirect/{name}", get(redirect))
            .route("/stall/{name}", get(stall))
            .route("/ai/good", post(ai_good))
            .route("/ai/bad", post(ai_bad))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Fake { base, state }
    }

    pub fn add(&self, name: &str, served: Served) {
        self.state.files.lock().unwrap().insert(name.to_string(), served);
    }

    /// A valid signed URL for `name`.
    pub fn mint(&self, name: &str) -> String {
        let n = self.state.next_token.fetch_add(1, Ordering::SeqCst);
        let token = format!("t{n}");
        self.state.tokens.lock().unwrap().insert(token.clone(), name.to_string());
        format!("{}/s3/{token}/{name}?X-Amz-Expires=3600&X-Amz-Signature=secret{n}", self.base)
    }

    /// A signed URL for `name` that has already expired.
    pub fn stale(&self, name: &str) -> String {
        let n = self.state.next_token.fetch_add(1, Ordering::SeqCst);
        format!("{}/s3/old{n}/{name}?X-Amz-Expires=3600&X-Amz-Signature=secret{n}", self.base)
    }

    pub fn url(&self, route: &str, name: &str) -> String {
        format!("{}/{route}/{name}", self.base)
    }

    /// `host:port` of the fake, as `DOWNLOAD_ALLOW_HOSTS` lists it.
    pub fn host(&self) -> String {
        self.base.trim_start_matches("http://").to_string()
    }

    /// The port the fake listens on.
    pub fn port(&self) -> u16 {
        self.host().rsplit_once(':').unwrap().1.parse().unwrap()
    }

    pub fn hits(&self, route_and_name: &str) -> u32 {
        self.state.hits.lock().unwrap().get(route_and_name).copied().unwrap_or(0)
    }
}

fn count(state: &FakeState, key: String) -> u32 {
    let mut h = state.hits.lock().unwrap();
    let n = h.entry(key).or_insert(0);
    *n += 1;
    *n
}

fn serve(state: &Arc<FakeState>, name: &str) -> Response {
    let served = state.files.lock().unwrap().get(name).cloned();
    match served {
        None => (StatusCode::NOT_FOUND, "no such file").into_response(),
        Some(Served::Bytes(b)) => b.into_response(),
        Some(Served::Html(b)) => ([("content-type", "text/html; charset=utf-8")], b).into_response(),
        Some(Served::Broken(b)) => {
            let half = b[..b.len() / 2].to_vec();
            let broken = futures::stream::iter(vec![
                Ok(half),
                Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "connection reset by peer")),
            ]);
            Body::from_stream(broken).into_response()
        }
        Some(Served::Chunked(b)) => {
            let chunks: Vec<Result<Vec<u8>, std::io::Error>> = b.chunks(64 * 1024).map(|c| Ok(c.to_vec())).collect();
            Body::from_stream(futures::stream::iter(chunks)).into_response()
        }
        Some(Served::Big { chunks, watch }) => {
            let state = state.clone();
            let stream = futures::stream::iter(0..chunks).map(move |k| {
                let on_disk = largest_file(&watch);
                let lag = (k * BIG_CHUNK) as u64 - on_disk.min((k * BIG_CHUNK) as u64);
                let mut max = state.big_max_lag.lock().unwrap();
                *max = (*max).max(lag);
                Ok::<_, std::io::Error>(big_chunk(k))
            });
            Body::from_stream(stream).into_response()
        }
    }
}

/// Size of the largest file anywhere under `dir`.
fn largest_file(dir: &std::path::Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.flatten()
        .map(|e| {
            let md = e.metadata().unwrap();
            if md.is_dir() {
                largest_file(&e.path())
            } else {
                md.len()
            }
        })
        .max()
        .unwrap_or(0)
}

async fn s3(State(st): State<Arc<FakeState>>, Path((token, name)): Path<(String, String)>) -> Response {
    let valid = st.tokens.lock().unwrap().get(&token).is_some_and(|n| *n == name);
    if !valid {
        st.stale_hits.fetch_add(1, Ordering::SeqCst);
        let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code>\
                   <Message>Request has expired</Message><X-Amz-Expires>3600</X-Amz-Expires></Error>";
        return (StatusCode::FORBIDDEN, [("content-type", "application/xml")], xml).into_response();
    }
    count(&st, format!("s3/{name}"));
    serve(&st, &name)
}

async fn plain(State(st): State<Arc<FakeState>>, Path(name): Path<String>) -> Response {
    count(&st, format!("files/{name}"));
    serve(&st, &name)
}

async fn cdn(State(st): State<Arc<FakeState>>, Path(name): Path<String>, headers: HeaderMap) -> Response {
    count(&st, format!("cdn/{name}"));
    let ua = headers.get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or("");
    if ua.is_empty() {
        return (StatusCode::FORBIDDEN, "requests without a User-Agent are not allowed").into_response();
    }
    serve(&st, &name)
}

async fn flaky(State(st): State<Arc<FakeState>>, Path(name): Path<String>) -> Response {
    if count(&st, format!("flaky/{name}")) <= 2 {
        return (StatusCode::SERVICE_UNAVAILABLE, "try again").into_response();
    }
    serve(&st, &name)
}

async fn reset(State(st): State<Arc<FakeState>>, Path(name): Path<String>) -> Response {
    if count(&st, format!("reset/{name}")) == 1 {
        let Some(Served::Bytes(b)) = st.files.lock().unwrap().get(&name).cloned() else {
            return StatusCode::NOT_FOUND.into_response();
        };
        let half = b[..b.len() / 2].to_vec();
        let broken = futures::stream::iter(vec![
            Ok(half),
            Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "connection reset by peer")),
        ]);
        return Body::from_stream(broken).into_response();
    }
    serve(&st, &name)
}

async fn down(State(st): State<Arc<FakeState>>, Path(name): Path<String>) -> Response {
    count(&st, format!("down/{name}"));
    (StatusCode::SERVICE_UNAVAILABLE, [("retry-after", "0")], "down for maintenance").into_response()
}

async fn redirect(
    State(st): State<Arc<FakeState>>,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    count(&st, format!("redirect/{name}"));
    (StatusCode::FOUND, [("location", q.get("to").cloned().unwrap_or_default())]).into_response()
}

async fn stall(State(st): State<Arc<FakeState>>, Path(name): Path<String>) -> Response {
    count(&st, format!("stall/{name}"));
    std::future::pending::<Response>().await
}

async fn ai_good(State(st): State<Arc<FakeState>>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    st.ai_calls.fetch_add(1, Ordering::SeqCst);
    st.ai_requests.lock().unwrap().push((headers, body));
    Json(json!({"id": "msg_1", "type": "message", "role": "assistant",
        "content": [{"type": "text", "text": "Sunset Over Mountains"}]}))
    .into_response()
}

async fn ai_bad(State(st): State<Arc<FakeState>>) -> Response {
    st.ai_calls.fetch_add(1, Ordering::SeqCst);
    (StatusCode::INTERNAL_SERVER_ERROR, "overloaded").into_response()
}

// ---------------------------------------------------------------------------------------------
// Notion-shaped objects and the fake OwnerSource
// ---------------------------------------------------------------------------------------------

pub fn rt(s: &str) -> Value {
    json!([{"type": "text", "text": {"content": s, "link": null}, "plain_text": s, "href": null}])
}

pub fn hosted(url: &str, expiry: &str) -> Value {
    json!({"type": "file", "file": {"url": url, "expiry_time": expiry}})
}

pub const FUTURE: &str = "2999-01-01T00:00:00.000Z";
pub const PAST: &str = "2001-01-01T00:00:00.000Z";

pub fn block(v: Value) -> Block {
    serde_json::from_value(v).unwrap()
}

pub fn heading(id: &str, text: &str) -> Block {
    block(json!({"id": id, "type": "heading_2", "heading_2": {"rich_text": rt(text)}}))
}

pub fn paragraph(id: &str, text: &str) -> Block {
    block(json!({"id": id, "type": "paragraph", "paragraph": {"rich_text": rt(text)}}))
}

/// An image/pdf/file/... block whose payload is `file` (from [`hosted`] or an external object).
pub fn media_block(id: &str, kind: &str, file: Value, name: Option<&str>) -> Block {
    let mut payload = file;
    payload["caption"] = json!([]);
    if let Some(n) = name {
        payload["name"] = json!(n);
    }
    block(json!({"id": id, "type": kind, kind: payload}))
}

pub fn external(url: &str) -> Value {
    json!({"type": "external", "external": {"url": url}})
}

pub fn page(v: Value) -> Page {
    serde_json::from_value(v).unwrap()
}

/// Re-reads owners by minting fresh signed URLs on the fake (or stale ones, when `broken`).
pub struct FakeOwners {
    pub fake: Fake,
    /// block id -> (block type, file name on the fake, `name` of file blocks)
    pub blocks: HashMap<String, (String, String, Option<String>)>,
    /// page id -> file name of its cover on the fake
    pub covers: HashMap<String, String>,
    pub broken: bool,
    pub block_calls: AtomicU32,
    pub page_calls: AtomicU32,
}

impl FakeOwners {
    pub fn new(fake: &Fake) -> Self {
        FakeOwners {
            fake: fake.clone(),
            blocks: HashMap::new(),
            covers: HashMap::new(),
            broken: false,
            block_calls: AtomicU32::new(0),
            page_calls: AtomicU32::new(0),
        }
    }

    fn url(&self, name: &str) -> String {
        if self.broken {
            self.fake.stale(name)
        } else {
            self.fake.mint(name)
        }
    }
}

#[async_trait::async_trait]
impl OwnerSource for FakeOwners {
    async fn block(&self, id: &str) -> Result<Block, String> {
        self.block_calls.fetch_add(1, Ordering::SeqCst);
        let (kind, file, name) = self.blocks.get(id).ok_or_else(|| format!("block {id} not found"))?;
        Ok(media_block(id, kind, hosted(&self.url(file), FUTURE), name.as_deref()))
    }

    async fn page(&self, id: &str) -> Result<Page, String> {
        self.page_calls.fetch_add(1, Ordering::SeqCst);
        let cover = self.covers.get(id).ok_or_else(|| format!("page {id} not found"))?;
        Ok(page(json!({"id": id, "cover": hosted(&self.url(cover), FUTURE)})))
    }
}

// ---------------------------------------------------------------------------------------------
// Test images: just enough header for `infer` and `imagesize`, plus a payload to vary the bytes
// ---------------------------------------------------------------------------------------------

pub fn png(w: u32, h: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    v.extend_from_slice(&w.to_be_bytes());
    v.extend_from_slice(&h.to_be_bytes());
    v.extend_from_slice(&[8, 6, 0, 0, 0, 0, 0, 0, 0]);
    v.extend_from_slice(payload);
    v
}

pub fn jpeg(w: u16, h: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 16, b'J', b'F', b'I', b'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0];
    v.extend_from_slice(&[0xFF, 0xC0, 0, 17, 8]);
    v.extend_from_slice(&h.to_be_bytes());
    v.extend_from_slice(&w.to_be_bytes());
    v.extend_from_slice(&[3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
    v.extend_from_slice(payload);
    v.extend_from_slice(&[0xFF, 0xD9]);
    v
}

pub const PDF: &[u8] = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n";
pub const SVG: &[u8] = b"<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\"><rect width=\"10\" height=\"10\"/></svg>\n";

pub fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}
