//! End-to-end cost of a restore: the backup benchmark's generated workspace (500 pages of
//! realistic notes by default, built by `backup/workspace.rs`) is backed up by the engine, then
//! restored by the real `notion-git-backup` binary (release build, a child process) into an
//! empty fake workspace that enforces Notion's rate limit (3 requests/s, small burst) and a
//! realistic latency (150 ms). Time is compressed by a scale factor like the backup benchmark:
//! at scale 10 the fake allows 30 requests/s with 15 ms latency and the tool runs with
//! `NOTION_RATE_LIMIT=30`; "real" times are measured x scale. A dry run first says how many
//! requests the restore needs; the restore is then measured (requests, 429s, wall time, rate
//! use), and run once more to show that a finished restore costs only its reads. Not run by
//! CI; no assertions.
//!
//! Run: `cargo bench --bench restore` (or `-- --pages 500 --scale 10 --latency-ms 150 --burst 5`;
//! `BENCH_PAGES` and `BENCH_SCALE` work too).

#[path = "../tests/common/mod.rs"]
mod common;
#[allow(dead_code)]
#[path = "backup/workspace.rs"]
mod workspace;

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::env::Settings;
use common::fake_notion::write::WRITE_KINDS;
use common::fake_notion::{FakeNotion, RateLimit, World, DEFAULT_TOKEN};
use common::fixtures::*;

const NOTION_RATE: f64 = 3.0;
const TARGET: &str = "7a76e700-0000-4000-8000-0000000be7c4";

struct Args {
    pages: usize,
    scale: f64,
    latency_ms: f64,
    burst: u32,
    seed: u64,
}

fn parse_args() -> Args {
    let mut a = Args { pages: 500, scale: 10.0, latency_ms: 150.0, burst: 5, seed: 7 };
    if let Ok(s) = std::env::var("BENCH_PAGES") {
        a.pages = s.parse().expect("BENCH_PAGES: a number");
    }
    if let Ok(s) = std::env::var("BENCH_SCALE") {
        a.scale = s.parse().expect("BENCH_SCALE: a number");
    }
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut val = |name: &str| it.next().unwrap_or_else(|| panic!("{name} needs a value"));
        match arg.as_str() {
            "--pages" => a.pages = val("--pages").parse().expect("--pages: a number"),
            "--scale" => a.scale = val("--scale").parse().expect("--scale: a number"),
            "--latency-ms" => a.latency_ms = val("--latency-ms").parse().expect("--latency-ms: a number"),
            "--burst" => a.burst = val("--burst").parse().expect("--burst: a number"),
            "--seed" => a.seed = val("--seed").parse().expect("--seed: a number"),
            _ => {}
        }
    }
    a
}

/// One run of the tool: exit code, wall time, its stdout (the report's summary).
fn run(program: &Path, dir: &Path, from: &Path, dry: bool) -> (Option<i32>, Duration, String) {
    let started = Instant::now();
    let mut c = Command::new(program);
    c.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .arg("--env")
        .arg(dir.join(".env"))
        .arg("-q");
    c.arg("restore");
    if dry {
        c.arg("--dry-run");
    }
    let out = c
        .arg("--from")
        .arg(from)
        .arg("--to")
        .arg(TARGET)
        .stdin(Stdio::null())
        .output()
        .expect("start notion-git-backup");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code(), started.elapsed(), text)
}

/// `in about N request(s)` of a dry run's summary.
fn planned_requests(summary: &str) -> Option<usize> {
    let i = summary.find("in about ")?;
    summary[i + 9..].split_whitespace().next()?.parse().ok()
}

fn main() {
    let args = parse_args();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let program = std::path::PathBuf::from(env!("CARGO_BIN_EXE_notion-git-backup"));
    let rate = NOTION_RATE * args.scale;
    let t0 = Instant::now();

    // The backup to restore.
    let mut world = World::new();
    world.seed = args.seed;
    let ws = workspace::build(&mut world, args.pages, 1, args.seed);
    let src = rt.block_on(FakeNotion::start(world));
    let dir = tempfile::Builder::new().prefix("ngb-restore-bench-").tempdir().expect("temp dir");
    let cfg = Settings::new(&src).db(&ws.databases[0].id, "notes").config(dir.path());
    let (status, _) = rt.block_on(notion_git_backup::sync::run_with(cfg, Default::default()));
    assert_eq!(status.code(), 0, "the backup to restore must succeed");
    let from = dir.path().join("backup/notes");
    println!(
        "notion-git-backup restore benchmark: {} pages ({} blocks, {} images, {} PDFs, {:.1} MiB of media), backed up in {:.0}s; \
         restoring at scale {} ({rate} req/s, burst {}, {:.1} ms latency)",
        args.pages,
        ws.blocks,
        ws.images,
        ws.pdfs,
        ws.media_bytes as f64 / 1048576.0,
        t0.elapsed().as_secs_f64(),
        args.scale,
        args.burst,
        args.latency_ms / args.scale
    );

    // The empty workspace restored into, at Notion's (scaled) rate limit.
    let mut target = World::new();
    target.seed = args.seed ^ 0x5eed;
    target.insert_page(page(TARGET, parent_workspace(), "Restore here", vec![]));
    target.faults.rate_limit = Some(RateLimit { per_second: rate, burst: args.burst });
    target.faults.latency = Duration::from_secs_f64(args.latency_ms / 1000.0 / args.scale);
    let dst = rt.block_on(FakeNotion::start(target));
    let work = tempfile::Builder::new().prefix("ngb-restore-run-").tempdir().expect("temp dir");
    let mut env = String::new();
    let _ = writeln!(env, "NOTION_TOKEN={DEFAULT_TOKEN}");
    let _ = writeln!(env, "NOTION_API_URL={}", dst.base_url());
    let _ = writeln!(env, "NOTION_RATE_LIMIT={rate}");
    let _ = writeln!(env, "STATE_FILE=state.json");
    std::fs::write(work.path().join(".env"), env).expect("write .env");

    let mut rows = Vec::new();
    for (label, dry) in [("dry run", true), ("restore", false), ("again", false)] {
        std::thread::sleep(Duration::from_secs_f64(args.burst as f64 / rate + 0.05));
        dst.reset_stats();
        let (code, wall, text) = run(&program, work.path(), &from, dry);
        let s = dst.stats();
        let writes: usize = WRITE_KINDS.iter().map(|k| s.kind(k)).sum();
        let answered = s.requests - s.rate_limited;
        let util = answered as f64 / (rate * wall.as_secs_f64());
        println!(
            "\n== {label}: exit {code:?}, wall {:.1}s (real {:.0}s), {} requests ({} writes), {} answered 429, rate use {:.0}%\n   by kind {:?}\n{}",
            wall.as_secs_f64(),
            wall.as_secs_f64() * args.scale,
            s.requests,
            writes,
            s.rate_limited,
            100.0 * util,
            s.by_kind,
            text.lines().map(|l| format!("   | {l}")).collect::<Vec<_>>().join("\n")
        );
        rows.push((label, code, wall, s.requests, writes, s.rate_limited, util, planned_requests(&text)));
    }
    let planned = rows[0].7;
    println!("\n| Run | Exit | Wall | Wall x scale | Notion requests | Writes | Planned (dry run) | 429s | Rate use |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (label, code, wall, req, writes, r429, util, _) in &rows {
        println!(
            "| {label} | {} | {:.1} s | {:.1} min | {req} | {writes} | {} | {r429} | {} |",
            code.map(|c| c.to_string()).unwrap_or("-".into()),
            wall.as_secs_f64(),
            wall.as_secs_f64() * args.scale / 60.0,
            planned.map(|p| p.to_string()).unwrap_or("?".into()),
            if *label == "restore" { format!("{:.0}%", 100.0 * util) } else { "—".into() },
        );
    }
    println!(
        "\nA real restore of this workspace at Notion's {NOTION_RATE} requests/s takes about {:.0} min; bench took {:.0}s.",
        rows[1].2.as_secs_f64() * args.scale / 60.0,
        t0.elapsed().as_secs_f64()
    );
}
