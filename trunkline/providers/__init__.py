"""Telephony providers (LiveKit, Telnyx): thin API adapters, typed errors, their webhook events."""
