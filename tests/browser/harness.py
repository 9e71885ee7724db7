"""Drive real JupyterLab and Voila in Debian's chromium, for the lesson notebooks' browser tests.

Servers run from the Python that runs pytest, on 127.0.0.1 and a free port, with temporary
Jupyter config, runtime and settings directories, so a test sees neither the user's set-up nor
the repository's notebooks (it works on a temporary copy). The fixtures in `conftest.py` start
one JupyterLab, one Voila and one chromium per session; the helpers below act on a playwright
`Page`. A test for a lesson is a few lines::

    open_notebook(page, jupyter_lab, "02_blocks.ipynb")
    run_all_cells(page)
    assert error_outputs(page) == []
    press_slider(page, page.locator(".widget-slider").first, "ArrowRight", 3)
    screenshot(page, "02_blocks")

Wait on the DOM or on the kernel, never on sleeps. Notes on what works on this machine:
/work/shared/notes/jupyter-ui.md.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

REPO_ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
ARTIFACTS_DIR = REPO_ROOT / "test-artifacts"
SCREENSHOTS_DIR = ARTIFACTS_DIR / "screenshots"

# Debian's real binary (the /usr/bin/chromium wrapper prints a shell error and adds its own
# flags); RESNET_EXPLORER_CHROMIUM points elsewhere.
CHROMIUM_PATH = Path(os.environ.get("RESNET_EXPLORER_CHROMIUM", "/usr/lib/chromium/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
INSTALL_HINT = (
    "the browser tests need Debian's chromium at {path}; install it with "
    "`bash scripts/install_system_packages.sh` (do not run `playwright install`)"
)
VIEWPORT = {"width": 1400, "height": 1000}

# JupyterLab user settings for tests: no news or update toasts, no kernel-selection dialog for
# notebooks without kernel metadata, no autosave into the temporary copy, and every cell kept in
# the DOM (with windowing, widgets in cells below the fold are not rendered until scrolled to).
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {
        "autosave": False,
    },
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {
        "autoStartDefaultKernel": True,
        "windowingMode": "none",
    },
}

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

# Processes started here, stopped at interpreter exit if a fixture's teardown never ran.
_RUNNING: list[subprocess.Popen] = []


class BrowserTestError(AssertionError):
    """A server or a page did not reach the state a browser test waits for."""


# --------------------------------------------------------------------------------------------
# Processes and servers
# --------------------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_environment(scratch: Path) -> dict[str, str]:
    """Environment for a Jupyter server and its kernels, isolated inside `scratch`.

    The kernels run the lessons in fast mode with a throw-away run cache, and import
    `resnet_explorer` from this checkout even when it is not installed in the venv.
    """
    env = dict(os.environ)
    dirs = {
        "JUPYTER_CONFIG_DIR": scratch / "config",
        "JUPYTER_RUNTIME_DIR": scratch / "runtime",
        "JUPYTER_DATA_DIR": scratch / "data",
        "JUPYTERLAB_SETTINGS_DIR": scratch / "lab-settings",
        "JUPYTERLAB_WORKSPACES_DIR": scratch / "lab-workspaces",
        "RESNET_EXPLORER_CACHE": scratch / "run-cache",
        "IPYTHONDIR": scratch / "ipython",
        "MPLCONFIGDIR": scratch / "matplotlib",
    }
    for name, path in dirs.items():
        path.mkdir(parents=True, exist_ok=True)
        env[name] = str(path)
    for relative, values in LAB_SETTINGS.items():
        settings_file = dirs["JUPYTERLAB_SETTINGS_DIR"] / relative
        settings_file.parent.mkdir(parents=True, exist_ok=True)
        settings_file.write_text(json.dumps(values, indent=2))
    env["RESNET_EXPLORER_FAST"] = "1"
    # The kernel shares the two cores with chromium, the server and pytest: one torch thread
    # (rx.train never uses more than torch's setting). Two threads on busy cores ran 5-13x slower.
    env["OMP_NUM_THREADS"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("JUPYTER_PATH", None)
    env.pop("JUPYTER_TOKEN", None)
    return env


def copy_notebooks(destination: Path, source: Path = NOTEBOOKS_DIR) -> Path:
    """Copy the lesson notebooks (and any data beside them) so tests never write into the repo."""
    ignore = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__")
    shutil.copytree(source, destination, ignore=ignore, dirs_exist_ok=True)
    return destination


@dataclass
class Server:
    """A Jupyter server (JupyterLab or Voila) started by the harness."""

    kind: str
    url: str
    token: str
    root_dir: Path
    process: subprocess.Popen
    log_path: Path
    ready_path: str
    env: dict[str, str] = field(repr=False)
    # Voila cannot list its kernels: open_voila records each page's kernel for shutdown_kernels.
    kernel_ids: list[str] = field(default_factory=list)

    def address(self, path: str = "", **query: str) -> str:
        """`url/path?token=...` with `query` added; `path` is relative to the server root."""
        params = [f"{key}={value}" if value != "" else key for key, value in query.items()]
        params.append(f"token={self.token}")
        return f"{self.url}/{path.lstrip('/')}?{'&'.join(params)}"

    def api(self, method: str, path: str, body: Any = None, timeout: float = 10.0) -> Any:
        """Call the server's REST API (`body` sent as JSON); returns the decoded JSON answer."""
        request = urllib.request.Request(
            f"{self.url}/{path.lstrip('/')}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = response.read()
        return json.loads(answer) if answer else None

    def wait_until_serving(self, timeout: float = 60.0) -> "Server":
        """Poll `ready_path` until it answers 200; on failure stop the server and raise an
        error that holds its log."""
        deadline = time.monotonic() + timeout
        last_error = ""
        try:
            while True:
                if self.process.poll() is not None:
                    raise BrowserTestError(
                        f"{self.kind} exited with code {self.process.returncode} before "
                        f"serving; its log:\n{self.log()}"
                    )
                try:
                    with urllib.request.urlopen(self.address(self.ready_path), timeout=2) as answer:
                        if answer.status == 200:
                            return self
                except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
                    last_error = str(error)
                if time.monotonic() > deadline:
                    raise BrowserTestError(
                        f"{self.kind} did not answer /{self.ready_path} within {timeout:.0f} s "
                        f"(last error: {last_error}); its log:\n{self.log()}"
                    )
                time.sleep(0.2)
        except BaseException:
            stop_process(self.process)
            raise

    def log(self, last_chars: int = 6000) -> str:
        """The end of the server's combined stdout and stderr."""
        try:
            return self.log_path.read_text(errors="replace")[-last_chars:]
        except OSError:
            return "(no server log)"


def _child_pids(pid: int) -> list[int]:
    """Direct children of `pid` (kernels run in their own session, so killpg misses them)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


def stop_process(*processes: subprocess.Popen, timeout: float = 10.0) -> None:
    """Stop servers and the kernels they started: SIGTERM to all, wait, then SIGKILL what is
    left (the server's process group, and its children, which kernels are)."""
    children = []
    for process in processes:
        if process in _RUNNING:
            _RUNNING.remove(process)
        if process.poll() is None:
            children += _child_pids(process.pid)
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=timeout)
    for pid in children:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@atexit.register
def _stop_leftovers() -> None:
    stop_process(*_RUNNING, timeout=3.0)


def _launch(kind: str, command: list[str], *, port: int, token: str, root_dir: Path,
            env: dict[str, str], log_path: Path, ready_path: str) -> Server:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            command, cwd=root_dir, env=env, stdout=log_file, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
    _RUNNING.append(process)
    return Server(kind, f"http://127.0.0.1:{port}", token, root_dir, process, log_path,
                  ready_path, env)


def start_jupyter_lab(root_dir: Path, scratch: Path, *, wait: bool = True) -> Server:
    """Start JupyterLab on `root_dir` from this Python; returns once /api/status answers.

    With `wait=False` it returns at once: call `server.wait_until_serving()` before use (lets
    JupyterLab and Voila start side by side).
    """
    port, token = free_port(), secrets.token_hex(16)
    command = [
        sys.executable, "-m", "jupyter", "lab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root_dir}",
        "--LabApp.expose_app_in_browser=True",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if os.geteuid() == 0:
        command.append("--allow-root")
    server = _launch(
        "JupyterLab", command, port=port, token=token, root_dir=root_dir,
        env=server_environment(scratch), log_path=scratch / "jupyter-lab.log",
        ready_path="api/status",
    )
    return server.wait_until_serving() if wait else server


def start_voila(root_dir: Path, scratch: Path, *, wait: bool = True) -> Server:
    """Start Voila serving every notebook in `root_dir` at /voila/render/NAME.

    One server serves every lesson (Voila starts one kernel per opened page). Voila has no
    root check, so nothing extra is needed when running as root. `wait` as for
    `start_jupyter_lab`.
    """
    port, token = free_port(), secrets.token_hex(16)
    command = [
        sys.executable, "-m", "voila", str(root_dir),
        "--no-browser",
        "--Voila.ip=127.0.0.1",
        f"--port={port}",
        "--Voila.port_retries=0",
        f"--Voila.token={token}",
        "--VoilaConfiguration.show_tracebacks=True",
    ]
    server = _launch(
        "Voila", command, port=port, token=token, root_dir=root_dir,
        env=server_environment(scratch), log_path=scratch / "voila.log",
        ready_path="voila/tree",
    )
    return server.wait_until_serving() if wait else server


def shutdown_kernels(server: Server) -> None:
    """Shut down the server's kernels: JupyterLab's sessions (DELETE /api/sessions/<id>), or
    the kernels of the Voila pages opened with `open_voila` (DELETE /api/kernels/<id>).

    Closing a tab does not do it: JupyterLab keeps the kernel, and Voila's shutdown-on-unload
    beacon does not reach the server when playwright closes the page.
    """
    if server.process.poll() is not None:
        return
    if server.kind == "Voila":
        paths = [f"api/kernels/{kernel_id}" for kernel_id in server.kernel_ids]
        server.kernel_ids.clear()
    else:
        paths = [f"api/sessions/{session['id']}" for session in server.api("GET", "api/sessions")]
    for path in paths:
        try:
            server.api("DELETE", path, timeout=30)
        except urllib.error.HTTPError as error:
            if error.code != 404:
                raise


# --------------------------------------------------------------------------------------------
# Browser
# --------------------------------------------------------------------------------------------


def require_chromium() -> Path:
    """The chromium binary, or an AssertionError that says how to install it."""
    if not CHROMIUM_PATH.exists():
        raise BrowserTestError(INSTALL_HINT.format(path=CHROMIUM_PATH))
    return CHROMIUM_PATH


def launch_chromium(playwright):
    """Headless Debian chromium through playwright (never playwright's own browser download)."""
    return playwright.chromium.launch(
        executable_path=str(require_chromium()), headless=True, args=CHROMIUM_ARGS
    )


# JavaScript shared by the JupyterLab helpers: find a notebook panel by path (or the current
# one) and describe its state.
_LAB_JS = """
const rxPanel = (path) => {
  const app = window.jupyterapp;
  if (!app) return null;
  const current = app.shell.currentWidget;
  if (!path && current && current.content && current.sessionContext) return current;
  for (const w of app.shell.widgets('main')) {
    if (w.content && w.sessionContext && w.context && (!path || w.context.path === path)) return w;
  }
  return null;
};
const rxState = (path) => {
  const panel = rxPanel(path);
  if (!panel) return {found: false, app: !!window.jupyterapp};
  const kernel = panel.sessionContext.session ? panel.sessionContext.session.kernel : null;
  const cells = [];
  for (const cell of panel.content.widgets) {
    const m = cell.model;
    // Only errors and stderr: other outputs (figures) can be megabytes, and this runs in polls.
    const errors = [], stderr = [];
    if (m.type === 'code') {
      for (let i = 0; i < m.outputs.length; i++) {
        const output = m.outputs.get(i).toJSON();
        if (output.output_type === 'error') errors.push(`${output.ename}: ${output.evalue}`);
        if (output.output_type === 'stream' && output.name === 'stderr') {
          stderr.push([].concat(output.text).join(''));
        }
      }
    }
    cells.push({type: m.type, blank: m.sharedModel.getSource().trim() === '',
                count: m.type === 'code' ? m.executionCount : null, errors, stderr});
  }
  return {found: true, path: panel.context.path, id: panel.id, ready: panel.context.isReady,
          kernel: kernel ? kernel.status : null, cells};
};
"""


def _lab_eval(page, body: str, arg: Any = None) -> Any:
    return page.evaluate(f"(arg) => {{ {_LAB_JS}\n{body} }}", arg)


def _notebook_state(page, path: str | None = None) -> dict:
    return _lab_eval(page, "return rxState(arg);", path)


def _dismiss_dialogs(page) -> list[str]:
    """Accept any JupyterLab dialog (kernel selection, 'kernel restarting'...); return titles."""
    titles = []
    dialogs = page.locator(".jp-Dialog")
    while dialogs.count():
        dialog = dialogs.first
        titles.append(dialog.locator(".jp-Dialog-header").inner_text().strip())
        accept = dialog.locator(".jp-Dialog-button.jp-mod-accept")
        if accept.count():
            accept.first.click()
        else:
            page.keyboard.press("Escape")
        dialog.wait_for(state="detached", timeout=5000)
    return titles


def _poll(check, timeout: float, interval: float = 0.1):
    """Call `check()` until it returns something truthy; returns (value, timed_out)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value, False
        if time.monotonic() > deadline:
            return value, True
        time.sleep(interval)


def open_notebook(page, server: Server, name: str, *, timeout: float = 90.0,
                  collapse_sidebar: bool = True) -> None:
    """Open notebook `name` (relative to the server root) in JupyterLab; wait for an idle kernel.

    `?reset` keeps JupyterLab from reopening earlier tabs. Dialogs that pop up while the kernel
    starts (kernel selection) are accepted. From here on, every error message the kernel
    sends (also those from widget callbacks, which JupyterLab only shows in its Log Console) is
    recorded for `error_outputs`.
    """
    _start_kernel_session(server, name)
    page.goto(server.address(f"lab/tree/{name}", reset=""), wait_until="domcontentloaded",
              timeout=timeout * 1000)
    dialogs: list[str] = []

    def ready():
        dialogs.extend(_dismiss_dialogs(page))
        state = _notebook_state(page, name)
        opened = state.get("found") and state["ready"] and state["kernel"] == "idle"
        return state if opened else None

    state, timed_out = _poll(ready, timeout, interval=0.2)
    if timed_out:
        raise BrowserTestError(
            f"{name} did not open with an idle kernel within {timeout:.0f} s "
            f"(state: {_short_state(_notebook_state(page, name))}; dialogs accepted: {dialogs}); "
            f"server log:\n{server.log()}"
        )
    _lab_eval(page, """
      const panel = rxPanel(arg.path);
      window.__rxKernelErrors = window.__rxKernelErrors || {};
      const errors = window.__rxKernelErrors[arg.path] = [];
      const listen = (kernel) => {
        if (!kernel) return;
        kernel.iopubMessage.connect((_, msg) => {
          if (msg.header.msg_type === 'error') {
            errors.push({ename: msg.content.ename, evalue: msg.content.evalue,
                         traceback: msg.content.traceback});
          }
        });
      };
      listen(panel.sessionContext.session.kernel);
      panel.sessionContext.kernelChanged.connect((_, change) => listen(change.newValue));
      window.jupyterapp.shell.activateById(panel.id);
      if (arg.collapse) window.jupyterapp.shell.collapseLeft();
    """, {"path": state["path"], "collapse": collapse_sidebar})


def _start_kernel_session(server: Server, name: str) -> None:
    """Start the notebook's kernel (POST /api/sessions) so that it boots while JupyterLab's page
    loads; JupyterLab then joins that session. Notebooks without kernel metadata are left to
    JupyterLab."""
    try:
        metadata = json.loads((server.root_dir / name).read_text()).get("metadata", {})
    except (OSError, ValueError):
        return
    kernel_name = metadata.get("kernelspec", {}).get("name")
    if not kernel_name:
        return
    try:
        server.api("POST", "api/sessions", {"path": name, "name": Path(name).name,
                                            "type": "notebook", "kernel": {"name": kernel_name}})
    except urllib.error.HTTPError:  # e.g. kernel not installed: JupyterLab's dialog will say so
        pass


def _short_state(state: dict) -> str:
    if not state.get("found"):
        return f"no notebook panel (window.jupyterapp present: {state.get('app')})"
    counts = [c["count"] for c in state["cells"] if c["type"] == "code"]
    return f"kernel {state['kernel']}, context ready {state['ready']}, execution counts {counts}"


def run_all_cells(page, name: str | None = None, *, timeout: float = 240.0) -> dict:
    """Run every cell of the notebook (the current one, or `name`) and wait until it has finished.

    Finished means: JupyterLab's run-all has resolved, the kernel is idle, every non-blank code
    cell has an execution count (unless a cell raised: execution stops there; check
    `error_outputs`) and no widget output still says "Loading widget...". Plots inside widgets
    may still be drawing: `wait_for_plotly`.
    Returns the notebook's state: per cell its type, execution count, errors and stderr.
    """
    _lab_eval(page, """
      const panel = rxPanel(arg);
      if (!panel) throw new Error('no notebook panel is open for ' + arg);
      window.jupyterapp.shell.activateById(panel.id);
      window.__rxRunAll = {done: false};
      window.jupyterapp.commands.execute('notebook:run-all-cells').then(
        (ok) => { window.__rxRunAll = {done: true, ok: ok !== false}; },
        (error) => { window.__rxRunAll = {done: true, ok: false, error: String(error)}; });
    """, name)

    def finished():
        run = page.evaluate("() => window.__rxRunAll")
        if not run["done"]:
            return None
        state = _notebook_state(page, name)
        if state["kernel"] != "idle":
            return None
        raised = any(cell["errors"] for cell in state["cells"])
        pending = [c for c in state["cells"] if c["type"] == "code" and not c["blank"]
                   and c["count"] is None]
        if pending and not raised and run["ok"]:
            return None
        return state

    state, timed_out = _poll(finished, timeout, interval=0.2)
    if timed_out:
        raise BrowserTestError(
            f"run all cells did not finish within {timeout:.0f} s "
            f"({_short_state(_notebook_state(page, name))})"
        )
    wait_for_widgets(page)
    return state


def wait_for_kernel_idle(page, name: str | None = None, *, settle: float = 0.5,
                         timeout: float = 60.0) -> None:
    """Wait until the notebook's kernel has been idle for `settle` seconds in a row.

    After a slider press or a click the kernel may not have received the message yet, so a
    single "idle" proves little; prefer waiting for what the callback changes in the DOM.
    """
    idle_since = [None]

    def settled():
        if _notebook_state(page, name).get("kernel") != "idle":
            idle_since[0] = None
            return False
        idle_since[0] = idle_since[0] or time.monotonic()
        return time.monotonic() - idle_since[0] >= settle

    _, timed_out = _poll(settled, timeout)
    if timed_out:
        raise BrowserTestError(f"the kernel was not idle within {timeout:.0f} s")


# Errors seen in the DOM: widgets that failed to render (JupyterLab and Voila), and in Voila
# (body[data-voila]; it also defines window.jupyterapp) tracebacks. JupyterLab 4.6 and Voila
# render an error output like stderr text (a `.jp-RenderedText` with data-mime-type
# application/vnd.jupyter.stderr; no class tells them apart), so JupyterLab's errors are read
# from the notebook model, where the output type is known, and Voila's are recognised by their
# text: a traceback, an "...Error: ..." line, or Voila's "There was an error when executing cell".
_DOM_ERRORS_JS = """
(includeStderr) => {
  const found = [];
  for (const el of document.querySelectorAll('.jupyter-widgets-error-widget')) {
    found.push('widget error: ' + el.closest('.jupyter-widgets').innerText.trim());
  }
  for (const el of document.querySelectorAll('.jp-OutputArea-output')) {
    const text = el.innerText.trim();
    if (text.startsWith('Error displaying widget')) found.push(text);
  }
  if (!document.body.dataset.voila) return found;
  const errorLine = /^(?:[A-Za-z_][\\w.]*)?(?:Error|Exception|KeyboardInterrupt)(?::.*)?$/m;
  for (const el of document.querySelectorAll(
      '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')) {
    const text = el.innerText.trim();
    const cell = el.closest('[cell-index]');
    const where = cell ? `cell ${Number(cell.getAttribute('cell-index')) - 1}` : 'output';
    const lines = text.split('\\n').filter((line) => line.trim());
    if (/Traceback \\(most recent call last\\)|There was an error when executing cell/.test(text)
        || errorLine.test(text)) {
      found.push(`${where}: ${lines[lines.length - 1]}`);
    } else if (includeStderr) {
      found.push(`${where} stderr: ${text}`);
    }
  }
  return found;
}
"""


def error_outputs(page, name: str | None = None, *, include_stderr: bool = False) -> list[str]:
    """Every error the page shows or the kernel reported, as one line of text each; [] if none.

    In JupyterLab: error outputs of cells (read from the notebook model, where the output type
    is known), errors the kernel sent since `open_notebook` (this catches exceptions in widget
    callbacks, which JupyterLab shows only in its Log Console) and widgets that failed to render.
    In Voila: tracebacks (the error's last line) and widgets that failed to render; errors in
    callbacks are not seen there. `include_stderr=True` adds text written to stderr (warnings,
    progress bars), which is not an error by itself.
    """
    found = []
    in_voila = page.evaluate("() => !!document.body.dataset.voila")
    if not in_voila:
        state = _notebook_state(page, name)
        for index, cell in enumerate(state.get("cells", [])):
            found += [f"cell {index}: {error}" for error in cell["errors"]]
            if include_stderr:
                found += [f"cell {index} stderr: {text.strip()}" for text in cell["stderr"]]
        recorded = page.evaluate(
            "(path) => (window.__rxKernelErrors || {})[path] || []", state.get("path", "")
        )
        for error in recorded:
            line = f"{error['ename']}: {error['evalue']}"
            if not any(item.endswith(line) for item in found):
                # The end of the traceback: the frames in the notebook's own code.
                trace = _ANSI.sub("", "\n".join(error.get("traceback") or [])).splitlines()
                found.append("\n".join([f"kernel: {line}", *trace[-12:]]).rstrip())
    found.extend(page.evaluate(_DOM_ERRORS_JS, include_stderr))
    return list(dict.fromkeys(found))


def wait_for_error_output(page, text: str = "", *, timeout: float = 30.0) -> str:
    """Wait until `error_outputs(page)` holds an error containing `text`; return that error."""
    def seen():
        return next((error for error in error_outputs(page) if text in error), None)

    error, timed_out = _poll(seen, timeout, interval=0.2)
    if timed_out:
        raise BrowserTestError(f"no error containing {text!r} within {timeout:.0f} s")
    return error


# --------------------------------------------------------------------------------------------
# Widgets and plots
# --------------------------------------------------------------------------------------------

# Widget outputs not drawn yet: JupyterLab's "Loading widget..." placeholder, and Voila's widget
# <script> tags that the widget manager has not turned into views yet.
_WIDGETS_PENDING_JS = """
() => {
  const loading = [...document.querySelectorAll('.jp-OutputArea-output')]
    .filter((el) => el.textContent.trim() === 'Loading widget...').length;
  const unrendered = [...document.querySelectorAll(
      'script[type="application/vnd.jupyter.widget-view+json"]')]
    .filter((s) => !s.parentElement.querySelector('.jupyter-widgets, .lm-Widget')).length;
  return loading + unrendered;
}
"""


def wait_for_widgets(page, *, timeout: float = 60.0) -> None:
    """Wait until every widget output on the page is drawn (JupyterLab or Voila)."""
    _, timed_out = _poll(lambda: page.evaluate(_WIDGETS_PENDING_JS) == 0, timeout)
    if timed_out:
        count = page.evaluate(_WIDGETS_PENDING_JS)
        raise BrowserTestError(f"{count} widget output(s) still not drawn after {timeout:.0f} s")


# Elements that show a plotly trace's data: lines and fills, markers (their position is in
# `transform`), bars (`g.point > path`), heatmaps and images. WebGL traces (scattergl) draw on
# a canvas and are not seen here.
_PLOTLY_TRACES_JS = """
(elements) => {
  const parts = [];
  // SVG traces; a 3-D (WebGL) scene draws into a canvas, which plotly removes when WebGL fails
  const selector = 'path.js-line, path.js-fill, path.point, .point path, ' +
                   '.heatmaplayer image, .imagelayer image, .trace image, .gl-container canvas';
  for (const el of elements) {
    const plots = el.matches('.js-plotly-plot') ? [el]
                                                : [...el.querySelectorAll('.js-plotly-plot')];
    for (const plot of plots) {
      for (const item of plot.querySelectorAll(selector)) {
        parts.push([item.tagName, item.getAttribute('d'), item.getAttribute('transform'),
                    item.getAttribute('href') || item.getAttribute('xlink:href')].join('|'));
      }
    }
  }
  return parts;
}
"""


def plotly_traces(locator) -> list[str]:
    """One string per drawn trace element of the `.js-plotly-plot`s `locator` matches or holds."""
    return locator.evaluate_all(_PLOTLY_TRACES_JS)


def plotly_traces_signature(locator) -> str:
    """A short fingerprint of what the plots in `locator` draw: "<n elements>:<sha1 prefix>".

    Equal before and after an interaction means the plot did not change. "0:..." means nothing
    is drawn yet.
    """
    parts = plotly_traces(locator)
    digest = hashlib.sha1("\n".join(parts).encode()).hexdigest()[:16]
    return f"{len(parts)}:{digest}"


def wait_for_plotly(locator, *, timeout: float = 30.0) -> str:
    """Wait until the plots in `locator` draw at least one trace element; return the signature."""
    def drawn():
        signature = plotly_traces_signature(locator)
        return None if signature.startswith("0:") else signature

    signature, timed_out = _poll(drawn, timeout)
    if timed_out:
        raise BrowserTestError(f"no plotly trace was drawn within {timeout:.0f} s")
    return signature


def wait_for_plotly_change(locator, before: str, *, timeout: float = 30.0) -> str:
    """Wait until the plots' signature differs from `before` (and is not empty); return it."""
    def changed():
        now = plotly_traces_signature(locator)
        return now if now != before and not now.startswith("0:") else None

    signature, timed_out = _poll(changed, timeout)
    if timed_out:
        raise BrowserTestError(f"the plot did not change within {timeout:.0f} s (still {before})")
    return signature


def _locate(page, target):
    return page.locator(target) if isinstance(target, str) else target


def press_slider(page, slider, key: str = "ArrowRight", times: int = 1) -> None:
    """Focus an ipywidgets slider's handle and press `key` `times` times.

    `slider` is a Locator or a selector for a `.widget-slider` (or its `.noUi-handle`). Each press
    moves the slider one step and sends one value to the kernel. Keyboard presses are more
    reliable than dragging.
    """
    slider = _locate(page, slider)
    handle = slider if "noUi-handle" in (slider.get_attribute("class") or "") else (
        slider.locator(".noUi-handle").first
    )
    handle.scroll_into_view_if_needed()
    handle.focus()
    for _ in range(times):
        handle.press(key)


def click_button(page, text: str, *, within=None) -> None:
    """Click the ipywidgets button whose label is exactly `text` (optionally inside `within`)."""
    scope = _locate(page, within) if within is not None else page
    button = scope.locator("button.widget-button, button.jupyter-button").filter(
        has_text=re.compile(rf"^\s*{re.escape(text)}\s*$")
    )
    button.first.click()


def wait_for_text(page, text: str | re.Pattern, *, within=".jp-OutputArea-output",
                  timeout: float = 30.0):
    """Wait until `text` (substring, or a regular expression) is visible; return its Locator.

    By default only cell outputs are searched (JupyterLab and Voila), so that the text in a
    code cell does not count; pass `within="body"` for the whole page.
    """
    found = _locate(page, within).get_by_text(text).first
    found.wait_for(state="visible", timeout=timeout * 1000)
    return found


def screenshot(page, name: str, target=None, *, full_page: bool = False) -> Path:
    """Save a PNG to test-artifacts/screenshots/NAME.png and return its path.

    `target` None: the browser window; "notebook": the current notebook panel (what is
    scrolled into view); a Locator or selector: that element, scrolled into view.
    """
    SCREENSHOTS_DIR.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS_DIR / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.png"
    if target is None:
        page.screenshot(path=str(path), full_page=full_page)
    else:
        if target == "notebook":
            target = ".jp-NotebookPanel:visible"
        _locate(page, target).first.screenshot(path=str(path))
    return path


# --------------------------------------------------------------------------------------------
# Voila
# --------------------------------------------------------------------------------------------


def open_voila(page, server: Server, name: str, *, timeout: float = 120.0) -> None:
    """Open notebook `name` as a Voila app; wait until every cell has run and widgets are drawn.

    Offline, Voila's page asks a CDN for Font Awesome: two console errors and no button icons,
    nothing to worry about. The page's kernel is recorded for `shutdown_kernels(server)`.
    """
    # Voila streams the page while the kernel runs the cells: wait for each part, not for load.
    page.goto(server.address(f"voila/render/{name}"), wait_until="commit", timeout=timeout * 1000)
    config = json.loads(page.locator("#jupyter-config-data").text_content(timeout=timeout * 1000))
    server.kernel_ids.append(config["kernelId"])
    page.locator("#rendered_cells").wait_for(state="visible", timeout=timeout * 1000)
    wait_for_widgets(page, timeout=timeout)


def write_notebook(path: Path, code_cells: Iterable[str], markdown: str | None = None) -> Path:
    """Write a python3 notebook with these code cells (and an optional first markdown cell)."""
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    if markdown:
        notebook.cells.append(nbformat.v4.new_markdown_cell(markdown))
    notebook.cells.extend(nbformat.v4.new_code_cell(source) for source in code_cells)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    return path
