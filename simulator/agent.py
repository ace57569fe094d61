"""A stand-in for the AI agent worker: joins on dispatch and talks through Trunkline's agent API.

It greets with the call's `firstMessage`, hears what the far end says (the simulator knows the
far end's script), answers each line, and reports its answering-machine verdict, so a demo call
ends up with a transcript and the events a real agent would cause. It follows what transfers tell
it (hold, take a message), and, dispatched to screen a warm transfer, reports what the
recipient decides.
"""

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
from livekit.protocol.agent_dispatch import AgentDispatch

from simulator.world import Leg, World

logger = logging.getLogger(__name__)

REPLIES = ("Thanks, I've noted that.", "I understand.", "Got it, anything else?")
JOIN_WAIT_SECONDS = 60
SCREENING_SECONDS = 0.3
"""How long the simulated screening conversation takes before the recipient decides."""
REPORT_RETRY_SECONDS = 5
NOTICE_REPLIES = {
    "transfer.hold": "Please hold while I connect you.",
    "transfer.returned": "I'm sorry, I couldn't connect you. I'm still here to help.",
    "transfer.failed": "I'm sorry, I couldn't connect you. I'm still here to help.",
    "transfer.take_message": "Nobody is available right now. May I take a message?",
}


class SimulatedAgent:
    """One agent in one room, for one dispatch."""

    def __init__(self, world: World, room: str, dispatch_id: str, metadata: dict[str, Any]) -> None:
        self._world = world
        self._room = room
        self._dispatch_id = dispatch_id
        self._session_id = metadata["sessionId"]
        self._first_message = (metadata.get("pipelineConfig") or {}).get("firstMessage")
        self._http = httpx.AsyncClient(
            base_url=f"{metadata['apiBaseUrl']}/v1/agent/calls/{self._session_id}",
            headers={"Authorization": f"Bearer {metadata['agentToken']}"},
            timeout=10,
            trust_env=False,
        )
        self._entries = 0
        self._notices_seen = 0
        self._metadata = metadata
        self._identity = f"agent-{dispatch_id}"

    async def run(self) -> None:
        try:
            leg = await self._phone_leg()
            if leg is not None and self._metadata.get("role") == "screening":
                await self._screen(leg)
            elif leg is not None:
                await self._converse(leg)
        except httpx.HTTPError as exc:
            logger.warning("simulated agent in %s stopped: %r", self._room, exc)
        finally:
            await self._http.aclose()

    async def _phone_leg(self) -> Leg | None:
        """The phone leg in the room once it is connected, or None if it never is."""
        deadline = time.monotonic() + JOIN_WAIT_SECONDS
        while time.monotonic() < deadline:
            room = self._world.rooms.get(self._room)
            phone = next((p for p in (room.participants.values() if room else []) if p.leg), None)
            if phone and phone.leg and phone.attributes.get("sip.callStatus") == "active":
                return phone.leg
            await asyncio.sleep(0.1)
        return None

    def _connected(self, leg: Leg) -> bool:
        """The leg is up and this agent is still in the room (a transfer may take it out)."""
        room = self._world.rooms.get(self._room)
        return leg.state != "ended" and room is not None and self._identity in room.participants

    async def _converse(self, leg: Leg) -> None:
        if self._first_message:
            await self._say("agent", self._first_message)
        machine = leg.far_end is not None and leg.far_end.behaviour == "voicemail"
        heard = 0
        while self._connected(leg):
            heard = await self._hear(leg, heard, until=time.time(), machine=machine, live=True)
            await self._follow_notices(leg)
            await asyncio.sleep(0.1)
        if leg.ended_at is not None:
            await self._hear(leg, heard, until=leg.ended_at, machine=machine, live=False)

    async def _hear(self, leg: Leg, heard: int, *, until: float, machine: bool, live: bool) -> int:
        """Transcribe the lines spoken by `until` after the first `heard`; answer them while `live`.

        Returns how many lines have been heard. After the far end hangs up, what it said before
        hanging up still reaches the transcript, as a real agent's speech-to-text delivers it.
        """
        for line in [line for line in leg.spoken[heard:] if line["at"] <= until]:
            await self._say("user", line["text"])
            if live and heard == 0:
                await self._report_amd("machine" if machine else "human")
            if live and not machine:
                await self._say("agent", REPLIES[heard % len(REPLIES)])
            heard += 1
        return heard

    async def _follow_notices(self, leg: Leg) -> None:
        """Act on what Trunkline sent the room: announce holds, take a message when asked."""
        notices = [m for m in self._world.data_messages if m["room"] == self._room]
        for notice in notices[self._notices_seen :]:
            kind = (notice["data"] or {}).get("type")
            if kind in NOTICE_REPLIES:
                await self._say("agent", NOTICE_REPLIES[kind])
            if kind == "transfer.take_message":
                await self._http.post(
                    "/messages",
                    json={
                        "message": "Please call me back about my account.",
                        "callbackNumber": leg.from_number
                        if leg.direction == "incoming"
                        else leg.to_number,
                        "transferId": notice["data"].get("transferId"),
                    },
                )
        self._notices_seen = len(notices)

    async def _screen(self, leg: Leg) -> None:
        """Screen a warm transfer's recipient: voicemail, or what the person decides."""
        transfer = f"/transfers/{self._metadata['transferId']}"
        machine = leg.far_end is not None and leg.far_end.behaviour == "voicemail"
        verdict = "machine" if machine else "human"
        await self._report(f"{transfer}/voicemail", {"verdict": verdict})
        if machine:
            return
        decision = leg.far_end.transfer_decision if leg.far_end is not None else "accept"
        if decision == "wait":
            return
        await asyncio.sleep(SCREENING_SECONDS)
        if not self._connected(leg):
            return
        if decision == "decline":
            await self._report(f"{transfer}/decline", {"reason": "busy with a customer"})
        else:
            await self._report(f"{transfer}/complete", None)

    async def _report(self, path: str, body: dict[str, Any] | None) -> None:
        """Post a screening report, again while Trunkline is not yet screening (a 409)."""
        deadline = time.monotonic() + REPORT_RETRY_SECONDS
        while True:
            response = await self._http.post(path, json=body)
            if response.status_code != 409 or time.monotonic() > deadline:
                return
            await asyncio.sleep(0.1)

    async def _say(self, role: str, text: str) -> None:
        self._entries += 1
        entry = {"id": f"{self._dispatch_id}-{self._entries}", "role": role, "text": text}
        await self._http.post("/transcript", json={"entries": [entry]})

    async def _report_amd(self, verdict: str) -> None:
        await self._http.post("/amd", json={"verdict": verdict})


def agent_joiner(world: World) -> Callable[[AgentDispatch], None]:
    """A dispatch hook: the simulated agent joins when a dispatch carries what an agent needs."""

    def join(dispatch: AgentDispatch) -> None:
        try:
            fields = json.loads(dispatch.metadata or "{}")
        except json.JSONDecodeError:
            return
        if {"sessionId", "agentToken", "apiBaseUrl"} <= set(fields):
            world.spawn(SimulatedAgent(world, dispatch.room, dispatch.id, fields).run())

    return join
