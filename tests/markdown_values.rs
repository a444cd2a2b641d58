//! Values as a reader and a tool read them (issue 14 "Values", issue 13 §5): plain-text front
//! matter, dates, the database's own property order, `FRONT_MATTER=flat` for Obsidian, and a
//! database folder's index (front matter naming the database, escaped README table) and
//! `database.csv` (files where they are in the repository). Pages in the API's JSON shapes;
//! Markdown parsed with pulldown-cmark, YAML with yaml-rust2, CSV by its quoting rules.

mod markdown_support;

use std::collections::HashMap;

use markdown_support::*;
use notion_git_backup::markdown::database::{render_csv, render_index, render_workspace_index, DatabaseMeta, Row};
use notion_git_backup::markdown::{render_page, FrontMatterStyle, LocalFile, MediaKey, RenderContext};
use notion_git_backup::notion::model::{Database, Page};
use serde_json::{json, Value};
use yaml_rust2::Yaml;

fn rt(s: &str) -> Value {
    json!([{"type": "text", "text": {"content": s, "link": null}, "plain_text": s, "href": null,
        "annotations": {"bold": false, "italic": false, "strikethrough": false, "underline": false,
            "code": false, "color": "default"}}])
}

fn hosted(name: &str) -> Value {
    json!({"name": name, "type": "file", "file": {"url": format!("https://prod-files-secure.s3.amazonaws.com/a/{name}?X-Amz-Signature=S"),
        "expiry_time": "2026-01-01T01:00:00.000Z"}})
}

fn row(id: &str, title: &str, extra: Value) -> Page {
    let mut props = json!({
        "Name": {"id": "title", "type": "title", "title": rt(title)},
        "Status": {"id": "s", "type": "status", "status": {"name": "Done", "color": "green"}},
        "Due": {"id": "d", "type": "date", "date": {"start": "2024-05-01T10:00:00.000+02:00", "end": null, "time_zone": null}},
        "Alpha": {"id": "a", "type": "checkbox", "checkbox": true},
        "Notes": {"id": "n", "type": "rich_text", "rich_text": rt("#hash and **MK-1**")},
    });
    for (k, v) in extra.as_object().unwrap() {
        props[k] = v.clone();
    }
    Page::from_json(json!({"object": "page", "id": id, "created_time": "2026-01-01T00:00:00.000Z",
        "last_edited_time": "2026-01-02T03:04:00.000Z", "url": "", "properties": props}))
    .unwrap()
}

fn front(out: &str) -> Yaml {
    split(out).0
}

fn keys(y: &Yaml) -> Vec<String> {
    y.as_hash().unwrap().keys().map(|k| k.as_str().unwrap().to_string()).collect()
}

/// Parse CSV (RFC 4180 quoting, CRLF rows) into rows of fields.
fn csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let (mut row, mut field, mut quoted, mut chars) = (Vec::new(), String::new(), false, text.chars().peekable());
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => row.push(std::mem::take(&mut field)),
            ('\r', false) if chars.peek() == Some(&'\n') => {
                chars.next();
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (c, _) => field.push(c),
        }
    }
    assert!(field.is_empty() && row.is_empty(), "CSV ends with CRLF");
    rows
}

#[test]
fn front_matter_text_is_plain_and_a_date_without_end_is_one_string() {
    let p = row(
        "p1",
        "One",
        json!({
            "Span": {"id": "sp", "type": "date", "date": {"start": "2024-05-01", "end": "2024-05-03", "time_zone": null}},
        }),
    );
    let fm = front(&render_page(&p, &[], &RenderContext::default()));
    let props = &fm["properties"];
    assert_eq!(props["Notes"].as_str(), Some("#hash and **MK-1**"), "no Markdown escapes in YAML");
    assert_eq!(props["Due"].as_str(), Some("2024-05-01T10:00:00.000+02:00"));
    assert_eq!(props["Span"]["start"].as_str(), Some("2024-05-01"));
    assert_eq!(props["Span"]["end"].as_str(), Some("2024-05-03"));
}

#[test]
fn properties_follow_the_database_order() {
    let p = row("p1", "One", json!({}));
    let order: Vec<String> = ["Status", "Name", "Due"].map(String::from).to_vec();
    let ctx = RenderContext { property_order: Some(&order), ..RenderContext::default() };
    let fm = front(&render_page(&p, &[], &ctx));
    // Named ones in schema order, the rest by name.
    assert_eq!(keys(&fm["properties"]), ["Status", "Name", "Due", "Alpha", "Notes"]);
    // Without an order: by name, as before.
    let fm = front(&render_page(&p, &[], &RenderContext::default()));
    assert_eq!(keys(&fm["properties"]), ["Alpha", "Due", "Name", "Notes", "Status"]);
    // The CSV and the README table follow the same order.
    let rows = [Row { page: &p, title: "One", rel_folder: "one".into(), media: None }];
    let table = csv(&render_csv(&rows, &ctx));
    assert_eq!(table[0], ["Name", "Status", "Due", "Alpha", "Notes", "notion_id", "last_edited_time", "path"]);
    let db = database("Tasks");
    let index = render_index(&DatabaseMeta::new(&db, "Tasks"), "Tasks", &rows, &ctx);
    let doc = md_tree(split(&index).1);
    let head: Vec<String> = doc.all(&|k| *k == K::Head)[0].kids.iter().map(Node::text).collect();
    assert_eq!(head, ["Page", "Status", "Due", "Alpha", "Last edited"]);
}

#[test]
fn flat_front_matter_gives_obsidian_top_level_keys_and_tags() {
    let p = row(
        "p1",
        "One",
        json!({
            "title": {"id": "x", "type": "rich_text", "rich_text": rt("clashes with the tool's title")},
            "TAGS": {"id": "t", "type": "multi_select", "multi_select": [
                {"name": "rust"}, {"name": "two words"}, {"name": "#already"}, {"name": "rust"}]},
            "Icon": {"id": "i", "type": "select", "select": {"name": "star"}},
        }),
    );
    let ctx = RenderContext {
        front_matter: FrontMatterStyle::Flat,
        database_title: Some("Tasks"),
        ..RenderContext::default()
    };
    let out = render_page(&p, &[], &ctx);
    let fm = front(&out);
    let k = keys(&fm);
    assert_eq!(
        k,
        [
            "title",
            "notion_id",
            "notion_url",
            "created_time",
            "last_edited_time",
            "database",
            "tags",
            "Alpha",
            "Due",
            "property_Icon",
            "Name",
            "Notes",
            "Status",
            "property_title"
        ]
    );
    assert_eq!(fm["title"].as_str(), Some("One"));
    assert_eq!(fm["property_title"].as_str(), Some("clashes with the tool's title"));
    assert_eq!(fm["property_Icon"].as_str(), Some("star"));
    let tags: Vec<&str> = fm["tags"].as_vec().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
    assert_eq!(tags, ["rust", "two-words", "already"]);
    assert_eq!(fm["Due"].as_str(), Some("2024-05-01T10:00:00.000+02:00"), "a date Dataview reads");
    assert_eq!(fm["Alpha"].as_bool(), Some(true));
    // Default stays nested.
    let fm = front(&render_page(&p, &[], &RenderContext::default()));
    assert!(fm["tags"].is_badvalue() && fm["properties"]["TAGS"].as_vec().unwrap().len() == 4);
}

fn database(title: &str) -> Database {
    serde_json::from_value(json!({"object": "database", "id": "dddddddd-0000-0000-0000-000000000001",
        "title": rt(title), "url": "https://www.notion.so/dddddddd000000000000000000000001",
        "last_edited_time": "2026-01-05T00:00:00.000Z",
        "icon": {"type": "emoji", "emoji": "📚"},
        "data_sources": [{"id": "ds-1", "name": "Main"}, {"id": "ds-2", "name": "Archive \"old\""}]}))
    .unwrap()
}

#[test]
fn a_database_index_says_which_database_it_is() {
    let db = database("Reading list");
    let p = row("p1", "One", json!({}));
    let rows = [Row { page: &p, title: "One", rel_folder: "one".into(), media: None }];
    let out = render_index(&DatabaseMeta::new(&db, "Reading list"), "Reading", &rows, &RenderContext::default());
    let fm = front(&out);
    assert_eq!(keys(&fm), ["title", "notion_id", "notion_url", "data_sources", "last_edited_time", "icon"]);
    assert_eq!(fm["title"].as_str(), Some("Reading list"));
    assert_eq!(fm["notion_id"].as_str(), Some("dddddddd-0000-0000-0000-000000000001"));
    assert_eq!(fm["notion_url"].as_str(), Some("https://www.notion.so/dddddddd000000000000000000000001"));
    assert_eq!(fm["data_sources"][1]["id"].as_str(), Some("ds-2"));
    assert_eq!(fm["data_sources"][1]["name"].as_str(), Some("Archive \"old\""));
    assert_eq!(fm["last_edited_time"].as_str(), Some("2026-01-05T00:00:00.000Z"));
    assert_eq!(fm["icon"].as_str(), Some("📚"));
    let doc = md_tree(split(&out).1);
    assert_eq!(heading_texts(&doc), [(1, "Reading list".to_string())]);
    // An empty database has the same front matter.
    let empty = render_index(&DatabaseMeta::new(&db, "Reading list"), "Reading", &[], &RenderContext::default());
    assert_eq!(front(&empty)["notion_id"], fm["notion_id"]);
}

#[test]
fn readme_tables_escape_titles_and_show_readable_dates() {
    let db = database("Tasks");
    let nasty = "*Bold* _it_ <h1>x</h1> a|b [link](http://e.x)";
    let p = row("p1", nasty, json!({}));
    let rows = [Row { page: &p, title: nasty, rel_folder: "my page #1".into(), media: None }];
    let out = render_index(&DatabaseMeta::new(&db, "Tasks"), "Tasks", &rows, &RenderContext::default());
    let doc = md_tree(split(&out).1);
    let table = doc.all(&|k| *k == K::Table)[0];
    let body_row = table.kids.iter().find(|n| n.k == K::Row).unwrap();
    assert_eq!(body_row.kids.len(), 5, "the pipe in the title did not split the cell");
    let links = body_row.links();
    assert_eq!(links, [(nasty.to_string(), "my%20page%20%231/index.md".to_string())]);
    assert!(body_row.kids[0].all(&|k| matches!(k, K::Em | K::Strong | K::Html(_))).is_empty());
    assert_eq!(body_row.kids[2].text(), "2024-05-01 10:00 +02:00");
    // The workspace README escapes the same way.
    let ws = render_workspace_index("Work *space*", &[("id".into(), nasty.into(), "a b".into())]);
    let doc = md_tree(&ws);
    assert_eq!(heading_texts(&doc), [(1, "Work *space*".to_string())]);
    assert_eq!(doc.links(), [(nasty.to_string(), "a%20b/index.md".to_string())]);
}

#[test]
fn csv_lists_files_where_they_are_in_the_repository() {
    // Regression: the files column said "(not backed up)" for files that were there.
    let files = json!({"Files": {"id": "f", "type": "files", "files": [hosted("scan.pdf"), hosted("lost.png"),
        {"name": "site", "type": "external", "external": {"url": "https://example.com/doc.pdf"}}]}});
    let a = row("p1", "A", files.clone());
    let b = row("p2", "B", files);
    let media: HashMap<MediaKey, LocalFile> = [(
        MediaKey::Property { name: "Files".into(), index: 0 },
        LocalFile { path: "attachments/scan 1.pdf".into(), width: None, height: None, is_image: false },
    )]
    .into();
    let rows = [
        Row { page: &a, title: "A", rel_folder: "a".into(), media: Some(&media) },
        Row { page: &b, title: "B", rel_folder: "b".into(), media: None },
    ];
    let table = csv(&render_csv(&rows, &RenderContext::default()));
    let col = table[0].iter().position(|c| c == "Files").unwrap();
    assert_eq!(table[1][col], "a/attachments/scan 1.pdf, (not backed up) lost.png, https://example.com/doc.pdf");
    assert_eq!(table[2][col], "scan.pdf, lost.png, https://example.com/doc.pdf", "not known: names, no verdict");
    let due = table[0].iter().position(|c| c == "Due").unwrap();
    assert_eq!(table[1][due], "2024-05-01 10:00 +02:00");
    assert!(!table.concat().concat().contains("X-Amz"), "no signed URL");
}

#[test]
fn control_characters_never_reach_the_readme_or_the_csv() {
    let db = database("Esc\u{1b}[2J");
    let t = "Bell\u{7} row\u{1b}[31m";
    let p = row("p1", t, json!({"Notes": {"id": "n", "type": "rich_text", "rich_text": rt("nul\u{0} c1\u{9b}")}}));
    let rows = [Row { page: &p, title: t, rel_folder: "bell-row".into(), media: None }];
    let title = db.title_text();
    let index = render_index(&DatabaseMeta::new(&db, &title), "Esc\u{7}", &rows, &RenderContext::default());
    let table = render_csv(&rows, &RenderContext::default());
    let ws = render_workspace_index("ws\u{1b}", &[("id".into(), t.into(), "bell-row".into())]);
    for (name, text) in [("README.md", &index), ("database.csv", &table), ("workspace README.md", &ws)] {
        let bad: Vec<char> = text.chars().filter(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')).collect();
        assert!(bad.is_empty(), "{name} holds {bad:?}");
    }
    assert_eq!(front(&index)["title"].as_str(), Some("Esc[2J"));
    let rows = csv(&table);
    assert_eq!(rows[1][0], "Bell row[31m");
    assert!(rows[1].contains(&"nul c1".to_string()), "{:?}", rows[1]);
    assert!(!table.replace("\r\n", "").contains('\r'), "only CRLF row ends");
}
