//! Hostile input, through the real binary: page titles and attachment names made to escape the
//! repository or hit `.git` and device names, malformed JSON from Notion, a block tree 200 deep,
//! synced blocks that contain themselves, a 10 MB rich text, a bad repository name, and a "Gitea"
//! that answers with an HTML login page.
//!
//! Every test runs the binary in `<tmp>/work` (its `.env`, state and `backup/`), with `TMPDIR`
//! pointing at `<tmp>/tmp`, and checks: nothing was written anywhere in `<tmp>` except the backup
//! repository and the state (listings and contents compared before/after), nothing in `.git` was
//! written by content (no hook, no config change), no panic, a message that says what happened,
//! and the exit code (0 all backed up, 1 some pages or databases failed, 2 could not start).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::fake_gitea::{self, FakeGitea};
use common::fake_notion::{dashed, norm, FakeNotion, World, DEFAULT_TOKEN};
use common::fixtures::*;
use notion_git_backup::state::State;
use pulldown_cmark::{Event, Parser, Tag};
use serde_json::{json, Value};
use yaml_rust2::YamlLoader;

/// A temp root with `work/` (where the binary runs) and `tmp/` (its TMPDIR).
struct Sandbox {
    root: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Sandbox {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("work")).unwrap();
        std::fs::create_dir_all(root.path().join("tmp")).unwrap();
        // Decoys a path traversal would overwrite.
        std::fs::create_dir_all(root.path().join("etc")).unwrap();
        std::fs::write(root.path().join("etc/passwd"), "root:x:0:0\n").unwrap();
        std::fs::write(root.path().join("work/.env"), "# settings are in the environment\n").unwrap();
        Sandbox { root }
    }

    fn work(&self) -> PathBuf {
        self.root.path().join("work")
    }

    fn repo(&self) -> PathBuf {
        self.work().join("backup/notes")
    }

    fn state(&self) -> State {
        State::load(&self.work().join("sync-state.json")).unwrap()
    }

    /// Every file and folder under the root except the backup repository, the state files and the
    /// repository locks' folder:
    /// relative path -> contents (folders: empty).
    fn snapshot(&self) -> BTreeMap<String, Vec<u8>> {
        let mut out = BTreeMap::new();
        walk(self.root.path(), self.root.path(), &mut out);
        out.retain(|p, _| {
            !(p == "work/backup"
                || p == "work/backup/notes"
                || p.starts_with("work/backup/notes/")
                || p.starts_with("work/sync-state.json")
                // The per-user folder of Gitea repository locks (no HOME here: under TMPDIR).
                || p.starts_with("tmp/notion-git-backup-"))
        });
        out
    }

    /// Runs the binary with `vars` (on a blocking thread: the fakes live on this runtime) and
    /// checks that nothing outside the repository and the state changed and nothing panicked.
    async fn run(&self, vars: &[(&str, String)]) -> Output {
        let before = self.snapshot();
        let mut c = Command::new(assert_cmd::cargo::cargo_bin("notion-git-backup"));
        c.current_dir(self.work())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("TMPDIR", self.root.path().join("tmp"))
            .env("NOTION_TOKEN", DEFAULT_TOKEN)
            .env("NOTION_RATE_LIMIT", "1000")
            .env("BACKUP_DIR", "backup")
            .env("DB1_GIT_REPO", "notes")
            .arg("--env")
            .arg(self.work().join(".env"));
        for (k, v) in vars {
            c.env(k, v);
        }
        let out = tokio::task::spawn_blocking(move || c.output().unwrap()).await.unwrap();
        let after = self.snapshot();
        let added: Vec<&String> = after.keys().filter(|k| !before.contains_key(*k)).collect();
        let removed: Vec<&String> = before.keys().filter(|k| !after.contains_key(*k)).collect();
        let changed: Vec<&String> = before.keys().filter(|k| after.get(*k).is_some_and(|v| v != &before[*k])).collect();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            added.is_empty() && removed.is_empty() && changed.is_empty(),
            "written outside the repository: added {added:?}, removed {removed:?}, changed {changed:?}\n{stderr}"
        );
        assert!(!stderr.contains("panicked"), "panic:\n{stderr}");
        out
    }
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let p = e.path();
        let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
        if e.file_type().unwrap().is_dir() {
            out.insert(rel, Vec::new());
            walk(root, &p, out);
        } else {
            out.insert(rel, std::fs::read(&p).unwrap_or_default());
        }
    }
}

fn git(repo: &Path, args: &[&str]) -> String {
    let out = Command::new("git").arg("-C").arg(repo).args(args).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `.git` holds only what git itself writes: no hook besides git's samples, no file named
/// after hostile content, a config without hooks or includes.
fn assert_git_dir_untouched(repo: &Path, hostile_names: &[&str]) {
    let dotgit = repo.join(".git");
    let mut all = BTreeMap::new();
    walk(&dotgit, &dotgit, &mut all);
    for path in all.keys() {
        let name = path.rsplit('/').next().unwrap();
        if let Some(hook) = path.strip_prefix("hooks/") {
            assert!(hook.ends_with(".sample"), "a hook was created: .git/{path}");
        }
        for h in hostile_names.iter().filter(|_| !name.ends_with(".sample")) {
            assert!(!name.contains(h), "a file named after hostile content: .git/{path}");
        }
    }
    let config = std::fs::read_to_string(dotgit.join("config")).unwrap();
    for bad in ["hooksPath", "include", "fsmonitor", "sshCommand", "pager"] {
        assert!(!config.contains(bad), ".git/config was changed: {config}");
    }
    assert!(git(repo, &["status", "--porcelain"]).trim().is_empty(), "work tree left dirty");
}

/// Every tracked path stays inside the repository and is not hidden.
fn assert_tracked_paths_safe(files: &BTreeMap<String, Vec<u8>>) {
    for path in files.keys() {
        assert!(notion_git_backup::paths::is_safe_relative(path), "unsafe path committed: {path:?}");
        assert!(path.split('/').all(|c| !c.starts_with('.')), "hidden path committed: {path:?}");
        assert!(path.len() < 300, "path too long: {path}");
    }
}

fn front_matter_title(md: &[u8]) -> String {
    let md = String::from_utf8_lossy(md);
    let rest = md.strip_prefix("---\n").expect("front matter");
    let end = rest.find("\n---\n").expect("end of front matter");
    let docs = YamlLoader::load_from_str(&rest[..end]).expect("front matter is YAML");
    docs[0]["title"].as_str().expect("a title").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_titles_and_file_names_stay_inside_the_repository() {
    let mut w = World::new();
    let titles = [
        "../../etc/passwd".to_string(),
        ".git".to_string(),
        "CON".to_string(),
        "nul".to_string(),
        "x".repeat(120) + &" long title".repeat(16),
        "🚀🎉✨".to_string(),
        "🫠".to_string(),
        "..".to_string(),
        "a/b\\c:d*e?f".to_string(),
        "/etc/hostname".to_string(),
    ];
    assert_eq!(titles[4].chars().count(), 296);
    let db = add_database(&mut w, "Hostile", titles.len());
    for (id, t) in db.rows.iter().zip(&titles) {
        w.page_mut(id).unwrap()["properties"]["Name"] = p_title(t);
    }
    // Attachment names built to escape or to plant hooks; each file's bytes are distinct.
    let names = [
        "../../etc/passwd",
        "../.git/hooks/post-commit",
        ".git",
        // ("." and ".." are left out: no file system lets a file have those names, and their
        // URLs resolve to the parent folder before any request is made.)
        "...",
        ".bashrc",
        "dir/sub\\name.pdf",
        "nul\0byte.txt",
        "CON.txt",
        "/absolute/path.txt",
        "   ",
    ];
    let mut planted: Vec<Vec<u8>> = Vec::new();
    let mut blocks = vec![heading(1, "Files")];
    for (k, n) in names.iter().enumerate() {
        let bytes = format!("#!/bin/sh\necho planted {k} > /tmp/planted\n").into_bytes();
        let f = w.add_file_with_type(n, bytes.clone(), "application/octet-stream");
        blocks.push(file_block(&f));
        planted.push(bytes);
    }
    let img = w.add_file("../../../../hooks/pre-commit.png", {
        let mut png = vec![0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, b'I', b'H', b'D', b'R'];
        png.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0, 1, 2, 3]);
        png
    });
    blocks.push(image_hosted(&img, "../../../etc/shadow"));
    w.set_children(&db.rows[0], blocks);
    w.set_children(&db.rows[1], vec![paragraph("the page titled .git")]);
    let fake = FakeNotion::start(w).await;

    let sb = Sandbox::new();
    let vars = [("NOTION_API_URL", fake.base_url()), ("DB1_NOTION_ID", db.database_id.clone())];
    let out = sb.run(&vars).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");

    let files = fake_gitea::read_files(&sb.repo(), "HEAD");
    assert_tracked_paths_safe(&files);
    assert_git_dir_untouched(&sb.repo(), &["post-commit", "pre-commit", "passwd", "bashrc", "planted"]);
    // Every page has its own folder whose index.md carries its exact title.
    let state = sb.state();
    assert_eq!(
        state.pages.values().filter(|r| r.kind == notion_git_backup::state::NodeKind::Page).count(),
        titles.len()
    );
    let mut folders = Vec::new();
    for (id, t) in db.rows.iter().zip(&titles) {
        let folder = state.pages[&norm(id)].folder.clone().unwrap();
        assert!(!folder.starts_with('.') && !folder.eq_ignore_ascii_case("con") && !folder.eq_ignore_ascii_case("nul"));
        assert_eq!(front_matter_title(&files[&format!("{folder}/index.md")]), *t);
        folders.push(folder);
    }
    folders.sort();
    folders.dedup();
    assert_eq!(folders.len(), titles.len(), "two pages share a folder: {folders:?}");
    // Every hostile attachment arrived, byte for byte, inside the first page's folder.
    let first = &state.pages[&norm(&db.rows[0])].folder.clone().unwrap();
    for bytes in &planted {
        let hit = files.iter().find(|(_, b)| *b == bytes).map(|(p, _)| p.clone());
        let path = hit.unwrap_or_else(|| panic!("an attachment is missing: {:?}", files.keys()));
        assert!(path.starts_with(&format!("{first}/attachments/")), "{path}");
    }
    assert!(files.keys().any(|p| p.starts_with(&format!("{first}/assets/")) && p.ends_with(".png")));
    // The Markdown links only to files that exist in the page folder.
    let md = String::from_utf8_lossy(&files[&format!("{first}/index.md")]).into_owned();
    let mut local = 0;
    for ev in Parser::new(&md) {
        let dest = match ev {
            Event::Start(Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. }) => dest_url.to_string(),
            _ => continue,
        };
        if dest.contains("://") || dest.starts_with('#') {
            continue;
        }
        let decoded = percent_encoding::percent_decode_str(&dest).decode_utf8_lossy().into_owned();
        assert!(files.contains_key(&format!("{first}/{decoded}")), "dangling link {dest} in\n{md}");
        local += 1;
    }
    assert_eq!(local, names.len(), "every attachment is linked from index.md:\n{md}");
    assert!(md.contains("src=\"assets/1-files.png\""), "{md}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_for_one_page_fails_that_page_only_with_exit_1() {
    let mut w = World::new();
    let db = add_database(&mut w, "Notes", 3);
    for (i, id) in db.rows.iter().enumerate() {
        w.set_children(id, vec![paragraph(&format!("text {i}"))]);
    }
    let bad = db.rows[1].clone();
    w.faults.malformed_json_paths =
        vec![format!("/blocks/{}/children", dashed(&bad)), format!("/blocks/{}/children", norm(&bad))];
    let fake = FakeNotion::start(w).await;
    let sb = Sandbox::new();
    let vars = [("NOTION_API_URL", fake.base_url()), ("DB1_NOTION_ID", db.database_id.clone())];

    let out = sb.run(&vars).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(fake.stats().malformed > 0);
    let line =
        stderr.lines().find(|l| l.contains("failed: Row 1")).unwrap_or_else(|| panic!("no failure line:\n{stderr}"));
    assert!(line.contains("could not be read") && line.contains("children of block"), "{line}");
    assert!(stderr.contains("1 failed"), "{stderr}");
    let files = fake_gitea::read_files(&sb.repo(), "HEAD");
    assert!(files.contains_key("row-0/index.md") && files.contains_key("row-2/index.md"));
    assert!(!files.contains_key("row-1/index.md"));
    assert!(!sb.state().pages.contains_key(&norm(&bad)), "a failed page must not be recorded");

    // Notion answers properly again: the next run completes.
    fake.with_world(|w| w.faults.malformed_json_paths.clear());
    let out = sb.run(&vars).await;
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let files = fake_gitea::read_files(&sb.repo(), "HEAD");
    assert!(String::from_utf8_lossy(&files["row-1/index.md"]).contains("text 1"));
    assert_git_dir_untouched(&sb.repo(), &[]);
}

/// Ids of a chain of `depth` nested bulleted items under `parent`, outermost first.
fn nest(w: &mut World, parent: &str, depth: usize) {
    let mut at = parent.to_string();
    for level in 0..depth {
        at = w.set_children(&at, vec![bulleted(&format!("level {level}"))])[0].clone();
    }
}

/// A page with a 200-deep tree, one with synced blocks containing themselves, one with 10 MB of
/// text in 2,000-character runs.
async fn deep_synced_huge_world() -> (FakeNotion, DbIds, String) {
    let mut w = World::new();
    let db = add_database(&mut w, "Odd", 3);
    for (id, t) in db.rows.iter().zip(["Deep", "Synced", "Huge"]) {
        w.page_mut(id).unwrap()["properties"]["Name"] = p_title(t);
    }
    nest(&mut w, &db.rows[0], 200);

    // An original synced block whose content holds a reference to itself, and a reference
    // block whose source is the block itself.
    let original = synced_block_original();
    let original_id = original["id"].as_str().unwrap().to_string();
    let self_id = w.next_id();
    let self_ref = {
        let mut b =
            block_with_id(&self_id, "synced_block", json!({"synced_from": {"type": "block_id", "block_id": self_id}}));
        b["has_children"] = json!(true);
        b
    };
    w.set_children(&db.rows[1], vec![paragraph("before"), original, self_ref, paragraph("after")]);
    w.set_children(&original_id, vec![paragraph("inside the original"), synced_block_reference(&original_id)]);
    w.set_children(&self_id, vec![paragraph("inside the self reference")]);

    // 10 MB in 5,000 runs of 2,000 characters, each run tagged so order and completeness show.
    let runs: Vec<Value> = (0..5000)
        .map(|i| {
            let tag = format!("R{i:05}");
            let filler = "lorem ipsum ".repeat(200);
            text_run(&format!("{tag} {}", &filler[..2000 - tag.len() - 1]))
        })
        .collect();
    let big: String = runs.iter().map(|r| r["plain_text"].as_str().unwrap()).collect();
    assert_eq!(big.len(), 10_000_000);
    w.set_children(&db.rows[2], vec![paragraph_runs(runs)]);
    (FakeNotion::start(w).await, db, big)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_tree_self_containing_synced_blocks_and_10_mb_text_are_backed_up() {
    let (fake, db, big) = deep_synced_huge_world().await;
    let sb = Sandbox::new();
    let vars = [("NOTION_API_URL", fake.base_url()), ("DB1_NOTION_ID", db.database_id.clone())];
    let out = sb.run(&vars).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let files = fake_gitea::read_files(&sb.repo(), "HEAD");

    let deep = String::from_utf8_lossy(&files["deep/index.md"]).into_owned();
    let levels: Vec<usize> = (0..200).filter_map(|l| deep.find(&format!("level {l}\n"))).collect();
    assert_eq!(levels.len(), 200, "every level is in the Markdown");
    assert!(levels.windows(2).all(|p| p[0] < p[1]), "levels in order");

    let synced = String::from_utf8_lossy(&files["synced/index.md"]).into_owned();
    assert_eq!(synced.matches("inside the original").count(), 1, "{synced}");
    assert_eq!(synced.matches("inside the self reference").count(), 1, "{synced}");
    assert!(synced.find("before").unwrap() < synced.find("after").unwrap());
    let db_line = stderr.lines().find(|l| l.starts_with("notes (notes):")).unwrap_or_else(|| panic!("{stderr}"));
    assert!(!db_line.contains(" 0 warnings"), "the skipped cycle is counted as a warning: {db_line}");

    let huge = String::from_utf8_lossy(&files["huge/index.md"]).into_owned();
    assert!(huge.contains(&big), "the 10 MB paragraph is in index.md whole and in order");
    assert_git_dir_untouched(&sb.repo(), &[]);
}

/// Regression: page warnings (a synced block found inside itself, a tree cut at the depth limit,
/// a file over MAX_FILE_MB) were only counted in the summary ("1 warning"); their text reached no
/// log line, so the user could not tell what was left out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_warnings_are_shown_not_only_counted() {
    let (fake, db, _) = deep_synced_huge_world().await;
    let sb = Sandbox::new();
    let vars = [("NOTION_API_URL", fake.base_url()), ("DB1_NOTION_ID", db.database_id.clone())];
    let out = sb.run(&vars).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let line = stderr.lines().find(|l| l.contains("cycle")).unwrap_or_else(|| panic!("no warning text:\n{stderr}"));
    assert!(line.contains("Synced") && line.contains("WARN"), "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repository_name_made_to_escape_is_refused_before_anything_starts() {
    let fake = FakeNotion::start(World::new()).await;
    let sb = Sandbox::new();
    for name in ["../../etc", ".git", "a/b", ".."] {
        let vars = [
            ("NOTION_API_URL", fake.base_url()),
            ("DB1_NOTION_ID", "1f2e3d4c5b6a79881f2e3d4c5b6a7988".to_string()),
            ("DB1_GIT_REPO", name.to_string()),
        ];
        let out = sb.run(&vars).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        assert!(stderr.contains("DB1_GIT_REPO") && stderr.contains("is not a valid repository name"), "{stderr}");
    }
    assert_eq!(fake.stats().requests, 0, "nothing was asked of Notion");
    assert!(!sb.work().join("backup").exists() && !sb.work().join("sync-state.json").exists());
}

async fn run_against_html_gitea() -> (Sandbox, Output, FakeGitea) {
    let mut w = World::new();
    let db = add_database(&mut w, "Notes", 2);
    let fake = FakeNotion::start(w).await;
    let gitea = FakeGitea::start().await;
    gitea.add_repo(fake_gitea::USER, "notes");
    gitea.set_html_everything(true);
    let sb = Sandbox::new();
    let vars = [
        ("NOTION_API_URL", fake.base_url()),
        ("DB1_NOTION_ID", db.database_id.clone()),
        ("GIT_BASE_URL", gitea.base_url.clone()),
        ("GIT_TOKEN", fake_gitea::TOKEN.to_string()),
        ("GIT_OWNER", fake_gitea::USER.to_string()),
    ];
    let out = sb.run(&vars).await;
    (sb, out, gitea)
}

fn error_line(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr.lines().find(|l| l.contains("error:")).unwrap_or_else(|| panic!("no error line:\n{stderr}"));
    line.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gitea_answering_html_fails_the_database_with_a_clear_message() {
    let (sb, out, gitea) = run_against_html_gitea().await;
    // A destination that is not Gitea fails its database; the run itself did start.
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let line = error_line(&out);
    assert!(line.contains("HTTP 200") && line.contains("login page"), "{line}");
    assert!(sb.state().pages.is_empty());
    assert_eq!(gitea.commit_count(fake_gitea::USER, "notes", "main"), 0);
}

/// The HTML-answer error told users to check `GIT_URL`, a setting that does not exist.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn html_answer_error_names_git_base_url_not_a_missing_setting() {
    let (_sb, out, _gitea) = run_against_html_gitea().await;
    let line = error_line(&out);
    assert!(line.contains("check that GIT_BASE_URL is the Gitea/Forgejo address"), "{line}");
    assert!(!line.contains("GIT_URL "), "{line}");
}
