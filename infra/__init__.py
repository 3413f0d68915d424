"""Placeholder package: see the README's status table for what lands here next."""
