"""Thin adapters over the telephony providers' APIs (LiveKit, Telnyx), with our own typed errors."""
