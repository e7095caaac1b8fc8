"""The Markdown the run prints: the machine, then one table per section."""

import datetime
import os
import platform
import subprocess


def machine(root):
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    try:
        commit = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", root, "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True).stdout.strip()
    except OSError:
        commit, dirty = "?", ""
    load = " / ".join(f"{v:.2f}" for v in os.getloadavg())
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (f"{now}; {os.cpu_count()} × {cpu}; Linux {platform.release()}; load average at start {load}; "
            f"commit {commit}{' (with local changes)' if dirty else ''}")


def table(headers, rows):
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join("—" if cell is None else str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def met(ok):
    if ok is None:
        return "not measured"
    return "✅ met" if ok else "❌ not met"


def ms(micros):
    return None if micros is None else f"{micros / 1000:.2f} ms"


def num(value, digits=0):
    return None if value is None else f"{value:,.{digits}f}"


def ratio(a, b, digits=2):
    return None if not a or not b else f"{a / b:.{digits}f}×"
