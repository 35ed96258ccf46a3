"""Pixie: bots."""
