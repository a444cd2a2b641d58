//! The workspace the restore tests back up and restore: two databases related both ways
//! (Projects <-> Tasks), every property type Notion's API can create plus the read-only ones,
//! a row holding every block type (nested lists five levels deep, a toggle with 120 children, a
//! 4,500-character paragraph, tables, columns, a synced block and its reference on another row,
//! mentions and links between rows, media hosted and external), a child page with a grandchild,
//! an inline database with its own rows, icons and covers, and two people (one exists in the
//! target workspace, one does not). It builds data only, in the fake's [`World`].

#![allow(dead_code)]

use serde_json::{json, Value};

use crate::common::fake_notion::{dashed, FileRef, World};
use crate::common::fixtures::*;

pub const ALICE: &str = "a11ce000-0000-4000-8000-00000000a11c";
pub const BOB: &str = "b0b00000-0000-4000-8000-000000000b0b";

/// Bytes of a small PNG (sniffed as PNG), made distinct by `tag`.
pub fn png(tag: &str) -> Vec<u8> {
    let mut v = vec![0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, b'I', b'H', b'D', b'R'];
    v.extend_from_slice(&[0, 0, 0, 2, 0, 0, 0, 2, 8, 2, 0, 0, 0, 0xFD, 0xD4, 0x9A, 0x73]);
    v.extend_from_slice(tag.as_bytes());
    v
}

pub fn pdf(tag: &str) -> Vec<u8> {
    format!("%PDF-1.4\n% {tag}\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n").into_bytes()
}

pub fn mp3(tag: &str) -> Vec<u8> {
    let mut v = b"ID3\x04\x00\x00\x00\x00\x00\x00".to_vec();
    v.extend_from_slice(tag.as_bytes());
    v
}

/// Ids of the source workspace.
pub struct Source {
    pub projects: DbIds,
    pub tasks: DbIds,
    pub reading: DbIds,
    pub spec: String,
    pub deep: String,
    /// The row with every block type.
    pub rich: String,
    pub synced_original: String,
}

fn sel_options(names: &[(&str, &str)]) -> Value {
    json!({"options": names.iter().map(|(n, c)| json!({"id": prop_id(n), "name": n, "color": c, "description": null})).collect::<Vec<_>>()})
}

fn with_options(mut v: Value, color: &str) -> Value {
    // Property values carry their option's colour.
    let ty = v["type"].as_str().unwrap().to_string();
    match &mut v[&ty] {
        Value::Array(a) => a.iter_mut().for_each(|o| o["color"] = json!(color)),
        Value::Object(o) => {
            o.insert("color".into(), json!(color));
        }
        _ => {}
    }
    v
}

fn set_schema(w: &mut World, ds: &str, schema: Vec<(String, Value)>) {
    let entry = w.data_sources.get_mut(&crate::common::fake_notion::norm(ds)).unwrap();
    let props = entry.json["properties"].as_object_mut().unwrap();
    for (k, v) in schema {
        props.insert(k, v);
    }
}

fn prop(w: &mut World, page: &str, name: &str, v: Value) {
    let mut v = v;
    if v.get("id").is_none() {
        let id = if v["type"] == "title" { "title".to_string() } else { prop_id(name) };
        v["id"] = json!(id);
    }
    w.page_mut(page).unwrap()["properties"][name] = v;
}

/// Build the source workspace into `w`.
pub fn build(w: &mut World) -> Source {
    w.insert_user(person(ALICE, "Alice Archer", "alice@example.com"));
    w.insert_user(person(BOB, "Bob Builder", "bob@example.com"));

    let projects = add_database(w, "Projects", 3);
    let tasks = add_database(w, "Tasks", 4);
    let (pds, tds) = (projects.data_source_id.clone(), tasks.data_source_id.clone());

    set_schema(
        w,
        &pds,
        vec![
            schema_entry("Notes", "rich_text", json!({})),
            schema_entry("Budget", "number", json!({"format": "dollar"})),
            schema_entry("Stage", "select", sel_options(&[("Idea", "gray"), ("Active", "green"), ("Closed", "red")])),
            schema_entry("Tags", "multi_select", sel_options(&[("alpha", "blue"), ("beta", "purple")])),
            schema_entry(
                "Status",
                "status",
                json!({"options": [
                    {"id": "s1", "name": "Not started", "color": "default", "description": null},
                    {"id": "s2", "name": "In progress", "color": "blue", "description": null},
                    {"id": "s3", "name": "Done", "color": "green", "description": null}],
                 "groups": [
                    {"id": "g1", "name": "To-do", "color": "gray", "option_ids": ["s1"]},
                    {"id": "g2", "name": "In progress", "color": "blue", "option_ids": ["s2"]},
                    {"id": "g3", "name": "Complete", "color": "green", "option_ids": ["s3"]}]}),
            ),
            schema_entry("Due", "date", json!({})),
            schema_entry("Owner", "people", json!({})),
            schema_entry("Files", "files", json!({})),
            schema_entry("Done", "checkbox", json!({})),
            schema_entry("Site", "url", json!({})),
            schema_entry("Mail", "email", json!({})),
            schema_entry("Phone", "phone_number", json!({})),
            schema_entry("Score", "formula", json!({"expression": "prop(\"Budget\") * 2"})),
            schema_entry(
                "Tasks",
                "relation",
                json!({"database_id": dashed(&tasks.database_id), "data_source_id": dashed(&tds),
                       "type": "dual_property",
                       "dual_property": {"synced_property_id": prop_id("Project"), "synced_property_name": "Project"}}),
            ),
            schema_entry(
                "Task count",
                "rollup",
                json!({"relation_property_name": "Tasks", "relation_property_id": prop_id("Tasks"),
                       "rollup_property_name": "Name", "rollup_property_id": "title", "function": "count"}),
            ),
            schema_entry("Created", "created_time", json!({})),
            schema_entry("Creator", "created_by", json!({})),
            schema_entry("Edited", "last_edited_time", json!({})),
            schema_entry("ID", "unique_id", json!({"prefix": "PRJ"})),
        ],
    );
    set_schema(
        w,
        &tds,
        vec![
            schema_entry(
                "Project",
                "relation",
                json!({"database_id": dashed(&projects.database_id), "data_source_id": dashed(&pds),
                       "type": "dual_property",
                       "dual_property": {"synced_property_id": prop_id("Tasks"), "synced_property_name": "Tasks"}}),
            ),
            schema_entry("Priority", "select", sel_options(&[("High", "red"), ("Low", "yellow")])),
        ],
    );

    // Row values.
    let (p0, p1, p2) = (projects.rows[0].clone(), projects.rows[1].clone(), projects.rows[2].clone());
    let t = tasks.rows.clone();
    for (i, p) in [&p0, &p1, &p2].into_iter().enumerate() {
        prop(
            w,
            p,
            "Notes",
            p_rich_text_runs(vec![
                text_run("Plain, "),
                bold("bold"),
                text_run(" and "),
                link_run("a link", "https://example.com/x"),
            ]),
        );
        prop(w, p, "Budget", p_number(Some(1000.5 * (i as f64 + 1.0))));
        prop(w, p, "Stage", with_options(p_select(Some(["Idea", "Active", "Closed"][i])), ["gray", "green", "red"][i]));
        prop(w, p, "Tags", with_options(p_multi_select(&["alpha", "beta"][..=i.min(1)]), "blue"));
        prop(w, p, "Status", p_status(["Not started", "In progress", "Done"][i]));
        prop(w, p, "Done", p_checkbox(i == 2));
        prop(w, p, "Site", p_url(Some("https://example.com/site")));
        prop(w, p, "Mail", p_email(Some("team@example.com")));
        prop(w, p, "Phone", p_phone(Some("+1 555 0100")));
        prop(w, p, "Score", p_formula_number(2001.0 * (i as f64 + 1.0)));
        prop(w, p, "Task count", p_rollup_number("count", 1.0));
        prop(w, p, "Created", p_created_time(TS));
        prop(w, p, "Creator", p_created_by(partial_user(ALICE)));
        prop(w, p, "Edited", p_last_edited_time(TS));
        prop(w, p, "ID", p_unique_id(Some("PRJ"), i as u64 + 1));
    }
    for (i, p) in [&p0, &p1, &p2].into_iter().enumerate() {
        prop(w, p, "Due", p_date(&format!("2026-03-0{}", i + 1), if i == 1 { Some("2026-03-09") } else { None }));
    }
    prop(
        w,
        &p0,
        "Owner",
        p_people(vec![
            person(ALICE, "Alice Archer", "alice@example.com"),
            person(BOB, "Bob Builder", "bob@example.com"),
        ]),
    );
    prop(w, &p1, "Owner", p_people(vec![person(ALICE, "Alice Archer", "alice@example.com")]));
    prop(w, &p2, "Owner", p_people(vec![]));
    // Relations both ways: p0 <-> t0, t1; p1 <-> t2; p2 <-> t3.
    let rel = [(&p0, vec![t[0].clone(), t[1].clone()]), (&p1, vec![t[2].clone()]), (&p2, vec![t[3].clone()])];
    for (p, ts) in &rel {
        prop(w, p, "Tasks", p_relation(ts));
        for tid in ts {
            prop(w, tid, "Project", p_relation(&[(*p).clone()]));
        }
    }
    for (i, tid) in t.iter().enumerate() {
        prop(
            w,
            tid,
            "Priority",
            with_options(
                p_select(Some(if i % 2 == 0 { "High" } else { "Low" })),
                if i % 2 == 0 { "red" } else { "yellow" },
            ),
        );
        w.set_children(tid, vec![paragraph(&format!("Task {i} details")), to_do("check it", i % 2 == 0)]);
    }

    // Files property and icons/covers on row 1.
    let attach = w.add_file("brief.pdf", pdf("brief"));
    prop(
        w,
        &p1,
        "Files",
        p_files(vec![files_entry_hosted(&attach), files_entry_external("spec sheet", "https://example.com/spec.pdf")]),
    );
    let icon = w.add_file("icon.png", png("icon"));
    let cover = w.add_file("cover.png", png("cover"));
    {
        let page = w.page_mut(&p1).unwrap();
        page["icon"] = icon.file_object();
        page["cover"] = cover.file_object();
    }
    {
        let page = w.page_mut(&p0).unwrap();
        page["icon"] = icon_emoji("🚀");
        page["cover"] = file_external("https://images.example.com/cover.jpg");
    }

    // Child page with a grandchild, and an inline database, below row 0.
    let spec = add_page(w, parent_page(&p0), "Spec");
    let deep = add_page(w, parent_page(&spec), "Deep dive");
    w.set_children(&deep, vec![paragraph_runs(vec![text_run("back to "), mention_page(&p0, "Row 0")])]);
    w.set_children(
        &spec,
        vec![
            heading(2, "Spec intro"),
            paragraph("spec text"),
            child_page(&deep, "Deep dive"),
            paragraph("after the child"),
        ],
    );
    let reading = add_database_with(
        w,
        DbSpec { title: "Reading list".into(), parent: parent_page(&p0), rows: 2, ..DbSpec::default() },
    );
    set_schema(w, &reading.data_source_id, vec![schema_entry("Read", "checkbox", json!({}))]);
    prop(w, &reading.rows[0], "Read", p_checkbox(true));
    prop(w, &reading.rows[1], "Read", p_checkbox(false));
    w.set_children(&reading.rows[0], vec![quote("a good book")]);

    let rich = p0.clone();
    let synced_original = rich_blocks(w, &rich, &p1, &spec, &deep, &reading, &tasks);
    // Row 1 shows the synced block of row 0 and links back.
    w.set_children(&p1, vec![paragraph("row one"), synced_block_reference(&synced_original), link_to_page(&p0)]);
    // Row 2: a page whose text mentions a page outside the backup.
    let outside = "0ff51de0-0000-4000-8000-0000000ff51d";
    w.set_children(&p2, vec![paragraph_runs(vec![text_run("outside: "), mention_page(outside, "Somewhere else")])]);

    Source { projects, tasks, reading, spec, deep, rich, synced_original }
}

fn long_text(n: usize) -> String {
    let mut s = String::new();
    let mut i = 0;
    while s.chars().count() < n {
        s.push_str(&format!("word{i} "));
        i += 1;
    }
    s.chars().take(n).collect()
}

/// Row 0: every block type.
fn rich_blocks(w: &mut World, page: &str, p1: &str, spec: &str, _deep: &str, reading: &DbIds, tasks: &DbIds) -> String {
    let img = w.add_file("goals.png", png("goals"));
    let pdf_file = w.add_file("Plan (final).pdf", pdf("plan"));
    let audio = w.add_file("voice.mp3", mp3("voice"));
    let attach = w.add_file("notes.txt", b"plain attachment\n".to_vec());

    let rich_par = paragraph_runs(vec![
        text_run("Text with "),
        bold("bold"),
        text_run(", "),
        italic("italic"),
        text_run(", "),
        annotated("struck", Ann { strikethrough: true, ..Ann::default() }),
        text_run(", "),
        annotated("under", Ann { underline: true, color: Some("red"), ..Ann::default() }),
        text_run(", "),
        code_run("code"),
        text_run(", "),
        link_run("a link", "https://example.com/page"),
        text_run(", "),
        equation_run("e^{i\\pi}+1=0"),
        text_run(", "),
        mention_page(p1, "Row 1"),
        text_run(", "),
        mention_database(&tasks.database_id, "Tasks"),
        text_run(", "),
        mention_user(ALICE, "Alice Archer"),
        text_run(", "),
        mention_user(BOB, "Bob Builder"),
        text_run(", "),
        mention_date("2026-05-01", None),
        text_run("."),
    ]);

    // Nested lists, five levels.
    let l1 = bulleted("level 1");
    let l2 = bulleted("level 2");
    let l3 = numbered("level 3");
    let l4 = bulleted("level 4");
    let l5 = to_do("level 5", true);
    let synced = synced_block_original();
    let synced_id = synced["id"].as_str().unwrap().to_string();
    let toggle_big = toggle("one hundred and twenty items");
    let tbl = table(3, true, false);
    let cols = column_list();
    let (c1, c2) = (column(), column());
    let callout_b = callout("Remember this", "💡");
    let toggle_h = toggle_heading(2, "Toggle heading");

    let top = vec![
        heading(1, "Heading one"),
        heading(2, "Heading two"),
        heading(3, "Heading three"),
        rich_par,
        paragraph(&long_text(4500)),
        l1.clone(),
        numbered("first"),
        numbered("second"),
        to_do("open item", false),
        to_do("done item", true),
        toggle_big.clone(),
        quote("A quote"),
        callout_b.clone(),
        code("rust", "fn main() {\n    println!(\"hi\");\n}"),
        equation("\\int_0^1 x^2 dx"),
        divider(),
        breadcrumb(),
        table_of_contents(),
        tbl.clone(),
        cols.clone(),
        synced.clone(),
        link_to_page(p1),
        child_page(spec, "Spec"),
        bookmark("https://example.com/bookmark"),
        embed("https://example.com/embed"),
        image_hosted(&img, "the goals"),
        image_external("https://images.example.com/photo.jpg"),
        pdf_hosted(&pdf_file),
        file_block(&attach),
        audio_hosted(&audio),
        video_external("https://videos.example.com/clip.mp4"),
        child_database(&reading.database_id, "Reading list"),
        toggle_h.clone(),
        block("link_preview", json!({"url": "https://github.com/example/repo/pull/1"})),
        paragraph("the end"),
    ];
    w.set_children(page, top);
    let l1id = l1["id"].as_str().unwrap().to_string();
    w.set_children(&l1id, vec![l2.clone(), bulleted("level 2 sibling")]);
    w.set_children(l2["id"].as_str().unwrap(), vec![l3.clone()]);
    w.set_children(l3["id"].as_str().unwrap(), vec![l4.clone()]);
    w.set_children(l4["id"].as_str().unwrap(), vec![l5.clone()]);
    w.set_children(l5["id"].as_str().unwrap(), vec![paragraph("level 6 text")]);
    let items: Vec<Value> = (0..120).map(|i| bulleted(&format!("item {i}"))).collect();
    w.set_children(toggle_big["id"].as_str().unwrap(), items);
    w.set_children(
        tbl["id"].as_str().unwrap(),
        vec![table_row(&["A", "B", "C"]), table_row(&["1", "2", "3"]), table_row(&["x", "y", "z"])],
    );
    w.set_children(cols["id"].as_str().unwrap(), vec![c1.clone(), c2.clone()]);
    w.set_children(c1["id"].as_str().unwrap(), vec![paragraph("left column"), bulleted("left item")]);
    w.set_children(c2["id"].as_str().unwrap(), vec![paragraph("right column")]);
    w.set_children(&synced_id, vec![paragraph("synced content"), bulleted("synced item")]);
    w.set_children(callout_b["id"].as_str().unwrap(), vec![paragraph("inside the callout")]);
    w.set_children(toggle_h["id"].as_str().unwrap(), vec![paragraph("under the toggle heading")]);
    synced_id
}

/// A file the fake holds, by name.
pub fn file_named(w: &World, name: &str) -> Option<FileRef> {
    w.files.iter().find(|(_, f)| f.name == name).map(|(k, f)| FileRef { key: k.clone(), name: f.name.clone() })
}
