"""Memory and start-up of `oakallow serve`."""

import os
import statistics
import tempfile
import time

from . import oakallow, procs
from .rules import RuleSet


def idle_rss(binary, work_dir, settle=1.0):
    """RSS (MB) of a server on an empty database (migrated, no account), once it answers and has
    been idle for `settle` seconds."""
    data = tempfile.mkdtemp(prefix="idle-", dir=work_dir)
    server = oakallow.Server(binary, data, os.path.join(work_dir, "idle.log"), name="oakallow (idle)")
    try:
        time.sleep(settle)
        return server.child.rss_kib() * 1024 / 1e6
    finally:
        server.stop()


def loaded_rss(binary, work_dir, rules, progress):
    """RSS (MB) with `rules` rules: loaded with `PUT /v1/policy`, then the server restarted and
    the org warmed with one check (so the figure is the loaded state, not the upload's garbage).
    Returns (after restart and a check, right after the upload, the data directory)."""
    data = tempfile.mkdtemp(prefix="loaded-", dir=work_dir)
    keys = oakallow.bootstrap(binary, data)
    log = os.path.join(work_dir, "loaded.log")
    rule_set = RuleSet(rules)
    server = oakallow.Server(binary, data, log, name="oakallow (loaded)")
    try:
        started = time.monotonic()
        created = oakallow.apply_policy(server.port, keys["management_key"], rule_set.document())
        progress(f"memory: {created} rules loaded in {time.monotonic() - started:.1f} s")
        after_upload = server.child.rss_kib() * 1024 / 1e6
    finally:
        server.stop()
    server = oakallow.Server(binary, data, log, name="oakallow (loaded)")
    try:
        request = rule_set.requests(1)[0]
        answer = procs.call(server.port, "POST", "/v1/check", keys["standard_key"], request)
        if (answer["permission"], answer["resolved_from"]) != rule_set.resolve(request):
            raise RuntimeError(f"check after restart disagrees with the reference: {answer}")
        time.sleep(0.5)
        return server.child.rss_kib() * 1024 / 1e6, after_upload, data
    finally:
        server.stop()


def start_up(binary, database, work_dir, times=5):
    """Milliseconds from spawning `oakallow serve` on an existing database to its first 200 from
    `/v1/health` (polled every millisecond), `times` times; returns the list."""
    results = []
    for _ in range(times):
        port = procs.free_port()
        started = time.perf_counter()
        child = procs.Child("oakallow (start-up)", [binary, "serve", "--listen", f"127.0.0.1:{port}",
                                                     *oakallow.database_args(database)],
                            env=oakallow.env(), log=os.path.join(work_dir, "startup.log"))
        try:
            procs.wait_until(lambda: procs.health_ok(port), "/v1/health", child, timeout=60, interval=0.001)
            results.append((time.perf_counter() - started) * 1000)
        finally:
            child.stop()
    return results


def median(values):
    return statistics.median(values) if values else None
