"""Pixie: core."""
