"""A/B of the durable check on SQLite between two release builds of oakallow (here: before the
metrics layer, 9349b61, and after it), same policy, interleaved rounds, loadgen at 64
connections, billing and rate limits off. Usage (see docs/BENCHMARKS.md, "Request metrics"):

    OAKALLOW_AB_BEFORE=/path/to/oakallow-before OAKALLOW_AB_AFTER=target/release/oakallow \
    OAKALLOW_AB_LOADGEN=target/release/loadgen python3 benches/metrics_ab.py 6
"""
import json, os, socket, subprocess, sys, tempfile, time, urllib.request, statistics

LOADGEN = os.environ.get("OAKALLOW_AB_LOADGEN", "target/release/loadgen")
BINS = {"before": os.environ["OAKALLOW_AB_BEFORE"], "after": os.environ.get("OAKALLOW_AB_AFTER", "target/release/oakallow")}

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def start(name, binary):
    data = tempfile.mkdtemp(prefix=f"ab-{name}-")
    env = dict(os.environ, OAKALLOW_BILLING__ENABLED="false", OAKALLOW_RATE_LIMITS__PER_KEY_PER_SECOND="0", OAKALLOW_RATE_LIMITS__PER_ORG_PER_SECOND="0", OAKALLOW_LOG__FILTER="warn")
    out = subprocess.run([binary, "admin", "bootstrap", "--email", "ab@example.com", "--org", "ab", "--json", "--data-dir", data],
                         capture_output=True, text=True, env=env, check=True)
    keys = json.loads(out.stdout)
    port = free_port()
    child = subprocess.Popen([binary, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", data],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.time() + 30
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/health", timeout=1); break
        except Exception:
            assert time.time() < deadline, "server did not start"
            time.sleep(0.05)
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/tools", method="POST",
                                 data=json.dumps({"name": "lookup", "approved": True}).encode(),
                                 headers={"X-API-Key": keys["management_key"], "Content-Type": "application/json"})
    urllib.request.urlopen(req)
    return child, port, keys["standard_key"]

def load(port, key, bodies):
    out = subprocess.run([LOADGEN, "--url", f"http://127.0.0.1:{port}/v1/check", "--bodies-file", bodies,
                          "--connections", "64", "--duration", "10", "--warmup", "2", "--header", f"X-API-Key: {key}"],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)

bodies = os.path.join(tempfile.mkdtemp(prefix="ab-bodies-"), "bodies.jsonl")
with open(bodies, "w") as f:
    for i in range(100):
        f.write(json.dumps({"tool": "lookup", "tenant": f"t{i % 10}", "params": {"n": i}}) + "\n")
servers = {name: start(name, b) for name, b in BINS.items()}
results = {name: [] for name in BINS}
try:
    for r in range(int(sys.argv[1]) if len(sys.argv) > 1 else 3):
        for name, (child, port, key) in servers.items():
            res = load(port, key, bodies)
            results[name].append(res)
            print(f"round {r+1} {name:<6} {res['rps']:>8.0f} req/s p50 {res['p50_us']/1000:.2f} ms p99 {res['p99_us']/1000:.2f} ms errors {res['errors']}", flush=True)
finally:
    for child, _, _ in servers.values():
        child.terminate(); child.wait()
med = {n: statistics.median(r["rps"] for r in rs) for n, rs in results.items()}
p99 = {n: statistics.median(r["p99_us"] for r in rs) / 1000 for n, rs in results.items()}
print(f"median: before {med['before']:.0f} req/s (p99 {p99['before']:.2f} ms), after {med['after']:.0f} req/s (p99 {p99['after']:.2f} ms), after/before = {med['after']/med['before']:.3f}")
