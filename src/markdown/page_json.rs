//! The lossless `page.json` beside each `index.md`: the page object and its whole block tree
//! exactly as the API returned them, except that signed file URLs are replaced by the local paths
//! of the downloaded files (or, when a file was not downloaded, by the URL without its signature)
//! and `expiry_time` is dropped, so the file only changes when the page does.
//!
//! Format (one JSON object, pretty-printed, keys in this order):
//! - `"page"`: the page object as `GET /pages/{id}` returned it.
//! - `"complete_properties"` (only when a property was truncated): `{<property name>: <value>}`
//!   for each property whose page-object value Notion cut short (relations, people, rich text
//!   and titles hold at most 25 items there, `has_more: true`), with the complete value read
//!   through `GET /pages/{id}/properties/{property_id}` and written as the page object would hold
//!   it without truncation: `{"id": .., "type": "relation", "relation": [{"id": ..}, ...],
//!   "has_more": false}`. A restore takes a property from here when it is present, else from
//!   `"page"`. Properties in name order.
//! - `"blocks"`: the block tree, each block with its children under `"children"`.
//! - `"comments"` (only with BACKUP_COMMENTS=1): the comment objects.

use std::collections::{BTreeMap, HashMap};

use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::notion::model::{Block, Page};

/// Build `page.json`. `local` maps a file URL as served to the path (relative to the page folder)
/// of the downloaded file. `complete_properties` holds, by property name, the complete value of
/// each property that the page object truncated (see the module header); empty when none was.
///
/// Written straight from the blocks' raw JSON, scrubbed on the way out: no second copy of the
/// block tree is built (a 100,000-block page would need hundreds of MB for it, issue 12).
pub fn page_json(
    page: &Page,
    blocks: &[Block],
    local: &HashMap<String, String>,
    comments: Option<&[Value]>,
    complete_properties: &BTreeMap<String, Value>,
) -> Vec<u8> {
    let page_value = page.raw.as_deref().and_then(|r| serde_json::from_str::<Value>(r).ok()).unwrap_or_else(
        || serde_json::json!({"object": "page", "id": page.id, "last_edited_time": page.last_edited_time}),
    );
    let root = Root { page: &page_value, complete_properties, blocks, comments, local };
    let mut out = Vec::new();
    serde_json::to_writer_pretty(&mut out, &root).expect("JSON serializes");
    out.push(b'\n');
    out
}

/// The `page.json` object, keys in the documented order.
struct Root<'a> {
    page: &'a Value,
    complete_properties: &'a BTreeMap<String, Value>,
    blocks: &'a [Block],
    comments: Option<&'a [Value]>,
    local: &'a HashMap<String, String>,
}

impl Serialize for Root<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let local = self.local;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("page", &Scrubbed { v: self.page, local })?;
        if !self.complete_properties.is_empty() {
            m.serialize_key("complete_properties")?;
            m.serialize_value(&ScrubbedMap { m: self.complete_properties, local })?;
        }
        m.serialize_entry("blocks", &Blocks { blocks: self.blocks, local })?;
        if let Some(c) = self.comments {
            m.serialize_entry("comments", &ScrubbedSeq { items: c, local })?;
        }
        m.end()
    }
}

struct Blocks<'a> {
    blocks: &'a [Block],
    local: &'a HashMap<String, String>,
}

impl Serialize for Blocks<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.blocks.len()))?;
        for b in self.blocks {
            seq.serialize_element(&BlockJson { b, local: self.local })?;
        }
        seq.end()
    }
}

/// One block: its raw object, scrubbed, with its children under `"children"` (in place of a
/// `"children"` key of the raw object, else last).
struct BlockJson<'a> {
    b: &'a Block,
    local: &'a HashMap<String, String>,
}

impl Serialize for BlockJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (b, local) = (self.b, self.local);
        // One block's raw JSON parsed at a time, never the whole tree.
        let v =
            b.raw_value().unwrap_or_else(|| serde_json::json!({"object": "block", "id": b.id, "type": b.type_name()}));
        let Value::Object(obj) = &v else { return Scrubbed { v: &v, local }.serialize(s) };
        let children = Blocks { blocks: &b.children, local };
        let mut m = s.serialize_map(None)?;
        for item in ordered(obj, !b.children.is_empty()) {
            match item {
                Item::Key(k, child) => entry(&mut m, k, child, local)?,
                Item::Children => m.serialize_entry("children", &children)?,
            }
        }
        m.end()
    }
}

/// A key of an object as written: a value of the object, or a block's fetched children.
enum Item<'a> {
    Key(&'a str, &'a Value),
    Children,
}

/// The keys of `obj` in the order `page.json` has always had them: with `children`, the fetched
/// children take the place of a `"children"` key or go last; then `expiry_time` is dropped the way
/// `serde_json::Map::remove` drops it with `preserve_order` (the last key moves into its place).
fn ordered(obj: &Map<String, Value>, children: bool) -> Vec<Item<'_>> {
    let mut items: Vec<Item<'_>> =
        obj.iter().map(|(k, v)| if children && k == "children" { Item::Children } else { Item::Key(k, v) }).collect();
    if children && !obj.contains_key("children") {
        items.push(Item::Children);
    }
    if let Some(i) = items.iter().position(|it| matches!(it, Item::Key("expiry_time", _))) {
        items.swap_remove(i);
    }
    items
}

/// True for URLs whose query string carries a signature that changes on every fetch.
fn is_signed(url: &str) -> bool {
    url.contains('?') && (url.contains("X-Amz-") || url.contains("Signature=") || url.contains("Expires="))
}

/// One key of a scrubbed object: a string under `url` becomes the local path of the downloaded
/// file (or loses its signature), anything else is scrubbed in turn.
fn entry<M: SerializeMap>(m: &mut M, k: &str, child: &Value, local: &HashMap<String, String>) -> Result<(), M::Error> {
    match child {
        Value::String(u) if k == "url" => {
            if let Some(path) = local.get(u.as_str()) {
                m.serialize_entry(k, path)
            } else if is_signed(u) {
                m.serialize_entry(k, &u[..u.find('?').unwrap_or(u.len())])
            } else {
                m.serialize_entry(k, u)
            }
        }
        _ => m.serialize_entry(k, &Scrubbed { v: child, local }),
    }
}

/// A JSON value with signed URLs replaced and `expiry_time` dropped, at every level.
struct Scrubbed<'a> {
    v: &'a Value,
    local: &'a HashMap<String, String>,
}

impl Serialize for Scrubbed<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.v {
            Value::Object(obj) => {
                let mut m = s.serialize_map(None)?;
                for item in ordered(obj, false) {
                    if let Item::Key(k, child) = item {
                        entry(&mut m, k, child, self.local)?;
                    }
                }
                m.end()
            }
            Value::Array(a) => ScrubbedSeq { items: a, local: self.local }.serialize(s),
            other => other.serialize(s),
        }
    }
}

struct ScrubbedSeq<'a> {
    items: &'a [Value],
    local: &'a HashMap<String, String>,
}

impl Serialize for ScrubbedSeq<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.items.len()))?;
        for v in self.items {
            seq.serialize_element(&Scrubbed { v, local: self.local })?;
        }
        seq.end()
    }
}

struct ScrubbedMap<'a> {
    m: &'a BTreeMap<String, Value>,
    local: &'a HashMap<String, String>,
}

impl Serialize for ScrubbedMap<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut keys: Vec<(&String, &Value)> = self.m.iter().collect();
        if let Some(i) = keys.iter().position(|(k, _)| *k == "expiry_time") {
            keys.swap_remove(i);
        }
        let mut m = s.serialize_map(Some(keys.len()))?;
        for (k, v) in keys {
            entry(&mut m, k, v, self.local)?;
        }
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn signed_urls_become_local_paths_and_expiry_goes() {
        let signed = "https://prod-files-secure.s3.amazonaws.com/a/b/photo.jpg?X-Amz-Signature=abc&X-Amz-Expires=3600";
        let other = "https://prod-files-secure.s3.amazonaws.com/a/c/doc.pdf?X-Amz-Signature=zzz";
        let b = Block::from_json(json!({"object": "block", "id": "b1", "type": "image",
            "image": {"type": "file", "file": {"url": signed, "expiry_time": "2026-01-01T01:00:00.000Z"}, "caption": []}}))
        .unwrap();
        let b2 = Block::from_json(json!({"object": "block", "id": "b2", "type": "file",
            "file": {"type": "file", "file": {"url": other, "expiry_time": "x"}, "caption": [], "name": "doc.pdf"}}))
        .unwrap();
        let p = Page::from_json(json!({"object": "page", "id": "p1", "properties": {}})).unwrap();
        let local: HashMap<String, String> = [(signed.to_string(), "assets/1-photo.png".to_string())].into();
        let out: Value = serde_json::from_slice(&page_json(&p, &[b, b2], &local, None, &BTreeMap::new())).unwrap();
        assert_eq!(out["blocks"][0]["image"]["file"], json!({"url": "assets/1-photo.png"}));
        assert_eq!(
            out["blocks"][1]["file"]["file"],
            json!({"url": "https://prod-files-secure.s3.amazonaws.com/a/c/doc.pdf"})
        );
        assert_eq!(out["page"]["id"], "p1");
        assert!(out.get("complete_properties").is_none(), "no truncated property, no key");
    }

    #[test]
    fn complete_properties_sit_beside_the_truncated_page_object() {
        let rel = |n: usize| (0..n).map(|i| json!({"id": format!("r{i}")})).collect::<Vec<_>>();
        let p = Page::from_json(json!({"object": "page", "id": "p1", "properties": {
            "Links": {"id": "a%3Fb", "type": "relation", "relation": rel(25), "has_more": true}}}))
        .unwrap();
        let complete: BTreeMap<String, Value> =
            [("Links".to_string(), json!({"id": "a%3Fb", "type": "relation", "relation": rel(30), "has_more": false}))]
                .into();
        let bytes = page_json(&p, &[], &HashMap::new(), None, &complete);
        let out: Value = serde_json::from_slice(&bytes).unwrap();
        let keys: Vec<&str> = out.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["page", "complete_properties", "blocks"]);
        assert_eq!(out["page"]["properties"]["Links"]["has_more"], true, "the page object stays as returned");
        assert_eq!(out["complete_properties"]["Links"]["relation"].as_array().unwrap().len(), 30);
        assert_eq!(out["complete_properties"]["Links"]["has_more"], false);
    }
}

#[cfg(test)]
mod same_as_a_value_tree {
    //! The streamed `page.json` is byte for byte what building the whole tree as one
    //! `serde_json::Value`, scrubbing it and pretty-printing it gave (the earlier implementation).
    use super::*;
    use serde_json::{json, Map};

    fn reference(
        page: &Page,
        blocks: &[Block],
        local: &HashMap<String, String>,
        comments: Option<&[Value]>,
        complete: &BTreeMap<String, Value>,
    ) -> Vec<u8> {
        fn block_value(b: &Block) -> Value {
            let mut v = b.raw_value().unwrap_or_else(|| json!({"object": "block", "id": b.id, "type": b.type_name()}));
            if !b.children.is_empty() {
                if let Value::Object(m) = &mut v {
                    m.insert("children".into(), Value::Array(b.children.iter().map(block_value).collect()));
                }
            }
            v
        }
        fn scrub(v: &mut Value, local: &HashMap<String, String>) {
            match v {
                Value::Object(m) => {
                    m.remove("expiry_time");
                    for (k, child) in m.iter_mut() {
                        if let Value::String(s) = child {
                            if k == "url" {
                                if let Some(path) = local.get(s.as_str()) {
                                    *s = path.clone();
                                } else if is_signed(s) {
                                    let cut = s.find('?').unwrap_or(s.len());
                                    s.truncate(cut);
                                }
                            }
                        } else {
                            scrub(child, local);
                        }
                    }
                }
                Value::Array(a) => a.iter_mut().for_each(|c| scrub(c, local)),
                _ => {}
            }
        }
        let page_value = page.raw.as_deref().and_then(|r| serde_json::from_str::<Value>(r).ok()).unwrap();
        let mut root = Map::new();
        root.insert("page".into(), page_value);
        if !complete.is_empty() {
            root.insert(
                "complete_properties".into(),
                Value::Object(complete.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
            );
        }
        root.insert("blocks".into(), Value::Array(blocks.iter().map(block_value).collect()));
        if let Some(c) = comments {
            root.insert("comments".into(), Value::Array(c.to_vec()));
        }
        let mut v = Value::Object(root);
        scrub(&mut v, local);
        let mut out = serde_json::to_vec_pretty(&v).unwrap();
        out.push(b'\n');
        out
    }

    #[test]
    fn nested_blocks_signed_urls_expiry_in_the_middle_and_comments() {
        let signed = "https://prod-files-secure.s3.amazonaws.com/a/b/photo.jpg?X-Amz-Signature=abc";
        let other = "https://prod-files-secure.s3.amazonaws.com/a/c/doc.pdf?Expires=1";
        let mut parent = Block::from_json(json!({"object": "block", "id": "b1", "type": "toggle", "has_children": true,
            "toggle": {"rich_text": [{"type": "text", "text": {"content": "t", "link": null}, "plain_text": "t", "href": null}], "color": "default"},
            "children": [], "z_last": 1.5}))
        .unwrap();
        let mut mid =
            Block::from_json(json!({"object": "block", "id": "b2", "type": "bulleted_list_item", "has_children": true,
            "bulleted_list_item": {"rich_text": [], "color": "default"}}))
            .unwrap();
        mid.children = vec![
            Block::from_json(json!({"object": "block", "id": "b3", "type": "image",
                "image": {"type": "file", "file": {"expiry_time": "x", "url": signed, "extra": [1, {"url": other}]}, "caption": []}}))
            .unwrap(),
            Block::from_json(json!({"object": "block", "id": "b4", "type": "divider", "divider": {}})).unwrap(),
        ];
        parent.children = vec![mid];
        let mut no_raw = Block::from_json(json!({"object": "block", "id": "b5", "type": "paragraph",
            "paragraph": {"rich_text": [], "color": "default"}}))
        .unwrap();
        no_raw.raw = None;
        no_raw.children =
            vec![Block::from_json(json!({"object": "block", "id": "b6", "type": "divider", "divider": {}})).unwrap()];
        let blocks = vec![parent, no_raw];
        let p = Page::from_json(json!({"object": "page", "id": "p1", "properties": {},
            "cover": {"type": "file", "file": {"url": other, "expiry_time": "y"}}}))
        .unwrap();
        let local: HashMap<String, String> = [(signed.to_string(), "assets/1-photo.png".to_string())].into();
        let comments =
            vec![json!({"object": "comment", "id": "c1", "expiry_time": "z", "rich_text": [], "url": signed})];
        let complete: BTreeMap<String, Value> = [
            (
                "Links".to_string(),
                json!({"id": "a", "type": "relation", "relation": [{"id": "r1"}], "has_more": false}),
            ),
            ("expiry_time".to_string(), json!({"id": "b", "type": "rich_text", "rich_text": []})),
            ("Zeta".to_string(), json!({"id": "c", "type": "url", "url": signed})),
        ]
        .into();
        for (c, props) in [(None, BTreeMap::new()), (Some(comments.as_slice()), complete)] {
            let got = page_json(&p, &blocks, &local, c, &props);
            let want = reference(&p, &blocks, &local, c, &props);
            assert_eq!(String::from_utf8(got).unwrap(), String::from_utf8(want).unwrap());
        }
    }
}
