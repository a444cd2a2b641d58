//! The Gitea sink against the in-process fake Gitea, which commits into real bare git repos.

mod common;

use common::fake_gitea::{CommitFault, FakeGitea, TOKEN, USER};
use notion_git_backup::sink::gitea::{GiteaConfig, GiteaSink, DEFAULT_MAX_REQUEST_BYTES};
use notion_git_backup::sink::{blob_id, ChangeSet, Content, FileWrite, Sink, SinkError};

const OWNER: &str = "alice";
const REPO: &str = "wiki-backup";

fn config(fake: &FakeGitea, owner: &str, repo: &str) -> GiteaConfig {
    GiteaConfig {
        base_url: fake.base_url.clone(),
        token: TOKEN.into(),
        owner: owner.into(),
        repo: repo.into(),
        branch: None,
        create_repos: false,
        ca_file: None,
        max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
        author_name: "Notion Backup".into(),
        author_email: "backup@example.org".into(),
        user_agent: "notion-git-backup-test".into(),
    }
}

async fn open(fake: &FakeGitea) -> GiteaSink {
    let mut s = GiteaSink::new(config(fake, OWNER, REPO)).unwrap();
    s.open(true).await.unwrap();
    s
}

fn w(path: &str, content: &str) -> FileWrite {
    FileWrite { path: path.into(), content: Content::Bytes(content.as_bytes().to_vec()) }
}

fn page(dir: &str, files: &[(&str, &str)]) -> ChangeSet {
    ChangeSet {
        message: format!("Backup: {dir}"),
        writes: files.iter().map(|(n, c)| w(&format!("{dir}/{n}"), c)).collect(),
        replace_dirs: vec![dir.into()],
        deletes: vec![],
    }
}

fn text(files: &std::collections::BTreeMap<String, Vec<u8>>, p: &str) -> String {
    String::from_utf8(files.get(p).unwrap_or_else(|| panic!("{p} missing: {:?}", files.keys())).clone()).unwrap()
}

fn no_token(e: &SinkError) {
    assert!(!e.to_string().contains(TOKEN), "token leaked: {e}");
}

#[tokio::test]
async fn first_commit_into_empty_repo_then_identical_change_set_posts_nothing() {
    let fake = FakeGitea::start().await;
    fake.add_repo(OWNER, REPO);
    let mut s = open(&fake).await;
    assert_eq!(s.branch(), "main");
    assert!(s.files_under("").is_empty());

    let cs = page("pages/hello", &[("index.md", "# Hello\n"), ("img.png", "\u{89}PNG")]);
    let out = s.commit(cs.clone()).await.unwrap();
    assert_eq!(out.commits.len(), 1);
    assert_eq!(out.plan.added, vec!["pages/hello/index.md", "pages/hello/img.png"]);
    assert_eq!(out.blob_ids["pages/hello/index.md"], blob_id(b"# Hello\n"));
    let files = fake.files(OWNER, REPO, "main");
    assert_eq!(text(&files, "pages/hello/index.md"), "# Hello\n");
    assert_eq!(fake.commit_count(OWNER, REPO, "main"), 1);
    let body = &fake.commit_bodies()[0];
    assert_eq!(body["branch"], "main");
    assert_eq!(body["author"]["email"], "backup@example.org");
    assert_eq!(body["committer"]["name"], "Notion Backup");

    let posts = fake.commit_posts();
    let again = s.commit(cs.clone()).await.unwrap();
    assert!(again.commits.is_empty() && again.plan.is_empty());
    assert_eq!(fake.commit_posts(), posts, "an unchanged page must not POST");

    // A fresh run (after this one ended: one run per repository) reads the tree from the server
    // and still sees nothing to do.
    drop(s);
    let mut s2 = open(&fake).await;
    assert_eq!(s2.files_under("pages/hello"), vec!["pages/hello/img.png", "pages/hello/index.md"]);
    assert!(s2.commit(cs).await.unwrap().commits.is_empty());
    assert_eq!(fake.commit_posts(), posts);
    assert_eq!(fake.commit_count(OWNER, REPO, "main"), 1);
}

#[tokio::test]
async fn update_and_renamed_page_send_shas_and_replace_the_old_folder_in_one_commit() {
    let fake = FakeGitea::start().await;
    fake.add_repo(OWNER, REPO);
    let mut s = open(&fake).await;
    s.commit(page("old-title", &[("index.md", "v1"), ("a.png", "A")])).await.unwrap();
    s.commit(page("other", &[("index.md", "keep")])).await.unwrap();

    // The page was renamed and changed: new folder, old folder removed, same commit.
    let mut cs = page("new-title", &[("index.md", "v2"), ("a.png", "A")]);
    cs.deletes = vec!["old-title".into()];
    let out = s.commit(cs).await.unwrap();
    assert_eq!(out.commits.len(), 1);
    assert_eq!(out.plan.deleted, vec!["old-title/a.png", "old-title/index.md"]);
    let files = fake.files(OWNER, REPO, "main");
    assert_eq!(files.keys().collect::<Vec<_>>(), vec!["new-title/a.png", "new-title/index.md", "other/index.md"]);
    assert_eq!(fake.commit_count(OWNER, REPO, "main"), 3);

    // Update in place: only the changed file, with the old blob sha; stale asset deleted with its sha.
    let out = s.commit(page("new-title", &[("index.md", "v3")])).await.unwrap();
    assert_eq!(out.plan.changed, vec!["new-title/index.md"]);
    assert_eq!(out.plan.deleted, vec!["new-title/a.png"]);
    let body = fake.commit_bodies().last().unwrap().clone();
    let ops = body["files"].as_array().unwrap();
    assert_eq!(ops.len(), 2);
    assert_eq!(ops[0]["operation"], "update");
    assert_eq!(ops[0]["sha"], blob_id(b"v2"));
    assert_eq!(ops[1]["operation"], "delete");
    assert_eq!(ops[1]["sha"], blob_id(b"A"));
    let files = fake.files(OWNER, REPO, "main");
    assert_eq!(text(&files, "new-title/index.md"), "v3");
    assert!(!files.contains_key("new-title/a.png"));
}

#[tokio::test]
async fn branch_moved_by_another_writer_is_retried_on_the_new_head() {
    for forgejo in [false, true] {
        let fake = FakeGitea::start().await;
        fake.set_forgejo(forgejo);
        if forgejo {
            fake.set_version("11.0.3+gitea-1.22.0");
        }
        fake.add_repo(OWNER, REPO);
        let mut s = open(&fake).await;
        s.commit(page("p", &[("index.md", "v1")])).await.unwrap();
        // Someone edits the same file after our tree read: our sha is stale (422, Forgejo 409).
        fake.external_commit(OWNER, REPO, "main", "p/index.md", b"edited by a human");
        fake.external_commit(OWNER, REPO, "main", "notes.md", b"unrelated");
        let out = s.commit(page("p", &[("index.md", "v2")])).await.unwrap();
        assert_eq!(out.commits.len(), 1);
        assert_eq!(fake.commit_posts(), 3, "one refused POST, one retried POST (forgejo={forgejo})");
        let files = fake.files(OWNER, REPO, "main");
        assert_eq!(text(&files, "p/index.md"), "v2");
        assert_eq!(text(&files, "notes.md"), "unrelated");
        assert_eq!(fake.commit_count(OWNER, REPO, "main"), 4);
        assert!(s.files_under("").contains(&"notes.md".to_string()), "tree re-read after the conflict");
    }
}

#[tokio::test]
async fn non_fast_forward_500_is_retried() {
    let fake = FakeGitea::start().await;
    fake.add_repo(OWNER, REPO);
    let mut s = open(&fake).await;
    s.commit(page("p", &[("index.md", "v1")])).await.unwrap();
    fake.non_fast_forward_next(1);
    let out = s.commit(page("p", &[("index.md", "v2")])).await.unwrap();
    assert_eq!(out.commits.len(), 1);
    let files = fake.files(OWNER, REPO, "main");
    assert_eq!(text(&files, "p/index.md"), "v2");
    assert!(files.contains_key("other-writer.txt"));
    assert_eq!(fake.commit_count(OWNER, REPO, "main"), 3);
}

#[tokio::test]
async fn server_error_after_the_commit_landed_is_success_without_a_duplicate_commit() {
    let fake = FakeGitea::start().await;
    fake.add_repo(OWNER, REPO);
    let mut s = open(&fake).await;
    fake.fail_next_commits(&[CommitFault { status: 502, land: true, html: true }]);
    let out = s.commit(page("p", &[("index.md", "v1")])).await.unwrap();
    assert_eq!(fake.commit_posts(), 1, "no second POST");
    assert_eq!(fake.commit_count(OWNER, REPO, "main"), 1);
    let head = fake.commit_count(OWNER, REPO, "main");
    assert_eq!(out.commits.len(), 1);
    assert_eq!(head, 1);

    fake.fail_next_commits(&[CommitFault { status: 500, land: true, html: false }]);
    s.commit(page("p", &[("index.md", "v2")])).await.unwrap();
    assert_eq!(fake.commit_posts(), 2);
    assert_eq!(fake.commit_count(OWNER, REPO, "main"), 2);
    assert_eq!(text(&fake.files(OWNER, REPO, "main"), "p/index.md"), "v2");
}

#[tokio::test]
async fn server_error_before_the_commit_is_retried_and_persistent_errors_are_transient() {
    let fake = FakeGitea::start().await;
    fake.add_repo(OWNER, REPO);
    let mut s = open(&fake).await;
    fake.fail_next_commits(&[CommitFault { status: 503, land: false, html: true }]);
    s.commit(page("p", &[("index.md", "v1")])).await.unwrap();
    assert_eq!(fake.commit_posts(), 2);
    assert_eq!(fake.commit_count(OWNER, REPO, "main"), 1);

    let fault = CommitFault { status: 500, land: false, html: false };
    fake.fail_next_commits(&[fault, fault, fault]);
    let e = s.commit(page("p", &[("index.md", "v2")])).await.unwrap_err();
    assert!(e.is_transient(), "{e}");
    assert!(e.to_string().contains("HTTP 500"), "{e}");
    no_token(&e);
    assert_eq!(fake.commit_count(OWNER, REPO, "main"), 1);
    // Next run (same sink here) succeeds.
    s.commit(page("p", &[("index.md", "v2")])).await.unwrap();
    assert_eq!(text(&fake.files(OWNER, REPO, "main"), "p/index.md"), "v2");
}

#[tokio::test]
async fn rate_limit_429_is_waited_out() {
    let fake = FakeGitea::start().await;
    fake.add_repo(OWNER, REPO);
    let mut s = open(&fake).await;
    fake.fail_next_commits(&[CommitFault { status: 429, land: false, html: false }]);
    let out = s.commit(page("p", &[("index.md", "v1")])).await.unwrap();
    assert_eq!(out.commits.len(), 1);
    assert_eq!(fake.commit_posts(), 2, "the same request sent again after Retry-After");
    assert_eq!(fake.commit_count(OWNER, REPO, "main"), 1);
}

#[tokio::test]
async fn proxy_413_splits_the_change_into_several_commits() {
    let fake = FakeGitea::start().await;
    fake.add_repo(OWNER, REPO);
    let mut s = open(&fake).await;
    s.commit(page("p", &[("index.md", "v1"), ("old.bin", "old")])).await.unwrap();
    let big = "x".repeat(30_000);
    let files: Vec<(String, String)> = (0..6).map(|i| (format!("f{i}.bin"), format!("{i}{big}"))).collect();
    let refs: Vec<(&str, &str)> = files.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    fake.reject_bodies_over(Some(100_000));
    let out = s.commit(page("p", &refs)).await.unwrap();
    assert!(out.commits.len() >= 3, "split into {} commits", out.commits.len());
    let tree = fake.files(OWNER, REPO, "main");
    for (n, c) in &files {
        assert_eq!(text(&tree, &format!("p/{n}")), *c);
    }
    assert!(!tree.contains_key("p/index.md") && !tree.contains_key("p/old.bin"));
    // Deletes come in the last commit; earlier parts never delete.
    let bodies = fake.commit_bodies();
    let accepted: Vec<_> = bodies.iter().filter(|b| serde_json::to_vec(b).unwrap().len() <= 100_000).collect();
    let last = accepted.last().unwrap();
    assert!(last["files"].as_array().unwrap().iter().any(|f| f["operation"] == "delete"));
    for b in &accepted[1..accepted.len() - 1] {
        assert!(b["files"].as_array().unwrap().iter().all(|f| f["operation"] != "delete"));
    }
    assert!(last["message"].as_str().unwrap().contains("part"), "{}", last["message"]);

    // A single file that can never pass the proxy: one refused request, then a permanent error
    // naming the file and the settings; the same file again sends nothing.
    let huge = "y".repeat(120_000);
    let posts = fake.commit_posts();
    let e = s.commit(page("q", &[("huge.bin", &huge)])).await.unwrap_err();
    let m = e.to_string();
    assert!(m.contains("q/huge.bin") && m.contains("client_max_body_size") && m.contains("GIT_MAX_REQUEST_MB"), "{m}");
    assert!(matches!(&e, SinkError::TooLarge { path, .. } if path == "q/huge.bin"), "{e:?}");
    assert!(!e.is_transient());
    assert_eq!(fake.commit_posts(), posts + 1, "no retry of a file refused on its own");
    let e = s.commit(page("q", &[("huge.bin", &huge)])).await.unwrap_err();
    assert!(matches!(&e, SinkError::TooLarge { .. }), "{e:?}");
    assert_eq!(fake.commit_posts(), posts + 1, "no request for a file already refused");
}

#[tokio::test]
async fn proxy_413_for_one_big_file_beside_small_deletes_fails_at_once() {
    let fake = FakeGitea::start().await;
    fake.add_repo(OWNER, REPO);
    let mut s = open(&fake).await;
    let old: Vec<(String, String)> = (0..5).map(|i| (format!("old{i}.md"), format!("old {i}"))).collect();
    let refs: Vec<(&str, &str)> = old.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    s.commit(page("p", &refs)).await.unwrap();
    fake.reject_bodies_over(Some(100_000));
    let posts = fake.commit_posts();
    // The page now holds one big file: its commit deletes five small ones and writes it.
    let huge = "h".repeat(120_000);
    let e = s.commit(page("p", &[("scan.bin", &huge)])).await.unwrap_err();
    assert!(matches!(&e, SinkError::TooLarge { path, .. } if path == "p/scan.bin"), "{e:?}");
    assert!(e.to_string().contains("GIT_MAX_REQUEST_MB"), "{e}");
    assert_eq!(fake.commit_posts(), posts + 1, "splitting off the deletes cannot help: one request only");
    assert_eq!(fake.files(OWNER, REPO, "main").len(), 5, "nothing half-done");
}

#[tokio::test]
async fn request_limit_splits_large_pages_and_refuses_a_file_bigger_than_the_limit() {
    let fake = FakeGitea::start().await;
    fake.add_repo(OWNER, REPO);
    let mut cfg = config(&fake, OWNER, REPO);
    cfg.max_request_bytes = 64 * 1024;
    let mut s = GiteaSink::new(cfg).unwrap();
    s.open(true).await.unwrap();
    let chunk = "z".repeat(20_000);
    let files: Vec<(String, String)> = (0..5).map(|i| (format!("a{i}.bin"), format!("{i}{chunk}"))).collect();
    let refs: Vec<(&str, &str)> = files.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let out = s.commit(page("p", &refs)).await.unwrap();
    assert!(out.commits.len() >= 2);
    assert_eq!(fake.commit_posts(), out.commits.len(), "no refused request");
    assert_eq!(fake.files(OWNER, REPO, "main").len(), 5);

    let posts = fake.commit_posts();
    let big = "b".repeat(70_000);
    let e = s.commit(page("p2", &[("index.md", "ok"), ("big.bin", &big)])).await.unwrap_err();
    let m = e.to_string();
    assert!(m.contains("p2/big.bin") && m.contains("GIT_MAX_REQUEST_MB"), "{m}");
    assert!(matches!(&e, SinkError::TooLarge { path, .. } if path == "p2/big.bin"), "{e:?}");
    assert!(!e.is_transient());
    assert_eq!(fake.commit_posts(), posts, "nothing committed for a page that cannot fit");
}

#[tokio::test]
async fn missing_repository_is_a_clear_error_or_created_when_allowed() {
    let fake = FakeGitea::start().await;
    let mut s = GiteaSink::new(config(&fake, OWNER, "nope")).unwrap();
    let e = s.open(true).await.unwrap_err();
    assert!(matches!(e, SinkError::Missing(_)));
    let m = e.to_string();
    assert!(m.contains("alice/nope") && m.contains("GIT_CREATE_REPOS=1"), "{m}");

    // Created under the token's user, private and empty, then the first commit works.
    let mut cfg = config(&fake, USER, "new-backup");
    cfg.create_repos = true;
    cfg.branch = Some("backup".into());
    let mut s = GiteaSink::new(cfg).unwrap();
    s.open(true).await.unwrap();
    assert!(fake.repo(USER, "new-backup").is_some());
    assert!(fake.requests().iter().any(|(m, p)| m == "POST" && p == "/api/v1/user/repos"));
    s.commit(page("p", &[("index.md", "x")])).await.unwrap();
    assert_eq!(text(&fake.files(USER, "new-backup", "backup"), "p/index.md"), "x");

    // Under an organisation.
    let mut cfg = config(&fake, "backups-org", "team-wiki");
    cfg.create_repos = true;
    let mut s = GiteaSink::new(cfg).unwrap();
    s.open(true).await.unwrap();
    assert!(fake.requests().iter().any(|(m, p)| m == "POST" && p == "/api/v1/orgs/backups-org/repos"));
    assert!(fake.repo("backups-org", "team-wiki").is_some());

    // open(false) never creates, even when configured to.
    let mut cfg = config(&fake, USER, "not-created");
    cfg.create_repos = true;
    let mut s = GiteaSink::new(cfg).unwrap();
    assert!(matches!(s.open(false).await, Err(SinkError::Missing(_))));
    assert!(fake.repo(USER, "not-created").is_none());
}

#[tokio::test]
async fn html_answers_are_a_clear_error() {
    let fake = FakeGitea::start().await;
    fake.add_repo(OWNER, REPO);
    fake.set_html_everything(true);
    let mut s = GiteaSink::new(config(&fake, OWNER, REPO)).unwrap();
    let e = s.open(true).await.unwrap_err();
    let m = e.to_string();
    assert!(m.contains("text/html") && m.contains("GIT_BASE_URL"), "{m}");
    no_token(&e);
}

#[tokio::test]
async fn permanent_errors_say_what_to_do() {
    let fake = FakeGitea::start().await;
    fake.add_repo(OWNER, REPO);

    fake.set_version("1.19.4");
    let e = GiteaSink::new(config(&fake, OWNER, REPO)).unwrap().open(true).await.unwrap_err();
    assert!(e.to_string().contains("1.20"), "{e}");
    fake.set_version("1.21.11-1");

    let mut cfg = config(&fake, OWNER, REPO);
    cfg.token = "wrong-token".into();
    let e = GiteaSink::new(cfg).unwrap().open(true).await.unwrap_err();
    assert!(e.to_string().contains("GIT_TOKEN") && !e.to_string().contains("wrong-token"), "{e}");

    fake.set_archived(OWNER, REPO, true);
    let e = GiteaSink::new(config(&fake, OWNER, REPO)).unwrap().open(true).await.unwrap_err();
    assert!(e.to_string().contains("archived"), "{e}");
    fake.set_archived(OWNER, REPO, false);

    fake.set_push(OWNER, REPO, false);
    let e = GiteaSink::new(config(&fake, OWNER, REPO)).unwrap().open(true).await.unwrap_err();
    assert!(e.to_string().contains("cannot push"), "{e}");
    fake.set_push(OWNER, REPO, true);

    // Archived after open: 423 on the commit.
    let mut s = open(&fake).await;
    fake.set_archived(OWNER, REPO, true);
    let e = s.commit(page("p", &[("index.md", "x")])).await.unwrap_err();
    assert!(e.to_string().contains("archived") && !e.is_transient(), "{e}");
    no_token(&e);

    drop(s);
    let mut cfg = config(&fake, OWNER, REPO);
    cfg.branch = Some("nope".into());
    fake.set_archived(OWNER, REPO, false);
    let mut s = GiteaSink::new(cfg.clone()).unwrap();
    s.open(true).await.unwrap(); // empty repo: the branch is created by the first commit
    s.commit(page("p", &[("index.md", "x")])).await.unwrap();
    cfg.branch = Some("missing".into());
    drop(s);
    let e = GiteaSink::new(cfg).unwrap().open(true).await.unwrap_err();
    assert!(e.to_string().contains("GIT_BRANCH"), "{e}");
}

#[tokio::test]
async fn hostile_paths_are_rejected_before_any_request() {
    let fake = FakeGitea::start().await;
    fake.add_repo(OWNER, REPO);
    let mut s = open(&fake).await;
    for bad in ["../escape.md", ".git/config", "p/.git/hooks/post-commit", "/abs.md", "p//x.md"] {
        let cs = ChangeSet { message: "m".into(), writes: vec![w(bad, "x")], ..Default::default() };
        let e = s.commit(cs).await.unwrap_err();
        assert!(e.to_string().contains("unsafe"), "{bad}: {e}");
        let cs = ChangeSet { message: "m".into(), deletes: vec![bad.into()], ..Default::default() };
        assert!(s.commit(cs).await.is_err(), "{bad}");
    }
    assert_eq!(fake.commit_posts(), 0);
}

#[tokio::test]
async fn staged_files_are_committed_byte_for_byte_and_big_trees_are_paged() {
    let fake = FakeGitea::start().await;
    fake.add_repo(OWNER, REPO);
    fake.set_tree_page_max(3);
    let mut s = open(&fake).await;
    let dir = tempfile::tempdir().unwrap();
    let staged = dir.path().join("photo.jpg");
    let bytes: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 256) as u8).collect();
    std::fs::write(&staged, &bytes).unwrap();
    let mut cs = page("p", &[("index.md", "photo")]);
    cs.writes.push(FileWrite { path: "p/photo.jpg".into(), content: Content::File(staged.clone()) });
    for i in 0..8 {
        cs.writes.push(w(&format!("p/n{i}.md"), &i.to_string()));
    }
    let out = s.commit(cs.clone()).await.unwrap();
    assert_eq!(out.blob_ids["p/photo.jpg"], blob_id(&bytes));
    assert_eq!(fake.files(OWNER, REPO, "main")["p/photo.jpg"], bytes);

    // A new run pages through the tree 3 entries at a time and finds all 10 files + the folder.
    drop(s);
    let mut s2 = open(&fake).await;
    assert_eq!(s2.files_under("p").len(), 10);
    let tree_reads = fake.requests().iter().filter(|(_, p)| p.contains("/git/trees/")).count();
    assert!(tree_reads >= 4, "{tree_reads}");
    assert!(s2.commit(cs).await.unwrap().commits.is_empty());
}

/// The request body is written by hand (files base64-encoded into place): names JSON must escape,
/// and contents of every length modulo 3, staged on disk or in memory, arrive byte for byte.
#[tokio::test]
async fn commit_bodies_carry_any_name_and_any_bytes() {
    let fake = FakeGitea::start().await;
    fake.add_repo(OWNER, REPO);
    let mut s = open(&fake).await;
    let dir = tempfile::tempdir().unwrap();
    let staged = dir.path().join("big.bin");
    let big: Vec<u8> = (0..100_001u32).map(|i| (i * 31 % 256) as u8).collect();
    std::fs::write(&staged, &big).unwrap();
    let mut cs = page("Notes \"2024\" – ü", &[("index.md", "a"), ("two.md", "ab"), ("three.md", "abc")]);
    cs.writes.push(FileWrite { path: "Notes \"2024\" – ü/big.bin".into(), content: Content::File(staged) });
    cs.writes.push(FileWrite { path: "Notes \"2024\" – ü/empty".into(), content: Content::Bytes(Vec::new()) });
    s.commit(cs.clone()).await.unwrap();
    let files = fake.files(OWNER, REPO, "main");
    let d = "Notes \"2024\" – ü";
    assert_eq!(files[&format!("{d}/big.bin")], big);
    assert_eq!(text(&files, &format!("{d}/three.md")), "abc");
    assert_eq!(text(&files, &format!("{d}/two.md")), "ab");
    assert_eq!(files[&format!("{d}/empty")], b"");
    // An update (with the old blob id) and a delete in one body.
    let mut next = page(d, &[("index.md", "changed")]);
    next.writes.push(w(&format!("{d}/two.md"), "ab"));
    s.commit(next).await.unwrap();
    let files = fake.files(OWNER, REPO, "main");
    assert_eq!(text(&files, &format!("{d}/index.md")), "changed");
    assert_eq!(files.len(), 2, "{:?}", files.keys());
}

/// A run that finds the tree as the last run left it reads one page of the listing, not all: the
/// tree kept from the last run is used only when it hashes to the root tree id the server names
/// on page 1, so a commit by anyone else makes the next run page through the tree again.
#[tokio::test]
async fn an_unchanged_tree_is_read_in_one_request_and_a_changed_one_is_paged_again() {
    let fake = FakeGitea::start().await;
    fake.add_repo(OWNER, REPO);
    fake.set_tree_page_max(3);
    let tree_reads = |from: usize| fake.requests()[from..].iter().filter(|(_, p)| p.contains("/git/trees/")).count();
    let mut cs = page("p", &[("index.md", "# P")]);
    for i in 0..9 {
        cs.writes.push(w(&format!("p/n{i}.md"), &i.to_string()));
    }
    let mut s = open(&fake).await;
    assert_eq!(s.commit(cs.clone()).await.unwrap().commits.len(), 1);
    s.finish().await.unwrap();
    drop(s);

    // Nothing changed: the repository and one page of its tree (the server's version is known
    // from the last run, as the engine says with `known_destination`).
    let before = fake.requests().len();
    let mut s = GiteaSink::new(config(&fake, OWNER, REPO)).unwrap();
    s.known_destination();
    s.open(true).await.unwrap();
    assert_eq!(fake.requests().len() - before, 2, "{:?}", &fake.requests()[before..]);
    assert_eq!(tree_reads(before), 1);
    assert_eq!(s.files_under("p").len(), 10);
    assert_eq!(s.blob_of("p/n3.md"), Some(blob_id(b"3")));
    assert!(s.commit(cs.clone()).await.unwrap().commits.is_empty());
    s.finish().await.unwrap();
    drop(s);

    // Another writer changed one file and added one: the kept tree no longer matches.
    fake.external_commit(OWNER, REPO, "main", "p/n3.md", b"changed elsewhere");
    fake.external_commit(OWNER, REPO, "main", "other/notes.md", b"x");
    let before = fake.requests().len();
    let mut s = open(&fake).await;
    assert!(tree_reads(before) >= 4, "{}", tree_reads(before));
    assert_eq!(s.blob_of("p/n3.md"), Some(blob_id(b"changed elsewhere")));
    assert_eq!(s.files_under("other"), vec!["other/notes.md".to_string()]);
    // The update is sent with the server's blob id, not the one kept from the last run.
    assert_eq!(s.commit(cs.clone()).await.unwrap().commits.len(), 1);
    assert_eq!(text(&fake.files(OWNER, REPO, "main"), "p/n3.md"), "3");
    s.finish().await.unwrap();
    drop(s);

    // The tree as this run left it is kept: one page again.
    let before = fake.requests().len();
    let mut s = open(&fake).await;
    assert_eq!(tree_reads(before), 1);
    assert_eq!(s.files_under("").len(), 11);

    // Another writer commits between two commits of a run: the sink's tree lacks that file, its
    // tree id differs from the one Gitea answers for the run's last commit, so nothing is kept
    // and the next run reads the whole tree (and sees the file).
    s.commit(page("q", &[("index.md", "# Q")])).await.unwrap();
    fake.external_commit(OWNER, REPO, "main", "elsewhere.md", b"e");
    s.commit(page("r", &[("index.md", "# R")])).await.unwrap();
    s.finish().await.unwrap();
    drop(s);
    let before = fake.requests().len();
    let s = open(&fake).await;
    assert!(tree_reads(before) >= 4, "{}", tree_reads(before));
    assert_eq!(s.blob_of("elsewhere.md"), Some(blob_id(b"e")));
    assert_eq!(s.files_under("").len(), 14);
}

#[tokio::test]
async fn identity_and_web_links_name_server_owner_repository_and_branch_never_the_token() {
    let fake = FakeGitea::start().await;
    fake.add_repo_with_default_branch(OWNER, REPO, "trunk");
    let mut cfg = config(&fake, "Alice", "Wiki-Backup");
    cfg.base_url = format!("{}/api/v1/", fake.base_url);
    let mut s = GiteaSink::new(cfg).unwrap();
    let id = s.identity();
    assert_eq!(id, format!("{}/alice/wiki-backup", fake.base_url));
    assert_eq!(GiteaSink::new(config(&fake, OWNER, REPO)).unwrap().identity(), id, "one repository, one identity");
    s.open(true).await.unwrap();
    assert_eq!(
        s.web_url("reading list/a b#1/index.md").as_deref(),
        Some(
            format!("{}/Alice/Wiki-Backup/src/branch/trunk/reading%20list/a%20b%231/index.md", fake.base_url).as_str()
        )
    );
    assert_eq!(s.web_url("").unwrap(), format!("{}/Alice/Wiki-Backup/src/branch/trunk", fake.base_url));
    for text in [id, s.web_url("x").unwrap(), s.describe()] {
        assert!(!text.contains(TOKEN), "{text}");
    }
}

#[tokio::test]
async fn two_sinks_for_one_repository_never_write_at_once() {
    let fake = FakeGitea::start().await;
    fake.add_repo(OWNER, REPO);
    fake.add_repo(OWNER, "other");
    let mut first = open(&fake).await;
    // Another configuration spelling the same server and repository differently.
    let mut cfg = config(&fake, "ALICE", REPO);
    cfg.base_url = format!("{}/", fake.base_url);
    let mut second = GiteaSink::new(cfg.clone()).unwrap();
    let e = second.lock().await.unwrap_err();
    let m = e.to_string();
    assert!(matches!(e, SinkError::Locked(_)), "{m}");
    assert!(m.contains(&format!("pid {} on ", std::process::id())) && m.contains(" since "), "{m}");
    assert!(m.contains("notion-git-backup/locks/gitea-") && !m.contains(TOKEN), "{m}");
    let before = fake.requests().len();
    assert!(matches!(second.open(true).await, Err(SinkError::Locked(_))));
    assert_eq!(fake.requests().len(), before, "a locked-out run sends nothing");
    // A read-only open (check, dry run) and another repository are not blocked.
    GiteaSink::new(cfg.clone()).unwrap().open(false).await.unwrap();
    let mut other = GiteaSink::new(config(&fake, OWNER, "other")).unwrap();
    other.open(true).await.unwrap();
    first.commit(page("p", &[("index.md", "v1")])).await.unwrap();
    drop(first);
    let mut second = GiteaSink::new(cfg).unwrap();
    second.open(true).await.unwrap();
    second.commit(page("p", &[("index.md", "v2")])).await.unwrap();
    assert_eq!(text(&fake.files(OWNER, REPO, "main"), "p/index.md"), "v2");
}

#[tokio::test]
async fn commit_messages_are_sanitised_and_parts_are_numbered_on_the_subject() {
    let fake = FakeGitea::start().await;
    fake.add_repo(OWNER, REPO);
    let mut cfg = config(&fake, OWNER, REPO);
    cfg.max_request_bytes = 64 * 1024;
    let mut s = GiteaSink::new(cfg).unwrap();
    s.open(true).await.unwrap();
    let chunk = "z".repeat(30_000);
    let mut cs = page("p", &[("a.bin", &chunk), ("b.bin", &chunk)]);
    cs.message = "Backup: bad\0title\x1b[0m\nmoved from q".into();
    let out = s.commit(cs).await.unwrap();
    assert_eq!(out.commits.len(), 2);
    let messages: Vec<String> =
        fake.commit_bodies().iter().map(|b| b["message"].as_str().unwrap().to_string()).collect();
    assert_eq!(
        messages,
        vec![
            "Backup: bad title [0m (part 1/2)\n\nmoved from q".to_string(),
            "Backup: bad title [0m (part 2/2)\n\nmoved from q".to_string()
        ]
    );
}

/// The fake's single-file contents API (what older scripts such as the seed write with) says no
/// where Gitea does: create on an existing file, update without or with a wrong `sha`, update or
/// delete of a missing file, and anything on a missing path answers 404.
#[tokio::test]
async fn fake_gitea_single_file_api_refuses_what_gitea_refuses() {
    use base64::Engine as _;
    let fake = FakeGitea::start().await;
    fake.add_repo(OWNER, REPO);
    let http = reqwest::Client::new();
    let url = |p: &str| format!("{}/api/v1/repos/{OWNER}/{REPO}/contents/{p}", fake.base_url);
    let auth = format!("token {TOKEN}");
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let send = |req: reqwest::RequestBuilder, body: serde_json::Value| {
        let auth = auth.clone();
        async move {
            let r = req.header("Authorization", auth).json(&body).send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.json::<serde_json::Value>().await.unwrap_or_default())
        }
    };
    let get = |p: &str| {
        let (u, auth) = (url(p), auth.clone());
        let http = http.clone();
        async move {
            let r = http.get(u).header("Authorization", auth).send().await.unwrap();
            (r.status().as_u16(), r.json::<serde_json::Value>().await.unwrap_or_default())
        }
    };

    assert_eq!(get("a%20b/index.md").await.0, 404, "nothing there yet");
    let (st, created) =
        send(http.post(url("a%20b/index.md")), serde_json::json!({"content": b64("one"), "message": "m"})).await;
    assert_eq!(st, 201, "{created}");
    let sha = created["content"]["sha"].as_str().unwrap().to_string();
    assert_eq!(
        send(http.post(url("a%20b/index.md")), serde_json::json!({"content": b64("x"), "message": "m"})).await.0,
        422
    );
    let (st, body) =
        send(http.put(url("a%20b/index.md")), serde_json::json!({"content": b64("x"), "message": "m"})).await;
    assert_eq!((st, body["message"].as_str()), (422, Some("[SHA]: Required")));
    let wrong = serde_json::json!({"content": b64("x"), "sha": "0".repeat(40), "message": "m"});
    assert_eq!(send(http.put(url("a%20b/index.md")), wrong).await.0, 422);
    let missing = serde_json::json!({"sha": sha, "message": "m"});
    assert_eq!(send(http.delete(url("a%20b/other.md")), missing).await.0, 404);

    let (st, file) = get("a%20b/index.md").await;
    assert_eq!(
        (st, file["sha"].as_str(), file["content"].as_str()),
        (200, Some(sha.as_str()), Some(b64("one").as_str()))
    );
    let (st, dir) = get("a%20b").await;
    assert_eq!(st, 200);
    assert_eq!(
        dir.as_array().unwrap().iter().map(|e| e["path"].as_str().unwrap()).collect::<Vec<_>>(),
        ["a b/index.md"]
    );

    let (st, updated) =
        send(http.put(url("a%20b/index.md")), serde_json::json!({"content": b64("two"), "sha": sha, "message": "m"}))
            .await;
    assert_eq!(st, 200, "{updated}");
    let new_sha = updated["content"]["sha"].as_str().unwrap().to_string();
    let (st, deleted) =
        send(http.delete(url("a%20b/index.md")), serde_json::json!({"sha": new_sha, "message": "m"})).await;
    assert_eq!((st, &deleted["content"]), (200, &serde_json::Value::Null));
    assert!(fake.files(OWNER, REPO, "main").is_empty());
    assert_eq!(fake.commit_count(OWNER, REPO, "main"), 3, "one commit per request");
}
