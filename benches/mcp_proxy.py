#!/usr/bin/env python3
"""What `oakallow mcp-proxy` adds to an allowed tools/call, against calling the upstream directly,
in the same run.

Starts `oakallow serve` (release build, SQLite, audit and billing on, rate limits off) on
127.0.0.1, bootstraps an org, registers the reference server's `echo` tool as approved, and runs
`tests/mcp/bench.mjs` (the official TypeScript SDK's client, over stdio): rounds alternate between
`server-everything` directly and the same server behind `oakallow mcp-proxy`. Every proxied call
is a real check with a token minted inline, the forward, and a logged execution (two durable,
audited, billed writes). The server is stopped at the end.

    cargo build --release -p oakallow-cli && npm ci --prefix tests/mcp
    python3 benches/mcp_proxy.py [CALLS] [ROUNDS]
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

CALLS = int(sys.argv[1]) if len(sys.argv) > 1 else 500
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 3
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.path.join(ROOT, "target", "release", "oakallow")
EVERYTHING = os.path.join(ROOT, "tests", "mcp", "node_modules", "@modelcontextprotocol", "server-everything", "dist", "index.js")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def api(base, method, path, key, body):
    request = urllib.request.Request(base + path, data=json.dumps(body).encode(), method=method,
                                     headers={"X-API-Key": key, "Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        return json.load(response)


def get(base, path, key):
    with urllib.request.urlopen(urllib.request.Request(base + path, headers={"X-API-Key": key})) as response:
        return json.load(response)


def main():
    data = tempfile.mkdtemp(prefix="oakallow-mcp-bench-")
    env = dict(os.environ, OAKALLOW_RATE_LIMITS__PER_KEY_PER_SECOND="0", OAKALLOW_RATE_LIMITS__PER_ORG_PER_SECOND="0")
    keys = json.loads(subprocess.run([BINARY, "admin", "bootstrap", "--email", "bench@example.com", "--org", "bench",
                                      "--data-dir", data, "--json"], check=True, capture_output=True, env=env).stdout)
    # Every proxied call is billed twice (check, execution); the free credit would run out.
    subprocess.run([BINARY, "credits", "grant", "--account", "bench@example.com", "--calls", "10000000", "--data-dir", data],
                   check=True, capture_output=True, env=env)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([BINARY, "serve", "--data-dir", data, "--listen", f"127.0.0.1:{port}"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(base + "/v1/health").read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        api(base, "POST", "/v1/tools", keys["management_key"], {"name": "echo", "approved": True})
        config = os.path.join(data, "proxy.toml")
        with open(config, "w") as f:
            f.write(f'url = "{base}"\n\n[[upstream]]\ncommand = ["node", "{EVERYTHING}", "stdio"]\n')
        bench = subprocess.run(
            ["node", os.path.join(ROOT, "tests", "mcp", "bench.mjs"),
             "--direct", f"node {EVERYTHING} stdio",
             "--proxied", f"{BINARY} mcp-proxy --config {config}",
             "--tool", "echo", "--args", json.dumps({"message": "hi"}), "--calls", str(CALLS), "--rounds", str(ROUNDS)],
            env=dict(env, OAKALLOW_KEY=keys["standard_key"]), capture_output=True, text=True)
        if bench.returncode != 0:
            sys.exit(f"bench.mjs failed:\n{bench.stderr}")
        print(bench.stdout)
        verified = get(base, "/v1/activity/verify", keys["management_key"])
        print(f"audit trail: {verified['entries']} entries, chain valid: {verified['valid']}")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
