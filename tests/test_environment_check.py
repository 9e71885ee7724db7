import resnet_explorer.environment_check as environment_check
from resnet_explorer.environment_check import check_environment, fast_mode


def test_report_lists_packages_device_and_dataset():
    report = check_environment()
    names = [check.name for check in report.checks]
    for expected in ("python", "torch", "captum", "plotly", "device", "dataset", "CIFAR-10"):
        assert expected in names
    assert report.ok, report.to_text()
    assert "Dataset('fashion-mnist-mini'" in report.to_text()
    assert "<table>" in report._repr_html_()


def test_missing_package_is_reported_with_advice(monkeypatch):
    monkeypatch.setattr(environment_check, "_PACKAGES", ("torch", "no-such-package-xyz"))
    report = check_environment(load_data=False)
    missing = [c for c in report.checks if c.name == "no-such-package-xyz"][0]
    assert not missing.ok and "make lab" in missing.advice
    assert not report.ok


def test_fast_mode_reads_the_environment(monkeypatch):
    monkeypatch.setenv("RESNET_EXPLORER_FAST", "1")
    assert fast_mode()
    monkeypatch.setenv("RESNET_EXPLORER_FAST", "0")
    assert not fast_mode()
    monkeypatch.delenv("RESNET_EXPLORER_FAST")
    assert not fast_mode()
