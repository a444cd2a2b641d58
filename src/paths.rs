//! Safe names for things written into a repository: page folder slugs and file names.
//!
//! Everything that becomes a path component in a backup repository passes through here. The
//! rules: ASCII only, no path separators, no `..`, no control characters, no leading dot, never
//! `.git`, never a Windows device name, length-capped. Nothing returned can escape the folder it
//! is joined to.

use deunicode::deunicode;

/// Longest slug produced for a folder or heading (characters, all ASCII).
pub const MAX_SLUG_LEN: usize = 60;
/// Longest file name produced (bytes, all ASCII).
pub const MAX_FILE_NAME_LEN: usize = 100;

const WINDOWS_RESERVED: &[&str] = &[
    "con", "prn", "aux", "nul", "com1", "com2", "com3", "com4", "com5", "com6", "com7", "com8",
    "com9", "lpt1", "lpt2", "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9",
];

/// URL-safe lowercase ASCII slug (`[a-z0-9-]`), transliterated (`Café Ünïcode` -> `cafe-unicode`),
/// capped at `max` characters on a word boundary where possible. Empty when nothing usable is left.
pub fn slugify(text: &str, max: usize) -> String {
    let ascii = deunicode(text).to_lowercase();
    let mut out = String::with_capacity(ascii.len().min(max));
    let mut dash = false;
    for c in ascii.chars() {
        if c.is_ascii_alphanumeric() {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.push(c);
        } else {
            dash = true;
        }
        if out.len() >= max {
            break;
        }
    }
    if out.len() > max {
        out.truncate(max);
    }
    let out = out.trim_matches('-').to_string();
    if WINDOWS_RESERVED.contains(&out.as_str()) {
        return format!("{out}-page");
    }
    out
}

/// A safe single file name from an untrusted one (an attachment's original name). Keeps the
/// readable part and the extension; replaces separators and control characters; strips leading
/// dots; caps the length; never returns `.`/`..`/`.git` or an empty string (`fallback` then).
pub fn safe_file_name(name: &str, fallback: &str) -> String {
    // Only the last path component counts: `../../.git/hooks/post-commit` -> `post-commit`
    // would lose information, so keep the components but joined with '_'.
    let mut cleaned: String = name
        .chars()
        .map(|c| match c {
            '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|' => '_',
            c if c.is_control() => '_',
            c => c,
        })
        .collect();
    cleaned = deunicode(&cleaned);
    // Collapse runs of dots that could read as parent references and drop leading dots/spaces.
    while cleaned.contains("..") {
        cleaned = cleaned.replace("..", ".");
    }
    let cleaned = cleaned
        .trim_start_matches(['.', ' ', '_'])
        .trim_end_matches(['.', ' ']);
    let mut out: String = cleaned
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.len() > MAX_FILE_NAME_LEN {
        out = truncate_keep_ext(&out, MAX_FILE_NAME_LEN);
    }
    let stem = out.split('.').next().unwrap_or("").to_ascii_lowercase();
    if out.is_empty()
        || out.eq_ignore_ascii_case(".git")
        || WINDOWS_RESERVED.contains(&stem.as_str())
    {
        if out.is_empty() {
            return fallback.to_string();
        }
        out = format!("file-{out}");
    }
    out
}

/// Cut `name` to at most `max` bytes, keeping a short extension.
pub fn truncate_keep_ext(name: &str, max: usize) -> String {
    let (stem, ext) = match name.rfind('.') {
        Some(i) if i > 0 && name.len() - i <= 12 => (&name[..i], &name[i..]),
        _ => (name, ""),
    };
    let keep = max.saturating_sub(ext.len());
    let mut cut = keep.min(stem.len());
    while !stem.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{}", &stem[..cut], ext)
}

/// Make `candidate` unique against `taken` by inserting `-2`, `-3`, ... before the extension.
pub fn unique_name(candidate: &str, taken: impl Fn(&str) -> bool) -> String {
    if !taken(candidate) {
        return candidate.to_string();
    }
    let (stem, ext) = match candidate.rfind('.') {
        Some(i) if i > 0 => (&candidate[..i], &candidate[i..]),
        _ => (candidate, ""),
    };
    (2..)
        .map(|n| format!("{stem}-{n}{ext}"))
        .find(|c| !taken(c))
        .expect("unbounded counter always finds a free name")
}

/// True when `rel` is a relative path that stays inside its root: no absolute path, no `..`,
/// no empty or `.git` component.
pub fn is_safe_relative(rel: &str) -> bool {
    !rel.is_empty()
        && !rel.starts_with('/')
        && !rel.contains('\\')
        && rel
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != ".." && !c.eq_ignore_ascii_case(".git"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(slugify("Hello, World!", 60), "hello-world");
        assert_eq!(slugify("Café Ünïcode", 60), "cafe-unicode");
        assert_eq!(slugify("../../etc/passwd", 60), "etc-passwd");
        assert_eq!(slugify(".git", 60), "git");
        assert_eq!(slugify("CON", 60), "con-page");
        assert_eq!(slugify("🚀🚀", 60), "rocket-rocket");
        assert_eq!(slugify("", 60), "");
        assert!(slugify(&"long title ".repeat(50), 60).len() <= 60);
    }

    #[test]
    fn hostile_file_names() {
        let n = safe_file_name("../../.git/hooks/post-commit", "file");
        assert!(
            !n.contains('/') && !n.starts_with('.') && !n.contains(".."),
            "{n}"
        );
        assert!(is_safe_relative(&format!("attachments/{n}")));
        assert_eq!(safe_file_name(".bashrc", "file"), "bashrc");
        assert_eq!(safe_file_name("a\0b.pdf", "file"), "a_b.pdf");
        assert_eq!(safe_file_name("...", "file"), "file");
        assert_eq!(safe_file_name("report.pdf", "file"), "report.pdf");
        assert_eq!(safe_file_name("nul.txt", "file"), "file-nul.txt");
        let long = format!("{}.pdf", "x".repeat(500));
        let n = safe_file_name(&long, "file");
        assert!(n.len() <= MAX_FILE_NAME_LEN && n.ends_with(".pdf"));
    }

    #[test]
    fn uniqueness() {
        let taken = ["a.png", "a-2.png"];
        assert_eq!(unique_name("a.png", |c| taken.contains(&c)), "a-3.png");
        assert_eq!(unique_name("b.png", |c| taken.contains(&c)), "b.png");
    }

    #[test]
    fn relative_safety() {
        assert!(is_safe_relative("a/b/index.md"));
        assert!(!is_safe_relative("../a"));
        assert!(!is_safe_relative("/etc/passwd"));
        assert!(!is_safe_relative("a/.git/config"));
        assert!(!is_safe_relative("a//b"));
    }
}
