//! The real type of a downloaded file, from its first bytes (pure: no I/O).
//!
//! Notion URLs and names lie about extensions (a PNG uploaded as `photo.jpg`, a JPEG with no
//! extension), so the bytes decide: magic numbers via `infer`, then SVG (XML text with `<svg`),
//! then text formats (valid UTF-8 keeps the original extension: `.csv`, `.json`, `.md`, or
//! `.txt`), then the original extension for anything unrecognised, `.bin` as a last resort.

use super::collect::extension_of;

/// How many leading bytes are kept for sniffing.
pub const HEAD_LEN: usize = 8192;

/// The detected type of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sniffed {
    /// Extension without the dot, lowercase (`png`, `pdf`, `csv`).
    pub ext: String,
    pub mime: String,
    pub is_image: bool,
    /// True when the type came from the bytes (magic number or SVG), so the extension of the
    /// original name may be corrected; false for text/unknown (the original name is trusted).
    pub from_bytes: bool,
}

/// Formats that are zip containers: `infer` may only see "zip"; the original extension is better.
const ZIP_BASED: &[&str] = &[
    "docx", "xlsx", "pptx", "odt", "ods", "odp", "epub", "jar", "apk", "vsdx", "xpi", "kmz", "sketch", "key",
    "numbers", "pages",
];

/// Extensions that name the same format.
const SYNONYMS: &[&[&str]] =
    &[&["jpg", "jpeg", "jpe", "jfif"], &["tif", "tiff"], &["htm", "html"], &["mid", "midi"], &["mp4", "m4v"]];

/// Sniff `head` (the first up to [`HEAD_LEN`] bytes; `complete` when that is the whole file).
pub fn sniff(head: &[u8], complete: bool, original_name: Option<&str>) -> Sniffed {
    let original_ext = original_name.and_then(extension_of);
    let sniffed = |ext: &str, mime: &str, from_bytes: bool| Sniffed {
        ext: ext.to_string(),
        mime: mime.to_string(),
        is_image: mime.starts_with("image/"),
        from_bytes,
    };
    let text = utf8_text(head, complete);
    if let Some(t) = text {
        if is_svg(t) {
            return sniffed("svg", "image/svg+xml", true);
        }
    }
    if let Some(t) = infer::get(head) {
        let is_text_kind = t.mime_type().starts_with("text/") || t.extension() == "xml";
        if t.mime_type() == "application/zip" {
            if let Some(e) = original_ext.as_deref().filter(|e| ZIP_BASED.contains(e)) {
                return sniffed(e, "application/zip", false);
            }
        }
        if !is_text_kind {
            return sniffed(t.extension(), t.mime_type(), true);
        }
    }
    if text.is_some() {
        let ext = original_ext.unwrap_or_else(|| "txt".to_string());
        let mime = match ext.as_str() {
            "csv" => "text/csv",
            "json" => "application/json",
            "md" | "markdown" => "text/markdown",
            "html" | "htm" => "text/html",
            "xml" => "application/xml",
            _ => "text/plain",
        };
        return sniffed(&ext, mime, false);
    }
    sniffed(original_ext.as_deref().unwrap_or("bin"), "application/octet-stream", false)
}

/// True when `head` starts like an HTML document (`<!DOCTYPE html`, `<html`, or a `<head>` or
/// `<body>` near the top): the error or login page a server sends instead of a file.
pub fn looks_like_html(head: &[u8]) -> bool {
    let text = String::from_utf8_lossy(&head[..head.len().min(1024)]).to_ascii_lowercase();
    let t = text.trim_start_matches('\u{feff}').trim_start();
    if t.starts_with("<!doctype html") || t.starts_with("<html") {
        return true;
    }
    t.starts_with('<') && !is_svg(t) && ["<head", "<body"].iter().any(|tag| t.contains(tag))
}

/// `head` as text when it is valid UTF-8 (a multi-byte character cut at the end of an
/// incomplete head is fine) without NUL bytes.
fn utf8_text(head: &[u8], complete: bool) -> Option<&str> {
    let s = match std::str::from_utf8(head) {
        Ok(s) => s,
        Err(e) if !complete && e.error_len().is_none() => std::str::from_utf8(&head[..e.valid_up_to()]).ok()?,
        Err(_) => return None,
    };
    (!s.is_empty() && !s.contains('\0')).then_some(s)
}

/// True when the root element is `<svg>` (after an XML prolog, comments and a doctype). An
/// HTML page with an inline SVG icon is not an SVG.
fn is_svg(text: &str) -> bool {
    let mut t = text.trim_start_matches('\u{feff}').trim_start();
    loop {
        let (open, close) = if t.starts_with("<?") {
            ("<?", "?>")
        } else if t.starts_with("<!--") {
            ("<!--", "-->")
        } else if t.starts_with("<!") && !t.get(..14).is_some_and(|d| d.eq_ignore_ascii_case("<!doctype html")) {
            ("<!", ">")
        } else {
            break;
        };
        match t[open.len()..].find(close) {
            Some(end) => t = t[open.len() + end + close.len()..].trim_start(),
            None => return false,
        }
    }
    t.get(..4).is_some_and(|s| s.eq_ignore_ascii_case("<svg"))
}

/// True when `a` and `b` are the same format's extensions (`jpg`/`jpeg`).
pub fn same_format(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
        || SYNONYMS
            .iter()
            .any(|g| g.contains(&a.to_ascii_lowercase().as_str()) && g.contains(&b.to_ascii_lowercase().as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10\0\0\0\x10\x08\x06\0\0\0";

    #[test]
    fn magic_bytes_win_over_names() {
        let s = sniff(PNG, true, Some("photo.jpg"));
        assert_eq!((s.ext.as_str(), s.is_image, s.from_bytes), ("png", true, true));
        let s = sniff(b"\xff\xd8\xff\xe0\0\x10JFIF\0", true, None);
        assert_eq!(s.ext, "jpg");
        assert_eq!(sniff(b"%PDF-1.7\n%\xe2\xe3", true, Some("x")).ext, "pdf");
    }

    #[test]
    fn svg_even_with_xml_prolog() {
        let s = sniff(b"<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"/>", true, Some("i.png"));
        assert_eq!((s.ext.as_str(), s.mime.as_str(), s.is_image), ("svg", "image/svg+xml", true));
    }

    #[test]
    fn web_pages_are_recognised_and_files_are_not() {
        for page in [
            &b"<!DOCTYPE html><html><body>Sign in</body></html>"[..],
            b"\xef\xbb\xbf  \n<!doctype HTML>\n<title>404</title>",
            b"<html lang=\"en\">",
            b"<?xml version=\"1.0\"?><!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0//EN\" \"x\"><html><head>",
            b"<meta charset=utf-8><head><title>Moved</title></head>",
        ] {
            assert!(looks_like_html(page), "{}", String::from_utf8_lossy(page));
        }
        for file in [
            PNG,
            b"%PDF-1.7\n",
            b"a,b\n1,2\n",
            b"<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"><g><title>body</title></g></svg>",
            b"# Notes about <html> tags",
            b"",
        ] {
            assert!(!looks_like_html(file), "{}", String::from_utf8_lossy(file));
        }
    }

    #[test]
    fn html_with_an_inline_svg_is_not_an_svg() {
        let html = b"<!DOCTYPE html><html><body><svg width=\"1\"/></body></html>";
        let s = sniff(html, true, Some("logo.png"));
        assert!(!s.is_image && s.ext != "svg", "{s:?}");
        let svg = b"<!-- by hand --><!DOCTYPE svg PUBLIC \"-//W3C//DTD SVG 1.1//EN\" \"x\">\n<svg/>";
        assert_eq!(sniff(svg, true, None).ext, "svg");
    }

    #[test]
    fn text_keeps_original_extension() {
        assert_eq!(sniff(b"a,b\n1,2\n", true, Some("data.CSV")).ext, "csv");
        assert_eq!(sniff(b"{\"a\": 1}", true, Some("x.json")).mime, "application/json");
        assert_eq!(sniff(b"# Title\n", true, Some("notes.md")).ext, "md");
        assert_eq!(sniff("héllo".as_bytes(), true, None).ext, "txt");
        // A head cut inside a multi-byte character is still text.
        assert_eq!(sniff(&"é".as_bytes()[..1], false, Some("a.txt")).ext, "txt");
        assert!(!sniff(b"<?xml version=\"1.0\"?><a/>", true, Some("feed.xml")).is_image);
    }

    #[test]
    fn unknown_binary_falls_back() {
        assert_eq!(sniff(b"\0\x01\x02\xfe", true, Some("blob.dat")).ext, "dat");
        assert_eq!(sniff(b"\0\x01\x02\xfe", true, None).ext, "bin");
        assert_eq!(sniff(b"PK\x03\x04\x14\0\0\0", true, Some("r.docx")).ext, "docx");
    }

    #[test]
    fn synonyms() {
        assert!(same_format("JPEG", "jpg") && same_format("png", "PNG") && !same_format("png", "jpg"));
    }
}
