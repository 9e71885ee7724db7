"""A real JupyterHub on 127.0.0.1 with the class set-up, for the load test.

``running_hub`` starts JupyterHub (and its configurable-http-proxy) with this folder's
``jupyterhub_config.py``, changed only where a test needs it: a test login (one shared password)
and local processes instead of PAM and systemd (``LimitedLocalSpawner``: as root it gives each
server the cgroup CPU quota and memory limit of ``cpu_limit`` and ``mem_limit``, as
SystemdSpawner has systemd do). ``unix_students`` makes real accounts for a run (root).
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests
from jupyterhub.spawner import LocalProcessSpawner, SimpleLocalProcessSpawner
from traitlets import Bool

from classroom.cgroup_limits import CgroupUnavailable, LimitedGroup, make_limited_group, remove_groups

CLASSROOM = Path(__file__).resolve().parent
REPOSITORY = CLASSROOM.parent
GROUP_PREFIX = "resnet-explorer-load-test-"  # + the hub's port: its servers' cgroups


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
c.JupyterHub.spawner_class = "classroom.hub.LimitedLocalSpawner"
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
            self._group = make_limited_group(self.cpu_limit, self.mem_limit, name=(
                f"{GROUP_PREFIX}{self.environment['LOAD_TEST_HUB']}-{self.user.name}-{uuid.uuid4().hex[:6]}"))
        except CgroupUnavailable as error:
            self.log.warning("cpu_limit and mem_limit not enforced: %s", error)
        return self._group

    async def stop(self, now=False):
        await super().stop(now=now)
        if getattr(self, "_group", None) is not None:
            self._group.remove(wait=0)  # kernels may still be exiting: running_hub sweeps after


@dataclass
class Hub:
    """A running hub: its address, the test login's password, and a service token for its API."""

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
        if os.getuid() == 0:
            remove_groups(f"{GROUP_PREFIX}{port}-")
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
