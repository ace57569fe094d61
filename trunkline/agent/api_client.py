"""Trunkline's agent endpoints (`/v1/agent/calls/{id}/...`), with the call's own token.

Writes are retried on network errors, 5xx and 429, with backoff; every one is safe to repeat
(transcript entries carry their ids, reports act once). Refusals (4xx) raise `AgentApiError`
with Trunkline's error code, for the tool that asked to say so to the caller or the LLM.
"""

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import httpx

logger = logging.getLogger(__name__)

RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0, 4.0)
"""Seconds to wait before each retry of a failed write (a worker or API restarting)."""
TIMEOUT_SECONDS = 60
"""Generous: a blind transfer answers only once the far end has answered or refused."""


class AgentApiError(Exception):
    """Trunkline refused a request: `status` and its machine-readable `code`."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class TranscriptEntry:
    id: str
    role: str
    text: str
    started_at: str | None = None
    ended_at: str | None = None

    def body(self) -> dict[str, Any]:
        body = {"id": self.id, "role": self.role, "text": self.text}
        if self.started_at:
            body["startedAt"] = self.started_at
        if self.ended_at:
            body["endedAt"] = self.ended_at
        return body


class TrunklineClient:
    """The agent endpoints of one call."""

    def __init__(
        self,
        api_base_url: str,
        session_id: str,
        agent_token: str,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=f"{api_base_url.rstrip('/')}/v1/agent/calls/{session_id}",
            headers={"Authorization": f"Bearer {agent_token}"},
            timeout=TIMEOUT_SECONDS,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def post(
        self, path: str, body: dict[str, Any] | None = None, *, retry_conflicts: bool = False
    ) -> dict[str, Any]:
        """POST `body`; retried while Trunkline cannot answer (and on 409 when asked)."""
        for delay in (*RETRY_DELAYS, None):
            try:
                response = await self._http.post(path, json=body)
            except httpx.TransportError as exc:
                if delay is None:
                    raise
                logger.info("POST %s failed (%r); retrying in %s s", path, exc, delay)
            else:
                retry = response.status_code >= 500 or response.status_code == 429
                retry = retry or (retry_conflicts and response.status_code == 409)
                if not retry or delay is None:
                    return _answer(response)
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def transcript(self, entries: list[TranscriptEntry]) -> dict[str, Any]:
        return await self.post("/transcript", {"entries": [e.body() for e in entries]})

    async def amd(self, verdict: str) -> dict[str, Any]:
        return await self.post("/amd", {"verdict": verdict})

    async def end(self, reason: str = "agent") -> dict[str, Any]:
        return await self.post("/end", {"reason": reason})

    async def fail(self, reason: str, detail: str) -> dict[str, Any]:
        return await self.post("/failure", {"reason": reason, "detail": detail})

    async def transfer(
        self, to: str | None = None, label: str | None = None, reason: str | None = None
    ) -> dict[str, Any]:
        body = {k: v for k, v in {"to": to, "label": label, "reason": reason}.items() if v}
        return await self.post("/transfer", body)

    async def take_message(self, **fields: Any) -> dict[str, Any]:
        return await self.post("/messages", {k: v for k, v in fields.items() if v})

    async def complete(self, transfer_id: str) -> dict[str, Any]:
        return await self.post(f"/transfers/{transfer_id}/complete", retry_conflicts=True)

    async def decline(self, transfer_id: str, reason: str) -> dict[str, Any]:
        path = f"/transfers/{transfer_id}/decline"
        return await self.post(path, {"reason": reason}, retry_conflicts=True)

    async def voicemail(self, transfer_id: str, verdict: str) -> dict[str, Any]:
        path = f"/transfers/{transfer_id}/voicemail"
        return await self.post(path, {"verdict": verdict}, retry_conflicts=True)


def _answer(response: httpx.Response) -> dict[str, Any]:
    """The JSON body of a 2xx, else `AgentApiError` with Trunkline's error code."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.is_success:
        return body if isinstance(body, dict) else {}
    error = body if isinstance(body, dict) else {}
    raise AgentApiError(
        response.status_code,
        str(error.get("code", "error")),
        str(error.get("error", response.text[:200])),
    )
