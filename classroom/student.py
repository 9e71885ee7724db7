"""A simulated student: logs in, starts their server, runs lessons in kernels, tries others'.

Everything goes through the same doors a browser uses: the hub's login form and REST API, the
Jupyter server's contents and sessions API, and each kernel's websocket (the Jupyter messaging
protocol), so the hub, the proxy and the single-user servers are all exercised.
"""

from __future__ import annotations

import json
import pwd
import struct
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests
import websocket

from classroom.hub import Hub

CELL_TIMEOUT = 600
# Run in each kernel after a lesson: what the kernel saw (threads, peak memory, user).
KERNEL_FACTS = r"""
import json as _json, os as _os, resource as _resource
from resnet_explorer.speed import thread_policy as _thread_policy
print("FACTS" + _json.dumps({"threads": str(_thread_policy()),
      "peak_mb": _resource.getrusage(_resource.RUSAGE_SELF).ru_maxrss / 1024,
      "user": _os.environ.get("USER"), "home": _os.environ.get("HOME")}))
"""
# Run in one student's kernel against another's server and files (what a curious student tries).
KERNEL_REACH = r"""
import json as _json, os as _os, urllib.request as _request, urllib.error as _error
def _status(url, token):
    request = _request.Request(url, headers={"Authorization": "token " + token} if token else {})
    try:
        return _request.urlopen(request, timeout=10).status
    except _error.HTTPError as failure:
        return failure.code
    except OSError as failure:
        return type(failure).__name__
_found = {"own_token_on_their_server": _status(%(server)r + "api/contents", _os.environ["JUPYTERHUB_API_TOKEN"]),
          "no_token_on_their_server": _status(%(server)r + "api/contents", None)}
try:
    open(%(their_file)r).read(100)
    _found["read_their_lesson"] = "read"
except OSError as failure:
    _found["read_their_lesson"] = type(failure).__name__
_stolen = None
for _pid in filter(str.isdigit, _os.listdir("/proc")):
    try:
        _environment = open(f"/proc/{_pid}/environ", "rb").read().split(b"\0")
    except OSError:
        continue
    if b"JUPYTERHUB_USER=" + %(name)r.encode() in _environment:
        _stolen = next((v.split(b"=", 1)[1].decode() for v in _environment
                        if v.startswith(b"JUPYTERHUB_API_TOKEN=")), None) or _stolen
_found["their_token_from_proc"] = "stolen" if _stolen else "not found"
if _stolen:
    _found["stolen_token_on_their_server"] = _status(%(server)r + "api/contents", _stolen)
print("REACH" + _json.dumps(_found))
"""


@dataclass
class LessonRun:
    lesson: str
    seconds: float
    errors: list[str]


class Student:
    """One simulated student: a browser session (cookies) and a token of their own."""

    def __init__(self, hub: Hub, name: str):
        self.hub, self.name = hub, name
        self.browser = requests.Session()
        self.token = ""
        self.facts: dict = {}

    @property
    def api(self) -> dict:
        return {"Authorization": f"token {self.token}"}

    def log_in(self) -> None:
        """The login form, then a token for the REST API (what JupyterLab's hub extension does)."""
        self.browser.get(f"{self.hub.url}/hub/login", timeout=30).raise_for_status()
        xsrf = self.browser.cookies.get("_xsrf", path="/hub/")
        answer = self.browser.post(f"{self.hub.url}/hub/login", timeout=60, allow_redirects=False,
                                   data={"username": self.name, "password": self.hub.password,
                                         "_xsrf": xsrf})
        if answer.status_code != 302:
            raise RuntimeError(f"login of {self.name} failed: HTTP {answer.status_code}")
        xsrf = self.browser.cookies.get("_xsrf", path="/hub/")  # a new one for the session
        answer = self.browser.post(f"{self.hub.url}/hub/api/users/{self.name}/tokens", timeout=30,
                                   json={"note": "load test", "expires_in": 3600},
                                   headers={"X-XSRFToken": xsrf})
        answer.raise_for_status()
        self.token = answer.json()["token"]

    def start_server(self, timeout: float = 300) -> None:
        answer = requests.post(f"{self.hub.url}/hub/api/users/{self.name}/server", headers=self.api,
                               timeout=timeout)
        if answer.status_code not in (201, 202):
            raise RuntimeError(f"server of {self.name} did not start: HTTP {answer.status_code} {answer.text}")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            model = requests.get(f"{self.hub.url}/hub/api/users/{self.name}", headers=self.api,
                                 timeout=30).json()
            server = model.get("servers", {}).get("")
            if server and server.get("ready"):
                return
            time.sleep(0.5)
        raise TimeoutError(f"server of {self.name} not ready after {timeout:.0f} s")

    @property
    def server(self) -> str:
        return f"{self.hub.url}/user/{self.name}/"

    def run_lesson(self, lesson: str) -> LessonRun:
        """Open ``lessons/<lesson>.ipynb`` (the student's copy) in a kernel; run every code cell."""
        path = f"lessons/{lesson}.ipynb"
        started = time.perf_counter()
        notebook = requests.get(f"{self.server}api/contents/{path}", headers=self.api, timeout=60)
        notebook.raise_for_status()
        cells = ["".join(cell["source"]) for cell in notebook.json()["content"]["cells"]
                 if cell["cell_type"] == "code"]
        with self.kernel(path) as kernel:
            errors = []
            for source in cells + [KERNEL_FACTS]:
                output, cell_errors = kernel.execute(source)
                errors += cell_errors
                if output.startswith("FACTS"):
                    self.facts = json.loads(output[len("FACTS"):])
                if cell_errors:
                    break  # as "Run All" stops at an error
        return LessonRun(lesson, time.perf_counter() - started, errors)

    @contextmanager
    def kernel(self, path: str) -> Iterator[Kernel]:
        answer = requests.post(f"{self.server}api/sessions", headers=self.api, timeout=120,
                               json={"path": path, "type": "notebook", "name": Path(path).name,
                                     "kernel": {"name": "python3"}})
        answer.raise_for_status()
        session = answer.json()
        kernel = Kernel(self.server.replace("http", "ws", 1) + f"api/kernels/{session['kernel']['id']}/channels",
                        self.api)
        try:
            yield kernel
        finally:
            kernel.close()
            requests.delete(f"{self.server}api/sessions/{session['id']}", headers=self.api, timeout=60)

    def try_to_reach(self, other: Student) -> dict:
        """What this student's token and browser session get from ``other``'s server and account."""
        checks = {}
        checks["token_on_their_server"] = requests.get(
            f"{other.server}api/contents", headers=self.api, timeout=30, allow_redirects=False).status_code
        checks["token_on_their_kernels"] = requests.get(
            f"{other.server}api/kernels", headers=self.api, timeout=30, allow_redirects=False).status_code
        checks["token_on_their_hub_model"] = requests.get(
            f"{self.hub.url}/hub/api/users/{other.name}", headers=self.api, timeout=30).status_code
        checks["token_makes_their_token"] = requests.post(
            f"{self.hub.url}/hub/api/users/{other.name}/tokens", headers=self.api, json={},
            timeout=30).status_code
        checks["browser_opens_their_lab"] = self.browser.get(
            f"{other.server}lab", timeout=60).status_code
        target = self.hub.routes().get(f"/user/{other.name}/")
        if target:  # past the proxy, straight to the other server's port
            checks["token_on_their_port"] = requests.get(
                f"{target}/user/{other.name}/api/contents", headers=self.api, timeout=30,
                allow_redirects=False).status_code
        return checks

    def kernel_tries_to_reach(self, other: Student) -> dict:
        """Code in this student's kernel against ``other``'s server port, files and processes."""
        target = self.hub.routes().get(f"/user/{other.name}/", "")
        their_file = str(Path(other.home) / "lessons" / "01_residual_block.ipynb")
        code = KERNEL_REACH % {"server": f"{target}/user/{other.name}/", "their_file": their_file,
                               "name": other.name}
        with self.kernel("lessons/00_start_here.ipynb") as kernel:
            output, errors = kernel.execute(code)
        if errors or not output.startswith("REACH"):
            return {"kernel_check_failed": "; ".join(errors) or output}
        return json.loads(output[len("REACH"):])

    @property
    def home(self) -> str:
        if self.hub.real_users:
            return pwd.getpwnam(self.name).pw_dir
        return str(self.hub.state / "homes" / self.name)


class Kernel:
    """A kernel's websocket (Jupyter messaging protocol, JSON), as JupyterLab drives it."""

    def __init__(self, url: str, headers: dict):
        self.socket = websocket.create_connection(url, header=[f"{k}: {v}" for k, v in headers.items()],
                                                  timeout=CELL_TIMEOUT)
        self.session = uuid.uuid4().hex

    def execute(self, code: str) -> tuple[str, list[str]]:
        """Run ``code``; return its stdout and its error output (tracebacks, stderr)."""
        msg_id = uuid.uuid4().hex
        self.socket.send(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": "execute_request", "session": self.session,
                       "username": "student", "version": "5.3", "date": ""},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": True,
                        "user_expressions": {}, "allow_stdin": False, "stop_on_error": True}}))
        stdout, errors, replied, idle = [], [], False, False
        deadline = time.monotonic() + CELL_TIMEOUT
        while not (replied and idle):
            if time.monotonic() > deadline:
                errors.append(f"no answer after {CELL_TIMEOUT} s")
                break
            message = self._message(self.socket.recv())
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = message["msg_type"], message["content"]
            if kind == "stream":
                (stdout if content["name"] == "stdout" else errors).append(content["text"])
            elif kind == "error":
                errors.append(f"{content['ename']}: {content['evalue']}")
            elif kind == "execute_reply":
                replied = True
                if content["status"] != "ok" and not any(content.get("ename", "") in e for e in errors):
                    errors.append(f"{content.get('ename')}: {content.get('evalue')}")
            elif kind == "status" and content["execution_state"] == "idle":
                idle = True
        return "".join(stdout), [error for error in errors if error.strip()]

    @staticmethod
    def _message(frame: str | bytes) -> dict:
        """A message from a text frame, or from a binary one (a message with buffers: widgets):
        a count of parts, their offsets (big-endian uint32), then the JSON message first."""
        if isinstance(frame, str):
            return json.loads(frame)
        count = struct.unpack("!I", frame[:4])[0]
        offsets = struct.unpack(f"!{count}I", frame[4:4 + 4 * count])
        return json.loads(frame[offsets[0]:offsets[1] if count > 1 else None])

    def close(self) -> None:
        self.socket.close()
