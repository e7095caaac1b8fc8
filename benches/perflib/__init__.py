"""Pieces of `benches/perf.py`: the rule set, the servers it starts, the HTTP rounds, the system
rows (memory, start-up, approvals, webhooks) and the report."""
