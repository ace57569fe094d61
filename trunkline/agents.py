"""Agents: storage and the rules around them. Always scoped to one organization."""

from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from trunkline.models import Agent, PhoneNumber, utcnow
from trunkline.pagination import PageOf, paginate


class AgentInUseError(Exception):
    """The agent still receives calls from these phone numbers."""

    def __init__(self, phone_numbers: list[str]) -> None:
        super().__init__(", ".join(phone_numbers))
        self.phone_numbers = phone_numbers


async def get_agent(session: AsyncSession, organization_id: str, agent_id: str) -> Agent | None:
    statement = select(Agent).where(Agent.id == agent_id, Agent.organization_id == organization_id)
    return (await session.exec(statement)).first()


async def list_agents(
    session: AsyncSession, organization_id: str, limit: int, cursor: str | None
) -> PageOf[Agent]:
    statement = select(Agent).where(Agent.organization_id == organization_id)
    return await paginate(session, statement, Agent.id, limit, cursor)


async def create_agent(
    session: AsyncSession, organization_id: str, name: str, config: dict[str, Any]
) -> Agent:
    agent = Agent(organization_id=organization_id, name=name, config=config)
    session.add(agent)
    await session.commit()
    return agent


async def update_agent(
    session: AsyncSession, agent: Agent, name: str, config: dict[str, Any]
) -> Agent:
    agent.name = name
    agent.config = config
    agent.updated_at = utcnow()
    session.add(agent)
    await session.commit()
    return agent


async def delete_agent(session: AsyncSession, agent: Agent) -> None:
    """Delete the agent unless a phone number routes to it (then `AgentInUseError`)."""
    statement = select(PhoneNumber.e164).where(PhoneNumber.agent_id == agent.id)
    routed = list((await session.exec(statement.order_by(col(PhoneNumber.e164)))).all())
    if routed:
        raise AgentInUseError(routed)
    await session.delete(agent)
    await session.commit()
