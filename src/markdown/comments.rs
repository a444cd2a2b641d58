//! The `## Comments` section appended to a page's `index.md` when BACKUP_COMMENTS=1: each
//! unresolved comment as one line with its author, time and text (HTML-escaped).

use std::collections::HashMap;

use serde_json::Value;

use crate::ids;

use super::inline;

/// The comments section (empty when there are none). `users` maps normalized user ids to names.
pub fn render_comments(comments: &[Value], users: &HashMap<String, String>) -> String {
    if comments.is_empty() {
        return String::new();
    }
    let mut out = String::from("\n## Comments\n\n");
    for c in comments {
        let author = c
            .pointer("/created_by/id")
            .and_then(Value::as_str)
            .map(|id| users.get(&ids::normalize(id)).cloned().unwrap_or_else(|| id.to_string()))
            .or_else(|| c.pointer("/display_name/resolved_name").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_else(|| "unknown".into());
        let when = c.get("created_time").and_then(Value::as_str).unwrap_or("");
        let text: String = c
            .get("rich_text")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|r| r.get("plain_text").and_then(Value::as_str)).collect())
            .unwrap_or_default();
        let text = inline::escape_html(&text).replace('\n', " ");
        out.push_str(&format!("- **{}** ({when}): {text}\n", inline::escape_html(&author)));
    }
    out
}
