"""The check of 05.activation_recorder (being written)."""
