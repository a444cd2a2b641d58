//! Commit messages as every sink writes them: a page title is untrusted text, and git, Gitea and
//! terminals showing `git log` each break on something in it (a NUL makes `git commit-tree` fail
//! for good, ESC sequences repaint a terminal, a bidi override hides what a line says).
//!
//! Owns the rules: no NUL or other control characters (a tab or CR becomes a space), no bidi
//! formatting characters, a one-line subject of at most [`SUBJECT_MAX`] characters, then a blank
//! line and the body, the whole bounded by [`MESSAGE_MAX`] bytes. Pure: no I/O.

/// Longest subject line, in characters (a longer title is cut and ends with `…`).
pub const SUBJECT_MAX: usize = 200;
/// Longest whole message, in bytes.
pub const MESSAGE_MAX: usize = 16 * 1024;
/// The subject used when nothing printable is left.
const FALLBACK_SUBJECT: &str = "Notion backup";

/// The sanitised form of `raw`: what every sink commits.
pub fn commit_message(raw: &str) -> String {
    let raw = raw.replace("\r\n", "\n");
    let mut lines = raw.split(['\n', '\u{2028}', '\u{2029}']).map(clean_line);
    let subject = lines.by_ref().find(|l| !l.is_empty()).unwrap_or_default();
    let subject = if subject.is_empty() { FALLBACK_SUBJECT.to_string() } else { cut_chars(&subject, SUBJECT_MAX) };
    let mut body: Vec<String> = lines.collect();
    while body.first().is_some_and(|l| l.is_empty()) {
        body.remove(0);
    }
    while body.last().is_some_and(|l| l.is_empty()) {
        body.pop();
    }
    if body.is_empty() {
        return subject;
    }
    let mut out = format!("{subject}\n\n{}", body.join("\n"));
    if out.len() > MESSAGE_MAX {
        let mut cut = MESSAGE_MAX - '…'.len_utf8();
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push('…');
    }
    out
}

/// `message` with `suffix` appended to its subject line (e.g. ` (part 2/3)`), body kept.
pub fn with_subject_suffix(message: &str, suffix: &str) -> String {
    match message.split_once('\n') {
        Some((subject, rest)) => format!("{subject}{suffix}\n{rest}"),
        None => format!("{message}{suffix}"),
    }
}

/// One line with control and bidi formatting characters replaced, trailing spaces trimmed.
fn clean_line(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    for c in line.chars() {
        if is_bidi_control(c) || c == '\u{feff}' {
            continue;
        }
        out.push(if c.is_control() { ' ' } else { c });
    }
    out.trim_end().to_string()
}

/// Unicode bidi formatting characters (embeddings, overrides, isolates, marks).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn cut_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.truncate(out.trim_end().len());
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_title_with_nul_and_escape_sequences_becomes_one_clean_subject() {
        assert_eq!(commit_message("Backup: a\0b \x1b[31mred\x1b[0m\x07"), "Backup: a b  [31mred [0m");
        assert_eq!(commit_message("Backup: tab\there\r"), "Backup: tab here");
    }

    #[test]
    fn subject_is_one_bounded_line_and_the_body_follows_a_blank_line() {
        assert_eq!(commit_message("\n\n  \nSubject\r\nbody 1\nbody 2\n\n"), "Subject\n\nbody 1\nbody 2");
        assert_eq!(commit_message("Title\u{2028}second"), "Title\n\nsecond");
        let long = "x".repeat(500);
        let m = commit_message(&long);
        assert_eq!(m.chars().count(), SUBJECT_MAX);
        assert!(m.ends_with('…'));
        assert!(!m.contains('\n'));
    }

    #[test]
    fn bidi_overrides_are_removed_and_empty_titles_get_a_subject() {
        assert_eq!(commit_message("Backup: \u{202e}gpj.exe\u{202c}"), "Backup: gpj.exe");
        assert_eq!(commit_message("\0\x01\n\x7f"), FALLBACK_SUBJECT);
        assert_eq!(commit_message(""), FALLBACK_SUBJECT);
    }

    #[test]
    fn the_whole_message_is_bounded_on_a_char_boundary() {
        let raw = format!("S\n{}", "é\n".repeat(MESSAGE_MAX));
        let m = commit_message(&raw);
        assert!(m.len() <= MESSAGE_MAX, "{}", m.len());
        assert!(m.ends_with('…'));
    }

    #[test]
    fn clean_messages_are_unchanged() {
        for ok in ["# Backup: pages/hello", "Update index", "Backup: Café ünïcode 🚀\n\nmoved from a/b"] {
            assert_eq!(commit_message(ok), ok);
        }
    }

    #[test]
    fn suffix_goes_on_the_subject() {
        assert_eq!(with_subject_suffix("S\n\nbody", " (part 1/2)"), "S (part 1/2)\n\nbody");
        assert_eq!(with_subject_suffix("S", " (part 1/2)"), "S (part 1/2)");
    }
}
