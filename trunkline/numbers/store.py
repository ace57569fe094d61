"""Phone numbers: routing rules, purchase with credits, import, update and release."""

import calendar
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from trunkline.agents import get_agent
from trunkline.credits import move_credits
from trunkline.models import Organization, PhoneNumber, utcnow
from trunkline.pagination import PageOf, paginate
from trunkline.providers.errors import ProviderError, ProviderRejected, ProviderUnavailable
from trunkline.providers.telnyx import TelnyxAdapter

Direction = Literal["inbound", "outbound", "both"]


class PhoneNumberError(Exception):
    """A rule a phone number request broke; `code` is the API error code, `field` the one it is
    about (None for a rule across fields)."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


def allows_inbound(direction: str) -> bool:
    return direction in ("inbound", "both")


def allows_outbound(direction: str) -> bool:
    return direction in ("outbound", "both")


@dataclass(frozen=True)
class SetupStatus:
    """What a number can do now; `issues` name what its direction promises but lacks."""

    inbound_ready: bool
    outbound_ready: bool
    agent_ready: bool
    sip_connection_ready: bool
    issues: list[str]

    @property
    def status(self) -> Literal["ready", "action_required"]:
        return "action_required" if self.issues else "ready"


def setup_status(number: PhoneNumber) -> SetupStatus:
    """Derived from the number's direction, routing (agent or template) and trunk."""
    routed = bool(number.agent_id or number.dispatch_metadata_template)
    connected = number.source == "managed" or bool(
        number.sip_connection_installation_id or number.sip_trunk_id
    )
    inbound = allows_inbound(number.direction)
    issues = [
        issue
        for issue, missing in (
            ("routing_required", inbound and not routed),
            ("sip_connection_required", not connected),
        )
        if missing
    ]
    return SetupStatus(
        inbound_ready=inbound and routed and connected,
        outbound_ready=allows_outbound(number.direction) and connected,
        agent_ready=routed,
        sip_connection_ready=connected,
        issues=issues,
    )


def _months_after(start: datetime, months: int) -> datetime:
    """`start` moved `months` calendar months on; a day the month lacks becomes its last day."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    return start.replace(
        year=year, month=month, day=min(start.day, calendar.monthrange(year, month)[1])
    )


def next_renewal(started: datetime, now: datetime) -> datetime:
    """The first monthly anniversary of `started` after `now`: a number's billing cycle."""
    months = max(1, (now.year - started.year) * 12 + now.month - started.month)
    renewal = _months_after(started, months)
    return renewal if renewal > now else _months_after(started, months + 1)


async def check_routing(
    session: AsyncSession,
    organization_id: str,
    direction: str,
    agent_id: str | None,
    template: dict[str, Any] | None,
) -> None:
    """Inbound numbers need an agent or a template, and the agent must be the caller's own."""
    if allows_inbound(direction) and not agent_id and not template:
        raise PhoneNumberError(
            "routing_required",
            f"a number with direction {direction} needs agentId or dispatchMetadataTemplate",
        )
    await _check_agent(session, organization_id, agent_id)


async def _check_agent(session: AsyncSession, organization_id: str, agent_id: str | None) -> None:
    """The agent, when named, exists and is the organization's own."""
    if agent_id and await get_agent(session, organization_id, agent_id) is None:
        raise PhoneNumberError("agent_not_found", f"agent {agent_id} not found", "agentId")


async def _claimed(session: AsyncSession, e164: str) -> bool:
    """Whether any organization has registered `e164`."""
    statement = select(PhoneNumber.id).where(PhoneNumber.e164 == e164)
    return (await session.exec(statement)).first() is not None


async def ensure_unclaimed(session: AsyncSession, e164: str) -> None:
    """A number belongs to at most one organization (which one is never revealed)."""
    if await _claimed(session, e164):
        raise PhoneNumberError("phone_number_taken", f"{e164} is already registered")


async def _insert(session: AsyncSession, number: PhoneNumber) -> PhoneNumber:
    """Store the number; if a concurrent change broke a rule since the checks, say which one."""
    e164, organization_id, agent_id = number.e164, number.organization_id, number.agent_id
    session.add(number)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        await ensure_unclaimed(session, e164)  # the number was registered meanwhile
        await _check_agent(session, organization_id, agent_id)  # or its agent deleted
        raise
    return number


async def import_number(session: AsyncSession, number: PhoneNumber) -> PhoneNumber:
    """Register a number the customer already owns on a SIP trunk."""
    await check_routing(
        session,
        number.organization_id,
        number.direction,
        number.agent_id,
        number.dispatch_metadata_template,
    )
    await ensure_unclaimed(session, number.e164)
    return await _insert(session, number)


async def buy_number(
    session: AsyncSession,
    organization: Organization,
    number: PhoneNumber,
    price_micros: int,
    telnyx: TelnyxAdapter,
    connection_id: str,
) -> PhoneNumber:
    """Charge the price, order through Telnyx, store; refund (and release) if any step fails."""
    organization_id = organization.id  # a rollback below expires `organization`
    if not organization.business_verified:
        raise PhoneNumberError(
            "business_verification_required",
            "buying numbers requires business verification of your organization: "
            "submit it with POST /v1/phone-numbers/kyb/submit",
        )
    await check_routing(
        session,
        organization_id,
        number.direction,
        number.agent_id,
        number.dispatch_metadata_template,
    )
    await ensure_unclaimed(session, number.e164)
    if not await move_credits(
        session, organization_id, -price_micros, "debit", metric="phone_number"
    ):
        raise PhoneNumberError(
            "insufficient_credits", f"a number costs {price_micros / 1e6:g} credits"
        )
    try:
        return await _order_and_store(session, number, telnyx, connection_id)
    except Exception:
        await move_credits(session, organization_id, price_micros, "refund", metric="phone_number")
        raise


async def _order_and_store(
    session: AsyncSession, number: PhoneNumber, telnyx: TelnyxAdapter, connection_id: str
) -> PhoneNumber:
    """Order the number and store it; whatever Telnyx sold us but we cannot keep goes back."""
    e164 = number.e164
    try:
        order = await telnyx.order_number(e164, connection_id)
    except ProviderUnavailable:  # the order may have gone through although no answer came
        if not await _claimed(session, e164):  # one someone stored is not ours to release
            await _release_at_telnyx(telnyx, e164)
        raise
    number.source = "managed"
    number.provider_order_id = order.order_id
    number.provider_number_id = await _telnyx_id(telnyx, e164)
    try:
        return await _insert(session, number)
    except Exception:
        await _release_at_telnyx(telnyx, e164)
        raise


async def _telnyx_id(telnyx: TelnyxAdapter, e164: str) -> str | None:
    """The bought number's id at Telnyx (its `providerResourceId`); unknown if the lookup fails."""
    try:
        return await telnyx.find_number(e164)
    except ProviderError:
        return None


async def _release_at_telnyx(telnyx: TelnyxAdapter, e164: str) -> None:
    """Release the number if it is on our Telnyx account; not being there is fine."""
    phone_number_id = await telnyx.find_number(e164)
    if phone_number_id is None:
        return
    try:
        await telnyx.release_number(phone_number_id)
    except ProviderRejected as exc:
        if exc.status != 404:
            raise


async def get_number(
    session: AsyncSession, organization_id: str, number_id: str
) -> PhoneNumber | None:
    statement = select(PhoneNumber).where(
        PhoneNumber.id == number_id, PhoneNumber.organization_id == organization_id
    )
    return (await session.exec(statement)).first()


async def list_numbers(
    session: AsyncSession,
    organization_id: str,
    limit: int,
    cursor: str | None,
    agent_id: str | None = None,
    direction: str | None = None,
) -> PageOf[PhoneNumber]:
    statement = select(PhoneNumber).where(PhoneNumber.organization_id == organization_id)
    if agent_id:
        statement = statement.where(PhoneNumber.agent_id == agent_id)
    if direction:
        statement = statement.where(PhoneNumber.direction == direction)
    return await paginate(session, statement, PhoneNumber.id, limit, cursor)


async def update_number(
    session: AsyncSession, number: PhoneNumber, changes: dict[str, Any]
) -> PhoneNumber:
    """Apply `changes` (snake_case fields) if the result still follows the routing rules."""
    merged = {
        "direction": number.direction,
        "agent_id": number.agent_id,
        "dispatch_metadata_template": number.dispatch_metadata_template,
        **changes,
    }
    await check_routing(
        session,
        number.organization_id,
        merged["direction"],
        merged["agent_id"],
        merged["dispatch_metadata_template"],
    )
    for field, value in changes.items():
        setattr(number, field, value)
    number.updated_at = utcnow()
    session.add(number)
    await session.commit()
    return number


async def release_number(session: AsyncSession, number: PhoneNumber, telnyx: TelnyxAdapter) -> None:
    """Release a managed number at Telnyx (already gone there is fine), then forget it."""
    if number.source == "managed":
        await _release_at_telnyx(telnyx, number.e164)
    await session.delete(number)
    await session.commit()
