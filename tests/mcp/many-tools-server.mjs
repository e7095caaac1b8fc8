#!/usr/bin/env node
// A fake upstream MCP server over stdio with many tools, for oakallow's end-to-end tests.
//
//   node many-tools-server.mjs N
//
// registers N tools tool_0000, tool_0001, … Each takes {"text": string} (required); even ones are
// read-only, odd ones destructive; all are idempotent and closed-world. tools/list answers in pages
// of 100 with nextCursor (the SDK's McpServer does not paginate, so this uses the low-level Server).
// tools/call answers {content: [{type: "text", text: "ran <name> with <text>"}]}, except two
// texts the tests use: "token" answers the call's _meta["oakallow/execution_token"] (what the
// gateway forwarded), and "exit" ends the process without answering (an upstream that dies).
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { CallToolRequestSchema, ErrorCode, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';

const PAGE_SIZE = 100;
const count = Number(process.argv[2]);
if (!Number.isInteger(count) || count < 0) {
  console.error('usage: node many-tools-server.mjs N   (N tools named tool_0000 …)');
  process.exit(2);
}

const tools = Array.from({ length: count }, (_, i) => ({
  name: `tool_${String(i).padStart(4, '0')}`,
  description: `Fake tool number ${i} (${i % 2 === 0 ? 'read-only' : 'destructive'}); echoes its text.`,
  inputSchema: {
    type: 'object',
    properties: { text: { type: 'string', description: 'Any text; the result repeats it.' } },
    required: ['text'],
  },
  annotations:
    i % 2 === 0
      ? { readOnlyHint: true, idempotentHint: true, openWorldHint: false }
      : { destructiveHint: true, idempotentHint: true, openWorldHint: false },
}));
const byName = new Map(tools.map((tool) => [tool.name, tool]));

// A thrown McpError would put "MCP error -32602: " in front of the message on the wire; this does not.
const invalidParams = (message) => Object.assign(new Error(message), { code: ErrorCode.InvalidParams });

const server = new Server({ name: 'many-tools-server', version: '1.0.0' }, { capabilities: { tools: {} } });

// The cursor is the index of the first tool of the page, as a decimal string.
server.setRequestHandler(ListToolsRequestSchema, (request) => {
  const cursor = request.params?.cursor;
  const start = cursor === undefined ? 0 : Number(cursor);
  if (!Number.isInteger(start) || start < 0 || start > tools.length || String(start) !== (cursor ?? '0')) {
    throw invalidParams(`invalid cursor ${JSON.stringify(cursor)}`);
  }
  const end = start + PAGE_SIZE;
  return end < tools.length ? { tools: tools.slice(start, end), nextCursor: String(end) } : { tools: tools.slice(start) };
});

server.setRequestHandler(CallToolRequestSchema, (request) => {
  const { name, arguments: args } = request.params;
  if (!byName.has(name)) throw invalidParams(`unknown tool ${JSON.stringify(name)}`);
  if (typeof args?.text !== 'string') throw invalidParams(`${name} needs a string "text"`);
  if (args.text === 'exit') process.exit(3);
  if (args.text === 'token') return { content: [{ type: 'text', text: String(request.params._meta?.['oakallow/execution_token']) }] };
  return { content: [{ type: 'text', text: `ran ${name} with ${args.text}` }] };
});

await server.connect(new StdioServerTransport());
console.error(`many-tools-server: ${count} tools on stdio`);
