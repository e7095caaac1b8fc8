"""Approvals: how soon a parked long-poll (`GET /v1/approvals/{id}?wait=30`) answers after the
approver's decision. Each worker creates an approval (standard key), sends the long-poll, gives
the server `park` seconds to park it, then decides (approver key, possibly on another node) and
times from sending the decision to receiving the long-poll's answer."""

import http.client
import json
import statistics
import threading
import time

from . import procs

TOOL = "bench_needs_approval"


def prepare(port, management_key):
    """Registers a tool whose calls need approval (no rule names it; its default decides)."""
    body = {"name": TOOL, "default_permission": "requires_approval", "approved": False}
    procs.call(port, "POST", "/v1/tools", management_key, body, expect=(201, 409))


class _Connection:
    """A keep-alive connection sending JSON with a key."""

    def __init__(self, port, key):
        self.http = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.key = key

    def send(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        headers = {"X-API-Key": self.key, **({"Content-Type": "application/json"} if data else {})}
        self.http.request(method, path, body=data, headers=headers)

    def receive(self):
        response = self.http.getresponse()
        payload = response.read()
        return response.status, json.loads(payload) if payload else None

    def close(self):
        self.http.close()


def _worker(node_a, node_b, keys, count, park, out, errors):
    create = _Connection(node_a, keys["standard_key"])
    poll = _Connection(node_a, keys["standard_key"])
    decide = _Connection(node_b, keys["approver_key"])
    try:
        for _ in range(count):
            create.send("POST", "/v1/approvals", {"tool": TOOL, "reason": "benchmark"})
            status, approval = create.receive()
            if status != 201:
                errors.append(f"create: {status} {approval}")
                continue
            poll.send("GET", f"/v1/approvals/{approval['id']}?wait=30")
            time.sleep(park)  # a benchmark, not a test: give the server time to park the poll
            sent = time.perf_counter()
            decide.send("POST", f"/v1/approvals/{approval['id']}/decide", {"decision": "approved", "decided_by": "bench"})
            status, decided = decide.receive()
            if status != 200:
                errors.append(f"decide: {status} {decided}")
            status, polled = poll.receive()
            woke = time.perf_counter()
            if status != 200 or polled.get("status") != "approved":
                errors.append(f"long-poll: {status} {str(polled)[:200]}")
                continue
            out.append(woke - sent)
    except Exception as error:  # noqa: BLE001 - reported, and the run fails on it
        errors.append(repr(error))
    finally:
        for connection in (create, poll, decide):
            connection.close()


def measure(node_a, node_b, keys, total=1000, workers=16, park=0.1):
    """Returns {n, woke, p50_ms, p99_ms, max_ms, errors, seconds}: `total` approvals over `workers`
    threads, created and polled on `node_a`, decided on `node_b` (the same port for one node)."""
    wake_ups, errors = [], []
    started = time.monotonic()
    per_worker = [total // workers + (1 if i < total % workers else 0) for i in range(workers)]
    threads = [threading.Thread(target=_worker, args=(node_a, node_b, keys, n, park, wake_ups, errors)) for n in per_worker if n]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wake_ups.sort()
    quantile = lambda q: wake_ups[min(len(wake_ups) - 1, int(q * len(wake_ups)))] * 1000 if wake_ups else None  # noqa: E731
    return {"n": total, "woke": len(wake_ups), "p50_ms": statistics.median(wake_ups) * 1000 if wake_ups else None,
            "p99_ms": quantile(0.99), "max_ms": wake_ups[-1] * 1000 if wake_ups else None,
            "errors": errors, "seconds": time.monotonic() - started}
