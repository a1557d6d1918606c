"""JupyterLab in Chromium for the browser tests (tests/test_browser.py).

- ``JupyterServer``: ``jupyter-lab`` started directly (the ``jupyter`` launcher forks, so
  stopping its PID would leave the server running) from the repository root, on a free
  local port, with temporary config, runtime, data, settings and workspace folders (the
  user's own settings never leak in). Autosave is off: a test never writes a notebook.
  ``stop()`` shuts the server down with every kernel it started and reports what is
  still alive or listening.
- ``Notebook``: one notebook open in its own browser page: Run All, wait until the
  kernel is idle, then read what a learner sees (outputs, widgets, check boxes) from the
  DOM, and act as a learner does (move a slider, type into a cell, follow a link).
- ``Pool``: notebooks run concurrently, a few at a time, in the order the tests ask for
  them, while the tests look at the ones that are done.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "tests" / "browser_output"  # gitignored
SCREENSHOTS = Path(os.environ.get("BROWSER_SCREENSHOTS") or OUTPUT / "screenshots")
SCRATCH = OUTPUT / "scratch"  # notebooks made by the tests of the tests, served from here

CHROMIUM_ARGS = [
    "--no-sandbox",  # root in a container
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
INSTALL_HINT = (
    "Chromium not found: install it (Debian/Ubuntu, as root: apt-get install chromium) "
    "or set BROWSER_CHROMIUM to its path"
)
ON_PURPOSE = "raises-on-purpose"  # a cell tag: this cell shows an error or stderr on purpose
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
# Moving a control that got no answer at all: after how many seconds, how many times.
SILENCE, RETRIES = 20, 2
STATUS_COLOURS = {  # helpers.grading._COLOURS as the browser reports them
    "pass": "rgb(26, 127, 55)",
    "fail": "rgb(207, 34, 46)",
    "not_implemented": "rgb(154, 103, 0)",
    "error": "rgb(130, 80, 223)",
}


def note(message: str) -> None:
    """A timestamped line in $BROWSER_TESTS_LOG, when set (to see where the time goes)."""
    log = os.environ.get("BROWSER_TESTS_LOG")
    if log:
        with open(log, "a") as file:
            file.write(f"{time.monotonic():10.2f} {message}\n")


def find_chromium() -> str | None:
    """The Chromium executable: $BROWSER_CHROMIUM, else ``chromium`` on the PATH."""
    for candidate in (
        os.environ.get("BROWSER_CHROMIUM"),
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
    ):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _die_with_parent() -> None:
    """In the server's process, before it starts: on Linux, ask for SIGTERM when the test
    process dies (killed by a timeout, say, with no chance to run its teardown); the
    server then shuts its kernels down. Elsewhere, nothing."""
    with contextlib.suppress(Exception):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)


# -- the server -------------------------------------------------------------------------------

# Written into the temporary user-settings folder: never autosave (the tests must not write
# the course's notebooks), no news or update pop-ups over the notebook.
LAB_SETTINGS = {
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


class JupyterServer:
    """A JupyterLab server for the tests; ``stop()`` ends it and everything it started."""

    def __init__(self, root: Path = ROOT) -> None:
        self.root = root
        self.folder = Path(tempfile.mkdtemp(prefix="browser-tests-"))
        self.process: subprocess.Popen | None = None
        self.port = 0
        self.kernel_pids: set[int] = set()
        self.kernel_ports: set[int] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90) -> None:
        dirs = {}
        for name in ("config", "runtime", "data", "settings", "workspaces", "checkpoints"):
            dirs[name] = self.folder / name
            dirs[name].mkdir()
        for relative, values in LAB_SETTINGS.items():
            path = dirs["settings"] / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        env = dict(
            os.environ,
            JUPYTER_CONFIG_DIR=str(dirs["config"]),
            JUPYTER_RUNTIME_DIR=str(dirs["runtime"]),
            JUPYTER_DATA_DIR=str(dirs["data"]),
            JUPYTER_PLATFORM_DIRS="1",
            JUPYTERLAB_SETTINGS_DIR=str(dirs["settings"]),
            JUPYTERLAB_WORKSPACES_DIR=str(dirs["workspaces"]),
        )
        env.pop("JUPYTER_PATH", None)
        lab = Path(sys.executable).parent / "jupyter-lab"
        for _attempt in range(3):  # a free port can be taken before the server binds it
            self.port = free_port()
            log = (self.folder / "server.log").open("ab")
            self.process = subprocess.Popen(
                [
                    str(lab),
                    "--no-browser",
                    "--allow-root",
                    f"--port={self.port}",
                    "--ip=127.0.0.1",
                    "--ServerApp.port_retries=0",
                    f"--ServerApp.root_dir={self.root}",
                    "--IdentityProvider.token=",
                    "--ServerApp.password=",
                    "--ServerApp.disable_check_xsrf=True",
                    f"--LabApp.user_settings_dir={dirs['settings']}",
                    f"--LabApp.workspaces_dir={dirs['workspaces']}",
                    "--LabApp.expose_app_in_browser=True",
                    "--LabApp.news_url=None",
                    "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                    "--JupyterNotebookApp.expose_app_in_browser=True",
                    # JupyterLab makes a checkpoint of each notebook it opens: not beside it
                    f"--FileCheckpoints.checkpoint_dir={dirs['checkpoints']}",
                    "--ServerApp.jpserver_extensions=jupyter_lsp=False",
                ],
                cwd=self.root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() can end it whole
                preexec_fn=_die_with_parent,
            )
            log.close()
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.process.poll() is None:
                with contextlib.suppress(OSError):
                    if self.api("GET", "/api/status") is not None:
                        return
                time.sleep(0.2)
            self._terminate()
        raise RuntimeError(f"jupyter-lab did not start; its log:\n{self.log()[-3000:]}")

    def log(self) -> str:
        path = self.folder / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def api(self, method: str, path: str, body: dict | None = None, timeout: float = 30):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=timeout) as response:
            text = response.read()
        return json.loads(text) if text else {}

    def sessions(self) -> list[dict]:
        return self.api("GET", "/api/sessions")

    def note_kernels(self) -> None:
        """Remember every kernel's process and ports (checked after the stop)."""
        if self.process is None:
            return
        self.kernel_pids |= descendants(self.process.pid)
        for connection in (self.folder / "runtime").glob("kernel-*.json"):
            with contextlib.suppress(OSError, ValueError):
                info = json.loads(connection.read_text())
                self.kernel_ports |= {
                    info[key] for key in info if key.endswith("_port") and info[key]
                }

    def shut_down_sessions(self, path: str) -> None:
        """Shut down the session (and kernel) of the notebook at ``path``, if any."""
        self.note_kernels()
        for session in self.sessions():
            if session.get("path") == path:
                with contextlib.suppress(OSError):
                    self.api("DELETE", f"/api/sessions/{session['id']}")

    def stop(self) -> list[str]:
        """Stop the server and its kernels; return what is still running or listening."""
        if self.process is None:
            return []
        self.note_kernels()
        if self.process.poll() is None:
            with contextlib.suppress(OSError):
                self.api("POST", "/api/shutdown", timeout=10)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._terminate()
        self._terminate()
        deadline = time.monotonic() + 10
        pids = {self.process.pid, *self.kernel_pids}
        while time.monotonic() < deadline and any(alive(pid) for pid in pids):
            time.sleep(0.1)
        left = [f"process {pid} is still running" for pid in sorted(pids) if alive(pid)]
        for pid in pids:  # never leave one behind, even when reporting it
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        ports = {self.port, *self.kernel_ports}
        left += [f"port {port} is still listening" for port in sorted(ports) if listening(port)]
        shutil.rmtree(self.folder, ignore_errors=True)
        return left

    def _terminate(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, sig)
            try:
                self.process.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue


# -- a notebook in a page ---------------------------------------------------------------------

# The JupyterLab notebook panel of the document at `path` (JupyterLab or Notebook 7).
_PANEL = """
const app = window.jupyterapp;
const panel = app && Array.from(app.shell.widgets('main')).find(
    w => w.context && w.context.path === path && w.content && w.content.widgets);
"""

# Run All as soon as the notebook is shown and its kernel is ready, from the page itself
# (so that notebooks start while the tests work on others). The outcome lands in
# window.__runAll.
_AUTORUN = """(path) => {
    window.__runAll = null;
    window.__times = {};
    const timer = setInterval(() => {
        const app = window.jupyterapp;
        const panel = app && Array.from(app.shell.widgets('main')).find(
            w => w.context && w.context.path === path && w.content && w.content.widgets);
        if (!panel || !panel.content.widgets.length) return;
        window.__times.shown = window.__times.shown || performance.now();
        const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
        if (!kernel || kernel.status !== 'idle' || kernel.connectionStatus !== 'connected') return;
        clearInterval(timer);
        app.shell.activateById(panel.id);
        window.__runAll = {started: performance.now()};
        app.commands.execute('notebook:run-all-cells').then(
            ok => { window.__runAll.ok = ok; window.__runAll.ended = performance.now(); },
            error => { window.__runAll.error = String(error); });
    }, 100);
}"""

_IDLE_AND_SETTLED = (
    "(path) => {"
    + _PANEL
    + """
    if (!panel) return false;
    const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
    if (!kernel || kernel.status !== 'idle') return false;
    const prompts = panel.node.querySelectorAll('.jp-InputPrompt');
    return !Array.from(prompts).some(p => p.textContent.includes('*'));
}"""
)

# What a learner sees in each cell: its source and tags, the outputs the kernel sent (the
# model) and what the page rendered for them. Texts are read with textContent: JupyterLab
# does not draw cells off the screen (content-visibility), and innerText is '' there.
_CELLS = (
    "(path) => {"
    + _PANEL
    + """
    return panel.content.widgets.map((cell, index) => {
        const model = cell.model;
        const info = {index, type: model.type, tags: model.getMetadata('tags') || [],
                      source: model.sharedModel.getSource()};
        if (model.type !== 'code') return info;
        info.executionCount = model.executionCount;
        info.outputs = [];
        for (let i = 0; i < model.outputs.length; i++) {
            const output = model.outputs.get(i).toJSON();
            info.outputs.push({type: output.output_type, name: output.name || null,
                               mimes: Object.keys(output.data || {}),
                               error: output.ename ? output.ename + ': ' + output.evalue : null});
        }
        const area = cell.node.querySelector('.jp-Cell-outputArea');
        info.rendered = area ? Array.from(area.children).map(child => {
            const out = child.querySelector(':scope > .jp-OutputArea-output');
            return out ? {mime: out.getAttribute('data-mime-type'),
                          text: out.textContent.slice(0, 300),
                          widget: !!out.querySelector('.jupyter-widgets'),
                          controls: out.querySelectorAll(
                              '.widget-slider, .widget-toggle-buttons, .widget-dropdown, '
                              + '.widget-progress').length} : null;
        }) : [];
        info.stderr = Array.from(cell.node.querySelectorAll(
            '[data-mime-type="application/vnd.jupyter.stderr"]')).map(
            e => e.textContent.slice(0, 500));
        return info;
    });
}"""
)

# A fingerprint of what a widget's output area shows (its text and its images' sources),
# and how often the area changed in any way (a mutation observer, installed on first use)
# and how long ago it last did: the function behind the widget has run when the area was
# touched and then stayed quiet while the kernel is idle.
_FINGERPRINT = """(element) => {
    const out = element.querySelector('.widget-output');
    if (!out) return {hash: '', filled: false, mutations: 0, quiet: 0};
    if (!out.__watch) {
        const watch = out.__watch = {count: 0, last: performance.now()};
        new MutationObserver(() => { watch.count++; watch.last = performance.now(); })
            .observe(out, {childList: true, subtree: true, attributes: true,
                           characterData: true});
    }
    const images = Array.from(out.querySelectorAll('img')).map(img => img.src).join(' ');
    const text = out.textContent + '|' + images;
    let hash = 0;
    for (let i = 0; i < text.length; i++) hash = (hash * 31 + text.charCodeAt(i)) | 0;
    return {hash: String(hash) + ':' + text.length, filled: text.length > 1,
            mutations: out.__watch.count, quiet: performance.now() - out.__watch.last};
}"""

# What a widget's output shows on stderr: a traceback of its function, or a warning.
_WIDGET_STDERR = """(element) => Array.from(element.querySelectorAll(
    '.widget-output [data-mime-type="application/vnd.jupyter.stderr"]'))
    .map(e => e.textContent.trim().slice(-2000))"""

# The texts of a widget's controls that the page cuts short (a button label or a
# description ending in "..." because its box is too narrow for it).
_CLIPPED = """(element) => Array.from(
    element.querySelectorAll('button, .widget-label, .widget-readout, .widget-inline-hbox label'))
    .filter(e => e.offsetParent !== null && e.scrollWidth > e.clientWidth + 1)
    .map(e => e.textContent.trim())"""

# The check box's look, every word of it that the page broke across two lines (a word
# wider than its line may wrap; any other split is a word broken in the middle) and every
# part whose text is wider than its place.
_BOX = """(box) => {
    const style = getComputedStyle(box);
    const headline = box.firstElementChild;
    const rows = [];
    const grid = box.querySelector(':scope > div[style*="grid"]');
    if (grid) {
        const cells = Array.from(grid.children);
        for (let i = 0; i + 1 < cells.length; i += 2)
            rows.push([cells[i].innerText.trim(), cells[i + 1].innerText]);
    }
    const broken = [];
    let lines = 0;
    const walker = document.createTreeWalker(box, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const width = node.parentElement.closest('div').clientWidth;
        const words = /\\S+/g;
        let match;
        while ((match = words.exec(node.textContent))) {
            const range = document.createRange();
            range.setStart(node, match.index);
            range.setEnd(node, match.index + match[0].length);
            const rects = Array.from(range.getClientRects()).filter(r => r.width > 0);
            const tops = new Set(rects.map(r => Math.round(r.top)));
            const wide = rects.reduce((sum, r) => sum + r.width, 0);
            if (tops.size > 1 && wide < width) broken.push(match[0]);
        }
    }
    // Text wider than its place: shown past the box's edge, or cut off.
    const overflowing = [box, ...(grid ? Array.from(grid.children) : [])]
        .filter(e => e.scrollWidth > e.clientWidth + 1)
        .map(e => e === box ? 'the box' : e.innerText.trim().slice(0, 60));
    const tops = new Set();
    const all = document.createRange();
    all.selectNodeContents(box);
    for (const r of all.getClientRects()) if (r.width > 0) tops.add(Math.round(r.top));
    return {
        status: box.getAttribute('data-status'),
        headline: headline ? headline.innerText : '',
        headlineWeight: headline ? getComputedStyle(headline).fontWeight : '',
        headlineColour: headline ? getComputedStyle(headline).color : '',
        rows,
        wordBreak: style.wordBreak,
        overflowWrap: style.overflowWrap,
        borderLeft: style.borderLeftWidth + ' ' + style.borderLeftColor,
        paddingLeft: style.paddingLeft,
        broken,
        overflowing,
        lines: tops.size,
    };
}"""


@dataclass
class BoxView:
    """A rendered check box, as the page shows it."""

    status: str
    headline: str
    rows: list[list[str]]
    problems: list[str]
    lines: int

    def row(self, label: str) -> str | None:
        return next((value for key, value in self.rows if key == label), None)


def box_problems(info: dict) -> list[str]:
    """What is wrong with a check box's look: its style and words broken across lines."""
    problems = []
    status = info["status"]
    if info["wordBreak"] == "break-all":
        problems.append("word-break: break-all (a word may break anywhere)")
    if info["overflowWrap"] not in ("break-word", "anywhere"):
        problems.append(
            f"overflow-wrap: {info['overflowWrap']} (a long token overflows the box; the "
            "box's own wrapping style is missing)"
        )
    colour = STATUS_COLOURS.get(status, "?")
    if info["borderLeft"] != f"4px {colour}":
        problems.append(f"no {status} border (border-left: {info['borderLeft']})")
    if info["headlineWeight"] not in ("700", "bold") or info["headlineColour"] != colour:
        problems.append(
            f"the headline is not bold in the {status} colour "
            f"({info['headlineWeight']}, {info['headlineColour']})"
        )
    if info["paddingLeft"] in ("0px", ""):
        problems.append("the box has no padding")
    if info["broken"]:
        problems.append(f"words broken across lines: {info['broken'][:5]}")
    if info["overflowing"]:
        problems.append(f"text wider than the box: {info['overflowing'][:5]}")
    return problems


@dataclass
class Notebook:
    """One notebook open in a page of its own."""

    page: object  # playwright.sync_api.Page
    server: JupyterServer
    path: str  # relative to the server root, with forward slashes
    ui: str = "lab"  # "lab" or "notebook" (Notebook 7)
    started: float = field(default_factory=time.monotonic)
    run_seconds: float | None = None
    # Called while this notebook's test waits for the page (the pool starts others then).
    tick: Callable[[], None] = lambda: None

    @property
    def name(self) -> str:
        return Path(self.path).stem

    def open(self) -> None:
        """Load the page; Run All starts by itself once the kernel is ready."""
        if self.ui == "lab":
            # A workspace of its own: JupyterLab sends a second page that opens a
            # workspace already open elsewhere to a new one (a navigation mid-test).
            workspace = f"w{next(_WORKSPACES)}"
            url = f"{self.server.url}/lab/workspaces/{workspace}/tree/{self.path}?reset"
        else:
            url = f"{self.server.url}/notebooks/{self.path}"
        self.started = time.monotonic()
        self.page.goto(url, wait_until="domcontentloaded", timeout=60_000)
        self.page.evaluate(_AUTORUN, self.path)

    def run_state(self) -> str:
        """One of: running; finished (Run All done, kernel idle); what went wrong."""
        state = self.page.evaluate("() => window.__runAll")
        if state and state.get("error"):
            return f"Run All failed: {state['error']}"
        if state and "ok" in state and self.page.evaluate(_IDLE_AND_SETTLED, self.path):
            return "finished"
        return "running"

    def wait_for(self, script: str, arg=None, timeout: float = 120, what: str = "") -> None:
        """Poll ``script`` (a JS function of ``arg``) until it returns true, letting the
        pool start other notebooks meanwhile."""
        deadline = time.monotonic() + timeout
        while not self.page.evaluate(script, arg):
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.path}: timed out waiting for {what or script}")
            self.tick()
            time.sleep(0.1)

    def wait_idle(self, timeout: float = 120) -> None:
        self.wait_for(_IDLE_AND_SETTLED, self.path, timeout, "the kernel to be idle")

    def cells(self, path: str | None = None) -> list[dict]:
        """What each cell of this notebook (or of the open document at ``path``) shows."""
        return self.page.evaluate(_CELLS, path or self.path)

    def panel(self, path: str | None = None):
        """The notebook panel of this notebook (or of the open document at ``path``)."""
        panel_id = self.page.evaluate(
            "(path) => {" + _PANEL + "return panel.id; }", path or self.path
        )
        return self.page.locator(f"[id='{panel_id}']")

    def cell(self, index: int, path: str | None = None):
        return self.panel(path).locator(".jp-Notebook .jp-Cell").nth(index)

    # -- what a learner sees after Run All

    def output_problems(self, settle: float = 20) -> list[str]:
        """Cells that did not run, raised, or wrote to stderr (tagged cells excepted),
        and widgets shown as text or as an error. A widget view is drawn a moment after
        its output arrives: problems with widgets count once they persist for ``settle``
        seconds."""
        deadline = time.monotonic() + settle
        while True:
            problems = self._output_problems()
            if not any(WIDGET_PENDING in p for p in problems) or time.monotonic() > deadline:
                return [p.replace(WIDGET_PENDING, "") for p in problems]
            self.tick()
            time.sleep(0.2)

    def _output_problems(self) -> list[str]:
        problems = []
        for cell in self.cells():
            if cell["type"] != "code":
                continue
            where = f"cell {cell['index']} ({_first_line(cell['source'])})"
            if ON_PURPOSE in cell["tags"]:
                continue
            if cell["executionCount"] is None and cell["source"].strip():
                problems.append(f"{where} did not run")
            for output in cell["outputs"]:
                if output["error"]:
                    problems.append(f"{where} raised {output['error']}")
                elif output["type"] == "stream" and output["name"] == "stderr":
                    problems.append(f"{where} wrote to stderr")
            problems += [f"{where} shows stderr: {text[:200]!r}" for text in cell["stderr"]]
            problems += widget_problems(cell, where)
        return [f"a dialog is open: {text!r}" for text in self.dialogs()] + problems

    def dialogs(self) -> list[str]:
        """The text of every dialog over the page: the kernel died ("appears to have
        died"), a file could not be opened, ..."""
        return self.page.evaluate(
            "() => Array.from(document.querySelectorAll('.jp-Dialog'),"
            " d => d.textContent.replace(/\\s+/g, ' ').trim().slice(0, 200))"
        )

    def widget_views(self) -> list:
        """The top-level widget outputs, in notebook order (playwright locators)."""
        return (
            self.panel()
            .locator(
                ".jp-Cell-outputArea > .jp-OutputArea-child > .jp-OutputArea-output"
                ":has(> .jupyter-widgets)"
            )
            .all()
        )

    def screenshot(self, locator, name: str) -> Path:
        path = SCREENSHOTS / self.name / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        start = time.monotonic()
        locator.scroll_into_view_if_needed()
        locator.screenshot(path=str(path), animations="disabled")
        note(f"screenshot {name} {time.monotonic() - start:.2f} s")
        return path

    def screenshot_figures(self) -> list[str]:
        """Save every figure the notebook drew (outside widgets), one file each; return
        the figures the page could not draw (an image that did not load)."""
        figures = self.page.evaluate(
            "(path) => {"
            + _PANEL
            + """
            return panel.content.widgets.flatMap((cell, index) => Array.from(
                cell.node.querySelectorAll('.jp-Cell-outputArea > .jp-OutputArea-child > '
                    + '.jp-OutputArea-output[data-mime-type^="image/"]'),
                (_, k) => [index, k]));
        }""",
            self.path,
        )
        problems = []
        for index, k in figures:
            image = (
                self.cell(index)
                .locator(
                    ".jp-Cell-outputArea > .jp-OutputArea-child > "
                    ".jp-OutputArea-output[data-mime-type^='image/']"
                )
                .nth(k)
            )
            image.scroll_into_view_if_needed()
            drawn = "(e) => { const img = e.querySelector('img');"
            drawn += " return !img || (img.complete && img.naturalWidth > 0); }"
            if image.evaluate(drawn):
                self.screenshot(image, f"cell{index:02d}-figure{k + 1}")
            else:
                problems.append(f"cell {index}: figure {k + 1} did not load")
            self.tick()
        return problems

    def kernel_idle(self) -> bool:
        return bool(
            self.page.evaluate(
                "(path) => {"
                + _PANEL
                + "const k = panel.sessionContext.session?.kernel; return k?.status === 'idle'; }",
                self.path,
            )
        )

    def exercise_widget(
        self, view, label: str, timeout: float = 180, silence: float = SILENCE
    ) -> list[str]:
        """Move every control of one widget and check that its output changes each time;
        screenshot it before and after each move. Returns what went wrong (also a
        widget with controls of which none could be moved, a control whose label or value
        is cut short, and an output that shows an error or stderr)."""
        problems = []
        view.evaluate(_FINGERPRINT)  # starts watching the output area
        self.screenshot(view, f"{label}-initial")
        if clipped := view.evaluate(_CLIPPED):
            problems.append(f"{label}: text cut short: {clipped}")
        if errors := view.evaluate(_WIDGET_STDERR):
            problems.append(f"{label} shows an error or stderr: {_last_line(errors[0])!r}")
        moves = 0
        controls = list(_controls(view))
        for control in controls:
            before = view.evaluate(_FINGERPRINT)
            description = control.move()
            if description is None:
                continue
            moves += 1
            problem = self._await_new_output(view, control, before, description, timeout, silence)
            if problem:
                problems.append(f"{label}: {problem}")
            note(f"moved {description}")
            self.screenshot(view, f"{label}-{moves}-{_slug(description)}")
            if errors := view.evaluate(_WIDGET_STDERR):
                problems.append(
                    f"{label}: after {description}, it shows an error or stderr: "
                    f"{_last_line(errors[0])!r}"
                )
        if controls and not moves:
            problems.append(f"{label}: none of its {len(controls)} controls could be moved")
        return problems

    def _await_new_output(
        self,
        view,
        control: _Control,
        before: dict,
        description: str,
        timeout: float,
        silence: float,
    ) -> str | None:
        """Wait until the widget's output shows something other than ``before`` (what it
        showed before ``description``) and the kernel is idle; None, or what went wrong.

        Under load, a move now and then gets no answer at all: the control shows its new
        value, the kernel is idle, and the output never changes (seen in lesson 06 in
        the full suite on a loaded 2-core machine, never alone). So after ``silence``
        seconds without any change to the output, the control is moved again, as a
        learner would, at most ``RETRIES`` times. A widget that answers with what it
        showed before fails at once; one that never answers fails after the retries."""
        mark, moved_at, retries = before, time.monotonic(), 0
        deadline = moved_at + timeout
        while True:
            self.tick()
            time.sleep(0.1)
            now = view.evaluate(_FINGERPRINT)
            answered = now["mutations"] > mark["mutations"] and now["quiet"] > 300
            again = False
            if answered and self.kernel_idle():
                if now["hash"] != before["hash"] and now["filled"]:
                    return None
                if now["quiet"] > 1500:  # ran, and shows what it showed before
                    if not retries:
                        return f"{description} did not change its output"
                    if retries == RETRIES:
                        return f"{description} did not change its output, moved {retries + 1} times"
                    again = True  # a move again may have gone back to the first value
            elif now["mutations"] == mark["mutations"] and time.monotonic() - moved_at > silence:
                again = retries < RETRIES and self.kernel_idle()
            if again:
                retries += 1
                note(f"no new output after {description}: moved it again ({retries})")
                control.move()
                mark, moved_at = now, time.monotonic()
            if time.monotonic() > deadline:
                return (
                    f"{description} did not change its output in {timeout:g} s, moved "
                    f"{retries + 1} times ({now['mutations'] - before['mutations']} changes, "
                    f"the last {now['quiet']:.0f} ms ago; kernel idle: {self.kernel_idle()}; "
                    f"the same text: {now['hash'] == before['hash']})"
                )

    # -- exercises: a learner types into a cell and runs it

    def type_into(self, index: int, source: str) -> None:
        """Replace cell ``index``'s text as a learner does: click, select all, paste."""
        editor = self.cell(index).locator(".cm-content")
        editor.scroll_into_view_if_needed()
        editor.click()
        self.page.keyboard.press("Control+A")
        self.page.keyboard.insert_text(source)
        typed = self.cells()[index]["source"]
        if typed != source:
            raise AssertionError(f"the editor changed the typed code:\n{typed}")

    def run_cell_and_next(self) -> None:
        """Shift+Enter: run the cell being edited, then select the next one."""
        self.page.keyboard.press("Shift+Enter")

    def check_box(self, index: int) -> BoxView:
        box = self.cell(index).locator(".inside-nn-module-check").first
        box.wait_for(timeout=30_000)
        box.scroll_into_view_if_needed()
        info = box.evaluate(_BOX)
        return BoxView(
            info["status"], info["headline"], info["rows"], box_problems(info), info["lines"]
        )

    def check_boxes(self) -> list[tuple[int, BoxView]]:
        boxes = []
        for cell in self.cells():
            if cell["type"] == "code" and cell["source"].strip().startswith("run_check("):
                boxes.append((cell["index"], self.check_box(cell["index"])))
        return boxes

    # -- links between notebooks

    def follow_link(self, source: str, target: str, timeout: float = 60) -> None:
        """In the open document ``source``, click the rendered Markdown link to ``target``
        (paths from the server root) and wait until ``target`` is the active document,
        with its cells shown."""
        name = Path(target).name
        index = next(
            (
                c["index"]
                for c in self.cells(source)
                if c["type"] == "markdown" and f"{name})" in c["source"]
            ),
            None,
        )
        if index is None:
            raise AssertionError(f"{source}: no Markdown link to {name}")
        cell = self.cell(index, source)
        cell.scroll_into_view_if_needed()  # links resolve when shown
        link = cell.locator(f"a[href*='/{name}?'], a[href$='/{name}']").first
        href = link.get_attribute("href")
        link.click()
        try:
            self.wait_for(
                """(target) => {
                    const w = window.jupyterapp.shell.currentWidget;
                    return !!w && !!w.context && w.context.path === target
                        && w.context.isReady && !w.isHidden && w.content.widgets.length > 0
                        && !!w.content.widgets[0].node.querySelector(
                            '.jp-RenderedMarkdown, .cm-content');
                }""",
                target,
                timeout,
                f"{target} to open",
            )
        except AssertionError as exc:
            raise AssertionError(f"{exc} (the link: {href!r}; dialogs: {self.dialogs()})") from None

    def active_path(self) -> str:
        return self.page.evaluate(
            "() => window.jupyterapp.shell.currentWidget?.context?.path ?? null"
        )


_WORKSPACES = itertools.count(1)


def _first_line(source: str) -> str:
    line = next((ln for ln in source.splitlines() if ln.strip()), "")
    return line[:60]


def _last_line(text: str) -> str:
    """The last non-empty line (of a traceback: the exception), at most 200 characters."""
    return next((ln.strip() for ln in reversed(text.splitlines()) if ln.strip()), "")[:200]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40]


WIDGET_REPR = re.compile(r"^\s*\w*(Box|Slider|Buttons?|Dropdown|Output|Label|Progress)\(")


WIDGET_PENDING = "\u2063"  # marks a widget problem that may still go away


def widget_problems(cell: dict, where: str) -> list[str]:
    """A widget the kernel sent that the page did not render as a control, or shows as
    text (``VBox(...)``) or as "Error displaying widget"."""
    problems = []
    for k, output in enumerate(cell["outputs"]):
        rendered = cell["rendered"][k] if k < len(cell["rendered"]) else None
        if WIDGET_VIEW in output["mimes"] and not (rendered and rendered["widget"]):
            shown = rendered["text"][:80] if rendered else "nothing"
            problems.append(f"{where}: a widget shows as {shown!r}, not as a control")
            problems[-1] += WIDGET_PENDING
    for rendered in cell["rendered"]:
        if rendered is None:
            continue
        if "Error displaying widget" in rendered["text"]:
            problems.append(f"{where}: {rendered['text'][:120]!r}")
        elif WIDGET_REPR.match(rendered["text"]) and not rendered["widget"]:
            problems.append(f"{where}: a widget shows as text {rendered['text'][:80]!r}")
    if "display(widgets." in cell["source"] and not any(
        r and r["widget"] and r["controls"] for r in cell["rendered"]
    ):
        problems.append(f"{where} displays a widget, but no control is shown{WIDGET_PENDING}")
    return problems


@dataclass
class _Control:
    kind: str
    locator: object

    def move(self) -> str | None:
        """Change the control as a learner does; describe the move (None: cannot move)."""
        if self.kind == "slider":  # a click on the track, a quarter of the way from an end
            handle = self.locator.locator(".noUi-handle").first
            now = float(handle.get_attribute("aria-valuenow"))
            low = float(handle.get_attribute("aria-valuemin"))
            high = float(handle.get_attribute("aria-valuemax"))
            track = self.locator.locator(".noUi-target").first
            box = track.bounding_box()
            fraction = 0.75 if (now - low) < (high - low) / 2 else 0.25
            track.click(position={"x": box["width"] * fraction, "y": box["height"] / 2})
            label = self.locator.locator(".widget-label").first.inner_text().strip()
            return (
                f"slider {label} from {now:g} to {float(handle.get_attribute('aria-valuenow')):g}"
            )
        if self.kind == "toggle":
            buttons = self.locator.locator("button:not(.mod-active)")
            if not buttons.count():
                return None
            button = buttons.first
            text = button.inner_text().strip()
            button.click()
            return f"button {text}"
        if self.kind == "dropdown":
            select = self.locator.locator("select").first
            current = select.input_value()
            options = [o for o in select.locator("option").all_inner_texts() if o != current]
            if not options:
                return None
            select.select_option(label=options[0])
            return f"menu {options[0]}"
        return None


def _controls(view) -> Iterator[_Control]:
    for kind, selector in (
        ("slider", ".widget-slider"),
        ("toggle", ".widget-toggle-buttons"),
        ("dropdown", ".widget-dropdown"),
    ):
        for locator in view.locator(selector).all():
            yield _Control(kind, locator)


# -- running several notebooks at once --------------------------------------------------------


@dataclass
class Job:
    path: str
    ui: str = "lab"
    holds: frozenset[str] = frozenset()  # paths no other job may use meanwhile
    notebook: Notebook | None = None
    error: str | None = None
    done: bool = False


class Pool:
    """Opens and runs notebooks a few at a time, in the order given; a test asks for its
    notebook with ``wait(path)`` and hands it back with ``release``.

    Jobs whose paths overlap never run at once: a session (and so a kernel) belongs to a
    path, so two pages on one path share a kernel. A lesson's job holds its exercise too,
    which the lesson's test opens by following its link.
    """

    def __init__(
        self,
        server: JupyterServer,
        new_page: Callable,
        order: list[tuple[str, str, frozenset[str]]],
        width: int,
    ) -> None:
        self.server = server
        self.new_page = new_page
        self.queue = [Job(path, ui, holds | {path}) for path, ui, holds in order]
        self.width = width
        self.active: list[Job] = []
        self._pumping = False

    def pump(self) -> None:
        """Open queued notebooks while fewer than ``width`` are running; note those that
        finished. Called whenever a test waits for its page."""
        if self._pumping:
            return
        self._pumping = True
        try:
            self._pump()
        finally:
            self._pumping = False

    def _pump(self) -> None:
        for job in self.active:
            if job.done or job.notebook is None:
                continue
            nb = job.notebook
            try:
                state = nb.run_state()
            except Exception as exc:
                state = f"{type(exc).__name__}: {exc}"
            if state == "finished":
                nb.run_seconds = time.monotonic() - nb.started
                job.done = True
                times = nb.page.evaluate(
                    "() => [window.__times.shown, window.__runAll.started, window.__runAll.ended]"
                )
                note(
                    f"ran {job.path} in {nb.run_seconds:.1f} s (from opening; shown, kernel "
                    f"ready, done at {', '.join(f'{t / 1000:.1f}' for t in times)} s)"
                )
            elif state != "running":
                job.error, job.done = state, True
            elif time.monotonic() - nb.started > 600:
                job.error, job.done = "Run All did not finish in 600 s", True
        while len([j for j in self.active if not j.done]) < self.width:
            held = set().union(*(j.holds for j in self.active))
            job = next((j for j in self.queue if not j.holds & held), None)
            if job is None:
                break
            self.queue.remove(job)
            self.active.append(job)
            note(f"open {job.path} {job.ui}")
            job.notebook = Notebook(self.new_page(), self.server, job.path, job.ui)
            job.notebook.tick = self.pump
            try:
                job.notebook.open()
            except Exception as exc:  # reported by the test that waits for it
                job.error, job.done = f"could not open: {exc}", True

    def wait(self, path: str, ui: str = "lab", timeout: float = 900) -> Notebook:
        """The notebook at ``path`` once its Run All has finished."""
        deadline = time.monotonic() + timeout
        while True:
            self.pump()
            job = next((j for j in self.active if (j.path, j.ui) == (path, ui)), None)
            if job is None and not any((j.path, j.ui) == (path, ui) for j in self.queue):
                self.queue.insert(0, Job(path, ui, frozenset({path})))  # unplanned: next
                continue
            if job is not None and job.done:
                if job.error:
                    raise AssertionError(f"{path}: {job.error}")
                return job.notebook
            if time.monotonic() > deadline:
                raise AssertionError(f"{path}: not run within {timeout} s")
            time.sleep(0.1)

    def release(self, notebook: Notebook) -> None:
        """Close the notebook's page and shut down the kernels of the paths it held."""
        note(f"release {notebook.path}")
        job = next((j for j in self.active if j.notebook is notebook), None)
        if job is not None:
            self.active.remove(job)
        with contextlib.suppress(Exception):
            notebook.page.context.close()
        for path in job.holds if job is not None else {notebook.path}:
            with contextlib.suppress(OSError):
                self.server.shut_down_sessions(path)
        self.pump()
