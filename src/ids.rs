//! Notion ids: parsing what users paste (32 hex chars, dashed UUIDs, Notion URLs) and one
//! canonical form for comparing ids from different API fields.

/// Canonical form: 32 lowercase hex characters, no dashes.
pub fn normalize(id: &str) -> String {
    id.chars()
        .filter(|c| *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

/// Dashed UUID form (8-4-4-4-12), as the API prints ids.
pub fn dashed(id: &str) -> String {
    let n = normalize(id);
    if n.len() != 32 {
        return n;
    }
    format!(
        "{}-{}-{}-{}-{}",
        &n[0..8],
        &n[8..12],
        &n[12..16],
        &n[16..20],
        &n[20..32]
    )
}

fn is_hex32(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Parse a database or page id from what a user may paste into `.env`: 32 hex characters, a
/// dashed UUID, or a Notion URL (`https://www.notion.so/workspace/Title-<id>?v=<view>`). Returns
/// the canonical 32-hex form, or `None` when no id can be found.
pub fn parse_user_id(input: &str) -> Option<String> {
    let s = input.trim().trim_matches(|c| c == '"' || c == '\'');
    if s.is_empty() {
        return None;
    }
    let compact = normalize(s);
    if is_hex32(&compact) && s.len() <= 36 {
        return Some(compact);
    }
    if s.contains("://") || s.starts_with("www.") || s.starts_with("notion.so") {
        let with_scheme = if s.contains("://") {
            s.to_string()
        } else {
            format!("https://{s}")
        };
        let url = url::Url::parse(&with_scheme).ok()?;
        // The database id is the last 32 hex characters of the last path segment; the `v=`
        // query parameter is a view id and must be ignored.
        let last = url
            .path_segments()?
            .filter(|p| !p.is_empty())
            .next_back()?
            .to_string();
        let last = normalize(&last);
        if last.len() >= 32 {
            let tail = &last[last.len() - 32..];
            if is_hex32(tail) {
                return Some(tail.to_string());
            }
        }
        // `?p=<id>` page-peek links.
        for (k, v) in url.query_pairs() {
            if k == "p" && is_hex32(&normalize(&v)) {
                return Some(normalize(&v));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "1f2e3d4c5b6a79881f2e3d4c5b6a7988";

    #[test]
    fn accepts_all_forms() {
        assert_eq!(parse_user_id(ID).as_deref(), Some(ID));
        assert_eq!(
            parse_user_id("1F2E3D4C-5B6A-7988-1F2E-3D4C5B6A7988").as_deref(),
            Some(ID)
        );
        assert_eq!(
            parse_user_id(&format!(
                "https://www.notion.so/acme/Reading-List-{ID}?v=abcdefabcdefabcdefabcdefabcdefab"
            ))
            .as_deref(),
            Some(ID)
        );
        assert_eq!(
            parse_user_id(&format!("notion.so/{ID}")).as_deref(),
            Some(ID)
        );
        assert_eq!(parse_user_id(&format!("\"{ID}\"")).as_deref(), Some(ID));
    }

    #[test]
    fn rejects_non_ids() {
        assert_eq!(parse_user_id(""), None);
        assert_eq!(parse_user_id("my-database"), None);
        assert_eq!(parse_user_id("1f2e3d4c5b6a79881f2e3d4c5b6a798"), None);
        assert_eq!(
            parse_user_id("https://www.notion.so/acme/Reading-List"),
            None
        );
    }

    #[test]
    fn dashed_roundtrip() {
        assert_eq!(dashed(ID), "1f2e3d4c-5b6a-7988-1f2e-3d4c5b6a7988");
        assert_eq!(normalize(&dashed(ID)), ID);
    }
}
