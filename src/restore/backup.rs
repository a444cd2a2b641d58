//! What a backup holds, as a tree of nodes: every page folder (`page.json`) and database folder
//! (`schema.json`) of the repositories read by `super::source`, with their parents and their
//! children in Notion's order. Pure: it reads bytes handed to it and needs neither the state
//! file nor the original workspace.
//!
//! Parents come from the ids in `page.json` (a page's `parent`, a child page's or database's
//! block in its parent's block tree), so links and relations across repositories line up; the
//! folder nesting is the fallback. Children of a page are ordered as their blocks appear in it,
//! rows of a database by creation time.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{Map, Value};

use super::source::Repo;
use crate::ids;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Page,
    Database,
}

/// One data source of a database's `schema.json`.
#[derive(Debug, Clone)]
pub struct DataSourceSchema {
    /// Canonical id.
    pub id: String,
    pub name: String,
    pub title: String,
    /// Property name -> schema object as the API returned it.
    pub properties: Map<String, Value>,
}

/// What `page.json` holds.
#[derive(Debug, Clone)]
pub struct PageData {
    /// The page object as the API returned it.
    pub page: Value,
    /// Block tree; each block may carry its `children`.
    pub blocks: Vec<Value>,
    pub comments: Vec<Value>,
    /// Property name -> complete value (page objects cut some at 25 items).
    pub complete: Map<String, Value>,
}

impl PageData {
    /// The value of property `name`: the complete one when the backup has it.
    pub fn property(&self, name: &str) -> Option<&Value> {
        self.complete.get(name).or_else(|| self.page["properties"].get(name))
    }

    /// Property names, in the page object's order.
    pub fn property_names(&self) -> Vec<String> {
        let mut names: Vec<String> =
            self.page["properties"].as_object().map(|p| p.keys().cloned().collect()).unwrap_or_default();
        for k in self.complete.keys() {
            if !names.contains(k) {
                names.push(k.clone());
            }
        }
        names
    }
}

#[derive(Debug, Clone)]
pub struct Node {
    pub kind: Kind,
    /// Canonical id of the page or database.
    pub id: String,
    /// Index into [`Backup::repos`].
    pub repo: usize,
    /// Folder in the repository (`""` for a database at the repository root).
    pub folder: String,
    pub title: String,
    pub parent: Option<usize>,
    pub children: Vec<usize>,
    pub page: Option<PageData>,
    pub data_sources: Vec<DataSourceSchema>,
}

impl Node {
    /// `repo/folder`, as the report and `--only` name it.
    pub fn path(&self, repos: &[Repo]) -> String {
        let repo = repos.get(self.repo).map(|r| r.name.as_str()).unwrap_or("");
        if self.folder.is_empty() {
            repo.to_string()
        } else {
            format!("{repo}/{}", self.folder)
        }
    }

    pub fn is_row(&self) -> bool {
        self.page
            .as_ref()
            .is_some_and(|p| p.page["parent"]["type"] == "data_source_id" || p.page["parent"]["type"] == "database_id")
    }
}

/// Every node of the backups read.
#[derive(Debug, Default)]
pub struct Backup {
    pub nodes: Vec<Node>,
    /// Canonical page/database id -> node.
    pub by_id: HashMap<String, usize>,
    /// Canonical data source id -> (database node, index into its data sources).
    pub data_sources: HashMap<String, (usize, usize)>,
    /// Canonical id of every original synced block -> page node holding it.
    pub synced_originals: HashMap<String, usize>,
    /// Originals that some reference shows (their restored id is needed).
    pub synced_referenced: HashSet<String>,
    /// Folders that could not be read, with why.
    pub unreadable: Vec<(String, String)>,
}

fn title_of_page(page: &Value) -> String {
    page["properties"]
        .as_object()
        .and_then(|p| p.values().find(|v| v["type"] == "title"))
        .and_then(|t| t["title"].as_array())
        .map(|runs| runs.iter().filter_map(|r| r["plain_text"].as_str()).collect())
        .unwrap_or_default()
}

fn parent_folder(folder: &str) -> Option<&str> {
    if folder.is_empty() {
        None
    } else {
        Some(folder.rsplit_once('/').map(|(p, _)| p).unwrap_or(""))
    }
}

/// Depth-first walk over a block tree.
pub fn walk_blocks<'a>(blocks: &'a [Value], f: &mut dyn FnMut(&'a Value)) {
    for b in blocks {
        f(b);
        if let Some(kids) = b["children"].as_array() {
            walk_blocks(kids, f);
        }
    }
}

impl Backup {
    /// Read every `page.json` and `schema.json` of `repos`.
    pub fn read(repos: &[Repo]) -> Backup {
        let mut b = Backup::default();
        // (repo, folder) -> node, for the folder fallback.
        let mut by_folder: HashMap<(usize, String), usize> = HashMap::new();
        for (ri, repo) in repos.iter().enumerate() {
            for path in repo.files.keys() {
                let (folder, file) = match path.rsplit_once('/') {
                    Some((f, n)) => (f.to_string(), n),
                    None => (String::new(), path.as_str()),
                };
                let node = match file {
                    "page.json" => b.read_page(repo, ri, &folder, path),
                    "schema.json" => b.read_schema(repo, ri, &folder, path),
                    _ => continue,
                };
                if let Some(n) = node {
                    if b.by_id.contains_key(&b.nodes[n].id) {
                        // The same page twice (e.g. two repositories): the first one wins.
                        b.nodes.pop();
                        continue;
                    }
                    b.by_id.insert(b.nodes[n].id.clone(), n);
                    by_folder.insert((ri, folder), n);
                }
            }
        }
        // Where each block id lives.
        let mut block_home: HashMap<String, usize> = HashMap::new();
        for (i, n) in b.nodes.iter().enumerate() {
            let Some(p) = &n.page else { continue };
            walk_blocks(&p.blocks, &mut |blk| {
                let id = ids::normalize(blk["id"].as_str().unwrap_or(""));
                if blk["type"] == "synced_block" {
                    match blk["synced_block"]["synced_from"]["block_id"].as_str() {
                        None => {
                            b.synced_originals.entry(id.clone()).or_insert(i);
                        }
                        Some(src) => {
                            b.synced_referenced.insert(ids::normalize(src));
                        }
                    }
                }
                block_home.entry(id).or_insert(i);
            });
        }
        for (k, n) in b.nodes.iter().enumerate() {
            if let Kind::Database = n.kind {
                for (j, ds) in n.data_sources.iter().enumerate() {
                    b.data_sources.insert(ds.id.clone(), (k, j));
                }
            }
        }
        // Parents.
        let mut parents = Vec::with_capacity(b.nodes.len());
        for (i, n) in b.nodes.iter().enumerate() {
            let by_ids = match &n.page {
                Some(p) => {
                    let parent = &p.page["parent"];
                    let target = |key: &str| parent[key].as_str().map(ids::normalize);
                    match parent["type"].as_str() {
                        Some("page_id") => target("page_id").and_then(|t| b.by_id.get(&t).copied()),
                        Some("data_source_id") => target("data_source_id")
                            .and_then(|t| b.data_sources.get(&t).map(|(d, _)| *d))
                            .or_else(|| target("database_id").and_then(|t| b.by_id.get(&t).copied())),
                        Some("database_id") => target("database_id").and_then(|t| b.by_id.get(&t).copied()),
                        Some("block_id") => target("block_id").and_then(|t| block_home.get(&t).copied()),
                        _ => None,
                    }
                }
                // A database's parent: the page showing it as a child_database block.
                None => block_home.get(&n.id).copied(),
            }
            .filter(|p| *p != i);
            let by_folder_nesting = || {
                let mut f = parent_folder(&n.folder);
                while let Some(folder) = f {
                    if let Some(p) = by_folder.get(&(n.repo, folder.to_string())) {
                        return Some(*p);
                    }
                    f = parent_folder(folder);
                }
                None
            };
            parents.push(by_ids.or_else(by_folder_nesting));
        }
        // No cycles: a node whose parent chain comes back to it becomes a root.
        for i in 0..parents.len() {
            let mut seen = HashSet::new();
            let mut cur = parents[i];
            while let Some(p) = cur {
                if p == i || !seen.insert(p) {
                    parents[i] = None;
                    break;
                }
                cur = parents[p];
            }
        }
        for (i, p) in parents.iter().enumerate() {
            b.nodes[i].parent = *p;
            if let Some(p) = p {
                b.nodes[*p].children.push(i);
            }
        }
        // Order children: pages by their block's place in the parent, rows by creation time.
        for i in 0..b.nodes.len() {
            let mut kids = std::mem::take(&mut b.nodes[i].children);
            let order: HashMap<String, usize> = match &b.nodes[i].page {
                Some(p) => {
                    let mut o = HashMap::new();
                    let mut n = 0;
                    walk_blocks(&p.blocks, &mut |blk| {
                        if blk["type"] == "child_page" || blk["type"] == "child_database" {
                            o.entry(ids::normalize(blk["id"].as_str().unwrap_or(""))).or_insert(n);
                            n += 1;
                        }
                    });
                    o
                }
                None => HashMap::new(),
            };
            let key = |k: &usize| {
                let n = &b.nodes[*k];
                let created = n.page.as_ref().and_then(|p| p.page["created_time"].as_str()).unwrap_or("").to_string();
                (order.get(&n.id).copied().unwrap_or(usize::MAX), created, n.folder.clone())
            };
            kids.sort_by_key(key);
            b.nodes[i].children = kids;
        }
        b
    }

    /// The JSON file `path` of `repo`; a file that cannot be read or parsed is recorded as
    /// unreadable.
    fn read_json(&mut self, repo: &Repo, path: &str) -> Option<Value> {
        let parsed = repo
            .read(path)
            .map_err(|e| e.to_string())
            .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).map_err(|e| format!("not valid JSON: {e}")));
        parsed.map_err(|e| self.unreadable.push((format!("{}/{path}", repo.name), e))).ok()
    }

    fn read_page(&mut self, repo: &Repo, ri: usize, folder: &str, path: &str) -> Option<usize> {
        let v = self.read_json(repo, path)?;
        let page = v["page"].clone();
        let Some(id) = page["id"].as_str().map(ids::normalize).filter(|i| i.len() == 32) else {
            self.unreadable.push((format!("{}/{path}", repo.name), "has no page id".into()));
            return None;
        };
        let blocks = v["blocks"].as_array().cloned().unwrap_or_default();
        let comments = v["comments"].as_array().cloned().unwrap_or_default();
        let complete = v["complete_properties"].as_object().cloned().unwrap_or_default();
        let title = title_of_page(&page);
        self.nodes.push(Node {
            kind: Kind::Page,
            id,
            repo: ri,
            folder: folder.to_string(),
            title,
            parent: None,
            children: Vec::new(),
            page: Some(PageData { page, blocks, comments, complete }),
            data_sources: Vec::new(),
        });
        Some(self.nodes.len() - 1)
    }

    fn read_schema(&mut self, repo: &Repo, ri: usize, folder: &str, path: &str) -> Option<usize> {
        let v = self.read_json(repo, path)?;
        let Some(id) = v["database_id"].as_str().map(ids::normalize).filter(|i| i.len() == 32) else {
            self.unreadable.push((format!("{}/{path}", repo.name), "has no database_id".into()));
            return None;
        };
        let data_sources = v["data_sources"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|d| DataSourceSchema {
                        id: ids::normalize(d["id"].as_str().unwrap_or("")),
                        name: d["name"].as_str().unwrap_or("").to_string(),
                        title: d["title"].as_str().unwrap_or("").to_string(),
                        properties: d["properties"].as_object().cloned().unwrap_or_default(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        self.nodes.push(Node {
            kind: Kind::Database,
            id,
            repo: ri,
            folder: folder.to_string(),
            title: v["title"].as_str().unwrap_or("").to_string(),
            parent: None,
            children: Vec::new(),
            page: None,
            data_sources,
        });
        Some(self.nodes.len() - 1)
    }

    /// Nodes without a parent in the backup, in repository and folder order.
    pub fn roots(&self) -> Vec<usize> {
        let mut r: Vec<usize> = (0..self.nodes.len()).filter(|i| self.nodes[*i].parent.is_none()).collect();
        r.sort_by(|a, b| {
            (self.nodes[*a].repo, &self.nodes[*a].folder).cmp(&(self.nodes[*b].repo, &self.nodes[*b].folder))
        });
        r
    }

    /// `node` and everything below it, parents before children.
    pub fn subtree(&self, node: usize) -> Vec<usize> {
        let mut out = Vec::new();
        let mut stack = vec![node];
        while let Some(n) = stack.pop() {
            out.push(n);
            for c in self.nodes[n].children.iter().rev() {
                stack.push(*c);
            }
        }
        out
    }

    /// The node `--only` names: `folder` or `repo/folder` (a trailing `/index.md`,
    /// `/page.json`, `/schema.json` or `/` is ignored).
    pub fn find(&self, repos: &[Repo], only: &str) -> Option<usize> {
        let mut p = only.trim().trim_start_matches("./").trim_end_matches('/').to_string();
        for suffix in ["/index.md", "/page.json", "/schema.json", "/README.md"] {
            if let Some(s) = p.strip_suffix(suffix) {
                p = s.to_string();
            }
        }
        (0..self.nodes.len()).find(|i| {
            let n = &self.nodes[*i];
            n.path(repos) == p || (repos.len() == 1 && n.folder == p)
        })
    }

    /// A few folders, for an error message that shows what `--only` could be.
    pub fn sample_paths(&self, repos: &[Repo], n: usize) -> Vec<String> {
        let mut paths: Vec<String> = self.nodes.iter().map(|x| x.path(repos)).collect();
        paths.sort();
        paths.truncate(n);
        paths
    }

    /// Rows of a database node, per data source id.
    pub fn rows_by_data_source(&self, db: usize) -> BTreeMap<String, Vec<usize>> {
        let mut out: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for c in &self.nodes[db].children {
            if let Some(p) = &self.nodes[*c].page {
                let ds = p.page["parent"]["data_source_id"]
                    .as_str()
                    .map(ids::normalize)
                    .or_else(|| self.nodes[db].data_sources.first().map(|d| d.id.clone()))
                    .unwrap_or_default();
                out.entry(ds).or_default().push(*c);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn write(root: &std::path::Path, path: &str, v: Value) {
        let p = root.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, serde_json::to_vec(&v).unwrap()).unwrap();
    }

    fn page(id: &str, parent: Value, title: &str, blocks: Value) -> Value {
        json!({"page": {"object": "page", "id": id, "parent": parent, "created_time": "2026-01-01T00:00:00.000Z",
            "properties": {"title": {"id": "title", "type": "title", "title": [{"plain_text": title}]}}}, "blocks": blocks})
    }

    #[test]
    fn parents_come_from_ids_children_keep_their_block_order() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("notes");
        let (db, ds, row, a, b, c) =
            ("d".repeat(32), "e".repeat(32), "1".repeat(32), "2".repeat(32), "3".repeat(32), "4".repeat(32));
        write(
            &root,
            "schema.json",
            json!({"database_id": db, "title": "Notes", "data_sources": [{"id": ds, "name": "Notes", "title": "Notes", "properties": {}}]}),
        );
        let blocks = json!([
            {"id": "b1", "type": "toggle", "toggle": {"rich_text": []}, "children": [{"id": b, "type": "child_page", "child_page": {"title": "B"}}]},
            {"id": a, "type": "child_page", "child_page": {"title": "A"}}
        ]);
        write(
            &root,
            "row/page.json",
            page(&row, json!({"type": "data_source_id", "data_source_id": ds}), "Row", blocks),
        );
        write(&root, "row/a/page.json", page(&a, json!({"type": "page_id", "page_id": row}), "A", json!([])));
        // B's parent is the toggle block of Row.
        write(&root, "row/b/page.json", page(&b, json!({"type": "block_id", "block_id": "b1"}), "B", json!([])));
        // C names no parent the backup knows: the folder decides.
        write(
            &root,
            "row/c/page.json",
            page(&c, json!({"type": "page_id", "page_id": "9".repeat(32)}), "C", json!([])),
        );
        std::fs::write(root.join("README.md"), "x").unwrap();
        let repos = super::super::source::open(&root, None, chrono_tz::UTC).unwrap();
        let bk = Backup::read(&repos);
        let n = |id: &str| bk.by_id[id];
        assert_eq!(bk.nodes[n(&row)].parent, Some(n(&db)));
        assert_eq!(bk.nodes[n(&b)].parent, Some(n(&row)));
        assert_eq!(bk.nodes[n(&c)].parent, Some(n(&row)));
        // B (inside the toggle) comes before A; C, found by folder only, last.
        assert_eq!(bk.nodes[n(&row)].children, vec![n(&b), n(&a), n(&c)]);
        assert_eq!(bk.roots(), vec![n(&db)]);
        assert_eq!(bk.find(&repos, "row/a/index.md"), Some(n(&a)));
        assert_eq!(bk.find(&repos, "notes/row"), Some(n(&row)));
        assert_eq!(bk.subtree(n(&row)).len(), 4);
    }
}
