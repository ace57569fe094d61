"""`/v1/agents`: create, read, list, update and delete agents, and list an agent's calls.

Shapes are the Speko SDK's (`AgentRow`, a bare array for the list, `{deleted, id}` for a delete,
a snake_case `AgentCallListPage` for the calls); Trunkline's own fields travel beside them.
"""

from typing import Any

from fastapi import APIRouter, Request, Response

from api.deps import CurrentOrganization, DbSession, Temporal
from api.errors import ApiError, error_responses, find_owned
from api.pagination import ArrayLimit, link_next
from api.routes.calls import call_out
from api.schemas.agents import (
    AgentCallPage,
    AgentCreate,
    AgentDeleted,
    AgentOut,
    AgentUpdate,
)
from api.schemas.common import Instant, PageCursor, PageLimit
from trunkline import agents
from trunkline.callbacks import cancel_for_agent
from trunkline.calls import store as call_store
from trunkline.models import Agent
from trunkline.pipeline import DEFAULT_LANGUAGE
from trunkline.workflow_starts import wake_cancelled_callback

router = APIRouter(prefix="/v1/agents", tags=["agents"], responses=error_responses(401, 422))


def _stored_config(body: dict[str, Any]) -> dict[str, Any]:
    """Validate a full agent body and return what is stored: camelCase, nulls dropped, no name."""
    return AgentCreate.model_validate(body).model_dump(
        mode="json", exclude_none=True, exclude={"name"}
    )


def _webhook_out(kind: str, target: dict[str, Any]) -> dict[str, Any]:
    """A lifecycle webhook as the SDK reads it: secrets only as references, never their values."""
    secret_ref = f"agent:{kind}" if target.get("secret") else "organization"
    headers = target.get("authHeaders")
    return {
        **{key: value for key, value in target.items() if key not in ("secret", "authHeaders")},
        "secretRef": secret_ref,
        "secretSet": bool(target.get("secret")),
        "authHeaders": [
            {"name": h["name"], "secretRef": f"agent:{kind}:{h['name']}"} for h in headers
        ]
        if headers is not None
        else None,
    }


def _speech_normalization(config: dict[str, Any]) -> dict[str, Any] | None:
    """Our pronunciation and text replacement rules, as the SDK's two maps."""
    pronunciations = config.get("pronunciationRules")
    replacements = config.get("textReplacementRules")
    if pronunciations is None and replacements is None:
        return None
    return {
        "pronunciationDictionary": {r["word"]: r["pronunciation"] for r in pronunciations or []},
        "textReplacements": {r["find"]: r["replace"] for r in replacements or []},
    }


def _agent_out(agent: Agent) -> AgentOut:
    """The agent as the SDK's `AgentRow`, derived from what is stored (see the README)."""
    config = dict(agent.config)
    intent = config.get("intent") or {}
    optimize_for = intent.get("optimizeFor")
    llm = config.get("llm")
    return AgentOut.model_validate(
        {
            **config,
            "id": agent.id,
            "organizationId": agent.organization_id,
            "name": agent.name,
            "systemPrompt": config.get("systemPrompt", ""),
            "intent": {
                "language": intent.get("language", DEFAULT_LANGUAGE),
                "optimizeFor": None if optimize_for == "balanced" else optimize_for,
            },
            "voice": (config.get("voice") or {}).get("voiceId"),
            "voiceOptions": config.get("voice"),
            "llmOptions": {k: v for k, v in llm.items() if k != "provider"} if llm else None,
            "speechNormalization": _speech_normalization(config),
            "extractionFields": config.get("extractionFields", []),
            "metadata": config.get("metadata", {}),
            "webhooks": {
                kind: _webhook_out(kind, target)
                for kind, target in config.get("webhooks", {}).items()
            },
            "createdAt": agent.created_at,
            "updatedAt": agent.updated_at,
        }
    )


async def _owned_agent(session: DbSession, organization_id: str, agent_id: str) -> Agent:
    return await find_owned(
        "agent", agent_id, lambda: agents.get_agent(session, organization_id, agent_id)
    )


@router.post("", status_code=201, responses=error_responses(400, 415))
async def create_agent(
    body: AgentCreate, organization: CurrentOrganization, session: DbSession
) -> AgentOut:
    fields = agents.as_pipeline_fields(body.model_dump(mode="json", exclude_none=True), {})
    config = _stored_config(fields)
    agent = await agents.create_agent(session, organization.id, body.name, config)
    return _agent_out(agent)


@router.get("")
async def list_agents(
    request: Request,
    response: Response,
    organization: CurrentOrganization,
    session: DbSession,
    limit: ArrayLimit = 1000,
    cursor: PageCursor = None,
) -> list[AgentOut]:
    """Every agent, newest first, as a bare array; a `Link` header points at any further page."""
    page = await agents.list_agents(session, organization.id, limit, cursor)
    link_next(request, response, page.next_cursor)
    return [_agent_out(agent) for agent in page.rows]


@router.get("/{agent_id}", responses=error_responses(404))
async def get_agent(
    agent_id: str, organization: CurrentOrganization, session: DbSession
) -> AgentOut:
    return _agent_out(await _owned_agent(session, organization.id, agent_id))


@router.patch("/{agent_id}", responses=error_responses(400, 404, 415))
async def update_agent(
    agent_id: str, body: AgentUpdate, organization: CurrentOrganization, session: DbSession
) -> AgentOut:
    agent = await _owned_agent(session, organization.id, agent_id)
    changes = body.model_dump(mode="json", exclude_unset=True)
    name = changes.pop("name", None) or agent.name
    fields = agents.as_pipeline_fields(changes, agent.config)
    merged = {key: value for key, value in {**agent.config, **fields}.items() if value is not None}
    config = _stored_config({"name": name, **merged})
    return _agent_out(await agents.update_agent(session, agent, name, config))


@router.delete("/{agent_id}", responses=error_responses(404, 409))
async def delete_agent(
    agent_id: str, organization: CurrentOrganization, session: DbSession, temporal: Temporal
) -> AgentDeleted:
    """Delete the agent; its scheduled callbacks are cancelled (`status_reason: agent_deleted`)."""
    agent = await _owned_agent(session, organization.id, agent_id)
    try:
        await agents.delete_agent(session, agent)
    except agents.AgentInUseError as exc:
        raise ApiError(
            409,
            "agent_in_use",
            f"agent {agent_id} still receives calls from {', '.join(exc.phone_numbers)}; "
            "route those numbers elsewhere first",
            {"phoneNumbers": exc.phone_numbers},
        ) from exc
    for callback_id in await cancel_for_agent(session, organization.id, agent_id):
        await wake_cancelled_callback(temporal, callback_id)
    return AgentDeleted(id=agent_id)


@router.get("/{agent_id}/calls", responses=error_responses(404))
async def list_agent_calls(
    agent_id: str,
    organization: CurrentOrganization,
    session: DbSession,
    limit: PageLimit = 20,
    cursor: PageCursor = None,
    since: Instant | None = None,
) -> AgentCallPage:
    """The agent's calls, newest first; `since` keeps those created at or after it."""
    agent = await _owned_agent(session, organization.id, agent_id)
    page = await call_store.list_calls(
        session, organization.id, limit, cursor, agent_id=agent.id, created_after=since
    )
    entries = [call_out(call) for call in page.rows]
    return AgentCallPage(calls=entries, entries=entries, next_cursor=page.next_cursor)
