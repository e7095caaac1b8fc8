"""``guard``: check → (approval → wait) → token → run → log the execution, sync and async."""

from __future__ import annotations

import asyncio
import functools
import inspect
import time
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Mapping, TypeVar

from .errors import (
    ApprovalCancelled,
    ApprovalDenied,
    ApprovalExpired,
    ApprovalNotPending,
    ApprovalTimeout,
    GuardDisabled,
    GuardError,
    OakallowError,
)

if TYPE_CHECKING:
    from .client import AsyncClient, Client

F = TypeVar("F", bound=Callable[..., Any])
ParamsFrom = Callable[..., Mapping[str, Any] | None]
ERROR_TEXT_LIMIT = 1000


@dataclass
class Authorization:
    """What the guard obtained for one call. Set ``output`` to log it with the execution."""

    tool: str
    params: dict[str, Any] | None
    tenant: str | None
    resource: str | None
    method: str | None
    check_id: str
    token: str
    approval: dict[str, Any] | None = None
    output: Any = None
    started: float = field(default=0.0, repr=False)


def default_params(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """The call's arguments by parameter name, as passed (defaults not filled in, ``self``/``cls``
    left out, ``**kwargs`` merged in, ``*args`` as a list under its name)."""
    bound = inspect.signature(fn).bind(*args, **kwargs)
    params: dict[str, Any] = {}
    for name, value in bound.arguments.items():
        kind = bound.signature.parameters[name].kind
        if name in ("self", "cls"):
            continue
        if kind is inspect.Parameter.VAR_KEYWORD:
            params.update(value)
        elif kind is inspect.Parameter.VAR_POSITIONAL:
            params[name] = list(value)
        else:
            params[name] = value
    return params


def _refusal(approval: Mapping[str, Any], tool: str, check_id: str, timed_out: bool) -> GuardError:
    """The exception for an approval that did not end ``approved`` (``timed_out``: the guard gave up)."""
    status, ref = approval.get("status"), approval.get("reference")
    note = f": {approval['note']}" if approval.get("note") else ""
    kinds: dict[str, type[GuardError]] = {
        "denied": ApprovalDenied, "expired": ApprovalExpired, "cancelled": ApprovalCancelled,
    }
    cls = ApprovalTimeout if timed_out else kinds.get(str(status), ApprovalTimeout)
    message = f"approval {ref} for {tool!r} is {status}{note}"
    return cls(message, tool=tool, check_id=check_id, approval=approval)


def _execution(auth: Authorization, error: BaseException | None, log_output: bool) -> dict[str, Any]:
    """The ``log_execution`` arguments for a finished call."""
    body: dict[str, Any] = {
        "token": auth.token, "tenant": auth.tenant, "resource": auth.resource, "method": auth.method,
        "params": auth.params, "duration_ms": max(0, int((time.monotonic() - auth.started) * 1000)),
        "result": "success" if error is None else "failed",
    }
    if error is not None:
        body["error"] = f"{type(error).__name__}: {error}"[:ERROR_TEXT_LIMIT] or type(error).__name__
    elif log_output and auth.output is not None:
        body["output"] = auth.output
    return body


class _GuardBase:
    """Configuration shared by the sync and async guards."""

    def __init__(
        self,
        tool: str,
        *,
        tenant: str | None = None,
        resource: str | None = None,
        method: str | None = None,
        params: Mapping[str, Any] | None = None,
        params_from: ParamsFrom | None = None,
        reason: str | None = None,
        context: Mapping[str, Any] | None = None,
        reference_id: str | None = None,
        max_wait: float | None = None,
        approval_timeout_seconds: int | None = None,
        log_output: bool = False,
        on_approval: Callable[[dict[str, Any]], Any] | None = None,
    ) -> None:
        self.tool, self.tenant, self.resource, self.method = tool, tenant, resource, method
        self.params = dict(params) if params is not None else None
        self.params_from = params_from
        self.reason = reason or f"The agent asks to run the tool {tool!r}."
        self.context, self.reference_id = context, reference_id
        self.max_wait, self.approval_timeout_seconds = max_wait, approval_timeout_seconds
        self.log_output = log_output
        self.on_approval = on_approval
        self._current: list[Authorization] = []

    def _params_for(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any] | None:
        if self.params_from is not None:
            params = self.params_from(*args, **kwargs)
            return dict(params) if params is not None else None
        return default_params(fn, args, kwargs)

    def _scope(self, params: Mapping[str, Any] | None) -> dict[str, Any]:
        return {"tenant": self.tenant, "resource": self.resource, "method": self.method, "params": params}

    def _authorization(self, params: Any, check_id: str, token: str, approval: Any = None) -> Authorization:
        return Authorization(self.tool, params, self.tenant, self.resource, self.method, check_id, token,
                             approval, started=time.monotonic())


class Guard(_GuardBase):
    """Sync guard: a decorator (``@client.guard(...)``) and a context manager (``with client.guard(...) as auth``)."""

    def __init__(self, client: "Client", tool: str, **options: Any) -> None:
        super().__init__(tool, **options)
        self.client = client

    def authorize(self, params: Mapping[str, Any] | None) -> Authorization:
        """Check, and if needed ask for and wait for an approval; answer the token. Raises ``GuardError``."""
        params = dict(params) if params is not None else None
        scope = self._scope(params)
        check = self.client.check(self.tool, **scope, context=self.context, reference_id=self.reference_id,
                                  mint_token=True)
        check_id = check["check_id"]
        if check["permission"] == "allowed":
            token = check.get("token") or self.client.mint_token(check_id=check_id)["token"]
            return self._authorization(params, check_id, token)
        if check["permission"] == "disabled":
            raise GuardDisabled(f"tool {self.tool!r} is disabled (check {check_id})", tool=self.tool, check_id=check_id)
        approval = self.client.request_approval(
            self.tool, self.reason, **scope, context=self.context, reference_id=self.reference_id,
            check_id=check_id, timeout_seconds=self.approval_timeout_seconds)
        if self.on_approval is not None:
            self.on_approval(approval)
        waited = self.client.wait_for_approval(approval["id"], timeout=self.max_wait)
        approval = self._settle(waited)
        if approval["status"] != "approved":
            raise _refusal(approval, self.tool, check_id, timed_out=waited["status"] == "pending")
        token = self.client.mint_token(approval_id=approval["id"])["token"]
        return self._authorization(params, check_id, token, approval)

    def _settle(self, approval: dict[str, Any]) -> dict[str, Any]:
        """A still-pending approval is cancelled (nobody will wait for it) and read again."""
        if approval["status"] != "pending":
            return approval
        try:
            settled: dict[str, Any] = self.client.cancel_approval(approval["id"])
        except ApprovalNotPending:
            settled = self.client.get_approval(approval["id"])
        return settled

    def finish(self, auth: Authorization, error: BaseException | None = None) -> None:
        """Log the execution; a failure to log only warns (the call has run)."""
        try:
            self.client.log_execution(self.tool, **_execution(auth, error, self.log_output))
        except OakallowError as exc:
            warnings.warn(f"oakallow: could not log the execution of {self.tool!r}: {exc}", stacklevel=3)

    def __call__(self, fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            auth = self.authorize(self._params_for(fn, args, kwargs))
            try:
                auth.output = fn(*args, **kwargs)
            except BaseException as exc:
                self.finish(auth, exc)
                raise
            self.finish(auth)
            return auth.output

        return wrapper  # type: ignore[return-value]

    def __enter__(self) -> Authorization:
        auth = self.authorize(self.params)
        self._current.append(auth)
        return auth

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        self.finish(self._current.pop(), exc)


class AsyncGuard(_GuardBase):
    """Async guard: decorates ``async def`` functions and works with ``async with``."""

    def __init__(self, client: "AsyncClient", tool: str, **options: Any) -> None:
        super().__init__(tool, **options)
        self.client = client

    async def authorize(self, params: Mapping[str, Any] | None) -> Authorization:
        """Check, and if needed ask for and wait for an approval; answer the token. Raises ``GuardError``."""
        params = dict(params) if params is not None else None
        scope = self._scope(params)
        check = await self.client.check(self.tool, **scope, context=self.context, reference_id=self.reference_id,
                                        mint_token=True)
        check_id = check["check_id"]
        if check["permission"] == "allowed":
            token = check.get("token") or (await self.client.mint_token(check_id=check_id))["token"]
            return self._authorization(params, check_id, token)
        if check["permission"] == "disabled":
            raise GuardDisabled(f"tool {self.tool!r} is disabled (check {check_id})", tool=self.tool, check_id=check_id)
        approval = await self.client.request_approval(
            self.tool, self.reason, **scope, context=self.context, reference_id=self.reference_id,
            check_id=check_id, timeout_seconds=self.approval_timeout_seconds)
        if self.on_approval is not None:
            self.on_approval(approval)
        try:
            waited = await self.client.wait_for_approval(approval["id"], timeout=self.max_wait)
        except asyncio.CancelledError:
            await asyncio.shield(self._settle({**approval, "status": "pending"}))
            raise
        approval = await self._settle(waited)
        if approval["status"] != "approved":
            raise _refusal(approval, self.tool, check_id, timed_out=waited["status"] == "pending")
        token = (await self.client.mint_token(approval_id=approval["id"]))["token"]
        return self._authorization(params, check_id, token, approval)

    async def _settle(self, approval: dict[str, Any]) -> dict[str, Any]:
        """A still-pending approval is cancelled (nobody will wait for it) and read again."""
        if approval["status"] != "pending":
            return approval
        try:
            settled: dict[str, Any] = await self.client.cancel_approval(approval["id"])
        except ApprovalNotPending:
            settled = await self.client.get_approval(approval["id"])
        return settled

    async def finish(self, auth: Authorization, error: BaseException | None = None) -> None:
        """Log the execution; a failure to log only warns (the call has run)."""
        try:
            await self.client.log_execution(self.tool, **_execution(auth, error, self.log_output))
        except OakallowError as exc:
            warnings.warn(f"oakallow: could not log the execution of {self.tool!r}: {exc}", stacklevel=3)

    def __call__(self, fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        if not inspect.iscoroutinefunction(fn):
            raise TypeError("AsyncClient.guard decorates async functions; use Client.guard for sync ones")

        @functools.wraps(fn)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            auth = await self.authorize(self._params_for(fn, args, kwargs))
            try:
                auth.output = await fn(*args, **kwargs)
            except BaseException as exc:
                await self.finish(auth, exc)
                raise
            await self.finish(auth)
            return auth.output

        return wrapper

    async def __aenter__(self) -> Authorization:
        auth = await self.authorize(self.params)
        self._current.append(auth)
        return auth

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        await self.finish(self._current.pop(), exc)
