"""The check of 05.clamp_inputs (being written)."""
