//! End-to-end tests of the Markdown renderer on fixture pages in the Notion API's JSON shapes.
//! Output is checked by parsing it: the body with pulldown-cmark (GFM options), the front matter
//! with yaml-rust2.

mod markdown_support;

use markdown_support::*;
use notion_git_backup::markdown::{
    property_to_plain, property_to_plain_named, render_page, rich_text_to_markdown, RenderContext,
};
use notion_git_backup::notion::model::Page;
use serde_json::{json, Value};

// ------------------------------------------------------------------------------------------
// Block rendering
// ------------------------------------------------------------------------------------------

#[test]
fn all_blocks_render_with_the_right_structure() {
    let f = load("all_blocks.json");
    let out = f.render();
    let (fm, body) = split(&out);
    assert_eq!(fm["title"].as_str(), Some("Block tour"));
    let doc = md_tree(body);

    // Headings: the title is the only level 1; Notion h1..h4 shift down one level.
    let hs = heading_texts(&doc);
    assert_eq!(hs.iter().filter(|h| h.0 == 1).count(), 1, "{hs:?}");
    assert_eq!(hs[0], (1, "Block tour".into()));
    for want in [(2, "Introduction"), (4, "Summary"), (4, "Tab A"), (4, "Tab B"), (4, "Details"), (5, "Fine print")] {
        assert!(hs.contains(&(want.0, want.1.to_string())), "missing {want:?} in {hs:?}");
    }

    // Lists: bullets One/Two/Three with three items nested under item 2, and a numbered item
    // nested under Two.b.
    let lists = doc.all(&|k| matches!(k, K::List(_)));
    let bullets = lists
        .iter()
        .find(|l| l.k == K::List(None) && l.items().first().map(|i| i.own_text()) == Some("One".into()))
        .expect("bullet list");
    let items = bullets.items();
    assert_eq!(items.iter().map(|i| i.own_text()).collect::<Vec<_>>(), ["One", "Two", "Three"]);
    let nested = items[1].sublist().expect("Two has a sub-list");
    assert_eq!(nested.items().iter().map(|i| i.own_text()).collect::<Vec<_>>(), ["Two.a", "Two.b", "Two.c"]);
    let deep = nested.items()[1].sublist().expect("Two.b has a sub-list");
    assert_eq!(deep.k, K::List(Some(1)));
    assert_eq!(deep.items()[0].own_text(), "deep");
    assert!(items[0].sublist().is_none() && items[2].sublist().is_none());

    // Numbered list starting at 3.
    let third = lists.iter().find(|l| l.k == K::List(Some(3))).expect("list starting at 3");
    assert_eq!(third.items().iter().map(|i| i.own_text()).collect::<Vec<_>>(), ["Third", "Fourth"]);

    // To-dos are one task list, separate from the bullets.
    let todo =
        lists.iter().find(|l| l.items().first().map(|i| i.own_text()) == Some("Done".into())).expect("to-do list");
    assert_eq!(todo.items().len(), 2);
    assert_eq!(todo.items()[0].kids[0].k, K::Task(true));
    assert_eq!(todo.items()[1].kids[0].k, K::Task(false));

    // Letters and roman numerals: HTML ordered lists with Markdown inside.
    assert!(body.contains("<ol type=\"a\">\n<li>\n\nAlpha\n\n</li>"), "{body}");
    assert!(body.contains("<ol type=\"i\" start=\"4\">"));
    let inside_beta = lists.iter().find(|l| l.items().first().map(|i| i.own_text()) == Some("inside beta".into()));
    assert!(inside_beta.is_some(), "Markdown list inside an HTML <li>");

    // Toggle: <details> with the summary as HTML and the child as a real paragraph.
    let paras: Vec<String> = doc.all(&|k| *k == K::Para).iter().map(|p| p.text()).collect();
    assert!(body.contains("<details>\n<summary>Click <strong>me</strong></summary>\n\nHidden text\n\n</details>"));
    assert!(paras.contains(&"Hidden text".to_string()));
    // A toggleable heading is shown once: the heading inside the summary.
    assert!(body.contains("<details>\n<summary><h3>Toggle heading</h3></summary>\n\nUnder toggle heading"));
    assert!(!hs.iter().any(|h| h.1 == "Toggle heading"), "no second, Markdown copy of the heading");

    // Quote and callouts are blockquotes holding their children.
    let quotes = doc.all(&|k| *k == K::Quote);
    let q = quotes.iter().find(|q| q.text().starts_with("Quoted")).unwrap();
    assert_eq!(q.kids.iter().filter(|k| k.k == K::Para).count(), 2);
    // The 💡 callout is a TIP alert (the alert's own bulb replaces the emoji).
    let callout = doc.all(&|k| *k == K::Alert("TIP")).into_iter().next().expect("emoji callout as an alert");
    assert!(callout.text().starts_with("Callout text"), "{}", callout.text());
    assert_eq!(callout.all(&|k| *k == K::Item)[0].text(), "callout item");
    let file_callout = quotes.iter().find(|q| q.text().contains("File icon callout")).unwrap();
    assert!(file_callout.all(&|k| matches!(k, K::Html(h) if h.contains("src=\"assets/icon.png\""))).len() == 1);

    // Code: fence longer than the backticks inside, language, caption after.
    let codes = doc.all(&|k| matches!(k, K::Code(_)));
    assert_eq!(codes[0].k, K::Code("rust".into()));
    assert_eq!(codes[0].text(), "fn main() {\n    println!(\"```\");\n}\n");
    assert!(body.contains("````rust\n"));
    assert!(paras.contains(&"A caption".to_string()));
    assert_eq!(codes[1].k, K::Code(String::new()), "plain text has no language");

    // Equation and divider.
    assert!(doc.all(&|k| matches!(k, K::Math(m) if m.trim() == "\\int_0^1 x\\,dx")).len() == 1);
    assert!(!doc.all(&|k| *k == K::Rule).is_empty());

    // Tables: 3 columns with the header row; non-row children ignored; pipes and newlines kept.
    let tables = doc.all(&|k| *k == K::Table);
    assert_eq!(tables.len(), 2);
    let head = &tables[0].kids[0];
    assert_eq!(head.kids.iter().map(Node::text).collect::<Vec<_>>(), ["A", "B", "C"]);
    let rows: Vec<&Node> = tables[0].kids.iter().filter(|n| n.k == K::Row).collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].kids.iter().map(Node::text).collect::<Vec<_>>(), ["1", "a|b", "line1line2"]);
    assert!(rows[0].kids[2].all(&|k| matches!(k, K::Html(h) if h == "<br>")).len() == 1);
    assert_eq!(rows[1].kids[1].text(), "`code|pipe`");
    assert!(!tables[0].text().contains("not a row"));
    // Without a column header: an empty header row, then both rows as body.
    assert!(tables[1].kids[0].text().trim().is_empty());
    assert_eq!(tables[1].kids.iter().filter(|n| n.k == K::Row).count(), 2);

    // Columns in order, synced blocks both rendered, containers transparent.
    let pos = |s: &str| paras.iter().position(|p| p == s).unwrap_or_else(|| panic!("no paragraph {s:?}"));
    assert!(pos("Left column") < pos("Right column"));
    assert!(pos("Synced original") < pos("Synced copy"));

    // Links: child page via ctx.links, unknown child database as its title, link_to_page.
    let links: Vec<(String, String)> = doc
        .all(&|k| matches!(k, K::Link(_)))
        .iter()
        .map(|l| match &l.k {
            K::Link(u) => (l.text(), u.clone()),
            _ => unreachable!(),
        })
        .collect();
    let has = |t: &str, u: &str| links.contains(&(t.to_string(), u.to_string()));
    assert!(has("Child page", "child-page/index.md"), "{links:?}");
    assert!(paras.contains(&"Tasks".to_string()));
    assert!(has("Linked page", "../linked/index.md"));
    // A database outside the backup without a known title: the placeholder, never its URL as text.
    assert!(has("Untitled", "https://www.notion.so/aaaaaaaa000000000000000000000003"), "{links:?}");
    assert!(!links.iter().any(|(t, _)| t.contains("notion.so")), "{links:?}");
    // Bookmarks and embeds show the URL, then the caption.
    assert!(has("https://example.com/a(b)", "https://example.com/a%28b%29"));
    assert!(paras.contains(&"https://example.com/a(b) — Example site".to_string()), "{paras:?}");
    assert!(has("https://www.youtube.com/embed/xyz", "https://www.youtube.com/embed/xyz"));
    assert!(has("https://github.com/o/r/issues/2", "https://github.com/o/r/issues/2"));

    // Images: linked, width capped at 300 only when wider, caption as escaped alt and, when
    // there is one, visible under the image in a figure; without one, centred.
    assert!(body.contains(
        "<figure>\n<a href=\"assets/photo.png\"><img src=\"assets/photo.png\" alt=\"A &lt;photo&gt; &amp; &quot;quotes&quot;\" width=\"300\"></a>\n<figcaption>A &lt;photo&gt; &amp; &quot;quotes&quot;</figcaption>\n</figure>"
    ), "{body}");
    assert!(body
        .contains("<p align=\"center\"><a href=\"assets/small.png\"><img src=\"assets/small.png\" alt=\"\"></a></p>"));
    assert!(has("https://example.com/remote.png", "https://example.com/remote.png"));
    assert!(paras.contains(&"https://example.com/remote.png — remote".to_string()), "{paras:?}");
    assert!(has("https://example.com/clip.mp4", "https://example.com/clip.mp4"));
    assert!(has("report.pdf", "attachments/report.pdf"));
    assert!(paras.contains(&"report.pdf — Quarterly".to_string()), "{paras:?}");
    // Missing Notion-hosted files: a visible note, never the signed URL.
    assert!(paras.iter().any(|p| p == "Missing image: lost photo.png (stored in Notion, not downloaded)"), "{paras:?}");
    assert!(paras.iter().any(|p| p.starts_with("Missing audio: voice.m4a")));
    assert!(paras.iter().any(|p| p.starts_with("Missing file: secret-plan.docx")));
    assert!(!out.contains("X-Amz") && !out.contains("prod-files-secure"), "signed URL leaked");

    // Breadcrumb, unsupported and unknown blocks are HTML comments (never dropped), children kept.
    let htmls: Vec<String> = doc.all(&|k| matches!(k, K::Html(_))).iter().map(|h| format!("{:?}", h)).collect();
    let html_text = htmls.join("\n");
    assert!(html_text.contains("<!-- breadcrumb -->"));
    assert!(html_text.contains("<!-- unsupported block: form -->"));
    assert!(html_text.contains("<!-- unknown block type: hologram -->"));
    assert!(paras.contains(&"Hologram child".to_string()));

    // Template and meeting notes keep their content.
    assert!(body.contains("<summary>Template: Add task</summary>"));
    assert!(doc.all(&|k| *k == K::Item).iter().any(|i| i.own_text() == "New task"));
    let mn = doc.all(&|k| *k == K::Para).into_iter().find(|p| p.text() == "Meeting notes: Weekly sync").unwrap();
    assert_eq!(mn.kids[0].k, K::Strong);
    assert!(pos("We met.") > pos("Meeting notes: Weekly sync"));
    assert!(pos("Content A") < pos("Content B"));
}

#[test]
fn table_of_contents_lists_headings_with_github_anchors() {
    let f = load("all_blocks.json");
    let out = f.render();
    let (_, body) = split(&out);
    let doc = md_tree(body);
    // The TOC is the first list in the document: links to every heading, in order.
    let toc = doc.kids.iter().find(|n| matches!(n.k, K::List(_))).expect("toc list");
    let links: Vec<(String, String)> = toc
        .all(&|k| matches!(k, K::Link(_)))
        .iter()
        .map(|l| match &l.k {
            K::Link(u) => (l.text(), u.clone()),
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(links.first(), Some(&("Introduction".to_string(), "#introduction".to_string())));
    // The second "Introduction" heading gets GitHub's de-duplicated anchor.
    assert_eq!(links.last(), Some(&("Introduction".to_string(), "#introduction-1".to_string())));
    assert!(links.contains(&("Toggle heading".into(), "#toggle-heading".into())));
    assert!(links.contains(&("Fine print".into(), "#fine-print".into())));
    // Nesting follows levels: Fine print (h4) sits under Details (h3).
    let details = toc.all(&|k| *k == K::Item).into_iter().find(|i| i.own_text() == "Details").unwrap();
    assert_eq!(details.sublist().unwrap().items()[0].own_text(), "Fine print");
}

#[test]
fn rich_text_annotations_links_and_mentions() {
    let f = load("all_blocks.json");
    let blocks = &f.raw["blocks"];
    let rich = blocks.as_array().unwrap().iter().find(|b| b["id"] == "rich").unwrap();
    let b = block_tree(rich);
    let rt = match &b.kind {
        notion_git_backup::notion::model::BlockKind::Paragraph(t) => t.rich_text.clone(),
        _ => unreachable!(),
    };
    let md = rich_text_to_markdown(&rt, &f.ctx());
    let doc = md_tree(&md);
    let p = &doc.kids[0];
    assert_eq!(p.k, K::Para);
    let kinds: Vec<&K> = p.kids.iter().map(|n| &n.k).collect();
    assert!(p.kids.iter().any(|n| n.k == K::Strong && n.text() == "bold"));
    assert!(p.kids.iter().any(|n| n.k == K::Em && n.text() == "italic"));
    assert!(p.kids.iter().any(|n| n.k == K::Del && n.text() == "gone"));
    assert!(md.contains("<ins>under</ins>"), "{md}");
    assert!(kinds.contains(&&K::InlineCode("x < y".into())));
    assert!(p.kids.iter().any(|n| n.k == K::Link("https://www.rust-lang.org/".into()) && n.text() == "Rust"));
    assert!(kinds.contains(&&K::Math("E = mc^2".into())));
    let text = p.text();
    assert!(text.contains("@Ada Lovelace"), "{text}");
    assert!(p.kids.iter().any(|n| n.k == K::Link("../mentioned/index.md".into()) && n.text() == "Mentioned page"));
    assert!(p
        .kids
        .iter()
        .any(|n| n.k == K::Link("https://www.notion.so/aaaaaaaa000000000000000000000003".into())
            && n.text() == "Some DB"));
    assert!(text.contains("2026-03-01 → 2026-03-05"));
    assert!(p.kids.iter().any(|n| n.k == K::Link("https://github.com/o/r/pull/1".into())));
    assert!(text.contains("@Today"));
    assert!(text.contains(":partyparrot:"));
}

#[test]
fn nasty_text_renders_as_written() {
    let f = load("nasty_text.json");
    let out = f.render();
    let (fm, body) = split(&out);
    assert_eq!(fm["title"].as_str(), Some("Nasty: \"quotes\" \\ back #1 *x* — ünïcödé\nnewline"));
    let doc = md_tree(body);
    let tops = top_level(&doc);
    // One heading (the title, on one line) then one paragraph per block, nothing else.
    assert_eq!(tops[0].k, K::Heading(1));
    assert_eq!(tops[0].text(), "Nasty: \"quotes\" \\ back #1 *x* — ünïcödé newline");
    let expected: Vec<String> = f.raw["expected_text"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            // Leading spaces of a line are not kept (Markdown would make them code).
            s.as_str().unwrap().split('\n').map(str::trim_start).collect::<Vec<_>>().join("\n")
        })
        .collect();
    let paras: Vec<&Node> = tops[1..].to_vec();
    assert_eq!(paras.len(), expected.len(), "one paragraph per block:\n{body}");
    for (p, want) in paras.iter().zip(&expected) {
        assert_eq!(p.k, K::Para, "block {want:?} became {:?}\n{body}", p.k);
        assert_eq!(&p.text().replace("<u>", "").replace("</u>", ""), want);
        // Text never turns into HTML, links, images, code or emphasis by accident.
        let accidental = p.all(&|k| {
            matches!(k, K::Html(_) | K::Link(_) | K::Image(_) | K::InlineCode(_) | K::Em | K::Del | K::Math(_))
        });
        if !want.starts_with("Hi!") && !want.starts_with("bold") && !want.starts_with("x(y)") {
            assert!(accidental.is_empty(), "{want:?} -> {accidental:?}");
        }
    }
    // Annotated runs: equal annotations merged, no `****`, whitespace outside the markers.
    assert!(!body.contains("****"));
    let by = |s: &str| paras.iter().find(|p| p.text() == s).unwrap();
    let ab = by("abcd plain");
    assert_eq!(ab.kids[0].k, K::Strong);
    assert_eq!(ab.kids[0].text(), "abcd");
    assert!(body.contains("a  **spaced**  b"));
    // `**(y)**z` would not parse: that run falls back to HTML and is still bold.
    let xyz = by("x(y)z");
    assert!(xyz.all(&|k| matches!(k, K::Html(h) if h == "<strong>")).len() == 1, "{:?}", xyz);
    // `**bold***italic*` would be ambiguous: runs next to the same marker use HTML instead.
    let bib = by("bolditalicboth");
    let tags: Vec<String> = bib
        .kids
        .iter()
        .filter_map(|n| match &n.k {
            K::Html(h) => Some(h.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(tags, ["<strong>", "</strong>", "<em>", "</em>"]);
    let both = bib.kids.last().unwrap();
    assert_eq!((&both.k, &both.kids[0].k, both.text().as_str()), (&K::Em, &K::Strong, "both"));
    // A `!` right before a link does not make an image.
    let hi = by("Hi!link");
    assert!(hi.all(&|k| matches!(k, K::Image(_))).is_empty());
    assert_eq!(hi.all(&|k| matches!(k, K::Link(_))).len(), 1);
}

#[test]
fn rendering_twice_is_byte_identical() {
    for name in ["all_blocks.json", "properties.json", "nasty_text.json"] {
        let f = load(name);
        let a = f.render();
        let b = load(name).render();
        assert_eq!(a, b, "{name}");
        assert!(a.ends_with('\n') && !a.ends_with("\n\n"));
    }
}

#[test]
fn big_table_is_complete() {
    let cell = |s: String| {
        json!([{"type": "text", "text": {"content": s, "link": null}, "plain_text": s,
        "annotations": {"bold": false, "italic": false, "strikethrough": false, "underline": false,
            "code": false, "color": "default"}, "href": null}])
    };
    let rows: Vec<Value> = (0..121)
        .map(|r| {
            json!({"object": "block", "id": format!("row{r}"), "type": "table_row", "has_children": false,
                "table_row": {"cells": (0..4).map(|c| cell(format!("r{r}c{c}"))).collect::<Vec<_>>()}})
        })
        .collect();
    let table = json!({"object": "block", "id": "t", "type": "table", "has_children": true,
        "table": {"table_width": 4, "has_column_header": true, "has_row_header": false}, "children": rows});
    let page: Page = serde_json::from_value(json!({"object": "page", "id": "p", "properties": {
        "title": {"id": "title", "type": "title", "title": cell("Big".into())}}}))
    .unwrap();
    let out = render_page(&page, &[block_tree(&table)], &RenderContext::default());
    let doc = md_tree(split(&out).1);
    let t = doc.all(&|k| *k == K::Table);
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].kids[0].kids.len(), 4, "4 columns");
    let body: Vec<&Node> = t[0].kids.iter().filter(|n| n.k == K::Row).collect();
    assert_eq!(body.len(), 120);
    assert_eq!(body[119].kids[3].text(), "r120c3");
}

// ------------------------------------------------------------------------------------------
// Front matter
// ------------------------------------------------------------------------------------------

#[test]
fn front_matter_has_page_keys_in_fixed_order() {
    let f = load("all_blocks.json");
    let out = f.render();
    let (fm, _) = split(&out);
    let keys: Vec<&str> = fm.as_hash().unwrap().keys().map(|k| k.as_str().unwrap()).collect();
    assert_eq!(
        keys,
        [
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
            "properties"
        ]
    );
    assert_eq!(fm["notion_id"].as_str(), Some("1f2e3d4c-5b6a-7988-1f2e-3d4c5b6a7988"));
    assert_eq!(fm["created_by"].as_str(), Some("Ada Lovelace"));
    assert_eq!(fm["last_edited_by"].as_str(), Some("Grace Hopper"));
    assert_eq!(fm["icon"].as_str(), Some("🧭"));
    assert_eq!(fm["cover"].as_str(), Some("assets/cover.jpg"));
    assert_eq!(fm["database"].as_str(), Some("Docs"));
    assert_eq!(fm["created_time"].as_str(), Some("2026-01-01T00:00:00.000Z"));
}

#[test]
fn front_matter_holds_every_property_type() {
    let f = load("properties.json");
    let out = f.render();
    let (fm, _) = split(&out);
    assert_eq!(fm["title"].as_str(), Some("Props: \"all\" #1"));
    assert_eq!(fm["icon"].as_str(), Some("assets/icon.png"));
    assert_eq!(fm["cover"].as_str(), Some("https://example.com/cover.jpg"));
    assert_eq!(fm["database"].as_str(), Some("Reading: list"));
    let p = &fm["properties"];
    let s = |k: &str| p[k].as_str().unwrap_or_else(|| panic!("{k}: {:?}", p[k])).to_string();
    let list = |k: &str| -> Vec<String> {
        p[k].as_vec().unwrap_or_else(|| panic!("{k}")).iter().map(|y| y.as_str().unwrap().to_string()).collect()
    };
    assert_eq!(s("Name"), "Props: \"all\" #1");
    // Text values are plain text, as Notion shows them: no Markdown.
    assert_eq!(s("Notes"), "Some bold notes");
    assert_eq!(p["Count"].as_f64(), Some(42.5));
    assert!(p["Empty number"].is_null());
    assert_eq!(s("Kind"), "Book");
    assert_eq!(list("Tags"), ["rust", "yes", "a: b"]);
    assert_eq!(s("State"), "In progress");
    assert_eq!(p["When"]["start"].as_str(), Some("2026-02-01T10:00:00.000+01:00"));
    assert_eq!(p["When"]["end"].as_str(), Some("2026-02-02"));
    assert_eq!(p["When"]["time_zone"].as_str(), Some("Europe/Berlin"));
    assert!(p["No date"].is_null());
    assert_eq!(list("Owners"), ["Ada Lovelace", "Unknown To Ctx", "u-404"]);
    assert_eq!(
        list("Attachments"),
        ["attachments/scan.pdf", "https://example.com/doc.pdf", "(not backed up) lost.png"]
    );
    assert_eq!(p["Done"].as_bool(), Some(true));
    assert_eq!(s("Link"), "https://example.com/?q=1&r=2");
    assert_eq!(s("Mail"), "ada@example.com");
    assert_eq!(s("Phone"), "+49 30 1234");
    assert_eq!(s("F str"), "computed: yes");
    assert_eq!(p["F num"].as_i64(), Some(7));
    assert_eq!(p["F bool"].as_bool(), Some(false));
    // A date without end is one ISO string.
    assert_eq!(p["F date"].as_str(), Some("2026-05-05"));
    assert_eq!(
        list("Related"),
        ["[Linked page](../linked/index.md)", "Mentioned [page]", "aaaaaaaa-0000-0000-0000-000000000003"]
    );
    assert!(out.contains("# Notion listed only the first 3 relations"));
    assert_eq!(p["Roll num"].as_i64(), Some(12));
    assert_eq!(p["Roll date"].as_str(), Some("2026-06-01"));
    assert_eq!(p["Roll arr"][0].as_str(), Some("Row A"));
    assert_eq!(p["Roll arr"][1].as_i64(), Some(3));
    assert_eq!(s("Created"), "2026-01-01T00:00:00.000Z");
    assert_eq!(s("Edited"), "2026-01-02T03:04:00.000Z");
    assert_eq!(s("Creator"), "Ada Lovelace");
    assert_eq!(s("Editor"), "Grace Hopper");
    assert_eq!(s("ID"), "TASK-12");
    assert_eq!(p["Verified"]["state"].as_str(), Some("verified"));
    assert_eq!(p["Where"]["name"].as_str(), Some("Berlin"));
    assert_eq!(p["Where"]["lat"].as_f64(), Some(52.52));
    assert!(p["Press"].is_badvalue(), "buttons are omitted");
    // An unknown property type keeps its raw value (and a property named `title` does not clash).
    assert_eq!(p["title"]["type"].as_str(), Some("future_thing"));
    assert_eq!(p["title"]["future_thing"]["a"][1].as_str(), Some("two"));
    // Property keys in name order.
    let keys: Vec<&str> = p.as_hash().unwrap().keys().map(|k| k.as_str().unwrap()).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    assert!(!out.contains("X-Amz") && !out.contains("prod-files-secure"), "signed URL leaked");
}

#[test]
fn property_to_plain_gives_readable_values() {
    let f = load("properties.json");
    let ctx = f.ctx();
    let plain = |k: &str| property_to_plain(&f.page.properties[k].kind, &ctx);
    assert_eq!(plain("Tags"), "rust, yes, a: b");
    assert_eq!(plain("Owners"), "Ada Lovelace, Unknown To Ctx, u-404");
    assert_eq!(plain("When"), "2026-02-01 10:00 → 2026-02-02 (Europe/Berlin)");
    assert_eq!(plain("Related"), "Linked page, Mentioned [page], aaaaaaaa-0000-0000-0000-000000000003");
    assert_eq!(plain("ID"), "TASK-12");
    assert_eq!(plain("Notes"), "Some bold notes");
    assert_eq!(plain("Done"), "true");
    assert_eq!(plain("Roll arr"), "Row A, 3");
    assert_eq!(plain("Verified"), "verified");
    assert_eq!(plain("Attachments"), "scan.pdf, https://example.com/doc.pdf, lost.png");
    let named = property_to_plain_named("Attachments", &f.page.properties["Attachments"].kind, &ctx);
    assert_eq!(named, "attachments/scan.pdf, https://example.com/doc.pdf, (not backed up) lost.png");
}

#[test]
fn yaml_survives_control_characters_and_unicode_separators() {
    let weird = "a\u{0}b\u{7}c\u{1b}d\u{7f}e\u{85}f\u{2028}g\u{feff}h\"i\\j\r\nk\tl: #m";
    // Control characters are removed (NEL becomes a space, CRLF a newline); the rest is exact.
    let clean = "abcde f\u{2028}g\u{feff}h\"i\\j\nk\tl: #m";
    let page: Page = serde_json::from_value(json!({"object": "page", "id": "p", "properties": {
        "title": {"id": "title", "type": "title", "title": [{"type": "text",
            "text": {"content": weird, "link": null}, "plain_text": weird, "annotations": {}, "href": null}]},
        weird: {"id": "x", "type": "rich_text", "rich_text": []}}}))
    .unwrap();
    let out = render_page(&page, &[], &RenderContext::default());
    let (fm, body) = split(&out);
    assert_eq!(fm["title"].as_str(), Some(clean));
    assert_eq!(fm["properties"][clean].as_str(), Some(""));
    assert_eq!(md_tree(body).kids.len(), 1);
}
