"""Connectors: each one fetches a source's records for a period and checks their shape."""
