//! Paths inside the page folder for downloaded files (pure: no I/O).
//!
//! Images: `assets/<n>-<slug>.<ext>`, `n` counting up in document order on the first run and
//! continuing after the highest remembered number later, the slug from the AI answer, the
//! nearest heading, or the reference kind (`icon`, `cover`, the property name), else `image`.
//! Everything else: `attachments/<original name made safe>`, the extension corrected when the
//! bytes say otherwise. Collisions are resolved case-insensitively (`-2`, `-3`, ...), since
//! backups get cloned onto case-insensitive file systems.

use std::collections::HashSet;

use super::collect::extension_of;
use super::sniff::{same_format, Sniffed};
use crate::markdown::MediaKey;
use crate::paths::{is_safe_relative, safe_file_name, slugify, unique_name};

pub const ASSETS: &str = "assets";
pub const ATTACHMENTS: &str = "attachments";
/// Longest slug in an image name.
pub const MAX_IMAGE_SLUG: usize = 40;

/// The slug for an image when no AI name is available.
pub fn default_slug(key: &MediaKey, heading: &str) -> String {
    let from_heading = slugify(heading, MAX_IMAGE_SLUG);
    if !from_heading.is_empty() {
        return from_heading;
    }
    let fallback = match key {
        MediaKey::Icon => "icon".to_string(),
        MediaKey::Cover => "cover".to_string(),
        MediaKey::Property { name, .. } => slugify(name, MAX_IMAGE_SLUG),
        MediaKey::Block(_) => String::new(),
    };
    if fallback.is_empty() {
        "image".to_string()
    } else {
        fallback
    }
}

/// `assets/<n>-<slug>.<ext>`.
pub fn image_path(n: u32, slug: &str, ext: &str) -> String {
    let slug = if slug.is_empty() { "image" } else { slug };
    format!("{ASSETS}/{n}-{slug}.{ext}")
}

/// `attachments/<safe name>`: the original name (or `file`) made safe, its extension replaced
/// or appended when the bytes identify a different format.
pub fn attachment_path(original: Option<&str>, sniffed: &Sniffed) -> String {
    let base = safe_file_name(original.unwrap_or(""), "file");
    let name = match extension_of(&base) {
        Some(ext) if same_format(&ext, &sniffed.ext) => base,
        _ if !sniffed.from_bytes => match extension_of(&base) {
            Some(_) => base,
            None if sniffed.ext != "bin" || base == "file" => format!("{base}.{}", sniffed.ext),
            None => base,
        },
        Some(ext) if ext.len() <= 4 && ext.chars().all(|c| c.is_ascii_alphabetic()) => {
            format!("{}.{}", &base[..base.len() - ext.len() - 1], sniffed.ext)
        }
        _ => format!("{base}.{}", sniffed.ext),
    };
    format!("{ATTACHMENTS}/{}", safe_file_name(&name, "file"))
}

/// The number of an image path (`assets/12-intro.png` -> 12).
pub fn number_of(path: &str) -> Option<u32> {
    let name = path.strip_prefix("assets/")?;
    let digits: String = name.chars().take_while(char::is_ascii_digit).collect();
    name[digits.len()..].starts_with('-').then(|| digits.parse().ok()).flatten()
}

/// A remembered path is reused only if it is a safe path directly inside `assets/` or
/// `attachments/` (the state file is not trusted blindly).
pub fn is_valid_remembered(path: &str) -> bool {
    is_safe_relative(path)
        && match path.split_once('/') {
            Some((dir, name)) => (dir == ASSETS || dir == ATTACHMENTS) && !name.contains('/') && !name.is_empty(),
            None => false,
        }
}

/// Paths in use, compared case-insensitively.
#[derive(Debug, Default)]
pub struct Taken(HashSet<String>);

impl Taken {
    pub fn contains(&self, path: &str) -> bool {
        self.0.contains(&path.to_ascii_lowercase())
    }

    pub fn insert(&mut self, path: &str) {
        self.0.insert(path.to_ascii_lowercase());
    }

    /// `path`, or `path` with `-2`, `-3`, ... before the extension when it is taken.
    pub fn unique(&self, path: &str) -> String {
        let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
        let name = unique_name(name, |c| self.contains(&format!("{dir}/{c}")));
        format!("{dir}/{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sniffed(ext: &str, from_bytes: bool) -> Sniffed {
        Sniffed { ext: ext.into(), mime: String::new(), is_image: false, from_bytes }
    }

    #[test]
    fn attachment_names() {
        let pdf = sniffed("pdf", true);
        assert_eq!(attachment_path(Some("Report Q1.pdf"), &pdf), "attachments/Report Q1.pdf");
        assert_eq!(attachment_path(Some("Report"), &pdf), "attachments/Report.pdf");
        assert_eq!(attachment_path(Some("scan.jpg"), &sniffed("png", true)), "attachments/scan.png");
        assert_eq!(attachment_path(Some("a.JPEG"), &sniffed("jpg", true)), "attachments/a.JPEG");
        assert_eq!(attachment_path(None, &pdf), "attachments/file.pdf");
        assert_eq!(attachment_path(Some("data.csv"), &sniffed("csv", false)), "attachments/data.csv");
        assert_eq!(attachment_path(Some("notes"), &sniffed("txt", false)), "attachments/notes.txt");
        assert_eq!(attachment_path(Some("blob"), &sniffed("bin", false)), "attachments/blob");
        let hostile = attachment_path(Some("../../.git/hooks/post-commit"), &sniffed("txt", false));
        assert!(is_valid_remembered(&hostile), "{hostile}");
    }

    #[test]
    fn image_names_and_numbers() {
        assert_eq!(image_path(3, "intro", "png"), "assets/3-intro.png");
        assert_eq!(number_of("assets/12-intro.png"), Some(12));
        assert_eq!(number_of("assets/intro.png"), None);
        assert_eq!(number_of("attachments/1-a.png"), None);
        assert_eq!(default_slug(&MediaKey::Block("b".into()), "Über uns!"), "uber-uns");
        assert_eq!(default_slug(&MediaKey::Block("b".into()), ""), "image");
        assert_eq!(default_slug(&MediaKey::Cover, ""), "cover");
    }

    #[test]
    fn remembered_paths_are_checked() {
        assert!(is_valid_remembered("assets/1-a.png"));
        assert!(!is_valid_remembered("../assets/1-a.png"));
        assert!(!is_valid_remembered("assets/../../x"));
        assert!(!is_valid_remembered("index.md"));
        assert!(!is_valid_remembered("assets/sub/x.png"));
    }

    #[test]
    fn uniqueness_ignores_case() {
        let mut t = Taken::default();
        t.insert("attachments/Report.pdf");
        assert_eq!(t.unique("attachments/report.pdf"), "attachments/report-2.pdf");
        assert_eq!(t.unique("assets/1-a.png"), "assets/1-a.png");
    }
}
