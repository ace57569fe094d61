"""A stand-in for the AI agent worker: joins on dispatch and talks through Trunkline's agent API.

It greets with the call's `firstMessage`, hears what the far end says (the simulator knows the
far end's script), answers each line, and reports its answering-machine verdict, so a demo call
ends up with a transcript and the events a real agent would cause.
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

    async def run(self) -> None:
        try:
            leg = await self._phone_leg()
            if leg is not None:
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
        return leg.state != "ended" and self._room in self._world.rooms

    async def _converse(self, leg: Leg) -> None:
        if self._first_message:
            await self._say("agent", self._first_message)
        machine = leg.far_end is not None and leg.far_end.behaviour == "voicemail"
        heard = 0
        while self._connected(leg):
            due = [line for line in leg.spoken[heard:] if line["at"] <= time.time()]
            for line in due:
                await self._say("user", line["text"])
                if heard == 0:
                    await self._report_amd("machine" if machine else "human")
                if not machine:
                    await self._say("agent", REPLIES[heard % len(REPLIES)])
                heard += 1
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
