"""Temporal activities: every side effect (provider calls, webhook HTTP, database writes)."""
