"""Outbound customer webhooks: signing, target checks and the one client they all go through."""
