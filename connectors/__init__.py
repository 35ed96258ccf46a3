"""Pixie: connectors."""
