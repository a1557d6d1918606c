"""device, seeding, versions and the sanitize patterns the notebooks rely on."""

from __future__ import annotations

import configparser
import random
import re

import numpy as np
import pytest
import torch

from helpers import get_device, print_versions, seed_everything


def _machine(monkeypatch, accelerator: str | None, *, legacy: bool = False) -> None:
    """Pretend this machine has ``accelerator`` (torch.accelerator, or legacy probes)."""
    cuda, mps = accelerator == "cuda", accelerator == "mps"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    if legacy:
        monkeypatch.delattr(torch, "accelerator")
        return
    monkeypatch.setattr(torch.accelerator, "is_available", lambda: accelerator is not None)
    found = torch.device(accelerator) if accelerator else None
    monkeypatch.setattr(torch.accelerator, "current_accelerator", lambda *a, **k: found)


@pytest.mark.parametrize("legacy", [False, True], ids=["torch.accelerator", "fallback"])
def test_get_device_falls_back_to_cpu_when_nothing_else(monkeypatch, legacy):
    _machine(monkeypatch, None, legacy=legacy)
    assert get_device() == torch.device("cpu")
    assert get_device(prefer="cuda") == torch.device("cpu")


@pytest.mark.parametrize("legacy", [False, True], ids=["torch.accelerator", "fallback"])
@pytest.mark.parametrize("kind", ["cuda", "mps"])
def test_get_device_takes_the_accelerator(monkeypatch, legacy, kind):
    _machine(monkeypatch, kind, legacy=legacy)
    assert get_device() == torch.device(kind)
    assert get_device(prefer="cpu") == torch.device("cpu")
    assert get_device(prefer=kind) == torch.device(kind)


def test_get_device_asks_torch_accelerator_first(monkeypatch):
    """An accelerator torch knows (here XPU) is found without a probe of its own."""
    _machine(monkeypatch, "xpu")
    assert get_device() == torch.device("xpu")
    assert get_device(prefer="xpu") == torch.device("xpu")


def test_get_device_is_decided_when_called(monkeypatch):
    _machine(monkeypatch, "cuda")
    first = get_device()
    _machine(monkeypatch, None)
    assert (first.type, get_device().type) == ("cuda", "cpu")


def test_seed_everything_repeats_python_numpy_and_torch():
    def draw():
        return random.random(), float(np.random.rand()), torch.rand(3).tolist()

    assert seed_everything(7) == 7
    first = draw()
    seed_everything(7)
    assert draw() == first


def _sanitize(text: str, root) -> str:
    """Apply tests/sanitize.cfg the way nbval does."""
    config = configparser.ConfigParser()
    config.read(root / "tests" / "sanitize.cfg")
    for section in config.sections():
        text = re.sub(config[section]["regex"], config[section]["replace"], text)
    return text


def test_version_line_is_the_same_on_every_machine(root, capsys):
    print_versions(torch.device("cpu"))
    here = capsys.readouterr().out
    gpu = "Python 3.12.1 · torch 2.13.0+cu128 · device cuda\n"
    assert _sanitize(here, root) == _sanitize(gpu, root)


def test_cuda_tensor_and_device_reprs_read_like_cpu_ones(root):
    pairs = [
        ("tensor([1., 2.])", "tensor([1., 2.], device='cuda:0')"),
        ("device(type='cpu')", "device(type='cuda', index=0)"),
        ("device: cpu", "device: cuda:0"),
        ("at 0x7f3a2b1c0d90>", "at 0x55d1e2f3a4b0>"),
    ]
    for cpu, cuda in pairs:
        assert _sanitize(cpu, root) == _sanitize(cuda, root)


def test_test_kernels_use_unique_unix_sockets_not_tcp_ports():
    """Parallel test processes could race for the same free TCP port (a kernel then dies
    before it answers); every test kernel, nbval's included, uses its own socket path."""
    import nbval.kernel

    from helpers.notebooks import IpcKernelManager

    assert nbval.kernel.KernelManager is IpcKernelManager
    first, second = IpcKernelManager(), IpcKernelManager()
    assert first.transport == second.transport == "ipc"
    assert first.ip != second.ip


@pytest.mark.parametrize(
    "name",
    [
        "helpers.data",
        "helpers.device",
        "helpers.grading",
        "helpers.hooks",
        "helpers.plots",
        "helpers.seeding",
        "helpers.versions",
    ],
)
def test_docstring_examples_run(name):
    """Every example in a helper module's docstrings prints what it shows."""
    import doctest
    import importlib

    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
