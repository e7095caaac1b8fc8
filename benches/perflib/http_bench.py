"""The HTTP rows: `loadgen` against each server at fixed concurrencies, in interleaved rounds
(every server once per concurrency per round), with the servers' CPU time per request read from
/proc. Medians over rounds are what the report shows."""

import json
import os
import statistics
import time
from dataclasses import dataclass, field

from . import procs


@dataclass
class Target:
    """A server under load: where `loadgen` sends what."""
    name: str
    port: int
    path: str
    bodies_file: str
    child: object  # procs.Child: its CPU time is read around each run
    headers: list = field(default_factory=list)


def cpu_seconds(pid):
    """User + system CPU time of a process (and its reaped children), from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = sum(int(v) for v in fields[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


def load(loadgen, target, connections, duration, warmup, threads=1, extra=()):
    """One `loadgen` run; returns its JSON summary plus the server's CPU µs per request."""
    argv = [loadgen, "--url", f"http://127.0.0.1:{target.port}{target.path}", "--bodies-file", target.bodies_file,
            "--connections", str(connections), "--duration", str(duration), "--warmup", str(warmup),
            "--threads", str(threads), *extra]
    for header in target.headers:
        argv += ["--header", header]
    if not target.child.alive():
        raise RuntimeError(f"{target.name} is not running:\n{target.child.tail()}")
    before = cpu_seconds(target.child.pid)
    done = procs.run(argv, timeout=duration + warmup + 60)
    after = cpu_seconds(target.child.pid)
    if done.returncode != 0:
        raise RuntimeError(f"loadgen failed against {target.name}: {done.stderr}")
    result = json.loads(done.stdout)
    # CPU over warm-up and measurement, per request measured: scaled by the measured share.
    share = duration / (duration + warmup) if duration + warmup else 1
    result["cpu_us_per_request"] = (after - before) * share / result["requests"] * 1e6 if result["requests"] else None
    return result


def rounds(loadgen, targets, concurrencies, count, duration, warmup, progress):
    """`count` rounds; in each, every concurrency, and for each, every target in turn.
    Returns {(target name, connections): [result, …]}."""
    results = {}
    for round_index in range(count):
        for connections in concurrencies:
            for target in targets:
                started = time.monotonic()
                result = load(loadgen, target, connections, duration, warmup)
                results.setdefault((target.name, connections), []).append(result)
                progress(f"round {round_index + 1}/{count}, {connections:>2} conns, {target.name:<18} "
                         f"{result['rps']:>9.0f} req/s  p50 {result['p50_us'] / 1000:6.2f} ms  p99 {result['p99_us'] / 1000:6.2f} ms  "
                         f"errors {result['errors']}  ({time.monotonic() - started:.1f} s)")
    return results


def medians(runs):
    """The median of each figure over rounds, and the totals of requests and errors."""
    def median(key):
        values = [r[key] for r in runs if r.get(key) is not None]
        return statistics.median(values) if values else None
    return {"rps": median("rps"), "p50_us": median("p50_us"), "p90_us": median("p90_us"), "p99_us": median("p99_us"),
            "max_us": max(r["max_us"] for r in runs), "cpu_us": median("cpu_us_per_request"),
            "requests": sum(r["requests"] for r in runs), "errors": sum(r["errors"] for r in runs),
            "first_error": next((r["first_error"] for r in runs if r.get("first_error")), None),
            "statuses": _merged_statuses(runs)}


def _merged_statuses(runs):
    merged = {}
    for run in runs:
        for status, count in run.get("statuses", {}).items():
            merged[status] = merged.get(status, 0) + count
    return merged
