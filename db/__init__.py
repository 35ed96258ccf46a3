"""Pixie: db."""
