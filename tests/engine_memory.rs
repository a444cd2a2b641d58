//! The engine through its `run_with_sinks` seam, with in-memory destinations that say no the way
//! a real one does: a lock another run holds, commits that fail, a file too large for the server.
//! Notion is the strict fake; nothing touches git.

mod common;

use std::path::Path;

use common::env::Settings;
use common::fake_notion::{FakeNotion, World};
use common::fixtures::*;
use notion_git_backup::config::{Config, DatabaseConfig};
use notion_git_backup::notify::RunReport;
use notion_git_backup::sink::memory::MemorySink;
use notion_git_backup::sink::{Sink, SinkError};
use notion_git_backup::state::State;
use notion_git_backup::sync::{run_with_sinks, ExitStatus, Interrupt};

const PDF: &[u8] = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n";

/// Two databases of three rows; row 1 of "Notes" holds a PDF.
async fn two_databases() -> (FakeNotion, DbIds, DbIds) {
    let mut w = World::new();
    let notes = add_database(&mut w, "Notes", 3);
    let tasks = add_database(&mut w, "Tasks", 3);
    let pdf = w.add_file("Big report.pdf", PDF.repeat(200));
    for id in notes.rows.iter().chain(tasks.rows.iter()) {
        w.set_children(id, vec![paragraph("text")]);
    }
    w.set_children(&notes.rows[1], vec![paragraph("with a file"), file_block(&pdf)]);
    (FakeNotion::start(w).await, notes, tasks)
}

async fn run(cfg: Config, make: impl Fn(&str) -> MemorySink + Send + Sync + 'static) -> (ExitStatus, RunReport) {
    let factory =
        move |_: &Config, t: &DatabaseConfig| -> Result<Box<dyn Sink>, SinkError> { Ok(Box::new(make(&t.repo))) };
    run_with_sinks(cfg, Interrupt::default(), &factory).await
}

fn state(dir: &Path) -> State {
    State::load(&dir.join("state.json")).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_databases_are_committed_through_the_seam() {
    let (fake, notes, tasks) = two_databases().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = Settings::new(&fake)
        .db(&notes.database_id, "notes")
        .set("DB2_NOTION_ID", &tasks.database_id)
        .set("DB2_GIT_REPO", "tasks")
        .config(dir.path());
    let (status, report) = run(cfg, MemorySink::new).await;
    assert_eq!(status, ExitStatus::Success, "{report:?}");
    for db in &report.databases {
        assert_eq!(db.backed_up.len(), 3, "{db:?}");
        // One commit per page and the database's own (index, CSV, schema).
        assert_eq!(db.commits.len(), 4, "{db:?}");
    }
    assert_eq!(state(dir.path()).destinations["tasks"], "memory:tasks");
}

/// Another run holds one repository: the run stops before reading any page (exit 2), and names it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repository_locked_by_another_run_stops_the_run_before_notion_is_read() {
    let (fake, notes, tasks) = two_databases().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = Settings::new(&fake)
        .db(&notes.database_id, "notes")
        .set("DB2_NOTION_ID", &tasks.database_id)
        .set("DB2_GIT_REPO", "tasks")
        .config(dir.path());
    fake.reset_stats();
    let (status, report) = run(cfg, |name| {
        let s = MemorySink::new(name);
        if name == "tasks" {
            s.lock_held_elsewhere()
        } else {
            s
        }
    })
    .await;
    assert_eq!(status, ExitStatus::Fatal);
    let fatal = report.fatal.clone().unwrap_or_default();
    assert!(fatal.contains("tasks") && fatal.contains("locked by another backup run"), "{fatal}");
    let s = fake.stats();
    assert_eq!(s.kind("data_sources.query") + s.kind("blocks.children"), 0, "{:?}", s.by_kind);
    assert!(state(dir.path()).pages.is_empty());
}

/// The destination refuses commits: the pages fail (exit 1), and none is recorded as backed up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_commits_are_failed_pages_never_recorded_as_backed_up() {
    let (fake, notes, _) = two_databases().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = Settings::new(&fake).db(&notes.database_id, "notes").config(dir.path());
    let (status, report) = run(cfg, |name| {
        let mut s = MemorySink::new(name);
        s.fail_next_commits(100);
        s
    })
    .await;
    assert_eq!(status, ExitStatus::PartialFailure, "{report:?}");
    let db = &report.databases[0];
    assert!(db.backed_up.is_empty() && db.failed.len() >= 3, "{db:?}");
    let st = state(dir.path());
    for id in &notes.rows {
        let rec = st.pages.get(&common::fake_notion::norm(id));
        assert!(rec.is_none_or(|r| r.last_edited_time.is_empty()), "recorded as backed up: {rec:?}");
    }
}

/// A file the server can never take fails its page with a message naming the file; the other
/// pages are backed up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_too_large_for_the_destination_fails_only_its_page() {
    let (fake, notes, _) = two_databases().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = Settings::new(&fake).db(&notes.database_id, "notes").config(dir.path());
    let (status, report) = run(cfg, |name| {
        let mut s = MemorySink::new(name);
        s.refuse_files_over(5_000);
        s
    })
    .await;
    assert_eq!(status, ExitStatus::PartialFailure, "{report:?}");
    let db = &report.databases[0];
    assert_eq!(db.failed.len(), 1, "{db:?}");
    assert!(db.failed[0].reason.contains("Big report.pdf"), "{:?}", db.failed[0]);
    assert_eq!(db.backed_up.len(), 2, "{db:?}");
}
