"""Webhooks: a receiver on loopback (asyncio, HTTP/1.1 keep-alive, answers 204 at once and keeps
what arrived), the org's `webhook_url` pointed at it, N `webhook.test` events queued with
`loadgen` (`POST /v1/webhooks/test`, management key), and then every delivery's Standard Webhooks
signature checked: `webhook-signature` = `v1,` base64(HMAC-SHA256(secret, id.timestamp.body)),
the secret being the base64 after `whsec_`. The rate is deliveries per second from the first to
the last received."""

import asyncio
import base64
import hashlib
import hmac
import json
import threading
import time

from . import procs


class Receiver:
    """Records (arrival time, webhook-id, webhook-timestamp, webhook-signature, body)."""

    def __init__(self):
        self.deliveries = []
        self.port = None
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._stopping = None
        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(self._main(),), daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the webhook receiver did not start")

    async def _main(self):
        self._stopping = asyncio.Event()
        server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        await self._stopping.wait()
        server.close()
        others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)

    async def _serve(self, reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                headers = {}
                for line in head.decode("latin-1").split("\r\n")[1:]:
                    if ":" in line:
                        name, value = line.split(":", 1)
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.deliveries.append((time.monotonic(), headers.get("webhook-id"), headers.get("webhook-timestamp"),
                                        headers.get("webhook-signature"), body))
                writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.CancelledError, ConnectionError):
            pass
        finally:
            writer.close()

    def stop(self):
        self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(10)
        self._loop.close()


def valid(secret, webhook_id, timestamp, signatures, body):
    """Standard Webhooks verification of one delivery."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    expected = base64.b64encode(hmac.new(key, f"{webhook_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()).decode()
    return any(hmac.compare_digest(s.removeprefix("v1,"), expected) for s in (signatures or "").split() if s.startswith("v1,"))


def measure(loadgen, port, management_key, total, progress, wait=60, timeout=300):
    """Sends `total` test events and waits for them all, at most `wait` seconds after the last
    one was queued (the bar asks for 1,000/s: a run that needs longer has missed it anyway);
    returns the figures for the report."""
    receiver = Receiver()
    try:
        procs.call(port, "PATCH", "/v1/org", management_key, {"webhook_url": f"http://127.0.0.1:{receiver.port}/hooks"})
        secret = procs.call(port, "POST", "/v1/org/webhook-secret/rotate", management_key)
        secret = secret["secret"]
        sent_at = time.monotonic()
        done = procs.run([loadgen, "--url", f"http://127.0.0.1:{port}/v1/webhooks/test", "--method", "POST",
                          "--header", f"X-API-Key: {management_key}", "--connections", "8", "--requests", str(total),
                          "--duration", str(timeout)], timeout=timeout + 60)
        if done.returncode != 0:
            raise RuntimeError(f"loadgen failed: {done.stderr}")
        queued = json.loads(done.stdout)
        progress(f"webhooks: {queued['requests']} test events queued ({queued['rps']:.0f}/s, {queued['errors']} errors)")
        deadline = time.monotonic() + wait
        while len({d[1] for d in receiver.deliveries}) < queued["requests"] - queued["errors"] and time.monotonic() < deadline:
            time.sleep(0.05)
        deliveries = list(receiver.deliveries)
    finally:
        receiver.stop()
    ids = {d[1] for d in deliveries}
    bad = sum(1 for d in deliveries if not valid(secret, *d[1:]))
    # The verifier itself must refuse a wrong secret, or "0 bad signatures" would mean nothing.
    forged = "whsec_" + base64.b64encode(b"not the secret").decode()
    if deliveries and valid(forged, *deliveries[0][1:]):
        raise RuntimeError("the signature check accepts a wrong secret")
    first, last = (deliveries[0][0], deliveries[-1][0]) if deliveries else (0, 0)
    return {"events": queued["requests"] - queued["errors"], "queue_errors": queued["errors"], "delivered": len(ids),
            "attempts": len(deliveries), "bad_signatures": bad, "queued_per_second": queued["rps"], "wait": wait,
            "queue_seconds": queued["seconds"],
            "rate": (len(deliveries) - 1) / (last - first) if len(deliveries) > 1 and last > first else None,
            "seconds_after_first_event": last - sent_at if deliveries else None}
