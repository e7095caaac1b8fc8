"""Policy simulation on a large history: time and memory of `POST /v1/policy/simulate` as the
recorded checks grow from 100,000 to 1,000,000 on one release server (SQLite, billing and rate
limits off). The memory that matters is what the simulation adds: after filling the history the
server is restarted on it (so the heap holds nothing left over from the load), its peak resident
set is reset (`/proc/PID/clear_refs`, 5) just before the simulation and read (`VmHWM`) just
after, against the resident set just before. Bounded memory means the two growths are about
equal while the history grows tenfold. Usage (see docs/BENCHMARKS.md, "Policy simulation"):

    cargo build --release -p oakallow-cli -p oakallow-loadgen
    python3 benches/simulate_memory.py [--small 100000] [--large 1000000]
"""
import argparse, json, os, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from perflib import oakallow, procs  # noqa: E402

BIN = os.environ.get("OAKALLOW_BIN", "target/release/oakallow")
LOADGEN = os.environ.get("OAKALLOW_LOADGEN", "target/release/loadgen")
NO_BILLING = {"OAKALLOW_BILLING__ENABLED": "false"}


def status(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])  # kB
    raise KeyError(field)


def call(port, key, method, path, body=None):
    return procs.call(port, method, path, key, body, timeout=600)


def fill(port, key, bodies, target):
    """Checks until the org has recorded at least `target` of them."""
    while True:
        have = call(port, key, "POST", "/v1/policy/simulate", {"policy": {}, "limit": 0})["checks"]
        if have >= target:
            return have
        seconds = max(1.0, (target - have) / 30000)
        subprocess.run([LOADGEN, "--url", f"http://127.0.0.1:{port}/v1/check", "--bodies-file", bodies,
                        "--connections", "64", "--duration", f"{seconds:.1f}", "--warmup", "0", "--header", f"X-API-Key: {key}"],
                       capture_output=True, text=True, check=True)


def simulate(server, key, candidate):
    pid = server.child.proc.pid
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")  # reset the peak resident set to the current one
    before = status(pid, "VmRSS")
    started = time.perf_counter()
    answer = call(server.port, key, "POST", "/v1/policy/simulate", {"policy": candidate, "limit": 100})
    seconds = time.perf_counter() - started
    peak = status(pid, "VmHWM")
    return answer, seconds, before, peak


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    args = parser.parse_args()
    bodies = os.path.join(tempfile.mkdtemp(prefix="simulate-bodies-"), "bodies.jsonl")
    with open(bodies, "w") as f:
        for i in range(300):
            f.write(json.dumps({"tool": ["lookup", "refund", "export"][i % 3], "tenant": f"t{i % 10}", "params": {"n": i}}) + "\n")
    candidate = {"rules": [{"tenant": "t1", "tool": "refund", "permission": "allowed"},
                           {"tenant": "t2", "tool": "lookup", "permission": "disabled"}]}
    data = tempfile.mkdtemp(prefix="simulate-")
    log = os.path.join(data, "server.log")
    keys = oakallow.bootstrap(BIN, data, email="sim@example.com", org="sim")
    server = oakallow.Server(BIN, data, log, extra_env=NO_BILLING)
    oakallow.apply_policy(server.port, keys["management_key"], {
        "tools": [{"name": "lookup", "approved": True}, {"name": "refund", "default_permission": "requires_approval"},
                  {"name": "export", "default_permission": "allowed"}],
        "tenants": [{"external_id": f"t{i}"} for i in range(10)],
        "rules": [{"tenant": "t1", "tool": "refund", "permission": "allowed"}],
    })
    rows = []
    try:
        for target in (args.small, args.large):
            fill(server.port, keys["standard_key"], bodies, target)
            # Restarted on the same data: the heap holds nothing from the load.
            server.stop()
            server = oakallow.Server(BIN, data, log, extra_env=NO_BILLING)
            answer, seconds, before, peak = simulate(server, keys["standard_key"], candidate)
            row = {"checks": answer["checks"], "changed": answer["changed"], "seconds": round(seconds, 2),
                   "checks_per_second": round(answer["checks"] / seconds), "rss_before_mib": round(before / 1024, 1),
                   "peak_mib": round(peak / 1024, 1), "growth_mib": round((peak - before) / 1024, 1)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    finally:
        server.stop()
    small, large = rows
    print(json.dumps({"history_ratio": round(large["checks"] / small["checks"], 2),
                      "growth_ratio": round(max(large["growth_mib"], 0.1) / max(small["growth_mib"], 0.1), 2),
                      "time_ratio": round(large["seconds"] / small["seconds"], 2)}))


if __name__ == "__main__":
    main()
