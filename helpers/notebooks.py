"""Run the course's notebooks: kernels of this environment, and re-executing a committed
notebook the way the repository keeps it (``python -m helpers execute PATH...``).

After an intended change to a lesson or a solution, its outputs must be what the code
prints today (nbval compares them). Executing with nbconvert also records when each cell
ran, splits printed text into arbitrary pieces, and saves widget views that show as
``VBox(...)`` text until a kernel runs the cell. This command executes in a kernel of the
current environment, in the notebook's folder, and then ``tidy`` keeps only what the
repository wants: no timings, one stream output per stream, no saved widget views or
widget state (the cell tells the learner to run it).
"""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import nbformat
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import KernelManager
from jupyter_core.paths import jupyter_runtime_dir
from traitlets import default

__all__ = ["WIDGET_VIEW", "IpcKernelManager", "ThisEnvironmentKernel", "execute", "tidy"]

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


class IpcKernelManager(KernelManager):
    """A kernel manager whose kernels listen on Unix sockets, never on TCP ports.

    Kernels started at the same moment by different processes (parallel test workers)
    can be given the same free TCP port (each process probes for one, then the kernel
    binds it): the loser dies with "Address already in use". Here each kernel gets its
    own socket path in Jupyter's runtime folder (removed when the kernel shuts down).
    Where Unix sockets are missing (Windows), TCP as usual.
    """

    @default("transport")
    def _default_transport(self) -> str:
        return "tcp" if os.name == "nt" else "ipc"

    @default("ip")
    def _default_ip(self) -> str:
        if self.transport != "ipc":
            return "127.0.0.1"
        return os.path.join(jupyter_runtime_dir(), f"kernel-{uuid.uuid4().hex[:16]}-ipc")


class _ThisEnvironment(KernelSpecManager):
    """Every kernel name means: ipykernel on the Python running this code."""

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
        return KernelSpec(argv=argv, display_name="this environment", language="python")


class ThisEnvironmentKernel(IpcKernelManager):
    """Starts ipykernel on this very Python, whatever kernelspecs are installed.

    Use as ``NotebookClient(nb, kernel_manager_class=ThisEnvironmentKernel)``.
    """

    @default("kernel_spec_manager")
    def _default_kernel_spec_manager(self) -> KernelSpecManager:
        return _ThisEnvironment()


def tidy(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Drop timings, widget views and widget state; merge consecutive stream outputs.

    Returns the same notebook, changed in place.
    """
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type != "code":
            continue
        if any(WIDGET_VIEW in output.get("data", {}) for output in cell.outputs):
            cell.outputs, cell.execution_count = [], None
        merged: list[nbformat.NotebookNode] = []
        for output in cell.outputs:
            previous = merged[-1] if merged else None
            if (
                previous is not None
                and output.output_type == previous.output_type == "stream"
                and output.name == previous.name
            ):
                previous.text += output.text
            else:
                merged.append(output)
        cell.outputs = merged
    return nb


def execute(path: Path, *, timeout: int = 600) -> None:
    """Run every cell of the notebook at ``path`` in its folder, tidy it, write it back."""
    from nbclient import NotebookClient  # imported here: `python -m helpers build` stays lean

    nb = nbformat.read(path, as_version=4)
    NotebookClient(
        nb,
        kernel_manager_class=ThisEnvironmentKernel,
        timeout=timeout,
        record_timing=False,
        resources={"metadata": {"path": str(path.resolve().parent)}},
    ).execute()
    nbformat.write(tidy(nb), path)
