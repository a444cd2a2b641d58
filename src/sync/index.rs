//! The generated `README.md` of each backup repository: the database title and a table of its
//! pages (linked) with their main properties. Deterministic, so it is committed only when it
//! changes.

use crate::notion::model::PropertyKind;

use super::{Engine, Listed};

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

pub(crate) fn render_index(db_title: &str, label: &str, pages: &[Listed], engine: &Engine<'_>) -> String {
    let _ = engine;
    let mut columns: Vec<String> = Vec::new();
    for p in pages {
        for (name, v) in &p.page.properties {
            if is_summary_type(&v.kind) && !columns.contains(name) {
                columns.push(name.clone());
            }
        }
    }
    columns.sort();
    columns.truncate(MAX_COLUMNS);
    let mut sorted: Vec<&Listed> = pages.iter().collect();
    sorted.sort_by(|a, b| a.title.to_lowercase().cmp(&b.title.to_lowercase()).then(a.id.cmp(&b.id)));

    let heading = if db_title.trim().is_empty() { label } else { db_title };
    let mut out = format!(
        "# {}\n\nBackup of the Notion database **{}**: {} page{}.\n\n",
        cell(heading),
        cell(label),
        pages.len(),
        if pages.len() == 1 { "" } else { "s" }
    );
    out.push_str("| Page |");
    for c in &columns {
        out.push_str(&format!(" {} |", cell(c)));
    }
    out.push_str(" Last edited |\n|---|");
    out.push_str(&"---|".repeat(columns.len()));
    out.push_str("---|\n");
    for p in sorted {
        let title = if p.title.trim().is_empty() { "Untitled" } else { &p.title };
        let link_text = title.replace('[', "\\[").replace(']', "\\]");
        out.push_str(&format!("| [{}]({}/index.md) |", cell(&link_text), p.folder));
        for c in &columns {
            let v = p.page.properties.get(c).map(|v| plain(&v.kind)).unwrap_or_default();
            out.push_str(&format!(" {} |", cell(&v)));
        }
        out.push_str(&format!(" {} |\n", p.page.last_edited_time.get(..10).unwrap_or("")));
    }
    out
}
