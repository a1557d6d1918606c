"""The check of 05.grad_norms (being written)."""
