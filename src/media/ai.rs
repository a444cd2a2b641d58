//! Optional AI naming of images: one Messages-API call per new image (the image, its heading and
//! the paragraph before it) for a short kebab-case slug.
//!
//! A circuit breaker turns AI naming off for the rest of the run after
//! [`BREAKER_THRESHOLD`] consecutive failures, so a dead endpoint costs five calls, not one per
//! image. The answer is only a suggestion: it is slugified and capped, and garbage falls back to
//! the heading. The API key goes into one header and nowhere else (not in errors, not in logs).

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use base64::Engine;
use serde_json::{json, Value};

use super::AiConfig;
use crate::paths::slugify;

/// Consecutive failures that turn AI naming off for the rest of the run.
pub const BREAKER_THRESHOLD: u32 = 5;
/// Longest AI slug (characters).
pub const MAX_AI_SLUG: usize = 40;
/// Images larger than this are not sent (the API limit is about 5 MB of base64).
pub const MAX_AI_IMAGE_BYTES: u64 = 3_500_000;
/// Image types the Messages API accepts.
pub const AI_MEDIA_TYPES: &[&str] = &["image/png", "image/jpeg", "image/gif", "image/webp"];

/// What a naming call produced.
#[derive(Debug, PartialEq, Eq)]
pub enum AiOutcome {
    Named(String),
    /// The call failed or the answer was unusable; the heading is used instead.
    Failed(String),
    /// This failure tripped the breaker: AI naming is off from now on.
    Tripped(String),
    /// AI naming is not configured or the breaker is open.
    Off,
}

pub struct AiNamer {
    client: reqwest::Client,
    cfg: Option<AiConfig>,
    timeout: Duration,
    failures: AtomicU32,
    open: AtomicBool,
}

impl AiNamer {
    pub fn new(client: reqwest::Client, cfg: Option<AiConfig>, timeout: Duration) -> Self {
        AiNamer { client, cfg, timeout, failures: AtomicU32::new(0), open: AtomicBool::new(false) }
    }

    /// True while AI naming is configured and the breaker has not tripped.
    pub fn enabled(&self) -> bool {
        self.cfg.is_some() && !self.open.load(Ordering::SeqCst)
    }

    /// Ask for a slug for `image` (of `media_type`), given its heading and preceding paragraph.
    pub async fn name(&self, image: &[u8], media_type: &str, heading: &str, context: &str) -> AiOutcome {
        let Some(cfg) = self.cfg.as_ref().filter(|_| self.enabled()) else {
            return AiOutcome::Off;
        };
        match self.call(cfg, image, media_type, heading, context).await {
            Ok(slug) => {
                self.failures.store(0, Ordering::SeqCst);
                AiOutcome::Named(slug)
            }
            Err(reason) => {
                let n = self.failures.fetch_add(1, Ordering::SeqCst) + 1;
                if n >= BREAKER_THRESHOLD && !self.open.swap(true, Ordering::SeqCst) {
                    tracing::warn!(failures = n, %reason, "AI naming turned off for the rest of this run");
                    AiOutcome::Tripped(reason)
                } else {
                    tracing::debug!(%reason, "AI naming failed; using the heading");
                    AiOutcome::Failed(reason)
                }
            }
        }
    }

    async fn call(
        &self,
        cfg: &AiConfig,
        image: &[u8],
        media_type: &str,
        heading: &str,
        context: &str,
    ) -> Result<String, String> {
        let data = base64::engine::general_purpose::STANDARD.encode(image);
        let context: String = context.chars().take(600).collect();
        let heading: String = heading.chars().take(200).collect();
        let text = format!(
            "Suggest a short, descriptive file name for this image: 2 to 5 words, lowercase, \
             kebab-case, no extension. Answer with the name only.\nSection heading: {heading}\n\
             Text just before the image: {context}"
        );
        let body = json!({
            "model": cfg.model,
            "max_tokens": 32,
            "messages": [{"role": "user", "content": [
                {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}},
                {"type": "text", "text": text}
            ]}]
        });
        let resp = self
            .client
            .post(&cfg.api_url)
            .timeout(self.timeout)
            .header("x-api-key", &cfg.api_key)
            .header("anthropic-version", "2023-06-01")
            .json(&body)
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    "AI endpoint timed out".to_string()
                } else {
                    "AI endpoint unreachable".to_string()
                }
            })?;
        let status = resp.status();
        if !status.is_success() {
            return Err(format!("AI endpoint answered HTTP {}", status.as_u16()));
        }
        let v: Value = resp.json().await.map_err(|_| "AI endpoint sent an answer that is not JSON".to_string())?;
        let answer = v
            .pointer("/content/0/text")
            .and_then(Value::as_str)
            .ok_or_else(|| "AI answer has no content[0].text".to_string())?;
        sanitize_answer(answer).ok_or_else(|| "AI answer was not a usable name".to_string())
    }
}

/// A safe slug from a model's answer: first line, slugified, at most six words and
/// [`MAX_AI_SLUG`] characters; `None` for empty or clearly conversational answers.
pub fn sanitize_answer(answer: &str) -> Option<String> {
    let line = answer.lines().map(str::trim).find(|l| !l.is_empty())?;
    let line = line.trim_matches(|c: char| c == '`' || c == '"' || c == '\'' || c == '*');
    // Drop an extension the model added anyway.
    let line = match line.rsplit_once('.') {
        Some((stem, ext)) if ext.len() <= 4 && ext.chars().all(|c| c.is_ascii_alphanumeric()) => stem,
        _ => line,
    };
    let slug = slugify(line, 200);
    let words: Vec<&str> = slug.split('-').filter(|w| !w.is_empty()).collect();
    if words.is_empty() || words.len() > 8 || slug.len() < 3 {
        return None;
    }
    let mut out = String::new();
    for w in words.iter().take(6) {
        if out.len() + w.len() + usize::from(!out.is_empty()) > MAX_AI_SLUG {
            break;
        }
        if !out.is_empty() {
            out.push('-');
        }
        out.push_str(w);
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_sanitised() {
        assert_eq!(sanitize_answer("Sunset Over Mountains").as_deref(), Some("sunset-over-mountains"));
        assert_eq!(sanitize_answer("`team-photo.png`\n").as_deref(), Some("team-photo"));
        assert_eq!(sanitize_answer("\n\n  ../../etc/passwd").as_deref(), Some("etc-passwd"));
        assert_eq!(sanitize_answer("   "), None);
        assert_eq!(sanitize_answer("!!!"), None);
        assert_eq!(
            sanitize_answer("I'm sorry, but I cannot identify what this image shows without more context"),
            None
        );
        let long = sanitize_answer("supercalifragilistic expialidocious-extraordinarily marvellous thing").unwrap();
        assert!(long.len() <= MAX_AI_SLUG, "{long}");
    }
}
