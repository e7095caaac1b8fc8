"""`oakallow` itself: bootstrap an org with enough credit, start `serve` (SQLite or PostgreSQL)
on a free loopback port, load a policy, and a fresh PostgreSQL database that is dropped after."""

import json
import os
import subprocess
import urllib.parse

from . import procs

# Rate limits off: the load generator is one key hammering one org. Everything else is the
# default configuration (billing on, audit on, durable commits).
BASE_ENV = {"OAKALLOW_RATE_LIMITS__PER_KEY_PER_SECOND": "0", "OAKALLOW_RATE_LIMITS__PER_ORG_PER_SECOND": "0",
            "OAKALLOW_LOG__FILTER": "warn"}


def env(extra=None):
    return dict(os.environ, **BASE_ENV, **(extra or {}))


def database_args(database):
    """`--data-dir DIR` for a directory, `--database-url URL` for a PostgreSQL URL."""
    return ["--database-url", database] if database.startswith("postgres") else ["--data-dir", database]


def bootstrap(binary, database, email="bench@example.com", org="bench", calls=100_000_000):
    """Creates the account and org; returns the keys (`management_key`, `standard_key`, `approver_key`)."""
    out = subprocess.run([binary, "admin", "bootstrap", "--email", email, "--org", org, "--json", *database_args(database)],
                         check=True, capture_output=True, env=env()).stdout
    keys = json.loads(out)
    subprocess.run([binary, "credits", "grant", "--account", email, "--calls", str(calls), *database_args(database)],
                   check=True, capture_output=True, env=env())
    return keys


class Server:
    """`oakallow serve` on a free port; `stop()` (or the script's exit) ends it."""

    def __init__(self, binary, database, log, name="oakallow", extra_env=None, wait=True):
        self.port = procs.free_port()
        argv = [binary, "serve", "--listen", f"127.0.0.1:{self.port}", *database_args(database)]
        self.child = procs.Child(name, argv, env=env(extra_env), log=log)
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout=120):
        procs.wait_until(lambda: procs.health_ok(self.port), f"{self.child.name} to answer /v1/health", self.child, timeout)

    def stop(self):
        self.child.stop()


def apply_policy(port, management_key, document):
    """`PUT /v1/policy` with the whole document; returns the number of rules created."""
    answer = procs.call(port, "PUT", "/v1/policy", management_key, document, timeout=600)
    return sum(1 for item in answer["diff"]["created"] if item["kind"] == "rule")


def _psql(admin_url, sql):
    return subprocess.run(["psql", admin_url, "-v", "ON_ERROR_STOP=1", "-qAtc", sql], check=True, capture_output=True,
                          text=True).stdout


def drop_stale_databases(admin_url, prefix):
    """Drops `<prefix><pid>` databases left by runs that were killed (their pid is gone)."""
    names = _psql(admin_url, f"SELECT datname FROM pg_database WHERE datname LIKE '{prefix}%'").split()
    for name in names:
        pid = name.removeprefix(prefix)
        if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            _psql(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class PostgresDatabase:
    """A fresh database on the local PostgreSQL server (through `psql`), dropped by `drop()`."""

    def __init__(self, admin_url, name):
        self.admin_url = admin_url
        self.name = name
        self._psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._psql(f'CREATE DATABASE "{name}"')
        parts = urllib.parse.urlsplit(admin_url)
        self.url = urllib.parse.urlunsplit(parts._replace(path="/" + name))

    def _psql(self, sql):
        return _psql(self.admin_url, sql)

    def drop(self):
        self._psql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
