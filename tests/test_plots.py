"""The lessons' drawings: what each row shows, and the shared-module colouring."""

from __future__ import annotations

import matplotlib
import pytest
from torch import nn

from helpers.plots import draw_module_tree, draw_parameter_tree, draw_yes_no_table

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    matplotlib.pyplot.close("all")


def _labels(ax) -> list[str]:
    return [text.get_text() for text in ax.texts]


def _edge(ax, label_start: str) -> str:
    text = next(t for t in ax.texts if t.get_text().startswith(label_start))
    return matplotlib.colors.to_hex(text.get_bbox_patch().get_edgecolor())


def test_module_tree_rows_follow_named_modules_and_colour_shared_modules():
    shared = nn.Linear(2, 2)
    model = nn.Sequential(nn.Sequential(shared, nn.ReLU()), shared)
    ax = draw_module_tree(model)
    assert _labels(ax) == [
        "0  (root): Sequential",
        "1  0: Sequential",
        "2  0.0: Linear",
        "3  0.1: ReLU",
    ]
    orange, blue = matplotlib.colors.to_hex("tab:orange"), matplotlib.colors.to_hex("tab:blue")
    # Shared, although named_modules() shows it once: the left panel of lesson 04 § 8.
    assert (_edge(ax, "2"), _edge(ax, "3")) == (orange, blue)
    every = draw_module_tree(model, remove_duplicate=False)
    assert _labels(every)[-1] == "4  1: Linear" and _edge(every, "4") == orange
    assert every.get_title() == "named_modules(remove_duplicate=False)"


def test_module_tree_numbers_can_come_from_another_traversal():
    model = nn.Sequential(nn.Linear(1, 1), nn.ReLU())
    ax = draw_module_tree(model, numbers={"": [3], "0": [1], "1": [2]}, title="apply")
    assert _labels(ax) == ["3  (root): Sequential", "1  0: Linear", "2  1: ReLU"]
    assert ax.get_title() == "apply"


def test_parameter_tree_puts_parameters_under_their_module():
    ax = draw_parameter_tree(nn.Sequential(nn.Linear(2, 3)))
    labels = [" ".join(label.split()) for label in _labels(ax)]
    assert labels == ["(root) · Sequential", "0 · Linear", "0.weight · (3, 2)", "0.bias · (3,)"]


def test_yes_no_table_has_headers_and_readable_text():
    ax = draw_yes_no_table({"buffer": {"saved": True, "trained": False}}, title="kinds")
    table = ax.tables[0]
    cells = {key: cell.get_text().get_text() for key, cell in table.get_celld().items()}
    assert (cells[(0, 1)], cells[(0, 2)]) == ("saved", "trained")
    assert (cells[(1, 0)], cells[(1, 1)], cells[(1, 2)]) == ("buffer", "yes", "no")
    assert min(c.get_text().get_fontsize() for c in table.get_celld().values()) >= 12
