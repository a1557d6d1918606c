"""Checks for lesson 04 (being written)."""
