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
    // The next run (one run per repository: this one ends first).
    drop(s);
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
    drop(s);
    let mut s2 = open(&dir).await;
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
    drop(s);

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

/// A shell script at `path` that appends its name and arguments to `marker`, then copies stdin to
/// stdout (so it works as a filter, a pager or a hook).
#[cfg(unix)]
fn marker_script(path: &Path, marker: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, format!("#!/bin/sh\necho \"$0 $*\" >> '{}'\ncat\n", marker.display())).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[cfg(unix)]
#[tokio::test]
async fn symlink_at_a_temp_name_or_a_file_is_replaced_not_written_through() {
    let (t, dir) = repo_dir();
    let mut s = open(&dir).await;
    s.commit(page("p", &[("index.md", "v1")])).await.unwrap();
    let outside = t.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    for victim in ["tmp-victim", "file-victim"] {
        std::fs::write(outside.join(victim), "untouched").unwrap();
    }
    // Planted after open (as by a concurrent hostile process): at the temp name the sink used
    // to write through, and at the file itself.
    std::os::unix::fs::symlink(outside.join("tmp-victim"), dir.join("p/.index.md.ngb-tmp")).unwrap();
    std::os::unix::fs::symlink(outside.join("tmp-victim"), dir.join("p/.a.png.ngb-tmp")).unwrap();
    std::fs::remove_file(dir.join("p/index.md")).unwrap();
    std::os::unix::fs::symlink(outside.join("file-victim"), dir.join("p/index.md")).unwrap();
    let out = s.commit(page("p", &[("index.md", "v2"), ("a.png", "PNG")])).await.unwrap();
    assert_eq!(out.commits.len(), 1);
    for victim in ["tmp-victim", "file-victim"] {
        assert_eq!(std::fs::read_to_string(outside.join(victim)).unwrap(), "untouched", "{victim} written through");
    }
    let meta = std::fs::symlink_metadata(dir.join("p/index.md")).unwrap();
    assert!(meta.is_file(), "the symlink was replaced by the file");
    assert_eq!(std::fs::read_to_string(dir.join("p/index.md")).unwrap(), "v2");
    assert_eq!(git(&dir, &["show", "HEAD:p/index.md"]), "v2");
    assert_eq!(tree(&dir), vec!["p/a.png", "p/index.md"]);
    // No temp file left in the work tree: only the two planted links are untracked.
    let untracked = git(&dir, &["ls-files", "--others"]);
    assert_eq!(untracked.lines().collect::<Vec<_>>(), vec!["p/.a.png.ngb-tmp", "p/.index.md.ngb-tmp"]);
}

#[cfg(unix)]
#[tokio::test]
async fn page_folder_that_is_a_symlink_out_of_the_repository_is_refused() {
    let (t, dir) = repo_dir();
    let mut s = open(&dir).await;
    s.commit(page("keep", &[("index.md", "k")])).await.unwrap();
    let outside = t.path().join("outside");
    std::fs::create_dir_all(outside.join("deeper")).unwrap();
    std::os::unix::fs::symlink(&outside, dir.join("p")).unwrap();
    std::fs::create_dir(dir.join("q")).unwrap();
    std::os::unix::fs::symlink(outside.join("deeper"), dir.join("q/sub")).unwrap();
    for (folder, file) in [("p", "p/index.md"), ("q/sub", "q/sub/index.md")] {
        let e = s.commit(page(folder, &[("index.md", "x"), ("assets/a.png", "A")])).await.unwrap_err();
        assert!(e.to_string().contains(&format!("refusing to write {file:?}")), "{e}");
        assert!(e.to_string().contains("is a symbolic link"), "{e}");
    }
    let mut left: Vec<_> = walk(&outside);
    left.sort();
    assert_eq!(left, vec!["deeper".to_string()], "nothing written outside the repository");
    assert_eq!(tree(&dir), vec!["keep/index.md"]);
    assert_eq!(count(&dir), 1);
}

/// Every path under `dir`, relative.
fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().to_string();
        if e.file_type().unwrap().is_dir() {
            out.extend(walk(&e.path()).into_iter().map(|p| format!("{name}/{p}")));
        }
        out.push(name);
    }
    out
}

#[cfg(unix)]
#[tokio::test]
async fn programs_named_by_the_repository_config_never_run() {
    let (t, dir) = repo_dir();
    let s = open(&dir).await;
    drop(s);
    let marker = t.path().join("MARKER");
    let script = t.path().join("evil.sh");
    marker_script(&script, &marker);
    let hooks = t.path().join("hooks");
    std::fs::create_dir(&hooks).unwrap();
    for hook in ["pre-commit", "post-commit", "reference-transaction", "post-checkout", "post-index-change"] {
        marker_script(&hooks.join(hook), &marker);
    }
    let sc = script.display().to_string();
    for (key, value) in [
        ("core.fsmonitor", sc.as_str()),
        ("core.hooksPath", hooks.to_str().unwrap()),
        ("core.pager", sc.as_str()),
        ("diff.external", sc.as_str()),
        ("filter.evil.clean", sc.as_str()),
        ("filter.evil.smudge", sc.as_str()),
        ("filter.evil.required", "true"),
        ("filter.dotted.name.process", sc.as_str()),
        ("filter.dotted.name.required", "true"),
    ] {
        git(&dir, &["config", key, value]);
    }
    // The attributes come from the repository itself, committed as a user would.
    std::fs::write(dir.join(".gitattributes"), "*.md filter=evil diff=evil\n*.png filter=dotted.name\n").unwrap();
    git(&dir, &["-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=", "add", ".gitattributes"]);
    git(&dir, &["-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=", "commit", "-q", "-m", "attributes"]);
    let _ = std::fs::remove_file(&marker);

    // A hand edit, so that open stashes (status, stash push, checkout) before committing.
    std::fs::write(dir.join("hand.md"), "edited by hand").unwrap();
    let mut s = open(&dir).await;
    assert_eq!(s.take_notices().len(), 1);
    s.commit(page("p", &[("index.md", "# Page\n"), ("img.png", "PNG bytes")])).await.unwrap();
    s.commit(page("p", &[("index.md", "# Page v2\n")])).await.unwrap();
    drop(s);
    let mut s = open(&dir).await;
    assert!(s.commit(page("p", &[("index.md", "# Page v2\n")])).await.unwrap().commits.is_empty());
    drop(s);
    assert!(!marker.exists(), "a repository program ran: {}", std::fs::read_to_string(&marker).unwrap_or_default());
    // The committed bytes are exactly the backup's (no filter rewrote them), with the same ids.
    assert_eq!(git(&dir, &["show", "HEAD:p/index.md"]), "# Page v2\n");
    assert_eq!(git(&dir, &["rev-parse", "HEAD~1:p/img.png"]).trim(), blob_id(b"PNG bytes"));

    // The trap is real: plain git in this repository runs the filter and the hooks.
    std::fs::write(dir.join("control.md"), "x").unwrap();
    let _ = Command::new("git").arg("-C").arg(&dir).args(["add", "control.md"]).output().unwrap();
    assert!(marker.exists(), "the test's repository config would not have run anything");
}

#[tokio::test]
async fn stale_git_lock_files_left_by_a_crash_are_removed_and_reported() {
    let (_t, dir) = repo_dir();
    let mut s = open(&dir).await;
    s.commit(page("p", &[("index.md", "v1")])).await.unwrap();
    assert!(s.take_notices().is_empty());
    drop(s);
    // A git killed mid-commit a moment ago: fresh lock files of the branch and the index.
    std::fs::write(dir.join(".git/refs/heads/main.lock"), "0123456789012345678901234567890123456789\n").unwrap();
    std::fs::write(dir.join(".git/index.lock"), "").unwrap();
    let mut s = open(&dir).await;
    let notices = s.take_notices();
    assert_eq!(notices.len(), 2, "{notices:?}");
    for lock in [".git/refs/heads/main.lock", ".git/index.lock"] {
        assert!(!dir.join(lock).exists(), "{lock} left");
        let full = dir.join(lock).display().to_string();
        assert!(
            notices.iter().any(|n| n.contains(&format!("removed the stale git lock file {full} "))),
            "{lock}: {notices:?}"
        );
    }
    let out = s.commit(page("p", &[("index.md", "v2")])).await.unwrap();
    assert_eq!(out.commits.len(), 1);
    assert_eq!(git(&dir, &["show", "HEAD:p/index.md"]), "v2");
}

#[tokio::test]
async fn hand_edits_are_stashed_under_a_dated_name_and_reported() {
    let (_t, dir) = repo_dir();
    let mut s = open(&dir).await;
    s.commit(page("p", &[("index.md", "v1")])).await.unwrap();
    drop(s);
    std::fs::write(dir.join("p/index.md"), "edited by hand").unwrap();
    std::fs::write(dir.join("notes.txt"), "new file by hand").unwrap();
    let mut s = open(&dir).await;
    let notices = s.take_notices();
    assert_eq!(notices.len(), 1, "{notices:?}");
    let stash = git(&dir, &["stash", "list", "--format=%s"]);
    let subject = stash.lines().next().unwrap();
    let name = subject.split_once(": ").map(|(_, n)| n).unwrap_or(subject);
    let date = name.strip_prefix("notion-git-backup: uncommitted changes found ").unwrap_or_else(|| panic!("{stash}"));
    assert!(chrono::DateTime::parse_from_str(date, "%Y-%m-%d %H:%M:%S %:z").is_ok(), "{date:?}");
    assert!(notices[0].contains(&format!("git stash \"{name}\"")), "{notices:?}");
    assert!(notices[0].contains("2 uncommitted change(s)"), "{notices:?}");
    assert!(notices[0].contains("stash pop"), "{notices:?}");
    // Nothing discarded: the stash holds both edits.
    assert_eq!(git(&dir, &["show", "stash@{0}:p/index.md"]), "edited by hand");
    assert_eq!(git(&dir, &["show", "stash@{0}^3:notes.txt"]), "new file by hand");
    assert_eq!(std::fs::read_to_string(dir.join("p/index.md")).unwrap(), "v1");
    assert!(s.take_notices().is_empty(), "said once");
}

#[tokio::test]
async fn a_title_with_nul_and_control_characters_commits_a_clean_one_line_subject() {
    let (_t, dir) = repo_dir();
    let mut s = open(&dir).await;
    let mut cs = page("p", &[("index.md", "x")]);
    cs.message = "Backup: a\0b\x1b[2J\x07\r\nmoved from old\u{202e}txt".into();
    let out = s.commit(cs).await.unwrap();
    assert_eq!(out.commits.len(), 1);
    assert_eq!(git(&dir, &["log", "-1", "--format=%s"]).trim_end(), "Backup: a b [2J");
    assert_eq!(git(&dir, &["log", "-1", "--format=%B"]).trim_end(), "Backup: a b [2J\n\nmoved from oldtxt");
}

#[tokio::test]
async fn one_run_per_repository_whatever_path_names_it() {
    isolate();
    let (t, dir) = repo_dir();
    let mut first = open(&dir).await;
    first.commit(page("p", &[("index.md", "v1")])).await.unwrap();
    // The same repository through another spelling of its path.
    let other = t.path().join("x").join("..").join("backup");
    std::fs::create_dir(t.path().join("x")).unwrap();
    let mut second = LocalGitSink::new(config(&other));
    assert_eq!(second.identity(), first.identity());
    assert_eq!(first.identity(), std::fs::canonicalize(&dir).unwrap().display().to_string());
    let e = second.lock().await.unwrap_err();
    let m = e.to_string();
    assert!(matches!(e, SinkError::Locked(_)), "{m}");
    assert!(m.contains(&format!("pid {} on ", std::process::id())) && m.contains(" since "), "{m}");
    assert!(m.contains(".git/notion-git-backup.lock"), "{m}");
    assert!(matches!(second.open(true).await, Err(SinkError::Locked(_))));
    // Read-only opens (dry run, check) take no lock.
    let mut reader = LocalGitSink::new(config(&other));
    reader.open(false).await.unwrap();
    assert_eq!(reader.files_under(""), vec!["p/index.md"]);
    drop(first);
    let mut second = LocalGitSink::new(config(&other));
    second.lock().await.unwrap();
    second.open(true).await.unwrap();
    second.commit(page("p", &[("index.md", "v2")])).await.unwrap();
    assert_eq!(git(&dir, &["show", "HEAD:p/index.md"]), "v2");
    assert!(second.web_url("p/index.md").is_none());
}

#[tokio::test]
async fn a_repository_created_by_the_run_is_locked_from_the_start() {
    isolate();
    let (_t, dir) = repo_dir();
    let mut s = LocalGitSink::new(config(&dir));
    s.lock().await.unwrap(); // nothing to lock yet: open(true) creates, then locks
    s.open(true).await.unwrap();
    assert!(dir.join(".git/notion-git-backup.lock").exists());
    let e = LocalGitSink::new(config(&dir)).open(true).await.unwrap_err();
    assert!(matches!(e, SinkError::Locked(_)), "{e}");
    drop(s);
    assert!(!dir.join(".git/notion-git-backup.lock").exists(), "the lock file goes with the run");
}

#[cfg(unix)]
#[tokio::test]
async fn repository_owned_by_another_user_names_safe_directory_not_an_empty_folder() {
    isolate();
    let (t, dir) = repo_dir();
    let mut s = open(&dir).await;
    s.commit(page("p", &[("index.md", "v1")])).await.unwrap();
    drop(s);
    // git's own words for a repository owned by someone else (as `git` 2.35.2+ prints them).
    let fake_git = t.path().join("git");
    {
        use std::os::unix::fs::PermissionsExt;
        let real =
            String::from_utf8(Command::new("sh").args(["-c", "command -v git"]).output().unwrap().stdout).unwrap();
        let d = dir.display();
        std::fs::write(
            &fake_git,
            format!(
                "#!/bin/sh\ncase \" $* \" in *\" rev-parse \"*)\n  echo \"fatal: detected dubious ownership in repository at '{d}'\" >&2\n  \
                 printf 'To add an exception for this directory, call:\\n\\n\\tgit config --global --add safe.directory {d}\\n' >&2\n  \
                 exit 128;;\nesac\nexec {} \"$@\"\n",
                real.trim()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&fake_git, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let mut cfg = config(&dir);
    cfg.git_program = Some(fake_git);
    for create in [false, true] {
        let e = LocalGitSink::new(cfg.clone()).open(create).await.unwrap_err();
        let m = e.to_string();
        assert!(matches!(e, SinkError::Config(_)), "{m}");
        assert!(m.contains("owned by another user"), "{m}");
        assert!(m.contains(&format!("git config --global --add safe.directory {}", dir.display())), "{m}");
    }
    assert_eq!(count(&dir), 1, "nothing was committed");
}
