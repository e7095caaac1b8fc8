"""The report of one run: the HTTP table, then every Performance bar with what was measured."""

import os
import statistics
import sys

from . import cerbos
from .report import met, ms, num, ratio, table

SQLITE, PG, AXUM, CERBOS = "oakallow (SQLite)", "oakallow (PostgreSQL)", "axum-constant", "Cerbos"


def render(run, header):
    args = run.args
    out = ["# oakallow performance run", "", f"Machine: {header}.", "",
           f"Command: `{' '.join(['python3', 'benches/perf.py', *sys.argv[1:]])}`.", ""]
    out += _http(run) + [""] + _bars(run) + [""]
    notes = list(run.notes)
    notes.append(f"Rule set: {args.rules:,} rules over 100 tenants, 200 tools, 50 resources, 10 methods on 15 of the 16 rule levels "
                 "(an `org_wildcard` rule would hide every fallback), 4 disabled tools, tool and category defaults; "
                 f"the load cycles through 256 different check requests, decided at {len(run.load_steps)} of the 20 steps "
                 "of the resolution chain (gate, 15 rule levels, 4 fallbacks).")
    notes.append(f"Cerbos {cerbos.VERSION}: the same rule set as one resource policy (16 constant maps, one per level, walked in "
                 "oakallow's order by one variable; outputs carry the three-valued answer), audit off; see benches/perflib/cerbos.py.")
    agreement = ", ".join(f"{n} {a:,}/{t:,}" for n, (a, t) in getattr(run, "agreement", {}).items())
    if agreement:
        notes.append(f"Answers equal to the reference resolver (permission and deciding level) before the load: {agreement}.")
    notes.append("loadgen: one thread, keep-alive, one request in flight per connection, on the same 2 cores as the server; "
                 "server CPU / req is the server process's user + system time over the run (PostgreSQL's own not included).")
    notes.append("Load average at the end: " + " / ".join(f"{v:.2f}" for v in os.getloadavg())
                 + " (the machine is shared: compare ratios within a run, not absolute figures across runs).")
    if args.quick:
        notes.append("Quick run: too short to judge speed; it only shows that every piece works.")
    if run.failures:
        notes += [f"FAILED: {f}" for f in run.failures]
    return "\n".join(out + ["Notes:", ""] + [f"- {n}" for n in notes])


def _http(run):
    args = run.args
    rows = []
    for connections in args.connections:
        axum = run.http.get((AXUM, connections), {}).get("rps")
        peer = run.http.get((CERBOS, connections), {}).get("rps")
        for name in run.targets:
            f = run.http.get((name, connections))
            if not f:
                continue
            rows.append([name, connections, num(f["rps"]), ms(f["p50_us"]), ms(f["p99_us"]), ms(f["max_us"]),
                         None if f["cpu_us"] is None else f"{f['cpu_us']:.0f} µs", ratio(f["rps"], axum), ratio(f["rps"], peer),
                         f"{f['errors']:,} / {f['requests']:,}"])
    title = (f"## Check over HTTP (medians of {args.rounds} interleaved round{'s' if args.rounds > 1 else ''} of "
             f"{args.duration:g} s after {args.warmup:g} s of warm-up)")
    return [title, "", table(["server", "conns", "req/s", "p50", "p99", "max", "server CPU / req", "÷ axum", "÷ Cerbos",
                               "errors / requests"], rows)]


def _figure(run, name, connections, key):
    return run.http.get((name, connections), {}).get(key)


def _bars(run):
    quick = run.args.quick
    judge = (lambda ok: "not judged (quick run)") if quick else met
    rows = []
    top = max(run.args.connections)
    half = top // 2 if top // 2 in run.args.connections else None
    oak, axum, peer = (_figure(run, n, top, "rps") for n in (SQLITE, AXUM, CERBOS))
    oak_p99, peer_p99 = _figure(run, SQLITE, top, "p99_us"), _figure(run, CERBOS, top, "p99_us")
    if oak and axum:
        rows.append([f"check over HTTP, durable (SQLite), {top} conns", f"{oak / axum * 100:.1f} % of bare axum ({num(oak)} vs {num(axum)} req/s)",
                     "≥ 50 %", judge(oak / axum >= 0.5)])
    if oak_p99 is not None:
        rows.append([f"p99 at {top} conns", ms(oak_p99), "≤ 5 ms", judge(oak_p99 <= 5000)])
    half_p99 = _figure(run, SQLITE, half, "p99_us") if half else None
    rows.append([f"p99 at half the load ({half} conns)" if half else "p99 at half the load", ms(half_p99), "≤ 1 ms",
                 judge(half_p99 <= 1000) if half_p99 is not None else met(None)])
    if oak and peer:
        rows.append([f"check vs Cerbos, {top} conns", f"{oak / peer:.1f}× Cerbos's req/s; p99 {ms(oak_p99)} vs {ms(peer_p99)}",
                     "≥ 10× at equal or better p99", judge(oak / peer >= 10 and oak_p99 <= peer_p99)])
    rows += _system_rows(run, judge)
    return ["## Quality bars (QUALITY.md, Performance)", "", table(["what", "measured", "bar", "result"], rows), "",
            "The resolver rows (in process, and against `cedar-policy`) are measured by the criterion bench, not here."]


def _system_rows(run, judge):
    r = run.results
    rows = []
    for key, label, bar, limit in [("approvals", "approvals, same node (SQLite)", "wake-up ≤ 50 ms", 50),
                                   ("approvals_pg", "approvals, decided on another node (PostgreSQL)", "wake-up ≤ 1 s", 1000)]:
        f = r.get(key)
        if f is None:
            rows.append([label, run.pg_note or "not measured", bar, met(None)])
            continue
        measured = (f"{f['woke']:,}/{f['n']:,} woke; decision → wake-up p50 {f['p50_ms']:.1f} ms, p99 {f['p99_ms']:.1f} ms, "
                    f"max {f['max_ms']:.1f} ms" if f["woke"] else f"{f['woke']}/{f['n']} woke")
        rows.append([label, measured, bar + " (judged at p99)", judge(f["woke"] == f["n"] and f["p99_ms"] <= limit) if f["woke"] else met(False)])
    w = r.get("webhooks")
    if w:
        late = "" if w["delivered"] == w["events"] else f" within {w['wait']} s of the last event queued"
        measured = (f"{w['delivered']:,}/{w['events']:,} delivered{late}, {w['bad_signatures']} bad signatures, "
                    f"{num(w['rate'])} deliveries/s from the first to the last received ({w['attempts']:,} attempts; "
                    f"events queued at {num(w['queued_per_second'])}/s)")
        works = w["delivered"] == w["events"] and not w["bad_signatures"] and w["rate"] is not None
        rows.append([f"webhooks, {w['events']:,} events", measured, "all delivered, signatures valid, ≥ 1,000/s",
                     met(False) if not works else judge((w["rate"] or 0) >= 1000)])
    if "idle_mb" in r:
        rows.append(["memory, idle (empty database)", f"{r['idle_mb']:.1f} MB", "≤ 60 MB", judge(r["idle_mb"] <= 60)])
    if "loaded_mb" in r:
        rows.append([f"memory, {run.args.loaded_rules:,} rules loaded (restarted, one check)",
                     f"{r['loaded_mb']:.1f} MB (right after the upload: {r['upload_mb']:.1f} MB)", "≤ 300 MB",
                     judge(r["loaded_mb"] <= 300)])
    if r.get("start_up"):
        runs = r["start_up"]
        rows.append([f"start-up to the first 200 from /v1/health (existing {r['start_up_db']:.0f} MB database with {run.args.rules:,} rules)",
                     f"median {statistics.median(runs):.0f} ms of {len(runs)} (" + ", ".join(f"{x:.0f}" for x in runs) + ")",
                     "≤ 300 ms", judge(statistics.median(runs) <= 300)])
    return rows
