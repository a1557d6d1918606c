"""The check of 05.clip_gradient (being written)."""
