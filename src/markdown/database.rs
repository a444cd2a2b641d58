//! Generated files of a database folder: the index (`README.md` at a repository root,
//! `index.md` for a child database) with a table of its pages and their main properties, and
//! `database.csv` with every property of every page as readable text. Both deterministic, so they
//! are committed only when they change.

use super::{self as markdown, RenderContext};
use crate::notion::model::{Page, PropertyKind};

/// A row of a database as the index and the CSV see it.
pub struct Row<'a> {
    pub page: &'a Page,
    pub title: &'a str,
    /// Folder of the row relative to the database folder.
    pub rel_folder: String,
}

/// Property types shown in the index table (at most [`MAX_COLUMNS`], by name).
fn is_summary_type(k: &PropertyKind) -> bool {
    matches!(
        k,
        PropertyKind::Status(_)
            | PropertyKind::Select(_)
            | PropertyKind::MultiSelect(_)
            | PropertyKind::Date(_)
            | PropertyKind::Checkbox(_)
    )
}

const MAX_COLUMNS: usize = 3;

fn cell(s: &str) -> String {
    s.replace('\\', "\\\\").replace('|', "\\|").replace(['\n', '\r'], " ")
}

fn plain(k: &PropertyKind) -> String {
    match k {
        PropertyKind::Status(Some(o)) | PropertyKind::Select(Some(o)) => o.name.clone(),
        PropertyKind::MultiSelect(v) => v.iter().map(|o| o.name.as_str()).collect::<Vec<_>>().join(", "),
        PropertyKind::Date(Some(d)) => match &d.end {
            Some(e) => format!("{} → {e}", d.start),
            None => d.start.clone(),
        },
        PropertyKind::Checkbox(b) => if *b { "✓" } else { "" }.to_string(),
        _ => String::new(),
    }
}

fn sorted<'a>(rows: &'a [Row<'a>]) -> Vec<&'a Row<'a>> {
    let mut v: Vec<&Row> = rows.iter().collect();
    v.sort_by(|a, b| a.title.to_lowercase().cmp(&b.title.to_lowercase()).then(a.page.id.cmp(&b.page.id)));
    v
}

pub fn render_index(db_title: &str, label: &str, rows: &[Row<'_>]) -> String {
    let mut columns: Vec<String> = Vec::new();
    for r in rows {
        for (name, v) in &r.page.properties {
            if is_summary_type(&v.kind) && !columns.contains(name) {
                columns.push(name.clone());
            }
        }
    }
    columns.sort();
    columns.truncate(MAX_COLUMNS);
    let heading = if db_title.trim().is_empty() { label } else { db_title };
    let n = rows.len();
    let mut out = format!(
        "# {}\n\nBackup of the Notion database **{}**: {n} page{}. Every property of every page is in [database.csv](database.csv).\n\n",
        cell(heading),
        cell(label),
        if n == 1 { "" } else { "s" }
    );
    out.push_str("| Page |");
    for c in &columns {
        out.push_str(&format!(" {} |", cell(c)));
    }
    out.push_str(" Last edited |\n|---|");
    out.push_str(&"---|".repeat(columns.len()));
    out.push_str("---|\n");
    for r in sorted(rows) {
        let title = if r.title.trim().is_empty() { "Untitled" } else { r.title };
        let link_text = title.replace('[', "\\[").replace(']', "\\]");
        out.push_str(&format!("| [{}]({}/index.md) |", cell(&link_text), r.rel_folder));
        for c in &columns {
            let v = r.page.properties.get(c).map(|v| plain(&v.kind)).unwrap_or_default();
            out.push_str(&format!(" {} |", cell(&v)));
        }
        out.push_str(&format!(" {} |\n", r.page.last_edited_time.get(..10).unwrap_or("")));
    }
    out
}

/// `README.md` of the workspace repository: its top-level pages and databases.
pub fn render_workspace_index(label: &str, roots: &[(String, String, String)]) -> String {
    let mut sorted: Vec<&(String, String, String)> = roots.iter().collect();
    sorted.sort_by(|a, b| a.1.to_lowercase().cmp(&b.1.to_lowercase()).then(a.0.cmp(&b.0)));
    let mut out = format!(
        "# {}\n\nBackup of everything the Notion integration can see that no configured database covers: {} top-level item{}.\n\n",
        cell(label),
        roots.len(),
        if roots.len() == 1 { "" } else { "s" }
    );
    for (_, title, folder) in sorted {
        let t = if title.trim().is_empty() { "Untitled" } else { title };
        out.push_str(&format!("- [{}]({folder}/index.md)\n", t.replace('[', "\\[").replace(']', "\\]")));
    }
    out
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) || s.starts_with(' ') || s.ends_with(' ') {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// `database.csv`: one row per page, every property as readable text (title first, then by
/// name), then `notion_id`, `last_edited_time` and the relative `path` of the page's backup.
pub fn render_csv(rows: &[Row<'_>], ctx: &RenderContext) -> String {
    let mut props: Vec<String> = Vec::new();
    let mut title_prop: Option<String> = None;
    for r in rows {
        for (name, v) in &r.page.properties {
            if matches!(v.kind, PropertyKind::Title(_)) {
                title_prop.get_or_insert_with(|| name.clone());
            } else if !matches!(v.kind, PropertyKind::Button) && !props.contains(name) {
                props.push(name.clone());
            }
        }
    }
    props.sort();
    let mut cols: Vec<String> = title_prop.iter().cloned().collect();
    cols.extend(props);
    let mut out = String::new();
    let header: Vec<String> =
        cols.iter().map(|c| csv_field(c)).chain(["notion_id", "last_edited_time", "path"].map(String::from)).collect();
    out.push_str(&header.join(","));
    out.push_str("\r\n");
    for r in sorted(rows) {
        let mut fields: Vec<String> = cols
            .iter()
            .map(|c| {
                r.page.properties.get(c).map(|v| markdown::property_to_plain_named(c, &v.kind, ctx)).unwrap_or_default()
            })
            .map(|s| csv_field(&s))
            .collect();
        fields.push(csv_field(&r.page.id));
        fields.push(csv_field(&r.page.last_edited_time));
        fields.push(csv_field(&format!("{}/index.md", r.rel_folder)));
        out.push_str(&fields.join(","));
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_what_needs_quoting() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\"\nnow"), "\"say \"\"hi\"\"\nnow\"");
    }
}
