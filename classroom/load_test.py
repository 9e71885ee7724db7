"""A class on one server, for real: start JupyterHub, log students in, run lessons, check isolation.

Starts a real JupyterHub (with configurable-http-proxy) on 127.0.0.1 with this folder's
``jupyterhub_config.py``, changed only where a test needs it: a test authenticator (one shared
password) and local-process spawners instead of PAM and systemd. Then N simulated students at
once each log in through the login form, start their server through the hub's REST API, open
lessons in kernels through the Jupyter server API and run every code cell over the kernel's
websocket, as JupyterLab would. The report says, per student, how long it took (and how long
one student alone took), any error output, and whether a student could reach another's server
or files.

Two ways to run the students' servers:

- one Unix user for all (``SimpleLocalProcessSpawner``, any user can run it): the hub, the proxy
  and the tokens still keep students out of each other's servers, but nothing keeps one
  student's *code* from reading another's files or processes (and their tokens): the report
  says so. Never teach like that.
- real Unix users (``--real-users``, root only): the test creates ``rxstudent1..N`` for the run
  and deletes them after; the servers run as them (``LocalProcessSpawner``), homes are 0700.

As root the servers also get the cgroup CPU quota and memory limit of ``cpu_limit`` and
``mem_limit`` (``cgroup_limits.py``: what SystemdSpawner asks systemd for), so the kernels see
the quota a real class server gives them.

    python -m classroom.load_test --students 4                 # about 2-4 minutes on 2 cores
    sudo .venv/bin/python -m classroom.load_test --students 8 --real-users --alone
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests
import websocket
from jupyterhub.spawner import LocalProcessSpawner, SimpleLocalProcessSpawner
from traitlets import Bool

from classroom.cgroup_limits import CgroupUnavailable, LimitedGroup, make_limited_group

CLASSROOM = Path(__file__).resolve().parent
REPOSITORY = CLASSROOM.parent
LESSONS = ("01_residual_block", "02_degradation")
CELL_TIMEOUT = 600
# Run in each kernel after a lesson: what the kernel saw (threads, memory) and what it could reach.
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
        _stolen = [v.split(b"=", 1)[1].decode() for v in _environment if v.startswith(b"JUPYTERHUB_API_TOKEN=")][0]
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


@dataclass
class StudentRun:
    """One student's session: timings, error output, what their kernel saw and could reach."""

    name: str
    seconds: float = 0.0  # from the login form to the last cell of the last lesson
    start_seconds: float = 0.0  # login + server start
    lessons: list[LessonRun] = field(default_factory=list)
    facts: dict = field(default_factory=dict)
    reach: dict = field(default_factory=dict)  # from their kernel to the next student's server
    hub_checks: dict = field(default_factory=dict)  # their token / cookie against the next student
    failure: str = ""

    @property
    def errors(self) -> list[str]:
        return ([self.failure] if self.failure else []) + [
            f"{run.lesson}: {error}" for run in self.lessons for error in run.errors]


@dataclass
class LoadTestReport:
    students: list[StudentRun]
    alone: StudentRun | None
    real_users: bool
    limits: str  # how cpu_limit / mem_limit were enforced

    def isolation_breaches(self) -> list[str]:
        """Every way a student reached another's server or files."""
        breaches = []
        for student in self.students:
            for check, outcome in {**student.hub_checks, **student.reach}.items():
                if _reached(check, outcome):
                    breaches.append(f"{student.name}: {check} -> {outcome}")
        return breaches

    def to_text(self) -> str:
        lines = [f"{len(self.students)} students at once; "
                 f"{'real Unix users' if self.real_users else 'one Unix user for all'}; {self.limits}"]
        alone = self.alone.seconds if self.alone else None
        rows = ([("alone", self.alone)] if self.alone else []) + [("together", s) for s in self.students]
        for label, student in rows:
            lessons = ", ".join(f"{run.lesson} {run.seconds:.0f} s" for run in student.lessons)
            ratio = f" ({student.seconds / alone:.2f}x alone)" if alone and label == "together" else ""
            lines.append(f"  {label:<8} {student.name:<11} {student.seconds:6.1f} s{ratio}: "
                         f"start {student.start_seconds:.0f} s, {lessons}; "
                         f"threads {student.facts.get('threads', '?')}; peak "
                         f"{student.facts.get('peak_mb', float('nan')):.0f} MB; "
                         f"errors {len(student.errors)}")
        for student in self.students:
            for error in student.errors:
                lines.append(f"  ERROR {student.name}: {error[:500]}")
        for student in self.students[:1]:  # the same checks for every student
            checks = {**student.hub_checks, **student.reach}
            lines.append(f"  {student.name} tried the next student's: "
                         + ", ".join(f"{check} {outcome}" for check, outcome in checks.items()))
        breaches = self.isolation_breaches()
        lines.append("isolation: " + ("no student reached another's server or files" if not breaches
                                      else f"{len(breaches)} breaches"))
        lines += [f"  {breach}" for breach in breaches]
        return "\n".join(lines)


def _reached(check: str, outcome) -> bool:
    """True when ``outcome`` of ``check`` means access was granted."""
    if check == "read_their_lesson":
        return outcome == "read"
    if check == "their_token_from_proc":
        return outcome == "stolen"
    return outcome in (200, 201, 202, 204)


# ---- the hub ------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


LOAD_TEST_CONFIG = """
import sys
sys.path.insert(0, {repository!r})
load_subconfig({classroom_config!r})  # the class set-up as a teacher runs it; then the test's changes
c.JupyterHub.bind_url = "http://127.0.0.1:{port}"
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_port}"
c.JupyterHub.db_url = "sqlite:///{state}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "{state}/cookie_secret"
c.JupyterHub.pid_file = "{state}/jupyterhub.pid"
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = {password!r}
c.JupyterHub.spawner_class = "classroom.load_test.LimitedLocalSpawner"
c.LimitedLocalSpawner.real_users = {real_users!r}
c.LimitedLocalSpawner.home_dir_template = "{state}/homes/{{username}}"
c.Spawner.environment = {{"RESNET_EXPLORER_FAST": "1", "LOAD_TEST_HUB": "{port}"}}
c.Spawner.args = {server_args!r}
c.JupyterHub.services = [{{"name": "load-test", "api_token": {service_token!r}}}]
c.JupyterHub.load_roles = [{{"name": "load-test", "scopes": ["proxy", "list:users", "read:users"],
                            "services": ["load-test"]}}]
"""


class LimitedLocalSpawner(SimpleLocalProcessSpawner):
    """``SimpleLocalProcessSpawner`` (one Unix user), or with ``real_users`` JupyterHub's
    ``LocalProcessSpawner`` (servers run as the students' accounts), plus, as root, the cgroup
    with ``cpu_limit`` and ``mem_limit`` that SystemdSpawner would have systemd make."""

    real_users = Bool(False, config=True)

    @property
    def home_dir(self) -> str:
        if self.real_users:
            return pwd.getpwnam(self.user.name).pw_dir
        return self.home_dir_template.format(username=self.user.name)

    def make_preexec_fn(self, name):
        base = (LocalProcessSpawner.make_preexec_fn(self, name) if self.real_users
                else super().make_preexec_fn(name))
        group = self._limited_group()

        def preexec():
            if group is not None:
                group.add()  # before the server drops root
            base()
        return preexec

    def user_env(self, env):
        if self.real_users:
            return LocalProcessSpawner.user_env(self, env)
        return super().user_env(env)

    def _limited_group(self) -> LimitedGroup | None:
        self._group = None
        if os.getuid() != 0 or not self.cpu_limit:
            return None
        try:
            self._group = make_limited_group(self.cpu_limit, self.mem_limit,
                                             name=f"jupyter-{self.user.name}-{uuid.uuid4().hex[:6]}")
        except CgroupUnavailable as error:
            self.log.warning("cpu_limit and mem_limit not enforced: %s", error)
        return self._group

    async def stop(self, now=False):
        await super().stop(now=now)
        if getattr(self, "_group", None) is not None:
            self._group.remove()


@dataclass
class Hub:
    url: str
    password: str
    service_token: str
    state: Path
    real_users: bool

    def routes(self) -> dict[str, str]:
        """The proxy's routing table: ``/user/NAME/`` -> ``http://127.0.0.1:PORT``."""
        answer = requests.get(f"{self.url}/hub/api/proxy", timeout=30,
                              headers={"Authorization": f"token {self.service_token}"})
        answer.raise_for_status()
        return {prefix: route["target"] for prefix, route in answer.json().items()}


@contextmanager
def running_hub(real_users: bool = False, log: Path | None = None) -> Iterator[Hub]:
    """A JupyterHub on 127.0.0.1 with the class set-up; stopped, with every server, after."""
    for program in ("configurable-http-proxy",):
        if shutil.which(program) is None:
            raise RuntimeError(f"{program} not found: `npm install -g configurable-http-proxy` "
                               "(scripts/install_system_packages.sh does it)")
    state = Path(tempfile.mkdtemp(prefix="classroom-load-test-"))
    state.chmod(0o755)
    (state / "homes").mkdir(mode=0o755)
    port, hub_port, proxy_port = free_port(), free_port(), free_port()
    password, service_token = secrets.token_hex(16), secrets.token_hex(32)
    server_args = ["--allow-root"] if os.getuid() == 0 and not real_users else []
    config = state / "jupyterhub_config.py"
    config.write_text(LOAD_TEST_CONFIG.format(
        repository=str(REPOSITORY), classroom_config=str(CLASSROOM / "jupyterhub_config.py"),
        port=port, hub_port=hub_port, proxy_port=proxy_port, state=state, password=password,
        real_users=real_users, server_args=server_args, service_token=service_token))
    (state / "students.txt").write_text("")  # the test's own users are allowed below
    environment = {**os.environ, "CLASS_STUDENTS": str(state / "students.txt"),
                   "PYTHONPATH": os.pathsep.join(filter(None, [str(REPOSITORY), os.environ.get("PYTHONPATH")]))}
    environment.pop("JUPYTERHUB_API_TOKEN", None)
    log_file = open(log or state / "jupyterhub.log", "w")
    hub = subprocess.Popen([str(Path(sys.executable).with_name("jupyterhub")), "-f", str(config),
                            "--Authenticator.allow_all=True"],
                           cwd=state, env=environment, stdout=log_file, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(lambda: requests.get(f"{url}/hub/api", timeout=5).ok, 120, hub, state)
        yield Hub(url, password, service_token, state, real_users)
    finally:
        hub.send_signal(signal.SIGTERM)  # the hub stops the servers and the proxy it started
        try:
            hub.wait(timeout=60)
        except subprocess.TimeoutExpired:
            hub.kill()
            hub.wait()
        log_file.close()
        _stop_leftover_servers(port)
        shutil.rmtree(state, ignore_errors=True)


def _wait_for(ready, seconds: float, process: subprocess.Popen, state: Path) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = (state / "jupyterhub.log")
            tail = log.read_text()[-3000:] if log.exists() else ""
            raise RuntimeError(f"JupyterHub exited with {process.returncode}:\n{tail}")
        try:
            if ready():
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"JupyterHub was not ready after {seconds:.0f} s")


def _stop_leftover_servers(hub_port: int) -> None:
    """End servers and kernels of this hub that outlived it (by pid, found by this hub's port)."""
    marker = f"LOAD_TEST_HUB={hub_port}".encode()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if marker in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
                os.kill(int(pid), signal.SIGKILL)
        except OSError:
            continue


# ---- a student ----------------------------------------------------------------------------------

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


def run_student(hub: Hub, name: str, lessons: tuple[str, ...]) -> StudentRun:
    run = StudentRun(name)
    started = time.perf_counter()
    student = Student(hub, name)
    try:
        student.log_in()
        student.start_server()
        run.start_seconds = time.perf_counter() - started
        for lesson in lessons:
            run.lessons.append(student.run_lesson(lesson))
        run.facts = student.facts
    except Exception as error:  # the report says which student failed and how
        run.failure = f"{type(error).__name__}: {error}"
    run.seconds = time.perf_counter() - started
    return run


# ---- the whole test -----------------------------------------------------------------------------

@contextmanager
def unix_students(count: int) -> Iterator[list[str]]:
    """Unix accounts rxstudent1..N for one run (root only); deleted after."""
    if os.getuid() != 0:
        raise PermissionError("--real-users needs root: it creates and deletes Unix accounts")
    names = [f"rxstudent{i}" for i in range(1, count + 1)]
    created, granted, plain = [], [], set()
    try:
        for name in names:
            subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", "--user-group", name],
                           check=True, capture_output=True)
            created.append(name)
        granted, plain = _let_students_run_this_python(names)
        yield names
    finally:
        for directory, name in granted:
            subprocess.run(["setfacl", "-x", f"u:{name}", directory], capture_output=True)
        for directory in {directory for directory, _ in granted} & plain:
            subprocess.run(["setfacl", "-b", directory], capture_output=True)  # as it was
        for name in created:
            subprocess.run(["userdel", "--remove", name], capture_output=True)


def _let_students_run_this_python(names: list[str]) -> tuple[list[tuple[str, str]], set[str]]:
    """Let the accounts traverse (x only) closed folders on the way to this environment.

    On a class server the environment lives where students can run it (/opt, /srv); a developer's
    Python may sit under a 0700 home (here: pyenv under /root). An ACL entry for each test account
    opens only traversal, only for them, and is removed after the run. Returns the entries made
    and the folders that had no ACL before.
    """
    needed = set()
    for path in (Path(sys.executable).resolve(), Path(sys.executable).absolute(), REPOSITORY):
        for directory in path.parents:
            if not directory.stat().st_mode & 0o001:
                needed.add(str(directory))
    if needed and shutil.which("setfacl") is None:
        raise RuntimeError(f"the students' accounts cannot reach {sorted(needed)}; install the "
                           "acl package (setfacl) or put the environment where others can run it")
    granted, plain = [], set()  # plain: folders without an ACL before (cleared after)
    for directory in sorted(needed):
        listed = subprocess.run(["getfacl", "--skip-base", "--absolute-names", directory],
                                capture_output=True, text=True).stdout
        if not listed.strip():
            plain.add(directory)
        for name in names:
            subprocess.run(["setfacl", "-m", f"u:{name}:x", directory], check=True, capture_output=True)
            granted.append((directory, name))
    return granted, plain


def load_test(students: int = 4, lessons: tuple[str, ...] = LESSONS, alone: bool = False,
              real_users: bool = False) -> LoadTestReport:
    """Log in ``students`` students at once, run ``lessons``, check isolation; ``alone``: first
    one student by themselves, for the time to compare with."""
    accounts = unix_students(students + alone) if real_users else _names(students + alone)
    with accounts as names, running_hub(real_users) as hub:
        alone_run = run_student(hub, names[0], lessons) if alone else None
        together = names[1:] if alone else names
        runs = [StudentRun(name) for name in together]
        threads = [threading.Thread(target=lambda i=i: runs.__setitem__(i, run_student(hub, together[i], lessons)))
                   for i in range(len(together))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if len(together) > 1:
            _check_isolation(hub, together, runs)
        limits = _limits_description(hub)
    return LoadTestReport(runs, alone_run, real_users, limits)


@contextmanager
def _names(count: int) -> Iterator[list[str]]:
    yield [f"student{i}" for i in range(1, count + 1)]


def _check_isolation(hub: Hub, names: list[str], runs: list[StudentRun]) -> None:
    """Each student tries the next one's server, token and files (with their servers running)."""
    students = [Student(hub, name) for name in names]
    for student in students:
        try:
            student.log_in()
        except Exception:
            pass  # that student's own run already reports it; their checks fail below
    for i, (student, run) in enumerate(zip(students, runs)):
        other = students[(i + 1) % len(students)]
        try:
            run.hub_checks = student.try_to_reach(other)
            run.reach = student.kernel_tries_to_reach(other)
        except Exception as error:  # reported as a failure of that student's run
            run.failure = run.failure or f"isolation check: {type(error).__name__}: {error}"


def _limits_description(hub: Hub) -> str:
    if os.getuid() != 0:
        return "cpu_limit and mem_limit not enforced (not root: no cgroup; SystemdSpawner would)"
    try:
        make_limited_group(1.0).remove()
    except CgroupUnavailable as error:
        return f"cpu_limit and mem_limit not enforced ({error})"
    return "cpu_limit and mem_limit enforced by a cgroup per server (as SystemdSpawner does)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=4)
    parser.add_argument("--lessons", nargs="+", default=list(LESSONS))
    parser.add_argument("--alone", action="store_true", help="first time one student alone")
    parser.add_argument("--real-users", action="store_true", help="Unix accounts per student (root)")
    args = parser.parse_args()
    started = time.perf_counter()
    report = load_test(args.students, tuple(args.lessons), args.alone, args.real_users)
    print(report.to_text())
    print(f"whole load test: {time.perf_counter() - started:.0f} s")
    sys.exit(1 if any(s.errors for s in report.students) or report.isolation_breaches() else 0)


if __name__ == "__main__":
    main()
