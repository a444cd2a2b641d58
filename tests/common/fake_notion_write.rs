//! The write side of the fake Notion API, as strict as Notion: `POST /pages`, `PATCH
//! /pages/{id}`, `PATCH /blocks/{id}/children`, `POST /databases`, `POST /data_sources`,
//! `PATCH /data_sources/{id}`, `POST /file_uploads`, `POST /file_uploads/{id}/send`
//! (multipart/form-data), `POST /file_uploads/{id}/complete`, `GET /file_uploads/{id}`,
//! `POST /comments`. A child module of `fake_notion.rs`, hooked into its dispatch.
//!
//! The rules are Notion's, taken from its documentation (request limits, append block children,
//! create a page/database, file uploads) and the official SDK's request types
//! (`@notionhq/client` 5.26 `BlockObjectRequest`, `RichTextItemRequest`,
//! `CreatePageBodyParameters`, `PropertyConfigurationRequest`), never from the client under
//! test: at most 100 children per array, two levels of nesting below the blocks of a request,
//! 1,000 blocks and 500 KB per payload, 2,000 characters per text and URL, 100 items per
//! rich-text array, 1,000 per equation, 100 relations / multi-select options / people per
//! value, read-only properties and block types that cannot be created refused, status
//! properties not creatable, unknown keys refused ("should be not present"), the workspace's
//! upload limit, multi-part uploads (part numbers, `complete`), 404 for a parent that does not
//! exist or is not shared. Everything created is stored in the [`World`] and served by the read
//! endpoints, so a backup of restored pages works.

use std::collections::{BTreeMap, HashMap};

use serde_json::{json, Map, Value};

use super::{
    dashed, iso_ms, norm, now_ms, ApiError, ApiResult, Ctx, DataSourceEntry, StoredFile, World, BOT_ID, FILE_SCHEME,
    VERSION_2026,
};

/// Largest single-part upload (20 MB).
pub const SINGLE_PART_MAX: usize = 20 * 1024 * 1024;
/// Smallest part of a multi-part upload except the last (5 MB).
pub const PART_MIN: usize = 5 * 1024 * 1024;
/// Largest request payload (500 KB).
pub const MAX_PAYLOAD: usize = 500_000;
/// Endpoint kinds (as counted in `Stats::by_kind`) that write.
pub const WRITE_KINDS: &[&str] = &[
    "pages.create",
    "pages.update",
    "blocks.append",
    "databases.create",
    "data_sources.create",
    "data_sources.update",
    "file_uploads.create",
    "file_uploads.send",
    "file_uploads.complete",
    "comments.create",
];

const COLORS: &[&str] = &["default", "gray", "brown", "orange", "yellow", "green", "blue", "purple", "pink", "red"];

/// A file upload object.
#[derive(Clone, Debug)]
pub struct Upload {
    pub id: String,
    pub mode: String,
    pub status: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub number_of_parts: Option<u64>,
    pub parts: BTreeMap<u64, Vec<u8>>,
    pub bytes: Vec<u8>,
    pub created_ms: i64,
    pub expires_ms: i64,
    /// Key of the stored file once attached.
    pub file_key: Option<String>,
}

/// What the write endpoints keep.
#[derive(Clone, Debug, Default)]
pub struct Writes {
    pub uploads: HashMap<String, Upload>,
    /// Every write accepted: `"<kind> <id>"`.
    pub log: Vec<String>,
    /// Next unique_id number per data source.
    pub unique_ids: HashMap<String, u64>,
    /// Fault: the next N writes are carried out but their answer arrives cut in half (an
    /// answer lost after Notion acted).
    pub lose_answers: u32,
}

/// Whether the answer to this request is lost (see [`Writes::lose_answers`]).
pub fn lose_answer(w: &mut World, kind: &str) -> bool {
    if w.writes.lose_answers > 0 && WRITE_KINDS.contains(&kind) && kind != "file_uploads.create" {
        w.writes.lose_answers -= 1;
        return true;
    }
    false
}

pub fn handles(method: &str, segs: &[&str]) -> bool {
    endpoint_kind(method, segs) != "unknown"
}

pub fn endpoint_kind(method: &str, segs: &[&str]) -> &'static str {
    match (method, segs) {
        ("POST", ["pages"]) => "pages.create",
        ("PATCH", ["pages", _]) => "pages.update",
        ("PATCH", ["blocks", _, "children"]) => "blocks.append",
        ("POST", ["databases"]) => "databases.create",
        ("POST", ["data_sources"]) => "data_sources.create",
        ("PATCH", ["data_sources", _]) => "data_sources.update",
        ("POST", ["file_uploads"]) => "file_uploads.create",
        ("POST", ["file_uploads", _, "send"]) => "file_uploads.send",
        ("POST", ["file_uploads", _, "complete"]) => "file_uploads.complete",
        ("GET", ["file_uploads", _]) => "file_uploads.get",
        ("POST", ["comments"]) => "comments.create",
        _ => "unknown",
    }
}

pub(super) fn dispatch(w: &mut World, ctx: &Ctx, method: &str, segs: &[&str], body: &Value) -> ApiResult {
    let kind = endpoint_kind(method, segs);
    if kind != "file_uploads.send" && kind != "file_uploads.get" && ctx.raw_body.len() > MAX_PAYLOAD {
        return Err(ApiError::validation(&format!(
            "body failed validation: the request body is {} bytes, larger than the limit of {MAX_PAYLOAD} bytes.",
            ctx.raw_body.len()
        )));
    }
    let out = match (method, segs) {
        ("POST", ["pages"]) => create_page(w, ctx, body),
        ("PATCH", ["pages", id]) => update_page(w, &path_id(id, "page_id")?, body),
        ("PATCH", ["blocks", id, "children"]) => append(w, ctx, &path_id(id, "block_id")?, body),
        ("POST", ["databases"]) => create_database(w, body),
        ("POST", ["data_sources"]) => create_data_source(w, body),
        ("PATCH", ["data_sources", id]) => update_data_source(w, &path_id(id, "data_source_id")?, body),
        ("POST", ["file_uploads"]) => create_upload(w, body),
        ("POST", ["file_uploads", id, "send"]) => send_upload(w, ctx, &path_id(id, "file_upload_id")?),
        ("POST", ["file_uploads", id, "complete"]) => complete_upload(w, &path_id(id, "file_upload_id")?),
        ("GET", ["file_uploads", id]) => {
            let id = path_id(id, "file_upload_id")?;
            w.writes.uploads.get(&id).map(upload_json).ok_or_else(|| ApiError::not_found("file_upload", &id))
        }
        ("POST", ["comments"]) => create_comment(w, body),
        _ => Err(ApiError::bad_url()),
    }?;
    if kind != "file_uploads.get" {
        let id = out["id"].as_str().unwrap_or("").to_string();
        w.writes.log.push(format!("{kind} {id}"));
    }
    Ok(out)
}

fn path_id(raw: &str, name: &str) -> Result<String, ApiError> {
    super::path_id(raw, name)
}

fn invalid(path: &str, msg: &str) -> ApiError {
    ApiError::validation(&format!("body failed validation: {path} {msg}"))
}

fn not_present(path: &str, v: &Value) -> ApiError {
    let shown: String = v.to_string().chars().take(60).collect();
    invalid(path, &format!("should be not present, instead was `{shown}`."))
}

fn utf16(s: &str) -> usize {
    s.encode_utf16().count()
}

/// Refuse keys of `o` not in `allowed`.
fn only_keys(o: &Map<String, Value>, allowed: &[&str], path: &str) -> Result<(), ApiError> {
    for (k, v) in o {
        if !allowed.contains(&k.as_str()) {
            return Err(not_present(&format!("{path}.{k}"), v));
        }
    }
    Ok(())
}

fn obj<'a>(v: &'a Value, path: &str) -> Result<&'a Map<String, Value>, ApiError> {
    v.as_object().ok_or_else(|| invalid(path, &format!("should be an object, instead was `{v}`.")))
}

fn string<'a>(v: &'a Value, path: &str, max: usize) -> Result<&'a str, ApiError> {
    let s = v.as_str().ok_or_else(|| invalid(path, &format!("should be a string, instead was `{v}`.")))?;
    if utf16(s) > max {
        return Err(invalid(&format!("{path}.length"), &format!("should be ≤ `{max}`, instead was `{}`.", utf16(s))));
    }
    Ok(s)
}

fn array<'a>(v: &'a Value, path: &str, max: usize) -> Result<&'a Vec<Value>, ApiError> {
    let a = v.as_array().ok_or_else(|| invalid(path, &format!("should be an array, instead was `{v}`.")))?;
    if a.len() > max {
        return Err(invalid(&format!("{path}.length"), &format!("should be ≤ `{max}`, instead was `{}`.", a.len())));
    }
    Ok(a)
}

fn color(v: &Value, path: &str, backgrounds: bool) -> Result<String, ApiError> {
    let c = v.as_str().unwrap_or("");
    let base = c.strip_suffix("_background").filter(|_| backgrounds).unwrap_or(c);
    if COLORS.contains(&base) {
        Ok(c.to_string())
    } else {
        Err(invalid(path, &format!("should be a valid color, instead was `{v}`.")))
    }
}

fn now() -> String {
    iso_ms(now_ms() / 60_000 * 60_000)
}

fn bot() -> Value {
    json!({"object": "user", "id": BOT_ID})
}

/// The type key of a request object: `type`, or the one key that is a known type.
fn type_of(o: &Map<String, Value>, known: &[&str], path: &str) -> Result<String, ApiError> {
    if let Some(t) = o.get("type") {
        let t = t.as_str().ok_or_else(|| invalid(&format!("{path}.type"), "should be a string."))?;
        if !o.contains_key(t) {
            return Err(invalid(&format!("{path}.{t}"), "should be defined, instead was `undefined`."));
        }
        return Ok(t.to_string());
    }
    let keys: Vec<&String> = o.keys().filter(|k| known.contains(&k.as_str())).collect();
    match keys.as_slice() {
        [k] => Ok((*k).clone()),
        _ => Err(invalid(path, "should have exactly one type key.")),
    }
}

// ---------------------------------------------------------------------------------------------
// Visibility helpers
// ---------------------------------------------------------------------------------------------

fn page_exists(w: &World, id: &str) -> bool {
    super::visible_page(w, id).is_ok() && w.page(id).is_none_or(|p| p["in_trash"].as_bool() != Some(true))
}

fn database_exists(w: &World, id: &str) -> bool {
    w.databases.contains_key(id) && !w.is_unshared(id)
}

// ---------------------------------------------------------------------------------------------
// Rich text
// ---------------------------------------------------------------------------------------------

fn annotations(v: Option<&Value>, path: &str) -> Result<Value, ApiError> {
    let mut a = json!({"bold": false, "italic": false, "strikethrough": false, "underline": false, "code": false, "color": "default"});
    let Some(v) = v else { return Ok(a) };
    let o = obj(v, path)?;
    only_keys(o, &["bold", "italic", "strikethrough", "underline", "code", "color"], path)?;
    for (k, x) in o {
        if k == "color" {
            a["color"] = json!(color(x, &format!("{path}.color"), true)?);
        } else {
            a[k] = json!(x.as_bool().ok_or_else(|| invalid(&format!("{path}.{k}"), "should be a boolean."))?);
        }
    }
    Ok(a)
}

/// Validate a request rich-text array; returns it in served form.
fn rich_text(w: &World, v: &Value, path: &str) -> Result<Vec<Value>, ApiError> {
    let items = array(v, path, 100)?;
    let mut out = Vec::with_capacity(items.len());
    for (i, it) in items.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let o = obj(it, &p)?;
        only_keys(o, &["type", "text", "mention", "equation", "annotations"], &p)?;
        let ty = type_of(o, &["text", "mention", "equation"], &p)?;
        let ann = annotations(o.get("annotations"), &format!("{p}.annotations"))?;
        let served = match ty.as_str() {
            "text" => {
                let t = obj(&o["text"], &format!("{p}.text"))?;
                only_keys(t, &["content", "link"], &format!("{p}.text"))?;
                let content = string(t.get("content").unwrap_or(&Value::Null), &format!("{p}.text.content"), 2000)?;
                let link = match t.get("link") {
                    None | Some(Value::Null) => Value::Null,
                    Some(l) => {
                        let lo = obj(l, &format!("{p}.text.link"))?;
                        only_keys(lo, &["url"], &format!("{p}.text.link"))?;
                        let url = string(lo.get("url").unwrap_or(&Value::Null), &format!("{p}.text.link.url"), 2000)?;
                        json!({"url": url})
                    }
                };
                let href = link["url"].clone();
                json!({"type": "text", "text": {"content": content, "link": link}, "annotations": ann, "plain_text": content, "href": href})
            }
            "equation" => {
                let e = obj(&o["equation"], &format!("{p}.equation"))?;
                only_keys(e, &["expression"], &format!("{p}.equation"))?;
                let x = string(e.get("expression").unwrap_or(&Value::Null), &format!("{p}.equation.expression"), 1000)?;
                json!({"type": "equation", "equation": {"expression": x}, "annotations": ann, "plain_text": x, "href": null})
            }
            _ => {
                let m = obj(&o["mention"], &format!("{p}.mention"))?;
                let mty = type_of(
                    m,
                    &["user", "date", "page", "database", "template_mention", "custom_emoji"],
                    &format!("{p}.mention"),
                )?;
                only_keys(m, &["type", mty.as_str()], &format!("{p}.mention"))?;
                let inner = &m[&mty];
                let mp = format!("{p}.mention.{mty}");
                match mty.as_str() {
                    "page" | "database" => {
                        let io = obj(inner, &mp)?;
                        only_keys(io, &["id"], &mp)?;
                        let id = norm(io.get("id").and_then(Value::as_str).unwrap_or(""));
                        let (exists, title) = if mty == "page" {
                            (page_exists(w, &id), w.page(&id).map(|pg| page_title(&pg)).unwrap_or_default())
                        } else {
                            (
                                database_exists(w, &id),
                                w.databases.get(&id).map(|d| super::plain_text(&d["title"])).unwrap_or_default(),
                            )
                        };
                        if !exists {
                            return Err(ApiError::not_found(&mty, &id));
                        }
                        json!({"type": "mention", "mention": {"type": mty, mty.clone(): {"id": dashed(&id)}}, "annotations": ann,
                               "plain_text": title, "href": format!("https://www.notion.so/{id}")})
                    }
                    "user" => {
                        let io = obj(inner, &mp)?;
                        only_keys(io, &["id", "object"], &mp)?;
                        let id = norm(io.get("id").and_then(Value::as_str).unwrap_or(""));
                        let user = if norm(BOT_ID) == id { Some(w.bot.clone()) } else { w.users.get(&id).cloned() };
                        let Some(u) = user else {
                            return Err(invalid(
                                &format!("{mp}.id"),
                                &format!("should be a user of this workspace, instead was `{}`.", dashed(&id)),
                            ));
                        };
                        let name = u["name"].as_str().unwrap_or("").to_string();
                        json!({"type": "mention", "mention": {"type": "user", "user": {"object": "user", "id": dashed(&id)}}, "annotations": ann,
                               "plain_text": format!("@{name}"), "href": null})
                    }
                    "date" => {
                        let d = date(inner, &mp)?;
                        let plain = d["start"].as_str().unwrap_or("").to_string();
                        json!({"type": "mention", "mention": {"type": "date", "date": d}, "annotations": ann, "plain_text": plain, "href": null})
                    }
                    _ => {
                        json!({"type": "mention", "mention": {"type": mty, mty.clone(): inner}, "annotations": ann, "plain_text": "", "href": null})
                    }
                }
            }
        };
        out.push(served);
    }
    Ok(out)
}

fn date(v: &Value, path: &str) -> Result<Value, ApiError> {
    let o = obj(v, path)?;
    only_keys(o, &["start", "end", "time_zone"], path)?;
    let start = o
        .get("start")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(&format!("{path}.start"), "should be defined, instead was `undefined`."))?;
    if super::parse_ms(start).is_none() {
        return Err(invalid(
            &format!("{path}.start"),
            &format!("should be a valid ISO 8601 date string, instead was `{start}`."),
        ));
    }
    let end = o.get("end").cloned().unwrap_or(Value::Null);
    if let Some(e) = end.as_str() {
        if super::parse_ms(e).is_none() {
            return Err(invalid(&format!("{path}.end"), "should be a valid ISO 8601 date string."));
        }
    }
    Ok(json!({"start": start, "end": end, "time_zone": o.get("time_zone").cloned().unwrap_or(Value::Null)}))
}

fn page_title(p: &Value) -> String {
    p["properties"]
        .as_object()
        .and_then(|ps| ps.values().find(|v| v["type"] == "title"))
        .map(|t| super::plain_text(&t["title"]))
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Files, icons, covers
// ---------------------------------------------------------------------------------------------

/// A `file_upload` reference: the upload must be `uploaded` and not expired; it becomes a
/// Notion-hosted file the read side signs.
fn attach_upload(w: &mut World, v: &Value, path: &str) -> Result<Value, ApiError> {
    let o = obj(v, path)?;
    only_keys(o, &["id"], path)?;
    let id = norm(o.get("id").and_then(Value::as_str).unwrap_or(""));
    let now = now_ms();
    let up = w.writes.uploads.get(&id).cloned().ok_or_else(|| {
        invalid(&format!("{path}.id"), &format!("should be the id of a file upload, instead was `{}`.", dashed(&id)))
    })?;
    if up.expires_ms <= now && up.file_key.is_none() {
        return Err(invalid(&format!("{path}.id"), &format!("File upload {} has expired.", dashed(&id))));
    }
    if up.status != "uploaded" {
        return Err(invalid(
            &format!("{path}.id"),
            &format!("File upload {} is in status `{}`, it must be `uploaded` to be attached.", dashed(&id), up.status),
        ));
    }
    let key = match &up.file_key {
        Some(k) => k.clone(),
        None => {
            let name = up.filename.clone().unwrap_or_else(|| "file".into());
            let ct = up.content_type.clone().unwrap_or_else(|| "application/octet-stream".into());
            let key = w.next_id();
            w.files.insert(key.clone(), StoredFile { name, bytes: up.bytes.clone(), content_type: ct });
            if let Some(u) = w.writes.uploads.get_mut(&id) {
                u.file_key = Some(key.clone());
            }
            key
        }
    };
    Ok(json!({"type": "file", "file": {"url": format!("{FILE_SCHEME}{key}")}}))
}

/// `external` / `file_upload` file objects (media blocks, covers, files entries).
fn file_object(w: &mut World, o: &Map<String, Value>, path: &str) -> Result<Value, ApiError> {
    let ty = type_of(o, &["external", "file_upload", "file"], path)?;
    match ty.as_str() {
        "external" => {
            let e = obj(&o["external"], &format!("{path}.external"))?;
            only_keys(e, &["url"], &format!("{path}.external"))?;
            let url = string(e.get("url").unwrap_or(&Value::Null), &format!("{path}.external.url"), 2000)?;
            if !url.starts_with("http://") && !url.starts_with("https://") {
                return Err(invalid(
                    &format!("{path}.external.url"),
                    &format!("should be a valid URL, instead was `{url}`."),
                ));
            }
            Ok(json!({"type": "external", "external": {"url": url}}))
        }
        "file_upload" => attach_upload(w, &o["file_upload"], &format!("{path}.file_upload")),
        _ => Err(invalid(
            &format!("{path}.file"),
            "should be not present: Notion-hosted files are attached with a file_upload.",
        )),
    }
}

fn icon(w: &mut World, v: &Value, path: &str) -> Result<Value, ApiError> {
    if v.is_null() {
        return Ok(Value::Null);
    }
    let o = obj(v, path)?;
    let ty = type_of(o, &["emoji", "external", "file_upload", "custom_emoji", "icon"], path)?;
    only_keys(o, &["type", ty.as_str()], path)?;
    match ty.as_str() {
        "emoji" => {
            let e = o["emoji"]
                .as_str()
                .filter(|e| !e.is_empty() && e.chars().count() <= 8)
                .ok_or_else(|| invalid(&format!("{path}.emoji"), "should be an emoji."))?;
            Ok(json!({"type": "emoji", "emoji": e}))
        }
        "icon" => Ok(json!({"type": "icon", "icon": o["icon"]})),
        "custom_emoji" => {
            Err(invalid(&format!("{path}.custom_emoji.id"), "should be a custom emoji of this workspace."))
        }
        _ => file_object(w, o, path),
    }
}

fn cover(w: &mut World, v: &Value, path: &str) -> Result<Value, ApiError> {
    if v.is_null() {
        return Ok(Value::Null);
    }
    let o = obj(v, path)?;
    let ty = type_of(o, &["external", "file_upload"], path)?;
    only_keys(o, &["type", ty.as_str()], path)?;
    file_object(w, o, path)
}

// ---------------------------------------------------------------------------------------------
// Blocks
// ---------------------------------------------------------------------------------------------

/// A validated block, in served form, with its children.
struct NewBlock {
    json: Value,
    kids: Vec<NewBlock>,
}

impl NewBlock {
    fn count(&self) -> usize {
        1 + self.kids.iter().map(NewBlock::count).sum::<usize>()
    }
}

const CREATABLE: &[&str] = &[
    "paragraph",
    "heading_1",
    "heading_2",
    "heading_3",
    "heading_4",
    "bulleted_list_item",
    "numbered_list_item",
    "to_do",
    "toggle",
    "quote",
    "callout",
    "template",
    "synced_block",
    "code",
    "equation",
    "divider",
    "breadcrumb",
    "table_of_contents",
    "link_to_page",
    "table",
    "table_row",
    "column_list",
    "column",
    "tab",
    "embed",
    "bookmark",
    "image",
    "video",
    "pdf",
    "file",
    "audio",
];

const NOT_CREATABLE: &[&str] = &[
    "child_page",
    "child_database",
    "link_preview",
    "unsupported",
    "meeting_notes",
    "transcription",
    "ai_block",
    "button",
    "form",
];

/// Keys each type's payload may carry (besides `children` where allowed).
fn payload_keys(ty: &str) -> &'static [&'static str] {
    match ty {
        "paragraph" => &["rich_text", "color", "icon", "children"],
        "heading_1" | "heading_2" | "heading_3" | "heading_4" => &["rich_text", "color", "is_toggleable", "children"],
        "bulleted_list_item" | "numbered_list_item" | "quote" | "toggle" => &["rich_text", "color", "children"],
        "to_do" => &["rich_text", "color", "checked", "children"],
        "callout" => &["rich_text", "color", "icon", "children"],
        "template" => &["rich_text", "children"],
        "synced_block" => &["synced_from", "children"],
        "code" => &["rich_text", "language", "caption"],
        "equation" => &["expression"],
        "divider" | "breadcrumb" => &[],
        "table_of_contents" => &["color"],
        "link_to_page" => &["type", "page_id", "database_id", "comment_id"],
        "table" => &["table_width", "has_column_header", "has_row_header", "children"],
        "table_row" => &["cells"],
        "column_list" => &["children"],
        "column" => &["children", "width_ratio"],
        "tab" => &["children"],
        "embed" | "bookmark" => &["url", "caption"],
        "image" | "video" | "pdf" | "audio" => &["type", "external", "file_upload", "caption"],
        "file" => &["type", "external", "file_upload", "caption", "name"],
        _ => &[],
    }
}

pub const LANGUAGES: &[&str] = &[
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

/// Validate one block of a request. `depth` 1 is a block of the request's `children`; a block
/// at depth 3 may not carry children. `parent_type` is the type of the block it goes in.
fn block(w: &mut World, v: &Value, path: &str, depth: usize, parent_type: &str) -> Result<NewBlock, ApiError> {
    let o = obj(v, path)?;
    let known: Vec<&str> = CREATABLE.iter().chain(NOT_CREATABLE.iter()).copied().collect();
    let ty = type_of(o, &known, path)?;
    if NOT_CREATABLE.contains(&ty.as_str()) {
        let how = match ty.as_str() {
            "child_page" => " Create child pages with POST /pages.",
            "child_database" => " Create databases with POST /databases.",
            _ => "",
        };
        return Err(invalid(
            &format!("{path}.{ty}"),
            &format!("should be not present: blocks of type `{ty}` cannot be created through the API.{how}"),
        ));
    }
    if !CREATABLE.contains(&ty.as_str()) {
        return Err(invalid(path, &format!("has an unknown block type `{ty}`.")));
    }
    only_keys(o, &["object", "type", ty.as_str()], path)?;
    if ty == "column" && parent_type != "column_list" {
        return Err(invalid(&format!("{path}.column"), "can only be a child of a column_list."));
    }
    if parent_type == "column_list" && ty != "column" {
        return Err(invalid(&format!("{path}.{ty}"), "children of a column_list must be columns."));
    }
    if ty == "table_row" && parent_type != "table" {
        return Err(invalid(&format!("{path}.table_row"), "can only be a child of a table."));
    }
    if parent_type == "table" && ty != "table_row" {
        return Err(invalid(&format!("{path}.{ty}"), "children of a table must be table_rows."));
    }
    let pp = format!("{path}.{ty}");
    let p = obj(&o[&ty], &pp)?;
    only_keys(p, payload_keys(&ty), &pp)?;
    let mut served = Map::new();
    let rt = |w: &World, key: &str| -> Result<Value, ApiError> {
        match p.get(key) {
            Some(x) => Ok(Value::Array(rich_text(w, x, &format!("{pp}.{key}"))?)),
            None => Ok(json!([])),
        }
    };
    match ty.as_str() {
        "paragraph" | "heading_1" | "heading_2" | "heading_3" | "heading_4" | "bulleted_list_item"
        | "numbered_list_item" | "quote" | "toggle" | "to_do" | "callout" | "template" => {
            if !p.contains_key("rich_text") {
                return Err(invalid(&format!("{pp}.rich_text"), "should be defined, instead was `undefined`."));
            }
            served.insert("rich_text".into(), rt(w, "rich_text")?);
            if ty != "template" {
                let c = p
                    .get("color")
                    .map(|c| color(c, &format!("{pp}.color"), true))
                    .transpose()?
                    .unwrap_or_else(|| "default".into());
                served.insert("color".into(), json!(c));
            }
            if ty == "to_do" {
                served.insert("checked".into(), json!(p.get("checked").and_then(Value::as_bool).unwrap_or(false)));
            }
            if ty.starts_with("heading_") {
                let t = p.get("is_toggleable").and_then(Value::as_bool).unwrap_or(false);
                if p.contains_key("children") && !t {
                    return Err(invalid(
                        &format!("{pp}.children"),
                        "should be not present: only toggleable headings have children.",
                    ));
                }
                served.insert("is_toggleable".into(), json!(t));
            }
            if ty == "callout" || ty == "paragraph" {
                if let Some(i) = p.get("icon") {
                    let ic = icon(w, i, &format!("{pp}.icon"))?;
                    served.insert("icon".into(), ic);
                } else if ty == "callout" {
                    served.insert("icon".into(), Value::Null);
                }
            }
        }
        "synced_block" => {
            let from = p.get("synced_from").cloned().unwrap_or(Value::Null);
            if !from.is_null() {
                let fo = obj(&from, &format!("{pp}.synced_from"))?;
                only_keys(fo, &["type", "block_id"], &format!("{pp}.synced_from"))?;
                let src = norm(fo.get("block_id").and_then(Value::as_str).unwrap_or(""));
                let ok = w
                    .blocks
                    .get(&src)
                    .is_some_and(|b| b["type"] == "synced_block" && b["synced_block"]["synced_from"].is_null());
                if !ok {
                    return Err(ApiError::not_found("block", &src));
                }
                if p.contains_key("children") {
                    return Err(invalid(
                        &format!("{pp}.children"),
                        "should be not present for a synced block that references another.",
                    ));
                }
                served.insert("synced_from".into(), json!({"type": "block_id", "block_id": dashed(&src)}));
            } else {
                served.insert("synced_from".into(), Value::Null);
            }
        }
        "code" => {
            served.insert("rich_text".into(), rt(w, "rich_text")?);
            served.insert("caption".into(), rt(w, "caption")?);
            let lang = p.get("language").and_then(Value::as_str).unwrap_or("");
            if !LANGUAGES.contains(&lang) {
                return Err(invalid(
                    &format!("{pp}.language"),
                    &format!("should be one of the supported languages, instead was `{lang}`."),
                ));
            }
            served.insert("language".into(), json!(lang));
        }
        "equation" => {
            let e = string(p.get("expression").unwrap_or(&Value::Null), &format!("{pp}.expression"), 1000)?;
            served.insert("expression".into(), json!(e));
        }
        "divider" | "breadcrumb" => {}
        "table_of_contents" => {
            let c = p
                .get("color")
                .map(|c| color(c, &format!("{pp}.color"), true))
                .transpose()?
                .unwrap_or_else(|| "default".into());
            served.insert("color".into(), json!(c));
        }
        "link_to_page" => {
            let kind = type_of(p, &["page_id", "database_id", "comment_id"], &pp)?;
            let id = norm(p.get(&kind).and_then(Value::as_str).unwrap_or(""));
            let exists = match kind.as_str() {
                "page_id" => page_exists(w, &id),
                "database_id" => database_exists(w, &id),
                _ => false,
            };
            if !exists {
                return Err(ApiError::not_found(kind.trim_end_matches("_id"), &id));
            }
            served.insert("type".into(), json!(kind));
            served.insert(kind, json!(dashed(&id)));
        }
        "table" => {
            let width = p
                .get("table_width")
                .and_then(Value::as_u64)
                .filter(|n| *n >= 1)
                .ok_or_else(|| invalid(&format!("{pp}.table_width"), "should be a number ≥ 1."))?;
            if p.get("children").and_then(Value::as_array).is_none_or(|a| a.is_empty()) {
                return Err(invalid(&format!("{pp}.children"), "should be defined: a table is created with its rows."));
            }
            served.insert("table_width".into(), json!(width));
            served.insert(
                "has_column_header".into(),
                json!(p.get("has_column_header").and_then(Value::as_bool).unwrap_or(false)),
            );
            served.insert(
                "has_row_header".into(),
                json!(p.get("has_row_header").and_then(Value::as_bool).unwrap_or(false)),
            );
        }
        "table_row" => {
            let cells = array(p.get("cells").unwrap_or(&Value::Null), &format!("{pp}.cells"), 100)?;
            let mut out = Vec::new();
            for (i, c) in cells.iter().enumerate() {
                out.push(Value::Array(rich_text(w, c, &format!("{pp}.cells[{i}]"))?));
            }
            served.insert("cells".into(), Value::Array(out));
        }
        "column_list" => {
            let n = p.get("children").and_then(Value::as_array).map(Vec::len).unwrap_or(0);
            if n < 2 {
                return Err(invalid(&format!("{pp}.children"), "should hold at least 2 columns."));
            }
        }
        "column" => {
            if p.get("children").and_then(Value::as_array).is_none_or(|a| a.is_empty()) {
                return Err(invalid(
                    &format!("{pp}.children"),
                    "should be defined: a column is created with at least one block.",
                ));
            }
            if let Some(r) = p.get("width_ratio") {
                let x = r
                    .as_f64()
                    .filter(|x| *x > 0.0 && *x <= 1.0)
                    .ok_or_else(|| invalid(&format!("{pp}.width_ratio"), "should be a number between 0 and 1."))?;
                served.insert("width_ratio".into(), json!(x));
            }
        }
        "tab" => {
            if p.get("children").and_then(Value::as_array).is_none_or(|a| a.is_empty()) {
                return Err(invalid(&format!("{pp}.children"), "should be defined."));
            }
        }
        "embed" | "bookmark" => {
            let url = string(p.get("url").unwrap_or(&Value::Null), &format!("{pp}.url"), 2000)?;
            if url.is_empty() {
                return Err(invalid(&format!("{pp}.url"), "should be a non-empty URL."));
            }
            served.insert("url".into(), json!(url));
            served.insert("caption".into(), rt(w, "caption")?);
        }
        _ => {
            // image, video, pdf, audio, file
            let f = file_object(w, p, &pp)?;
            for (k, x) in f.as_object().unwrap() {
                served.insert(k.clone(), x.clone());
            }
            served.insert("caption".into(), rt(w, "caption")?);
            if ty == "file" {
                let name = p.get("name").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| "file".into());
                served.insert("name".into(), json!(name));
            }
        }
    }
    // Children.
    let mut kids = Vec::new();
    if let Some(c) = p.get("children") {
        if depth >= 3 {
            return Err(not_present(&format!("{pp}.children"), c));
        }
        let arr = array(c, &format!("{pp}.children"), 100)?;
        for (i, k) in arr.iter().enumerate() {
            kids.push(block(w, k, &format!("{pp}.children[{i}]"), depth + 1, &ty)?);
        }
        if ty == "table" {
            let width = served["table_width"].as_u64().unwrap_or(0) as usize;
            for (i, k) in kids.iter().enumerate() {
                let n = k.json["table_row"]["cells"].as_array().map(Vec::len).unwrap_or(0);
                if n != width {
                    return Err(invalid(
                        &format!("{pp}.children[{i}].table_row.cells.length"),
                        &format!("should be `{width}` (the table's width), instead was `{n}`."),
                    ));
                }
            }
        }
    }
    let mut json = Map::new();
    json.insert("object".into(), json!("block"));
    json.insert("id".into(), Value::Null);
    json.insert("parent".into(), Value::Null);
    let t = now();
    json.insert("created_time".into(), json!(t));
    json.insert("last_edited_time".into(), json!(t));
    json.insert("created_by".into(), bot());
    json.insert("last_edited_by".into(), bot());
    json.insert(
        "has_children".into(),
        json!(!kids.is_empty() || (ty == "synced_block" && !served["synced_from"].is_null())),
    );
    json.insert("in_trash".into(), json!(false));
    json.insert("type".into(), json!(ty));
    json.insert(ty.clone(), Value::Object(served));
    Ok(NewBlock { json: Value::Object(json), kids })
}

/// Validate a request's `children`.
fn children(w: &mut World, v: &Value, path: &str, parent_type: &str) -> Result<Vec<NewBlock>, ApiError> {
    let arr = array(v, path, 100)?;
    let mut out = Vec::new();
    for (i, b) in arr.iter().enumerate() {
        out.push(block(w, b, &format!("{path}[{i}]"), 1, parent_type)?);
    }
    let total: usize = out.iter().map(NewBlock::count).sum();
    if total > 1000 {
        return Err(invalid(path, &format!("holds {total} blocks, more than the limit of 1000 per request.")));
    }
    Ok(out)
}

/// Store blocks below `parent` (a page or block id), inserted at `at` of its children (`None`:
/// the end). Returns the served first-level blocks.
fn store(w: &mut World, parent: &str, blocks: Vec<NewBlock>, at: Option<usize>) -> Vec<Value> {
    let parent_json = if w.has_page(parent) {
        json!({"type": "page_id", "page_id": dashed(parent)})
    } else {
        json!({"type": "block_id", "block_id": dashed(parent)})
    };
    let mut new_ids = Vec::new();
    let mut served = Vec::new();
    for nb in blocks {
        let id = w.next_id();
        let mut j = nb.json;
        j["id"] = json!(id);
        j["parent"] = parent_json.clone();
        w.blocks.insert(norm(&id), j.clone());
        new_ids.push(norm(&id));
        served.push(j);
        if !nb.kids.is_empty() {
            store(w, &id, nb.kids, None);
        }
    }
    let list = w.children.entry(norm(parent)).or_default();
    let at = at.unwrap_or(list.len()).min(list.len());
    for (i, id) in new_ids.into_iter().enumerate() {
        list.insert(at + i, id);
    }
    if let Some(b) = w.blocks.get_mut(&norm(parent)) {
        b["has_children"] = json!(true);
    }
    served
}

/// Where `position` puts new children of `parent`.
fn position(
    w: &World,
    ctx: &Ctx,
    body: &Map<String, Value>,
    parent: &str,
    page_style: bool,
) -> Result<Option<usize>, ApiError> {
    if let Some(a) = body.get("after") {
        if ctx.version == VERSION_2026 {
            return Err(not_present("body.after", a));
        }
        let id = norm(a.as_str().unwrap_or(""));
        let kids = w.children.get(parent).cloned().unwrap_or_default();
        let i = kids
            .iter()
            .position(|k| *k == id)
            .ok_or_else(|| invalid("body.after", &format!("should be a child of {}.", dashed(parent))))?;
        return Ok(Some(i + 1));
    }
    let Some(p) = body.get("position") else { return Ok(None) };
    let o = obj(p, "body.position")?;
    let ty = o.get("type").and_then(Value::as_str).unwrap_or("");
    let (start, end) = if page_style { ("page_start", "page_end") } else { ("start", "end") };
    match ty {
        t if t == start => {
            only_keys(o, &["type"], "body.position")?;
            Ok(Some(0))
        }
        t if t == end => {
            only_keys(o, &["type"], "body.position")?;
            Ok(None)
        }
        "after_block" => {
            only_keys(o, &["type", "after_block"], "body.position")?;
            let id = norm(o.get("after_block").and_then(|a| a.get("id")).and_then(Value::as_str).unwrap_or(""));
            let kids = w.children.get(parent).cloned().unwrap_or_default();
            let i = kids.iter().position(|k| *k == id).ok_or_else(|| {
                invalid(
                    "body.position.after_block.id",
                    &format!("should be a child of {}, instead was `{}`.", dashed(parent), dashed(&id)),
                )
            })?;
            Ok(Some(i + 1))
        }
        other => Err(invalid(
            "body.position.type",
            &format!("should be `{start}`, `{end}` or `after_block`, instead was `{other}`."),
        )),
    }
}

/// Types whose blocks hold children.
fn takes_children(ty: &str, b: &Value) -> bool {
    match ty {
        "paragraph" | "bulleted_list_item" | "numbered_list_item" | "to_do" | "toggle" | "quote" | "callout"
        | "template" | "column" | "column_list" | "table" | "tab" => true,
        "synced_block" => b["synced_block"]["synced_from"].is_null(),
        "heading_1" | "heading_2" | "heading_3" | "heading_4" => b[ty]["is_toggleable"].as_bool() == Some(true),
        _ => false,
    }
}

fn append(w: &mut World, ctx: &Ctx, id: &str, body: &Value) -> ApiResult {
    let o = obj(body, "body")?;
    only_keys(o, &["children", "after", "position"], "body")?;
    let parent_type = if w.has_page(id) {
        if !page_exists(w, id) {
            return Err(ApiError::not_found("block", id));
        }
        "page".to_string()
    } else if let Some(b) = w.blocks.get(id) {
        if w.is_unshared(id) {
            return Err(ApiError::not_found("block", id));
        }
        let ty = b["type"].as_str().unwrap_or("").to_string();
        if !takes_children(&ty, b) {
            return Err(ApiError::validation(&format!("Block type {ty} does not support children.")));
        }
        ty
    } else {
        return Err(ApiError::not_found("block", id));
    };
    let kids = children(w, o.get("children").unwrap_or(&Value::Null), "body.children", &parent_type)?;
    if parent_type == "table" {
        let width = w.blocks[id]["table"]["table_width"].as_u64().unwrap_or(0) as usize;
        for (i, k) in kids.iter().enumerate() {
            let n = k.json["table_row"]["cells"].as_array().map(Vec::len).unwrap_or(0);
            if n != width {
                return Err(invalid(
                    &format!("body.children[{i}].table_row.cells.length"),
                    &format!("should be `{width}`, instead was `{n}`."),
                ));
            }
        }
    }
    let at = position(w, ctx, o, id, false)?;
    let results = store(w, id, kids, at);
    touch(w, id);
    Ok(
        json!({"object": "list", "results": results, "next_cursor": null, "has_more": false, "type": "block", "block": {}}),
    )
}

/// The page holding `id` was edited now.
fn touch(w: &mut World, id: &str) {
    let mut cur = norm(id);
    for _ in 0..64 {
        if w.has_page(&cur) {
            if let Some(p) = w.page_mut(&cur) {
                p["last_edited_time"] = json!(now());
            }
            return;
        }
        let Some(b) = w.blocks.get(&cur) else { return };
        let parent = &b["parent"];
        cur = norm(parent["block_id"].as_str().or(parent["page_id"].as_str()).unwrap_or(""));
    }
}

// ---------------------------------------------------------------------------------------------
// Pages and property values
// ---------------------------------------------------------------------------------------------

const READ_ONLY: &[&str] =
    &["formula", "rollup", "created_time", "created_by", "last_edited_time", "last_edited_by", "unique_id", "button"];

/// Validate the value of schema property `schema` (of data source `ds`); served form.
fn property_value(
    w: &mut World,
    ds: &str,
    name: &str,
    schema: &Value,
    v: &Value,
    path: &str,
) -> Result<Value, ApiError> {
    let ty = schema["type"].as_str().unwrap_or("").to_string();
    let o = obj(v, path)?;
    if READ_ONLY.contains(&ty.as_str()) {
        return Err(ApiError::validation(&format!(
            "{name} is a {ty} property, which cannot be set through the API (it is read-only)."
        )));
    }
    let given = type_of(
        o,
        &[
            "title",
            "rich_text",
            "number",
            "select",
            "multi_select",
            "status",
            "date",
            "people",
            "files",
            "checkbox",
            "url",
            "email",
            "phone_number",
            "relation",
            "place",
            "verification",
        ],
        path,
    )?;
    only_keys(o, &["type", given.as_str(), "id", "name"], path)?;
    if given != ty {
        return Err(ApiError::validation(&format!("{name} is expected to be {ty}.")));
    }
    let x = &o[&ty];
    let p = format!("{path}.{ty}");
    let value = match ty.as_str() {
        "title" | "rich_text" => Value::Array(rich_text(w, x, &p)?),
        "number" => {
            if !x.is_null() && !x.is_number() {
                return Err(invalid(&p, "should be a number or `null`."));
            }
            x.clone()
        }
        "checkbox" => json!(x.as_bool().ok_or_else(|| invalid(&p, "should be a boolean."))?),
        "url" => {
            if x.is_null() {
                Value::Null
            } else {
                json!(string(x, &p, 2000)?)
            }
        }
        "email" | "phone_number" => {
            if x.is_null() {
                Value::Null
            } else {
                json!(string(x, &p, 200)?)
            }
        }
        "select" | "status" => {
            if x.is_null() {
                Value::Null
            } else {
                option_of(w, ds, name, &ty, x, &p)?
            }
        }
        "multi_select" => {
            let a = array(x, &p, 100)?;
            let mut out = Vec::new();
            for (i, it) in a.iter().enumerate() {
                out.push(option_of(w, ds, name, "multi_select", it, &format!("{p}[{i}]"))?);
            }
            Value::Array(out)
        }
        "date" => {
            if x.is_null() {
                Value::Null
            } else {
                date(x, &p)?
            }
        }
        "people" => {
            let a = array(x, &p, 100)?;
            let mut out = Vec::new();
            for (i, it) in a.iter().enumerate() {
                let io = obj(it, &format!("{p}[{i}]"))?;
                only_keys(io, &["id", "object"], &format!("{p}[{i}]"))?;
                let id = norm(io.get("id").and_then(Value::as_str).unwrap_or(""));
                let u = if id == norm(BOT_ID) { Some(w.bot.clone()) } else { w.users.get(&id).cloned() };
                match u {
                    Some(u) => out.push(u),
                    None => {
                        return Err(invalid(
                            &format!("{p}[{i}].id"),
                            &format!("should be a user of this workspace, instead was `{}`.", dashed(&id)),
                        ))
                    }
                }
            }
            Value::Array(out)
        }
        "files" => {
            let a = array(x, &p, 100)?;
            let mut out = Vec::new();
            for (i, it) in a.iter().enumerate() {
                let fp = format!("{p}[{i}]");
                let fo = obj(it, &fp)?;
                only_keys(fo, &["name", "type", "external", "file_upload"], &fp)?;
                let mut f = file_object(w, fo, &fp)?;
                let name = fo
                    .get("name")
                    .and_then(Value::as_str)
                    .map(|n| string(&json!(n), &format!("{fp}.name"), 100).map(str::to_string))
                    .transpose()?;
                f["name"] = json!(name.unwrap_or_else(|| "file".into()));
                out.push(f);
            }
            Value::Array(out)
        }
        "relation" => {
            let a = array(x, &p, 100)?;
            let target = norm(schema["relation"]["data_source_id"].as_str().unwrap_or(""));
            let mut out = Vec::new();
            for (i, it) in a.iter().enumerate() {
                let io = obj(it, &format!("{p}[{i}]"))?;
                only_keys(io, &["id"], &format!("{p}[{i}]"))?;
                let id = norm(io.get("id").and_then(Value::as_str).unwrap_or(""));
                let in_target = w.data_sources.get(&target).is_some_and(|d| d.rows.contains(&id));
                if !page_exists(w, &id) {
                    return Err(ApiError::not_found("page", &id));
                }
                if !in_target {
                    return Err(invalid(
                        &format!("{p}[{i}].id"),
                        &format!("should be a page of the related data source {}.", dashed(&target)),
                    ));
                }
                out.push(json!({"id": dashed(&id)}));
            }
            Value::Array(out)
        }
        "place" => x.clone(),
        "verification" => {
            return Err(ApiError::validation(&format!("{name}: verification can only be set on wiki pages.")))
        }
        other => {
            return Err(ApiError::validation(&format!("{name}: property type {other} is not supported by the fake.")))
        }
    };
    Ok(value)
}

/// A select/multi-select/status option by name or id; select options are created when new,
/// status options must exist.
fn option_of(w: &mut World, ds: &str, prop: &str, ty: &str, v: &Value, path: &str) -> Result<Value, ApiError> {
    let o = obj(v, path)?;
    only_keys(o, &["id", "name", "color", "description"], path)?;
    let name = o.get("name").and_then(Value::as_str);
    let id = o.get("id").and_then(Value::as_str);
    if name.is_none() && id.is_none() {
        return Err(invalid(path, "should have a `name` or an `id`."));
    }
    if let Some(n) = name {
        if n.contains(',') && ty != "status" {
            return Err(invalid(&format!("{path}.name"), "should not contain commas."));
        }
        string(&json!(n), &format!("{path}.name"), 100)?;
    }
    let entry = w.data_sources.get_mut(ds).ok_or_else(|| ApiError::not_found("data_source", ds))?;
    let conf = &mut entry.json["properties"][prop][ty];
    let opts = conf["options"].as_array_mut();
    let found = opts.as_ref().and_then(|a| {
        a.iter()
            .find(|x| (name.is_some() && x["name"].as_str() == name) || (id.is_some() && x["id"].as_str() == id))
            .cloned()
    });
    if let Some(f) = found {
        return Ok(json!({"id": f["id"], "name": f["name"], "color": f["color"]}));
    }
    if ty == "status" || name.is_none() {
        return Err(invalid(
            path,
            &format!("is not an option of {prop} (status options cannot be created through the API)."),
        ));
    }
    let c = o
        .get("color")
        .map(|c| color(c, &format!("{path}.color"), false))
        .transpose()?
        .unwrap_or_else(|| "default".into());
    let new = json!({"id": format!("opt-{}", norm(&uuidish(name.unwrap_or("")))), "name": name, "color": c, "description": null});
    if conf["options"].as_array().is_none() {
        conf["options"] = json!([]);
    }
    conf["options"].as_array_mut().unwrap().push(new.clone());
    Ok(json!({"id": new["id"], "name": new["name"], "color": new["color"]}))
}

fn uuidish(s: &str) -> String {
    let mut h: u64 = 1469598103934665603;
    for b in s.bytes() {
        h = (h ^ b as u64).wrapping_mul(1099511628211);
    }
    format!("{h:016x}")
}

/// Empty served value of a schema property (what a row shows when nothing was set).
fn empty_value(w: &mut World, ds: &str, schema: &Value) -> Value {
    let ty = schema["type"].as_str().unwrap_or("");
    let t = now();
    let v = match ty {
        "title" | "rich_text" | "multi_select" | "people" | "files" => json!([]),
        "relation" => json!([]),
        "checkbox" => json!(false),
        "formula" => json!({"type": "string", "string": null}),
        "rollup" => json!({"type": "number", "number": null, "function": schema["rollup"]["function"]}),
        "created_time" | "last_edited_time" => json!(t),
        "created_by" | "last_edited_by" => bot(),
        "unique_id" => {
            let n = w.writes.unique_ids.entry(ds.to_string()).or_insert(0);
            *n += 1;
            json!({"prefix": schema["unique_id"]["prefix"], "number": *n})
        }
        "button" => json!({}),
        _ => Value::Null,
    };
    let mut o = Map::new();
    o.insert("id".into(), schema["id"].clone());
    o.insert("type".into(), json!(ty));
    o.insert(ty.into(), v);
    if ty == "relation" {
        o.insert("has_more".into(), json!(false));
    }
    Value::Object(o)
}

/// The schema property `key` names (a name or an id).
fn schema_prop<'a>(props: &'a Map<String, Value>, key: &str) -> Option<(&'a String, &'a Value)> {
    props.iter().find(|(n, p)| n.as_str() == key || p["id"].as_str() == Some(key))
}

fn create_page(w: &mut World, ctx: &Ctx, body: &Value) -> ApiResult {
    let o = obj(body, "body")?;
    only_keys(o, &["parent", "properties", "icon", "cover", "children", "content", "position", "template"], "body")?;
    let parent = obj(o.get("parent").unwrap_or(&Value::Null), "body.parent")?;
    let pty = type_of(parent, &["page_id", "data_source_id", "database_id", "workspace"], "body.parent")?;
    only_keys(parent, &["type", pty.as_str()], "body.parent")?;
    let (parent_json, ds): (Value, Option<String>) =
        match pty.as_str() {
            "page_id" => {
                let id = norm(parent["page_id"].as_str().unwrap_or(""));
                if !page_exists(w, &id) {
                    return Err(ApiError::not_found("page", &id));
                }
                (json!({"type": "page_id", "page_id": dashed(&id)}), None)
            }
            "data_source_id" | "database_id" => {
                let raw = norm(parent[&pty].as_str().unwrap_or(""));
                let ds = if pty == "database_id" {
                    let db = w
                        .databases
                        .get(&raw)
                        .filter(|_| database_exists(w, &raw))
                        .ok_or_else(|| ApiError::not_found("database", &raw))?;
                    let sources = db["data_sources"].as_array().cloned().unwrap_or_default();
                    if sources.len() != 1 {
                        return Err(ApiError::validation(
                            "Databases with multiple data sources need parent.data_source_id.",
                        ));
                    }
                    norm(sources[0]["id"].as_str().unwrap_or(""))
                } else {
                    raw
                };
                let entry = super::visible_data_source(w, &ds)?;
                let db = norm(entry.json["parent"]["database_id"].as_str().unwrap_or(""));
                (json!({"type": "data_source_id", "data_source_id": dashed(&ds), "database_id": dashed(&db)}), Some(ds))
            }
            _ => return Err(ApiError::validation(
                "Internal integrations cannot create pages at the workspace level: use a page or data source parent.",
            )),
        };
    if o.contains_key("template") && o.contains_key("children") {
        return Err(invalid("body.children", "should be not present with a template."));
    }
    let props_in = match o.get("properties") {
        Some(p) => obj(p, "body.properties")?.clone(),
        None => Map::new(),
    };
    let mut props = Map::new();
    match &ds {
        None => {
            for (k, v) in &props_in {
                if k != "title" {
                    return Err(ApiError::validation(&format!(
                        "body.properties.{k}: a page whose parent is a page can only have the `title` property."
                    )));
                }
                let vo = obj(v, "body.properties.title")?;
                only_keys(vo, &["type", "title", "id"], "body.properties.title")?;
                let rt = rich_text(w, vo.get("title").unwrap_or(&Value::Null), "body.properties.title.title")?;
                props.insert("title".into(), json!({"id": "title", "type": "title", "title": rt}));
            }
            if !props.contains_key("title") {
                props.insert("title".into(), json!({"id": "title", "type": "title", "title": []}));
            }
        }
        Some(ds) => {
            let schema = w.data_sources[ds].json["properties"].as_object().cloned().unwrap_or_default();
            let mut given: HashMap<String, Value> = HashMap::new();
            for (k, v) in &props_in {
                let Some((name, sp)) = schema_prop(&schema, k) else {
                    return Err(ApiError::validation(&format!("{k} is not a property that exists.")));
                };
                let val = property_value(w, ds, name, sp, v, &format!("body.properties.{k}"))?;
                given.insert(name.clone(), val);
            }
            for (name, sp) in &schema {
                let mut v = empty_value(w, ds, sp);
                if let Some(val) = given.remove(name) {
                    let ty = sp["type"].as_str().unwrap_or("").to_string();
                    v[&ty] = val;
                }
                props.insert(name.clone(), v);
            }
        }
    }
    let ic = o.get("icon").map(|i| icon(w, i, "body.icon")).transpose()?.unwrap_or(Value::Null);
    let cv = o.get("cover").map(|c| cover(w, c, "body.cover")).transpose()?.unwrap_or(Value::Null);
    let kids = match o.get("children").or(o.get("content")) {
        Some(c) => children(w, c, "body.children", "page")?,
        None => Vec::new(),
    };
    let at = match &ds {
        None => {
            let pid = norm(parent_json["page_id"].as_str().unwrap_or(""));
            position(w, ctx, o, &pid, true)?
        }
        Some(_) if o.contains_key("position") => return Err(not_present("body.position", &o["position"])),
        Some(_) => None,
    };
    let id = w.next_id();
    let t = now();
    let page = json!({
        "object": "page", "id": id, "created_time": t, "last_edited_time": t,
        "created_by": bot(), "last_edited_by": bot(), "cover": cv, "icon": ic,
        "parent": parent_json, "in_trash": false, "is_locked": false, "properties": props,
        "url": format!("https://www.notion.so/{}", norm(&id)), "public_url": null
    });
    w.insert_page(page.clone());
    if ds.is_none() {
        // The page shows in its parent as a child_page block.
        let pid = norm(page["parent"]["page_id"].as_str().unwrap_or(""));
        let title = page_title(&page);
        let blk = json!({"object": "block", "id": id, "parent": {"type": "page_id", "page_id": dashed(&pid)},
            "created_time": t, "last_edited_time": t, "created_by": bot(), "last_edited_by": bot(),
            "has_children": !kids.is_empty(), "in_trash": false, "type": "child_page", "child_page": {"title": title}});
        w.blocks.insert(norm(&id), blk);
        let list = w.children.entry(pid).or_default();
        let at = at.unwrap_or(list.len()).min(list.len());
        list.insert(at, norm(&id));
    }
    if !kids.is_empty() {
        store(w, &id, kids, None);
    }
    Ok(page)
}

fn update_page(w: &mut World, id: &str, body: &Value) -> ApiResult {
    let o = obj(body, "body")?;
    only_keys(o, &["properties", "icon", "cover", "in_trash", "is_locked"], "body")?;
    if !page_exists(w, id) {
        return Err(ApiError::not_found("page", id));
    }
    let page = w.page(id).unwrap();
    let ds = page["parent"]["data_source_id"].as_str().map(norm);
    if let Some(p) = o.get("properties") {
        let props_in = obj(p, "body.properties")?.clone();
        for (k, v) in &props_in {
            match &ds {
                None => {
                    if k != "title" {
                        return Err(ApiError::validation(&format!(
                            "body.properties.{k}: a page whose parent is a page can only have the `title` property."
                        )));
                    }
                    let rt = rich_text(w, &v["title"], "body.properties.title.title")?;
                    w.page_mut(id).unwrap()["properties"]["title"]["title"] = Value::Array(rt);
                }
                Some(ds) => {
                    let schema = w.data_sources[ds].json["properties"].as_object().cloned().unwrap_or_default();
                    let Some((name, sp)) = schema_prop(&schema, k) else {
                        return Err(ApiError::validation(&format!("{k} is not a property that exists.")));
                    };
                    let val = property_value(w, ds, name, sp, v, &format!("body.properties.{k}"))?;
                    let ty = sp["type"].as_str().unwrap_or("").to_string();
                    let old = w.page(id).unwrap()["properties"][name.as_str()][&ty].clone();
                    w.page_mut(id).unwrap()["properties"][name.as_str()][&ty] = val.clone();
                    if ty == "relation" {
                        sync_dual(w, id, sp, &old, &val);
                    }
                }
            }
        }
    }
    if let Some(i) = o.get("icon") {
        let ic = icon(w, i, "body.icon")?;
        w.page_mut(id).unwrap()["icon"] = ic;
    }
    if let Some(c) = o.get("cover") {
        let cv = cover(w, c, "body.cover")?;
        w.page_mut(id).unwrap()["cover"] = cv;
    }
    w.page_mut(id).unwrap()["last_edited_time"] = json!(now());
    Ok(w.page(id).unwrap())
}

/// A dual relation shows on both sides: pages added or removed here gain or lose this page
/// in the synced property.
fn sync_dual(w: &mut World, page: &str, schema: &Value, old: &Value, new: &Value) {
    let rel = &schema["relation"];
    if rel["type"] != "dual_property" {
        return;
    }
    let Some(synced) = rel["dual_property"]["synced_property_name"].as_str().map(str::to_string) else { return };
    let ids = |v: &Value| -> Vec<String> {
        v.as_array().map(|a| a.iter().filter_map(|x| x["id"].as_str()).map(norm).collect()).unwrap_or_default()
    };
    let (before, after) = (ids(old), ids(new));
    let me = json!({"id": dashed(page)});
    for t in after.iter().filter(|t| !before.contains(t)) {
        if let Some(p) = w.page_mut(t) {
            let arr = &mut p["properties"][&synced]["relation"];
            if let Some(a) = arr.as_array_mut() {
                if !a.iter().any(|x| x["id"].as_str().map(norm) == Some(norm(page))) {
                    a.push(me.clone());
                }
            }
        }
    }
    for t in before.iter().filter(|t| !after.contains(t)) {
        if let Some(p) = w.page_mut(t) {
            if let Some(a) = p["properties"][&synced]["relation"].as_array_mut() {
                a.retain(|x| x["id"].as_str().map(norm) != Some(norm(page)));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Databases and data sources
// ---------------------------------------------------------------------------------------------

const CREATABLE_PROPS: &[&str] = &[
    "title",
    "rich_text",
    "number",
    "select",
    "multi_select",
    "status",
    "date",
    "people",
    "files",
    "checkbox",
    "url",
    "email",
    "phone_number",
    "formula",
    "relation",
    "rollup",
    "created_time",
    "created_by",
    "last_edited_time",
    "last_edited_by",
    "unique_id",
    "button",
    "location",
    "verification",
    "last_visited_time",
    "place",
];

const ROLLUP_FUNCTIONS: &[&str] = &[
    "count",
    "count_values",
    "empty",
    "not_empty",
    "unique",
    "show_unique",
    "percent_empty",
    "percent_not_empty",
    "sum",
    "average",
    "median",
    "min",
    "max",
    "range",
    "earliest_date",
    "latest_date",
    "date_range",
    "checked",
    "unchecked",
    "percent_checked",
    "percent_unchecked",
    "count_per_group",
    "percent_per_group",
    "show_original",
];

fn prop_id_for(name: &str) -> String {
    format!("p{}", &uuidish(name)[..6])
}

/// Validate schema properties for a data source `ds` (whose current properties are `current`);
/// returns name -> served schema object. Dual relations also return the property each creates
/// on the other side: (data source, name, schema).
#[allow(clippy::type_complexity)]
fn schema(
    w: &World,
    ds: &str,
    current: &Map<String, Value>,
    v: &Value,
    path: &str,
    creating: bool,
) -> Result<(Vec<(String, Option<Value>)>, Vec<(String, String, Value)>), ApiError> {
    let o = obj(v, path)?;
    let mut out = Vec::new();
    let mut synced = Vec::new();
    let mut titles = current.values().filter(|p| p["type"] == "title").count();
    for (name, p) in o {
        let pp = format!("{path}.{name}");
        if p.is_null() {
            if creating {
                return Err(invalid(&pp, "should be a property schema object."));
            }
            out.push((name.clone(), None));
            continue;
        }
        let po = obj(p, &pp)?;
        let existing = schema_prop(current, name).map(|(n, x)| (n.clone(), x.clone()));
        let ty = match type_of(po, CREATABLE_PROPS, &pp) {
            Ok(t) => t,
            Err(_) if existing.is_some() && po.keys().all(|k| k == "name" || k == "description") => {
                // A rename or a new description only.
                let (en, ex) = existing.clone().unwrap();
                let mut s = ex;
                if let Some(n) = po.get("name") {
                    s["name"] = n.clone();
                }
                out.push((en, Some(s)));
                continue;
            }
            Err(e) => return Err(e),
        };
        only_keys(po, &["type", ty.as_str(), "name", "description"], &pp)?;
        if ty == "status" {
            return Err(ApiError::validation(&format!(
                "{pp}: status properties cannot be created or changed through the API; create them in Notion."
            )));
        }
        let conf = obj(&po[&ty], &format!("{pp}.{ty}"))?;
        let cp = format!("{pp}.{ty}");
        let served_conf = match ty.as_str() {
            "number" => {
                only_keys(conf, &["format"], &cp)?;
                json!({"format": conf.get("format").and_then(Value::as_str).unwrap_or("number")})
            }
            "select" | "multi_select" => {
                only_keys(conf, &["options"], &cp)?;
                let mut opts = Vec::new();
                if let Some(a) = conf.get("options") {
                    for (i, x) in array(a, &format!("{cp}.options"), 100)?.iter().enumerate() {
                        let xo = obj(x, &format!("{cp}.options[{i}]"))?;
                        only_keys(xo, &["name", "color", "description", "id"], &format!("{cp}.options[{i}]"))?;
                        let n =
                            string(xo.get("name").unwrap_or(&Value::Null), &format!("{cp}.options[{i}].name"), 100)?;
                        if n.contains(',') {
                            return Err(invalid(&format!("{cp}.options[{i}].name"), "should not contain commas."));
                        }
                        let c = xo
                            .get("color")
                            .map(|c| color(c, &format!("{cp}.options[{i}].color"), false))
                            .transpose()?
                            .unwrap_or_else(|| "default".into());
                        opts.push(json!({"id": format!("opt-{}", uuidish(n)), "name": n, "color": c, "description": xo.get("description").cloned().unwrap_or(Value::Null)}));
                    }
                }
                json!({"options": opts})
            }
            "formula" => {
                only_keys(conf, &["expression"], &cp)?;
                let e = conf
                    .get("expression")
                    .and_then(Value::as_str)
                    .ok_or_else(|| invalid(&format!("{cp}.expression"), "should be a string."))?;
                // prop("X") must name a property of the data source (or of this request).
                let mut rest = e;
                while let Some(i) = rest.find("prop(\"") {
                    let after = &rest[i + 6..];
                    let Some(end) = after.find("\")") else { break };
                    let referenced = &after[..end];
                    if !current.contains_key(referenced) && !o.contains_key(referenced) {
                        return Err(ApiError::validation(&format!(
                            "Formula of {name}: property \"{referenced}\" does not exist."
                        )));
                    }
                    rest = &after[end + 2..];
                }
                json!({"expression": e})
            }
            "relation" => {
                only_keys(conf, &["data_source_id", "database_id", "type", "single_property", "dual_property"], &cp)?;
                let target = norm(conf.get("data_source_id").and_then(Value::as_str).unwrap_or(""));
                let tentry =
                    super::visible_data_source(w, &target).map_err(|_| ApiError::not_found("data_source", &target))?;
                let db = tentry.json["parent"]["database_id"].clone();
                let rty = conf.get("type").and_then(Value::as_str).unwrap_or(if conf.contains_key("dual_property") {
                    "dual_property"
                } else {
                    "single_property"
                });
                match rty {
                    "single_property" => {
                        json!({"database_id": db, "data_source_id": dashed(&target), "type": "single_property", "single_property": {}})
                    }
                    "dual_property" => {
                        let d = conf.get("dual_property").cloned().unwrap_or(json!({}));
                        let dobj = obj(&d, &format!("{cp}.dual_property"))?;
                        only_keys(
                            dobj,
                            &["synced_property_name", "synced_property_id"],
                            &format!("{cp}.dual_property"),
                        )?;
                        let own_title = super::plain_text(
                            &w.data_sources.get(ds).map(|e| e.json["title"].clone()).unwrap_or(Value::Null),
                        );
                        let sname = dobj
                            .get("synced_property_name")
                            .and_then(Value::as_str)
                            .map(str::to_string)
                            .unwrap_or_else(|| format!("Related to {own_title} ({name})"));
                        let sid = prop_id_for(&format!("{target}{sname}"));
                        let own_db = w
                            .data_sources
                            .get(ds)
                            .map(|e| e.json["parent"]["database_id"].clone())
                            .unwrap_or(Value::Null);
                        let my_id = existing
                            .as_ref()
                            .and_then(|(_, x)| x["id"].as_str().map(str::to_string))
                            .unwrap_or_else(|| prop_id_for(&format!("{ds}{name}")));
                        synced.push((target.clone(), sname.clone(), json!({"id": sid, "name": sname, "description": null, "type": "relation",
                            "relation": {"database_id": own_db, "data_source_id": dashed(ds), "type": "dual_property",
                                         "dual_property": {"synced_property_id": my_id, "synced_property_name": name}}})));
                        json!({"database_id": db, "data_source_id": dashed(&target), "type": "dual_property",
                               "dual_property": {"synced_property_id": sid, "synced_property_name": sname}})
                    }
                    other => {
                        return Err(invalid(
                            &format!("{cp}.type"),
                            &format!("should be `single_property` or `dual_property`, instead was `{other}`."),
                        ))
                    }
                }
            }
            "rollup" => {
                only_keys(
                    conf,
                    &[
                        "function",
                        "relation_property_name",
                        "relation_property_id",
                        "rollup_property_name",
                        "rollup_property_id",
                    ],
                    &cp,
                )?;
                let f = conf.get("function").and_then(Value::as_str).unwrap_or("");
                if !ROLLUP_FUNCTIONS.contains(&f) {
                    return Err(invalid(
                        &format!("{cp}.function"),
                        &format!("should be a rollup function, instead was `{f}`."),
                    ));
                }
                let rel_key = conf
                    .get("relation_property_name")
                    .or(conf.get("relation_property_id"))
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let rel = schema_prop(current, rel_key).map(|(n, x)| (n.clone(), x.clone()));
                let Some((rel_name, rel_schema)) = rel.filter(|(_, x)| x["type"] == "relation") else {
                    return Err(ApiError::validation(&format!(
                        "Rollup {name}: relation property \"{rel_key}\" does not exist."
                    )));
                };
                let target = norm(rel_schema["relation"]["data_source_id"].as_str().unwrap_or(""));
                let tprops = w
                    .data_sources
                    .get(&target)
                    .and_then(|e| e.json["properties"].as_object().cloned())
                    .unwrap_or_default();
                let roll_key = conf
                    .get("rollup_property_name")
                    .or(conf.get("rollup_property_id"))
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let Some((roll_name, roll)) = schema_prop(&tprops, roll_key) else {
                    return Err(ApiError::validation(&format!(
                        "Rollup {name}: property \"{roll_key}\" does not exist in the related data source."
                    )));
                };
                json!({"relation_property_name": rel_name, "relation_property_id": rel_schema["id"],
                       "rollup_property_name": roll_name, "rollup_property_id": roll["id"], "function": f})
            }
            "unique_id" => {
                only_keys(conf, &["prefix"], &cp)?;
                json!({"prefix": conf.get("prefix").cloned().unwrap_or(Value::Null)})
            }
            _ => {
                only_keys(conf, &[], &cp)?;
                json!({})
            }
        };
        if ty == "title" {
            titles += usize::from(existing.as_ref().is_none_or(|(_, x)| x["type"] != "title"));
        }
        let id = existing.as_ref().and_then(|(_, x)| x["id"].as_str().map(str::to_string)).unwrap_or_else(|| {
            if ty == "title" {
                "title".into()
            } else {
                prop_id_for(&format!("{ds}{name}"))
            }
        });
        let shown = po.get("name").and_then(Value::as_str).unwrap_or(name).to_string();
        let served = json!({"id": id, "name": shown, "description": po.get("description").cloned().unwrap_or(Value::Null), "type": ty, ty.clone(): served_conf});
        out.push((existing.map(|(n, _)| n).unwrap_or_else(|| name.clone()), Some(served)));
    }
    if titles != 1 {
        return Err(ApiError::validation(&format!(
            "A data source must have exactly one title property, this one would have {titles}."
        )));
    }
    Ok((out, synced))
}

fn apply_schema(w: &mut World, ds: &str, props: Vec<(String, Option<Value>)>, synced: Vec<(String, String, Value)>) {
    if let Some(e) = w.data_sources.get_mut(ds) {
        let m = e.json["properties"].as_object_mut().unwrap();
        for (name, p) in props {
            match p {
                None => {
                    m.remove(&name);
                }
                Some(p) => {
                    let shown = p["name"].as_str().unwrap_or(&name).to_string();
                    if shown != name {
                        m.remove(&name);
                    }
                    m.insert(shown, p);
                }
            }
        }
        e.json["last_edited_time"] = json!(now());
    }
    for (target, name, p) in synced {
        let empty = {
            let mut x = Map::new();
            x.insert("id".into(), p["id"].clone());
            x.insert("type".into(), json!("relation"));
            x.insert("relation".into(), json!([]));
            x.insert("has_more".into(), json!(false));
            Value::Object(x)
        };
        if let Some(e) = w.data_sources.get_mut(&target) {
            e.json["properties"].as_object_mut().unwrap().insert(name.clone(), p);
            let rows = e.rows.clone();
            for r in rows {
                if let Some(page) = w.page_mut(&r) {
                    if page["properties"].get(&name).is_none() {
                        page["properties"][&name] = empty.clone();
                    }
                }
            }
        }
    }
    // Rows of `ds` gain new properties (empty).
    let rows = w.data_sources.get(ds).map(|e| e.rows.clone()).unwrap_or_default();
    let schema = w.data_sources.get(ds).and_then(|e| e.json["properties"].as_object().cloned()).unwrap_or_default();
    for r in rows {
        for (name, sp) in &schema {
            let has = w.page(&r).is_some_and(|p| p["properties"].get(name).is_some());
            if !has {
                let v = empty_value(w, ds, sp);
                if let Some(p) = w.page_mut(&r) {
                    p["properties"][name] = v;
                }
            }
        }
    }
}

fn create_database(w: &mut World, body: &Value) -> ApiResult {
    let o = obj(body, "body")?;
    if let Some(p) = o.get("properties") {
        return Err(not_present("body.properties", p));
    }
    only_keys(o, &["parent", "title", "description", "is_inline", "initial_data_source", "icon", "cover"], "body")?;
    let parent = obj(o.get("parent").unwrap_or(&Value::Null), "body.parent")?;
    let pty = type_of(parent, &["page_id", "workspace"], "body.parent")?;
    only_keys(parent, &["type", pty.as_str()], "body.parent")?;
    if pty != "page_id" {
        return Err(ApiError::validation(
            "Internal integrations cannot create databases at the workspace level: use a page parent.",
        ));
    }
    let pid = norm(parent["page_id"].as_str().unwrap_or(""));
    if !page_exists(w, &pid) {
        return Err(ApiError::not_found("page", &pid));
    }
    let title = match o.get("title") {
        Some(t) => Value::Array(rich_text(w, t, "body.title")?),
        None => json!([]),
    };
    let description = match o.get("description") {
        Some(t) => Value::Array(rich_text(w, t, "body.description")?),
        None => json!([]),
    };
    let is_inline = o
        .get("is_inline")
        .map(|b| b.as_bool().ok_or_else(|| invalid("body.is_inline", "should be a boolean.")))
        .transpose()?
        .unwrap_or(false);
    let ic = o.get("icon").map(|i| icon(w, i, "body.icon")).transpose()?.unwrap_or(Value::Null);
    let cv = o.get("cover").map(|c| cover(w, c, "body.cover")).transpose()?.unwrap_or(Value::Null);
    let db_id = w.next_id();
    let ds_id = w.next_id();
    let props_v = o
        .get("initial_data_source")
        .map(|i| {
            obj(i, "body.initial_data_source").and_then(|io| {
                only_keys(io, &["properties"], "body.initial_data_source")?;
                Ok(io.get("properties").cloned().unwrap_or(json!({"Name": {"title": {}}})))
            })
        })
        .transpose()?
        .unwrap_or(json!({"Name": {"title": {}}}));
    // Validate against an empty schema first (a relation to itself needs the data source).
    let t = now();
    let db = json!({"object": "database", "id": db_id, "title": title, "description": description,
        "parent": {"type": "page_id", "page_id": dashed(&pid)}, "is_inline": is_inline, "in_trash": false, "is_locked": false,
        "created_time": t, "last_edited_time": t, "data_sources": [{"id": ds_id, "name": super::plain_text(&title)}],
        "icon": ic, "cover": cv, "url": format!("https://www.notion.so/{}", norm(&db_id)), "public_url": null});
    let ds = json!({"object": "data_source", "id": ds_id, "title": title,
        "description": [], "parent": {"type": "database_id", "database_id": dashed(&db_id)},
        "database_parent": {"type": "page_id", "page_id": dashed(&pid)}, "is_inline": is_inline, "in_trash": false,
        "created_time": t, "last_edited_time": t, "created_by": bot(), "last_edited_by": bot(),
        "properties": {}, "icon": Value::Null, "cover": Value::Null,
        "url": format!("https://www.notion.so/{}", norm(&ds_id)), "public_url": null});
    w.data_sources.insert(norm(&ds_id), DataSourceEntry { json: ds, rows: Vec::new() });
    let validated = schema(w, &norm(&ds_id), &Map::new(), &props_v, "body.initial_data_source.properties", true);
    let (props, synced) = match validated {
        Ok(x) => x,
        Err(e) => {
            w.data_sources.remove(&norm(&ds_id));
            return Err(e);
        }
    };
    apply_schema(w, &norm(&ds_id), props, synced);
    w.insert_database(db.clone());
    let blk = json!({"object": "block", "id": db_id, "parent": {"type": "page_id", "page_id": dashed(&pid)},
        "created_time": t, "last_edited_time": t, "created_by": bot(), "last_edited_by": bot(),
        "has_children": false, "in_trash": false, "type": "child_database", "child_database": {"title": super::plain_text(&title)}});
    w.blocks.insert(norm(&db_id), blk);
    w.children.entry(pid).or_default().push(norm(&db_id));
    Ok(db)
}

fn create_data_source(w: &mut World, body: &Value) -> ApiResult {
    let o = obj(body, "body")?;
    only_keys(o, &["parent", "properties", "title", "icon"], "body")?;
    let parent = obj(o.get("parent").unwrap_or(&Value::Null), "body.parent")?;
    only_keys(parent, &["type", "database_id"], "body.parent")?;
    let db = norm(parent.get("database_id").and_then(Value::as_str).unwrap_or(""));
    if !database_exists(w, &db) {
        return Err(ApiError::not_found("database", &db));
    }
    let title = match o.get("title") {
        Some(t) => Value::Array(rich_text(w, t, "body.title")?),
        None => json!([]),
    };
    let ds_id = w.next_id();
    let t = now();
    let dbp = w.databases[&db]["parent"].clone();
    let ds = json!({"object": "data_source", "id": ds_id, "title": title, "description": [],
        "parent": {"type": "database_id", "database_id": dashed(&db)}, "database_parent": dbp, "is_inline": false, "in_trash": false,
        "created_time": t, "last_edited_time": t, "created_by": bot(), "last_edited_by": bot(), "properties": {},
        "icon": null, "cover": null, "url": format!("https://www.notion.so/{}", norm(&ds_id)), "public_url": null});
    w.data_sources.insert(norm(&ds_id), DataSourceEntry { json: ds, rows: Vec::new() });
    let validated =
        schema(w, &norm(&ds_id), &Map::new(), o.get("properties").unwrap_or(&Value::Null), "body.properties", true);
    let (props, synced) = match validated {
        Ok(x) => x,
        Err(e) => {
            w.data_sources.remove(&norm(&ds_id));
            return Err(e);
        }
    };
    apply_schema(w, &norm(&ds_id), props, synced);
    let name = super::plain_text(&title);
    if let Some(d) = w.databases.get_mut(&db) {
        d["data_sources"].as_array_mut().unwrap().push(json!({"id": ds_id, "name": name}));
    }
    Ok(w.data_sources[&norm(&ds_id)].json.clone())
}

fn update_data_source(w: &mut World, id: &str, body: &Value) -> ApiResult {
    let o = obj(body, "body")?;
    only_keys(o, &["properties", "title", "icon", "in_trash"], "body")?;
    super::visible_data_source(w, id)?;
    if let Some(t) = o.get("title") {
        let rt = rich_text(w, t, "body.title")?;
        w.data_sources.get_mut(id).unwrap().json["title"] = Value::Array(rt);
    }
    if let Some(p) = o.get("properties") {
        let current = w.data_sources[id].json["properties"].as_object().cloned().unwrap_or_default();
        // Properties added in one request may refer to each other (a rollup to a relation
        // added with it): relations first.
        let po = obj(p, "body.properties")?;
        let (first, rest): (Map<String, Value>, Map<String, Value>) =
            po.iter().map(|(k, v)| (k.clone(), v.clone())).partition(|(_, v)| v.get("relation").is_some());
        let (a, sa) = schema(w, id, &current, &Value::Object(first), "body.properties", false)?;
        apply_schema(w, id, a, sa);
        let current = w.data_sources[id].json["properties"].as_object().cloned().unwrap_or_default();
        let (b, sb) = schema(w, id, &current, &Value::Object(rest), "body.properties", false)?;
        apply_schema(w, id, b, sb);
    }
    Ok(w.data_sources[id].json.clone())
}

// ---------------------------------------------------------------------------------------------
// File uploads
// ---------------------------------------------------------------------------------------------

fn upload_json(u: &Upload) -> Value {
    let mut v = json!({"object": "file_upload", "id": u.id, "created_time": iso_ms(u.created_ms), "last_edited_time": iso_ms(u.created_ms),
        "created_by": {"id": BOT_ID, "type": "bot"}, "in_trash": false,
        "expiry_time": if u.status == "uploaded" { Value::Null } else { json!(iso_ms(u.expires_ms)) },
        "status": u.status, "filename": u.filename, "content_type": u.content_type,
        "content_length": if u.status == "uploaded" { json!(u.bytes.len()) } else { Value::Null }});
    if u.status == "pending" {
        v["upload_url"] = json!(format!("https://api.notion.com/v1/file_uploads/{}/send", u.id));
    }
    if let Some(n) = u.number_of_parts {
        v["number_of_parts"] = json!({"total": n, "sent": u.parts.len()});
    }
    v
}

fn workspace_limit(w: &World) -> usize {
    w.bot["bot"]["workspace_limits"]["max_file_upload_size_in_bytes"].as_u64().unwrap_or(5 * 1024 * 1024) as usize
}

fn create_upload(w: &mut World, body: &Value) -> ApiResult {
    let o = obj(body, "body")?;
    only_keys(o, &["mode", "filename", "content_type", "number_of_parts", "external_url"], "body")?;
    let mode = o.get("mode").and_then(Value::as_str).unwrap_or("single_part").to_string();
    let filename = o
        .get("filename")
        .map(|f| f.as_str().map(str::to_string).ok_or_else(|| invalid("body.filename", "should be a string.")))
        .transpose()?;
    if filename.as_ref().is_some_and(|f| f.len() > 900) {
        return Err(invalid("body.filename.length", "should be ≤ `900` bytes."));
    }
    let content_type = o.get("content_type").and_then(Value::as_str).map(str::to_string);
    let parts = o.get("number_of_parts").and_then(Value::as_u64);
    match mode.as_str() {
        "single_part" => {
            if parts.is_some() {
                return Err(invalid("body.number_of_parts", "should be not present in single_part mode."));
            }
        }
        "multi_part" => {
            if filename.is_none() {
                return Err(invalid("body.filename", "should be defined in multi_part mode."));
            }
            match parts {
                Some(n) if (1..=1000).contains(&n) => {}
                _ => {
                    return Err(invalid(
                        "body.number_of_parts",
                        "should be a number from 1 to 1000 in multi_part mode.",
                    ))
                }
            }
        }
        "external_url" => {
            return Err(ApiError::validation(
                "mode external_url is not used by this tool and not modelled by the fake.",
            ))
        }
        other => {
            return Err(invalid(
                "body.mode",
                &format!("should be `single_part`, `multi_part` or `external_url`, instead was `{other}`."),
            ))
        }
    }
    if let (Some(f), Some(ct)) = (&filename, &content_type) {
        let ext = f.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
        let expected = super::guess_content_type(f);
        if !ext.is_empty()
            && expected != "application/octet-stream"
            && expected != ct
            && !(expected == "text/plain" && ct.starts_with("text/"))
        {
            return Err(ApiError::validation(&format!("The content type {ct} does not match the extension of {f}.")));
        }
    }
    let id = w.next_id();
    let now = now_ms();
    let up = Upload {
        id: id.clone(),
        mode,
        status: "pending".into(),
        filename,
        content_type,
        number_of_parts: parts,
        parts: BTreeMap::new(),
        bytes: Vec::new(),
        created_ms: now,
        expires_ms: now + 3_600_000,
        file_key: None,
    };
    let v = upload_json(&up);
    w.writes.uploads.insert(norm(&id), up);
    Ok(v)
}

/// The parts of a multipart/form-data body: (name, filename, content type, bytes).
#[allow(clippy::type_complexity)]
fn parse_multipart(
    content_type: &str,
    body: &[u8],
) -> Result<Vec<(String, Option<String>, Option<String>, Vec<u8>)>, ApiError> {
    let boundary = content_type
        .split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("boundary="))
        .map(|b| b.trim_matches('"').to_string())
        .ok_or_else(|| {
            ApiError::new(400, "invalid_request", "Content-Type must be multipart/form-data with a boundary.")
        })?;
    let delim = format!("--{boundary}").into_bytes();
    let find = |hay: &[u8], needle: &[u8], from: usize| {
        hay[from..].windows(needle.len()).position(|w| w == needle).map(|p| p + from)
    };
    let bad = || ApiError::new(400, "invalid_request", "The multipart/form-data body could not be parsed.");
    let mut pos = find(body, &delim, 0).ok_or_else(bad)? + delim.len();
    let mut out = Vec::new();
    loop {
        if body[pos..].starts_with(b"--") {
            break;
        }
        if !body[pos..].starts_with(b"\r\n") {
            return Err(bad());
        }
        pos += 2;
        let head_end = find(body, b"\r\n\r\n", pos).ok_or_else(bad)?;
        let head = String::from_utf8_lossy(&body[pos..head_end]).to_string();
        let data_start = head_end + 4;
        let mut next_delim = b"\r\n".to_vec();
        next_delim.extend_from_slice(&delim);
        let data_end = find(body, &next_delim, data_start).ok_or_else(bad)?;
        let mut name = None;
        let mut filename = None;
        let mut ctype = None;
        for line in head.split("\r\n") {
            let lower = line.to_ascii_lowercase();
            if lower.starts_with("content-disposition:") {
                for part in line.split(';').map(str::trim) {
                    if let Some(v) = part.strip_prefix("name=") {
                        name = Some(v.trim_matches('"').to_string());
                    }
                    if let Some(v) = part.strip_prefix("filename=") {
                        filename = Some(v.trim_matches('"').to_string());
                    }
                }
            } else if lower.starts_with("content-type:") {
                ctype = Some(line[13..].trim().to_string());
            }
        }
        out.push((name.ok_or_else(bad)?, filename, ctype, body[data_start..data_end].to_vec()));
        pos = data_end + next_delim.len();
    }
    Ok(out)
}

fn send_upload(w: &mut World, ctx: &Ctx, id: &str) -> ApiResult {
    if !ctx.content_type.as_deref().unwrap_or("").starts_with("multipart/form-data") {
        return Err(ApiError::new(400, "invalid_request", "Content-Type must be multipart/form-data."));
    }
    let limit = workspace_limit(w);
    let parts = parse_multipart(ctx.content_type.as_deref().unwrap_or(""), &ctx.raw_body)?;
    let up = w.writes.uploads.get_mut(id).ok_or_else(|| ApiError::not_found("file_upload", id))?;
    if up.expires_ms <= now_ms() {
        up.status = "expired".into();
        return Err(ApiError::validation(&format!("File upload {} has expired.", dashed(id))));
    }
    if up.status != "pending" {
        return Err(ApiError::validation(&format!(
            "File upload {} is in status `{}`; only pending uploads accept data.",
            dashed(id),
            up.status
        )));
    }
    let file = parts
        .iter()
        .find(|p| p.0 == "file")
        .ok_or_else(|| invalid("file", "should be defined: send the bytes in the form field `file`."))?;
    if let Some(other) = parts.iter().find(|p| p.0 != "file" && p.0 != "part_number") {
        return Err(invalid(&other.0, "should be not present."));
    }
    let part_number = parts.iter().find(|p| p.0 == "part_number").map(|p| String::from_utf8_lossy(&p.3).to_string());
    if let (Some(expected), Some(sent)) = (&up.content_type, &file.2) {
        if expected != sent && !sent.starts_with("application/octet-stream") {
            return Err(ApiError::validation(&format!(
                "The file's content type {sent} does not match the upload's {expected}."
            )));
        }
    }
    let bytes = file.3.clone();
    if up.mode == "single_part" {
        if part_number.is_some() {
            return Err(invalid("part_number", "should be not present in single_part mode."));
        }
        if bytes.len() > SINGLE_PART_MAX {
            return Err(ApiError::validation(&format!(
                "The file is {} bytes; single_part uploads take up to {SINGLE_PART_MAX} bytes: use multi_part.",
                bytes.len()
            )));
        }
        if bytes.len() > limit {
            return Err(ApiError::validation(&format!(
                "The file is {} bytes, larger than this workspace's upload limit of {limit} bytes.",
                bytes.len()
            )));
        }
        if up.filename.is_none() {
            up.filename = file.1.clone();
        }
        if up.content_type.is_none() {
            up.content_type = file.2.clone();
        }
        up.bytes = bytes;
        up.status = "uploaded".into();
    } else {
        let total = up.number_of_parts.unwrap_or(1);
        let n: u64 = part_number
            .as_deref()
            .and_then(|p| p.trim().parse().ok())
            .filter(|n| (1..=total).contains(n))
            .ok_or_else(|| invalid("part_number", &format!("should be a number from 1 to {total}.")))?;
        if bytes.len() > SINGLE_PART_MAX || (n < total && bytes.len() < PART_MIN) {
            return Err(ApiError::validation(&format!(
                "Part {n} is {} bytes; parts must be 5 to 20 MB (the last may be smaller).",
                bytes.len()
            )));
        }
        up.parts.insert(n, bytes);
    }
    Ok(upload_json(up))
}

fn complete_upload(w: &mut World, id: &str) -> ApiResult {
    let limit = workspace_limit(w);
    let up = w.writes.uploads.get_mut(id).ok_or_else(|| ApiError::not_found("file_upload", id))?;
    if up.mode != "multi_part" {
        return Err(ApiError::validation("Only multi_part uploads are completed."));
    }
    if up.status != "pending" {
        return Err(ApiError::validation(&format!("File upload {} is in status `{}`.", dashed(id), up.status)));
    }
    let total = up.number_of_parts.unwrap_or(0);
    if up.parts.len() as u64 != total {
        return Err(ApiError::validation(&format!("{} of {total} parts were sent.", up.parts.len())));
    }
    let bytes: Vec<u8> = up.parts.values().flatten().copied().collect();
    if bytes.len() > limit {
        return Err(ApiError::validation(&format!(
            "The file is {} bytes, larger than this workspace's upload limit of {limit} bytes.",
            bytes.len()
        )));
    }
    up.bytes = bytes;
    up.status = "uploaded".into();
    Ok(upload_json(up))
}

// ---------------------------------------------------------------------------------------------
// Comments
// ---------------------------------------------------------------------------------------------

fn create_comment(w: &mut World, body: &Value) -> ApiResult {
    let o = obj(body, "body")?;
    only_keys(o, &["parent", "discussion_id", "rich_text", "attachments", "display_name"], "body")?;
    let parent = obj(o.get("parent").unwrap_or(&Value::Null), "body.parent")?;
    only_keys(parent, &["type", "page_id", "block_id"], "body.parent")?;
    let (key, pid) = match (parent.get("page_id"), parent.get("block_id")) {
        (Some(p), _) => ("page_id", norm(p.as_str().unwrap_or(""))),
        (_, Some(b)) => ("block_id", norm(b.as_str().unwrap_or(""))),
        _ => return Err(invalid("body.parent", "should have a page_id or block_id.")),
    };
    let exists = if key == "page_id" { page_exists(w, &pid) } else { w.blocks.contains_key(&pid) };
    if !exists {
        return Err(ApiError::not_found(if key == "page_id" { "page" } else { "block" }, &pid));
    }
    let rt = rich_text(w, o.get("rich_text").unwrap_or(&Value::Null), "body.rich_text")?;
    let id = w.next_id();
    let t = now();
    let c = json!({"object": "comment", "id": id, "parent": {"type": key, key: dashed(&pid)}, "discussion_id": w.next_id(),
        "created_time": t, "last_edited_time": t, "created_by": {"object": "user", "id": BOT_ID}, "rich_text": rt,
        "display_name": {"type": "integration", "resolved_name": w.bot["name"]}});
    w.add_comment(&pid, c.clone());
    Ok(c)
}
