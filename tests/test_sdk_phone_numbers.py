"""The official Speko SDK's `phone_numbers` resource against Trunkline, with the guide's values:
search, buy, import, read, update (attach/detach), release, and business verification (KYB)."""

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime

import pytest
import spekoai
from spekoai import AsyncSpeko
from spekoai.models import (
    AvailablePhoneNumber,
    PhoneNumberKybAuthorizedRepresentative,
    PhoneNumberKybBusinessProfile,
    PhoneNumberKybOverview,
    PhoneNumberKybSubmission,
    PhoneNumberRow,
)

from simulator.app import Simulator
from tests.conftest import RunningApi, Tenant, new_tenant
from tests.test_cli import trunkline
from trunkline.db import Database
from trunkline.settings import Settings

TRUNK_INSTALLATION = "00000000-0000-4000-8000-000000000010"
FRONT_DESK = {
    "name": "Front desk",
    "systemPrompt": "You are the front-desk receptionist. Greet callers, collect their name and "
    "reason for calling, answer common questions, and transfer urgent calls.",
    "intent": {"language": "en-US", "optimizeFor": "latency"},
}
LONDON = {
    "e164": "+442071234567",
    "sip_connection_installation_id": TRUNK_INSTALLATION,
    "direction": "both",
    "label": "London front desk",
}
TEMPLATE = {
    "tenant": "acme",
    "line": "front_desk",
    "caller": "{{callerNumber}}",
    "dialedNumber": "{{dialedNumber}}",
    "forwardedFromNumber": "{{forwardedFromNumber}}",
}
PROFILE = {
    "legal_name": "Acme Dental LLC",
    "display_name": "Acme Dental",
    "entity_type": "llc",
    "country": "US",
    "registration_id": "12-3456789",
    "website": "https://acme.example",
    "address": {
        "street": "1 Market St",
        "city": "San Francisco",
        "state": "CA",
        "postal_code": "94105",
        "country": "US",
    },
    "use_case": "Front-desk calls for our clinics",
    "expected_usage": "About 300 calls a month",
}
REPRESENTATIVE = {"name": "Ada Park", "title": "Owner", "email": "ada@acme.example"}


@pytest.fixture
async def buyer(database: Database, api: RunningApi, simulator: Simulator) -> AsyncIterator[Tenant]:
    """A verified organization with 5 credits (a number costs 1)."""
    tenant = await new_tenant(database, api, "Buyer", verified=True, credits=5)
    yield tenant
    await tenant.aclose()


@pytest.fixture
async def applicant(
    database: Database, api: RunningApi, simulator: Simulator
) -> AsyncIterator[Tenant]:
    """An organization with credits but no business verification yet."""
    tenant = await new_tenant(database, api, "Applicant", credits=5)
    yield tenant
    await tenant.aclose()


async def front_desk(tenant: Tenant) -> str:
    response = await tenant.http.post("/v1/agents", json=FRONT_DESK)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def at(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp)


async def test_search_buy_read_and_release_as_in_the_guide(
    buyer: Tenant, simulator: Simulator
) -> None:
    desk = await front_desk(buyer)
    options = await buyer.speko.phone_numbers.search_available(area_code="415")
    assert all(isinstance(option, AvailablePhoneNumber) for option in options)
    assert (options[0].e164, options[0].friendly_name) == ("+14155550100", "(415) 555-0100")
    assert (options[0].upfront_cost_usd, options[0].monthly_cost_usd) == (1.0, 0.0)
    assert (options[0].region.state, options[0].region.rate_center) == ("CA", "SAN FRANCISCO")

    number = await buyer.speko.phone_numbers.create(
        {"e164": options[0].e164, "direction": "both", "agent_id": desk, "label": "Main line"}
    )
    assert isinstance(number, PhoneNumberRow)
    assert (number.organization_id, number.source, number.agent_id, number.label) == (
        buyer.organization_id,
        "managed",
        desk,
        "Main line",
    )
    assert number.provider_resource_id in simulator.inventory.owned
    setup = number.setup_status
    assert (setup.status, setup.inbound_ready, setup.outbound_ready, setup.issues) == (
        "ready",
        True,
        True,
        [],
    )
    bought = at(number.created_at)
    next_month = (bought.month % 12 + 1, bought.year + bought.month // 12)
    assert (at(number.next_charge_at).month, at(number.next_charge_at).year) == next_month
    assert at(number.last_charged_at or "") == bought

    assert await buyer.speko.phone_numbers.get(number.id) == number
    assert await buyer.speko.phone_numbers.list() == [number]
    assert await buyer.speko.phone_numbers.delete(number.id) is True
    assert simulator.inventory.owned == {}
    with pytest.raises(spekoai.SpekoApiError) as gone:
        await buyer.speko.phone_numbers.get(number.id)
    assert (gone.value.status, gone.value.code) == (404, "not_found")


async def test_search_by_city_blocking(buyer: Tenant) -> None:
    speko = buyer.sync_speko()
    found = await asyncio.to_thread(
        speko.phone_numbers.search_available, locality="Chicago", limit=2
    )
    assert [n.e164 for n in found] == ["+13125550100", "+13125550101"]
    assert found[0].region.locality == "Chicago" and found[0].features == ["voice", "sms"]
    anywhere = await asyncio.to_thread(speko.phone_numbers.search_available)
    assert len(anywhere) == 10


async def test_import_a_sip_trunk_number_as_in_the_guide(buyer: Tenant) -> None:
    desk = await front_desk(buyer)
    number = await buyer.speko.phone_numbers.import_sip_trunk({**LONDON, "agent_id": desk})
    assert isinstance(number, PhoneNumberRow)
    assert (number.source, number.sip_connection_installation_id, number.label) == (
        "sip_trunk",
        TRUNK_INSTALLATION,
        "London front desk",
    )
    assert number.provider_resource_id is None and number.last_charged_at is None
    assert number.setup_status.sip_connection_ready and number.setup_status.status == "ready"

    speko = buyer.sync_speko()
    legacy = await asyncio.to_thread(
        speko.phone_numbers.import_sip_trunk,
        {
            "e164": "+442071234568",
            "sip_trunk_id": "ST_1",
            "sip_provider_name": "BT",
            "direction": "outbound",
        },
    )
    assert (legacy.sip_trunk_id, legacy.sip_provider_name, legacy.agent_id) == ("ST_1", "BT", None)
    setup = legacy.setup_status
    assert (setup.inbound_ready, setup.outbound_ready, setup.agent_ready) == (False, True, False)
    listed = await asyncio.to_thread(speko.phone_numbers.list)
    assert [n.id for n in listed] == [legacy.id, number.id]
    with pytest.raises(spekoai.SpekoApiError) as taken:
        await buyer.speko.phone_numbers.import_sip_trunk({**LONDON, "agent_id": desk})
    assert (taken.value.status, taken.value.code) == (409, "phone_number_taken")
    assert await asyncio.to_thread(speko.phone_numbers.delete, legacy.id) is True


async def test_update_attach_and_detach(buyer: Tenant) -> None:
    desk = await front_desk(buyer)
    number = await buyer.speko.phone_numbers.import_sip_trunk({**LONDON, "agent_id": desk})
    routed = await buyer.speko.phone_numbers.update(
        number.id,
        {"agent_id": desk, "dispatch_metadata_template": TEMPLATE, "sms_automation_enabled": True},
    )
    assert isinstance(routed, PhoneNumberRow)
    assert (routed.dispatch_metadata_template, routed.sms_automation_enabled) == (TEMPLATE, True)

    detached = await buyer.speko.agents.detach_phone_number(number.id)
    assert isinstance(detached, PhoneNumberRow) and detached.agent_id is None
    assert detached.setup_status.inbound_ready  # the template still routes inbound calls
    speko = buyer.sync_speko()
    attached = await asyncio.to_thread(speko.agents.attach_phone_number, desk, number.id)
    assert attached.agent_id == desk
    assert (await buyer.speko.phone_numbers.get(number.id)).agent_id == desk

    await buyer.speko.phone_numbers.update(number.id, {"dispatch_metadata_template": None})
    with pytest.raises(spekoai.SpekoApiError) as unroutable:
        await buyer.speko.agents.detach_phone_number(number.id)
    assert (unroutable.value.status, unroutable.value.code) == (422, "routing_required")
    outbound = await asyncio.to_thread(
        speko.phone_numbers.update, number.id, {"direction": "outbound", "agent_id": None}
    )
    assert (outbound.direction, outbound.agent_id) == ("outbound", None)
    with pytest.raises(spekoai.SpekoApiError) as missing:
        await buyer.speko.phone_numbers.update("pn_01J00000000000000000000000", {"label": "x"})
    assert (missing.value.status, missing.value.code) == (404, "not_found")


async def test_kyb_draft_submit_and_operator_approval(
    applicant: Tenant, settings: Settings, simulator: Simulator
) -> None:
    speko = applicant.speko
    overview = await speko.phone_numbers.get_kyb()
    assert isinstance(overview, PhoneNumberKybOverview)
    assert (overview.status, overview.submission) == ("missing", None)
    with pytest.raises(spekoai.SpekoApiError) as unverified:
        await speko.phone_numbers.create({"e164": "+14155550100", "direction": "outbound"})
    assert (unverified.value.status, unverified.value.code) == (
        403,
        "business_verification_required",
    )

    draft = await speko.phone_numbers.save_kyb_draft(
        {"business_profile": PROFILE, "authorized_representative": REPRESENTATIVE}
    )
    assert isinstance(draft, PhoneNumberKybSubmission)
    assert (draft.status, draft.organization_id, draft.attestation_accepted) == (
        "draft",
        applicant.organization_id,
        False,
    )
    assert (
        draft.business_profile is not None and draft.business_profile.address.postal_code == "94105"
    )
    assert (await speko.phone_numbers.get_kyb()).status == "draft"

    submitted = await asyncio.to_thread(
        applicant.sync_speko().phone_numbers.submit_kyb,
        {
            "business_profile": PROFILE,
            "authorized_representative": REPRESENTATIVE,
            "attestation_accepted": True,
        },
    )
    assert (submitted.id, submitted.status, submitted.attestation_accepted) == (
        draft.id,
        "submitted",
        True,
    )
    assert submitted.attestor is not None and submitted.attestor.kind == "api_key"
    assert submitted.submitted_at is not None and submitted.reviewed_at is None
    with pytest.raises(spekoai.SpekoApiError) as under_review:
        await speko.phone_numbers.save_kyb_draft(
            {"business_profile": PROFILE, "authorized_representative": REPRESENTATIVE}
        )
    assert (under_review.value.status, under_review.value.code) == (409, "kyb_under_review")

    approved = await asyncio.to_thread(
        trunkline, settings, "org", "verify", applicant.organization_id
    )
    assert approved.returncode == 0, approved.stderr
    overview = await speko.phone_numbers.get_kyb()
    assert overview.status == "approved" and overview.submission is not None
    assert overview.submission.status == "approved" and overview.submission.reviewed_at
    number = await speko.phone_numbers.create({"e164": "+14155550100", "direction": "outbound"})
    assert number.source == "managed"


async def test_kyb_declaration_rejected_then_resubmitted(
    applicant: Tenant, settings: Settings
) -> None:
    declaration = {
        "declaration": {"business_name": "Acme Dental", "use_case": "Appointment reminders"},
        "attestation_accepted": True,
        "attestation_version": "2025-01",
    }
    submitted = await applicant.speko.phone_numbers.submit_kyb(declaration)
    assert submitted.declaration is not None and submitted.business_profile is None
    assert (submitted.status, submitted.attestation_version) == ("submitted", "2025-01")
    reason = "the website does not match the business"
    rejected = await asyncio.to_thread(
        trunkline, settings, "org", "verify", applicant.organization_id, "--reject", reason
    )
    assert rejected.returncode == 0, rejected.stderr
    overview = await applicant.speko.phone_numbers.get_kyb()
    assert overview.status == "rejected" and overview.submission is not None
    assert (overview.submission.rejection_reason, overview.submission.access_hold_reason) == (
        reason,
        "rejected",
    )
    again = await applicant.speko.phone_numbers.submit_kyb(declaration)
    assert (again.id, again.status, again.rejection_reason) == (submitted.id, "submitted", None)


async def test_a_bad_key_or_a_bad_submission_is_refused(
    applicant: Tenant, stranger: AsyncSpeko
) -> None:
    with pytest.raises(spekoai.SpekoAuthError):
        await stranger.phone_numbers.get_kyb()
    profile = PhoneNumberKybBusinessProfile.model_validate(PROFILE).model_dump(by_alias=True)
    representative = PhoneNumberKybAuthorizedRepresentative.model_validate(REPRESENTATIVE)
    full = {
        "businessProfile": profile,
        "authorizedRepresentative": representative.model_dump(by_alias=True),
        "attestationAccepted": True,
    }
    for refused in (
        {**full, "authorizedRepresentative": None},
        {**full, "attestationAccepted": False},
        {**full, "declaration": {"businessName": "Acme", "useCase": "Support"}},
        {**full, "kybTier": "gold"},
    ):
        response = await applicant.http.post("/v1/phone-numbers/kyb/submit", json=refused)
        assert (response.status_code, response.json()["code"]) == (422, "validation_error")
    assert (await applicant.speko.phone_numbers.get_kyb()).status == "missing"
