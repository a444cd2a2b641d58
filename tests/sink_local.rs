//! The local git sink against real repositories in temp dirs.

use std::path::{Path, PathBuf};
use std::process::Command;

use notion_git_backup::sink::local_git::{LocalGitConfig, LocalGitSink};
use notion_git_backup::sink::{blob_id, ChangeSet, Content, FileWrite, Sink, SinkError};

/// Make every git started by these tests ignore the user's and the system's config, so the sink
/// must bring its own identity (as on a server with no global git identity).
fn isolate() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::env::set_var("GIT_CONFIG_GLOBAL", "/dev/null");
        std::env::set_var("GIT_CONFIG_NOSYSTEM", "1");
    });
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@t")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@t")
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn config(dir: &Path) -> LocalGitConfig {
    LocalGitConfig {
        repo_dir: dir.to_path_buf(),
        push: false,
        author_name: "Notion Backup".into(),
        author_email: "backup@example.org".into(),
        branch: None,
        git_program: None,
    }
}

async fn open(dir: &Path) -> LocalGitSink {
    isolate();
    let mut s = LocalGitSink::new(config(dir));
    s.open(true).await.unwrap();
    s
}

fn w(path: &str, content: &str) -> FileWrite {
    FileWrite { path: path.into(), content: Content::Bytes(content.as_bytes().to_vec()) }
}

fn page(dir: &str, files: &[(&str, &str)]) -> ChangeSet {
    ChangeSet {
        message: format!("# Backup: {dir}"),
        writes: files.iter().map(|(n, c)| w(&format!("{dir}/{n}"), c)).collect(),
        replace_dirs: vec![dir.into()],
        deletes: vec![],
    }
}

fn tree(dir: &Path) -> Vec<String> {
    git(dir, &["ls-tree", "-r", "--name-only", "HEAD"]).lines().map(String::from).collect()
}

fn count(dir: &Path) -> usize {
    git(dir, &["rev-list", "--count", "HEAD"]).trim().parse().unwrap()
}

fn repo_dir() -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("backup");
    (t, d)
}

#[tokio::test]
async fn first_commit_into_a_new_repository_and_no_commit_for_an_identical_change() {
    let (_t, dir) = repo_dir();
    let mut s = open(&dir).await;
    assert_eq!(s.branch(), "main");
    let cs = page("pages/hello", &[("index.md", "# Hello\n"), ("img.png", "PNG")]);
    let out = s.commit(cs.clone()).await.unwrap();
    assert_eq!(out.commits.len(), 1);
    assert_eq!(out.commits[0], git(&dir, &["rev-parse", "HEAD"]).trim());
    assert_eq!(tree(&dir), vec!["pages/hello/img.png", "pages/hello/index.md"]);
    assert_eq!(
        git(&dir, &["log", "-1", "--format=%an <%ae>|%cn <%ce>"]).trim(),
        "Notion Backup <backup@example.org>|Notion Backup <backup@example.org>"
    );
    // The message is kept verbatim, even a line starting with '#'.
    assert_eq!(git(&dir, &["log", "-1", "--format=%B"]).trim(), "# Backup: pages/hello");
    assert_eq!(git(&dir, &["rev-parse", "HEAD:pages/hello/index.md"]).trim(), blob_id(b"# Hello\n"));
    assert_eq!(git(&dir, &["symbolic-ref", "--short", "HEAD"]).trim(), "main");

    assert!(s.commit(cs.clone()).await.unwrap().commits.is_empty());
    let mut s2 = open(&dir).await;
    assert_eq!(s2.files_under("pages"), vec!["pages/hello/img.png", "pages/hello/index.md"]);
    assert!(s2.commit(cs).await.unwrap().commits.is_empty());
    assert_eq!(count(&dir), 1);
    assert!(git(&dir, &["status", "--porcelain"]).is_empty());
}

#[tokio::test]
async fn renamed_page_and_updates_replace_the_old_folder_in_one_commit() {
    let (_t, dir) = repo_dir();
    let mut s = open(&dir).await;
    s.commit(page("old-title", &[("index.md", "v1"), ("a.png", "A")])).await.unwrap();
    s.commit(page("other", &[("index.md", "keep")])).await.unwrap();
    let mut cs = page("new-title", &[("index.md", "v2"), ("a.png", "A")]);
    cs.deletes = vec!["old-title".into()];
    let out = s.commit(cs).await.unwrap();
    assert_eq!(out.plan.deleted, vec!["old-title/a.png", "old-title/index.md"]);
    assert_eq!(tree(&dir), vec!["new-title/a.png", "new-title/index.md", "other/index.md"]);
    assert!(!dir.join("old-title").exists(), "empty old folder removed from the work tree");
    let changed = git(&dir, &["show", "--name-status", "--format=", "HEAD"]);
    assert!(changed.contains("D\told-title/index.md") && changed.contains("A\tnew-title/index.md"), "{changed}");

    let out = s.commit(page("new-title", &[("index.md", "v3")])).await.unwrap();
    assert_eq!(out.plan.changed, vec!["new-title/index.md"]);
    assert_eq!(out.plan.deleted, vec!["new-title/a.png"]);
    assert_eq!(tree(&dir), vec!["new-title/index.md", "other/index.md"]);
    assert_eq!(std::fs::read_to_string(dir.join("new-title/index.md")).unwrap(), "v3");
    assert_eq!(count(&dir), 4);
}

#[tokio::test]
async fn staged_files_ignored_patterns_and_hooks() {
    let (_t, dir) = repo_dir();
    let mut s = open(&dir).await;
    // A .gitignore that would hide attachments, and a hook that must never run.
    std::fs::write(dir.join(".gitignore"), "*.pdf\n").unwrap();
    git(&dir, &["add", ".gitignore"]);
    git(&dir, &["commit", "-q", "-m", "ignore"]);
    let hook = dir.join(".git/hooks/pre-commit");
    std::fs::write(&hook, format!("#!/bin/sh\ntouch '{}'\nexit 1\n", dir.join("HOOK-RAN").display())).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let mut s2 = open(&dir).await;
    drop(s);
    let staged_dir = tempfile::tempdir().unwrap();
    let staged = staged_dir.path().join("report.pdf");
    let bytes: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(&staged, &bytes).unwrap();
    let mut cs = page("p", &[("index.md", "doc")]);
    cs.writes.push(FileWrite { path: "p/report.pdf".into(), content: Content::File(staged) });
    let out = s2.commit(cs).await.unwrap();
    assert_eq!(out.commits.len(), 1);
    assert_eq!(git(&dir, &["rev-parse", "HEAD:p/report.pdf"]).trim(), blob_id(&bytes));
    assert!(!dir.join("HOOK-RAN").exists(), "repository hooks must not run");
    s = s2;
    assert_eq!(s.files_under("p"), vec!["p/index.md", "p/report.pdf"]);
}

#[tokio::test]
async fn glob_characters_in_file_names_are_taken_literally() {
    let (_t, dir) = repo_dir();
    let mut s = open(&dir).await;
    s.commit(page("p", &[("[x].md", "1"), ("*.md", "2"), (":(top)a.md", "3")])).await.unwrap();
    assert_eq!(tree(&dir), vec!["p/*.md", "p/:(top)a.md", "p/[x].md"]);
    let out = s.commit(page("p", &[("*.md", "changed"), ("[x].md", "1")])).await.unwrap();
    assert_eq!(out.plan.changed, vec!["p/*.md"]);
    assert_eq!(out.plan.deleted, vec!["p/:(top)a.md"]);
    assert_eq!(tree(&dir), vec!["p/*.md", "p/[x].md"]);
    assert_eq!(git(&dir, &["show", "HEAD:p/[x].md"]), "1");
}

#[tokio::test]
async fn hostile_paths_are_rejected_and_nothing_is_written() {
    let (t, dir) = repo_dir();
    let mut s = open(&dir).await;
    for bad in ["../escape.md", ".git/hooks/pre-commit", "p/.git/config", "/tmp/abs.md", "a/../../x"] {
        let cs = ChangeSet { message: "m".into(), writes: vec![w(bad, "#!/bin/sh\n")], ..Default::default() };
        let e = s.commit(cs).await.unwrap_err();
        assert!(e.to_string().contains("unsafe"), "{bad}: {e}");
    }
    assert!(!t.path().join("escape.md").exists());
    assert!(!dir.join(".git/hooks/pre-commit").exists());
    // A symlink planted in the work tree is never followed.
    #[cfg(unix)]
    {
        let outside = t.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, dir.join("link")).unwrap();
        let e = s.commit(ChangeSet { writes: vec![w("link/evil.md", "x")], ..Default::default() }).await.unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert!(!outside.join("evil.md").exists());
    }
}

#[tokio::test]
async fn push_to_a_bare_remote_and_clear_error_without_remote() {
    isolate();
    let (t, dir) = repo_dir();
    let remote = t.path().join("remote.git");
    std::fs::create_dir(&remote).unwrap();
    git(&remote, &["init", "--bare", "-q"]);
    let mut cfg = config(&dir);
    cfg.push = true;
    let mut s = LocalGitSink::new(cfg.clone());
    s.open(true).await.unwrap();
    s.commit(page("p", &[("index.md", "x")])).await.unwrap();
    let e = s.finish().await.unwrap_err();
    assert!(e.to_string().contains("remote add origin"), "{e}");

    git(&dir, &["remote", "add", "origin", remote.to_str().unwrap()]);
    s.finish().await.unwrap();
    assert_eq!(git(&remote, &["rev-parse", "refs/heads/main"]), git(&dir, &["rev-parse", "HEAD"]));
    s.commit(page("p", &[("index.md", "y")])).await.unwrap();
    s.finish().await.unwrap();
    assert_eq!(git(&remote, &["rev-list", "--count", "refs/heads/main"]).trim(), "2");
}

#[tokio::test]
async fn recovery_after_a_crash_between_writing_and_committing() {
    let (_t, dir) = repo_dir();
    let mut s = open(&dir).await;
    s.commit(page("p", &[("index.md", "v1"), ("a.png", "A")])).await.unwrap();
    s.commit(page("q", &[("index.md", "q1")])).await.unwrap();
    drop(s);
    // A run killed mid-way left: a half-written page p (modified + new file, some staged),
    // a temp file, a page that no longer exists in Notion, and a stale index.lock.
    std::fs::write(dir.join("p/index.md"), "half written").unwrap();
    std::fs::write(dir.join("p/new.png"), "N").unwrap();
    std::fs::write(dir.join("p/.index.md.ngb-tmp"), "tmp").unwrap();
    std::fs::create_dir_all(dir.join("gone")).unwrap();
    std::fs::write(dir.join("gone/index.md"), "orphan").unwrap();
    git(&dir, &["add", "p/new.png", "gone/index.md"]);
    std::fs::remove_file(dir.join("q/index.md")).unwrap();
    let lock = std::fs::File::create(dir.join(".git/index.lock")).unwrap();
    lock.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(3600)).unwrap();
    drop(lock);

    let mut s = open(&dir).await;
    let st = git(&dir, &["status", "--porcelain", "--ignored"]);
    assert!(st.is_empty(), "work tree restored to HEAD: {st}");
    assert_eq!(std::fs::read_to_string(dir.join("q/index.md")).unwrap(), "q1");
    // Nothing was thrown away: the leftovers are in a stash.
    let stash = git(&dir, &["stash", "list"]);
    assert!(stash.contains("notion-git-backup"), "{stash}");

    // The next run commits the same page: exactly the right tree, no leftovers.
    let out = s.commit(page("p", &[("index.md", "v2"), ("b.png", "B")])).await.unwrap();
    assert_eq!(out.commits.len(), 1);
    assert_eq!(tree(&dir), vec!["p/b.png", "p/index.md", "q/index.md"]);
    assert_eq!(git(&dir, &["show", "HEAD:p/index.md"]), "v2");
    assert_eq!(count(&dir), 3);
}

#[tokio::test]
async fn crash_without_any_commit_yet_never_commits_leftovers() {
    let (_t, dir) = repo_dir();
    let s = open(&dir).await;
    drop(s);
    std::fs::create_dir_all(dir.join("gone")).unwrap();
    std::fs::write(dir.join("gone/index.md"), "orphan").unwrap();
    git(&dir, &["add", "gone/index.md"]);
    let mut s = open(&dir).await;
    s.commit(page("p", &[("index.md", "v1")])).await.unwrap();
    assert_eq!(tree(&dir), vec!["p/index.md"]);
}

#[tokio::test]
async fn missing_git_missing_repo_and_branch_settings() {
    isolate();
    let (_t, dir) = repo_dir();
    let mut cfg = config(&dir);
    cfg.git_program = Some(PathBuf::from("/nonexistent/bin/git"));
    let e = LocalGitSink::new(cfg).open(true).await.unwrap_err();
    assert!(e.to_string().contains("git not found: install git"), "{e}");
    assert!(!dir.exists());

    let e = LocalGitSink::new(config(&dir)).open(false).await.unwrap_err();
    assert!(matches!(e, SinkError::Missing(_)), "{e}");
    assert!(!dir.exists(), "open(false) creates nothing");

    let mut cfg = config(&dir);
    cfg.branch = Some("backup".into());
    let mut s = LocalGitSink::new(cfg);
    s.open(true).await.unwrap();
    s.commit(page("p", &[("index.md", "x")])).await.unwrap();
    assert_eq!(git(&dir, &["symbolic-ref", "--short", "HEAD"]).trim(), "backup");

    let mut cfg = config(&dir);
    cfg.branch = Some("other".into());
    let e = LocalGitSink::new(cfg).open(true).await.unwrap_err();
    assert!(e.to_string().contains("GIT_BRANCH"), "{e}");

    // A bare repository is refused with a hint.
    let bare = dir.parent().unwrap().join("bare.git");
    std::fs::create_dir(&bare).unwrap();
    git(&bare, &["init", "--bare", "-q"]);
    let e = LocalGitSink::new(config(&bare)).open(true).await.unwrap_err();
    assert!(e.to_string().contains("bare repository"), "{e}");
}
