//! Block trees to Markdown: paragraphs, headings, lists nested to any depth, toggles, quotes,
//! callouts, code, tables, media, links and the containers (columns, synced blocks, tabs).
//!
//! Every block type produces visible output or an HTML comment naming it: nothing is dropped
//! silently, and a block of a type this build does not know keeps the text of every rich-text
//! field it carries. Nesting is done by rendering children to text and prefixing their lines
//! (list indentation, `> ` for quotes), so any depth works.
//!
//! Only HTML that both GitHub's and Gitea's sanitizers keep is written: `<details>`/`<summary>`
//! (a toggleable heading is the `<hN>` inside its `<summary>`), `<figure>`/`<figcaption>` for a
//! captioned image, `<mark>` for background colours, `<ins>`, `<strong>`. Callouts whose icon or
//! colour means one become GitHub/Gitea alerts (`> [!NOTE]`). Pure: no I/O.

use std::collections::HashSet;

use serde_json::Value;

use super::front_matter::{file_target, FileTarget};
use super::inline::{
    escape_html, escape_text, is_background, link_text, notion_url, render, rich_text_to_html, rich_text_to_plain,
    strong, Mode, Target, UNTITLED,
};
use super::safe::{clean_text, clean_url, url_dest};
use super::{MediaKey, RenderContext};
use crate::notion::model::{
    plain_text, Block, BlockKind, Callout, Code, FileObject, Icon, LinkToPage, MediaBlock, RichText, Table, TableRow,
};

/// Rendered text of one block or a run of blocks, with what its neighbours need to know.
#[derive(Default)]
pub(crate) struct Chunk {
    pub text: String,
    /// Starts with a Markdown list (a list right before it must be separated).
    starts_list: bool,
    /// Ends with a Markdown list.
    ends_list: bool,
    /// Starts with a list that may directly follow a list item's first line (no blank line).
    tight: bool,
}

impl Chunk {
    fn plain(text: String) -> Chunk {
        Chunk { text, ..Chunk::default() }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ListKind {
    Bullet,
    Todo,
    Numbered,
}

fn list_kind(b: &Block) -> Option<ListKind> {
    match &b.kind {
        BlockKind::BulletedListItem(_) => Some(ListKind::Bullet),
        BlockKind::ToDo(_) => Some(ListKind::Todo),
        BlockKind::NumberedListItem(_) => Some(ListKind::Numbered),
        _ => None,
    }
}

fn list_format(b: &Block) -> &str {
    match &b.kind {
        BlockKind::NumberedListItem(n) => n.list_format.as_deref().unwrap_or("numbers"),
        _ => "",
    }
}

fn item_text(b: &Block) -> (&[RichText], Option<&str>) {
    match &b.kind {
        BlockKind::BulletedListItem(t) => (&t.rich_text, t.color.as_deref()),
        BlockKind::ToDo(t) => (&t.rich_text, t.color.as_deref()),
        BlockKind::NumberedListItem(t) => (&t.rich_text, t.color.as_deref()),
        _ => (&[], None),
    }
}

/// Prefix every line of `s`: `first` on the first line, `rest` on the others; empty lines get
/// `empty` (so no trailing whitespace is written).
fn prefix_lines(s: &str, first: &str, rest: &str, empty: &str) -> String {
    let mut o = String::with_capacity(s.len() + 16);
    for (i, line) in s.split('\n').enumerate() {
        if i > 0 {
            o.push('\n');
        }
        if line.is_empty() {
            o.push_str(if i == 0 { first.trim_end() } else { empty });
        } else {
            o.push_str(if i == 0 { first } else { rest });
            o.push_str(line);
        }
    }
    o
}

/// Wrap inline Markdown of a block with a background colour in `<mark>`.
fn marked(color: Option<&str>, md: String) -> String {
    if md.is_empty() || !color.is_some_and(is_background) {
        md
    } else {
        format!("<mark>{md}</mark>")
    }
}

/// The GitHub/Gitea alert a callout stands for, from its icon (then `true`: the alert's own icon
/// replaces it) or else its colour.
fn alert_kind(c: &Callout) -> Option<(&'static str, bool)> {
    if let Some(Icon::Emoji(e)) = &c.icon {
        let e: String = e.chars().filter(|c| *c != '\u{fe0f}').collect();
        let by_icon = match e.as_str() {
            "ℹ" | "📝" | "🗒" | "📘" | "💬" => Some("NOTE"),
            "💡" | "✅" | "✔" | "👍" => Some("TIP"),
            "❗" | "❕" | "‼" | "📌" | "📢" | "⭐" => Some("IMPORTANT"),
            "⚠" | "🚧" | "⚡" => Some("WARNING"),
            "🚨" | "⛔" | "🛑" | "❌" | "🔥" | "🚫" | "☠" => Some("CAUTION"),
            _ => None,
        };
        if let Some(k) = by_icon {
            return Some((k, true));
        }
    }
    let color = c.color.as_deref().unwrap_or("default");
    let kind = match color.strip_suffix("_background").unwrap_or(color) {
        "blue" => "NOTE",
        "green" => "TIP",
        "purple" => "IMPORTANT",
        "yellow" | "orange" => "WARNING",
        "red" => "CAUTION",
        _ => return None,
    };
    Some((kind, false))
}

/// Every rich-text array in the payload of a block of unknown type, in the order the API wrote
/// them (an array whose items all carry `plain_text` is rich text).
fn rich_text_fields(v: &Value, out: &mut Vec<Vec<RichText>>) {
    match v {
        Value::Array(items) => {
            let is_rich = !items.is_empty()
                && items.iter().all(|i| i.get("plain_text").is_some_and(Value::is_string) && i.get("type").is_some());
            if is_rich {
                if let Ok(rt) = serde_json::from_value::<Vec<RichText>>(v.clone()) {
                    out.push(rt);
                    return;
                }
            }
            items.iter().for_each(|i| rich_text_fields(i, out));
        }
        Value::Object(m) => m.values().for_each(|i| rich_text_fields(i, out)),
        _ => {}
    }
}

/// A safe HTML comment: `--` cannot appear inside one.
pub(crate) fn comment(text: &str) -> String {
    let t: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    format!("<!-- {} -->", t.replace("--", "- -").replace('>', "&gt;"))
}

/// The file name at the end of a URL path, percent-decoded, without query or fragment.
fn url_file_name(url: &str) -> Option<String> {
    let path = url.split(['?', '#']).next()?;
    let last = path.rsplit('/').next()?;
    if last.is_empty() || path.ends_with("//") {
        return None;
    }
    let bytes = last.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex_val(bytes[i + 1]), hex_val(bytes[i + 2])) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

fn hex_val(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// GitHub's heading anchor: lowercase, letters/digits/`-`/`_` kept, spaces to `-`, rest dropped.
pub(crate) fn slugify(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    for c in text.trim().chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() || c == '-' || c == '_' {
            s.push(c);
        } else if c == ' ' {
            s.push('-');
        }
    }
    s
}

/// The table of contents for `headings` (level, text), with anchors made unique the way GitHub
/// does (`x`, `x-1`, `x-2`), counting the page title first.
pub(crate) fn toc(title: &str, headings: &[(usize, String)]) -> String {
    let mut used: HashSet<String> = HashSet::new();
    let mut unique = |text: &str| {
        let base = slugify(text);
        let mut slug = base.clone();
        let mut n = 1;
        while used.contains(&slug) {
            slug = format!("{base}-{n}");
            n += 1;
        }
        used.insert(slug.clone());
        slug
    };
    unique(title);
    let min = headings.iter().map(|h| h.0).min().unwrap_or(0);
    let mut lines = Vec::with_capacity(headings.len());
    let mut prev_depth: Option<usize> = None;
    for (level, text) in headings {
        let slug = unique(text);
        let want = level - min;
        let depth = match prev_depth {
            None => 0,
            Some(p) => want.min(p + 1),
        };
        prev_depth = Some(depth);
        let label = escape_text(text, Mode::Line);
        let label = if label.is_empty() { "Untitled".to_string() } else { label };
        lines.push(format!("{}- [{label}]({})", "  ".repeat(depth), url_dest(&format!("#{slug}"))));
    }
    lines.join("\n")
}

pub(crate) struct Renderer<'c, 'a> {
    ctx: &'c RenderContext<'a>,
    /// Every heading emitted, in document order: (number of `#`, plain text).
    pub headings: Vec<(usize, String)>,
    /// Whether a table_of_contents block was seen.
    pub has_toc: bool,
    /// The rendered table of contents (second pass only).
    toc: Option<String>,
    /// How many list items and quotes the current block sits in (alerts only work outside).
    nest: usize,
}

impl<'c, 'a> Renderer<'c, 'a> {
    pub fn new(ctx: &'c RenderContext<'a>, toc: Option<String>) -> Self {
        Renderer { ctx, headings: Vec::new(), has_toc: false, toc, nest: 0 }
    }

    /// Render `blocks` as the content of a list item or quote.
    fn nested(&mut self, blocks: &[Block]) -> Chunk {
        self.nest += 1;
        let c = self.seq(blocks);
        self.nest -= 1;
        c
    }

    fn md(&self, rt: &[RichText], mode: Mode) -> String {
        render(rt, self.ctx, mode)
    }

    /// Join chunks with blank lines; two adjacent lists get an HTML comment between them so that
    /// Markdown does not merge them into one.
    fn join(chunks: impl IntoIterator<Item = Chunk>) -> Chunk {
        let mut out = Chunk::default();
        let mut any = false;
        for c in chunks {
            if c.text.is_empty() {
                continue;
            }
            if any {
                out.text.push_str("\n\n");
                if out.ends_list && c.starts_list {
                    out.text.push_str("<!-- -->\n\n");
                }
            } else {
                out.starts_list = c.starts_list;
                out.tight = c.tight;
            }
            out.text.push_str(&c.text);
            out.ends_list = c.ends_list;
            any = true;
        }
        out
    }

    /// Render a sequence of sibling blocks; consecutive list items of one kind form one list.
    pub fn seq(&mut self, blocks: &[Block]) -> Chunk {
        let mut chunks = Vec::new();
        let mut i = 0;
        while i < blocks.len() {
            if let Some(kind) = list_kind(&blocks[i]) {
                let fmt = list_format(&blocks[i]);
                let mut j = i + 1;
                while j < blocks.len() && list_kind(&blocks[j]) == Some(kind) && list_format(&blocks[j]) == fmt {
                    j += 1;
                }
                chunks.push(self.list(kind, &blocks[i..j]));
                i = j;
            } else {
                chunks.push(self.block(&blocks[i]));
                i += 1;
            }
        }
        Self::join(chunks)
    }

    /// `head` followed by the block's children at the same level.
    fn with_children(&mut self, head: String, children: &[Block]) -> Chunk {
        let kids = self.seq(children);
        Self::join([Chunk::plain(head), kids])
    }

    fn list(&mut self, kind: ListKind, items: &[Block]) -> Chunk {
        let (start, fmt) = match &items[0].kind {
            BlockKind::NumberedListItem(n) => (
                n.list_start_index.unwrap_or(1).min(999_999_999 - items.len() as u64),
                n.list_format.as_deref().unwrap_or("numbers"),
            ),
            _ => (1, ""),
        };
        if kind == ListKind::Numbered && (fmt == "letters" || fmt == "roman") {
            return self.html_list(items, start, if fmt == "letters" { "a" } else { "i" });
        }
        let mut parts = Vec::with_capacity(items.len());
        let mut loose = false;
        for (k, item) in items.iter().enumerate() {
            let marker = match (&item.kind, kind) {
                (BlockKind::ToDo(t), _) => if t.checked { "- [x] " } else { "- [ ] " }.to_string(),
                (_, ListKind::Numbered) => format!("{}. ", start + k as u64),
                _ => "- ".to_string(),
            };
            let width = if kind == ListKind::Numbered { marker.len() } else { 2 };
            let pad = " ".repeat(width);
            let (rt, color) = item_text(item);
            let mut text = marked(color, self.md(rt, Mode::Paragraph));
            if text.is_empty() {
                text = "&nbsp;".to_string();
            }
            let mut s = prefix_lines(&text, &marker, &pad, "");
            let kids = self.nested(&item.children);
            if !kids.text.is_empty() {
                if kids.tight {
                    s.push('\n');
                } else {
                    loose = true;
                    s.push_str("\n\n");
                }
                s.push_str(&prefix_lines(&kids.text, &pad, &pad, ""));
            }
            parts.push(s);
        }
        let tight = kind != ListKind::Numbered || start == 1;
        Chunk { text: parts.join(if loose { "\n\n" } else { "\n" }), starts_list: true, ends_list: true, tight }
    }

    /// Lettered and roman lists have no Markdown syntax: an HTML `<ol type>` with Markdown
    /// content between blank lines.
    fn html_list(&mut self, items: &[Block], start: u64, ty: &str) -> Chunk {
        let mut s = format!("<ol type=\"{ty}\"");
        if start != 1 {
            s.push_str(&format!(" start=\"{start}\""));
        }
        s.push_str(">\n");
        for item in items {
            let (rt, color) = item_text(item);
            let text = marked(color, self.md(rt, Mode::Paragraph));
            let kids = self.nested(&item.children);
            let body = Self::join([Chunk::plain(text), kids]).text;
            if body.is_empty() {
                s.push_str("<li></li>\n");
            } else {
                s.push_str("<li>\n\n");
                s.push_str(&body);
                s.push_str("\n\n</li>\n");
            }
        }
        s.push_str("</ol>");
        Chunk::plain(s)
    }

    fn details(&mut self, summary_html: &str, children: &[Block]) -> String {
        let body = self.seq(children).text;
        if body.is_empty() {
            format!("<details>\n<summary>{summary_html}</summary>\n</details>")
        } else {
            format!("<details>\n<summary>{summary_html}</summary>\n\n{body}\n\n</details>")
        }
    }

    /// A blockquote of `head` and the children; `alert` (`NOTE`, `TIP`...) opens it with
    /// `[!ALERT]` when the quote is not itself inside a list or quote and has content.
    fn quote(&mut self, head: String, children: &[Block], alert: Option<&str>) -> String {
        let top = self.nest == 0;
        self.nest += 1;
        let body = self.with_children(head, children).text;
        self.nest -= 1;
        if body.is_empty() {
            return ">".to_string();
        }
        match alert.filter(|_| top) {
            Some(kind) => format!("> [!{kind}]\n{}", prefix_lines(&body, "> ", "> ", ">")),
            None => prefix_lines(&body, "> ", "> ", ">"),
        }
    }

    fn heading(
        &mut self,
        level: usize,
        rt: &[RichText],
        color: Option<&str>,
        toggleable: bool,
        kids: &[Block],
    ) -> Chunk {
        self.headings.push((level, rich_text_to_plain(rt, self.ctx)));
        if toggleable {
            // Once, inside the summary: a toggle that is a heading.
            let html = rich_text_to_html(rt, self.ctx);
            let html = if color.is_some_and(is_background) && !html.is_empty() {
                format!("<mark>{html}</mark>")
            } else {
                html
            };
            return Chunk::plain(self.details(&format!("<h{level}>{html}</h{level}>"), kids));
        }
        let text = marked(color, self.md(rt, Mode::Line));
        let hashes = "#".repeat(level);
        let line = if text.is_empty() { hashes } else { format!("{hashes} {text}") };
        self.with_children(line, kids)
    }

    fn icon_prefix(&self, icon: Option<&Icon>, block_id: &str) -> String {
        let img = |t: Target| format!("<img src=\"{}\" alt=\"\" width=\"20\">", t.href());
        match icon {
            Some(Icon::Emoji(e)) => escape_text(e, Mode::Line),
            Some(Icon::File(f)) => match file_target(Some(&MediaKey::Block(block_id.to_string())), f, self.ctx) {
                FileTarget::Local(lf) => img(Target::Path(lf.path.clone())),
                FileTarget::External(u) if Target::Url(u.to_string()).is_safe() => img(Target::Url(u.to_string())),
                FileTarget::External(_) | FileTarget::Missing => String::new(),
            },
            Some(Icon::CustomEmoji { name: Some(n), .. }) => escape_text(&format!(":{n}:"), Mode::Line),
            _ => String::new(),
        }
    }

    fn code(&self, c: &Code) -> String {
        let code = clean_text(&plain_text(&c.rich_text)).replace("\r\n", "\n").replace('\r', "\n");
        let fence = "`".repeat((longest_backticks(&code) + 1).max(3));
        let lang: String = c
            .language
            .as_deref()
            .unwrap_or("")
            .trim()
            .to_lowercase()
            .chars()
            .filter(|c| *c != '`' && !c.is_control())
            .map(|c| if c.is_whitespace() { '-' } else { c })
            .collect();
        let lang = if lang == "plain-text" { String::new() } else { lang };
        let mut s = format!("{fence}{lang}\n{code}");
        if !code.is_empty() && !code.ends_with('\n') {
            s.push('\n');
        }
        s.push_str(&fence);
        let caption = self.md(&c.caption, Mode::Paragraph);
        if !caption.is_empty() {
            s.push_str("\n\n");
            s.push_str(&caption);
        }
        s
    }

    fn table(&self, t: &Table, children: &[Block]) -> String {
        let rows: Vec<&TableRow> = children
            .iter()
            .filter_map(|b| match &b.kind {
                BlockKind::TableRow(r) => Some(r),
                _ => None,
            })
            .collect();
        self.table_rows(t.has_column_header, t.has_row_header, t.table_width as usize, &rows)
    }

    /// A GFM table; with `row_header` the first cell of every body row is bold (as Notion shows
    /// a row header).
    fn table_rows(&self, header: bool, row_header: bool, width: usize, rows: &[&TableRow]) -> String {
        let width = rows.iter().map(|r| r.cells.len()).chain([width, 1]).max().unwrap_or(1);
        let line = |cells: &[Vec<RichText>], bold_first: bool| {
            let mut s = String::from("|");
            for i in 0..width {
                let mut cell = cells.get(i).map(|c| self.md(c, Mode::TableCell)).unwrap_or_default();
                if i == 0 && bold_first {
                    cell = strong(&cell);
                }
                s.push(' ');
                s.push_str(&cell);
                s.push_str(" |");
            }
            s
        };
        let mut out = Vec::with_capacity(rows.len() + 2);
        let body = if header && !rows.is_empty() {
            out.push(line(&rows[0].cells, false));
            &rows[1..]
        } else {
            out.push(line(&[], false));
            rows
        };
        out.push(format!("|{}", " --- |".repeat(width)));
        for r in body {
            out.push(line(&r.cells, row_header));
        }
        out.join("\n")
    }

    /// `[label](target)` on one line; an empty label shows the target, an unsafe target is code.
    fn link_line(&self, label: &str, target: &Target) -> String {
        link_text(label, target, Mode::Line)
    }

    /// The title of page/database `id` (the titles map, else `fallback`, else [`UNTITLED`]),
    /// linked to its backup when `links` knows it.
    fn page_ref(&self, id: &str, fallback_title: &str) -> String {
        let title = self.ctx.title(id).filter(|t| !t.trim().is_empty()).unwrap_or(fallback_title);
        let title = if title.trim().is_empty() { UNTITLED } else { title };
        match self.ctx.link(id) {
            Some(l) => self.link_line(title, &Target::from_link(&l)),
            None => escape_text(title, Mode::Line),
        }
    }

    /// An image (centred; a caption makes it a `<figure>` with the caption visible under it), or
    /// a link to the file or video with its caption after it.
    fn media(&self, b: &Block, m: &MediaBlock, what: &str) -> String {
        let caption = rich_text_to_plain(&m.caption, self.ctx).trim().to_string();
        let caption_md = self.md(&m.caption, Mode::Paragraph);
        let name = m.name.as_deref().map(|n| clean_text(n).trim().to_string()).filter(|n| !n.is_empty());
        let is_image = matches!(b.kind, BlockKind::Image(_));
        let with_caption = |mut s: String| {
            if !caption_md.is_empty() {
                s.push_str(" — ");
                s.push_str(&caption_md);
            }
            s
        };
        match file_target(Some(&MediaKey::Block(b.id.clone())), &m.file, self.ctx) {
            FileTarget::Local(lf) if is_image => {
                let p = Target::Path(lf.path.clone()).href();
                let width = match lf.width {
                    Some(w) if w > 300 => " width=\"300\"",
                    _ => "",
                };
                let img = format!("<a href=\"{p}\"><img src=\"{p}\" alt=\"{}\"{width}></a>", escape_html(&caption));
                let caption_html = rich_text_to_html(&m.caption, self.ctx);
                if caption_html.is_empty() {
                    format!("<p align=\"center\">{img}</p>")
                } else {
                    format!("<figure>\n{img}\n<figcaption>{caption_html}</figcaption>\n</figure>")
                }
            }
            FileTarget::Local(lf) => {
                let label = name.or_else(|| url_file_name(&lf.path)).unwrap_or_else(|| lf.path.clone());
                with_caption(self.link_line(&label, &Target::Path(lf.path.clone())))
            }
            FileTarget::External(url) => {
                let label = name.unwrap_or_else(|| clean_url(url).into_owned());
                with_caption(self.link_line(&label, &Target::Url(url.to_string())))
            }
            FileTarget::Missing => {
                let file = name
                    .or_else(|| m.file.url().and_then(url_file_name))
                    .or_else(|| match &m.file {
                        FileObject::Upload { id } => Some(format!("upload {id}")),
                        _ => None,
                    })
                    .unwrap_or_else(|| "unnamed file".to_string());
                with_caption(format!(
                    "**Missing {what}:** {} (stored in Notion, not downloaded)",
                    escape_text(&file, Mode::Line)
                ))
            }
        }
    }

    fn block(&mut self, b: &Block) -> Chunk {
        use BlockKind as B;
        let kids = &b.children;
        let text = match &b.kind {
            B::Paragraph(t) => {
                let head = marked(t.color.as_deref(), self.md(&t.rich_text, Mode::Paragraph));
                return self.with_children(head, kids);
            }
            B::Heading1(h) => return self.heading(2, &h.rich_text, h.color.as_deref(), h.is_toggleable, kids),
            B::Heading2(h) => return self.heading(3, &h.rich_text, h.color.as_deref(), h.is_toggleable, kids),
            B::Heading3(h) => return self.heading(4, &h.rich_text, h.color.as_deref(), h.is_toggleable, kids),
            B::Heading4(h) => return self.heading(5, &h.rich_text, h.color.as_deref(), h.is_toggleable, kids),
            B::BulletedListItem(_) => return self.list(ListKind::Bullet, std::slice::from_ref(b)),
            B::ToDo(_) => return self.list(ListKind::Todo, std::slice::from_ref(b)),
            B::NumberedListItem(_) => return self.list(ListKind::Numbered, std::slice::from_ref(b)),
            B::Toggle(t) => {
                let summary = rich_text_to_html(&t.rich_text, self.ctx);
                let summary = if t.color.as_deref().is_some_and(is_background) && !summary.is_empty() {
                    format!("<mark>{summary}</mark>")
                } else {
                    summary
                };
                self.details(&summary, kids)
            }
            B::Quote(t) => {
                let head = marked(t.color.as_deref(), self.md(&t.rich_text, Mode::Paragraph));
                self.quote(head, kids, None)
            }
            B::Callout(c) => {
                let text = self.md(&c.rich_text, Mode::Paragraph);
                // An alert needs content; an empty callout stays a quote holding its icon.
                let has_content = !text.is_empty() || !kids.is_empty();
                let alert = alert_kind(c).filter(|_| self.nest == 0 && has_content);
                let icon = match alert {
                    Some((_, true)) => String::new(),
                    _ => self.icon_prefix(c.icon.as_ref(), &b.id),
                };
                let head = match (icon.is_empty(), text.is_empty()) {
                    (true, _) => text,
                    (false, true) => icon,
                    (false, false) => format!("{icon} {text}"),
                };
                self.quote(head, kids, alert.map(|a| a.0))
            }
            B::Code(c) => self.code(c),
            B::Equation { expression } => equation(expression),
            B::Divider => "---".to_string(),
            B::Breadcrumb => comment("breadcrumb"),
            B::TableOfContents => {
                self.has_toc = true;
                return match &self.toc {
                    Some(t) if !t.is_empty() => {
                        Chunk { text: t.clone(), starts_list: true, ends_list: true, tight: true }
                    }
                    _ => Chunk::plain(comment("table of contents (no headings)")),
                };
            }
            B::Table(t) => self.table(t, kids),
            B::TableRow(r) => self.table_rows(false, false, r.cells.len(), &[r]),
            B::ColumnList | B::Column { .. } | B::SyncedBlock { .. } => return self.seq(kids),
            B::Tab => {
                let mut chunks = Vec::new();
                for item in kids {
                    match &item.kind {
                        B::Paragraph(t) => {
                            chunks.push(self.heading(4, &t.rich_text, t.color.as_deref(), false, &[]));
                            chunks.push(self.seq(&item.children));
                        }
                        _ => chunks.push(self.block(item)),
                    }
                }
                return Self::join(chunks);
            }
            B::ChildPage { title } | B::ChildDatabase { title } => self.page_ref(&b.id, title),
            B::LinkToPage(l) => match l {
                LinkToPage::Page(id) | LinkToPage::Database(id) => {
                    // The page's title when Notion gave it, else one placeholder; never a URL.
                    let title = self.ctx.title(id).filter(|t| !t.trim().is_empty()).unwrap_or(UNTITLED);
                    match self.ctx.link(id) {
                        Some(link) => self.link_line(title, &Target::from_link(&link)),
                        None => self.link_line(title, &Target::Url(notion_url(id))),
                    }
                }
                LinkToPage::Comment(id) => comment(&format!("link to comment {id}")),
                LinkToPage::Unknown(_) => comment("link_to_page with an unknown target"),
            },
            B::LinkPreview { url } => self.link_line(&clean_url(url), &Target::Url(url.clone())),
            B::Bookmark(l) | B::Embed(l) => {
                // The URL itself (a reader sees where it leads), then the caption.
                let caption = self.md(&l.caption, Mode::Paragraph);
                let url = clean_url(&l.url);
                let mut s =
                    if url.is_empty() { String::new() } else { self.link_line(&url, &Target::Url(url.to_string())) };
                if !caption.is_empty() {
                    if !s.is_empty() {
                        s.push_str(" — ");
                    }
                    s.push_str(&caption);
                }
                if s.is_empty() {
                    comment(&format!("empty {}", b.type_name()))
                } else {
                    s
                }
            }
            B::Image(m) => self.media(b, m, "image"),
            B::Video(m) => self.media(b, m, "video"),
            B::Audio(m) => self.media(b, m, "audio"),
            B::Pdf(m) => self.media(b, m, "PDF"),
            B::File(m) => self.media(b, m, "file"),
            B::Template(t) => {
                let label = rich_text_to_html(&t.rich_text, self.ctx);
                self.details(&format!("Template: {label}"), kids)
            }
            B::MeetingNotes(m) => {
                let title = self.md(&m.title, Mode::Paragraph);
                let head = if title.is_empty() {
                    "**Meeting notes**".to_string()
                } else {
                    format!("**Meeting notes:** {title}")
                };
                return self.with_children(head, kids);
            }
            B::Unsupported { block_type } => {
                comment(&format!("unsupported block: {}", block_type.as_deref().unwrap_or("unknown type")))
            }
            B::Unknown { kind, raw } => {
                // The comment names the type; every rich-text field it carries stays readable.
                let mut chunks = vec![Chunk::plain(comment(&format!("unknown block type: {kind}")))];
                let mut fields = Vec::new();
                rich_text_fields(raw, &mut fields);
                for rt in fields {
                    chunks.push(Chunk::plain(self.md(&rt, Mode::Paragraph)));
                }
                chunks.push(self.seq(kids));
                return Self::join(chunks);
            }
        };
        Chunk::plain(text)
    }
}

/// A display equation. Its lines are raw TeX, so a line that Markdown would read as block syntax
/// (`=`/`-` setext underline, `#`, `>`, `1.`, `<div`...) is prefixed with `{}`, an empty TeX group.
fn equation(expression: &str) -> String {
    let lines: Vec<String> = clean_text(expression)
        .split(['\n', '\r'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let first = l.chars().next().unwrap_or(' ');
            if first.is_alphabetic() || first == '\\' || first == '{' {
                l.to_string()
            } else {
                format!("{{}}{l}")
            }
        })
        .collect();
    if lines.is_empty() {
        return comment("empty equation");
    }
    format!("$$\n{}\n$$", lines.join("\n"))
}

fn longest_backticks(s: &str) -> usize {
    let (mut best, mut cur) = (0, 0);
    for c in s.chars() {
        if c == '`' {
            cur += 1;
            best = best.max(cur);
        } else {
            cur = 0;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_match_github() {
        assert_eq!(slugify("Hello, World!"), "hello-world");
        assert_eq!(slugify("  C++ & Rust_2026 "), "c--rust_2026");
        assert_eq!(slugify("Ünïcode Überschrift"), "ünïcode-überschrift");
        assert_eq!(slugify("🎉 Party"), "-party");
    }

    #[test]
    fn toc_dedupes_anchors_against_the_title_and_clamps_nesting() {
        let hs = vec![(2, "Intro".to_string()), (5, "Deep".to_string()), (2, "Intro".to_string())];
        assert_eq!(toc("Intro", &hs), "- [Intro](#intro-1)\n  - [Deep](#deep)\n- [Intro](#intro-2)");
    }

    #[test]
    fn file_names_come_from_the_url_path_without_query() {
        assert_eq!(url_file_name("https://s3/x/My%20File.pdf?X-Amz-Signature=abc").as_deref(), Some("My File.pdf"));
        assert_eq!(url_file_name("https://s3/x/%E2%82%AC.png").as_deref(), Some("€.png"));
        assert_eq!(url_file_name("https://s3/x/50%").as_deref(), Some("50%"));
        assert_eq!(url_file_name("https://s3/x/"), None);
    }

    #[test]
    fn comments_cannot_be_closed_early() {
        assert_eq!(comment("a --> b\nc"), "<!-- a - -&gt; b c -->");
    }

    #[test]
    fn prefixes_leave_blank_lines_without_trailing_space() {
        assert_eq!(prefix_lines("a\n\nb", "> ", "> ", ">"), "> a\n>\n> b");
        assert_eq!(prefix_lines("a\nb", "- ", "  ", ""), "- a\n  b");
    }

    #[test]
    fn risky_equation_lines_get_an_empty_group() {
        assert_eq!(equation("a = b\n= c\n\n# d\n\\e"), "$$\na = b\n{}= c\n{}# d\n\\e\n$$");
        assert_eq!(equation(" \n "), "<!-- empty equation -->");
    }
}
