"""Loaded first by the test command (``-p helpers.pytest_plugin`` in pyproject.toml).

- nbformat imports jsonschema, which imports the optional ``rfc3987_syntax`` if present;
  that package builds some 40 parsers at import, about a second of CPU in every pytest
  process (the controller and each worker). The notebook schema checks no IRI formats,
  so the test processes skip it. Learners' Jupyter is not affected.
- On a machine where matplotlib never ran, its first import in a kernel prints
  "Matplotlib is building the font cache" to stderr, which nbval would report as a
  changed output. The controller builds the cache once, before any kernel starts.
"""

from __future__ import annotations

import sys

import pytest

sys.modules.setdefault("rfc3987_syntax", None)  # None makes `import rfc3987_syntax` fail fast


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):  # an xdist worker: the controller did it already
        return
    try:
        import matplotlib.font_manager  # noqa: F401  (builds the font cache if missing)
    except ImportError:
        pass
