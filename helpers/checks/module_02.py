"""Checks for lesson 02 (being written)."""
