#!/usr/bin/env node
// Proxy-overhead benchmark: the same tools/call straight to an MCP server and through a proxy.
//
//   node bench.mjs --direct 'CMD ARGS…' --proxied 'CMD ARGS…' --tool NAME [--args JSON]
//                  [--calls N] [--rounds R]
//
// Both commands are stdio MCP servers (split on spaces, no quoting; the environment is
// inherited). Each round connects to the direct command, then to the proxied one (so the two
// alternate and share whatever the machine is doing), makes 20 warm-up calls, then N sequential
// timed calls, and disconnects. Any result with isError, or any error, aborts the run.
// Prints a Markdown table (per row: the median over rounds of each round's p50, p99 and mean),
// then the p50 the proxy adds and the proxied/direct p50 ratio.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

const WARMUP_CALLS = 20;

function parseArgs(argv) {
  const opts = { args: '{}', calls: '1000', rounds: '3' };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '');
    if (!['direct', 'proxied', 'tool', 'args', 'calls', 'rounds'].includes(key) || argv[i + 1] === undefined) {
      throw new Error(`unexpected argument ${argv[i]}`);
    }
    opts[key] = argv[i + 1];
  }
  for (const key of ['direct', 'proxied', 'tool']) if (!opts[key]) throw new Error(`--${key} is required`);
  const calls = Number(opts.calls);
  const rounds = Number(opts.rounds);
  if (!(calls > 0 && rounds > 0 && Number.isInteger(calls) && Number.isInteger(rounds))) {
    throw new Error('--calls and --rounds are positive integers');
  }
  return { ...opts, args: JSON.parse(opts.args), calls, rounds };
}

const percentile = (sorted, p) => sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
const median = (values) => percentile([...values].sort((a, b) => a - b), 50);

// Connects to `commandLine`, calls the tool WARMUP_CALLS + calls times; returns the timed latencies in µs.
async function run(commandLine, opts) {
  const [command, ...args] = commandLine.trim().split(/\s+/);
  const client = new Client({ name: 'oakallow-bench', version: '1.0.0' });
  await client.connect(new StdioClientTransport({ command, args, env: { ...process.env }, stderr: 'inherit' }));
  try {
    const micros = [];
    for (let i = 0; i < WARMUP_CALLS + opts.calls; i++) {
      const start = process.hrtime.bigint();
      const result = await client.callTool({ name: opts.tool, arguments: opts.args });
      const elapsed = Number(process.hrtime.bigint() - start) / 1000;
      if (result.isError) throw new Error(`${commandLine}: ${opts.tool} returned isError: ${JSON.stringify(result.content)}`);
      if (i >= WARMUP_CALLS) micros.push(elapsed);
    }
    micros.sort((a, b) => a - b);
    return { p50: percentile(micros, 50), p99: percentile(micros, 99), mean: micros.reduce((a, b) => a + b, 0) / micros.length };
  } finally {
    await client.close();
  }
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const rounds = { direct: [], proxied: [] };
  for (let round = 1; round <= opts.rounds; round++) {
    for (const row of ['direct', 'proxied']) {
      const stats = await run(opts[row], opts);
      rounds[row].push(stats);
      const fmt = (v) => v.toFixed(0);
      console.error(`round ${round} ${row}: p50 ${fmt(stats.p50)} µs, p99 ${fmt(stats.p99)} µs, mean ${fmt(stats.mean)} µs`);
    }
  }
  const summary = {};
  console.log('| | calls | p50 µs | p99 µs | mean µs |');
  console.log('|---|---:|---:|---:|---:|');
  for (const row of ['direct', 'proxied']) {
    const s = (summary[row] = Object.fromEntries(['p50', 'p99', 'mean'].map((k) => [k, median(rounds[row].map((r) => r[k]))])));
    console.log(`| ${row} | ${opts.calls * opts.rounds} | ${s.p50.toFixed(0)} | ${s.p99.toFixed(0)} | ${s.mean.toFixed(0)} |`);
  }
  const added = summary.proxied.p50 - summary.direct.p50;
  const ratio = summary.proxied.p50 / summary.direct.p50;
  console.log(`\nThe proxy adds ${added.toFixed(0)} µs at p50 (proxied/direct ${ratio.toFixed(2)}×; medians over ${opts.rounds} rounds of ${opts.calls} calls).`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(`bench.mjs: ${err.message}`);
    process.exit(1);
  },
);
