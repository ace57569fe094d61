"""LiveKit through `livekit-api`: rooms, agent dispatch, SIP legs, transfers and recordings.

The same code talks to LiveKit Cloud, a self-hosted LiveKit, or the simulator; only the URL and
credentials differ.
"""

import json
from datetime import timedelta
from typing import Any

import aiohttp
from google.protobuf.duration_pb2 import Duration
from livekit import api
from livekit.protocol.models import ParticipantInfo
from pydantic import BaseModel

from trunkline.providers.errors import (
    SIP_REASON_PHRASES,
    CallFailed,
    ProviderError,
    ProviderRejected,
    ProviderUnavailable,
    cause_for_sip_code,
)

PROVIDER = "livekit"
RINGING_TIMEOUT_MARGIN = timedelta(seconds=2)
"""The client waits this much longer than the ringing timeout; activity timeouts must too."""

# Twirp codes LiveKit uses for a call nobody answered, when no SIP code comes with them.
_NO_ANSWER_CODES = {"canceled", "deadline_exceeded", "failed_precondition"}


class SipLeg(BaseModel):
    participant_id: str
    participant_identity: str
    room_name: str
    sip_call_id: str


class Participant(BaseModel):
    sid: str
    identity: str
    kind: str
    state: str
    attributes: dict[str, str]

    @property
    def sip_call_status(self) -> str | None:
        return self.attributes.get("sip.callStatus")


class Recording(BaseModel):
    egress_id: str
    status: str
    location: str | None = None
    duration_seconds: float | None = None
    size_bytes: int | None = None
    error: str | None = None
    """Why it failed or was aborted, as LiveKit says."""


class DialRequest(BaseModel):
    room_name: str
    participant_identity: str
    to: str
    from_number: str
    attributes: dict[str, str] = {}
    headers: dict[str, str] = {}
    ringing_timeout: timedelta = timedelta(seconds=30)
    max_call_duration: timedelta | None = None
    wait_until_answered: bool = False
    play_dialtone: bool = False


def room_join_token(
    api_key: str, api_secret: str, room_name: str, identity: str, name: str, ttl: timedelta
) -> str:
    """A token that lets one participant join `room_name` (publish and subscribe) for `ttl`."""
    grants = api.VideoGrants(room_join=True, room=room_name)
    token = api.AccessToken(api_key, api_secret).with_identity(identity).with_name(name)
    return token.with_grants(grants).with_ttl(ttl).to_jwt()


def websocket_url(url: str) -> str:
    """The address a LiveKit client connects to, from the server API's http(s) one."""
    return url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)


def dial_timeout(ringing_timeout: timedelta) -> timedelta:
    """How long a dial or transfer request may take: ringing plus the client's margin."""
    return ringing_timeout + RINGING_TIMEOUT_MARGIN


def _duration(value: timedelta) -> Duration:
    duration = Duration()
    duration.FromTimedelta(value)
    return duration


def _participant(info: ParticipantInfo) -> Participant:
    return Participant(
        sid=info.sid,
        identity=info.identity,
        kind=ParticipantInfo.Kind.Name(info.kind),
        state=ParticipantInfo.State.Name(info.state),
        attributes=dict(info.attributes),
    )


def _call_failed(error: api.ServerError, what: str) -> CallFailed:
    code = getattr(error, "sip_status_code", None)
    status = getattr(error, "sip_status", None) or SIP_REASON_PHRASES.get(code or 0)
    cause = cause_for_sip_code(code) if code else "no-answer"
    return CallFailed(
        f"{what}: {error}", provider=PROVIDER, cause=cause, sip_status_code=code, sip_status=status
    )


def _translate(error: Exception, what: str) -> ProviderError:
    """Our error for what `livekit-api` raised."""
    if isinstance(error, api.SipCallError) and error.sip_status_code:
        return _call_failed(error, what)
    if isinstance(error, api.ServerError):
        if error.status >= 500:
            return ProviderUnavailable(f"{what}: {error}", provider=PROVIDER)
        return ProviderRejected(
            f"{what}: {error}", provider=PROVIDER, code=error.code, status=error.status
        )
    return ProviderUnavailable(f"{what}: {type(error).__name__}: {error}", provider=PROVIDER)


class LiveKitAdapter:
    """One per process and event loop; the SDK client is created on first use, inside the loop."""

    def __init__(self, url: str, api_key: str, api_secret: str, outbound_trunk_id: str) -> None:
        self._url = url
        self._api_key = api_key
        self._api_secret = api_secret
        self._outbound_trunk_id = outbound_trunk_id
        self._client: api.LiveKitAPI | None = None

    def _api(self) -> api.LiveKitAPI:
        if self._client is None:
            self._client = api.LiveKitAPI(self._url, self._api_key, self._api_secret)
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _call(self, what: str, request: Any, *, dialling: bool = False) -> Any:
        """Await an SDK call as our errors; a dial that timed out (may still ring) is no-answer."""
        try:
            return await request
        except api.ServerError as error:
            no_sip_code = not getattr(error, "sip_status_code", None)
            if dialling and error.code in _NO_ANSWER_CODES and no_sip_code:
                raise _call_failed(error, what) from error
            raise _translate(error, what) from error
        except TimeoutError as error:
            if dialling:
                raise CallFailed(
                    f"{what}: no answer before our client gave up",
                    provider=PROVIDER,
                    cause="no-answer",
                ) from error
            raise _translate(error, what) from error
        except aiohttp.ClientError as error:
            raise _translate(error, what) from error

    async def create_room(
        self, name: str, metadata: dict[str, Any], departure_timeout: timedelta
    ) -> str:
        """Create the room (idempotent on its name) and return its sid."""
        request = api.CreateRoomRequest(
            name=name,
            metadata=json.dumps(metadata),
            departure_timeout=int(departure_timeout.total_seconds()),
        )
        room = await self._call(f"create room {name}", self._api().room.create_room(request))
        return room.sid

    async def delete_room(self, name: str) -> None:
        request = api.DeleteRoomRequest(room=name)
        await self._call(f"delete room {name}", self._api().room.delete_room(request))

    async def dispatch_agent(self, room: str, agent_name: str, metadata: dict[str, Any]) -> str:
        """Ask for an agent worker to join `room`, once; returns the dispatch id.

        A dispatch of `agent_name` already in the room (a retried request) is reused.
        """
        existing = await self._call(
            f"list dispatches of {room}", self._api().agent_dispatch.list_dispatch(room)
        )
        for dispatch in existing:
            if dispatch.agent_name == agent_name:
                return dispatch.id
        request = api.CreateAgentDispatchRequest(
            agent_name=agent_name, room=room, metadata=json.dumps(metadata)
        )
        dispatch = await self._call(
            f"dispatch {agent_name} to {room}", self._api().agent_dispatch.create_dispatch(request)
        )
        return dispatch.id

    async def dial(self, dial: DialRequest) -> SipLeg:
        """Dial `dial.to` through the outbound trunk into the room as a SIP participant."""
        request = api.CreateSIPParticipantRequest(
            sip_trunk_id=self._outbound_trunk_id,
            sip_call_to=dial.to,
            sip_number=dial.from_number,
            room_name=dial.room_name,
            participant_identity=dial.participant_identity,
            participant_attributes=dial.attributes,
            headers=dial.headers,
            ringing_timeout=_duration(dial.ringing_timeout),
            wait_until_answered=dial.wait_until_answered,
            play_dialtone=dial.play_dialtone,
        )
        if dial.max_call_duration:
            request.max_call_duration.CopyFrom(_duration(dial.max_call_duration))
        info = await self._call(
            f"dial {dial.to}",
            self._api().sip.create_sip_participant(
                request, timeout=dial_timeout(dial.ringing_timeout).total_seconds()
            ),
            dialling=True,
        )
        return SipLeg(
            participant_id=info.participant_id,
            participant_identity=info.participant_identity,
            room_name=info.room_name,
            sip_call_id=info.sip_call_id,
        )

    async def transfer(
        self,
        room: str,
        identity: str,
        to: str,
        ringing_timeout: timedelta,
        headers: dict[str, str] | None = None,
        play_dialtone: bool = False,
    ) -> str:
        """SIP REFER the participant to `to`; returns the transfer id, raises `CallFailed`."""
        request = api.TransferSIPParticipantRequest(
            room_name=room,
            participant_identity=identity,
            transfer_to=to,
            headers=headers or {},
            play_dialtone=play_dialtone,
            ringing_timeout=_duration(ringing_timeout),
        )
        what = f"transfer {identity} to {to}"
        response = await self._call(
            what,
            self._api().sip.transfer_sip_participant(
                request, timeout=dial_timeout(ringing_timeout).total_seconds()
            ),
            dialling=True,
        )
        if response.status != api.SIPTransferStatus.STS_TRANSFER_SUCCESSFUL:
            code = response.sip_status.code or None
            reason = api.SIPTransferReason.Name(response.reason)
            raise CallFailed(
                f"{what}: {api.SIPTransferStatus.Name(response.status)} ({reason})",
                provider=PROVIDER,
                cause=cause_for_sip_code(code) if code else "no-answer",
                sip_status_code=code,
                sip_status=response.sip_status.status or SIP_REASON_PHRASES.get(code or 0),
            )
        return response.transfer_id

    async def remove_participant(self, room: str, identity: str) -> None:
        request = api.RoomParticipantIdentity(room=room, identity=identity)
        await self._call(
            f"remove {identity} from {room}", self._api().room.remove_participant(request)
        )

    async def move_participant(self, room: str, identity: str, destination_room: str) -> None:
        """Move a participant between rooms (LiveKit Cloud, and the simulator)."""
        request = api.MoveParticipantRequest(
            room=room, identity=identity, destination_room=destination_room
        )
        await self._call(
            f"move {identity} to {destination_room}", self._api().room.move_participant(request)
        )

    async def list_participants(self, room: str) -> list[Participant]:
        request = api.ListParticipantsRequest(room=room)
        response = await self._call(
            f"list participants of {room}", self._api().room.list_participants(request)
        )
        return [_participant(info) for info in response.participants]

    async def sip_participants(self, room: str) -> list[Participant]:
        """The room's SIP participants; none when the room is gone."""
        try:
            participants = await self.list_participants(room)
        except ProviderRejected as exc:
            if exc.code == "not_found":
                return []
            raise
        return [p for p in participants if p.kind == "SIP"]

    async def send_data(self, room: str, message: dict[str, Any], topic: str, nonce: bytes) -> None:
        """Send a reliable JSON data message to everyone in the room on `topic`.

        LiveKit drops a repeat of the same `nonce`, so a retried send is delivered once.
        """
        request = api.SendDataRequest(
            room=room,
            data=json.dumps(message).encode(),
            kind=api.DataPacket.Kind.RELIABLE,
            topic=topic,
            nonce=nonce,
        )
        await self._call(f"send data to {room}", self._api().room.send_data(request))

    async def start_recording(self, room: str, filepath: str) -> Recording:
        """Record the room's mixed audio to a file (room-composite egress, audio only)."""
        request = api.RoomCompositeEgressRequest(
            room_name=room,
            audio_only=True,
            file_outputs=[
                api.EncodedFileOutput(file_type=api.EncodedFileType.OGG, filepath=filepath)
            ],
        )
        info = await self._call(
            f"record {room}", self._api().egress.start_room_composite_egress(request)
        )
        return _recording(info)

    async def recording(self, egress_id: str) -> Recording | None:
        """Where a recording stands (and, once complete, where its file is)."""
        return await self._first_recording(api.ListEgressRequest(egress_id=egress_id))

    async def active_recording(self, room: str) -> Recording | None:
        """The recording running in `room`, if any."""
        return await self._first_recording(api.ListEgressRequest(room_name=room, active=True))

    async def _first_recording(self, request: api.ListEgressRequest) -> Recording | None:
        response = await self._call("list egress", self._api().egress.list_egress(request))
        return _recording(response.items[0]) if response.items else None

    async def stop_recording(self, egress_id: str) -> Recording:
        request = api.StopEgressRequest(egress_id=egress_id)
        info = await self._call(f"stop egress {egress_id}", self._api().egress.stop_egress(request))
        return _recording(info)


def _recording(info: api.EgressInfo) -> Recording:
    files = list(info.file_results)
    file = files[0] if files else None
    return Recording(
        egress_id=info.egress_id,
        status=api.EgressStatus.Name(info.status),
        location=file.location if file else None,
        duration_seconds=file.duration / 1e9 if file and file.duration else None,
        size_bytes=file.size if file and file.size else None,
        error=info.error or None,
    )
