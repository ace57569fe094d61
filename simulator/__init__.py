"""The telephony simulator: LiveKit and Telnyx at their wire protocols, playing the far end.

Until the provider work lands it only answers its health check, so the dev stack has its slot.
"""
