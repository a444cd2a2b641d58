//! Builders for Notion API JSON in the real response shapes (`2026-03-11`): rich text runs and
//! mentions, pages and every property value type, blocks of every kind the backup renders, users,
//! comments, databases and data sources, plus helpers that fill a [`World`] with a database and
//! N rows. They only build values; serving them (truncation, signed URLs, pagination) is the
//! fake's job. Ids are dashed UUIDs; builders that need a fresh id take it from [`new_id`]
//! (random) or from [`World::next_id`] (deterministic per world).
//!
//! Needs `super::fake_notion` beside it (in `tests/common/`, or the same two `#[path]` modules).

#![allow(dead_code)]

use serde_json::{json, Map, Value};

use super::fake_notion::{dashed, iso_ms, norm, parse_ms, uuid_from_bits, FileRef, LazyRow, World, BOT_ID};

/// The default timestamp of built objects.
pub const TS: &str = "2026-01-01T00:00:00.000Z";

/// A random dashed UUID.
pub fn new_id() -> String {
    uuid_from_bits(rand::random())
}

/// Deterministic dashed UUID number `n` (handy for readable fixtures).
pub fn id_n(n: u64) -> String {
    dashed(&format!("{:08x}00004000800{:013x}", (n >> 32) as u32 ^ 0x0f0f_0f0f, n))
}

/// `TS` plus `minutes`, in Notion's format.
pub fn ts_plus_minutes(minutes: i64) -> String {
    iso_ms(parse_ms(TS).unwrap() + minutes * 60_000)
}

// ---------------------------------------------------------------------------------------------
// Users
// ---------------------------------------------------------------------------------------------

pub fn partial_user(id: &str) -> Value {
    json!({"object": "user", "id": dashed(id)})
}

pub fn person(id: &str, name: &str, email: &str) -> Value {
    json!({"object": "user", "id": dashed(id), "name": name, "avatar_url": null, "type": "person",
           "person": {"email": email}})
}

pub fn bot_user(id: &str, name: &str) -> Value {
    json!({"object": "user", "id": dashed(id), "name": name, "avatar_url": null, "type": "bot", "bot": {}})
}

pub fn group(id: &str, name: &str) -> Value {
    json!({"object": "group", "id": dashed(id), "name": name})
}

// ---------------------------------------------------------------------------------------------
// Rich text
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, Default)]
pub struct Ann {
    pub bold: bool,
    pub italic: bool,
    pub strikethrough: bool,
    pub underline: bool,
    pub code: bool,
    pub color: Option<&'static str>,
}

impl Ann {
    fn json(&self) -> Value {
        json!({"bold": self.bold, "italic": self.italic, "strikethrough": self.strikethrough,
               "underline": self.underline, "code": self.code, "color": self.color.unwrap_or("default")})
    }
}

/// One plain text run.
pub fn text_run(text: &str) -> Value {
    annotated(text, Ann::default())
}

/// One text run with annotations.
pub fn annotated(text: &str, ann: Ann) -> Value {
    json!({"type": "text", "text": {"content": text, "link": null}, "annotations": ann.json(),
           "plain_text": text, "href": null})
}

pub fn bold(text: &str) -> Value {
    annotated(text, Ann { bold: true, ..Ann::default() })
}

pub fn italic(text: &str) -> Value {
    annotated(text, Ann { italic: true, ..Ann::default() })
}

pub fn code_run(text: &str) -> Value {
    annotated(text, Ann { code: true, ..Ann::default() })
}

pub fn link_run(text: &str, url: &str) -> Value {
    json!({"type": "text", "text": {"content": text, "link": {"url": url}}, "annotations": Ann::default().json(),
           "plain_text": text, "href": url})
}

pub fn equation_run(expression: &str) -> Value {
    json!({"type": "equation", "equation": {"expression": expression}, "annotations": Ann::default().json(),
           "plain_text": expression, "href": null})
}

fn mention(payload: Value, plain: &str, href: Option<&str>) -> Value {
    json!({"type": "mention", "mention": payload, "annotations": Ann::default().json(),
           "plain_text": plain, "href": href})
}

pub fn mention_page(id: &str, title: &str) -> Value {
    let href = format!("https://www.notion.so/{}", norm(id));
    mention(json!({"type": "page", "page": {"id": dashed(id)}}), title, Some(&href))
}

pub fn mention_database(id: &str, title: &str) -> Value {
    let href = format!("https://www.notion.so/{}", norm(id));
    mention(json!({"type": "database", "database": {"id": dashed(id)}}), title, Some(&href))
}

pub fn mention_user(id: &str, name: &str) -> Value {
    mention(json!({"type": "user", "user": {"object": "user", "id": dashed(id)}}), &format!("@{name}"), None)
}

pub fn mention_date(start: &str, end: Option<&str>) -> Value {
    mention(json!({"type": "date", "date": {"start": start, "end": end, "time_zone": null}}), start, None)
}

pub fn mention_link(url: &str, title: &str) -> Value {
    mention(json!({"type": "link_mention", "link_mention": {"href": url, "title": title}}), url, Some(url))
}

/// A rich-text array holding one plain run (empty array for "").
pub fn rich_text(text: &str) -> Value {
    if text.is_empty() {
        json!([])
    } else {
        json!([text_run(text)])
    }
}

/// A rich-text array from runs.
pub fn runs(runs: Vec<Value>) -> Value {
    Value::Array(runs)
}

// ---------------------------------------------------------------------------------------------
// Files, icons, parents
// ---------------------------------------------------------------------------------------------

/// Notion-hosted file object; the fake signs it when served.
pub fn file_hosted(file: &FileRef) -> Value {
    file.file_object()
}

pub fn file_external(url: &str) -> Value {
    json!({"type": "external", "external": {"url": url}})
}

pub fn icon_emoji(emoji: &str) -> Value {
    json!({"type": "emoji", "emoji": emoji})
}

pub fn parent_workspace() -> Value {
    json!({"type": "workspace", "workspace": true})
}

pub fn parent_page(id: &str) -> Value {
    json!({"type": "page_id", "page_id": dashed(id)})
}

pub fn parent_block(id: &str) -> Value {
    json!({"type": "block_id", "block_id": dashed(id)})
}

pub fn parent_database(id: &str) -> Value {
    json!({"type": "database_id", "database_id": dashed(id)})
}

pub fn parent_data_source(data_source_id: &str, database_id: &str) -> Value {
    json!({"type": "data_source_id", "data_source_id": dashed(data_source_id), "database_id": dashed(database_id)})
}

// ---------------------------------------------------------------------------------------------
// Property values (without `id`; `page` assigns ids from names, `title` gets "title")
// ---------------------------------------------------------------------------------------------

/// The short, percent-encoded-looking property id Notion would give `name` (stable per name).
pub fn prop_id(name: &str) -> String {
    const ALPHA: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut h: u64 = 1469598103934665603;
    for b in name.bytes() {
        h = (h ^ b as u64).wrapping_mul(1099511628211);
    }
    let c = |i: u32| ALPHA[((h >> (i * 6)) % ALPHA.len() as u64) as usize] as char;
    format!("{}%3A{}{}{}", c(0), c(1), c(2), c(3))
}

fn pv(ty: &str, value: Value) -> Value {
    let mut o = Map::new();
    o.insert("type".into(), json!(ty));
    o.insert(ty.into(), value);
    Value::Object(o)
}

fn option(name: &str, color: &str) -> Value {
    json!({"id": prop_id(name), "name": name, "color": color})
}

pub fn p_title(text: &str) -> Value {
    pv("title", rich_text(text))
}
pub fn p_title_runs(runs: Vec<Value>) -> Value {
    pv("title", Value::Array(runs))
}
pub fn p_rich_text(text: &str) -> Value {
    pv("rich_text", rich_text(text))
}
pub fn p_rich_text_runs(runs: Vec<Value>) -> Value {
    pv("rich_text", Value::Array(runs))
}
pub fn p_number(n: Option<f64>) -> Value {
    pv("number", json!(n))
}
pub fn p_select(name: Option<&str>) -> Value {
    pv("select", name.map(|n| option(n, "blue")).unwrap_or(Value::Null))
}
pub fn p_status(name: &str) -> Value {
    pv("status", option(name, "green"))
}
pub fn p_multi_select(names: &[&str]) -> Value {
    pv("multi_select", names.iter().map(|n| option(n, "default")).collect())
}
pub fn p_date(start: &str, end: Option<&str>) -> Value {
    pv("date", json!({"start": start, "end": end, "time_zone": null}))
}
pub fn p_date_empty() -> Value {
    pv("date", Value::Null)
}
pub fn p_people(users: Vec<Value>) -> Value {
    pv("people", Value::Array(users))
}
/// `files` property; entries from [`files_entry_hosted`] / [`files_entry_external`].
pub fn p_files(entries: Vec<Value>) -> Value {
    pv("files", Value::Array(entries))
}
pub fn files_entry_hosted(file: &FileRef) -> Value {
    let mut v = file.file_object();
    v["name"] = json!(file.name);
    v
}
pub fn files_entry_external(name: &str, url: &str) -> Value {
    let mut v = file_external(url);
    v["name"] = json!(name);
    v
}
pub fn p_checkbox(b: bool) -> Value {
    pv("checkbox", json!(b))
}
pub fn p_url(url: Option<&str>) -> Value {
    pv("url", json!(url))
}
pub fn p_email(email: Option<&str>) -> Value {
    pv("email", json!(email))
}
pub fn p_phone(phone: Option<&str>) -> Value {
    pv("phone_number", json!(phone))
}
pub fn p_formula_string(s: &str) -> Value {
    pv("formula", json!({"type": "string", "string": s}))
}
pub fn p_formula_number(n: f64) -> Value {
    pv("formula", json!({"type": "number", "number": n}))
}
pub fn p_formula_boolean(b: bool) -> Value {
    pv("formula", json!({"type": "boolean", "boolean": b}))
}
pub fn p_formula_date(start: &str) -> Value {
    pv("formula", json!({"type": "date", "date": {"start": start, "end": null, "time_zone": null}}))
}
/// Relation with the FULL list; the fake truncates page objects at 25 with `has_more:true`.
pub fn p_relation(ids: &[String]) -> Value {
    let mut v = pv("relation", ids.iter().map(|i| json!({"id": dashed(i)})).collect());
    v["has_more"] = json!(false);
    v
}
pub fn p_rollup_number(function: &str, n: f64) -> Value {
    pv("rollup", json!({"type": "number", "number": n, "function": function}))
}
pub fn p_rollup_date(function: &str, start: &str) -> Value {
    pv(
        "rollup",
        json!({"type": "date", "date": {"start": start, "end": null, "time_zone": null}, "function": function}),
    )
}
/// Rollup array; items are property values such as `p_title("x")`.
pub fn p_rollup_array(function: &str, items: Vec<Value>) -> Value {
    pv("rollup", json!({"type": "array", "array": items, "function": function}))
}
pub fn p_created_time(ts: &str) -> Value {
    pv("created_time", json!(ts))
}
pub fn p_last_edited_time(ts: &str) -> Value {
    pv("last_edited_time", json!(ts))
}
pub fn p_created_by(user: Value) -> Value {
    pv("created_by", user)
}
pub fn p_last_edited_by(user: Value) -> Value {
    pv("last_edited_by", user)
}
pub fn p_unique_id(prefix: Option<&str>, number: u64) -> Value {
    pv("unique_id", json!({"prefix": prefix, "number": number}))
}
pub fn p_verification(state: &str) -> Value {
    pv("verification", json!({"state": state, "date": null, "verified_by": null}))
}
pub fn p_button() -> Value {
    pv("button", json!({}))
}
pub fn p_place(lat: f64, lon: f64, name: &str) -> Value {
    pv("place", json!({"lat": lat, "lon": lon, "name": name, "address": null}))
}

// ---------------------------------------------------------------------------------------------
// Pages
// ---------------------------------------------------------------------------------------------

/// A page object. The title goes under `"Name"` for data-source rows and `"title"` otherwise,
/// unless `props` already holds a title value. Property ids are filled in from names.
pub fn page(id: &str, parent: Value, title: &str, props: Vec<(&str, Value)>) -> Value {
    let mut properties = Map::new();
    let has_title = props.iter().any(|(_, v)| v["type"] == "title");
    if !has_title {
        let key = if parent["type"] == "data_source_id" { "Name" } else { "title" };
        properties.insert(key.into(), p_title(title));
    }
    for (name, v) in props {
        properties.insert(name.into(), v);
    }
    for (name, v) in properties.iter_mut() {
        if v.get("id").is_none() {
            let id = if v["type"] == "title" { "title".to_string() } else { prop_id(name) };
            v.as_object_mut().unwrap().insert("id".into(), json!(id));
            // `id` first, like the API prints it.
            let mut o = Map::new();
            o.insert("id".into(), json!(id));
            for (k, x) in v.as_object().unwrap() {
                if k != "id" {
                    o.insert(k.clone(), x.clone());
                }
            }
            *v = Value::Object(o);
        }
    }
    json!({
        "object": "page",
        "id": dashed(id),
        "created_time": TS,
        "last_edited_time": TS,
        "created_by": partial_user(BOT_ID),
        "last_edited_by": partial_user(BOT_ID),
        "cover": null,
        "icon": null,
        "parent": parent,
        "in_trash": false,
        "is_locked": false,
        "properties": properties,
        "url": format!("https://www.notion.so/{}", norm(id)),
        "public_url": null
    })
}

/// Set created/edited times of a page (or block) value.
pub fn with_times(mut v: Value, created: &str, edited: &str) -> Value {
    v["created_time"] = json!(created);
    v["last_edited_time"] = json!(edited);
    v
}

// ---------------------------------------------------------------------------------------------
// Blocks
// ---------------------------------------------------------------------------------------------

/// A block with a fresh random id. `parent` is set by `World::set_children`.
pub fn block(ty: &str, payload: Value) -> Value {
    block_with_id(&new_id(), ty, payload)
}

pub fn block_with_id(id: &str, ty: &str, payload: Value) -> Value {
    let mut o = Map::new();
    o.insert("object".into(), json!("block"));
    o.insert("id".into(), json!(dashed(id)));
    o.insert("parent".into(), parent_workspace());
    o.insert("created_time".into(), json!(TS));
    o.insert("last_edited_time".into(), json!(TS));
    o.insert("created_by".into(), partial_user(BOT_ID));
    o.insert("last_edited_by".into(), partial_user(BOT_ID));
    o.insert("has_children".into(), json!(false));
    o.insert("in_trash".into(), json!(false));
    o.insert("type".into(), json!(ty));
    o.insert(ty.into(), payload);
    Value::Object(o)
}

fn text_payload(rt: Value) -> Value {
    json!({"rich_text": rt, "color": "default"})
}

pub fn paragraph(text: &str) -> Value {
    block("paragraph", text_payload(rich_text(text)))
}
pub fn paragraph_runs(runs: Vec<Value>) -> Value {
    block("paragraph", text_payload(Value::Array(runs)))
}
/// `heading_1` .. `heading_4`.
pub fn heading(level: u8, text: &str) -> Value {
    block(
        &format!("heading_{level}"),
        json!({"rich_text": rich_text(text), "color": "default", "is_toggleable": false}),
    )
}
pub fn toggle_heading(level: u8, text: &str) -> Value {
    block(&format!("heading_{level}"), json!({"rich_text": rich_text(text), "color": "default", "is_toggleable": true}))
}
pub fn bulleted(text: &str) -> Value {
    block("bulleted_list_item", text_payload(rich_text(text)))
}
pub fn numbered(text: &str) -> Value {
    block("numbered_list_item", text_payload(rich_text(text)))
}
pub fn to_do(text: &str, checked: bool) -> Value {
    block("to_do", json!({"rich_text": rich_text(text), "checked": checked, "color": "default"}))
}
pub fn toggle(text: &str) -> Value {
    block("toggle", text_payload(rich_text(text)))
}
pub fn quote(text: &str) -> Value {
    block("quote", text_payload(rich_text(text)))
}
pub fn callout(text: &str, emoji: &str) -> Value {
    block("callout", json!({"rich_text": rich_text(text), "icon": icon_emoji(emoji), "color": "gray_background"}))
}
pub fn code(language: &str, text: &str) -> Value {
    block("code", json!({"rich_text": rich_text(text), "caption": [], "language": language}))
}
pub fn equation(expression: &str) -> Value {
    block("equation", json!({"expression": expression}))
}
pub fn divider() -> Value {
    block("divider", json!({}))
}
pub fn breadcrumb() -> Value {
    block("breadcrumb", json!({}))
}
pub fn table_of_contents() -> Value {
    block("table_of_contents", json!({"color": "default"}))
}
fn media(ty: &str, file: Value, caption: &str) -> Value {
    let mut p = file;
    p["caption"] = rich_text(caption);
    block(ty, p)
}
pub fn image_hosted(file: &FileRef, caption: &str) -> Value {
    media("image", file.file_object(), caption)
}
pub fn image_external(url: &str) -> Value {
    media("image", file_external(url), "")
}
pub fn file_block(file: &FileRef) -> Value {
    let mut b = media("file", file.file_object(), "");
    b["file"]["name"] = json!(file.name);
    b
}
pub fn pdf_hosted(file: &FileRef) -> Value {
    media("pdf", file.file_object(), "")
}
pub fn video_external(url: &str) -> Value {
    media("video", file_external(url), "")
}
pub fn audio_hosted(file: &FileRef) -> Value {
    media("audio", file.file_object(), "")
}
pub fn bookmark(url: &str) -> Value {
    block("bookmark", json!({"url": url, "caption": []}))
}
pub fn embed(url: &str) -> Value {
    block("embed", json!({"url": url, "caption": []}))
}
/// The block whose id is the child page's id.
pub fn child_page(page_id: &str, title: &str) -> Value {
    block_with_id(page_id, "child_page", json!({"title": title}))
}
pub fn child_database(database_id: &str, title: &str) -> Value {
    block_with_id(database_id, "child_database", json!({"title": title}))
}
pub fn link_to_page(page_id: &str) -> Value {
    block("link_to_page", json!({"type": "page_id", "page_id": dashed(page_id)}))
}
pub fn synced_block_original() -> Value {
    block("synced_block", json!({"synced_from": null}))
}
pub fn synced_block_reference(source_block_id: &str) -> Value {
    let mut b =
        block("synced_block", json!({"synced_from": {"type": "block_id", "block_id": dashed(source_block_id)}}));
    b["has_children"] = json!(true);
    b
}
pub fn table(width: usize, has_column_header: bool, has_row_header: bool) -> Value {
    block(
        "table",
        json!({"table_width": width, "has_column_header": has_column_header, "has_row_header": has_row_header}),
    )
}
pub fn table_row(cells: &[&str]) -> Value {
    block("table_row", json!({"cells": cells.iter().map(|c| rich_text(c)).collect::<Vec<_>>()}))
}
pub fn column_list() -> Value {
    block("column_list", json!({}))
}
pub fn column() -> Value {
    block("column", json!({}))
}
/// An unsupported block (e.g. `ai_block`, `form`); listing its children answers 400.
pub fn unsupported(block_type: &str) -> Value {
    let mut b = block("unsupported", json!({"block_type": block_type}));
    b["has_children"] = json!(true);
    b
}

// ---------------------------------------------------------------------------------------------
// Comments
// ---------------------------------------------------------------------------------------------

pub fn comment(parent_page_id: &str, text: &str, author: &str) -> Value {
    json!({
        "object": "comment", "id": new_id(),
        "parent": {"type": "page_id", "page_id": dashed(parent_page_id)},
        "discussion_id": new_id(), "created_time": TS, "last_edited_time": TS,
        "created_by": partial_user(author), "rich_text": rich_text(text),
        "display_name": {"type": "user", "resolved_name": "Someone"}
    })
}

// ---------------------------------------------------------------------------------------------
// Databases, data sources and whole worlds
// ---------------------------------------------------------------------------------------------

/// Schema entries: `(name, type, config)`; the title property is `("Name", "title", {})`.
pub fn schema_entry(name: &str, ty: &str, config: Value) -> (String, Value) {
    let id = if ty == "title" { "title".to_string() } else { prop_id(name) };
    let mut o = Map::new();
    o.insert("id".into(), json!(id));
    o.insert("name".into(), json!(name));
    o.insert("description".into(), json!(null));
    o.insert("type".into(), json!(ty));
    o.insert(ty.into(), config);
    (name.to_string(), Value::Object(o))
}

pub fn database(id: &str, parent: Value, title: &str, data_sources: &[(&str, &str)]) -> Value {
    json!({
        "object": "database", "id": dashed(id), "title": rich_text(title), "description": [],
        "parent": parent, "is_inline": false, "in_trash": false, "is_locked": false,
        "created_time": TS, "last_edited_time": TS,
        "data_sources": data_sources.iter().map(|(i, n)| json!({"id": dashed(i), "name": n})).collect::<Vec<_>>(),
        "icon": null, "cover": null, "url": format!("https://www.notion.so/{}", norm(id)), "public_url": null
    })
}

pub fn data_source(id: &str, database_id: &str, title: &str, schema: Vec<(String, Value)>) -> Value {
    let props: Map<String, Value> = schema.into_iter().collect();
    json!({
        "object": "data_source", "id": dashed(id), "title": rich_text(title), "description": [],
        "parent": {"type": "database_id", "database_id": dashed(database_id)},
        "database_parent": {"type": "workspace", "workspace": true},
        "is_inline": false, "in_trash": false, "created_time": TS, "last_edited_time": TS,
        "created_by": partial_user(BOT_ID), "last_edited_by": partial_user(BOT_ID),
        "properties": props, "icon": null, "cover": null,
        "url": format!("https://www.notion.so/{}", norm(id)), "public_url": null
    })
}

/// Ids of a database built by [`add_database`].
#[derive(Clone, Debug)]
pub struct DbIds {
    pub database_id: String,
    pub data_source_id: String,
    pub rows: Vec<String>,
}

/// Options for [`add_database_with`].
#[derive(Clone, Debug)]
pub struct DbSpec {
    pub title: String,
    pub parent: Value,
    pub rows: usize,
    /// Rows sharing one created-time minute (Notion timestamps are minute-granular).
    pub rows_per_minute: usize,
    /// Build rows lazily (no JSON until served); use for thousands of rows.
    pub lazy: bool,
}

impl Default for DbSpec {
    fn default() -> Self {
        DbSpec { title: "Tasks".into(), parent: parent_workspace(), rows: 3, rows_per_minute: 1, lazy: false }
    }
}

/// A database with one data source (`Name` title property) and `rows` rows titled `Row 0`..;
/// row `i` is created at `TS + i / rows_per_minute` minutes.
pub fn add_database(world: &mut World, title: &str, rows: usize) -> DbIds {
    add_database_with(world, DbSpec { title: title.into(), rows, lazy: rows > 500, ..DbSpec::default() })
}

pub fn add_database_with(world: &mut World, spec: DbSpec) -> DbIds {
    let database_id = world.next_id();
    let data_source_id = world.next_id();
    world.insert_database(database(&database_id, spec.parent.clone(), &spec.title, &[(&data_source_id, &spec.title)]));
    let mut ds =
        data_source(&data_source_id, &database_id, &spec.title, vec![schema_entry("Name", "title", json!({}))]);
    // The data source reports its database's parent (a page for inline databases).
    ds["database_parent"] = spec.parent.clone();
    world.insert_data_source(ds);
    let base = parse_ms(TS).unwrap();
    let per = spec.rows_per_minute.max(1);
    let mut rows = Vec::with_capacity(spec.rows);
    let (ds_dashed, db_dashed) = (dashed(&data_source_id), dashed(&database_id));
    for i in 0..spec.rows {
        let id = world.next_id();
        let created = base + (i / per) as i64 * 60_000;
        let title = format!("Row {i}");
        if spec.lazy {
            world.insert_lazy_row(LazyRow {
                id: id.clone(),
                data_source_id: ds_dashed.clone(),
                database_id: db_dashed.clone(),
                title_property: "Name".into(),
                title,
                created_ms: created,
                edited_ms: created,
            });
        } else {
            let p = page(&id, parent_data_source(&data_source_id, &database_id), &title, vec![]);
            world.insert_page(with_times(p, &iso_ms(created), &iso_ms(created)));
        }
        rows.push(id);
    }
    DbIds { database_id, data_source_id, rows }
}

/// A standalone page (title property `title`) added to the world; returns its id.
pub fn add_page(world: &mut World, parent: Value, title: &str) -> String {
    let id = world.next_id();
    world.insert_page(page(&id, parent, title, vec![]));
    id
}
