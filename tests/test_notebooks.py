"""``python -m helpers execute``'s tidying: what a re-executed notebook keeps."""

from __future__ import annotations

import nbformat
from nbformat.v4 import new_code_cell, new_notebook, new_output

from helpers.notebooks import WIDGET_VIEW, tidy


def test_tidy_drops_timings_widget_views_and_widget_state_and_merges_streams():
    printed = new_code_cell("print(1); print(2)", execution_count=3)
    printed.metadata["execution"] = {"iopub.execute_input": "2026-12-01T21:00:00Z"}
    printed.outputs = [
        new_output("stream", name="stdout", text="train mode, values:"),
        new_output("stream", name="stdout", text=" [0.0, 2.0]\n"),
        new_output("stream", name="stderr", text="a warning\n"),
        new_output("stream", name="stdout", text="eval mode\n"),
    ]
    widget = new_code_cell("display(widgets.VBox([]))", execution_count=4)
    view = {WIDGET_VIEW: {"model_id": "abc"}, "text/plain": "VBox(children=())"}
    widget.outputs = [new_output("display_data", data=view)]
    nb = new_notebook(cells=[printed, widget], metadata={"widgets": {"state": {}}})

    tidy(nb)

    assert "widgets" not in nb.metadata and "execution" not in printed.metadata
    assert [(o.name, o.text) for o in printed.outputs] == [
        ("stdout", "train mode, values: [0.0, 2.0]\n"),
        ("stderr", "a warning\n"),
        ("stdout", "eval mode\n"),
    ]
    assert printed.execution_count == 3
    assert (widget.outputs, widget.execution_count) == ([], None)
    nbformat.validate(nb)
