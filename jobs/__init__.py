"""Pixie: jobs."""
