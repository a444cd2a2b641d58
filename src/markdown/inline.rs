//! Rich text runs to inline Markdown, inline HTML (for `<summary>`) and plain text.
//!
//! Owns escaping: every character of user text is emitted so that it renders as written, never as
//! Markdown or HTML syntax. Annotations become `**`/`*`/`~~` only when CommonMark's flanking rules
//! guarantee they parse; otherwise the same run is wrapped in `<strong>`/`<em>`/`<del>`. Underline
//! is `<ins>` (GitHub's sanitizer strips `<u>`), a background colour is `<mark>` (kept by GitHub's
//! and Gitea's sanitizers alike), text colours are dropped. Inline equations use the
//! `` $`…`$ `` form, which GitHub and Gitea both read whatever follows the closing `$`. Links go
//! through [`super::safe`]: control characters never reach the output and a URL with another
//! scheme than http(s)/mailto/tel is shown as code, never as a link. Pure: no I/O.

use chrono::{DateTime, NaiveDateTime, Timelike};

use super::safe::{self, clean_text, clean_url, is_safe_url};
use crate::ids;
use crate::markdown::RenderContext;
use crate::notion::model::{DateValue, Mention, RichText, RichTextKind};

/// The one label of a page or database whose title is not known (Notion's own word for it).
pub const UNTITLED: &str = "Untitled";

/// Where the inline text goes; decides how a newline inside a run is written.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Mode {
    /// A paragraph or list item: newline -> hard line break (`\` + newline).
    Paragraph,
    /// A heading or other one-line context: newline -> space.
    Line,
    /// A GFM table cell: newline -> `<br>`, `|` always escaped.
    TableCell,
}

/// The annotations that change rendering (text colours are dropped on purpose; background
/// colours are `highlight`).
#[derive(Clone, Copy, PartialEq, Eq, Default, Debug)]
struct Marks {
    bold: bool,
    italic: bool,
    strike: bool,
    underline: bool,
    highlight: bool,
    code: bool,
}

impl Marks {
    fn any(self) -> bool {
        self.bold || self.italic || self.strike || self.underline || self.highlight || self.code
    }

    /// Wrapped in an HTML element whatever the Markdown markers do (`<mark>`, `<ins>`).
    fn tagged(self) -> bool {
        self.underline || self.highlight
    }
}

/// Where a link points: a URL as Notion gave it, or a path of the repository (from
/// `RenderContext::links`), which is percent-encoded in the output.
#[derive(Clone, PartialEq, Debug)]
pub(crate) enum Target {
    Url(String),
    Path(String),
}

impl Target {
    /// A target handed in by `RenderContext::link`: a URL when it has a scheme, else a path.
    pub(crate) fn from_link(l: &str) -> Target {
        if l.contains("://") {
            Target::Url(l.to_string())
        } else {
            Target::Path(l.to_string())
        }
    }

    /// Whether it may be a clickable link ([`safe::is_safe_url`]; paths are always ours).
    pub(crate) fn is_safe(&self) -> bool {
        match self {
            Target::Url(u) => is_safe_url(u),
            Target::Path(_) => true,
        }
    }

    /// The Markdown link destination.
    pub(crate) fn dest(&self) -> String {
        match self {
            Target::Url(u) => safe::url_dest(u),
            Target::Path(p) => safe::path_dest(p),
        }
    }

    /// The value of an HTML `href`/`src` attribute (escaped).
    pub(crate) fn href(&self) -> String {
        match self {
            Target::Url(u) => escape_html(&clean_url(u)),
            Target::Path(p) => escape_html(&safe::path_dest(p)),
        }
    }

    /// The text a reader sees when the target is shown instead of linked.
    pub(crate) fn text(&self) -> String {
        match self {
            Target::Url(u) => clean_url(u).into_owned(),
            Target::Path(p) => p.clone(),
        }
    }
}

#[derive(Clone, PartialEq, Debug)]
enum Content {
    Text(String),
    Equation(String),
}

/// One rich-text run reduced to what rendering needs: marks, an optional link and content.
#[derive(Clone, Debug)]
struct Atom {
    marks: Marks,
    link: Option<Target>,
    content: Content,
}

/// Notion's web URL for a page/database id.
pub fn notion_url(id: &str) -> String {
    format!("https://www.notion.so/{}", ids::normalize(id))
}

/// A readable date or time for text (mentions, README tables, CSV cells): `2024-05-01` stays,
/// `2024-05-01T10:00:00.000+00:00` is `2024-05-01 10:00`, another offset is added
/// (`2024-05-01 10:00 +02:00`) unless `zone_named` (a time zone name follows); seconds only when
/// they are not zero. Text that is not a date is returned as it is.
pub fn readable_time(iso: &str, zone_named: bool) -> String {
    let iso = iso.trim();
    let clock = |t: &dyn Fn(&str) -> String, secs: u32| {
        if secs == 0 {
            t("%Y-%m-%d %H:%M")
        } else {
            t("%Y-%m-%d %H:%M:%S")
        }
    };
    if let Ok(dt) = DateTime::parse_from_rfc3339(iso) {
        let mut s = clock(&|f| dt.format(f).to_string(), dt.second());
        if dt.offset().local_minus_utc() != 0 && !zone_named {
            s.push(' ');
            s.push_str(&dt.format("%:z").to_string());
        }
        return s;
    }
    if let Ok(dt) = NaiveDateTime::parse_from_str(iso, "%Y-%m-%dT%H:%M:%S%.f") {
        return clock(&|f| dt.format(f).to_string(), dt.second());
    }
    clean_text(iso).into_owned()
}

/// `start`, `start → end`, readable ([`readable_time`]), with ` (time zone)` when given.
pub fn format_date(d: &DateValue) -> String {
    let tz = d.time_zone.as_deref().map(str::trim).filter(|t| !t.is_empty());
    let mut s = readable_time(&d.start, tz.is_some());
    if let Some(end) = d.end.as_deref().filter(|e| !e.trim().is_empty()) {
        s.push_str(" → ");
        s.push_str(&readable_time(end, tz.is_some()));
    }
    if let Some(tz) = tz {
        s.push_str(" (");
        s.push_str(&clean_text(tz));
        s.push(')');
    }
    s
}

/// Target of a page/database reference: the backup's relative link when known, else Notion's URL.
fn page_link(id: &str, ctx: &RenderContext) -> Target {
    match ctx.link(id) {
        Some(l) => Target::from_link(&l),
        None => Target::Url(notion_url(id)),
    }
}

/// The page id at the end of a Notion link path (`Title-<32 hex>`, a dashed UUID), if any.
fn trailing_id(path: &str) -> Option<String> {
    let last = path.split(['#', '?']).next().unwrap_or("").trim_end_matches('/').rsplit('/').next()?;
    let compact = ids::normalize(last);
    if compact.len() < 32 || !compact.is_char_boundary(compact.len() - 32) {
        return None;
    }
    let tail = &compact[compact.len() - 32..];
    tail.bytes().all(|b| b.is_ascii_hexdigit()).then(|| tail.to_string())
}

/// Whether `url` is a page link on Notion's own sites (`www.notion.so`, `<workspace>.notion.site`).
fn notion_page_path(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"))?;
    let (host, path) = rest.split_once('/')?;
    let host = host.to_ascii_lowercase();
    let ours = host == "notion.so" || host == "www.notion.so" || host.ends_with(".notion.site");
    ours.then_some(path)
}

/// A text link as Notion stores it. Links to other Notion pages come as `/<id>` (sometimes with a
/// `#block` fragment) or as a pasted `https://www.notion.so/...-<id>` link: point them at the
/// backup when it is known, else at Notion.
fn resolve_href(url: &str, ctx: &RenderContext) -> Target {
    let url = clean_url(url);
    if let Some(path) = url.strip_prefix('/').filter(|p| !p.starts_with('/')) {
        if let Some(id) = trailing_id(path) {
            if let Some(l) = ctx.link(&id) {
                return Target::from_link(&l);
            }
        }
        return Target::Url(format!("https://www.notion.so{url}"));
    }
    if let Some(id) = notion_page_path(&url).and_then(trailing_id) {
        if let Some(l) = ctx.link(&id) {
            return Target::from_link(&l);
        }
    }
    Target::Url(url.into_owned())
}

/// Whether a Notion colour name is a background colour (`yellow_background`).
pub(crate) fn is_background(color: &str) -> bool {
    color.ends_with("_background")
}

fn marks_of(r: &RichText) -> Marks {
    let a = &r.annotations;
    Marks {
        bold: a.bold,
        italic: a.italic,
        strike: a.strikethrough,
        underline: a.underline,
        highlight: is_background(&a.color),
        code: a.code,
    }
}

fn mention_atom(m: &Mention, r: &RichText, ctx: &RenderContext) -> (String, Option<Target>) {
    let plain = || r.plain_text.clone();
    let titled = |id: &str| {
        let t = ctx.title(id).map(str::to_string).filter(|t| !t.trim().is_empty());
        let t = t.or_else(|| Some(r.plain_text.clone()).filter(|t| !t.trim().is_empty()));
        (t.unwrap_or_else(|| UNTITLED.to_string()), Some(page_link(id, ctx)))
    };
    match m {
        Mention::User(u) => {
            let name = ctx
                .user(&u.id)
                .map(str::to_string)
                .or_else(|| u.name.clone().filter(|n| !n.is_empty()))
                .or_else(|| Some(r.plain_text.trim_start_matches('@').to_string()).filter(|n| !n.is_empty()))
                .unwrap_or_else(|| u.id.clone());
            (format!("@{name}"), None)
        }
        Mention::Page { id } | Mention::Database { id } | Mention::DataSource { id } => titled(id),
        Mention::Date(d) => (format_date(d), None),
        Mention::LinkPreview { url } => {
            (url.clone(), Some(url).filter(|u| !u.is_empty()).map(|u| resolve_href(u, ctx)))
        }
        Mention::LinkMention { href, title } => (
            title.clone().filter(|t| !t.is_empty()).unwrap_or_else(|| href.clone()),
            Some(href).filter(|u| !u.is_empty()).map(|u| resolve_href(u, ctx)),
        ),
        Mention::TemplateMention { value } => {
            if r.plain_text.is_empty() {
                (format!("@{value}"), None)
            } else {
                (plain(), None)
            }
        }
        Mention::CustomEmoji { name, .. } => match name.as_deref().filter(|n| !n.is_empty()) {
            Some(n) => (format!(":{n}:"), None),
            None => (plain(), None),
        },
        Mention::Unknown { .. } => (plain(), None),
    }
}

fn atoms(rt: &[RichText], ctx: &RenderContext) -> Vec<Atom> {
    let mut out: Vec<Atom> = Vec::with_capacity(rt.len());
    for r in rt {
        let marks = marks_of(r);
        let (content, link) = match &r.kind {
            RichTextKind::Text { content, link } => {
                let href = link.as_ref().map(|l| l.url.as_str()).or(r.href.as_deref());
                let href = href.filter(|h| !clean_url(h).is_empty()).map(|h| resolve_href(h, ctx));
                (Content::Text(clean_text(content).into_owned()), href)
            }
            RichTextKind::Equation { expression } => (Content::Equation(clean_text(expression).into_owned()), None),
            RichTextKind::Mention(m) => {
                let (label, link) = mention_atom(m, r, ctx);
                (Content::Text(clean_text(&label).into_owned()), link)
            }
            RichTextKind::Unknown { .. } => (Content::Text(clean_text(&r.plain_text).into_owned()), None),
        };
        // Merge with the previous run when nothing but the text differs.
        if let (Some(prev), Content::Text(t)) = (out.last_mut(), &content) {
            if prev.marks == marks && prev.link == link {
                if let Content::Text(p) = &mut prev.content {
                    p.push_str(t);
                    continue;
                }
            }
        }
        out.push(Atom { marks, link, content });
    }
    out
}

/// Drop whitespace at both ends of the whole text (Markdown would drop it anyway, and a trailing
/// hard break would otherwise print a stray backslash).
fn trim_atoms(a: &mut Vec<Atom>) {
    while let Some(first) = a.first_mut() {
        match &mut first.content {
            Content::Text(t) => {
                let trimmed = t.trim_start();
                if trimmed.is_empty() {
                    a.remove(0);
                    continue;
                }
                if trimmed.len() != t.len() {
                    *t = trimmed.to_string();
                }
            }
            Content::Equation(_) => {}
        }
        break;
    }
    while let Some(last) = a.last_mut() {
        match &mut last.content {
            Content::Text(t) => {
                let trimmed = t.trim_end();
                if trimmed.is_empty() {
                    a.pop();
                    continue;
                }
                t.truncate(trimmed.len());
            }
            Content::Equation(_) => {}
        }
        break;
    }
}

/// Characters that may sit next to an emphasis marker whatever the parser's idea of Unicode
/// punctuation is: nothing (line start/end), whitespace or ASCII punctuation.
fn safe_outer(c: Option<char>) -> bool {
    match c {
        None => true,
        Some(c) => c.is_whitespace() || c.is_ascii_punctuation(),
    }
}

fn can_open(prev: Option<char>, first: char, marker: char) -> bool {
    !first.is_whitespace() && prev != Some(marker) && (first.is_alphanumeric() || safe_outer(prev))
}

fn can_close(last: char, next: Option<char>, marker: char) -> bool {
    !last.is_whitespace() && next != Some(marker) && (last.is_alphanumeric() || safe_outer(next))
}

/// Markdown markers for a set of marks, or `None` when the combination needs HTML tags.
fn md_marker(m: Marks) -> Option<&'static str> {
    match (m.bold, m.italic, m.strike) {
        (false, false, false) => Some(""),
        (true, false, false) => Some("**"),
        (false, true, false) => Some("*"),
        (true, true, false) => Some("***"),
        (false, false, true) => Some("~~"),
        _ => None,
    }
}

/// Writes inline Markdown, tracking whether the next character starts a line.
struct Emitter {
    out: String,
    mode: Mode,
    at_line_start: bool,
    /// Stand-in for the previous character while `out` is still empty.
    prev_hint: Option<char>,
}

impl Emitter {
    fn new(mode: Mode, at_line_start: bool, prev_hint: Option<char>) -> Self {
        Emitter { out: String::new(), mode, at_line_start, prev_hint }
    }

    fn prev(&self) -> Option<char> {
        self.out.chars().next_back().or(self.prev_hint)
    }

    /// Append already-rendered Markdown. A raw `!` followed by `[` would make an image.
    fn push_raw(&mut self, s: &str) {
        if s.starts_with('[') && self.out.ends_with('!') {
            self.out.pop();
            self.out.push_str("\\!");
        }
        self.out.push_str(s);
        if !s.is_empty() {
            self.at_line_start = s.ends_with('\n');
        }
    }

    fn newline(&mut self) {
        match self.mode {
            Mode::Paragraph => {
                self.out.push_str("\\\n");
                self.at_line_start = true;
            }
            Mode::Line => self.out.push(' '),
            Mode::TableCell => self.out.push_str("<br>"),
        }
    }

    /// Escape plain text so that it renders exactly as written (control characters dropped).
    fn push_text(&mut self, s: &str) {
        let cleaned = clean_text(s);
        let s: &str = &cleaned;
        self.out.reserve(s.len());
        let mut it = s.char_indices().peekable();
        while let Some((i, c)) = it.next() {
            let next = it.peek().map(|&(_, n)| n);
            if c == '\r' {
                if next != Some('\n') {
                    self.newline();
                }
                continue;
            }
            if c == '\n' {
                self.newline();
                continue;
            }
            if self.at_line_start && (c == ' ' || c == '\t') && self.mode == Mode::Paragraph {
                continue;
            }
            if self.at_line_start && c.is_ascii_digit() {
                // `12. ` / `3) ` would start an ordered list.
                let rest = &s[i..];
                let n = rest.bytes().take_while(u8::is_ascii_digit).count();
                if let Some(p @ (b'.' | b')')) = rest.as_bytes().get(n).copied() {
                    self.out.push_str(&rest[..n]);
                    self.out.push('\\');
                    self.out.push(p as char);
                    self.at_line_start = false;
                    for _ in 0..n {
                        it.next();
                    }
                    continue;
                }
            }
            let escape = match c {
                '\\' | '`' | '*' | '[' | ']' | '<' | '~' | '$' => true,
                '|' => self.at_line_start || self.mode == Mode::TableCell,
                '_' => !(self.prev().is_some_and(char::is_alphanumeric) && next.is_some_and(char::is_alphanumeric)),
                '&' => next.is_none_or(|n| n.is_alphanumeric() || n == '#'),
                '#' => self.at_line_start || self.prev().is_none_or(char::is_whitespace),
                '>' | '+' | '-' | '=' | ':' => self.at_line_start,
                _ => false,
            };
            if escape {
                self.out.push('\\');
            }
            self.out.push(c);
            self.at_line_start = false;
        }
    }

    /// A code span per line (a code span cannot hold a line break).
    fn push_code(&mut self, s: &str) {
        let norm = s.replace("\r\n", "\n").replace('\r', "\n");
        let mut first = true;
        for line in norm.split('\n') {
            if !first {
                self.newline();
            }
            first = false;
            if line.is_empty() {
                continue;
            }
            let content = if self.mode == Mode::TableCell { line.replace('|', "\\|") } else { line.to_string() };
            let fence = "`".repeat(longest_run(&content, '`') + 1);
            let pad = content.starts_with('`')
                || content.ends_with('`')
                || (content.starts_with(' ') && content.ends_with(' ') && content.trim() != "");
            let sp = if pad { " " } else { "" };
            self.push_raw(&format!("{fence}{sp}{content}{sp}{fence}"));
        }
    }

    /// `` $`…`$ ``: GitHub and Gitea read it as math wherever it stands (Gitea does not close
    /// `$…$` before a letter or digit), and its content needs no escaping. An expression holding
    /// backticks gets a longer fence, padded with spaces, as a code span would.
    fn push_equation(&mut self, expr: &str) {
        let e: String = clean_text(expr).chars().map(|c| if c == '\n' || c == '\r' { ' ' } else { c }).collect();
        let e = e.trim();
        if e.is_empty() {
            return;
        }
        let e = if self.mode == Mode::TableCell { e.replace('|', "\\|") } else { e.to_string() };
        let fence = "`".repeat(longest_run(&e, '`') + 1);
        let sp = if e.contains('`') { " " } else { "" };
        self.push_raw(&format!("${fence}{sp}{e}{sp}{fence}$"));
    }

    /// One atom; `text` replaces the atom's text (for trimmed segment edges).
    fn push_atom(&mut self, a: &Atom, text: Option<&str>) {
        let body = |e: &mut Emitter| match (&a.content, a.marks.code) {
            (Content::Text(t), true) => e.push_code(text.unwrap_or(t)),
            (Content::Text(t), false) => e.push_text(text.unwrap_or(t)),
            (Content::Equation(x), _) => e.push_equation(x),
        };
        match &a.link {
            Some(target) if target.is_safe() => {
                let mut inner = Emitter::new(self.mode, self.at_line_start, Some('['));
                body(&mut inner);
                let mut label = inner.out;
                if label.is_empty() {
                    let mut e = Emitter::new(self.mode, false, Some('['));
                    e.push_text(&target.text());
                    label = e.out;
                }
                self.push_raw(&format!("[{label}]({})", target.dest()));
            }
            Some(target) => {
                // Not a link: the label, then the URL as code, so a reader sees where it led.
                let url = target.text();
                let label_is_url = matches!(&a.content, Content::Text(t) if text.unwrap_or(t).trim() == url);
                if !label_is_url {
                    let before = self.out.len();
                    body(self);
                    if self.out.len() > before {
                        self.push_raw(" ");
                    }
                }
                self.push_code(&url);
            }
            None => body(self),
        }
    }

    /// Emit atoms that share `marks`, wrapping them once. `next` is the first character that will
    /// follow this segment (for the flanking check).
    fn push_segment(&mut self, marks: Marks, seg: &[Atom], next: Option<char>) {
        let wrapped = Marks { code: false, ..marks };
        if !wrapped.any() {
            for a in seg {
                self.push_atom(a, None);
            }
            return;
        }
        // Whitespace goes outside the markers: `** bold**` does not parse.
        let last_i = seg.len() - 1;
        let edge = |i: usize| match &seg[i].content {
            Content::Text(t) => Some(t.as_str()),
            Content::Equation(_) => None,
        };
        let lead = edge(0).map(|t| &t[..t.len() - t.trim_start().len()]).unwrap_or("");
        let trail = edge(last_i).map(|t| &t[t.trim_end().len()..]).unwrap_or("");
        self.push_text(lead);
        let marker = md_marker(wrapped);
        let mchar = marker.and_then(|m| m.chars().next());
        let mut inner = Emitter::new(self.mode, self.at_line_start, mchar.or(Some('>')));
        for (i, a) in seg.iter().enumerate() {
            let text = edge(i).map(|t| {
                let t = if i == 0 { t.trim_start() } else { t };
                if i == last_i {
                    t.trim_end()
                } else {
                    t
                }
            });
            if text == Some("") {
                continue;
            }
            inner.push_atom(a, text);
        }
        if inner.out.is_empty() {
            self.push_text(trail);
            return;
        }
        let first = inner.out.chars().next().unwrap_or(' ');
        let last = inner.out.chars().next_back().unwrap_or(' ');
        let after = trail.chars().next().or(next);
        let md = match (marker, mchar) {
            (Some(m), Some(mc)) => {
                let p = if wrapped.tagged() { Some('>') } else { self.prev() };
                let n = if wrapped.tagged() { Some('<') } else { after };
                (can_open(p, first, mc) && can_close(last, n, mc)).then_some(m)
            }
            _ => None,
        };
        let mut s = String::new();
        if wrapped.highlight {
            s.push_str("<mark>");
        }
        if wrapped.underline {
            s.push_str("<ins>");
        }
        match md {
            Some(m) => s.push_str(m),
            None => {
                if wrapped.bold {
                    s.push_str("<strong>");
                }
                if wrapped.italic {
                    s.push_str("<em>");
                }
                if wrapped.strike {
                    s.push_str("<del>");
                }
            }
        }
        s.push_str(&inner.out);
        match md {
            Some(m) => s.push_str(m),
            None => {
                if wrapped.strike {
                    s.push_str("</del>");
                }
                if wrapped.italic {
                    s.push_str("</em>");
                }
                if wrapped.bold {
                    s.push_str("</strong>");
                }
            }
        }
        if wrapped.underline {
            s.push_str("</ins>");
        }
        if wrapped.highlight {
            s.push_str("</mark>");
        }
        self.push_raw(&s);
        self.at_line_start = false;
        self.push_text(trail);
    }
}

fn longest_run(s: &str, ch: char) -> usize {
    let (mut best, mut cur) = (0, 0);
    for c in s.chars() {
        if c == ch {
            cur += 1;
            best = best.max(cur);
        } else {
            cur = 0;
        }
    }
    best
}

/// First character a segment will print (approximate, see [`Emitter::push_segment`]): what the
/// closing marker of the segment before it must be checked against.
fn first_char(marks: Marks, seg: &[Atom]) -> Option<char> {
    let a = seg.first()?;
    let first_text = match &a.content {
        Content::Text(t) => t.chars().next(),
        Content::Equation(_) => Some('$'),
    };
    if first_text.is_some_and(char::is_whitespace) {
        return first_text;
    }
    let wrapped = Marks { code: false, ..marks };
    if wrapped.tagged() {
        return Some('<');
    }
    if wrapped.any() {
        return Some(md_marker(wrapped).and_then(|m| m.chars().next()).unwrap_or('<'));
    }
    if a.link.is_some() {
        return Some('[');
    }
    if marks.code {
        return Some('`');
    }
    first_text
}

pub(crate) fn render(rt: &[RichText], ctx: &RenderContext, mode: Mode) -> String {
    let mut a = atoms(rt, ctx);
    trim_atoms(&mut a);
    let mut segs: Vec<(Marks, Vec<Atom>)> = Vec::new();
    for atom in a {
        match segs.last_mut() {
            Some((m, v)) if *m == atom.marks => v.push(atom),
            _ => segs.push((atom.marks, vec![atom])),
        }
    }
    let mut e = Emitter::new(mode, true, None);
    for i in 0..segs.len() {
        let next = segs.get(i + 1).and_then(|(m, s)| first_char(*m, s));
        let (m, s) = &segs[i];
        e.push_segment(*m, s, next);
    }
    e.out
}

/// Rich text as inline Markdown for a paragraph (line breaks kept as hard breaks).
pub fn rich_text_to_markdown(rt: &[RichText], ctx: &RenderContext) -> String {
    render(rt, ctx, Mode::Paragraph)
}

/// Escape plain text as inline Markdown in the given mode.
pub(crate) fn escape_text(s: &str, mode: Mode) -> String {
    let mut e = Emitter::new(mode, true, None);
    e.push_text(clean_text(s).trim());
    e.out
}

/// `[label](target)` for a label of plain text; a target that may not be a link
/// ([`Target::is_safe`]) is shown as code after the label instead.
pub(crate) fn link_text(label: &str, target: &Target, mode: Mode) -> String {
    let mut e = Emitter::new(mode, true, None);
    let atom = Atom { marks: Marks::default(), link: Some(target.clone()), content: Content::Text(label.to_string()) };
    let label = clean_text(label);
    let label = label.trim();
    e.push_atom(&atom, Some(label));
    e.out
}

/// Text in bold for a context with space (or a cell edge) on both sides: `**…**` when the
/// markers are sure to parse, else `<strong>…</strong>`. `md` is already inline Markdown.
pub(crate) fn strong(md: &str) -> String {
    let (Some(first), Some(last)) = (md.chars().next(), md.chars().next_back()) else {
        return String::new();
    };
    let risky = |c: char| c.is_whitespace() || c == '*' || c == '_';
    if risky(first) || risky(last) || md.ends_with('\\') {
        format!("<strong>{md}</strong>")
    } else {
        format!("**{md}**")
    }
}

/// Rich text as readable plain text: mentions resolved to names/titles, no markup.
pub fn rich_text_to_plain(rt: &[RichText], ctx: &RenderContext) -> String {
    let mut s = String::new();
    for a in atoms(rt, ctx) {
        match a.content {
            Content::Text(t) => s.push_str(&t),
            Content::Equation(e) => s.push_str(&e),
        }
    }
    s
}

/// Escape text for HTML element content or a double-quoted attribute (control characters
/// dropped).
pub fn escape_html(s: &str) -> String {
    let s = clean_text(s);
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            '\n' => o.push_str("&#10;"),
            '\r' => o.push_str("&#13;"),
            c => o.push(c),
        }
    }
    o
}

/// Rich text as inline HTML on one line (used inside `<summary>`, where Markdown is not parsed).
pub fn rich_text_to_html(rt: &[RichText], ctx: &RenderContext) -> String {
    let mut a = atoms(rt, ctx);
    trim_atoms(&mut a);
    let mut s = String::new();
    for atom in a {
        let text = match &atom.content {
            Content::Text(t) => t.clone(),
            Content::Equation(e) => format!("${e}$"),
        };
        let mut inner =
            escape_html(&text).replace("&#13;&#10;", "<br>").replace("&#10;", "<br>").replace("&#13;", "<br>");
        let m = atom.marks;
        let tags: [(bool, &str); 6] = [
            (m.code, "code"),
            (m.strike, "del"),
            (m.italic, "em"),
            (m.bold, "strong"),
            (m.underline, "ins"),
            (m.highlight, "mark"),
        ];
        for (on, tag) in tags {
            if on {
                inner = format!("<{tag}>{inner}</{tag}>");
            }
        }
        match &atom.link {
            Some(t) if t.is_safe() => inner = format!("<a href=\"{}\">{inner}</a>", t.href()),
            Some(t) => {
                let code = format!("<code>{}</code>", escape_html(&t.text()));
                inner =
                    if text.trim().is_empty() || text.trim() == t.text() { code } else { format!("{inner} {code}") };
            }
            None => {}
        }
        s.push_str(&inner);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notion::model::{Annotations, Link};
    use std::collections::HashMap;

    fn run(content: &str, link: Option<&str>, ann: Annotations) -> RichText {
        RichText {
            plain_text: content.to_string(),
            href: None,
            annotations: ann,
            kind: RichTextKind::Text { content: content.to_string(), link: link.map(|u| Link { url: u.to_string() }) },
        }
    }

    fn bold() -> Annotations {
        Annotations { bold: true, ..Annotations::default() }
    }

    #[test]
    fn notion_relative_link_with_non_ascii_does_not_panic() {
        // Found by the property test: a `/`-link whose tail is not ASCII was byte-sliced.
        // 4 + 31 bytes: the 32-byte tail starts inside the first character.
        let url = format!("/\u{ba933}{}", "a".repeat(31));
        let md = rich_text_to_markdown(&[run("x", Some(&url), Annotations::default())], &RenderContext::default());
        assert!(md.starts_with("[x](https://www.notion.so/"), "{md}");
    }

    #[test]
    fn notion_page_link_points_at_the_backup() {
        let id = "1f2e3d4c5b6a79881f2e3d4c5b6a7988";
        let links = HashMap::from([(id.to_string(), "../p/index.md".to_string())]);
        let ctx = RenderContext { links: Some(&links), ..RenderContext::default() };
        let rt = [run("p", Some(&format!("/Title-{id}#block")), Annotations::default())];
        assert_eq!(rich_text_to_markdown(&rt, &ctx), "[p](../p/index.md)");
        let rt = [run("q", Some("/ffffffffffffffffffffffffffffffff"), Annotations::default())];
        assert_eq!(rich_text_to_markdown(&rt, &ctx), "[q](https://www.notion.so/ffffffffffffffffffffffffffffffff)");
    }

    #[test]
    fn adjacent_bold_runs_merge_and_whitespace_moves_outside() {
        let ctx = RenderContext::default();
        let rt = [run("a ", None, bold()), run("b", None, bold()), run(" c", None, Annotations::default())];
        assert_eq!(rich_text_to_markdown(&rt, &ctx), "**a b** c");
        let rt =
            [run("x", None, Annotations::default()), run(" y ", None, bold()), run("z", None, Annotations::default())];
        assert_eq!(rich_text_to_markdown(&rt, &ctx), "x **y** z");
    }

    #[test]
    fn markers_fall_back_to_html_when_flanking_fails() {
        let ctx = RenderContext::default();
        let rt =
            [run("a", None, Annotations::default()), run("(b)", None, bold()), run("c", None, Annotations::default())];
        assert_eq!(rich_text_to_markdown(&rt, &ctx), "a<strong>(b)</strong>c");
        let both = Annotations { bold: true, strikethrough: true, ..Annotations::default() };
        assert_eq!(rich_text_to_markdown(&[run("s", None, both)], &ctx), "<strong><del>s</del></strong>");
    }

    #[test]
    fn code_spans_fence_around_backticks_and_split_lines() {
        let ctx = RenderContext::default();
        let code = Annotations { code: true, ..Annotations::default() };
        assert_eq!(rich_text_to_markdown(&[run("a`b", None, code.clone())], &ctx), "``a`b``");
        assert_eq!(rich_text_to_markdown(&[run("`x", None, code.clone())], &ctx), "`` `x ``");
        assert_eq!(rich_text_to_markdown(&[run("a\nb", None, code)], &ctx), "`a`\\\n`b`");
    }

    #[test]
    fn line_start_syntax_is_escaped_only_where_needed() {
        assert_eq!(escape_text("1. a-b # c_d", Mode::Paragraph), "1\\. a-b \\# c_d");
        assert_eq!(escape_text("x\n> q\n- r", Mode::Paragraph), "x\\\n\\> q\\\n\\- r");
        assert_eq!(escape_text("a|b\nc", Mode::TableCell), "a\\|b<br>c");
        assert_eq!(escape_text("a\nb", Mode::Line), "a b");
    }

    #[test]
    fn readable_times_drop_milliseconds_and_utc() {
        assert_eq!(readable_time("2024-05-01", false), "2024-05-01");
        assert_eq!(readable_time("2024-05-01T10:00:00.000Z", false), "2024-05-01 10:00");
        assert_eq!(readable_time("2024-05-01T10:00:00.000+00:00", false), "2024-05-01 10:00");
        assert_eq!(readable_time("2024-05-01T10:00:30.000+02:00", false), "2024-05-01 10:00:30 +02:00");
        assert_eq!(readable_time("2024-05-01T10:00:00.000-05:30", true), "2024-05-01 10:00");
        assert_eq!(readable_time("2024-05-01T10:00:00", false), "2024-05-01 10:00");
        assert_eq!(readable_time("soon\u{1b}", false), "soon");
        let d = DateValue {
            start: "2026-02-01T10:00:00.000+01:00".into(),
            end: Some("2026-02-02".into()),
            time_zone: Some("Europe/Berlin".into()),
        };
        assert_eq!(format_date(&d), "2026-02-01 10:00 → 2026-02-02 (Europe/Berlin)");
    }

    #[test]
    fn pasted_notion_urls_point_at_the_backup() {
        let id = "1f2e3d4c5b6a79881f2e3d4c5b6a7988";
        let links = HashMap::from([(id.to_string(), "../p q/index.md".to_string())]);
        let ctx = RenderContext { links: Some(&links), ..RenderContext::default() };
        for url in [
            format!("https://www.notion.so/acme/Plan-{id}?pvs=4"),
            format!("https://acme.notion.site/Plan-{id}#block"),
            format!("https://notion.so/{}", crate::ids::dashed(id)),
        ] {
            let rt = [run("p", Some(&url), Annotations::default())];
            assert_eq!(rich_text_to_markdown(&rt, &ctx), "[p](../p%20q/index.md)", "{url}");
        }
        let rt = [run("e", Some(&format!("https://example.com/{id}")), Annotations::default())];
        assert_eq!(rich_text_to_markdown(&rt, &ctx), format!("[e](https://example.com/{id})"));
    }

    #[test]
    fn unsafe_link_targets_become_code() {
        let ctx = RenderContext::default();
        let rt = [run("click", Some("javascript:alert(1)"), Annotations::default())];
        assert_eq!(rich_text_to_markdown(&rt, &ctx), "click `javascript:alert(1)`");
        assert_eq!(rich_text_to_html(&rt, &ctx), "click <code>javascript:alert(1)</code>");
        let rt = [run("data:text/html,x", Some("data:text/html,x"), Annotations::default())];
        assert_eq!(rich_text_to_markdown(&rt, &ctx), "`data:text/html,x`");
    }
}
