"""k training processes at once on one machine: images/s under the thread policy vs torch's default.

A class on one server runs several kernels at once. Each process here is a student's kernel:
``rx.train`` of ResNet-20 on 16x16 Fashion-MNIST (the lessons' brief set-up), batch 128. All k
start together and are measured over the same wall-clock window, so the numbers of one k are
side by side. Arms:

- ``no quota``: no limit; the policy and torch's default agree here (both take the usable CPUs).
- ``quota, policy``: each process in its own cgroup allowed ``--cpu-limit`` CPUs (what
  JupyterHub's ``cpu_limit`` sets through SystemdSpawner or Kubernetes); the policy reads the
  quota and takes ``floor(cpu_limit)`` threads.
- ``quota, torch default``: the same cgroups, with torch's own count (it ignores quotas; forced
  here with ``OMP_NUM_THREADS``, which the policy respects).

The goal of issue 18: total images/s of 4 concurrent processes >= 0.8x that of one alone.
The cgroup arms need root (or a delegated cgroup); without one they are reported as skipped.
``other load`` is the CPU time (in CPUs) that processes outside the benchmark used during the
window, from ``/proc/stat``: on a shared machine it says how much the numbers were disturbed.

    python benchmarks/bench_concurrent_training.py            # k = 1, 2, 4; about 6 minutes
    python benchmarks/bench_concurrent_training.py --ks 1 4 --seconds 10
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from classroom.cgroup_limits import CgroupUnavailable, make_limited_group  # noqa: E402

WORKER = r"""
import json, sys, threading, time
import torch
import resnet_explorer as rx
from resnet_explorer.speed import thread_policy
warmup, seconds = map(float, sys.argv[1:3])
data = rx.load_dataset(image_size=16)
torch.manual_seed(0)
model = rx.build_model(20, in_channels=1, num_classes=10)
policy = thread_policy()
samples = []
stop = threading.Event()
def record(history):
    samples.append((time.time(), len(history.steps), time.process_time()))
    if time.time() > start_at + warmup + seconds + 0.5:
        stop.set()
print("ready", flush=True)
start_at = float(sys.stdin.readline())  # once every process has imported torch and the data
time.sleep(max(0.0, start_at - time.time()))
samples.append((time.time(), 0, time.process_time()))
history = rx.train(model, data, steps=1_000_000, eval_every=1_000_000, progress=False,
                   callback=record, callback_every=1, stop_event=stop)
print(json.dumps({"samples": samples, "threads": history.runtime["num_threads"],
                  "policy": str(policy), "batch": history.setup["schedule"]["batch_size"]}))
"""


def busy_jiffies() -> int:
    """CPU time used on the whole machine: user, nice, system, irq, softirq and steal (the
    hypervisor's share); guest time is already inside user time."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    return sum(values) - values[3] - values[4]


def at(samples: list, moment: float, column: int) -> float:
    """Linear interpolation of ``column`` (steps or CPU seconds) at wall time ``moment``."""
    for (t0, *a), (t1, *b) in zip(samples, samples[1:]):
        if t0 <= moment <= t1:
            return a[column] + (b[column] - a[column]) * (moment - t0) / max(t1 - t0, 1e-9)
    raise ValueError("the window is not inside this process's samples")


def run_arm(k: int, env: dict, cpu_limit: float | None, warmup: float, seconds: float) -> dict:
    groups = [make_limited_group(cpu_limit) for _ in range(k)] if cpu_limit else []
    processes = [subprocess.Popen(
        [sys.executable, "-c", WORKER, str(warmup), str(seconds)],
        env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
        preexec_fn=groups[i].add if groups else None) for i in range(k)]
    try:
        for process in processes:
            if process.stdout.readline().strip() != "ready":
                raise RuntimeError("a training process failed before it started")
        start_at = time.time() + 1.0
        for process in processes:
            process.stdin.write(f"{start_at}\n")
            process.stdin.flush()
        window = (start_at + warmup, start_at + warmup + seconds)
        time.sleep(max(0.0, window[0] - time.time()))
        busy_before = busy_jiffies()
        time.sleep(max(0.0, window[1] - time.time()))
        busy = (busy_jiffies() - busy_before) / os.sysconf("SC_CLK_TCK") / seconds
        results = [json.loads(process.communicate(timeout=600)[0].strip().splitlines()[-1])
                   for process in processes]
    finally:
        for process in processes:
            process.kill()
            process.wait()
        for group in groups:
            group.remove()
    rates, cpu = [], 0.0
    for result in results:
        steps = at(result["samples"], window[1], 0) - at(result["samples"], window[0], 0)
        cpu += at(result["samples"], window[1], 1) - at(result["samples"], window[0], 1)
        rates.append(steps * result["batch"] / seconds)
    return {"k": k, "threads": results[0]["threads"], "policy": results[0]["policy"],
            "per_process": rates, "total": sum(rates), "other_load": busy - cpu / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ks", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--cpu-limit", type=float, default=1.0,
                        help="CPUs each process may use in the quota arms (JupyterHub's cpu_limit)")
    parser.add_argument("--warmup", type=float, default=8.0,
                        help="seconds from the start before the window opens (first steps are slow)")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the measured window")
    args = parser.parse_args()
    base = {key: value for key, value in os.environ.items()
            if key not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    base["PYTHONPATH"] = str(ROOT)
    torch_default = str(len(os.sched_getaffinity(0)))  # what torch takes on its own (affinity)
    arms = [("no quota (policy = torch default)", base, None),
            (f"quota {args.cpu_limit:g} CPU, policy", base, args.cpu_limit),
            (f"quota {args.cpu_limit:g} CPU, torch default", {**base, "OMP_NUM_THREADS": torch_default},
             args.cpu_limit)]
    print(f"{os.cpu_count()} CPUs, usable {sorted(os.sched_getaffinity(0))}, load average "
          f"{os.getloadavg()[0]:.2f}; ResNet-20, 16x16 Fashion-MNIST, batch 128; "
          f"{args.seconds:g} s window after {args.warmup:g} s warm-up")
    print(f"{'arm':<34} {'k':>2} {'threads':>7} {'total img/s':>11} {'vs k=1':>7} "
          f"{'other load':>10}  per process")
    for name, env, cpu_limit in arms:
        alone = None
        for k in args.ks:
            try:
                row = run_arm(k, env, cpu_limit, args.warmup, args.seconds)
            except CgroupUnavailable as error:
                print(f"{name:<34} skipped: {error}")
                break
            alone = alone or row["total"]
            print(f"{name:<34} {k:>2} {row['threads']:>7} {row['total']:>11.0f} "
                  f"{row['total'] / alone:>6.2f}x {row['other_load']:>9.2f}   "
                  + " ".join(f"{rate:.0f}" for rate in row["per_process"]), flush=True)
    print("goal (issue 18): with k=4 the total is >= 0.80x that of k=1")


if __name__ == "__main__":
    main()
