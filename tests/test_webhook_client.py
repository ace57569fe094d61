"""The outbound webhook client: Standard Webhooks and legacy signatures, target checks."""

import asyncio
import hashlib
import hmac
import ipaddress
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from tests.receiver import Reply, WebhookReceiver
from trunkline.credentials import generate_webhook_secret
from trunkline.webhooks.client import WebhookClient, parse_retry_after
from trunkline.webhooks.signing import signature_headers
from trunkline.webhooks.targets import blocked_reason

BODY = json.dumps({"type": "call.status", "call_id": "session_123", "status": "ended"})


def client(*, allow_private: bool = True, **kwargs: object) -> WebhookClient:
    return WebhookClient(timeout_seconds=2, allow_private_targets=allow_private, **kwargs)  # type: ignore[arg-type]


async def test_signed_delivery_verifies_with_standardwebhooks(receiver: WebhookReceiver) -> None:
    secret = generate_webhook_secret()
    headers = signature_headers("msg_1", datetime.now(UTC), BODY, [secret])
    result = await client().post(f"{receiver.url}/status", BODY, headers)
    assert result.succeeded and result.status_code == 200 and result.error is None
    assert result.latency_ms > 0
    [delivery] = receiver.received
    assert delivery.headers["webhook-id"] == "msg_1"
    assert delivery.headers["content-type"] == "application/json"
    assert Webhook(secret).verify(delivery.body, delivery.headers) == json.loads(BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(generate_webhook_secret()).verify(delivery.body, delivery.headers)


def test_both_secrets_sign_during_rotation() -> None:
    old, new = generate_webhook_secret(), generate_webhook_secret()
    headers = signature_headers("msg_2", datetime.now(UTC), BODY, [new, old])
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        Webhook(secret).verify(BODY, headers)


def test_retries_keep_the_id_and_refresh_the_timestamp() -> None:
    secret = generate_webhook_secret()
    first = signature_headers("msg_3", datetime(2026, 1, 1, tzinfo=UTC), BODY, [secret])
    retry = signature_headers("msg_3", datetime.now(UTC), BODY, [secret])
    assert first["webhook-id"] == retry["webhook-id"]
    assert first["webhook-timestamp"] != retry["webhook-timestamp"]
    Webhook(secret).verify(BODY, retry)
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(secret).verify(BODY, first)


def test_legacy_secret_adds_its_own_signature() -> None:
    sent_at = datetime.now(UTC)
    headers = signature_headers("msg_4", sent_at, BODY, [generate_webhook_secret()], "legacy-1234")
    timestamp = str(int(sent_at.timestamp()))
    expected = hmac.new(b"legacy-1234", f"{timestamp}.{BODY}".encode(), hashlib.sha256)
    assert headers["x-trunkline-signature"] == f"t={timestamp},v1={expected.hexdigest()}"
    assert "x-trunkline-signature" not in signature_headers("m", sent_at, BODY, ["whsec_QUJD"])


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("169.254.169.254", "link-local"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("100.127.255.254", "carrier-grade NAT"),
        ("224.0.0.251", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
        ("ff02::1", "multicast"),
        ("::ffff:127.0.0.1", "IPv4-embedded loopback"),
        ("::ffff:169.254.169.254", "IPv4-embedded link-local"),
        ("::ffff:10.0.0.1", "IPv4-embedded private"),
        ("2002:7f00:1::", "IPv4-embedded loopback"),
        ("::7f00:1", "IPv4-embedded loopback"),
        ("::a9fe:a9fe", "IPv4-embedded link-local"),
        ("64:ff9b::7f00:1", "IPv4-embedded loopback"),
        ("64:ff9b::a9fe:a9fe", "IPv4-embedded link-local"),
        ("64:ff9b::a00:1", "IPv4-embedded private"),
        ("64:ff9b:1::a00:1", "local-use NAT64"),
        ("64:ff9b:1:7f00:0:100:808:808", "local-use NAT64"),  # 127.0.0.1 under a /48 prefix
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", "IPv4-embedded loopback"),  # Teredo
    ],
)
def test_internal_addresses_are_blocked(address: str, reason: str) -> None:
    assert blocked_reason(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize(
    "address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "64:ff9b::5db8:d822"]
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert blocked_reason(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "localhost",
        "[::1]",
        "[::ffff:127.0.0.1]",
        "2130706433",
        "0x7f.1",
        "[::7f00:1]",
        "[64:ff9b::7f00:1]",
        "[64:ff9b:1::7f00:1]",
    ],
)
async def test_loopback_targets_are_refused_without_sending(
    receiver: WebhookReceiver, host: str
) -> None:
    port = receiver.url.rsplit(":", 1)[1]
    result = await client(allow_private=False).post(f"http://{host}:{port}/hook", BODY, {})
    assert result.status_code is None
    assert result.error and result.error.startswith("blocked target")
    assert receiver.received == []


async def test_metadata_address_is_refused() -> None:
    result = await client(allow_private=False).post(
        "http://169.254.169.254/latest/meta-data/", BODY, {}
    )
    assert result.error and "link-local" in result.error


async def test_a_name_with_any_internal_record_is_refused(receiver: WebhookReceiver) -> None:
    async def mixed(host: str, port: int) -> list[str]:
        return ["93.184.216.34", "10.0.0.7"]

    result = await client(allow_private=False, resolve=mixed).post(
        "http://hooks.example.test/x", BODY, {}
    )
    assert result.error == "blocked target: hooks.example.test resolves to private address 10.0.0.7"


async def test_connects_to_the_checked_address_without_a_second_lookup(
    receiver: WebhookReceiver,
) -> None:
    lookups: list[str] = []

    async def resolve_once(host: str, port: int) -> list[str]:
        lookups.append(host)
        return ["127.0.0.1"]

    port = receiver.url.rsplit(":", 1)[1]
    result = await client(resolve=resolve_once).post(
        f"http://hooks.example.test:{port}/status?x=1", BODY, {}
    )
    assert result.succeeded, result.error
    assert lookups == ["hooks.example.test"]
    [delivery] = receiver.received
    assert delivery.headers["host"] == f"hooks.example.test:{port}"
    assert delivery.path == "/status"


async def test_redirects_are_not_followed(receiver: WebhookReceiver) -> None:
    receiver.script(Reply(302, {"location": "http://169.254.169.254/latest/meta-data/"}))
    result = await client().post(f"{receiver.url}/hook", BODY, {})
    assert result.status_code == 302 and not result.succeeded
    assert result.error == "redirect to 'http://169.254.169.254/latest/meta-data/' not followed"
    assert len(receiver.received) == 1


async def test_a_slow_endpoint_times_out(receiver: WebhookReceiver) -> None:
    receiver.script(Reply(delay_seconds=5))
    slow = WebhookClient(timeout_seconds=0.3, allow_private_targets=True)
    result = await slow.post(f"{receiver.url}/hook", BODY, {})
    assert result.status_code is None and result.error == "timed out"
    assert 250 <= result.latency_ms < 3000


@asynccontextmanager
async def dripping_endpoint(seconds_per_byte: float) -> AsyncIterator[str]:
    """An endpoint that answers 200 at once, then sends its long body one byte at a time."""

    async def drip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n")
        with suppress(ConnectionError):
            while not writer.is_closing():
                writer.write(b".")
                await writer.drain()
                await asyncio.sleep(seconds_per_byte)

    server = await asyncio.start_server(drip, "127.0.0.1", 0)
    async with server:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"


async def test_a_slow_drip_endpoint_times_out_as_a_whole() -> None:
    """Each byte comes well within the timeout, but the attempt as a whole may not last longer."""
    slow = WebhookClient(timeout_seconds=0.5, allow_private_targets=True)
    async with dripping_endpoint(seconds_per_byte=0.05) as url:
        result = await asyncio.wait_for(slow.post(f"{url}/hook", BODY, {}), timeout=5)
    assert result.status_code is None and result.error == "timed out"
    assert 450 <= result.latency_ms < 2000
    await slow.aclose()


async def test_error_status_and_retry_after_are_reported(receiver: WebhookReceiver) -> None:
    receiver.script(Reply(503, {"retry-after": "120"}, body="maintenance"))
    result = await client().post(f"{receiver.url}/hook", BODY, {})
    assert (result.status_code, result.error) == (503, "HTTP 503")
    assert result.retry_after_seconds == 120
    assert result.response_excerpt == "maintenance"


async def test_refused_connection_is_an_error_result() -> None:
    result = await client().post("http://127.0.0.1:9/hook", BODY, {})
    assert result.status_code is None and result.error and "ConnectError" in result.error


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    assert parse_retry_after("30", now) == 30
    assert parse_retry_after("Tue, 24 Nov 2026 12:05:00 GMT", now) == 300
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None
