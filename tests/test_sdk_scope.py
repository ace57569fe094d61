"""What the Speko SDK offers beyond phone agents answers a clear 404 `not_supported`."""

import pytest
from spekoai import SpekoApiError

from tests.conftest import Tenant


async def test_features_beyond_phone_agents_say_so(tenant: Tenant) -> None:
    for attempt in (
        tenant.speko.voices.list(),
        tenant.speko.knowledge_bases.list(),
        tenant.speko.synthesize("Hello", language="en"),
    ):
        with pytest.raises(SpekoApiError) as refused:
            await attempt
        assert (refused.value.status, refused.value.code) == (404, "not_supported")
        assert refused.value.message.startswith("Trunkline does not offer ")
    other = await tenant.http.get("/v1/sms/messages")
    assert (other.status_code, other.json()["error"]) == (404, "Trunkline does not offer SMS")
    unknown = await tenant.http.get("/v1/no-such-thing")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "not_found")
