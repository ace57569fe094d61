"""`/v1/phone-numbers`: search, buy, import, read, update and release numbers."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from api.deps import AppSettings, CurrentOrganization, DbSession
from api.errors import ApiError, error_responses, find_owned, invalid_field
from api.schemas.common import PageCursor, PageLimit
from api.schemas.phone_numbers import (
    AvailableNumberOut,
    AvailableNumbers,
    PhoneNumberCreate,
    PhoneNumberOut,
    PhoneNumberPage,
    PhoneNumberUpdate,
    SipTrunkImport,
)
from trunkline import phone_numbers
from trunkline.models import PhoneNumber
from trunkline.organizations import MICROS_PER_CREDIT
from trunkline.phone_numbers import Direction, PhoneNumberError
from trunkline.providers.errors import ProviderError, ProviderRejected
from trunkline.providers.telnyx import TelnyxAdapter

router = APIRouter(
    prefix="/v1/phone-numbers", tags=["phone numbers"], responses=error_responses(401, 422)
)

_STATUS_BY_CODE = {
    "business_verification_required": 403,
    "insufficient_credits": 402,
    "phone_number_taken": 409,
    "agent_not_found": 422,
    "routing_required": 422,
}


def get_telnyx(request: Request) -> TelnyxAdapter:
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
    return PhoneNumberOut.model_validate(number, from_attributes=True)


def _new_number(body: PhoneNumberCreate, organization_id: str) -> PhoneNumber:
    return PhoneNumber(
        organization_id=organization_id,
        **body.model_dump(by_alias=False, exclude_none=True),
    )


async def _owned(session: DbSession, organization_id: str, number_id: str) -> PhoneNumber:
    return await find_owned(
        "phone number",
        number_id,
        lambda: phone_numbers.get_number(session, organization_id, number_id),
    )


@router.get("/available", responses=error_responses(502))
async def search_available_numbers(
    organization: CurrentOrganization,
    telnyx: Telnyx,
    area_code: Annotated[str, Query(alias="areaCode", pattern=r"^[2-9][0-9]{2}$")],
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> AvailableNumbers:
    """US numbers for sale in an area code."""
    try:
        found = await telnyx.search_available(area_code, limit)
    except ProviderError as exc:
        raise ApiError(502, "provider_error", f"number search failed: {exc}") from exc
    return AvailableNumbers(
        data=[AvailableNumberOut.model_validate(n, from_attributes=True) for n in found]
    )


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
        number = await phone_numbers.buy_number(
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


@router.post("/import-sip-trunk", status_code=201, responses=error_responses(400, 409, 415))
async def import_sip_trunk_number(
    body: SipTrunkImport, organization: CurrentOrganization, session: DbSession
) -> PhoneNumberOut:
    """Register a number you already own, reached through your SIP trunk."""
    try:
        number = await phone_numbers.import_number(session, _new_number(body, organization.id))
    except PhoneNumberError as exc:
        raise _rule_broken(exc) from exc
    return _out(number)


@router.get("")
async def list_phone_numbers(
    organization: CurrentOrganization,
    session: DbSession,
    limit: PageLimit = 20,
    cursor: PageCursor = None,
    agent_id: Annotated[str | None, Query(alias="agentId", max_length=64)] = None,
    direction: Direction | None = None,
) -> PhoneNumberPage:
    page = await phone_numbers.list_numbers(
        session, organization.id, limit, cursor, agent_id, direction
    )
    return PhoneNumberPage.of(page.rows, page.next_cursor, _out)


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
        updated = await phone_numbers.update_number(
            session, number, body.model_dump(by_alias=False, exclude_unset=True)
        )
    except PhoneNumberError as exc:
        raise _rule_broken(exc) from exc
    return _out(updated)


@router.delete("/{number_id}", status_code=204, responses=error_responses(404, 502))
async def release_phone_number(
    number_id: str, organization: CurrentOrganization, session: DbSession, telnyx: Telnyx
) -> Response:
    """Release the number: a managed one goes back to the carrier."""
    number = await _owned(session, organization.id, number_id)
    try:
        await phone_numbers.release_number(session, number, telnyx)
    except ProviderError as exc:
        raise ApiError(502, "provider_error", f"the carrier could not release it: {exc}") from exc
    return Response(status_code=204)
