"""Drawings the lessons call, so that a lesson's cells read as lessons.

- ``draw_parameter_tree(model)``: every module and parameter of a model, indented by
  depth, the path to each being its dotted name (lesson 02);
- ``draw_module_tree(model)``: ``named_modules()`` numbered in its order, modules met at
  several places outlined in orange (lessons 04 and 06);
- ``draw_yes_no_table(rows)``: a coloured yes/no table with row and column headers
  (lesson 03);
- ``draw_hook_timeline(events)``: recorded hook calls as a sequence chart, one lane per
  module or tensor, forward and backward passes shaded (lesson 05);
- ``draw_activation_stats(means, stds)``: each layer's activation mean and standard
  deviation over training steps (lesson 05);
- ``draw_gradient_flow(flows)``: a gradient size per layer for one or more networks, on a
  log scale (lesson 05);
- ``draw_layer_stds(stds)``: the standard deviation of the activations after each layer of
  a deep network, one curve per initialization (lesson 06);
- ``draw_training_curves(history)``: a training run's losses and accuracies per epoch
  (lesson 07);
- ``draw_digits(images, labels, predictions)``: small greyscale images in a grid, each
  titled with its label and, where given, the prediction (lesson 07);
- ``draw_confusion_matrix(matrix)``: true class against predicted class, with counts
  (lesson 07).

Each function draws on the ``ax`` it is given (``draw_activation_stats`` and
``draw_training_curves``: the two ``axes``), or on a new figure, and returns the axes
(``draw_digits`` always draws a new figure, one axes per image).
"""

from __future__ import annotations

import itertools
import textwrap
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib.axes import Axes
from matplotlib.patches import Rectangle
from torch import nn

__all__ = [
    "draw_activation_stats",
    "draw_confusion_matrix",
    "draw_digits",
    "draw_gradient_flow",
    "draw_hook_timeline",
    "draw_layer_stds",
    "draw_module_tree",
    "draw_parameter_tree",
    "draw_training_curves",
    "draw_yes_no_table",
]

CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict, nn.ParameterList, nn.ParameterDict)
_TREE_COLOURS = {"container": "#cfe2f3", "layer": "#fde5c8", "parameter": "#d9ead3"}
_YES, _NO = "#b7e4c7", "#f4c7c3"


def _axes(ax: Axes | None, figsize: tuple[float, float]) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def _connect(ax: Axes, parent_x: float, parent_row: int, x: float, row: int) -> None:
    """An elbow line from a parent's row down to a child's row."""
    start = parent_x + 0.15
    ax.plot([start, start, x], [-parent_row - 0.3, -row, -row], color="grey", lw=0.8)


def _tree_rows(
    module: nn.Module, name: str = "", depth: int = 0, parent: int | None = None, rows=None
) -> list[tuple[int, str, str, int | None]]:
    """(depth, label, kind, parent row) for a module, its own parameters, then its children."""
    rows = [] if rows is None else rows
    kind = "container" if isinstance(module, CONTAINERS) or depth == 0 else "layer"
    rows.append((depth, f"{name or '(root)'}  ·  {type(module).__name__}", kind, parent))
    me = len(rows) - 1
    for param_name, param in module.named_parameters(recurse=False):
        full = f"{name}.{param_name}" if name else param_name
        rows.append((depth + 1, f"{full}  ·  {tuple(param.shape)}", "parameter", me))
    for child_name, child in module.named_children():
        child_full = f"{name}.{child_name}" if name else child_name
        _tree_rows(child, child_full, depth + 1, me, rows)
    return rows


def draw_parameter_tree(model: nn.Module, ax: Axes | None = None) -> Axes:
    """Draw every module and parameter of ``model`` as a tree of dotted names.

    Containers, layers and parameters get a colour each; a parameter sits one level
    below the module that registered it.

    Example:
        >>> ax = draw_parameter_tree(nn.Sequential(nn.Linear(2, 3), nn.ReLU()))
    """
    rows = _tree_rows(model)
    ax = _axes(ax, (9, 0.3 * len(rows) + 1))
    for i, (depth, label, kind, parent) in enumerate(rows):
        if parent is not None:
            _connect(ax, rows[parent][0], parent, depth, i)
        box = {"boxstyle": "round,pad=0.25", "fc": _TREE_COLOURS[kind], "ec": "grey"}
        ax.text(depth, -i, label, va="center", family="monospace", fontsize=10, bbox=box)
    ax.set_xlim(-0.2, max(r[0] for r in rows) + 4)
    ax.set_ylim(-len(rows), 1)
    ax.axis("off")
    handles = [Rectangle((0, 0), 1, 1, fc=c, ec="grey") for c in _TREE_COLOURS.values()]
    ax.legend(handles, list(_TREE_COLOURS), loc="upper right")
    return ax


def draw_module_tree(
    model: nn.Module,
    ax: Axes | None = None,
    *,
    title: str | None = None,
    remove_duplicate: bool = True,
    numbers: Mapping[str, Sequence[int]] | None = None,
) -> Axes:
    """Draw ``model.named_modules(remove_duplicate=...)`` as a tree, one row per entry.

    Each row is numbered in the order ``named_modules`` yields it (or, with ``numbers``,
    by the given numbers per qualified name, e.g. the order another traversal visits).
    A module registered at more than one place in the model is outlined in orange,
    whichever places this traversal shows.

    Args:
        model: the model to draw.
        ax: the axes to draw on (default: a new figure).
        title: the axes' title (default: the call it draws).
        remove_duplicate: passed to ``named_modules``.
        numbers: qualified name -> the numbers to print on that row.

    Example:
        >>> shared = nn.Linear(2, 2)
        >>> ax = draw_module_tree(nn.Sequential(shared, shared), remove_duplicate=False)
    """
    pairs = list(model.named_modules(remove_duplicate=remove_duplicate))
    ax = _axes(ax, (7, 0.4 * len(pairs) + 1))
    places: dict[int, int] = {}
    for _, module in model.named_modules(remove_duplicate=False):
        places[id(module)] = places.get(id(module), 0) + 1
    where: dict[str, tuple[int, int]] = {}
    for i, (name, module) in enumerate(pairs):
        depth = name.count(".") + 1 if name else 0
        if name:
            parent_depth, parent_row = where[name.rpartition(".")[0]]
            _connect(ax, parent_depth, parent_row, depth, i)
        shared = places[id(module)] > 1
        number = ", ".join(map(str, numbers[name])) if numbers is not None else str(i)
        ax.text(
            depth,
            -i,
            f"{number}  {name or '(root)'}: {type(module).__name__}",
            va="center",
            fontsize=10,
            bbox={
                "boxstyle": "round",
                "fc": "#fff4e5" if shared else "white",
                "ec": "tab:orange" if shared else "tab:blue",
                "lw": 2 if shared else 1,
            },
        )
        where[name] = (depth, i)
    ax.set_xlim(-0.2, max(d for d, _ in where.values()) + 3.5)
    ax.set_ylim(-len(pairs) + 0.4, 0.6)
    flag = "" if remove_duplicate else "remove_duplicate=False"
    ax.set_title(title if title is not None else f"named_modules({flag})")
    ax.axis("off")
    return ax


def _wrap(text: str, width: int) -> str:
    """``text`` on lines of about ``width`` characters, broken only at spaces."""
    return textwrap.fill(text, width, break_long_words=False, break_on_hyphens=False)


def draw_yes_no_table(
    rows: Mapping[str, Mapping[str, bool]], ax: Axes | None = None, *, title: str = ""
) -> Axes:
    """Draw a table of yes/no answers, green for yes and red for no.

    Args:
        rows: row label -> (column header -> answer); every row has the same columns.
        ax: the axes to draw on (default: a new figure sized to the table).
        title: the table's title.

    Example:
        >>> ax = draw_yes_no_table({"Parameter": {"trained": True, "saved": True}})
    """
    columns = list(next(iter(rows.values())))
    # Narrow columns (long headers and labels wrap at spaces), so that the text stays
    # large when a notebook shrinks the figure to a narrow output area.
    headers = ["", *(_wrap(c, 10) for c in columns)]
    labels = [_wrap(label, 16) for label in rows]
    label_width, column_width = 2.0, 1.6
    ax = _axes(ax, (label_width + column_width * len(columns), 0.62 * (len(rows) + 1) + 0.3))
    ax.axis("off")
    # Row labels are the first column, so that the whole table fits the axes' box.
    grid = ax.table(
        cellText=[
            [label] + ["yes" if row[c] else "no" for c in columns]
            for label, row in zip(labels, rows.values(), strict=True)
        ],
        cellColours=[
            ["white"] + [_YES if row[c] else _NO for c in columns] for row in rows.values()
        ],
        colLabels=headers,
        colWidths=[label_width] + [column_width] * len(columns),
        cellLoc="center",
        bbox=(0, 0, 1, 1),
    )
    grid.auto_set_font_size(False)
    grid.set_fontsize(12)
    for (row, col), cell in grid.get_celld().items():
        if row == 0:
            cell.set_text_props(weight="bold")
        if col == 0:
            cell.set_text_props(ha="left")
            cell.PAD = 0.04
    grid[0, 0].set_visible(False)
    if title:
        ax.set_title(title, fontsize=13, pad=8)
    return ax


def _phase(kind: str) -> str:
    """A hook kind that names "forward" belongs to the forward pass, any other to backward."""
    return "forward" if "forward" in kind else "backward"


_PHASE_COLOURS = {"forward": "#e8f1fb", "backward": "#fdf0e2"}


def draw_hook_timeline(
    events: Sequence[tuple[str, str]],
    ax: Axes | None = None,
    *,
    lanes: Sequence[str] | None = None,
    title: str = "The order in which hooks fire",
) -> Axes:
    """Draw recorded hook calls as a sequence chart: time runs down, one lane per place.

    Each event is ``(kind, where)``: the kind of hook that ran (``"forward hook"``,
    ``"tensor hook"``, ...) and where it ran (a module's name, a tensor's name). Event
    ``i`` is row ``i`` from the top: its number and kind are written on the left, in the
    kind's colour, and a numbered marker sits in the lane of ``where``; arrows join each
    event to the next. Rows whose kind names "forward" are shaded blue (the forward pass),
    the others orange (the backward pass: backward hooks and tensor hooks).

    Args:
        events: the hook calls in the order they happened.
        ax: the axes to draw on (default: a new figure sized to the events).
        lanes: the lanes from left to right (default: in order of first appearance);
            every ``where`` must be one of them.
        title: the axes' title.

    Example:
        >>> ax = draw_hook_timeline([("forward hook", "fc"), ("tensor hook", "x")])
    """
    lanes = list(dict.fromkeys(where for _, where in events)) if lanes is None else list(lanes)
    kinds = list(dict.fromkeys(kind for kind, _ in events))
    palette = plt.get_cmap("tab10" if len(kinds) <= 10 else "tab20")
    colour = {kind: palette(i % palette.N) for i, kind in enumerate(kinds)}
    label_width = 0.55 + 0.13 * max((len(kind) for kind in kinds), default=0)  # lane units
    ax = _axes(ax, (1.3 * (label_width + len(lanes)) + 0.5, 0.32 * len(events) + 1.2))
    # Shaded bands, one per run of rows of the same phase, labelled at the right edge.
    start = 0
    for i in range(1, len(events) + 1):
        if i == len(events) or _phase(events[i][0]) != _phase(events[start][0]):
            phase = _phase(events[start][0])
            ax.axhspan(-i + 0.5, -start + 0.5, color=_PHASE_COLOURS[phase], zorder=0)
            ax.text(
                len(lanes) - 0.45,
                -(start + i - 1) / 2,
                f"{phase} pass",
                rotation=90,
                va="center",
                ha="center",
                fontsize=9,
                color="dimgrey",
            )
            start = i
    for x in range(len(lanes)):
        ax.axvline(x, color="lightgrey", lw=1, zorder=1)
    points = [(lanes.index(where), -i) for i, (_, where) in enumerate(events)]
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        ax.annotate(
            "",
            (x1, y1),
            (x0, y0),
            arrowprops={"arrowstyle": "->", "color": "grey", "lw": 0.8, "shrinkA": 7, "shrinkB": 7},
            zorder=2,
        )
    for i, ((kind, _), (x, y)) in enumerate(zip(events, points, strict=True)):
        ax.plot(x, y, "o", ms=13, color=colour[kind], mec="black", mew=0.5, zorder=3)
        ax.text(x, y, str(i + 1), ha="center", va="center", fontsize=7, zorder=4)
        ax.text(-label_width, y, f"{i + 1:>2}  {kind}", va="center", fontsize=9, color=colour[kind])
    ax.set_xticks(range(len(lanes)), lanes)
    ax.xaxis.tick_top()
    ax.tick_params(axis="x", length=0)
    ax.set_yticks([])
    ax.set_xlim(-label_width - 0.1, len(lanes) - 0.25)
    ax.set_ylim(-len(events) + 0.5, 0.5)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_title(title, pad=22)
    return ax


def draw_activation_stats(
    means: Mapping[str, Sequence[float]],
    stds: Mapping[str, Sequence[float]],
    axes: Sequence[Axes] | None = None,
    *,
    title: str = "Activations per layer",
    xlabel: str = "training step",
) -> Sequence[Axes]:
    """Draw each layer's activation mean and standard deviation, one line per layer.

    Args:
        means: layer name -> the mean of its output at each step.
        stds: layer name -> the standard deviation of its output at each step.
        axes: two axes to draw on, means then stds (default: a new figure).
        title: the figure's title, above both panels.
        xlabel: the label of both x axes.

    Example:
        >>> axes = draw_activation_stats({"fc": [0.1, 0.2]}, {"fc": [1.0, 0.9]})
    """
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10, 3.2))
    for ax, values, what in ((axes[0], means, "mean"), (axes[1], stds, "standard deviation")):
        for name, series in values.items():
            ax.plot(range(len(series)), list(series), label=name)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(what)
        ax.set_title(f"{what} of each layer's output")
    axes[1].legend(title="layer", fontsize=8, loc="best")
    axes[0].figure.suptitle(title)
    axes[0].figure.tight_layout()
    return axes


def draw_gradient_flow(
    flows: Mapping[str, Mapping[str, float]],
    ax: Axes | None = None,
    *,
    title: str = "Gradient flow",
    ylabel: str = "mean |gradient|",
) -> Axes:
    """Draw a gradient size per layer, one line per network, on a log scale.

    Args:
        flows: network label -> (layer name -> a positive gradient size), layers in
            order from the input to the output; every network has the same layer names,
            which label the x axis (those of the first network).
        ax: the axes to draw on (default: a new figure).
        title: the axes' title.
        ylabel: the y axis' label.

    Example:
        >>> flows = {"relu": {"fc1": 0.1, "out": 0.2}, "sigmoid": {"fc1": 1e-5, "out": 0.1}}
        >>> ax = draw_gradient_flow(flows)
    """
    ax = _axes(ax, (7, 3.5))
    for label, sizes in flows.items():
        ax.plot(range(len(sizes)), list(sizes.values()), "o-", label=label)
    ax.set_yscale("log")
    names = list(next(iter(flows.values())))
    ax.set_xticks(range(len(names)), names)
    ax.set_xlabel("layer (input side on the left)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend()
    return ax


# -- lesson 06: apply


def draw_layer_stds(
    stds: Mapping[str, Sequence[float]],
    ax: Axes | None = None,
    *,
    title: str = "Standard deviation of each layer's output",
    input_std: float | None = None,
    ylim: tuple[float, float] | None = None,
) -> Axes:
    """Draw the standard deviation of each layer's output, one line per network, log scale.

    A line that stays level keeps the signal's size through the network; one that falls
    towards zero loses it (and one that climbs blows it up).

    Args:
        stds: label (an init scheme, say) -> the std of each layer's output, from the
            layer nearest the input on.
        ax: the axes to draw on (default: a new figure).
        title: the axes' title.
        input_std: the input's std, drawn as a dashed grey line (default: no line).
        ylim: the y axis' limits (default: matplotlib's); fix them so that pictures compare.

    Example:
        >>> ax = draw_layer_stds({"default": [0.5, 0.2, 0.1], "kaiming": [0.8, 0.8, 0.8]})
    """
    ax = _axes(ax, (6, 3.5))
    for label, series in stds.items():
        ax.plot(range(1, len(series) + 1), list(series), "o-", ms=3, label=label)
    if input_std is not None:
        ax.axhline(input_std, color="grey", ls="--", lw=1, label="input")
    ax.set_yscale("log")
    if ylim is not None:
        ax.set_ylim(ylim)
    ax.xaxis.get_major_locator().set_params(integer=True)  # layer numbers, not 2.5
    ax.set_xlabel("layer (1 = nearest the input)")
    ax.set_ylabel("std of the layer's output")
    ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=9)
    return ax


# -- lesson 07: the training loop


def draw_training_curves(
    history: Mapping[str, Sequence[float]],
    axes: Sequence[Axes] | None = None,
    *,
    title: str | None = None,
    loss_ylim: tuple[float, float] | None = None,
    accuracy_ylim: tuple[float, float] = (0.0, 1.02),
) -> Sequence[Axes]:
    """Draw a training run's curves per epoch: losses on the left, accuracies on the right.

    Every series whose name contains ``"loss"`` goes to the left panel, every other one
    (``"val_accuracy"``, ...) to the right. Epochs are
    numbered from 1: entry ``i`` of a series is the figure after epoch ``i + 1``.

    Args:
        history: series name -> one value per epoch, e.g. ``{"train_loss": [...],
            "val_accuracy": [...]}`` (what a ``fit`` function returns).
        axes: two axes to draw on, losses then accuracies (default: a new figure).
        title: the figure's title, above both panels (default: none).
        loss_ylim: the loss axis' limits (default: matplotlib's); fix them so that
            pictures compare.
        accuracy_ylim: the accuracy axis' limits (default: 0 to 1, a little headroom).

    Example:
        >>> axes = draw_training_curves({"train_loss": [0.9, 0.4], "val_accuracy": [0.8, 0.9]})
    """
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10, 3.2))
    loss_ax, accuracy_ax = axes
    for name, series in history.items():
        ax = loss_ax if "loss" in name else accuracy_ax
        values = [float(v) for v in series]
        ax.plot(range(1, len(values) + 1), values, "o-", ms=3, label=name)
    for ax, what in ((loss_ax, "loss"), (accuracy_ax, "accuracy")):
        ax.set_xlabel("epoch")
        ax.set_ylabel(what)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(True, alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=9)
    if loss_ylim is not None:
        loss_ax.set_ylim(loss_ylim)
    accuracy_ax.set_ylim(accuracy_ylim)
    if title is not None:
        loss_ax.figure.suptitle(title)
    loss_ax.figure.tight_layout()
    return axes


def draw_digits(
    images: Sequence,
    labels: Sequence[int],
    predictions: Sequence[int] | None = None,
    *,
    ncols: int = 10,
    title: str | None = None,
) -> list[Axes]:
    """Draw small square greyscale images in a grid, each titled with its label.

    With ``predictions``, each title reads ``"3 → 8"`` (label, then prediction), in red
    where they differ and in green where they agree.

    Args:
        images: N images, each a square (8×8) or flattened (64 values) array or tensor,
            0 white and the largest value black.
        labels: the N true labels.
        predictions: the N predicted labels (default: titles show the labels only).
        ncols: images per row.
        title: the figure's title (default: none).

    Returns:
        The N axes, in the order of the images.

    Example:
        >>> axes = draw_digits(torch.rand(3, 64), [0, 1, 2], [0, 7, 2])
    """
    images = [torch.as_tensor(image).detach().cpu().float() for image in images]
    count = len(images)
    rows = max(1, -(-count // ncols))
    fig, grid = plt.subplots(rows, ncols, figsize=(1.1 * ncols, 1.25 * rows + 0.4), squeeze=False)
    for ax in grid.flat:
        ax.axis("off")
    for i, (ax, image) in enumerate(zip(grid.flat, images, strict=False)):
        side = round(image.numel() ** 0.5)
        ax.imshow(image.reshape(side, side).numpy(), cmap="gray_r")
        label = int(labels[i])
        if predictions is None:
            ax.set_title(str(label), fontsize=10)
        else:
            predicted = int(predictions[i])
            colour = "tab:green" if predicted == label else "tab:red"
            ax.set_title(f"{label} → {predicted}", fontsize=10, color=colour)
    if title is not None:
        fig.suptitle(title)
    fig.tight_layout()
    return list(grid.flat)[:count]


def draw_confusion_matrix(
    matrix: Sequence[Sequence[int]],
    ax: Axes | None = None,
    *,
    labels: Sequence[str] | None = None,
    title: str = "Confusion matrix",
) -> Axes:
    """Draw a confusion matrix: row = the true class, column = the predicted one.

    Each non-zero cell shows its count. The colour scale stops at twice the largest count
    off the diagonal, so that a few mistakes stand out next to the large counts of the
    diagonal (which all show as the darkest blue).

    Args:
        matrix: a K×K table of counts, ``matrix[t][p]`` = samples of class ``t``
            predicted as ``p`` (a tensor, an array or nested lists).
        ax: the axes to draw on (default: a new figure).
        labels: the K class names (default: ``"0"`` … ``"K-1"``).
        title: the axes' title.

    Example:
        >>> ax = draw_confusion_matrix([[5, 1], [0, 6]], labels=["cat", "dog"])
    """
    counts = torch.as_tensor(matrix).detach().cpu()
    size = counts.shape[0]
    labels = [str(i) for i in range(size)] if labels is None else list(labels)
    ax = _axes(ax, (0.45 * size + 1.5, 0.45 * size + 1.2))
    off_diagonal = counts.clone().fill_diagonal_(0)
    top = max(int(off_diagonal.max()), 1) * 2  # the diagonal saturates; mistakes show
    ax.imshow(counts.numpy(), cmap="Blues", vmin=0, vmax=top)
    for t in range(size):
        for p in range(size):
            value = int(counts[t, p])
            if value:
                colour = "white" if value > top / 2 else "black"
                ax.text(p, t, str(value), ha="center", va="center", fontsize=8, color=colour)
    ax.set_xticks(range(size), labels)
    ax.set_yticks(range(size), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    return ax
