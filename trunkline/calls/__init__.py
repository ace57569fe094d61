"""Calls: rows, pipeline config, events and signals, webhook payloads, recordings, transcripts."""
