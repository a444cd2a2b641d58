//! Typed serde models of the Notion API objects this tool reads: pages, blocks, databases, data
//! sources, rich text, file objects, users and every property value type.
//!
//! The models are lenient by design. Notion adds block and property types regularly, and a backup
//! must never crash on one it does not know: every enum here has an `Unknown` variant that keeps
//! the raw JSON, and a known type whose payload does not match the expected shape also lands there
//! rather than failing the whole page. Both `2026-03-11` and `2025-09-03` responses are accepted
//! (`in_trash` or `archived`, `meeting_notes` or `transcription`).
//!
//! Timestamps are kept as the strings Notion sent so that rendered output is byte-stable.

use std::collections::BTreeMap;

use serde::de::{DeserializeOwned, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};

/// Deserialize `T` from a borrowed JSON value without cloning it.
fn parse<T: DeserializeOwned>(v: &Value) -> Result<T, serde_json::Error> {
    T::deserialize(v)
}

/// Accept `null` as the type's default (Notion sends `null` for empty arrays in a few places).
fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

// ---------------------------------------------------------------------------------------------
// Users
// ---------------------------------------------------------------------------------------------

/// A user, bot or group as it appears in `created_by`, people properties and mentions. Often
/// partial: only `id` is guaranteed.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
pub struct User {
    #[serde(default)]
    pub object: Option<String>,
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub avatar_url: Option<String>,
    #[serde(default)]
    pub person: Option<Person>,
    #[serde(default)]
    pub bot: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
pub struct Person {
    #[serde(default)]
    pub email: Option<String>,
}

impl User {
    /// The best human label: the name when Notion gave one, else the id.
    pub fn label(&self) -> &str {
        self.name.as_deref().filter(|n| !n.is_empty()).unwrap_or(&self.id)
    }
}

// ---------------------------------------------------------------------------------------------
// Rich text
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
pub struct Annotations {
    #[serde(default)]
    pub bold: bool,
    #[serde(default)]
    pub italic: bool,
    #[serde(default)]
    pub strikethrough: bool,
    #[serde(default)]
    pub underline: bool,
    #[serde(default)]
    pub code: bool,
    #[serde(default = "default_color")]
    pub color: String,
}

fn default_color() -> String {
    "default".to_string()
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Link {
    pub url: String,
}

/// One run of rich text.
#[derive(Debug, Clone, PartialEq)]
pub struct RichText {
    pub plain_text: String,
    pub href: Option<String>,
    pub annotations: Annotations,
    pub kind: RichTextKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RichTextKind {
    Text { content: String, link: Option<Link> },
    Equation { expression: String },
    Mention(Mention),
    Unknown { kind: String, raw: Value },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Mention {
    User(Box<User>),
    Page {
        id: String,
    },
    Database {
        id: String,
    },
    DataSource {
        id: String,
    },
    Date(DateValue),
    LinkPreview {
        url: String,
    },
    LinkMention {
        href: String,
        title: Option<String>,
    },
    /// `template_mention_date` (`today`/`now`) or `template_mention_user` (`me`).
    TemplateMention {
        value: String,
    },
    CustomEmoji {
        id: String,
        name: Option<String>,
        url: Option<String>,
    },
    Unknown {
        kind: String,
        raw: Value,
    },
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
pub struct DateValue {
    pub start: String,
    #[serde(default)]
    pub end: Option<String>,
    #[serde(default)]
    pub time_zone: Option<String>,
}

#[derive(Deserialize)]
struct IdOnly {
    id: String,
}

impl<'de> Deserialize<'de> for RichText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            #[serde(rename = "type", default)]
            kind: String,
            #[serde(default)]
            plain_text: String,
            #[serde(default)]
            href: Option<String>,
            #[serde(default)]
            annotations: Annotations,
            #[serde(flatten)]
            rest: Map<String, Value>,
        }
        let raw = Raw::deserialize(d)?;
        let payload = raw.rest.get(&raw.kind).cloned().unwrap_or(Value::Null);
        let kind = parse_rich_text_kind(&raw.kind, &payload)
            .unwrap_or_else(|| RichTextKind::Unknown { kind: raw.kind.clone(), raw: payload });
        Ok(RichText { plain_text: raw.plain_text, href: raw.href, annotations: raw.annotations, kind })
    }
}

fn parse_rich_text_kind(kind: &str, p: &Value) -> Option<RichTextKind> {
    Some(match kind {
        "text" => {
            #[derive(Deserialize)]
            struct T {
                #[serde(default)]
                content: String,
                #[serde(default)]
                link: Option<Link>,
            }
            let t: T = parse(p).ok()?;
            RichTextKind::Text { content: t.content, link: t.link }
        }
        "equation" => RichTextKind::Equation { expression: p.get("expression")?.as_str()?.to_string() },
        "mention" => RichTextKind::Mention(parse_mention(p)),
        _ => return None,
    })
}

fn parse_mention(p: &Value) -> Mention {
    let kind = p.get("type").and_then(Value::as_str).unwrap_or("").to_string();
    let inner = p.get(&kind).cloned().unwrap_or(Value::Null);
    let parsed = (|| -> Option<Mention> {
        Some(match kind.as_str() {
            "user" => Mention::User(parse(&inner).ok()?),
            "page" => Mention::Page { id: parse::<IdOnly>(&inner).ok()?.id },
            "database" => Mention::Database { id: parse::<IdOnly>(&inner).ok()?.id },
            "data_source" => Mention::DataSource { id: parse::<IdOnly>(&inner).ok()?.id },
            "date" => Mention::Date(parse(&inner).ok()?),
            "link_preview" => Mention::LinkPreview { url: inner.get("url")?.as_str()?.to_string() },
            "link_mention" => Mention::LinkMention {
                href: inner.get("href")?.as_str()?.to_string(),
                title: inner.get("title").and_then(Value::as_str).map(str::to_string),
            },
            "template_mention" => {
                let v = inner
                    .get("template_mention_date")
                    .or_else(|| inner.get("template_mention_user"))
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                Mention::TemplateMention { value: v }
            }
            "custom_emoji" => Mention::CustomEmoji {
                id: inner.get("id").and_then(Value::as_str).unwrap_or("").to_string(),
                name: inner.get("name").and_then(Value::as_str).map(str::to_string),
                url: inner.get("url").and_then(Value::as_str).map(str::to_string),
            },
            _ => return None,
        })
    })();
    parsed.unwrap_or(Mention::Unknown { kind, raw: p.clone() })
}

/// Concatenated plain text of a rich-text array.
pub fn plain_text(rt: &[RichText]) -> String {
    rt.iter().map(|r| r.plain_text.as_str()).collect()
}

// ---------------------------------------------------------------------------------------------
// Files and icons
// ---------------------------------------------------------------------------------------------

/// A file object: Notion-hosted (signed URL that expires), external link, or an upload reference.
#[derive(Debug, Clone, PartialEq)]
pub enum FileObject {
    /// Notion-hosted: the URL is signed and valid for about an hour.
    Hosted {
        url: String,
        expiry_time: Option<String>,
    },
    External {
        url: String,
    },
    Upload {
        id: String,
    },
    Unknown {
        kind: String,
        raw: Value,
    },
}

impl FileObject {
    /// Parse from an object that has `type` and a `file`/`external`/`file_upload` member.
    pub fn from_value(v: &Value) -> FileObject {
        let kind = v.get("type").and_then(Value::as_str).unwrap_or("").to_string();
        let inner = v.get(&kind);
        let url = inner.and_then(|i| i.get("url")).and_then(Value::as_str);
        match (kind.as_str(), url) {
            ("file", Some(u)) => FileObject::Hosted {
                url: u.to_string(),
                expiry_time: inner.and_then(|i| i.get("expiry_time")).and_then(Value::as_str).map(str::to_string),
            },
            ("external", Some(u)) => FileObject::External { url: u.to_string() },
            ("file_upload", _) => FileObject::Upload {
                id: inner.and_then(|i| i.get("id")).and_then(Value::as_str).unwrap_or("").to_string(),
            },
            _ => FileObject::Unknown { kind, raw: v.clone() },
        }
    }

    /// The URL to fetch, if any.
    pub fn url(&self) -> Option<&str> {
        match self {
            FileObject::Hosted { url, .. } | FileObject::External { url } => Some(url),
            _ => None,
        }
    }

    pub fn is_hosted(&self) -> bool {
        matches!(self, FileObject::Hosted { .. })
    }
}

impl<'de> Deserialize<'de> for FileObject {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(FileObject::from_value(&Value::deserialize(d)?))
    }
}

/// A page, database or callout icon.
#[derive(Debug, Clone, PartialEq)]
pub enum Icon {
    Emoji(String),
    File(FileObject),
    CustomEmoji {
        id: String,
        name: Option<String>,
        url: Option<String>,
    },
    /// Notion's built-in icon set: `{name, color}`.
    Named {
        name: String,
        color: Option<String>,
    },
    Unknown {
        kind: String,
        raw: Value,
    },
}

impl<'de> Deserialize<'de> for Icon {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        let kind = v.get("type").and_then(Value::as_str).unwrap_or("").to_string();
        let s = |o: Option<&Value>, k: &str| o.and_then(|i| i.get(k)).and_then(Value::as_str).map(str::to_string);
        Ok(match kind.as_str() {
            "emoji" => match v.get("emoji").and_then(Value::as_str) {
                Some(e) => Icon::Emoji(e.to_string()),
                None => Icon::Unknown { kind, raw: v },
            },
            "file" | "external" => Icon::File(FileObject::from_value(&v)),
            "custom_emoji" => {
                let i = v.get("custom_emoji");
                Icon::CustomEmoji { id: s(i, "id").unwrap_or_default(), name: s(i, "name"), url: s(i, "url") }
            }
            "icon" => {
                let i = v.get("icon");
                match s(i, "name") {
                    Some(name) => Icon::Named { name, color: s(i, "color") },
                    None => Icon::Unknown { kind, raw: v },
                }
            }
            _ => Icon::Unknown { kind, raw: v },
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Parents
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
pub enum Parent {
    Database { database_id: String },
    DataSource { data_source_id: String, database_id: Option<String> },
    Page { page_id: String },
    Block { block_id: String },
    Workspace,
    Unknown { raw: Value },
}

impl<'de> Deserialize<'de> for Parent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        let kind = s("type").unwrap_or_default();
        Ok(match (kind.as_str(), s(&kind)) {
            ("database_id", Some(id)) => Parent::Database { database_id: id },
            ("data_source_id", Some(id)) => Parent::DataSource { data_source_id: id, database_id: s("database_id") },
            ("page_id", Some(id)) => Parent::Page { page_id: id },
            ("block_id", Some(id)) => Parent::Block { block_id: id },
            ("workspace", _) => Parent::Workspace,
            _ => Parent::Unknown { raw: v },
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Pages and property values
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Page {
    pub id: String,
    #[serde(default)]
    pub created_time: String,
    #[serde(default)]
    pub last_edited_time: String,
    #[serde(default)]
    pub created_by: Option<Box<User>>,
    #[serde(default)]
    pub last_edited_by: Option<Box<User>>,
    #[serde(default)]
    pub in_trash: bool,
    /// Pre-2026-03-11 spelling of `in_trash`.
    #[serde(default)]
    pub archived: bool,
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub public_url: Option<String>,
    #[serde(default)]
    pub parent: Option<Parent>,
    #[serde(default)]
    pub icon: Option<Box<Icon>>,
    #[serde(default)]
    pub cover: Option<Box<FileObject>>,
    /// Keyed by display name, sorted for deterministic output.
    #[serde(default, deserialize_with = "null_default")]
    pub properties: Properties,
    /// The page object exactly as the API returned it (compact JSON), when it was read through
    /// [`Page::from_json`], for the lossless `page.json`.
    #[serde(skip)]
    pub raw: Option<String>,
}

impl Page {
    /// Parse a page and keep its raw JSON.
    pub fn from_json(v: Value) -> Result<Page, serde_json::Error> {
        let mut p = Page::deserialize(&v)?;
        p.raw = Some(v.to_string());
        Ok(p)
    }

    pub fn is_trashed(&self) -> bool {
        self.in_trash || self.archived
    }

    /// The page title: the value of its `title` property (every page has exactly one).
    pub fn title(&self) -> String {
        self.properties
            .values()
            .find_map(|p| match &p.kind {
                PropertyKind::Title(rt) => Some(plain_text(rt)),
                _ => None,
            })
            .unwrap_or_default()
    }

    /// Name of the title property (`Name`, `title`, ...).
    pub fn title_property_name(&self) -> Option<&str> {
        self.properties.iter().find(|(_, p)| matches!(p.kind, PropertyKind::Title(_))).map(|(k, _)| k.as_str())
    }
}

/// A page's property values by display name, in name order (the order of a `BTreeMap`).
///
/// A sorted vector rather than a map: a row has a handful of properties, and a database listing
/// holds thousands of rows at once, where a `BTreeMap` node takes room for 11 entries whatever
/// the count.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Properties(Vec<(String, PropertyValue)>);

type PropertyEntry<'a> = (&'a String, &'a PropertyValue);
/// Iterator over (name, value) in name order, like `BTreeMap::iter`.
pub type PropertiesIter<'a> =
    std::iter::Map<std::slice::Iter<'a, (String, PropertyValue)>, fn(&'a (String, PropertyValue)) -> PropertyEntry<'a>>;

impl Properties {
    fn position(&self, name: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.as_str().cmp(name))
    }

    pub fn get(&self, name: &str) -> Option<&PropertyValue> {
        self.position(name).ok().map(|i| &self.0[i].1)
    }

    /// Insert or replace the value named `name`; returns the replaced value.
    pub fn insert(&mut self, name: String, value: PropertyValue) -> Option<PropertyValue> {
        match self.position(&name) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                self.0.insert(i, (name, value));
                None
            }
        }
    }

    pub fn iter(&self) -> PropertiesIter<'_> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.0.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl Iterator<Item = &PropertyValue> {
        self.0.iter().map(|(_, v)| v)
    }

    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut PropertyValue> {
        self.0.iter_mut().map(|(_, v)| v)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::ops::Index<&str> for Properties {
    type Output = PropertyValue;
    fn index(&self, name: &str) -> &PropertyValue {
        self.get(name).unwrap_or_else(|| panic!("no property named {name:?}"))
    }
}

impl<'a> IntoIterator for &'a Properties {
    type Item = PropertyEntry<'a>;
    type IntoIter = PropertiesIter<'a>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl FromIterator<(String, PropertyValue)> for Properties {
    /// Sorted by name; of two values with the same name the last wins (as in a map).
    fn from_iter<I: IntoIterator<Item = (String, PropertyValue)>>(iter: I) -> Self {
        let map: BTreeMap<String, PropertyValue> = iter.into_iter().collect();
        Properties(map.into_iter().collect())
    }
}

impl<'de> Deserialize<'de> for Properties {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Properties(BTreeMap::<String, PropertyValue>::deserialize(d)?.into_iter().collect()))
    }
}

/// One property value: its id (absent inside rollup arrays) and typed value.
#[derive(Debug, Clone, PartialEq)]
pub struct PropertyValue {
    pub id: Option<String>,
    pub kind: PropertyKind,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct SelectOption {
    #[serde(default)]
    pub id: Option<String>,
    pub name: String,
    #[serde(default)]
    pub color: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FileEntry {
    pub name: String,
    pub file: FileObject,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FormulaValue {
    String(Option<String>),
    Number(Option<Number>),
    Boolean(Option<bool>),
    Date(Option<DateValue>),
    Unsupported,
    Unknown { kind: String, raw: Value },
}

#[derive(Debug, Clone, PartialEq)]
pub enum RollupValue {
    Number(Option<Number>),
    Date(Option<DateValue>),
    Array(Vec<PropertyValue>),
    Unsupported,
    Incomplete,
    Unknown { kind: String, raw: Value },
}

#[derive(Debug, Clone, PartialEq)]
pub enum PropertyKind {
    Title(Vec<RichText>),
    RichText(Vec<RichText>),
    Number(Option<Number>),
    Select(Option<SelectOption>),
    MultiSelect(Vec<SelectOption>),
    Status(Option<SelectOption>),
    Date(Option<Box<DateValue>>),
    People(Vec<User>),
    Files(Vec<FileEntry>),
    Checkbox(bool),
    Url(Option<String>),
    Email(Option<String>),
    PhoneNumber(Option<String>),
    Formula(Box<FormulaValue>),
    /// Related page ids; `has_more` is true when the page object truncated the list at 25.
    Relation {
        ids: Vec<String>,
        has_more: bool,
    },
    Rollup {
        function: Option<String>,
        value: Box<RollupValue>,
    },
    CreatedTime(String),
    LastEditedTime(String),
    CreatedBy(Box<User>),
    LastEditedBy(Box<User>),
    UniqueId {
        prefix: Option<String>,
        number: Option<Number>,
    },
    Verification(Option<Value>),
    Place(Option<Value>),
    Button,
    Unknown {
        kind: String,
        raw: Value,
    },
}

impl PropertyKind {
    /// Parse a property value object (`{"type": "...", "<type>": ...}`).
    pub fn from_value(v: &Value) -> PropertyKind {
        let kind = v.get("type").and_then(Value::as_str).unwrap_or("").to_string();
        let p = v.get(&kind).unwrap_or(&Value::Null);
        parse_property_kind(&kind, p, v).unwrap_or_else(|| PropertyKind::Unknown { kind, raw: v.clone() })
    }
}

fn opt<T: DeserializeOwned>(p: &Value) -> Option<Option<T>> {
    if p.is_null() {
        Some(None)
    } else {
        parse(p).ok().map(Some)
    }
}

fn vec_of<T: DeserializeOwned>(p: &Value) -> Option<Vec<T>> {
    if p.is_null() {
        Some(Vec::new())
    } else {
        parse(p).ok()
    }
}

fn parse_property_kind(kind: &str, p: &Value, whole: &Value) -> Option<PropertyKind> {
    use PropertyKind as K;
    Some(match kind {
        "title" => K::Title(vec_of(p)?),
        "rich_text" => K::RichText(vec_of(p)?),
        "number" => K::Number(opt(p)?),
        "select" => K::Select(opt(p)?),
        "multi_select" => K::MultiSelect(vec_of(p)?),
        "status" => K::Status(opt(p)?),
        "date" => K::Date(opt(p)?),
        "people" => K::People(vec_of(p)?),
        "files" => {
            let arr = p.as_array().cloned().unwrap_or_default();
            K::Files(
                arr.iter()
                    .map(|f| FileEntry {
                        name: f.get("name").and_then(Value::as_str).unwrap_or("").to_string(),
                        file: FileObject::from_value(f),
                    })
                    .collect(),
            )
        }
        "checkbox" => K::Checkbox(p.as_bool().unwrap_or(false)),
        "url" => K::Url(opt(p)?),
        "email" => K::Email(opt(p)?),
        "phone_number" => K::PhoneNumber(opt(p)?),
        "formula" => {
            let fk = p.get("type").and_then(Value::as_str).unwrap_or("").to_string();
            let fv = p.get(&fk).unwrap_or(&Value::Null);
            K::Formula(Box::new(match fk.as_str() {
                "string" => FormulaValue::String(opt(fv)?),
                "number" => FormulaValue::Number(opt(fv)?),
                "boolean" => FormulaValue::Boolean(opt(fv)?),
                "date" => FormulaValue::Date(opt(fv)?),
                "unsupported" => FormulaValue::Unsupported,
                _ => FormulaValue::Unknown { kind: fk, raw: p.clone() },
            }))
        }
        "relation" => {
            let ids: Vec<IdOnly> = vec_of(p)?;
            K::Relation {
                ids: ids.into_iter().map(|i| i.id).collect(),
                has_more: whole.get("has_more").and_then(Value::as_bool).unwrap_or(false),
            }
        }
        "rollup" => {
            let rk = p.get("type").and_then(Value::as_str).unwrap_or("").to_string();
            let rv = p.get(&rk).unwrap_or(&Value::Null);
            let value = match rk.as_str() {
                "number" => RollupValue::Number(opt(rv)?),
                "date" => RollupValue::Date(opt(rv)?),
                "array" => RollupValue::Array(vec_of(rv)?),
                "unsupported" => RollupValue::Unsupported,
                "incomplete" => RollupValue::Incomplete,
                _ => RollupValue::Unknown { kind: rk, raw: p.clone() },
            };
            K::Rollup {
                function: p.get("function").and_then(Value::as_str).map(str::to_string),
                value: Box::new(value),
            }
        }
        "created_time" => K::CreatedTime(p.as_str()?.to_string()),
        "last_edited_time" => K::LastEditedTime(p.as_str()?.to_string()),
        "created_by" => K::CreatedBy(parse(p).ok()?),
        "last_edited_by" => K::LastEditedBy(parse(p).ok()?),
        "unique_id" => K::UniqueId {
            prefix: p.get("prefix").and_then(Value::as_str).map(str::to_string),
            number: p.get("number").and_then(|n| n.as_number().cloned()),
        },
        "verification" => K::Verification(if p.is_null() { None } else { Some(p.clone()) }),
        "place" => K::Place(if p.is_null() { None } else { Some(p.clone()) }),
        "button" => K::Button,
        _ => return None,
    })
}

impl<'de> Deserialize<'de> for PropertyValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        Ok(PropertyValue {
            id: v.get("id").and_then(Value::as_str).map(str::to_string),
            kind: PropertyKind::from_value(&v),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Blocks
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    pub id: String,
    pub parent: Option<Parent>,
    pub created_time: String,
    pub last_edited_time: String,
    pub has_children: bool,
    pub in_trash: bool,
    pub kind: BlockKind,
    /// Filled by the block-tree fetch (not part of the API object). For synced-block references
    /// these are the source's children; for meeting notes the summary/notes blocks.
    pub children: Vec<Block>,
    /// The block exactly as the API returned it (compact JSON text), when it was read through
    /// [`Block::from_json`] (the block-tree fetch does), for the lossless `page.json`. Text, not a
    /// [`Value`]: a parsed object takes several times the memory, and a 100,000-block page holds
    /// all of them at once (issue 12).
    pub raw: Option<Box<str>>,
}

impl Block {
    /// Parse a block and keep its raw JSON.
    pub fn from_json(v: Value) -> Result<Block, serde_json::Error> {
        let mut b = Block::deserialize(&v)?;
        b.raw = Some(v.to_string().into_boxed_str());
        Ok(b)
    }

    /// The raw JSON of the block, parsed again (`None` when it was not kept).
    pub fn raw_value(&self) -> Option<Value> {
        self.raw.as_deref().and_then(|r| serde_json::from_str(r).ok())
    }

    /// The API type name (`paragraph`, `heading_1`, ...; unknown types keep their own name).
    pub fn type_name(&self) -> &str {
        self.kind.type_name()
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
pub struct TextBlock {
    #[serde(default, deserialize_with = "null_default")]
    pub rich_text: Vec<RichText>,
    #[serde(default)]
    pub color: Option<String>,
    /// Only set on tab items.
    #[serde(default)]
    pub icon: Option<Icon>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
pub struct Heading {
    #[serde(default, deserialize_with = "null_default")]
    pub rich_text: Vec<RichText>,
    #[serde(default)]
    pub color: Option<String>,
    #[serde(default)]
    pub is_toggleable: bool,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
pub struct NumberedItem {
    #[serde(default, deserialize_with = "null_default")]
    pub rich_text: Vec<RichText>,
    #[serde(default)]
    pub color: Option<String>,
    #[serde(default)]
    pub list_start_index: Option<u64>,
    /// `numbers`, `letters` or `roman`.
    #[serde(default)]
    pub list_format: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
pub struct ToDo {
    #[serde(default, deserialize_with = "null_default")]
    pub rich_text: Vec<RichText>,
    #[serde(default)]
    pub checked: bool,
    #[serde(default)]
    pub color: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
pub struct Callout {
    #[serde(default, deserialize_with = "null_default")]
    pub rich_text: Vec<RichText>,
    #[serde(default)]
    pub color: Option<String>,
    #[serde(default)]
    pub icon: Option<Icon>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
pub struct Code {
    #[serde(default, deserialize_with = "null_default")]
    pub rich_text: Vec<RichText>,
    #[serde(default, deserialize_with = "null_default")]
    pub caption: Vec<RichText>,
    #[serde(default)]
    pub language: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
pub struct Table {
    #[serde(default)]
    pub table_width: u32,
    #[serde(default)]
    pub has_column_header: bool,
    #[serde(default)]
    pub has_row_header: bool,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
pub struct TableRow {
    #[serde(default)]
    pub cells: Vec<Vec<RichText>>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
pub struct LinkBlock {
    #[serde(default)]
    pub url: String,
    #[serde(default, deserialize_with = "null_default")]
    pub caption: Vec<RichText>,
}

/// image, video, audio, pdf and file blocks.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaBlock {
    pub file: FileObject,
    pub caption: Vec<RichText>,
    /// Only `file` blocks carry a name.
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum LinkToPage {
    Page(String),
    Database(String),
    Comment(String),
    Unknown(Value),
}

#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
pub struct MeetingNotesChildren {
    #[serde(default)]
    pub summary_block_id: Option<String>,
    #[serde(default)]
    pub notes_block_id: Option<String>,
    #[serde(default)]
    pub transcript_block_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
pub struct MeetingNotes {
    #[serde(default, deserialize_with = "null_default")]
    pub title: Vec<RichText>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub children: Option<MeetingNotesChildren>,
    #[serde(default)]
    pub calendar_event: Option<Value>,
    #[serde(default)]
    pub recording: Option<Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum BlockKind {
    Paragraph(TextBlock),
    Heading1(Heading),
    Heading2(Heading),
    Heading3(Heading),
    Heading4(Heading),
    BulletedListItem(TextBlock),
    NumberedListItem(NumberedItem),
    ToDo(ToDo),
    Toggle(TextBlock),
    Quote(TextBlock),
    Callout(Callout),
    Code(Code),
    Equation {
        expression: String,
    },
    Divider,
    Breadcrumb,
    TableOfContents,
    Table(Table),
    TableRow(TableRow),
    ColumnList,
    Column {
        width_ratio: Option<f64>,
    },
    Tab,
    /// `synced_from` is `None` for an original, the source block id for a reference.
    SyncedBlock {
        synced_from: Option<String>,
    },
    ChildPage {
        title: String,
    },
    ChildDatabase {
        title: String,
    },
    LinkToPage(LinkToPage),
    LinkPreview {
        url: String,
    },
    Bookmark(LinkBlock),
    Embed(LinkBlock),
    Image(MediaBlock),
    Video(MediaBlock),
    Audio(MediaBlock),
    Pdf(MediaBlock),
    File(MediaBlock),
    Template(TextBlock),
    /// `meeting_notes` (2026-03-11) or `transcription` (2025-09-03).
    MeetingNotes(MeetingNotes),
    Unsupported {
        block_type: Option<String>,
    },
    /// A type this build does not know, or a known type whose payload did not parse.
    Unknown {
        kind: String,
        raw: Value,
    },
}

impl BlockKind {
    pub fn type_name(&self) -> &str {
        use BlockKind as B;
        match self {
            B::Paragraph(_) => "paragraph",
            B::Heading1(_) => "heading_1",
            B::Heading2(_) => "heading_2",
            B::Heading3(_) => "heading_3",
            B::Heading4(_) => "heading_4",
            B::BulletedListItem(_) => "bulleted_list_item",
            B::NumberedListItem(_) => "numbered_list_item",
            B::ToDo(_) => "to_do",
            B::Toggle(_) => "toggle",
            B::Quote(_) => "quote",
            B::Callout(_) => "callout",
            B::Code(_) => "code",
            B::Equation { .. } => "equation",
            B::Divider => "divider",
            B::Breadcrumb => "breadcrumb",
            B::TableOfContents => "table_of_contents",
            B::Table(_) => "table",
            B::TableRow(_) => "table_row",
            B::ColumnList => "column_list",
            B::Column { .. } => "column",
            B::Tab => "tab",
            B::SyncedBlock { .. } => "synced_block",
            B::ChildPage { .. } => "child_page",
            B::ChildDatabase { .. } => "child_database",
            B::LinkToPage(_) => "link_to_page",
            B::LinkPreview { .. } => "link_preview",
            B::Bookmark(_) => "bookmark",
            B::Embed(_) => "embed",
            B::Image(_) => "image",
            B::Video(_) => "video",
            B::Audio(_) => "audio",
            B::Pdf(_) => "pdf",
            B::File(_) => "file",
            B::Template(_) => "template",
            B::MeetingNotes(_) => "meeting_notes",
            B::Unsupported { .. } => "unsupported",
            B::Unknown { kind, .. } => kind,
        }
    }

    /// Parse the payload of a block of API type `kind`. Never fails: anything that does not fit
    /// becomes [`BlockKind::Unknown`] with the raw payload.
    pub fn from_parts(kind: &str, p: &Value) -> BlockKind {
        parse_block_kind(kind, p).unwrap_or_else(|| BlockKind::Unknown { kind: kind.to_string(), raw: p.clone() })
    }

    /// The media payload of image/video/audio/pdf/file blocks.
    pub fn media(&self) -> Option<&MediaBlock> {
        match self {
            BlockKind::Image(m)
            | BlockKind::Video(m)
            | BlockKind::Audio(m)
            | BlockKind::Pdf(m)
            | BlockKind::File(m) => Some(m),
            _ => None,
        }
    }
}

fn parse_media(p: &Value) -> Option<MediaBlock> {
    if !p.is_object() {
        return None;
    }
    Some(MediaBlock {
        file: FileObject::from_value(p),
        caption: p.get("caption").map(vec_of).unwrap_or(Some(Vec::new()))?,
        name: p.get("name").and_then(Value::as_str).map(str::to_string),
    })
}

fn parse_block_kind(kind: &str, p: &Value) -> Option<BlockKind> {
    use BlockKind as B;
    let text = || parse::<TextBlock>(p).ok();
    Some(match kind {
        "paragraph" => B::Paragraph(text()?),
        "heading_1" => B::Heading1(parse(p).ok()?),
        "heading_2" => B::Heading2(parse(p).ok()?),
        "heading_3" => B::Heading3(parse(p).ok()?),
        "heading_4" => B::Heading4(parse(p).ok()?),
        "bulleted_list_item" => B::BulletedListItem(text()?),
        "numbered_list_item" => B::NumberedListItem(parse(p).ok()?),
        "to_do" => B::ToDo(parse(p).ok()?),
        "toggle" => B::Toggle(text()?),
        "quote" => B::Quote(text()?),
        "callout" => B::Callout(parse(p).ok()?),
        "code" => B::Code(parse(p).ok()?),
        "equation" => B::Equation { expression: p.get("expression")?.as_str()?.to_string() },
        "divider" => B::Divider,
        "breadcrumb" => B::Breadcrumb,
        "table_of_contents" => B::TableOfContents,
        "table" => B::Table(parse(p).ok()?),
        "table_row" => B::TableRow(parse(p).ok()?),
        "column_list" => B::ColumnList,
        "column" => B::Column { width_ratio: p.get("width_ratio").and_then(Value::as_f64) },
        "tab" => B::Tab,
        "synced_block" => B::SyncedBlock {
            synced_from: p
                .get("synced_from")
                .and_then(|s| s.get("block_id"))
                .and_then(Value::as_str)
                .map(str::to_string),
        },
        "child_page" => B::ChildPage { title: p.get("title").and_then(Value::as_str).unwrap_or("").to_string() },
        "child_database" => {
            B::ChildDatabase { title: p.get("title").and_then(Value::as_str).unwrap_or("").to_string() }
        }
        "link_to_page" => {
            let t = p.get("type").and_then(Value::as_str).unwrap_or("");
            let id = p.get(t).and_then(Value::as_str).map(str::to_string);
            B::LinkToPage(match (t, id) {
                ("page_id", Some(id)) => LinkToPage::Page(id),
                ("database_id", Some(id)) => LinkToPage::Database(id),
                ("comment_id", Some(id)) => LinkToPage::Comment(id),
                _ => LinkToPage::Unknown(p.clone()),
            })
        }
        "link_preview" => B::LinkPreview { url: p.get("url")?.as_str()?.to_string() },
        "bookmark" => B::Bookmark(parse(p).ok()?),
        "embed" => B::Embed(parse(p).ok()?),
        "image" => B::Image(parse_media(p)?),
        "video" => B::Video(parse_media(p)?),
        "audio" => B::Audio(parse_media(p)?),
        "pdf" => B::Pdf(parse_media(p)?),
        "file" => B::File(parse_media(p)?),
        "template" => B::Template(text()?),
        "meeting_notes" | "transcription" => B::MeetingNotes(parse(p).ok()?),
        "unsupported" => B::Unsupported { block_type: p.get("block_type").and_then(Value::as_str).map(str::to_string) },
        _ => return None,
    })
}

impl<'de> Deserialize<'de> for Block {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            id: String,
            #[serde(rename = "type", default)]
            kind: String,
            #[serde(default)]
            parent: Option<Parent>,
            #[serde(default)]
            created_time: String,
            #[serde(default)]
            last_edited_time: String,
            #[serde(default)]
            has_children: bool,
            #[serde(default)]
            in_trash: bool,
            #[serde(default)]
            archived: bool,
            #[serde(flatten)]
            rest: Map<String, Value>,
        }
        let raw = Raw::deserialize(d)?;
        let payload = raw.rest.get(&raw.kind).unwrap_or(&Value::Null);
        Ok(Block {
            kind: BlockKind::from_parts(&raw.kind, payload),
            id: raw.id,
            parent: raw.parent,
            created_time: raw.created_time,
            last_edited_time: raw.last_edited_time,
            has_children: raw.has_children,
            in_trash: raw.in_trash || raw.archived,
            children: Vec::new(),
            raw: None,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Databases and data sources
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct DataSourceRef {
    pub id: String,
    #[serde(default)]
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Database {
    pub id: String,
    #[serde(default, deserialize_with = "null_default")]
    pub title: Vec<RichText>,
    #[serde(default, deserialize_with = "null_default")]
    pub description: Vec<RichText>,
    #[serde(default)]
    pub parent: Option<Parent>,
    #[serde(default)]
    pub is_inline: bool,
    #[serde(default)]
    pub in_trash: bool,
    #[serde(default)]
    pub archived: bool,
    #[serde(default)]
    pub created_time: String,
    #[serde(default)]
    pub last_edited_time: String,
    #[serde(default, deserialize_with = "null_default")]
    pub data_sources: Vec<DataSourceRef>,
    #[serde(default)]
    pub icon: Option<Icon>,
    #[serde(default)]
    pub cover: Option<FileObject>,
    #[serde(default)]
    pub url: String,
}

impl Database {
    pub fn title_text(&self) -> String {
        plain_text(&self.title)
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct DataSource {
    pub id: String,
    #[serde(default, deserialize_with = "null_default")]
    pub title: Vec<RichText>,
    #[serde(default)]
    pub parent: Option<Parent>,
    #[serde(default)]
    pub in_trash: bool,
    #[serde(default)]
    pub archived: bool,
    /// Property schema: name -> definition (`{id, name, type, <type config>}`), kept raw and in
    /// the order Notion lists them (the database's own property order).
    #[serde(default, deserialize_with = "null_default")]
    pub properties: serde_json::Map<String, Value>,
    #[serde(default)]
    pub url: String,
}

impl DataSource {
    pub fn title_text(&self) -> String {
        plain_text(&self.title)
    }
}

/// The bot user returned by `GET /users/me`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct BotUser {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub bot: Option<BotInfo>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
pub struct BotInfo {
    #[serde(default)]
    pub workspace_name: Option<String>,
    #[serde(default)]
    pub workspace_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_block_type_is_kept_raw() {
        let b: Block = serde_json::from_value(json!({
            "object": "block", "id": "b1", "type": "hologram", "has_children": false,
            "hologram": {"depth": 3}
        }))
        .unwrap();
        assert_eq!(b.type_name(), "hologram");
        match b.kind {
            BlockKind::Unknown { raw, .. } => assert_eq!(raw, json!({"depth": 3})),
            other => panic!("expected Unknown, got {other:?}"),
        }
    }

    #[test]
    fn malformed_known_block_does_not_fail() {
        let b: Block = serde_json::from_value(json!({
            "id": "b1", "type": "heading_1", "heading_1": {"rich_text": "not-an-array"}
        }))
        .unwrap();
        assert!(matches!(b.kind, BlockKind::Unknown { .. }));
    }

    #[test]
    fn archived_and_transcription_from_2025_09_03() {
        let b: Block = serde_json::from_value(json!({
            "id": "b1", "type": "transcription", "archived": true,
            "transcription": {"title": [], "status": "notes_ready",
                "children": {"summary_block_id": "s1", "notes_block_id": "n1"}}
        }))
        .unwrap();
        assert!(b.in_trash);
        assert_eq!(b.type_name(), "meeting_notes");
    }

    #[test]
    fn page_properties_parse() {
        let p: Page = serde_json::from_value(json!({
            "object": "page", "id": "p1", "in_trash": false, "url": "https://www.notion.so/p1",
            "created_time": "2026-01-01T00:00:00.000Z", "last_edited_time": "2026-01-02T00:00:00.000Z",
            "properties": {
                "Name": {"id": "title", "type": "title", "title": [
                    {"type": "text", "text": {"content": "Hello", "link": null}, "plain_text": "Hello",
                     "annotations": {"bold": false, "italic": false, "strikethrough": false,
                        "underline": false, "code": false, "color": "default"}, "href": null}]},
                "Tags": {"id": "a%3Ab", "type": "multi_select", "multi_select": [{"id": "x", "name": "rust", "color": "red"}]},
                "Rel": {"id": "r", "type": "relation", "relation": [{"id": "q1"}], "has_more": true},
                "F": {"id": "f", "type": "formula", "formula": {"type": "number", "number": 3}},
                "R": {"id": "ro", "type": "rollup", "rollup": {"type": "array", "function": "show_original",
                    "array": [{"type": "number", "number": 2}]}},
                "U": {"id": "u", "type": "unique_id", "unique_id": {"prefix": "TASK", "number": 12}},
                "B": {"id": "b", "type": "button", "button": {}},
                "Z": {"id": "z", "type": "future_thing", "future_thing": {"a": 1}}
            }
        }))
        .unwrap();
        assert_eq!(p.title(), "Hello");
        assert!(matches!(p.properties["Rel"].kind, PropertyKind::Relation { has_more: true, .. }));
        assert!(matches!(p.properties["Z"].kind, PropertyKind::Unknown { .. }));
        assert!(matches!(p.properties["B"].kind, PropertyKind::Button));
        match &p.properties["R"].kind {
            PropertyKind::Rollup { value, .. } => {
                assert!(matches!(&**value, RollupValue::Array(a) if a.len() == 1), "{value:?}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn properties_keep_name_order_and_map_semantics() {
        let v = serde_json::json!({
            "id": "p", "properties": {
                "b": {"id": "1", "type": "checkbox", "checkbox": true},
                "Name": {"id": "title", "type": "title", "title": []},
                "a": {"id": "2", "type": "url", "url": null}
            }
        });
        let mut p: Page = serde_json::from_value(v).unwrap();
        assert_eq!(p.properties.keys().map(String::as_str).collect::<Vec<_>>(), ["Name", "a", "b"]);
        assert_eq!(p.properties.len(), 3);
        assert!(matches!(p.properties["b"].kind, PropertyKind::Checkbox(true)));
        assert!(p.properties.get("c").is_none());
        let old = p.properties.insert("b".into(), PropertyValue { id: None, kind: PropertyKind::Checkbox(false) });
        assert!(matches!(old.map(|o| o.kind), Some(PropertyKind::Checkbox(true))));
        p.properties.insert("0".into(), PropertyValue { id: None, kind: PropertyKind::Button });
        let names: Vec<&str> = (&p.properties).into_iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["0", "Name", "a", "b"]);
        let dup: Properties = [
            ("x".to_string(), PropertyValue { id: None, kind: PropertyKind::Checkbox(true) }),
            ("x".to_string(), PropertyValue { id: None, kind: PropertyKind::Checkbox(false) }),
        ]
        .into_iter()
        .collect();
        assert_eq!(dup.len(), 1);
        assert!(matches!(dup["x"].kind, PropertyKind::Checkbox(false)), "the last value wins, as in a map");
        let none: Page = serde_json::from_value(serde_json::json!({"id": "p", "properties": null})).unwrap();
        assert!(none.properties.is_empty());
    }
}
