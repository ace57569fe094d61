"""Trunkline's REST API (FastAPI): authenticates, validates, writes rows and talks to Temporal."""
