import os
import warnings

import pytest
import torch

from resnet_explorer import speed
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
