//! Gitea/Forgejo destination over the REST API (`/api/v1`): one multi-file commit
//! (`POST /repos/{o}/{r}/contents`) per change set, diffed against a tree read once per run.
//!
//! Owns: the repository lock (one run per server + owner + repository on this machine, a file in
//! the per-user lock folder), the version/repository/branch checks, repository creation (only
//! when configured), the paged tree read, request batching under `GIT_MAX_REQUEST_MB` (a single
//! file that cannot fit fails its change set at once, before any request), web links to files,
//! and the recovery rules for a moved branch (422/409/500 -> re-read and rebuild), ambiguous
//! failures (5xx/timeouts -> re-read, a commit that landed counts as done), proxy body limits
//! (413 -> smaller commits; a file refused on its own is permanent) and 429.
//! Retry timing, `Retry-After` and the bounds on the server's silence ([`TIMEOUTS`]) are the
//! crate's one HTTP policy ([`crate::http`]).
//! Must not: send the token anywhere but the `Authorization` header, put it in an error or log,
//! accept invalid TLS certificates, or parse a non-JSON answer as JSON.

use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use reqwest::header::{HeaderMap, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::json;

use super::diff::{self, Op, Prepared, Tree};
use super::lock::{user_lock_dir, RepoLock};
use super::message::with_subject_suffix;
use super::tree_cache::{self, Special};
use super::{commit_message, ChangeSet, CommitOutcome, Content, Plan, Sink, SinkError};
use crate::http::{self, Retry, RetryPolicy, StatusClass, Timeouts};

/// Default for `GIT_MAX_REQUEST_MB`.
pub const DEFAULT_MAX_REQUEST_BYTES: u64 = 50 * 1024 * 1024;
/// Fixed JSON overhead of a commit request besides the files (message, author, braces).
const REQUEST_OVERHEAD: u64 = 2048;
/// How many times a commit is rebuilt after a moved branch or an ambiguous failure.
const MAX_RETRIES: u32 = 2;
/// How long the git server may stay silent: 30 s to connect, then 2 minutes without a byte
/// taken of the request, without an answer once it is sent, or without a byte of the answer.
/// (Gitea can think for a while after a large commit arrives; a stalled server still fails the
/// request within minutes, and the run goes on.)
pub const TIMEOUTS: Timeouts = Timeouts::new(Duration::from_secs(30), Duration::from_secs(120));
/// Wait after a 429 without `Retry-After`.
const THROTTLE_WAIT: Duration = Duration::from_secs(5);
/// Reads are tried 3 times on 5xx, timeouts and dropped connections; 429 is waited out 5 times
/// (up to 5 minutes each) for every request.
static RETRY: RetryPolicy = RetryPolicy {
    max_attempts: 3,
    max_throttled: 5,
    base_delay: Duration::from_millis(500),
    max_delay: Duration::from_secs(5),
    max_total: Duration::from_secs(1800),
    max_retry_after: Duration::from_secs(300),
};

#[derive(Clone)]
pub struct GiteaConfig {
    /// Server root, e.g. `https://git.example.org` (a trailing `/api/v1` is accepted).
    pub base_url: String,
    /// Personal access token (scopes `write:repository`, plus `write:user` to create repos).
    pub token: String,
    pub owner: String,
    pub repo: String,
    /// `GIT_BRANCH`; `None` = the repository's default branch.
    pub branch: Option<String>,
    /// `GIT_CREATE_REPOS`: create a missing repository (private, empty).
    pub create_repos: bool,
    /// `GIT_CA_FILE`: extra PEM root certificate(s). TLS is always verified.
    pub ca_file: Option<PathBuf>,
    /// `GIT_MAX_REQUEST_MB` in bytes: largest request body sent.
    pub max_request_bytes: u64,
    pub author_name: String,
    pub author_email: String,
    pub user_agent: String,
}

impl std::fmt::Debug for GiteaConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GiteaConfig")
            .field("base_url", &display_url(&self.base_url))
            .field("token", &"<redacted>")
            .field("owner", &self.owner)
            .field("repo", &self.repo)
            .field("branch", &self.branch)
            .field("create_repos", &self.create_repos)
            .field("ca_file", &self.ca_file)
            .field("max_request_bytes", &self.max_request_bytes)
            .finish_non_exhaustive()
    }
}

pub struct GiteaSink {
    cfg: GiteaConfig,
    api: String,
    http: reqwest::Client,
    timeouts: Timeouts,
    branch: String,
    opened: bool,
    /// The server's version was read and is new enough for multi-file commits.
    version_checked: bool,
    /// The destination is known from an earlier run: the version is read before the first commit
    /// instead of at open.
    version_deferred: bool,
    empty: bool,
    head: Option<String>,
    tree: Tree,
    /// Entries of the tree that are not plain files (modes), for its tree id.
    special: Special,
    /// The tree of the last run, from the cache file, until page 1 of the listing confirms or
    /// refutes it.
    cached: Option<tree_cache::Kept>,
    /// The commit whose tree `tree` is exactly (read whole, or the kept tree of that commit); none
    /// once this run committed.
    known: Option<String>,
    /// This run's last commit and the tree id the server answered for it.
    last_commit: Option<(String, Option<String>)>,
    /// The tree in memory is the one in the cache file (nothing to write at the end).
    cache_current: bool,
    /// Target size of a request; lowered for the rest of the run after a 413.
    limit: u64,
    /// Smallest request body refused with 413 in this run.
    refused: Option<u64>,
    lock: Option<RepoLock>,
}

/// An answer from the server, read whole.
struct Resp {
    status: StatusCode,
    content_type: String,
    body: Vec<u8>,
}

impl Resp {
    fn is_json(&self) -> bool {
        self.content_type.contains("json")
    }

    /// The server's `message`, or a short description of a non-JSON body.
    fn message(&self) -> String {
        if self.is_json() {
            #[derive(Deserialize)]
            struct E {
                message: Option<String>,
            }
            if let Ok(E { message: Some(m) }) = serde_json::from_slice::<E>(&self.body) {
                return truncate(&m, 300);
            }
            return truncate(&String::from_utf8_lossy(&self.body), 300);
        }
        let ct = if self.content_type.is_empty() { "no content type" } else { &self.content_type };
        format!("a {ct} page instead of JSON")
    }
}

/// How one commit request failed.
enum PostError {
    /// The tree we diffed against is stale (sha mismatch, file exists, branch moved).
    Conflict(String),
    /// 5xx or network failure: the commit may or may not have landed.
    Ambiguous(String),
    /// 413 from a proxy: the body was too big.
    TooLarge {
        body_len: u64,
    },
    Fatal(SinkError),
}

#[derive(Deserialize)]
struct RepoInfo {
    #[serde(default)]
    empty: bool,
    #[serde(default)]
    archived: bool,
    #[serde(default)]
    mirror: bool,
    #[serde(default)]
    default_branch: String,
    permissions: Option<Permissions>,
    #[serde(default)]
    object_format_name: String,
}

#[derive(Deserialize)]
struct Permissions {
    #[serde(default)]
    push: bool,
}

impl GiteaSink {
    /// Build the HTTP client (with `ca_file` added to the trusted roots). No request is made.
    pub fn new(cfg: GiteaConfig) -> Result<Self, SinkError> {
        let mut base = cfg.base_url.trim().trim_end_matches('/').to_string();
        for suffix in ["/api/v1", "/api"] {
            if let Some(b) = base.strip_suffix(suffix) {
                base = b.to_string();
            }
        }
        let parsed = url::Url::parse(&base)
            .map_err(|e| SinkError::Config(format!("GIT_BASE_URL {:?} is not a URL: {e}", display_url(&base))))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(SinkError::Config(format!(
                "GIT_BASE_URL {} must start with https:// (or http:// for a local server)",
                display_url(&base)
            )));
        }
        let loopback = matches!(parsed.host_str(), Some("localhost" | "127.0.0.1" | "[::1]" | "::1"));
        if parsed.scheme() == "http" && !loopback {
            tracing::warn!(url = %display_url(&base), "GIT_BASE_URL uses plain http: the token crosses the network unencrypted; use https");
        }
        let http = client(&cfg, &TIMEOUTS)?;
        let limit = if cfg.max_request_bytes == 0 { DEFAULT_MAX_REQUEST_BYTES } else { cfg.max_request_bytes };
        Ok(GiteaSink {
            api: format!("{base}/api/v1"),
            branch: cfg.branch.clone().unwrap_or_default(),
            cfg,
            http,
            timeouts: TIMEOUTS,
            opened: false,
            version_checked: false,
            version_deferred: false,
            empty: true,
            head: None,
            tree: Tree::new(),
            special: Special::new(),
            cached: None,
            known: None,
            last_commit: None,
            cache_current: false,
            limit,
            refused: None,
            lock: None,
        })
    }

    /// Other bounds on the server's silence than [`TIMEOUTS`] (tests use short ones).
    pub fn with_timeouts(mut self, timeouts: Timeouts) -> Result<Self, SinkError> {
        self.http = client(&self.cfg, &timeouts)?;
        self.timeouts = timeouts;
        Ok(self)
    }

    /// The server root as shown to users and in links: no credentials, no query.
    fn base_display(&self) -> String {
        display_url(self.api.trim_end_matches("/api/v1"))
    }

    /// Take the lock in the per-user lock folder, named after a hash of [`Sink::identity`].
    fn take_lock(&mut self) -> Result<(), SinkError> {
        if self.lock.is_some() {
            return Ok(());
        }
        let id = self.identity();
        let path = user_lock_dir()?.join(format!("gitea-{}.lock", short_hash(&id)));
        self.lock = Some(RepoLock::acquire(&path, &format!("repository {id}"))?);
        Ok(())
    }

    /// The cache of this repository's and branch's last tree, beside its lock (see
    /// [`tree_cache`]). `None` when there is no folder for it (then the tree is always paged).
    fn cache_path(&self) -> Option<PathBuf> {
        let key = format!("{}\n{}", self.identity(), self.branch);
        user_lock_dir().ok().map(|d| d.join(format!("gitea-{}.tree", short_hash(&key))))
    }

    /// The branch commits go to (known after `open`).
    pub fn branch(&self) -> &str {
        &self.branch
    }

    /// The branch backups of this repository go to, for links into it from other repositories:
    /// `GIT_BRANCH`, else the repository's default branch. `None` when the repository cannot be
    /// read (it may not exist yet: it is then created with `main`).
    pub async fn target_branch(&self) -> Option<String> {
        if !self.branch.is_empty() {
            return Some(self.branch.clone());
        }
        let resp = self.get(&self.repo_path(), "read the repository").await.ok()?;
        if !resp.status.is_success() {
            return None;
        }
        let info: RepoInfo = self.json(&resp, "read the repository").ok()?;
        Some(if info.default_branch.is_empty() { "main".into() } else { info.default_branch })
    }

    /// Head commit of the branch as last seen (`None` for an empty repository).
    pub fn head(&self) -> Option<&str> {
        self.head.as_deref()
    }

    /// `GIT_MAX_REQUEST_MB` in bytes (default when unset).
    fn cfg_limit(&self) -> u64 {
        if self.cfg.max_request_bytes == 0 {
            DEFAULT_MAX_REQUEST_BYTES
        } else {
            self.cfg.max_request_bytes
        }
    }

    fn repo_path(&self) -> String {
        format!("/repos/{}/{}", enc(&self.cfg.owner, false), enc(&self.cfg.repo, false))
    }

    fn full_name(&self) -> String {
        format!("{}/{}", self.cfg.owner, self.cfg.repo)
    }

    /// One HTTP exchange under [`RETRY`]: a 429 is waited out for every request; a read (`GET`)
    /// is also retried on 5xx, timeouts and dropped connections. A write is not: whether a commit
    /// landed is for the caller to find out. The last answer is returned as it is; `Err` = no
    /// answer, as a sentence naming the server and `what` ("read the branch").
    async fn send(&self, method: Method, path: &str, body: Option<Bytes>, what: &str) -> Result<Resp, String> {
        let url = format!("{}{}", self.api, path);
        let read = method == Method::GET;
        let origin = http::origin(&self.api);
        let doing = format!("while trying to {what}");
        let mut retrier = RETRY.start(what);
        let result = loop {
            let mut rb = self
                .http
                .request(method.clone(), &url)
                .header(AUTHORIZATION, format!("token {}", self.cfg.token))
                .header(ACCEPT, "application/json");
            if body.is_some() {
                rb = rb.header(CONTENT_TYPE, "application/json");
            }
            let result = http::exchange(rb, body.clone(), &self.timeouts).await;
            let retry = match &result {
                Ok(a) if a.status == StatusCode::TOO_MANY_REQUESTS => {
                    let wait = http::retry_after(&a.headers).unwrap_or(THROTTLE_WAIT).min(RETRY.max_retry_after);
                    tracing::warn!(repo = %self.full_name(), seconds = wait.as_secs_f64(), "rate limited by the git server, waiting");
                    Retry::throttled("HTTP 429", Some(wait))
                }
                Ok(a) if read && http::status_class(a.status) == StatusClass::Transient => {
                    Retry::failed(format!("HTTP {}", a.status.as_u16())).after(http::retry_after(&a.headers))
                }
                Err(t) if read && t.retryable() => {
                    let reason = t.describe(&origin, &doing, &self.timeouts);
                    tracing::warn!(repo = %self.full_name(), "{reason}; trying again");
                    Retry::failed(reason)
                }
                _ => break result,
            };
            if retrier.pause(retry).await.is_err() {
                break result;
            }
        };
        match result {
            Ok(a) => Ok(Resp {
                status: a.status,
                content_type: header_str(&a.headers, CONTENT_TYPE.as_str()).to_ascii_lowercase(),
                body: a.body,
            }),
            Err(t) => {
                let message = t.describe(&origin, &doing, &self.timeouts);
                tracing::warn!(repo = %self.full_name(), "{message}");
                Err(message)
            }
        }
    }

    /// A read ([`GiteaSink::send`] retries it), with no answer mapped to a transient error.
    async fn get(&self, path: &str, what: &str) -> Result<Resp, SinkError> {
        self.send(Method::GET, path, None, what).await.map_err(|message| SinkError::Remote { message, transient: true })
    }

    /// Parse a 2xx JSON answer; anything else becomes a clear error.
    fn json<T: serde::de::DeserializeOwned>(&self, resp: &Resp, what: &str) -> Result<T, SinkError> {
        if !resp.status.is_success() {
            return Err(self.status_error(resp, what));
        }
        if !resp.is_json() {
            return Err(self.not_json(resp, what));
        }
        serde_json::from_slice(&resp.body).map_err(|e| SinkError::Remote {
            message: format!("unexpected answer from {} to {what}: {e}", display_url(&self.api)),
            transient: false,
        })
    }

    fn not_json(&self, resp: &Resp, what: &str) -> SinkError {
        SinkError::Remote {
            message: format!(
                "{} answered {what} with HTTP {} and {}: check that GIT_BASE_URL is the Gitea/Forgejo address \
                 (not a login page, proxy or other site)",
                display_url(&self.api),
                resp.status.as_u16(),
                resp.message()
            ),
            transient: resp.status.is_server_error(),
        }
    }

    /// The user-facing error for a non-success answer.
    fn status_error(&self, resp: &Resp, what: &str) -> SinkError {
        let code = resp.status.as_u16();
        let msg = resp.message();
        let repo = self.full_name();
        let (message, transient) = match code {
            401 => (
                format!(
                    "the git server rejected the token while trying to {what} (HTTP 401: {msg}): check GIT_TOKEN \
                     (a Gitea/Forgejo access token with scope write:repository)"
                ),
                false,
            ),
            403 => (
                format!(
                    "the git server refused to {what} for {repo} (HTTP 403: {msg}): the token needs scope \
                     write:repository (and write:user, or write:organization, to create repositories), and its \
                     user needs write access to branch {:?} (protected branches refuse API commits)",
                    self.branch
                ),
                false,
            ),
            404 => (
                format!(
                    "not found while trying to {what} for {repo} (HTTP 404: {msg}): check GIT_OWNER, GIT_REPO and \
                     GIT_BRANCH, and that the token's user can see the repository"
                ),
                false,
            ),
            423 => (
                format!("{repo} is archived (HTTP 423): unarchive it in its settings or back up to another repository"),
                false,
            ),
            _ => (
                format!("the git server answered HTTP {code} while trying to {what} for {repo}: {msg}"),
                resp.status.is_server_error() || code == 408 || code == 429,
            ),
        };
        if !resp.is_json() && !resp.status.is_server_error() {
            // A login page, a proxy's error page or another site: not Gitea speaking.
            return self.not_json(resp, what);
        }
        SinkError::Remote { message, transient }
    }

    async fn check_version(&self) -> Result<(), SinkError> {
        #[derive(Deserialize)]
        struct V {
            version: String,
        }
        let resp = self.get("/version", "read the server version").await?;
        let v: V = self.json(&resp, "read the server version")?;
        check_version(&v.version)
    }

    async fn create_repo(&self) -> Result<RepoInfo, SinkError> {
        #[derive(Deserialize)]
        struct User {
            login: String,
        }
        let resp = self.get("/user", "read the token's user").await?;
        let user: User = self.json(&resp, "read the token's user (scope read:user or write:user)")?;
        let path = if user.login.eq_ignore_ascii_case(&self.cfg.owner) {
            "/user/repos".to_string()
        } else {
            format!("/orgs/{}/repos", enc(&self.cfg.owner, false))
        };
        let body = json!({
            "name": self.cfg.repo,
            "description": "Notion backup (notion-git-backup)",
            "private": true,
            "auto_init": false,
            "default_branch": if self.branch.is_empty() { "main" } else { self.branch.as_str() },
        });
        let body = Bytes::from(serde_json::to_vec(&body).expect("static JSON"));
        let resp = self.send(Method::POST, &path, Some(body), "create the repository").await.map_err(|e| {
            SinkError::Remote { message: format!("cannot create {}: {e}", self.full_name()), transient: true }
        })?;
        match resp.status.as_u16() {
            200 | 201 => {
                tracing::info!(repo = %self.full_name(), "created private repository");
                self.json(&resp, "create the repository")
            }
            409 => {
                let resp = self.get(&self.repo_path(), "read the repository").await?;
                self.json(&resp, "read the repository")
            }
            404 => Err(SinkError::Config(format!(
                "cannot create {}: {:?} is neither the token's user ({}) nor an organization it can see",
                self.full_name(),
                self.cfg.owner,
                user.login
            ))),
            _ => Err(self.status_error(&resp, "create the repository")),
        }
    }

    /// Re-read the branch head and the whole tree.
    async fn refresh(&mut self) -> Result<(), SinkError> {
        #[derive(Deserialize)]
        struct Branch {
            commit: BranchCommit,
        }
        #[derive(Deserialize)]
        struct BranchCommit {
            id: String,
        }
        let path = format!("{}/branches/{}", self.repo_path(), enc(&self.branch, true));
        let resp = self.get(&path, "read the branch").await?;
        if resp.status == StatusCode::NOT_FOUND && resp.is_json() {
            // Empty repository (no branch yet) or a branch that does not exist.
            let repo_resp = self.get(&self.repo_path(), "read the repository").await?;
            let info: RepoInfo = self.json(&repo_resp, "read the repository")?;
            if info.empty {
                self.empty = true;
                self.head = None;
                self.tree.clear();
                return Ok(());
            }
            return Err(SinkError::Config(format!(
                "branch {:?} does not exist in {}: create it, or unset GIT_BRANCH to use the default branch {:?}",
                self.branch,
                self.full_name(),
                info.default_branch
            )));
        }
        let b: Branch = self.json(&resp, "read the branch")?;
        (self.tree, self.special) = self.read_tree(&b.commit.id).await?;
        self.head = Some(b.commit.id);
        self.empty = false;
        Ok(())
    }

    /// The tree of the branch read by the branch's name (the trees endpoint takes a branch name as
    /// well as a sha), which saves reading the branch first: a run with nothing to commit makes two
    /// requests per repository. The head commit is learnt from the first commit. False when the
    /// server does not resolve the name (a branch name with `/`, a missing branch): the caller
    /// reads the branch.
    async fn read_branch_tree(&mut self) -> Result<bool, SinkError> {
        if self.branch.contains('/') || self.branch.chars().all(|c| c.is_ascii_hexdigit()) {
            return Ok(false);
        }
        match self.read_tree_pages(&self.branch.clone()).await? {
            Some((tree, special)) => {
                self.tree = tree;
                self.special = special;
                self.head = None;
                self.empty = false;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// `GET /git/trees/{sha}?recursive=1` page by page -> path -> blob id.
    async fn read_tree(&mut self, sha: &str) -> Result<(Tree, Special), SinkError> {
        self.read_tree_pages(sha).await?.ok_or_else(|| SinkError::Remote {
            message: format!(
                "{}: the server does not know the commit {sha} it named as the branch head",
                self.full_name()
            ),
            transient: true,
        })
    }

    /// [`read_tree`](Self::read_tree); `None` when the server answers that it does not know `sha`
    /// (400 "sha not found"). Page 1 names the id `sha` resolves to (Gitea answers the commit id
    /// for a branch name or commit, the tree id for a tree), and the later pages are read by that
    /// id, so a commit landing meanwhile cannot mix two trees. When it names the commit (or tree)
    /// of the tree kept from the last run, the kept tree is the tree and no further page is read.
    async fn read_tree_pages(&mut self, sha: &str) -> Result<Option<(Tree, Special)>, SinkError> {
        #[derive(Deserialize)]
        struct Page {
            #[serde(default)]
            sha: String,
            #[serde(default)]
            tree: Vec<Entry>,
            #[serde(default)]
            total_count: u64,
        }
        #[derive(Deserialize)]
        struct Entry {
            path: String,
            #[serde(rename = "type")]
            kind: String,
            #[serde(default)]
            mode: String,
            sha: String,
        }
        let mut tree = Tree::new();
        let mut special = Special::new();
        let mut seen = 0u64;
        let mut resolved = sha.to_string();
        for page in 1.. {
            let path = format!(
                "{}/git/trees/{}?recursive=1&per_page=1000&page={page}",
                self.repo_path(),
                enc(&resolved, false)
            );
            let resp = self.get(&path, "read the repository tree").await?;
            if page == 1 && resp.status == StatusCode::BAD_REQUEST {
                return Ok(None);
            }
            let p: Page = self.json(&resp, "read the repository tree")?;
            if page == 1 {
                if p.sha.len() == 40 && p.sha.chars().all(|c| c.is_ascii_hexdigit()) {
                    resolved = p.sha.clone();
                }
                if let Some(kept) = self.cached.take() {
                    if p.sha == kept.commit || p.sha == kept.tree {
                        tracing::debug!(repo = %self.full_name(), commit = %kept.commit, files = kept.files.len(), "tree unchanged since the last run: the kept tree is used");
                        self.cache_current = true;
                        self.known = Some(kept.commit);
                        self.last_commit = None;
                        return Ok(Some((kept.files, kept.special)));
                    }
                }
            }
            self.cache_current = false;
            let n = p.tree.len() as u64;
            seen += n;
            for e in p.tree {
                let plain = e.mode.is_empty() || e.mode == "100644";
                match e.kind.as_str() {
                    "blob" => {
                        if !plain {
                            special.insert(e.path.clone(), (e.mode, e.sha.clone()));
                        }
                        tree.insert(e.path, e.sha);
                    }
                    "commit" => {
                        special.insert(e.path, (e.mode, e.sha));
                    }
                    _ => {}
                }
            }
            if n == 0 || seen >= p.total_count {
                break;
            }
        }
        self.known = Some(resolved);
        self.last_commit = None;
        Ok(Some((tree, special)))
    }

    /// Split operations into request-sized batches: puts in order, deletes in the last batch.
    fn batches(&self, ops: &[Op], writes: &[Prepared], message_len: u64) -> Result<Vec<Vec<Op>>, SinkError> {
        let fixed = REQUEST_OVERHEAD + message_len * 2;
        let mut out: Vec<Vec<Op>> = Vec::new();
        let mut cur: Vec<Op> = Vec::new();
        let mut size = fixed;
        let (puts, dels): (Vec<&Op>, Vec<&Op>) = ops.iter().partition(|o| matches!(o, Op::Put { .. }));
        for op in puts.into_iter().chain(dels) {
            let est = op_size(op, writes);
            let path = || match op {
                Op::Put { write, .. } => writes[*write].path.as_str(),
                Op::Delete { path, .. } => path.as_str(),
            };
            let max = self.cfg_limit();
            if fixed + est > max {
                return Err(too_big(path(), fixed + est, max, false));
            }
            if self.refused.is_some_and(|r| fixed + est >= r) {
                return Err(too_big(path(), fixed + est, max, true));
            }
            if size + est > self.limit && !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
                size = fixed;
            }
            size += est;
            cur.push(op.clone());
        }
        if !cur.is_empty() {
            out.push(cur);
        }
        Ok(out)
    }

    /// Send one batch as one commit.
    /// The JSON body of one ChangeFiles request, written straight into one buffer: each file's
    /// bytes are read in pieces and base64-encoded into place, so a commit holds its request (4/3
    /// of its files) and nothing more: no whole copy of a file, of its base64 text or of a JSON
    /// tree of them.
    async fn commit_body(&self, ops: &[Op], writes: &[Prepared], message: &str) -> Result<Vec<u8>, PostError> {
        use std::io::Write as _;
        use tokio::io::AsyncReadExt as _;
        let json = |v: &str| serde_json::to_string(v).expect("JSON of a string");
        let person = json!({"name": self.cfg.author_name, "email": self.cfg.author_email}).to_string();
        let size: u64 = ops.iter().map(|op| op_size(op, writes)).sum();
        let mut body = Vec::with_capacity(usize::try_from(size).unwrap_or(0).saturating_add(message.len() * 2 + 512));
        write!(
            body,
            r#"{{"branch":{},"message":{},"author":{person},"committer":{person},"files":["#,
            json(&self.branch),
            json(message)
        )
        .expect("write to a Vec");
        let mut buf = vec![0u8; 48 * 1024];
        for (i, op) in ops.iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            match op {
                Op::Put { write, old } => {
                    let w = &writes[*write];
                    match old {
                        None => write!(body, r#"{{"operation":"create","path":{},"content":""#, json(&w.path)),
                        Some(sha) => write!(
                            body,
                            r#"{{"operation":"update","path":{},"sha":{},"content":""#,
                            json(&w.path),
                            json(sha)
                        ),
                    }
                    .expect("write to a Vec");
                    let mut enc =
                        base64::write::EncoderWriter::new(&mut body, &base64::engine::general_purpose::STANDARD);
                    match &w.content {
                        Content::Bytes(b) => enc.write_all(b).expect("write to a Vec"),
                        Content::File(p) => {
                            let staged = |e: std::io::Error| {
                                PostError::Fatal(SinkError::Io(format!("cannot read staged file {}: {e}", p.display())))
                            };
                            let mut f = tokio::fs::File::open(p).await.map_err(staged)?;
                            loop {
                                let n = f.read(&mut buf).await.map_err(staged)?;
                                if n == 0 {
                                    break;
                                }
                                enc.write_all(&buf[..n]).expect("write to a Vec");
                            }
                        }
                    }
                    enc.finish().expect("write to a Vec");
                    drop(enc);
                    body.extend_from_slice(b"\"}");
                }
                Op::Delete { path, sha } => {
                    write!(body, r#"{{"operation":"delete","path":{},"sha":{}}}"#, json(path), json(sha))
                        .expect("write to a Vec")
                }
            }
        }
        body.extend_from_slice(b"]}");
        Ok(body)
    }

    /// One ChangeFiles request: the new commit's id and, when the server says it, its tree id.
    async fn post(
        &self,
        ops: &[Op],
        writes: &[Prepared],
        message: &str,
    ) -> Result<(String, Option<String>), PostError> {
        let body = Bytes::from(self.commit_body(ops, writes, message).await?);
        let body_len = body.len() as u64;
        let path = format!("{}/contents", self.repo_path());
        let resp = match self.send(Method::POST, &path, Some(body), &format!("commit {message:?}")).await {
            Ok(r) => r,
            Err(e) => return Err(PostError::Ambiguous(e)),
        };
        let code = resp.status.as_u16();
        match code {
            200 | 201 => {
                #[derive(Deserialize)]
                struct Created {
                    commit: Option<CommitRef>,
                }
                #[derive(Deserialize)]
                struct CommitRef {
                    sha: String,
                    #[serde(default)]
                    tree: Option<TreeRef>,
                }
                #[derive(Deserialize)]
                struct TreeRef {
                    sha: String,
                }
                if !resp.is_json() {
                    return Err(PostError::Ambiguous(resp.message()));
                }
                match serde_json::from_slice::<Created>(&resp.body) {
                    Ok(Created { commit: Some(c) }) => Ok((c.sha, c.tree.map(|t| t.sha))),
                    _ => Err(PostError::Ambiguous("commit answer without a commit id".into())),
                }
            }
            413 if resp.is_json() && resp.message().to_ascii_lowercase().contains("quota") => {
                Err(PostError::Fatal(SinkError::Remote {
                    message: format!(
                        "{} is over its storage quota (HTTP 413: {}): free space or raise the quota",
                        self.full_name(),
                        resp.message()
                    ),
                    transient: false,
                }))
            }
            413 => Err(PostError::TooLarge { body_len }),
            409 => Err(PostError::Conflict(resp.message())),
            422 => {
                let m = resp.message();
                let lower = m.to_ascii_lowercase();
                if ["sha", "exist", "match"].iter().any(|k| lower.contains(k)) {
                    Err(PostError::Conflict(m))
                } else {
                    Err(PostError::Fatal(self.status_error(&resp, "commit")))
                }
            }
            404 if resp.is_json() => Err(PostError::Conflict(resp.message())),
            500..=599 => Err(PostError::Ambiguous(format!("HTTP {code}: {}", resp.message()))),
            408 => Err(PostError::Ambiguous(format!("HTTP {code}: {}", resp.message()))),
            _ => Err(PostError::Fatal(self.status_error(&resp, "commit"))),
        }
    }
}

#[async_trait::async_trait]
impl Sink for GiteaSink {
    fn describe(&self) -> String {
        format!("{} on {}", self.full_name(), self.base_display())
    }

    /// `<base URL>/<owner>/<repo>`, owner and repository lowercased (Gitea's names are
    /// case-insensitive), never the token.
    fn identity(&self) -> String {
        format!("{}/{}/{}", self.base_display(), self.cfg.owner.to_lowercase(), self.cfg.repo.to_lowercase())
    }

    fn web_url(&self, path: &str) -> Option<String> {
        let branch = if self.branch.is_empty() { "main" } else { self.branch.as_str() };
        let mut url = format!(
            "{}/{}/{}/src/branch/{}",
            self.base_display(),
            enc(&self.cfg.owner, false),
            enc(&self.cfg.repo, false),
            enc(branch, true)
        );
        let path = path.trim_matches('/');
        if !path.is_empty() {
            url.push('/');
            url.push_str(&enc(path, true));
        }
        Some(url)
    }

    async fn lock(&mut self) -> Result<(), SinkError> {
        self.take_lock()
    }

    fn known_destination(&mut self) {
        self.version_deferred = true;
    }

    async fn open(&mut self, create: bool) -> Result<(), SinkError> {
        if create {
            self.take_lock()?;
        }
        if !self.version_deferred {
            self.check_version().await?;
            self.version_checked = true;
        }
        let resp = self.get(&self.repo_path(), "read the repository").await?;
        let info: RepoInfo = if resp.status == StatusCode::NOT_FOUND && resp.is_json() {
            if create && self.cfg.create_repos {
                self.create_repo().await?
            } else {
                return Err(SinkError::Missing(format!(
                    "repository {} not found on {} (or the token cannot see it): create it, or set \
                     GIT_CREATE_REPOS=1 to let the backup create it (token scopes write:repository, write:user)",
                    self.full_name(),
                    display_url(self.api.trim_end_matches("/api/v1"))
                )));
            }
        } else {
            self.json(&resp, "read the repository")?
        };
        if info.archived {
            return Err(SinkError::Config(format!(
                "{} is archived: unarchive it in its settings or back up to another repository",
                self.full_name()
            )));
        }
        if info.mirror {
            return Err(SinkError::Config(format!("{} is a mirror and cannot take commits", self.full_name())));
        }
        if info.permissions.as_ref().is_some_and(|p| !p.push) {
            return Err(SinkError::Config(format!(
                "the token's user cannot push to {}: give it write access (collaborator or team with write)",
                self.full_name()
            )));
        }
        if info.object_format_name == "sha256" {
            return Err(SinkError::Config(format!(
                "{} is a SHA-256 repository, which is not supported: use a SHA-1 repository",
                self.full_name()
            )));
        }
        if self.branch.is_empty() {
            self.branch = if info.default_branch.is_empty() { "main".into() } else { info.default_branch.clone() };
        }
        self.empty = info.empty;
        if !info.empty {
            self.cached = self.cache_path().and_then(|p| tree_cache::load(&p));
        }
        if info.empty {
            self.head = None;
            self.tree.clear();
        } else if !self.read_branch_tree().await? {
            self.refresh().await?;
        }
        self.opened = true;
        tracing::debug!(repo = %self.full_name(), branch = %self.branch, files = self.tree.len(), "opened");
        Ok(())
    }

    async fn plan(&self, change: &ChangeSet) -> Result<Plan, SinkError> {
        Ok(diff::stage(&self.tree, change).await?.plan)
    }

    async fn commit(&mut self, change: ChangeSet) -> Result<CommitOutcome, SinkError> {
        if !self.opened {
            return Err(SinkError::Config(format!("{}: commit before open", self.describe())));
        }
        let diff::Staged { writes, ops: first, plan, blob_ids } = diff::stage(&self.tree, &change).await?;
        let mut commits = Vec::new();
        if first.is_empty() {
            return Ok(CommitOutcome { plan, commits, blob_ids });
        }
        if !self.version_checked {
            self.check_version().await?;
            self.version_checked = true;
        }
        let base_message = commit_message(&change.message);
        let msg_len = base_message.len() as u64 + 32;
        // Fail before committing anything when one file can never fit.
        self.batches(&first, &writes, msg_len)?;
        let mut retries = 0u32;
        'replan: loop {
            let ops = diff::diff(&self.tree, &writes, &change);
            if ops.is_empty() {
                break;
            }
            let batches = self.batches(&ops, &writes, msg_len)?;
            let n = batches.len();
            for (i, batch) in batches.iter().enumerate() {
                let message = if n > 1 {
                    with_subject_suffix(&base_message, &format!(" (part {}/{n})", i + 1))
                } else {
                    base_message.clone()
                };
                let failure = match self.post(batch, &writes, &message).await {
                    Ok((sha, tree_id)) => {
                        self.known = None;
                        self.last_commit = Some((sha.clone(), tree_id));
                        diff::apply(&mut self.tree, batch, &writes);
                        // Gitea writes plain files; a mode the path had is gone with it.
                        for op in batch {
                            let path = match op {
                                Op::Put { write, .. } => &writes[*write].path,
                                Op::Delete { path, .. } => path,
                            };
                            self.special.remove(path);
                        }
                        self.cache_current = false;
                        self.head = Some(sha.clone());
                        self.empty = false;
                        commits.push(sha);
                        continue;
                    }
                    Err(e) => e,
                };
                let reason = match failure {
                    PostError::Fatal(e) => return Err(partial(e, commits.len())),
                    PostError::TooLarge { body_len } => {
                        self.refused = Some(self.refused.map_or(body_len, |r| r.min(body_len)));
                        // One file that makes up most of the request cannot be split: smaller
                        // commits would not help, so no further request is sent for it.
                        if let Some(path) = lone_file(batch, &writes, body_len) {
                            return Err(partial(
                                too_big(&path, body_len, body_len.saturating_sub(1), true),
                                commits.len(),
                            ));
                        }
                        self.limit = self.limit.min(body_len / 2).max(REQUEST_OVERHEAD * 2);
                        tracing::warn!(repo = %self.full_name(), limit = self.limit, "request too large for the server (HTTP 413), splitting into smaller commits");
                        continue 'replan;
                    }
                    PostError::Conflict(m) => m,
                    PostError::Ambiguous(m) => {
                        self.refresh().await.map_err(|e| partial(e, commits.len()))?;
                        if diff::landed(&self.tree, batch, &writes) {
                            tracing::info!(repo = %self.full_name(), "commit answer lost ({m}) but the commit landed");
                            if let Some(h) = &self.head {
                                commits.push(h.clone());
                            }
                            continue 'replan;
                        }
                        m
                    }
                };
                retries += 1;
                if retries > MAX_RETRIES {
                    return Err(partial(
                        SinkError::Remote {
                            message: format!(
                                "could not commit to {} branch {:?} after {MAX_RETRIES} retries: {reason}",
                                self.full_name(),
                                self.branch
                            ),
                            transient: true,
                        },
                        commits.len(),
                    ));
                }
                tracing::warn!(repo = %self.full_name(), %reason, "commit refused or lost, re-reading the branch and retrying");
                tokio::time::sleep(Duration::from_millis(250 * u64::from(retries))).await;
                self.refresh().await.map_err(|e| partial(e, commits.len()))?;
                continue 'replan;
            }
            break;
        }
        Ok(CommitOutcome { plan, commits, blob_ids })
    }

    fn blob_of(&self, path: &str) -> Option<String> {
        self.tree.get(path).cloned()
    }

    /// `GET /repos/{o}/{r}/git/blobs/{sha}` (base64 content) for a file of the tree read at open.
    async fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>, SinkError> {
        let Some(sha) = self.tree.get(path) else { return Ok(None) };
        #[derive(Deserialize)]
        struct Blob {
            content: String,
            #[serde(default)]
            encoding: String,
        }
        let what = format!("read {path}");
        let resp = self.get(&format!("{}/git/blobs/{}", self.repo_path(), enc(sha, false)), &what).await?;
        let blob: Blob = self.json(&resp, &what)?;
        if blob.encoding != "base64" {
            return Ok(Some(blob.content.into_bytes()));
        }
        let clean: String = blob.content.chars().filter(|c| !c.is_whitespace()).collect();
        base64::engine::general_purpose::STANDARD.decode(clean).map(Some).map_err(|e| SinkError::Remote {
            message: format!("unexpected answer from {} to {what}: {e}", display_url(&self.api)),
            transient: false,
        })
    }

    fn files_under(&self, dir: &str) -> Vec<String> {
        if dir.is_empty() {
            return self.tree.keys().cloned().collect();
        }
        diff::files_in(&self.tree, dir).map(|(p, _)| p.clone()).collect()
    }

    /// Keep the tree for the next run (see [`tree_cache`]); a cache that cannot be written only
    /// costs the next run the whole tree listing.
    async fn finish(&mut self) -> Result<(), SinkError> {
        if !self.opened || self.empty || self.cache_current || self.lock.is_none() {
            return Ok(());
        }
        let Some(path) = self.cache_path() else { return Ok(()) };
        // Only a tree known exactly is kept: read whole at a commit, or this run's commits applied
        // to it and hashing to the tree id the server answered for the last one (another writer's
        // commit in between would not).
        let commit = match (&self.known, &self.last_commit) {
            (Some(c), _) => Some(c.clone()),
            (None, Some((c, Some(t)))) if tree_cache::tree_id(&self.tree, &self.special).as_deref() == Some(t) => {
                Some(c.clone())
            }
            _ => None,
        };
        let Some(commit) = commit else {
            tracing::debug!(repo = %self.full_name(), "the tree after this run's commits is not known exactly: not kept");
            let _ = std::fs::remove_file(&path);
            return Ok(());
        };
        match tree_cache::save(&path, &commit, &self.tree, &self.special) {
            Ok(_) => self.cache_current = true,
            Err(e) => {
                tracing::warn!(repo = %self.full_name(), file = %path.display(), error = %e, "cannot keep the repository tree for the next run")
            }
        }
        Ok(())
    }
}

/// 32 hex digits of SHA-256 over `s`: names of the lock and cache files of a repository.
fn short_hash(s: &str) -> String {
    hex::encode(&<sha2::Sha256 as sha2::Digest>::digest(s.as_bytes())[..16])
}

/// Accept Gitea >= 1.20 and every Forgejo (which reports `X.Y.Z+gitea-1.22.0` or `1.2x.y-N`).
pub fn check_version(version: &str) -> Result<(), SinkError> {
    let compat = version.split_once("+gitea-").map(|(_, g)| g).unwrap_or(version);
    let mut nums = compat.trim_start_matches('v').split(['.', '-', '+']).map(|s| s.parse::<u64>());
    match (nums.next(), nums.next()) {
        (Some(Ok(major)), Some(Ok(minor))) if major > 1 || (major == 1 && minor >= 20) => Ok(()),
        (Some(Ok(_)), Some(Ok(_))) => Err(SinkError::Config(format!(
            "the git server runs Gitea {version}; multi-file commits need Gitea 1.20 or newer (or Forgejo): upgrade it"
        ))),
        _ => {
            tracing::warn!(%version, "unrecognised Gitea/Forgejo version, assuming it is recent");
            Ok(())
        }
    }
}

fn too_big(path: &str, needed: u64, limit: u64, proxy: bool) -> SinkError {
    let mb = |b: u64| (b as f64) / 1_048_576.0;
    let message = if proxy {
        format!(
            "{path} does not fit in one request ({:.1} MB as base64 JSON) and the server or a proxy in front of it \
             refused it with HTTP 413: raise the proxy's limit (nginx client_max_body_size) and GIT_MAX_REQUEST_MB, \
             or keep such files out of the backup",
            mb(needed)
        )
    } else {
        format!(
            "{path} is too large to commit through the API: it needs a {:.1} MB request and GIT_MAX_REQUEST_MB allows \
             {:.1} MB; raise GIT_MAX_REQUEST_MB (and the proxy's client_max_body_size) or keep such files out of the backup",
            mb(needed),
            mb(limit)
        )
    };
    SinkError::TooLarge { path: path.to_string(), message }
}

fn partial(e: SinkError, done: usize) -> SinkError {
    if done == 0 {
        return e;
    }
    let note = format!(" ({done} part commit(s) of this change were already made; the next run completes it)");
    match e {
        SinkError::Remote { message, transient } => SinkError::Remote { message: message + &note, transient },
        SinkError::Config(m) => SinkError::Config(m + &note),
        SinkError::Io(m) => SinkError::Io(m + &note),
        SinkError::Missing(m) => SinkError::Missing(m + &note),
        SinkError::Locked(m) => SinkError::Locked(m + &note),
        SinkError::TooLarge { path, message } => SinkError::TooLarge { path, message: message + &note },
    }
}

/// The path a 413 must be blamed on: the batch's only operation, or its only write when that
/// write is at least half of the refused body (deletes are small).
fn lone_file(batch: &[Op], writes: &[Prepared], body_len: u64) -> Option<String> {
    if let [op] = batch {
        return Some(match op {
            Op::Put { write, .. } => writes[*write].path.clone(),
            Op::Delete { path, .. } => path.clone(),
        });
    }
    let mut puts = batch.iter().filter(|o| matches!(o, Op::Put { .. }));
    match (puts.next(), puts.next()) {
        (Some(put @ Op::Put { write, .. }), None) if op_size(put, writes) * 2 >= body_len => {
            Some(writes[*write].path.clone())
        }
        _ => None,
    }
}

/// Estimated JSON size of one file operation.
fn op_size(op: &Op, writes: &[Prepared]) -> u64 {
    match op {
        Op::Put { write, .. } => {
            let w = &writes[*write];
            w.size.div_ceil(3) * 4 + 2 * w.path.len() as u64 + 120
        }
        Op::Delete { path, .. } => 2 * path.len() as u64 + 100,
    }
}

/// The HTTP client: `ca_file` added to the trusted roots, the connect bound of `timeouts`.
fn client(cfg: &GiteaConfig, timeouts: &Timeouts) -> Result<reqwest::Client, SinkError> {
    let mut builder = http::client_builder(&cfg.user_agent, timeouts).https_only(false);
    if let Some(ca) = &cfg.ca_file {
        let pem = std::fs::read(ca)
            .map_err(|e| SinkError::Config(format!("cannot read GIT_CA_FILE {}: {e}", ca.display())))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
            SinkError::Config(format!("GIT_CA_FILE {} is not a PEM certificate: {}", ca.display(), e.without_url()))
        })?;
        if certs.is_empty() {
            return Err(SinkError::Config(format!(
                "GIT_CA_FILE {} holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)",
                ca.display()
            )));
        }
        for c in certs {
            builder = builder.add_root_certificate(c);
        }
    }
    builder.build().map_err(|e| SinkError::Config(format!("cannot set up the HTTP client: {}", e.without_url())))
}

fn header_str<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

fn truncate(s: &str, max: usize) -> String {
    let s = s.trim();
    if s.len() <= max {
        return s.to_string();
    }
    let mut cut = max;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}...", &s[..cut])
}

/// A URL without credentials or query string, for messages (also used by `check`).
pub(crate) fn display_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.to_string().trim_end_matches('/').to_string()
        }
        Err(_) => "<invalid URL>".to_string(),
    }
}

/// Percent-encode a path segment (keeping `/` when `keep_slash`).
pub(crate) fn enc(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(b as char),
            b'/' if keep_slash => out.push('/'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        for ok in [
            "1.20.0",
            "1.22.3",
            "1.21.11-1",
            "11.0.3+gitea-1.22.0",
            "7.0.0+gitea-1.22.0",
            "1.23.0+dev-12-gabc",
            "v1.24.0",
        ] {
            assert!(check_version(ok).is_ok(), "{ok}");
        }
        for bad in ["1.19.4", "1.17.0"] {
            let e = check_version(bad).unwrap_err().to_string();
            assert!(e.contains("1.20"), "{e}");
        }
        assert!(check_version("development").is_ok());
    }

    #[test]
    fn urls_hide_credentials() {
        assert_eq!(
            display_url("https://user:secret@git.example.org/api/v1?token=abc"),
            "https://git.example.org/api/v1"
        );
        assert_eq!(enc("feature/x y", true), "feature/x%20y");
        assert_eq!(enc("a/b", false), "a%2Fb");
    }

    #[test]
    fn debug_never_shows_the_token() {
        let cfg = GiteaConfig {
            base_url: "https://git.example.org".into(),
            token: "s3cr3t-token".into(),
            owner: "o".into(),
            repo: "r".into(),
            branch: None,
            create_repos: false,
            ca_file: None,
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
            author_name: "a".into(),
            author_email: "a@example.org".into(),
            user_agent: "t".into(),
        };
        assert!(!format!("{cfg:?}").contains("s3cr3t"));
    }

    #[test]
    fn bad_ca_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "not a certificate").unwrap();
        let cfg = GiteaConfig {
            base_url: "https://git.example.org".into(),
            token: "t".into(),
            owner: "o".into(),
            repo: "r".into(),
            branch: None,
            create_repos: false,
            ca_file: Some(ca),
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
            author_name: "a".into(),
            author_email: "a@example.org".into(),
            user_agent: "t".into(),
        };
        let e = GiteaSink::new(cfg).err().expect("must fail").to_string();
        assert!(e.contains("GIT_CA_FILE"), "{e}");
    }
}
