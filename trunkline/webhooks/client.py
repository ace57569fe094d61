"""The one HTTP client every customer webhook goes through.

It resolves the target once, refuses internal addresses (unless the deployment allows them),
connects to exactly the address it checked, never follows redirects and bounds the whole attempt
(lookup, connect, upload and download) by one timeout, so a slow-drip endpoint cannot hold it.
"""

import asyncio
import ipaddress
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit, urlunsplit

import httpx

from trunkline.webhooks.targets import (
    BlockedTargetError,
    Resolver,
    checked_address,
    system_resolver,
)

USER_AGENT = "Trunkline-Webhooks/0.1"
RESPONSE_EXCERPT_BYTES = 1024


@dataclass(frozen=True)
class WebhookResult:
    """What one delivery attempt got back."""

    status_code: int | None
    latency_ms: float
    error: str | None = None
    retry_after_seconds: float | None = None
    response_excerpt: str = ""

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or HTTP-date)."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - now).total_seconds())


def _elapsed_ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)


def _pinned_url(url: str, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """`url` with its host replaced by the checked address, so no second lookup happens."""
    parts = urlsplit(url)
    host = f"[{address}]" if address.version == 6 else str(address)
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))


class WebhookClient:
    """Posts signed JSON bodies to customer URLs; one instance per process."""

    def __init__(
        self,
        *,
        timeout_seconds: float,
        allow_private_targets: bool,
        resolve: Resolver = system_resolver,
    ) -> None:
        self._timeout = timeout_seconds
        self._allow_private = allow_private_targets
        self._resolve = resolve
        self._http = httpx.AsyncClient(
            timeout=timeout_seconds, follow_redirects=False, trust_env=False
        )

    @property
    def timeout_seconds(self) -> float:
        """The longest an attempt without a timeout of its own may take."""
        return self._timeout

    async def post(
        self, url: str, body: str, headers: dict[str, str], timeout_seconds: float | None = None
    ) -> WebhookResult:
        """POST `body` to `url`; every outcome, including refusals, comes back as a result."""
        started = time.monotonic()
        try:
            async with asyncio.timeout(timeout_seconds or self._timeout):
                response, excerpt = await self._send(url, body, headers, timeout_seconds)
        except (BlockedTargetError, ValueError) as exc:
            return WebhookResult(None, _elapsed_ms(started), f"blocked target: {exc}")
        except (httpx.TimeoutException, TimeoutError):
            return WebhookResult(None, _elapsed_ms(started), "timed out")
        except httpx.HTTPError as exc:
            return WebhookResult(None, _elapsed_ms(started), f"{type(exc).__name__}: {exc}")
        error = None
        if response.is_redirect:
            error = f"redirect to {response.headers.get('location')!r} not followed"
        elif not response.is_success:
            error = f"HTTP {response.status_code}"
        retry_after = parse_retry_after(response.headers.get("retry-after"), datetime.now(UTC))
        return WebhookResult(
            response.status_code, _elapsed_ms(started), error, retry_after, excerpt
        )

    async def _send(
        self, url: str, body: str, headers: dict[str, str], timeout_seconds: float | None
    ) -> tuple[httpx.Response, str]:
        """Check the target, POST to the checked address; return the response and an excerpt."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("not an absolute http(s) URL")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        address = await checked_address(
            parts.hostname, port, allow_private=self._allow_private, resolve=self._resolve
        )
        request_headers = {
            **headers,
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "host": parts.netloc.rsplit("@", 1)[-1],
        }
        async with self._http.stream(
            "POST",
            _pinned_url(url, address),
            content=body.encode(),
            headers=request_headers,
            extensions={"sni_hostname": parts.hostname},
            timeout=timeout_seconds or httpx.USE_CLIENT_DEFAULT,
        ) as response:
            excerpt = b""
            async for chunk in response.aiter_bytes():
                excerpt += chunk
                if len(excerpt) >= RESPONSE_EXCERPT_BYTES:
                    break
        return response, excerpt[:RESPONSE_EXCERPT_BYTES].decode(errors="replace")

    async def aclose(self) -> None:
        await self._http.aclose()
