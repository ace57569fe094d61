"""`/v1/phone-numbers`: search, buy, import, read, update and release numbers, and the business
verification (KYB) buying needs."""

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from api.deps import AppSettings, CurrentOrganization, DbSession
from api.errors import ApiError, error_responses, find_owned, invalid_field
from api.pagination import ArrayLimit, link_next
from api.routes.kyb import router as kyb_router
from api.schemas.common import PageCursor
from api.schemas.phone_numbers import (
    AvailableNumberOut,
    PhoneNumberCreate,
    PhoneNumberOut,
    PhoneNumberUpdate,
    RegionOut,
    ReleasedOut,
    SetupStatusOut,
    SipTrunkImport,
)
from trunkline.models import PhoneNumber, utcnow
from trunkline.numbers import store as number_store
from trunkline.numbers.e164 import national_format
from trunkline.numbers.store import Direction, PhoneNumberError
from trunkline.organizations import MICROS_PER_CREDIT
from trunkline.providers.errors import ProviderError, ProviderRejected
from trunkline.providers.telnyx import AvailableNumber, TelnyxAdapter

router = APIRouter(
    prefix="/v1/phone-numbers", tags=["phone numbers"], responses=error_responses(401, 422)
)
router.include_router(kyb_router)  # first: `/kyb` is not a `/{number_id}`

_STATUS_BY_CODE = {
    "business_verification_required": 403,
    "insufficient_credits": 402,
    "phone_number_taken": 409,
    "agent_not_found": 422,
    "routing_required": 422,
}


async def get_telnyx(request: Request) -> TelnyxAdapter:
    return request.app.state.telnyx


Telnyx = Annotated[TelnyxAdapter, Depends(get_telnyx)]


def _rule_broken(error: PhoneNumberError) -> ApiError:
    """The API error for a broken rule; a 422 lists the problem in `details`, as every 422 does."""
    status = _STATUS_BY_CODE[error.code]
    if status == 422:
        return invalid_field(error.code, error.message, error.field)
    return ApiError(status, error.code, error.message)


def _provider_failed(error: ProviderError) -> ApiError:
    if isinstance(error, ProviderRejected):
        return ApiError(409, "number_unavailable", f"the carrier refused: {error}")
    return ApiError(502, "provider_error", f"the carrier could not be reached: {error}")


def _out(number: PhoneNumber) -> PhoneNumberOut:
    """The SDK's PhoneNumberRow: the stored number and what derives from it."""
    setup = number_store.setup_status(number)
    managed = number.source == "managed"
    return PhoneNumberOut(
        **number.model_dump(),
        provider_resource_id=number.provider_number_id,
        telnyx_phone_number_id=number.provider_number_id,
        setup_status=SetupStatusOut(**asdict(setup), status=setup.status),
        next_charge_at=number_store.next_renewal(number.created_at, utcnow()),
        last_charged_at=number.created_at if managed else None,
    )


def _available_out(
    number: AvailableNumber, price_usd: float, locality: str | None
) -> AvailableNumberOut:
    """A number for sale as the SDK reads it; its locality is the city searched, when one was."""
    return AvailableNumberOut(
        e164=number.e164,
        friendly_name=national_format(number.e164),
        monthly_cost_usd=0.0,
        upfront_cost_usd=price_usd,
        features=number.features,
        region=RegionOut(state=number.state, locality=locality, rate_center=number.rate_center),
        monthly_cost=number.monthly_cost,
        upfront_cost=number.upfront_cost,
    )


def _new_number(body: PhoneNumberCreate, organization_id: str) -> PhoneNumber:
    return PhoneNumber(
        organization_id=organization_id,
        **body.model_dump(by_alias=False, exclude_none=True),
    )


async def _owned(session: DbSession, organization_id: str, number_id: str) -> PhoneNumber:
    return await find_owned(
        "phone number",
        number_id,
        lambda: number_store.get_number(session, organization_id, number_id),
    )


@router.get("/available", responses=error_responses(502))
async def search_available_numbers(
    organization: CurrentOrganization,
    settings: AppSettings,
    telnyx: Telnyx,
    area_code: Annotated[str | None, Query(alias="areaCode", pattern=r"^[2-9][0-9]{2}$")] = None,
    locality: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> list[AvailableNumberOut]:
    """US numbers for sale, in an area code and/or a city; with neither, anywhere in the US."""
    try:
        found = await telnyx.search_available(area_code, limit, locality=locality)
    except ProviderError as exc:
        raise ApiError(502, "provider_error", f"number search failed: {exc}") from exc
    price = settings.managed_number_price_credits
    return [_available_out(number, price, locality) for number in found]


@router.post("", status_code=201, responses=error_responses(400, 402, 403, 409, 415, 502))
async def buy_phone_number(
    body: PhoneNumberCreate,
    organization: CurrentOrganization,
    session: DbSession,
    settings: AppSettings,
    telnyx: Telnyx,
) -> PhoneNumberOut:
    """Buy a managed number: needs business verification and enough credits."""
    price = round(settings.managed_number_price_credits * MICROS_PER_CREDIT)
    try:
        number = await number_store.buy_number(
            session,
            organization,
            _new_number(body, organization.id),
            price,
            telnyx,
            settings.telnyx_connection_id,
        )
    except PhoneNumberError as exc:
        raise _rule_broken(exc) from exc
    except ProviderError as exc:
        raise _provider_failed(exc) from exc
    return _out(number)


@router.post("/import", status_code=201, responses=error_responses(400, 409, 415))
@router.post(
    "/import-sip-trunk",
    status_code=201,
    responses=error_responses(400, 409, 415),
    include_in_schema=False,
)
async def import_sip_trunk_number(
    body: SipTrunkImport, organization: CurrentOrganization, session: DbSession
) -> PhoneNumberOut:
    """Register a number you already own, reached through your SIP trunk
    (`/import-sip-trunk`, its former path, still works)."""
    try:
        number = await number_store.import_number(session, _new_number(body, organization.id))
    except PhoneNumberError as exc:
        raise _rule_broken(exc) from exc
    return _out(number)


@router.get("")
async def list_phone_numbers(
    request: Request,
    response: Response,
    organization: CurrentOrganization,
    session: DbSession,
    limit: ArrayLimit = 1000,
    cursor: PageCursor = None,
    agent_id: Annotated[str | None, Query(alias="agentId", max_length=64)] = None,
    direction: Direction | None = None,
) -> list[PhoneNumberOut]:
    """Your numbers, newest first; a `Link: <…>; rel="next"` header points at any more."""
    page = await number_store.list_numbers(
        session, organization.id, limit, cursor, agent_id, direction
    )
    link_next(request, response, page.next_cursor)
    return [_out(number) for number in page.rows]


@router.get("/{number_id}", responses=error_responses(404))
async def get_phone_number(
    number_id: str, organization: CurrentOrganization, session: DbSession
) -> PhoneNumberOut:
    return _out(await _owned(session, organization.id, number_id))


@router.patch("/{number_id}", responses=error_responses(400, 404, 415))
async def update_phone_number(
    number_id: str, body: PhoneNumberUpdate, organization: CurrentOrganization, session: DbSession
) -> PhoneNumberOut:
    number = await _owned(session, organization.id, number_id)
    try:
        updated = await number_store.update_number(
            session, number, body.model_dump(by_alias=False, exclude_unset=True)
        )
    except PhoneNumberError as exc:
        raise _rule_broken(exc) from exc
    return _out(updated)


@router.delete("/{number_id}", responses=error_responses(404, 502))
async def release_phone_number(
    number_id: str, organization: CurrentOrganization, session: DbSession, telnyx: Telnyx
) -> ReleasedOut:
    """Release the number: a managed one goes back to the carrier."""
    number = await _owned(session, organization.id, number_id)
    try:
        await number_store.release_number(session, number, telnyx)
    except ProviderError as exc:
        raise ApiError(502, "provider_error", f"the carrier could not release it: {exc}") from exc
    return ReleasedOut(released=True, id=number_id)
