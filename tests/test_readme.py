"""The README's Python examples run as written, top to bottom (in fast mode, on small data)."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)


def test_the_readme_has_an_api_tour():
    code = "\n".join(readme_python_blocks())
    for name in ("rx.build_model", "rx.train", "rx.layer_responses", "rx.attribute",
                 "rx.figures.training_curves"):
        assert name in code


def test_the_readme_examples_run_as_written(tmp_path):
    script = tmp_path / "readme_examples.py"
    script.write_text("\n".join(readme_python_blocks()))
    env = dict(os.environ, RESNET_EXPLORER_FAST="1", OMP_NUM_THREADS="1",
               RESNET_EXPLORER_CACHE=str(tmp_path / "run-cache"), PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "figure.html").stat().st_size > 100_000  # the saved figure, plotly included
