"""Typed errors: one class per oakallow error code, plus transport and guard errors."""

from __future__ import annotations

from typing import Any, Mapping


class OakallowError(Exception):
    """An error answer from oakallow: HTTP ``status`` and the body's ``code``, ``message``, ``details``."""

    code: str = ""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Mapping[str, Any] | None = None,
        *,
        request_id: str | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details: dict[str, Any] = dict(details or {})
        self.request_id = request_id


class InvalidRequest(OakallowError):
    """400 ``invalid_request``."""


class Unauthenticated(OakallowError):
    """401 ``unauthenticated``."""


class InsufficientCredits(OakallowError):
    """402 ``insufficient_credits``."""


class ForbiddenTier(OakallowError):
    """403 ``forbidden_tier``."""


class ToolDisabled(OakallowError):
    """403 ``tool_disabled`` (also raised by ``guard`` when a check answers ``disabled``)."""


class NotFound(OakallowError):
    """404 ``not_found``."""


class ToolNotFound(NotFound):
    """404 ``tool_not_found``."""


class MethodNotAllowed(OakallowError):
    """405 ``method_not_allowed``."""


class Conflict(OakallowError):
    """409 ``conflict``."""


class ApprovalNotPending(Conflict):
    """409 ``approval_not_pending`` (``details.status``)."""


class TokenUsed(Conflict):
    """409 ``token_used``."""


class NotAuthorized(Conflict):
    """409 ``not_authorized`` (``details.reason``)."""


class PayloadTooLarge(OakallowError):
    """413 ``payload_too_large``."""


class InvalidParams(OakallowError):
    """422 ``invalid_params`` (``details.errors`` lists ``{path, message}``)."""


class RateLimited(OakallowError):
    """429 ``rate_limited``; ``retry_after`` is in seconds (from ``Retry-After``)."""

    def __init__(self, *args: Any, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if retry_after is None:
            retry_after = self.details.get("retry_after_seconds")
        self.retry_after: float | None = float(retry_after) if retry_after is not None else None


class Internal(OakallowError):
    """500 ``internal``."""


class Unavailable(OakallowError):
    """503 ``unavailable``."""


class TransportError(OakallowError):
    """oakallow could not be reached or did not answer (no HTTP status: ``status`` is 0)."""

    def __init__(self, message: str) -> None:
        super().__init__(0, "transport", message)


ERRORS_BY_CODE: dict[str, type[OakallowError]] = {
    "invalid_request": InvalidRequest,
    "unauthenticated": Unauthenticated,
    "insufficient_credits": InsufficientCredits,
    "forbidden_tier": ForbiddenTier,
    "tool_disabled": ToolDisabled,
    "not_found": NotFound,
    "tool_not_found": ToolNotFound,
    "method_not_allowed": MethodNotAllowed,
    "conflict": Conflict,
    "approval_not_pending": ApprovalNotPending,
    "token_used": TokenUsed,
    "not_authorized": NotAuthorized,
    "payload_too_large": PayloadTooLarge,
    "invalid_params": InvalidParams,
    "rate_limited": RateLimited,
    "internal": Internal,
    "unavailable": Unavailable,
}


def error_from_response(
    status: int, body: Any, *, retry_after: str | None = None, request_id: str | None = None
) -> OakallowError:
    """The typed error for an error answer (any body; unknown codes give ``OakallowError``)."""
    detail = body.get("error") if isinstance(body, dict) else None
    if not isinstance(detail, dict):
        detail = {"code": f"http_{status}", "message": str(body)[:500], "details": {}}
    code = str(detail.get("code", f"http_{status}"))
    cls = ERRORS_BY_CODE.get(code, OakallowError)
    args = (status, code, str(detail.get("message", "")), detail.get("details") or {})
    if cls is RateLimited:
        return RateLimited(*args, retry_after=_seconds(retry_after), request_id=request_id)
    return cls(*args, request_id=request_id)


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class GuardError(Exception):
    """``guard`` refused to run the function. Carries the check and approval involved."""

    def __init__(
        self,
        message: str,
        *,
        tool: str,
        check_id: str | None = None,
        approval: Mapping[str, Any] | None = None,
    ) -> None:
        Exception.__init__(self, message)
        self.tool = tool
        self.check_id = check_id
        self.approval: dict[str, Any] | None = dict(approval) if approval else None
        self.approval_id: str | None = self.approval.get("id") if self.approval else None
        self.reference: str | None = self.approval.get("reference") if self.approval else None
        self.note: str | None = self.approval.get("note") if self.approval else None
        self.approval_status: str | None = self.approval.get("status") if self.approval else None


class GuardDisabled(GuardError, ToolDisabled):
    """The check answered ``disabled``: the function did not run."""

    def __init__(self, message: str, *, tool: str, check_id: str | None = None) -> None:
        GuardError.__init__(self, message, tool=tool, check_id=check_id)
        self.code = "tool_disabled"
        self.message = message
        self.details = {"tool": tool, "check_id": check_id}
        self.request_id = None
        self.status = 403


class ApprovalDenied(GuardError):
    """The approval was denied; ``note`` is the approver's note."""


class ApprovalExpired(GuardError):
    """The approval expired before anyone decided."""


class ApprovalCancelled(GuardError):
    """The approval was cancelled."""


class ApprovalTimeout(GuardError):
    """No decision within the guard's ``max_wait``; the SDK cancelled the approval."""


class TokenInvalid(Exception):
    """Offline token verification failed; ``reason`` uses the server's rejection names."""

    def __init__(self, reason: str, message: str | None = None) -> None:
        super().__init__(message or reason)
        self.reason = reason
