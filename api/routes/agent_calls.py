"""`/v1/agent/calls/{id}`: what the agent in a call's room reports, with the call's own token.

The token comes in the agent's dispatch metadata (`agentToken`) and opens only its own call.
"""

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.deps import AppSettings, DbSession, Temporal
from api.errors import ApiError, error_responses
from api.routes.calls import CallOut, call_out
from api.routes.transfers import message_out
from api.schemas.calls import AgentFailureBody, AgentHangup, AmdReport, TranscriptAppend
from api.schemas.transfers import (
    AgentTransferBody,
    BlindTransferBody,
    CallTransferOut,
    DeclineBody,
    MessageBody,
    MessageOut,
    VoicemailVerdict,
    WarmTransferBody,
)
from api.transfer_control import (
    blind_transfer,
    owned_transfer,
    tool_destinations,
    transfer_out,
    warm_transfer,
)
from api.updates import run_update
from trunkline.calls.store import (
    CALL_AGENT_SCOPE,
    agent_token_grant,
    get_call_by_id,
    screened_attempt,
)
from trunkline.calls.transcripts import append_entries
from trunkline.models import Call, CallMessage
from trunkline.pipeline import TransferCallTool
from trunkline.workflow_io import AgentFailure, HangupRequest, ScreeningReport
from workflows.call import CallWorkflow
from workflows.warm_transfer import WarmTransferWorkflow

router = APIRouter(
    prefix="/v1/agent/calls/{call_id}", tags=["agent"], responses=error_responses(401, 409, 422)
)
_bearer = HTTPBearer(auto_error=False, description="The call's `agentToken`.")


async def granted_call(
    call_id: str,
    session: DbSession,
    settings: AppSettings,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> tuple[Call, str]:
    """The call whose token is presented, and the token's scope; any other token is a 401."""
    grant = agent_token_grant(
        settings.agent_token_secret, credentials.credentials if credentials else ""
    )
    if grant is None or grant[0] != call_id:
        raise ApiError(401, "unauthorized", "send this call's agentToken as a Bearer token")
    call = await get_call_by_id(session, call_id)
    if call is None:
        raise ApiError(401, "unauthorized", "no such call")
    return call, grant[1]


Grant = Annotated[tuple[Call, str], Depends(granted_call)]


async def agent_call(grant: Grant) -> Call:
    """The call, for its own agent; a screening agent's token reports on its consultation only."""
    call, scope = grant
    if scope != CALL_AGENT_SCOPE:
        raise ApiError(403, "forbidden", "this token only reports on a transfer's consultation")
    return call


AgentCall = Annotated[Call, Depends(agent_call)]


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
    await run_update(temporal, f"call-{call.id}", CallWorkflow.report_amd, body.verdict)
    await session.refresh(call)
    return call_out(call)


@router.post("/end")
async def agent_ends_call(
    body: AgentHangup, call: AgentCall, session: DbSession, temporal: Temporal
) -> CallOut:
    """The agent ends the conversation; answers once the call has ended."""
    await run_update(
        temporal, f"call-{call.id}", CallWorkflow.hang_up, HangupRequest(reason=body.reason)
    )
    await session.refresh(call)
    return call_out(call)


@router.post("/failure")
async def agent_failed(
    body: AgentFailureBody, call: AgentCall, session: DbSession, temporal: Temporal
) -> CallOut:
    """The agent cannot run the call: an `agent.failed` event (and `call.status`), then the
    call ends as `agent_failed`."""
    failure = AgentFailure(reason=body.reason, detail=body.detail)
    await run_update(temporal, f"call-{call.id}", CallWorkflow.agent_failed, failure)
    await session.refresh(call)
    return call_out(call)


def _transfer_tool(call: Call) -> TransferCallTool:
    """The call's `transfer_call` tool, as configured on the agent (or for this call)."""
    for tool in call.pipeline_config.get("tools") or []:
        if tool.get("type") == "transfer_call":
            return TransferCallTool.model_validate(tool)
    raise ApiError(409, "transfer_not_configured", "this call's agent has no transfer_call tool")


@router.post("/transfer", responses=error_responses(503))
async def transfer_call(
    body: AgentTransferBody,
    call: AgentCall,
    session: DbSession,
    settings: AppSettings,
    temporal: Temporal,
) -> CallTransferOut:
    """The built-in `transfer_call` tool: blind or warm, as the tool is configured."""
    tool = _transfer_tool(call)
    destinations = tool_destinations(tool, body.to, body.label)
    metadata = {"reason": body.reason} if body.reason else {}
    if tool.mode == "blind":
        blind = BlindTransferBody(to=destinations[0].to, metadata=metadata)
        request = blind.model_dump(mode="json", by_alias=True)
        transfer_id = await blind_transfer(
            temporal, call, blind.to, blind.ringing_timeout, request, "agent"
        )
    else:
        warm = WarmTransferBody.model_validate(
            {
                "destinations": [d.model_dump(by_alias=True) for d in destinations],
                "screeningPrompt": tool.screening_prompt,
                "metadata": metadata,
            }
        )
        transfer_id = await warm_transfer(session, temporal, settings, call, warm, "agent")
    return await transfer_out(session, await owned_transfer(session, call, transfer_id))


async def _screening_update(
    grant: Grant,
    session: DbSession,
    temporal: Temporal,
    transfer_id: str,
    update: object,
    report: ScreeningReport,
) -> CallTransferOut:
    """Run a screening agent's report on the attempt its token names (the call's agent: any)."""
    call, scope = grant
    transfer = await owned_transfer(session, call, transfer_id, warm=True)
    if scope != CALL_AGENT_SCOPE:
        screened = screened_attempt(scope)
        if screened is None or screened[0] != transfer.id:
            raise ApiError(403, "forbidden", "this token screens another transfer")
        report = report.model_copy(update={"attempt": screened[1]})
    await run_update(temporal, f"transfer-{transfer.id}", update, report)
    return await transfer_out(session, transfer)


@router.post("/transfers/{transfer_id}/complete", responses=error_responses(403, 404, 503))
async def screening_complete(
    transfer_id: str, grant: Grant, session: DbSession, temporal: Temporal
) -> CallTransferOut:
    """The screening agent: the recipient accepts; bridge them with the caller."""
    return await _screening_update(
        grant, session, temporal, transfer_id, WarmTransferWorkflow.complete, ScreeningReport()
    )


@router.post("/transfers/{transfer_id}/decline", responses=error_responses(403, 404, 503))
async def screening_decline(
    transfer_id: str, body: DeclineBody, grant: Grant, session: DbSession, temporal: Temporal
) -> CallTransferOut:
    """The screening agent: the recipient declines; they will not be dialled again."""
    report = ScreeningReport(reason=body.reason)
    return await _screening_update(
        grant, session, temporal, transfer_id, WarmTransferWorkflow.decline, report
    )


@router.post("/transfers/{transfer_id}/voicemail", responses=error_responses(403, 404, 503))
async def screening_voicemail(
    transfer_id: str, body: VoicemailVerdict, grant: Grant, session: DbSession, temporal: Temporal
) -> CallTransferOut:
    """The screening agent's verdict on who answered the consultation leg."""
    report = ScreeningReport(verdict=body.verdict)
    return await _screening_update(
        grant, session, temporal, transfer_id, WarmTransferWorkflow.report_voicemail, report
    )


@router.post("/messages", status_code=201, responses=error_responses(404))
async def take_message(body: MessageBody, call: AgentCall, session: DbSession) -> MessageOut:
    """A message taken for someone who could not take the call; the call's report lists it."""
    if body.transfer_id:
        await owned_transfer(session, call, body.transfer_id)
    message = CallMessage(
        call_id=call.id,
        transfer_id=body.transfer_id,
        caller_name=body.caller_name,
        callback_number=body.callback_number,
        recipient=body.recipient,
        text=body.message,
    )
    session.add(message)
    await session.commit()
    return message_out(message)
