//! The run's shared context ([`Engine`], behind an `Arc`): settings, the Notion client, the
//! downloader, the state (read by every stage, written only by the commit stage), and what the run
//! learns as it goes: titles, users, and where every page's backup lives (its *location*), from
//! which the links of every repository are derived.
//!
//! Locations come in two strengths. Those read from the state are *provisional*: a page renamed
//! or moved in Notion since the last run gets a new folder. Those assigned in this run (a database
//! listing, a page's child list, workspace discovery) are *confirmed* and also *claim* their folder:
//! a folder claimed by one page is never deleted by another (paths are owned).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};

use futures::TryStreamExt;

use crate::config::Config;
use crate::ids;
use crate::media::Downloader;
use crate::notion::api::KeepRaw;
use crate::notion::model::Page;
use crate::notion::NotionClient;
use crate::state::{NodeKind, State};

use super::control::Control;
use super::vocab::{Held, RepoIx};

/// Where a node's backup lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub repo: RepoIx,
    /// Repository-relative folder ("" = the repository root: a configured database).
    pub folder: String,
    pub kind: NodeKind,
    /// Assigned in this run (not only remembered from the state).
    pub confirmed: bool,
}

impl Location {
    /// The file a link to this node points at, relative to the repository root.
    pub fn index_path(&self) -> String {
        if self.folder.is_empty() {
            "README.md".to_string()
        } else {
            format!("{}/index.md", self.folder)
        }
    }
}

/// One repository of the run.
#[derive(Debug, Clone)]
pub struct RepoInfo {
    pub name: String,
    pub label: String,
    /// The configured database at its root (canonical id), `None` for the workspace repository.
    pub root_db: Option<String>,
    /// Web address prefix of its files on Gitea/Forgejo (`<base>/<owner>/<repo>/src/branch/<b>/`),
    /// for links from other repositories; `None` in local mode (those links go to Notion).
    pub web_base: Option<String>,
}

pub struct Engine {
    pub cfg: Arc<Config>,
    pub notion: NotionClient,
    pub downloader: Option<Downloader>,
    pub control: Control,
    pub repos: Vec<RepoInfo>,
    pub state: RwLock<State>,
    /// Ids of the pages the state recorded when the run started (to tell new pages from known ones).
    pub run_started: chrono::DateTime<chrono::Utc>,
    pub run_date: String,
    pub staging: tempfile::TempDir,
    /// Which listed pages keep their raw JSON.
    pub keep_raw: KeepRaw,
    users: tokio::sync::OnceCell<HashMap<String, String>>,
    /// The user names read from Notion in this run, to be saved.
    pub users_read: std::sync::OnceLock<HashMap<String, String>>,
    persisted_users: Option<HashMap<String, String>>,
    /// Canonical id -> title, across all repositories (relations, link text).
    pub titles: RwLock<HashMap<String, String>>,
    locations: RwLock<HashMap<String, Location>>,
    /// Per repository: canonical id -> link from that repository set by hand ([`Engine::set_link`]),
    /// ahead of the node's location. Every other link is derived from `locations` when asked
    /// ([`RepoLinks`]), so nothing grows with pages × repositories.
    links: Vec<RwLock<HashMap<String, String>>>,
    /// Per repository: folder -> canonical id of the node that owns it in this run.
    claims: Vec<RwLock<HashMap<String, String>>>,
    /// Recorded pages waiting for a link target: target id -> pages whose record lists it.
    waiting: Mutex<HashMap<String, Vec<String>>>,
    /// Targets that became known in this run while a recorded page waited for them.
    pub woken: Mutex<Vec<String>>,
    /// Data source id -> database id of the databases listed in this run.
    sources: RwLock<BTreeMap<String, String>>,
    /// Database id -> its property names in the database's own order (recorded, or read now).
    property_orders: RwLock<HashMap<String, Vec<String>>>,
    /// Per repository: nodes scheduled so far in this run (for progress lines).
    pub scheduled: Vec<std::sync::atomic::AtomicUsize>,
}

impl Engine {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        cfg: Arc<Config>,
        notion: NotionClient,
        downloader: Option<Downloader>,
        control: Control,
        repos: Vec<RepoInfo>,
        state: State,
        staging: tempfile::TempDir,
        keep_raw: KeepRaw,
    ) -> Engine {
        let run_started = chrono::Utc::now();
        let n = repos.len();
        let persisted_users = state.users.as_ref().map(|u| u.iter().map(|(k, v)| (k.clone(), v.clone())).collect());
        let titles = state.pages.iter().map(|(id, r)| (id.clone(), r.title.clone())).collect();
        let mut waiting: HashMap<String, Vec<String>> = HashMap::new();
        for (id, r) in &state.pages {
            for t in &r.unresolved_links {
                waiting.entry(t.clone()).or_default().push(id.clone());
            }
        }
        let engine = Engine {
            run_date: run_started.with_timezone(&cfg.timezone).format("%Y-%m-%d").to_string(),
            cfg,
            notion,
            downloader,
            control,
            repos,
            state: RwLock::new(State::default()),
            run_started,
            staging,
            keep_raw,
            users: tokio::sync::OnceCell::new(),
            users_read: std::sync::OnceLock::new(),
            persisted_users,
            titles: RwLock::new(titles),
            locations: RwLock::new(HashMap::new()),
            links: (0..n).map(|_| RwLock::new(HashMap::new())).collect(),
            claims: (0..n).map(|_| RwLock::new(HashMap::new())).collect(),
            waiting: Mutex::new(waiting),
            woken: Mutex::new(Vec::new()),
            scheduled: (0..n).map(|_| Default::default()).collect(),
            sources: RwLock::new(BTreeMap::new()),
            property_orders: RwLock::new(
                state
                    .pages
                    .iter()
                    .filter(|(_, r)| !r.property_order.is_empty())
                    .map(|(id, r)| (id.clone(), r.property_order.clone()))
                    .collect(),
            ),
        };
        // Where every recorded node lives, as far as the state knows.
        for (id, r) in state.pages.iter().filter(|(_, r)| !r.orphan) {
            let (Some(folder), Some(repo)) = (r.folder.as_ref(), engine.repo_index(&r.repo)) else { continue };
            engine.put_location(id, Location { repo, folder: folder.clone(), kind: r.kind, confirmed: false });
        }
        *engine.state.write().expect("state lock") = state;
        engine
    }

    pub fn repo_index(&self, name: &str) -> Option<RepoIx> {
        self.repos.iter().position(|r| r.name == name)
    }

    pub fn dry_run(&self) -> bool {
        self.cfg.dry_run
    }

    /// User id -> name, read once per run, only when a page is actually rendered (the saved names
    /// when Notion does not allow listing users).
    pub async fn users(&self) -> &HashMap<String, String> {
        self.users
            .get_or_init(|| async {
                match load_users(&self.notion).await {
                    Some(fresh) => {
                        let _ = self.users_read.set(fresh.clone());
                        fresh
                    }
                    None => self.persisted_users.clone().unwrap_or_default(),
                }
            })
            .await
    }

    /// User names for generated indexes: this run's if already read, else the saved ones, so a run
    /// that renders no page neither reads the user list nor changes an index.
    pub async fn users_for_index(&self) -> &HashMap<String, String> {
        match &self.persisted_users {
            Some(saved) if !self.users.initialized() => saved,
            _ => self.users().await,
        }
    }

    /// Keep a page object until its node is prepared (on disk, in the run's staging folder).
    pub fn hold(&self, page: Page) -> Held {
        Held::new(&self.staging.path().join("rows"), page)
    }

    pub fn set_title(&self, id: &str, title: &str) {
        self.titles.write().expect("titles lock").insert(ids::normalize(id), title.to_string());
    }

    /// The node `id` lives at `folder` of repository `repo`, as assigned in this run: its links
    /// follow, and the folder is claimed by it.
    pub fn confirm_location(&self, id: &str, repo: RepoIx, folder: &str, kind: NodeKind) {
        let id = ids::normalize(id);
        let old = self.locations.read().expect("locations lock").get(&id).cloned();
        if let Some(old) = &old {
            if old.confirmed && old.repo == repo && old.folder == folder {
                return;
            }
            if old.repo == repo && old.folder != folder && !old.folder.is_empty() {
                // Everything recorded below its old folder moves with it (provisionally: each
                // descendant is confirmed when its own parent lists it).
                self.move_descendants(repo, &old.folder, folder);
            }
            let mut claims = self.claims[old.repo].write().expect("claims lock");
            if claims.get(&old.folder) == Some(&id) {
                claims.remove(&old.folder);
            }
        }
        self.claims[repo].write().expect("claims lock").insert(folder.to_string(), id.clone());
        self.put_location(&id, Location { repo, folder: folder.to_string(), kind, confirmed: true });
        if old.is_none() {
            if let Some(pages) = self.waiting.lock().expect("waiting lock").remove(&id) {
                self.woken.lock().expect("woken lock").extend(pages);
            }
        }
    }

    fn move_descendants(&self, repo: RepoIx, old: &str, new: &str) {
        let prefix = format!("{old}/");
        let moved: Vec<(String, Location)> = self
            .locations
            .read()
            .expect("locations lock")
            .iter()
            .filter(|(_, l)| l.repo == repo && !l.confirmed && l.folder.starts_with(&prefix))
            .map(|(id, l)| {
                let mut l = l.clone();
                l.folder = format!("{new}/{}", &l.folder[prefix.len()..]);
                (id.clone(), l)
            })
            .collect();
        for (id, l) in moved {
            self.put_location(&id, l);
        }
    }

    /// A location replaces any link set by hand for the node.
    fn put_location(&self, id: &str, loc: Location) {
        for links in &self.links {
            links.write().expect("links lock").remove(id);
        }
        self.locations.write().expect("locations lock").insert(id.to_string(), loc);
    }

    /// A node removed from the backup: links to it go to Notion again.
    pub fn forget_location(&self, id: &str) {
        let id = ids::normalize(id);
        if let Some(old) = self.locations.write().expect("locations lock").remove(&id) {
            let mut claims = self.claims[old.repo].write().expect("claims lock");
            if claims.get(&old.folder) == Some(&id) {
                claims.remove(&old.folder);
            }
        }
        for l in &self.links {
            l.write().expect("links lock").remove(&id);
        }
    }

    /// A node of repository `repo` whose data lives elsewhere (a linked database view): links to
    /// it from that repository go to `link` (root-relative path or URL).
    pub fn set_link(&self, repo: RepoIx, id: &str, link: &str) {
        self.links[repo].write().expect("links lock").insert(ids::normalize(id), link.to_string());
    }

    pub fn location(&self, id: &str) -> Option<Location> {
        self.locations.read().expect("locations lock").get(&ids::normalize(id)).cloned()
    }

    /// Links from repository `repo` (root-relative paths, or absolute URLs), for rendering. Holds
    /// the locations for reading while it lives.
    pub fn links(&self, repo: RepoIx) -> RepoLinks<'_> {
        RepoLinks {
            repos: &self.repos,
            repo,
            set: self.links[repo].read().expect("links lock"),
            locations: self.locations.read().expect("locations lock"),
        }
    }

    /// The node that owns `folder` of `repo` in this run, if any.
    pub fn claimant(&self, repo: RepoIx, folder: &str) -> Option<String> {
        self.claims[repo].read().expect("claims lock").get(folder).cloned()
    }

    /// The ids of confirmed locations of `repo` (for the end-of-run checks).
    pub fn confirmed_in(&self, repo: RepoIx) -> HashSet<String> {
        self.locations
            .read()
            .expect("locations lock")
            .iter()
            .filter(|(_, l)| l.repo == repo && l.confirmed)
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// The repository a node is recorded in (by name), if it is one of this run's.
    pub fn recorded_repo(&self, id: &str) -> Option<RepoIx> {
        let st = self.state.read().expect("state lock");
        st.pages.get(&ids::normalize(id)).and_then(|r| self.repo_index(&r.repo))
    }

    /// Snapshot of the record of `id`.
    pub fn record(&self, id: &str) -> Option<crate::state::PageRecord> {
        self.state.read().expect("state lock").pages.get(&ids::normalize(id)).cloned()
    }

    /// Data source id -> database id, over every recorded database and every database listed in
    /// this run.
    pub fn databases_by_source(&self) -> BTreeMap<String, String> {
        let st = self.state.read().expect("state lock");
        let mut out: BTreeMap<String, String> = st
            .pages
            .iter()
            .filter(|(_, r)| r.kind == NodeKind::Database)
            .flat_map(|(id, r)| r.data_sources.iter().map(move |d| (d.clone(), id.clone())))
            .collect();
        out.extend(self.sources.read().expect("sources lock").iter().map(|(k, v)| (k.clone(), v.clone())));
        out
    }

    /// The property order of database `db`, as far as the run knows it.
    pub fn property_order(&self, db: &str) -> Option<Vec<String>> {
        self.property_orders.read().expect("orders lock").get(&ids::normalize(db)).cloned()
    }

    pub fn set_property_order(&self, db: &str, order: Vec<String>) {
        if !order.is_empty() {
            self.property_orders.write().expect("orders lock").insert(ids::normalize(db), order);
        }
    }

    /// Database `db` (canonical id) has the data source `source`.
    pub fn add_source(&self, source: &str, db: &str) {
        self.sources.write().expect("sources lock").insert(ids::normalize(source), ids::normalize(db));
    }
}

/// A root-relative path as it goes into a web URL: each segment percent-encoded.
/// The link targets of one repository: a link set by hand, else the node's `index.md` (or
/// README.md) when it lives in this repository, else its page on the Gitea/Forgejo server of the
/// repository it lives in (none in local mode: such links go to Notion).
pub struct RepoLinks<'e> {
    repos: &'e [RepoInfo],
    repo: RepoIx,
    set: std::sync::RwLockReadGuard<'e, HashMap<String, String>>,
    locations: std::sync::RwLockReadGuard<'e, HashMap<String, Location>>,
}

impl std::fmt::Debug for RepoLinks<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RepoLinks").field("repo", &self.repo).finish_non_exhaustive()
    }
}

impl crate::markdown::LinkTargets for RepoLinks<'_> {
    fn target(&self, id: &str) -> Option<String> {
        if let Some(l) = self.set.get(id) {
            return Some(l.clone());
        }
        let loc = self.locations.get(id)?;
        if loc.repo == self.repo {
            Some(loc.index_path())
        } else {
            self.repos[loc.repo].web_base.as_ref().map(|base| format!("{base}{}", web_path(&loc.index_path())))
        }
    }
}

fn web_path(path: &str) -> String {
    path.split('/').map(|s| crate::sink::gitea::enc(s, false)).collect::<Vec<_>>().join("/")
}

/// `None` when the list cannot be read (personal access tokens, missing capability).
async fn load_users(notion: &NotionClient) -> Option<HashMap<String, String>> {
    match notion.list_users().try_collect::<Vec<_>>().await {
        Ok(users) => {
            Some(users.into_iter().filter_map(|u| u.name.clone().map(|n| (ids::normalize(&u.id), n))).collect())
        }
        Err(e) => {
            tracing::debug!("user names unavailable ({e}); ids are used instead");
            None
        }
    }
}
