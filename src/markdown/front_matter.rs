//! The YAML front matter of `index.md` (page metadata and every database property) and readable
//! plain-text values of properties (for a CSV export).
//!
//! Every key and string value is written as a YAML double-quoted scalar with all non-printable
//! characters escaped, so any Notion text parses back exactly. Key order is fixed: the page's own
//! keys first, then `properties` in name order (a `BTreeMap`). Never writes a signed Notion URL.

use serde_json::Value;

use super::inline::{escape_text, format_date, notion_url, rich_text_to_markdown, rich_text_to_plain, Mode};
use super::{LocalFile, MediaKey, RenderContext};
use crate::notion::model::{
    FileEntry, FileObject, FormulaValue, Icon, Page, PropertyKind, PropertyValue, RollupValue, User,
};

/// A YAML double-quoted scalar. Escapes `"`, `\` and everything YAML does not allow raw
/// (control characters, DEL, C1 controls, BOM, U+FFFE/U+FFFF) and the Unicode line separators.
pub fn yaml_str(s: &str) -> String {
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

fn date_yaml(d: Option<&crate::notion::model::DateValue>) -> String {
    match d {
        None => "null".into(),
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

fn file_entry_text(name: Option<&str>, i: usize, f: &FileEntry, ctx: &RenderContext) -> String {
    let key = name.map(|n| MediaKey::Property { name: n.to_string(), index: i });
    match file_target(key.as_ref(), &f.file, ctx) {
        FileTarget::Local(lf) => lf.path.clone(),
        FileTarget::External(u) => u.to_string(),
        FileTarget::Missing => format!("(not backed up) {}", f.name),
    }
}

fn relation_text(id: &str, ctx: &RenderContext) -> String {
    match (ctx.title(id).filter(|t| !t.is_empty()), ctx.link(id)) {
        (Some(t), Some(l)) => format!("[{}]({})", escape_text(t, Mode::Line), super::inline::link_dest(&l)),
        (Some(t), None) => t.to_string(),
        (None, Some(l)) => format!("[{}]({})", id, super::inline::link_dest(&l)),
        (None, None) => id.to_string(),
    }
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
        K::Title(rt) => yaml_str(&rich_text_to_plain(rt, ctx)),
        K::RichText(rt) => yaml_str(&rich_text_to_markdown(rt, ctx)),
        K::Number(n) => num(n),
        K::Select(o) | K::Status(o) => o.as_ref().map(|o| yaml_str(&o.name)).unwrap_or_else(|| "null".into()),
        K::MultiSelect(v) => yaml_list(v.iter().map(|o| yaml_str(&o.name))),
        K::Date(d) => date_yaml(d.as_deref()),
        K::People(v) => yaml_list(v.iter().map(|u| yaml_str(&user_name(u, ctx)))),
        K::Files(v) => yaml_list(v.iter().enumerate().map(|(i, f)| yaml_str(&file_entry_text(name, i, f, ctx)))),
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

/// Readable text of a property value (a CSV cell): names instead of ids, `, ` between list items.
/// Files show their external URL or name (use [`property_to_plain_named`] to resolve local paths).
pub fn property_to_plain(kind: &PropertyKind, ctx: &RenderContext) -> String {
    plain(None, kind, ctx)
}

/// Like [`property_to_plain`], resolving `files` entries to their local paths through
/// `MediaKey::Property { name, index }`.
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
                Some(_) => file_entry_text(name, i, f, ctx),
                None => match &f.file {
                    FileObject::External { url } => url.clone(),
                    _ => f.name.clone(),
                },
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
            .map(|id| ctx.title(id).filter(|t| !t.is_empty()).unwrap_or(id).to_string())
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
        K::CreatedTime(t) | K::LastEditedTime(t) => t.clone(),
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

fn icon_value(icon: &Icon, ctx: &RenderContext) -> Option<String> {
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
    let props: Vec<(String, String)> = page
        .properties
        .iter()
        .filter_map(|(name, p)| property_yaml(Some(name), &p.kind, ctx).map(|v| (name.clone(), v)))
        .collect();
    if props.is_empty() {
        kv("properties", "{}".into());
    } else {
        y.push_str("properties:\n");
        for (name, v) in props {
            y.push_str("  ");
            y.push_str(&yaml_str(&name));
            y.push_str(": ");
            y.push_str(&v);
            y.push('\n');
        }
    }
    y.push_str("---\n");
    y
}
