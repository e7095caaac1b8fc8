"""A real oakallow server for the tests: an already running one (``OAKALLOW_TEST_*``), or one
started here from ``OAKALLOW_BIN`` on a free 127.0.0.1 port with a fresh data directory."""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from oakallow import Client

STARTUP_DEADLINE = 30.0


@dataclass(frozen=True)
class Server:
    url: str
    management_key: str
    standard_key: str
    approver_key: str


def _binary() -> str:
    if os.environ.get("OAKALLOW_BIN"):
        return os.environ["OAKALLOW_BIN"]
    debug = Path("/work/main/target/debug/oakallow")
    return str(debug) if debug.exists() else (shutil.which("oakallow") or "oakallow")


def _listening(proc: subprocess.Popen[str], log: Path) -> str:
    """The address ``proc`` (``oakallow serve`` with JSON logs) listens on, read from its log event
    the moment it is written; every line also goes to ``log``. Fails at the deadline."""
    events: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        with log.open("w") as out:
            for line in proc.stderr or ():
                out.write(line)
                try:
                    address = json.loads(line).get("fields", {}).get("address")
                except ValueError:
                    address = None
                if address:
                    events.put(address)
        events.put(None)  # the server exited

    threading.Thread(target=read, daemon=True).start()
    try:
        address = events.get(timeout=STARTUP_DEADLINE)
    except queue.Empty:
        raise AssertionError(f"oakallow serve did not listen within {STARTUP_DEADLINE} s") from None
    if address is None:
        raise RuntimeError(f"oakallow serve exited with {proc.wait()}: see {log}")
    return f"http://{address}"


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    names = ("OAKALLOW_TEST_URL", "OAKALLOW_TEST_MANAGEMENT_KEY", "OAKALLOW_TEST_STANDARD_KEY", "OAKALLOW_TEST_APPROVER_KEY")
    if all(os.environ.get(n) for n in names):
        yield Server(*(os.environ[n] for n in names))
        return
    binary = _binary()
    with tempfile.TemporaryDirectory(prefix="oakallow-sdk-") as data_dir:
        out = subprocess.run(
            [binary, "admin", "bootstrap", "--email", "sdk@example.com", "--org", "sdk", "--json", "--data-dir", data_dir],
            check=True, capture_output=True, text=True, timeout=60,
        )
        keys = json.loads(out.stdout)
        env = {**os.environ, "OAKALLOW_LOG__FORMAT": "json"}
        proc = subprocess.Popen([binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", data_dir],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
        try:
            url = _listening(proc, Path(data_dir) / "server.log")
            yield Server(url, keys["management_key"], keys["standard_key"], keys["approver_key"])
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def admin(server: Server) -> Iterator[Client]:
    with Client(server.url, server.management_key) as client:
        yield client


@pytest.fixture
def agent(server: Server) -> Iterator[Client]:
    with Client(server.url, server.standard_key) as client:
        yield client


@pytest.fixture
def approver(server: Server) -> Iterator[Client]:
    with Client(server.url, server.approver_key) as client:
        yield client


@pytest.fixture
def tool_name() -> str:
    """A fresh tool name, so tests never see each other's activity."""
    return f"sdk_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def make_tool(admin: Client) -> Callable[..., dict[str, Any]]:
    """Register a tool with the given default permission (or disabled)."""

    def make(name: str, permission: str = "allowed", **fields: Any) -> dict[str, Any]:
        if permission == "disabled":
            return admin.tools.create(name=name, enabled=False, **fields)
        return admin.tools.create(name=name, default_permission=permission, **fields)

    return make


def activity_types(admin: Client, tool: str) -> list[str]:
    """The activity entry types recorded for ``tool``, oldest first."""
    page = admin.list_activity(tool=tool, limit=500)
    return [entry["type"] for entry in reversed(page["data"])]
