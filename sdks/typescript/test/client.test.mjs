// The transport against a scripted fetch: which calls are retried, and how.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Oakallow, OakallowNetworkError, RateLimitedError, UnavailableError, InternalError } from "../dist/index.js";

function scripted(...answers) {
  const seen = [];
  const fetch = async (url, init) => {
    seen.push({ url: String(url), method: init.method, headers: init.headers, body: init.body });
    const next = answers.shift();
    if (next instanceof Error) throw next;
    const [status, body, headers = {}] = next;
    return new Response(status === 204 ? null : JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
  };
  return { fetch, seen };
}
const error = (code) => ({ error: { code, message: code, details: {} } });

test("safe requests are retried on network errors, 429 (Retry-After) and 503", async () => {
  const { fetch, seen } = scripted(new TypeError("fetch failed"), [429, error("rate_limited"), { "retry-after": "0" }], [503, error("unavailable"), { "retry-after": "0" }], [200, { keys: [] }]);
  const oak = new Oakallow({ url: "http://oak.test/", key: "k", fetch });
  assert.deepEqual(await oak.signingKeys(), { keys: [] });
  assert.equal(seen.length, 4);
  assert.equal(seen[0].url, "http://oak.test/v1/signing-keys");
  assert.equal(seen[0].headers["X-API-Key"], "k");
});

test("retries stop after `retries`, with the last error", async () => {
  const { fetch, seen } = scripted([502, "bad gateway"], [502, "bad gateway"]);
  const oak = new Oakallow({ url: "http://oak.test", key: "k", retries: 1, fetch });
  await assert.rejects(oak.org.get(), (e) => e.status === 502 && e.code === "http_502");
  assert.equal(seen.length, 2);
});

test("check, logExecution, mintToken and decide are never retried", async () => {
  for (const call of [
    (o) => o.check({ tool: "t" }),
    (o) => o.logExecution({ tool: "t", result: "success", duration_ms: 1 }),
    (o) => o.mintToken({ check_id: "chk_1" }),
    (o) => o.decide("apr_1", { decision: "approved", decided_by: "x" }),
  ]) {
    const { fetch, seen } = scripted([503, error("unavailable")], [200, {}]);
    await assert.rejects(call(new Oakallow({ url: "http://oak.test", key: "k", fetch })), UnavailableError);
    assert.equal(seen.length, 1);
  }
  const { fetch, seen } = scripted(new TypeError("fetch failed"), [200, {}]);
  await assert.rejects(new Oakallow({ url: "http://oak.test", key: "k", fetch }).check({ tool: "t" }), OakallowNetworkError);
  assert.equal(seen.length, 1);
});

test("requestApproval reuses one Idempotency-Key across retries, a new one per call", async () => {
  const { fetch, seen } = scripted([503, error("unavailable"), { "retry-after": "0" }], [201, { id: "apr_1" }], [201, { id: "apr_2" }]);
  const oak = new Oakallow({ url: "http://oak.test", key: "k", fetch });
  await oak.requestApproval({ tool: "t", reason: "r" });
  await oak.requestApproval({ tool: "t", reason: "r" });
  const keys = seen.map((s) => s.headers["Idempotency-Key"]);
  assert.equal(keys[0], keys[1]);
  assert.notEqual(keys[1], keys[2]);
  assert.ok(keys[0]);
});

test("errors carry status, code, details and Retry-After", async () => {
  const { fetch } = scripted([429, { error: { code: "rate_limited", message: "slow down", details: { retry_after_seconds: 7 } } }, { "retry-after": "7" }], [500, error("internal")]);
  const oak = new Oakallow({ url: "http://oak.test", key: "k", fetch, retries: 0 });
  await assert.rejects(oak.check({ tool: "t" }), (e) => e instanceof RateLimitedError && e.retryAfter === 7 && e.status === 429 && e.message === "slow down");
  await assert.rejects(oak.check({ tool: "t" }), InternalError);
});

test("url and key default to OAKALLOW_URL and OAKALLOW_KEY", () => {
  const saved = [process.env.OAKALLOW_URL, process.env.OAKALLOW_KEY];
  process.env.OAKALLOW_URL = "http://env.test";
  process.env.OAKALLOW_KEY = "envkey";
  try {
    assert.equal(new Oakallow().url, "http://env.test");
    delete process.env.OAKALLOW_KEY;
    assert.throws(() => new Oakallow(), /OAKALLOW_KEY/);
  } finally {
    for (const [k, v] of [["OAKALLOW_URL", saved[0]], ["OAKALLOW_KEY", saved[1]]]) v === undefined ? delete process.env[k] : (process.env[k] = v);
  }
});
