"""LiveKit's server API as `livekit-api` calls it: Twirp over HTTP with protobuf bodies."""

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import DecodeError, Message
from livekit import api
from livekit.protocol import agent_dispatch, egress, room, sip

from simulator.world import TwirpError, World

HTTP_STATUS_BY_TWIRP_CODE = {
    "canceled": 408,
    "invalid_argument": 400,
    "malformed": 400,
    "deadline_exceeded": 408,
    "not_found": 404,
    "bad_route": 404,
    "already_exists": 409,
    "permission_denied": 403,
    "unauthenticated": 401,
    "resource_exhausted": 429,
    "failed_precondition": 412,
    "aborted": 409,
    "out_of_range": 400,
    "unimplemented": 501,
    "internal": 500,
    "unavailable": 503,
}

Handler = Callable[[Any], Message | Awaitable[Message]]


def _methods(world: World) -> dict[tuple[str, str], tuple[type[Message], Handler]]:
    """Every (service, method) the adapter uses, with its request type and handler."""
    return {
        ("RoomService", "CreateRoom"): (room.CreateRoomRequest, world.create_room),
        ("RoomService", "DeleteRoom"): (room.DeleteRoomRequest, world.delete_room),
        ("RoomService", "ListParticipants"): (
            room.ListParticipantsRequest,
            world.list_participants,
        ),
        ("RoomService", "RemoveParticipant"): (
            room.RoomParticipantIdentity,
            world.remove_participant,
        ),
        ("RoomService", "MoveParticipant"): (room.MoveParticipantRequest, world.move_participant),
        ("RoomService", "SendData"): (room.SendDataRequest, world.send_data),
        ("AgentDispatchService", "ListDispatch"): (
            agent_dispatch.ListAgentDispatchRequest,
            world.list_dispatches,
        ),
        ("AgentDispatchService", "CreateDispatch"): (
            agent_dispatch.CreateAgentDispatchRequest,
            world.create_dispatch,
        ),
        ("SIP", "CreateSIPParticipant"): (
            sip.CreateSIPParticipantRequest,
            world.create_sip_participant,
        ),
        ("SIP", "TransferSIPParticipant"): (
            sip.TransferSIPParticipantRequest,
            world.transfer_sip_participant,
        ),
        ("Egress", "StartRoomCompositeEgress"): (
            egress.RoomCompositeEgressRequest,
            world.start_recording,
        ),
        ("Egress", "StopEgress"): (egress.StopEgressRequest, world.stop_recording),
        ("Egress", "ListEgress"): (egress.ListEgressRequest, world.list_recordings),
    }


def twirp_error(error: TwirpError) -> JSONResponse:
    body = {"code": error.code, "msg": error.message, "meta": error.meta}
    return JSONResponse(body, status_code=HTTP_STATUS_BY_TWIRP_CODE.get(error.code, 500))


def livekit_router(
    world: World, api_key: str, api_secret: str, requests: list[dict[str, Any]]
) -> APIRouter:
    """The Twirp routes; every decoded request is appended to `requests` for inspection."""
    router = APIRouter()
    methods = _methods(world)
    verifier = api.TokenVerifier(api_key, api_secret)

    @router.post("/twirp/livekit.{service}/{method}")
    async def twirp(service: str, method: str, request: Request) -> Response:
        try:
            verifier.verify(request.headers.get("authorization", "").removeprefix("Bearer "))
        except Exception as exc:  # the verifier raises jwt errors of several types
            return twirp_error(TwirpError("unauthenticated", f"invalid token: {exc}"))
        if (service, method) not in methods:
            return twirp_error(TwirpError("bad_route", f"no handler for {service}/{method}"))
        request_type, handler = methods[(service, method)]
        try:
            message = request_type.FromString(await request.body())
        except DecodeError as exc:
            return twirp_error(
                TwirpError("malformed", f"cannot decode {request_type.__name__}: {exc}")
            )
        requests.append({"service": service, "method": method, "request": MessageToDict(message)})
        try:
            result = handler(message)
            response = await result if isinstance(result, Awaitable) else result
        except TwirpError as error:
            return twirp_error(error)
        return Response(response.SerializeToString(), media_type="application/protobuf")

    return router
