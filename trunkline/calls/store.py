"""Calls (sessions): creating them, the caller ID rules, per-call agent tokens, and reading them."""

import base64
import hashlib
import hmac
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from trunkline.agents import get_agent
from trunkline.ids import new_id
from trunkline.models import Call, CallEvent, PhoneNumber
from trunkline.numbers.store import allows_outbound
from trunkline.pagination import PageOf, paginate
from trunkline.prompt_variables import PROMPT_KEYS, missing_names, prompt_values


class CallRequestError(Exception):
    """A call request that cannot be placed as asked; `code` is the API error code."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


def call_party(call: Call) -> str:
    """The person on the other end of the call: the callee (outbound) or the caller (inbound)."""
    return call.to_number if call.direction == "outbound" else call.from_number


def our_number(call: Call) -> str:
    """Our end of the call: the caller ID (outbound) or the number dialled (inbound)."""
    return call.from_number if call.direction == "outbound" else call.to_number


def new_call(**fields: Any) -> Call:
    """A call row with its id, LiveKit room and phone participant named after the session."""
    session_id = new_id("session")
    return Call(
        id=session_id,
        room_name=f"call-{session_id}",
        sip_participant_identity=f"phone-{session_id}",
        **fields,
    )


async def resolve_caller_id(
    session: AsyncSession, organization_id: str, agent_id: str | None, requested: str | None
) -> PhoneNumber:
    """The number to call from: the requested one if it may dial out, else a default.

    The default prefers the organization's outbound numbers routed to the agent, then the oldest.
    """
    numbers = (
        await session.exec(
            select(PhoneNumber)
            .where(PhoneNumber.organization_id == organization_id)
            .order_by(col(PhoneNumber.id))
        )
    ).all()
    if requested:
        match = next((n for n in numbers if n.e164 == requested), None)
        if match is None:
            raise CallRequestError(
                "invalid_caller_id", f"{requested} is not one of your numbers", "from"
            )
        if not allows_outbound(match.direction):
            raise CallRequestError(
                "invalid_caller_id", f"{requested} does not allow outbound calls", "from"
            )
        return match
    candidates = [n for n in numbers if allows_outbound(n.direction)]
    candidates.sort(key=lambda n: n.agent_id != agent_id)
    if not candidates:
        raise CallRequestError(
            "no_caller_id", "you have no number that allows outbound calls; pass `from`", "from"
        )
    return candidates[0]


async def create_outbound_call(
    session: AsyncSession,
    organization_id: str,
    request: dict[str, Any],
    idempotency_key: str | None,
) -> tuple[Call, bool]:
    """Store a new outbound call (True), or return the one this idempotency key made (False).

    `request` is the camelCase body; reusing a key with a different body is refused.
    """
    if idempotency_key:
        existing = await _by_idempotency_key(session, organization_id, idempotency_key)
        if existing:
            return _same_request(existing, request), False
    agent_id = request.get("agentId")
    agent = await get_agent(session, organization_id, agent_id) if agent_id else None
    if agent_id and agent is None:
        raise CallRequestError("agent_not_found", f"agent {agent_id} not found", "agentId")
    if "variables" in request:
        _check_variables(request, agent.config if agent else {})
    caller = await resolve_caller_id(session, organization_id, agent_id, request.get("from"))
    call = new_call(
        organization_id=organization_id,
        agent_id=agent_id,
        phone_number_id=caller.id,
        direction="outbound",
        from_number=caller.e164,
        to_number=request["to"],
        idempotency_key=idempotency_key,
        request=request,
        # readable at once; the call's first step lays the agent's metadata under it
        call_metadata=dict(request.get("metadata") or {}),
    )
    session.add(call)
    try:
        await session.commit()
    except IntegrityError:  # a concurrent request with the same key won
        await session.rollback()
        winner = await _by_idempotency_key(session, organization_id, idempotency_key or "")
        if winner is None:
            raise
        return _same_request(winner, request), False
    return call, True


def _check_variables(request: dict[str, Any], agent_config: dict[str, Any]) -> None:
    """Every placeholder of the call's prompts must have a value (the call renders them)."""
    texts = (request.get(key) or agent_config.get(key) for key in PROMPT_KEYS)
    missing = missing_names(texts, prompt_values(request, agent_config))
    if missing:
        names = ", ".join(missing)
        raise CallRequestError(
            "missing_template_variables", f"no value for template variable(s): {names}", "variables"
        )


async def _by_idempotency_key(session: AsyncSession, organization_id: str, key: str) -> Call | None:
    statement = select(Call).where(
        Call.organization_id == organization_id, Call.idempotency_key == key
    )
    return (await session.exec(statement)).first()


def _same_request(call: Call, request: dict[str, Any]) -> Call:
    if call.request != request:
        raise CallRequestError(
            "idempotency_key_reused",
            "this Idempotency-Key was used with a different request body",
        )
    return call


async def create_inbound_call(
    session: AsyncSession, number: PhoneNumber, telnyx_payload: dict[str, Any]
) -> Call:
    """The call for a Telnyx leg to one of our numbers; the same leg always gives the same call."""
    call_control_id = telnyx_payload["call_control_id"]
    existing = await call_by_control_id(session, call_control_id)
    if existing:
        return existing
    call = new_call(
        organization_id=number.organization_id,
        agent_id=number.agent_id,
        phone_number_id=number.id,
        direction="inbound",
        from_number=str(telnyx_payload.get("from", "")),
        to_number=number.e164,
        call_control_id=call_control_id,
        request={"telnyx": telnyx_payload},
    )
    session.add(call)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        winner = await call_by_control_id(session, call_control_id)
        if winner is None:
            raise
        return winner
    return call


async def call_by_control_id(session: AsyncSession, call_control_id: str) -> Call | None:
    statement = select(Call).where(Call.call_control_id == call_control_id)
    return (await session.exec(statement)).first()


async def get_call_by_id(session: AsyncSession, call_id: str) -> Call | None:
    """Any organization's call: for provider events and workflows, never for API callers."""
    return await session.get(Call, call_id)


async def get_call(session: AsyncSession, organization_id: str, call_id: str) -> Call | None:
    statement = select(Call).where(Call.id == call_id, Call.organization_id == organization_id)
    return (await session.exec(statement)).first()


async def list_calls(
    session: AsyncSession,
    organization_id: str,
    limit: int,
    cursor: str | None,
    *,
    status: str | None = None,
    direction: str | None = None,
    agent_id: str | None = None,
    phone_number: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
) -> PageOf[Call]:
    statement = select(Call).where(Call.organization_id == organization_id)
    if status:
        statement = statement.where(Call.status == status)
    if direction:
        statement = statement.where(Call.direction == direction)
    if agent_id:
        statement = statement.where(Call.agent_id == agent_id)
    if phone_number:
        statement = statement.where(
            (Call.from_number == phone_number) | (Call.to_number == phone_number)
        )
    if created_after:
        statement = statement.where(col(Call.created_at) >= created_after)
    if created_before:
        statement = statement.where(col(Call.created_at) < created_before)
    return await paginate(session, statement, Call.id, limit, cursor)


async def list_events(
    session: AsyncSession, call_id: str, limit: int, after: int
) -> list[CallEvent]:
    """Events in the order the workflow recorded them, after sequence number `after`."""
    statement = (
        select(CallEvent)
        .where(CallEvent.call_id == call_id, col(CallEvent.sequence) > after)
        .order_by(col(CallEvent.sequence))
        .limit(limit)
    )
    return list((await session.exec(statement)).all())


CALL_AGENT_SCOPE = "agent"
"""The scope of the token the call's own agent holds; a screening agent's names its attempt."""


def screening_scope(transfer_id: str, attempt: int) -> str:
    """The scope of a screening agent's token: one attempt of one warm transfer."""
    return f"screen-{transfer_id}-{attempt}"


def screened_attempt(scope: str) -> tuple[str, int] | None:
    """The (transfer, attempt) a screening scope names, or None for any other scope."""
    transfer_id, _, attempt = scope.removeprefix("screen-").rpartition("-")
    if not scope.startswith("screen-") or not transfer_id or not attempt.isdigit():
        return None
    return transfer_id, int(attempt)


def agent_token(secret: str, session_id: str, scope: str = CALL_AGENT_SCOPE) -> str:
    """A token for the agent endpoints of one call, limited to `scope` (derived, not stored)."""
    if not secret:
        raise ValueError("AGENT_TOKEN_SECRET is not set")
    signed = session_id if scope == CALL_AGENT_SCOPE else f"{session_id}.{scope}"
    digest = hmac.new(secret.encode(), signed.encode(), hashlib.sha256).digest()
    return f"ct_{signed}.{base64.urlsafe_b64encode(digest).decode().rstrip('=')}"


def agent_token_grant(secret: str, token: str) -> tuple[str, str] | None:
    """The (session, scope) a token was issued for, or None when it is not one of ours."""
    if not token.startswith("ct_"):
        return None
    session_id, _, scope = token.removeprefix("ct_").rsplit(".", 1)[0].partition(".")
    scope = scope or CALL_AGENT_SCOPE
    if not hmac.compare_digest(agent_token(secret, session_id, scope), token):
        return None
    return session_id, scope
