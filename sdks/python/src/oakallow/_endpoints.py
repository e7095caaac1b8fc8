"""Every endpoint once, as a method that builds a ``Request`` and hands it to ``_send``.

``Client._send`` answers the value and ``AsyncClient._send`` an awaitable of it, so the same
methods serve both clients.
"""

from __future__ import annotations

import uuid
from urllib.parse import quote
from typing import Any, Generic, Mapping, TypeVar

from ._http import Request, clean

R = TypeVar("R")
Json = dict[str, Any]

MANAGEMENT_COLLECTIONS = ("tools", "categories", "tenants", "resources", "methods", "rules", "keys")


class Collection(Generic[R]):
    """A management collection (``/v1/tools``, ``/v1/rules``, ...): list, create, get, update, delete."""

    def __init__(self, owner: "Endpoints[R]", name: str) -> None:
        self._owner = owner
        self.path = f"/v1/{name}"

    def list(self, *, limit: int | None = None, cursor: str | None = None) -> R:
        """One page: ``{data, next_cursor}``."""
        return self._owner._send(Request("GET", self.path, params=clean({"limit": limit, "cursor": cursor}), retry=True))

    def create(self, body: Mapping[str, Any] | None = None, **fields: Any) -> R:
        """Create an object from ``body`` and/or keyword fields."""
        return self._owner._send(Request("POST", self.path, json={**(body or {}), **fields}))

    def get(self, id: str) -> R:
        """One object by id."""
        return self._owner._send(Request("GET", f"{self.path}/{id}", retry=True))

    def update(self, id: str, body: Mapping[str, Any] | None = None, **fields: Any) -> R:
        """PATCH: replace the given fields (``None`` resets one)."""
        return self._owner._send(Request("PATCH", f"{self.path}/{id}", json={**(body or {}), **fields}))

    def delete(self, id: str, *, cascade: bool = False) -> R:
        """Delete (``cascade=True`` also deletes the rules naming it)."""
        params = {"cascade": "true"} if cascade else None
        return self._owner._send(Request("DELETE", f"{self.path}/{id}", params=params, retry=True))


class Endpoints(Generic[R]):
    """The API surface shared by ``Client`` and ``AsyncClient``."""

    def _send(self, request: Request) -> R:  # pragma: no cover - implemented by the clients
        raise NotImplementedError

    # --- runtime (standard key) ---

    def check(
        self,
        tool: str,
        *,
        tenant: str | None = None,
        resource: str | None = None,
        method: str | None = None,
        params: Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None,
        reference_id: str | None = None,
        mint_token: bool = False,
    ) -> R:
        """``POST /v1/check`` (never retried): ``{check_id, permission, token?, ...}``."""
        body = clean({"tool": tool, "tenant": tenant, "resource": resource, "method": method, "params": params,
                      "context": context, "reference_id": reference_id})
        if mint_token:
            body["mint_token"] = True
        return self._send(Request("POST", "/v1/check", json=body))

    def validate(self, tool: str, params: Mapping[str, Any]) -> R:
        """``POST /v1/validate``: params against the tool's schema."""
        return self._send(Request("POST", "/v1/validate", json={"tool": tool, "params": params}))

    def discover(self, tools: list[Mapping[str, Any]], *, tenant: str | None = None) -> R:
        """``POST /v1/tools/discover``: report the tools an upstream lists."""
        return self._send(Request("POST", "/v1/tools/discover", json=clean({"tools": tools, "tenant": tenant})))

    def request_approval(
        self,
        tool: str,
        reason: str,
        *,
        tenant: str | None = None,
        resource: str | None = None,
        method: str | None = None,
        params: Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None,
        reference_id: str | None = None,
        check_id: str | None = None,
        timeout_seconds: int | None = None,
        idempotency_key: str | None = None,
    ) -> R:
        """``POST /v1/approvals`` with an ``Idempotency-Key`` (generated unless given), so it is retried safely."""
        body = clean({"tool": tool, "reason": reason, "tenant": tenant, "resource": resource, "method": method,
                      "params": params, "context": context, "reference_id": reference_id, "check_id": check_id,
                      "timeout_seconds": timeout_seconds})
        headers = {"Idempotency-Key": idempotency_key or f"oakallow-py-{uuid.uuid4()}"}
        return self._send(Request("POST", "/v1/approvals", json=body, headers=headers, retry=True))

    def get_approval(self, id: str, *, wait: int | None = None) -> R:
        """``GET /v1/approvals/{id}``; ``wait`` (≤ 60 s) long-polls until it leaves ``pending``."""
        params = {"wait": wait} if wait else None
        timeout = (wait + 30.0) if wait else None
        return self._send(Request("GET", f"/v1/approvals/{id}", params=params, retry=True, timeout=timeout))

    def list_approvals(
        self, *, status: str | None = None, tool: str | None = None, tenant: str | None = None,
        limit: int | None = None, cursor: str | None = None,
    ) -> R:
        """``GET /v1/approvals``: one page."""
        params = clean({"status": status, "tool": tool, "tenant": tenant, "limit": limit, "cursor": cursor})
        return self._send(Request("GET", "/v1/approvals", params=params, retry=True))

    def decide(self, id: str, decision: str, *, decided_by: str, note: str | None = None) -> R:
        """``POST /v1/approvals/{id}/decide`` (approver key; never retried)."""
        body = clean({"decision": decision, "decided_by": decided_by, "note": note})
        return self._send(Request("POST", f"/v1/approvals/{id}/decide", json=body))

    def cancel_approval(self, id: str) -> R:
        """``POST /v1/approvals/{id}/cancel``."""
        return self._send(Request("POST", f"/v1/approvals/{id}/cancel"))

    def mint_token(
        self, *, check_id: str | None = None, approval_id: str | None = None, ttl_seconds: int | None = None
    ) -> R:
        """``POST /v1/tokens`` from an allowed check or an approved approval: ``{token, claims, expires_at}``."""
        if (check_id is None) == (approval_id is None):
            raise ValueError("give exactly one of check_id and approval_id")
        body = clean({"check_id": check_id, "approval_id": approval_id, "ttl_seconds": ttl_seconds})
        return self._send(Request("POST", "/v1/tokens", json=body))

    def verify_token(
        self,
        token: str,
        *,
        tool: str | None = None,
        tenant: str | None = None,
        resource: str | None = None,
        method: str | None = None,
        params: Mapping[str, Any] | None = None,
        consume: bool = True,
    ) -> R:
        """``POST /v1/tokens/verify``: ``{valid, reason, claims}``; consumes the token by default."""
        body = clean({"token": token, "tool": tool, "tenant": tenant, "resource": resource, "method": method,
                      "params": params})
        body["consume"] = consume
        return self._send(Request("POST", "/v1/tokens/verify", json=body))

    def log_execution(
        self,
        tool: str,
        *,
        result: str,
        duration_ms: int,
        token: str | None = None,
        tenant: str | None = None,
        resource: str | None = None,
        method: str | None = None,
        params: Mapping[str, Any] | None = None,
        output: Any = None,
        error: str | None = None,
    ) -> R:
        """``POST /v1/executions``; ``result`` is ``success``, ``failed`` or ``error`` (never retried)."""
        body = clean({"token": token, "tool": tool, "tenant": tenant, "resource": resource, "method": method,
                      "params": params, "result": result, "duration_ms": duration_ms, "output": output,
                      "error": error})
        return self._send(Request("POST", "/v1/executions", json=body))

    def signing_keys(self) -> R:
        """``GET /v1/signing-keys``: ``{keys: [{kid, alg, public_key}]}`` for offline Ed25519 checks."""
        return self._send(Request("GET", "/v1/signing-keys", retry=True))

    def health(self) -> R:
        """``GET /v1/health``."""
        return self._send(Request("GET", "/v1/health", retry=True))

    # --- management ---

    def collection(self, name: str) -> Collection[R]:
        """A management collection by name: ``tools``, ``categories``, ``tenants``, ``resources``, ``methods``, ``rules``, ``keys``."""
        if name not in MANAGEMENT_COLLECTIONS:
            raise ValueError(f"unknown collection {name!r}")
        return Collection(self, name)

    @property
    def tools(self) -> Collection[R]:
        """``/v1/tools``."""
        return Collection(self, "tools")

    @property
    def rules(self) -> Collection[R]:
        """``/v1/rules``."""
        return Collection(self, "rules")

    @property
    def keys(self) -> Collection[R]:
        """``/v1/keys`` (create answers the secret once; delete revokes)."""
        return Collection(self, "keys")

    def get_org(self) -> R:
        """``GET /v1/org``."""
        return self._send(Request("GET", "/v1/org", retry=True))

    def update_org(self, body: Mapping[str, Any] | None = None, **fields: Any) -> R:
        """``PATCH /v1/org`` (e.g. ``token_signing="ed25519"``; ``None`` resets a setting)."""
        return self._send(Request("PATCH", "/v1/org", json={**(body or {}), **fields}))

    def get_notification_channels(self) -> R:
        """``GET /v1/org/notifications``: Slack, PagerDuty and e-mail without their secrets, the
        Slack app's interactions URL, and the Slack users linked to accounts."""
        return self._send(Request("GET", "/v1/org/notifications", retry=True))

    def update_notification_channels(self, body: Mapping[str, Any] | None = None, **channels: Any) -> R:
        """``PATCH /v1/org/notifications``: ``slack=``, ``pagerduty=``, ``email=`` (a dict sets that
        channel whole, ``None`` removes it, a channel left out stays)."""
        return self._send(Request("PATCH", "/v1/org/notifications", json={**(body or {}), **channels}))

    def unlink_slack_user(self, team_id: str, user_id: str) -> R:
        """``DELETE /v1/org/notifications/slack-links/{team_id}/{user_id}`` (answers ``None``)."""
        path = f"/v1/org/notifications/slack-links/{quote(team_id, safe='')}/{quote(user_id, safe='')}"
        return self._send(Request("DELETE", path, retry=True))

    def apply_policy(self, document: Mapping[str, Any], *, dry_run: bool = False) -> R:
        """``PUT /v1/policy``: ``{applied, diff}``; idempotent, so retried."""
        params = {"dry_run": "true"} if dry_run else None
        return self._send(Request("PUT", "/v1/policy", json=document, params=params, retry=True))

    def export_policy(self) -> R:
        """``GET /v1/policy``: the policy document."""
        return self._send(Request("GET", "/v1/policy", retry=True))

    def simulate_policy(
        self,
        document: Mapping[str, Any],
        *,
        since: str | None = None,
        until: str | None = None,
        limit: int | None = None,
    ) -> R:
        """``POST /v1/policy/simulate``: the recorded checks in the window decided again under
        ``document`` (nothing is applied): ``{checks, changed, transitions, changes, ...}``.
        It writes nothing, so it is retried."""
        body = clean({"policy": document, "since": since, "until": until, "limit": limit})
        return self._send(Request("POST", "/v1/policy/simulate", json=body, retry=True))

    def list_activity(
        self,
        *,
        type: str | None = None,
        tool: str | None = None,
        tenant: str | None = None,
        permission: str | None = None,
        result: str | None = None,
        since: str | None = None,
        until: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> R:
        """``GET /v1/activity``: one page, newest first."""
        params = clean({"type": type, "tool": tool, "tenant": tenant, "permission": permission, "result": result,
                        "since": since, "until": until, "limit": limit, "cursor": cursor})
        return self._send(Request("GET", "/v1/activity", params=params, retry=True))

    def verify_activity(self) -> R:
        """``GET /v1/activity/verify``: ``{valid, entries, head_hash, first_broken}``."""
        return self._send(Request("GET", "/v1/activity/verify", retry=True))

    def export_activity(self, *, format: str = "jsonl", since: str | None = None, until: str | None = None) -> R:
        """``GET /v1/activity/export``: the text (``jsonl``, ``csv``, or ``cef`` for SIEMs), oldest first."""
        params = clean({"format": format, "since": since, "until": until})
        return self._send(Request("GET", "/v1/activity/export", params=params, retry=True, raw=True))
