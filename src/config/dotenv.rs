//! The `.env` reader: a file written for the Python script `notion-gitea-backup.py` (the seed)
//! gives exactly the values the seed's own `load_env` gives it, and a few shell habits the seed
//! cannot read are understood on top.
//!
//! The seed's rules, verified against its source and by running its parser: the file is read as
//! UTF-8 text with universal newlines (`\n`, `\r\n` and a lone `\r` all end a line); each line is
//! trimmed (Python's `str.strip()`: Unicode white space plus the ASCII separators U+001C..U+001F);
//! blank lines and lines starting with `#` are skipped; lines without `=` are skipped; the line is
//! split at its first `=`; key and value are trimmed; one pair of matching surrounding `'` or `"`
//! is removed from the value; nothing else is interpreted (`$`, `#`, `\` and quotes inside a value
//! are literal); a key set twice keeps its last value.
//!
//! On top, where the seed would give no value at all: a UTF-8 byte-order mark is ignored (the seed
//! reads it as part of the first key), and `export KEY=value` sets `KEY` (the seed sets a key
//! named `export KEY`), but never over a plain `KEY=` line, whose value the seed would use. Escapes
//! are not interpreted, not even in double quotes: every value the seed reads must come out the
//! same here, and a different rule for `export` lines alone would surprise more than it helps.
//!
//! Every line the seed would silently skip or misread (no `=`, a key that is not a setting name,
//! an unclosed quote, an inline comment, a key set twice) is reported as a [`LineIssue`] naming
//! its line number and, at most, the setting's name: never the line's text, which may hold a
//! secret. This module reads one file; it knows nothing about which settings exist.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// Why the file could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum DotenvError {
    #[error("{}: file not found", path.display())]
    NotFound { path: PathBuf },
    #[error("{}: cannot be read: {source}", path.display())]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What is wrong with one line. Displayed without the line's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Issue {
    /// The line is not UTF-8 text (the seed stops with a decoding error on such a file).
    NotUtf8,
    /// No `=`: the seed skips such a line silently (often a value pasted without its key).
    NoEquals,
    /// The text before `=` is not a setting name (letters, digits, `_`; not starting with a digit).
    NotAName,
    /// The value opens a quote that the line does not close; the quote stays part of the value.
    UnclosedQuote { key: String },
    /// ` #` inside an unquoted value: kept as part of the value, not a comment.
    InlineComment { key: String },
    /// A backslash inside a double-quoted value: kept literally, not an escape.
    Backslash { key: String },
    /// The key was set before; the last value wins.
    Duplicate { key: String, first_line: usize },
    /// `export KEY=` while a plain `KEY=` line exists: the plain line's value is used.
    ExportShadowed { key: String, plain_line: usize },
}

/// One reported line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineIssue {
    /// 1-based, counting lines as the seed does (`\n`, `\r\n` or `\r` end a line).
    pub line: usize,
    pub issue: Issue,
}

impl LineIssue {
    /// True when the file cannot be used as it is (the others are warnings: the run goes on, as
    /// the seed's would).
    pub fn is_error(&self) -> bool {
        matches!(self.issue, Issue::NotUtf8)
    }
}

impl fmt::Display for LineIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.line;
        match &self.issue {
            Issue::NotUtf8 => write!(f, "line {n} is not UTF-8 text: save the file as UTF-8"),
            Issue::NoEquals => write!(
                f,
                "line {n} has no `=` and is ignored: write settings as KEY=value (a value pasted on its own line needs its key in front)"
            ),
            Issue::NotAName => write!(
                f,
                "line {n} is ignored: the text before its first `=` is not a setting name (use letters, digits and _, e.g. NOTION_TOKEN=...)"
            ),
            Issue::UnclosedQuote { key } => write!(
                f,
                "line {n}: the value of {key} opens a quote the line does not close; the quote is kept as part of the value (values cannot span lines)"
            ),
            Issue::InlineComment { key } => write!(
                f,
                "line {n}: the value of {key} contains ` #`, which is kept as part of the value (a comment must be on its own line)"
            ),
            Issue::Backslash { key } => write!(
                f,
                "line {n}: the double-quoted value of {key} contains `\\`, which is kept as it is (no escapes are interpreted)"
            ),
            Issue::Duplicate { key, first_line } => {
                write!(f, "line {n} sets {key} again (first set on line {first_line}); the last value is used")
            }
            Issue::ExportShadowed { key, plain_line } => write!(
                f,
                "line {n}: `export {key}=` is ignored because line {plain_line} sets {key} without `export` (the Python script reads only that one)"
            ),
        }
    }
}

/// The settings of one file and what was wrong with its lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvFile {
    pub vars: BTreeMap<String, String>,
    /// In line order.
    pub issues: Vec<LineIssue>,
}

/// Read and parse the file at `path`.
pub fn read(path: &Path) -> Result<EnvFile, DotenvError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(parse(&bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(DotenvError::NotFound { path: path.to_path_buf() }),
        Err(source) => Err(DotenvError::Unreadable { path: path.to_path_buf(), source }),
    }
}

/// Python's `str.isspace()`: Unicode white space and the ASCII separators U+001C..U+001F.
fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

fn py_strip(s: &str) -> &str {
    s.trim_matches(is_py_space)
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// Lines as Python's universal newlines mode splits them: `\r\n`, `\r` and `\n` each end one.
fn split_lines(bytes: &[u8]) -> Vec<&[u8]> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                lines.push(&bytes[start..i]);
                start = i + 1;
            }
            b'\r' => {
                lines.push(&bytes[start..i]);
                if bytes.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if start < bytes.len() {
        lines.push(&bytes[start..]);
    }
    lines
}

/// The seed's quote rule: one pair of matching surrounding `'` or `"` is removed.
fn unquote(value: &str) -> (&str, Option<char>) {
    let mut chars = value.chars();
    match (chars.next(), chars.next_back()) {
        (Some(first), Some(last)) if first == last && (first == '"' || first == '\'') => {
            (&value[first.len_utf8()..value.len() - last.len_utf8()], Some(first))
        }
        _ => (value, None),
    }
}

/// Parse the bytes of a `.env` file.
pub fn parse(bytes: &[u8]) -> EnvFile {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut out = EnvFile::default();
    // key -> (line, value) of plain lines and of `export` lines, kept apart: a plain line wins.
    let mut plain: BTreeMap<String, (usize, String)> = BTreeMap::new();
    let mut exported: BTreeMap<String, (usize, String)> = BTreeMap::new();
    for (i, raw) in split_lines(bytes).into_iter().enumerate() {
        let n = i + 1;
        let Ok(text) = std::str::from_utf8(raw) else {
            out.issues.push(LineIssue { line: n, issue: Issue::NotUtf8 });
            continue;
        };
        let line = py_strip(text);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((raw_key, raw_value)) = line.split_once('=') else {
            out.issues.push(LineIssue { line: n, issue: Issue::NoEquals });
            continue;
        };
        let key = py_strip(raw_key);
        let value = py_strip(raw_value);
        let (key, is_export) = match key.strip_prefix("export").filter(|rest| rest.starts_with(is_py_space)) {
            Some(rest) if is_name(py_strip(rest)) => (py_strip(rest), true),
            _ => (key, false),
        };
        if !is_name(key) {
            out.issues.push(LineIssue { line: n, issue: Issue::NotAName });
            continue;
        }
        let (value, quote) = unquote(value);
        let key_s = key.to_string();
        match quote {
            None if value.starts_with(['"', '\'']) => {
                out.issues.push(LineIssue { line: n, issue: Issue::UnclosedQuote { key: key_s.clone() } })
            }
            None if value.contains(" #") || value.contains("\t#") => {
                out.issues.push(LineIssue { line: n, issue: Issue::InlineComment { key: key_s.clone() } })
            }
            Some('"') if value.contains('\\') => {
                out.issues.push(LineIssue { line: n, issue: Issue::Backslash { key: key_s.clone() } })
            }
            _ => {}
        }
        let table = if is_export { &mut exported } else { &mut plain };
        if let Some((first_line, _)) = table.get(key) {
            let first_line = *first_line;
            out.issues.push(LineIssue { line: n, issue: Issue::Duplicate { key: key_s.clone(), first_line } });
            table.insert(key_s, (first_line, value.to_string()));
        } else {
            table.insert(key_s, (n, value.to_string()));
        }
    }
    for (key, (line, value)) in exported {
        match plain.get(&key) {
            Some((plain_line, _)) => {
                let issue = Issue::ExportShadowed { key: key.clone(), plain_line: *plain_line };
                out.issues.push(LineIssue { line, issue });
            }
            None => {
                out.vars.insert(key, value);
            }
        }
    }
    for (key, (_, value)) in plain {
        out.vars.insert(key, value);
    }
    out.issues.sort_by_key(|i| i.line);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(text: &str) -> BTreeMap<String, String> {
        parse(text.as_bytes()).vars
    }

    fn one(text: &str) -> Option<String> {
        vars(text).get("K").cloned()
    }

    /// The seed's rules, case by case. Each expected value was confirmed by running the seed's
    /// `load_env` on the same line (see `tests/cli_config.rs` for the whole-file check).
    #[test]
    fn the_seeds_rules_case_by_case() {
        let cases: &[(&str, Option<&str>)] = &[
            ("K=v", Some("v")),
            ("K=Important Documents", Some("Important Documents")),
            ("  K  =  v w  ", Some("v w")),
            ("\tK\t=\tv\t", Some("v")),
            ("K=", Some("")),
            ("K", None),
            ("# K=v", None),
            ("   # K=v", None),
            ("K=a=b=c", Some("a=b=c")),
            ("K==v", Some("=v")),
            ("K=\"quoted value\"", Some("quoted value")),
            ("K='single'", Some("single")),
            ("K=\"  inner spaces  \"", Some("  inner spaces  ")),
            ("K=  \"x\"  ", Some("x")),
            ("K=\"\"", Some("")),
            ("K=''", Some("")),
            ("K=\"", Some("\"")),
            ("K='", Some("'")),
            ("K=\"unclosed", Some("\"unclosed")),
            ("K=\"mixed'", Some("\"mixed'")),
            ("K=\"\"nested\"\"", Some("\"nested\"")),
            ("K=\"a\\nb\"", Some("a\\nb")),
            ("K=a\\nb", Some("a\\nb")),
            ("K=$HOME/x", Some("$HOME/x")),
            ("K=${HOME}", Some("${HOME}")),
            ("K=v # comment", Some("v # comment")),
            ("K=\"v\" # comment", Some("\"v\" # comment")),
            ("K=https://x.example/p#frag", Some("https://x.example/p#frag")),
            ("K=C:\\Users\\me", Some("C:\\Users\\me")),
            ("K=\u{a0}v\u{a0}", Some("v")),
            ("K=\u{1f}v\u{1c}", Some("v")),
            ("K=\u{200b}v", Some("\u{200b}v")),
            ("K=Žluťoučký kůň", Some("Žluťoučký kůň")),
            ("K=v\u{0}w", Some("v\u{0}w")),
            ("export K=v", Some("v")),
            ("export   K = \"v\"", Some("v")),
        ];
        for (line, want) in cases {
            assert_eq!(one(line).as_deref(), *want, "line {line:?}");
        }
    }

    #[test]
    fn line_endings_bom_and_the_last_value_wins() {
        assert_eq!(vars("A=1\r\nB=2\r\n")["B"], "2");
        // A lone CR ends a line too (Python's universal newlines).
        let v = vars("A=1\rB=2");
        assert_eq!((v["A"].as_str(), v["B"].as_str()), ("1", "2"));
        assert_eq!(vars("\u{feff}NOTION_TOKEN=t\n")["NOTION_TOKEN"], "t");
        assert_eq!(vars("K=1\nK=2\n")["K"], "2");
        let f = parse(b"K=1\nK=2\n");
        assert_eq!(f.issues, vec![LineIssue { line: 2, issue: Issue::Duplicate { key: "K".into(), first_line: 1 } }]);
    }

    #[test]
    fn an_export_line_never_overrides_a_plain_one() {
        // The seed reads `K=plain` (its `export K` key is another key): so do we, in either order.
        for text in ["K=plain\nexport K=exported\n", "export K=exported\nK=plain\n"] {
            let f = parse(text.as_bytes());
            assert_eq!(f.vars["K"], "plain", "{text:?}");
            assert!(matches!(f.issues[0].issue, Issue::ExportShadowed { .. }), "{:?}", f.issues);
        }
        // `export` alone, or followed by something that is not a name, is an ordinary key.
        assert_eq!(vars("export=1\n")["export"], "1");
        assert_eq!(vars("exporter=1\n")["exporter"], "1");
        assert!(parse(b"export a b=1\n").vars.is_empty());
    }

    #[test]
    fn skipped_lines_are_named_by_number_never_by_content() {
        let text = "# comment\n\
                    NOTION_TOKEN=ntn_good\n\
                    ntn_PASTEDSECRET123\n\
                    https://hooks.example/x?token=SECRETQUERY\n\
                    DB1_LABEL=\"unclosed\n\
                    DB1_GIT_REPO=notes # main repo\n\
                    DB2_LABEL=\"C:\\path\"\n";
        let f = parse(text.as_bytes());
        let lines: Vec<(usize, &Issue)> = f.issues.iter().map(|i| (i.line, &i.issue)).collect();
        assert_eq!(
            lines,
            vec![
                (3, &Issue::NoEquals),
                (4, &Issue::NotAName),
                (5, &Issue::UnclosedQuote { key: "DB1_LABEL".into() }),
                (6, &Issue::InlineComment { key: "DB1_GIT_REPO".into() }),
                (7, &Issue::Backslash { key: "DB2_LABEL".into() }),
            ]
        );
        assert!(f.issues.iter().all(|i| !i.is_error()));
        let shown: String = f.issues.iter().map(|i| i.to_string() + "\n").collect();
        for secret in ["PASTEDSECRET", "SECRETQUERY", "hooks.example", "main repo", "unclosed"] {
            assert!(!shown.contains(secret), "{secret} shown in:\n{shown}");
        }
        // The seed keeps what it reads: so do we.
        assert_eq!(f.vars["DB1_LABEL"], "\"unclosed");
        assert_eq!(f.vars["DB1_GIT_REPO"], "notes # main repo");
    }

    #[test]
    fn a_line_that_is_not_utf8_is_an_error_by_number() {
        let f = parse(b"A=1\nB=caf\xe9\nC=3\n");
        assert_eq!(f.issues, vec![LineIssue { line: 2, issue: Issue::NotUtf8 }]);
        assert!(f.issues[0].is_error());
        assert_eq!((f.vars.get("A").map(String::as_str), f.vars.get("C").map(String::as_str)), (Some("1"), Some("3")));
        assert!(!f.issues[0].to_string().contains("caf"));
    }

    #[test]
    fn missing_file_is_not_found() {
        let dir = tempfile::tempdir().unwrap();
        let err = read(&dir.path().join(".env")).unwrap_err();
        assert!(matches!(err, DotenvError::NotFound { .. }), "{err}");
    }
}
