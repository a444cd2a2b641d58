//! The official Notion SDK (`@notionhq/client`, pinned in `tests/sdk/package-lock.json`) driving a
//! fake server: installing it, and running `tests/sdk/driver.mjs` with a plan of calls.

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};

use super::fake_notion::{FakeNotion, DEFAULT_TOKEN, VERSION_2026};

pub const SDK_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sdk");

/// `npm ci` in `tests/sdk` unless the pinned SDK is already installed there.
pub fn install_sdk() {
    let installed = Path::new(SDK_DIR).join("node_modules/@notionhq/client/package.json");
    if installed.is_file() {
        return;
    }
    let out = std::process::Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(SDK_DIR)
        .output()
        .unwrap_or_else(|e| panic!("cannot run npm in {SDK_DIR}: {e} (Debian: apt-get install -y npm)"));
    assert!(
        out.status.success(),
        "npm ci in {SDK_DIR} failed (it installs the pinned @notionhq/client from the npm registry):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Run the driver with `calls` against `fake`; the driver's report (it fails the test when a call
/// did not answer as planned).
pub async fn drive(fake: &FakeNotion, calls: Vec<Value>) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let plan_path = dir.path().join("plan.json");
    let plan =
        json!({"base_url": fake.origin(), "token": DEFAULT_TOKEN, "notion_version": VERSION_2026, "calls": calls});
    std::fs::write(&plan_path, serde_json::to_vec(&plan).unwrap()).unwrap();
    let out = tokio::time::timeout(
        Duration::from_secs(120),
        tokio::process::Command::new("node").arg("driver.mjs").arg(&plan_path).current_dir(SDK_DIR).output(),
    )
    .await
    .expect("the SDK driver finished within 2 minutes")
    .expect("node runs");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "driver output is not JSON ({e}):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert!(
        out.status.success(),
        "a call through the official SDK did not answer as planned:\n{}\n{}",
        serde_json::to_string_pretty(&report).unwrap(),
        String::from_utf8_lossy(&out.stderr)
    );
    report
}
