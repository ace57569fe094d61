"""Activities of transfers: the blind REFER, consultation legs, bridging, and telling the agent."""

import hashlib
from datetime import datetime, timedelta

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.common import dial_once, heartbeating, load_call
from trunkline.calls.signals import CONSULTATION_HEADER, phone_participant
from trunkline.calls.store import agent_token, call_party, screening_scope
from trunkline.calls.transcripts import transcript
from trunkline.db import Database
from trunkline.models import Call, Transfer, TransferAttempt, utcnow
from trunkline.providers.errors import CallFailed, ProviderError, ProviderRejected
from trunkline.providers.livekit import DialRequest, LiveKitAdapter
from trunkline.settings import Settings
from trunkline.transfers import (
    add_attempt,
    apply_state,
    call_summary,
    create_transfer,
    find_attempt,
)
from trunkline.workflow_io import (
    AgentNotice,
    AttemptEnd,
    BlindTransferRequest,
    ConsultationLeg,
    DialOutcome,
    TransferOutcome,
    TransferRecord,
    TransferStateChange,
)

AGENT_TOPIC = "trunkline.transfer"


class TransferActivities:
    """Bound to the process's database, settings and LiveKit adapter when the worker starts."""

    def __init__(self, database: Database, settings: Settings, livekit: LiveKitAdapter) -> None:
        self._database = database
        self._settings = settings
        self._livekit = livekit

    async def _call(self, session_id: str) -> Call:
        return await load_call(self._database, session_id)

    # --- the transfer row ------------------------------------------------------------------

    @activity.defn(name="create_transfer")
    async def create(self, record: TransferRecord) -> None:
        call = await self._call(record.session_id)
        async with self._database.session() as session:
            await create_transfer(session, call.organization_id, record)

    @activity.defn(name="set_transfer_state")
    async def set_state(self, change: TransferStateChange) -> None:
        async with self._database.session() as session:
            transfer = await session.get_one(Transfer, change.transfer_id)
            apply_state(transfer, change)
            session.add(transfer)
            await session.commit()

    # --- blind -----------------------------------------------------------------------------

    @activity.defn(name="blind_transfer")
    async def blind(self, request: BlindTransferRequest) -> TransferOutcome:
        """REFER the caller once; the outcome is what the far end and LiveKit answered.

        Never retried: a REFER whose answer was lost may have moved the caller already.
        """
        call = await self._call_for_transfer(request.transfer_id)
        identity = request.participant_identity or await self._phone_identity(call)
        if identity is None:
            return await self._blind_outcome(
                request, TransferOutcome(succeeded=False, outcome="caller_gone")
            )
        try:
            await heartbeating(
                self._livekit.transfer(
                    call.room_name,
                    identity,
                    _sip_uri(request.to),
                    timedelta(seconds=request.ringing_timeout_seconds),
                    headers=request.headers,
                    play_dialtone=request.play_dialtone,
                )
            )
        except CallFailed as failure:
            outcome = TransferOutcome(
                succeeded=False,
                outcome=failure.cause,
                sip_status_code=failure.sip_status_code,
                sip_status=failure.sip_status,
                detail=str(failure),
            )
        except ProviderError as error:
            outcome = TransferOutcome(succeeded=False, outcome="error", detail=str(error))
        else:
            outcome = TransferOutcome(
                succeeded=True, outcome="completed", sip_status_code=200, sip_status="OK"
            )
        return await self._blind_outcome(request, outcome)

    async def _phone_identity(self, call: Call) -> str | None:
        """The caller's phone leg in the call's room, if it is still there."""
        phone = phone_participant(await self._livekit.sip_participants(call.room_name))
        return phone.identity if phone else None

    async def _call_for_transfer(self, transfer_id: str) -> Call:
        async with self._database.session() as session:
            transfer = await session.get_one(Transfer, transfer_id)
            return await session.get_one(Call, transfer.call_id)

    async def _blind_outcome(
        self, request: BlindTransferRequest, outcome: TransferOutcome
    ) -> TransferOutcome:
        """Store the blind transfer's one attempt and final state."""
        async with self._database.session() as session:
            transfer = await session.get_one(Transfer, request.transfer_id)
            now = utcnow()
            attempt = TransferAttempt(
                transfer_id=transfer.id,
                number=1,
                to=request.to,
                outcome=outcome.outcome,
                sip_status_code=outcome.sip_status_code,
                sip_status=outcome.sip_status,
                detail=outcome.detail,
                answered_at=now if outcome.succeeded else None,
                ended_at=now,
            )
            apply_state(
                transfer,
                TransferStateChange(
                    transfer_id=transfer.id,
                    state="completed" if outcome.succeeded else "failed",
                    current_attempt=1,
                    detail=outcome.detail,
                ),
            )
            transfer.sip_status_code = outcome.sip_status_code
            transfer.sip_status = outcome.sip_status
            session.add_all([attempt, transfer])
            await session.commit()
        return outcome

    # --- warm: consultation legs -----------------------------------------------------------

    @activity.defn(name="open_consultation")
    async def open_consultation(self, leg: ConsultationLeg) -> None:
        """Record the attempt, open its room and dispatch the screening agent into it."""
        call = await self._call(leg.session_id)
        async with self._database.session() as session:
            transfer = await session.get_one(Transfer, leg.transfer_id)
            await add_attempt(session, leg)
            entries = await transcript(session, call.id)
        await self._livekit.create_room(
            leg.room_name,
            {"sessionId": call.id, "transferId": leg.transfer_id, "role": "consultation"},
            timedelta(seconds=10),
        )
        await self._livekit.dispatch_agent(
            leg.room_name,
            self._settings.livekit_agent_name,
            {
                "role": "screening",
                "sessionId": call.id,
                "transferId": leg.transfer_id,
                "attempt": leg.attempt,
                "destination": {"to": leg.to, "label": leg.label},
                "screeningPrompt": transfer.request.get("screeningPrompt"),
                "callSummary": transfer.request.get("summary")
                or call_summary(call_party(call), call.call_metadata, entries),
                "voicemailDetection": transfer.request.get("voicemailDetection"),
                "agentToken": agent_token(
                    self._settings.agent_token_secret,
                    call.id,
                    screening_scope(leg.transfer_id, leg.attempt),
                ),
                "apiBaseUrl": self._settings.public_base_url,
            },
        )

    @activity.defn(name="dial_consultation")
    async def dial_consultation(self, leg: ConsultationLeg) -> DialOutcome:
        """Dial the destination into the consultation room and wait for the answer, once."""
        await dial_once(
            self._livekit,
            DialRequest(
                room_name=leg.room_name,
                participant_identity=leg.identity,
                to=leg.to,
                from_number=leg.from_number,
                attributes={"trunkline.transferId": leg.transfer_id},
                headers={CONSULTATION_HEADER: leg.room_name},
                ringing_timeout=timedelta(seconds=leg.ringing_timeout_seconds),
                wait_until_answered=True,
            ),
            lambda: self._recipient_status(leg),
            lambda: self._stamp_dialed(leg),
        )
        await self._answered(leg)
        return DialOutcome(answered=True)

    async def _stamp_dialed(self, leg: ConsultationLeg) -> datetime | None:
        """Note that the attempt's dial is being placed; when an earlier try placed it, when."""
        async with self._database.session() as session:
            attempt = await find_attempt(session, leg)
            if attempt.dialed_at is not None:
                return attempt.dialed_at
            attempt.dialed_at = utcnow()
            session.add(attempt)
            await session.commit()
        return None

    async def _answered(self, leg: ConsultationLeg) -> None:
        """Stamp the attempt's answer (once: a retried dial keeps the first time)."""
        async with self._database.session() as session:
            attempt = await find_attempt(session, leg)
            attempt.answered_at = attempt.answered_at or utcnow()
            session.add(attempt)
            await session.commit()

    @activity.defn(name="end_consultation")
    async def end_consultation(self, end: AttemptEnd) -> None:
        """Hang up the consultation leg (closing its room) and record the attempt's outcome."""
        await self._delete_room(end.leg.room_name)
        async with self._database.session() as session:
            attempt = await find_attempt(session, end.leg)
            if attempt.outcome is None:
                attempt.outcome = end.outcome
                attempt.sip_status_code = end.sip_status_code
                attempt.sip_status = end.sip_status
                attempt.detail = end.detail
                attempt.ended_at = utcnow()
                session.add(attempt)
                await session.commit()

    @activity.defn(name="bridge_recipient")
    async def bridge(self, leg: ConsultationLeg) -> None:
        """Move the screened recipient into the caller's room, and take the agents out of it."""
        call = await self._call(leg.session_id)
        try:
            await self._livekit.move_participant(leg.room_name, leg.identity, call.room_name)
        except ProviderRejected as exc:
            if not await self._recipient_in(call.room_name, leg):  # not moved by an earlier try
                raise ApplicationError(
                    f"cannot bridge the recipient: {exc}", type="BridgeFailed", non_retryable=True
                ) from exc
        for participant in await self._livekit.list_participants(call.room_name):
            if participant.kind == "AGENT":
                await self._remove(call.room_name, participant.identity)
        await self._delete_room(leg.room_name)
        async with self._database.session() as session:
            attempt = await find_attempt(session, leg)
            attempt.outcome = "accepted"
            attempt.ended_at = attempt.ended_at or utcnow()
            session.add(attempt)
            await session.commit()

    async def _recipient_in(self, room: str, leg: ConsultationLeg) -> bool:
        return any(p.identity == leg.identity for p in await self._livekit.sip_participants(room))

    async def _recipient_status(self, leg: ConsultationLeg) -> str | None:
        legs = await self._livekit.sip_participants(leg.room_name)
        return next((p.sip_call_status for p in legs if p.identity == leg.identity), None)

    async def _remove(self, room: str, identity: str) -> None:
        try:
            await self._livekit.remove_participant(room, identity)
        except ProviderRejected as exc:
            if exc.code != "not_found":
                raise

    async def _delete_room(self, room: str) -> None:
        try:
            await self._livekit.delete_room(room)
        except ProviderRejected as exc:
            if exc.code != "not_found":
                raise

    # --- the agent -------------------------------------------------------------------------

    @activity.defn(name="notify_agent")
    async def notify_agent(self, notice: AgentNotice) -> None:
        """Tell the agent in the call's room what a transfer means for it (LiveKit data)."""
        call = await self._call(notice.session_id)
        message = {
            "type": notice.type,
            "sessionId": call.id,
            "transferId": notice.transfer_id,
            "instructions": notice.instructions,
            "agentApi": f"{self._settings.public_base_url}/v1/agent/calls/{call.id}",
            **notice.facts,
        }
        key = f"{activity.info().workflow_id}/{activity.info().activity_id}"
        try:
            await self._livekit.send_data(
                call.room_name, message, AGENT_TOPIC, hashlib.sha256(key.encode()).digest()[:16]
            )
        except ProviderRejected as exc:
            if exc.code != "not_found":  # the room closed: nobody is left to tell
                raise


def _sip_uri(number: str) -> str:
    return f"tel:{number}"
