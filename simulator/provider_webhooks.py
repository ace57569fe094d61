"""Signed LiveKit and Telnyx webhooks from the simulator to Trunkline, misbehaving on request.

LiveKit: protojson body, `Authorization` holding a JWT (issuer = API key) whose `sha256` claim is
the body's digest. Telnyx: JSON body, Ed25519 signature over `"{timestamp}|{body}"`.
"""

import asyncio
import base64
import hashlib
import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from google.protobuf.json_format import MessageToJson
from livekit import api
from livekit.protocol.webhook import WebhookEvent
from pydantic import Field

from simulator.scripts import ScriptModel

logger = logging.getLogger(__name__)

DELIVERY_ATTEMPTS = 3
POSTS_IN_FLIGHT = 64
"""Webhooks being posted at once, over all lanes: httpx's pool looks at every waiting request
for every connection it frees, so thousands waiting in it (thousands of calls open) cost time
quadratic in their number."""
REORDER_FLUSH_SECONDS = 0.3
LANE_IDLE_SECONDS = 5


class Misbehaviour(ScriptModel):
    """Ways the simulator's webhooks go wrong, for reliability tests."""

    duplicate: int = Field(0, ge=0, le=5, description="Extra copies of every webhook.")
    delay_seconds: float = Field(0, ge=0, le=60, description="Hold every webhook this long.")
    drop: list[str] = Field([], description="Event types never delivered (e.g. `call.hangup`).")
    reorder_window: int = Field(
        0, ge=0, le=20, description="Deliver webhooks in batches of this size, newest first."
    )


def livekit_headers(body: str, api_key: str, api_secret: str) -> dict[str, str]:
    """LiveKit's signature: a JWT from the API key whose `sha256` claim is the body's digest."""
    digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
    token = api.AccessToken(api_key, api_secret).with_sha256(digest)
    return {"Authorization": token.to_jwt(), "Content-Type": "application/webhook+json"}


def telnyx_headers(body: str, private_key: Ed25519PrivateKey, timestamp: int) -> dict[str, str]:
    """Telnyx's signature: Ed25519 over `"{timestamp}|{body}"`, base64."""
    signature = private_key.sign(f"{timestamp}|{body}".encode())
    return {
        "telnyx-signature-ed25519": base64.b64encode(signature).decode(),
        "telnyx-timestamp": str(timestamp),
        "Content-Type": "application/json",
    }


@dataclass
class Outgoing:
    provider: str
    event_type: str
    event_id: str
    url: str
    body: str
    headers: dict[str, str]
    lane: str
    """Webhooks of one lane (a room, a carrier leg) go out in order; lanes go out in parallel."""


@dataclass
class SentWebhook:
    provider: str
    event_type: str
    event_id: str
    status: int | None
    body: dict[str, Any] = field(repr=False)
    sent_at: float = field(default_factory=time.time)


class ProviderWebhooks:
    """Delivers webhooks in order per room or carrier leg, lanes in parallel, as the real
    services do (unless told to misbehave)."""

    def __init__(
        self,
        *,
        livekit_url: str,
        livekit_api_key: str,
        livekit_api_secret: str,
        telnyx_url: str,
        telnyx_private_key: Ed25519PrivateKey,
    ) -> None:
        self._livekit_url = livekit_url
        self._livekit_key = livekit_api_key
        self._livekit_secret = livekit_api_secret
        self._telnyx_url = telnyx_url
        self._telnyx_key = telnyx_private_key
        self.misbehaviour = Misbehaviour()
        self.sent: list[SentWebhook] = []
        self._lanes: dict[str, asyncio.Queue[Outgoing]] = {}
        self._workers: set[asyncio.Task[None]] = set()
        self._pending = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._http = httpx.AsyncClient(timeout=10, trust_env=False)
        self._posting = asyncio.Semaphore(POSTS_IN_FLIGHT)

    async def close(self) -> None:
        for worker in self._workers:
            worker.cancel()
        await self._http.aclose()

    async def drain(self) -> None:
        """Wait until everything queued so far has been delivered."""
        await self._idle.wait()

    def livekit(self, event: WebhookEvent) -> None:
        event.id = event.id or f"EV_{uuid.uuid4().hex[:12]}"
        event.created_at = event.created_at or int(time.time())
        body = MessageToJson(event, indent=None)
        headers = livekit_headers(body, self._livekit_key, self._livekit_secret)
        lane = event.room.name or event.egress_info.room_name or "livekit"
        self._enqueue(
            Outgoing("livekit", event.event, event.id, self._livekit_url, body, headers, lane)
        )

    def telnyx(self, event_type: str, payload: dict[str, Any]) -> None:
        event_id = str(uuid.uuid4())
        body = json.dumps(
            {
                "data": {
                    "record_type": "event",
                    "event_type": event_type,
                    "id": event_id,
                    "occurred_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
                    "payload": payload,
                },
                "meta": {"attempt": 1, "delivered_to": self._telnyx_url},
            }
        )
        headers = telnyx_headers(body, self._telnyx_key, int(time.time()))
        lane = payload.get("call_control_id") or "telnyx"
        self._enqueue(
            Outgoing("telnyx", event_type, event_id, self._telnyx_url, body, headers, lane)
        )

    def _enqueue(self, outgoing: Outgoing) -> None:
        if outgoing.event_type in self.misbehaviour.drop:
            self._record(outgoing, None)
            return
        lane = self._lanes.get(outgoing.lane)
        if lane is None:
            lane = self._lanes[outgoing.lane] = asyncio.Queue()
            worker = asyncio.create_task(self._deliver_lane(outgoing.lane, lane))
            self._workers.add(worker)
            worker.add_done_callback(self._workers.discard)
        for _ in range(1 + self.misbehaviour.duplicate):
            lane.put_nowait(outgoing)
            self._pending += 1
        self._idle.clear()

    async def _next_batch(self, lane: asyncio.Queue[Outgoing]) -> list[Outgoing]:
        """The next webhooks to send: one, or a reversed batch when reordering."""
        batch = [await asyncio.wait_for(lane.get(), LANE_IDLE_SECONDS)]
        window = self.misbehaviour.reorder_window
        while len(batch) < window:
            try:
                batch.append(await asyncio.wait_for(lane.get(), REORDER_FLUSH_SECONDS))
            except TimeoutError:
                break
        return batch[::-1] if window else batch

    async def _deliver_lane(self, name: str, lane: asyncio.Queue[Outgoing]) -> None:
        """Send a lane's webhooks one after another; the lane closes once idle for a while."""
        while True:
            try:
                batch = await self._next_batch(lane)
            except TimeoutError:
                if lane.empty():
                    del self._lanes[name]
                    return
                continue
            if self.misbehaviour.delay_seconds:
                await asyncio.sleep(self.misbehaviour.delay_seconds)
            for outgoing in batch:
                sent_at = time.time()
                self._record(outgoing, await self._post(outgoing), sent_at)
                self._pending -= 1
            if self._pending == 0:
                self._idle.set()

    def _record(self, outgoing: Outgoing, status: int | None, sent_at: float | None = None) -> None:
        """Remember what was sent (status None: dropped on purpose or undeliverable)."""
        body = json.loads(outgoing.body)
        sent = SentWebhook(outgoing.provider, outgoing.event_type, outgoing.event_id, status, body)
        sent.sent_at = sent_at or sent.sent_at
        self.sent.append(sent)

    async def _post(self, outgoing: Outgoing) -> int | None:
        """POST with a few retries, as the providers do; returns the last status."""
        status = None
        for attempt in range(DELIVERY_ATTEMPTS):
            try:
                async with self._posting:
                    response = await self._http.post(
                        outgoing.url, content=outgoing.body, headers=outgoing.headers
                    )
                status = response.status_code
                if status < 500:
                    return status
            except httpx.HTTPError as exc:
                logger.warning(
                    "webhook %s to %s failed: %r", outgoing.event_type, outgoing.url, exc
                )
            await asyncio.sleep(0.2 * 2**attempt)
        return status
