"""The README's quick start runs verbatim against the real server."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path
from typing import Any

import pytest

from conftest import Server, activity_types
from oakallow import Client

README = Path(__file__).resolve().parents[1] / "README.md"


def quick_start() -> str:
    """The first ```python block under "## Quick start"."""
    section = README.read_text(encoding="utf-8").split("## Quick start", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "no python block under ## Quick start"
    return match.group(1)


def test_quick_start_runs_verbatim(server: Server, admin: Client, make_tool: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    code = quick_start()
    assert len(code.strip().splitlines()) <= 5
    tool = re.search(r'guard\(tool="([^"]+)"', code)
    assert tool, "the example guards a named tool"
    with contextlib.suppress(Exception):
        make_tool(tool.group(1), "allowed")  # the name is fixed, so it may exist already
    before = activity_types(admin, tool.group(1)).count("execution.logged")
    monkeypatch.setenv("OAKALLOW_URL", server.url)
    monkeypatch.setenv("OAKALLOW_KEY", server.standard_key)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(README), "exec"), {"__name__": "readme"})
    assert out.getvalue().strip() == "refunded order-42"
    types = activity_types(admin, tool.group(1))
    assert "permission.checked" in types and types.count("execution.logged") == before + 1
