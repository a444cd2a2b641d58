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

use serde_json::{Map, Value};

use crate::notion::model::{Block, Page};

/// Build `page.json`. `local` maps a file URL as served to the path (relative to the page folder)
/// of the downloaded file. `complete_properties` holds, by property name, the complete value of
/// each property that the page object truncated (see the module header); empty when none was.
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
    let mut root = Map::new();
    root.insert("page".into(), page_value);
    if !complete_properties.is_empty() {
        let complete: Map<String, Value> = complete_properties.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        root.insert("complete_properties".into(), Value::Object(complete));
    }
    root.insert("blocks".into(), Value::Array(blocks.iter().map(block_value).collect()));
    if let Some(c) = comments {
        root.insert("comments".into(), Value::Array(c.to_vec()));
    }
    let mut v = Value::Object(root);
    scrub(&mut v, local);
    let mut out = serde_json::to_vec_pretty(&v).expect("JSON serializes");
    out.push(b'\n');
    out
}

fn block_value(b: &Block) -> Value {
    let mut v =
        b.raw.clone().unwrap_or_else(|| serde_json::json!({"object": "block", "id": b.id, "type": b.type_name()}));
    if !b.children.is_empty() {
        if let Value::Object(m) = &mut v {
            m.insert("children".into(), Value::Array(b.children.iter().map(block_value).collect()));
        }
    }
    v
}

/// True for URLs whose query string carries a signature that changes on every fetch.
fn is_signed(url: &str) -> bool {
    url.contains('?') && (url.contains("X-Amz-") || url.contains("Signature=") || url.contains("Expires="))
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
