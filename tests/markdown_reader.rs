//! What a reader sees (issue 14 "Blocks" and "Links"), and what hostile text may not do (issue 12):
//! the `reader.json` fixture rendered and parsed back with pulldown-cmark (GFM), every assertion
//! on the parsed tree or on the text a reader gets.

mod markdown_support;

use std::cell::RefCell;
use std::collections::BTreeSet;

use markdown_support::*;
use notion_git_backup::ids;
use notion_git_backup::markdown::{render_page, RenderContext};

const OUTSIDE: &str = "bbbbbbbb000000000000000000000001";
const OUTSIDE_UNTITLED: &str = "bbbbbbbb000000000000000000000002";
const OUTSIDE_MENTION: &str = "bbbbbbbb000000000000000000000003";
const BACKED_DB: &str = "bbbbbbbb000000000000000000000004";
const PASTED: &str = "bbbbbbbb000000000000000000000005";
const UNKNOWN_DS: &str = "bbbbbbbb000000000000000000000006";

fn body_of(f: &Fixture) -> (String, Node) {
    let out = f.render();
    let body = split(&out).1.to_string();
    let doc = md_tree(&body);
    (body, doc)
}

/// The rendered top-level block for one fixture block (rendered alone, same context).
fn one(f: &Fixture, id: &str) -> (String, Node) {
    let out = render_page(&f.page, &[f.block(id)], &f.ctx());
    let body = split(&out).1.to_string();
    // Drop the `# title` heading: the block is what follows it.
    let doc = md_tree(&body);
    let mut rest = doc.clone();
    rest.kids.retain(|n| n.k != K::Heading(1));
    (body, rest)
}

#[test]
fn image_captions_are_visible_under_the_image() {
    let f = load("reader.json");
    let (_, doc) = one(&f, "cap-img");
    let html = doc.html();
    // One figure: the image (linked, the caption as alt) and the caption as visible text.
    assert!(html.starts_with("<figure>\n<a href=\""), "{html}");
    let cap_start = html.find("<figcaption>").expect("a figcaption");
    assert!(html.find("<img").unwrap() < cap_start, "the caption is under the image");
    let caption = &html[cap_start..html.find("</figcaption>").unwrap()];
    assert_eq!(html_text(caption), "Team photo");
    assert!(caption.contains("<strong>photo</strong>"), "caption keeps its bold: {caption}");
    assert!(html.contains("alt=\"Team photo\""));
    // Without a caption the image stays centred and has no figure.
    let (_, plain) = one(&f, "plain-img");
    assert!(plain.html().starts_with("<p align=\"center\">") && !plain.html().contains("figure"));
}

#[test]
fn video_captions_are_shown_and_the_link_stays_visible() {
    let f = load("reader.json");
    let (_, doc) = one(&f, "cap-vid");
    let url = "https://www.youtube.com/watch?v=abc";
    assert_eq!(doc.links(), [(url.to_string(), url.to_string())]);
    assert_eq!(doc.paragraphs(), [format!("{url} — Launch video")]);
    let (_, local) = one(&f, "local-vid");
    assert_eq!(local.links(), [("demo clip.mp4".to_string(), "attachments/demo%20clip.mp4".to_string())]);
    assert_eq!(local.paragraphs(), ["demo clip.mp4 — Demo"]);
}

#[test]
fn file_names_with_hash_percent_brackets_and_spaces_resolve_to_the_file() {
    // Regression: `Report (final) [v2] #3 100%.pdf` was cut at the `#`.
    let f = load("reader.json");
    let (_, doc) = one(&f, "awkward-file");
    let on_disk = "attachments/Report (final) [v2] #3 100%.pdf";
    let links = doc.links();
    assert_eq!(links.len(), 1);
    assert_eq!(links[0].0, "Report (final) [v2] #3 100%.pdf", "the label reads as the name");
    // GitHub, Gitea and Obsidian percent-decode the destination: it must give the name on disk.
    let decoded = percent_encoding::percent_decode_str(&links[0].1).decode_utf8().unwrap();
    assert_eq!(decoded, on_disk);
    assert!(!links[0].1.contains(['#', '?', ' ', '[', ']', '(', ')']), "{}", links[0].1);
    // The same holds inside HTML (image src and href of a captioned image).
    let (_, img) = one(&f, "cap-img");
    let html = img.html();
    let src = html.split("src=\"").nth(1).unwrap().split('"').next().unwrap();
    assert_eq!(
        percent_encoding::percent_decode_str(src).decode_utf8().unwrap(),
        "assets/Team photo #1 (final) 100%.png"
    );
}

#[test]
fn a_toggleable_heading_renders_once_inside_its_summary() {
    let f = load("reader.json");
    let (body, doc) = one(&f, f.raw["blocks"][5]["id"].as_str().unwrap());
    assert!(heading_texts(&doc).is_empty(), "no Markdown heading besides the summary: {body}");
    let html = doc.html();
    assert!(html.starts_with("<details>\n<summary><h2>Setup</h2></summary>"), "{html}");
    assert_eq!(html_text(&html).matches("Setup").count(), 1);
    assert_eq!(doc.paragraphs(), ["Install it."], "the content is Markdown inside the toggle");
}

#[test]
fn inline_equations_use_the_backtick_form_that_gitea_reads_before_a_letter() {
    let f = load("reader.json");
    let (body, doc) = one(&f, "eq");
    let maths: Vec<String> = doc
        .all(&|k| matches!(k, K::Math(_)))
        .iter()
        .map(|m| match &m.k {
            K::Math(t) => t.clone(),
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(maths, ["x^2", "\\$5", "a`b"]);
    // Gitea does not close `$x^2$` before `th`: the form must be `` $`x^2`$ ``.
    assert!(body.contains("$`x^2`$th"), "{body}");
    assert!(!body.contains("$x^2$"));
    assert_eq!(doc.text(), "area x^2th and cost \\$5 tick a`b");
}

#[test]
fn an_unknown_block_keeps_the_text_of_every_rich_text_field() {
    let f = load("reader.json");
    let (_, doc) = one(&f, "unknown");
    assert_eq!(doc.html(), "<!-- unknown block type: ai_block -->\n");
    assert_eq!(doc.paragraphs(), ["Summarise this", "It works", "AI child"]);
    let strong = doc.all(&|k| *k == K::Strong);
    assert_eq!(strong.len(), 1);
    assert_eq!(strong[0].text(), "this");
}

#[test]
fn underline_is_ins_and_background_colours_are_mark() {
    let f = load("reader.json");
    let (_, doc) = one(&f, "colors");
    let html: Vec<String> = doc
        .all(&|k| matches!(k, K::Html(_)))
        .iter()
        .map(|n| match &n.k {
            K::Html(h) => h.clone(),
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(html, ["<ins>", "</ins>", "<mark>", "</mark>", "<mark>", "<ins>", "</ins>", "</mark>"]);
    assert!(!html.iter().any(|h| h.contains("<u>")), "GitHub strips <u>");
    // A text colour is dropped; the text stays.
    assert_eq!(doc.text(), "plain under marked red text both");
    let (_, block) = one(&f, "blockmark");
    assert_eq!(block.html(), "<mark></mark>");
    assert_eq!(block.text(), "Whole paragraph highlighted");
}

#[test]
fn callouts_become_alerts_where_icon_or_colour_maps_to_one() {
    let f = load("reader.json");
    let (_, warn) = one(&f, "warn");
    assert_eq!(warn.kids[0].k, K::Alert("WARNING"));
    assert_eq!(warn.kids[0].text(), "Mind the gap", "the alert's icon replaces ⚠️");
    let (_, caution) = one(&f, "caution");
    assert_eq!(caution.kids[0].k, K::Alert("CAUTION"));
    assert_eq!(caution.kids[0].text(), "📎 Do not delete", "chosen by colour: the icon stays");
    let (_, plain) = one(&f, "plain-callout");
    assert_eq!(plain.kids[0].k, K::Quote);
    assert_eq!(plain.kids[0].text(), "🧭 Just a note");
    // Alerts do not work inside lists (GitHub shows `[!WARNING]` as text): a plain quote there.
    let (body, doc) = body_of(&f);
    let item = doc.all(&|k| *k == K::Item).into_iter().find(|i| i.own_text().starts_with("Nested")).unwrap();
    let inner = item.all(&|k| matches!(k, K::Quote | K::Alert(_)));
    assert_eq!(inner.len(), 1);
    assert_eq!((&inner[0].k, inner[0].text().as_str()), (&K::Quote, "⚠\u{fe0f} Inner warning"));
    assert!(!body.contains("  > [!"), "{body}");
}

#[test]
fn a_row_header_table_emphasises_the_first_cell_of_each_row() {
    let f = load("reader.json");
    let (_, doc) = one(&f, "rowhead");
    let table = &doc.kids[0];
    assert_eq!(table.k, K::Table);
    let rows: Vec<&Node> = table.kids.iter().filter(|n| n.k == K::Row).collect();
    assert_eq!(rows.len(), 2);
    let north = &rows[0].kids[0];
    assert_eq!((north.kids[0].k.clone(), north.text()), (K::Strong, "North".to_string()));
    let south = &rows[1].kids[0];
    assert_eq!(south.text(), "*South*", "text stays as written");
    assert_eq!(south.html(), "<strong></strong>", "a risky cell is bold through HTML");
    assert!(rows.iter().all(|r| r.kids[1].all(&|k| *k == K::Strong).is_empty()), "only the first cell");
}

#[test]
fn bookmarks_and_embeds_show_the_url_and_the_caption() {
    let f = load("reader.json");
    let (_, bm) = one(&f, "bm");
    let url = "https://example.com/docs?a=1&b=2#top";
    assert_eq!(bm.links(), [(url.to_string(), url.to_string())]);
    assert_eq!(bm.paragraphs(), [format!("{url} — The docs")]);
    let (_, embed) = one(&f, "embed");
    assert_eq!(embed.paragraphs(), ["https://maps.example.com/embed?q=x"]);
    assert_eq!(embed.links().len(), 1);
}

#[test]
fn javascript_data_and_vbscript_urls_are_never_links() {
    let f = load("reader.json");
    let (body, doc) = body_of(&f);
    for (_, dest) in doc.links() {
        let scheme = dest.split_once(':').map(|s| s.0.to_ascii_lowercase());
        assert!(
            matches!(scheme.as_deref(), None | Some("https" | "http" | "mailto")) || !dest.contains(':'),
            "{dest} became a link"
        );
    }
    assert!(!doc.html().to_lowercase().contains("javascript:"), "no unsafe URL in HTML");
    // Each is shown as code, with its caption or label.
    let code: Vec<String> = doc.all(&|k| matches!(k, K::InlineCode(_))).iter().map(|c| c.text()).collect();
    for want in [
        "javascript:alert(1)",
        "data:text/html;base64,PHNjcmlwdD4=",
        "vbscript:msgbox(1)",
        "JavaScript:alert(3)",
        "JaVaScRiPt:alert(2)",
    ] {
        assert!(code.contains(&want.to_string()), "{want} not shown as code: {code:?}\n{body}");
    }
    let paras = doc.paragraphs();
    assert!(paras.contains(&"javascript:alert(1) — Click me".to_string()), "{paras:?}");
    assert!(paras.contains(&"run this JaVaScRiPt:alert(2) or mail".to_string()), "{paras:?}");
    assert!(doc.links().contains(&("mail".to_string(), "mailto:a@example.com".to_string())));
}

#[test]
fn pages_outside_the_backup_show_their_title_or_one_placeholder_never_a_url() {
    let f = load("reader.json");
    let (_, doc) = body_of(&f);
    let links = doc.links();
    let has = |t: &str, u: &str| links.contains(&(t.to_string(), u.to_string()));
    let notion = |id: &str| format!("https://www.notion.so/{id}");
    // link_to_page: the title from the titles map, else the placeholder.
    assert!(has("Strategy 2026", &notion(OUTSIDE)), "{links:?}");
    assert!(has("Untitled", &notion(OUTSIDE_UNTITLED)), "{links:?}");
    // Mentions: Notion's plain_text, else the same placeholder.
    assert!(has("Roadmap", &notion(OUTSIDE_MENTION)), "{links:?}");
    assert!(!links.iter().any(|(t, _)| t.contains("://") && t.contains("notion")), "a URL as link text: {links:?}");
}

#[test]
fn database_mentions_and_pasted_notion_links_point_at_the_backup() {
    let f = load("reader.json");
    let (_, doc) = one(&f, "mentions");
    let links = doc.links();
    assert!(links.contains(&("Projects".to_string(), "../projects/index.md".to_string())), "{links:?}");
    assert!(links.contains(&("pasted".to_string(), "../plan/index.md".to_string())), "{links:?}");
}

#[test]
fn dates_in_mentions_are_readable() {
    let f = load("reader.json");
    let (_, doc) = one(&f, "mentions");
    let text = doc.text();
    assert!(text.ends_with(" 2024-05-01 10:00 2024-05-01 10:00 +02:00"), "{text}");
}

#[test]
fn every_reference_that_links_cannot_resolve_is_collected() {
    let f = load("reader.json");
    let seen = RefCell::new(BTreeSet::new());
    let ctx = RenderContext { unresolved: Some(&seen), ..f.ctx() };
    let out = render_page(&f.page, &f.blocks, &ctx);
    let doc = md_tree(split(&out).1);
    let got = seen.into_inner();
    let want: BTreeSet<String> =
        [OUTSIDE, OUTSIDE_UNTITLED, OUTSIDE_MENTION, UNKNOWN_DS].iter().map(|s| ids::normalize(s)).collect();
    assert_eq!(got, want);
    // And each of them is a notion.so link in the output, each resolved one a relative link.
    for (_, dest) in doc.links() {
        if let Some(id) = dest.strip_prefix("https://www.notion.so/") {
            assert!(got.contains(id), "{dest} links to Notion but was not reported");
        }
    }
    assert!(!got.contains(BACKED_DB) && !got.contains(PASTED));
}

#[test]
fn relations_and_child_pages_report_unresolved_ids_too() {
    let f = load("properties.json");
    let seen = RefCell::new(BTreeSet::new());
    let ctx = RenderContext { unresolved: Some(&seen), ..f.ctx() };
    render_page(&f.page, &f.blocks, &ctx);
    // `Related` holds a linked page, a page with a title but no backup, and an unknown id.
    assert_eq!(
        seen.into_inner(),
        BTreeSet::from([
            "aaaaaaaa000000000000000000000003".to_string(),
            "aaaaaaaa000000000000000000000004".to_string()
        ])
    );
    let f = load("all_blocks.json");
    let seen = RefCell::new(BTreeSet::new());
    let ctx = RenderContext { unresolved: Some(&seen), ..f.ctx() };
    render_page(&f.page, &f.blocks, &ctx);
    // The child database (and its mention and link_to_page) has no backup in the context.
    assert_eq!(seen.into_inner(), BTreeSet::from(["aaaaaaaa000000000000000000000003".to_string()]));
}

#[test]
fn control_characters_never_reach_index_md() {
    let f = load("reader.json");
    let out = f.render();
    let bad: Vec<char> = out.chars().filter(|c| c.is_control() && *c != '\n' && *c != '\t').collect::<Vec<_>>();
    assert!(bad.is_empty(), "control characters in index.md: {bad:?}");
    let (fm, body) = split(&out);
    assert_eq!(fm["title"].as_str(), Some("Reader [2Jview"));
    assert_eq!(fm["properties"]["Notes"].as_str(), Some("Summary **MK-1** [0m"), "plain text, no escapes");
    let doc = md_tree(body);
    assert_eq!(doc.kids[0].text(), "Reader [2Jview");
    assert!(doc.paragraphs().contains(&"bell esc [31mred[0m nul c1x".to_string()));
    let code = doc.all(&|k| matches!(k, K::Code(_)));
    assert_eq!(code[0].text(), "echo [1mbold\n");
}
