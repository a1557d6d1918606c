"""The check toolkit's module building: the notebook's device hidden while a learner's
constructor runs, and everything put back however the constructor ends."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from helpers.checks.core import Checker, Fail, hidden_notebook_device, watch_modules
from helpers.device import get_device


def notebook(source: str) -> dict:
    """A namespace as a notebook's globals(): the course's setup, then ``source``."""
    namespace = {"torch": torch, "nn": nn, "get_device": get_device, "device": get_device()}
    exec(source, namespace)
    return namespace


ON_DEVICE = """
class Layer(nn.Module):
    def __init__(self, n, where=device):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(n, device=device))
        self.seen = (device, get_device(), where)
"""


def test_device_and_get_device_stand_for_meta_while_the_body_runs():
    space = notebook(ON_DEVICE)
    defaults = space["Layer"].__init__.__defaults__  # (device,): frozen in at definition
    before = (space["device"], space["get_device"])
    with hidden_notebook_device(space, space["Layer"]):
        layer = space["Layer"](2)
    assert layer.w.device.type == "meta"
    assert layer.seen == (torch.device("meta"),) * 3
    assert (space["device"], space["get_device"]) == before  # put back
    assert space["Layer"].__init__.__defaults__ is defaults


def test_everything_is_put_back_when_the_constructor_raises():
    space = notebook(ON_DEVICE + "\n    def forward(self, x):\n        return x\n")
    before = dict(space)

    class Boom(nn.Module):
        def __init__(self):
            super().__init__()
            raise RuntimeError("learner bug")

    with pytest.raises(RuntimeError), hidden_notebook_device(space, Boom):
        Boom()
    assert space == before


def test_a_module_built_on_the_notebook_device_fails_the_same_on_every_machine():
    space = notebook(ON_DEVICE)
    t = Checker(space)
    with pytest.raises(Fail) as failed:
        t.build(space["Layer"], 3, what="Layer(3)")
    assert "built on the CPU" in failed.value.headline
    assert "meta" in failed.value.got and "moved with .to()" in failed.value.hint
    assert space["device"] == get_device()  # the learner's name is untouched afterwards


def test_a_module_built_on_the_cpu_passes():
    space = notebook(
        "class Layer(nn.Module):\n"
        "    def __init__(self, n):\n"
        "        super().__init__()\n"
        "        self.w = nn.Parameter(torch.zeros(n))\n"
    )
    layer = Checker(space).build(space["Layer"], 3, what="Layer(3)")
    assert layer.w.device == torch.device("cpu")


def test_watch_modules_sees_modules_built_and_called():
    with watch_modules(nn.Linear) as watch:
        assert not watch
        layer = nn.Linear(2, 2)
        layer(torch.zeros(1, 2))
        nn.ReLU()(torch.zeros(1))
    assert watch.built == [layer] and watch.called == [layer]
    nn.Linear(2, 2)(torch.zeros(1, 2))  # after the block: no longer watched
    assert len(watch.built) == len(watch.called) == 1


def test_accelerator_as_meta_answers_yes_and_puts_everything_back():
    from helpers.checks.core import accelerator_as_meta

    before = (torch.cuda.is_available, torch.accelerator.is_available)
    with pytest.raises(RuntimeError), accelerator_as_meta() as asked:
        where = "cuda" if torch.cuda.is_available() else "cpu"
        layer = nn.Linear(2, 2).to(torch.accelerator.current_accelerator())
        moved = torch.zeros(1).cuda()
        made = torch.zeros(1, device=where)
        raise RuntimeError("learner bug")
    assert (layer.weight.device.type, moved.device.type, made.device.type) == ("meta",) * 3
    assert asked == ["torch.cuda.is_available()", "torch.accelerator.current_accelerator()"]
    assert (torch.cuda.is_available, torch.accelerator.is_available) == before
