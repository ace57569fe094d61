"""`/v1/phone-numbers/kyb`: the business verification (KYB) that buying managed numbers needs.
An operator reviews a submission with `trunkline org verify ORG_ID [--reject REASON]`."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from api.deps import CurrentOrganization, DbSession
from api.errors import ApiError, error_responses
from api.schemas.phone_numbers import (
    KybAttestorOut,
    KybDraft,
    KybOverviewOut,
    KybSubmissionOut,
    KybSubmit,
)
from trunkline.models import KybSubmission
from trunkline.numbers import kyb
from trunkline.organizations import api_key_id

router = APIRouter(prefix="/kyb")

_HOLDS = ("rejected", "revoked")


async def caller_key_id(
    request: Request, session: DbSession, organization: CurrentOrganization
) -> str | None:
    """The id of the API key the request authenticated with, recorded as the attestor."""
    key = request.headers.get("authorization", "").partition(" ")[2].strip()
    return await api_key_id(session, key)


CallerKeyId = Annotated[str | None, Depends(caller_key_id)]


def _submission_out(submission: KybSubmission) -> KybSubmissionOut:
    held = submission.status in _HOLDS
    key_id = submission.submitted_by_api_key_id
    return KybSubmissionOut(
        **submission.model_dump(),
        attestor=KybAttestorOut(kind="api_key", api_key_id=key_id) if key_id else None,
        access_hold_at=submission.reviewed_at if held else None,
        access_hold_reason=submission.status if held else None,
    )


def _refused(error: kyb.KybError) -> ApiError:
    return ApiError(409, error.code, error.message)


@router.get("")
async def get_kyb(organization: CurrentOrganization, session: DbSession) -> KybOverviewOut:
    """Where your business verification stands, and your submission if you made one."""
    submission = await kyb.get_submission(session, organization.id)
    return KybOverviewOut(
        status=kyb.overall_status(organization, submission),
        submission=_submission_out(submission) if submission else None,
    )


@router.put("/draft", responses=error_responses(400, 409, 415))
async def save_kyb_draft(
    body: KybDraft, organization: CurrentOrganization, session: DbSession
) -> KybSubmissionOut:
    """Save your business profile without sending it for review (409 while under review)."""
    content = body.model_dump(exclude_none=True)
    try:
        draft = await kyb.save_draft(session, organization.id, content, body.attestation_accepted)
    except kyb.KybError as exc:
        raise _refused(exc) from exc
    return _submission_out(draft)


@router.post("/submit", responses=error_responses(400, 409, 415))
async def submit_kyb(
    body: KybSubmit, organization: CurrentOrganization, session: DbSession, key_id: CallerKeyId
) -> KybSubmissionOut:
    """Send the full profile or the short declaration for review; an operator approves it."""
    content = body.model_dump(exclude_none=True)
    try:
        submitted = await kyb.submit(
            session, organization.id, content, body.attestation_version, key_id
        )
    except kyb.KybError as exc:
        raise _refused(exc) from exc
    return _submission_out(submitted)
