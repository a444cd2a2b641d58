//! Generated files of a database folder: the index (`README.md` at a repository root,
//! `index.md` for a child database), which opens with front matter saying which Notion database
//! the folder holds and lists its pages with their main properties, and `database.csv` with every
//! property of every page as readable text; and the workspace repository's `README.md`.
//!
//! All deterministic, so they are committed only when they change. Titles and values are escaped
//! as page text is (a title never turns into Markdown or HTML), link targets are encoded as
//! [`super::safe::path_dest`] does, control characters never reach a file. Pure: no I/O.

use std::collections::HashMap;

use super::front_matter::{file_entry_text, icon_value, order_names, yaml_str};
use super::inline::{escape_text, format_date, notion_url, strong, Mode, UNTITLED};
use super::safe::{self, clean_value};
use super::{self as markdown, LocalFile, MediaKey, RenderContext};
use crate::notion::model::{DataSourceRef, Database, Icon, Page, PropertyKind};

/// A row of a database as the index and the CSV see it.
pub struct Row<'a> {
    pub page: &'a Page,
    pub title: &'a str,
    /// Folder of the row relative to the database folder.
    pub rel_folder: String,
    /// Where the row's files are, paths relative to the row's folder (the media step's map, as
    /// the state records it after the row's downloads). `None` when not known: the CSV then names
    /// the files; with a map, a Notion-hosted file missing from it is `(not backed up)`.
    pub media: Option<&'a HashMap<MediaKey, LocalFile>>,
}

/// Which Notion database a folder holds, for the front matter of its index.
#[derive(Debug, Clone, Copy)]
pub struct DatabaseMeta<'a> {
    /// Database id, as the API gives it.
    pub id: &'a str,
    /// Title shown (the database's title, or the engine's fallback for an untitled one).
    pub title: &'a str,
    /// Notion's URL of the database (empty: built from the id).
    pub url: &'a str,
    /// Its data sources (id and name).
    pub data_sources: &'a [DataSourceRef],
    pub last_edited_time: &'a str,
    pub icon: Option<&'a Icon>,
}

impl<'a> DatabaseMeta<'a> {
    /// The identity of `db`, shown under `title`.
    pub fn new(db: &'a Database, title: &'a str) -> DatabaseMeta<'a> {
        DatabaseMeta {
            id: &db.id,
            title,
            url: &db.url,
            data_sources: &db.data_sources,
            last_edited_time: &db.last_edited_time,
            icon: db.icon.as_ref(),
        }
    }

    /// The front matter block: `title`, `notion_id`, `notion_url`, `data_sources` (id and name
    /// of each), `last_edited_time`, and `icon` when it has one that can be written (an emoji, a
    /// stored file through `MediaKey::Icon` of `ctx`, an external URL).
    fn front_matter(&self, ctx: &RenderContext) -> String {
        let url = if self.url.is_empty() { notion_url(self.id) } else { self.url.to_string() };
        let sources: Vec<String> = self
            .data_sources
            .iter()
            .map(|d| format!("{{\"id\": {}, \"name\": {}}}", yaml_str(&d.id), yaml_str(&d.name)))
            .collect();
        let mut y = format!(
            "---\ntitle: {}\nnotion_id: {}\nnotion_url: {}\ndata_sources: [{}]\nlast_edited_time: {}\n",
            yaml_str(self.title),
            yaml_str(self.id),
            yaml_str(&url),
            sources.join(", "),
            yaml_str(self.last_edited_time)
        );
        if let Some(icon) = self.icon.and_then(|i| icon_value(i, ctx)) {
            y.push_str(&format!("icon: {}\n", yaml_str(&icon)));
        }
        y.push_str("---\n");
        y
    }
}

/// Property types shown in the index table (at most [`MAX_COLUMNS`], in the database's order).
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

/// Text for a table cell, escaped as page text is.
fn cell(s: &str) -> String {
    escape_text(s, Mode::TableCell)
}

fn plain(k: &PropertyKind) -> String {
    match k {
        PropertyKind::Status(Some(o)) | PropertyKind::Select(Some(o)) => o.name.clone(),
        PropertyKind::MultiSelect(v) => v.iter().map(|o| o.name.as_str()).collect::<Vec<_>>().join(", "),
        PropertyKind::Date(Some(d)) => format_date(d),
        PropertyKind::Checkbox(b) => if *b { "✓" } else { "" }.to_string(),
        _ => String::new(),
    }
}

fn sorted<'a>(rows: &'a [Row<'a>]) -> Vec<&'a Row<'a>> {
    let mut v: Vec<&Row> = rows.iter().collect();
    v.sort_by(|a, b| a.title.to_lowercase().cmp(&b.title.to_lowercase()).then(a.page.id.cmp(&b.page.id)));
    v
}

/// `[title](folder/index.md)`, the title escaped, the folder encoded.
fn page_link(title: &str, folder: &str, mode: Mode) -> String {
    let t = escape_text(title, mode);
    let t = if t.is_empty() { UNTITLED.to_string() } else { t };
    format!("[{t}]({})", safe::path_dest(&format!("{folder}/index.md")))
}

/// The database folder's index: front matter ([`DatabaseMeta`]), a heading, one line saying
/// what it is, and a table of the pages (title, up to three status/select/date/checkbox columns
/// in the database's order from `ctx.property_order`, last edit). `label` names the database in
/// the sentence (the configured label at a repository root).
pub fn render_index(meta: &DatabaseMeta, label: &str, rows: &[Row<'_>], ctx: &RenderContext) -> String {
    let mut names: Vec<String> = Vec::new();
    for r in rows {
        for (name, v) in &r.page.properties {
            if is_summary_type(&v.kind) && !names.contains(name) {
                names.push(name.clone());
            }
        }
    }
    let mut columns = order_names(names, ctx);
    columns.truncate(MAX_COLUMNS);
    let heading = if meta.title.trim().is_empty() { label } else { meta.title };
    let heading = escape_text(heading, Mode::Line);
    let n = rows.len();
    let mut out = meta.front_matter(ctx);
    out.push_str(&format!(
        "\n# {}\n\nBackup of the Notion database {}: {n} page{}. Every property of every page is in [database.csv](database.csv).\n\n",
        if heading.is_empty() { UNTITLED } else { &heading },
        strong(&escape_text(label, Mode::Line)),
        if n == 1 { "" } else { "s" }
    ));
    out.push_str("| Page |");
    for c in &columns {
        out.push_str(&format!(" {} |", cell(c)));
    }
    out.push_str(" Last edited |\n|---|");
    out.push_str(&"---|".repeat(columns.len()));
    out.push_str("---|\n");
    for r in sorted(rows) {
        out.push_str(&format!("| {} |", page_link(r.title, &r.rel_folder, Mode::TableCell)));
        for c in &columns {
            let v = r.page.properties.get(c).map(|v| plain(&v.kind)).unwrap_or_default();
            out.push_str(&format!(" {} |", cell(&v)));
        }
        out.push_str(&format!(" {} |\n", cell(r.page.last_edited_time.get(..10).unwrap_or(""))));
    }
    safe::clean_document(out)
}

/// `README.md` of the workspace repository: its top-level pages and databases, as
/// (id, title, folder) triples.
pub fn render_workspace_index(label: &str, roots: &[(String, String, String)]) -> String {
    let mut sorted: Vec<&(String, String, String)> = roots.iter().collect();
    sorted.sort_by(|a, b| a.1.to_lowercase().cmp(&b.1.to_lowercase()).then(a.0.cmp(&b.0)));
    let heading = escape_text(label, Mode::Line);
    let mut out = format!(
        "# {}\n\nBackup of everything the Notion integration can see that no configured database covers: {} top-level item{}.\n\n",
        if heading.is_empty() { UNTITLED } else { &heading },
        roots.len(),
        if roots.len() == 1 { "" } else { "s" }
    );
    for (_, title, folder) in sorted {
        out.push_str(&format!("- {}\n", page_link(title, folder, Mode::Line)));
    }
    safe::clean_document(out)
}

fn csv_field(s: &str) -> String {
    let s = clean_value(s);
    if s.contains([',', '"', '\n']) || s.starts_with(' ') || s.ends_with(' ') {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.into_owned()
    }
}

/// `database.csv`: one row per page, every property as readable text (title first, then in the
/// database's order from `ctx.property_order`, else by name), then `notion_id`,
/// `last_edited_time` and the relative `path` of the page's backup. A `files` cell lists the
/// files where they are in the repository, relative to the database folder (from
/// [`Row::media`]).
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
    let mut cols: Vec<String> = title_prop.iter().cloned().collect();
    cols.extend(order_names(props, ctx));
    let mut out = String::new();
    let header: Vec<String> =
        cols.iter().map(|c| csv_field(c)).chain(["notion_id", "last_edited_time", "path"].map(String::from)).collect();
    out.push_str(&header.join(","));
    out.push_str("\r\n");
    for r in sorted(rows) {
        let prefix = format!("{}/", r.rel_folder);
        let mut fields: Vec<String> = cols
            .iter()
            .map(|c| match r.page.properties.get(c).map(|v| &v.kind) {
                Some(PropertyKind::Files(files)) => files
                    .iter()
                    .enumerate()
                    .map(|(i, f)| file_entry_text(Some(c), i, f, r.media, &prefix))
                    .collect::<Vec<_>>()
                    .join(", "),
                Some(kind) => markdown::property_to_plain_named(c, kind, ctx),
                None => String::new(),
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
    fn csv_quotes_what_needs_quoting_and_drops_controls() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\"\nnow"), "\"say \"\"hi\"\"\nnow\"");
        assert_eq!(csv_field("bell\u{7}\r\nesc\u{1b}[0m"), "\"bell\nesc[0m\"");
    }
}
