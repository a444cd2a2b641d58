//! Executing a restore, one request at a time, in four passes over the pages and databases
//! chosen: (1) create every database (with its schema) and every page (with its title, icon,
//! cover and property values) in tree order, so that every link target exists before any
//! content is written; (2) add relations, then formulas and rollups, to the schemas; (3) set
//! relation values; (4) append each page's content in order around its child pages (the
//! 2026-03-11 `position` of appends), then its note and its comments.
//!
//! Every write is journaled: a create or an append is recorded as pending before it is sent and
//! as done after its answer. A write whose answer was lost (now or in a run that was killed) is
//! never sent again blindly: the restore lists what its parent holds (the parent page's
//! children, the data source's rows, the container's blocks) and takes what landed. One failing
//! page stops only itself (and what lies below it); the others go on. This module must not
//! write anywhere but below the target page, and never modifies or deletes a page it did not
//! create.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use futures::TryStreamExt;
use serde_json::{json, Map, Value};

use super::backup::{Backup, Kind, Node};
use super::convert::{self, human_bytes, Converter, FileNeed, ReqBlock, Resolve, SchemaStep};
use super::journal::{Container, Entry, Journal, Pending};
use super::people::Users;
use super::plan::{self, Chunk, Limits};
use super::report::{Counts, NodeReport, Status};
use super::source::Repo;
use crate::ids;
use crate::logging::Progress;
use crate::notion::{NotionClient, NotionError};
use crate::sync::Interrupt;

/// How often a write whose answer was lost is checked and tried again.
const UNSURE_ROUNDS: u32 = 5;

/// Why a step stopped.
#[derive(Debug)]
pub enum StepError {
    /// This page or database failed (the message names the fix); the others go on.
    Node(String),
    /// The whole restore must stop (token rejected, journal not writable).
    Fatal(String),
    /// Stopped by SIGINT/SIGTERM between two requests.
    Interrupted,
}

fn notion_err(e: NotionError) -> StepError {
    match e {
        NotionError::Unauthorized => StepError::Fatal(e.to_string()),
        NotionError::NotFound { what, message } => StepError::Node(format!(
            "Notion answered 404 for {what} (not found or not shared with the integration: {message}). Share the target page with the integration (in Notion: ••• menu -> Connections -> add it), and the pages this one links to if they live elsewhere"
        )),
        NotionError::BadRequest { ref code, .. } if code == "validation_error" => StepError::Node(format!(
            "{e} -> fix the value Notion names in this page's page.json in the backup (if the backup was edited by hand), or report it: restore should never send what Notion refuses"
        )),
        other => StepError::Node(other.to_string()),
    }
}

/// One item of a page's top level: a child page/database created in pass 1, or blocks.
#[derive(Debug, Clone)]
enum Item {
    Anchor(usize),
    Block(ReqBlock),
}

/// Everything one page's content needs.
struct Content {
    items: Vec<Item>,
    files: Vec<FileNeed>,
    losses: Vec<String>,
    errors: Vec<String>,
}

/// The ids a conversion sees: the journal's (real run) or the backup's own (dry run).
pub struct Live<'a> {
    pub b: &'a Backup,
    pub repo: &'a Repo,
    pub in_set: &'a HashSet<usize>,
    pub entry: Option<&'a Entry>,
    pub users: &'a Users,
    pub upload_limit: u64,
}

impl Resolve for Live<'_> {
    fn node(&self, old: &str) -> Option<String> {
        let k = ids::normalize(old);
        match self.entry {
            Some(e) => e.ids.get(&k).cloned(),
            None => self.planned(old).then_some(k),
        }
    }
    fn planned(&self, old: &str) -> bool {
        self.b.by_id.get(&ids::normalize(old)).is_some_and(|n| self.in_set.contains(n))
    }
    fn data_source(&self, old: &str) -> Option<String> {
        let k = ids::normalize(old);
        match self.entry {
            Some(e) => e.ids.get(&k).cloned(),
            None => self.data_source_planned(old).then_some(k),
        }
    }
    fn data_source_planned(&self, old: &str) -> bool {
        self.b.data_sources.get(&ids::normalize(old)).is_some_and(|(db, _)| self.in_set.contains(db))
    }
    fn synced(&self, old: &str) -> Option<String> {
        let k = ids::normalize(old);
        match self.entry {
            Some(e) => e.synced.get(&k).cloned(),
            None => self.b.synced_originals.get(&k).filter(|p| self.in_set.contains(p)).map(|_| k),
        }
    }
    fn synced_needed(&self, old: &str) -> bool {
        self.b.synced_referenced.contains(&ids::normalize(old))
    }
    fn user(&self, old: &str) -> Option<String> {
        self.users.map.get(&ids::normalize(old)).cloned()
    }
    fn user_name(&self, old: &str) -> Option<String> {
        self.users.names.get(&ids::normalize(old)).cloned()
    }
    fn file_size(&self, path: &str) -> Option<u64> {
        if !self.repo.files.contains_key(path) {
            return None;
        }
        self.repo.size(path)
    }
    fn upload_limit(&self) -> u64 {
        self.upload_limit
    }
}

/// "created 2026-01-01 by Alice; last edited 2026-01-02 by Bob" from a page object.
pub fn original_of(page: &Value, users: &Users) -> String {
    let who = |k: &str| {
        page[k]["id"].as_str().map(|id| {
            page[k]["name"]
                .as_str()
                .map(str::to_string)
                .or_else(|| users.names.get(&ids::normalize(id)).cloned())
                .unwrap_or_else(|| format!("user {}", ids::dashed(id)))
        })
    };
    let mut s = String::new();
    if let Some(t) = page["created_time"].as_str() {
        s.push_str(&format!("created {t}"));
        if let Some(w) = who("created_by") {
            s.push_str(&format!(" by {w}"));
        }
    }
    if let Some(t) = page["last_edited_time"].as_str() {
        if !s.is_empty() {
            s.push_str("; ");
        }
        s.push_str(&format!("last edited {t}"));
        if let Some(w) = who("last_edited_by") {
            s.push_str(&format!(" by {w}"));
        }
    }
    s
}

/// True when the dual relation `name` of data source `ds` is created by its other side (the
/// side that sorts first creates the pair).
pub fn dual_made_by_other_side(b: &Backup, in_set: &HashSet<usize>, ds: &str, name: &str, p: &Value) -> bool {
    let conf = &p["relation"];
    if conf["type"] != "dual_property" {
        return false;
    }
    let other = ids::normalize(conf["data_source_id"].as_str().unwrap_or(""));
    let Some(other_name) = conf["dual_property"]["synced_property_name"].as_str() else { return false };
    let Some((db, j)) = b.data_sources.get(&other) else { return false };
    if !in_set.contains(db) {
        return false;
    }
    // The other side must show this pair too.
    let partner = b.nodes[*db].data_sources[*j].properties.get(other_name);
    let pairs = partner.is_some_and(|q| {
        q["type"] == "relation" && ids::normalize(q["relation"]["data_source_id"].as_str().unwrap_or("")) == ds
    });
    pairs && (other.as_str(), other_name) < (ds, name)
}

/// Title of a page/database as request rich text.
fn title_text(t: &str) -> Vec<Value> {
    convert::split_text(t, convert::MAX_TEXT)
        .into_iter()
        .map(|p| json!({"type": "text", "text": {"content": p}}))
        .collect()
}

/// The restore of one set of nodes.
pub struct Restorer<'a> {
    pub client: NotionClient,
    pub b: &'a Backup,
    pub repos: &'a [Repo],
    /// The nodes restored, parents before children.
    pub set: Vec<usize>,
    pub in_set: HashSet<usize>,
    /// Canonical id of the target page.
    pub target: String,
    pub journal: Journal,
    pub key: String,
    pub users: Users,
    pub limits: Limits,
    pub upload_limit: u64,
    pub bot_id: String,
    pub interrupt: Interrupt,
    pub reports: HashMap<usize, NodeReport>,
    pub created: Counts,
    pub failed: HashSet<usize>,
    pub warnings: Vec<String>,
    pub progress: Progress,
    /// Plan only: ids are the backup's own, nothing is sent.
    pub dry_run: bool,
}

impl<'a> Restorer<'a> {
    fn entry(&self) -> &Entry {
        &self.journal.restores[&self.key]
    }

    fn entry_mut(&mut self) -> &mut Entry {
        self.journal.restores.get_mut(&self.key).expect("restore entry exists")
    }

    fn save(&self) -> Result<(), StepError> {
        self.journal.save().map_err(|e| StepError::Fatal(e.to_string()))
    }

    fn live(&self, repo: usize) -> Live<'_> {
        Live {
            b: self.b,
            repo: &self.repos[repo],
            in_set: &self.in_set,
            entry: if self.dry_run { None } else { Some(self.entry()) },
            users: &self.users,
            upload_limit: self.upload_limit,
        }
    }

    fn node(&self, n: usize) -> &'a Node {
        &self.b.nodes[n]
    }

    fn check_interrupt(&self) -> Result<(), StepError> {
        if self.interrupt.is_set() {
            Err(StepError::Interrupted)
        } else {
            Ok(())
        }
    }

    fn report(&mut self, n: usize) -> &mut NodeReport {
        self.reports.get_mut(&n).expect("report per node")
    }

    fn add_losses(&mut self, n: usize, losses: &[String]) {
        let r = self.report(n);
        for l in losses {
            if !r.losses.contains(l) {
                r.losses.push(l.clone());
            }
        }
    }

    fn add_errors(&mut self, n: usize, errors: &[String]) {
        let r = self.report(n);
        for e in errors {
            if !r.errors.contains(e) {
                r.errors.push(e.clone());
            }
        }
    }

    /// Ids this restore created (anything else in a listing is not ours).
    fn known_ids(&self) -> HashSet<String> {
        let e = self.entry();
        let mut k: HashSet<String> = e.ids.values().map(|v| ids::normalize(v)).collect();
        k.extend(e.containers.values().map(|c| ids::normalize(&c.id)));
        k
    }

    // ----------------------------------------------------------------------------------------
    // The passes
    // ----------------------------------------------------------------------------------------

    /// Run the four passes. `Err` only for a fatal stop or an interruption.
    pub async fn run(&mut self) -> Result<(), StepError> {
        // Pass 1: structure.
        for n in self.set.clone() {
            self.check_interrupt()?;
            if self.skip_below_failed(n) {
                continue;
            }
            match self.create_node(n).await {
                Ok(()) => {}
                Err(StepError::Node(msg)) => self.fail(n, msg),
                Err(e) => return Err(e),
            }
            self.progress.inc(&self.node(n).title);
        }
        // Pass 2: relations, then formulas and rollups.
        for step in [SchemaStep::Relations, SchemaStep::Computed] {
            for n in self.set.clone() {
                self.check_interrupt()?;
                if self.node(n).kind != Kind::Database
                    || self.failed.contains(&n)
                    || !self.entry().ids.contains_key(&self.node(n).id)
                {
                    continue;
                }
                match self.schema_step(n, step).await {
                    Ok(()) => {}
                    Err(StepError::Node(msg)) => self.fail(n, msg),
                    Err(e) => return Err(e),
                }
            }
        }
        // Pass 3: relation values.
        for n in self.set.clone() {
            self.check_interrupt()?;
            if self.node(n).kind != Kind::Page
                || self.failed.contains(&n)
                || !self.entry().ids.contains_key(&self.node(n).id)
            {
                continue;
            }
            match self.relations(n).await {
                Ok(()) => {}
                Err(StepError::Node(msg)) => self.fail(n, msg),
                Err(e) => return Err(e),
            }
        }
        // Pass 4: content, originals of synced blocks first.
        for n in self.content_order() {
            self.check_interrupt()?;
            if self.failed.contains(&n) || !self.entry().ids.contains_key(&self.node(n).id) {
                continue;
            }
            match self.content(n).await {
                Ok(()) => {}
                Err(StepError::Node(msg)) => self.fail(n, msg),
                Err(e) => return Err(e),
            }
            self.progress.inc(&self.node(n).title);
        }
        Ok(())
    }

    fn fail(&mut self, n: usize, msg: String) {
        tracing::warn!("{}: {msg}", self.node(n).path(self.repos));
        self.failed.insert(n);
        self.report(n).status = Status::Failed(msg);
    }

    /// A node below a failed one is not attempted.
    fn skip_below_failed(&mut self, n: usize) -> bool {
        let mut p = self.node(n).parent;
        while let Some(x) = p {
            if self.failed.contains(&x) {
                self.failed.insert(n);
                let t = self.node(x).title.clone();
                self.report(n).status = Status::Skipped(format!("{t:?}, above it, failed"));
                return true;
            }
            p = self.node(x).parent;
        }
        false
    }

    /// Pages in tree order, except that a page holding an original synced block that another
    /// page shows comes before that page.
    fn content_order(&self) -> Vec<usize> {
        let pages: Vec<usize> = self.set.iter().copied().filter(|n| self.node(*n).kind == Kind::Page).collect();
        let mut needs: HashMap<usize, Vec<usize>> = HashMap::new();
        for &n in &pages {
            if let Some(p) = &self.node(n).page {
                let mut deps = Vec::new();
                super::backup::walk_blocks(&p.blocks, &mut |blk| {
                    if let Some(src) = blk["synced_block"]["synced_from"]["block_id"].as_str() {
                        if let Some(home) = self.b.synced_originals.get(&ids::normalize(src)) {
                            if *home != n && self.in_set.contains(home) {
                                deps.push(*home);
                            }
                        }
                    }
                });
                needs.insert(n, deps);
            }
        }
        let mut out = Vec::new();
        let mut state: HashMap<usize, u8> = HashMap::new();
        fn visit(n: usize, needs: &HashMap<usize, Vec<usize>>, state: &mut HashMap<usize, u8>, out: &mut Vec<usize>) {
            match state.get(&n) {
                Some(_) => return, // done, or on the stack (a cycle: copies are made)
                None => {
                    state.insert(n, 1);
                }
            }
            for d in needs.get(&n).into_iter().flatten() {
                visit(*d, needs, state, out);
            }
            state.insert(n, 2);
            out.push(n);
        }
        for n in pages {
            visit(n, &needs, &mut state, &mut out);
        }
        out
    }

    // ----------------------------------------------------------------------------------------
    // Pass 1
    // ----------------------------------------------------------------------------------------

    /// The restored parent of `n`: a page id (or the target), or a data source id for a row.
    fn parent_of(&self, n: usize) -> Result<(String, bool), StepError> {
        let node = self.node(n);
        let Some(p) = node.parent.filter(|p| self.in_set.contains(p)) else {
            return Ok((self.target.clone(), false));
        };
        let pn = self.node(p);
        let Some(pid) = self.entry().ids.get(&pn.id).cloned() else {
            return Err(StepError::Node(format!("its parent {:?} was not restored", pn.title)));
        };
        match pn.kind {
            Kind::Page => Ok((pid, false)),
            Kind::Database => {
                let ds = node
                    .page
                    .as_ref()
                    .and_then(|d| d.page["parent"]["data_source_id"].as_str())
                    .map(ids::normalize)
                    .filter(|d| self.b.data_sources.contains_key(d))
                    .or_else(|| pn.data_sources.first().map(|d| d.id.clone()));
                match ds.and_then(|d| self.entry().ids.get(&d).cloned()) {
                    Some(new) => Ok((new, true)),
                    None => Err(StepError::Node(format!("the data source of {:?} was not restored", pn.title))),
                }
            }
        }
    }

    async fn create_node(&mut self, n: usize) -> Result<(), StepError> {
        let node = self.node(n);
        if let Some(id) = self.entry().ids.get(&node.id).cloned() {
            self.report(n).new_id = Some(id);
            if node.kind == Kind::Database {
                self.report(n).status = Status::Restored;
                self.extra_data_sources(n).await?;
            }
            return Ok(());
        }
        match node.kind {
            Kind::Database => self.create_database(n).await,
            Kind::Page => self.create_page(n).await,
        }
    }

    async fn create_database(&mut self, n: usize) -> Result<(), StepError> {
        let node = self.node(n);
        let (parent, is_ds) = self.parent_of(n)?;
        if is_ds {
            return Err(StepError::Node("a database inside a database cannot be created".into()));
        }
        let Some(first) = node.data_sources.first() else {
            return Err(StepError::Node("its schema.json lists no data source".into()));
        };
        let mut losses = Vec::new();
        let mut props = {
            let live = self.live(node.repo);
            convert::schema_properties(&first.properties, SchemaStep::Create, &live, &|_| false, &mut losses)
        };
        if !props.values().any(|p| p.get("title").is_some()) {
            props.insert("Name".into(), json!({"title": {}}));
        }
        let inline = node.parent.is_some_and(|p| self.in_set.contains(&p));
        let body = json!({
            "parent": {"type": "page_id", "page_id": ids::dashed(&parent)},
            "title": title_text(&node.title),
            "is_inline": inline,
            "initial_data_source": {"properties": props},
        });
        losses.push("the database's icon, cover, description and views (the backup does not hold them)".into());
        self.add_losses(n, &losses);
        let pending = Pending::Create {
            node: node.id.clone(),
            parent: parent.clone(),
            parent_is_data_source: false,
            title: node.title.clone(),
            since: String::new(),
        };
        let what = format!("creating the database {:?}", node.title);
        let (id, answer) = self.create(pending, "databases", &body, &what).await?;
        let db = match answer {
            Some(v) => v,
            None => self
                .client
                .request(reqwest::Method::GET, &format!("/databases/{}", ids::dashed(&id)), &[], None, &what)
                .await
                .map_err(notion_err)?,
        };
        let ds_new = db["data_sources"][0]["id"].as_str().map(ids::normalize);
        let e = self.entry_mut();
        e.ids.insert(node.id.clone(), ids::normalize(&id));
        if let Some(ds) = ds_new {
            e.ids.insert(first.id.clone(), ds);
        }
        self.save()?;
        self.created.databases += 1;
        self.created.data_sources += 1;
        self.report(n).new_id = Some(ids::normalize(&id));
        self.report(n).status = Status::Restored;
        tracing::info!("created database {:?}", node.title);
        self.extra_data_sources(n).await
    }

    /// Data sources after the first (`POST /data_sources`).
    async fn extra_data_sources(&mut self, n: usize) -> Result<(), StepError> {
        let node = self.node(n);
        let Some(db_new) = self.entry().ids.get(&node.id).cloned() else { return Ok(()) };
        for ds in node.data_sources.iter().skip(1) {
            if self.entry().ids.contains_key(&ds.id) {
                continue;
            }
            let mut losses = Vec::new();
            let mut props = {
                let live = self.live(node.repo);
                convert::schema_properties(&ds.properties, SchemaStep::Create, &live, &|_| false, &mut losses)
            };
            if !props.values().any(|p| p.get("title").is_some()) {
                props.insert("Name".into(), json!({"title": {}}));
            }
            self.add_losses(n, &losses);
            let title = if ds.title.is_empty() { &ds.name } else { &ds.title };
            let body = json!({"parent": {"type": "database_id", "database_id": ids::dashed(&db_new)},
                              "title": title_text(title), "properties": props});
            let pending = Pending::CreateDataSource {
                data_source: ds.id.clone(),
                database: db_new.clone(),
                title: title.clone(),
            };
            let what = format!("creating the data source {title:?} of {:?}", node.title);
            let (id, _) = self.create(pending, "data_sources", &body, &what).await?;
            self.entry_mut().ids.insert(ds.id.clone(), ids::normalize(&id));
            self.save()?;
            self.created.data_sources += 1;
        }
        Ok(())
    }

    /// The `POST /pages` body of a page (files still as placeholders), with what it loses.
    fn page_body(&self, n: usize, parent: &str, is_ds: bool) -> (Value, Vec<FileNeed>, Vec<String>, Vec<String>) {
        let node = self.node(n);
        let data = node.page.as_ref().expect("a page node has page.json");
        let live = self.live(node.repo);
        let mut c = Converter::new(&live, &self.repos[node.repo].name, &node.folder);
        let mut props = Map::new();
        let schema = if is_ds {
            let ds = data.page["parent"]["data_source_id"].as_str().map(ids::normalize);
            ds.and_then(|d| self.b.data_sources.get(&d)).map(|(db, j)| &self.b.nodes[*db].data_sources[*j].properties)
        } else {
            None
        };
        for name in data.property_names() {
            let Some(v) = data.property(&name) else { continue };
            let ty = v["type"].as_str().unwrap_or("");
            if !is_ds {
                // A page outside a database has only its title.
                if ty == "title" {
                    props.insert("title".into(), json!({"title": c.rich_text(&v["title"])}));
                } else if !v[ty].is_null() && v[ty] != json!([]) {
                    c.losses.push(format!("the value of {name:?} (the page is not restored inside its database)"));
                }
                continue;
            }
            let restored = schema
                .and_then(|s| s.get(&name))
                .map(|p| convert::restored_type(p, &live))
                .unwrap_or_else(|| ty.to_string());
            if ty == "relation" {
                if restored == "rich_text" {
                    if let Some(x) = c.relation_as_text(v) {
                        props.insert(name.clone(), x);
                    }
                }
                continue;
            }
            if let Some(x) = c.property_value(&name, v, &restored) {
                props.insert(name.clone(), x);
            }
        }
        if !props.values().any(|p| p.get("title").is_some()) {
            props.insert("title".into(), json!({"title": title_text(&node.title)}));
        }
        let parent_v = if is_ds {
            json!({"type": "data_source_id", "data_source_id": ids::dashed(parent)})
        } else {
            json!({"type": "page_id", "page_id": ids::dashed(parent)})
        };
        let mut body = json!({"parent": parent_v, "properties": props});
        if let Some(icon) = data.page.get("icon").filter(|i| !i.is_null()) {
            if let Some(i) = c.icon(icon) {
                body["icon"] = i;
            }
        }
        if let Some(cover) = data.page.get("cover").filter(|i| !i.is_null()) {
            if let Some(x) = c.cover(cover) {
                body["cover"] = x;
            }
        }
        (body, c.files, c.losses, c.errors)
    }

    async fn create_page(&mut self, n: usize) -> Result<(), StepError> {
        let node = self.node(n);
        let (parent, is_ds) = self.parent_of(n)?;
        let (mut body, files, losses, errors) = self.page_body(n, &parent, is_ds);
        self.add_losses(n, &losses);
        self.add_errors(n, &errors);
        self.upload_files(node.repo, &files, &mut body).await?;
        let pending = Pending::Create {
            node: node.id.clone(),
            parent: parent.clone(),
            parent_is_data_source: is_ds,
            title: node.title.clone(),
            since: String::new(),
        };
        let what = format!("creating the page {:?}", node.title);
        let (id, _) = self.create(pending, "pages", &body, &what).await?;
        self.entry_mut().ids.insert(node.id.clone(), ids::normalize(&id));
        self.save()?;
        self.created.pages += 1;
        self.report(n).new_id = Some(ids::normalize(&id));
        tracing::debug!("created page {:?}", node.title);
        Ok(())
    }

    /// Upload the files whose placeholders `value` holds and put their ids in.
    async fn upload_files(&mut self, repo: usize, files: &[FileNeed], value: &mut Value) -> Result<(), StepError> {
        let mut text = serde_json::to_string(value).unwrap_or_default();
        let mut changed = false;
        for f in files {
            if !text.contains(&f.placeholder) {
                continue;
            }
            self.check_interrupt()?;
            let bytes = self.repos[repo].read(&f.path).map_err(|e| StepError::Node(e.to_string()))?;
            let ctype = content_type(&bytes, &f.name);
            let name = upload_name(&f.name, &ctype);
            let id = self.client.upload_file(&name, &ctype, &bytes).await.map_err(|e| match e {
                NotionError::Unauthorized => StepError::Fatal(e.to_string()),
                e => StepError::Node(format!("uploading {} ({}) failed: {e}", f.path, human_bytes(bytes.len() as u64))),
            })?;
            text = text.replace(&f.placeholder, &ids::dashed(&id));
            changed = true;
            self.created.files += 1;
            self.created.bytes += bytes.len() as u64;
        }
        if changed {
            *value = serde_json::from_str(&text).unwrap_or(Value::Null);
        }
        Ok(())
    }

    /// Send a create (`POST /{endpoint}`), first taking what an earlier, interrupted attempt
    /// made. Returns the new id and the answer (none when the object was found by listing).
    async fn create(
        &mut self,
        mut pending: Pending,
        endpoint: &str,
        body: &Value,
        what: &str,
    ) -> Result<(String, Option<Value>), StepError> {
        if let Some(prev) = self.entry().pending.clone() {
            if same_create(&prev, &pending) {
                if let Some(found) = self.find_created(&prev).await? {
                    self.entry_mut().pending = None;
                    return Ok((found, None));
                }
            } else {
                self.stale_pending(prev).await?;
            }
        }
        let mut round = 0;
        loop {
            round += 1;
            if let Pending::Create { since, .. } = &mut pending {
                *since = (chrono::Utc::now() - chrono::Duration::seconds(90)).to_rfc3339();
            }
            self.entry_mut().pending = Some(pending.clone());
            self.save()?;
            let answer = match endpoint {
                "pages" => self.client.create_page(body, what).await,
                "databases" => self.client.create_database(body, what).await,
                _ => self.client.create_data_source(body, what).await,
            };
            match answer {
                Ok(v) => {
                    self.entry_mut().pending = None;
                    let id = v["id"].as_str().unwrap_or("").to_string();
                    if id.is_empty() {
                        self.save()?;
                        return Err(StepError::Node(format!("Notion's answer to {what} has no id")));
                    }
                    return Ok((id, Some(v)));
                }
                Err(NotionError::Unsure { reason, .. }) if round < UNSURE_ROUNDS => {
                    tracing::warn!("{what}: the answer was lost ({reason}); looking whether it landed");
                    tokio::time::sleep(Duration::from_millis(500 * u64::from(round))).await;
                    if let Some(found) = self.find_created(&pending).await? {
                        self.entry_mut().pending = None;
                        return Ok((found, None));
                    }
                }
                Err(e) => {
                    // Whatever an unsure failure left is looked for on the next run.
                    if !matches!(e, NotionError::Unsure { .. }) {
                        self.entry_mut().pending = None;
                    }
                    self.save()?;
                    return Err(notion_err(e));
                }
            }
        }
    }

    /// The object a pending create made, if it landed.
    async fn find_created(&self, p: &Pending) -> Result<Option<String>, StepError> {
        let known = self.known_ids();
        let since = |s: &str| chrono::DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&chrono::Utc));
        match p {
            Pending::Create { parent, parent_is_data_source: false, title, since: t, .. } => {
                let kids: Vec<crate::notion::model::Block> =
                    self.client.block_children(parent).try_collect().await.map_err(notion_err)?;
                let after = since(t);
                let found = kids.iter().rev().find(|b| {
                    let raw = b.raw_value();
                    let raw = raw.as_ref();
                    let ty = b.type_name();
                    let shown = raw.and_then(|r| r[ty]["title"].as_str()).unwrap_or("");
                    let ours = raw.and_then(|r| r["created_by"]["id"].as_str()).map(ids::normalize)
                        == Some(ids::normalize(&self.bot_id));
                    let recent = match (after, since(&b.created_time)) {
                        (Some(a), Some(c)) => c >= a,
                        _ => true,
                    };
                    (ty == "child_page" || ty == "child_database")
                        && !known.contains(&ids::normalize(&b.id))
                        && shown == title
                        && ours
                        && recent
                });
                Ok(found.map(|b| ids::normalize(&b.id)))
            }
            Pending::Create { parent, parent_is_data_source: true, title, .. } => {
                let rows = self.client.query_all(parent).await.map_err(notion_err)?;
                let found = rows.iter().rev().find(|r| {
                    !known.contains(&ids::normalize(&r.id))
                        && r.title() == *title
                        && r.created_by.as_ref().map(|u| ids::normalize(&u.id)) == Some(ids::normalize(&self.bot_id))
                });
                Ok(found.map(|r| ids::normalize(&r.id)))
            }
            Pending::CreateDataSource { database, title, .. } => {
                let db: Value = self
                    .client
                    .request(
                        reqwest::Method::GET,
                        &format!("/databases/{}", ids::dashed(database)),
                        &[],
                        None,
                        "a restored database",
                    )
                    .await
                    .map_err(notion_err)?;
                let found = db["data_sources"].as_array().and_then(|a| {
                    a.iter().rev().find(|d| {
                        let id = ids::normalize(d["id"].as_str().unwrap_or(""));
                        !known.contains(&id) && d["name"].as_str() == Some(title.as_str())
                    })
                });
                Ok(found.and_then(|d| d["id"].as_str()).map(ids::normalize))
            }
            _ => Ok(None),
        }
    }

    /// A pending write of an earlier run that this run does not repeat: a create that landed is
    /// adopted; an append whose blocks may have landed is said.
    async fn stale_pending(&mut self, prev: Pending) -> Result<(), StepError> {
        match &prev {
            Pending::Create { node, .. } => {
                if let Some(found) = self.find_created(&prev).await? {
                    self.entry_mut().ids.insert(node.clone(), found);
                }
            }
            Pending::CreateDataSource { data_source, .. } => {
                if let Some(found) = self.find_created(&prev).await? {
                    self.entry_mut().ids.insert(data_source.clone(), found);
                }
            }
            Pending::Append { container, .. } => self.warnings.push(format!(
                "an earlier run may have appended blocks to {container} without recording them; check that part of the restored page"
            )),
            Pending::Comment { .. } => {}
        }
        self.entry_mut().pending = None;
        self.save()
    }

    // ----------------------------------------------------------------------------------------
    // Pass 2 and 3
    // ----------------------------------------------------------------------------------------

    async fn schema_step(&mut self, n: usize, step: SchemaStep) -> Result<(), StepError> {
        let node = self.node(n);
        for ds in &node.data_sources {
            let key =
                format!("schema-{}:{}", if step == SchemaStep::Relations { "relations" } else { "computed" }, ds.id);
            if self.entry().done.contains(&key) {
                continue;
            }
            let Some(new) = self.entry().ids.get(&ds.id).cloned() else { continue };
            let mut losses = Vec::new();
            let props = {
                let live = self.live(node.repo);
                let skip = |name: &str| {
                    ds.properties
                        .get(name)
                        .is_some_and(|p| dual_made_by_other_side(self.b, &self.in_set, &ds.id, name, p))
                };
                convert::schema_properties(&ds.properties, step, &live, &skip, &mut losses)
            };
            self.add_losses(n, &losses);
            let mut body = json!({"properties": props});
            if step == SchemaStep::Relations && !ds.title.is_empty() && ds.title != node.title {
                body["title"] = Value::Array(title_text(&ds.title));
            }
            if !props.is_empty() || body.get("title").is_some() {
                self.check_interrupt()?;
                let what = format!("adding properties to {:?}", node.title);
                self.update(true, &new, &body, &what).await?;
            }
            self.entry_mut().done.insert(key);
            self.save()?;
        }
        Ok(())
    }

    /// An update that gives the same result twice (`PATCH` of a data source's schema or a
    /// page's properties): sent again when its answer came back unreadable.
    async fn update(&self, data_source: bool, id: &str, body: &Value, what: &str) -> Result<(), StepError> {
        let mut round = 0;
        loop {
            round += 1;
            let r = if data_source {
                self.client.update_data_source(id, body, what).await
            } else {
                self.client.update_page(id, body, what).await
            };
            match r {
                Ok(_) => return Ok(()),
                Err(NotionError::Decode { .. } | NotionError::Unsure { .. }) if round < UNSURE_ROUNDS => {
                    tokio::time::sleep(Duration::from_millis(300 * u64::from(round))).await;
                }
                Err(e) => return Err(notion_err(e)),
            }
        }
    }

    async fn relations(&mut self, n: usize) -> Result<(), StepError> {
        let node = self.node(n);
        let key = format!("relations:{}", node.id);
        if self.entry().done.contains(&key) {
            return Ok(());
        }
        let Some(data) = &node.page else { return Ok(()) };
        let Some(p) = node.parent.filter(|p| self.in_set.contains(p) && self.node(*p).kind == Kind::Database) else {
            return Ok(());
        };
        let _ = p;
        let ds = data.page["parent"]["data_source_id"].as_str().map(ids::normalize);
        let schema =
            ds.and_then(|d| self.b.data_sources.get(&d)).map(|(db, j)| &self.b.nodes[*db].data_sources[*j].properties);
        let mut props = Map::new();
        let mut losses = Vec::new();
        {
            let live = self.live(node.repo);
            let mut c = Converter::new(&live, &self.repos[node.repo].name, &node.folder);
            for name in data.property_names() {
                let Some(v) = data.property(&name) else { continue };
                if v["type"] != "relation" {
                    continue;
                }
                let restored = schema.and_then(|s| s.get(&name)).map(|sp| convert::restored_type(sp, &live));
                if restored.as_deref() != Some("relation") {
                    continue;
                }
                if let Some(x) = c.relation_value(&name, v) {
                    if x["relation"].as_array().is_some_and(|a| !a.is_empty()) {
                        props.insert(name.clone(), x);
                    }
                }
            }
            losses.extend(c.losses);
        }
        self.add_losses(n, &losses);
        if !props.is_empty() {
            let new = self.entry().ids[&node.id].clone();
            let what = format!("setting the relations of {:?}", node.title);
            self.update(false, &new, &json!({"properties": props}), &what).await?;
        }
        self.entry_mut().done.insert(key);
        self.save()
    }

    // ----------------------------------------------------------------------------------------
    // Pass 4
    // ----------------------------------------------------------------------------------------

    /// The top level of a page: its blocks converted, its child pages and databases as anchors
    /// where they appear, its note at the end.
    fn content_items(&self, n: usize, live: &Live<'_>) -> Content {
        let node = self.node(n);
        let data = node.page.as_ref().expect("page");
        let mut c = Converter::new(live, &self.repos[node.repo].name, &node.folder);
        let is_anchor = |id: &str| {
            self.b
                .by_id
                .get(&ids::normalize(id))
                .copied()
                .filter(|k| self.in_set.contains(k) && self.node(*k).parent == Some(n))
        };
        let mut items = Vec::new();
        let mut anchored: HashSet<usize> = HashSet::new();
        for b in &data.blocks {
            let ty = b["type"].as_str().unwrap_or("");
            if ty == "child_page" || ty == "child_database" {
                if let Some(k) = is_anchor(b["id"].as_str().unwrap_or("")) {
                    if anchored.insert(k) {
                        items.push(Item::Anchor(k));
                    }
                    continue;
                }
            }
            items.extend(c.block(b).into_iter().map(Item::Block));
            // Child pages nested in this block are created right after it, at the page level.
            let mut nested = Vec::new();
            if let Some(kids) = b["children"].as_array() {
                super::backup::walk_blocks(kids, &mut |x| {
                    if x["type"] == "child_page" || x["type"] == "child_database" {
                        if let Some(k) = is_anchor(x["id"].as_str().unwrap_or("")) {
                            nested.push(k);
                        }
                    }
                });
            }
            for k in nested {
                if anchored.insert(k) {
                    let t = &self.node(k).title;
                    c.losses.push(format!(
                        "the place of {t:?} inside a block (it follows that block; a link to it stays in its place)"
                    ));
                    items.push(Item::Anchor(k));
                }
            }
        }
        for k in &node.children {
            if self.in_set.contains(k) && !anchored.contains(k) && self.node(*k).parent == Some(n) {
                items.push(Item::Anchor(*k));
            }
        }
        let mut losses = c.losses.clone();
        let files = std::mem::take(&mut c.files);
        let errors = c.errors.clone();
        let missing: Vec<String> = c.missing_people.iter().cloned().collect();
        drop(c);
        // What the page object loses too (its properties), for the note.
        let parent = if self.dry_run { Some(self.parent_of_planned(n)) } else { self.parent_of(n).ok() };
        if let Some((parent, is_ds)) = parent {
            let (_, _, plosses, _) = self.page_body(n, &parent, is_ds);
            for l in plosses {
                if !losses.contains(&l) {
                    losses.push(l);
                }
            }
        }
        if !missing.is_empty() {
            let l = format!("people not in this workspace, shown as text: {}", missing.join(", "));
            if !losses.contains(&l) {
                losses.push(l);
            }
        }
        let has_meta_props = data.page["properties"].as_object().is_some_and(|p| {
            p.values().any(|v| {
                matches!(
                    v["type"].as_str(),
                    Some("created_time" | "created_by" | "last_edited_time" | "last_edited_by")
                )
            })
        });
        if !losses.is_empty() || has_meta_props {
            let mut text = format!("Restored from a backup. Originally {}.", original_of(&data.page, &self.users));
            if !losses.is_empty() {
                text.push_str(&format!(" Not restored: {}.", losses.join("; ")));
            }
            let rt: Vec<Value> = convert::split_text(&text, convert::MAX_TEXT)
                .into_iter()
                .take(convert::MAX_RICH_TEXT_ITEMS)
                .map(|p| json!({"type": "text", "text": {"content": p}, "annotations": {"italic": true}}))
                .collect();
            items.push(Item::Block(ReqBlock {
                json: json!({"type": "callout", "callout": {"rich_text": rt, "icon": {"type": "emoji", "emoji": "🗄️"}, "color": "gray_background"}}),
                kids: Vec::new(),
                needs_kids: false,
                old_id: format!("note-{}", node.id),
                keep_id: false,
            }));
        }
        Content { items, files, losses, errors }
    }

    async fn content(&mut self, n: usize) -> Result<(), StepError> {
        let node = self.node(n);
        let key = format!("content:{}", node.id);
        if self.entry().done.contains(&key) {
            self.report(n).status = Status::Restored;
            return Ok(());
        }
        let content = {
            let live = self.live(node.repo);
            self.content_items(n, &live)
        };
        self.add_losses(n, &content.losses);
        self.add_errors(n, &content.errors);
        let page_new = self.entry().ids[&node.id].clone();
        if !self.entry().containers.contains_key(&node.id) {
            self.entry_mut()
                .containers
                .insert(node.id.clone(), Container { id: page_new.clone(), done: 0, last: None });
        }
        // The top level, run by run between the child pages.
        let items = &content.items;
        loop {
            self.check_interrupt()?;
            let done = self.entry().containers[&node.id].done;
            if done >= items.len() {
                break;
            }
            if let Item::Anchor(_) = items[done] {
                self.entry_mut().containers.get_mut(&node.id).expect("container").done = done + 1;
                continue;
            }
            let end = items[done..]
                .iter()
                .position(|i| matches!(i, Item::Anchor(_)))
                .map(|p| done + p)
                .unwrap_or(items.len());
            let run: Vec<ReqBlock> = items[done..end]
                .iter()
                .filter_map(|i| if let Item::Block(b) = i { Some(b.clone()) } else { None })
                .collect();
            // Anchors that exist after this run: then the blocks must go before them.
            let anchors_after = items[end..]
                .iter()
                .any(|i| matches!(i, Item::Anchor(k) if self.entry().ids.contains_key(&self.node(*k).id)));
            let after = if anchors_after { self.prev_id(n, items, done)? } else { None };
            let existing_anchors = items
                .iter()
                .filter(|i| matches!(i, Item::Anchor(k) if self.entry().ids.contains_key(&self.node(*k).id)))
                .count();
            let blocks_done = items[..done].iter().filter(|i| matches!(i, Item::Block(_))).count();
            let c = plan::chunk(&run, 0, &self.limits);
            let mut body_items = Value::Array(c.items.clone());
            self.upload_files(node.repo, &content.files, &mut body_items).await?;
            let result = self
                .append(&node.id, &page_new, after.clone(), !anchors_after, body_items, existing_anchors + blocks_done)
                .await?;
            self.after_chunk(&node.id, &run, &c, &result, done).await?;
        }
        // Continuations, depth first.
        for it in items {
            if let Item::Block(b) = it {
                self.continue_block(node.repo, b, &content.files).await?;
            }
        }
        self.comments(n).await?;
        self.entry_mut().done.insert(key);
        self.save()?;
        self.report(n).status = Status::Restored;
        Ok(())
    }

    /// The restored id of the item before `i` on a page's top level (`None`: the start).
    fn prev_id(&self, n: usize, items: &[Item], i: usize) -> Result<Option<String>, StepError> {
        for it in items[..i].iter().rev() {
            match it {
                Item::Anchor(k) => {
                    if let Some(id) = self.entry().ids.get(&self.node(*k).id) {
                        return Ok(Some(id.clone()));
                    }
                }
                Item::Block(_) => {
                    return self.entry().containers[&self.node(n).id].last.clone().map(Some).ok_or_else(|| {
                        StepError::Node("the journal lost the last block appended to this page".into())
                    });
                }
            }
        }
        Ok(None)
    }

    /// Append the children of `b` (and below) that are continued later.
    fn continue_block<'b>(
        &'b mut self,
        repo: usize,
        b: &'b ReqBlock,
        files: &'b [FileNeed],
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), StepError>> + 'b>> {
        Box::pin(async move {
            if b.kids.is_empty() {
                return Ok(());
            }
            if self.entry().containers.contains_key(&b.old_id) && !b.old_id.is_empty() {
                loop {
                    self.check_interrupt()?;
                    let cont = self.entry().containers[&b.old_id].clone();
                    if cont.done >= b.kids.len() {
                        break;
                    }
                    let c = plan::chunk(&b.kids, cont.done, &self.limits);
                    let mut body_items = Value::Array(c.items.clone());
                    self.upload_files(repo, files, &mut body_items).await?;
                    let result =
                        self.append(&b.old_id, &cont.id, cont.last.clone(), true, body_items, cont.done).await?;
                    // Chunk paths are relative to the chunk's start.
                    let rel = rebase(&c, cont.done);
                    self.after_chunk(&b.old_id, &b.kids[cont.done..], &rel, &result, cont.done).await?;
                }
            }
            for k in &b.kids {
                self.continue_block(repo, k, files).await?;
            }
            Ok(())
        })
    }

    /// Record what a chunk made: the container's progress, ids of blocks continued later or
    /// needed, the blocks counted.
    async fn after_chunk(
        &mut self,
        key: &str,
        run: &[ReqBlock],
        c: &Chunk,
        result: &[String],
        base: usize,
    ) -> Result<(), StepError> {
        let mut listed: HashMap<String, Vec<String>> = HashMap::new();
        let mut continued = Vec::new();
        for later in &c.continued {
            let id = self.id_at(result, &later.path, &mut listed).await?;
            continued.push((later.old_id.clone(), id, later.start));
        }
        let mut kept = Vec::new();
        for later in &c.keep {
            let id = self.id_at(result, &later.path, &mut listed).await?;
            kept.push((later.old_id.clone(), id));
        }
        let _ = run;
        let e = self.entry_mut();
        let cont = e.containers.get_mut(key).expect("container");
        cont.done = base + c.end;
        cont.last = result.last().cloned();
        for (old, id, start) in continued {
            e.containers.entry(old).or_insert(Container { id, done: start, last: None });
        }
        for (old, id) in kept {
            e.synced.insert(old, id);
        }
        self.created.blocks += c.blocks;
        self.save()
    }

    /// The restored id of the block at `path` of a chunk whose first-level blocks are `result`.
    async fn id_at(
        &self,
        result: &[String],
        path: &[usize],
        listed: &mut HashMap<String, Vec<String>>,
    ) -> Result<String, StepError> {
        let Some((first, rest)) = path.split_first() else { return Err(StepError::Node("empty block path".into())) };
        let mut id = result
            .get(*first)
            .cloned()
            .ok_or_else(|| StepError::Node("Notion returned fewer blocks than were sent".into()))?;
        for j in rest {
            if !listed.contains_key(&id) {
                let kids: Vec<crate::notion::model::Block> =
                    self.client.block_children(&id).try_collect().await.map_err(notion_err)?;
                listed.insert(id.clone(), kids.into_iter().map(|k| ids::normalize(&k.id)).collect());
            }
            id = listed[&id]
                .get(*j)
                .cloned()
                .ok_or_else(|| StepError::Node("a created block has fewer children than were sent".into()))?;
        }
        Ok(id)
    }

    /// `PATCH /blocks/{id}/children`, journaled; returns the ids of the new first-level blocks.
    /// `before`: how many children the container has before this append.
    async fn append(
        &mut self,
        key: &str,
        id: &str,
        after: Option<String>,
        at_end: bool,
        items: Value,
        before: usize,
    ) -> Result<Vec<String>, StepError> {
        let count = items.as_array().map(Vec::len).unwrap_or(0);
        let pending =
            Pending::Append { container: key.to_string(), id: id.to_string(), after: after.clone(), at_end, count };
        if let Some(prev) = self.entry().pending.clone() {
            if prev == pending {
                if let Some(found) = self.landed(id, after.as_deref(), at_end, count, before).await? {
                    self.entry_mut().pending = None;
                    return Ok(found);
                }
            } else {
                self.stale_pending(prev).await?;
            }
        }
        let mut body = json!({"children": items});
        if !at_end {
            body["position"] = match &after {
                Some(a) => json!({"type": "after_block", "after_block": {"id": ids::dashed(a)}}),
                None => json!({"type": "start"}),
            };
        }
        let what = format!("appending {count} block(s) to {}", ids::dashed(id));
        let mut round = 0;
        loop {
            round += 1;
            self.entry_mut().pending = Some(pending.clone());
            self.save()?;
            match self.client.append_children(id, &body, &what).await {
                Ok(results) => {
                    self.entry_mut().pending = None;
                    return Ok(results.iter().filter_map(|r| r["id"].as_str()).map(ids::normalize).collect());
                }
                Err(NotionError::Unsure { reason, .. }) if round < UNSURE_ROUNDS => {
                    tracing::warn!("{what}: the answer was lost ({reason}); looking whether the blocks landed");
                    tokio::time::sleep(Duration::from_millis(500 * u64::from(round))).await;
                    if let Some(found) = self.landed(id, after.as_deref(), at_end, count, before).await? {
                        self.entry_mut().pending = None;
                        return Ok(found);
                    }
                }
                Err(e) => {
                    if !matches!(e, NotionError::Unsure { .. }) {
                        self.entry_mut().pending = None;
                    }
                    self.save()?;
                    return Err(notion_err(e));
                }
            }
        }
    }

    /// The blocks an append made, when it landed: the container then holds `before + count`
    /// children, the new ones right after `after` (or at its start, or its end).
    async fn landed(
        &self,
        id: &str,
        after: Option<&str>,
        at_end: bool,
        count: usize,
        before: usize,
    ) -> Result<Option<Vec<String>>, StepError> {
        let kids: Vec<crate::notion::model::Block> =
            self.client.block_children(id).try_collect().await.map_err(notion_err)?;
        let ids_: Vec<String> = kids.iter().map(|k| ids::normalize(&k.id)).collect();
        if ids_.len() == before {
            return Ok(None);
        }
        if ids_.len() != before + count {
            return Err(StepError::Node(format!(
                "block {} holds {} blocks where this restore expected {before} or {}: it was changed while the restore ran; restore this page again into a new target",
                ids::dashed(id),
                ids_.len(),
                before + count
            )));
        }
        let start = if at_end {
            ids_.len() - count
        } else {
            match after {
                Some(a) => match ids_.iter().position(|x| *x == ids::normalize(a)) {
                    Some(p) => p + 1,
                    None => {
                        return Err(StepError::Node(format!(
                            "block {} lost a block this restore made",
                            ids::dashed(id)
                        )))
                    }
                },
                None => 0,
            }
        };
        Ok(Some(ids_[start..start + count].to_vec()))
    }

    /// Comments of the page (`POST /comments`), authors and times written into their text.
    async fn comments(&mut self, n: usize) -> Result<(), StepError> {
        let node = self.node(n);
        let Some(data) = &node.page else { return Ok(()) };
        if data.comments.is_empty() {
            return Ok(());
        }
        let key = format!("comments:{}", node.id);
        let page_new = self.entry().ids[&node.id].clone();
        let done = self.entry().containers.get(&key).map(|c| c.done).unwrap_or(0);
        for (i, cm) in data.comments.iter().enumerate().skip(done) {
            self.check_interrupt()?;
            let rt = {
                let live = self.live(node.repo);
                let mut c = Converter::new(&live, &self.repos[node.repo].name, &node.folder);
                // The name Notion showed for the author, else the backup's name for the user.
                let author = cm["display_name"]["resolved_name"]
                    .as_str()
                    .filter(|n| !n.is_empty())
                    .map(str::to_string)
                    .or_else(|| {
                        cm["created_by"]["id"]
                            .as_str()
                            .and_then(|id| self.users.names.get(&ids::normalize(id)).cloned())
                    })
                    .unwrap_or_else(|| "someone".into());
                let when = cm["created_time"].as_str().unwrap_or("");
                let mut rt = vec![
                    json!({"type": "text", "text": {"content": format!("{author}, {when}: ")}, "annotations": {"bold": true}}),
                ];
                rt.extend(c.rich_text(&cm["rich_text"]));
                rt.truncate(convert::MAX_RICH_TEXT_ITEMS);
                rt
            };
            let pending = Pending::Comment { page: node.id.clone(), id: page_new.clone(), index: i };
            self.entry_mut().pending = Some(pending);
            self.save()?;
            let what = format!("adding a comment to {:?}", node.title);
            let body = json!({"parent": {"page_id": ids::dashed(&page_new)}, "rich_text": rt});
            match self.client.create_comment(&body, &what).await {
                Ok(_) => {}
                Err(NotionError::Unsure { .. }) => self
                    .warnings
                    .push(format!("a comment on {:?} may be missing or doubled (its answer was lost)", node.title)),
                Err(e) => {
                    self.entry_mut().pending = None;
                    self.save()?;
                    return Err(notion_err(e));
                }
            }
            let e = self.entry_mut();
            e.pending = None;
            e.containers.insert(key.clone(), Container { id: page_new.clone(), done: i + 1, last: None });
            self.save()?;
            self.created.comments += 1;
        }
        self.add_losses(n, &["comment authors and times (written into each comment's text)".to_string()]);
        Ok(())
    }

    /// For `--dry-run` and the report: what this set needs, without writing.
    pub fn plan_counts(&mut self) -> Counts {
        let mut c = Counts::default();
        for n in self.set.clone() {
            let node = self.node(n);
            match node.kind {
                Kind::Database => {
                    c.databases += 1;
                    c.data_sources += node.data_sources.len();
                    c.requests += node.data_sources.len() as u64;
                    let mut losses = Vec::new();
                    for ds in &node.data_sources {
                        let live = self.live(node.repo);
                        for step in [SchemaStep::Create, SchemaStep::Relations, SchemaStep::Computed] {
                            let skip = |name: &str| {
                                ds.properties
                                    .get(name)
                                    .is_some_and(|p| dual_made_by_other_side(self.b, &self.in_set, &ds.id, name, p))
                            };
                            let props = convert::schema_properties(&ds.properties, step, &live, &skip, &mut losses);
                            if step != SchemaStep::Create && !props.is_empty() {
                                c.requests += 1;
                            }
                        }
                    }
                    losses.push(
                        "the database's icon, cover, description and views (the backup does not hold them)".into(),
                    );
                    self.add_losses(n, &losses);
                }
                Kind::Page => {
                    c.pages += 1;
                    c.requests += 1;
                    let parent = self.parent_of_planned(n);
                    let (content, body_files, has_relations) = {
                        let live = self.live(node.repo);
                        let content = self.content_items(n, &live);
                        let (_, files, _, _) = self.page_body(n, &parent.0, parent.1);
                        let has_rel = node.page.as_ref().is_some_and(|d| {
                            d.page["properties"].as_object().is_some_and(|p| {
                                p.values().any(|v| {
                                    v["type"] == "relation" && v["relation"].as_array().is_some_and(|a| !a.is_empty())
                                })
                            })
                        });
                        (content, files, has_rel)
                    };
                    if has_relations && parent.1 {
                        c.requests += 1;
                    }
                    let mut i = 0;
                    while i < content.items.len() {
                        if let Item::Anchor(_) = content.items[i] {
                            i += 1;
                            continue;
                        }
                        let end = content.items[i..]
                            .iter()
                            .position(|x| matches!(x, Item::Anchor(_)))
                            .map(|p| i + p)
                            .unwrap_or(content.items.len());
                        let run: Vec<ReqBlock> = content.items[i..end]
                            .iter()
                            .filter_map(|x| if let Item::Block(b) = x { Some(b.clone()) } else { None })
                            .collect();
                        let (r, b) = plan::count_requests(&run, &self.limits);
                        c.requests += r as u64;
                        c.blocks += b;
                        i = end;
                    }
                    for f in body_files.iter().chain(content.files.iter()) {
                        let size = self.repos[node.repo].size(&f.path).unwrap_or(0);
                        c.files += 1;
                        c.bytes += size;
                        let parts = if size <= crate::notion::write::SINGLE_PART_MAX {
                            1
                        } else {
                            size.div_ceil(crate::notion::write::PART_SIZE) + 1
                        };
                        c.requests += 1 + parts;
                    }
                    let comments = node.page.as_ref().map(|d| d.comments.len()).unwrap_or(0);
                    c.comments += comments;
                    c.requests += comments as u64;
                    self.add_losses(n, &content.losses);
                    self.add_errors(n, &content.errors);
                }
            }
            self.report(n).status = Status::Planned;
        }
        c
    }

    fn parent_of_planned(&self, n: usize) -> (String, bool) {
        let node = self.node(n);
        match node.parent.filter(|p| self.in_set.contains(p)) {
            Some(p) if self.node(p).kind == Kind::Database => {
                let ds = node
                    .page
                    .as_ref()
                    .and_then(|d| d.page["parent"]["data_source_id"].as_str())
                    .map(ids::normalize)
                    .unwrap_or_default();
                (ds, true)
            }
            Some(p) => (self.node(p).id.clone(), false),
            None => (self.target.clone(), false),
        }
    }
}

/// A chunk computed for `kids[start..]` with paths relative to `start` (what
/// [`Restorer::after_chunk`] expects): chunks already index from their first block, so only
/// `end` moves.
fn rebase(c: &Chunk, start: usize) -> Chunk {
    let mut r = c.clone();
    r.end = c.end - start;
    r
}

fn same_create(a: &Pending, b: &Pending) -> bool {
    match (a, b) {
        (Pending::Create { node: x, .. }, Pending::Create { node: y, .. }) => x == y,
        (Pending::CreateDataSource { data_source: x, .. }, Pending::CreateDataSource { data_source: y, .. }) => x == y,
        _ => false,
    }
}

/// The MIME type of a file of the backup, from its bytes, else its name.
pub fn content_type(bytes: &[u8], name: &str) -> String {
    if let Some(t) = infer::get(bytes) {
        return t.mime_type().to_string();
    }
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match ext.as_str() {
        "svg" => "image/svg+xml",
        "txt" | "log" => "text/plain",
        "md" => "text/markdown",
        "csv" => "text/csv",
        "json" => "application/json",
        "html" | "htm" => "text/html",
        "xml" => "application/xml",
        _ if std::str::from_utf8(bytes).is_ok() => "text/plain",
        _ => "application/octet-stream",
    }
    .to_string()
}

/// The name to upload a file under: Notion wants an extension that matches its type, and at
/// most 900 bytes.
fn upload_name(name: &str, ctype: &str) -> String {
    let mut n: String = name.replace(['/', '\\'], "-");
    if !n.contains('.') {
        let ext = match ctype {
            "image/png" => "png",
            "image/jpeg" => "jpg",
            "image/gif" => "gif",
            "application/pdf" => "pdf",
            "text/plain" => "txt",
            _ => "bin",
        };
        n = format!("{n}.{ext}");
    }
    while n.len() > 900 {
        let cut = n.char_indices().nth(n.chars().count() / 2).map(|(i, _)| i).unwrap_or(0);
        n = n[cut..].to_string();
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_come_from_bytes_then_names() {
        assert_eq!(content_type(b"%PDF-1.4 x", "a.bin"), "application/pdf");
        assert_eq!(content_type(b"hello", "notes.txt"), "text/plain");
        assert_eq!(content_type(&[0xff, 0xfe, 0x00, 0x01], "blob"), "application/octet-stream");
        assert_eq!(upload_name("report", "application/pdf"), "report.pdf");
        assert_eq!(upload_name("a/b.png", "image/png"), "a-b.png");
    }
}
