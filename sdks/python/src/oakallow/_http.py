"""Requests as data, the retry policy, and turning answers into values or typed errors."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from typing import Any, Mapping

import httpx

from .errors import OakallowError, RateLimited, error_from_response

RETRY_STATUSES = frozenset({429, 502, 503, 504})
DEFAULT_URL = "http://127.0.0.1:8080"


@dataclass(frozen=True)
class Request:
    """One API call. ``retry`` marks it safe to send again (idempotent)."""

    method: str
    path: str
    json: Any = None
    params: Mapping[str, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    retry: bool = False
    raw: bool = False
    timeout: float | None = None


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter: attempt n waits ``uniform(0, min(max_delay, base * 2**n))``."""

    max_retries: int = 3
    base_delay: float = 0.25
    max_delay: float = 8.0

    def delay(self, attempt: int, error: OakallowError | None = None) -> float:
        """Seconds to wait before retry ``attempt`` (0-based); honours ``Retry-After``."""
        if isinstance(error, RateLimited) and error.retry_after is not None:
            return min(error.retry_after, self.max_delay * 4)
        return random.uniform(0, min(self.max_delay, self.base_delay * 2**attempt))


def settings(url: str | None, key: str | None) -> tuple[str, str]:
    """The base URL and key, defaulting to ``OAKALLOW_URL`` and ``OAKALLOW_KEY``."""
    url = url or os.environ.get("OAKALLOW_URL") or DEFAULT_URL
    key = key or os.environ.get("OAKALLOW_KEY")
    if not key:
        raise ValueError("no API key: pass key= or set OAKALLOW_KEY")
    return url.rstrip("/"), key


def clean(body: Mapping[str, Any]) -> dict[str, Any]:
    """The body without members left at ``None`` (the server's defaults apply)."""
    return {k: v for k, v in body.items() if v is not None}


def should_retry(request: Request, attempt: int, policy: RetryPolicy, error: Exception) -> bool:
    """Retry only safe requests, on transport errors, 429 and 502/503/504."""
    if not request.retry or attempt >= policy.max_retries:
        return False
    if isinstance(error, httpx.TransportError):
        return True
    return isinstance(error, OakallowError) and error.status in RETRY_STATUSES


def result(response: httpx.Response, raw: bool) -> Any:
    """The answer's value (``None`` for 204, text when ``raw``) or raise its typed error."""
    if response.status_code >= 400:
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text
        raise error_from_response(
            response.status_code,
            body,
            retry_after=response.headers.get("Retry-After"),
            request_id=response.headers.get("X-Request-Id"),
        )
    if raw:
        return response.text
    if response.status_code == 204 or not response.content:
        return None
    return response.json()
