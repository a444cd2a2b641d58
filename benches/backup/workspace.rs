//! The generated workspace of the backup benchmark: one or more databases whose pages look like
//! real notes (properties, 10-40 blocks, lists and toggles nested 2-3 levels, tables, a hosted image
//! on about a third of the pages, a PDF on a few), built deterministically from a seed into the
//! fake Notion server's [`World`]; plus the minimum number of Notion requests a backup of it
//! needs, computed from the same structure the fake serves. It builds data only: serving is the
//! fake's job, measuring is the bench's.

use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use serde_json::{json, Value};

use crate::common::fake_notion::{iso_ms, norm, parse_ms, World};
use crate::common::fixtures::*;

/// One generated database: its id and its pages.
pub struct Database {
    pub id: String,
    pub pages: Vec<String>,
}

/// Ids and totals of a generated workspace.
pub struct Workspace {
    pub databases: Vec<Database>,
    /// Every page, in generation order.
    pub pages: Vec<String>,
    /// Blocks, nested ones included.
    pub blocks: usize,
    pub images: usize,
    pub pdfs: usize,
    /// Bytes of every hosted file (what a full backup downloads).
    pub media_bytes: u64,
}

const WORDS: &[&str] = &[
    "planning",
    "review",
    "roadmap",
    "notes",
    "meeting",
    "design",
    "budget",
    "launch",
    "customer",
    "research",
    "weekly",
    "retro",
    "hiring",
    "migration",
    "incident",
    "quarterly",
    "api",
    "mobile",
    "release",
    "ideas",
    "travel",
    "recipe",
    "reading",
    "garden",
    "project",
    "sprint",
    "backlog",
    "onboarding",
    "security",
    "metrics",
];

const STATUSES: &[&str] = &["Not started", "In progress", "Blocked", "Done"];
const TAGS: &[&str] = &["work", "personal", "urgent", "later", "team", "docs", "ops"];

fn words(rng: &mut StdRng, n: usize) -> String {
    (0..n).map(|_| WORDS[rng.random_range(0..WORDS.len())]).collect::<Vec<_>>().join(" ")
}

fn sentence(rng: &mut StdRng) -> String {
    let n = rng.random_range(8..22);
    let mut s = words(rng, n);
    if let Some(c) = s.get_mut(..1) {
        c.make_ascii_uppercase();
    }
    s.push('.');
    s
}

fn text(rng: &mut StdRng, sentences: std::ops::Range<usize>) -> String {
    let n = rng.random_range(sentences);
    (0..n).map(|_| sentence(rng)).collect::<Vec<_>>().join(" ")
}

/// A deterministic id in place of the fixture builders' random one.
fn with_id(w: &mut World, mut b: Value) -> Value {
    b["id"] = json!(w.next_id());
    b
}

/// A block and the blocks nested under it.
struct Node {
    block: Value,
    children: Vec<Node>,
}

impl Node {
    fn leaf(block: Value) -> Node {
        Node { block, children: Vec::new() }
    }
    fn count(&self) -> usize {
        1 + self.children.iter().map(Node::count).sum::<usize>()
    }
}

/// A list item of `kind` with children down to `depth` more levels (2-3 levels in all).
fn list_item(w: &mut World, rng: &mut StdRng, kind: &str, depth: usize) -> Node {
    let t = text(rng, 1..2);
    let block = match kind {
        "numbered" => numbered(&t),
        "todo" => to_do(&t, rng.random_bool(0.4)),
        _ => bulleted(&t),
    };
    let mut node = Node::leaf(with_id(w, block));
    if depth > 0 && rng.random_bool(0.3) {
        for _ in 0..rng.random_range(1..4) {
            node.children.push(list_item(w, rng, kind, depth - 1));
        }
    }
    node
}

fn paragraph_block(w: &mut World, rng: &mut StdRng) -> Value {
    let b = if rng.random_bool(0.3) {
        paragraph_runs(vec![
            text_run(&format!("{} ", sentence(rng))),
            bold(&words(rng, 2)),
            text_run(" see "),
            link_run(&words(rng, 2), "https://example.com/docs/page"),
            text_run(&format!(". {}", sentence(rng))),
        ])
    } else {
        paragraph(&text(rng, 1..4))
    };
    with_id(w, b)
}

/// Top-level blocks of one page, about `target` blocks in all (nested ones counted).
fn page_blocks(w: &mut World, rng: &mut StdRng, target: usize) -> Vec<Node> {
    let mut out: Vec<Node> = Vec::new();
    let mut count = 0;
    while count < target {
        let r: f64 = rng.random();
        let nodes: Vec<Node> = if r < 0.10 {
            let t = words(rng, 3);
            vec![Node::leaf(with_id(w, heading(rng.random_range(1..4), &t)))]
        } else if r < 0.45 {
            vec![Node::leaf(paragraph_block(w, rng))]
        } else if r < 0.60 {
            (0..rng.random_range(2..6)).map(|_| list_item(w, rng, "bulleted", 2)).collect()
        } else if r < 0.67 {
            (0..rng.random_range(2..5)).map(|_| list_item(w, rng, "numbered", 1)).collect()
        } else if r < 0.73 {
            (0..rng.random_range(2..5)).map(|_| list_item(w, rng, "todo", 0)).collect()
        } else if r < 0.81 {
            let t = words(rng, 4);
            let mut toggle = Node::leaf(with_id(w, toggle(&t)));
            for _ in 0..rng.random_range(1..4) {
                toggle.children.push(if rng.random_bool(0.5) {
                    Node::leaf(paragraph_block(w, rng))
                } else {
                    list_item(w, rng, "bulleted", 1)
                });
            }
            vec![toggle]
        } else if r < 0.86 {
            let body = (0..rng.random_range(3..12)).map(|i| format!("let x{i} = compute({i});")).collect::<Vec<_>>();
            vec![Node::leaf(with_id(w, code("rust", &body.join("\n"))))]
        } else if r < 0.90 {
            let t = text(rng, 1..3);
            vec![Node::leaf(with_id(w, quote(&t)))]
        } else if r < 0.94 {
            let t = text(rng, 1..2);
            vec![Node::leaf(with_id(w, callout(&t, "💡")))]
        } else if r < 0.97 {
            vec![Node::leaf(with_id(w, divider()))]
        } else {
            let mut t = Node::leaf(with_id(w, table(3, true, false)));
            for _ in 0..rng.random_range(3..7) {
                let (a, b, c) = (words(rng, 1), words(rng, 2), format!("{}", rng.random_range(1..1000)));
                t.children.push(Node::leaf(with_id(w, table_row(&[&a, &b, &c]))));
            }
            vec![t]
        };
        count += nodes.iter().map(Node::count).sum::<usize>();
        out.extend(nodes);
    }
    out
}

/// Store `nodes` as the children of `parent`, depth first.
fn store(w: &mut World, parent: &str, nodes: Vec<Node>) {
    let (blocks, kids): (Vec<Value>, Vec<Vec<Node>>) = nodes.into_iter().map(|n| (n.block, n.children)).unzip();
    let ids = w.set_children(parent, blocks);
    for (id, children) in ids.into_iter().zip(kids) {
        if !children.is_empty() {
            store(w, &id, children);
        }
    }
}

/// A PNG the media sniffer and `imagesize` accept: signature, IHDR, then filler bytes.
fn png(rng: &mut StdRng, size: usize) -> Vec<u8> {
    let mut v = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, b'I', b'H', b'D', b'R'];
    v.extend_from_slice(&1280u32.to_be_bytes());
    v.extend_from_slice(&720u32.to_be_bytes());
    v.extend_from_slice(&[8, 2, 0, 0, 0, 0x12, 0x34, 0x56, 0x78]);
    let start = v.len();
    v.resize(size.max(start), 0);
    rng.fill_bytes(&mut v[start..]);
    v
}

fn pdf(rng: &mut StdRng, size: usize) -> Vec<u8> {
    let mut v = b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n".to_vec();
    let start = v.len();
    v.resize(size.max(start + 8), 0);
    rng.fill_bytes(&mut v[start..]);
    v.extend_from_slice(b"\n%%EOF\n");
    v
}

/// Build `pages` pages spread over `databases` databases (page `i` in database `i % databases`)
/// into `w`. A page's content depends only on the seed and its number, so the same pages are
/// generated whatever the number of databases.
pub fn build(w: &mut World, pages: usize, databases: usize, seed: u64) -> Workspace {
    let opts = |names: &[&str]| json!({"options": names.iter().map(|n| json!({"name": n, "color": "default"})).collect::<Vec<_>>()});
    let mut dbs = Vec::new();
    for k in 0..databases.max(1) {
        let database_id = w.next_id();
        let data_source_id = w.next_id();
        let title = if databases <= 1 { "Team notes".to_string() } else { format!("Team notes {}", k + 1) };
        w.insert_database(database(&database_id, parent_workspace(), &title, &[(&data_source_id, &title)]));
        w.insert_data_source(data_source(
            &data_source_id,
            &database_id,
            &title,
            vec![
                schema_entry("Name", "title", json!({})),
                schema_entry("Status", "select", opts(STATUSES)),
                schema_entry("Tags", "multi_select", opts(TAGS)),
                schema_entry("Due", "date", json!({})),
                schema_entry("Done", "checkbox", json!({})),
            ],
        ));
        dbs.push((database_id, data_source_id));
    }
    let mut ws = Workspace {
        databases: dbs.iter().map(|(id, _)| Database { id: id.clone(), pages: Vec::new() }).collect(),
        pages: Vec::with_capacity(pages),
        blocks: 0,
        images: 0,
        pdfs: 0,
        media_bytes: 0,
    };
    let base = parse_ms(TS).expect("TS parses");
    for i in 0..pages {
        let mut rng = StdRng::seed_from_u64(seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let id = w.next_id();
        let n = rng.random_range(2..5);
        let mut title = words(&mut rng, n);
        if let Some(c) = title.get_mut(..1) {
            c.make_ascii_uppercase();
        }
        let title = format!("{title} {i}");
        let tags: Vec<&str> = TAGS.iter().copied().filter(|_| rng.random_bool(0.25)).collect();
        let due = iso_ms(base + rng.random_range(0..300) * 86_400_000);
        let props = vec![
            ("Status", p_select(Some(STATUSES[rng.random_range(0..STATUSES.len())]))),
            ("Tags", p_multi_select(&tags)),
            ("Due", p_date(&due[..10], None)),
            ("Done", p_checkbox(rng.random_bool(0.3))),
        ];
        let created = base + i as i64 * 60_000;
        let edited = created + rng.random_range(0..60 * 24 * 60) * 60_000;
        let (database_id, data_source_id) = &dbs[i % dbs.len()];
        let p = page(&id, parent_data_source(data_source_id, database_id), &title, props);
        w.insert_page(with_times(p, &iso_ms(created), &iso_ms(edited)));

        let target = rng.random_range(10..41);
        let mut nodes = page_blocks(w, &mut rng, target);
        let images = if rng.random_bool(0.33) {
            if rng.random_bool(0.2) {
                2
            } else {
                1
            }
        } else {
            0
        };
        for k in 0..images {
            let size = rng.random_range(30_000..120_000);
            let bytes = png(&mut rng, size);
            ws.media_bytes += bytes.len() as u64;
            let f = w.add_file(&format!("Screenshot {i}-{k}.png"), bytes);
            let at = rng.random_range(0..=nodes.len());
            nodes.insert(at, Node::leaf(with_id(w, image_hosted(&f, "screenshot"))));
        }
        ws.images += images;
        if rng.random_bool(0.04) {
            let size = rng.random_range(100_000..400_000);
            let bytes = pdf(&mut rng, size);
            ws.media_bytes += bytes.len() as u64;
            let f = w.add_file(&format!("Report {i}.pdf"), bytes);
            nodes.push(Node::leaf(with_id(w, file_block(&f))));
            ws.pdfs += 1;
        }
        ws.blocks += nodes.iter().map(Node::count).sum::<usize>();
        store(w, &id, nodes);
        ws.databases[i % dbs.len()].pages.push(id.clone());
        ws.pages.push(id);
    }
    ws
}

fn ceil_div(n: usize, d: usize) -> usize {
    n.div_ceil(d)
}

/// Block-children listings needed to read the whole tree under `id` (a page is always listed,
/// even when empty; a block only when it has children).
pub fn tree_requests(w: &World, id: &str, is_page: bool) -> usize {
    let kids = w.children.get(&norm(id)).map(Vec::as_slice).unwrap_or(&[]);
    let own = ceil_div(kids.len(), 100).max(usize::from(is_page));
    own + kids
        .iter()
        .map(|k| if w.children.get(k).is_some_and(|c| !c.is_empty()) { tree_requests(w, k, false) } else { 0 })
        .sum::<usize>()
}

/// The Notion requests a run needs just to learn what changed: per database its read and one
/// query per 100 rows (at least one), and one user list for the run.
pub fn listing_requests(ws: &Workspace) -> usize {
    ws.databases.iter().map(|d| 1 + ceil_div(d.pages.len(), 100).max(1)).sum::<usize>() + 1
}

/// The fewest Notion requests a full backup of the workspace can make.
pub fn min_requests_full(w: &World, ws: &Workspace) -> usize {
    listing_requests(ws) + ws.pages.iter().map(|p| tree_requests(w, p, true)).sum::<usize>()
}

/// Edit `n` pages spread over the workspace (one paragraph added, `last_edited_time` moved
/// forward); returns their ids.
pub fn edit_pages(w: &mut World, ws: &Workspace, n: usize, round: i64) -> Vec<String> {
    let step = (ws.pages.len() / n.max(1)).max(1);
    let edited = ts_plus_minutes(200 * 24 * 60 + round);
    let ids: Vec<String> = ws.pages.iter().step_by(step).take(n).cloned().collect();
    for id in &ids {
        let b = with_id(w, paragraph(&format!("Edited in round {round}.")));
        w.append_children(id, vec![b]);
        w.page_mut(id).expect("generated page")["last_edited_time"] = json!(edited);
    }
    ids
}

/// A bulleted item with, on some items, nested items down to `depth` more levels.
fn big_bullet(w: &mut World, rng: &mut StdRng, depth: usize) -> Node {
    let n = rng.random_range(3..10);
    let t = words(rng, n);
    let mut node = Node::leaf(with_id(w, bulleted(&t)));
    if depth > 0 && rng.random_bool(0.08) {
        for _ in 0..rng.random_range(1..4) {
            node.children.push(big_bullet(w, rng, depth - 1));
        }
    }
    node
}

/// Top-level blocks of one very long page, `target` blocks in all (nested ones counted): short
/// paragraphs, headings, bulleted lists (some items nested up to 2 more levels), numbered and
/// to-do items, a few code blocks, quotes and dividers. No files.
fn big_page_blocks(w: &mut World, rng: &mut StdRng, target: usize) -> Vec<Node> {
    let mut out: Vec<Node> = Vec::new();
    let mut count = 0;
    while count < target {
        let r: f64 = rng.random();
        let nodes: Vec<Node> = if r < 0.08 {
            let t = words(rng, 3);
            vec![Node::leaf(with_id(w, heading(rng.random_range(1..4), &t)))]
        } else if r < 0.58 {
            let n = rng.random_range(3..16);
            let mut t = words(rng, n);
            t.push('.');
            vec![Node::leaf(with_id(w, paragraph(&t)))]
        } else if r < 0.78 {
            (0..rng.random_range(2..7)).map(|_| big_bullet(w, rng, 2)).collect()
        } else if r < 0.86 {
            (0..rng.random_range(2..5)).map(|_| Node::leaf(with_id(w, numbered(&words(rng, 6))))).collect()
        } else if r < 0.91 {
            (0..rng.random_range(2..5))
                .map(|_| Node::leaf(with_id(w, to_do(&words(rng, 5), rng.random_bool(0.4)))))
                .collect()
        } else if r < 0.93 {
            let body = (0..rng.random_range(3..15)).map(|i| format!("let x{i} = compute({i});")).collect::<Vec<_>>();
            vec![Node::leaf(with_id(w, code("rust", &body.join("\n"))))]
        } else if r < 0.97 {
            let t = sentence(rng);
            vec![Node::leaf(with_id(w, quote(&t)))]
        } else {
            vec![Node::leaf(with_id(w, divider()))]
        };
        count += nodes.iter().map(Node::count).sum::<usize>();
        out.extend(nodes);
    }
    out
}

/// One database holding one page of about `blocks` blocks (see [`big_page_blocks`]).
pub fn build_big_page(w: &mut World, blocks: usize, seed: u64) -> Workspace {
    let database_id = w.next_id();
    let data_source_id = w.next_id();
    let title = "Big page";
    w.insert_database(database(&database_id, parent_workspace(), title, &[(&data_source_id, title)]));
    w.insert_data_source(data_source(
        &data_source_id,
        &database_id,
        title,
        vec![schema_entry("Name", "title", json!({})), schema_entry("Done", "checkbox", json!({}))],
    ));
    let mut rng = StdRng::seed_from_u64(seed ^ 0xB16_B00C);
    let id = w.next_id();
    let base = parse_ms(TS).expect("TS parses");
    let p = page(&id, parent_data_source(&data_source_id, &database_id), "Handbook", vec![("Done", p_checkbox(false))]);
    w.insert_page(with_times(p, &iso_ms(base), &iso_ms(base + 3_600_000)));
    let nodes = big_page_blocks(w, &mut rng, blocks);
    let total = nodes.iter().map(Node::count).sum::<usize>();
    store(w, &id, nodes);
    Workspace {
        databases: vec![Database { id: database_id, pages: vec![id.clone()] }],
        pages: vec![id],
        blocks: total,
        images: 0,
        pdfs: 0,
        media_bytes: 0,
    }
}
