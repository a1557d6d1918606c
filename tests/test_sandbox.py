"""The sandbox a check runs in: time limits in and off the main thread, restored state."""

from __future__ import annotations

import random
import signal
import threading
import time

import pytest
import torch

from helpers.sandbox import TimeLimitExceeded, isolated


def spin() -> None:
    while True:
        pass


def test_main_thread_loop_is_interrupted():
    start = time.perf_counter()
    with pytest.raises(TimeLimitExceeded), isolated(0.1):
        spin()
    assert time.perf_counter() - start < 1


def test_loop_off_the_main_thread_is_interrupted_by_the_watchdog():
    outcome = {}

    def worker():
        start = time.perf_counter()
        try:
            with isolated(0.1):
                spin()
        except TimeLimitExceeded:
            outcome["stopped after"] = time.perf_counter() - start

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert outcome["stopped after"] < 1


def test_a_pending_alarm_of_someone_else_is_given_back():
    fired = []
    previous = signal.signal(signal.SIGALRM, lambda *args: fired.append(True))
    signal.setitimer(signal.ITIMER_REAL, 0.3)
    try:
        with isolated(5):
            pass
        assert signal.getitimer(signal.ITIMER_REAL)[0] > 0  # still pending
        time.sleep(0.4)
        assert fired == [True]
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_no_alarm_is_left_behind():
    with isolated(0.05):
        pass
    time.sleep(0.1)  # an armed timer would raise TimeLimitExceeded here
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_state_is_restored_and_output_captured():
    random.seed(3)
    torch.manual_seed(3)
    expected_py, expected_torch = random.random(), torch.rand(1)
    random.seed(3)
    torch.manual_seed(3)
    with torch.no_grad():
        with isolated(1) as captured:
            assert torch.is_grad_enabled()  # checks always run with autograd on
            torch.set_default_dtype(torch.float64)
            random.random()
            torch.rand(5)
            print("hello from learner code")
        assert not torch.is_grad_enabled()  # the caller's no_grad is back
    assert torch.get_default_dtype() == torch.float32
    assert random.random() == expected_py
    assert torch.equal(torch.rand(1), expected_torch)
    assert captured.printed() == "hello from learner code"


def test_the_notebooks_default_device_is_set_aside_and_restored():
    """A notebook's torch.set_default_device(device) must not move a check's tensors
    (meta stands in for a GPU: tensors there have no values to compare)."""
    torch.set_default_device("meta")
    try:
        with isolated(1):
            assert torch.zeros(1).device.type == "cpu"
            torch.set_default_device("meta")  # learner code may set it again: undone after
        assert torch.get_default_device().type == "meta"
    finally:
        torch.set_default_device(None)
    with isolated(1):
        torch.set_default_device("meta")
    assert torch.zeros(1).device.type == "cpu"  # nothing set before, nothing set after


def test_long_output_is_cut():
    with isolated(1) as captured:
        for i in range(20):
            print(i)
    assert captured.printed(max_lines=3) == "0\n1\n2\n... (17 more lines)"


def test_global_hooks_of_the_notebook_are_set_aside_and_leftovers_removed():
    from torch import nn
    from torch.nn.modules.module import register_module_forward_hook

    from helpers.checks.core import count_global_hooks

    calls = []
    notebook_handle = register_module_forward_hook(lambda m, a, o: calls.append("notebook"))
    try:
        with isolated(5):
            assert count_global_hooks() == 0
            nn.Linear(2, 2)(torch.zeros(1, 2))
            register_module_forward_hook(lambda m, a, o: calls.append("leftover"))
        assert calls == []  # the notebook's hook did not run inside
        nn.Linear(2, 2)(torch.zeros(1, 2))
        assert calls == ["notebook"]  # it is back, and the leftover is gone
        assert count_global_hooks() == 1
    finally:
        notebook_handle.remove()
    assert count_global_hooks() == 0


def test_hooks_of_namespace_modules_are_restored():
    from torch import nn

    from helpers.checks.core import count_hooks

    model = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.ReLU()))
    kept = model[1][0].register_forward_hook(lambda m, a, o: None)
    with isolated(5, {"model": model}):
        model[0].register_forward_pre_hook(lambda m, a: None)
        model[1][0].register_full_backward_hook(lambda m, gi, go: None)
        kept.remove()
    assert count_hooks(model) == {"1.0": 1}
    assert list(model[1][0]._forward_hooks) == [kept.id]


def test_global_optimizer_hooks_are_set_aside_and_leftovers_removed():
    from torch.optim.optimizer import register_optimizer_step_pre_hook

    calls = []
    notebook_handle = register_optimizer_step_pre_hook(lambda *a: calls.append("notebook"))
    weight = torch.zeros(2, requires_grad=True)
    optimizer = torch.optim.SGD([weight], lr=0.1)
    try:
        with isolated(5):
            optimizer.step()
            register_optimizer_step_pre_hook(lambda *a: calls.append("leftover"))
        assert calls == []
        optimizer.step()
        assert calls == ["notebook"]
    finally:
        notebook_handle.remove()
