"""What the checks of lesson 05 share."""

NOTEBOOK = "05_hooks"
