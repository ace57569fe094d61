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


def _allowed_providers(preferences: dict[str, Any] | None) -> list[str] | None:
    """Every provider the SDK's per-modality lists allow, once each, in order."""
    lists = ((preferences or {}).get("allowedProviders") or {}).values()
    merged = list(dict.fromkeys(provider for providers in lists for provider in providers or []))
    return merged or None


def _rules(mapping: dict[str, str] | None, left: str, right: str) -> list[dict[str, str]] | None:
    """A `{a: b}` map as rules `[{left: a, right: b}]`; None when empty."""
    return [{left: a, right: b} for a, b in (mapping or {}).items()] or None


def as_pipeline_fields(changes: dict[str, Any], stored: dict[str, Any]) -> dict[str, Any]:
    """The SDK's agent fields (camelCase, `None` = clear) written onto ours, over `stored`:
    `llmOptions` → `llm` (its provider kept),
    `stackPreferences` → `constraints.allowedProviders` (the preferences kept too),
    `speechNormalization` → pronunciation and text replacement rules."""
    fields = dict(changes)
    if "llmOptions" in fields:
        options = fields.pop("llmOptions")
        provider = (fields.get("llm") or stored.get("llm") or {}).get("provider")
        kept = {"provider": provider} if provider else {}
        fields["llm"] = None if options is None else {**kept, **options}
    if "stackPreferences" in fields:
        constraints = dict(fields.get("constraints") or stored.get("constraints") or {})
        constraints["allowedProviders"] = _allowed_providers(fields["stackPreferences"])
        fields["constraints"] = {k: v for k, v in constraints.items() if v is not None} or None
    if "speechNormalization" in fields:
        normalization = fields.pop("speechNormalization") or {}
        pronunciations = normalization.get("pronunciationDictionary")
        replacements = normalization.get("textReplacements")
        fields["pronunciationRules"] = _rules(pronunciations, "word", "pronunciation")
        fields["textReplacementRules"] = _rules(replacements, "find", "replace")
    if fields.get("webhooks"):
        fields["webhooks"] = _keep_auth_values(fields["webhooks"], stored.get("webhooks") or {})
    return fields


def _keep_auth_values(webhooks: dict[str, Any], stored: dict[str, Any]) -> dict[str, Any]:
    """An auth header sent without its value keeps the value stored under its name."""
    kept = {}
    for kind, target in webhooks.items():
        known = {h["name"]: h.get("value") for h in (stored.get(kind) or {}).get("authHeaders", [])}
        if target and target.get("authHeaders"):
            headers = [
                {**h, "value": h.get("value") or known.get(h["name"])}
                for h in target["authHeaders"]
            ]
            target = {**target, "authHeaders": [{k: v for k, v in h.items() if v} for h in headers]}
        kept[kind] = target
    return kept
