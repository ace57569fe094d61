"""API keys and webhook signing secrets: generation and hashing."""

import base64
import hashlib
import secrets

API_KEY_PREFIX = "tk_"


def generate_api_key() -> str:
    """A new random API key (256 bits), to be shown once and stored only as its hash."""
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(api_key: str) -> str:
    """SHA-256 of the key: keys carry 256 random bits, so a fast hash is enough."""
    return hashlib.sha256(api_key.encode()).hexdigest()


def generate_webhook_secret() -> str:
    """A Standard Webhooks secret: `whsec_` followed by 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
