"""The README's commands do what the README says: `make lab` serves the lessons with
00_start_here open and a working kernel, `make voila` serves a lesson as an app.

These run the real Makefile targets (with the browser launch turned off by OPEN_BROWSER=no),
talk to the servers through their HTTP and websocket APIs, and stop them afterwards. The
`.installed` step is marked done (`make -o`): this suite runs inside the environment it made.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from classroom.student import Kernel
from tests.browser.harness import free_port

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(sys.prefix)
TOKEN = "readme-commands-test-token"


def make(target: str, *variables: str, env: dict | None = None, **kwargs):
    """`make TARGET VAR=...` in the repository, using this test run's environment as the venv."""
    command = ["make", "--no-print-directory", "-o", f"{VENV}/bin/.installed", target,
               f"VENV={VENV}", *variables]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True, **kwargs)


def server_env(scratch: Path) -> dict:
    env = dict(os.environ)
    for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR", "JUPYTER_DATA_DIR",
                 "JUPYTERLAB_SETTINGS_DIR", "JUPYTERLAB_WORKSPACES_DIR"):
        env[name] = str(scratch / name.lower())
    env.pop("JUPYTER_PATH", None)
    env.update(JUPYTER_TOKEN=TOKEN, RESNET_EXPLORER_FAST="1", OMP_NUM_THREADS="1",
               RESNET_EXPLORER_CACHE=str(scratch / "run-cache"))
    return env


def stop(process: subprocess.Popen) -> str:
    """Stop make and the server it started (the whole process group); return what they printed."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return process.stdout.read() if process.stdout else ""


def wait_for_http(url: str, process: subprocess.Popen, timeout: float = 120) -> bytes:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server stopped before answering {url}:\n{stop(process)}")
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                return response.read()
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.5)
    pytest.fail(f"no answer from {url} within {timeout} s:\n{stop(process)}")


def api(base: str, path: str, method: str = "GET", body: dict | None = None):
    request = urllib.request.Request(
        f"{base}{path}", method=method, data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"token {TOKEN}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        text = response.read()
    return json.loads(text) if text else None


def test_make_lab_allows_root_only_for_root():
    dry_run = subprocess.run(["make", "-n", "-o", f"{VENV}/bin/.installed", "lab",
                              f"VENV={VENV}", "OPEN_BROWSER=no"],
                             cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert "notebooks/00_start_here.ipynb" in dry_run
    assert "--no-browser" in dry_run
    assert ("--allow-root" in dry_run) == (os.geteuid() == 0)


def test_make_lab_says_what_to_do_when_the_port_is_taken(tmp_path):
    import socket

    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        process = make("lab", f"PORT={port}", "OPEN_BROWSER=no", env=server_env(tmp_path))
        output = process.communicate(timeout=120)[0]
    assert process.returncode != 0
    assert f"Port {port} is already in use" in output
    assert f"make lab PORT={port + 1}" in output


def test_make_lab_serves_the_start_notebook_and_its_kernel_runs(tmp_path):
    port = free_port()
    env = server_env(tmp_path)
    process = make("lab", f"PORT={port}", "OPEN_BROWSER=no", env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{base}/api/status?token={TOKEN}", process)
        # What a browser would open: JupyterLab with the start notebook.
        pages = [path.read_text() for path in Path(env["JUPYTER_RUNTIME_DIR"]).glob("*open.html")]
        assert pages, "the server wrote no page to open in a browser"
        assert any("/lab/tree/00_start_here.ipynb?token=" in page for page in pages)
        lab_page = wait_for_http(f"{base}/lab/tree/00_start_here.ipynb?token={TOKEN}", process)
        assert b"JupyterLab" in lab_page
        # The lessons are the server's root, and the start notebook is served.
        listing = {item["name"] for item in api(base, "/api/contents")["content"]}
        assert {"00_start_here.ipynb", "02_degradation.ipynb"} <= listing
        notebook = api(base, "/api/contents/00_start_here.ipynb")
        assert notebook["type"] == "notebook" and notebook["content"]["cells"]
        # Its kernel starts and imports the package.
        session = api(base, "/api/sessions", "POST", {
            "path": "00_start_here.ipynb", "type": "notebook", "name": "00_start_here.ipynb",
            "kernel": {"name": "python3"}})
        kernel_id = session["kernel"]["id"]
        ws_url = f"ws://127.0.0.1:{port}/api/kernels/{kernel_id}/channels?token={TOKEN}"
        # A synchronous websocket client: an asyncio loop another test left running cannot stop it.
        kernel = Kernel(ws_url, headers={})
        try:
            stdout, errors = kernel.execute(
                "import resnet_explorer as rx; print(rx.count_params(rx.build_model(20)))")
        finally:
            kernel.close()
        assert errors == []
        assert stdout.strip() == "269722"
        api(base, f"/api/sessions/{session['id']}", "DELETE")
    finally:
        output = stop(process)
    assert "Running as root is not recommended" not in output
    # The address it prints (to copy when no browser opens) opens the start notebook too.
    assert re.search(rf"http://127\.0\.0\.1:{port}/lab/tree/00_start_here\.ipynb\?token=", output), output[-2000:]


def test_make_voila_serves_the_lesson_with_its_code_hidden(tmp_path):
    port = free_port()
    process = make("voila", f"VOILA_PORT={port}", "OPEN_BROWSER=no", env=server_env(tmp_path))
    try:
        page = wait_for_http(f"http://127.0.0.1:{port}/", process, timeout=240).decode()
    finally:
        output = stop(process)
    assert "Voil" in output
    # The default lesson (README: `make voila` serves 02_degradation) rendered, without code.
    assert re.search(r"degradation", page, re.I)
    assert "import resnet_explorer" not in page
    assert "There was an error when executing cell" not in page  # Voila's note for a failed cell
    assert "application/vnd.jupyter.stderr" not in page and "Traceback" not in page


def test_make_voila_names_the_lessons_when_one_is_misspelled(tmp_path):
    process = make("voila", "LESSON=02_degredation", "OPEN_BROWSER=no", env=server_env(tmp_path))
    output = process.communicate(timeout=60)[0]
    assert process.returncode != 0
    assert "no lesson notebooks/02_degredation.ipynb" in output
    assert "02_degradation" in output
