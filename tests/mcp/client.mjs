#!/usr/bin/env node
// A scriptable MCP client around the official TypeScript SDK `Client`, driven by oakallow's
// end-to-end tests as a child process.
//
// Protocol: one JSON object per line on stdin (a command), one JSON object per line on stdout
// (replies and events). Nothing else is written to stdout; logs go to stderr, and so does the
// stderr of a stdio server we start.
//
//   command  {"id": <any JSON>, "op": "<op>", ...}
//   reply    {"id": <same>, "ok": true, "result": ...}
//            {"id": <same>, "ok": false, "error": {"message", "name", "code"?, "data"?}}
//   event    {"event": "progress", "id": <id of the call_tool>, "params": {"progress", "total"?, "message"?}}
//
// Every command gets exactly one reply. Commands run concurrently: a call_tool that waits for a
// human does not hold up the commands after it. For a JSON-RPC error, `code` and `data` are the
// server's and `message` is the server's message (without the SDK's "MCP error <code>: " prefix).
//
// Ops:
//   connect    {"transport": "stdio", "command", "args"?, "env"? (merged over ours), "cwd"?}
//              {"transport": "http", "url", "headers"? (sent on every request)}
//              → {"serverVersion", "protocolVersion", "capabilities"}   (one connection per process)
//   list_tools → {"tools": [...]}, every page (following nextCursor), as the server sent them
//   call_tool  {"name", "arguments"?, "meta"? (sent as params._meta), "progress"?: true, "timeout_ms"?}
//              → the CallToolResult as received, plus "progress_count". With progress: true the SDK
//              sends a progressToken and every notifications/progress is written as an event at once.
//              The timeout (default 10 minutes) restarts on each progress notification.
//   cancel     {"call": <id of a call_tool in flight>} aborts it (the SDK sends notifications/cancelled).
//              The aborted call replies ok:false first (the SDK reports code -32001), then cancel
//              replies ok:true.
//   close      closes the connection, replies, exits 0. End of stdin does the same without a reply.
//
// Results are checked with the SDK's own schemas (an invalid one is an ok:false reply, as the SDK's
// client would refuse it) but returned as received, so fields the schemas do not know survive.
import { createInterface } from 'node:readline';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema, ListToolsResultSchema, McpError, ResultSchema } from '@modelcontextprotocol/sdk/types.js';

const DEFAULT_TIMEOUT_MS = 10 * 60 * 1000;
const log = (...args) => console.error('[client.mjs]', ...args);
console.log = console.error; // stdout belongs to the protocol
const write = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');

let client = null;
let protocolVersion = null;
const calls = new Map(); // JSON.stringify(call id) → {abort: AbortController, replied: Promise}
const pending = new Set(); // every command not yet replied to

function connected() {
  if (!client) throw new Error('not connected: send a connect command first');
  return client;
}

const ops = {
  async connect(cmd) {
    if (client) throw new Error('already connected (one connection per process)');
    let transport;
    if (cmd.transport === 'stdio') {
      transport = new StdioClientTransport({
        command: cmd.command,
        args: cmd.args ?? [],
        env: { ...process.env, ...cmd.env },
        cwd: cmd.cwd,
        stderr: 'inherit',
      });
    } else if (cmd.transport === 'http') {
      transport = new StreamableHTTPClientTransport(new URL(cmd.url), { requestInit: { headers: cmd.headers ?? {} } });
    } else {
      throw new Error(`unknown transport ${JSON.stringify(cmd.transport)} (stdio or http)`);
    }
    // The SDK hands the negotiated version only to transports with setProtocolVersion (HTTP); catch it for both.
    const setProtocolVersion = transport.setProtocolVersion?.bind(transport);
    transport.setProtocolVersion = (version) => {
      protocolVersion = version;
      setProtocolVersion?.(version);
    };
    client = new Client({ name: 'oakallow-e2e-client', version: '1.0.0' }, { capabilities: {} });
    client.onerror = (err) => log('connection error:', err.message);
    client.onclose = () => log('connection closed');
    try {
      await client.connect(transport);
    } catch (err) {
      client = null;
      throw err;
    }
    return { serverVersion: client.getServerVersion(), protocolVersion, capabilities: client.getServerCapabilities() };
  },

  async list_tools() {
    const tools = [];
    const seen = new Set();
    let cursor;
    do {
      const request = cursor === undefined ? { method: 'tools/list' } : { method: 'tools/list', params: { cursor } };
      const page = await connected().request(request, ResultSchema, { timeout: DEFAULT_TIMEOUT_MS });
      ListToolsResultSchema.parse(page);
      tools.push(...page.tools);
      cursor = page.nextCursor;
      if (seen.has(cursor)) throw new Error(`tools/list sent the cursor ${JSON.stringify(cursor)} twice`);
      seen.add(cursor);
    } while (cursor !== undefined);
    return { tools };
  },

  async call_tool(cmd, signal) {
    const params = { name: cmd.name };
    if (cmd.arguments !== undefined) params.arguments = cmd.arguments;
    if (cmd.meta !== undefined) params._meta = cmd.meta;
    let progressCount = 0;
    const onprogress = (progress) => {
      progressCount += 1;
      write({ event: 'progress', id: cmd.id, params: progress });
    };
    const result = await connected().request({ method: 'tools/call', params }, ResultSchema, {
      signal,
      timeout: cmd.timeout_ms ?? DEFAULT_TIMEOUT_MS,
      resetTimeoutOnProgress: true,
      onprogress: cmd.progress ? onprogress : undefined,
    });
    CallToolResultSchema.parse(result);
    return { ...result, progress_count: progressCount };
  },

  async cancel(cmd) {
    const call = calls.get(JSON.stringify(cmd.call));
    if (!call) throw new Error(`no call_tool in flight with id ${JSON.stringify(cmd.call)}`);
    call.abort.abort('cancelled by the test (cancel op)');
    await call.replied;
    return { cancelled: cmd.call };
  },

  async close() {
    await client?.close();
    return {};
  },
};

function errorJson(err) {
  const error = { message: err?.message ?? String(err), name: err?.name ?? typeof err };
  if (err?.cause?.message) error.message += ` (${err.cause.code ?? err.cause.message})`; // fetch failed (ECONNREFUSED)
  if (typeof err?.code === 'number') error.code = err.code;
  if (err?.data !== undefined) error.data = err.data;
  if (err instanceof McpError) error.message = error.message.replace(`MCP error ${err.code}: `, '');
  return error;
}

async function handle(cmd, signal) {
  try {
    const op = Object.hasOwn(ops, cmd.op) ? ops[cmd.op] : null;
    if (!op) throw new Error(`unknown op ${JSON.stringify(cmd.op)}`);
    write({ id: cmd.id, ok: true, result: await op(cmd, signal) });
    if (cmd.op === 'close') process.exit(0);
  } catch (err) {
    write({ id: cmd.id, ok: false, error: errorJson(err) });
  }
}

function dispatch(line) {
  if (!line.trim()) return;
  let cmd;
  try {
    cmd = JSON.parse(line);
    if (typeof cmd !== 'object' || cmd === null || Array.isArray(cmd)) throw new Error('a command is a JSON object');
  } catch (err) {
    return write({ id: null, ok: false, error: { message: `bad command line: ${err.message}`, name: 'SyntaxError' } });
  }
  const key = JSON.stringify(cmd.id);
  if (cmd.op === 'call_tool' && calls.has(key)) {
    return write({ id: cmd.id, ok: false, error: { message: `a call_tool with id ${key} is in flight`, name: 'Error' } });
  }
  const abort = new AbortController();
  const replied = handle(cmd, abort.signal).finally(() => {
    pending.delete(replied);
    if (calls.get(key)?.replied === replied) calls.delete(key);
  });
  pending.add(replied);
  if (cmd.op === 'call_tool') calls.set(key, { abort, replied });
}

process.on('uncaughtException', (err) => log('uncaught exception:', err));
process.on('unhandledRejection', (err) => log('unhandled rejection:', err));

const stdin = createInterface({ input: process.stdin, crlfDelay: Infinity });
stdin.on('line', dispatch);
stdin.on('close', async () => {
  await client?.close().catch((err) => log('close failed:', err.message));
  // Calls in flight fail with "Connection closed" once the client is closed; let them reply.
  await Promise.race([Promise.allSettled([...pending]), new Promise((resolve) => setTimeout(resolve, 2000))]);
  process.exit(0);
});
