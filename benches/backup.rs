//! End-to-end performance of a backup: a generated workspace (about 50, 500 and 5,000 pages of
//! realistic notes) served by the in-process fake Notion server with Notion's rate limit
//! (3 requests/s, small burst) and a realistic latency (150 ms), backed up by the real
//! `notion-git-backup` binary (release build, run as a child process) into a local git
//! repository, or the fake Gitea with `--gitea`. Time is compressed by a scale factor: at scale
//! 20 the fake allows 60 requests/s with 7.5 ms latency and the tool is configured with
//! `NOTION_RATE_LIMIT=60`; wall times are printed both as measured and converted back to real
//! time (x scale). Three runs per size: full backup, no-change run, 1%-of-pages-edited run.
//! It prints a table and PASS/FAIL for each target. Not run by CI; no assertions.
//!
//! Run: `cargo bench --bench backup -- --sizes 50,500,5000 --scale 20`
//! (or `BENCH_SIZES=50,500 BENCH_SCALE=20 cargo bench --bench backup`). Other options:
//! `--databases N` (the pages spread over N databases, each backed up into its own repository),
//! `--latency-ms 150`, `--jitter-ms 0` (up to this much more latency per request, seeded),
//! `--rate-csv PATH` (requests arrived and answered per second of every run, as CSV),
//! `--burst 5`, `--gitea`, `--page-concurrency N`, `--seed N`,
//! `--child-env KEY=VALUE` (repeatable; extra environment for the tool), `--wrap 'heaptrack -o /tmp/h'`
//! (run the tool under a profiler; RSS and CPU figures then include the wrapper), `--wrap-runs
//! no-change,1%` (only those runs are wrapped).
//!
//! `--big-page BLOCKS` (issue 12) replaces the sizes: one database holding one page of BLOCKS
//! blocks (short paragraphs, headings, bulleted lists nested up to 3 levels, numbered and to-do
//! items, a few code blocks; no files), backed up twice (full, then nothing changed), with the
//! tool's peak RSS against [`BIG_PAGE_RSS_LIMIT_MB`]. Scale 25 unless `--scale` says otherwise:
//! `cargo bench --bench backup -- --big-page 100000 --scale 25`.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "backup/measure.rs"]
mod measure;
#[path = "backup/workspace.rs"]
mod workspace;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::fake_gitea::{self, FakeGitea};
use common::fake_notion::{FakeNotion, RateLimit, Stats, World, DEFAULT_TOKEN};

/// Notion's documented average rate.
const NOTION_RATE: f64 = 3.0;
/// Peak RSS target at 5,000 pages.
const RSS_LIMIT_MB: f64 = 64.0;
/// "CPU a small fraction of wall time": at most this share of one core, in real time.
const CPU_SHARE_LIMIT: f64 = 0.10;
/// Peak RSS target of a backup of one 100,000-block page (issue 12).
const BIG_PAGE_RSS_LIMIT_MB: f64 = 300.0;
/// Scale of `--big-page` when `--scale` is not given.
const BIG_PAGE_SCALE: f64 = 25.0;

struct Args {
    sizes: Vec<usize>,
    /// One scale per size (a single value applies to every size).
    scales: Vec<f64>,
    latency_ms: f64,
    /// Up to this much more latency per request (uniform, from the seed).
    jitter_ms: f64,
    /// Databases the pages are spread over, each with its own repository.
    databases: usize,
    /// Where to write requests per second of every run.
    rate_csv: Option<PathBuf>,
    burst: u32,
    gitea: bool,
    page_concurrency: Option<usize>,
    seed: u64,
    /// Extra `KEY=VALUE` environment of the tool (e.g. `MALLOC_ARENA_MAX=2`).
    child_env: Vec<(String, String)>,
    /// Command (split on spaces) the tool is run under, e.g. `heaptrack -o /tmp/ngb`.
    wrap: Vec<String>,
    /// Runs (`full`, `no-change`, `1%`) the wrapper applies to; empty = all.
    wrap_runs: Vec<String>,
    /// `--big-page BLOCKS`: one page of this many blocks instead of the sizes.
    big_page: Option<usize>,
    /// `--scale` or BENCH_SCALE was given.
    scales_set: bool,
}

fn parse_args() -> Args {
    let mut a = Args {
        sizes: vec![50, 500, 5000],
        scales: vec![1.0, 10.0, 25.0],
        latency_ms: 150.0,
        jitter_ms: 0.0,
        databases: 1,
        rate_csv: None,
        burst: 5,
        gitea: false,
        page_concurrency: None,
        seed: 7,
        child_env: Vec::new(),
        wrap: Vec::new(),
        wrap_runs: Vec::new(),
        big_page: None,
        scales_set: false,
    };
    fn list<T: std::str::FromStr>(s: &str, what: &str) -> Vec<T> {
        let parse = |x: &str| x.trim().parse().unwrap_or_else(|_| panic!("{what}: comma-separated numbers"));
        s.split(',').filter(|x| !x.trim().is_empty()).map(parse).collect()
    }
    let sizes = |s: &str| list::<usize>(s, "--sizes");
    let scales = |s: &str| list::<f64>(s, "--scale");
    if let Ok(s) = std::env::var("BENCH_SIZES") {
        a.sizes = sizes(&s);
    }
    if let Ok(s) = std::env::var("BENCH_SCALE") {
        a.scales = scales(&s);
        a.scales_set = true;
    }
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut val = |name: &str| it.next().unwrap_or_else(|| panic!("{name} needs a value"));
        match arg.as_str() {
            "--sizes" => a.sizes = sizes(&val("--sizes")),
            "--scale" => {
                a.scales = scales(&val("--scale"));
                a.scales_set = true;
            }
            "--big-page" => a.big_page = Some(val("--big-page").parse().expect("--big-page: a number of blocks")),
            "--latency-ms" => a.latency_ms = val("--latency-ms").parse().expect("--latency-ms: a number"),
            "--jitter-ms" => a.jitter_ms = val("--jitter-ms").parse().expect("--jitter-ms: a number"),
            "--databases" => a.databases = val("--databases").parse().expect("--databases: a number"),
            "--rate-csv" => a.rate_csv = Some(PathBuf::from(val("--rate-csv"))),
            "--burst" => a.burst = val("--burst").parse().expect("--burst: a number"),
            "--page-concurrency" => a.page_concurrency = Some(val("--page-concurrency").parse().expect("a number")),
            "--seed" => a.seed = val("--seed").parse().expect("--seed: a number"),
            "--gitea" => a.gitea = true,
            "--wrap" => a.wrap = val("--wrap").split_whitespace().map(str::to_string).collect(),
            "--wrap-runs" => a.wrap_runs = val("--wrap-runs").split(',').map(|r| r.trim().to_string()).collect(),
            "--child-env" => {
                let kv = val("--child-env");
                let (k, v) = kv.split_once('=').expect("--child-env KEY=VALUE");
                a.child_env.push((k.to_string(), v.to_string()));
            }
            // `cargo bench` passes `--bench`; filters are not used.
            _ => {}
        }
    }
    if a.big_page.is_some() {
        a.sizes = vec![1];
        if !a.scales_set {
            a.scales = vec![BIG_PAGE_SCALE];
        }
    }
    assert!(
        a.scales.len() == 1 || a.scales.len() == a.sizes.len(),
        "--scale: one value, or one per size ({} sizes)",
        a.sizes.len()
    );
    assert!(a.scales.iter().all(|s| *s > 0.0 && *s <= 300.0), "--scale must be in (0, 300]");
    assert!(a.databases >= 1, "--databases must be at least 1");
    a
}

impl Args {
    fn scale(&self, i: usize) -> f64 {
        self.scales.get(i).or(self.scales.first()).copied().unwrap_or(1.0)
    }
}

/// One measured run of the tool.
struct Row {
    size: usize,
    scale: f64,
    run: &'static str,
    exit_code: Option<i32>,
    wall: Duration,
    /// Requests that reached the fake (429s included) and the tool's own count.
    requests: usize,
    client_requests: Option<u64>,
    min_requests: usize,
    rate_limited: usize,
    commits: usize,
    downloaded: String,
    files_downloaded: usize,
    peak_rss_kb: u64,
    cpu_tool: f64,
    cpu_total: f64,
    /// Spawn -> first Notion request, first -> last request, last request -> exit.
    startup: Duration,
    span: Duration,
    tail: Duration,
    /// Time within the span when the tool left request slots unused: the sum over gaps between
    /// consecutive arrivals of whatever exceeds one slot (1 / rate).
    idle: Duration,
    /// Requests answered (past the rate limit) within the span.
    answered: usize,
    /// Gitea requests per repository (fake Gitea only), in repository order.
    gitea_requests: Vec<(String, usize)>,
}

impl Row {
    fn rate(&self) -> f64 {
        NOTION_RATE * self.scale
    }
    /// Requests answered (not 429) per available request slot over the whole run.
    fn utilisation(&self) -> f64 {
        (self.requests - self.rate_limited) as f64 / (self.rate() * self.wall.as_secs_f64())
    }
    fn real_wall(&self) -> f64 {
        self.wall.as_secs_f64() * self.scale
    }
    /// Rate use from the first request to the last: answered / (rate x span), as issue 15
    /// defines it (the burst can carry a short run over 100%).
    fn span_utilisation(&self) -> f64 {
        self.answered as f64 / (self.rate() * self.span.as_secs_f64()).max(1e-9)
    }
}

/// Requests arrived and answered in each second of a run (from the tool's start).
fn per_second(started: Instant, wall: Duration, arrived: &[Instant], answered: &[Instant]) -> Vec<(usize, usize)> {
    let secs = wall.as_secs_f64().ceil().max(1.0) as usize;
    let mut out = vec![(0usize, 0usize); secs];
    let slot = |t: &Instant| (t.saturating_duration_since(started).as_secs_f64() as usize).min(secs - 1);
    for t in arrived {
        out[slot(t)].0 += 1;
    }
    for t in answered {
        out[slot(t)].1 += 1;
    }
    out
}

/// Rate use per second as a sparkline (at most 100 characters; each then stands for several
/// seconds): `█` is the full budget, a space a second with no request answered.
fn sparkline(seconds: &[(usize, usize)], rate: f64) -> (String, usize) {
    const BARS: [char; 9] = [' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let width = seconds.len().div_ceil(100).max(1);
    let line = seconds
        .chunks(width)
        .map(|c| {
            let use_ = c.iter().map(|s| s.1).sum::<usize>() as f64 / (rate * c.len() as f64);
            BARS[((use_.clamp(0.0, 1.0) * 8.0).round()) as usize]
        })
        .collect();
    (line, width)
}

/// `Notion API: N requests, M rate-limited` and `..., X downloaded, ...` of the summary.
fn parse_summary(stderr: &str) -> (Option<u64>, String) {
    let requests = stderr
        .lines()
        .find_map(|l| l.strip_prefix("Notion API: "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok());
    let downloaded = stderr
        .lines()
        .find(|l| l.starts_with("Total: "))
        .and_then(|l| l.split(", ").find(|p| p.ends_with(" downloaded")))
        .map(|p| p.trim_end_matches(" downloaded").to_string())
        .unwrap_or_else(|| "?".into());
    (requests, downloaded)
}

fn git_commits(repo: &Path) -> usize {
    let out = std::process::Command::new("git").arg("-C").arg(repo).args(["rev-list", "--count", "HEAD"]).output();
    out.ok().and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok()).unwrap_or(0)
}

struct Bench<'a> {
    args: &'a Args,
    rt: &'a tokio::runtime::Runtime,
    program: PathBuf,
}

struct Target {
    name: String,
    pass: bool,
    detail: String,
}

impl Bench<'_> {
    /// The runs of one workspace: `size` pages of notes, or with `big_page` one page of that many
    /// blocks (`size` is then 1).
    fn size(&self, size: usize, big_page: Option<usize>, scale: f64, rows: &mut Vec<Row>, targets: &mut Vec<Target>) {
        let args = self.args;
        let rate = NOTION_RATE * scale;
        let t0 = Instant::now();
        let mut world = World::new();
        world.seed = args.seed;
        let ws = match big_page {
            Some(blocks) => workspace::build_big_page(&mut world, blocks, args.seed),
            None => workspace::build(&mut world, size, args.databases, args.seed),
        };
        let databases = ws.databases.len();
        let min_full = workspace::min_requests_full(&world, &ws);
        world.faults.rate_limit = Some(RateLimit { per_second: rate, burst: args.burst });
        world.faults.latency = Duration::from_secs_f64(args.latency_ms / 1000.0 / scale);
        world.faults.latency_jitter = Duration::from_secs_f64(args.jitter_ms / 1000.0 / scale);
        let repos: Vec<String> = if databases == 1 {
            vec!["notes".to_string()]
        } else {
            (1..=databases).map(|k| format!("notes-{k}")).collect()
        };
        // Signed file URLs keep Notion's 1 h lifetime: the tool renews a URL 30 s (unscaled)
        // before it expires, so a scaled lifetime would add renewals that real runs never make.
        println!(
            "\n== {} in {databases} database(s) at scale {scale} ({rate} req/s, burst {}, {:.1} ms latency + up to {:.1} ms jitter): {} blocks, {} images, {} PDFs, {:.1} MiB of media; minimum {min_full} Notion requests \
             (generated in {:.1}s)",
            if big_page.is_some() { "1 page".to_string() } else { format!("{size} pages") },
            args.burst,
            args.latency_ms / scale,
            args.jitter_ms / scale,
            ws.blocks,
            ws.images,
            ws.pdfs,
            ws.media_bytes as f64 / 1048576.0,
            t0.elapsed().as_secs_f64()
        );
        let fake = self.rt.block_on(FakeNotion::start(world));
        let gitea = args.gitea.then(|| {
            let g = self.rt.block_on(FakeGitea::start());
            for r in &repos {
                g.add_repo(fake_gitea::USER, r);
            }
            g
        });
        let dir = tempfile::Builder::new().prefix("ngb-bench-").tempdir().expect("temp dir");
        let env_file = dir.path().join(".env");
        let mut env = String::new();
        let _ = writeln!(env, "NOTION_TOKEN={DEFAULT_TOKEN}");
        let _ = writeln!(env, "NOTION_API_URL={}", fake.base_url());
        let _ = writeln!(env, "NOTION_RATE_LIMIT={rate}");
        for (k, (db, repo)) in ws.databases.iter().zip(&repos).enumerate() {
            let _ = writeln!(env, "DB{}_NOTION_ID={}", k + 1, db.id);
            let _ = writeln!(env, "DB{}_GIT_REPO={repo}", k + 1);
        }
        let _ = writeln!(env, "BACKUP_DIR=backup");
        let _ = writeln!(env, "STATE_FILE=state.json");
        if let Some(n) = args.page_concurrency {
            let _ = writeln!(env, "PAGE_CONCURRENCY={n}");
        }
        if let Some(g) = &gitea {
            let _ = writeln!(env, "GIT_BASE_URL={}", g.base_url);
            let _ = writeln!(env, "GIT_TOKEN={}", fake_gitea::TOKEN);
            let _ = writeln!(env, "GIT_OWNER={}", fake_gitea::USER);
        }
        std::fs::write(&env_file, env).expect("write .env");
        let commits = || -> usize {
            repos
                .iter()
                .map(|r| match &gitea {
                    Some(g) => g.commit_count(fake_gitea::USER, r, "main"),
                    None => git_commits(&dir.path().join("backup").join(r)),
                })
                .sum()
        };
        let gitea_log_len = || gitea.as_ref().map(|g| g.requests().len()).unwrap_or(0);
        let gitea_per_repo = |from: usize| -> Vec<(String, usize)> {
            let Some(g) = &gitea else { return Vec::new() };
            let log = g.requests();
            repos
                .iter()
                .map(|r| {
                    let prefix = format!("/api/v1/repos/{}/{r}", fake_gitea::USER);
                    let n = log[from.min(log.len())..]
                        .iter()
                        .filter(|(_, p)| {
                            p == &prefix || p.starts_with(&format!("{prefix}/")) || p.starts_with(&format!("{prefix}?"))
                        })
                        .count();
                    (r.clone(), n)
                })
                .collect()
        };

        let run = |label: &'static str, min_requests: usize| -> Row {
            // Let the fake's bucket refill, as between two cron runs: a new process starts with
            // a full burst.
            std::thread::sleep(Duration::from_secs_f64(args.burst as f64 / rate + 0.05));
            fake.reset_stats();
            let before = commits();
            let gitea_from = gitea_log_len();
            let wrapped = args.wrap_runs.is_empty() || args.wrap_runs.iter().any(|r| r == label);
            let wrap: &[String] = if wrapped { &args.wrap } else { &[] };
            let m = measure::run_tool(wrap, &self.program, &env_file, dir.path(), &args.child_env);
            let stats: Stats = fake.stats();
            let (client_requests, downloaded) = parse_summary(&m.stderr);
            if m.exit_code != Some(0) {
                println!("   ! {label}: exit code {:?}; stderr:\n{}", m.exit_code, tail_lines(&m.stderr, 20));
            }
            let mut ts = stats.timestamps.clone();
            ts.sort();
            let (startup, span, tail) = match (ts.first(), ts.last()) {
                (Some(f), Some(l)) => (
                    f.duration_since(m.started),
                    l.duration_since(*f),
                    (m.started + m.wall).saturating_duration_since(*l),
                ),
                _ => (m.wall, Duration::ZERO, Duration::ZERO),
            };
            let slot = Duration::from_secs_f64(1.0 / rate);
            let idle = ts.windows(2).map(|w| w[1].duration_since(w[0]).saturating_sub(slot)).sum();
            let seconds = per_second(m.started, m.wall, &stats.timestamps, &stats.answered);
            if let Some(path) = &args.rate_csv {
                write_rate_csv(path, size, label, scale, rate, &seconds);
            }
            let (spark, spark_width) = sparkline(&seconds, rate);
            let row = Row {
                size,
                scale,
                run: label,
                exit_code: m.exit_code,
                wall: m.wall,
                requests: stats.requests,
                client_requests,
                min_requests,
                rate_limited: stats.rate_limited,
                commits: commits() - before,
                downloaded,
                files_downloaded: stats.file_downloads,
                peak_rss_kb: m.peak_rss_kb,
                cpu_tool: m.cpu_tool,
                cpu_total: m.cpu_total,
                startup,
                span,
                tail,
                idle,
                answered: stats.answered.len(),
                gitea_requests: gitea_per_repo(gitea_from),
            };
            println!(
                "   {label:<9} wall {:>7.1}s (real {:>8.0}s)  requests {:>6} (min {min_requests}, tool {})  429s {}  \
                 util {:>5.1}% (first to last request {:>5.1}%)  commits {}  files {} ({})  RSS {:.1} MB  CPU {:.1}s (+git {:.1}s)  \
                 [startup {:.2}s, requests {:.1}s (idle {:.2}s), tail {:.2}s]  by kind {:?}",
                row.wall.as_secs_f64(),
                row.real_wall(),
                row.requests,
                client_requests.map(|n| n.to_string()).unwrap_or("?".into()),
                row.rate_limited,
                100.0 * row.utilisation(),
                100.0 * row.span_utilisation(),
                row.commits,
                row.files_downloaded,
                row.downloaded,
                row.peak_rss_kb as f64 / 1024.0,
                row.cpu_tool,
                row.cpu_total - row.cpu_tool,
                row.startup.as_secs_f64(),
                row.span.as_secs_f64(),
                row.idle.as_secs_f64(),
                row.tail.as_secs_f64(),
                stats.by_kind,
            );
            println!("             rate use per {spark_width} s: |{spark}|");
            if !row.gitea_requests.is_empty() {
                let per: Vec<String> = row.gitea_requests.iter().map(|(r, n)| format!("{r} {n}")).collect();
                println!("             Gitea requests per repository: {}", per.join(", "));
            }
            row
        };

        let full = run("full", min_full);
        let listing = workspace::listing_requests(&ws);
        let none = run("no-change", listing);
        if big_page.is_some() {
            big_page_targets(&full, &none, listing, targets);
            rows.extend([full, none]);
            return;
        }
        let n_edit = size.div_ceil(100).max(1);
        let edited = fake.with_world(|w| workspace::edit_pages(w, &ws, n_edit, 1));
        let min_edit =
            listing + fake.with_world(|w| edited.iter().map(|p| workspace::tree_requests(w, p, true)).sum::<usize>());
        let one = run("1%", min_edit);
        let touched = ws.databases.iter().filter(|d| d.pages.iter().any(|p| edited.contains(p))).count();

        let util = full.span_utilisation();
        targets.push(Target {
            name: format!("{size}: full backup uses >= 95% of the rate budget from the first request to the last"),
            pass: util >= 0.95,
            detail: format!(
                "{:.1}% ({} answered in {:.1}s at {rate}/s; {:.1}% of the whole wall)",
                100.0 * util,
                full.answered,
                full.span.as_secs_f64(),
                100.0 * full.utilisation()
            ),
        });
        let allowed = (full.min_requests as f64 * 1.02).floor() as usize;
        targets.push(Target {
            name: format!("{size}: full backup makes <= needed + 2% requests"),
            pass: full.requests <= allowed,
            detail: format!(
                "{} made ({} counted by the tool), {} needed, {} allowed",
                full.requests,
                full.client_requests.map(|n| n.to_string()).unwrap_or("?".into()),
                full.min_requests,
                allowed
            ),
        });
        for r in [&full, &none, &one] {
            let share = r.rate_limited as f64 / r.requests.max(1) as f64;
            targets.push(Target {
                name: format!("{size}: {} run gets < 1% 429s", r.run),
                pass: share < 0.01,
                detail: format!("{} of {} ({:.2}%)", r.rate_limited, r.requests, 100.0 * share),
            });
        }
        targets.push(Target {
            name: format!("{size}: no-change run makes <= ceil(pages/100)+2 requests and no commit"),
            pass: none.requests <= listing && none.commits == 0 && none.files_downloaded == 0,
            detail: format!(
                "{} requests (limit {listing}), {} commits, {} downloads",
                none.requests, none.commits, none.files_downloaded
            ),
        });
        targets.push(Target {
            name: format!("{size}: 1% run makes one commit per changed page + the index of each repository touched"),
            pass: one.commits == n_edit + touched,
            detail: format!(
                "{} commits for {n_edit} edited pages in {touched} repositories (expected {})",
                one.commits,
                n_edit + touched
            ),
        });
        if gitea.is_some() {
            let worst = none.gitea_requests.iter().map(|(_, n)| *n).max().unwrap_or(0);
            targets.push(Target {
                name: format!("{size}: no-change run makes <= 2 Gitea requests per repository"),
                pass: worst <= 2,
                detail: none.gitea_requests.iter().map(|(r, n)| format!("{r}: {n}")).collect::<Vec<_>>().join(", "),
            });
        }
        if size >= 5000 {
            let mb = rows_peak(&[&full, &none, &one]);
            targets.push(Target {
                name: format!("{size}: peak RSS under {RSS_LIMIT_MB} MB"),
                pass: mb < RSS_LIMIT_MB,
                detail: format!("{mb:.1} MB"),
            });
        }
        let real_wall = full.real_wall();
        let share = full.cpu_total / real_wall;
        targets.push(Target {
            name: format!("{size}: full backup CPU <= {:.0}% of real-time wall", CPU_SHARE_LIMIT * 100.0),
            pass: share <= CPU_SHARE_LIMIT,
            detail: format!(
                "{:.1}s CPU (tool {:.1}s + git {:.1}s) over {real_wall:.0}s real = {:.2}% ({:.1}% of the scaled wall)",
                full.cpu_total,
                full.cpu_tool,
                full.cpu_total - full.cpu_tool,
                100.0 * share,
                100.0 * full.cpu_total / full.wall.as_secs_f64()
            ),
        });
        for r in [&full, &none, &one] {
            if r.exit_code != Some(0) {
                targets.push(Target {
                    name: format!("{size}: {} run exits 0", r.run),
                    pass: false,
                    detail: format!("exit code {:?}", r.exit_code),
                });
            }
        }
        rows.extend([full, none, one]);
    }
}

/// What `--big-page` checks: peak RSS of each run against the target, the no-change run's requests
/// and commits, exit codes.
fn big_page_targets(full: &Row, none: &Row, listing: usize, targets: &mut Vec<Target>) {
    for r in [full, none] {
        let mb = r.peak_rss_kb as f64 / 1024.0;
        targets.push(Target {
            name: format!("big page: {} run peak RSS under {BIG_PAGE_RSS_LIMIT_MB} MB", r.run),
            pass: mb < BIG_PAGE_RSS_LIMIT_MB,
            detail: format!(
                "{mb:.1} MB ({} requests in {:.1}s, {})",
                r.requests,
                r.wall.as_secs_f64(),
                human(r.real_wall())
            ),
        });
    }
    targets.push(Target {
        name: format!("big page: no-change run makes <= {listing} requests and no commit"),
        pass: none.requests <= listing && none.commits == 0,
        detail: format!("{} requests, {} commits", none.requests, none.commits),
    });
    for r in [full, none] {
        targets.push(Target {
            name: format!("big page: {} run exits 0", r.run),
            pass: r.exit_code == Some(0),
            detail: format!("exit code {:?}", r.exit_code),
        });
    }
}

/// Append `pages,run,scale,second,arrived,answered,capacity` rows (a header first in a new file).
fn write_rate_csv(path: &Path, size: usize, run: &str, scale: f64, rate: f64, seconds: &[(usize, usize)]) {
    use std::io::Write as _;
    let new = !path.exists();
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).expect("open --rate-csv file");
    let mut out = String::new();
    if new {
        out.push_str("pages,run,scale,second,arrived,answered,capacity\n");
    }
    for (i, (arrived, answered)) in seconds.iter().enumerate() {
        let _ = writeln!(out, "{size},{run},{scale},{i},{arrived},{answered},{rate}");
    }
    f.write_all(out.as_bytes()).expect("write --rate-csv file");
}

fn rows_peak(rows: &[&Row]) -> f64 {
    rows.iter().map(|r| r.peak_rss_kb).max().unwrap_or(0) as f64 / 1024.0
}

fn tail_lines(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn main() {
    let args = parse_args();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let bench = Bench { args: &args, rt: &rt, program: PathBuf::from(env!("CARGO_BIN_EXE_notion-git-backup")) };
    println!(
        "notion-git-backup backup benchmark: sizes {:?}, scales {:?}: the fake allows {NOTION_RATE} x scale req/s \
         (burst {}) with {} ms (+ up to {} ms jitter) / scale latency, the tool runs with NOTION_RATE_LIMIT = {NOTION_RATE} x scale; \
         {} database(s); sink: {}",
        args.sizes,
        args.scales,
        args.burst,
        args.latency_ms,
        args.jitter_ms,
        args.databases,
        if args.gitea { "fake Gitea" } else { "local git" }
    );
    if let Some(blocks) = args.big_page {
        println!("--big-page {blocks}: one page of {blocks} blocks instead of the sizes (peak RSS target {BIG_PAGE_RSS_LIMIT_MB} MB)");
    }
    let started = Instant::now();
    let mut rows = Vec::new();
    let mut targets = Vec::new();
    for (i, &size) in args.sizes.iter().enumerate() {
        bench.size(size, args.big_page, args.scale(i), &mut rows, &mut targets);
    }

    println!("\nWall (real) = measured wall x scale.\n");
    println!(
        "| Pages | Run | Scale | Wall (measured) | Wall (real) | Notion requests | Minimum | 429s | Rate use | \
         First to last | Commits | Downloaded | Peak RSS | CPU tool + git | Gitea requests per repo |"
    );
    println!("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for r in &rows {
        println!(
            "| {} | {} | {} | {:.1} s | {} | {} | {} | {} | {:.0}% | {:.0}% | {} | {} | {:.1} MB | {:.1} + {:.1} s | {} |",
            r.size,
            r.run,
            r.scale,
            r.wall.as_secs_f64(),
            human(r.real_wall()),
            r.requests,
            r.min_requests,
            r.rate_limited,
            100.0 * r.utilisation(),
            100.0 * r.span_utilisation(),
            r.commits,
            r.downloaded,
            r.peak_rss_kb as f64 / 1024.0,
            r.cpu_tool,
            r.cpu_total - r.cpu_tool,
            if r.gitea_requests.is_empty() {
                "—".to_string()
            } else {
                r.gitea_requests.iter().map(|(_, n)| n.to_string()).collect::<Vec<_>>().join(" / ")
            },
        );
    }
    println!("\nTargets:");
    for t in &targets {
        println!("  {} {}: {}", if t.pass { "PASS" } else { "FAIL" }, t.name, t.detail);
    }
    println!(
        "\n{} of {} targets passed; bench took {:.0}s; the bench process (fake servers) peaked at {:.0} MB",
        targets.iter().filter(|t| t.pass).count(),
        targets.len(),
        started.elapsed().as_secs_f64(),
        measure::self_peak_rss_kb() as f64 / 1024.0
    );
}

fn human(secs: f64) -> String {
    if secs < 120.0 {
        format!("{secs:.0} s")
    } else if secs < 7200.0 {
        format!("{:.1} min", secs / 60.0)
    } else {
        format!("{:.2} h", secs / 3600.0)
    }
}
