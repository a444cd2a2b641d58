//! The whole tree, linked: child pages three levels deep, an inline database inside a page, a
//! linked view, relations and mentions across databases, a child page edited without its parent
//! changing, and a child page moved to another parent. Every relative link in the produced
//! repositories resolves to a file that exists.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::fake_gitea::{self, read_files, FakeGitea};
use common::fake_notion::{FakeNotion, World, DEFAULT_TOKEN};
use common::fixtures::*;
use notion_git_backup::config::{from_vars, Config, Overrides};
use notion_git_backup::sync::{run_with, ExitStatus, Interrupt};
use pulldown_cmark::{Event, Parser, Tag};
use serde_json::json;

struct Ws {
    fake: FakeNotion,
    dir: tempfile::TempDir,
    projects: DbIds,
    people: DbIds,
    spec: String,
    details: String,
    deep: String,
    tasks_db: DbIds,
}

fn now_iso() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

async fn workspace() -> Ws {
    let mut w = World::new();
    let projects = add_database(&mut w, "Projects", 2);
    let people = add_database(&mut w, "People", 1);
    let (p0, p1, u0) = (projects.rows[0].clone(), projects.rows[1].clone(), people.rows[0].clone());

    // Three levels of child pages below Row 0.
    let spec = w.next_id();
    w.insert_page(page(&spec, parent_page(&p0), "Spec", vec![]));
    let details = w.next_id();
    w.insert_page(page(&details, parent_page(&spec), "Details", vec![]));
    let deep = w.next_id();
    w.insert_page(page(&deep, parent_page(&details), "Deep", vec![]));
    w.set_children(&deep, vec![paragraph("deepest text"), paragraph_runs(vec![mention_page(&p1, "Row 1")])]);
    w.set_children(&details, vec![paragraph("details"), child_page(&deep, "Deep")]);
    w.set_children(&spec, vec![paragraph("spec"), child_page(&details, "Details")]);

    // An inline database inside Row 0, and a linked view (not shared: a view of another database).
    let tasks_db = add_database_with(
        &mut w,
        DbSpec { title: "Tasks".into(), parent: parent_page(&p0), rows: 2, ..DbSpec::default() },
    );
    // A linked view of the Projects database itself.
    let linked = w.next_id();
    w.linked_views.insert(common::fake_notion::norm(&linked), common::fake_notion::norm(&projects.data_source_id));

    w.set_children(
        &p0,
        vec![
            heading(1, "Links"),
            paragraph_runs(vec![
                text_run("see "),
                mention_page(&p1, "Row 1"),
                text_run(" and "),
                mention_page(&u0, "Row 0"),
            ]),
            child_page(&spec, "Spec"),
            child_database(&tasks_db.database_id, "Tasks"),
            child_database(&linked, "Linked view"),
        ],
    );
    w.set_children(&p1, vec![link_to_page(&p0), paragraph_runs(vec![mention_page(&deep, "Deep")])]);
    w.page_mut(&p1).unwrap()["properties"]["Owner"] = p_relation(&[u0.clone(), p0.clone()]);
    w.page_mut(&u0).unwrap()["properties"]["Projects"] = p_relation(&[p0.clone(), p1.clone()]);
    let fake = FakeNotion::start(w).await;
    Ws { fake, dir: tempfile::tempdir().unwrap(), projects, people, spec, details, deep, tasks_db }
}

fn config(ws: &Ws) -> Config {
    config_with(ws, &[])
}

fn config_with(ws: &Ws, extra: &[(&str, String)]) -> Config {
    let vars: BTreeMap<String, String> = [
        ("NOTION_TOKEN", DEFAULT_TOKEN.to_string()),
        ("NOTION_API_URL", ws.fake.base_url()),
        ("NOTION_RATE_LIMIT", "500".into()),
        ("DB1_NOTION_ID", ws.projects.database_id.clone()),
        ("DB1_GIT_REPO", "projects".into()),
        ("DB2_NOTION_ID", ws.people.database_id.clone()),
        ("DB2_GIT_REPO", "people".into()),
    ]
    .into_iter()
    .chain(extra.iter().cloned())
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    from_vars(&vars, ws.dir.path(), &Overrides::default()).unwrap()
}

fn repo(ws: &Ws, name: &str) -> PathBuf {
    ws.dir.path().join("notion-backup").join(name)
}

fn commits(repo: &Path) -> usize {
    let out =
        std::process::Command::new("git").arg("-C").arg(repo).args(["rev-list", "--count", "HEAD"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(0)
}

/// Every relative link and image in every Markdown file resolves to a file of the repository.
fn assert_links_resolve(files: &BTreeMap<String, Vec<u8>>) -> usize {
    let mut checked = 0;
    for (path, bytes) in files.iter().filter(|(p, _)| p.ends_with(".md")) {
        let text = String::from_utf8_lossy(bytes);
        let mut targets: Vec<String> = Vec::new();
        for ev in Parser::new(&text) {
            match ev {
                Event::Start(Tag::Link { dest_url, .. }) | Event::Start(Tag::Image { dest_url, .. }) => {
                    targets.push(dest_url.to_string())
                }
                Event::Html(h) | Event::InlineHtml(h) => {
                    for attr in ["href=\"", "src=\""] {
                        let mut rest: &str = &h;
                        while let Some(i) = rest.find(attr) {
                            rest = &rest[i + attr.len()..];
                            let end = rest.find('"').unwrap_or(rest.len());
                            targets.push(rest[..end].replace("&amp;", "&"));
                        }
                    }
                }
                _ => {}
            }
        }
        let dir = Path::new(path).parent().unwrap_or(Path::new(""));
        for t in targets {
            if t.contains("://") || t.starts_with('#') || t.starts_with("mailto:") || t.is_empty() {
                continue;
            }
            let t = t.split('#').next().unwrap();
            let decoded = percent_encoding::percent_decode_str(t).decode_utf8_lossy().to_string();
            let mut parts: Vec<String> =
                dir.components().map(|c| c.as_os_str().to_string_lossy().to_string()).collect();
            for seg in decoded.split('/') {
                match seg {
                    "." | "" => {}
                    ".." => {
                        assert!(parts.pop().is_some(), "{path}: link {t} leaves the repository");
                    }
                    s => parts.push(s.to_string()),
                }
            }
            let resolved = parts.join("/");
            assert!(
                files.contains_key(&resolved),
                "{path}: link {t} -> {resolved} does not exist in {:#?}",
                files.keys().collect::<Vec<_>>()
            );
            checked += 1;
        }
    }
    checked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_tree_is_backed_up_linked_and_kept_up_to_date() {
    let ws = workspace().await;
    let (status, report) = run_with(config(&ws), Interrupt::default()).await;
    assert_eq!(status, ExitStatus::Success, "{report:#?}");
    let f = read_files(&repo(&ws, "projects"), "HEAD");
    for must in [
        "README.md",
        "database.csv",
        "schema.json",
        "row-0/index.md",
        "row-0/page.json",
        "row-0/spec/index.md",
        "row-0/spec/details/index.md",
        "row-0/spec/details/deep/index.md",
        "row-0/spec/details/deep/page.json",
        "row-0/tasks/index.md",
        "row-0/tasks/database.csv",
        "row-0/tasks/schema.json",
        "row-0/tasks/row-0/index.md",
        "row-0/tasks/row-1/index.md",
        "row-1/index.md",
    ] {
        assert!(f.contains_key(must), "missing {must}; have {:#?}", f.keys().collect::<Vec<_>>());
    }
    let checked = assert_links_resolve(&f);
    assert!(checked >= 10, "only {checked} links checked");
    assert_links_resolve(&read_files(&repo(&ws, "people"), "HEAD"));

    // Mentions and links point at the backups: from a row to its sibling, from deep down up.
    let row0 = String::from_utf8(f["row-0/index.md"].clone()).unwrap();
    assert!(row0.contains("](../row-1/index.md)"), "{row0}");
    assert!(row0.contains("](../row-0/spec/index.md)"), "{row0}");
    assert!(row0.contains("](../row-0/tasks/index.md)"), "{row0}");
    let deep = String::from_utf8(f["row-0/spec/details/deep/index.md"].clone()).unwrap();
    assert!(deep.contains("](../../../../row-1/index.md)"), "{deep}");
    // The linked view is a link to its source database's backup, not a failure.
    assert!(row0.contains("[Linked view](../README.md)"), "{row0}");
    // The CSV has every row with its path.
    let csv = String::from_utf8(f["database.csv"].clone()).unwrap();
    assert!(csv.lines().next().unwrap().starts_with("Name,"), "{csv}");
    assert!(csv.contains("row-1/index.md"));
    // page.json keeps the API objects, without signed URLs.
    let pj: serde_json::Value = serde_json::from_slice(&f["row-0/page.json"]).unwrap();
    assert_eq!(pj["blocks"].as_array().unwrap().len(), 5);
    assert_eq!(pj["blocks"][2]["type"], "child_page");

    // No change: no commit.
    let before = commits(&repo(&ws, "projects"));
    assert_eq!(run_with(config(&ws), Interrupt::default()).await.0, ExitStatus::Success);
    assert_eq!(commits(&repo(&ws, "projects")), before, "no change, no commit");

    // A page three levels down is edited; its parents are not.
    ws.fake.reset_stats();
    ws.fake.with_world(|w| {
        w.set_children(&ws.deep, vec![paragraph("edited deep down")]);
        w.page_mut(&ws.deep).unwrap()["last_edited_time"] = json!(now_iso());
    });
    assert_eq!(run_with(config(&ws), Interrupt::default()).await.0, ExitStatus::Success);
    let f = read_files(&repo(&ws, "projects"), "HEAD");
    let deep = String::from_utf8(f["row-0/spec/details/deep/index.md"].clone()).unwrap();
    assert!(deep.contains("edited deep down"), "{deep}");
    assert_eq!(commits(&repo(&ws, "projects")), before + 1, "exactly the edited page is committed");
    let s = ws.fake.stats();
    assert_eq!(s.kind("blocks.children"), 1, "only the edited page is read: {:?}", s.by_kind);

    // "Details" (with "Deep" inside) moves from Spec to Row 1.
    let row1 = ws.projects.rows[1].clone();
    ws.fake.with_world(|w| {
        let t = now_iso();
        w.set_children(&ws.spec, vec![paragraph("spec")]);
        w.page_mut(&ws.spec).unwrap()["last_edited_time"] = json!(t);
        w.append_children(&row1, vec![child_page(&ws.details, "Details")]);
        w.page_mut(&row1).unwrap()["last_edited_time"] = json!(t);
        w.page_mut(&ws.details).unwrap()["parent"] = parent_page(&row1);
    });
    let (status, report) = run_with(config(&ws), Interrupt::default()).await;
    assert_eq!(status, ExitStatus::Success, "{report:#?}");
    let f = read_files(&repo(&ws, "projects"), "HEAD");
    assert!(f.contains_key("row-1/details/index.md"), "{:#?}", f.keys().collect::<Vec<_>>());
    assert!(f.contains_key("row-1/details/deep/index.md"));
    assert!(
        !f.keys().any(|k| k.starts_with("row-0/spec/details")),
        "old place gone: {:#?}",
        f.keys().collect::<Vec<_>>()
    );
    assert_links_resolve(&f);
    let _ = &ws.tasks_db;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workspace_discovery_backs_up_everything_else_once() {
    let mut w = World::new();
    // A configured database (covered), a top-level page tree, a top-level database, and a page
    // whose parent the integration cannot see.
    let configured = add_database(&mut w, "Configured", 2);
    let handbook = add_page(&mut w, parent_workspace(), "Handbook");
    let chapter = w.next_id();
    w.insert_page(page(&chapter, parent_page(&handbook), "Chapter one", vec![]));
    w.set_children(&chapter, vec![paragraph("chapter text")]);
    let inline = add_database_with(
        &mut w,
        DbSpec { title: "Inline".into(), parent: parent_page(&handbook), rows: 1, ..DbSpec::default() },
    );
    w.set_children(
        &handbook,
        vec![paragraph("welcome"), child_page(&chapter, "Chapter one"), child_database(&inline.database_id, "Inline")],
    );
    add_database(&mut w, "Reading list", 2);
    let hidden_parent = w.next_id();
    let stray = w.next_id();
    w.insert_page(page(&stray, parent_page(&hidden_parent), "Stray page", vec![]));
    w.unshare(&hidden_parent);
    let fake = FakeNotion::start(w).await;
    let dir = tempfile::tempdir().unwrap();
    let vars: BTreeMap<String, String> = [
        ("NOTION_TOKEN", DEFAULT_TOKEN.to_string()),
        ("NOTION_API_URL", fake.base_url()),
        ("NOTION_RATE_LIMIT", "500".into()),
        ("DB1_NOTION_ID", configured.database_id.clone()),
        ("DB1_GIT_REPO", "configured".into()),
        ("WORKSPACE_REPO", "everything".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let cfg = from_vars(&vars, dir.path(), &Overrides::default()).unwrap();
    let (status, report) = run_with(cfg.clone(), Interrupt::default()).await;
    assert_eq!(status, ExitStatus::Success, "{report:#?}");
    let f = read_files(&dir.path().join("notion-backup/everything"), "HEAD");
    for must in [
        "README.md",
        "handbook/index.md",
        "handbook/chapter-one/index.md",
        "handbook/inline/index.md",
        "handbook/inline/row-0/index.md",
        "reading-list/index.md",
        "reading-list/database.csv",
        "reading-list/row-0/index.md",
        "reading-list/row-1/index.md",
        "stray-page/index.md",
    ] {
        assert!(f.contains_key(must), "missing {must}: {:#?}", f.keys().collect::<Vec<_>>());
    }
    // Nothing of the configured database, and the inline database only inside its page.
    assert!(
        !f.keys().any(|k| k.starts_with("configured") || k.starts_with("inline/")),
        "{:#?}",
        f.keys().collect::<Vec<_>>()
    );
    assert_links_resolve(&f);
    let readme = String::from_utf8(f["README.md"].clone()).unwrap();
    assert!(readme.contains("[Handbook](handbook/index.md)"), "{readme}");

    // A second run changes nothing.
    let before = commits(&dir.path().join("notion-backup/everything"));
    assert_eq!(run_with(cfg, Interrupt::default()).await.0, ExitStatus::Success);
    assert_eq!(commits(&dir.path().join("notion-backup/everything")), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_into_another_gitea_repository_name_that_repositorys_branch() {
    let ws = workspace().await;
    let gitea = FakeGitea::start().await;
    gitea.add_repo(fake_gitea::USER, "projects");
    gitea.add_repo_with_default_branch(fake_gitea::USER, "people", "master");
    let extra = [
        ("GIT_BASE_URL", gitea.base_url.clone()),
        ("GIT_TOKEN", fake_gitea::TOKEN.to_string()),
        ("GIT_OWNER", fake_gitea::USER.to_string()),
    ];
    let (status, report) = run_with(config_with(&ws, &extra), Interrupt::default()).await;
    assert_eq!(status, ExitStatus::Success, "{report:?}");
    assert!(!gitea.files(fake_gitea::USER, "people", "master").is_empty(), "people is backed up to its default branch");
    let projects = gitea.files(fake_gitea::USER, "projects", "main");
    let md = String::from_utf8(projects["row-0/index.md"].clone()).unwrap();
    let into_people = format!("{}/{}/people/src/branch/", gitea.base_url, fake_gitea::USER);
    let links: Vec<&str> = md.match_indices(&into_people).map(|(i, _)| &md[i..]).collect();
    assert!(!links.is_empty(), "Row 0 mentions a page of the People database:\n{md}");
    for l in links {
        assert!(l[into_people.len()..].starts_with("master/"), "link into people names its branch: {l}");
    }
}
