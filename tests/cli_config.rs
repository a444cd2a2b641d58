//! The binary's configuration handling, end to end: exit code 2 with every problem listed, each
//! naming its key; secrets never echoed; --help explains each flag.

use assert_cmd::Command;
use predicates::prelude::*;

fn bin() -> Command {
    let mut c = Command::cargo_bin("notion-git-backup").unwrap();
    // A clean environment: only what each test sets.
    c.env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
    c
}

#[test]
fn five_mistakes_give_five_errors_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let env = dir.path().join(".env");
    std::fs::write(
        &env,
        "# missing NOTION_TOKEN\n\
         DB1_NOTION_ID=not-an-id\n\
         DB1_GIT_REPO=notes\n\
         DB2_NOTION_ID=1f2e3d4c5b6a79881f2e3d4c5b6a7988\n\
         GIT_BASE_URL=git.example.com\n\
         GIT_TOKEN=gitea-token\n\
         GIT_OWNER=me\n\
         DISCORD_LEVEL=7\n\
         DISCORD_WEBHOOK_URL=https://discord.com/api/webhooks/123/SUPERSECRETTOKEN\n",
    )
    .unwrap();
    let out = bin().arg("--env").arg(&env).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let problems: Vec<&str> = stderr.lines().filter(|l| l.trim_start().starts_with("- ")).collect();
    assert_eq!(problems.len(), 5, "expected exactly five problems:\n{stderr}");
    for key in ["NOTION_TOKEN", "DB1_NOTION_ID", "DB2_GIT_REPO", "GIT_BASE_URL", "DISCORD_LEVEL"] {
        assert!(
            problems.iter().any(|p| p.trim_start().trim_start_matches("- ").starts_with(key)),
            "no line for {key}:\n{stderr}"
        );
    }
    assert!(!stderr.contains("SUPERSECRETTOKEN"), "a secret was printed:\n{stderr}");
    assert!(stderr.contains("configuration has 5 problems"), "{stderr}");
}

#[test]
fn explicit_missing_env_file_is_named() {
    let out = bin().arg("--env").arg("/nonexistent/dir/.env").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("/nonexistent/dir/.env: file not found"), "{stderr}");
}

#[test]
fn help_explains_every_flag() {
    let out = bin().arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--env",
        "--dry-run",
        "--full-sync",
        "--state",
        "--verbose",
        "--quiet",
        "--log-format",
        "--version",
        "Exit codes",
    ] {
        assert!(help.contains(flag), "--help does not mention {flag}:\n{help}");
    }
}

#[test]
fn version_flag() {
    bin().arg("--version").assert().success().stdout(predicate::str::contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn check_help_lists_no_backup_flags_and_backup_help_does() {
    let backup_only = ["--dry-run", "--full-sync", "--allow-mass-delete"];
    let out = bin().args(["check", "--help"]).output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    let flags: Vec<&str> =
        help.split_whitespace().filter(|w| w.starts_with("--")).map(|w| w.trim_end_matches(',')).collect();
    assert_eq!(flags, vec!["--env", "--state", "--verbose...", "--quiet", "--log-format", "--help"], "{help}");
    let out = bin().args(["backup", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in backup_only {
        assert!(help.split_whitespace().any(|w| w == flag), "backup --help lacks {flag}:\n{help}");
    }
    // A backup flag given to check is refused (exit 2), before or after the command.
    for args in [["check", "--dry-run"], ["--full-sync", "check"]] {
        let out = bin().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: "), "{args:?}");
    }
}

#[test]
fn backup_flags_work_with_the_backup_command_and_without_any() {
    // Parsed (not refused by clap): the run then stops at the missing configuration (exit 2).
    for args in
        [vec!["--dry-run"], vec!["backup", "--dry-run"], vec!["--env", "/nonexistent/.env", "backup", "--full-sync"]]
    {
        let out = bin().args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.starts_with("notion-git-backup: "), "{args:?} was not accepted by the parser: {stderr}");
    }
}
