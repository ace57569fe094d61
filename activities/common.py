"""What the activity classes share: loading the call, and how a failed dial is reported."""

from temporalio.exceptions import ApplicationError

from trunkline.db import Database
from trunkline.models import Call
from trunkline.providers.errors import CallFailed


async def load_call(database: Database, session_id: str) -> Call:
    """The call row; its absence is a bug no retry fixes."""
    async with database.session() as session:
        call = await session.get(Call, session_id)
    if call is None:
        raise ApplicationError(f"no call {session_id}", non_retryable=True)
    return call


def dial_failed(failure: CallFailed) -> ApplicationError:
    """A dial the far end refused or never answered: final, with (cause, SIP code, phrase)."""
    return ApplicationError(
        str(failure),
        failure.cause,
        failure.sip_status_code,
        failure.sip_status,
        type="CallFailed",
        non_retryable=True,
    )
