"""Checks for lesson 03 (being written)."""
