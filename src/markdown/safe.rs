//! What may reach the generated files: control characters are removed from every text, only
//! http(s), mailto, tel and relative URLs become links, and link destinations are encoded so
//! that GitHub, Gitea and Obsidian all resolve them to the same file.
//!
//! Owns the three rules and nothing else: escaping of Markdown syntax stays in `inline`. Pure
//! string functions; never decodes or rewrites a URL beyond what the rules need (a URL Notion
//! gave stays that URL, a file name on disk stays that name; only its spelling in a link changes).

use std::borrow::Cow;

/// True for characters no generated text may hold: C0 controls except tab, newline and
/// carriage return, DEL, and the C1 controls.
fn is_dropped(c: char) -> bool {
    let u = c as u32;
    (u < 0x20 && !matches!(c, '\t' | '\n' | '\r')) || (0x7f..0xa0).contains(&u)
}

/// Vertical tab, form feed and NEL separate words; they become a space rather than vanish.
fn is_spacing_control(c: char) -> bool {
    matches!(c, '\u{0b}' | '\u{0c}' | '\u{85}')
}

/// Text with its control characters removed (tab, newline and carriage return are kept; vertical
/// tab, form feed and NEL become a space). Borrows when there is nothing to remove.
pub fn clean_text(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_dropped) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.chars()
            .filter_map(|c| {
                if is_spacing_control(c) {
                    Some(' ')
                } else if is_dropped(c) {
                    None
                } else {
                    Some(c)
                }
            })
            .collect(),
    )
}

/// A value that must stay on its own lines as plain data (YAML scalars, CSV fields): like
/// [`clean_text`], and line endings become `\n`.
pub fn clean_value(s: &str) -> Cow<'_, str> {
    let c = clean_text(s);
    if !c.contains('\r') {
        return c;
    }
    Cow::Owned(c.replace("\r\n", "\n").replace('\r', "\n"))
}

/// The last guarantee for a whole generated Markdown file: no control character but tab and
/// newline (a stray carriage return becomes a newline, which Markdown reads the same way).
pub fn clean_document(s: String) -> String {
    if !s.chars().any(|c| is_dropped(c) || c == '\r') {
        return s;
    }
    clean_value(&s).into_owned()
}

/// A URL as a browser reads it: ASCII tab and newlines removed wherever they are, other control
/// characters removed, leading and trailing spaces trimmed (the WHATWG URL parser does the same,
/// so `java\tscript:` is `javascript:`).
pub fn clean_url(url: &str) -> Cow<'_, str> {
    let trimmed = url.trim_matches(|c: char| c == ' ' || is_dropped(c) || matches!(c, '\t' | '\n' | '\r'));
    if !trimmed.chars().any(|c| is_dropped(c) || matches!(c, '\t' | '\n' | '\r')) {
        return Cow::Borrowed(trimmed);
    }
    Cow::Owned(trimmed.chars().filter(|c| !is_dropped(*c) && !matches!(c, '\t' | '\n' | '\r')).collect())
}

/// The scheme of `url` (before the first `:` when no `/`, `?` or `#` comes earlier), as written.
fn scheme(url: &str) -> Option<&str> {
    let end = url.find(':')?;
    let s = &url[..end];
    if s.contains(['/', '?', '#']) {
        return None;
    }
    Some(s)
}

/// Whether `url` may become a clickable link: http, https, mailto and tel, or a relative URL
/// (no scheme). Anything else (`javascript:`, `vbscript:`, `data:`, `file:`, ...) is shown as
/// text instead. Judged on the URL as a browser would read it ([`clean_url`]).
pub fn is_safe_url(url: &str) -> bool {
    let u = clean_url(url);
    match scheme(&u) {
        None => true,
        Some(s) => ["http", "https", "mailto", "tel"].iter().any(|ok| s.eq_ignore_ascii_case(ok)),
    }
}

fn push_encoded(out: &mut String, c: char) {
    let mut buf = [0u8; 4];
    for b in c.encode_utf8(&mut buf).bytes() {
        out.push_str(&format!("%{b:02X}"));
    }
}

/// Characters outside ASCII that must not stand raw in a link: whitespace, controls and the
/// invisible format characters a reader could not see in the Markdown.
fn invisible(c: char) -> bool {
    c.is_whitespace() || c.is_control() || matches!(c, '\u{200b}'..='\u{200f}' | '\u{2060}'..='\u{2064}' | '\u{feff}')
}

/// The link destination for a relative path to a file of the repository (`attachments/Report
/// (final) [v2] #3 100%.pdf`, `../other/index.md`): every byte that a URL or Markdown would read
/// as syntax is percent-encoded (`%`, `#`, `?`, spaces, brackets, parentheses, `<`, `>`, `&`, `:`,
/// `\`, `|`, backticks, quotes, braces), `/` stays the separator, letters of any script stay as
/// they are. GitHub, Gitea and Obsidian decode it back to the one name on disk.
pub fn path_dest(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 8);
    for c in path.chars() {
        match c {
            'A'..='Z' | 'a'..='z' | '0'..='9' | '-' | '.' | '_' | '~' | '/' => out.push(c),
            '!' | '$' | '\'' | '*' | '+' | ',' | ';' | '=' | '@' => out.push(c),
            c if c.is_ascii() => push_encoded(&mut out, c),
            c if invisible(c) => push_encoded(&mut out, c),
            c => out.push(c),
        }
    }
    out
}

/// The link destination for an absolute URL or a `#fragment`, kept as the URL it is (its `%`,
/// `#` and `?` mean what they say): only what would end or confuse Markdown's `(...)` form is
/// encoded, and `&` is escaped so that no entity is decoded.
pub fn url_dest(url: &str) -> String {
    let url = clean_url(url);
    let mut s = String::with_capacity(url.len());
    for c in url.chars() {
        match c {
            '(' | ')' | '<' | '>' | '\\' | '`' | '|' | ' ' | '"' => push_encoded(&mut s, c),
            '&' => s.push_str("\\&"),
            c if invisible(c) => push_encoded(&mut s, c),
            c => s.push(c),
        }
    }
    s
}

/// The destination for a link target handed in through `RenderContext::links` or a stored file:
/// a URL (`https://git.example.com/...`) stays a URL, anything else is a relative path.
pub fn target_dest(target: &str) -> String {
    if target.contains("://") {
        url_dest(target)
    } else {
        path_dest(target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_removed_and_separators_become_spaces() {
        assert_eq!(clean_text("a\u{1b}[31mb\u{0}c\u{7}d\u{7f}e\u{9b}f"), "a[31mbcdef");
        assert_eq!(clean_text("tab\tnew\nline\r"), "tab\tnew\nline\r");
        assert_eq!(clean_text("page\u{0c}break\u{85}next"), "page break next");
        assert!(matches!(clean_text("plain ünï 🎉"), Cow::Borrowed(_)));
        assert_eq!(clean_value("a\r\nb\rc\u{1b}"), "a\nb\nc");
        assert_eq!(clean_document("x\u{1b}\r\ny".to_string()), "x\ny");
    }

    #[test]
    fn only_web_mail_and_phone_urls_are_clickable() {
        for ok in
            ["https://x.y/a", "HTTP://x", "mailto:a@b.c", "tel:+4930", "../a/index.md", "#anchor", "/abc", "a/b:c"]
        {
            assert!(is_safe_url(ok), "{ok}");
        }
        for bad in [
            "javascript:alert(1)",
            "JaVaScRiPt:alert(1)",
            "  javascript:alert(1)",
            "java\tscript:alert(1)",
            "java\nscript:alert(1)",
            "\u{1}javascript:alert(1)",
            "vbscript:msgbox",
            "data:text/html;base64,PHNjcmlwdD4=",
            "data:image/png;base64,iVBOR",
            "file:///etc/passwd",
            "ftp://example.com/x",
            "a b:c",
        ] {
            assert!(!is_safe_url(bad), "{bad:?}");
        }
    }

    #[test]
    fn file_paths_are_encoded_so_every_renderer_finds_the_file() {
        assert_eq!(
            path_dest("attachments/Report (final) [v2] #3 100%.pdf"),
            "attachments/Report%20%28final%29%20%5Bv2%5D%20%233%20100%25.pdf"
        );
        assert_eq!(path_dest("a/what?<x>&y:z|`\"\\{}^.txt"), "a/what%3F%3Cx%3E%26y%3Az%7C%60%22%5C%7B%7D%5E.txt");
        assert_eq!(path_dest("../ünïcödé/résumé.pdf"), "../ünïcödé/résumé.pdf");
        assert_eq!(path_dest("a\u{a0}b\u{200b}c"), "a%C2%A0b%E2%80%8Bc");
    }

    #[test]
    fn urls_keep_their_meaning() {
        assert_eq!(url_dest("https://x.y/a b(c)<d>&e?q=1#f%20"), "https://x.y/a%20b%28c%29%3Cd%3E\\&e?q=1#f%20");
        assert_eq!(url_dest("https://x.y/a\nb"), "https://x.y/ab");
        assert_eq!(
            target_dest("https://git.example.com/o/r/src/branch/main/a%20b/index.md"),
            "https://git.example.com/o/r/src/branch/main/a%20b/index.md"
        );
        assert_eq!(target_dest("../a b/index.md"), "../a%20b/index.md");
    }
}
