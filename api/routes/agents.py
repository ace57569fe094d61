"""`/v1/agents`: create, read, list, update and delete agents."""

from typing import Any

from fastapi import APIRouter, Response

from api.deps import CurrentOrganization, DbSession
from api.errors import ApiError, error_responses, find_owned
from api.schemas.agents import AgentCreate, AgentOut, AgentPage, AgentUpdate
from api.schemas.common import PageCursor, PageLimit
from trunkline import agents
from trunkline.models import Agent

router = APIRouter(prefix="/v1/agents", tags=["agents"], responses=error_responses(401, 422))


def _stored_config(body: dict[str, Any]) -> dict[str, Any]:
    """Validate a full agent body and return what is stored: camelCase, nulls dropped, no name."""
    return AgentCreate.model_validate(body).model_dump(
        mode="json", exclude_none=True, exclude={"name"}
    )


def _agent_out(agent: Agent) -> AgentOut:
    """The agent as the API shows it: legacy webhook secrets are never echoed back."""
    config = dict(agent.config)
    webhooks = {
        kind: {"url": target["url"], "secretSet": bool(target.get("secret"))}
        for kind, target in config.pop("webhooks", {}).items()
    }
    return AgentOut.model_validate(
        {
            **config,
            "id": agent.id,
            "name": agent.name,
            "webhooks": webhooks,
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
    config = _stored_config(body.model_dump(mode="json"))
    agent = await agents.create_agent(session, organization.id, body.name, config)
    return _agent_out(agent)


@router.get("")
async def list_agents(
    organization: CurrentOrganization,
    session: DbSession,
    limit: PageLimit = 20,
    cursor: PageCursor = None,
) -> AgentPage:
    page = await agents.list_agents(session, organization.id, limit, cursor)
    return AgentPage.of(page.rows, page.next_cursor, _agent_out)


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
    merged = {key: value for key, value in {**agent.config, **changes}.items() if value is not None}
    config = _stored_config({"name": name, **merged})
    return _agent_out(await agents.update_agent(session, agent, name, config))


@router.delete("/{agent_id}", status_code=204, responses=error_responses(404, 409))
async def delete_agent(
    agent_id: str, organization: CurrentOrganization, session: DbSession
) -> Response:
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
    return Response(status_code=204)
