"""Drawings the lessons call, so that a lesson's cells read as lessons.

- ``draw_parameter_tree(model)``: every module and parameter of a model, indented by
  depth, the path to each being its dotted name (lesson 02);
- ``draw_module_tree(model)``: ``named_modules()`` numbered in its order, modules met at
  several places outlined in orange (lessons 04 and 06);
- ``draw_yes_no_table(rows)``: a coloured yes/no table with row and column headers
  (lesson 03).

Each function draws on the ``ax`` it is given, or on a new figure, and returns the axes.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.patches import Rectangle
from torch import nn

__all__ = ["draw_module_tree", "draw_parameter_tree", "draw_yes_no_table"]

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
