// Runs the README's quick start verbatim, in a fresh org, and checks what it did.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, symlinkSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { clients, fresh, stop } from "./helpers.mjs";
import { Oakallow } from "../dist/index.js";

const root = fileURLToPath(new URL("..", import.meta.url));

/** The first js/ts code block under "## Quick start". */
function quickStart() {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const section = readme.split(/^## Quick start$/m)[1];
  assert.ok(section, "README has a Quick start section");
  const block = section.match(/^```(?:js|ts|javascript|typescript)\n([\s\S]*?)^```$/m);
  assert.ok(block, "Quick start has a js block");
  return block[1];
}

let c;
before(async () => (c = await clients()));
after(stop);

test("the README quick start runs verbatim and its call is checked, run and logged", async (t) => {
  const code = quickStart();
  assert.ok(code.trim().split("\n").length <= 5, "five lines at most");
  // A fresh org (so the fixed tool name "refund" is new), with its own standard key.
  const created = await c.management.request("POST", "/v1/orgs", { body: { name: fresh("readme") } });
  const management = new Oakallow({ url: c.url, key: created.management_key.key });
  await management.tools.create({ name: "refund", approved: true });
  const standard = await management.keys.create({ name: "readme", tier: "standard" });

  const dir = mkdtempSync(join(tmpdir(), "oakallow-readme-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, "node_modules"));
  symlinkSync(root, join(dir, "node_modules", "oakallow"), "dir");
  writeFileSync(join(dir, "quickstart.mjs"), code);
  const { stdout } = await promisify(execFile)(process.execPath, ["quickstart.mjs"], {
    cwd: dir,
    env: { ...process.env, OAKALLOW_URL: c.url, OAKALLOW_KEY: standard.key },
  });
  assert.equal(stdout.trim(), "refunded 30 on ord_42");
  const types = (await management.activity.list({ tool: "refund" })).data.map((e) => e.type).reverse();
  assert.deepEqual(types, ["permission.checked", "token.minted", "execution.logged"]);
  const [execution] = (await management.activity.list({ tool: "refund", type: "execution.logged" })).data;
  assert.deepEqual([execution.result, execution.params], ["success", { order: "ord_42", amount: 30 }]);
});
