import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { clients, fresh, stop } from "./helpers.mjs";
import {
  ApprovalDeniedError,
  ConflictError,
  ForbiddenTierError,
  InvalidParamsError,
  NotFoundError,
  ToolDisabledError,
} from "../dist/index.js";

let c;
before(async () => (c = await clients()));
after(stop);

/**
 * Entry types of the activity trail for one tool, oldest first. `approval.polled` (one per
 * long-poll read, so a varying number) is counted apart.
 */
async function trail(tool) {
  const page = await c.management.activity.list({ tool, limit: 500 });
  const types = page.data.map((e) => e.type).reverse();
  trail.polled = types.filter((t) => t === "approval.polled").length;
  return types.filter((t) => t !== "approval.polled");
}

/** A guard's `onApproval`, and the approval it announces (the test's own timeout bounds the wait). */
function announced() {
  let onApproval;
  const approval = new Promise((resolve) => (onApproval = resolve));
  return { onApproval, approval };
}

test("guard runs an allowed tool and logs check, token and execution", async () => {
  const tool = fresh("lookup");
  await c.management.tools.create({ name: tool, approved: true });
  const calls = [];
  const lookup = c.standard.guard({ tool, params: (id, opts) => ({ id, ...opts }) }, async (id, opts) => {
    calls.push([id, opts]);
    return { id, found: true };
  });
  assert.deepEqual(await lookup("ord_1", { deep: { b: 1, a: "é" } }), { id: "ord_1", found: true });
  assert.deepEqual(calls, [["ord_1", { deep: { b: 1, a: "é" } }]]);
  assert.deepEqual(await trail(tool), ["permission.checked", "token.minted", "execution.logged"]);
  const [execution] = (await c.management.activity.list({ tool, type: "execution.logged" })).data;
  assert.equal(execution.result, "success");
});

test("guard refuses a disabled tool without running it", async () => {
  const tool = fresh("wipe");
  await c.management.tools.create({ name: tool, enabled: false });
  let called = false;
  const wipe = c.standard.guard({ tool }, () => (called = true));
  await assert.rejects(wipe(), (e) => e instanceof ToolDisabledError && e.code === "tool_disabled");
  assert.equal(called, false);
  assert.deepEqual(await trail(tool), ["permission.checked"]);
});

test("guard waits for an approval decided meanwhile, then runs with a token for those params", { timeout: 60_000 }, async () => {
  const tool = fresh("refund");
  const tenant = fresh("tenant");
  await c.management.tools.create({ name: tool, default_permission: "requires_approval" });
  const calls = [];
  const asked = announced();
  const refund = c.standard.guard(
    {
      tool,
      tenant,
      params: (order, amount) => ({ order, amount }),
      reason: (order) => `refund ${order}`,
      maxWaitMs: 60_000,
      onApproval: asked.onApproval,
    },
    async (order, amount) => {
      calls.push([order, amount]);
      return `refunded ${amount}`;
    },
  );
  const running = refund("ord_7", 30);
  const approval = await asked.approval;
  assert.equal(calls.length, 0, "must not run before the decision");
  assert.deepEqual(approval.params, { order: "ord_7", amount: 30 });
  assert.equal(approval.tenant, tenant);
  assert.equal(approval.reason, "refund ord_7");
  await c.approver.decide(approval.id, { decision: "approved", note: "fine", decided_by: "sam" });
  assert.equal(await running, "refunded 30");
  assert.deepEqual(calls, [["ord_7", 30]]);
  assert.deepEqual(await trail(tool), [
    "permission.checked",
    "approval.created",
    "approval.decided",
    "token.minted",
    "execution.logged",
  ]);
  assert.ok(trail.polled >= 1, "the guard's long-polls are in the trail");
});

test("a denied approval throws with the note and reference, without running", { timeout: 60_000 }, async () => {
  const tool = fresh("delete_account");
  await c.management.tools.create({ name: tool });
  let called = false;
  const asked = announced();
  const del = c.standard.guard({ tool, params: (user) => ({ user }), onApproval: asked.onApproval }, () => (called = true));
  const running = del("u_1");
  running.catch(() => {}); // judged below
  const approval = await asked.approval;
  await c.approver.decide(approval.id, { decision: "denied", note: "not on a Friday", decided_by: "sam" });
  await assert.rejects(running, (e) => {
    assert.ok(e instanceof ApprovalDeniedError);
    assert.equal(e.note, "not on a Friday");
    assert.equal(e.reference, approval.reference);
    assert.equal(e.approvalId, approval.id);
    assert.match(e.message, /not on a Friday/);
    return true;
  });
  assert.equal(called, false);
  assert.deepEqual(await trail(tool), ["permission.checked", "approval.created", "approval.decided"]);
  assert.ok(trail.polled >= 1);
});

test("a failing guarded call is logged as failed and rethrown", async () => {
  const tool = fresh("flaky");
  await c.management.tools.create({ name: tool, approved: true });
  const flaky = c.standard.guard({ tool, params: () => ({ n: 1 }) }, async () => {
    throw new Error("upstream said no");
  });
  await assert.rejects(flaky(), /upstream said no/);
  const [execution] = (await c.management.activity.list({ tool, type: "execution.logged" })).data;
  assert.equal(execution.result, "failed");
  assert.equal(execution.details.error, "upstream said no");
});

test("typed errors from the API", async () => {
  await assert.rejects(c.standard.tools.create({ name: fresh() }), ForbiddenTierError);
  await assert.rejects(c.management.tools.get("tool_doesnotexist"), (e) => e instanceof NotFoundError && e.status === 404);
  const name = fresh("dup");
  await c.management.tools.create({ name });
  await assert.rejects(c.management.tools.create({ name }), (e) => e instanceof ConflictError && e.details.value === name);
  const typed = fresh("typed");
  await c.management.tools.create({ name: typed, approved: true, parameters_schema: { type: "object", properties: { n: { type: "integer" } } } });
  await assert.rejects(c.standard.check({ tool: typed, params: { n: "x" } }), (e) => e instanceof InvalidParamsError && e.errors[0].path === "/n");
});

test("runtime endpoints: check, validate, mint, verify, executions, approvals", async () => {
  const tool = fresh("send");
  await c.management.tools.create({ name: tool, approved: true });
  const params = { to: "x", n: 2 };
  const check = await c.standard.check({ tool, params });
  assert.equal(check.permission, "allowed");
  assert.equal(check.token ?? null, null);
  const validation = await c.standard.validate({ tool, params });
  assert.equal(validation.valid, true);
  const minted = await c.standard.mintToken({ check_id: check.check_id });
  assert.equal(minted.claims.tool, tool);
  const peek = await c.standard.verifyToken({ token: minted.token, tool, params: { n: 2, to: "x" }, consume: false });
  assert.equal(peek.valid, true);
  const logged = await c.standard.logExecution({ token: minted.token, tool, params, result: "success", duration_ms: 1 });
  assert.equal(logged.authorized, true);
  const again = await c.standard.verifyToken({ token: minted.token, tool });
  assert.deepEqual([again.valid, again.reason], [false, "used"]);

  const approval = await c.standard.requestApproval({ tool: fresh("other"), reason: "why not" });
  assert.equal((await c.standard.getApproval(approval.id)).status, "pending");
  assert.equal((await c.standard.cancelApproval(approval.id)).status, "cancelled");
  assert.equal((await c.standard.waitForApproval(approval.id)).status, "cancelled");
});

test("management: collections, policy, keys, org, activity", async () => {
  const tools = c.management.collection("tools");
  const name = fresh("crud");
  const created = await tools.create({ name, risk_level: "high" });
  assert.equal((await tools.get(created.id)).risk_level, "high");
  assert.equal((await tools.update(created.id, { description: "d" })).description, "d");
  const all = [];
  for await (const t of c.management.collection("tools").listAll({ limit: 2 })) all.push(t.name);
  assert.ok(all.includes(name));
  await tools.delete(created.id);
  await assert.rejects(tools.get(created.id), NotFoundError);

  const tenant = await c.management.collection("tenants").create({ external_id: fresh("acme") });
  const rule = await c.management.collection("rules").create({ tenant: tenant.external_id, permission: "disabled" });
  await assert.rejects(c.management.collection("tenants").delete(tenant.id), ConflictError);
  await c.management.collection("tenants").delete(tenant.id, { cascade: true });
  await assert.rejects(c.management.rules.get(rule.id), NotFoundError);

  const policy = await c.management.exportPolicy();
  const dry = await c.management.applyPolicy(policy, { dryRun: true });
  assert.equal(dry.applied, false);

  await c.standard.check({ tool: fresh("unregistered") }); // a recorded check the candidate changes
  const rules = (await c.management.rules.list({ limit: 500 })).data;
  const simulated = await c.management.simulatePolicy({ rules: [{ permission: "disabled" }] }, { limit: 3 });
  assert.equal(simulated.transitions.reduce((sum, t) => sum + t.count, 0), simulated.checks);
  assert.ok(simulated.changed > 0 && simulated.changes.length > 0 && simulated.changes.length <= 3);
  assert.ok(simulated.changes.every((change) => change.after.permission === "disabled"));
  assert.deepEqual((await c.management.rules.list({ limit: 500 })).data, rules, "a simulation applies nothing");

  const slack = { bot_token: "xoxb-sdk", channel: "C0SDK", signing_secret: "sdk-secret" };
  const channels = await c.management.org.updateNotifications({ slack });
  assert.deepEqual(channels.slack, { mode: "bot", channel: "C0SDK" });
  assert.ok(!JSON.stringify(channels).includes("xoxb-sdk"), "secrets are never shown");
  assert.match((await c.management.org.notifications()).slack_interactions_url, /\/interactions$/);
  assert.equal((await c.management.org.updateNotifications({ slack: null })).slack, null);
  await assert.rejects(c.management.org.unlinkSlackUser("T0SDK", "U0NOBODY"), NotFoundError);

  const key = await c.management.keys.create({ name: fresh("key"), tier: "standard" });
  assert.match(key.key, /^oak_live_/);
  assert.ok((await c.management.keys.revoke(key.id)).revoked_at);
  assert.match((await c.management.org.get()).id, /^org_/);
  assert.equal((await c.management.activity.verify()).valid, true);
});
