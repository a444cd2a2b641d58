//! Arbitrary bytes as page properties, rendered to the YAML front matter of `index.md`.
//!
//! Input: a JSON page object; or, when the bytes are not one, a page whose title, rich-text,
//! select, multi-select, URL and files values and property names are all the input text (lossy
//! UTF-8), so every byte sequence reaches the YAML quoting. Checked: no panic, no control
//! character in the output, the front matter parses as YAML, its `title` is the page's title
//! (control characters removed, as everywhere), and `properties` holds exactly the page's
//! properties (buttons carry no data and are left out) with text values round-tripping.
#![no_main]

use libfuzzer_sys::fuzz_target;
use notion_git_backup::markdown::{render_page, safe::clean_value, RenderContext};
use notion_git_backup::notion::model::{Page, PropertyKind};
use serde_json::{json, Value};
use yaml_rust2::{Yaml, YamlLoader};

fn rich(text: &str) -> Value {
    json!([{"type": "text", "text": {"content": text, "link": null}, "plain_text": text, "href": null,
            "annotations": {"bold": false, "italic": false, "strikethrough": false, "underline": false,
                            "code": false, "color": "default"}}])
}

fn page_from_text(text: &str) -> Value {
    json!({
        "object": "page", "id": "11111111-2222-4333-8444-555555555555",
        "created_time": "2026-01-01T00:00:00.000Z", "last_edited_time": "2026-01-01T00:00:00.000Z",
        "icon": {"type": "emoji", "emoji": text},
        "properties": {
            "Name": {"id": "title", "type": "title", "title": rich(text)},
            text: {"id": "a", "type": "select", "select": {"name": text}},
            format!("{text} (tags)"): {"id": "b", "type": "multi_select", "multi_select": [{"name": text}]},
            "Link": {"id": "c", "type": "url", "url": text},
            "Files": {"id": "d", "type": "files", "files": [{"name": text, "type": "external", "external": {"url": text}}]},
            "Plain": {"id": "e", "type": "rich_text", "rich_text": rich(text)},
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let from_json = serde_json::from_slice::<Value>(data).ok().filter(Value::is_object);
    let v = from_json.unwrap_or_else(|| page_from_text(&String::from_utf8_lossy(data)));
    let Ok(page) = serde_json::from_value::<Page>(v) else { return };
    let out = render_page(&page, &[], &RenderContext::default());
    let bad: Vec<char> = out.chars().filter(|c| c.is_control() && !matches!(c, '\n' | '\t')).collect();
    assert!(bad.is_empty(), "control characters {bad:?} in:\n{out}");

    let rest = out.strip_prefix("---\n").expect("index.md starts with front matter");
    let end = rest.find("\n---\n").expect("front matter is closed");
    let yaml = &rest[..end];
    let docs = YamlLoader::load_from_str(yaml).unwrap_or_else(|e| panic!("front matter is not YAML ({e}):\n{yaml}"));
    let doc = &docs[0];
    let title = clean_value(&page.title()).into_owned();
    assert_eq!(doc["title"].as_str(), Some(title.as_str()), "title does not round-trip:\n{yaml}");

    let props = doc["properties"].as_hash().expect("properties is a mapping");
    let keys: Vec<&str> = props.keys().filter_map(Yaml::as_str).collect();
    assert_eq!(keys.len(), props.len(), "a property name is not a string:\n{yaml}");
    let data_props = page.properties.iter().filter(|(_, p)| !matches!(p.kind, PropertyKind::Button));
    let names: Vec<String> = data_props.clone().map(|(n, _)| clean_value(n).into_owned()).collect();
    for (name, p) in data_props {
        let name = clean_value(name).into_owned();
        assert!(keys.contains(&name.as_str()), "property {name:?} missing:\n{yaml}");
        if let PropertyKind::Select(Some(o)) = &p.kind {
            let got = &props[&Yaml::String(name.clone())];
            let want = clean_value(&o.name);
            assert_eq!(got.as_str(), Some(&*want), "select value of {name:?} does not round-trip:\n{yaml}");
        }
    }
    assert!(keys.iter().all(|k| names.iter().any(|n| n == k)), "an unknown property was written:\n{yaml}");
});
