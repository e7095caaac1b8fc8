#!/usr/bin/env python3
"""The Performance rows of QUALITY.md that need a running server, measured in one run, as ratios
to baselines measured in the same run. Prints Markdown: the machine, then one table per section.

    cargo build --release -p oakallow-cli -p oakallow-loadgen
    python3 benches/perf.py            # the full run: 3 interleaved rounds of 10 s, ≤ 10 minutes
    python3 benches/perf.py --quick    # every piece once, briefly (CI smoke: judges no speed)

It starts, all on 127.0.0.1 and all stopped at the end (even on error; children die with it):
(a) `axum-constant`, a bare axum server answering the same JSON a check answers; (b) `oakallow
serve` on a fresh SQLite directory (under target/perf-cache/) with the 10,000-rule set, default
configuration (billing and audit on, durable commits) but rate limits off; (c) Cerbos (npm
`@cerbos/cerbos-linux-x64`, pinned, installed into target/perf-cache/cerbos) with an equivalent
resource policy, audit and telemetry off; (d) `oakallow serve` on a fresh PostgreSQL database,
dropped afterwards. Before any load, the answers of (b), (c) and (d) to the request pool are
compared with a reference resolver. `loadgen` (one thread) then loads each at 8, 32 and 64
connections in interleaved rounds. Then: a second PostgreSQL node for approvals decided on another
node, start-up on the existing SQLite database, idle memory, approvals and webhooks on a fresh
server, and memory with 100,000 rules.

The exit status is non-zero when a piece does not work (an error response, an answer that
disagrees, a webhook not delivered or badly signed, a long-poll that did not wake); a missed
speed bar is reported, not failed.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from perflib import approvals, cerbos, http_bench, oakallow, procs, report, system, webhooks  # noqa: E402
from perflib.rules import RuleSet  # noqa: E402
from perflib.summary import render  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.path.join(ROOT, "target", "perf-cache")
STARTED = time.monotonic()


def progress(message):
    print(f"[{time.monotonic() - STARTED:6.1f} s] {message}", file=sys.stderr, flush=True)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 round of 1 s at 8 connections, fewer approvals and webhooks")
    parser.add_argument("--debug", action="store_true", help="use target/debug binaries (for a smoke run)")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 3; quick 1)")
    parser.add_argument("--duration", type=float, help="seconds measured per run (default 10; quick 1)")
    parser.add_argument("--warmup", type=float, help="seconds of load before each measured run (default 1; quick 0.5)")
    parser.add_argument("--connections", help="comma-separated concurrencies (default 8,32,64; quick 8)")
    parser.add_argument("--rules", type=int, default=10_000, help="rules in the check benchmarks (default 10,000)")
    parser.add_argument("--loaded-rules", type=int, default=100_000, help="rules for the loaded memory figure")
    parser.add_argument("--approvals", type=int, help="approvals per wake-up measurement (default 1,000; quick 50)")
    parser.add_argument("--webhooks", type=int, help="webhook events (default 10,000; quick 500)")
    parser.add_argument("--postgres-url", default=os.environ.get("OAKALLOW_BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test"),
                        help="a PostgreSQL server to create the benchmark database on (it is dropped afterwards)")
    parser.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL rows")
    parser.add_argument("--keep", action="store_true", help="keep the run directory (databases, logs, policies)")
    args = parser.parse_args()
    quick = args.quick
    args.rounds = args.rounds or (1 if quick else 3)
    args.duration = args.duration or (1.0 if quick else 10.0)
    args.warmup = args.warmup if args.warmup is not None else (0.5 if quick else 1.0)
    args.connections = [int(c) for c in (args.connections or ("8" if quick else "8,32,64")).split(",")]
    args.approvals = args.approvals or (50 if quick else 1000)
    args.webhooks = args.webhooks or (500 if quick else 10_000)
    return args


def binaries(args):
    profile = "debug" if args.debug else "release"
    found = {name: os.path.join(ROOT, "target", profile, name) for name in ("oakallow", "loadgen", "axum-constant")}
    missing = [path for path in found.values() if not os.access(path, os.X_OK)]
    if missing:
        flag = "" if args.debug else "--release "
        sys.exit(f"missing {', '.join(missing)}\nbuild them first: cargo build {flag}-p oakallow-cli -p oakallow-loadgen")
    for tool in ("npm",) + (() if args.no_postgres else ("psql",)):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is needed (or pass --no-postgres for psql)")
    return found


def _remove_stale_runs():
    """Removes the directories of runs that were killed before they could clean up."""
    for name in os.listdir(CACHE):
        parts = name.split("-")
        if len(parts) == 3 and parts[0] == "run" and parts[1].isdigit() and not os.path.exists(f"/proc/{parts[1]}"):
            shutil.rmtree(os.path.join(CACHE, name), ignore_errors=True)


class Run:
    """Everything one run starts and measures; `close()` stops and removes it all."""

    def __init__(self, args):
        self.args = args
        self.bin = binaries(args)
        os.makedirs(CACHE, exist_ok=True)
        _remove_stale_runs()
        self.dir = tempfile.mkdtemp(prefix=f"run-{os.getpid()}-", dir=CACHE)
        self.failures = []  # pieces that did not work
        self.notes = []
        self.pg = None
        self.pg_note = None
        self.results = {}

    def path(self, name):
        return os.path.join(self.dir, name)

    def close(self):
        procs.stop_all()
        if self.pg is not None:
            try:
                self.pg.drop()
            except Exception as error:  # noqa: BLE001 - reported, the rest still cleans up
                print(f"could not drop the PostgreSQL database {self.pg.name}: {error}", file=sys.stderr)
        if self.args.keep:
            print(f"kept {self.dir}", file=sys.stderr)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    def fail(self, message):
        progress(f"FAILED: {message}")
        self.failures.append(message)

    # --- set-up ---------------------------------------------------------------------------------

    def set_up_servers(self):
        args = self.args
        self.rule_set = RuleSet(args.rules)
        self.pool = self.rule_set.requests(2000)
        self.sqlite_dir = self.path("sqlite")
        os.makedirs(self.sqlite_dir)
        self.sqlite_keys = oakallow.bootstrap(self.bin["oakallow"], self.sqlite_dir)
        self.sqlite = oakallow.Server(self.bin["oakallow"], self.sqlite_dir, self.path("oakallow-sqlite.log"), "oakallow (SQLite)")
        created = oakallow.apply_policy(self.sqlite.port, self.sqlite_keys["management_key"], self.rule_set.document())
        progress(f"oakallow (SQLite) on :{self.sqlite.port} with {created} rules")
        self.postgres = None
        if not args.no_postgres:
            self._set_up_postgres()
        progress("installing Cerbos" if not os.path.exists(os.path.join(CACHE, "cerbos", "node_modules")) else "starting Cerbos")
        cerbos_binary = cerbos.install(os.path.join(CACHE, "cerbos"))
        self.cerbos = cerbos.Server(cerbos_binary, self.rule_set, self.path("cerbos"), self.path("cerbos.log"))
        progress(f"Cerbos {cerbos.VERSION} on :{self.cerbos.port}")
        self._agree()
        answer_file = self.path("check-answer.json")
        with open(answer_file, "w") as f:
            json.dump(procs.call(self.sqlite.port, "POST", "/v1/check", self.sqlite_keys["standard_key"], self.pool[0]), f,
                      separators=(",", ":"))
        port = procs.free_port()
        self.axum = procs.Child("axum-constant", [self.bin["axum-constant"], "--listen", f"127.0.0.1:{port}", "--body", answer_file,
                                                  "--stop-on-stdin-eof"], log=self.path("axum.log"))
        self.axum_port = port
        procs.wait_until(lambda: "listening on" in self.axum.tail(), "axum-constant to listen", self.axum, timeout=30)

    def _set_up_postgres(self):
        try:
            oakallow.drop_stale_databases(self.args.postgres_url, "oakallow_perf_")
            self.pg = oakallow.PostgresDatabase(self.args.postgres_url, f"oakallow_perf_{os.getpid()}")
        except Exception as error:  # noqa: BLE001 - the PostgreSQL rows are then reported as not measured
            self.pg_note = f"PostgreSQL not measured: cannot create a database on {self.args.postgres_url} ({error})"
            self.notes.append(self.pg_note)
            progress(self.pg_note)
            return
        self.pg_keys = oakallow.bootstrap(self.bin["oakallow"], self.pg.url)
        self.postgres = oakallow.Server(self.bin["oakallow"], self.pg.url, self.path("oakallow-pg.log"), "oakallow (PostgreSQL)")
        created = oakallow.apply_policy(self.postgres.port, self.pg_keys["management_key"], self.rule_set.document())
        progress(f"oakallow (PostgreSQL) on :{self.postgres.port} with {created} rules, database {self.pg.name}")

    def _agree(self):
        """Every server answers the sample exactly as the reference resolver does."""
        sample = self.pool[: 200 if self.args.quick else 1000]
        servers = [("oakallow (SQLite)", lambda r: self._oakallow_answer(self.sqlite.port, self.sqlite_keys, r)),
                   ("Cerbos", self.cerbos.check)]
        if self.postgres:
            servers.append(("oakallow (PostgreSQL)", lambda r: self._oakallow_answer(self.postgres.port, self.pg_keys, r)))
        self.agreement = {}
        for name, answer in servers:
            wrong = [(r, answer(r), self.rule_set.resolve(r)) for r in sample]
            wrong = [w for w in wrong if w[1] != w[2]]
            self.agreement[name] = (len(sample) - len(wrong), len(sample))
            if wrong:
                self.fail(f"{name} disagrees with the reference on {len(wrong)} of {len(sample)} requests, e.g. {wrong[0]}")
        progress("answers compared: " + ", ".join(f"{n} {a}/{t}" for n, (a, t) in self.agreement.items()))

    @staticmethod
    def _oakallow_answer(port, keys, request):
        answer = procs.call(port, "POST", "/v1/check", keys["standard_key"], request)
        return answer["permission"], answer["resolved_from"]

    # --- the HTTP rounds ------------------------------------------------------------------------

    def http_rounds(self):
        requests = self.pool[:256]
        self.load_steps = {self.rule_set.resolve(r)[1] for r in requests}
        oak_bodies, cerbos_bodies = self.path("check-bodies.jsonl"), self.path("cerbos-bodies.jsonl")
        with open(oak_bodies, "w") as f:
            f.writelines(json.dumps(r, separators=(",", ":")) + "\n" for r in requests)
        with open(cerbos_bodies, "w") as f:
            f.writelines(json.dumps(cerbos.check_body(r), separators=(",", ":")) + "\n" for r in requests)
        targets = [http_bench.Target("axum-constant", self.axum_port, "/v1/check", oak_bodies, self.axum),
                   http_bench.Target("oakallow (SQLite)", self.sqlite.port, "/v1/check", oak_bodies, self.sqlite.child,
                                     [f"X-API-Key: {self.sqlite_keys['standard_key']}"])]
        if self.postgres:
            targets.append(http_bench.Target("oakallow (PostgreSQL)", self.postgres.port, "/v1/check", oak_bodies, self.postgres.child,
                                             [f"X-API-Key: {self.pg_keys['standard_key']}"]))
        targets.append(http_bench.Target("Cerbos", self.cerbos.port, "/api/check/resources", cerbos_bodies, self.cerbos.child))
        self.targets = [t.name for t in targets]
        args = self.args
        progress(f"HTTP: {args.rounds} round(s) × {args.connections} connections × {len(targets)} servers, "
                 f"{args.duration:g} s each after {args.warmup:g} s of warm-up")
        runs = http_bench.rounds(self.bin["loadgen"], targets, args.connections, args.rounds, args.duration, args.warmup, progress)
        self.http = {key: http_bench.medians(value) for key, value in runs.items()}
        for (name, connections), figures in self.http.items():
            if figures["requests"] == 0 or figures["errors"]:
                self.fail(f"{name} at {connections} connections: {figures['requests']} responses, {figures['errors']} errors "
                          f"{figures['statuses']} {figures['first_error'] or ''}")
        self.cerbos.stop()
        self.axum.stop()

    # --- approvals, start-up, memory, webhooks ----------------------------------------------------

    def approvals_two_nodes(self):
        if not self.postgres:
            return
        node_b = oakallow.Server(self.bin["oakallow"], self.pg.url, self.path("oakallow-pg-b.log"), "oakallow (PostgreSQL, node B)")
        try:
            approvals.prepare(self.postgres.port, self.pg_keys["management_key"])
            self.results["approvals_pg"] = self._approvals(self.postgres.port, node_b.port, self.pg_keys, "PostgreSQL, decided on node B")
        finally:
            node_b.stop()
            self.postgres.stop()

    def _approvals(self, node_a, node_b, keys, label):
        figures = approvals.measure(node_a, node_b, keys, total=self.args.approvals)
        timing = (f"p50 {figures['p50_ms']:.1f} ms, p99 {figures['p99_ms']:.1f} ms, max {figures['max_ms']:.1f} ms"
                  if figures["woke"] else "no wake-up")
        progress(f"approvals ({label}): {figures['woke']}/{figures['n']} woke, {timing}, {figures['seconds']:.1f} s")
        if figures["woke"] != figures["n"] or figures["errors"]:
            self.fail(f"approvals ({label}): {figures['woke']} of {figures['n']} woke; {figures['errors'][:3]}")
        return figures

    def start_up(self):
        self.sqlite.stop()
        runs = system.start_up(self.bin["oakallow"], self.sqlite_dir, self.dir)
        self.results["start_up"] = runs
        size = sum(os.path.getsize(os.path.join(self.sqlite_dir, f)) for f in os.listdir(self.sqlite_dir)) / 1e6
        self.results["start_up_db"] = size
        progress(f"start-up on the benchmark database ({size:.0f} MB): " + ", ".join(f"{r:.0f} ms" for r in runs))

    def system_server(self):
        self.results["idle_mb"] = system.idle_rss(self.bin["oakallow"], self.dir)
        progress(f"idle RSS {self.results['idle_mb']:.1f} MB")
        data = tempfile.mkdtemp(prefix="system-", dir=self.dir)
        keys = oakallow.bootstrap(self.bin["oakallow"], data)
        server = oakallow.Server(self.bin["oakallow"], data, self.path("oakallow-system.log"), "oakallow (approvals, webhooks)",
                                 extra_env={"OAKALLOW_WEBHOOKS__ALLOW_PRIVATE_TARGETS": "true"})
        try:
            approvals.prepare(server.port, keys["management_key"])
            self.results["approvals"] = self._approvals(server.port, server.port, keys, "SQLite, one node")
            figures = webhooks.measure(self.bin["loadgen"], server.port, keys["management_key"], self.args.webhooks, progress)
            self.results["webhooks"] = figures
            progress(f"webhooks: {figures['delivered']}/{figures['events']} delivered, {figures['bad_signatures']} bad signatures, "
                     f"{figures['rate'] or 0:.0f}/s")
            # A delivery still queued when the wait ends is a missed speed bar in a full run; the quick
            # run (a few hundred events) must deliver every one.
            missing = figures["delivered"] != figures["events"]
            if figures["bad_signatures"] or figures["queue_errors"] or not figures["events"] or (missing and self.args.quick):
                self.fail(f"webhooks: {figures}")
        finally:
            server.stop()

    def memory_loaded(self):
        rss, after_upload, data = system.loaded_rss(self.bin["oakallow"], self.dir, self.args.loaded_rules, progress)
        self.results["loaded_mb"], self.results["upload_mb"] = rss, after_upload
        progress(f"RSS with {self.args.loaded_rules} rules: {self.results['loaded_mb']:.1f} MB "
                 f"(right after the upload: {self.results['upload_mb']:.1f} MB)")
        shutil.rmtree(data, ignore_errors=True)


def main():
    args = parse_args()
    run = Run(args)
    header = report.machine(ROOT)
    try:
        run.set_up_servers()
        run.http_rounds()
        run.approvals_two_nodes()
        run.start_up()
        run.system_server()
        run.memory_loaded()
    except Exception as error:
        run.fail(f"{type(error).__name__}: {error}")
        raise
    finally:
        run.close()
        if hasattr(run, "http"):
            print(render(run, header))
        progress(f"done in {time.monotonic() - STARTED:.0f} s" + (f"; {len(run.failures)} piece(s) failed" if run.failures else ""))
    sys.exit(1 if run.failures else 0)


if __name__ == "__main__":
    main()
