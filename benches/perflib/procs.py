"""Child processes that never outlive the script, free loopback ports, and small HTTP helpers.

Every child gets SIGKILL from the kernel when the script dies (PR_SET_PDEATHSIG), its stdin is a
pipe the script holds (servers that watch it stop at end of file), and `stop_all()` (run on exit,
on error and on SIGTERM/SIGINT) terminates whatever is still running."""

import atexit
import ctypes
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time

_children = []
_PR_SET_PDEATHSIG = 1


try:
    # Looked up once here: after fork, the child only makes the call (no dlopen between fork and exec).
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):
    _prctl = None


def _die_with_parent():
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class Child:
    """A started process; `stop()` terminates it (SIGTERM, then SIGKILL after `grace` seconds)."""

    def __init__(self, name, argv, env=None, log=None, stdout=None):
        self.name = name
        self.log_path = log
        self._log = open(log, "ab") if log else subprocess.DEVNULL
        self.proc = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE, stdout=stdout or self._log,
                                     stderr=self._log, preexec_fn=_die_with_parent)
        _children.append(self)

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def stop(self, grace=15):
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream:
                stream.close()
        if self._log is not subprocess.DEVNULL:
            self._log.close()
            self._log = subprocess.DEVNULL
        if self in _children:
            _children.remove(self)

    def tail(self, lines=20):
        if not self.log_path or not os.path.exists(self.log_path):
            return ""
        with open(self.log_path, "rb") as f:
            return b"\n".join(f.read().splitlines()[-lines:]).decode(errors="replace")

    def rss_kib(self):
        """VmRSS from /proc/PID/status, in KiB."""
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise RuntimeError(f"{self.name}: no VmRSS")


def run(argv, timeout, **kwargs):
    """`subprocess.run` for a child that ends by itself, killed with the script if it dies first."""
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, preexec_fn=_die_with_parent, **kwargs)


def stop_all():
    for child in reversed(list(_children)):
        try:
            child.stop(grace=5)
        except Exception:  # noqa: BLE001 - keep stopping the others
            child.proc.kill()


def _on_signal(signum, _frame):
    stop_all()
    sys.exit(128 + signum)


atexit.register(stop_all)
signal.signal(signal.SIGTERM, _on_signal)
signal.signal(signal.SIGINT, _on_signal)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(ready, what, child=None, timeout=60, interval=0.005):
    """Polls `ready()` until it is true; fails with the child's log if it died or time ran out."""
    deadline = time.monotonic() + timeout
    while True:
        if ready():
            return
        if child is not None and not child.alive():
            raise RuntimeError(f"{child.name} exited ({child.proc.returncode}) before {what}:\n{child.tail()}")
        if time.monotonic() > deadline:
            tail = child.tail() if child is not None else ""
            raise RuntimeError(f"timed out waiting for {what}\n{tail}")
        time.sleep(interval)


def health_ok(port, path="/v1/health"):
    try:
        status, _ = request(port, "GET", path, timeout=2)
        return status == 200
    except OSError:
        return False


def request(port, method, path, body=None, headers=None, timeout=60, raw=False):
    """One HTTP request on a fresh connection: (status, parsed JSON body or None)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        data = body if raw or body is None else json.dumps(body).encode()
        all_headers = {"Content-Type": "application/json"} if data is not None else {}
        all_headers.update(headers or {})
        connection.request(method, path, body=data, headers=all_headers)
        response = connection.getresponse()
        payload = response.read()
        try:
            parsed = json.loads(payload) if payload else None
        except ValueError:
            parsed = payload.decode(errors="replace")
        return response.status, parsed
    finally:
        connection.close()


def call(port, method, path, key=None, body=None, expect=(200, 201, 204), timeout=120):
    """`request` with an API key that fails unless the status is expected; returns the body."""
    headers = {"X-API-Key": key} if key else {}
    status, parsed = request(port, method, path, body=body, headers=headers, timeout=timeout)
    if status not in expect:
        raise RuntimeError(f"{method} {path}: {status} {str(parsed)[:500]}")
    return parsed
