"""The grading contract: run_check, TASKS and the result they give."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from torch import nn

from helpers.grading import TASKS, CheckResult, run_check


class Stub(nn.Module):
    def __init__(self, *args, **kwargs):
        raise NotImplementedError("TODO: write your code here")


def test_tasks_list_id_title_names_and_notebook():
    task = TASKS["01.affine"]
    assert (task.id, task.names, task.notebook) == ("01.affine", ("Affine",), "01_module")
    assert task.title
    with pytest.raises(TypeError):
        TASKS["01.fake"] = task  # read-only for learners and instructors


def test_pass_result_lists_the_probes(solution01):
    result = run_check("01.affine", solution01)
    assert (result.status, result.passed) == ("pass", True)
    assert result.message.startswith("✓ 01.affine: passed")
    assert all(f"✓ {probe}" in result.message for probe in result.probes_passed)
    assert len(result.probes_passed) >= 10


def test_stub_reports_not_implemented_with_its_todo():
    result = run_check("01.affine", {"Affine": Stub})
    assert (result.status, result.passed) == ("not_implemented", False)
    assert "TODO: write your code here" in result.message


def test_missing_name_fails_and_says_which():
    result = run_check("01.residual", {})
    assert result.status == "fail"
    assert "`Residual` is not defined" in result.message


@pytest.mark.parametrize("task_id", [None, 3, "01.nope", ""])
def test_unknown_task_is_an_error_listing_known_ids(task_id):
    result = run_check(task_id, {})
    assert result.status == "error"
    assert "01.affine" in result.message


@pytest.mark.parametrize("namespace", [None, 5, ["Affine"], "globals()"])
def test_namespace_must_be_a_mapping(namespace):
    result = run_check("01.affine", namespace)
    assert result.status == "error"
    assert "globals()" in result.message


def test_result_displays_as_text_and_html(solution01):
    failed = run_check("01.affine", {"Affine": 42})
    assert str(failed) == failed.message
    lines = failed.message.splitlines()
    assert lines[0] == "✗ 01.affine: `Affine` is not a class"
    assert any(line.startswith("  Hint: ") for line in lines)
    html = failed._repr_html_()
    assert "&lt;" not in failed.message and "✗ 01.affine" in html
    assert 'data-status="fail"' in html and "word-break: normal" in html
    assert "<code" in html and "`" not in html  # `Affine` became a code span
    assert "Hint</div>" in html and "<details" not in html  # nothing passed to fold

    class Printer:
        def __init__(self):
            self.out = []

        def text(self, s):
            self.out.append(s)

    printer = Printer()
    failed._repr_pretty_(printer, cycle=False)
    assert printer.out == [failed.message]


def test_passed_probes_fold_into_details(solution01):
    passed = run_check("01.affine", solution01)
    html = passed._repr_html_()
    assert passed.passed and html.count("<li>") == len(passed.probes_passed) > 3
    assert "<summary" in html and f"{len(passed.probes_passed)} probes passed" in html


def test_html_escapes_learner_text():
    result = CheckResult("01.affine", "fail", "bad <b>", got="<script>x</script>", hint="a `b")
    html = result._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html and "a `b" in html


def test_failure_layers_expected_got_and_mismatch_facts():
    class OffByOne(nn.Module):
        def __init__(self, in_features, out_features, bias=True):
            super().__init__()
            self.in_features, self.out_features = in_features, out_features
            self.weight = nn.Parameter(torch.randn(out_features, in_features))
            self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None

        def forward(self, x):
            y = x @ self.weight.T + 1
            return y + self.bias if self.bias is not None else y

    result = run_check("01.affine", {"Affine": OffByOne})
    assert result.status == "fail"
    assert result.probe == "Affine(3, 2, bias=True) on x of shape (5, 3)"
    assert result.expected.startswith("[") and result.got.startswith("[")
    assert result.facts[0] == "Mismatched elements: 10 / 10 (100.0%)"
    assert result.facts[1].startswith("Greatest absolute difference: 1 at index")


def test_check_leaves_random_state_and_grad_mode_alone(solution01):
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    expected = (random.random(), np.random.rand(), torch.rand(1))
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    with torch.no_grad():
        for task_id in ("01.affine", "01.residual", "01.gaussian_noise"):
            assert run_check(task_id, solution01).passed
        assert not torch.is_grad_enabled()
    assert (random.random(), np.random.rand()) == expected[:2]
    assert torch.equal(torch.rand(1), expected[2])


def test_check_restores_grad_mode_and_default_dtype_changed_by_learner(solution01):
    base = solution01["GaussianNoise"]

    class Meddling(base):
        def forward(self, x):
            torch.set_grad_enabled(False)
            torch.set_default_dtype(torch.float64)
            return super().forward(x)

    run_check("01.gaussian_noise", {"GaussianNoise": Meddling})
    assert torch.is_grad_enabled()
    assert torch.get_default_dtype() == torch.float32


def test_check_is_repeatable(solution01):
    first = run_check("01.gaussian_noise", solution01)
    second = run_check("01.gaussian_noise", solution01)
    assert first == second


def test_check_does_not_touch_learner_objects(solution01):
    before = {k: id(v) for k, v in solution01.items()}
    run_check("01.affine", solution01)
    assert {k: id(v) for k, v in solution01.items()} == before


def test_a_learners_optimizer_does_not_look_like_tampering(solution01):
    # The first step of a torch.optim optimizer imports torch._dynamo, which rebinds
    # torch.manual_seed to a wrapper: that is not the learner patching torch.
    model = torch.nn.Linear(2, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model(torch.ones(1, 2)).sum().backward()
    optimizer.step()
    assert run_check("01.affine", solution01).passed


def test_result_is_immutable():
    result = run_check("01.affine", {})
    with pytest.raises(AttributeError):
        result.status = "pass"
    assert isinstance(result, CheckResult)


def test_warm_up_draws_no_random_numbers():
    """torch's one-time costs are paid before the first time limit, without moving the
    learner's random streams."""
    from helpers.grading import _warm_up

    before = torch.random.get_rng_state()
    _warm_up.__wrapped__()  # the uncached function: really runs
    assert torch.equal(torch.random.get_rng_state(), before)


def test_a_type_error_is_blamed_on_the_signature_only_where_the_check_called():
    class WrongSignature(nn.Module):
        def __init__(self, in_features):
            super().__init__()

    class WrongTorchCall(nn.Module):
        def __init__(self, in_features, out_features, bias=True):
            super().__init__()
            self.weight = nn.Parameter(torch.randn(out_features, in_features, dtype_=None))

    signature = run_check("01.affine", {"Affine": WrongSignature})
    assert "Check the signature against the task statement" in signature.message
    own_call = run_check("01.affine", {"Affine": WrongTorchCall})
    assert "A call in your code was given arguments it does not take" in own_call.message
    assert "In your code, __init__" in own_call.message
