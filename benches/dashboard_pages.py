#!/usr/bin/env python3
"""Dashboard page latency, as a ratio to GET /v1/health in the same run.

Starts `oakallow serve` (release build) on an empty SQLite directory on 127.0.0.1, signs up
through the form, creates keys, a tool, a tenant, a rule and a pending approval, then times N
keep-alive GETs of each page and of /v1/health (one client, sequential) and prints the medians
and the ratio page / health. The server is stopped at the end.

    cargo build --release -p oakallow-cli
    python3 benches/dashboard_pages.py [N]
"""

import http.client
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

N = int(sys.argv[1]) if len(sys.argv) > 1 else 300
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.path.join(ROOT, "target", "release", "oakallow")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port)
        self.cookies = {}

    def request(self, method, path, body=None, headers=None):
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        data = response.read()
        for value in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = value.partition("=")
            self.cookies[name] = rest.split(";")[0]
        return response.status, response.headers, data.decode()

    def form(self, page, action, fields):
        _, _, html = self.request("GET", page)
        token = re.search(r'name="_csrf" value="([^"]+)"', html).group(1)
        body = urllib.parse.urlencode([("_csrf", token)] + list(fields.items()))
        return self.request("POST", action, body, {"Content-Type": "application/x-www-form-urlencoded"})

    def api(self, method, path, key, body):
        return self.request(method, path, json.dumps(body), {"X-API-Key": key, "Content-Type": "application/json"})


def median_ms(client, path):
    times = []
    for _ in range(N):
        start = time.perf_counter()
        status, _, _ = client.request("GET", path)
        times.append((time.perf_counter() - start) * 1000)
        assert status == 200, (path, status)
    return statistics.median(times)


def main():
    port = free_port()
    data = tempfile.mkdtemp()
    env = dict(os.environ, OAKALLOW_LISTEN=f"127.0.0.1:{port}", OAKALLOW_DATA_DIR=data, OAKALLOW_LOG__FILTER="warn")
    server = subprocess.Popen([BINARY, "serve"], env=env)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        web = Client(port)
        status, headers, _ = web.form("/sign-up", "/sign-up", {"name": "Bench", "email": "bench@example.com", "password": "a long bench password", "org_name": "Bench"})
        org = headers["Location"].split("/")[2]
        _, _, html = web.form(f"/orgs/{org}/quickstart", f"/orgs/{org}/quickstart", {})
        management = re.search(r'id="management-key">(oak_live_[0-9a-f]{32})', html).group(1)
        standard = re.search(r'id="standard-key">(oak_live_[0-9a-f]{32})', html).group(1)
        web.api("POST", "/v1/tools", management, {"name": "refund"})
        web.api("POST", "/v1/tenants", management, {"external_id": "acme"})
        web.api("POST", "/v1/rules", management, {"tool": "refund", "tenant": "acme", "permission": "requires_approval"})
        web.api("POST", "/v1/approvals", standard, {"tool": "refund", "tenant": "acme", "params": {"order": 1}, "reason": "bench"})
        health = median_ms(web, "/v1/health")
        print(f"GET /v1/health: median {health:.3f} ms over {N}")
        for page in ["", "tools", "rules", "tester?tool=refund&tenant=acme", "approvals", "activity", "keys", "team", "builder"]:
            ms = median_ms(web, f"/orgs/{org}/{page}")
            print(f"GET /orgs/{{org}}/{page:32} median {ms:.3f} ms  = {ms / health:.1f}x health")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
