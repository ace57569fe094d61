"""Shared steps of the call tests: an organization with an agent, a number and a status webhook."""

from dataclasses import dataclass
from typing import Any

from simulator.app import Simulator
from simulator.scripts import FarEnd, SpokenLine
from tests.conftest import Tenant
from tests.receiver import WebhookReceiver
from tests.waiting import eventually
from trunkline.db import Database
from trunkline.reports.store import latest_report

OUR_NUMBER = "+14155550100"
CALLEE = "+12015551234"
TRUNK = "00000000-0000-4000-8000-000000000010"


@dataclass
class Line:
    tenant: Tenant
    agent_id: str
    number_id: str


async def set_up_line(
    tenant: Tenant, receiver: WebhookReceiver, *, agent: dict[str, Any] | None = None, **number: Any
) -> Line:
    """An agent whose status webhook goes to `receiver`, and our number routed to it."""
    body = {
        "name": "Front desk",
        "systemPrompt": "You are the front desk.",
        "firstMessage": "Hi from the agent.",
        "webhooks": {"status": {"url": f"{receiver.url}/status"}},
        **(agent or {}),
    }
    created = await tenant.http.post("/v1/agents", json=body)
    assert created.status_code == 201, created.text
    agent_id = created.json()["id"]
    imported = await tenant.http.post(
        "/v1/phone-numbers/import-sip-trunk",
        json={
            "e164": OUR_NUMBER,
            "sipConnectionInstallationId": TRUNK,
            "direction": "both",
            "agentId": agent_id,
            **number,
        },
    )
    assert imported.status_code == 201, imported.text
    return Line(tenant, agent_id, imported.json()["id"])


async def place_call(line: Line, **body: Any) -> dict[str, Any]:
    response = await line.tenant.http.post(
        "/v1/sessions/phone", json={"to": CALLEE, "agentId": line.agent_id, **body}
    )
    assert response.status_code == 201, response.text
    return response.json()


async def live_call(line: Line, simulator: Simulator) -> str:
    """An answered outbound call that stays up until we end it; returns its session id."""
    script(simulator, answer_after_seconds=0, hangup_after_seconds=None)
    session = await place_call(line)
    await call_when(line.tenant, session["sessionId"], "in-progress")
    return str(session["sessionId"])


async def call_when(tenant: Tenant, session_id: str, *statuses: str, within: float = 20) -> dict:
    """The call once it is in one of `statuses`."""

    async def reached() -> dict | None:
        call = (await tenant.http.get(f"/v1/calls/{session_id}")).json()
        return call if call["status"] in statuses else None

    return await eventually(reached, within)


async def events(tenant: Tenant, session_id: str) -> list[dict]:
    return (await tenant.http.get(f"/v1/calls/{session_id}/events")).json()["events"]


def script(simulator: Simulator, number: str = CALLEE, **far_end: Any) -> None:
    simulator.directory.script(number, FarEnd(**far_end))


async def stored_costs(database: Database, call_id: str) -> dict[str, Any]:
    """The cost breakdown of the call's latest report, once one is stored (as stored)."""

    async def stored() -> dict[str, Any] | None:
        async with database.session() as session:
            report = await latest_report(session, call_id)
        return report.cost_breakdown if report else None

    return await eventually(stored, 30)


async def hang_up_once_heard(
    tenant: Tenant,
    simulator: Simulator,
    call_id: str,
    said: list[SpokenLine],
    *,
    recorded: bool = True,
) -> None:
    """The callee hangs up once the agent has heard all it says and, when `recorded`, once the
    call's recording has started: under load, a fixed moment may come before either."""
    room = f"call-{call_id}"

    async def heard_and_recorded() -> bool:
        if recorded and not any(r.room == room for r in simulator.world.recordings.values()):
            return False
        call = await tenant.speko.calls.get(call_id)
        heard = [e.text for e in call.transcript.entries if e.source == "user"]
        return heard == [line.text for line in said]

    await eventually(heard_and_recorded, 30)
    leg = next(leg for leg in simulator.world.legs.values() if leg.room == room)
    simulator.world.hangup(leg.call_control_id)
