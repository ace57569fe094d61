"""Trunkline's domain layer: tables, settings, signing, parsing and provider adapters."""
