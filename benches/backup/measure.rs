//! Runs the real `notion-git-backup` binary as a child process and measures it from outside:
//! wall time, peak resident memory (the child's `VmHWM`, polled from `/proc/<pid>/status` while
//! it runs, since the high-water mark only grows), CPU seconds of the tool itself (its
//! `/proc/<pid>/stat`, polled) and of the tool plus the `git` processes it ran (this process's
//! `cutime + cstime`, which the kernel adds when a child is reaped). No `unsafe`, no libc: the
//! crate forbids unsafe code, and `/proc` has all of it. Linux only.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Linux reports `/proc/*/stat` times in USER_HZ ticks, 100 per second on every mainstream
/// architecture (x86, arm64).
const TICKS_PER_SEC: f64 = 100.0;

pub struct Measured {
    pub exit_code: Option<i32>,
    pub wall: Duration,
    pub peak_rss_kb: u64,
    /// CPU seconds of the tool's own process (user + system).
    pub cpu_tool: f64,
    /// CPU seconds of the tool and every process it waited for (git).
    pub cpu_total: f64,
    /// The tool's stderr (the end-of-run summary, warnings).
    pub stderr: String,
    pub started: Instant,
}

/// Fields after the `(comm)` of a `/proc/*/stat` line, from `state` (field 3) on.
fn stat_fields(path: &str) -> Option<Vec<u64>> {
    let s = std::fs::read_to_string(path).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    Some(rest.split_whitespace().skip(1).map(|f| f.parse().unwrap_or(0)).collect())
}

/// `utime + stime` (fields 14, 15) of a process, in seconds.
fn own_cpu(pid: u32) -> Option<f64> {
    let f = stat_fields(&format!("/proc/{pid}/stat"))?;
    Some((f[10] + f[11]) as f64 / TICKS_PER_SEC)
}

/// `cutime + cstime` (fields 16, 17) of this process: CPU of every reaped descendant.
fn children_cpu() -> f64 {
    stat_fields("/proc/self/stat").map(|f| (f[12] + f[13]) as f64 / TICKS_PER_SEC).unwrap_or(0.0)
}

fn vm_hwm_kb(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Peak RSS of this process (kB).
pub fn self_peak_rss_kb() -> u64 {
    vm_hwm_kb(std::process::id()).unwrap_or(0)
}

/// Run `program --env <env_file> -q` with a clean environment (PATH, HOME set to `home` so the
/// user's git config stays out, and `extra_env`) and measure it.
pub fn run_tool(
    wrap: &[String],
    program: &Path,
    env_file: &Path,
    home: &Path,
    extra_env: &[(String, String)],
) -> Measured {
    let log = home.join("stderr.log");
    let err = std::fs::File::create(&log).expect("create the stderr log");
    let cpu_before = children_cpu();
    let started = Instant::now();
    let mut cmd = match wrap.split_first() {
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(program);
            c
        }
        None => Command::new(program),
    };
    let mut child = cmd
        .arg("--env")
        .arg(env_file)
        .arg("-q")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .envs(extra_env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err)
        .spawn()
        .expect("start notion-git-backup");
    let pid = child.id();
    let (mut peak, mut cpu_tool) = (0u64, 0f64);
    let status = loop {
        if let Some(kb) = vm_hwm_kb(pid) {
            peak = peak.max(kb);
        }
        if let Some(c) = own_cpu(pid) {
            cpu_tool = cpu_tool.max(c);
        }
        match child.try_wait().expect("wait for notion-git-backup") {
            Some(s) => break s,
            None => std::thread::sleep(Duration::from_millis(10)),
        }
    };
    let wall = started.elapsed();
    Measured {
        exit_code: status.code(),
        wall,
        peak_rss_kb: peak,
        cpu_tool,
        cpu_total: children_cpu() - cpu_before,
        stderr: std::fs::read_to_string(&log).unwrap_or_default(),
        started,
    }
}
