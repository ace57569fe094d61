"""The simulator's stand-in agent: it joins on dispatch and talks through the agent endpoints."""

import pytest
from sqlmodel import col, select

from simulator.agent import agent_joiner
from simulator.app import Simulator
from simulator.scripts import SpokenLine
from tests.calls_support import call_when, events, place_call, script, set_up_line
from tests.conftest import Tenant
from tests.receiver import WebhookReceiver
from tests.waiting import eventually
from trunkline.db import Database
from trunkline.models import TranscriptEntry

pytestmark = pytest.mark.usefixtures("worker")


async def transcript(database: Database, call_id: str) -> list[tuple[str, str]]:
    async with database.session() as session:
        statement = (
            select(TranscriptEntry)
            .where(TranscriptEntry.call_id == call_id)
            .order_by(col(TranscriptEntry.created_at))
        )
        return [(entry.role, entry.text) for entry in (await session.exec(statement)).all()]


async def test_a_demo_call_gets_a_transcript(
    tenant: Tenant, simulator: Simulator, receiver: WebhookReceiver, database: Database
) -> None:
    simulator.world.on_dispatch = agent_joiner(simulator.world)
    line = await set_up_line(tenant, receiver)
    lines = [SpokenLine(text="Hello?"), SpokenLine(text="Yes, this is Sam.", after_seconds=0.4)]
    script(simulator, answer_after_seconds=0.1, hangup_after_seconds=None, transcript=lines)
    session = await place_call(line)

    async def whole() -> list | None:
        said = await transcript(database, session["sessionId"])
        return said if len(said) == 5 else None

    conversation = await eventually(whole, 30)  # the callee hangs up once it is over
    leg = next(leg for leg in simulator.world.legs.values() if leg.room == session["roomName"])
    simulator.world.hangup(leg.call_control_id)
    await call_when(tenant, session["sessionId"], "ended")
    assert conversation == [
        ("agent", "Hi from the agent."),
        ("user", "Hello?"),
        ("agent", "Thanks, I've noted that."),
        ("user", "Yes, this is Sam."),
        ("agent", "I understand."),
    ]
    assert "amd.human.ignored" in [
        e["event_type"] for e in await events(tenant, session["sessionId"])
    ]


async def test_what_the_caller_says_as_it_hangs_up_reaches_the_transcript(
    tenant: Tenant, simulator: Simulator, receiver: WebhookReceiver, database: Database
) -> None:
    simulator.world.on_dispatch = agent_joiner(simulator.world)
    line = await set_up_line(tenant, receiver)
    lines = [SpokenLine(text="Hello?"), SpokenLine(text="Bye now.", after_seconds=1.0)]
    script(simulator, answer_after_seconds=0.1, hangup_after_seconds=1.0, transcript=lines)
    session = await place_call(line)
    await call_when(tenant, session["sessionId"], "ended")

    async def users_lines() -> list[str] | None:
        said = [text for role, text in await transcript(database, session["sessionId"])]
        return said if "Bye now." in said else None

    assert (await eventually(users_lines))[-1] == "Bye now."


async def test_the_agent_recognises_voicemail(
    tenant: Tenant, simulator: Simulator, receiver: WebhookReceiver
) -> None:
    simulator.world.on_dispatch = agent_joiner(simulator.world)
    line = await set_up_line(tenant, receiver)
    greeting = [SpokenLine(text="You've reached Sam, leave a message.")]
    script(
        simulator,
        behaviour="voicemail",
        answer_after_seconds=0.1,
        hangup_after_seconds=None,
        carrier_amd=False,
        transcript=greeting,
    )
    session = await place_call(line, telephony={"amd": {"mode": "agent", "timeoutSeconds": 10}})
    call = await call_when(tenant, session["sessionId"], "failed")
    assert (call["failure_cause"], call["answered_by_machine"]) == ("machine", True)
