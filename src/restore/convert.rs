//! Turning what the API returned (the shapes in `page.json` and `schema.json`) into what the API
//! accepts: rich text, blocks, page property values, icons and covers, database schemas. Pure:
//! ids of restored objects, people and files come from a [`Resolve`]; files to upload are
//! returned as [`FileNeed`]s with a placeholder id the caller swaps for the upload's id.
//!
//! The rules come from Notion's request types (the official SDK's `BlockObjectRequest`,
//! `RichTextItemRequest`, `CreatePageBodyParameters`, `PropertyConfigurationRequest`) and its
//! request limits: text is split at 2,000 characters and rich-text arrays at 100 items, never
//! cut. Whatever cannot be written (read-only values, block types the API cannot create, people
//! missing from the target workspace, ...) is said, one line each, in [`Converter::losses`].

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use crate::ids;

/// `text.content`, `text.link.url`, URLs: at most this many UTF-16 units (Notion counts as
/// JavaScript does).
pub const MAX_TEXT: usize = 2000;
pub const MAX_RICH_TEXT_ITEMS: usize = 100;
pub const MAX_EQUATION: usize = 1000;
pub const MAX_URL: usize = 2000;
pub const MAX_EMAIL_PHONE: usize = 200;
pub const MAX_ARRAY: usize = 100;

/// What a conversion needs to know about the restore.
pub trait Resolve {
    /// New id of a page or database of this restore, once it exists.
    fn node(&self, old: &str) -> Option<String>;
    /// True when the page or database is part of this restore (even if not created yet).
    fn planned(&self, old: &str) -> bool;
    /// New id of a restored data source.
    fn data_source(&self, old: &str) -> Option<String>;
    /// True when the data source is part of this restore.
    fn data_source_planned(&self, old: &str) -> bool;
    /// New id of a restored original synced block.
    fn synced(&self, old: &str) -> Option<String>;
    /// True when other blocks show this original synced block (its new id will be needed).
    fn synced_needed(&self, old: &str) -> bool;
    /// The target workspace's user for this person, when there is one.
    fn user(&self, old: &str) -> Option<String>;
    /// A person's name, when the backup knows it.
    fn user_name(&self, old: &str) -> Option<String>;
    /// Size of a file of the backup (a repository path), when the backup holds it.
    fn file_size(&self, path: &str) -> Option<u64>;
    /// Largest file the target workspace accepts (`GET /users/me`).
    fn upload_limit(&self) -> u64;
}

/// A file to upload for a request: its placeholder id in the request, and where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct FileNeed {
    pub placeholder: String,
    /// Repository path of the file.
    pub path: String,
    /// File name to give it in Notion.
    pub name: String,
}

/// The placeholder used for the `n`-th file of a request: as long as a real id, so a request's
/// size is known before its files are uploaded.
pub fn placeholder(n: usize) -> String {
    format!("f11e0000-0000-4000-8000-{n:012x}")
}

/// One block to create, with the blocks to create inside it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReqBlock {
    /// The request object without `children`.
    pub json: Value,
    pub kids: Vec<ReqBlock>,
    /// Notion refuses this block without children (table, column list, column).
    pub needs_kids: bool,
    /// Canonical id of the backed-up block (parts of a split block share it).
    pub old_id: String,
    /// The restored id of this block is needed later (an original synced block shown
    /// elsewhere).
    pub keep_id: bool,
}

impl ReqBlock {
    fn leaf(json: Value, old_id: &str) -> ReqBlock {
        ReqBlock { json, kids: Vec::new(), needs_kids: false, old_id: old_id.to_string(), keep_id: false }
    }

    /// Blocks in this subtree, itself included.
    pub fn count(&self) -> usize {
        1 + self.kids.iter().map(ReqBlock::count).sum::<usize>()
    }

    /// Levels of this subtree (1 for a leaf).
    pub fn height(&self) -> usize {
        1 + self.kids.iter().map(ReqBlock::height).max().unwrap_or(0)
    }

    /// True when this subtree holds a block whose id is needed.
    pub fn keeps_id_below(&self) -> bool {
        self.kids.iter().any(|k| k.keep_id || k.keeps_id_below())
    }

    /// The request object with its whole subtree as `children`.
    pub fn with_children(&self) -> Value {
        let mut v = self.json.clone();
        if !self.kids.is_empty() {
            let ty = v["type"].as_str().unwrap_or("").to_string();
            v[&ty]["children"] = Value::Array(self.kids.iter().map(ReqBlock::with_children).collect());
        }
        v
    }
}

/// Converts the content of one page, collecting what it loses and which files it needs.
pub struct Converter<'a> {
    r: &'a dyn Resolve,
    /// Name of the page's repository (for messages).
    repo: String,
    /// Repository path of the page's folder (file paths in `page.json` are relative to it).
    folder: String,
    pub losses: Vec<String>,
    /// Problems the user must fix (a file over the upload limit), each with the fix.
    pub errors: Vec<String>,
    pub files: Vec<FileNeed>,
    /// People shown as text because they are not in the target workspace.
    pub missing_people: BTreeSet<String>,
    /// Set by the last [`Converter::upload`] that refused a file over the upload limit.
    oversized: Option<String>,
}

/// `1.5 MB`-style sizes.
pub fn human_bytes(n: u64) -> String {
    const UNITS: &[&str] = &["B", "KB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < UNITS.len() {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

fn utf16_len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// Pieces of `s` of at most `max` UTF-16 units, never splitting a character.
pub fn split_text(s: &str, max: usize) -> Vec<String> {
    if utf16_len(s) <= max {
        return vec![s.to_string()];
    }
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut n = 0;
    for c in s.chars() {
        let w = c.len_utf16();
        if n + w > max {
            out.push(std::mem::take(&mut cur));
            n = 0;
        }
        cur.push(c);
        n += w;
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn annotations(item: &Value) -> Value {
    let a = &item["annotations"];
    let mut o = Map::new();
    for k in ["bold", "italic", "strikethrough", "underline", "code"] {
        if a[k].as_bool() == Some(true) {
            o.insert(k.into(), json!(true));
        }
    }
    if let Some(c) = a["color"].as_str().filter(|c| *c != "default") {
        o.insert("color".into(), json!(c));
    }
    Value::Object(o)
}

fn text_item(content: &str, link: Option<&str>, ann: &Value) -> Value {
    let mut t = json!({"content": content});
    if let Some(l) = link {
        t["link"] = json!({"url": l});
    }
    let mut v = json!({"type": "text", "text": t});
    if ann.as_object().is_some_and(|o| !o.is_empty()) {
        v["annotations"] = ann.clone();
    }
    v
}

fn notion_url(id: &str) -> String {
    format!("https://www.notion.so/{}", ids::normalize(id))
}

const LANGUAGES: &[&str] = &[
    "abap",
    "abc",
    "agda",
    "arduino",
    "ascii art",
    "assembly",
    "bash",
    "basic",
    "bnf",
    "c",
    "c#",
    "c++",
    "clojure",
    "coffeescript",
    "coq",
    "css",
    "dart",
    "dhall",
    "diff",
    "docker",
    "ebnf",
    "elixir",
    "elm",
    "erlang",
    "f#",
    "flow",
    "fortran",
    "gherkin",
    "glsl",
    "go",
    "graphql",
    "groovy",
    "haskell",
    "hcl",
    "html",
    "idris",
    "java",
    "javascript",
    "json",
    "julia",
    "kotlin",
    "latex",
    "less",
    "lisp",
    "livescript",
    "llvm ir",
    "lua",
    "makefile",
    "markdown",
    "markup",
    "matlab",
    "mathematica",
    "mermaid",
    "nix",
    "notion formula",
    "objective-c",
    "ocaml",
    "pascal",
    "perl",
    "php",
    "plain text",
    "powershell",
    "prolog",
    "protobuf",
    "purescript",
    "python",
    "r",
    "racket",
    "reason",
    "ruby",
    "rust",
    "sass",
    "scala",
    "scheme",
    "scss",
    "shell",
    "smalltalk",
    "solidity",
    "sql",
    "swift",
    "toml",
    "typescript",
    "vb.net",
    "verilog",
    "vhdl",
    "visual basic",
    "webassembly",
    "xml",
    "yaml",
    "java/c/c++/c#",
];

const COLORS: &[&str] = &["default", "gray", "brown", "orange", "yellow", "green", "blue", "purple", "pink", "red"];

/// Block types with rich text and optional children, and the extra keys each may carry.
fn text_block_keys(ty: &str) -> Option<&'static [&'static str]> {
    Some(match ty {
        "paragraph" => &["color", "icon"],
        "bulleted_list_item" | "numbered_list_item" | "quote" | "toggle" => &["color"],
        "to_do" => &["color", "checked"],
        "callout" => &["color", "icon"],
        "heading_1" | "heading_2" | "heading_3" | "heading_4" => &["color", "is_toggleable"],
        "template" => &[],
        _ => return None,
    })
}

impl<'a> Converter<'a> {
    pub fn new(r: &'a dyn Resolve, repo: &str, folder: &str) -> Converter<'a> {
        Converter {
            r,
            repo: repo.to_string(),
            folder: folder.to_string(),
            losses: Vec::new(),
            errors: Vec::new(),
            files: Vec::new(),
            missing_people: BTreeSet::new(),
            oversized: None,
        }
    }

    fn lose(&mut self, what: impl Into<String>) {
        let w = what.into();
        if !self.losses.contains(&w) {
            self.losses.push(w);
        }
    }

    /// A file of the backup to upload, by its path relative to the page folder. `None` when the
    /// backup does not hold it, or when it is over the workspace's upload limit (then an error
    /// says so and [`Converter::oversized`] names it).
    fn upload(&mut self, rel: &str, name: Option<&str>) -> Option<Value> {
        self.oversized = None;
        let path = super::source::join(&self.folder, rel)?;
        let size = self.r.file_size(&path)?;
        let limit = self.r.upload_limit();
        if size > limit {
            let shown = name.unwrap_or_else(|| path.rsplit('/').next().unwrap_or("file")).to_string();
            self.errors.push(format!(
                "the file {shown:?} ({}) is larger than the target workspace's upload limit ({}), so it was not uploaded (a line on the page says so): add it by hand from the backup ({}/{path}), or upgrade the Notion plan and restore this page again with --only into another page",
                human_bytes(size),
                human_bytes(limit),
                self.repo
            ));
            self.oversized = Some(format!("{shown} ({})", human_bytes(size)));
            return None;
        }
        let name = name
            .filter(|n| !n.trim().is_empty())
            .map(str::to_string)
            .unwrap_or_else(|| path.rsplit('/').next().unwrap_or("file").to_string());
        let ph = placeholder(self.files.len());
        self.files.push(FileNeed { placeholder: ph.clone(), path, name });
        Some(json!({"type": "file_upload", "file_upload": {"id": ph}}))
    }

    // ----------------------------------------------------------------------------------------
    // Rich text
    // ----------------------------------------------------------------------------------------

    /// Request items for one response item (several when its text is longer than 2,000).
    fn rich_item(&mut self, item: &Value) -> Vec<Value> {
        let ann = annotations(item);
        let plain = item["plain_text"].as_str().unwrap_or("");
        let as_text = |s: &str, link: Option<&str>| -> Vec<Value> {
            let link = link.filter(|l| utf16_len(l) <= MAX_URL && !l.is_empty());
            split_text(s, MAX_TEXT).iter().filter(|p| !p.is_empty()).map(|p| text_item(p, link, &ann)).collect()
        };
        match item["type"].as_str() {
            Some("text") => {
                let content = item["text"]["content"].as_str().unwrap_or(plain);
                let link = item["text"]["link"]["url"].as_str();
                if link.is_some_and(|l| utf16_len(l) > MAX_URL) {
                    self.lose("a link longer than 2,000 characters (its text is kept, the link is not)");
                }
                as_text(content, link)
            }
            Some("equation") => {
                let e = item["equation"]["expression"].as_str().unwrap_or(plain);
                if utf16_len(e) > MAX_EQUATION {
                    self.lose("an inline equation longer than 1,000 characters (kept as code text)");
                    let mut a = ann.clone();
                    a["code"] = json!(true);
                    return split_text(e, MAX_TEXT).iter().map(|p| text_item(p, None, &a)).collect();
                }
                let mut v = json!({"type": "equation", "equation": {"expression": e}});
                if ann.as_object().is_some_and(|o| !o.is_empty()) {
                    v["annotations"] = ann;
                }
                vec![v]
            }
            Some("mention") => {
                let m = &item["mention"];
                let mention = |payload: Value| -> Vec<Value> {
                    let mut v = json!({"type": "mention", "mention": payload});
                    if ann.as_object().is_some_and(|o| !o.is_empty()) {
                        v["annotations"] = ann.clone();
                    }
                    vec![v]
                };
                match m["type"].as_str() {
                    Some(kind @ ("page" | "database")) => {
                        let old = m[kind]["id"].as_str().unwrap_or("");
                        match self.r.node(old) {
                            Some(new) => mention(json!({"type": kind, kind: {"id": ids::dashed(&new)}})),
                            // Outside the restore (or not created): a link to the original.
                            None => as_text(if plain.is_empty() { "Untitled" } else { plain }, Some(&notion_url(old))),
                        }
                    }
                    Some("user") => {
                        let old = m["user"]["id"].as_str().unwrap_or("");
                        match self.r.user(old) {
                            Some(new) => mention(json!({"type": "user", "user": {"id": new}})),
                            None => {
                                let name = self
                                    .r
                                    .user_name(old)
                                    .or_else(|| {
                                        Some(plain.trim_start_matches('@').to_string()).filter(|s| !s.is_empty())
                                    })
                                    .unwrap_or_else(|| format!("user {}", ids::dashed(old)));
                                self.missing_people.insert(name.clone());
                                as_text(&format!("@{name}"), None)
                            }
                        }
                    }
                    Some("date") => {
                        let d = &m["date"];
                        let mut date = json!({"start": d["start"]});
                        if !d["end"].is_null() {
                            date["end"] = d["end"].clone();
                        }
                        if !d["time_zone"].is_null() {
                            date["time_zone"] = d["time_zone"].clone();
                        }
                        mention(json!({"type": "date", "date": date}))
                    }
                    Some("template_mention") => {
                        mention(json!({"type": "template_mention", "template_mention": m["template_mention"]}))
                    }
                    Some(other) => {
                        // link_preview, link_mention, custom_emoji of another workspace, ...: no
                        // request form (or none valid elsewhere); the text and link stay.
                        self.lose(format!(
                            "a {other} mention (kept as text{})",
                            if item["href"].is_string() { " with its link" } else { "" }
                        ));
                        as_text(plain, item["href"].as_str())
                    }
                    None => as_text(plain, None),
                }
            }
            _ => as_text(plain, item["href"].as_str()),
        }
    }

    /// A rich-text array in request form, cut into arrays of at most 100 items (one per block
    /// when a block needs several).
    pub fn rich_text_parts(&mut self, items: &Value) -> Vec<Vec<Value>> {
        let mut out: Vec<Value> = Vec::new();
        for it in items.as_array().map(Vec::as_slice).unwrap_or(&[]) {
            out.extend(self.rich_item(it));
        }
        if out.len() > MAX_RICH_TEXT_ITEMS {
            out = merge_runs(out);
        }
        if out.is_empty() {
            return vec![Vec::new()];
        }
        out.chunks(MAX_RICH_TEXT_ITEMS).map(<[Value]>::to_vec).collect()
    }

    /// A rich-text array that must stay one array (a property, a caption, a table cell): more
    /// than 100 items keep their text as plain runs.
    pub fn rich_text(&mut self, items: &Value) -> Vec<Value> {
        let parts = self.rich_text_parts(items);
        if parts.len() == 1 {
            return parts.into_iter().next().unwrap_or_default();
        }
        self.lose("formatting of a text with more than 100 pieces (its text is kept)");
        let all: String = parts
            .iter()
            .flatten()
            .map(|i| i["text"]["content"].as_str().or(i["equation"]["expression"].as_str()).unwrap_or("").to_string())
            .collect();
        split_text(&all, MAX_TEXT).iter().map(|p| text_item(p, None, &json!({}))).take(MAX_RICH_TEXT_ITEMS).collect()
    }

    // ----------------------------------------------------------------------------------------
    // Icons, covers, media
    // ----------------------------------------------------------------------------------------

    /// A page/database/callout icon in request form.
    pub fn icon(&mut self, icon: &Value) -> Option<Value> {
        match icon["type"].as_str()? {
            "emoji" => Some(json!({"type": "emoji", "emoji": icon["emoji"]})),
            "icon" => Some(json!({"type": "icon", "icon": icon["icon"]})),
            "external" | "file" => {
                let ty = icon["type"].as_str()?;
                let url = icon[ty]["url"].as_str()?;
                if url.contains("://") {
                    if ty == "external" && utf16_len(url) <= MAX_URL {
                        return Some(json!({"type": "external", "external": {"url": url}}));
                    }
                    self.lose("an icon whose file is not in the backup");
                    return None;
                }
                let up = self.upload(url, None);
                if up.is_none() && self.oversized.is_none() {
                    self.lose("an icon whose file is not in the backup");
                }
                up
            }
            "custom_emoji" => {
                self.lose(format!(
                    "a custom emoji icon ({}; custom emojis belong to the original workspace)",
                    icon["custom_emoji"]["name"].as_str().unwrap_or("unnamed")
                ));
                None
            }
            _ => None,
        }
    }

    pub fn cover(&mut self, cover: &Value) -> Option<Value> {
        let ty = cover["type"].as_str()?;
        let url = cover[ty]["url"].as_str()?;
        if url.contains("://") {
            if ty == "external" && utf16_len(url) <= MAX_URL {
                return Some(json!({"type": "external", "external": {"url": url}}));
            }
            self.lose("a cover whose file is not in the backup");
            return None;
        }
        let up = self.upload(url, None);
        if up.is_none() && self.oversized.is_none() {
            self.lose("a cover whose file is not in the backup");
        }
        up
    }

    /// The file part of an image/video/audio/pdf/file block or a `files` entry: external stays
    /// external, a file of the backup is uploaded.
    fn media_file(&mut self, p: &Value, what: &str, name: Option<&str>) -> Option<Value> {
        let ty = p["type"].as_str()?;
        let url = p[ty]["url"].as_str().unwrap_or("");
        if url.contains("://") {
            if ty == "external" && utf16_len(url) <= MAX_URL {
                return Some(json!({"type": "external", "external": {"url": url}}));
            }
            self.lose(format!("{what} that the backup does not hold (it was not downloaded)"));
            return None;
        }
        if ty == "external" {
            // The backup replaced the external link by its downloaded copy.
            self.lose(format!("the original link of {what} (the backup holds its downloaded copy, uploaded instead)"));
        }
        let up = self.upload(url, name);
        if up.is_none() && self.oversized.is_none() {
            self.lose(format!("{what} that the backup does not hold ({url} is missing)"));
        }
        up
    }

    // ----------------------------------------------------------------------------------------
    // Blocks
    // ----------------------------------------------------------------------------------------

    /// Convert one block (with its backed-up children) into the blocks to create: none for a
    /// block that cannot be created, several for a block whose text needs several.
    /// `child_page`/`child_database` blocks become links to the restored pages (the caller
    /// creates the pages themselves).
    pub fn block(&mut self, b: &Value) -> Vec<ReqBlock> {
        let ty = b["type"].as_str().unwrap_or("").to_string();
        let p = &b[&ty];
        let old_id = ids::normalize(b["id"].as_str().unwrap_or(""));
        let kids_src: Vec<Value> = b["children"].as_array().cloned().unwrap_or_default();
        let kids = |c: &mut Converter| -> Vec<ReqBlock> { kids_src.iter().flat_map(|k| c.block(k)).collect() };
        let simple = |json: Value| vec![ReqBlock::leaf(json, &old_id)];
        if let Some(extra) = text_block_keys(&ty) {
            let parts = self.rich_text_parts(&p["rich_text"]);
            let n = parts.len();
            if n > 1 {
                self.lose(format!("the unity of a {ty} with more than 100 text pieces (split into {n} blocks)"));
            }
            let mut out: Vec<ReqBlock> = Vec::with_capacity(n);
            for (i, rt) in parts.into_iter().enumerate() {
                let mut payload = json!({"rich_text": rt});
                for k in extra {
                    match *k {
                        "icon" => {
                            if let Some(icon) = p.get("icon").filter(|i| !i.is_null()) {
                                if let Some(ic) = self.icon(icon) {
                                    payload["icon"] = ic;
                                }
                            }
                        }
                        "color" => {
                            if let Some(c) = p["color"].as_str() {
                                payload["color"] = json!(c);
                            }
                        }
                        k => {
                            if let Some(v) = p.get(k).filter(|v| !v.is_null()) {
                                payload[k] = v.clone();
                            }
                        }
                    }
                }
                let mut rb = ReqBlock::leaf(json!({"type": ty, ty.as_str(): payload}), &old_id);
                if i + 1 == n {
                    rb.kids = kids(self);
                }
                out.push(rb);
            }
            if ty == "numbered_list_item"
                && (p.get("list_format").is_some_and(|f| !f.is_null() && f != "numbers")
                    || p.get("list_start_index").is_some_and(|s| !s.is_null() && s != 1))
            {
                self.lose("the numbering style of a numbered list (the API cannot set it)");
            }
            // A heading with children must be toggleable to take them.
            if ty.starts_with("heading_") && p["is_toggleable"].as_bool() != Some(true) {
                if let Some(last) = out.last_mut().filter(|l| !l.kids.is_empty()) {
                    last.json[&ty]["is_toggleable"] = json!(true);
                }
            }
            return out;
        }
        match ty.as_str() {
            "code" => {
                let rt = self.rich_text(&p["rich_text"]);
                let caption = self.rich_text(&p["caption"]);
                let lang = p["language"].as_str().unwrap_or("plain text");
                let language = if LANGUAGES.contains(&lang) {
                    lang.to_string()
                } else {
                    self.lose(format!("the language {lang:?} of a code block (shown as plain text)"));
                    "plain text".into()
                };
                simple(json!({"type": "code", "code": {"rich_text": rt, "caption": caption, "language": language}}))
            }
            "equation" => {
                let e = p["expression"].as_str().unwrap_or("");
                if utf16_len(e) > MAX_EQUATION {
                    self.lose("an equation longer than 1,000 characters (kept as a LaTeX code block)");
                    let rt: Vec<Value> =
                        split_text(e, MAX_TEXT).iter().map(|s| text_item(s, None, &json!({}))).collect();
                    return simple(json!({"type": "code", "code": {"rich_text": rt, "language": "latex"}}));
                }
                simple(json!({"type": "equation", "equation": {"expression": e}}))
            }
            "divider" | "breadcrumb" => simple(json!({"type": ty, ty.as_str(): {}})),
            "table_of_contents" => {
                let c = p["color"].as_str().unwrap_or("default");
                simple(json!({"type": "table_of_contents", "table_of_contents": {"color": c}}))
            }
            "link_to_page" => {
                let kind = p["type"].as_str().unwrap_or("page_id");
                let old = p[kind].as_str().unwrap_or("");
                match (kind, self.r.node(old)) {
                    ("page_id" | "database_id", Some(new)) => {
                        simple(json!({"type": "link_to_page", "link_to_page": {"type": kind, kind: ids::dashed(&new)}}))
                    }
                    ("page_id" | "database_id", None) => {
                        // Outside the restore: a link to the original.
                        let rt = vec![
                            text_item("↗ ", None, &json!({})),
                            text_item(&notion_url(old), Some(&notion_url(old)), &json!({})),
                        ];
                        simple(json!({"type": "paragraph", "paragraph": {"rich_text": rt}}))
                    }
                    _ => {
                        self.lose("a link to a comment");
                        Vec::new()
                    }
                }
            }
            "child_page" | "child_database" => {
                // A nested child page or database: created at the page level by the caller;
                // here a link to it keeps its place.
                let kind = if ty == "child_page" { "page_id" } else { "database_id" };
                match self.r.node(&old_id) {
                    Some(new) => {
                        simple(json!({"type": "link_to_page", "link_to_page": {"type": kind, kind: ids::dashed(&new)}}))
                    }
                    None if self.r.planned(&old_id) => simple(
                        json!({"type": "link_to_page", "link_to_page": {"type": kind, kind: ids::dashed(&old_id)}}),
                    ),
                    None => {
                        let title = p["title"].as_str().unwrap_or("Untitled");
                        if ty == "child_database" {
                            self.lose(format!(
                                "the database view {title:?} (its database is not in the backup; a link to it is kept)"
                            ));
                        } else {
                            self.lose(format!("the child page {title:?} (not in the backup; a link to it is kept)"));
                        }
                        let rt = vec![text_item(title, Some(&notion_url(&old_id)), &json!({}))];
                        simple(json!({"type": "paragraph", "paragraph": {"rich_text": rt}}))
                    }
                }
            }
            "table" => {
                let width = p["table_width"].as_u64().unwrap_or(1).max(1);
                let rows: Vec<ReqBlock> = kids_src
                    .iter()
                    .filter(|k| k["type"] == "table_row")
                    .map(|row| {
                        let mut cells: Vec<Value> = row["table_row"]["cells"]
                            .as_array()
                            .map(|c| c.iter().map(|cell| Value::Array(self.rich_text(cell))).collect())
                            .unwrap_or_default();
                        cells.resize(width as usize, json!([]));
                        ReqBlock::leaf(
                            json!({"type": "table_row", "table_row": {"cells": cells}}),
                            &ids::normalize(row["id"].as_str().unwrap_or("")),
                        )
                    })
                    .collect();
                if kids_src.iter().any(|k| k["type"] != "table_row") {
                    self.lose("blocks inside a table that are not table rows");
                }
                if rows.is_empty() {
                    return Vec::new();
                }
                let mut t = ReqBlock::leaf(
                    json!({"type": "table", "table": {"table_width": width,
                        "has_column_header": p["has_column_header"].as_bool().unwrap_or(false),
                        "has_row_header": p["has_row_header"].as_bool().unwrap_or(false)}}),
                    &old_id,
                );
                t.kids = rows;
                t.needs_kids = true;
                vec![t]
            }
            "column_list" => {
                let mut cols: Vec<ReqBlock> = Vec::new();
                for c in kids_src.iter().filter(|k| k["type"] == "column") {
                    let mut col = ReqBlock::leaf(
                        json!({"type": "column", "column": {}}),
                        &ids::normalize(c["id"].as_str().unwrap_or("")),
                    );
                    if let Some(r) = c["column"]["width_ratio"].as_f64() {
                        col.json["column"]["width_ratio"] = json!(r);
                    }
                    col.kids = c["children"]
                        .as_array()
                        .map(|a| a.iter().flat_map(|k| self.block(k)).collect())
                        .unwrap_or_default();
                    if col.kids.is_empty() {
                        col.kids.push(ReqBlock::leaf(json!({"type": "paragraph", "paragraph": {"rich_text": []}}), ""));
                    }
                    col.needs_kids = true;
                    cols.push(col);
                }
                match cols.len() {
                    0 => Vec::new(),
                    // Notion wants at least two columns: one column's content stands alone.
                    1 => cols.pop().map(|c| c.kids).unwrap_or_default(),
                    _ => {
                        let mut l = ReqBlock::leaf(json!({"type": "column_list", "column_list": {}}), &old_id);
                        l.kids = cols;
                        l.needs_kids = true;
                        vec![l]
                    }
                }
            }
            "column" => kids(self),
            "tab" => {
                let mut t = ReqBlock::leaf(json!({"type": "tab", "tab": {}}), &old_id);
                t.kids = kids(self);
                t.needs_kids = true;
                if t.kids.is_empty() {
                    return Vec::new();
                }
                vec![t]
            }
            "synced_block" => match p["synced_from"]["block_id"].as_str() {
                None => {
                    let mut s =
                        ReqBlock::leaf(json!({"type": "synced_block", "synced_block": {"synced_from": null}}), &old_id);
                    s.kids = kids(self);
                    s.keep_id = self.r.synced_needed(&old_id);
                    vec![s]
                }
                Some(src) => match self.r.synced(src) {
                    Some(new) => simple(json!({"type": "synced_block",
                        "synced_block": {"synced_from": {"type": "block_id", "block_id": ids::dashed(&new)}}})),
                    None => {
                        self.lose("a synced block's link to its original (its original is not restored; the content is kept as a copy)");
                        let mut s = ReqBlock::leaf(
                            json!({"type": "synced_block", "synced_block": {"synced_from": null}}),
                            &old_id,
                        );
                        s.kids = kids(self);
                        vec![s]
                    }
                },
            },
            "bookmark" | "embed" => {
                let url = p["url"].as_str().unwrap_or("");
                let caption = self.rich_text(&p["caption"]);
                if url.is_empty() || utf16_len(url) > MAX_URL {
                    self.lose(format!("an empty or over-long {ty} link"));
                    return Vec::new();
                }
                simple(json!({"type": ty, ty.as_str(): {"url": url, "caption": caption}}))
            }
            "image" | "video" | "audio" | "pdf" | "file" => {
                let name = p["name"].as_str();
                let what = match ty.as_str() {
                    "image" => "an image",
                    "video" => "a video",
                    "audio" => "an audio file",
                    "pdf" => "a PDF",
                    _ => "a file",
                };
                let Some(mut payload) = self.media_file(p, what, name) else {
                    // Over the upload limit: a line says what is missing and where it is.
                    return match self.oversized.take() {
                        Some(f) => simple(json!({"type": "paragraph", "paragraph": {"rich_text": [
                            {"type": "text", "text": {"content": format!("📎 {f} was not restored: larger than this workspace's upload limit. It is in the backup.")},
                             "annotations": {"italic": true, "color": "gray"}}]}})),
                        None => Vec::new(),
                    };
                };
                payload["caption"] = Value::Array(self.rich_text(&p["caption"]));
                if ty == "file" {
                    if let Some(n) = name.filter(|n| !n.is_empty()) {
                        payload["name"] = json!(n);
                    }
                }
                simple(json!({"type": ty, ty.as_str(): payload}))
            }
            "link_preview" => {
                let url = p["url"].as_str().unwrap_or("");
                self.lose("a link preview (restored as a bookmark: only link-preview integrations create them)");
                if url.is_empty() || utf16_len(url) > MAX_URL {
                    return Vec::new();
                }
                simple(json!({"type": "bookmark", "bookmark": {"url": url, "caption": []}}))
            }
            "meeting_notes" | "transcription" => {
                let title = self.rich_text(&p["title"]);
                self.lose("AI meeting notes (the API cannot create them; their text is kept in a toggle)");
                let mut t = ReqBlock::leaf(json!({"type": "toggle", "toggle": {"rich_text": title}}), &old_id);
                t.kids = kids(self);
                vec![t]
            }
            "unsupported" => {
                let what = p["block_type"].as_str().unwrap_or("unsupported");
                self.lose(format!("a {what} block (Notion's API can neither read nor create it)"));
                Vec::new()
            }
            other => {
                // A type this tool does not know: its text, if any, survives as a paragraph.
                let rt = p.get("rich_text").cloned().unwrap_or(Value::Null);
                self.lose(format!("a {other} block (an unknown type; its text, if any, is kept as a paragraph)"));
                if rt.as_array().is_some_and(|a| !a.is_empty()) {
                    let parts = self.rich_text_parts(&rt);
                    let mut out: Vec<ReqBlock> = parts
                        .into_iter()
                        .map(|rt| ReqBlock::leaf(json!({"type": "paragraph", "paragraph": {"rich_text": rt}}), &old_id))
                        .collect();
                    if let Some(last) = out.last_mut() {
                        last.kids = kids(self);
                    }
                    out
                } else {
                    Vec::new()
                }
            }
        }
    }

    // ----------------------------------------------------------------------------------------
    // Page properties
    // ----------------------------------------------------------------------------------------

    /// Request value of one property for creating a row (`None`: nothing to send). Relations
    /// are left to [`Converter::relation_value`]; read-only values are listed in the losses.
    /// `restored_type` is the type the restored schema gives the property (a status becomes a
    /// select, a relation to a database outside the restore becomes text).
    pub fn property_value(&mut self, name: &str, v: &Value, restored_type: &str) -> Option<Value> {
        let ty = v["type"].as_str()?;
        let val = &v[ty];
        match ty {
            "title" | "rich_text" => {
                let rt = self.rich_text(val);
                Some(json!({ty: rt}))
            }
            "number" => val.as_f64().map(|_| json!({"number": val})),
            "checkbox" => Some(json!({"checkbox": val.as_bool().unwrap_or(false)})),
            "url" => {
                let s = val.as_str()?;
                if utf16_len(s) > MAX_URL {
                    self.lose(format!("the value of {name:?} (a URL longer than 2,000 characters)"));
                    return None;
                }
                Some(json!({"url": s}))
            }
            "email" | "phone_number" => {
                let s = val.as_str()?;
                if utf16_len(s) > MAX_EMAIL_PHONE {
                    self.lose(format!("the value of {name:?} (longer than 200 characters)"));
                    return None;
                }
                Some(json!({ty: s}))
            }
            "select" | "status" => {
                let n = val["name"].as_str()?;
                let key = if restored_type == "status" { "status" } else { "select" };
                Some(json!({key: {"name": n}}))
            }
            "multi_select" => {
                let names: Vec<Value> =
                    val.as_array()?.iter().filter_map(|o| o["name"].as_str()).map(|n| json!({"name": n})).collect();
                if names.is_empty() {
                    return None;
                }
                if names.len() > MAX_ARRAY {
                    self.lose(format!("{} options of {name:?} (Notion takes 100 per page)", names.len() - MAX_ARRAY));
                }
                Some(json!({"multi_select": names.into_iter().take(MAX_ARRAY).collect::<Vec<_>>()}))
            }
            "date" => {
                if val.is_null() {
                    return None;
                }
                let mut d = json!({"start": val["start"]});
                if !val["end"].is_null() {
                    d["end"] = val["end"].clone();
                }
                if !val["time_zone"].is_null() {
                    d["time_zone"] = val["time_zone"].clone();
                }
                Some(json!({"date": d}))
            }
            "people" => {
                let mut out = Vec::new();
                for p in val.as_array()? {
                    let id = p["id"].as_str().unwrap_or("");
                    if p["object"] == "group" {
                        self.lose(format!(
                            "the group {:?} in {name:?} (groups belong to the original workspace)",
                            p["name"].as_str().unwrap_or("?")
                        ));
                        continue;
                    }
                    match self.r.user(id) {
                        Some(new) => out.push(json!({"id": new})),
                        None => {
                            let n = p["name"]
                                .as_str()
                                .map(str::to_string)
                                .or_else(|| self.r.user_name(id))
                                .unwrap_or_else(|| format!("user {}", ids::dashed(id)));
                            self.missing_people.insert(n.clone());
                            self.lose(format!("{n} in {name:?} (not a member of the target workspace)"));
                        }
                    }
                }
                if out.is_empty() {
                    return None;
                }
                out.truncate(MAX_ARRAY);
                Some(json!({"people": out}))
            }
            "files" => {
                let mut out = Vec::new();
                for (i, f) in val.as_array()?.iter().enumerate() {
                    let fname = f["name"]
                        .as_str()
                        .filter(|n| !n.is_empty())
                        .map(str::to_string)
                        .unwrap_or_else(|| format!("file {}", i + 1));
                    let what = format!("the file {fname:?} of {name:?}");
                    if let Some(mut entry) = self.media_file(f, &what, Some(&fname)) {
                        entry["name"] = json!(fname.chars().take(100).collect::<String>());
                        out.push(entry);
                    }
                }
                if out.is_empty() {
                    return None;
                }
                Some(json!({"files": out}))
            }
            "place" => {
                if val.is_null() {
                    return None;
                }
                let mut pl = Map::new();
                for k in ["lat", "lon", "name", "address", "aws_place_id", "google_place_id"] {
                    if let Some(x) = val.get(k).filter(|x| !x.is_null()) {
                        pl.insert(k.into(), x.clone());
                    }
                }
                Some(json!({"place": pl}))
            }
            "relation" => None,
            "formula" | "rollup" | "created_time" | "created_by" | "last_edited_time" | "last_edited_by"
            | "unique_id" | "button" => None,
            "verification" => {
                if !val.is_null() {
                    self.lose(format!("the verification of {name:?} (only wiki pages can be verified)"));
                }
                None
            }
            other => {
                self.lose(format!("the value of {name:?} (a {other} property this tool cannot write)"));
                None
            }
        }
    }

    /// The relation value to set once every page exists; relations to pages outside the
    /// restore are dropped (and said).
    pub fn relation_value(&mut self, name: &str, v: &Value) -> Option<Value> {
        let items = v["relation"].as_array()?;
        let mut out = Vec::new();
        let mut outside = 0;
        for it in items {
            let old = it["id"].as_str().unwrap_or("");
            match self.r.node(old) {
                Some(new) => out.push(json!({"id": ids::dashed(&new)})),
                None => outside += 1,
            }
        }
        if outside > 0 {
            self.lose(format!("{outside} related page(s) of {name:?} that are not part of this restore"));
        }
        if v["has_more"].as_bool() == Some(true) {
            self.lose(format!("related pages of {name:?} beyond the first 25 (the backup holds only those)"));
        }
        if out.len() > MAX_ARRAY {
            self.lose(format!("{} related pages of {name:?} (Notion takes 100 per request)", out.len() - MAX_ARRAY));
            out.truncate(MAX_ARRAY);
        }
        Some(json!({"relation": out}))
    }

    /// A relation whose database is not restored, as text: links to the related pages.
    pub fn relation_as_text(&mut self, v: &Value) -> Option<Value> {
        let items = v["relation"].as_array()?;
        if items.is_empty() {
            return None;
        }
        let mut rt = Vec::new();
        for (i, it) in items.iter().take(MAX_RICH_TEXT_ITEMS / 2).enumerate() {
            let old = it["id"].as_str().unwrap_or("");
            if i > 0 {
                rt.push(text_item(", ", None, &json!({})));
            }
            let url = notion_url(old);
            rt.push(text_item(&url, Some(&url), &json!({})));
        }
        Some(json!({"rich_text": rt}))
    }
}

/// Merge neighbouring text runs that look the same (annotations and link), so a long array
/// needs fewer items; runs stay at most 2,000 characters.
fn merge_runs(items: Vec<Value>) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::with_capacity(items.len());
    for it in items {
        if let Some(last) = out.last_mut() {
            let same = last["type"] == "text"
                && it["type"] == "text"
                && last["annotations"] == it["annotations"]
                && last["text"]["link"] == it["text"]["link"];
            if same {
                let a = last["text"]["content"].as_str().unwrap_or("").to_string();
                let b = it["text"]["content"].as_str().unwrap_or("");
                if utf16_len(&a) + utf16_len(b) <= MAX_TEXT {
                    last["text"]["content"] = json!(a + b);
                    continue;
                }
            }
        }
        out.push(it);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Database schemas
// ---------------------------------------------------------------------------------------------

/// When a schema property can be created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaStep {
    /// With the database: everything that refers to nothing else.
    Create,
    /// Once every restored database exists: relations.
    Relations,
    /// After the relations: formulas and rollups (they may refer to them).
    Computed,
}

fn options(v: &Value) -> Value {
    let opts: Vec<Value> = v["options"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|o| {
                    let name = o["name"].as_str()?;
                    let mut x = json!({"name": name});
                    if let Some(c) = o["color"].as_str().filter(|c| COLORS.contains(c)) {
                        x["color"] = json!(c);
                    }
                    if let Some(d) = o["description"].as_str() {
                        x["description"] = json!(d);
                    }
                    Some(x)
                })
                .collect()
        })
        .unwrap_or_default();
    json!({ "options": opts })
}

/// `{{notion:block_property:<id>:...}}` references in a formula, as `prop("<name>")`.
pub fn formula_expression(expr: &str, props: &Map<String, Value>) -> String {
    let mut out = String::new();
    let mut rest = expr;
    while let Some(i) = rest.find("{{notion:block_property:") {
        out.push_str(&rest[..i]);
        let after = &rest[i + "{{notion:block_property:".len()..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[i..]);
            return out;
        };
        let id = after[..end].split(':').next().unwrap_or("");
        let decoded = percent_encoding::percent_decode_str(id).decode_utf8_lossy().to_string();
        let name = props.iter().find(|(_, p)| {
            p["id"].as_str().is_some_and(|pid| {
                pid == id || percent_encoding::percent_decode_str(pid).decode_utf8_lossy() == decoded
            })
        });
        match name {
            Some((n, _)) => out.push_str(&format!("prop({})", serde_json::to_string(n).unwrap_or_default())),
            None => out.push_str(&rest[i..i + "{{notion:block_property:".len() + end + 2]),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// The type a schema property gets in the restored database.
pub fn restored_type(p: &Value, r: &dyn Resolve) -> String {
    let ty = p["type"].as_str().unwrap_or("");
    match ty {
        // Notion's API cannot create status properties: a select with the same options.
        "status" => "select".into(),
        "relation" => {
            let target = p["relation"]["data_source_id"].as_str().unwrap_or("");
            if r.data_source_planned(target) {
                "relation".into()
            } else {
                "rich_text".into()
            }
        }
        other => other.to_string(),
    }
}

/// The schema objects of `step` for one data source, in request form. `skip_dual` answers
/// whether a dual relation property is created by its other side.
pub fn schema_properties(
    props: &Map<String, Value>,
    step: SchemaStep,
    r: &dyn Resolve,
    skip_dual: &dyn Fn(&str) -> bool,
    losses: &mut Vec<String>,
) -> Map<String, Value> {
    let mut out = Map::new();
    let mut lose = |s: String| {
        if !losses.contains(&s) {
            losses.push(s)
        }
    };
    for (name, p) in props {
        let ty = p["type"].as_str().unwrap_or("");
        let conf = &p[ty];
        let mut obj = match (step, ty) {
            (
                SchemaStep::Create,
                "title" | "rich_text" | "date" | "people" | "files" | "checkbox" | "url" | "email" | "phone_number"
                | "created_time" | "created_by" | "last_edited_time" | "last_edited_by" | "button" | "place"
                | "location" | "verification" | "last_visited_time",
            ) => json!({ty: {}}),
            (SchemaStep::Create, "number") => {
                let mut n = json!({});
                if let Some(f) = conf["format"].as_str() {
                    n["format"] = json!(f);
                }
                json!({"number": n})
            }
            (SchemaStep::Create, "select" | "multi_select") => json!({ty: options(conf)}),
            (SchemaStep::Create, "status") => {
                lose(format!("the status property {name:?} is a select with the same options (Notion's API cannot create status properties; their groups are not kept)"));
                json!({"select": options(conf)})
            }
            (SchemaStep::Create, "unique_id") => {
                let mut u = json!({});
                if let Some(pre) = conf["prefix"].as_str() {
                    u["prefix"] = json!(pre);
                }
                lose(format!("the numbers of {name:?} (unique ids are numbered anew)"));
                json!({"unique_id": u})
            }
            (SchemaStep::Create, "relation") if restored_type(p, r) == "rich_text" => {
                lose(format!("the relation {name:?} (its database is not part of this restore: it is a text property linking to the related pages)"));
                json!({"rich_text": {}})
            }
            (SchemaStep::Relations, "relation") if restored_type(p, r) == "relation" => {
                if skip_dual(name) {
                    continue;
                }
                let target = conf["data_source_id"].as_str().unwrap_or("");
                let Some(new) = r.data_source(target) else { continue };
                let mut rel = json!({"data_source_id": ids::dashed(&new)});
                if conf["type"] == "dual_property" {
                    let mut d = json!({});
                    if let Some(n) = conf["dual_property"]["synced_property_name"].as_str() {
                        d["synced_property_name"] = json!(n);
                    }
                    rel["type"] = json!("dual_property");
                    rel["dual_property"] = d;
                } else {
                    rel["type"] = json!("single_property");
                    rel["single_property"] = json!({});
                }
                json!({ "relation": rel })
            }
            (SchemaStep::Computed, "formula") => {
                let e = formula_expression(conf["expression"].as_str().unwrap_or(""), props);
                lose("the values of formulas (Notion computes them anew)".to_string());
                json!({"formula": {"expression": e}})
            }
            (SchemaStep::Computed, "rollup") => {
                let rel = conf["relation_property_name"].as_str().unwrap_or("");
                let relation_ok = props.get(rel).is_some_and(|rp| restored_type(rp, r) == "relation");
                if !relation_ok {
                    lose(format!("the rollup {name:?} (its relation is not restored)"));
                    continue;
                }
                let Some(f) = conf["function"].as_str() else { continue };
                lose("the values of rollups (Notion computes them anew)".to_string());
                json!({"rollup": {"relation_property_name": rel,
                    "rollup_property_name": conf["rollup_property_name"].as_str().unwrap_or(""), "function": f}})
            }
            (SchemaStep::Create, other) if !matches!(other, "relation" | "formula" | "rollup") => {
                lose(format!("the property {name:?} (a {other} property this tool cannot create)"));
                continue;
            }
            _ => continue,
        };
        if let Some(d) = p["description"].as_str().filter(|d| !d.is_empty()) {
            obj["description"] = json!(d);
        }
        out.insert(name.clone(), obj);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[derive(Default)]
    struct R {
        nodes: HashMap<String, String>,
        users: HashMap<String, String>,
        files: HashMap<String, u64>,
    }
    impl Resolve for R {
        fn node(&self, old: &str) -> Option<String> {
            self.nodes.get(&ids::normalize(old)).cloned()
        }
        fn planned(&self, old: &str) -> bool {
            self.nodes.contains_key(&ids::normalize(old))
        }
        fn data_source(&self, old: &str) -> Option<String> {
            self.node(old)
        }
        fn data_source_planned(&self, old: &str) -> bool {
            self.planned(old)
        }
        fn synced(&self, _: &str) -> Option<String> {
            None
        }
        fn synced_needed(&self, _: &str) -> bool {
            false
        }
        fn user(&self, old: &str) -> Option<String> {
            self.users.get(old).cloned()
        }
        fn user_name(&self, _: &str) -> Option<String> {
            None
        }
        fn file_size(&self, path: &str) -> Option<u64> {
            self.files.get(path).copied()
        }
        fn upload_limit(&self) -> u64 {
            100
        }
    }

    fn run(text: &str) -> Value {
        json!({"type": "text", "text": {"content": text, "link": null}, "plain_text": text, "href": null,
               "annotations": {"bold": false, "italic": false, "strikethrough": false, "underline": false, "code": false, "color": "default"}})
    }

    #[test]
    fn long_text_is_split_never_cut() {
        let r = R::default();
        let mut c = Converter::new(&r, "repo", "p");
        let long: String = "ab😀".repeat(1000); // 4,000 UTF-16 units
        let out = c.rich_text(&json!([run(&long)]));
        assert_eq!(out.len(), 2);
        let joined: String = out.iter().map(|i| i["text"]["content"].as_str().unwrap()).collect();
        assert_eq!(joined, long);
        assert!(out.iter().all(|i| i["text"]["content"].as_str().unwrap().encode_utf16().count() <= MAX_TEXT));
        assert!(out.iter().all(|i| i.get("plain_text").is_none() && i.get("annotations").is_none()));
    }

    #[test]
    fn more_than_100_items_split_a_paragraph_into_several() {
        let r = R::default();
        let mut c = Converter::new(&r, "repo", "p");
        let items: Vec<Value> = (0..250)
            .map(|i| {
                let mut v = run(&format!("w{i} "));
                v["annotations"]["bold"] = json!(i % 2 == 0);
                v
            })
            .collect();
        let b = json!({"id": "x", "type": "paragraph", "paragraph": {"rich_text": items, "color": "default"},
                       "children": [{"id": "y", "type": "paragraph", "paragraph": {"rich_text": [run("kid")]}}]});
        let out = c.block(&b);
        assert_eq!(out.len(), 3);
        assert!(out.iter().all(|b| b.json["paragraph"]["rich_text"].as_array().unwrap().len() <= 100));
        // The children go with the last part.
        assert!(out[0].kids.is_empty() && out[1].kids.is_empty());
        assert_eq!(out[2].kids.len(), 1);
    }

    #[test]
    fn mentions_point_at_restored_pages_or_keep_their_original_link() {
        let mut r = R::default();
        r.nodes.insert("a".repeat(32), "b".repeat(32));
        r.users.insert("u1".into(), "u1".into());
        let mut c = Converter::new(&r, "repo", "p");
        let items = json!([
            {"type": "mention", "mention": {"type": "page", "page": {"id": "a".repeat(32)}}, "plain_text": "A", "annotations": {}},
            {"type": "mention", "mention": {"type": "page", "page": {"id": "c".repeat(32)}}, "plain_text": "C", "annotations": {}},
            {"type": "mention", "mention": {"type": "user", "user": {"id": "u1"}}, "plain_text": "@One", "annotations": {}},
            {"type": "mention", "mention": {"type": "user", "user": {"id": "u2"}}, "plain_text": "@Two", "annotations": {}}
        ]);
        let out = c.rich_text(&items);
        assert_eq!(out[0]["mention"]["page"]["id"], ids::dashed(&"b".repeat(32)));
        assert_eq!(out[1]["text"]["link"]["url"], format!("https://www.notion.so/{}", "c".repeat(32)));
        assert_eq!(out[1]["text"]["content"], "C");
        assert_eq!(out[2]["mention"]["user"]["id"], "u1");
        assert_eq!(out[3]["text"]["content"], "@Two");
        assert!(c.missing_people.contains("Two"));
    }

    #[test]
    fn files_of_the_backup_are_uploaded_and_missing_ones_said() {
        let mut r = R::default();
        r.files.insert("row/assets/a.png".into(), 10);
        let mut c = Converter::new(&r, "repo", "row");
        let img = json!({"id": "i", "type": "image", "image": {"type": "file", "file": {"url": "assets/a.png"}, "caption": []}});
        let out = c.block(&img);
        assert_eq!(out[0].json["image"]["type"], "file_upload");
        assert_eq!(out[0].json["image"]["file_upload"]["id"], placeholder(0));
        assert_eq!(c.files[0].path, "row/assets/a.png");
        let gone = json!({"id": "j", "type": "image", "image": {"type": "file", "file": {"url": "https://s3.example/x.png"}, "caption": []}});
        assert!(c.block(&gone).is_empty());
        assert!(c.losses.iter().any(|l| l.contains("does not hold")), "{:?}", c.losses);
        let ext = json!({"id": "k", "type": "image", "image": {"type": "external", "external": {"url": "https://example.com/x.png"}, "caption": []}});
        assert_eq!(c.block(&ext)[0].json["image"]["external"]["url"], "https://example.com/x.png");
        // Over the limit (100 bytes here): an error with the fix, and a line in its place.
        r.files.insert("row/assets/big.png".into(), 500);
        let mut c = Converter::new(&r, "repo", "row");
        let big = json!({"id": "l", "type": "image", "image": {"type": "file", "file": {"url": "assets/big.png"}, "caption": []}});
        let out = c.block(&big);
        assert_eq!(out[0].json["type"], "paragraph");
        assert!(c.files.is_empty());
        assert!(
            c.errors[0].contains("upload limit") && c.errors[0].contains("repo/row/assets/big.png"),
            "{:?}",
            c.errors
        );
    }

    #[test]
    fn formula_references_become_prop_calls() {
        let mut props = Map::new();
        props.insert("Budget".into(), json!({"id": "a%3Ab", "type": "number"}));
        let e = formula_expression("{{notion:block_property:a%3Ab:x:y}} * 2", &props);
        assert_eq!(e, "prop(\"Budget\") * 2");
        assert_eq!(formula_expression("1 + 1", &props), "1 + 1");
    }

    #[test]
    fn read_only_and_status_properties() {
        let r = R::default();
        let mut props = Map::new();
        props.insert("S".into(), json!({"type": "status", "status": {"options": [{"name": "Done", "color": "green", "id": "x"}], "groups": []}}));
        props.insert("F".into(), json!({"type": "formula", "formula": {"expression": "1"}}));
        let mut losses = Vec::new();
        let create = schema_properties(&props, SchemaStep::Create, &r, &|_| false, &mut losses);
        assert_eq!(create["S"], json!({"select": {"options": [{"name": "Done", "color": "green"}]}}));
        assert!(!create.contains_key("F"));
        let computed = schema_properties(&props, SchemaStep::Computed, &r, &|_| false, &mut losses);
        assert_eq!(computed["F"], json!({"formula": {"expression": "1"}}));
        let mut c = Converter::new(&r, "repo", "p");
        assert_eq!(
            c.property_value("S", &json!({"type": "status", "status": {"name": "Done"}}), "select"),
            Some(json!({"select": {"name": "Done"}}))
        );
        assert_eq!(
            c.property_value("F", &json!({"type": "formula", "formula": {"type": "number", "number": 1}}), "formula"),
            None
        );
    }
}
