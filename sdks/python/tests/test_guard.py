"""The sync guard against a real server: allowed, disabled, approved, denied, and the trail."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from conftest import activity_types
from oakallow import ApprovalDenied, ApprovalTimeout, Client, GuardDisabled, ToolDisabled


def decide_in_background(approver: Client, decision: str, note: str) -> tuple[threading.Thread, dict[str, Any], Any]:
    """Decides, from another thread, the approval the guard announces through ``on_approval``:
    answers the thread, what it saw, and the callback to give the guard."""
    seen: dict[str, Any] = {}
    created = threading.Event()

    def on_approval(approval: dict[str, Any]) -> None:
        seen["approval"] = approval
        created.set()

    def run() -> None:
        assert created.wait(timeout=20), "the guard asked for no approval"
        seen["decided"] = approver.decide(seen["approval"]["id"], decision, decided_by="sdk-test", note=note)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, seen, on_approval


def test_allowed_tool_runs_and_is_logged(agent: Client, admin: Client, make_tool: Any, tool_name: str) -> None:
    make_tool(tool_name, "allowed")

    @agent.guard(tool=tool_name)
    def refund(order: str, amount: int = 0) -> str:
        return f"refunded {order} {amount}"

    assert refund("o-1", amount=5) == "refunded o-1 5"
    types = activity_types(admin, tool_name)
    assert ["permission.checked", "token.minted", "execution.logged"] == [t for t in types if t != "params.validated"]
    execution = admin.list_activity(tool=tool_name, type="execution.logged")["data"][0]
    assert execution["result"] == "success"
    assert execution["params"] == {"order": "o-1", "amount": 5}
    assert execution["token_jti"]


def test_disabled_tool_never_runs(agent: Client, admin: Client, make_tool: Any, tool_name: str) -> None:
    make_tool(tool_name, "disabled")
    calls: list[int] = []

    @agent.guard(tool=tool_name)
    def dangerous(x: int) -> None:
        calls.append(x)

    with pytest.raises(ToolDisabled) as raised:
        dangerous(1)
    assert calls == []
    assert isinstance(raised.value, GuardDisabled)
    assert raised.value.check_id and raised.value.check_id.startswith("chk_")
    assert "execution.logged" not in activity_types(admin, tool_name)


def test_waits_for_an_approval_then_runs(
    agent: Client, approver: Client, admin: Client, make_tool: Any, tool_name: str
) -> None:
    make_tool(tool_name, "requires_approval")
    thread, seen, on_approval = decide_in_background(approver, "approved", "fine")

    @agent.guard(tool=tool_name, tenant=None, reason="customer asked", params_from=lambda order, **_: {"order": order},
                 on_approval=on_approval)
    def refund(order: str, note: str = "") -> str:
        return f"refunded {order}"

    assert refund("o-2", note="ignored") == "refunded o-2"
    thread.join(timeout=30)
    assert seen["decided"]["status"] == "approved"
    assert seen["approval"]["reason"] == "customer asked"
    assert seen["approval"]["params"] == {"order": "o-2"}
    types = activity_types(admin, tool_name)
    for expected in ("permission.checked", "approval.created", "approval.decided", "token.minted", "execution.logged"):
        assert expected in types, types
    assert types.index("approval.decided") < types.index("token.minted") < types.index("execution.logged")


def test_denied_approval_raises_with_note_and_reference(
    agent: Client, approver: Client, admin: Client, make_tool: Any, tool_name: str
) -> None:
    make_tool(tool_name, "requires_approval")
    thread, seen, on_approval = decide_in_background(approver, "denied", "not today")
    calls: list[str] = []

    @agent.guard(tool=tool_name, on_approval=on_approval)
    def refund(order: str) -> None:
        calls.append(order)

    with pytest.raises(ApprovalDenied) as raised:
        refund(order="o-3")
    thread.join(timeout=30)
    assert calls == []
    error = raised.value
    assert error.note == "not today" and "not today" in str(error)
    assert error.reference == seen["approval"]["reference"] and error.reference in str(error)
    assert error.approval_id == seen["approval"]["id"]
    assert error.check_id and error.check_id.startswith("chk_")
    types = activity_types(admin, tool_name)
    assert "approval.decided" in types and "token.minted" not in types and "execution.logged" not in types


def test_max_wait_cancels_the_approval(agent: Client, admin: Client, make_tool: Any, tool_name: str) -> None:
    make_tool(tool_name, "requires_approval")

    @agent.guard(tool=tool_name, max_wait=1)
    def refund() -> None:
        raise AssertionError("must not run")

    with pytest.raises(ApprovalTimeout) as raised:
        refund()
    assert raised.value.approval_status == "cancelled"
    assert "approval.cancelled" in activity_types(admin, tool_name)


def test_context_manager_logs_a_failure_and_reraises(
    agent: Client, admin: Client, make_tool: Any, tool_name: str
) -> None:
    make_tool(tool_name, "allowed")
    with pytest.raises(RuntimeError, match="boom"):
        with agent.guard(tool_name, params={"b": [1, 2.0], "a": "é"}) as auth:
            assert auth.token.startswith("oak_tok_")
            raise RuntimeError("boom")
    execution = admin.list_activity(tool=tool_name, type="execution.logged")["data"][0]
    assert execution["result"] == "failed"
    assert execution["details"]["error"] == "RuntimeError: boom"
    assert execution["details"]["authorized"] is True
