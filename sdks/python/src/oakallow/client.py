"""``Client`` (sync) and ``AsyncClient`` (async)."""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any, AsyncIterator, Awaitable, Iterator

import httpx

from ._endpoints import Collection, Endpoints
from ._http import Request, RetryPolicy, result, settings, should_retry
from .errors import OakallowError, TransportError
from .guard import AsyncGuard, Guard

__all__ = ["AsyncClient", "Client"]

MAX_LONG_POLL = 60
USER_AGENT = "oakallow-python/0.1.0"


def _headers(key: str) -> dict[str, str]:
    return {"X-API-Key": key, "User-Agent": USER_AGENT, "Accept": "application/json"}


def _poll_seconds(deadline: float | None) -> int:
    """The next long-poll's ``wait``: at most 60 s, and no longer than the time left."""
    if deadline is None:
        return MAX_LONG_POLL
    return max(0, min(MAX_LONG_POLL, math.ceil(deadline - time.monotonic())))


def _transport_error(exc: httpx.TransportError) -> TransportError:
    return TransportError(f"{type(exc).__name__}: {exc}")


class Client(Endpoints[Any]):
    """Synchronous oakallow client. ``url``/``key`` default to ``OAKALLOW_URL``/``OAKALLOW_KEY``."""

    def __init__(
        self,
        url: str | None = None,
        key: str | None = None,
        *,
        timeout: float = 30.0,
        max_retries: int = 3,
        backoff: float = 0.25,
        max_backoff: float = 8.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url, key = settings(url, key)
        self.retry = RetryPolicy(max_retries, backoff, max_backoff)
        self._http = httpx.Client(base_url=self.url, headers=_headers(key), timeout=timeout, transport=transport)

    def _send(self, request: Request) -> Any:
        attempt = 0
        while True:
            try:
                return self._once(request)
            except (OakallowError, httpx.TransportError) as exc:
                if not should_retry(request, attempt, self.retry, exc):
                    raise _transport_error(exc) if isinstance(exc, httpx.TransportError) else exc
                time.sleep(self.retry.delay(attempt, exc if isinstance(exc, OakallowError) else None))
                attempt += 1

    def _once(self, request: Request) -> Any:
        timeout = request.timeout if request.timeout is not None else httpx.USE_CLIENT_DEFAULT
        response = self._http.request(request.method, request.path, json=request.json, params=request.params,
                                      headers=request.headers, timeout=timeout)
        return result(response, request.raw)

    def wait_for_approval(self, id: str, *, timeout: float | None = None) -> dict[str, Any]:
        """Long-poll until the approval leaves ``pending`` (or ``timeout`` seconds pass): the approval."""
        deadline = None if timeout is None else time.monotonic() + timeout
        approval: dict[str, Any] = self.get_approval(id)
        while approval["status"] == "pending" and (wait := _poll_seconds(deadline)) > 0:
            approval = self.get_approval(id, wait=wait)
        return approval

    def list_all(self, collection: str | Collection[Any], *, limit: int = 500) -> Iterator[dict[str, Any]]:
        """Every object of a collection, following ``next_cursor``."""
        coll = self.collection(collection) if isinstance(collection, str) else collection
        cursor = None
        while True:
            page = coll.list(limit=limit, cursor=cursor)
            yield from page["data"]
            if not (cursor := page.get("next_cursor")):
                return

    def guard(self, tool: str, **options: Any) -> Guard:
        """Guard a call of ``tool``: a decorator or a context manager (see ``Guard``)."""
        return Guard(self, tool, **options)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class AsyncClient(Endpoints[Awaitable[Any]]):
    """Asynchronous oakallow client: the same methods as ``Client``, to be awaited."""

    def __init__(
        self,
        url: str | None = None,
        key: str | None = None,
        *,
        timeout: float = 30.0,
        max_retries: int = 3,
        backoff: float = 0.25,
        max_backoff: float = 8.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url, key = settings(url, key)
        self.retry = RetryPolicy(max_retries, backoff, max_backoff)
        self._http = httpx.AsyncClient(base_url=self.url, headers=_headers(key), timeout=timeout, transport=transport)

    async def _send(self, request: Request) -> Any:
        attempt = 0
        while True:
            try:
                return await self._once(request)
            except (OakallowError, httpx.TransportError) as exc:
                if not should_retry(request, attempt, self.retry, exc):
                    raise _transport_error(exc) if isinstance(exc, httpx.TransportError) else exc
                await asyncio.sleep(self.retry.delay(attempt, exc if isinstance(exc, OakallowError) else None))
                attempt += 1

    async def _once(self, request: Request) -> Any:
        timeout = request.timeout if request.timeout is not None else httpx.USE_CLIENT_DEFAULT
        response = await self._http.request(request.method, request.path, json=request.json,
                                            params=request.params, headers=request.headers, timeout=timeout)
        return result(response, request.raw)

    async def wait_for_approval(self, id: str, *, timeout: float | None = None) -> dict[str, Any]:
        """Long-poll until the approval leaves ``pending`` (or ``timeout`` seconds pass): the approval."""
        deadline = None if timeout is None else time.monotonic() + timeout
        approval: dict[str, Any] = await self.get_approval(id)
        while approval["status"] == "pending" and (wait := _poll_seconds(deadline)) > 0:
            approval = await self.get_approval(id, wait=wait)
        return approval

    async def list_all(self, collection: str | Collection[Any], *, limit: int = 500) -> AsyncIterator[dict[str, Any]]:
        """Every object of a collection, following ``next_cursor``."""
        coll = self.collection(collection) if isinstance(collection, str) else collection
        cursor = None
        while True:
            page = await coll.list(limit=limit, cursor=cursor)
            for item in page["data"]:
                yield item
            if not (cursor := page.get("next_cursor")):
                return

    def guard(self, tool: str, **options: Any) -> AsyncGuard:
        """Guard a call of ``tool``: decorates ``async def`` functions or works with ``async with``."""
        return AsyncGuard(self, tool, **options)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()
