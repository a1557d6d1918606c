"""Lesson 06 (apply): one module per task, each registering its check on import."""
