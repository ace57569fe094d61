"""Activities of a call: resolve its config, run the pre-call webhook, open the room, dial or
bridge the phone leg, probe and hang up, and record each lifecycle event."""

import contextlib
import json
import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, case, insert, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from activities.common import dial_once, load_call
from trunkline.calls.config import (
    ResolvedConfig,
    apply_layer,
    parse_pre_call_response,
    resolve,
    split_template,
)
from trunkline.calls.events import last_sequence, taken_in, unrecorded
from trunkline.calls.forwarding import forwarded_from
from trunkline.calls.signals import SESSION_HEADER, phone_participant
from trunkline.calls.store import agent_token
from trunkline.calls.webhook_payloads import (
    notifies_customer,
    pre_call_payload,
    status_payload,
    transfer_webhook_fields,
)
from trunkline.db import Database, row_of, run_core
from trunkline.metrics import CALLS_ENDED, CALLS_STARTED
from trunkline.models import (
    Agent,
    Call,
    CallEvent,
    Organization,
    PhoneNumber,
    ProviderEvent,
    WebhookDelivery,
    utcnow,
)
from trunkline.organizations import signing_secrets
from trunkline.prompt_variables import PROMPT_KEYS, prompt_values, render
from trunkline.providers.errors import ProviderRejected
from trunkline.providers.livekit import DialRequest, LiveKitAdapter
from trunkline.providers.telnyx import CallAlreadyEnded, TelnyxAdapter
from trunkline.settings import Settings
from trunkline.templates import render_template
from trunkline.webhooks.client import WebhookClient
from trunkline.webhooks.dispatcher import WebhookDispatcher
from trunkline.webhooks.endpoints import call_deliveries, call_targets
from trunkline.webhooks.signing import signature_headers
from trunkline.workflow_io import (
    STATUS_RANK,
    TERMINAL_STATUSES,
    AmdSettings,
    CallEventRecord,
    CallInput,
    CallPlan,
    CallStatus,
    DialOutcome,
    PreCallOutcome,
    PreparedCall,
    ProbeResult,
    RecordOutcome,
    RejectInput,
    ReportRequest,
)
from trunkline.workflow_starts import start_report

DEFAULT_RINGING_TIMEOUT_SECONDS = 30.0

_CALLS = Call.__table__
_ADVANCED = (
    "status",
    "answered_at",
    "ended_at",
    "ended_reason",
    "failure_cause",
    "sip_status_code",
    "sip_status",
    "answered_machine",
    "updated_at",
)
"""The call row's fields an event moves."""
# Recording an event runs for every event of every call: its statements are built once.
_CALL = select(_CALLS).where(_CALLS.c.id == bindparam("of_call"))
_ADVANCE_CALL = (
    update(_CALLS)
    .where(_CALLS.c.id == bindparam("of_call"))
    .values({name: bindparam(f"new_{name}", type_=_CALLS.c[name].type) for name in _ADVANCED})
    .values(  # a late record (an attempt that outlived its timeout) never un-ends a call
        status=case(
            (_CALLS.c.status.in_(TERMINAL_STATUSES), _CALLS.c.status),
            else_=bindparam("new_status"),
        )
    )
)
_STORE_EVENTS = insert(CallEvent.__table__)
_QUEUE_DELIVERIES = insert(WebhookDelivery.__table__)

logger = logging.getLogger(__name__)


class CallActivities:
    """Bound to the process's database, settings and provider adapters when the worker starts."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        livekit: LiveKitAdapter,
        telnyx: TelnyxAdapter,
        webhooks: WebhookClient,
        temporal: Client,
        dispatcher: WebhookDispatcher,
    ) -> None:
        self._temporal = temporal
        self._dispatcher = dispatcher
        self._database = database
        self._settings = settings
        self._livekit = livekit
        self._telnyx = telnyx
        self._webhooks = webhooks

    async def _call(self, session_id: str) -> Call:
        return await load_call(self._database, session_id)

    # --- configuration ---------------------------------------------------------------------

    @activity.defn(name="prepare_call")
    async def prepare(self, request: CallInput) -> CallPlan:
        """Resolve the pipeline config (all layers but the pre-call webhook) and store it."""
        async with self._database.session() as session:
            call = await session.get_one(Call, request.session_id)
            agent = await session.get(Agent, call.agent_id) if call.agent_id else None
            number = (
                await session.get(PhoneNumber, call.phone_number_id)
                if call.phone_number_id
                else None
            )
            resolved = self._resolve(call, agent, number)
            call.pipeline_config = resolved.config
            call.config_sources = resolved.sources
            call.call_metadata = resolved.metadata
            session.add(call)
            await session.commit()
        return self._plan(call, agent)

    @activity.defn(name="prepare_and_queue_call")
    async def prepare_and_queue(self, request: CallInput) -> PreparedCall:
        """Prepare the call and record `call.queued` as its first event: one step, not two."""
        plan = await self.prepare(request)
        queued = CallEventRecord(
            session_id=plan.session_id,
            sequence=1,
            source="trunkline",
            type="call.queued",
            status="queued",
            detail=plan.summary,
            absorb=True,
        )
        return PreparedCall(plan=plan, queued=await self.record_event(queued))

    def _resolve(
        self, call: Call, agent: Agent | None, number: PhoneNumber | None
    ) -> ResolvedConfig:
        agent_layer = agent.config if agent else {}
        if call.direction == "outbound":
            resolved = resolve([("agent", agent_layer), ("request", call.request)])
            if "variables" in call.request:  # the API checked that every placeholder has one
                values = prompt_values(call.request, agent_layer)
                for key in PROMPT_KEYS:
                    if resolved.config.get(key):
                        resolved.config[key] = render(resolved.config[key], values)
            return resolved
        forwarded = forwarded_from(
            dialed_number=call.to_number, telnyx_payload=call.request.get("telnyx") or {}
        )
        forwarded_number = forwarded.number if forwarded else None
        values = {
            "callerNumber": call.from_number,
            "dialedNumber": call.to_number,
            "forwardedFromNumber": forwarded_number,
        }
        template = number.dispatch_metadata_template if number else None
        rendered = render_template(template or {}, values)
        routing = {"metadata": {"forwardedFromNumber": forwarded_number}}
        if forwarded and forwarded.reason:
            routing["metadata"]["forwardedFromReason"] = forwarded.reason
        return resolve(
            [("template", split_template(rendered)), ("agent", agent_layer), ("trunkline", routing)]
        )

    def _plan(self, call: Call, agent: Agent | None) -> CallPlan:
        telephony = call.request.get("telephony") or {}
        amd = telephony.get("amd")
        constraints = call.pipeline_config.get("constraints") or {}
        webhooks = (agent.config.get("webhooks") if agent else None) or {}
        who = f"agent {agent.name}" if agent else "ad hoc agent"
        return CallPlan(
            session_id=call.id,
            organization_id=call.organization_id,
            agent_id=call.agent_id,
            direction=call.direction,  # type: ignore[arg-type]
            from_number=call.from_number,
            to_number=call.to_number,
            room_name=call.room_name,
            sip_participant_identity=call.sip_participant_identity,
            call_control_id=call.call_control_id,
            has_pre_call_webhook="preCall" in webhooks,
            ringing_timeout_seconds=telephony.get("ringingTimeoutSeconds")
            or DEFAULT_RINGING_TIMEOUT_SECONDS,
            max_duration_seconds=constraints.get("maxCallDurationSeconds")
            or self._settings.call_max_duration_seconds,
            watchdog_seconds=self._settings.call_watchdog_seconds,
            amd=AmdSettings(
                mode=amd.get("mode", "agent"), timeout_seconds=amd.get("timeoutSeconds", 8)
            )
            if amd
            else None,
            summary=f"{call.direction} call {call.from_number} → {call.to_number}, {who}",
            record=self._settings.call_recording_enabled,
        )

    @activity.defn(name="run_pre_call_webhook")
    async def pre_call(self, request: CallInput) -> PreCallOutcome:
        """Post `call.pre_call` under a hard deadline; lay the answer's overrides on the config."""
        async with self._database.session() as session:
            call = await session.get_one(Call, request.session_id)
            agent = await session.get_one(Agent, call.agent_id)
            organization = await session.get_one(Organization, call.organization_id)
        target = agent.config["webhooks"]["preCall"]
        body = json.dumps(pre_call_payload(call, call.pipeline_config))
        sent_at = utcnow()
        headers = signature_headers(
            f"msg_precall_{call.id}",
            sent_at,
            body,
            signing_secrets(organization, sent_at),
            target.get("secret"),
        )
        result = await self._webhooks.post(
            target["url"], body, headers, timeout_seconds=self._settings.pre_call_timeout_seconds
        )
        if result.error == "timed out":
            return PreCallOutcome(
                outcome="timeout",
                detail=f"no answer within {self._settings.pre_call_timeout_seconds:g} s",
            )
        if not result.succeeded:
            return PreCallOutcome(outcome="error", detail=result.error)
        try:
            overrides = parse_pre_call_response(json.loads(result.response_excerpt or "null"))
        except ValueError as exc:
            return PreCallOutcome(outcome="bad_response", detail=str(exc))
        await self._apply_overrides(call.id, overrides.layer)
        return PreCallOutcome(
            outcome="applied",
            applied=sorted(k for k in overrides.layer if k != "metadata")
            + [f"metadata.{k}" for k in overrides.layer.get("metadata", {})],
            ignored=overrides.ignored,
            invalid=overrides.invalid,
        )

    async def _apply_overrides(self, session_id: str, layer: dict[str, Any]) -> None:
        async with self._database.session() as session:
            call = await session.get_one(Call, session_id)
            resolved = ResolvedConfig(
                dict(call.pipeline_config), dict(call.call_metadata), dict(call.config_sources)
            )
            apply_layer(resolved, "pre_call", layer)
            call.pipeline_config = resolved.config
            call.call_metadata = resolved.metadata
            call.config_sources = resolved.sources
            session.add(call)
            await session.commit()

    # --- telephony -------------------------------------------------------------------------

    @activity.defn(name="open_call_room")
    async def open_room(self, request: CallInput) -> str:
        """Create the call's room and dispatch the agent with the resolved config and its token."""
        call = await self._call(request.session_id)
        await self._livekit.create_room(
            call.room_name,
            {"sessionId": call.id, "direction": call.direction},
            timedelta(seconds=10),
        )
        metadata = {
            "sessionId": call.id,
            "direction": call.direction,
            "from": call.from_number,
            "to": call.to_number,
            "pipelineConfig": call.pipeline_config,
            "metadata": call.call_metadata,
            "telephony": call.request.get("telephony") or {},
            "agentToken": agent_token(self._settings.agent_token_secret, call.id),
            "apiBaseUrl": self._settings.public_base_url,
        }
        if call.request.get("toolSecrets"):  # for the agent's tools alone, never a prompt
            metadata["toolSecrets"] = call.request["toolSecrets"]
        return await self._livekit.dispatch_agent(
            call.room_name, self._settings.livekit_agent_name, metadata
        )

    @activity.defn(name="open_call_room_and_record")
    async def open_room_then_record(self, record: CallEventRecord) -> RecordOutcome:
        """Open the room, then record the event that follows (`call.dialing`): one step."""
        await self.open_room(CallInput(session_id=record.session_id))
        return await self.record_event(record)

    @activity.defn(name="dial_call")
    async def dial(self, request: CallInput) -> DialOutcome:
        """Dial the callee into the room and wait for the answer; never dials a call twice.

        A retry (the worker died meanwhile) follows the leg the first try placed, or, when that
        leg is gone, takes it as unanswered rather than ringing the callee again.
        """
        call = await self._call(request.session_id)
        ringing = (call.request.get("telephony") or {}).get("ringingTimeoutSeconds")
        await dial_once(
            self._livekit,
            DialRequest(
                room_name=call.room_name,
                participant_identity=call.sip_participant_identity,
                to=call.to_number,
                from_number=call.from_number,
                attributes={"trunkline.sessionId": call.id},
                headers={SESSION_HEADER: call.id},
                ringing_timeout=timedelta(seconds=ringing or DEFAULT_RINGING_TIMEOUT_SECONDS),
                wait_until_answered=True,
            ),
            lambda: self._phone_status(call),
            lambda: self._stamp_dialed(call.id),
        )
        return DialOutcome(answered=True)

    async def _stamp_dialed(self, session_id: str) -> datetime | None:
        """Note that the dial is being placed; when an earlier try placed it, when that was."""
        async with self._database.session() as session:
            call = await session.get_one(Call, session_id)
            if call.dialed_at is not None:
                return call.dialed_at
            call.dialed_at = utcnow()
            session.add(call)
            await session.commit()
        return None

    async def _phone_status(self, call: Call) -> str | None:
        """The caller's (callee's) SIP call status, or None when it is not in the room."""
        phone = phone_participant(await self._livekit.sip_participants(call.room_name))
        return (phone.sip_call_status or "unknown") if phone else None

    @activity.defn(name="bridge_inbound_call")
    async def bridge(self, request: CallInput) -> None:
        """Answer the carrier leg and bridge it into the room, tagged with our session id."""
        call = await self._call(request.session_id)
        control_id = call.call_control_id or ""
        try:
            await self._telnyx.answer(control_id, command_id=f"{call.id}-answer")
            await self._telnyx.transfer(
                control_id,
                f"sip:{call.room_name}@{self._settings.livekit_sip_host}",
                {SESSION_HEADER: call.id},
                command_id=f"{call.id}-bridge",
            )
        except CallAlreadyEnded as exc:
            raise ApplicationError(
                "the caller hung up before the call was bridged",
                type="CallerHungUp",
                non_retryable=True,
            ) from exc

    @activity.defn(name="bridge_inbound_call_and_record")
    async def bridge_then_record(self, record: CallEventRecord) -> RecordOutcome:
        """Bridge the caller, then record that it is bridged (`call.bridged`): one step."""
        await self.bridge(CallInput(session_id=record.session_id))
        return await self.record_event(record)

    @activity.defn(name="probe_call")
    async def probe(self, request: CallInput) -> ProbeResult:
        """Ask LiveKit where the call stands, for when a webhook never comes."""
        call = await self._call(request.session_id)
        return ProbeResult(phone_present=await self._phone_status(call) is not None)

    @activity.defn(name="hang_up_call")
    async def hang_up(self, request: CallInput) -> None:
        """End every leg of the call and close its room; what is already gone is fine."""
        call = await self._call(request.session_id)
        if call.direction == "inbound" and call.call_control_id:
            with contextlib.suppress(CallAlreadyEnded):
                await self._telnyx.hangup(call.call_control_id, command_id=f"{call.id}-hangup")
        try:
            await self._livekit.delete_room(call.room_name)
        except ProviderRejected as exc:
            if exc.code != "not_found":
                raise

    @activity.defn(name="start_call_recording")
    async def start_recording(self, request: CallInput) -> None:
        """Record the answered call's room (audio), once. A call that ended first is no
        failure, nor is a room already gone (it closes when the phone leaves, before the
        workflow hears of it): the report and events say the call ended before its recording
        started."""
        call = await self._call(request.session_id)
        if call.recording_egress_id or call.status in TERMINAL_STATUSES:
            return
        recording = await self._livekit.active_recording(call.room_name)
        if recording is None:  # not started by an earlier try of this activity
            try:
                recording = await self._livekit.start_recording(call.room_name, f"{call.id}.ogg")
            except ProviderRejected as exc:
                if exc.code == "not_found":
                    return
                raise
        async with self._database.session() as session:
            stored = await session.get_one(Call, call.id)
            stored.recording_egress_id = recording.egress_id
            session.add(stored)
            await session.commit()

    @activity.defn(name="start_post_call_report")
    async def start_report(self, request: CallInput) -> None:
        """Start the ended call's `PostCallReportWorkflow`."""
        await start_report(
            self._temporal,
            activity.info().task_queue,
            ReportRequest(
                session_id=request.session_id,
                rules_only=not self._settings.analysis_llm_base_url,
            ),
            after_call=True,
        )

    @activity.defn(name="close_call")
    async def close(self, request: CallInput) -> None:
        """The ended call's last step: hang up every leg, close the room, start the report."""
        await self.hang_up(request)
        await self.start_report(request)

    @activity.defn(name="reject_inbound_call")
    async def reject(self, request: RejectInput) -> None:
        """Refuse a carrier leg we will not take; a caller who already left is fine."""
        with contextlib.suppress(CallAlreadyEnded):
            await self._telnyx.reject(request.call_control_id, request.cause)

    # --- events ----------------------------------------------------------------------------

    @activity.defn(name="record_call_event")
    async def record_event(self, record: CallEventRecord) -> RecordOutcome:
        """Store the event (after the provider events it takes in), move the call row along,
        and send its `call.status` webhook when it is one a customer acts on.

        Idempotent on the record's sequence number: its first row takes that number, so a retry
        cannot store again; it finds its row and submits its deliveries again (a delivery
        already sent is not sent twice). When another record holds the number, one a workflow
        task that timed out ran before its retry took another path, or one whose rows were
        moved by such a record, this one is stored after everything stored, and the outcome
        moves the workflow's numbering past it.
        """
        try:
            async with self._database.session() as session:
                lanes, absorbed, status = await self._store_event(session, record)
        except (IntegrityError, AlreadyAmongEvents) as taken:  # by an earlier attempt, or not
            async with self._database.session() as session:
                mine = _own_row(record, await _recorded_with(session, record))
                lanes, absorbed = [], 0
                if mine is not None:
                    lanes = await self._lanes(session, record.session_id, mine.sequence)
                    absorbed = mine.sequence - record.sequence
                elif isinstance(taken, IntegrityError):
                    after = await last_sequence(session, record.session_id)
                    lanes, absorbed, _ = await self._store_event(session, record, after)
                found = (await run_core(session, _CALL, {"of_call": record.session_id})).one()
                status = found.status
        self._dispatcher.submit(lanes)
        return RecordOutcome(absorbed=absorbed, status=status)

    async def _store_event(
        self, session: Any, record: CallEventRecord, after: int | None = None
    ) -> tuple[list[str], int, CallStatus]:
        """Store a new event, numbered from the record's sequence (from `after + 1` when an
        abandoned path took it); returns the lanes of the deliveries it queued, the sequence
        numbers taken before it, and the call's status now. Prebuilt Core statements: this runs
        for every event of every call."""
        found = (await run_core(session, _CALL, {"of_call": record.session_id})).one()
        call = Call(**found._mapping)  # detached: its changes are written below
        own, absorbed = await _provider_events(session, record)
        if record.absorb and record.provider_event_id and own is None:
            raise AlreadyAmongEvents(record.provider_event_id)
        first = record.sequence if after is None else after + 1
        events = taken_in(call, absorbed, first, record.sequence)
        sequence = first + len(absorbed)
        status_changed = STATUS_RANK[record.status] > STATUS_RANK[call.status]
        ending = record.status in TERMINAL_STATUSES and call.ended_at is None
        payload = record.facts
        if record.provider_event_id:
            payload = own.payload if own else {}
        events.append(
            CallEvent(
                call_id=call.id,
                sequence=sequence,
                recorded_with=record.sequence,
                source=record.source,
                type=record.type,
                status=record.status,
                sip_status_code=record.sip_status_code,
                sip_status=record.sip_status,
                detail=record.detail,
                provider_event_id=record.provider_event_id,
                payload=payload,
            )
        )
        await run_core(session, _STORE_EVENTS, [row_of(event) for event in events])
        if _advance(call, record):
            call.updated_at = utcnow()
            moved = {f"new_{name}": getattr(call, name) for name in _ADVANCED}
            await run_core(session, _ADVANCE_CALL, {"of_call": call.id, **moved})
        notify = notifies_customer(
            record.type, record.source, status_changed, record.sip_status_code
        )
        queued = await _status_deliveries(session, call, record, sequence) if notify else []
        if queued:
            await run_core(session, _QUEUE_DELIVERIES, [row_of(delivery) for delivery in queued])
        await session.commit()
        _note_lifecycle(call, record.type, ending)
        taken = sequence - record.sequence
        return [delivery.lane for delivery in queued], taken, call.status  # type: ignore[return-value]

    async def _lanes(self, session: Any, call_id: str, sequence: int) -> list[str]:
        statement = select(WebhookDelivery.lane).where(
            WebhookDelivery.call_id == call_id, WebhookDelivery.event_sequence == sequence
        )
        return list((await session.exec(statement)).all())


def _note_lifecycle(call: Call, event_type: str, ending: bool) -> None:
    """Count and log the call's start and end. Only a newly stored event gets here (a retry of
    its record finds it stored), so each is counted once."""
    if event_type == "call.queued":
        CALLS_STARTED.labels(call.direction).inc()
        logger.info("call %s started (%s)", call.id, call.direction)
    if ending:
        outcome = call_outcome(call)
        CALLS_ENDED.labels(call.direction, outcome).inc()
        logger.info("call %s ended: %s", call.id, outcome)


def call_outcome(call: Call) -> str:
    """`completed` (answered), `canceled` (ended unanswered), or why it failed."""
    if call.status == "failed":
        return call.failure_cause or "error"
    return "completed" if call.answered_at else "canceled"


async def _status_deliveries(
    session: Any, call: Call, record: CallEventRecord, sequence: int
) -> list[WebhookDelivery]:
    """The event's `call.status` webhook, to the agent's status URL and the matching endpoints
    (one statement finds both)."""
    targets = await call_targets(session, call, "call.status")
    provider = "trunkline" if record.source == "transfer" else record.source
    payload = status_payload(call, record.type, provider, record.sip_status_code, record.sip_status)
    if record.source == "transfer":
        payload["transfer"] = transfer_webhook_fields(record.facts)
    return call_deliveries(call, targets, "call.status", payload, event_sequence=sequence)


async def _provider_events(
    session: Any, record: CallEventRecord
) -> tuple[ProviderEvent | None, list[ProviderEvent]]:
    """The record's own provider event (its payload is stored with it), and the unsignalled
    ones it takes in before itself when it absorbs: one query for both."""
    own_id = record.provider_event_id
    if not record.absorb:
        return (await session.get(ProviderEvent, own_id) if own_id else None), []
    pending = await unrecorded(session, record.session_id, signalled_too=False, including=own_id)
    own = next((event for event in pending if event.id == own_id), None)
    return own, [event for event in pending if event is not own]


_SAME_RECORD = ("type", "status", "detail", "sip_status_code", "provider_event_id")
"""What a row and a record share when the row is that record's: another record of the same
type may differ in its reason."""


async def _recorded_with(session: Any, record: CallEventRecord) -> list[Any]:
    """The rows stored under a record's sequence number, in order: by an earlier attempt of it
    (the provider events it took in, then its own), or by another record."""
    statement = (
        select(CallEvent.sequence, *(getattr(CallEvent, name) for name in _SAME_RECORD))
        .where(
            CallEvent.call_id == record.session_id,
            or_(
                CallEvent.recorded_with == record.sequence,
                and_(col(CallEvent.recorded_with).is_(None), CallEvent.sequence == record.sequence),
            ),
        )
        .order_by(col(CallEvent.sequence))
    )
    return list((await session.exec(statement)).all())


class AlreadyAmongEvents(Exception):
    """The provider event a record stores is among the call's events already: stored by an
    earlier attempt of the record, or by a record whose workflow task was abandoned."""


def _own_row(record: CallEventRecord, rows: list[Any]) -> Any | None:
    """The row an earlier attempt of this record stored, if one of `rows` is it."""
    facts = [getattr(record, name) for name in _SAME_RECORD]
    return next(
        (row for row in reversed(rows) if [getattr(row, name) for name in _SAME_RECORD] == facts),
        None,
    )


def _advance(call: Call, record: CallEventRecord) -> bool:
    """Move the call to the record's status and failure facts; whether anything changed (its
    `updated_at` is the caller's to set then)."""
    before = [getattr(call, name) for name in _ADVANCED]
    now = utcnow()
    if STATUS_RANK[record.status] >= STATUS_RANK[call.status]:  # never backwards
        call.status = record.status
    if record.status == "in-progress" and call.answered_at is None:
        call.answered_at = now
    if record.status in TERMINAL_STATUSES and call.ended_at is None:
        call.ended_at = now
        call.ended_reason = record.ended_reason
    if record.failure_cause:
        call.failure_cause = record.failure_cause
        call.sip_status_code = record.sip_status_code
        call.sip_status = record.sip_status
    if record.type == "amd.machine":
        call.answered_machine = True
    elif record.type == "amd.human":
        call.answered_machine = False
    return [getattr(call, name) for name in _ADVANCED] != before
