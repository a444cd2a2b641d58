//! Cutting converted blocks into `PATCH /blocks/{id}/children` requests within Notion's
//! limits: at most 100 blocks in any `children` array, two levels of nesting below the blocks
//! of a request (a block at the third level carries no `children`), at most 1,000 blocks and
//! a size bound per request. Pure: it decides, the caller sends.
//!
//! A block whose whole subtree fits is sent with it. Otherwise the block is sent without its
//! children (a *continuation*: its children are appended to it once its id is known), except
//! blocks Notion refuses without children (tables, column lists, columns), which take as many
//! children as fit and continue with the rest. A block whose restored id is needed later (an
//! original synced block shown elsewhere) is never hidden inside a subtree sent at once, so its
//! id comes back in an answer.

use serde_json::{json, Value};

use super::convert::ReqBlock;

/// The bounds of one request.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_items: usize,
    pub max_blocks: usize,
    pub max_bytes: usize,
    /// Levels of blocks in one request (the appended blocks, their children, grandchildren).
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        // Notion: 100 children, 1,000 blocks, 500 KB, two levels of nesting. The size bound keeps
        // a margin for the request envelope.
        Limits { max_items: 100, max_blocks: 1000, max_bytes: 480_000, max_depth: 3 }
    }
}

/// A block of a chunk that is continued later, or whose id is needed.
#[derive(Debug, Clone, PartialEq)]
pub struct Later {
    /// Indexes from the chunk's blocks down to the block (`[i]`: the i-th block sent; `[i, j]`:
    /// its j-th child, ...).
    pub path: Vec<usize>,
    /// Canonical id of the backed-up block (the key its progress is kept under).
    pub old_id: String,
    /// Children of the block already sent with it (the continuation starts there).
    pub start: usize,
}

/// One request.
#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    /// The `children` of the request.
    pub items: Vec<Value>,
    /// Blocks of the container covered: `[start, end)`.
    pub end: usize,
    /// Blocks whose children are appended later.
    pub continued: Vec<Later>,
    /// Blocks whose restored ids are needed (original synced blocks shown elsewhere).
    pub keep: Vec<Later>,
    /// Blocks in the request.
    pub blocks: usize,
}

fn size(v: &Value) -> usize {
    serde_json::to_vec(v).map(|b| b.len()).unwrap_or(usize::MAX)
}

/// Whether every `children` array of the subtree holds at most `max` blocks.
fn arrays_fit(b: &ReqBlock, max: usize) -> bool {
    b.kids.len() <= max && b.kids.iter().all(|k| arrays_fit(k, max))
}

struct Rendered {
    json: Value,
    blocks: usize,
    bytes: usize,
    continued: Vec<Later>,
    keep: Vec<Later>,
}

fn render(b: &ReqBlock, depth: usize, path: Vec<usize>, room_blocks: usize, room_bytes: usize, l: &Limits) -> Rendered {
    let keep_self = |path: &Vec<usize>| {
        if b.keep_id {
            vec![Later { path: path.clone(), old_id: b.old_id.clone(), start: 0 }]
        } else {
            Vec::new()
        }
    };
    if b.kids.is_empty() {
        let json = b.json.clone();
        return Rendered { bytes: size(&json), json, blocks: 1, continued: Vec::new(), keep: keep_self(&path) };
    }
    let fits_depth = depth + b.height() - 1 <= l.max_depth;
    if fits_depth && !b.keeps_id_below() && arrays_fit(b, l.max_items) && b.count() <= room_blocks {
        let json = b.with_children();
        let bytes = size(&json);
        if bytes <= room_bytes {
            return Rendered { json, blocks: b.count(), bytes, continued: Vec::new(), keep: keep_self(&path) };
        }
    }
    if b.needs_kids && depth < l.max_depth {
        // Refused without children: as many as fit, the rest later.
        let mut json = b.json.clone();
        let ty = json["type"].as_str().unwrap_or("").to_string();
        let mut kids = Vec::new();
        let mut blocks = 1;
        let mut bytes = size(&json);
        let mut continued = Vec::new();
        let mut keep = keep_self(&path);
        let mut taken = 0;
        for (j, k) in b.kids.iter().enumerate().take(l.max_items) {
            // A block Notion refuses without children cannot sit on the last level.
            if k.needs_kids && depth + 1 >= l.max_depth {
                break;
            }
            let mut p = path.clone();
            p.push(j);
            let r = render(k, depth + 1, p, room_blocks.saturating_sub(blocks), room_bytes.saturating_sub(bytes), l);
            if taken > 0 && (blocks + r.blocks > room_blocks || bytes + r.bytes + 1 > room_bytes) {
                break;
            }
            blocks += r.blocks;
            bytes += r.bytes + 1;
            continued.extend(r.continued);
            keep.extend(r.keep);
            kids.push(r.json);
            taken += 1;
        }
        if taken == 0 {
            // The first child cannot come along (a table first in a column): an empty line
            // holds the place, the rest follows.
            kids.push(json!({"type": "paragraph", "paragraph": {"rich_text": []}}));
            blocks += 1;
        }
        if taken < b.kids.len() {
            continued.push(Later { path: path.clone(), old_id: b.old_id.clone(), start: taken });
        }
        json[&ty]["children"] = Value::Array(kids);
        let bytes = size(&json);
        return Rendered { json, blocks, bytes, continued, keep };
    }
    // Sent alone; its children follow once its id is known.
    let json = b.json.clone();
    Rendered {
        bytes: size(&json),
        json,
        blocks: 1,
        continued: vec![Later { path: path.clone(), old_id: b.old_id.clone(), start: 0 }],
        keep: keep_self(&path),
    }
}

/// The next request for `kids[start..]` (`start < kids.len()`). Always covers at least one
/// block.
pub fn chunk(kids: &[ReqBlock], start: usize, l: &Limits) -> Chunk {
    let envelope = size(
        &json!({"children": [], "position": {"type": "after_block", "after_block": {"id": "00000000-0000-0000-0000-000000000000"}}}),
    );
    let mut c = Chunk { items: Vec::new(), end: start, continued: Vec::new(), keep: Vec::new(), blocks: 0 };
    let mut bytes = envelope;
    for (i, k) in kids.iter().enumerate().skip(start) {
        if c.items.len() >= l.max_items {
            break;
        }
        let r = render(
            k,
            1,
            vec![c.items.len()],
            l.max_blocks.saturating_sub(c.blocks),
            l.max_bytes.saturating_sub(bytes),
            l,
        );
        if !c.items.is_empty() && (c.blocks + r.blocks > l.max_blocks || bytes + r.bytes + 1 > l.max_bytes) {
            break;
        }
        c.blocks += r.blocks;
        bytes += r.bytes + 1;
        c.continued.extend(r.continued);
        c.keep.extend(r.keep);
        c.items.push(r.json);
        c.end = i + 1;
    }
    c
}

/// Every request needed for `kids`, with their continuations, as if every answer came back
/// (for `--dry-run` and the bench's expected counts): (requests, blocks).
pub fn count_requests(kids: &[ReqBlock], l: &Limits) -> (usize, usize) {
    count_requests_from(kids, 0, l)
}

fn count_requests_from(kids: &[ReqBlock], from: usize, l: &Limits) -> (usize, usize) {
    let mut requests = 0;
    let mut blocks = 0;
    let mut start = from;
    while start < kids.len() {
        let c = chunk(kids, start, l);
        requests += 1;
        blocks += c.blocks;
        for later in &c.continued {
            if let Some(b) = find(kids, start, &later.path) {
                let (r, n) = count_requests_from(&b.kids, later.start, l);
                requests += r;
                blocks += n;
            }
        }
        start = c.end;
    }
    (requests, blocks)
}

/// The block at `path` of a chunk that started at `start` of `kids`.
pub fn find<'a>(kids: &'a [ReqBlock], start: usize, path: &[usize]) -> Option<&'a ReqBlock> {
    let (first, rest) = path.split_first()?;
    let mut b = kids.get(start + first)?;
    for j in rest {
        b = b.kids.get(*j)?;
    }
    Some(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn para(t: &str) -> ReqBlock {
        ReqBlock {
            json: json!({"type": "paragraph", "paragraph": {"rich_text": [{"type": "text", "text": {"content": t}}]}}),
            kids: Vec::new(),
            needs_kids: false,
            old_id: t.to_string(),
            keep_id: false,
        }
    }

    fn with(mut b: ReqBlock, kids: Vec<ReqBlock>) -> ReqBlock {
        b.kids = kids;
        b
    }

    fn depth(v: &Value) -> usize {
        let ty = v["type"].as_str().unwrap();
        1 + v[ty]["children"].as_array().map(|a| a.iter().map(depth).max().unwrap_or(0)).unwrap_or(0)
    }

    #[test]
    fn hundred_and_fifty_blocks_take_two_requests() {
        let kids: Vec<ReqBlock> = (0..150).map(|i| para(&i.to_string())).collect();
        let l = Limits::default();
        let a = chunk(&kids, 0, &l);
        assert_eq!((a.items.len(), a.end), (100, 100));
        let b = chunk(&kids, a.end, &l);
        assert_eq!((b.items.len(), b.end), (50, 150));
        assert_eq!(count_requests(&kids, &l), (2, 150));
    }

    #[test]
    fn deep_lists_are_continued_never_nested_beyond_the_limit() {
        // six levels
        let mut b = para("l6");
        for i in (1..6).rev() {
            b = with(para(&format!("l{i}")), vec![b]);
        }
        let kids = vec![b];
        let l = Limits::default();
        let c = chunk(&kids, 0, &l);
        assert!(c.items.iter().all(|i| depth(i) <= 3));
        // The first level goes alone (its subtree is too deep) and continues.
        assert_eq!(c.continued, vec![Later { path: vec![0], old_id: "l1".into(), start: 0 }]);
        // l1 alone; then l2 (l2..l6 is 5 deep) alone; then l3 with l4, l5? l3..l6 is 4: alone;
        // l4 with l5, l6: one request. 4 requests, 6 blocks.
        assert_eq!(count_requests(&kids, &l), (4, 6));
    }

    #[test]
    fn tables_keep_their_rows_and_continue_past_100() {
        let rows: Vec<ReqBlock> = (0..130).map(|i| para(&format!("r{i}"))).collect();
        let mut t = with(para("table"), rows);
        t.needs_kids = true;
        let c = chunk(&[t], 0, &Limits::default());
        let ty = c.items[0]["type"].as_str().unwrap();
        assert_eq!(c.items[0][ty]["children"].as_array().unwrap().len(), 100);
        assert_eq!(c.continued, vec![Later { path: vec![0], old_id: "table".into(), start: 100 }]);
    }

    #[test]
    fn a_block_whose_id_is_needed_comes_back_in_an_answer() {
        let mut synced = with(para("synced"), vec![para("inside")]);
        synced.keep_id = true;
        let toggle = with(para("toggle"), vec![synced]);
        let c = chunk(&[toggle], 0, &Limits::default());
        // The toggle goes alone, so the synced block is sent on the first level later.
        assert_eq!(depth(&c.items[0]), 1);
        assert_eq!(c.continued.len(), 1);
    }

    #[test]
    fn size_bound_cuts_requests() {
        let big = "x".repeat(1900);
        let kids: Vec<ReqBlock> = (0..100).map(|_| para(&big)).collect();
        let l = Limits { max_bytes: 50_000, ..Limits::default() };
        let c = chunk(&kids, 0, &l);
        assert!(c.items.len() < 100 && !c.items.is_empty());
        assert!(serde_json::to_vec(&json!({"children": c.items})).unwrap().len() <= 50_000);
    }
}
