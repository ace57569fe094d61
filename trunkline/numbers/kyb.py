"""Business verification (KYB), which buying managed numbers needs: the organization saves a
draft and submits it; an operator approves or rejects it (`trunkline org verify`). Approval sets
`Organization.business_verified`; withdrawing that verification revokes the approval."""

from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from trunkline.models import KybSubmission, Organization, utcnow

Change = Callable[[KybSubmission], None]


class KybError(Exception):
    """A KYB step the submission's state does not allow; `code` is the API error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


async def get_submission(session: AsyncSession, organization_id: str) -> KybSubmission | None:
    statement = select(KybSubmission).where(KybSubmission.organization_id == organization_id)
    return (await session.exec(statement)).first()


def overall_status(organization: Organization, submission: KybSubmission | None) -> str:
    """`approved` for a verified organization (with or without a submission), else the
    submission's status, else `missing`."""
    if organization.business_verified:
        return "approved"
    return submission.status if submission else "missing"


async def _editable(session: AsyncSession, organization_id: str) -> KybSubmission:
    """The organization's submission (a new one if none), unless it is approved or under review."""
    organization = await session.get(Organization, organization_id)
    if organization is not None and organization.business_verified:
        raise KybError("kyb_already_approved", "your organization is already verified")
    submission = await get_submission(session, organization_id)
    if submission is None:
        return KybSubmission(organization_id=organization_id)
    if submission.status == "submitted":
        raise KybError("kyb_under_review", "your business verification is awaiting review")
    return submission


async def _write(session: AsyncSession, organization_id: str, change: Change) -> KybSubmission:
    """Apply `change` to the editable submission and commit; when a concurrent request created
    the organization's one row first, apply it to that row instead."""
    try:
        return await _apply(session, organization_id, change)
    except IntegrityError:
        await session.rollback()
        return await _apply(session, organization_id, change)


async def _apply(session: AsyncSession, organization_id: str, change: Change) -> KybSubmission:
    submission = await _editable(session, organization_id)
    change(submission)
    submission.updated_at = utcnow()
    session.add(submission)
    await session.commit()
    return submission


async def save_draft(
    session: AsyncSession, organization_id: str, content: dict[str, Any], accepted: bool | None
) -> KybSubmission:
    """Store `content` (businessProfile, authorizedRepresentative) as a draft, not for review."""

    def to_draft(submission: KybSubmission) -> None:
        submission.status = "draft"
        submission.business_profile = content["businessProfile"]
        submission.authorized_representative = content["authorizedRepresentative"]
        if accepted is not None:
            submission.attestation_accepted = accepted

    return await _write(session, organization_id, to_draft)


async def submit(
    session: AsyncSession,
    organization_id: str,
    content: dict[str, Any],
    attestation_version: str | None,
    api_key_id: str | None,
) -> KybSubmission:
    """Send `content` (the full profile or the short declaration) for an operator's review."""

    def to_review(submission: KybSubmission) -> None:
        now = utcnow()
        submission.status = "submitted"
        submission.business_profile = content.get("businessProfile")
        submission.authorized_representative = content.get("authorizedRepresentative")
        submission.declaration = content.get("declaration")
        submission.attestation_accepted = True
        submission.attestation_version = attestation_version
        submission.attested_at = submission.submitted_at = now
        submission.submitted_by_api_key_id = api_key_id
        submission.reviewed_at = submission.rejection_reason = None

    return await _write(session, organization_id, to_review)


async def follow_verification(session: AsyncSession, organization_id: str, verified: bool) -> None:
    """Bring the submission in line with the organization's verification (uncommitted): being
    verified approves a submission under review; losing it revokes an approved one."""
    submission = await get_submission(session, organization_id)
    if submission is None:
        return
    if verified and submission.status == "submitted":
        _review(submission, "approved", None)
    elif not verified and submission.status == "approved":
        _review(submission, "revoked", "verification withdrawn by the operator")


def _review(submission: KybSubmission, status: str, reason: str | None) -> None:
    submission.status = status
    submission.rejection_reason = reason
    submission.reviewed_at = submission.updated_at = utcnow()


async def verify(
    session: AsyncSession, organization_id: str, rejection: str | None = None
) -> KybSubmission | None:
    """The operator's review: approve the submission (and verify the organization), or, with a
    `rejection` reason, reject it (revoking an approved one). None when there is no such
    organization; KybError when there is nothing to review."""
    organization = await session.get(Organization, organization_id)
    if organization is None:
        return None
    submission = await get_submission(session, organization_id)
    reviewable = {"submitted"} if rejection is None else {"submitted", "approved"}
    if submission is None or submission.status not in reviewable:
        state = submission.status if submission else "missing"
        raise KybError("kyb_not_submitted", f"no business verification to review ({state})")
    if rejection is None:
        _review(submission, "approved", None)
    else:
        revoking = submission.status == "approved"
        _review(submission, "revoked" if revoking else "rejected", rejection)
    organization.business_verified = rejection is None
    session.add_all([organization, submission])
    await session.commit()
    await session.refresh(submission)
    return submission
