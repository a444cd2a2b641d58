//! An in-process fake Gitea/Forgejo (`/api/v1`) on 127.0.0.1 that commits into REAL bare git
//! repositories in a temp dir, so tests can `git clone` / `git ls-tree` the result.
//!
//! Follows Gitea's JSON and status codes for what the sink uses: version, repository get/create,
//! branches, paged recursive git trees (`total_count`), and the multi-file `POST /contents` with
//! create/update/delete semantics (422 for create-on-existing, sha mismatch -> 422 or Forgejo's
//! 409, missing sha refused like Forgejo#8139, 404 for a missing branch, first commit on an empty
//! repository), and the older single-file endpoints (`GET`/`POST`/`PUT`/`DELETE
//! /contents/{filepath}`: one commit per file, 422 for create-on-existing, `[SHA]: Required`,
//! "repo is empty") that scripts such as `notion-gitea-backup.py` write with. It checks `Authorization: token <t>`, logs every request, and can inject faults:
//! 5xx on the next commits (with or without the commit landing), a branch moved by another writer,
//! 413 HTML for big bodies, and an HTML page for every request.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use serde_json::{json, Value};

pub const TOKEN: &str = "fake-token-1234567890";
pub const USER: &str = "backup-bot";

#[derive(Debug, Clone)]
pub struct FakeRepo {
    pub bare: PathBuf,
    pub default_branch: String,
    pub archived: bool,
    pub push: bool,
    /// The index of the last commit made through the API, kept between commits (what a server
    /// that keeps a working copy has) so that a commit into a repository of 10,000 files costs
    /// git a few small writes instead of a full read of the tree; one commit at a time per
    /// repository, as Gitea's repository lock does.
    index: Arc<Mutex<Option<IndexCache>>>,
}

/// The index file of `commit` on `branch` and its files (path -> blob id).
#[derive(Debug)]
struct IndexCache {
    branch: String,
    commit: String,
    files: HashMap<String, String>,
}

/// A fault injected into the next commit request(s).
#[derive(Debug, Clone, Copy)]
pub struct CommitFault {
    pub status: u16,
    /// Commit first, then answer with the error (the answer is lost, the commit is not).
    pub land: bool,
    /// Answer with an HTML proxy page instead of Gitea's JSON.
    pub html: bool,
}

#[derive(Debug)]
pub struct FakeState {
    pub version: String,
    pub forgejo: bool,
    pub orgs: Vec<String>,
    pub repos: BTreeMap<String, FakeRepo>,
    pub requests: Vec<(String, String)>,
    pub commit_bodies: Vec<Value>,
    pub faults: Vec<CommitFault>,
    pub non_fast_forward: usize,
    pub max_body: Option<usize>,
    pub html_everything: bool,
    pub tree_page_max: usize,
    root: PathBuf,
}

type App = Arc<Mutex<FakeState>>;

pub struct FakeGitea {
    pub base_url: String,
    pub state: App,
    _dir: tempfile::TempDir,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeGitea {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeGitea {
    pub async fn start() -> FakeGitea {
        let dir = tempfile::tempdir().expect("temp dir");
        let state = Arc::new(Mutex::new(FakeState {
            version: "1.22.3".into(),
            forgejo: false,
            orgs: vec!["backups-org".into()],
            repos: BTreeMap::new(),
            requests: Vec::new(),
            commit_bodies: Vec::new(),
            faults: Vec::new(),
            non_fast_forward: 0,
            max_body: None,
            html_everything: false,
            tree_page_max: 1000,
            root: dir.path().to_path_buf(),
        }));
        let router = Router::new()
            .route("/api/v1/version", get(version))
            .route("/api/v1/user", get(user))
            .route("/api/v1/user/repos", post(create_user_repo))
            .route("/api/v1/orgs/{org}/repos", post(create_org_repo))
            .route("/api/v1/repos/{owner}/{repo}", get(repo_info))
            .route("/api/v1/repos/{owner}/{repo}/branches/{*branch}", get(branch))
            .route("/api/v1/repos/{owner}/{repo}/git/trees/{sha}", get(tree))
            .route("/api/v1/repos/{owner}/{repo}/git/blobs/{sha}", get(blob))
            .route("/api/v1/repos/{owner}/{repo}/contents", post(change_files))
            .route("/api/v1/repos/{owner}/{repo}/contents/{*filepath}", single_file_routes())
            .layer(middleware::from_fn_with_state(state.clone(), gate))
            .layer(DefaultBodyLimit::disable())
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            axum::serve(listener, router).await.ok();
        });
        FakeGitea { base_url: format!("http://{addr}"), state, _dir: dir, server }
    }

    fn with<T>(&self, f: impl FnOnce(&mut FakeState) -> T) -> T {
        f(&mut self.state.lock().unwrap())
    }

    /// Create an empty bare repository `owner/repo` (default branch `main`).
    pub fn add_repo(&self, owner: &str, repo: &str) -> PathBuf {
        self.with(|s| new_repo(s, owner, repo, "main").bare)
    }

    /// Create an empty bare repository `owner/repo` whose default branch is `branch`.
    pub fn add_repo_with_default_branch(&self, owner: &str, repo: &str, branch: &str) -> PathBuf {
        self.with(|s| new_repo(s, owner, repo, branch).bare)
    }

    pub fn bare_path(&self, owner: &str, repo: &str) -> PathBuf {
        self.with(|s| s.repos[&key(owner, repo)].bare.clone())
    }

    pub fn repo(&self, owner: &str, repo: &str) -> Option<FakeRepo> {
        self.with(|s| s.repos.get(&key(owner, repo)).cloned())
    }

    pub fn set_version(&self, v: &str) {
        self.with(|s| s.version = v.into());
    }

    /// Forgejo flavour: sha mismatch -> 409 instead of 422.
    pub fn set_forgejo(&self, on: bool) {
        self.with(|s| s.forgejo = on);
    }

    pub fn set_archived(&self, owner: &str, repo: &str, on: bool) {
        self.with(|s| s.repos.get_mut(&key(owner, repo)).unwrap().archived = on);
    }

    pub fn set_push(&self, owner: &str, repo: &str, on: bool) {
        self.with(|s| s.repos.get_mut(&key(owner, repo)).unwrap().push = on);
    }

    /// Largest `per_page` honoured by the trees endpoint (Gitea's DEFAULT_GIT_TREES_PER_PAGE).
    pub fn set_tree_page_max(&self, n: usize) {
        self.with(|s| s.tree_page_max = n);
    }

    /// The next commit requests fail, in order.
    pub fn fail_next_commits(&self, faults: &[CommitFault]) {
        self.with(|s| s.faults.extend_from_slice(faults));
    }

    /// The next `n` commit requests find the branch moved by another writer (a commit of
    /// `other-writer.txt`) and answer 500 non-fast-forward, like Gitea's ErrPushOutOfDate.
    pub fn non_fast_forward_next(&self, n: usize) {
        self.with(|s| s.non_fast_forward = n);
    }

    /// Bodies larger than this get nginx's 413 HTML page.
    pub fn reject_bodies_over(&self, bytes: Option<usize>) {
        self.with(|s| s.max_body = bytes);
    }

    /// Every request gets a 200 HTML login page (wrong URL, SSO proxy in front).
    pub fn set_html_everything(&self, on: bool) {
        self.with(|s| s.html_everything = on);
    }

    /// Another writer commits `path` = `content` on `branch` (the branch moves under the sink).
    pub fn external_commit(&self, owner: &str, repo: &str, branch: &str, path: &str, content: &[u8]) -> String {
        self.with(|s| {
            let r = s.repos[&key(owner, repo)].clone();
            let ops = json!([{"operation": "upsert", "path": path,
                "content": base64::engine::general_purpose::STANDARD.encode(content)}]);
            apply_commit(&s.root, &r, branch, "Edit by another writer", ops.as_array().unwrap(), false)
                .expect("external commit")
                .0
        })
    }

    /// Number of `POST .../contents` requests received.
    pub fn commit_posts(&self) -> usize {
        self.with(|s| s.requests.iter().filter(|(m, p)| m == "POST" && p.ends_with("/contents")).count())
    }

    pub fn requests(&self) -> Vec<(String, String)> {
        self.with(|s| s.requests.clone())
    }

    pub fn commit_bodies(&self) -> Vec<Value> {
        self.with(|s| s.commit_bodies.clone())
    }

    /// Files on `branch` of the bare repository: path -> bytes.
    pub fn files(&self, owner: &str, repo: &str, branch: &str) -> BTreeMap<String, Vec<u8>> {
        read_files(&self.bare_path(owner, repo), branch)
    }

    /// Commits reachable from `branch` (0 when it does not exist).
    pub fn commit_count(&self, owner: &str, repo: &str, branch: &str) -> usize {
        let bare = self.bare_path(owner, repo);
        git(&bare, &["rev-list", "--count", &format!("refs/heads/{branch}")], None, &[])
            .map(|s| s.trim().parse().unwrap())
            .unwrap_or(0)
    }
}

/// Files of `rev` in a repository: path -> bytes.
pub fn read_files(repo: &Path, rev: &str) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let Ok(list) = git(repo, &["ls-tree", "-r", "-z", rev], None, &[]) else {
        return out;
    };
    for rec in list.split('\0').filter(|r| !r.is_empty()) {
        let (meta, path) = rec.split_once('\t').unwrap();
        let sha = meta.split(' ').nth(2).unwrap();
        let bytes = git_bytes(repo, &["cat-file", "blob", sha], None, &[]).unwrap();
        out.insert(path.to_string(), bytes);
    }
    out
}

fn key(owner: &str, repo: &str) -> String {
    format!("{}/{}", owner.to_lowercase(), repo.to_lowercase())
}

fn new_repo(s: &mut FakeState, owner: &str, repo: &str, default_branch: &str) -> FakeRepo {
    let bare = s.root.join(format!("{owner}--{repo}.git"));
    std::fs::create_dir_all(&bare).unwrap();
    git(&bare, &["init", "--bare", "-q"], None, &[]).unwrap();
    git(&bare, &["symbolic-ref", "HEAD", &format!("refs/heads/{default_branch}")], None, &[]).unwrap();
    let r =
        FakeRepo { bare, default_branch: default_branch.into(), archived: false, push: true, index: Arc::default() };
    s.repos.insert(key(owner, repo), r.clone());
    r
}

fn git_bytes(dir: &Path, args: &[&str], stdin: Option<&[u8]>, env: &[(&str, &str)]) -> Result<Vec<u8>, String> {
    let mut cmd = Command::new("git");
    cmd.arg("-C").arg(dir).args(["-c", "core.hooksPath=/dev/null"]).args(args);
    for v in ["GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY"] {
        cmd.env_remove(v);
    }
    cmd.env("GIT_AUTHOR_NAME", "Fake Gitea")
        .env("GIT_AUTHOR_EMAIL", "fake@gitea.test")
        .env("GIT_COMMITTER_NAME", "Fake Gitea")
        .env("GIT_COMMITTER_EMAIL", "fake@gitea.test")
        .env("LC_ALL", "C")
        .envs(env.iter().copied())
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| e.to_string())?;
    if let Some(input) = stdin {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(input).map_err(|e| e.to_string())?;
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

fn git(dir: &Path, args: &[&str], stdin: Option<&[u8]>, env: &[(&str, &str)]) -> Result<String, String> {
    git_bytes(dir, args, stdin, env).map(|b| String::from_utf8_lossy(&b).into_owned())
}

fn err(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({"message": message.into(), "url": "http://fake/api/swagger"}))).into_response()
}

fn html(status: StatusCode, body: &str) -> Response {
    (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], body.to_string()).into_response()
}

/// Log, HTML mode, authentication.
async fn gate(State(app): State<App>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let html_mode = {
        let mut s = app.lock().unwrap();
        let pq = req.uri().path_and_query().map(|p| p.to_string()).unwrap_or_default();
        s.requests.push((req.method().to_string(), pq));
        s.html_everything
    };
    if html_mode {
        return html(StatusCode::OK, "<!DOCTYPE html><html><body><form>Sign in</form></body></html>");
    }
    let auth = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or("");
    if path != "/api/v1/version" {
        if auth.is_empty() {
            return err(StatusCode::UNAUTHORIZED, "token is required");
        }
        if auth != format!("token {TOKEN}") {
            return err(StatusCode::UNAUTHORIZED, "invalid username, password or token");
        }
    }
    next.run(req).await
}

async fn version(State(app): State<App>) -> Response {
    let v = app.lock().unwrap().version.clone();
    Json(json!({"version": v})).into_response()
}

async fn user() -> Response {
    Json(json!({"id": 1, "login": USER, "full_name": "Backup Bot"})).into_response()
}

fn is_empty(bare: &Path) -> bool {
    git(bare, &["for-each-ref", "--count=1", "refs/heads"], None, &[]).map(|s| s.trim().is_empty()).unwrap_or(true)
}

fn repo_json(owner: &str, name: &str, r: &FakeRepo) -> Value {
    json!({
        "id": 7, "name": name, "full_name": format!("{owner}/{name}"), "owner": {"login": owner},
        "private": true, "empty": is_empty(&r.bare), "archived": r.archived, "mirror": false,
        "default_branch": r.default_branch, "object_format_name": "sha1",
        "permissions": {"admin": r.push, "push": r.push, "pull": true}
    })
}

async fn repo_info(State(app): State<App>, UrlPath((owner, repo)): UrlPath<(String, String)>) -> Response {
    let s = app.lock().unwrap();
    match s.repos.get(&key(&owner, &repo)) {
        Some(r) => Json(repo_json(&owner, &repo, r)).into_response(),
        None => err(StatusCode::NOT_FOUND, "The target couldn't be found."),
    }
}

fn create(app: &App, owner: &str, body: &Value) -> Response {
    let mut s = app.lock().unwrap();
    let Some(name) = body["name"].as_str() else {
        return err(StatusCode::UNPROCESSABLE_ENTITY, "[Name]: Required");
    };
    if s.repos.contains_key(&key(owner, name)) {
        return err(StatusCode::CONFLICT, "The repository with the same name already exists.");
    }
    let branch = body["default_branch"].as_str().filter(|b| !b.is_empty()).unwrap_or("main").to_string();
    let r = new_repo(&mut s, owner, name, &branch);
    (StatusCode::CREATED, Json(repo_json(owner, name, &r))).into_response()
}

async fn create_user_repo(State(app): State<App>, Json(body): Json<Value>) -> Response {
    create(&app, USER, &body)
}

async fn create_org_repo(State(app): State<App>, UrlPath(org): UrlPath<String>, Json(body): Json<Value>) -> Response {
    if !app.lock().unwrap().orgs.contains(&org) {
        return err(StatusCode::NOT_FOUND, "The target couldn't be found.");
    }
    create(&app, &org, &body)
}

async fn branch(State(app): State<App>, UrlPath((owner, repo, branch)): UrlPath<(String, String, String)>) -> Response {
    let s = app.lock().unwrap();
    let Some(r) = s.repos.get(&key(&owner, &repo)) else {
        return err(StatusCode::NOT_FOUND, "The target couldn't be found.");
    };
    match git(&r.bare, &["rev-parse", "--verify", "-q", &format!("refs/heads/{branch}^{{commit}}")], None, &[]) {
        Ok(id) => Json(json!({"name": branch, "commit": {"id": id.trim(), "message": ""},
            "protected": false, "user_can_push": r.push}))
        .into_response(),
        Err(_) => err(StatusCode::NOT_FOUND, format!("branch does not exist [name: {branch}]")),
    }
}

/// `GET /repos/{o}/{r}/git/blobs/{sha}`: Gitea's GitBlobResponse (content base64-encoded); 400
/// for an id that is not a blob of the repository, as Gitea answers.
async fn blob(State(app): State<App>, UrlPath((owner, repo, sha)): UrlPath<(String, String, String)>) -> Response {
    let s = app.lock().unwrap();
    let Some(r) = s.repos.get(&key(&owner, &repo)) else {
        return err(StatusCode::NOT_FOUND, "The target couldn't be found.");
    };
    let is_blob = git(&r.bare, &["cat-file", "-t", &sha], None, &[]).is_ok_and(|t| t.trim() == "blob");
    if !is_blob || sha.len() != 40 {
        return err(StatusCode::BAD_REQUEST, format!("object does not exist [id: {sha}, rel_path: ]"));
    }
    let bytes = git_bytes(&r.bare, &["cat-file", "blob", &sha], None, &[]).unwrap();
    let content = base64::engine::general_purpose::STANDARD.encode(&bytes);
    Json(json!({"content": content, "encoding": "base64", "url": "", "sha": sha, "size": bytes.len()})).into_response()
}

async fn tree(
    State(app): State<App>,
    UrlPath((owner, repo, sha)): UrlPath<(String, String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let s = app.lock().unwrap();
    let Some(r) = s.repos.get(&key(&owner, &repo)) else {
        return err(StatusCode::NOT_FOUND, "The target couldn't be found.");
    };
    let recursive = matches!(q.get("recursive").map(String::as_str), Some("1" | "true"));
    let per_page =
        q.get("per_page").and_then(|v| v.parse().ok()).unwrap_or(s.tree_page_max).min(s.tree_page_max).max(1);
    let page: usize = q.get("page").and_then(|v| v.parse().ok()).unwrap_or(1).max(1);
    let Ok(tree_id) = git(&r.bare, &["rev-parse", "--verify", "-q", &format!("{sha}^{{tree}}")], None, &[]) else {
        return err(StatusCode::BAD_REQUEST, format!("sha not found [{sha}]"));
    };
    // Gitea's GetTreeBySHA answers `sha` = the id the name resolved to (`ResolvedID`): the commit
    // for a branch name or a commit id, the tree for a tree id. Not the tree of a commit.
    let resolved = git(&r.bare, &["rev-parse", "--verify", "-q", &sha], None, &[]).unwrap_or_else(|_| tree_id.clone());
    let mut args = vec!["ls-tree", "-z", "-l"];
    if recursive {
        args.extend(["-r", "-t"]);
    }
    args.push(tree_id.trim());
    let list = git(&r.bare, &args, None, &[]).unwrap();
    let entries: Vec<Value> = list
        .split('\0')
        .filter(|e| !e.is_empty())
        .map(|rec| {
            let (meta, path) = rec.split_once('\t').unwrap();
            let m: Vec<&str> = meta.split_whitespace().collect();
            let size = m[3].parse::<u64>().unwrap_or(0);
            json!({"path": path, "mode": m[0], "type": m[1], "sha": m[2], "size": size, "url": ""})
        })
        .collect();
    let total = entries.len();
    let start = (page - 1) * per_page;
    let items: Vec<Value> = entries.into_iter().skip(start).take(per_page).collect();
    let truncated = start + items.len() < total;
    let mut headers = HeaderMap::new();
    headers.insert("X-Total-Count", total.to_string().parse().unwrap());
    (headers, Json(json!({"sha": resolved.trim(), "url": "", "tree": items, "truncated": truncated, "page": page, "total_count": total})))
        .into_response()
}

async fn change_files(
    State(app): State<App>,
    UrlPath((owner, repo)): UrlPath<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let app2 = app.clone();
    tokio::task::spawn_blocking(move || change_files_blocking(&app2, &owner, &repo, &headers, &body)).await.unwrap()
}

fn change_files_blocking(app: &App, owner: &str, repo: &str, headers: &HeaderMap, body: &[u8]) -> Response {
    let mut s = app.lock().unwrap();
    if s.max_body.is_some_and(|m| body.len() > m) {
        return html(
            StatusCode::PAYLOAD_TOO_LARGE,
            "<html>\r\n<head><title>413 Request Entity Too Large</title></head>\r\n<body>\r\n<center><h1>413 Request \
             Entity Too Large</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>",
        );
    }
    if !headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").starts_with("application/json") {
        return err(StatusCode::UNSUPPORTED_MEDIA_TYPE, "content type must be application/json");
    }
    let Ok(req) = serde_json::from_slice::<Value>(body) else {
        return err(StatusCode::UNPROCESSABLE_ENTITY, "invalid JSON");
    };
    s.commit_bodies.push(req.clone());
    let Some(r) = s.repos.get(&key(owner, repo)).cloned() else {
        return err(StatusCode::NOT_FOUND, "The target couldn't be found.");
    };
    if r.archived {
        return err(StatusCode::LOCKED, "repo is archived");
    }
    if !r.push {
        return err(StatusCode::FORBIDDEN, "user should have a permission to write to the target branch");
    }
    let branch = req["branch"].as_str().filter(|b| !b.is_empty()).unwrap_or(&r.default_branch).to_string();
    if s.non_fast_forward > 0 {
        s.non_fast_forward -= 1;
        let ops = json!([{"operation": "upsert", "path": "other-writer.txt",
            "content": base64::engine::general_purpose::STANDARD.encode(format!("{}\n", s.non_fast_forward))}]);
        apply_commit(&s.root, &r, &branch, "Concurrent writer", ops.as_array().unwrap(), false).unwrap();
        return err(StatusCode::INTERNAL_SERVER_ERROR, "failed to push: ! [rejected] main -> main (non-fast-forward)");
    }
    let fault = if s.faults.is_empty() { None } else { Some(s.faults.remove(0)) };
    if let Some(f) = fault.filter(|f| !f.land) {
        return fault_response(f);
    }
    let files = req["files"].as_array().cloned().unwrap_or_default();
    let message = req["message"].as_str().unwrap_or("").to_string();
    let (root, forgejo) = (s.root.clone(), s.forgejo);
    // Commits to other repositories (and every other request) go on meanwhile.
    drop(s);
    let result = apply_commit(&root, &r, &branch, &message, &files, forgejo);
    if let Ok((_, Some(new_default))) = &result {
        // First commit on an empty repository: the branch becomes the default branch.
        if let Some(rr) = app.lock().unwrap().repos.get_mut(&key(owner, repo)) {
            rr.default_branch = new_default.clone();
        }
    }
    if let Some(f) = fault {
        return fault_response(f);
    }
    match result {
        Ok((sha, _)) => {
            let out: Vec<Value> = files
                .iter()
                .map(|f| {
                    if f["operation"] == "delete" {
                        Value::Null
                    } else {
                        json!({"path": f["path"], "name": f["path"].as_str().unwrap_or("").rsplit('/').next(), "type": "file"})
                    }
                })
                .collect();
            // The commit's tree id, as Gitea's GetFileCommitResponse gives it.
            let tree = git(&r.bare, &["rev-parse", &format!("{sha}^{{tree}}")], None, &[]).unwrap_or_default();
            (
                StatusCode::CREATED,
                Json(json!({"files": out, "commit": {"sha": sha, "message": message,
                "tree": {"sha": tree.trim(), "url": ""}}, "verification": {"verified": false}})),
            )
                .into_response()
        }
        Err((code, m)) => err(StatusCode::from_u16(code).unwrap(), m),
    }
}

fn fault_response(f: CommitFault) -> Response {
    let status = StatusCode::from_u16(f.status).unwrap();
    if f.status == 429 {
        return (status, [(header::RETRY_AFTER, "1")], Json(json!({"message": "rate limited"}))).into_response();
    }
    if f.html {
        html(status, "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>")
    } else {
        err(status, "internal error")
    }
}

/// Gitea's ChangeRepoFiles on a real bare repository: the ops in order on a copy of the branch's
/// index, one commit, compare-and-swap ref update. Returns the commit id and, for a first commit, the new default
/// branch. `upsert` is a test-only operation used by the "other writer".
fn apply_commit(
    root: &Path,
    r: &FakeRepo,
    branch: &str,
    message: &str,
    files: &[Value],
    forgejo: bool,
) -> Result<(String, Option<String>), (u16, String)> {
    let bare = &r.bare;
    let empty = is_empty(bare);
    let head = git(bare, &["rev-parse", "--verify", "-q", &format!("refs/heads/{branch}^{{commit}}")], None, &[])
        .ok()
        .map(|s| s.trim().to_string());
    if head.is_none() && !empty {
        return Err((404, format!("branch does not exist [name: {branch}]")));
    }
    let mut cache = r.index.lock().unwrap();
    let head_id = head.clone().unwrap_or_default();
    let kept = bare.join("fake-gitea.index");
    if !cache.as_ref().is_some_and(|c| c.branch == branch && c.commit == head_id) {
        // The branch is not where the last API commit left it: start from its tree.
        let env = [("GIT_INDEX_FILE", kept.to_str().unwrap())];
        match &head {
            Some(h) => git(bare, &["read-tree", h], None, &env).unwrap(),
            None => git(bare, &["read-tree", "--empty"], None, &env).unwrap(),
        };
        let files = git(bare, &["ls-files", "-s", "-z"], None, &env)
            .unwrap()
            .split('\0')
            .filter(|e| !e.is_empty())
            .map(|e| {
                let (meta, path) = e.split_once('\t').unwrap();
                (path.to_string(), meta.split(' ').nth(1).unwrap().to_string())
            })
            .collect();
        *cache = Some(IndexCache { branch: branch.to_string(), commit: head_id.clone(), files });
    }
    let base = &cache.as_ref().unwrap().files;
    // This commit works on a copy of the kept index; the copy replaces it only once the branch
    // has moved to the new commit.
    let index = tempfile::NamedTempFile::new_in(root).unwrap();
    std::fs::copy(&kept, index.path()).unwrap();
    let index_path = index.path().to_str().unwrap().to_string();
    let env = [("GIT_INDEX_FILE", index_path.as_str())];
    let mut changed: HashMap<String, Option<String>> = HashMap::new();
    let mut lines = Vec::new();
    let mismatch = if forgejo { 409 } else { 422 };
    for f in files {
        let op = f["operation"].as_str().unwrap_or("");
        let path = f["path"].as_str().unwrap_or("").trim_start_matches('/').to_string();
        if path.is_empty() || path.split('/').any(|c| c.is_empty() || c == ".." || c.eq_ignore_ascii_case(".git")) {
            return Err((422, format!("path contains a malformed path component [path: {path}]")));
        }
        let existing = match changed.get(&path) {
            Some(now) => now.clone(),
            None => base.get(&path).cloned(),
        };
        match op {
            "create" if existing.is_some() => {
                return Err((422, format!("repository file already exists [path: {path}]")));
            }
            "update" | "delete" => {
                if empty {
                    return Err((422, "repo is empty".into()));
                }
                let Some(existing) = &existing else {
                    return Err((404, format!("repository file does not exist [path: {path}]")));
                };
                let Some(sha) = f["sha"].as_str().filter(|s| !s.is_empty()) else {
                    return Err((422, "[SHA]: Required".into()));
                };
                if sha != existing {
                    return Err((mismatch, format!("sha does not match [given: {sha}, expected: {existing}]")));
                }
            }
            "create" | "upsert" => {}
            other => return Err((422, format!("unknown operation {other:?}"))),
        }
        if op == "delete" {
            lines.extend_from_slice(format!("0 {}\t{path}\0", "0".repeat(40)).as_bytes());
            changed.insert(path, None);
            continue;
        }
        let content = base64::engine::general_purpose::STANDARD
            .decode(f["content"].as_str().unwrap_or(""))
            .map_err(|e| (422, format!("invalid base64 content: {e}")))?;
        let sha = git(bare, &["hash-object", "-w", "--stdin"], Some(&content), &[]).unwrap().trim().to_string();
        lines.extend_from_slice(format!("100644 {sha}\t{path}\0").as_bytes());
        changed.insert(path, Some(sha));
    }
    // In order, like one `--cacheinfo` per file: a file where a folder is (or the other way
    // round) is refused, not replaced.
    git(bare, &["update-index", "--add", "-z", "--index-info"], Some(&lines), &env)
        .map_err(|e| (422, format!("a file exists where you're trying to create a subdirectory: {e}")))?;
    let tree = git(bare, &["write-tree"], None, &env).map_err(|e| (500, e))?.trim().to_string();
    let mut args = vec!["commit-tree".to_string(), tree, "-m".into(), message.to_string()];
    if let Some(h) = &head {
        args.extend(["-p".into(), h.clone()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let commit = git(bare, &args, None, &[]).map_err(|e| (500, e))?.trim().to_string();
    let old = head.clone().unwrap_or_else(|| "0".repeat(40));
    git(bare, &["update-ref", &format!("refs/heads/{branch}"), &commit, &old], None, &[])
        .map_err(|e| (500, format!("failed to push: non-fast-forward: {e}")))?;
    index.persist(&kept).unwrap();
    let c = cache.as_mut().unwrap();
    for (path, sha) in changed {
        match sha {
            Some(sha) => c.files.insert(path, sha),
            None => c.files.remove(&path),
        };
    }
    c.commit = commit.clone();
    let new_default = if empty {
        git(bare, &["symbolic-ref", "HEAD", &format!("refs/heads/{branch}")], None, &[]).unwrap();
        Some(branch.to_string())
    } else {
        None
    };
    Ok((commit, new_default))
}

// ---------------------------------------------------------------------------------------------
// Single-file contents API (Gitea 1.9+): one commit per request
// ---------------------------------------------------------------------------------------------

fn single_file_routes() -> MethodRouter<App> {
    get(get_contents).post(single_file_change).put(single_file_change).delete(single_file_change)
}

/// `GET /contents/{filepath}?ref=`: a file -> its object with base64 `content`; a folder -> an
/// array of its entries without content; nothing there -> 404.
async fn get_contents(
    State(app): State<App>,
    UrlPath((owner, repo, filepath)): UrlPath<(String, String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let s = app.lock().unwrap();
    let Some(r) = s.repos.get(&key(&owner, &repo)).cloned() else {
        return err(StatusCode::NOT_FOUND, "The target couldn't be found.");
    };
    drop(s);
    let rev = q.get("ref").cloned().unwrap_or_else(|| r.default_branch.clone());
    let path = filepath.trim_matches('/').to_string();
    let not_found = || err(StatusCode::NOT_FOUND, format!("object does not exist [id: , rel_path: {path}]"));
    let Ok(meta) = git(&r.bare, &["ls-tree", "-z", "-l", &rev, "--", &path], None, &[]) else {
        return not_found();
    };
    let Some(entry) = meta.split('\0').find(|e| !e.is_empty()) else {
        return not_found();
    };
    let (m, _) = entry.split_once('\t').unwrap();
    let m: Vec<&str> = m.split_whitespace().collect();
    let entry_json = |p: &str, ty: &str, sha: &str, size: u64| {
        let name = p.rsplit('/').next().unwrap_or(p);
        json!({"name": name, "path": p, "sha": sha, "type": if ty == "tree" { "dir" } else { "file" },
            "size": size, "url": "", "download_url": ""})
    };
    if m[1] == "tree" {
        let list = git(&r.bare, &["ls-tree", "-z", "-l", &format!("{rev}:{path}")], None, &[]).unwrap_or_default();
        let items: Vec<Value> = list
            .split('\0')
            .filter(|e| !e.is_empty())
            .map(|rec| {
                let (meta, name) = rec.split_once('\t').unwrap();
                let m: Vec<&str> = meta.split_whitespace().collect();
                entry_json(&format!("{path}/{name}"), m[1], m[2], m[3].parse().unwrap_or(0))
            })
            .collect();
        return Json(Value::Array(items)).into_response();
    }
    let bytes = git_bytes(&r.bare, &["cat-file", "blob", m[2]], None, &[]).unwrap_or_default();
    let mut obj = entry_json(&path, m[1], m[2], bytes.len() as u64);
    obj["encoding"] = json!("base64");
    obj["content"] = json!(base64::engine::general_purpose::STANDARD.encode(&bytes));
    Json(obj).into_response()
}

/// `POST` (create, 201), `PUT` (update, `sha` required, 200) and `DELETE` (`sha` required, 200
/// with `content: null`) of one file: one commit each, through the same ChangeFiles code.
async fn single_file_change(
    State(app): State<App>,
    method: axum::http::Method,
    UrlPath((owner, repo, filepath)): UrlPath<(String, String, String)>,
    body: Bytes,
) -> Response {
    let app2 = app.clone();
    tokio::task::spawn_blocking(move || {
        let mut s = app2.lock().unwrap();
        let Ok(req) = serde_json::from_slice::<Value>(&body) else {
            return err(StatusCode::UNPROCESSABLE_ENTITY, "invalid JSON");
        };
        let Some(r) = s.repos.get(&key(&owner, &repo)).cloned() else {
            return err(StatusCode::NOT_FOUND, "The target couldn't be found.");
        };
        if r.archived {
            return err(StatusCode::LOCKED, "repo is archived");
        }
        if !r.push {
            return err(StatusCode::FORBIDDEN, "user should have a permission to write to the target branch");
        }
        let op = match method.as_str() {
            "POST" => "create",
            "PUT" => "update",
            _ => "delete",
        };
        if op != "delete" && req["content"].as_str().is_none() {
            return err(StatusCode::UNPROCESSABLE_ENTITY, "[Content]: Required");
        }
        let path = filepath.trim_matches('/').to_string();
        let mut file = json!({"operation": op, "path": path});
        for k in ["content", "sha"] {
            if let Some(v) = req.get(k) {
                file[k] = v.clone();
            }
        }
        let branch = req["branch"].as_str().filter(|b| !b.is_empty()).unwrap_or(&r.default_branch).to_string();
        let message = req["message"].as_str().unwrap_or("").to_string();
        let root = s.root.clone();
        let forgejo = s.forgejo;
        match apply_commit(&root, &r, &branch, &message, &[file], forgejo) {
            Ok((sha, new_default)) => {
                if let Some(d) = new_default {
                    if let Some(rr) = s.repos.get_mut(&key(&owner, &repo)) {
                        rr.default_branch = d;
                    }
                }
                let content = if op == "delete" {
                    Value::Null
                } else {
                    let blob = git(&r.bare, &["rev-parse", &format!("{sha}:{path}")], None, &[]).unwrap_or_default();
                    json!({"name": path.rsplit('/').next(), "path": path, "sha": blob.trim(), "type": "file"})
                };
                let status = if op == "create" { StatusCode::CREATED } else { StatusCode::OK };
                (
                    status,
                    Json(json!({"content": content, "commit": {"sha": sha, "message": message},
                    "verification": {"verified": false}})),
                )
                    .into_response()
            }
            Err((code, m)) => err(StatusCode::from_u16(code).unwrap(), m),
        }
    })
    .await
    .unwrap()
}
