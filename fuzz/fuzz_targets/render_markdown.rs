//! Arbitrary bytes as a page and its block tree, rendered to `index.md`.
//!
//! Input: JSON `{"page": <page object>, "blocks": [<block>, ...]}` where each block may carry
//! its subtree under `"children"` (as the block-tree fetch attaches it). Anything that does not
//! deserialize is skipped (the API client rejects it before rendering). Checked: no panic, the
//! output is deterministic, holds no control character, starts with a front matter block that
//! parses as YAML with the page's title (control characters removed), and is followed by the
//! `# <title>` heading.
#![no_main]

use libfuzzer_sys::fuzz_target;
use notion_git_backup::markdown::{render_page, safe::clean_value, RenderContext};
use notion_git_backup::notion::model::{Block, Page};
use serde_json::Value;
use yaml_rust2::YamlLoader;

/// A block with its `children` attached, at most `depth` levels deep (the fetch bounds depth).
fn tree(v: &Value, depth: usize) -> Option<Block> {
    let mut b: Block = serde_json::from_value(v.clone()).ok()?;
    if depth > 0 {
        if let Some(kids) = v.get("children").and_then(Value::as_array) {
            b.children = kids.iter().filter_map(|k| tree(k, depth - 1)).collect();
        }
    }
    Some(b)
}

fuzz_target!(|data: &[u8]| {
    let Ok(v) = serde_json::from_slice::<Value>(data) else { return };
    let Some(page) = v.get("page").and_then(|p| serde_json::from_value::<Page>(p.clone()).ok()) else { return };
    let blocks: Vec<Block> = v
        .get("blocks")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|b| tree(b, 64)).collect())
        .unwrap_or_default();
    let ctx = RenderContext::default();
    let out = render_page(&page, &blocks, &ctx);
    assert_eq!(out, render_page(&page, &blocks, &ctx), "rendering is not deterministic");
    assert!(!out.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\t')), "a control character reached index.md");

    let rest = out.strip_prefix("---\n").expect("index.md starts with front matter");
    let end = rest.find("\n---\n").expect("front matter is closed");
    let docs = YamlLoader::load_from_str(&rest[..end])
        .unwrap_or_else(|e| panic!("front matter is not YAML ({e}):\n{}", &rest[..end]));
    let title = clean_value(&page.title()).into_owned();
    assert_eq!(docs[0]["title"].as_str(), Some(title.as_str()), "title does not round-trip");
    let body = &rest[end + 5..];
    assert!(body.starts_with("\n# "), "the title heading follows the front matter");
});
