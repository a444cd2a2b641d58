//! Rendering speed: builds a 100,000-block page in memory (paragraphs with mixed annotations,
//! headings, nested lists, to-dos, code, quotes, toggles and tables), renders it once to warm up
//! and then a few times, and prints blocks/s, the best time and the output size.
//!
//! Run: `cargo bench --bench render`.

use std::time::Instant;

use notion_git_backup::markdown::{render_page, RenderContext};
use notion_git_backup::notion::model::{Block, Page};
use serde_json::{json, Value};

fn run(s: &str, bold: bool, code: bool) -> Value {
    json!({"type": "text", "text": {"content": s, "link": null}, "plain_text": s, "href": null,
        "annotations": {"bold": bold, "italic": false, "strikethrough": false, "underline": false,
            "code": code, "color": "default"}})
}

fn rt(i: usize) -> Value {
    json!([
        run(&format!("Block {i}: some text with *stars*, _underscores_ and a | pipe "), false, false),
        run("bold part", true, false),
        run(" then ", false, false),
        run("code()", false, true),
        run(" and the end of the line.", false, false),
    ])
}

fn block(ty: &str, payload: Value) -> Block {
    serde_json::from_value(json!({"object": "block", "id": "00000000-0000-0000-0000-000000000000",
        "type": ty, ty: payload}))
    .unwrap()
}

/// One group of 10 blocks (counting nested ones).
fn group(i: usize) -> Vec<Block> {
    let mut item = block("bulleted_list_item", json!({"rich_text": rt(i)}));
    item.children = vec![block("numbered_list_item", json!({"rich_text": rt(i + 1)}))];
    let mut toggle = block("toggle", json!({"rich_text": rt(i)}));
    toggle.children = vec![block("paragraph", json!({"rich_text": rt(i + 2)}))];
    let mut table = block("table", json!({"table_width": 2, "has_column_header": true}));
    table.children = vec![block("table_row", json!({"cells": [rt(i), rt(i + 1)]}))];
    vec![
        block("heading_2", json!({"rich_text": rt(i)})),
        block("paragraph", json!({"rich_text": rt(i)})),
        item,
        block("to_do", json!({"rich_text": rt(i), "checked": i % 2 == 0})),
        block(
            "code",
            json!({"rich_text": [run("fn main() {\n    println!(\"hi\");\n}", false, false)],
            "language": "rust", "caption": []}),
        ),
        block("quote", json!({"rich_text": rt(i)})),
        toggle,
        table,
    ]
}

fn count(blocks: &[Block]) -> usize {
    blocks.iter().map(|b| 1 + count(&b.children)).sum()
}

fn main() {
    let mut blocks = Vec::new();
    let mut n = 0;
    let mut i = 0;
    while n < 100_000 {
        let g = group(i);
        n += count(&g);
        blocks.extend(g);
        i += 1;
    }
    let page: Page = serde_json::from_value(json!({"object": "page", "id": "p", "properties": {
        "Name": {"id": "title", "type": "title", "title": [run("Benchmark page", false, false)]}}}))
    .unwrap();
    let ctx = RenderContext::default();

    let warm = render_page(&page, &blocks, &ctx);
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        let out = render_page(&page, &blocks, &ctx);
        best = best.min(t.elapsed().as_secs_f64());
        assert_eq!(out.len(), warm.len());
    }
    println!("blocks:      {n}");
    println!("render time: {:.1} ms (best of 5)", best * 1e3);
    println!("throughput:  {:.0} blocks/s", n as f64 / best);
    println!("output size: {} bytes ({:.1} MiB)", warm.len(), warm.len() as f64 / (1024.0 * 1024.0));
}
