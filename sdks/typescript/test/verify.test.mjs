import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { clients, fresh, stop } from "./helpers.mjs";
import { canonicalJson, paramsSha256, verifyTokenOffline } from "../dist/index.js";

const golden = new URL("../../../crates/oakallow-domain/tests/golden/", import.meta.url);
const hasGolden = existsSync(new URL("canonical_json.json", golden));
const read = (name) => JSON.parse(readFileSync(new URL(name, golden), "utf8"));

test("canonical JSON matches the server's golden vectors", { skip: !hasGolden && "no golden vectors" }, () => {
  const { vectors, absent_params_sha256 } = read("canonical_json.json");
  assert.equal(paramsSha256(undefined), absent_params_sha256);
  for (const v of vectors) {
    // JavaScript numbers cannot hold integers beyond 2^53 (9007199254740993, u64::MAX, ...).
    if (v.name.startsWith("integers and integral floats")) continue;
    const value = JSON.parse(v.input);
    assert.equal(canonicalJson(value), v.canonical, v.name);
    if (value && typeof value === "object" && !Array.isArray(value)) assert.equal(paramsSha256(value), v.params_sha256, v.name);
  }
  assert.equal(canonicalJson([0, -0, 1, -1, 2.0, 1e2, 2.5e15, 9007199254740991, -9007199254740991]), "[0,0,1,-1,2,100,2500000000000000,9007199254740991,-9007199254740991]");
});

test("offline verification of the golden tokens (both algorithms)", { skip: !hasGolden && "no golden vectors" }, () => {
  const [hmac, ed] = read("execution_token.json").tokens;
  const call = (t) => ({ org: t.claims.org, tool: t.claims.tool, tenant: t.claims.tenant, resource: t.claims.resource, method: t.claims.method, params: t.params, now: t.claims.iat });
  const byHmac = verifyTokenOffline(hmac.token, { ...call(hmac), hmacKey: { kid: hmac.claims.kid, secret: Buffer.from(hmac.secret_hex, "hex") } });
  assert.deepEqual(byHmac, { valid: true, reason: null, claims: hmac.claims });
  const keys = [{ kid: ed.claims.kid, alg: "ed25519", public_key: ed.public_key }];
  assert.equal(verifyTokenOffline(ed.token, { ...call(ed), signingKeys: keys }).valid, true);
  // the algorithm is the key's: an HMAC token whose kid names an Ed25519 key is refused
  const confused = [{ kid: hmac.claims.kid, alg: "ed25519", public_key: ed.public_key }];
  assert.equal(verifyTokenOffline(hmac.token, { ...call(hmac), signingKeys: confused }).reason, "bad_signature");
});

let c;
before(async () => (c = await clients()));
after(stop);

test("offline Ed25519 verification of a real token, without network", async (t) => {
  const tool = fresh("export");
  await c.management.tools.create({ name: tool, approved: true });
  await c.management.org.update({ token_signing: "hmac-sha256" });
  const hmacToken = (await c.standard.check({ tool, params: {}, mint_token: true })).token;
  await c.management.org.update({ token_signing: "ed25519" });
  t.after(() => c.management.org.update({ token_signing: "hmac-sha256" }));
  const signingKeys = await c.standard.signingKeys();
  assert.ok(signingKeys.keys.length >= 1);
  const params = { report: "q3", filters: { z: [1, 2.5, "é😀"], a: null }, limit: 10 };
  const check = await c.standard.check({ tool, tenant: "acme", params, mint_token: true });
  const token = check.token;
  assert.match(token, /^oak_tok_/);
  const org = (await c.management.org.get()).id;

  const realFetch = globalThis.fetch;
  globalThis.fetch = () => {
    throw new Error("no network in offline verification");
  };
  let results;
  try {
    const call = { signingKeys, org, tool, tenant: "acme", params: { limit: 10, filters: { a: null, z: [1, 2.5, "é😀"] }, report: "q3" } };
    const [payload, signature] = token.slice(8).split(".");
    const flip = (s) => s.slice(0, -2) + (s.at(-2) === "A" ? "B" : "A") + s.at(-1);
    results = {
      ok: verifyTokenOffline(token, call),
      tamperedSignature: verifyTokenOffline(`oak_tok_${payload}.${flip(signature)}`, call),
      tamperedPayload: verifyTokenOffline(`oak_tok_${Buffer.from(Buffer.from(payload, "base64url").toString().replace('"acme"', '"acmf"')).toString("base64url")}.${signature}`, { ...call, tenant: "acmf" }),
      garbage: verifyTokenOffline("oak_tok_abc", call),
      otherParams: verifyTokenOffline(token, { ...call, params: { ...call.params, limit: 11 } }),
      noParams: verifyTokenOffline(token, { ...call, params: undefined }),
      otherTool: verifyTokenOffline(token, { ...call, tool: `${tool}_x` }),
      otherTenant: verifyTokenOffline(token, { ...call, tenant: "globex" }),
      noTenant: verifyTokenOffline(token, { ...call, tenant: undefined }),
      otherResource: verifyTokenOffline(token, { ...call, resource: "db" }),
      otherOrg: verifyTokenOffline(token, { ...call, org: "org_other" }),
      unknownKey: verifyTokenOffline(token, { ...call, signingKeys: [] }),
      expired: verifyTokenOffline(token, { ...call, now: new Date(Date.now() + 301_000) }),
      hmacToken: verifyTokenOffline(hmacToken, { ...call, tenant: undefined, params: {} }),
    };
  } finally {
    globalThis.fetch = realFetch;
  }
  assert.equal(results.ok.valid, true);
  assert.equal(results.ok.claims.alg, "ed25519");
  assert.equal(results.ok.claims.params_sha256, paramsSha256(params));
  const reasons = Object.fromEntries(Object.entries(results).map(([k, v]) => [k, v.reason]));
  assert.deepEqual(reasons, {
    ok: null,
    tamperedSignature: "bad_signature",
    tamperedPayload: "bad_signature",
    garbage: "malformed",
    otherParams: "params_mismatch",
    noParams: "params_mismatch",
    otherTool: "tool_mismatch",
    otherTenant: "tenant_mismatch",
    noTenant: "tenant_mismatch",
    otherResource: "resource_mismatch",
    otherOrg: "wrong_org",
    unknownKey: "unknown_key",
    expired: "expired",
    hmacToken: "unknown_key",
  });
  // step 8: the single use is settled by oakallow
  assert.equal((await c.standard.verifyToken({ token, tool, tenant: "acme", params, consume: true })).valid, true);
  assert.equal((await c.standard.verifyToken({ token, tool, tenant: "acme", params })).reason, "used");
});
