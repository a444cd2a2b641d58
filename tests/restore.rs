//! `restore` end to end: a workspace with every block and property type the API can create is
//! backed up by the real engine, restored into an empty fake workspace, and backed up again;
//! the two backups must hold the same pages, text, block types and nesting, writable property
//! values, file bytes, and links that point inside the restored tree, with nothing duplicated.
//! Also: a second run creates nothing, answers lost after Notion acted create no duplicate, a
//! dry run writes nothing, and the errors users meet (target not shared, a file over the
//! upload limit, a value Notion refuses) name the page and the fix while the other pages go on.

mod common;
mod restore_world;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use common::env::{files, Settings};
use common::fake_notion::write::WRITE_KINDS;
use common::fake_notion::{norm, FakeNotion, World};
use common::fixtures::*;
use notion_git_backup::restore::{self, report::Status, RestoreOptions};
use notion_git_backup::sync::{run_with, ExitStatus, Interrupt};
use pulldown_cmark::{Event, Parser};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub const TARGET: &str = "7a76e700-0000-4000-8000-0000000a76e7";

/// An empty workspace to restore into: one shared page, and Alice (not Bob).
pub fn target_world() -> World {
    let mut w = World::new();
    w.seed = 7_000_001;
    w.insert_user(person(restore_world::ALICE, "Alice Archer", "alice@example.com"));
    w.insert_page(page(TARGET, parent_workspace(), "Restore here", vec![]));
    w
}

/// Back up `fake`'s two databases into `dir/backup` with the real engine.
async fn backup(fake: &FakeNotion, projects: &str, tasks: &str, dir: &Path) {
    let cfg = Settings::new(fake).db(projects, "projects").db(tasks, "tasks").config(dir);
    let (status, report) = run_with(cfg, Interrupt::default()).await;
    assert_eq!(status, ExitStatus::Success, "{}", notion_git_backup::notify::summary_text(&report));
}

async fn source() -> (FakeNotion, restore_world::Source, tempfile::TempDir) {
    let mut w = World::new();
    let src = restore_world::build(&mut w);
    let fake = FakeNotion::start(w).await;
    let dir = tempfile::tempdir().unwrap();
    backup(&fake, &src.projects.database_id, &src.tasks.database_id, dir.path()).await;
    (fake, src, dir)
}

fn options(from: &Path) -> RestoreOptions {
    RestoreOptions { from: from.to_path_buf(), to: TARGET.into(), ..Default::default() }
}

async fn restore_into(fake: &FakeNotion, from: &Path, dir: &Path) -> restore::report::RestoreReport {
    let cfg = Settings::new(fake).config(dir);
    restore::run(&cfg, &options(from), Interrupt::default()).await
}

fn writes(fake: &FakeNotion) -> usize {
    let s = fake.stats();
    WRITE_KINDS.iter().map(|k| s.kind(k)).sum()
}

fn sha(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

fn plain(rt: &Value) -> String {
    rt.as_array().map(|a| a.iter().filter_map(|r| r["plain_text"].as_str()).collect()).unwrap_or_default()
}

/// A block tree as a reader sees it: type, text, and children, with ids of links mapped
/// through `map` (old id -> new id; identity for the restored side).
fn shape(blocks: &Value, map: &dyn Fn(&str) -> String, restored: bool) -> Vec<Value> {
    let mut out = Vec::new();
    for b in blocks.as_array().map(Vec::as_slice).unwrap_or(&[]) {
        let mut ty = b["type"].as_str().unwrap_or("").to_string();
        let p = &b[&ty];
        if restored && ty == "callout" && plain(&p["rich_text"]).starts_with("Restored from a backup") {
            continue; // the restore's note about what was lost
        }
        if !restored && ty == "link_preview" {
            ty = "bookmark".into(); // restored as a bookmark (only link-preview integrations make them)
        }
        let mut text = plain(&p["rich_text"]);
        if ty == "table_row" {
            text = p["cells"].as_array().unwrap().iter().map(plain).collect::<Vec<_>>().join("|");
        }
        if ty == "code" || ty == "equation" || ty == "bookmark" || ty == "embed" {
            text.push_str(p["expression"].as_str().or(p["url"].as_str()).unwrap_or(""));
        }
        if ty == "child_page" || ty == "child_database" {
            text = p["title"].as_str().unwrap_or("").to_string();
        }
        let mut links: Vec<String> = Vec::new();
        // Mentions and text links to Notion pages (a mention of a page outside the restore
        // becomes a link to it).
        for r in p["rich_text"].as_array().into_iter().flatten() {
            if let Some(id) = r["href"].as_str().and_then(|h| h.strip_prefix("https://www.notion.so/")) {
                links.push(map(id));
            }
        }
        if let Some(id) = p["page_id"].as_str() {
            links.push(map(id));
        }
        let mut v = json!({"type": ty, "text": text, "links": links});
        if let Some(kids) = b.get("children") {
            v["children"] = Value::Array(shape(kids, map, restored));
        }
        out.push(v);
    }
    out
}

/// Property values a restore can write, as comparable text.
fn writable_properties(page: &Value, map: &dyn Fn(&str) -> String) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for (name, v) in page["properties"].as_object().unwrap() {
        let ty = v["type"].as_str().unwrap();
        let x = &v[ty];
        let val = match ty {
            "title" | "rich_text" => json!(plain(x)),
            "number" | "checkbox" | "url" | "email" | "phone_number" => x.clone(),
            "select" | "status" => x["name"].clone(),
            "multi_select" => json!(x.as_array().unwrap().iter().map(|o| o["name"].clone()).collect::<Vec<_>>()),
            "date" => json!([x["start"], x["end"]]),
            "relation" => {
                let mut ids: Vec<String> =
                    x.as_array().unwrap().iter().map(|r| map(r["id"].as_str().unwrap())).collect();
                ids.sort();
                json!(ids)
            }
            "people" => {
                json!(x.as_array().unwrap().iter().map(|u| norm(u["id"].as_str().unwrap())).collect::<Vec<_>>())
            }
            "files" => json!(x.as_array().unwrap().iter().map(|f| f["name"].clone()).collect::<Vec<_>>()),
            _ => continue,
        };
        // Notion shows every property of a row, empty or not; the fixture leaves empty ones out.
        if val.is_null() || val == json!([]) || val == json!("") || val == json!([null, null]) {
            continue;
        }
        out.insert(name.clone(), val);
    }
    out
}

/// Text a reader of `index.md` sees, up to the restore's note.
fn markdown_text(md: &str) -> Vec<String> {
    // After the front matter (`---` ... `---`); a divider in the page is a `---` line too.
    let body = md.strip_prefix("---\n").and_then(|r| r.split_once("\n---\n")).map(|(_, b)| b).unwrap_or(md);
    let mut out = Vec::new();
    for ev in Parser::new(body) {
        if let Event::Text(t) | Event::Code(t) = ev {
            if t.contains("Restored from a backup") {
                if out.last().is_some_and(|l: &String| l.trim() == "🗄\u{fe0f}") {
                    out.pop(); // the note's icon
                }
                break;
            }
            out.push(without_last_edited(&t));
        }
    }
    out
}

/// A README table row's last cell is the page's last-edit date, which the API cannot write.
fn without_last_edited(t: &str) -> String {
    if let Some(rest) = t.strip_suffix(" |") {
        if let Some(i) = rest.rfind("| ") {
            let cell = &rest[i + 2..];
            if cell.len() == 10 && cell.as_bytes()[4] == b'-' && cell.as_bytes()[7] == b'-' {
                return rest[..i].to_string();
            }
        }
    }
    t.to_string()
}

fn page_ids_of(files: &BTreeMap<String, Vec<u8>>) -> BTreeSet<String> {
    files
        .iter()
        .filter(|(p, _)| p.ends_with("page.json"))
        .map(|(_, b)| norm(serde_json::from_slice::<Value>(b).unwrap()["page"]["id"].as_str().unwrap()))
        .collect()
}

fn new_ids(dir: &Path) -> BTreeMap<String, String> {
    restore::created_ids(&dir.join("restore-state.json"), TARGET)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_backup_backs_up_to_the_same_pages_text_values_files_and_links() {
    let (_src_fake, src, src_dir) = source().await;
    let dst = FakeNotion::start(target_world()).await;
    let dir = tempfile::tempdir().unwrap();
    let report = restore_into(&dst, &src_dir.path().join("backup"), dir.path()).await;
    assert_eq!(report.exit_status(), ExitStatus::Success, "{}", report.summary_text());
    assert!(report.nodes.iter().all(|n| n.status == Status::Restored), "{}", report.summary_text());
    assert!(std::fs::read_to_string(dir.path().join("restore-report.md")).unwrap().contains("# Restore report"));

    // Back up what was restored.
    let ids = new_ids(dir.path());
    let back = tempfile::tempdir().unwrap();
    backup(&dst, &ids[&norm(&src.projects.database_id)], &ids[&norm(&src.tasks.database_id)], back.path()).await;

    let map = |old: &str| ids.get(&norm(old)).cloned().unwrap_or_else(|| norm(old));
    let same = |new: &str| norm(new);
    for repo in ["projects", "tasks"] {
        let a = files(&src_dir.path().join("backup").join(repo), "HEAD");
        let b = files(&back.path().join("backup").join(repo), "HEAD");
        assert_eq!(
            a.keys().collect::<Vec<_>>(),
            b.keys().collect::<Vec<_>>(),
            "{repo}: the same pages, databases and files, at the same paths"
        );
        let restored_ids = page_ids_of(&b);
        for (path, bytes) in &a {
            let other = &b[path];
            if path.ends_with("page.json") {
                let (x, y): (Value, Value) =
                    (serde_json::from_slice(bytes).unwrap(), serde_json::from_slice(other).unwrap());
                assert_eq!(shape(&x["blocks"], &map, false), shape(&y["blocks"], &same, true), "{repo}/{path}: blocks");
                let mut want = writable_properties(&x["page"], &map);
                let got = writable_properties(&y["page"], &same);
                // Bob is not in the target workspace: only Alice stays.
                if let Some(people) = want.get_mut("Owner") {
                    people.as_array_mut().unwrap().retain(|p| p == &json!(norm(restore_world::ALICE)));
                }
                assert_eq!(want, got, "{repo}/{path}: property values");
                // Every link of the restored page points inside the restored tree (or outside the
                // backup, as the original did).
                for l in shape(&y["blocks"], &same, true).iter().flat_map(|b| b["links"].as_array().unwrap().clone()) {
                    let l = l.as_str().unwrap();
                    assert!(
                        restored_ids.contains(l) || ids.values().any(|v| v == l) || !ids.contains_key(l),
                        "{path}: a link to the original of a restored page ({l})"
                    );
                }
            } else if path.ends_with("index.md") || path.ends_with("README.md") {
                let (x, y) = (String::from_utf8_lossy(bytes), String::from_utf8_lossy(other));
                assert_eq!(markdown_text(&x), markdown_text(&y), "{repo}/{path}: text");
            } else if !path.ends_with(".csv") && !path.ends_with("schema.json") {
                assert_eq!(sha(bytes), sha(other), "{repo}/{path}: file bytes");
            }
        }
    }

    // Nothing duplicated: one page per backed-up page, one database per database.
    let (pages, dbs) = dst.with_world(|w| (w.pages.len(), w.databases.len()));
    let src_pages = page_ids_of(&files(&src_dir.path().join("backup/projects"), "HEAD")).len()
        + page_ids_of(&files(&src_dir.path().join("backup/tasks"), "HEAD")).len();
    assert_eq!(pages, src_pages + 1, "restored pages + the target");
    assert_eq!(dbs, 3);

    // The status property became a select with the same options; relations point at the
    // restored databases; the synced block shows its restored original.
    let ds = dst.with_world(|w| {
        let db = &w.databases[&ids[&norm(&src.projects.database_id)]];
        w.data_sources[&norm(db["data_sources"][0]["id"].as_str().unwrap())].json.clone()
    });
    assert_eq!(ds["properties"]["Status"]["type"], "select");
    let opts: Vec<(String, String)> = ds["properties"]["Status"]["select"]["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["name"].as_str().unwrap().into(), o["color"].as_str().unwrap().into()))
        .collect();
    assert_eq!(
        opts,
        vec![
            ("Not started".into(), "default".into()),
            ("In progress".into(), "blue".into()),
            ("Done".into(), "green".into())
        ]
    );
    let tasks_ds = dst.with_world(|w| {
        let db = &w.databases[&ids[&norm(&src.tasks.database_id)]];
        norm(db["data_sources"][0]["id"].as_str().unwrap())
    });
    assert_eq!(norm(ds["properties"]["Tasks"]["relation"]["data_source_id"].as_str().unwrap()), tasks_ds);
    assert_eq!(ds["properties"]["Task count"]["rollup"]["function"], "count");
    let reference = dst.with_world(|w| {
        let row1 = &ids[&norm(&src.projects.rows[1])];
        let kids = &w.children[row1];
        kids.iter().map(|k| w.blocks[k].clone()).find(|b| b["type"] == "synced_block").unwrap()
    });
    let original_new = ids.get(&norm(&src.synced_original)).cloned();
    assert!(original_new.is_none(), "blocks are not in the id map of pages");
    let src_original_text = "synced content";
    let from = norm(reference["synced_block"]["synced_from"]["block_id"].as_str().expect("a reference, not a copy"));
    dst.with_world(|w| {
        assert_eq!(w.blocks[&from]["type"], "synced_block");
        let first = &w.children[&from][0];
        assert_eq!(plain(&w.blocks[first]["paragraph"]["rich_text"]), src_original_text);
    });

    // What could not be written is reported page by page; the rich row got a note.
    let rich = report.nodes.iter().find(|n| n.path == "projects/row-0").unwrap();
    assert!(rich.losses.iter().any(|l| l.contains("link preview")), "{:?}", rich.losses);
    assert!(rich.losses.iter().any(|l| l.contains("Bob Builder")), "{:?}", rich.losses);
    let md = std::fs::read_to_string(dir.path().join("restore-report.md")).unwrap();
    assert!(md.contains("## Row 0 (`projects/row-0`)"), "{md}");

    // A second run creates nothing.
    let before = writes(&dst);
    let again = restore_into(&dst, &src_dir.path().join("backup"), dir.path()).await;
    assert_eq!(again.exit_status(), ExitStatus::Success, "{}", again.summary_text());
    assert_eq!(writes(&dst), before, "a finished restore run again writes nothing");
    assert_eq!(dst.with_world(|w| w.pages.len()), pages);
}

/// Pages below the target, each with its block tree (types and text), for comparing restores.
fn restored_tree(fake: &FakeNotion, root: &str) -> Value {
    fake.with_world(|w| {
        fn blocks(w: &World, id: &str) -> Value {
            let kids = w.children.get(&norm(id)).cloned().unwrap_or_default();
            Value::Array(
                kids.iter()
                    .map(|k| {
                        let b = &w.blocks[k];
                        let ty = b["type"].as_str().unwrap().to_string();
                        let text = match ty.as_str() {
                            "child_page" | "child_database" => b[&ty]["title"].as_str().unwrap_or("").to_string(),
                            _ => plain(&b[&ty]["rich_text"]),
                        };
                        let inner = if ty == "child_page" {
                            blocks(w, k)
                        } else if b["type"] == "synced_block" && !b["synced_block"]["synced_from"].is_null() {
                            json!("reference")
                        } else {
                            blocks(w, k)
                        };
                        json!([ty, text, inner])
                    })
                    .collect(),
            )
        }
        blocks(w, root)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_lost_after_notion_acted_make_no_duplicates() {
    let (_src_fake, _src, src_dir) = source().await;
    let from = src_dir.path().join("backup");
    // A clean restore to compare with.
    let clean = FakeNotion::start(target_world()).await;
    let d1 = tempfile::tempdir().unwrap();
    assert_eq!(restore_into(&clean, &from, d1.path()).await.exit_status(), ExitStatus::Success);
    // The same, with the answers of 12 writes cut off after the fake carried them out.
    let lossy = FakeNotion::start(target_world()).await;
    lossy.with_world(|w| w.writes.lose_answers = 12);
    let d2 = tempfile::tempdir().unwrap();
    let report = restore_into(&lossy, &from, d2.path()).await;
    assert_eq!(report.exit_status(), ExitStatus::Success, "{}", report.summary_text());
    assert_eq!(lossy.with_world(|w| w.writes.lose_answers), 0, "every lost answer was met");
    assert_eq!(restored_tree(&lossy, TARGET), restored_tree(&clean, TARGET));
    assert_eq!(lossy.with_world(|w| w.pages.len()), clean.with_world(|w| w.pages.len()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_sends_no_write_request_and_says_what_would_be_created_and_lost() {
    let (_src_fake, _src, src_dir) = source().await;
    let dst = FakeNotion::start(target_world()).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = Settings::new(&dst).config(dir.path());
    let opts = RestoreOptions { dry_run: true, ..options(&src_dir.path().join("backup")) };
    let report = restore::run(&cfg, &opts, Interrupt::default()).await;
    assert_eq!(report.exit_status(), ExitStatus::Success, "{}", report.summary_text());
    assert_eq!(writes(&dst), 0, "{:?}", dst.stats().by_kind);
    assert!(!dir.path().join("restore-state.json").exists());
    let text = report.summary_text();
    assert!(text.contains("Would create 3 database(s)"), "{text}");
    // goals.png, Plan (final).pdf, notes.txt, voice.mp3, brief.pdf, icon.png, cover.png
    assert_eq!(report.planned.files, 7, "{:?}", report.planned);
    assert!(report.planned.bytes > 0 && report.planned.blocks > 150, "{:?}", report.planned);
    assert!(text.contains("link preview"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_that_is_not_shared_stops_before_writing_with_the_fix() {
    let (_src_fake, _src, src_dir) = source().await;
    let mut w = target_world();
    w.unshare(TARGET);
    let dst = FakeNotion::start(w).await;
    let dir = tempfile::tempdir().unwrap();
    let report = restore_into(&dst, &src_dir.path().join("backup"), dir.path()).await;
    assert_eq!(report.exit_status(), ExitStatus::Fatal);
    let msg = report.fatal.clone().unwrap();
    assert!(msg.contains(&norm(TARGET)[..8]) && msg.contains("Connections"), "{msg}");
    assert_eq!(writes(&dst), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_over_the_upload_limit_and_a_refused_value_fail_their_page_only() {
    let (_src_fake, src, src_dir) = source().await;
    let from = src_dir.path().join("backup");
    // A value Notion refuses: a date that is not one (as a hand-edited backup may hold).
    let row2 = from.join("projects/row-2/page.json");
    let mut v: Value = serde_json::from_slice(&std::fs::read(&row2).unwrap()).unwrap();
    v["page"]["properties"]["Due"]["date"]["start"] = json!("next tuesday");
    std::fs::write(&row2, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    // A workspace whose uploads stop at 45 bytes: the PDFs (56 and 57 bytes) are larger.
    let mut w = target_world();
    w.bot["bot"]["workspace_limits"]["max_file_upload_size_in_bytes"] = json!(45);
    let dst = FakeNotion::start(w).await;
    let dir = tempfile::tempdir().unwrap();
    let report = restore_into(&dst, &from, dir.path()).await;
    assert_eq!(report.exit_status(), ExitStatus::PartialFailure, "{}", report.summary_text());
    let text = report.summary_text();
    let row2r = report.nodes.iter().find(|n| n.path == "projects/row-2").unwrap();
    match &row2r.status {
        Status::Failed(m) => assert!(m.contains("Due") && m.contains("page.json"), "{m}"),
        other => panic!("{other:?}"),
    }
    let row0 = report.nodes.iter().find(|n| n.path == "projects/row-0").unwrap();
    assert_eq!(row0.status, Status::Restored);
    assert!(
        row0.errors.iter().any(|e| e.contains("Plan (final).pdf")
            && e.contains("upload limit")
            && e.contains("projects/row-0/attachments/Plan (final).pdf")),
        "{:?}",
        row0.errors
    );
    assert!(text.contains("ERROR Row 0 (projects/row-0)") && text.contains("FAILED Row 2 (projects/row-2)"), "{text}");
    // The other pages went on.
    assert!(report.nodes.iter().filter(|n| n.status == Status::Restored).count() >= 10);
    let _ = src;
}

fn binary(dir: &Path, fake: &FakeNotion, from: &Path) -> std::process::Command {
    std::fs::write(dir.join(".env"), "# settings are in the environment\n").unwrap();
    let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("notion-git-backup"));
    c.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("NOTION_TOKEN", common::fake_notion::DEFAULT_TOKEN)
        .env("NOTION_API_URL", fake.base_url())
        .env("NOTION_RATE_LIMIT", "300")
        .arg("--env")
        .arg(dir.join(".env"))
        .arg("-q")
        .arg("restore")
        .arg("--from")
        .arg(from)
        .arg("--to")
        .arg(format!("https://www.notion.so/acme/Restore-here-{}", norm(TARGET)));
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_killed_at_random_moments_finishes_without_duplicates() {
    use rand::{Rng, SeedableRng};
    let (_src_fake, _src, src_dir) = source().await;
    let from = src_dir.path().join("backup");
    let clean = FakeNotion::start(target_world()).await;
    let d1 = tempfile::tempdir().unwrap();
    assert_eq!(restore_into(&clean, &from, d1.path()).await.exit_status(), ExitStatus::Success);

    let mut w = target_world();
    // Slow enough (about 2 s for the whole restore) that the kills land in the middle.
    w.faults.latency = std::time::Duration::from_millis(25);
    let dst = FakeNotion::start(w).await;
    let dir = tempfile::tempdir().unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(16);
    let journal = dir.path().join("restore-state.json");
    let mut cut_short = 0;
    for _ in 0..4 {
        let mut child = binary(dir.path(), &dst, &from).spawn().unwrap();
        let wait = std::time::Duration::from_millis(rng.random_range(150..700));
        tokio::time::sleep(wait).await;
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        let text = std::fs::read_to_string(&journal).unwrap_or_default();
        if !text.contains("\"finished\"") {
            cut_short += 1;
        }
    }
    assert!(cut_short >= 2, "the kills must interrupt the restore ({cut_short} did)");
    let out = binary(dir.path(), &dst, &from).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("are restored"), "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(restored_tree(&dst, TARGET), restored_tree(&clean, TARGET));
    assert_eq!(dst.with_world(|w| w.pages.len()), clean.with_world(|w| w.pages.len()));
    // And once more: nothing to do.
    let before = writes(&dst);
    let out = binary(dir.path(), &dst, &from).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(writes(&dst), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_restores_an_older_night_and_only_restores_one_subtree() {
    let (src_fake, src, src_dir) = source().await;
    let repo = src_dir.path().join("backup/projects");
    let old = common::env::git(&repo, &["rev-parse", "HEAD"]).unwrap().trim().to_string();
    // The next night: Spec's text changes.
    src_fake.with_world(|w| {
        let kids = w.children[&norm(&src.spec)].clone();
        let b = w.blocks.get_mut(&kids[1]).unwrap();
        b["paragraph"]["rich_text"] = rich_text("spec text, edited");
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        b["last_edited_time"] = json!(now);
        w.page_mut(&src.spec).unwrap()["last_edited_time"] = json!(now);
    });
    backup(&src_fake, &src.projects.database_id, &src.tasks.database_id, src_dir.path()).await;
    assert_ne!(common::env::git(&repo, &["rev-parse", "HEAD"]).unwrap().trim(), old, "the edit was committed");

    let dst = FakeNotion::start(target_world()).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = Settings::new(&dst).config(dir.path());
    let opts =
        RestoreOptions { at: Some(old), only: Some("projects/row-0/spec".into()), ..options(&PathBuf::from(&repo)) };
    let report = restore::run(&cfg, &opts, Interrupt::default()).await;
    assert_eq!(report.exit_status(), ExitStatus::Success, "{}", report.summary_text());
    assert_eq!(report.nodes.len(), 2, "Spec and its child page only");
    let tree = restored_tree(&dst, TARGET);
    let spec = &tree[0];
    assert_eq!(spec[1], "Spec");
    assert_eq!(spec[2][1][1], "spec text", "the older night's text");
    assert_eq!(spec[2][2][1], "Deep dive", "the child page in its place");
    assert_eq!(spec[2][3][1], "after the child");
    // Deep dive's mention of Row 0 (not restored) keeps its original target as a link.
    let deep = dst.with_world(|w| {
        let id = w.children[&norm(TARGET)][0].clone();
        let deep = w.children[&id].iter().find(|k| w.blocks[*k]["type"] == "child_page").unwrap().clone();
        w.blocks[&w.children[&deep][0]].clone()
    });
    let rt = &deep["paragraph"]["rich_text"];
    assert_eq!(rt[1]["text"]["link"]["url"], format!("https://www.notion.so/{}", norm(&src.projects.rows[0])));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_over_20_mb_go_up_in_parts_and_arrive_whole() {
    let fake = FakeNotion::start(target_world()).await;
    let client = notion_git_backup::notion::NotionClient::new(notion_git_backup::notion::ClientConfig::new(
        &fake.base_url(),
        common::fake_notion::DEFAULT_TOKEN,
    ))
    .unwrap();
    let bytes: Vec<u8> = (0..25 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let id = client.upload_file("big video.mp4", "video/mp4", &bytes).await.unwrap();
    let s = fake.stats();
    assert_eq!((s.kind("file_uploads.send"), s.kind("file_uploads.complete")), (3, 1), "10 + 10 + 5 MiB");
    let up = fake.with_world(|w| w.writes.uploads[&norm(&id)].clone());
    assert_eq!(up.status, "uploaded");
    assert_eq!(sha(&up.bytes), sha(&bytes));
    // A small file is one part, with no complete.
    fake.reset_stats();
    client.upload_file("a.txt", "text/plain", b"hello").await.unwrap();
    assert_eq!((fake.stats().kind("file_uploads.send"), fake.stats().kind("file_uploads.complete")), (1, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comments_come_back_with_their_author_and_time_in_the_text() {
    let mut w = World::new();
    w.insert_user(person(restore_world::ALICE, "Alice Archer", "alice@example.com"));
    let db = add_database(&mut w, "Notes", 1);
    w.set_children(&db.rows[0], vec![paragraph("discussed")]);
    let mut c = comment(&db.rows[0], "looks good", restore_world::ALICE);
    c["display_name"]["resolved_name"] = json!("Alice Archer");
    w.add_comment(&db.rows[0], c);
    let src = FakeNotion::start(w).await;
    let sdir = tempfile::tempdir().unwrap();
    let cfg = Settings::new(&src).db(&db.database_id, "notes").set("BACKUP_COMMENTS", "1").config(sdir.path());
    assert_eq!(run_with(cfg, Interrupt::default()).await.0, ExitStatus::Success);

    let dst = FakeNotion::start(target_world()).await;
    let dir = tempfile::tempdir().unwrap();
    let report = restore_into(&dst, &sdir.path().join("backup"), dir.path()).await;
    assert_eq!(report.exit_status(), ExitStatus::Success, "{}", report.summary_text());
    let row = new_ids(dir.path())[&norm(&db.rows[0])].clone();
    let texts: Vec<String> = dst.with_world(|w| w.comments[&row].iter().map(|c| plain(&c["rich_text"])).collect());
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(
        texts[0].starts_with("Alice Archer, 2026-01-01T00:00:00.000Z: ") && texts[0].ends_with("looks good"),
        "{texts:?}"
    );
    let rep = report.nodes.iter().find(|n| n.path == "notes/row-0").unwrap();
    assert!(rep.losses.iter().any(|l| l.contains("comment authors")), "{:?}", rep.losses);
    // Run again: no second copy of the comment.
    assert_eq!(restore_into(&dst, &sdir.path().join("backup"), dir.path()).await.exit_status(), ExitStatus::Success);
    assert_eq!(dst.with_world(|w| w.comments[&row].len()), 1);
}
