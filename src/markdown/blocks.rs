//! Block trees to Markdown: paragraphs, headings, lists nested to any depth, toggles, quotes,
//! callouts, code, tables, media, links and the containers (columns, synced blocks, tabs).
//!
//! Every block type produces visible output or an HTML comment naming it: nothing is dropped
//! silently. Nesting is done by rendering children to text and prefixing their lines (list
//! indentation, `> ` for quotes), so any depth works. Pure: no I/O.

use std::collections::HashSet;

use super::front_matter::{file_target, FileTarget};
use super::inline::{
    escape_html, escape_text, link_dest, notion_url, render, rich_text_to_html, rich_text_to_plain, Mode,
};
use super::{MediaKey, RenderContext};
use crate::notion::model::{
    plain_text, Block, BlockKind, Code, FileObject, Icon, LinkToPage, MediaBlock, RichText, Table, TableRow,
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

fn item_text(b: &Block) -> &[RichText] {
    match &b.kind {
        BlockKind::BulletedListItem(t) => &t.rich_text,
        BlockKind::ToDo(t) => &t.rich_text,
        BlockKind::NumberedListItem(t) => &t.rich_text,
        _ => &[],
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
        lines.push(format!("{}- [{label}]({})", "  ".repeat(depth), link_dest(&format!("#{slug}"))));
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
}

impl<'c, 'a> Renderer<'c, 'a> {
    pub fn new(ctx: &'c RenderContext<'a>, toc: Option<String>) -> Self {
        Renderer { ctx, headings: Vec::new(), has_toc: false, toc }
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
            let mut text = self.md(item_text(item), Mode::Paragraph);
            if text.is_empty() {
                text = "&nbsp;".to_string();
            }
            let mut s = prefix_lines(&text, &marker, &pad, "");
            let kids = self.seq(&item.children);
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
            let text = self.md(item_text(item), Mode::Paragraph);
            let kids = self.seq(&item.children);
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

    fn quote(&mut self, head: String, children: &[Block]) -> String {
        let body = self.with_children(head, children).text;
        if body.is_empty() {
            return ">".to_string();
        }
        prefix_lines(&body, "> ", "> ", ">")
    }

    fn heading(&mut self, level: usize, rt: &[RichText], toggleable: bool, children: &[Block]) -> Chunk {
        let text = self.md(rt, Mode::Line);
        self.headings.push((level, rich_text_to_plain(rt, self.ctx)));
        let hashes = "#".repeat(level);
        let line = if text.is_empty() { hashes } else { format!("{hashes} {text}") };
        if toggleable {
            let summary = rich_text_to_html(rt, self.ctx);
            let d = self.details(&summary, children);
            Chunk::plain(format!("{line}\n\n{d}"))
        } else {
            self.with_children(line, children)
        }
    }

    fn icon_prefix(&self, icon: Option<&Icon>, block_id: &str) -> String {
        match icon {
            Some(Icon::Emoji(e)) => e.clone(),
            Some(Icon::File(f)) => match file_target(Some(&MediaKey::Block(block_id.to_string())), f, self.ctx) {
                FileTarget::Local(lf) => format!("<img src=\"{}\" alt=\"\" width=\"20\">", escape_html(&lf.path)),
                FileTarget::External(u) => {
                    format!("<img src=\"{}\" alt=\"\" width=\"20\">", escape_html(u))
                }
                FileTarget::Missing => String::new(),
            },
            Some(Icon::CustomEmoji { name: Some(n), .. }) => escape_text(&format!(":{n}:"), Mode::Line),
            _ => String::new(),
        }
    }

    fn code(&self, c: &Code) -> String {
        let code = plain_text(&c.rich_text).replace("\r\n", "\n").replace('\r', "\n");
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
        self.table_rows(t.has_column_header, t.table_width as usize, &rows)
    }

    fn table_rows(&self, header: bool, width: usize, rows: &[&TableRow]) -> String {
        let width = rows.iter().map(|r| r.cells.len()).chain([width, 1]).max().unwrap_or(1);
        let line = |cells: &[Vec<RichText>]| {
            let mut s = String::from("|");
            for i in 0..width {
                let cell = cells.get(i).map(|c| self.md(c, Mode::TableCell)).unwrap_or_default();
                s.push(' ');
                s.push_str(&cell);
                s.push_str(" |");
            }
            s
        };
        let mut out = Vec::with_capacity(rows.len() + 2);
        let body = if header && !rows.is_empty() {
            out.push(line(&rows[0].cells));
            &rows[1..]
        } else {
            out.push(line(&[]));
            rows
        };
        out.push(format!("|{}", " --- |".repeat(width)));
        for r in body {
            out.push(line(&r.cells));
        }
        out.join("\n")
    }

    fn link_line(&self, label: &str, url: &str) -> String {
        let l = escape_text(label, Mode::Line);
        let l = if l.is_empty() { escape_text(url, Mode::Line) } else { l };
        format!("[{l}]({})", link_dest(url))
    }

    fn page_ref(&self, id: &str, fallback_title: &str) -> String {
        let title = self.ctx.title(id).filter(|t| !t.trim().is_empty()).unwrap_or(fallback_title);
        let title = if title.trim().is_empty() { "Untitled" } else { title };
        match self.ctx.link(id) {
            Some(l) => self.link_line(title, &l),
            None => escape_text(title, Mode::Line),
        }
    }

    fn media(&self, b: &Block, m: &MediaBlock, what: &str) -> String {
        let caption = rich_text_to_plain(&m.caption, self.ctx).trim().to_string();
        let caption_md = self.md(&m.caption, Mode::Paragraph);
        let name = m.name.clone().filter(|n| !n.trim().is_empty());
        let is_image = matches!(b.kind, BlockKind::Image(_));
        match file_target(Some(&MediaKey::Block(b.id.clone())), &m.file, self.ctx) {
            FileTarget::Local(lf) if is_image => {
                let p = escape_html(&lf.path);
                let width = match lf.width {
                    Some(w) if w > 300 => " width=\"300\"",
                    _ => "",
                };
                format!(
                    "<p align=\"center\"><a href=\"{p}\"><img src=\"{p}\" alt=\"{}\"{width}></a></p>",
                    escape_html(&caption)
                )
            }
            FileTarget::Local(lf) => {
                let label = name.or_else(|| url_file_name(&lf.path)).unwrap_or_else(|| lf.path.clone());
                let mut s = self.link_line(&label, &lf.path);
                if !caption_md.is_empty() {
                    s.push_str(" — ");
                    s.push_str(&caption_md);
                }
                s
            }
            FileTarget::External(url) => {
                let label = if caption.is_empty() { name.unwrap_or_else(|| url.to_string()) } else { caption };
                self.link_line(&label, url)
            }
            FileTarget::Missing => {
                let file = name
                    .or_else(|| m.file.url().and_then(url_file_name))
                    .or_else(|| match &m.file {
                        FileObject::Upload { id } => Some(format!("upload {id}")),
                        _ => None,
                    })
                    .unwrap_or_else(|| "unnamed file".to_string());
                let mut s = format!(
                    "**Missing {what}:** {} (stored in Notion, not downloaded)",
                    escape_text(&file, Mode::Line)
                );
                if !caption_md.is_empty() {
                    s.push_str(" — ");
                    s.push_str(&caption_md);
                }
                s
            }
        }
    }

    fn block(&mut self, b: &Block) -> Chunk {
        use BlockKind as B;
        let kids = &b.children;
        let text = match &b.kind {
            B::Paragraph(t) => {
                let head = self.md(&t.rich_text, Mode::Paragraph);
                return self.with_children(head, kids);
            }
            B::Heading1(h) => return self.heading(2, &h.rich_text, h.is_toggleable, kids),
            B::Heading2(h) => return self.heading(3, &h.rich_text, h.is_toggleable, kids),
            B::Heading3(h) => return self.heading(4, &h.rich_text, h.is_toggleable, kids),
            B::Heading4(h) => return self.heading(5, &h.rich_text, h.is_toggleable, kids),
            B::BulletedListItem(_) => return self.list(ListKind::Bullet, std::slice::from_ref(b)),
            B::ToDo(_) => return self.list(ListKind::Todo, std::slice::from_ref(b)),
            B::NumberedListItem(_) => return self.list(ListKind::Numbered, std::slice::from_ref(b)),
            B::Toggle(t) => {
                let summary = rich_text_to_html(&t.rich_text, self.ctx);
                self.details(&summary, kids)
            }
            B::Quote(t) => {
                let head = self.md(&t.rich_text, Mode::Paragraph);
                self.quote(head, kids)
            }
            B::Callout(c) => {
                let icon = self.icon_prefix(c.icon.as_ref(), &b.id);
                let text = self.md(&c.rich_text, Mode::Paragraph);
                let head = match (icon.is_empty(), text.is_empty()) {
                    (true, _) => text,
                    (false, true) => icon,
                    (false, false) => format!("{icon} {text}"),
                };
                self.quote(head, kids)
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
            B::TableRow(r) => self.table_rows(false, r.cells.len(), &[r]),
            B::ColumnList | B::Column { .. } | B::SyncedBlock { .. } => return self.seq(kids),
            B::Tab => {
                let mut chunks = Vec::new();
                for item in kids {
                    match &item.kind {
                        B::Paragraph(t) => {
                            chunks.push(self.heading(4, &t.rich_text, false, &[]));
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
                    let title = self.ctx.title(id).filter(|t| !t.trim().is_empty());
                    match (self.ctx.link(id), title) {
                        (Some(link), t) => self.link_line(t.unwrap_or("Untitled"), &link),
                        (None, t) => self.link_line(t.unwrap_or(&notion_url(id)), &notion_url(id)),
                    }
                }
                LinkToPage::Comment(id) => comment(&format!("link to comment {id}")),
                LinkToPage::Unknown(_) => comment("link_to_page with an unknown target"),
            },
            B::LinkPreview { url } => self.link_line(url, url),
            B::Bookmark(l) | B::Embed(l) => {
                let caption = rich_text_to_plain(&l.caption, self.ctx);
                if l.url.is_empty() {
                    let what = b.type_name();
                    let c = escape_text(&caption, Mode::Paragraph);
                    if c.is_empty() {
                        comment(&format!("empty {what}"))
                    } else {
                        c
                    }
                } else {
                    self.link_line(caption.trim(), &l.url)
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
            B::Unknown { kind, .. } => {
                let head = comment(&format!("unknown block type: {kind}"));
                return self.with_children(head, kids);
            }
        };
        Chunk::plain(text)
    }
}

/// A display equation. Its lines are raw TeX, so a line that Markdown would read as block syntax
/// (`=`/`-` setext underline, `#`, `>`, `1.`, `<div`...) is prefixed with `{}`, an empty TeX group.
fn equation(expression: &str) -> String {
    let lines: Vec<String> = expression
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
