"""Agents through the REST API: CRUD, validation, pagination, tenancy, routing conflicts."""

from typing import Any

from tests.conftest import RunningApi, Tenant
from trunkline.db import Database
from trunkline.models import PhoneNumber

FRONT_DESK: dict[str, Any] = {
    "name": "Front desk",
    "systemPrompt": "You are the front-desk receptionist.",
    "firstMessage": "Thanks for calling Acme.",
    "intent": {"language": "en-US", "optimizeFor": "latency"},
    "voice": {"provider": "cartesia", "voiceId": "sonic-en-1", "speed": 1.1},
    "llm": {"provider": "openai", "model": "gpt-4o-mini", "temperature": 0.3},
    "ttsOptions": {"stability": 0.5},
    "sttOptions": {"endpointingMs": 300},
    "constraints": {"maxCallDurationSeconds": 900, "region": "us-east"},
    "tools": [
        {
            "type": "transfer_call",
            "mode": "warm",
            "destinations": [{"to": "+12015551234", "label": "Front desk"}],
        },
        {"type": "function", "name": "lookup_order", "url": "https://example.com/tools/order"},
        {"type": "end_call"},
    ],
    "backgroundAudio": {"sound": "office", "volume": 0.2},
    "pronunciationRules": [{"word": "Acme", "pronunciation": "ack-mee"}],
    "textReplacementRules": [{"find": r"\bDr\.", "replace": "Doctor", "regex": True}],
    "idleReprompts": {"timeoutSeconds": 6, "messages": ["Are you still there?"]},
    "metadata": {"tier": "gold"},
    "webhooks": {
        "preCall": {"url": "https://example.com/speko/pre-call"},
        "status": {"url": "https://example.com/speko/status", "secret": "legacy-secret-0123456789"},
        "postCall": {"url": "http://localhost:9000/post-call"},
    },
}


async def test_create_returns_every_field_in_camel_case(tenant: Tenant) -> None:
    response = await tenant.http.post("/v1/agents", json=FRONT_DESK)
    assert response.status_code == 201, response.text
    agent = response.json()
    assert agent["id"].startswith("agent_")
    for field in ("systemPrompt", "firstMessage", "ttsOptions", "metadata"):
        assert agent[field] == FRONT_DESK[field]
    assert agent["backgroundAudio"] == {"sound": "office", "volume": 0.2, "ambient": None} | {
        "toolSound": None
    }
    assert agent["organizationId"] == tenant.organization_id
    assert agent["intent"] == {"language": "en-US", "optimizeFor": "latency"}
    assert agent["voice"] == "sonic-en-1"
    assert agent["voiceOptions"]["provider"] == "cartesia"
    assert agent["llmOptions"] == {"model": "gpt-4o-mini", "temperature": 0.3, "maxTokens": None}
    assert agent["speechNormalization"] == {
        "pronunciationDictionary": {"Acme": "ack-mee"},
        "textReplacements": {r"\bDr\.": "Doctor"},
    }
    assert agent["tools"][0]["destinations"] == [{"to": "+12015551234", "label": "Front desk"}]
    assert agent["idleReprompts"]["maxReprompts"] == 2
    assert agent["webhooks"]["status"]["url"] == "https://example.com/speko/status"
    assert agent["webhooks"]["status"]["secretRef"] == "agent:status"
    assert agent["webhooks"]["status"]["secretSet"] is True
    assert agent["webhooks"]["preCall"]["secretRef"] == "organization"
    assert "legacy-secret" not in response.text
    assert agent["createdAt"] and agent["updatedAt"]
    fetched = await tenant.http.get(f"/v1/agents/{agent['id']}")
    assert fetched.json() == agent


async def test_minimal_agent_has_empty_defaults(tenant: Tenant) -> None:
    agent = (await tenant.http.post("/v1/agents", json={"name": "Bare"})).json()
    assert agent["metadata"] == {} and agent["extractionFields"] == []
    assert set(agent["webhooks"].values()) == {None}
    assert agent["systemPrompt"] == ""
    assert agent["intent"] == {"language": "en-US", "optimizeFor": None}
    assert agent["voice"] is None


async def test_unknown_fields_are_named_in_a_422(tenant: Tenant) -> None:
    body = {"name": "x", "systemPromt": "typo", "voice": {"voiceID": "a"}}
    response = await tenant.http.post("/v1/agents", json=body)
    assert response.status_code == 422
    error = response.json()
    assert error["code"] == "validation_error"
    assert "systemPromt" in error["error"] and "voice.voiceID" in error["error"]
    assert {d["field"] for d in error["details"]} == {"systemPromt", "voice.voiceID"}


async def test_snake_case_is_not_accepted(tenant: Tenant) -> None:
    response = await tenant.http.post("/v1/agents", json={"name": "x", "system_prompt": "hi"})
    assert response.status_code == 422
    assert "system_prompt" in response.json()["error"]


async def test_webhook_urls_must_be_http(tenant: Tenant) -> None:
    for url in ("ftp://example.com/hook", "example.com/hook", "javascript:alert(1)", "https://"):
        body = {"name": "x", "webhooks": {"status": {"url": url}}}
        response = await tenant.http.post("/v1/agents", json=body)
        assert response.status_code == 422, url
        assert response.json()["details"][0]["field"] == "webhooks.status.url"


async def test_invalid_values_are_rejected(tenant: Tenant) -> None:
    bad_bodies = [
        {},
        {"name": ""},
        {"name": "x", "intent": {"optimizeFor": "vibes"}},
        {"name": "x", "tools": [{"type": "transfer_call", "destinations": [{"to": "555-1234"}]}]},
        {"name": "x", "tools": [{"type": "teleport"}]},
        {"name": "x", "textReplacementRules": [{"find": "(", "replace": "", "regex": True}]},
        {"name": "x", "metadata": {"blob": "x" * 20_000}},
        {"name": "x", "voice": {"speed": 9}},
    ]
    for body in bad_bodies:
        response = await tenant.http.post("/v1/agents", json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["code"] == "validation_error"
    assert (await tenant.http.get("/v1/agents")).json() == []


async def test_malformed_json_is_a_400_saying_where(tenant: Tenant) -> None:
    response = await tenant.http.post(
        "/v1/agents", content=b'{"name": x}', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    error = response.json()
    assert error["code"] == "invalid_json" and error["details"] == {"position": 9}
    assert "at character 9" in error["error"]


async def test_a_body_that_is_not_json_is_a_415(tenant: Tenant) -> None:
    for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
        headers = {"Content-Type": content_type} if content_type else {}
        response = await tenant.http.post("/v1/agents", content=b"name=x", headers=headers)
        assert response.status_code == 415, content_type
        assert response.json()["code"] == "unsupported_media_type"


async def test_an_empty_body_is_named_as_missing(tenant: Tenant) -> None:
    response = await tenant.http.post("/v1/agents", headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json()["error"] == "a JSON request body is required"


async def test_nul_characters_nan_and_blank_names_are_refused(tenant: Tenant) -> None:
    bodies = [
        b'{"name": "a\\u0000b"}',
        b'{"name": "x", "metadata": {"k\\u0000": 1}}',
        b'{"name": "x", "metadata": {"score": NaN}}',
        b'{"name": "x", "llm": {"temperature": Infinity}}',
        b'{"name": "   "}',
    ]
    for body in bodies:
        response = await tenant.http.post(
            "/v1/agents", content=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 422, (body, response.text)
    assert (await tenant.http.get("/v1/agents")).json() == []
    trimmed = await tenant.http.post("/v1/agents", json={"name": "  Desk  "})
    assert trimmed.json()["name"] == "Desk"


async def test_patch_replaces_given_fields_and_clears_nulls(tenant: Tenant) -> None:
    agent = (await tenant.http.post("/v1/agents", json=FRONT_DESK)).json()
    patch = {"firstMessage": "Hello!", "voice": {"voiceId": "v2"}, "backgroundAudio": None}
    response = await tenant.http.patch(f"/v1/agents/{agent['id']}", json=patch)
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["firstMessage"] == "Hello!"
    assert updated["voice"] == "v2"
    assert updated["voiceOptions"] == {
        "provider": None,
        "voiceId": "v2",
        "model": None,
        "language": None,
        "speed": None,
    }
    assert updated["backgroundAudio"] is None
    assert updated["systemPrompt"] == FRONT_DESK["systemPrompt"]
    assert updated["name"] == "Front desk"
    assert updated["updatedAt"] > agent["updatedAt"]
    assert (await tenant.http.get(f"/v1/agents/{agent['id']}")).json() == updated


async def test_patch_validates_and_leaves_the_agent_untouched(tenant: Tenant) -> None:
    agent = (await tenant.http.post("/v1/agents", json=FRONT_DESK)).json()
    for patch in ({"name": None}, {"llm": {"temperature": 5}}, {"colour": "blue"}):
        response = await tenant.http.patch(f"/v1/agents/{agent['id']}", json=patch)
        assert response.status_code == 422, patch
        assert response.json()["details"][0]["field"] == next(iter(patch)).replace(
            "llm", "llm.temperature"
        )
    assert (await tenant.http.get(f"/v1/agents/{agent['id']}")).json() == agent


async def test_list_paginates_newest_first(tenant: Tenant) -> None:
    created = [
        (await tenant.http.post("/v1/agents", json={"name": f"agent {i}"})).json()["id"]
        for i in range(5)
    ]
    seen: list[str] = []
    url: str | None = "/v1/agents?limit=2"
    while url:
        response = await tenant.http.get(url)
        seen += [agent["id"] for agent in response.json()]
        url = response.links.get("next", {}).get("url")
    assert seen == list(reversed(created))
    everything = await tenant.http.get("/v1/agents")
    assert [agent["id"] for agent in everything.json()] == seen
    assert "link" not in everything.headers
    too_many = await tenant.http.get("/v1/agents", params={"limit": 1001})
    assert too_many.status_code == 422
    for cursor in ("garbage", "agent_\x00", created[0] + "x"):
        bad = await tenant.http.get("/v1/agents", params={"cursor": cursor})
        assert bad.status_code == 422, cursor
        assert bad.json()["details"][0]["field"] == "cursor"


async def test_delete_then_gone(tenant: Tenant) -> None:
    agent = (await tenant.http.post("/v1/agents", json={"name": "Temp"})).json()
    deleted = await tenant.http.delete(f"/v1/agents/{agent['id']}")
    assert deleted.status_code == 200
    assert deleted.json() == {"deleted": True, "id": agent["id"]}
    response = await tenant.http.get(f"/v1/agents/{agent['id']}")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert (await tenant.http.delete(f"/v1/agents/{agent['id']}")).status_code == 404
    for odd in ("x" * 10_000, "agent_%00", "%F0%9F%98%80"):
        response = await tenant.http.get(f"/v1/agents/{odd}")
        assert response.status_code == 404
        assert len(response.json()["error"]) < 120


async def test_delete_of_a_routed_agent_is_a_409_naming_the_numbers(
    tenant: Tenant, database: Database
) -> None:
    agent = (await tenant.http.post("/v1/agents", json={"name": "Routed"})).json()
    async with database.session() as session:
        for e164 in ("+14155550101", "+14155550100"):
            session.add(
                PhoneNumber(
                    organization_id=tenant.organization_id,
                    e164=e164,
                    direction="both",
                    agent_id=agent["id"],
                )
            )
        await session.commit()
    response = await tenant.http.delete(f"/v1/agents/{agent['id']}")
    assert response.status_code == 409
    error = response.json()
    assert error["code"] == "agent_in_use"
    assert error["details"] == {"phoneNumbers": ["+14155550100", "+14155550101"]}
    assert "+14155550100" in error["error"]
    assert (await tenant.http.get(f"/v1/agents/{agent['id']}")).status_code == 200


async def test_another_organizations_agent_is_a_404(tenant: Tenant, other_tenant: Tenant) -> None:
    theirs = (await other_tenant.http.post("/v1/agents", json={"name": "Theirs"})).json()
    path = f"/v1/agents/{theirs['id']}"
    assert (await tenant.http.get(path)).status_code == 404
    assert (await tenant.http.patch(path, json={"name": "Mine now"})).status_code == 404
    assert (await tenant.http.delete(path)).status_code == 404
    assert (await tenant.http.get("/v1/agents")).json() == []
    assert (await other_tenant.http.get(path)).json()["name"] == "Theirs"


async def test_every_v1_route_needs_a_valid_key(api: RunningApi, tenant: Tenant) -> None:
    async with api.client() as anonymous, api.client("tk_wrong") as wrong:
        for client in (anonymous, wrong):
            for method, path in (
                ("GET", "/v1/agents"),
                ("POST", "/v1/agents"),
                ("GET", "/v1/agents/agent_x"),
                ("GET", "/v1/organization/webhook-secret"),
                ("POST", "/v1/organization/webhook-secret/rotate"),
            ):
                response = await client.request(method, path, json={"name": "x"})
                assert response.status_code == 401, (method, path)
                assert response.json()["code"] == "unauthorized"
        basic = await anonymous.get("/v1/agents", headers={"Authorization": "Basic abc"})
        assert basic.status_code == 401
