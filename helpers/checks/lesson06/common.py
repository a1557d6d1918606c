"""What the checks of lesson 06 share."""

NOTEBOOK = "06_apply"
