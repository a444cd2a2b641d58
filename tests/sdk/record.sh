#!/usr/bin/env bash
# Records tests/sdk/sdk-requests.json again: the requests the official Notion SDK (pinned in
# package.json) sends to the fake Notion server for every call notion-git-backup makes, as the
# fake received them. Needs node and npm (Debian: apt-get install -y nodejs npm); installs the SDK
# with `npm ci` when tests/sdk/node_modules is missing. Review the fixture's diff before committing:
# our client is compared with it.
set -euo pipefail
cd "$(dirname "$0")/../.."
UPDATE_SDK_FIXTURE=1 cargo test --locked --test sdk_conformance our_client_sends_what_the_official_sdk_sends -- --nocapture
