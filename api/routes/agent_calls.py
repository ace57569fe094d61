"""`/v1/agent/calls/{id}`: what the agent in a call's room reports, with the call's own token.

The token comes in the agent's dispatch metadata (`agentToken`) and opens only its own call.
"""

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError

from api.deps import AppSettings, DbSession, Temporal
from api.errors import ApiError, error_responses
from api.routes.calls import CallOut, call_out
from api.schemas.calls import AgentHangup, AmdReport, TranscriptAppend
from trunkline.calls import get_call_by_id, session_for_agent_token
from trunkline.models import Call
from trunkline.transcripts import append_entries
from trunkline.workflow_io import HangupRequest
from workflows.call import CallWorkflow

router = APIRouter(
    prefix="/v1/agent/calls/{call_id}", tags=["agent"], responses=error_responses(401, 409, 422)
)
_bearer = HTTPBearer(auto_error=False, description="The call's `agentToken`.")


async def agent_call(
    call_id: str,
    session: DbSession,
    settings: AppSettings,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Call:
    """The call whose token is presented; any other token, or another call's, is a 401."""
    token = credentials.credentials if credentials else ""
    if session_for_agent_token(settings.agent_token_secret, token) != call_id:
        raise ApiError(401, "unauthorized", "send this call's agentToken as a Bearer token")
    call = await get_call_by_id(session, call_id)
    if call is None:
        raise ApiError(401, "unauthorized", "no such call")
    return call


AgentCall = Annotated[Call, Depends(agent_call)]


async def _update(temporal: Temporal, call: Call, update: object, argument: object) -> None:
    handle = temporal.get_workflow_handle(f"call-{call.id}")
    try:
        await handle.execute_update(update, argument)  # type: ignore[arg-type]
    except (WorkflowUpdateFailedError, RPCError) as exc:
        raise ApiError(409, "call_ended", f"call {call.id} is not in progress") from exc


@router.post("/transcript")
async def append_transcript(body: TranscriptAppend, call: AgentCall, session: DbSession) -> dict:
    """Append transcript entries; an entry id already stored is skipped, so retries are safe."""
    entries = [
        {
            "entry_id": entry.id,
            "role": entry.role,
            "text": entry.text,
            "started_at": entry.started_at,
            "ended_at": entry.ended_at,
        }
        for entry in body.entries
    ]
    stored = await append_entries(session, call.id, entries)
    return {"stored": stored, "skipped": len(entries) - stored}


@router.post("/amd")
async def report_amd(
    body: AmdReport, call: AgentCall, session: DbSession, temporal: Temporal
) -> CallOut:
    """The agent's verdict on who answered: a person or a machine."""
    await _update(temporal, call, CallWorkflow.report_amd, body.verdict)
    await session.refresh(call)
    return call_out(call)


@router.post("/end")
async def end_call(
    body: AgentHangup, call: AgentCall, session: DbSession, temporal: Temporal
) -> CallOut:
    """The agent ends the conversation; answers once the call has ended."""
    await _update(temporal, call, CallWorkflow.hang_up, HangupRequest(reason=body.reason))
    await session.refresh(call)
    return call_out(call)
