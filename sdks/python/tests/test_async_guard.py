"""The async guard against a real server (decorator and ``async with``)."""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator, Awaitable, Callable

import pytest

from conftest import Server, activity_types
from oakallow import ApprovalDenied, AsyncClient, Client, ToolDisabled


def run(coro_fn: Callable[[AsyncClient, AsyncClient], Awaitable[Any]], server: Server) -> Any:
    """Run ``coro_fn(agent, approver)`` on a fresh event loop with fresh async clients."""

    async def main() -> Any:
        async with AsyncClient(server.url, server.standard_key) as agent, \
                AsyncClient(server.url, server.approver_key) as approver:
            return await coro_fn(agent, approver)

    return asyncio.run(main())


async def decide_when_announced(approver: AsyncClient, announced: asyncio.Queue[dict[str, Any]], decision: str, note: str) -> dict[str, Any]:
    """Waits for the approval the guard announces (``on_approval``), then decides it."""
    approval = await asyncio.wait_for(announced.get(), timeout=20)
    return await approver.decide(approval["id"], decision, decided_by="sdk-async", note=note)


def test_async_allowed_and_disabled(server: Server, admin: Client, make_tool: Any, tool_name: str) -> None:
    make_tool(tool_name, "allowed")
    make_tool(tool_name + "_off", "disabled")
    calls: list[str] = []

    async def scenario(agent: AsyncClient, _: AsyncClient) -> Any:
        @agent.guard(tool=tool_name)
        async def ok(x: int) -> int:
            return x * 2

        @agent.guard(tool=tool_name + "_off")
        async def off() -> None:
            calls.append("ran")

        with pytest.raises(ToolDisabled):
            await off()
        async with agent.guard(tool_name, params={"x": 1}) as auth:
            assert auth.token.startswith("oak_tok_")
        return await ok(21)

    assert run(scenario, server) == 42
    assert calls == []
    types = activity_types(admin, tool_name)
    assert types.count("execution.logged") == 2 and types.count("token.minted") == 2
    assert "execution.logged" not in activity_types(admin, tool_name + "_off")


def test_async_approval_approved_then_denied(server: Server, admin: Client, make_tool: Any, tool_name: str) -> None:
    make_tool(tool_name, "requires_approval")

    async def scenario(agent: AsyncClient, approver: AsyncClient) -> Any:
        announced: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

        @agent.guard(tool=tool_name, reason="async test", on_approval=announced.put_nowait)
        async def refund(order: str) -> str:
            return f"refunded {order}"

        result, decided = await asyncio.gather(refund(order="a-1"), decide_when_announced(approver, announced, "approved", "ok"))
        assert decided["status"] == "approved"
        denial = asyncio.ensure_future(decide_when_announced(approver, announced, "denied", "no way"))
        with pytest.raises(ApprovalDenied) as raised:
            await refund(order="a-2")
        await denial
        assert raised.value.note == "no way" and raised.value.reference
        return result

    assert run(scenario, server) == "refunded a-1"
    types = activity_types(admin, tool_name)
    for expected in ("permission.checked", "approval.created", "approval.decided", "token.minted", "execution.logged"):
        assert expected in types
    assert types.count("execution.logged") == 1
