"""Calls survive what providers and processes do: duplicates, reordering, lost webhooks, crashes."""

import json
import signal
from collections import Counter
from datetime import timedelta

import pytest
from livekit.protocol.webhook import WebhookEvent
from sqlmodel import col, select
from temporalio.testing import WorkflowEnvironment

from activities.calls import CallActivities
from api.app import create_app
from simulator.app import Simulator
from simulator.provider_webhooks import Misbehaviour
from simulator.world import Kind, Reason
from tests.calls_support import CALLEE, call_when, events, place_call, script, set_up_line
from tests.conftest import RunningApi, Tenant, WorkerWith, new_tenant
from tests.processes import start_worker_process, stop_worker_processes
from tests.receiver import WebhookReceiver
from tests.servers import free_port, serving
from tests.waiting import eventually
from trunkline.calls.store import new_call
from trunkline.calls.unstarted import fail_unstarted_calls
from trunkline.db import Database
from trunkline.models import Call, CallEvent, ProviderEvent, utcnow
from trunkline.organizations import create_organization
from trunkline.settings import Settings
from trunkline.workflow_io import CallEventRecord, CallInput, RecordOutcome
from workflows.call import CallWorkflow


@pytest.mark.usefixtures("worker")
@pytest.mark.parametrize(
    "misbehaviour", [Misbehaviour(duplicate=2), Misbehaviour(reorder_window=4, duplicate=1)]
)
async def test_duplicate_and_out_of_order_webhooks(
    tenant: Tenant, simulator: Simulator, receiver: WebhookReceiver, misbehaviour: Misbehaviour
) -> None:
    line = await set_up_line(tenant, receiver)
    simulator.webhooks.misbehaviour = misbehaviour
    script(simulator, answer_after_seconds=0.2, hangup_after_seconds=0.5)
    session = await place_call(line)
    call = await call_when(tenant, session["sessionId"], "ended", "failed")
    assert call["status"] == "ended" and call["failure_cause"] is None
    await simulator.webhooks.drain()
    recorded = await events(tenant, session["sessionId"])
    provider_ids = Counter(e["provider_event_id"] for e in recorded if e["provider_event_id"])
    assert provider_ids and max(provider_ids.values()) == 1
    terminal = [e for e in recorded if e["event_type"] in ("call.ended", "call.failed")]
    assert len(terminal) == 1


@pytest.mark.usefixtures("worker")
async def test_a_lost_hangup_is_found_by_the_watchdog(
    tenant: Tenant, simulator: Simulator, receiver: WebhookReceiver
) -> None:
    line = await set_up_line(tenant, receiver)
    simulator.webhooks.misbehaviour = Misbehaviour(
        drop=["call.hangup", "participant_left", "room_finished"]
    )
    script(simulator, answer_after_seconds=0, hangup_after_seconds=0.3)
    session = await place_call(line)
    call = await call_when(tenant, session["sessionId"], "ended", "failed", within=30)
    assert (call["status"], call["ended_reason"]) == ("ended", "phone_leg_gone")
    types = [e["event_type"] for e in await events(tenant, session["sessionId"])]
    assert "watchdog.phone_gone" in types and "call.hangup" not in types


async def test_a_worker_killed_mid_call_and_restarted_finishes_the_call(
    tenant: Tenant,
    simulator: Simulator,
    receiver: WebhookReceiver,
    settings: Settings,
) -> None:
    line = await set_up_line(tenant, receiver)
    script(simulator, answer_after_seconds=0.2, hangup_after_seconds=4)
    first = start_worker_process(settings)
    try:
        session = await place_call(line)
        await call_when(tenant, session["sessionId"], "in-progress", within=30)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        second = start_worker_process(settings)
        try:
            call = await call_when(tenant, session["sessionId"], "ended", "failed", within=60)
        finally:
            await stop_worker_processes(second)
    finally:
        if first.poll() is None:
            first.kill()
    assert call["status"] == "ended"
    assert call["ended_reason"] == "callee_hung_up"  # whether the carrier or LiveKit told us first
    dials = [r for r in simulator.requests["livekit"] if r["method"] == "CreateSIPParticipant"]
    assert len(dials) == 1


async def test_a_worker_killed_mid_transfer_and_restarted_finishes_the_transfer(
    tenant: Tenant,
    simulator: Simulator,
    receiver: WebhookReceiver,
    settings: Settings,
) -> None:
    line = await set_up_line(tenant, receiver)
    script(simulator, answer_after_seconds=0, hangup_after_seconds=None)
    script(simulator, "+12015557001", answer_after_seconds=3, hangup_after_seconds=None)
    first = start_worker_process(settings)
    second = None
    try:
        session = await place_call(line)
        call_id = session["sessionId"]
        await call_when(tenant, call_id, "in-progress", within=30)
        started = await tenant.http.post(
            f"/v1/calls/{call_id}/transfers/warm",
            json={"destinations": [{"to": "+12015557001"}]},
        )
        transfer_id = started.json()["id"]
        await eventually(lambda: _consultation_ringing(simulator), 20)
        first.send_signal(signal.SIGKILL)  # while the consultation leg rings
        first.wait(timeout=10)
        second = start_worker_process(settings)
        path = f"/v1/calls/{call_id}/transfers/{transfer_id}"

        async def screening() -> bool:
            return (await tenant.http.get(path)).json()["state"] == "screening"

        await eventually(screening, 60)
        completed = await tenant.http.post(f"{path}/complete")
        assert completed.status_code == 200, completed.text
        assert completed.json()["state"] == "completed"
        await tenant.http.post(f"/v1/calls/{call_id}/hangup")
        call = await call_when(tenant, call_id, "ended", within=30)
    finally:
        await stop_worker_processes(first, second)
    assert call["ended_reason"] == "api"
    dials = [r for r in simulator.requests["livekit"] if r["method"] == "CreateSIPParticipant"]
    assert [d["request"]["sipCallTo"] for d in dials] == ["+12015551234", "+12015557001"]
    attempts = completed.json()["attempts"]
    assert [(a["to"], a["outcome"]) for a in attempts] == [("+12015557001", "accepted")]


async def _consultation_ringing(simulator: Simulator) -> bool:
    return await _leg_in(simulator, "+12015557001", "ringing")


async def test_a_dial_whose_worker_died_is_never_placed_twice(
    tenant: Tenant,
    simulator: Simulator,
    receiver: WebhookReceiver,
    settings: Settings,
) -> None:
    """The worker dies while the callee's phone rings; by the time another worker retries the
    dial, the ringing is over. The retry takes that as the answer instead of ringing again."""
    line = await set_up_line(tenant, receiver)
    script(simulator, behaviour="no-answer")
    first = start_worker_process(settings)
    second = None
    try:
        session = await place_call(line, telephony={"ringingTimeoutSeconds": 2})
        await eventually(lambda: _leg_in(simulator, CALLEE, "ringing"), 20)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        await eventually(lambda: _leg_in(simulator, CALLEE, "ended", "failed"), 20)
        second = start_worker_process(settings)
        call = await call_when(tenant, session["sessionId"], "ended", "failed", within=60)
    finally:
        await stop_worker_processes(first, second)
    assert (call["status"], call["failure_cause"]) == ("failed", "no-answer")
    dials = [r for r in simulator.requests["livekit"] if r["method"] == "CreateSIPParticipant"]
    assert len(dials) == 1


async def test_a_leg_livekit_places_after_the_worker_died_is_followed(
    tenant: Tenant,
    simulator: Simulator,
    receiver: WebhookReceiver,
    settings: Settings,
) -> None:
    """An overloaded LiveKit puts the leg in the room seconds after the dial asked for it, and
    the worker that asked died meanwhile. The retry found no leg and took the dial as over, and
    the callee was rung for a call already failed; it now waits as long as the request could
    take, and follows the leg that appears."""
    line = await set_up_line(tenant, receiver)
    # the leg lands well after the dead worker's heartbeat timeout (10 s): its retry finds none
    script(simulator, placed_after_seconds=18, answer_after_seconds=0, hangup_after_seconds=None)
    first = start_worker_process(settings)
    second = None
    try:
        session = await place_call(line, telephony={"ringingTimeoutSeconds": 25})

        async def dial_asked() -> bool:
            return any(r["method"] == "CreateSIPParticipant" for r in simulator.requests["livekit"])

        await eventually(dial_asked, 20)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        second = start_worker_process(settings)
        answered = await call_when(tenant, session["sessionId"], "in-progress", "failed", within=60)
        assert answered["status"] == "in-progress", answered
    finally:
        await stop_worker_processes(first, second)
    dials = [r for r in simulator.requests["livekit"] if r["method"] == "CreateSIPParticipant"]
    assert len(dials) == 1


async def test_a_consultation_dial_whose_worker_died_is_never_placed_twice(
    tenant: Tenant,
    simulator: Simulator,
    receiver: WebhookReceiver,
    settings: Settings,
) -> None:
    """As for a call's dial: a warm transfer's recipient is rung once per attempt, and the
    attempt the dead worker left ringing counts as unanswered."""
    line = await set_up_line(tenant, receiver)
    script(simulator, answer_after_seconds=0, hangup_after_seconds=None)
    script(simulator, "+12015557001", behaviour="no-answer")
    first = start_worker_process(settings)
    second = None
    try:
        call_id = (await place_call(line))["sessionId"]
        await call_when(tenant, call_id, "in-progress", within=30)
        started = await tenant.http.post(
            f"/v1/calls/{call_id}/transfers/warm",
            json={"destinations": [{"to": "+12015557001"}], "ringingTimeout": 2},
        )
        assert started.status_code == 201, started.text
        await eventually(lambda: _leg_in(simulator, "+12015557001", "ringing"), 20)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        await eventually(lambda: _leg_in(simulator, "+12015557001", "ended", "failed"), 20)
        second = start_worker_process(settings)
        path = f"/v1/calls/{call_id}/transfers/{started.json()['id']}"

        async def finished() -> dict | None:
            body = (await tenant.http.get(path)).json()
            return body if body["state"] not in ("dialing", "screening") else None

        transfer = await eventually(finished, 60)
        await tenant.http.post(f"/v1/calls/{call_id}/hangup")
        await call_when(tenant, call_id, "ended", within=30)  # so the worker stops idle
    finally:
        await stop_worker_processes(first, second)
    assert [(a["to"], a["outcome"]) for a in transfer["attempts"]] == [
        ("+12015557001", "no-answer")
    ]
    dials = [r for r in simulator.requests["livekit"] if r["method"] == "CreateSIPParticipant"]
    assert [d["request"]["sipCallTo"] for d in dials] == [CALLEE, "+12015557001"]


async def _leg_in(simulator: Simulator, number: str, *states: str) -> bool:
    return any(
        leg.to_number == number and leg.state in states for leg in simulator.world.legs.values()
    )


async def test_a_call_whose_workflow_never_started_fails_instead_of_staying_queued(
    settings: Settings,
    database: Database,
    local_temporal: WorkflowEnvironment,
    simulator: Simulator,
    receiver: WebhookReceiver,
) -> None:
    """The API stored the call and could not start its workflow (here: Temporal unreachable,
    as when the API dies in between). A minute later the worker's chores fail it."""
    cut_off = settings.model_copy(update={"temporal_address": f"127.0.0.1:{free_port()}"})
    async with serving(create_app(cut_off)) as base_url:
        tenant = await new_tenant(database, RunningApi(base_url), "Acme")
        line = await set_up_line(tenant, receiver)
        response = await tenant.http.post(
            "/v1/sessions/phone", json={"to": CALLEE, "agentId": line.agent_id}
        )
        assert response.status_code == 503, response.text
        [stored] = (await tenant.http.get("/v1/calls")).json()["calls"]
        assert stored["status"] == "queued"
        await tenant.aclose()
    later = utcnow() + timedelta(minutes=2)
    assert await fail_unstarted_calls(database, local_temporal.client, later) == 1
    assert await fail_unstarted_calls(database, local_temporal.client, later) == 0
    async with (
        serving(create_app(settings)) as base_url,
        RunningApi(base_url).client(tenant.api_key) as http,
    ):
        call = (await http.get(f"/v1/calls/{stored['id']}")).json()
        assert (call["status"], call["failure_cause"], call["ended_reason"]) == (
            "failed",
            "not_started",
            "not_started",
        )
        hangup = await http.post(f"/v1/calls/{stored['id']}/hangup")
        assert hangup.status_code == 409 and hangup.json()["code"] == "call_ended"
        [event] = (await http.get(f"/v1/calls/{stored['id']}/events")).json()["events"]
        assert (event["event_type"], event["status"]) == ("call.failed", "failed")


async def test_a_queued_call_whose_workflow_waits_for_a_worker_is_left_alone(
    settings: Settings, database: Database, local_temporal: WorkflowEnvironment
) -> None:
    """A call still queued because no worker took its workflow yet (all busy, say) is not
    failed: only a call with no workflow at all is."""
    call = await _a_new_outbound_call(database)
    waiting = await local_temporal.client.start_workflow(
        CallWorkflow.run,
        CallInput(session_id=call.id),
        id=f"call-{call.id}",
        task_queue=f"{settings.temporal_task_queue}-with-no-worker",
    )
    later = utcnow() + timedelta(minutes=2)
    try:
        assert await fail_unstarted_calls(database, local_temporal.client, later) == 0
    finally:
        await waiting.terminate("the test is over")
    async with database.session() as session:
        assert (await session.get_one(Call, call.id)).status == "queued"


def _call_activities(database: Database, settings: Settings) -> CallActivities:
    """The call activities on the real database, with no provider or webhook to reach."""
    return CallActivities(database, settings, None, None, None, None, _NoLanes())  # type: ignore[arg-type]


async def _a_new_outbound_call(database: Database) -> Call:
    """A call row of a new organization, as the API stores it before starting its workflow."""
    async with database.session() as session:
        organization = (await create_organization(session, "Acme")).organization
        call = new_call(
            organization_id=organization.id,
            direction="outbound",
            from_number="+14155550100",
            to_number="+12015550486",
        )
        session.add(call)
        await session.commit()
        return call


class _NoLanes:
    """Stands in for the worker's webhook dispatcher: this test sends no webhook."""

    def submit(self, lanes: list[str]) -> None:
        pass


async def _recorded(
    database: Database, settings: Settings, steps: list[tuple[int, str, str]]
) -> tuple[Call, list[RecordOutcome], list[tuple[int, str]]]:
    """A new outbound call, the `(sequence, type, status)` records stored in turn as the
    workflow's local activity stores them; the call as stored then, each record's outcome and
    the events stored, as (sequence, type)."""
    call = await _a_new_outbound_call(database)
    activities = _call_activities(database, settings)
    outcomes = [
        await activities.record_event(
            CallEventRecord(
                session_id=call.id, sequence=sequence, source="trunkline", type=kind, status=status
            )
        )
        for sequence, kind, status in steps
    ]
    async with database.session() as session:
        rows = select(CallEvent.sequence, CallEvent.type).where(CallEvent.call_id == call.id)
        stored = sorted((await session.exec(rows)).all())
        return await session.get_one(Call, call.id), outcomes, [tuple(row) for row in stored]


async def test_a_late_record_never_moves_an_ended_call_back(
    database: Database, settings: Settings
) -> None:
    """A record whose attempt outlived its timeout (seen under load: a `participant_left` of the
    ringing phase stored after `call.failed`) keeps its own status in the events, but the call
    stays failed."""
    steps = [
        (1, "call.dialing", "dialing"),
        (2, "call.failed", "failed"),
        (3, "participant_left", "ringing"),
    ]
    stored, _, _ = await _recorded(database, settings, steps)
    assert (stored.status, stored.ended_at is not None) == ("failed", True)


async def test_a_record_from_a_stale_status_never_moves_a_call_back(
    database: Database, settings: Settings
) -> None:
    """A workflow task whose result was lost (it timed out under load) ran its record; the
    task's retry, taking another path, records a hangup with the status from before it. The
    call stays in progress, and the outcome tells the workflow so it catches up."""
    steps = [
        (1, "call.dialing", "dialing"),
        (2, "call.answered", "in-progress"),
        (3, "call.hangup", "ringing"),
    ]
    stored, outcomes, _ = await _recorded(database, settings, steps)
    assert [outcome.status for outcome in outcomes] == ["dialing", "in-progress", "in-progress"]
    assert stored.status == "in-progress"


async def test_a_record_under_an_abandoned_records_sequence_is_stored_after_it(
    database: Database, settings: Settings
) -> None:
    """A workflow task that timed out stored `call.answered` as event 2 and its result was
    lost; the task's retry took another path and records the hangup as event 2. The hangup is
    stored after the abandoned event, not taken for it, and the outcome moves the workflow's
    numbering past both; a retry of the hangup's record stores nothing more."""
    steps = [
        (1, "call.dialing", "dialing"),
        (2, "call.answered", "in-progress"),
        (2, "call.hangup", "ended"),
        (2, "call.hangup", "ended"),
    ]
    stored, outcomes, events = await _recorded(database, settings, steps)
    assert events == [(1, "call.dialing"), (2, "call.answered"), (3, "call.hangup")]
    assert [outcome.absorbed for outcome in outcomes] == [0, 0, 1, 1]
    assert stored.status == "ended"


async def test_an_abandoned_record_stored_late_never_stalls_the_call(
    database: Database, settings: Settings
) -> None:
    """The other order: the retried task's hangup is stored as event 2 first, and the
    abandoned task's `call.answered`, arriving late, goes after it (3). The workflow's next
    record, numbered 3, finds no row of its own there and is stored after both; a retry of it
    finds its row and stores nothing more."""
    steps = [
        (1, "call.dialing", "dialing"),
        (2, "call.hangup", "ended"),
        (2, "call.answered", "in-progress"),
        (3, "call.ended", "ended"),
        (3, "call.ended", "ended"),
    ]
    stored, outcomes, events = await _recorded(database, settings, steps)
    assert events == [
        (1, "call.dialing"),
        (2, "call.hangup"),
        (3, "call.answered"),
        (4, "call.ended"),
    ]
    assert [outcome.absorbed for outcome in outcomes] == [0, 0, 1, 1, 1]
    assert stored.status == "ended"


async def test_a_recording_asked_for_once_the_call_ended_is_no_failure(
    database: Database, settings: Settings
) -> None:
    """Under load the recording's start can come after a short call ended: nothing is asked of
    LiveKit (here there is none to ask) and nothing fails, so no `recording.failed` goes out;
    the report says the call ended before its recording started."""
    steps = [(1, "call.dialing", "dialing"), (2, "call.ended", "ended")]
    stored, _, _ = await _recorded(database, settings, steps)
    activities = _call_activities(database, settings)
    await activities.start_recording(CallInput(session_id=stored.id))


async def test_the_phone_leaving_is_signalled_once_though_both_providers_say_it(
    tenant: Tenant,
    simulator: Simulator,
    receiver: WebhookReceiver,
    worker_with: WorkerWith,
    local_temporal: WorkflowEnvironment,
    database: Database,
) -> None:
    """The carrier's hangup and LiveKit's participant_left come milliseconds apart: a second
    signal reached a workflow already ending the call, and Temporal refused that task's
    completion and ran it again, local activities and all. The second is stored unsignalled
    and reaches the call's events all the same."""
    line = await set_up_line(tenant, receiver)
    script(simulator, answer_after_seconds=0, hangup_after_seconds=None)
    async with worker_with():
        call_id = (await place_call(line))["sessionId"]
        call = await call_when(tenant, call_id, "in-progress")
    # no worker: the call stays in progress while both providers say the phone left
    [leg] = [leg for leg in simulator.world.legs.values() if leg.room == call["room_name"]]
    room = simulator.world.rooms[call["room_name"]]
    [phone] = [p for p in room.participants.values() if p.kind == Kind.SIP]
    simulator.webhooks.telnyx("call.hangup", leg.telnyx_payload(hangup_source="callee"))
    await simulator.webhooks.drain()
    left = WebhookEvent(
        event="participant_left", room=room.info(), participant=phone.info(Reason.CLIENT_INITIATED)
    )
    simulator.webhooks.livekit(left)
    await simulator.webhooks.drain()
    async with database.session() as session:
        departures = (
            await session.exec(
                select(ProviderEvent)
                .where(ProviderEvent.call_id == call_id)
                .where(col(ProviderEvent.event_type).in_(["call.hangup", "participant_left"]))
                .order_by(col(ProviderEvent.received_at))
            )
        ).all()
    assert [(e.event_type, e.signalled) for e in departures] == [
        ("call.hangup", True),
        ("participant_left", False),
    ]
    async with worker_with():
        ended = await call_when(tenant, call_id, "ended")
        history = await local_temporal.client.get_workflow_handle(f"call-{call_id}").fetch_history()
    assert ended["ended_reason"] == "callee_hung_up"
    signalled = [
        json.loads(e.workflow_execution_signaled_event_attributes.input.payloads[0].data)
        for e in history.events
        if e.HasField("workflow_execution_signaled_event_attributes")
    ]
    heard = [(s["provider"], s["event_type"]) for s in signalled]
    assert ("telnyx", "call.hangup") in heard and ("livekit", "participant_left") not in heard
    kinds = {(e["provider"], e["event_type"]) for e in await events(tenant, call_id)}
    assert {("telnyx", "call.hangup"), ("livekit", "participant_left")} <= kinds
