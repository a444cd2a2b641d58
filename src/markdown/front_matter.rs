//! The YAML front matter of `index.md` (page metadata and every database property) and readable
//! plain-text values of properties (for a CSV export).
//!
//! Every key and string value is written as a YAML double-quoted scalar: control characters are
//! removed (see [`super::safe`]), everything else YAML does not allow raw is escaped, so any
//! Notion text parses back as the text a reader sees. Values are data, not Markdown: rich text is
//! its plain text, a date without end is one ISO string. Key order is fixed: the page's own keys
//! first, then the properties in the database's own order (`RenderContext::property_order`;
//! without it, or for properties it does not name, by name). [`FrontMatterStyle::Nested`] puts
//! the properties under `properties:`; [`FrontMatterStyle::Flat`] writes them as top-level keys
//! for Obsidian's Properties view and Dataview. Never writes a signed Notion URL.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::inline::{escape_text, format_date, notion_url, readable_time, rich_text_to_plain, Mode, Target};
use super::safe::clean_value;
use super::{LocalFile, MediaKey, RenderContext};
use crate::notion::model::{
    FileEntry, FileObject, FormulaValue, Icon, Page, PropertyKind, PropertyValue, RollupValue, User,
};

/// How page properties are laid out in the front matter (`FRONT_MATTER`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FrontMatterStyle {
    /// Properties nested under `properties:` (the default: no key can clash with the tool's own).
    #[default]
    Nested,
    /// Properties as top-level keys (Obsidian's Properties view, Dataview); a key that clashes
    /// with one the tool writes gets the prefix `property_`, and a multi-select named `Tags` (any
    /// case) becomes `tags`.
    Flat,
}

/// The keys the tool writes itself, which a property in [`FrontMatterStyle::Flat`] may not take
/// (compared without case, as Obsidian does).
pub const TOOL_KEYS: [&str; 11] = [
    "title",
    "notion_id",
    "notion_url",
    "created_time",
    "last_edited_time",
    "created_by",
    "last_edited_by",
    "icon",
    "cover",
    "database",
    "tags",
];

/// A YAML double-quoted scalar of `s` with its control characters removed ([`clean_value`]).
/// Escapes `"`, `\\`, newlines, tabs and what YAML does not allow raw (BOM, U+FFFE/U+FFFF) and
/// the Unicode line separators.
pub fn yaml_str(s: &str) -> String {
    let s = clean_value(s);
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\t' => o.push_str("\\t"),
            '\r' => o.push_str("\\r"),
            c if (c as u32) < 0x20 || (0x7f..0xa0).contains(&(c as u32)) => {
                o.push_str(&format!("\\x{:02X}", c as u32));
            }
            '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}' => {
                o.push_str(&format!("\\u{:04X}", c as u32));
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// A JSON value as a YAML flow node (strings re-quoted by [`yaml_str`]).
fn yaml_json(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => yaml_str(s),
        Value::Array(a) => format!("[{}]", a.iter().map(yaml_json).collect::<Vec<_>>().join(", ")),
        Value::Object(m) => format!(
            "{{{}}}",
            m.iter().map(|(k, v)| format!("{}: {}", yaml_str(k), yaml_json(v))).collect::<Vec<_>>().join(", ")
        ),
    }
}

fn yaml_list(items: impl IntoIterator<Item = String>) -> String {
    format!("[{}]", items.into_iter().collect::<Vec<_>>().join(", "))
}

fn opt_str(s: &Option<String>) -> String {
    s.as_deref().map(yaml_str).unwrap_or_else(|| "null".into())
}

pub(crate) fn user_name(u: &User, ctx: &RenderContext) -> String {
    ctx.user(&u.id).map(str::to_string).unwrap_or_else(|| u.label().to_string())
}

/// A date as data: one ISO string when it has no end, else `{start, end, time_zone}`.
fn date_yaml(d: Option<&crate::notion::model::DateValue>) -> String {
    match d {
        None => "null".into(),
        Some(d) if d.end.as_deref().is_none_or(|e| e.trim().is_empty()) => yaml_str(&d.start),
        Some(d) => {
            let mut parts = vec![format!("\"start\": {}", yaml_str(&d.start))];
            if let Some(e) = &d.end {
                parts.push(format!("\"end\": {}", yaml_str(e)));
            }
            if let Some(tz) = &d.time_zone {
                parts.push(format!("\"time_zone\": {}", yaml_str(tz)));
            }
            format!("{{{}}}", parts.join(", "))
        }
    }
}

/// Where a file reference ended up: local path, external URL, or `None` for a Notion-hosted file
/// that was not downloaded (its signed URL must not be written anywhere).
pub(crate) fn file_target<'c>(key: Option<&MediaKey>, file: &'c FileObject, ctx: &'c RenderContext) -> FileTarget<'c> {
    if let Some(lf) = key.and_then(|k| ctx.media_file(k)) {
        return FileTarget::Local(lf);
    }
    match file {
        FileObject::External { url } => FileTarget::External(url),
        _ => FileTarget::Missing,
    }
}

pub(crate) enum FileTarget<'c> {
    Local(&'c LocalFile),
    External(&'c str),
    Missing,
}

/// Where entry `i` of the `files` property `name` is: `prefix` + its path when `media` holds it;
/// an external file's URL; `(not backed up) <name>` for a Notion-hosted file that `media` lacks;
/// without `media` (not known), the file's name.
pub(crate) fn file_entry_text(
    name: Option<&str>,
    i: usize,
    f: &FileEntry,
    media: Option<&HashMap<MediaKey, LocalFile>>,
    prefix: &str,
) -> String {
    let key = name.map(|n| MediaKey::Property { name: n.to_string(), index: i });
    if let Some(lf) = key.as_ref().and_then(|k| media?.get(k)) {
        return format!("{prefix}{}", lf.path);
    }
    match (&f.file, media) {
        (FileObject::External { url }, _) => url.clone(),
        (_, Some(_)) => format!("(not backed up) {}", f.name),
        (_, None) => f.name.clone(),
    }
}

fn relation_text(id: &str, ctx: &RenderContext) -> String {
    match (ctx.title(id).filter(|t| !t.is_empty()), ctx.link(id)) {
        (Some(t), Some(l)) => format!("[{}]({})", escape_text(t, Mode::Line), Target::from_link(&l).dest()),
        (Some(t), None) => t.to_string(),
        (None, Some(l)) => format!("[{}]({})", id, Target::from_link(&l).dest()),
        (None, None) => id.to_string(),
    }
}

/// The page's properties in the database's order ([`RenderContext::property_order`]), then
/// those it does not name, by name.
pub(crate) fn ordered<'p>(page: &'p Page, ctx: &RenderContext) -> Vec<(&'p String, &'p PropertyValue)> {
    let Some(order) = ctx.property_order else {
        return page.properties.iter().collect();
    };
    let mut out: Vec<(&String, &PropertyValue)> = Vec::with_capacity(page.properties.len());
    for name in order {
        if let Some((k, v)) = page.properties.iter().find(|(k, _)| *k == name) {
            if !out.iter().any(|(o, _)| *o == k) {
                out.push((k, v));
            }
        }
    }
    for (k, v) in page.properties.iter() {
        if !out.iter().any(|(o, _)| *o == k) {
            out.push((k, v));
        }
    }
    out
}

/// Names in `names` ordered as [`ordered`] orders properties.
pub(crate) fn order_names(mut names: Vec<String>, ctx: &RenderContext) -> Vec<String> {
    names.sort();
    let Some(order) = ctx.property_order else { return names };
    let mut out: Vec<String> = order.iter().filter(|o| names.contains(o)).cloned().collect();
    out.dedup();
    let mut seen: HashSet<String> = out.iter().cloned().collect();
    for n in names {
        if seen.insert(n.clone()) {
            out.push(n);
        }
    }
    out
}

fn unique_id(prefix: &Option<String>, number: &Option<serde_json::Number>) -> Option<String> {
    let n = number.as_ref()?;
    Some(match prefix.as_deref().filter(|p| !p.is_empty()) {
        Some(p) => format!("{p}-{n}"),
        None => n.to_string(),
    })
}

/// The YAML node for one property value, or `None` for values that are not data (buttons).
/// `name` is the property name (for file lookups); rollup items pass `None`.
fn property_yaml(name: Option<&str>, kind: &PropertyKind, ctx: &RenderContext) -> Option<String> {
    use PropertyKind as K;
    let num = |n: &Option<serde_json::Number>| n.as_ref().map(|n| n.to_string()).unwrap_or_else(|| "null".into());
    Some(match kind {
        K::Title(rt) | K::RichText(rt) => yaml_str(&rich_text_to_plain(rt, ctx)),
        K::Number(n) => num(n),
        K::Select(o) | K::Status(o) => o.as_ref().map(|o| yaml_str(&o.name)).unwrap_or_else(|| "null".into()),
        K::MultiSelect(v) => yaml_list(v.iter().map(|o| yaml_str(&o.name))),
        K::Date(d) => date_yaml(d.as_deref()),
        K::People(v) => yaml_list(v.iter().map(|u| yaml_str(&user_name(u, ctx)))),
        K::Files(v) => {
            yaml_list(v.iter().enumerate().map(|(i, f)| yaml_str(&file_entry_text(name, i, f, ctx.media, ""))))
        }
        K::Checkbox(b) => b.to_string(),
        K::Url(s) | K::Email(s) | K::PhoneNumber(s) => opt_str(s),
        K::Formula(f) => match &**f {
            FormulaValue::String(s) => opt_str(s),
            FormulaValue::Number(n) => num(n),
            FormulaValue::Boolean(b) => b.map(|b| b.to_string()).unwrap_or_else(|| "null".into()),
            FormulaValue::Date(d) => date_yaml(d.as_ref()),
            FormulaValue::Unsupported => "null".into(),
            FormulaValue::Unknown { raw, .. } => yaml_json(raw),
        },
        K::Relation { ids, has_more } => {
            let list = yaml_list(ids.iter().map(|id| yaml_str(&relation_text(id, ctx))));
            if *has_more {
                format!("{list} # Notion listed only the first {} relations", ids.len())
            } else {
                list
            }
        }
        K::Rollup { value, .. } => match &**value {
            RollupValue::Number(n) => num(n),
            RollupValue::Date(d) => date_yaml(d.as_ref()),
            RollupValue::Array(items) => {
                yaml_list(items.iter().map(|p| property_yaml(None, &p.kind, ctx).unwrap_or_else(|| "null".into())))
            }
            RollupValue::Unsupported | RollupValue::Incomplete => "null".into(),
            RollupValue::Unknown { raw, .. } => yaml_json(raw),
        },
        K::CreatedTime(t) | K::LastEditedTime(t) => yaml_str(t),
        K::CreatedBy(u) | K::LastEditedBy(u) => yaml_str(&user_name(u, ctx)),
        K::UniqueId { prefix, number } => {
            unique_id(prefix, number).map(|s| yaml_str(&s)).unwrap_or_else(|| "null".into())
        }
        K::Verification(v) | K::Place(v) => v.as_ref().map(yaml_json).unwrap_or_else(|| "null".into()),
        K::Button => return None,
        K::Unknown { raw, .. } => yaml_json(raw),
    })
}

/// Readable text of a property value (a CSV cell): names instead of ids, readable dates, `, `
/// between list items. Files show their external URL or name (use [`property_to_plain_named`]
/// to resolve local paths).
pub fn property_to_plain(kind: &PropertyKind, ctx: &RenderContext) -> String {
    plain(None, kind, ctx)
}

/// Like [`property_to_plain`], resolving `files` entries through `ctx.media`
/// (`MediaKey::Property { name, index }`): the local path, or `(not backed up) <name>` for a
/// Notion-hosted file the map lacks (without a map: the name).
pub fn property_to_plain_named(name: &str, kind: &PropertyKind, ctx: &RenderContext) -> String {
    plain(Some(name), kind, ctx)
}

fn plain(name: Option<&str>, kind: &PropertyKind, ctx: &RenderContext) -> String {
    use PropertyKind as K;
    let num = |n: &Option<serde_json::Number>| n.as_ref().map(|n| n.to_string()).unwrap_or_default();
    let date = |d: Option<&crate::notion::model::DateValue>| d.map(format_date).unwrap_or_default();
    let raw = |v: &Value| match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match kind {
        K::Title(rt) | K::RichText(rt) => rich_text_to_plain(rt, ctx),
        K::Number(n) => num(n),
        K::Select(o) | K::Status(o) => o.as_ref().map(|o| o.name.clone()).unwrap_or_default(),
        K::MultiSelect(v) => v.iter().map(|o| o.name.as_str()).collect::<Vec<_>>().join(", "),
        K::Date(d) => date(d.as_deref()),
        K::People(v) => v.iter().map(|u| user_name(u, ctx)).collect::<Vec<_>>().join(", "),
        K::Files(v) => v
            .iter()
            .enumerate()
            .map(|(i, f)| match name {
                Some(_) => file_entry_text(name, i, f, ctx.media, ""),
                None => file_entry_text(None, i, f, None, ""),
            })
            .collect::<Vec<_>>()
            .join(", "),
        K::Checkbox(b) => b.to_string(),
        K::Url(s) | K::Email(s) | K::PhoneNumber(s) => s.clone().unwrap_or_default(),
        K::Formula(f) => match &**f {
            FormulaValue::String(s) => s.clone().unwrap_or_default(),
            FormulaValue::Number(n) => num(n),
            FormulaValue::Boolean(b) => b.map(|b| b.to_string()).unwrap_or_default(),
            FormulaValue::Date(d) => date(d.as_ref()),
            FormulaValue::Unsupported => String::new(),
            FormulaValue::Unknown { raw: r, .. } => raw(r),
        },
        K::Relation { ids, .. } => ids
            .iter()
            .map(|id| {
                // Noted in `unresolved` like every reference, though the text shows only the title.
                let _ = ctx.link(id);
                ctx.title(id).filter(|t| !t.is_empty()).unwrap_or(id).to_string()
            })
            .collect::<Vec<_>>()
            .join(", "),
        K::Rollup { value, .. } => match &**value {
            RollupValue::Number(n) => num(n),
            RollupValue::Date(d) => date(d.as_ref()),
            RollupValue::Array(items) => {
                items.iter().map(|p: &PropertyValue| plain(None, &p.kind, ctx)).collect::<Vec<_>>().join(", ")
            }
            RollupValue::Unsupported | RollupValue::Incomplete => String::new(),
            RollupValue::Unknown { raw: r, .. } => raw(r),
        },
        K::CreatedTime(t) | K::LastEditedTime(t) => readable_time(t, false),
        K::CreatedBy(u) | K::LastEditedBy(u) => user_name(u, ctx),
        K::UniqueId { prefix, number } => unique_id(prefix, number).unwrap_or_default(),
        K::Verification(v) => match v {
            Some(v) => v.get("state").map(raw).unwrap_or_else(|| raw(v)),
            None => String::new(),
        },
        K::Place(v) => v.as_ref().map(raw).unwrap_or_default(),
        K::Button => String::new(),
        K::Unknown { raw: r, .. } => raw(r),
    }
}

pub(crate) fn icon_value(icon: &Icon, ctx: &RenderContext) -> Option<String> {
    match icon {
        Icon::Emoji(e) => Some(e.clone()),
        Icon::File(f) => match file_target(Some(&MediaKey::Icon), f, ctx) {
            FileTarget::Local(lf) => Some(lf.path.clone()),
            FileTarget::External(u) => Some(u.to_string()),
            FileTarget::Missing => None,
        },
        Icon::CustomEmoji { name, .. } => name.as_ref().map(|n| format!(":{n}:")),
        Icon::Named { name, .. } => Some(name.clone()),
        Icon::Unknown { .. } => None,
    }
}

/// `tags` for Obsidian: the values of a multi-select, each trimmed, without a leading `#`, with
/// runs of whitespace as `-` (a tag cannot hold a space).
fn obsidian_tags(v: &[crate::notion::model::SelectOption]) -> String {
    let mut seen = HashSet::new();
    let tags = v.iter().filter_map(|o| {
        let t = clean_value(&o.name);
        let t = t.trim().trim_start_matches('#');
        let t = t.split_whitespace().collect::<Vec<_>>().join("-");
        (!t.is_empty() && seen.insert(t.clone())).then(|| yaml_str(&t))
    });
    yaml_list(tags.collect::<Vec<_>>())
}

/// The key of property `name` in [`FrontMatterStyle::Flat`]: its name, with `property_` in front
/// (as often as needed) when a key the tool writes or an earlier property has it, ignoring case.
fn flat_key(name: &str, used: &mut HashSet<String>) -> String {
    let mut key = name.to_string();
    while TOOL_KEYS.iter().any(|k| k.eq_ignore_ascii_case(&key)) || used.contains(&key.to_lowercase()) {
        key = format!("property_{key}");
    }
    used.insert(key.to_lowercase());
    key
}

/// The front matter block, from the opening `---` to the closing `---` line (newline-terminated).
pub fn front_matter(page: &Page, ctx: &RenderContext) -> String {
    let mut y = String::with_capacity(512);
    y.push_str("---\n");
    let mut kv = |k: &str, v: String| {
        y.push_str(k);
        y.push_str(": ");
        y.push_str(&v);
        y.push('\n');
    };
    kv("title", yaml_str(&page.title()));
    kv("notion_id", yaml_str(&page.id));
    kv("notion_url", yaml_str(&if page.url.is_empty() { notion_url(&page.id) } else { page.url.clone() }));
    kv("created_time", yaml_str(&page.created_time));
    kv("last_edited_time", yaml_str(&page.last_edited_time));
    if let Some(u) = &page.created_by {
        kv("created_by", yaml_str(&user_name(u, ctx)));
    }
    if let Some(u) = &page.last_edited_by {
        kv("last_edited_by", yaml_str(&user_name(u, ctx)));
    }
    if let Some(icon) = page.icon.as_ref().and_then(|i| icon_value(i, ctx)) {
        kv("icon", yaml_str(&icon));
    }
    if let Some(cover) = &page.cover {
        match file_target(Some(&MediaKey::Cover), cover, ctx) {
            FileTarget::Local(lf) => kv("cover", yaml_str(&lf.path)),
            FileTarget::External(u) => kv("cover", yaml_str(u)),
            FileTarget::Missing => {}
        }
    }
    if let Some(db) = ctx.database_title {
        kv("database", yaml_str(db));
    }
    let props: Vec<(&String, &PropertyValue, String)> = ordered(page, ctx)
        .into_iter()
        .filter_map(|(name, p)| property_yaml(Some(name), &p.kind, ctx).map(|v| (name, p, v)))
        .collect();
    match ctx.front_matter {
        FrontMatterStyle::Nested if props.is_empty() => kv("properties", "{}".into()),
        FrontMatterStyle::Nested => {
            y.push_str("properties:\n");
            // Notion's names are unique, but two can become one key once control characters are
            // dropped; a YAML mapping must not repeat a key.
            let mut used = HashSet::new();
            for (name, _, v) in props {
                let clean = clean_value(name);
                let mut key = clean.to_string();
                for n in 2.. {
                    if used.insert(key.clone()) {
                        break;
                    }
                    key = format!("{clean} ({n})");
                }
                y.push_str("  ");
                y.push_str(&yaml_str(&key));
                y.push_str(": ");
                y.push_str(&v);
                y.push('\n');
            }
        }
        FrontMatterStyle::Flat => {
            let tags = props.iter().position(|(name, p, _)| {
                name.eq_ignore_ascii_case("tags") && matches!(p.kind, PropertyKind::MultiSelect(_))
            });
            if let Some((_, PropertyValue { kind: PropertyKind::MultiSelect(v), .. }, _)) = tags.map(|i| &props[i]) {
                kv("tags", obsidian_tags(v));
            }
            let mut used = HashSet::new();
            for (i, (name, _, v)) in props.iter().enumerate() {
                if Some(i) != tags {
                    let key = flat_key(&clean_value(name), &mut used);
                    kv(&yaml_str(&key), v.clone());
                }
            }
        }
    }
    y.push_str("---\n");
    y
}
