# JupyterHub for a class on one server: every student gets their own JupyterLab, their own copy of
# the lessons and a share of the machine (cpu_limit, mem_limit).
#
#     cd /srv/jupyterhub && sudo /path/to/resnet_explorer/.venv/bin/jupyterhub \
#         -f /path/to/resnet_explorer/classroom/jupyterhub_config.py
#
# Students log in with their Unix account (PAM); list them in classroom/students.txt. Each server
# runs as its student in a systemd unit (jupyterhub-systemdspawner), which turns cpu_limit and
# mem_limit into CPUQuota= and MemoryMax= of that unit's cgroup. resnet_explorer reads that quota
# and trains on as many threads as it allows (rx.check_environment() shows the choice).
# classroom/README.md says more; classroom/load_test.py checks a set-up before class.
import os
import sys
from pathlib import Path

CLASSROOM = Path(__file__).resolve().parent
sys.path.insert(0, str(CLASSROOM.parent))
from classroom.lessons import pre_spawn_hook  # noqa: E402

c = get_config()  # noqa: F821 (JupyterHub provides it)

c.JupyterHub.bind_url = os.environ.get("CLASS_BIND_URL", "http://:8000")

# Who may log in: one Unix user name a line; teachers are admins (they can see students' servers).
students_file = Path(os.environ.get("CLASS_STUDENTS", CLASSROOM / "students.txt"))
if not students_file.exists():
    sys.exit(f"{students_file} not found: list the students' user names in it, one a line "
             "(or point CLASS_STUDENTS at such a file)")
c.Authenticator.allowed_users = {line.strip() for line in students_file.read_text().splitlines()
                                 if line.strip() and not line.startswith("#")}
c.Authenticator.admin_users = {name for name in os.environ.get("CLASS_TEACHERS", "").split(",") if name}

# Each student's server: a systemd unit of their own, limited to a share of the machine.
c.JupyterHub.spawner_class = "systemdspawner.SystemdSpawner"
c.Spawner.cpu_limit = float(os.environ.get("CLASS_CPU_LIMIT", "1"))  # CPUs per student
c.Spawner.mem_limit = os.environ.get("CLASS_MEM_LIMIT", "2G")  # a lesson kernel peaks near 1 GB
c.SystemdSpawner.isolate_tmp = True  # a /tmp of their own
c.SystemdSpawner.isolate_devices = True
c.SystemdSpawner.disable_user_sudo = True
c.SystemdSpawner.unit_extra_properties = {"CPUAccounting": "yes", "MemoryAccounting": "yes"}

# The lessons run in this same environment (resnet_explorer, torch, JupyterLab, the shipped data).
c.Spawner.cmd = [str(Path(sys.executable).with_name("jupyterhub-singleuser"))]
c.Spawner.pre_spawn_hook = pre_spawn_hook  # copies the lessons into ~/lessons
c.Spawner.default_url = "/lab/tree/lessons/00_start_here.ipynb"
c.Spawner.start_timeout = 120  # a loaded server takes a while to import JupyterLab
c.Spawner.http_timeout = 90
# Never more servers than the machine holds (0: no limit); students beyond it are asked to wait.
c.JupyterHub.active_server_limit = int(os.environ.get("CLASS_MAX_SERVERS", "0"))
