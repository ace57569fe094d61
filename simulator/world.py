"""The simulated telephony world: LiveKit rooms and SIP legs, Telnyx calls, and the far ends.

Every phone leg is seen from both sides, as the real services see it: a SIP participant in a
LiveKit room and a Telnyx call-control call. State changes emit the webhooks each service would.
"""

import asyncio
import contextlib
import json
import secrets
import time
from collections import defaultdict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Literal

from livekit.protocol import agent_dispatch, egress, models, room, sip
from livekit.protocol.webhook import WebhookEvent

from simulator.provider_webhooks import ProviderWebhooks
from simulator.scripts import SIP_FAILURES, Caller, Directory, FarEnd

Kind = models.ParticipantInfo.Kind
Reason = models.DisconnectReason

TWIRP_CODE_BY_SIP_CODE = {
    486: "resource_exhausted",
    480: "resource_exhausted",
    600: "resource_exhausted",
    404: "not_found",
    604: "not_found",
    408: "deadline_exceeded",
    504: "deadline_exceeded",
    403: "permission_denied",
    603: "permission_denied",
    487: "aborted",
}
TELNYX_HANGUP_CAUSE_BY_SIP_CODE = {
    486: "user_busy",
    480: "timeout",
    404: "not_found",
    603: "call_rejected",
}


class TwirpError(Exception):
    """A Twirp error answer: `{"code", "msg", "meta"}`."""

    def __init__(self, code: str, message: str, meta: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.meta = meta or {}


class TelnyxError(Exception):
    """A Telnyx REST error answer: `{"errors": [{"code", "title", "detail"}]}`."""

    def __init__(self, status: int, code: str, title: str) -> None:
        super().__init__(title)
        self.status = status
        self.code = code
        self.title = title


def _id(prefix: str) -> str:
    return f"{prefix}{secrets.token_hex(6)}"


def number_in(uri: str) -> str:
    """The phone number in `tel:+1...`, `sip:+1...@host` or a bare number."""
    return uri.removeprefix("tel:").removeprefix("sip:").split("@", 1)[0].split(";", 1)[0]


@dataclass
class Leg:
    """One phone call leg; `outcome` resolves to None on answer or to a SIP failure."""

    direction: Literal["incoming", "outgoing"]
    from_number: str
    to_number: str
    custom_headers: dict[str, str] = field(default_factory=dict)
    extra_payload: dict[str, Any] = field(default_factory=dict)
    call_control_id: str = field(default_factory=lambda: "v3:" + secrets.token_urlsafe(16))
    call_session_id: str = field(default_factory=lambda: _id("cs_"))
    call_leg_id: str = field(default_factory=lambda: _id("cl_"))
    state: str = "ringing"
    room: str | None = None
    identity: str | None = None
    spoken: list[dict[str, Any]] = field(default_factory=list)
    ended_at: float | None = None
    caller: Caller | None = None
    far_end: FarEnd | None = None
    outcome: asyncio.Future[tuple[int, str] | None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    task: asyncio.Task[None] | None = None

    def telnyx_payload(self, **extra: Any) -> dict[str, Any]:
        return {
            "call_control_id": self.call_control_id,
            "call_leg_id": self.call_leg_id,
            "call_session_id": self.call_session_id,
            "connection_id": "sim-connection",
            "from": self.from_number,
            "to": self.to_number,
            "direction": self.direction,
            "state": self.state,
            "custom_headers": [{"name": k, "value": v} for k, v in self.custom_headers.items()],
            **self.extra_payload,
            **extra,
        }


@dataclass
class Participant:
    identity: str
    kind: int
    attributes: dict[str, str] = field(default_factory=dict)
    metadata: str = ""
    sid: str = field(default_factory=lambda: _id("PA_"))
    joined_at: float = field(default_factory=time.time)
    leg: Leg | None = None

    def info(self, reason: int = Reason.UNKNOWN_REASON) -> models.ParticipantInfo:
        return models.ParticipantInfo(
            sid=self.sid,
            identity=self.identity,
            kind=self.kind,
            state=models.ParticipantInfo.State.ACTIVE,
            attributes=self.attributes,
            metadata=self.metadata,
            joined_at=int(self.joined_at),
            disconnect_reason=reason,
        )


@dataclass
class Room:
    name: str
    metadata: str = ""
    sid: str = field(default_factory=lambda: _id("RM_"))
    created_at: float = field(default_factory=time.time)
    participants: dict[str, Participant] = field(default_factory=dict)
    closing: asyncio.Task[None] | None = None

    def info(self) -> models.Room:
        return models.Room(
            sid=self.sid,
            name=self.name,
            metadata=self.metadata,
            creation_time=int(self.created_at),
            num_participants=len(self.participants),
        )


@dataclass
class Recording:
    egress_id: str
    room: str
    filepath: str
    started_at: float = field(default_factory=time.time)
    ended_at: float | None = None
    failure: str | None = None
    """Set: the egress fails with this error when it ends, and writes no file."""

    def info(self, location: str) -> egress.EgressInfo:
        ended = self.ended_at is not None
        info = egress.EgressInfo(
            egress_id=self.egress_id,
            room_name=self.room,
            status=egress.EgressStatus.EGRESS_COMPLETE
            if ended
            else egress.EgressStatus.EGRESS_ACTIVE,
            started_at=int(self.started_at * 1e9),
        )
        if ended and self.failure:
            info.status = egress.EgressStatus.EGRESS_FAILED
            info.error = self.failure
        elif ended:
            duration = (self.ended_at or 0) - self.started_at
            info.ended_at = int((self.ended_at or 0) * 1e9)
            info.file_results.append(
                egress.FileInfo(
                    filename=self.filepath,
                    location=location,
                    duration=int(duration * 1e9),
                    size=max(1, int(duration * 4000)),
                )
            )
        return info


class World:
    """All simulated state, driven by API requests, the control API and the far-end scripts."""

    def __init__(
        self,
        directory: Directory,
        webhooks: ProviderWebhooks,
        *,
        recordings_base_url: str,
        departure_seconds: float = 1.0,
    ) -> None:
        self.directory = directory
        self.webhooks = webhooks
        self.recordings_base_url = recordings_base_url
        self.departure_seconds = departure_seconds
        self.rooms: dict[str, Room] = {}
        self.legs: dict[str, Leg] = {}
        self.dispatches: dict[str, agent_dispatch.AgentDispatch] = {}
        self.dispatched_at: dict[str, float] = {}
        self.recordings: dict[str, Recording] = {}
        self._dispatches_in: dict[str, list[agent_dispatch.AgentDispatch]] = defaultdict(list)
        self._recordings_of: dict[str, list[Recording]] = defaultdict(list)
        """By room: a lookup per call stays quick with ten thousand calls open."""
        self.transfers: list[dict[str, Any]] = []
        self.data_messages: list[dict[str, Any]] = []
        """Data packets sent to rooms through the server API, in order (a repeated nonce once)."""
        self.on_dispatch: Callable[[agent_dispatch.AgentDispatch], None] | None = None
        """Called for every agent dispatch (the simulated agent joins through it)."""
        self.egress_unavailable = False
        """When set, every egress request fails as LiveKit's does without an egress service."""
        self.egress_failure: str | None = None
        """When set, recordings started from now on fail with this error when they end."""
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # --- LiveKit events ----------------------------------------------------------------------

    def _livekit_event(self, event: str, room: Room, **fields: Any) -> None:
        self.webhooks.livekit(WebhookEvent(event=event, room=room.info(), **fields))

    def _room(self, name: str) -> Room:
        if name not in self.rooms:
            raise TwirpError("not_found", f"room {name} does not exist")
        return self.rooms[name]

    def _ensure_room(self, name: str, metadata: str = "") -> Room:
        existing = self.rooms.get(name)
        if existing:
            return existing
        created = self.rooms[name] = Room(name=name, metadata=metadata)
        self._livekit_event("room_started", created)
        return created

    def _join(self, room: Room, participant: Participant) -> None:
        if room.closing:
            room.closing.cancel()
            room.closing = None
        room.participants[participant.identity] = participant
        self._livekit_event("participant_joined", room, participant=participant.info())

    def _leave(self, room: Room, identity: str, reason: int) -> None:
        participant = room.participants.pop(identity, None)
        if participant is None:
            return
        if participant.kind == Kind.SIP:
            participant.attributes["sip.callStatus"] = "hangup"
        self._livekit_event("participant_left", room, participant=participant.info(reason))
        self._after_departure(room)

    def _after_departure(self, room: Room) -> None:
        """Agents leave once no caller remains; an empty room closes after the departure time."""
        if all(p.kind == Kind.AGENT for p in room.participants.values()):
            for agent in list(room.participants):
                self._leave(room, agent, Reason.CLIENT_INITIATED)
        if not room.participants and room.closing is None:
            room.closing = self.spawn(self._close_after_departure(room))

    async def _close_after_departure(self, room: Room) -> None:
        await asyncio.sleep(self.departure_seconds)
        self._finish_room(room)

    def _finish_room(self, room: Room) -> None:
        if self.rooms.pop(room.name, None) is None:
            return
        for recording in self._recordings_of.get(room.name, []):
            if recording.ended_at is None:
                self._end_recording(recording)
        self._livekit_event("room_finished", room)

    # --- RoomService / AgentDispatchService ---------------------------------------------------

    def create_room(self, request: room.CreateRoomRequest) -> models.Room:
        return self._ensure_room(request.name, request.metadata).info()

    def delete_room(self, request: room.DeleteRoomRequest) -> room.DeleteRoomResponse:
        target = self._room(request.room)
        for identity, participant in list(target.participants.items()):
            if participant.leg:
                self._end_leg(participant.leg, hangup_source="caller", reason=Reason.ROOM_DELETED)
            else:
                self._leave(target, identity, Reason.ROOM_DELETED)
        if target.closing:
            target.closing.cancel()
        self._finish_room(target)
        return room.DeleteRoomResponse()

    def list_participants(
        self, request: room.ListParticipantsRequest
    ) -> room.ListParticipantsResponse:
        participants = self._room(request.room).participants.values()
        return room.ListParticipantsResponse(participants=[p.info() for p in participants])

    def _participant(self, room_name: str, identity: str) -> Participant:
        participant = self._room(room_name).participants.get(identity)
        if participant is None:
            raise TwirpError("not_found", f"participant {identity} is not in {room_name}")
        return participant

    def remove_participant(
        self, request: room.RoomParticipantIdentity
    ) -> room.RemoveParticipantResponse:
        participant = self._participant(request.room, request.identity)
        if participant.leg:
            self._end_leg(
                participant.leg, hangup_source="caller", reason=Reason.PARTICIPANT_REMOVED
            )
        else:
            self._leave(self._room(request.room), request.identity, Reason.PARTICIPANT_REMOVED)
        return room.RemoveParticipantResponse()

    def move_participant(
        self, request: room.MoveParticipantRequest
    ) -> room.MoveParticipantResponse:
        participant = self._participant(request.room, request.identity)
        destination = self._room(request.destination_room)
        source = self._room(request.room)
        source.participants.pop(participant.identity)
        self._livekit_event(
            "participant_left", source, participant=participant.info(Reason.MIGRATION)
        )
        if participant.leg:
            participant.leg.room = destination.name
        self._join(destination, participant)
        self._after_departure(source)
        return room.MoveParticipantResponse()

    def send_data(self, request: room.SendDataRequest) -> room.SendDataResponse:
        self._room(request.room)
        if request.nonce and any(m["nonce"] == request.nonce.hex() for m in self.data_messages):
            return room.SendDataResponse()
        self.data_messages.append(
            {
                "room": request.room,
                "topic": request.topic,
                "data": json.loads(request.data or b"null"),
                "destinationIdentities": list(request.destination_identities),
                "nonce": request.nonce.hex(),
                "at": time.time(),
            }
        )
        return room.SendDataResponse()

    def list_dispatches(
        self, request: agent_dispatch.ListAgentDispatchRequest
    ) -> agent_dispatch.ListAgentDispatchResponse:
        dispatches = self._dispatches_in.get(request.room, [])
        return agent_dispatch.ListAgentDispatchResponse(agent_dispatches=dispatches)

    def create_dispatch(
        self, request: agent_dispatch.CreateAgentDispatchRequest
    ) -> agent_dispatch.AgentDispatch:
        target = self._ensure_room(request.room)
        dispatch = agent_dispatch.AgentDispatch(
            id=_id("AD_"),
            agent_name=request.agent_name,
            room=request.room,
            metadata=request.metadata,
        )
        self.dispatches[dispatch.id] = dispatch
        self._dispatches_in[dispatch.room].append(dispatch)
        self.dispatched_at[dispatch.id] = time.time()
        self._join(
            target,
            Participant(
                identity=f"agent-{dispatch.id}",
                kind=Kind.AGENT,
                attributes={"lk.agent.name": request.agent_name},
                metadata=request.metadata,
            ),
        )
        if self.on_dispatch:
            self.on_dispatch(dispatch)
        return dispatch

    # --- Egress ------------------------------------------------------------------------------

    def _location(self, recording: Recording) -> str:
        return f"{self.recordings_base_url}/recordings/{recording.egress_id}.ogg"

    def start_recording(self, request: egress.RoomCompositeEgressRequest) -> egress.EgressInfo:
        target = self._room(request.room_name)
        if self.egress_unavailable:
            raise TwirpError("unavailable", "no egress service is available")
        outputs = list(request.file_outputs)
        filepath = outputs[0].filepath if outputs else f"{target.name}.ogg"
        recording = Recording(
            egress_id=_id("EG_"), room=target.name, filepath=filepath, failure=self.egress_failure
        )
        self.recordings[recording.egress_id] = recording
        self._recordings_of[recording.room].append(recording)
        info = recording.info(self._location(recording))
        self.webhooks.livekit(WebhookEvent(event="egress_started", egress_info=info))
        return info

    def list_recordings(self, request: egress.ListEgressRequest) -> egress.ListEgressResponse:
        if request.egress_id:
            candidates = [r for r in [self.recordings.get(request.egress_id)] if r]
        elif request.room_name:
            candidates = self._recordings_of.get(request.room_name, [])
        else:
            candidates = list(self.recordings.values())
        chosen = [
            r
            for r in candidates
            if request.egress_id in ("", r.egress_id)
            and request.room_name in ("", r.room)
            and not (request.active and r.ended_at is not None)
        ]
        return egress.ListEgressResponse(items=[r.info(self._location(r)) for r in chosen])

    def stop_recording(self, request: egress.StopEgressRequest) -> egress.EgressInfo:
        recording = self.recordings.get(request.egress_id)
        if recording is None:
            raise TwirpError("not_found", f"egress {request.egress_id} does not exist")
        if recording.ended_at is None:
            self._end_recording(recording)
        return recording.info(self._location(recording))

    def _end_recording(self, recording: Recording) -> None:
        recording.ended_at = time.time()
        info = recording.info(self._location(recording))
        self.webhooks.livekit(WebhookEvent(event="egress_ended", egress_info=info))

    # --- SIP: outbound legs ------------------------------------------------------------------

    async def create_sip_participant(
        self, request: sip.CreateSIPParticipantRequest
    ) -> sip.SIPParticipantInfo:
        if not request.sip_trunk_id or not request.sip_call_to or not request.room_name:
            raise TwirpError(
                "invalid_argument", "sip_trunk_id, sip_call_to and room_name are required"
            )
        far_end = self.directory.lookup(request.sip_call_to)
        await asyncio.sleep(far_end.placed_after_seconds)  # goes on if the client gives up
        target = self._ensure_room(request.room_name)
        leg = Leg(
            direction="outgoing",
            from_number=request.sip_number,
            to_number=request.sip_call_to,
            custom_headers=dict(request.headers),
            room=target.name,
            identity=request.participant_identity or f"sip_{request.sip_call_to}",
        )
        self.legs[leg.call_control_id] = leg
        participant = Participant(
            identity=leg.identity or "",
            kind=Kind.SIP,
            attributes={
                **dict(request.participant_attributes),
                "sip.callID": _id("SCL_"),
                "sip.trunkID": request.sip_trunk_id,
                "sip.trunkPhoneNumber": request.sip_number,
                "sip.phoneNumber": request.sip_call_to,
                "sip.callStatus": "dialing",
            },
            leg=leg,
        )
        self._join(target, participant)
        ringing = request.ringing_timeout.ToTimedelta().total_seconds() or 30.0
        max_duration = request.max_call_duration.ToTimedelta().total_seconds() or None
        leg.far_end = far_end
        leg.task = self.spawn(self._play_far_end(leg, participant, far_end, ringing, max_duration))
        if request.wait_until_answered:
            failure = await asyncio.shield(leg.outcome)
            if failure:
                raise _sip_twirp_error(failure)
        return sip.SIPParticipantInfo(
            participant_id=participant.sid,
            participant_identity=participant.identity,
            room_name=target.name,
            sip_call_id=participant.attributes["sip.callID"],
        )

    async def _play_far_end(
        self,
        leg: Leg,
        participant: Participant,
        far_end: FarEnd,
        ringing_seconds: float,
        max_duration: float | None,
    ) -> None:
        await asyncio.sleep(0)
        participant.attributes["sip.callStatus"] = "ringing"
        self.webhooks.telnyx("call.initiated", leg.telnyx_payload(state="bridging"))
        if far_end.behaviour in SIP_FAILURES:
            await asyncio.sleep(min(far_end.answer_after_seconds, ringing_seconds))
            self._fail_leg(leg, SIP_FAILURES[far_end.behaviour])
            return
        if far_end.behaviour == "no-answer" or far_end.answer_after_seconds > ringing_seconds:
            await asyncio.sleep(ringing_seconds)
            self._fail_leg(leg, None)
            return
        await asyncio.sleep(far_end.answer_after_seconds)
        machine = far_end.behaviour == "voicemail"
        self._answer_leg(leg, participant, machine if far_end.carrier_amd else None)
        self._speak(leg, far_end.transcript)
        limits = [x for x in (far_end.hangup_after_seconds, max_duration) if x is not None]
        if limits:
            await asyncio.sleep(min(limits))
            self._end_leg(leg, hangup_source="callee", reason=Reason.CLIENT_INITIATED)

    def _answer_leg(self, leg: Leg, participant: Participant, machine: bool | None) -> None:
        """The far end picks up; the carrier's AMD says who, unless it reached no verdict (None)."""
        leg.state = "answered"
        participant.attributes["sip.callStatus"] = "active"
        self.webhooks.telnyx("call.answered", leg.telnyx_payload())
        if machine is not None:
            result = "machine" if machine else "human"
            self.webhooks.telnyx("call.machine.detection.ended", leg.telnyx_payload(result=result))
        if not leg.outcome.done():
            leg.outcome.set_result(None)

    def _speak(self, leg: Leg, lines: list[Any]) -> None:
        started = time.time()
        for line in lines:
            leg.spoken.append({"text": line.text, "at": started + line.after_seconds})

    def _fail_leg(self, leg: Leg, failure: tuple[int, str] | None) -> None:
        """The far end refused (`failure` = SIP code and phrase) or never answered (None)."""
        code = failure[0] if failure else 487
        reason = Reason.USER_REJECTED if code == 603 else Reason.USER_UNAVAILABLE
        cause = TELNYX_HANGUP_CAUSE_BY_SIP_CODE.get(code, "timeout")
        if not leg.outcome.done():
            leg.outcome.set_result(failure or (0, "no answer"))
        self._end_leg(leg, hangup_source="callee", reason=reason, cause=cause, sip_code=code)

    def _end_leg(
        self,
        leg: Leg,
        *,
        hangup_source: str,
        reason: int,
        cause: str = "normal_clearing",
        sip_code: int = 200,
    ) -> None:
        """Hang the leg up once: Telnyx `call.hangup`, and the SIP participant leaves its room."""
        if leg.state == "ended":
            return
        leg.state = "ended"
        leg.ended_at = time.time()
        self.webhooks.telnyx(
            "call.hangup",
            leg.telnyx_payload(
                hangup_cause=cause, hangup_source=hangup_source, sip_hangup_cause=str(sip_code)
            ),
        )
        if leg.room in self.rooms and leg.identity:
            self._leave(self.rooms[leg.room], leg.identity, reason)
        if not leg.outcome.done():
            leg.outcome.set_result((0, "hung up before answer"))
        if leg.task and leg.task is not asyncio.current_task():
            leg.task.cancel()

    # --- SIP: transfers ----------------------------------------------------------------------

    async def transfer_sip_participant(
        self, request: sip.TransferSIPParticipantRequest
    ) -> sip.TransferSIPParticipantResponse:
        participant = self._participant(request.room_name, request.participant_identity)
        if participant.leg is None or participant.leg.state == "ended":
            raise TwirpError(
                "failed_precondition", f"{participant.identity} is not an active SIP call"
            )
        ringing = request.ringing_timeout.ToTimedelta().total_seconds() or 30.0
        far_end = self.directory.lookup(number_in(request.transfer_to))
        transfer_id = _id("TR_")
        self.transfers.append(
            {
                "transferId": transfer_id,
                "room": request.room_name,
                "identity": request.participant_identity,
                "to": request.transfer_to,
                "ringingTimeoutSeconds": ringing,
                "headers": dict(request.headers),
                "playDialtone": request.play_dialtone,
            }
        )
        if far_end.behaviour in SIP_FAILURES:
            await asyncio.sleep(min(far_end.answer_after_seconds, ringing))
            raise _sip_twirp_error(SIP_FAILURES[far_end.behaviour], transfer=True)
        if far_end.behaviour == "no-answer" or far_end.answer_after_seconds > ringing:
            await asyncio.sleep(ringing)
            return sip.TransferSIPParticipantResponse(
                transfer_id=transfer_id,
                status=sip.SIPTransferStatus.STS_TRANSFER_FAILED,
                reason=sip.SIPTransferReason.STR_RINGING_TIMEOUT,
            )
        await asyncio.sleep(far_end.answer_after_seconds)
        self._end_leg(participant.leg, hangup_source="caller", reason=Reason.CLIENT_INITIATED)
        return sip.TransferSIPParticipantResponse(
            transfer_id=transfer_id,
            status=sip.SIPTransferStatus.STS_TRANSFER_SUCCESSFUL,
            reason=sip.SIPTransferReason.STR_COMPLETED,
            sip_status=sip.SIPStatus(code=200, status="OK"),
        )

    # --- Telnyx: inbound calls and call control ----------------------------------------------

    def place_inbound(
        self,
        from_number: str,
        to_number: str,
        caller: Caller,
        sip_headers: list[dict[str, str]],
        forwarding: dict[str, str],
    ) -> Leg:
        """A caller dials one of our numbers: Telnyx tells us with `call.initiated`."""
        leg = Leg(
            direction="incoming",
            from_number=from_number,
            to_number=to_number,
            state="parked",
            extra_payload={"sip_headers": sip_headers, **forwarding},
            caller=caller,
        )
        self.legs[leg.call_control_id] = leg
        self.webhooks.telnyx("call.initiated", leg.telnyx_payload())
        leg.task = self.spawn(self._caller_gives_up(leg, caller))
        return leg

    async def _caller_gives_up(self, leg: Leg, caller: Caller) -> None:
        await asyncio.sleep(caller.give_up_after_seconds)
        self._end_leg(
            leg,
            hangup_source="caller",
            reason=Reason.CLIENT_INITIATED,
            cause="originator_cancel",
            sip_code=487,
        )

    def _leg(self, call_control_id: str) -> Leg:
        leg = self.legs.get(call_control_id)
        if leg is None:
            raise TelnyxError(404, "10005", "Resource not found")
        if leg.state == "ended":
            raise TelnyxError(422, "90018", "Call has already ended")
        return leg

    def answer(self, call_control_id: str) -> None:
        """Answer a parked leg; like Telnyx, refuse to answer one that is past that."""
        leg = self._leg(call_control_id)
        if leg.state != "parked":
            raise TelnyxError(422, "90034", "Call already answered")
        leg.state = "answered"
        self.webhooks.telnyx("call.answered", leg.telnyx_payload())

    def transfer(self, call_control_id: str, to: str, custom_headers: dict[str, str]) -> None:
        """Bridge the carrier leg into LiveKit: the SIP URI's user part names the room."""
        leg = self._leg(call_control_id)
        if leg.task:
            leg.task.cancel()
        caller = leg.caller or Caller()
        room_name = to.removeprefix("sip:").split("@", 1)[0]
        target = self._ensure_room(room_name)
        leg.state, leg.room, leg.identity = "bridged", room_name, f"sip_{leg.from_number}"
        attributes = {
            "sip.callID": _id("SCL_"),
            "sip.trunkPhoneNumber": leg.to_number,
            "sip.phoneNumber": leg.from_number,
            "sip.callStatus": "active",
            **{f"sip.h.{name.lower()}": value for name, value in custom_headers.items()},
        }
        self._join(
            target,
            Participant(identity=leg.identity, kind=Kind.SIP, attributes=attributes, leg=leg),
        )
        self.webhooks.telnyx("call.bridged", leg.telnyx_payload())
        self._speak(leg, caller.transcript)
        if caller.hangup_after_seconds is not None:
            leg.task = self.spawn(self._caller_hangs_up(leg, caller.hangup_after_seconds))

    async def _caller_hangs_up(self, leg: Leg, after_seconds: float) -> None:
        await asyncio.sleep(after_seconds)
        self._end_leg(leg, hangup_source="caller", reason=Reason.CLIENT_INITIATED)

    def reject(self, call_control_id: str, cause: str) -> None:
        leg = self._leg(call_control_id)
        code, telnyx_cause = (486, "user_busy") if cause == "USER_BUSY" else (603, "call_rejected")
        self._end_leg(
            leg,
            hangup_source="callee",
            reason=Reason.USER_REJECTED,
            cause=telnyx_cause,
            sip_code=code,
        )

    def hangup(self, call_control_id: str) -> None:
        self._end_leg(
            self._leg(call_control_id), hangup_source="callee", reason=Reason.CLIENT_INITIATED
        )

    def snapshot(self) -> dict[str, Any]:
        """Everything observable, as JSON, for the control API."""
        return {
            "rooms": {
                name: {
                    "sid": r.sid,
                    "metadata": r.metadata,
                    "participants": {
                        identity: {"kind": Kind.Name(p.kind), "attributes": p.attributes}
                        for identity, p in r.participants.items()
                    },
                }
                for name, r in self.rooms.items()
            },
            "legs": [
                {
                    "callControlId": leg.call_control_id,
                    "direction": leg.direction,
                    "from": leg.from_number,
                    "to": leg.to_number,
                    "state": leg.state,
                    "room": leg.room,
                    "identity": leg.identity,
                    "customHeaders": leg.custom_headers,
                    "spoken": leg.spoken,
                }
                for leg in self.legs.values()
            ],
            "dispatches": [
                {
                    "id": d.id,
                    "agentName": d.agent_name,
                    "room": d.room,
                    "metadata": json.loads(d.metadata or "null"),
                    "createdAt": self.dispatched_at[d.id],
                }
                for d in self.dispatches.values()
            ],
            "recordings": [
                {"egressId": r.egress_id, "room": r.room, "ended": r.ended_at is not None}
                for r in self.recordings.values()
            ],
            "transfers": self.transfers,
            "dataMessages": self.data_messages,
        }


def _sip_twirp_error(failure: tuple[int, str], *, transfer: bool = False) -> TwirpError:
    """How LiveKit reports a SIP failure: a Twirp code plus the SIP status in `meta`."""
    code, phrase = failure
    if code == 0:
        return TwirpError("canceled", "call was not answered")
    meta = {"sip_status_code": str(code), "sip_status": phrase}
    if transfer:
        meta["sip_transfer_reason"] = "STR_REJECTED"
    return TwirpError(
        TWIRP_CODE_BY_SIP_CODE.get(code, "unavailable"), f"sip status {code}: {phrase}", meta
    )
