"""Connector interface and the example connectors (one package per source)."""
