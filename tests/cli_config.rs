//! The binary's configuration handling, end to end: exit code 2 with every problem listed, each
//! naming its key; secrets never echoed; --help explains each flag; a `.env` written for the
//! Python script (the seed) gives exactly the seed's values.

use assert_cmd::Command;
use notion_git_backup::config::{self, dotenv, Destination, Overrides};
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

// ---------------------------------------------------------------------------------------------
// The seed's `.env` (issue 13 part 1)
// ---------------------------------------------------------------------------------------------

const SEED_ENV: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/seed-env/filled.env");
/// What the seed's own `load_env` returns for `filled.env` (recorded by running it, Python 3.11).
const SEED_VALUES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/seed-env/filled.seed.json");

fn seed_values() -> std::collections::BTreeMap<String, String> {
    serde_json::from_str(&std::fs::read_to_string(SEED_VALUES).unwrap()).unwrap()
}

/// Regression: `DB1_LABEL=Important Documents` (unquoted, with spaces, as the seed's README shows)
/// made every run exit 2 with "syntax error at character 10 of a line".
#[test]
fn seed_env_with_spaces_in_labels_gives_the_seeds_values() {
    let bytes = std::fs::read(SEED_ENV).unwrap();
    let file = dotenv::parse(&bytes);
    assert_eq!(file.vars, seed_values());
    assert!(file.issues.is_empty(), "{:?}", file.issues);
    // The same file saved on Windows, with a byte-order mark: the same values.
    let crlf = String::from_utf8(bytes).unwrap().replace('\n', "\r\n");
    let file = dotenv::parse(format!("\u{feff}{crlf}").as_bytes());
    assert_eq!(file.vars, seed_values());
}

#[test]
fn seed_env_loads_into_the_configuration_it_describes() {
    let dir = tempfile::tempdir().unwrap();
    let env = dir.path().join(".env");
    std::fs::copy(SEED_ENV, &env).unwrap();
    let ov = Overrides { env_path: env.clone(), env_path_explicit: true, ..Overrides::default() };
    let cfg = config::load(&ov).unwrap_or_else(|e| panic!("{e}"));
    let dbs: Vec<(&str, &str, &str)> =
        cfg.databases.iter().map(|d| (d.notion_id.as_str(), d.repo.as_str(), d.label.as_str())).collect();
    assert_eq!(
        dbs,
        vec![
            ("1f2e3d4c5b6a79881f2e3d4c5b6a7988", "notion-documents", "Important Documents"),
            ("aaaabbbbccccddddeeeeffff00001111", "notion-recipes", "Recipes & Meal Plans (2026)"),
        ]
    );
    assert_eq!(cfg.timezone, chrono_tz::Europe::Prague);
    assert_eq!(cfg.discord_level, 2);
    assert_eq!(cfg.discord_webhook_url.as_deref(), Some(seed_values()["DISCORD_WEBHOOK_URL"].as_str()));
    match &cfg.destination {
        Destination::Gitea(g) => {
            assert_eq!((g.base_url.as_str(), g.owner.as_str()), ("https://gitea.example.com", "lukas"));
            assert_eq!(g.token, "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432", "surrounding quotes removed");
        }
        other => panic!("{other:?}"),
    }
    assert!(cfg.ai.is_none());
    assert_eq!(cfg.state_file, std::path::absolute(dir.path()).unwrap().join("sync-state.json"));
    assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);
}

/// A value pasted on a line of its own (the seed skips it silently) is reported by its line
/// number, never by its text; the run is not refused for it, as the seed's is not.
#[test]
fn a_line_the_seed_would_skip_is_named_by_number_never_by_content() {
    let dir = tempfile::tempdir().unwrap();
    let env = dir.path().join(".env");
    std::fs::write(
        &env,
        "# settings\n\
         DB1_NOTION_ID=1f2e3d4c5b6a79881f2e3d4c5b6a7988\n\
         ntn_PASTEDWITHOUTKEY0123456789\n\
         DB1_GIT_REPO=notes\n",
    )
    .unwrap();
    let out = bin().arg("--env").arg(&env).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "NOTION_TOKEN is really missing");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let warning = stderr.lines().find(|l| l.contains("(warning)")).unwrap_or_else(|| panic!("{stderr}"));
    assert_eq!(
        warning.trim(),
        format!(
            "(warning) {}: line 3 has no `=` and is ignored: write settings as KEY=value (a value pasted on its own line needs its key in front)",
            env.display()
        )
    );
    assert!(!stderr.contains("PASTEDWITHOUTKEY"), "the line's text was printed:\n{stderr}");
}

#[test]
fn a_line_that_is_not_utf8_refuses_the_file_by_line_number() {
    let dir = tempfile::tempdir().unwrap();
    let env = dir.path().join(".env");
    std::fs::write(&env, b"NOTION_TOKEN=ntn_x\nDB1_LABEL=Caf\xe9\n".as_slice()).unwrap();
    let out = bin().arg("--env").arg(&env).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let first = stderr.lines().find(|l| l.trim_start().starts_with("- ")).unwrap_or_else(|| panic!("{stderr}"));
    assert_eq!(first.trim(), format!("- {}: line 2 is not UTF-8 text: save the file as UTF-8", env.display()));
}

/// Regression: without `--env` and without `./.env` (cron runs in the home folder) the only
/// error was "NOTION_TOKEN is missing".
#[test]
fn missing_default_env_file_names_the_path_looked_for() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin().current_dir(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let looked_for = std::fs::canonicalize(dir.path()).unwrap().join(".env");
    let line = stderr.lines().find(|l| l.contains("NOTION_TOKEN")).unwrap_or_else(|| panic!("{stderr}"));
    assert!(
        line.contains(&format!("no settings file was read: {} does not exist", looked_for.display()))
            || line
                .contains(&format!("no settings file was read: {} does not exist", dir.path().join(".env").display())),
        "{stderr}"
    );
    assert!(line.contains("--env"), "{line}");
}

/// Regression: `.env.example` copied with only the token filled in gave "DB1_NOTION_ID is
/// missing" and the warning "backing up everything the token can see" at once.
#[test]
fn copied_env_example_with_only_the_token_gives_one_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let example = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/.env.example")).unwrap();
    assert!(example.contains("\nNOTION_TOKEN=\n"), ".env.example changed: update this test");
    let env = dir.path().join(".env");
    std::fs::write(&env, example.replace("\nNOTION_TOKEN=\n", "\nNOTION_TOKEN=ntn_filled_in\n")).unwrap();
    let out = bin().arg("--env").arg(&env).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let problems: Vec<&str> = stderr.lines().filter(|l| l.trim_start().starts_with("- ")).collect();
    assert_eq!(problems.len(), 1, "{stderr}");
    assert!(
        problems[0].contains("DB1_NOTION_ID is empty, but DB1_GIT_REPO=notion-notes and DB1_LABEL=Notes are set"),
        "{stderr}"
    );
    assert!(!stderr.contains("(warning)"), "no contradicting warning:\n{stderr}");
}

/// The values in `.env.example` are read literally (as the seed reads them): a comment after a
/// value would become part of it once the line is uncommented.
#[test]
fn uncommenting_a_line_of_env_example_gives_its_example_value() {
    let example = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/.env.example")).unwrap();
    let uncommented: String = example
        .lines()
        .map(|l| match l.strip_prefix("# ") {
            Some(rest)
                if rest.split_once('=').is_some_and(|(k, _)| {
                    k.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
                }) =>
            {
                rest
            }
            _ => l,
        })
        .map(|l| format!("{l}\n"))
        .collect();
    let file = dotenv::parse(uncommented.as_bytes());
    assert!(file.issues.is_empty(), "{:?}", file.issues);
    assert_eq!(file.vars["NOTION_VERSION"], "2026-03-11");
    assert_eq!(file.vars["GIT_PUSH"], "0");
    assert!(file.vars.values().all(|v| !v.contains('#')), "{:?}", file.vars);
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
