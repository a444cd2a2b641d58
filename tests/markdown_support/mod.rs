//! Shared by the renderer's tests (`tests/markdown*.rs`): fixture pages in the Notion API's JSON
//! shapes with the render context the engine would hand in, and the rendered Markdown parsed back
//! with pulldown-cmark (GFM: tables, task lists, strikethrough, math, alerts) into a small tree, and
//! the front matter with yaml-rust2, so tests assert on what a reader sees.
#![allow(dead_code)]

use std::collections::HashMap;

use notion_git_backup::markdown::{render_page, LocalFile, MediaKey, RenderContext};
use notion_git_backup::notion::model::{Block, Page};
use pulldown_cmark::{BlockQuoteKind, CodeBlockKind, Event, Options, Parser, Tag};
use serde_json::Value;
use yaml_rust2::{Yaml, YamlLoader};

// ------------------------------------------------------------------------------------------
// Fixture loading
// ------------------------------------------------------------------------------------------

pub struct Fixture {
    pub page: Page,
    pub blocks: Vec<Block>,
    pub database_title: Option<String>,
    pub media: HashMap<MediaKey, LocalFile>,
    pub links: HashMap<String, String>,
    pub users: HashMap<String, String>,
    pub titles: HashMap<String, String>,
    pub raw: Value,
}

impl Fixture {
    pub fn ctx(&self) -> RenderContext<'_> {
        RenderContext {
            database_title: self.database_title.as_deref(),
            media: Some(&self.media),
            links: Some(&self.links),
            users: Some(&self.users),
            titles: Some(&self.titles),
            ..RenderContext::default()
        }
    }

    pub fn render(&self) -> String {
        render_page(&self.page, &self.blocks, &self.ctx())
    }

    /// The block with id `id` (top level), parsed with its children.
    pub fn block(&self, id: &str) -> Block {
        let v = self.raw["blocks"].as_array().unwrap().iter().find(|b| b["id"] == id).expect("block in fixture");
        block_tree(v)
    }
}

/// Parse a block and attach its `children` (recursively), as the fetcher does.
pub fn block_tree(v: &Value) -> Block {
    let mut b: Block = serde_json::from_value(v.clone()).expect("block parses");
    if let Some(kids) = v.get("children").and_then(Value::as_array) {
        b.children = kids.iter().map(block_tree).collect();
    }
    b
}

pub fn str_map(v: &Value) -> HashMap<String, String> {
    v.as_object()
        .map(|m| {
            m.iter().map(|(k, v)| (notion_git_backup::ids::normalize(k), v.as_str().unwrap().to_string())).collect()
        })
        .unwrap_or_default()
}

pub fn media_key(k: &Value) -> MediaKey {
    match k {
        Value::String(s) if s == "icon" => MediaKey::Icon,
        Value::String(s) if s == "cover" => MediaKey::Cover,
        Value::Object(o) if o.contains_key("block") => MediaKey::Block(o["block"].as_str().unwrap().to_string()),
        Value::Object(o) if o.contains_key("property") => MediaKey::Property {
            name: o["property"][0].as_str().unwrap().to_string(),
            index: o["property"][1].as_u64().unwrap() as usize,
        },
        other => panic!("bad media key {other}"),
    }
}

pub fn load(name: &str) -> Fixture {
    let path = format!("{}/tests/fixtures/markdown/{name}", env!("CARGO_MANIFEST_DIR"));
    let raw: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("fixture exists")).unwrap();
    let page: Page = serde_json::from_value(raw["page"].clone()).expect("page parses");
    let blocks = raw["blocks"].as_array().unwrap().iter().map(block_tree).collect();
    let c = &raw["context"];
    let media = c["media"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|m| {
                    (
                        media_key(&m["key"]),
                        LocalFile {
                            path: m["path"].as_str().unwrap().to_string(),
                            width: m["width"].as_u64().map(|w| w as u32),
                            height: m["height"].as_u64().map(|h| h as u32),
                            is_image: m["is_image"].as_bool().unwrap_or(false),
                        },
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    Fixture {
        page,
        blocks,
        database_title: c["database_title"].as_str().map(str::to_string),
        media,
        links: str_map(&c["links"]),
        users: str_map(&c["users"]),
        titles: str_map(&c["titles"]),
        raw,
    }
}

// ------------------------------------------------------------------------------------------
// Output parsing
// ------------------------------------------------------------------------------------------

/// Split `---\n<yaml>---\n<body>` and parse the YAML.
pub fn split(out: &str) -> (Yaml, &str) {
    let rest = out.strip_prefix("---\n").expect("front matter opens the file");
    let end = rest.find("\n---\n").expect("front matter is closed");
    let docs = YamlLoader::load_from_str(&rest[..end]).expect("front matter is valid YAML");
    assert_eq!(docs.len(), 1);
    (docs[0].clone(), &rest[end + 5..])
}

#[derive(Debug, Clone, PartialEq)]
pub enum K {
    Doc,
    Para,
    Heading(u8),
    Quote,
    /// A GitHub/Gitea alert: `NOTE`, `TIP`, `IMPORTANT`, `WARNING`, `CAUTION`.
    Alert(&'static str),
    Code(String),
    List(Option<u64>),
    Item,
    Task(bool),
    Table,
    Head,
    Row,
    Cell,
    Em,
    Strong,
    Del,
    Link(String),
    Image(String),
    Html(String),
    Text(String),
    InlineCode(String),
    Break,
    Rule,
    Math(String),
    Other,
}

#[derive(Debug, Clone)]
pub struct Node {
    pub k: K,
    pub kids: Vec<Node>,
}

pub fn md_tree(md: &str) -> Node {
    let opts = Options::ENABLE_TABLES
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_MATH
        | Options::ENABLE_GFM;
    let mut stack = vec![Node { k: K::Doc, kids: vec![] }];
    for ev in Parser::new_ext(md, opts) {
        let leaf = |k| Node { k, kids: vec![] };
        match ev {
            Event::Start(tag) => {
                let k = match tag {
                    Tag::Paragraph => K::Para,
                    Tag::Heading { level, .. } => K::Heading(level as u8),
                    Tag::BlockQuote(None) => K::Quote,
                    Tag::BlockQuote(Some(kind)) => K::Alert(match kind {
                        BlockQuoteKind::Note => "NOTE",
                        BlockQuoteKind::Tip => "TIP",
                        BlockQuoteKind::Important => "IMPORTANT",
                        BlockQuoteKind::Warning => "WARNING",
                        BlockQuoteKind::Caution => "CAUTION",
                    }),
                    Tag::CodeBlock(CodeBlockKind::Fenced(l)) => K::Code(l.to_string()),
                    Tag::CodeBlock(_) => K::Code("<indented>".into()),
                    Tag::List(s) => K::List(s),
                    Tag::Item => K::Item,
                    Tag::Table(_) => K::Table,
                    Tag::TableHead => K::Head,
                    Tag::TableRow => K::Row,
                    Tag::TableCell => K::Cell,
                    Tag::Emphasis => K::Em,
                    Tag::Strong => K::Strong,
                    Tag::Strikethrough => K::Del,
                    Tag::Link { dest_url, .. } => K::Link(dest_url.to_string()),
                    Tag::Image { dest_url, .. } => K::Image(dest_url.to_string()),
                    Tag::HtmlBlock => K::Html(String::new()),
                    _ => K::Other,
                };
                stack.push(Node { k, kids: vec![] });
            }
            Event::End(_) => {
                let n = stack.pop().unwrap();
                stack.last_mut().unwrap().kids.push(n);
            }
            Event::Text(t) => stack.last_mut().unwrap().kids.push(leaf(K::Text(t.to_string()))),
            Event::Code(t) => stack.last_mut().unwrap().kids.push(leaf(K::InlineCode(t.to_string()))),
            Event::Html(t) | Event::InlineHtml(t) => stack.last_mut().unwrap().kids.push(leaf(K::Html(t.to_string()))),
            Event::SoftBreak => stack.last_mut().unwrap().kids.push(leaf(K::Text(" ".into()))),
            Event::HardBreak => stack.last_mut().unwrap().kids.push(leaf(K::Break)),
            Event::Rule => stack.last_mut().unwrap().kids.push(leaf(K::Rule)),
            Event::TaskListMarker(c) => stack.last_mut().unwrap().kids.push(leaf(K::Task(c))),
            // pulldown-cmark reads `` $`x`$ `` as math holding the backticks; GitHub and Gitea
            // read the backticks as the delimiters (the code-span form of inline math).
            Event::InlineMath(t) => stack.last_mut().unwrap().kids.push(leaf(K::Math(code_math(&t)))),
            Event::DisplayMath(t) => stack.last_mut().unwrap().kids.push(leaf(K::Math(t.to_string()))),
            _ => {}
        }
    }
    assert_eq!(stack.len(), 1);
    stack.pop().unwrap()
}

/// The expression of inline math written `` $`…`$ `` (or with a longer fence, padded by one
/// space on each side), as GitHub and Gitea read it; plain `$…$` as it is.
fn code_math(t: &str) -> String {
    let n = t.chars().take_while(|c| *c == '`').count();
    if n == 0 || t.len() < 2 * n || !t.ends_with(&"`".repeat(n)) {
        return t.to_string();
    }
    let inner = &t[n..t.len() - n];
    match inner.strip_prefix(' ').and_then(|i| i.strip_suffix(' ')) {
        Some(i) if !i.trim().is_empty() => i.to_string(),
        _ => inner.to_string(),
    }
}

impl Node {
    /// Rendered text: text, code and math content; hard breaks as newlines.
    pub fn text(&self) -> String {
        match &self.k {
            K::Text(t) | K::InlineCode(t) | K::Math(t) => t.clone(),
            K::Break => "\n".into(),
            _ => self.kids.iter().map(Node::text).collect(),
        }
    }

    pub fn all(&self, pred: &dyn Fn(&K) -> bool) -> Vec<&Node> {
        let mut v = Vec::new();
        fn walk<'n>(n: &'n Node, pred: &dyn Fn(&K) -> bool, v: &mut Vec<&'n Node>) {
            if pred(&n.k) {
                v.push(n);
            }
            for k in &n.kids {
                walk(k, pred, v);
            }
        }
        walk(self, pred, &mut v);
        v
    }

    pub fn items(&self) -> Vec<&Node> {
        self.kids.iter().filter(|n| n.k == K::Item).collect()
    }

    /// The first line of text of a list item (its own text, not its sub-lists).
    pub fn own_text(&self) -> String {
        self.kids
            .iter()
            .filter(|n| !matches!(n.k, K::List(_) | K::Task(_)))
            .map(Node::text)
            .collect::<String>()
            .trim()
            .to_string()
    }

    pub fn sublist(&self) -> Option<&Node> {
        self.kids.iter().find(|n| matches!(n.k, K::List(_)))
    }
}

pub fn heading_texts(doc: &Node) -> Vec<(u8, String)> {
    doc.all(&|k| matches!(k, K::Heading(_)))
        .into_iter()
        .map(|h| match h.k {
            K::Heading(l) => (l, h.text()),
            _ => unreachable!(),
        })
        .collect()
}

pub fn top_level(doc: &Node) -> Vec<&Node> {
    doc.kids.iter().collect()
}

impl Node {
    /// (text, destination) of every link below this node.
    pub fn links(&self) -> Vec<(String, String)> {
        self.all(&|k| matches!(k, K::Link(_)))
            .iter()
            .map(|l| match &l.k {
                K::Link(u) => (l.text(), u.clone()),
                _ => unreachable!(),
            })
            .collect()
    }

    /// Every raw HTML piece below this node, concatenated.
    pub fn html(&self) -> String {
        self.all(&|k| matches!(k, K::Html(h) if !h.is_empty()))
            .iter()
            .map(|n| match &n.k {
                K::Html(h) => h.as_str(),
                _ => "",
            })
            .collect()
    }

    /// Text of every paragraph below this node.
    pub fn paragraphs(&self) -> Vec<String> {
        self.all(&|k| *k == K::Para).iter().map(|p| p.text()).collect()
    }
}

/// The visible text of an HTML fragment: tags removed, the five entities decoded.
pub fn html_text(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'").replace("&amp;", "&")
}
