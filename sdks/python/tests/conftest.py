"""A real oakallow server for the tests: an already running one (``OAKALLOW_TEST_*``), or one
started here from ``OAKALLOW_BIN`` on a free 127.0.0.1 port with a fresh data directory."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import httpx
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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(predicate: Callable[[], Any], *, deadline: float = 20.0, every: float = 0.05, what: str = "") -> Any:
    """Poll ``predicate`` until it answers something truthy, failing after ``deadline`` seconds."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(every)  # the poll interval, not a wait for an event
    raise AssertionError(f"timed out waiting for {what or predicate}")


def _healthy(url: str, proc: subprocess.Popen[bytes]) -> bool:
    if proc.poll() is not None:
        raise RuntimeError(f"oakallow exited with {proc.returncode}")
    try:
        return httpx.get(f"{url}/v1/health", timeout=1.0).status_code == 200
    except httpx.TransportError:
        return False


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
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        log = open(Path(data_dir) / "server.log", "wb")
        proc = subprocess.Popen([binary, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", data_dir],
                                stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_until(lambda: _healthy(url, proc), deadline=STARTUP_DEADLINE, what="the server's health")
            yield Server(url, keys["management_key"], keys["standard_key"], keys["approver_key"])
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()


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
