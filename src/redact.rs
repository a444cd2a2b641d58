//! Secret redaction: a process-wide registry of secrets and the functions that keep them out of
//! text meant for humans (log lines, error messages, notifications).
//!
//! Whoever reads a secret (the Notion token, the Gitea token, webhook and health-check URLs)
//! registers it here once; [`scrub`] then replaces every occurrence, also URL-encoded and
//! JSON-escaped, with `***`. [`redact_url`] makes a URL safe to show (no userinfo, no query
//! string, no Discord webhook token). This module must not log, and it never returns a secret.

use std::sync::{LazyLock, RwLock};

use aho_corasick::{AhoCorasick, MatchKind};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// What a secret is replaced with.
pub const MASK: &str = "***";

/// Strings shorter than this (in characters) are not treated as secrets: masking them would
/// mangle ordinary words and they would not protect anything.
pub const MIN_SECRET_LEN: usize = 6;

/// URL path segments and query values at least this long are registered on their own by
/// [`register_url_secret`]: they are tokens, ids and keys, not words like `api` or `webhooks`.
const TOKEN_SEGMENT_LEN: usize = 16;

/// RFC 3986 unreserved characters are kept, everything else is percent-encoded.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

#[derive(Default)]
struct Registry {
    patterns: Vec<String>,
    /// Leftmost-longest matcher over `patterns`; rebuilt when a secret is added.
    matcher: Option<AhoCorasick>,
}

static REGISTRY: LazyLock<RwLock<Registry>> = LazyLock::new(|| RwLock::new(Registry::default()));

/// Registers a secret: from now on [`scrub`] masks it, in its raw, URL-encoded and
/// JSON-escaped forms. Surrounding whitespace is ignored; empty and very short strings
/// (fewer than [`MIN_SECRET_LEN`] characters) are ignored.
pub fn register_secret(s: &str) {
    let s = s.trim();
    if s.chars().count() < MIN_SECRET_LEN {
        return;
    }
    let mut registry = REGISTRY.write().unwrap_or_else(|e| e.into_inner());
    let mut changed = false;
    for form in encoded_forms(s) {
        if !registry.patterns.contains(&form) {
            registry.patterns.push(form);
            changed = true;
        }
    }
    if changed {
        registry.matcher = AhoCorasick::builder().match_kind(MatchKind::LeftmostLongest).build(&registry.patterns).ok();
    }
}

/// Registers the secret parts of a URL (webhook and health-check URLs are secrets: whoever has
/// one can post or ping): userinfo, the path, long path segments, the query string and long
/// query values. The scheme and host are kept, so `https://hc-ping.com/<uuid>/start` scrubs to
/// `https://hc-ping.com/***/start`. A string that does not parse as a URL is registered whole.
pub fn register_url_secret(raw: &str) {
    let raw = raw.trim();
    let Ok(url) = url::Url::parse(raw) else {
        register_secret(raw);
        return;
    };
    register_secret(url.username());
    if let Some(password) = url.password() {
        register_secret(password);
    }
    register_secret(url.path().trim_matches('/'));
    for segment in url.path().split('/') {
        if segment.len() >= TOKEN_SEGMENT_LEN {
            register_secret(segment);
        }
    }
    if let Some(query) = url.query() {
        register_secret(query);
        for (_, value) in url.query_pairs() {
            if value.len() >= TOKEN_SEGMENT_LEN {
                register_secret(&value);
            }
        }
    }
}

/// Returns `text` with every registered secret replaced by `***`.
pub fn scrub(text: &str) -> String {
    let registry = REGISTRY.read().unwrap_or_else(|e| e.into_inner());
    let Some(matcher) = &registry.matcher else {
        return text.to_string();
    };
    let mut out = String::with_capacity(text.len());
    matcher.replace_all_with(text, &mut out, |_, _, dst| {
        dst.push_str(MASK);
        true
    });
    out
}

/// Makes a URL safe to show: keeps scheme, host, port and path; drops userinfo, the query
/// string (where signed URLs keep their signatures) and the fragment; masks the token of a
/// Discord webhook path (`/api/webhooks/<id>/<token>` -> `/api/webhooks/<id>/***`); then masks
/// any registered secret still in it. A string that is not a URL becomes `[invalid URL]`.
pub fn redact_url(raw: &str) -> String {
    let Ok(url) = url::Url::parse(raw.trim()) else {
        return "[invalid URL]".to_string();
    };
    let mut shown = format!("{}://", url.scheme());
    if let Some(host) = url.host_str() {
        shown.push_str(host);
    }
    if let Some(port) = url.port() {
        shown.push_str(&format!(":{port}"));
    }
    let mut segments: Vec<&str> = url.path().split('/').collect();
    if let Some(i) = segments.iter().position(|s| *s == "webhooks") {
        // <id> at i + 1 is not secret; the token at i + 2 (and anything after it) is.
        if segments.len() > i + 2 {
            segments.truncate(i + 2);
            segments.push(MASK);
        }
    }
    shown.push_str(&segments.join("/"));
    scrub(&shown)
}

/// The forms in which a secret can appear in text: raw, percent-encoded (strict and
/// RFC 3986 component style), form-encoded and JSON-escaped.
fn encoded_forms(s: &str) -> Vec<String> {
    let json = serde_json::to_string(s).unwrap_or_default();
    let json = json.strip_prefix('"').and_then(|j| j.strip_suffix('"')).unwrap_or(s);
    let mut forms = vec![
        s.to_string(),
        utf8_percent_encode(s, NON_ALPHANUMERIC).to_string(),
        utf8_percent_encode(s, COMPONENT).to_string(),
        url::form_urlencoded::byte_serialize(s.as_bytes()).collect(),
        json.to_string(),
    ];
    forms.sort();
    forms.dedup();
    forms
}

#[cfg(test)]
mod tests {
    use super::*;

    // The registry is process-wide: every test uses its own secrets.

    #[test]
    fn scrub_masks_every_occurrence_of_a_registered_secret() {
        register_secret("secret_AbC123xyz");
        assert_eq!(scrub("token=secret_AbC123xyz and again secret_AbC123xyz."), "token=*** and again ***.");
    }

    #[test]
    fn scrub_masks_url_encoded_and_json_escaped_forms() {
        register_secret("p@ss word/+=\"x\"");
        assert_eq!(scrub("u=p%40ss%20word%2F%2B%3D%22x%22"), "u=***");
        assert_eq!(scrub("u=p%40ss+word%2F%2B%3D%22x%22"), "u=***");
        assert_eq!(scrub(r#"{"u":"p@ss word/+=\"x\""}"#), r#"{"u":"***"}"#);
    }

    #[test]
    fn empty_and_very_short_strings_are_not_secrets() {
        register_secret("");
        register_secret("   ");
        register_secret("abc");
        assert_eq!(scrub("abc is a word"), "abc is a word");
    }

    #[test]
    fn longest_secret_wins_when_one_contains_another() {
        register_secret("overlap-short");
        register_secret("overlap-short-and-longer");
        assert_eq!(scrub("x overlap-short-and-longer y"), "x *** y");
        assert_eq!(scrub("x overlap-short y"), "x *** y");
    }

    #[test]
    fn text_without_secrets_is_unchanged() {
        register_secret("never-appears-123");
        let text = "Backed up 3 pages — ✅ naïve café";
        assert_eq!(scrub(text), text);
    }

    #[test]
    fn redact_url_drops_userinfo_query_and_fragment() {
        assert_eq!(
            redact_url("https://user:pw@files.example.com:8443/ws/abc/file.png?X-Amz-Signature=deadbeef#frag"),
            "https://files.example.com:8443/ws/abc/file.png"
        );
    }

    #[test]
    fn redact_url_masks_discord_webhook_token() {
        assert_eq!(
            redact_url("https://discord.com/api/webhooks/123456789/tOkEn-AbCdEf_123"),
            "https://discord.com/api/webhooks/123456789/***"
        );
        assert_eq!(
            redact_url("https://discord.com/api/v10/webhooks/42/tok/slack?wait=true"),
            "https://discord.com/api/v10/webhooks/42/***"
        );
    }

    #[test]
    fn redact_url_of_garbage_reveals_nothing() {
        assert_eq!(redact_url("not a url secretish"), "[invalid URL]");
    }

    #[test]
    fn registered_url_keeps_only_its_host() {
        let ping = "https://hc-ping.com/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
        register_url_secret(ping);
        assert_eq!(scrub(&format!("GET {ping}/start failed")), "GET https://hc-ping.com/***/start failed");
        assert_eq!(redact_url(ping), "https://hc-ping.com/***");
        // The uuid on its own is masked too.
        assert_eq!(scrub("check 0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0 is down"), "check *** is down");
    }

    #[test]
    fn registered_url_masks_credentials_and_query_values() {
        register_url_secret("https://bob:hunter2hunter2@hooks.example.org/in?key=k3y-0123456789abcdef");
        let text = scrub("user bob:hunter2hunter2 key k3y-0123456789abcdef");
        assert!(!text.contains("hunter2hunter2"), "{text}");
        assert!(!text.contains("k3y-0123456789abcdef"), "{text}");
    }

    #[test]
    fn unparseable_url_secret_is_registered_whole() {
        register_url_secret("not-a-url-but-secret-42");
        assert_eq!(scrub("x not-a-url-but-secret-42 y"), "x *** y");
    }
}
