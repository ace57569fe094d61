"""What a call reads back before its workflow has taken a step (no worker runs here): what its
request said is already there."""

from tests.calls_support import place_call, set_up_line
from tests.conftest import Tenant
from tests.receiver import WebhookReceiver


async def test_a_new_call_reads_back_its_metadata_at_once(
    tenant: Tenant, receiver: WebhookReceiver
) -> None:
    line = await set_up_line(tenant, receiver)
    placed = await place_call(line, metadata={"leadId": "lead_123"})
    call = (await tenant.http.get(f"/v1/calls/{placed['sessionId']}")).json()
    assert (call["status"], call["metadata"]) == ("queued", {"leadId": "lead_123"})
