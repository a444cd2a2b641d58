// Drives a Notion API server (the fake, in tests/sdk_conformance.rs) with the official SDK,
// `@notionhq/client` pinned in package.json, so the fake is checked against code we did not
// write: the SDK builds every request (paths, query strings, bodies, headers) and parses every
// answer, and the Rust side records what arrived.
//
// Usage: node driver.mjs PLAN.json
// PLAN: {"base_url": "http://127.0.0.1:PORT", "token": "...", "notion_version": "2026-03-11",
//        "calls": [{"call": "blocks.children.list", "args": {...}, "paginate": true,
//                   "expect_error": "validation_error"}, ...]}
// Prints one JSON object: {"sdk_version": "...", "calls": [{"call", "ok", "results", "code",
// "status", "message"}, ...]}; exits 1 when a call did not answer as the plan expects.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { Client, iteratePaginatedAPI, isNotionClientError } from "@notionhq/client";

const plan = JSON.parse(readFileSync(process.argv[2], "utf8"));
const sdkVersion = createRequire(import.meta.url)("@notionhq/client/package.json").version;

const notion = new Client({
  auth: plan.token,
  baseUrl: plan.base_url,
  notionVersion: plan.notion_version,
  // A failure must show as a failure, not be retried into something else.
  retry: { maxRetries: 0 },
  logLevel: "error",
});

// Every SDK method the tool's requests correspond to.
const methods = {
  "users.me": (a) => notion.users.me(a),
  "users.list": (a) => notion.users.list(a),
  "users.retrieve": (a) => notion.users.retrieve(a),
  search: (a) => notion.search(a),
  "databases.retrieve": (a) => notion.databases.retrieve(a),
  "dataSources.retrieve": (a) => notion.dataSources.retrieve(a),
  "dataSources.query": (a) => notion.dataSources.query(a),
  "pages.retrieve": (a) => notion.pages.retrieve(a),
  "pages.properties.retrieve": (a) => notion.pages.properties.retrieve(a),
  "blocks.retrieve": (a) => notion.blocks.retrieve(a),
  "blocks.children.list": (a) => notion.blocks.children.list(a),
  "comments.list": (a) => notion.comments.list(a),
  "views.list": (a) => notion.views.list(a),
  // The write endpoints restore uses (tests/sdk_write_conformance.rs).
  "pages.create": (a) => notion.pages.create(a),
  "pages.update": (a) => notion.pages.update(a),
  "blocks.children.append": (a) => notion.blocks.children.append(a),
  "databases.create": (a) => notion.databases.create(a),
  "dataSources.create": (a) => notion.dataSources.create(a),
  "dataSources.update": (a) => notion.dataSources.update(a),
  "fileUploads.create": (a) => notion.fileUploads.create(a),
  // `file.text` (the bytes, as text) becomes the Blob the SDK sends as multipart/form-data.
  "fileUploads.send": (a) =>
    notion.fileUploads.send({ ...a, file: { filename: a.file.filename, data: new Blob([a.file.text], { type: a.file.type }) } }),
  "fileUploads.complete": (a) => notion.fileUploads.complete(a),
  "comments.create": (a) => notion.comments.create(a),
};

// `"$N.id"` in a step's arguments: the id step N answered with (ids made by earlier writes).
function withIds(v) {
  if (typeof v === "string") {
    const m = /^\$(\d+)\.id$/.exec(v);
    return m ? out[Number(m[1])].id : v;
  }
  if (Array.isArray(v)) return v.map(withIds);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, withIds(x)]));
  return v;
}

const out = [];
let failed = false;
for (const step of plan.calls) {
  const fn = methods[step.call];
  if (!fn) throw new Error(`unknown call ${step.call}`);
  const args = withIds(step.args ?? {});
  const record = { call: step.call };
  try {
    if (step.paginate) {
      // The SDK's own pagination: next_cursor back as start_cursor until there is none.
      const ids = [];
      for await (const item of iteratePaginatedAPI(fn, args)) {
        ids.push(item.id ?? item[item.type]?.id ?? null);
      }
      record.results = ids.length;
    } else {
      const answer = await fn(args);
      record.object = answer.object;
      record.id = answer.id ?? null;
    }
    record.ok = true;
  } catch (e) {
    if (!isNotionClientError(e)) throw e;
    Object.assign(record, { ok: false, code: e.code, status: e.status ?? null, message: e.message });
  }
  const expected = step.expect_error ?? null;
  if ((expected === null && !record.ok) || (expected !== null && record.code !== expected)) {
    record.unexpected = true;
    failed = true;
  }
  out.push(record);
}
process.stdout.write(JSON.stringify({ sdk_version: sdkVersion, calls: out }, null, 2) + "\n");
process.exit(failed ? 1 : 0);
