"""The lessons' drawings: what each row shows, and the shared-module colouring."""

from __future__ import annotations

import matplotlib
import pytest
from torch import nn

from helpers.plots import (
    draw_activation_stats,
    draw_gradient_flow,
    draw_hook_timeline,
    draw_module_tree,
    draw_parameter_tree,
    draw_yes_no_table,
)

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


def test_hook_timeline_numbers_events_in_their_lanes_and_shades_both_passes():
    events = [
        ("forward pre-hook", "fc"),
        ("forward hook", "fc"),
        ("tensor hook", "y"),
        ("backward hook", "fc"),
    ]
    ax = draw_hook_timeline(events, lanes=["y", "fc"], title="order")
    labels = _labels(ax)
    assert [f"{i:>2}  {kind}" for i, (kind, _) in enumerate(events, 1)] == [
        label for label in labels if label.endswith("hook")
    ]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["y", "fc"]
    markers = [line.get_xydata()[0].tolist() for line in ax.lines if line.get_marker() == "o"]
    assert markers == [[1, 0], [1, -1], [0, -2], [1, -3]]  # lane index, minus the row
    assert "forward pass" in labels and "backward pass" in labels
    assert len(ax.patches) == 2  # one shaded band per pass
    assert len([c for c in ax.get_children() if type(c).__name__ == "Annotation"]) == 3
    assert ax.get_title() == "order"


def test_hook_timeline_lanes_default_to_first_appearance():
    ax = draw_hook_timeline([("forward hook", "b"), ("forward hook", "a"), ("tensor hook", "b")])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["b", "a"]


def test_activation_stats_draw_one_line_per_layer_in_each_panel():
    means = {"act1": [0.0, 0.1, 0.2], "act2": [0.5, 0.4, 0.3]}
    stds = {"act1": [1.0, 0.9, 0.8], "act2": [0.2, 0.3, 0.4]}
    mean_ax, std_ax = draw_activation_stats(means, stds, title="stats")
    assert [line.get_ydata().tolist() for line in mean_ax.lines] == list(means.values())
    assert [line.get_ydata().tolist() for line in std_ax.lines] == list(stds.values())
    legend = [t.get_text() for t in std_ax.get_legend().get_texts()]
    assert legend == ["act1", "act2"]
    assert mean_ax.figure._suptitle.get_text() == "stats"


def test_gradient_flow_is_logarithmic_with_layer_names_on_the_x_axis():
    flows = {"relu": {"fc1": 1e-3, "out": 1e-2}, "sigmoid": {"fc1": 1e-9, "out": 1e-2}}
    ax = draw_gradient_flow(flows)
    assert ax.get_yscale() == "log"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["fc1", "out"]
    assert [line.get_ydata().tolist() for line in ax.lines] == [[1e-3, 1e-2], [1e-9, 1e-2]]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["relu", "sigmoid"]


# -- lesson 06: apply


def test_layer_stds_draws_one_line_per_label_from_layer_one_on_a_log_scale():
    from helpers.plots import draw_layer_stds

    ax = draw_layer_stds(
        {"default": [0.5, 0.1], "kaiming": [0.8, 0.7]}, title="init", input_std=1.0, ylim=(1e-3, 10)
    )
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert list(lines) == ["default", "kaiming", "input"]
    assert list(lines["kaiming"].get_xdata()) == [1, 2]
    assert list(lines["kaiming"].get_ydata()) == [0.8, 0.7]
    assert (ax.get_yscale(), ax.get_ylim(), ax.get_title()) == ("log", (1e-3, 10), "init")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(lines)


# -- lesson 07: the training loop


def test_training_curves_put_losses_left_and_accuracies_right_from_epoch_one():
    from helpers.plots import draw_training_curves

    history = {"train_loss": [0.9, 0.4], "val_loss": [1.0, 0.6], "val_accuracy": [0.7, 0.9]}
    loss_ax, accuracy_ax = draw_training_curves(history, title="run", loss_ylim=(0, 2))
    assert [line.get_label() for line in loss_ax.lines] == ["train_loss", "val_loss"]
    assert [line.get_label() for line in accuracy_ax.lines] == ["val_accuracy"]
    assert list(loss_ax.lines[1].get_xdata()) == [1, 2]
    assert list(loss_ax.lines[1].get_ydata()) == [1.0, 0.6]
    assert (loss_ax.get_ylim(), accuracy_ax.get_ylim()) == ((0, 2), (0.0, 1.02))
    assert loss_ax.figure._suptitle.get_text() == "run"


def test_training_curves_accept_tensors_and_the_two_lists_of_fit():
    import torch

    from helpers.plots import draw_training_curves

    history = {"train_loss": torch.tensor([0.5, 0.25]), "val_accuracy": [0.8, 0.9]}
    loss_ax, accuracy_ax = draw_training_curves(history, accuracy_ylim=(0.5, 1.0))
    assert list(loss_ax.lines[0].get_ydata()) == [0.5, 0.25]
    assert accuracy_ax.get_ylim() == (0.5, 1.0)
    assert [t.get_text() for t in accuracy_ax.get_legend().get_texts()] == ["val_accuracy"]


def test_digits_are_drawn_as_square_images_titled_label_arrow_prediction():
    import torch

    from helpers.plots import draw_digits

    images = torch.arange(3 * 64, dtype=torch.float32).view(3, 64)
    axes = draw_digits(images, torch.tensor([3, 5, 7]), [3, 8, 7], ncols=2, title="mistakes")
    assert len(axes) == 3
    assert [ax.get_title() for ax in axes] == ["3 → 3", "5 → 8", "7 → 7"]
    green, red = (matplotlib.colors.to_hex(c) for c in ("tab:green", "tab:red"))
    assert [matplotlib.colors.to_hex(ax.title.get_color()) for ax in axes] == [green, red, green]
    shown = axes[1].images[0].get_array()
    assert shown.shape == (8, 8) and shown[0, 0] == 64 and shown[7, 7] == 127
    assert len(axes[0].figure.axes) == 4  # a 2 × 2 grid; the fourth cell stays empty
    assert not axes[0].figure.axes[3].axison
    assert axes[0].figure._suptitle.get_text() == "mistakes"


def test_digits_without_predictions_are_titled_with_their_labels():
    import torch

    from helpers.plots import draw_digits

    axes = draw_digits(torch.zeros(2, 8, 8), [0, 9])
    assert [ax.get_title() for ax in axes] == ["0", "9"]


def test_confusion_matrix_rows_are_true_columns_predicted_and_counts_are_written():
    import torch

    from helpers.plots import draw_confusion_matrix

    matrix = torch.tensor([[5, 0, 1], [0, 6, 0], [2, 0, 4]])
    ax = draw_confusion_matrix(matrix, labels=["a", "b", "c"], title="cm")
    cells = {(text.get_position(), text.get_text()) for text in ax.texts}
    # (column, row) = (predicted, true): 1 sample of "a" predicted "c", 2 of "c" predicted "a"
    assert cells == {((0, 0), "5"), ((2, 0), "1"), ((1, 1), "6"), ((0, 2), "2"), ((2, 2), "4")}
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("predicted", "true", "cm")
    assert ax.images[0].get_clim() == (0, 4)  # twice the largest mistake: mistakes show


def test_confusion_matrix_takes_nested_lists_and_numbers_its_classes():
    from helpers.plots import draw_confusion_matrix

    ax = draw_confusion_matrix([[3, 0], [0, 2]])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["0", "1"]
    assert ax.images[0].get_clim() == (0, 2)  # no mistakes: the scale still starts at 0
