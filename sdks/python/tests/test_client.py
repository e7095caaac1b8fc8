"""The client's endpoints and typed errors against the real server; the retry policy with a mock transport."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from conftest import Server
from oakallow import (
    ApprovalNotPending,
    Client,
    Conflict,
    ForbiddenTier,
    InvalidParams,
    InvalidRequest,
    NotAuthorized,
    NotFound,
    RateLimited,
    TokenUsed,
    ToolDisabled,
    ToolNotFound,
    TransportError,
    Unauthenticated,
    Unavailable,
)


def test_typed_errors(server: Server, agent: Client, admin: Client, approver: Client, make_tool: Any, tool_name: str) -> None:
    with pytest.raises(Unauthenticated) as raised, Client(server.url, "oak_live_wrong") as stranger:
        stranger.check("x")
    assert raised.value.status == 401 and raised.value.code == "unauthenticated" and raised.value.request_id
    with pytest.raises(ForbiddenTier):
        admin.check("x")
    with pytest.raises(NotFound):
        admin.tools.get("tool_doesnotexist")
    with pytest.raises(ToolNotFound):
        agent.validate(tool_name, {})
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    make_tool(tool_name, "allowed", parameters_schema=schema)
    with pytest.raises(InvalidParams) as invalid:
        agent.check(tool_name, params={"n": "one"})
    assert invalid.value.status == 422 and invalid.value.details["errors"]
    with pytest.raises(Conflict):
        admin.tools.create(name=tool_name)
    with pytest.raises(InvalidRequest):
        agent.check(tool_name, params={"n": 1}, context=[1])  # type: ignore[arg-type]
    with pytest.raises(NotAuthorized) as refused:
        agent.mint_token(check_id="chk_doesnotexist")
    assert refused.value.details["reason"] == "unknown_check"
    make_tool(tool_name + "_off", "disabled")
    with pytest.raises(ToolDisabled):
        agent.request_approval(tool_name + "_off", "why not")


def test_runtime_round_trip(agent: Client, approver: Client, make_tool: Any, tool_name: str) -> None:
    make_tool(tool_name, "requires_approval")
    params = {"order": "o-9"}
    check = agent.check(tool_name, params=params, mint_token=True)
    assert check["permission"] == "requires_approval" and check["token"] is None
    approval = agent.request_approval(tool_name, "please", params=params, check_id=check["check_id"],
                                      idempotency_key=f"k-{tool_name}")
    again = agent.request_approval(tool_name, "please", params=params, check_id=check["check_id"],
                                   idempotency_key=f"k-{tool_name}")
    assert again["id"] == approval["id"] and approval["status"] == "pending"
    approver.decide(approval["id"], "approved", decided_by="tester")
    assert agent.wait_for_approval(approval["id"], timeout=5)["status"] == "approved"
    with pytest.raises(ApprovalNotPending):
        agent.cancel_approval(approval["id"])
    minted = agent.mint_token(approval_id=approval["id"], ttl_seconds=60)
    verdict = agent.verify_token(minted["token"], tool=tool_name, params=params, consume=False)
    assert verdict["valid"] is True and verdict["claims"]["src"] == approval["id"]
    logged = agent.log_execution(tool_name, token=minted["token"], params=params, result="success", duration_ms=3)
    assert logged["authorized"] is True and logged["token_jti"] == minted["claims"]["jti"]
    with pytest.raises(TokenUsed):
        agent.log_execution(tool_name, token=minted["token"], params=params, result="success", duration_ms=3)


def test_management(admin: Client, agent: Client, tool_name: str) -> None:
    created = admin.collection("tools").create({"name": tool_name}, description="first")
    assert admin.tools.get(created["id"])["description"] == "first"
    assert admin.tools.update(created["id"], description="second")["description"] == "second"
    assert any(t["id"] == created["id"] for t in admin.list_all("tools", limit=1))
    assert admin.rules.list(limit=1).keys() >= {"data", "next_cursor"}
    policy = admin.export_policy()
    assert "tools" in policy
    dry = admin.apply_policy(policy, dry_run=True)
    assert dry["applied"] is False and dry["diff"]["created"] == []
    assert admin.tools.delete(created["id"]) is None
    assert admin.verify_activity()["valid"] is True
    assert admin.get_org()["token_signing"] in ("hmac-sha256", "ed25519")
    assert '"type"' in admin.export_activity().splitlines()[0]
    assert admin.export_activity(format="cef").splitlines()[0].startswith("CEF:0|oakallow|oakallow|")
    agent.check(tool_name)  # at least one recorded check that the candidate changes
    rules = admin.rules.list(limit=500)["data"]
    simulated = agent.simulate_policy({"rules": [{"permission": "disabled"}]}, limit=3)
    assert simulated["checks"] > 0 and sum(t["count"] for t in simulated["transitions"]) == simulated["checks"]
    assert simulated["changed"] > 0 and 0 < len(simulated["changes"]) <= 3
    assert all(c["after"]["permission"] == "disabled" for c in simulated["changes"])
    assert admin.rules.list(limit=500)["data"] == rules, "a simulation applies nothing"
    slack = {"bot_token": "xoxb-sdk", "channel": "C0SDK", "signing_secret": "sdk-secret"}
    channels = admin.update_notification_channels(slack=slack)
    assert channels["slack"] == {"mode": "bot", "channel": "C0SDK"} and "xoxb-sdk" not in str(channels)
    assert admin.get_notification_channels()["slack_interactions_url"].endswith("/interactions")
    assert admin.update_notification_channels(slack=None)["slack"] is None
    with pytest.raises(NotFound):
        admin.unlink_slack_user("T0SDK", "U0NOBODY")
    key = admin.keys.create(name=f"key-{tool_name}", tier="standard")
    assert key["key"].startswith("oak_live_") and key["tier"] == "standard"
    assert admin.keys.delete(key["id"])["id"] == key["id"]  # revokes
    with pytest.raises(Unauthenticated), Client(admin.url, key["key"]) as revoked:
        revoked.check(tool_name)
    discovered = agent.discover([{"name": tool_name + "_up"}])
    assert [t["name"] for t in discovered["tools"]] == [tool_name + "_up"]


def mock_client(statuses: list[int], seen: list[httpx.Request], headers: dict[str, str] | None = None) -> Client:
    """A client whose server answers the given statuses in turn."""
    answers = iter(statuses)

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        status = next(answers)
        if status == 0:
            raise httpx.ConnectError("refused", request=request)
        if status >= 400:
            body = {"error": {"code": {429: "rate_limited", 503: "unavailable"}.get(status, "internal"), "message": "x", "details": {}}}
            return httpx.Response(status, json=body, headers=headers or {})
        return httpx.Response(status, json={"id": "apr_1", "status": "pending", "check_id": "chk_1", "permission": "allowed"})

    return Client("http://oakallow.test", "k", transport=httpx.MockTransport(handle), backoff=0.001, max_backoff=0.01)


def test_request_approval_retries_with_the_same_idempotency_key() -> None:
    seen: list[httpx.Request] = []
    assert mock_client([503, 0, 201], seen).request_approval("t", "why")["id"] == "apr_1"
    keys = {r.headers["Idempotency-Key"] for r in seen}
    assert len(seen) == 3 and len(keys) == 1 and keys.pop().startswith("oakallow-py-")
    seen.clear()
    mock_client([201], seen).request_approval("t", "why")
    mock_client([201], seen).request_approval("t", "why")
    assert seen[0].headers["Idempotency-Key"] != seen[1].headers["Idempotency-Key"]


@pytest.mark.parametrize("call", [
    lambda c: c.check("t"),
    lambda c: c.log_execution("t", result="success", duration_ms=1),
    lambda c: c.mint_token(check_id="chk_1"),
    lambda c: c.decide("apr_1", "approved", decided_by="me"),
])
def test_non_idempotent_posts_are_never_retried(call: Any) -> None:
    seen: list[httpx.Request] = []
    with pytest.raises(Unavailable):
        call(mock_client([503, 200], seen))
    assert len(seen) == 1
    seen.clear()
    with pytest.raises(TransportError):
        call(mock_client([0, 200], seen))
    assert len(seen) == 1


def test_gets_retry_and_honour_retry_after() -> None:
    seen: list[httpx.Request] = []
    client = mock_client([429, 502, 504, 200], seen, headers={"Retry-After": "0"})
    assert client.get_approval("apr_1")["status"] == "pending"
    assert len(seen) == 4
    seen.clear()
    with pytest.raises(RateLimited) as raised:
        mock_client([429] * 4, seen, headers={"Retry-After": "0"}).get_org()
    assert raised.value.retry_after == 0 and len(seen) == 4
