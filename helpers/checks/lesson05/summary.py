"""The check of 05.summary (being written)."""
