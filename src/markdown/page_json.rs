//! The lossless `page.json` beside each `index.md`: the page object and its whole block tree
//! exactly as the API returned them, except that signed file URLs are replaced by the local paths
//! of the downloaded files (or, when a file was not downloaded, by the URL without its signature)
//! and `expiry_time` is dropped, so the file only changes when the page does.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::notion::model::{Block, Page};

/// Build `page.json`. `local` maps a file URL as served to the path (relative to the page folder)
/// of the downloaded file.
pub fn page_json(
    page: &Page,
    blocks: &[Block],
    local: &HashMap<String, String>,
    comments: Option<&[Value]>,
) -> Vec<u8> {
    let page_value = page.raw.as_deref().and_then(|r| serde_json::from_str::<Value>(r).ok()).unwrap_or_else(
        || serde_json::json!({"object": "page", "id": page.id, "last_edited_time": page.last_edited_time}),
    );
    let mut root = Map::new();
    root.insert("page".into(), page_value);
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
        let out: Value = serde_json::from_slice(&page_json(&p, &[b, b2], &local, None)).unwrap();
        assert_eq!(out["blocks"][0]["image"]["file"], json!({"url": "assets/1-photo.png"}));
        assert_eq!(
            out["blocks"][1]["file"]["file"],
            json!({"url": "https://prod-files-secure.s3.amazonaws.com/a/c/doc.pdf"})
        );
        assert_eq!(out["page"]["id"], "p1");
    }
}
