"""Loaded first by the test command (``-p helpers.pytest_plugin`` in pyproject.toml).

- nbformat imports jsonschema, which imports the optional ``rfc3987_syntax`` if present;
  that package builds some 40 parsers at import, about a second of CPU in every pytest
  process (the controller and each worker). The notebook schema checks no IRI formats,
  so the test processes skip it. Learners' Jupyter is not affected.
- On a machine where matplotlib never ran, its first import in a kernel prints
  "Matplotlib is building the font cache" to stderr, which nbval would report as a
  changed output. The controller builds the cache once, before any kernel starts (when
  the usual cache file is there, it skips the 0.3 s import).
- Kernels started by different test processes at the same moment can be given the same
  free TCP port (each process probes for one, then the kernel binds it): the loser dies
  with "Address already in use" and nbval reports "Kernel died before replying to
  kernel_info". Test kernels therefore talk over Unix sockets with a unique path each
  (``helpers.notebooks.IpcKernelManager``); nbval's kernel manager is replaced by it in
  every process.
- The test command runs one process per core (pytest-xdist), each with its kernels; torch's
  default of one thread per core in each of them oversubscribes the CPU, and its threads
  then spin waiting for each other (the small models of the course gain nothing from a
  second thread). Test processes and their kernels use one thread each
  (``OMP_NUM_THREADS=1``, unless already set), before any of them imports torch.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.modules.setdefault("rfc3987_syntax", None)  # None makes `import rfc3987_syntax` fail fast
os.environ.setdefault("OMP_NUM_THREADS", "1")  # inherited by xdist workers and kernels


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    import nbval.kernel

    from helpers.notebooks import IpcKernelManager

    nbval.kernel.KernelManager = IpcKernelManager  # start_new_kernel looks it up when called
    if hasattr(config, "workerinput"):  # an xdist worker: the controller did it already
        return
    if _font_cache_exists():
        return
    import matplotlib.font_manager  # noqa: F401  (builds the font cache if missing)


def _font_cache_exists() -> bool:
    """Whether matplotlib's font cache is in its usual place (False when unsure)."""
    if "MPLCONFIGDIR" in os.environ:
        folder = Path(os.environ["MPLCONFIGDIR"])
    else:
        cache_home = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        folder = Path(cache_home) / "matplotlib"
    return any(folder.glob("fontlist-v*.json"))
