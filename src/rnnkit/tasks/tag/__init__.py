"""Tagging, aligned many-to-many: ``rnnkit tag`` (a tag per token)."""
