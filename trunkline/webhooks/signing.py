"""Webhook signatures: Standard Webhooks with the organization secret(s), plus the legacy header.

The legacy per-webhook secret signs `X-Trunkline-Signature: t=<unix>,v1=<hex HMAC-SHA256 of
"{t}.{body}">`, kept for older clients; new receivers verify `webhook-signature`.
"""

import hashlib
import hmac
from datetime import datetime

from standardwebhooks import Webhook

LEGACY_SIGNATURE_HEADER = "x-trunkline-signature"


def signature_headers(
    message_id: str,
    sent_at: datetime,
    body: str,
    secrets: list[str],
    legacy_secret: str | None = None,
) -> dict[str, str]:
    """Headers that sign `body`: one `v1,` signature per organization secret, and the legacy one."""
    timestamp = str(int(sent_at.timestamp()))
    headers = {
        "webhook-id": message_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": " ".join(
            Webhook(secret).sign(message_id, sent_at, body) for secret in secrets
        ),
    }
    if legacy_secret:
        digest = hmac.new(
            legacy_secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256
        ).hexdigest()
        headers[LEGACY_SIGNATURE_HEADER] = f"t={timestamp},v1={digest}"
    return headers
