// Test support: a real oakallow server (already running, or started from OAKALLOW_BIN).
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { randomBytes } from "node:crypto";
import { Oakallow } from "../dist/index.js";

let started;

/** URL and the three keys of a test org: from OAKALLOW_TEST_*, or a server started here. */
export async function server() {
  const e = process.env;
  if (e.OAKALLOW_TEST_URL && e.OAKALLOW_TEST_MANAGEMENT_KEY && e.OAKALLOW_TEST_STANDARD_KEY && e.OAKALLOW_TEST_APPROVER_KEY) {
    return { url: e.OAKALLOW_TEST_URL, management: e.OAKALLOW_TEST_MANAGEMENT_KEY, standard: e.OAKALLOW_TEST_STANDARD_KEY, approver: e.OAKALLOW_TEST_APPROVER_KEY };
  }
  if (started) return started.info;
  const bin = e.OAKALLOW_BIN || fileURLToPath(new URL("../../../target/debug/oakallow", import.meta.url));
  const dataDir = mkdtempSync(join(tmpdir(), "oakallow-sdk-ts-"));
  const keys = JSON.parse(
    execFileSync(bin, ["admin", "bootstrap", "--email", "sdk@example.com", "--org", "sdk", "--json", "--data-dir", dataDir], { encoding: "utf8" }),
  );
  const port = await freePort();
  const child = spawn(bin, ["serve", "--listen", `127.0.0.1:${port}`, "--data-dir", dataDir], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr = (stderr + d).slice(-4000)));
  const url = `http://127.0.0.1:${port}`;
  started = { child, dataDir, info: { url, management: keys.management_key, standard: keys.standard_key, approver: keys.approver_key } };
  process.on("exit", stop);
  await until(async () => {
    if (child.exitCode !== null) throw new Error(`oakallow serve exited (${child.exitCode}): ${stderr}`);
    const r = await fetch(`${url}/v1/health`).catch(() => null);
    return r?.ok;
  }, 30_000, "server health");
  return started.info;
}

/** Stops the server started here, if any. */
export function stop() {
  if (!started) return;
  started.child.kill();
  rmSync(started.dataDir, { recursive: true, force: true });
  started = undefined;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Polls `probe` until it answers a truthy value, or fails after `ms`. */
export async function until(probe, ms = 20_000, what = "condition") {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Clients for the three tiers. */
export async function clients() {
  const s = await server();
  return {
    url: s.url,
    management: new Oakallow({ url: s.url, key: s.management }),
    standard: new Oakallow({ url: s.url, key: s.standard }),
    approver: new Oakallow({ url: s.url, key: s.approver }),
    keys: s,
  };
}

/** A tool name no other test uses. */
export const fresh = (prefix = "tool") => `${prefix}_${randomBytes(5).toString("hex")}`;
