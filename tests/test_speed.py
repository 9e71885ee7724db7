import json
import os
import subprocess
import sys
import warnings

import pytest
import torch

import resnet_explorer as rx
from classroom import cgroup_limits
from resnet_explorer import speed
from resnet_explorer.environment_check import check_environment
from resnet_explorer.speed import choose_settings, cpu_has_native_bf16, thread_limit


def _fake_cpu(monkeypatch, *, amx=False, avx512_bf16=False, capability="AVX512"):
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16, raising=False)
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: capability)


@pytest.mark.parametrize("amx, avx512_bf16, capability, native", [
    (True, False, "AVX512", True),
    (False, True, "AVX512", True),
    (False, False, "AVX512", False),  # AVX-512 without bf16: emulated, 2x slower than fp32
    (True, True, "AVX2", False),  # PyTorch held back to AVX2 (ATEN_CPU_CAPABILITY): emulated
    (False, False, "DEFAULT", False),
])
def test_native_bf16_needs_the_hardware_and_pytorch_using_it(monkeypatch, amx, avx512_bf16,
                                                             capability, native):
    _fake_cpu(monkeypatch, amx=amx, avx512_bf16=avx512_bf16, capability=capability)
    assert cpu_has_native_bf16() is native


def test_a_failing_probe_means_no_bf16(monkeypatch):
    def broken():
        raise RuntimeError("probe changed")

    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", broken, raising=False)
    assert cpu_has_native_bf16() is False


def test_auto_precision_on_a_cpu_without_native_bf16_is_fp32(monkeypatch):
    monkeypatch.setattr(speed, "cpu_has_native_bf16", lambda: False)
    settings = choose_settings("cpu", "auto")
    assert settings.precision == "fp32"
    assert settings.autocast_dtype is None
    assert settings.channels_last and not settings.grad_scaler


def test_auto_precision_on_a_cpu_with_native_bf16_is_bf16(monkeypatch):
    monkeypatch.setattr(speed, "cpu_has_native_bf16", lambda: True)
    settings = choose_settings("cpu", "auto")
    assert settings.precision == "bf16"
    assert settings.autocast_dtype is torch.bfloat16


def test_explicit_fp32_wins_over_native_bf16(monkeypatch):
    monkeypatch.setattr(speed, "cpu_has_native_bf16", lambda: True)
    assert choose_settings("cpu", "fp32").precision == "fp32"


def test_forcing_bf16_on_a_cpu_without_it_warns_that_it_is_slow(monkeypatch):
    monkeypatch.setattr(speed, "cpu_has_native_bf16", lambda: False)
    with pytest.warns(UserWarning, match="no native bf16"):
        assert choose_settings("cpu", "bf16").precision == "bf16"


def test_unknown_precision_names_the_allowed_ones():
    with pytest.raises(ValueError, match="'fp16'.*auto, fp32, bf16"):
        choose_settings("cpu", "fp16")


def test_autocast_computes_in_bf16_only_when_chosen(monkeypatch):
    monkeypatch.setattr(speed, "cpu_has_native_bf16", lambda: True)
    layer = torch.nn.Linear(4, 4)
    with choose_settings("cpu", "bf16").autocast():
        assert layer(torch.randn(2, 4)).dtype == torch.bfloat16
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with choose_settings("cpu", "fp32").autocast():
            assert layer(torch.randn(2, 4)).dtype == torch.float32


def test_threads_never_exceed_the_physical_cores():
    cores = speed.physical_cores()
    assert 1 <= cores <= (os.cpu_count() or 1)
    assert 1 <= speed.recommended_threads() <= cores
    assert choose_settings("cpu", "fp32").num_threads <= cores


def test_thread_limit_restores_the_previous_count():
    before = torch.get_num_threads()
    with thread_limit(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with thread_limit(None):
        assert torch.get_num_threads() == before


# ---- the thread policy ---------------------------------------------------------------------------

def _fake_proc(tmp_path, cgroup: str, mountinfo: str):
    proc = tmp_path / "proc"
    proc.mkdir()
    (proc / "cgroup").write_text(cgroup)
    (proc / "mountinfo").write_text(mountinfo)
    return str(proc)


def _write(path, text):
    path.mkdir(parents=True, exist_ok=True)
    for name, value in text.items():
        (path / name).write_text(value)


def test_cgroup_v2_quota_is_read_where_the_process_is_and_above(tmp_path):
    # A user's server as SystemdSpawner places it: a service under a slice, each with cpu.max.
    mount = tmp_path / "cgroup2"
    _write(mount, {"cpu.max": "max 100000"})
    _write(mount / "system.slice", {"cpu.max": "max 100000"})
    _write(mount / "system.slice/jupyter-alice.service", {"cpu.max": "150000 100000"})
    proc = _fake_proc(tmp_path, "0::/system.slice/jupyter-alice.service\n",
                      f"35 24 0:30 / {mount} rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n")
    assert speed.cgroup_cpu_quota(proc) == 1.5
    (mount / "system.slice/cpu.max").write_text("50000 100000")  # a tighter parent wins
    assert speed.cgroup_cpu_quota(proc) == 0.5


def test_cgroup_v1_cfs_quota_in_a_container_view(tmp_path):
    # Inside a container the mount shows the container's own cgroup as its root.
    mount = tmp_path / "cpu"
    _write(mount, {"cpu.cfs_quota_us": "200000", "cpu.cfs_period_us": "100000"})
    proc = _fake_proc(tmp_path, "4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n0::/\n",
                      f"40 30 0:35 /docker/abc {mount} rw - cgroup cgroup rw,cpu,cpuacct\n")
    assert speed.cgroup_cpu_quota(proc) == 2.0


def test_no_quota_means_none(tmp_path):
    mount = tmp_path / "cpu"
    _write(mount, {"cpu.cfs_quota_us": "-1", "cpu.cfs_period_us": "100000"})
    proc = _fake_proc(tmp_path, "3:cpu:/\n",
                      f"40 30 0:35 / {mount} rw - cgroup cgroup rw,cpu\n")
    assert speed.cgroup_cpu_quota(proc) is None
    assert speed.cgroup_cpu_quota(str(tmp_path / "no-such-proc")) is None


def _torch_default_threads():
    """torch's own count here (it follows the CPU affinity); the suite runs on one thread."""
    return thread_limit(len(os.sched_getaffinity(0)))


def test_a_cpu_quota_caps_the_threads_rounded_down(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    monkeypatch.setattr(speed, "cgroup_cpu_quota", lambda: 0.5)
    with _torch_default_threads():
        policy = speed.thread_policy()
    assert policy.threads == 1 and policy.user_setting is None
    assert "quota of 0.5 CPU" in policy.reason
    monkeypatch.setattr(speed, "cgroup_cpu_quota", lambda: 64.0)  # more than the cores: cores
    with _torch_default_threads():
        policy = speed.thread_policy()
    assert policy.threads == speed._cores_of(speed._usable_cpus()) == policy.cores


def test_the_users_choice_is_respected(monkeypatch):
    monkeypatch.setattr(speed, "cgroup_cpu_quota", lambda: 1.0)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert speed.thread_policy().user_setting == "OMP_NUM_THREADS=1"
    monkeypatch.delenv("OMP_NUM_THREADS")
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    usable = len(os.sched_getaffinity(0))
    with thread_limit(usable + 3):  # no default of torch's: the user's torch.set_num_threads
        policy = speed.thread_policy()
        assert policy.threads == usable + 3
        assert policy.user_setting == f"torch.set_num_threads({usable + 3})"
        threads = check_environment(load_data=False).checks
        advice = [check.advice for check in threads if check.name == "threads"][0]
        assert "more than the" in advice and "slower" in advice


def test_training_probes_and_attribution_run_under_the_policy(monkeypatch):
    monkeypatch.setattr(speed, "recommended_threads", lambda: 2)
    seen = []
    model = rx.build_model(8, in_channels=1, num_classes=3)
    model.stem.register_forward_hook(lambda *_: seen.append(torch.get_num_threads()))
    images, labels = torch.randn(4, 1, 8, 8), torch.tensor([0, 1, 2, 0])
    rx.layer_responses(model, images)
    rx.gradient_flow(model, images, labels)
    rx.attribute(model, images[:1], "saliency")
    assert seen and set(seen) == {2}
    assert torch.get_num_threads() == 1  # each restores the count it found
    monkeypatch.setattr(speed, "thread_policy", lambda: speed.ThreadPolicy(2, "test", 2, 2, None, None))
    assert choose_settings("cpu", "fp32").num_threads == 2  # rx.train's thread count


QUOTA_CHILD = """
import json, torch
from resnet_explorer.speed import choose_settings, thread_policy
policy = thread_policy()
print(json.dumps({"torch": torch.get_num_threads(), "policy": policy.threads,
                  "quota": policy.cpu_quota, "reason": policy.reason,
                  "train": choose_settings("cpu", "fp32").num_threads}))
"""


def test_a_real_cgroup_quota_gives_one_thread_where_torch_takes_every_cpu():
    try:
        group = cgroup_limits.make_limited_group(cpus=1.0)
    except cgroup_limits.CgroupUnavailable as error:
        pytest.skip(f"this machine does not let the suite make a cgroup: {error}")
    environment = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    try:
        child = subprocess.run([sys.executable, "-c", QUOTA_CHILD], env=environment, text=True,
                               capture_output=True, preexec_fn=group.add, timeout=120, check=True)
    finally:
        group.remove()
    found = json.loads(child.stdout)
    assert found["quota"] == 1.0
    assert found["torch"] == len(os.sched_getaffinity(0))  # torch ignores the quota
    assert found["policy"] == found["train"] == 1, found["reason"]
