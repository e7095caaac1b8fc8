// Test support: a real oakallow server (already running, or started from OAKALLOW_BIN).
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
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
  // The server says where it listens in a JSON log event: that line is the wait's end.
  const child = spawn(bin, ["serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir], {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...e, OAKALLOW_LOG__FORMAT: "json" },
  });
  const address = await new Promise((resolve, reject) => {
    let pending = "";
    let tail = "";
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk) => {
      tail = (tail + chunk).slice(-4000);
      pending += chunk;
      const lines = pending.split("\n");
      pending = lines.pop();
      for (const line of lines) {
        const found = (() => {
          try {
            return JSON.parse(line).fields?.address;
          } catch {
            return undefined;
          }
        })();
        if (found) resolve(found);
      }
    });
    child.once("exit", (code) => reject(new Error(`oakallow serve exited (${code}): ${tail}`)));
  });
  child.stderr.resume();
  const url = `http://${address}`;
  started = { child, dataDir, info: { url, management: keys.management_key, standard: keys.standard_key, approver: keys.approver_key } };
  process.on("exit", stop);
  return started.info;
}

/** Stops the server started here, if any. */
export function stop() {
  if (!started) return;
  started.child.kill();
  rmSync(started.dataDir, { recursive: true, force: true });
  started = undefined;
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
