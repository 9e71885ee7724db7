"""Run the lessons and write them with their outputs, so a teacher can read the results before class.

The committed notebooks in ``notebooks/`` have no outputs (they would hold megabytes of widget
state). This script executes copies of them top to bottom and writes, for each lesson, the
executed notebook and an HTML page into a folder that git ignores (``preview/`` by default)::

    python scripts/render_lessons.py                       # all lessons, the real schedules
    python scripts/render_lessons.py --fast 02 06          # fast mode, lessons 02 and 06 only
    make preview                                           # the same as the first line

The source notebooks are never written to. Figures are embedded in the pages (plotly's
``plotly_mimetype+notebook`` renderer; the first figure of a page carries plotly.js, about
4.5 MB, so every page works offline). Interactive explorers need a running kernel: the pages
say where one would appear, and the lesson text says what it shows; progress bars are left out.

Training runs go to the run cache (``RESNET_EXPLORER_CACHE``, or the default cache), so a
second rendering, or the lessons in class afterwards, take the trained runs from there at once:
rendering the whole course is also the way to warm the cache before a class.
"""

from __future__ import annotations

import argparse
import html
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
DEFAULT_OUTPUT = REPO_ROOT / "preview"
#: The renderer that makes headless outputs show figures in HTML (the default one draws nothing there).
PLOTLY_RENDERER = "plotly_mimetype+notebook"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
EXPLORER_NOTE = "*(An interactive explorer appears here when the lesson runs in JupyterLab.)*"


@dataclass
class Rendered:
    """What happened to one lesson."""

    name: str
    seconds: float
    errors: list[str]
    html_path: Path
    notebook_path: Path


def lessons(selection: list[str] | None = None, folder: Path = NOTEBOOKS_DIR) -> list[Path]:
    """The notebooks of ``folder`` (the lessons and the primer), all or those whose name starts with a selection.

    ``selection`` items are prefixes such as ``"02"`` or ``"06_attribution"``; one that matches
    nothing raises ``ValueError`` naming the lessons there are.
    """
    every = sorted(folder.glob("*.ipynb"))
    if not selection:
        return every
    chosen = []
    for prefix in selection:
        matches = [path for path in every if path.stem.startswith(prefix)]
        if not matches:
            names = ", ".join(path.stem for path in every)
            raise ValueError(f"no lesson starts with {prefix!r}; the lessons are: {names}")
        chosen += [path for path in matches if path not in chosen]
    return chosen


def error_outputs(notebook) -> list[str]:
    """One line per error output of an executed notebook: ``cell N: Name: message``."""
    found = []
    for index, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if output.output_type == "error":
                found.append(f"cell {index}: {output.ename}: {output.evalue}"[:300])
    return found


def without_widgets(notebook) -> int:
    """Replace widget outputs by a line of text, drop the saved widget state; return how many.

    A page cannot run an explorer without a kernel, and the saved state of one plotly
    FigureWidget is about 5 MB. Progress bars (tqdm widgets) are dropped: the page shows the
    run's printed results instead.
    """
    replaced = 0
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for output in cell.outputs:
            data = output.get("data", {})
            if WIDGET_VIEW not in data:
                kept.append(output)
                continue
            replaced += 1
            if "%|" in data.get("text/plain", ""):
                continue
            output["data"] = {"text/markdown": EXPLORER_NOTE, "text/plain": EXPLORER_NOTE}
            kept.append(output)
        cell.outputs = kept
    notebook.metadata.pop("widgets", None)
    return replaced


def render(path: Path, output: Path, *, cell_timeout: int = 1800) -> Rendered:
    """Execute one notebook (a copy: the source is only read) and write ``.ipynb`` and ``.html``.

    A cell that raises does not stop the lesson (``allow_errors``): the page shows the error
    where it happened, and ``Rendered.errors`` lists it.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=cell_timeout, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(path.parent)}})
    started = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - started
    notebook.metadata["resnet_explorer_preview"] = {
        "fast_mode": os.environ.get("RESNET_EXPLORER_FAST", "") not in ("", "0"),
        "seconds": round(seconds, 1),
    }
    without_widgets(notebook)
    output.mkdir(parents=True, exist_ok=True)
    notebook_path = output / path.name
    nbformat.write(notebook, notebook_path)
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(notebook)
    html_path = output / f"{path.stem}.html"
    html_path.write_text(body, encoding="utf-8")
    return Rendered(path.stem, seconds, error_outputs(notebook), html_path, notebook_path)


def write_index(results: list[Rendered], output: Path, fast: bool) -> Path:
    """``index.html``: one line per lesson with its run time and any errors."""
    mode = "fast mode (RESNET_EXPLORER_FAST=1: runs too short to show anything)" if fast else "the real schedules"
    rows = "\n".join(
        f"<tr><td><a href='{html.escape(r.html_path.name)}'>{html.escape(r.name)}</a></td>"
        f"<td>{r.seconds:.0f} s</td><td>{html.escape('; '.join(r.errors)) or 'no errors'}</td></tr>"
        for r in results)
    page = (f"<!doctype html><meta charset='utf-8'><title>resnet_explorer lessons, rendered</title>"
            f"<h1>The lessons with their outputs</h1><p>Rendered {time.strftime('%Y-%m-%d %H:%M')} "
            f"with {mode}, by <code>scripts/render_lessons.py</code>.</p>"
            f"<table border='1' cellpadding='6'><tr><th>lesson</th><th>run time</th><th>errors</th></tr>"
            f"{rows}</table>")
    path = output / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("lessons", nargs="*", help="lesson name prefixes (e.g. 02 06); default all")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUTPUT, help="output folder (default preview/)")
    parser.add_argument("--notebooks", type=Path, default=NOTEBOOKS_DIR, help="where the lessons are (default notebooks/)")
    parser.add_argument("--fast", action="store_true", help="fast mode: seconds per lesson, nothing to learn from")
    parser.add_argument("--cell-timeout", type=int, default=1800, help="seconds one cell may take")
    args = parser.parse_args(argv)
    try:
        selected = lessons(args.lessons, args.notebooks)
    except ValueError as error:
        parser.error(str(error))
    # The kernels inherit this environment: figures that draw in HTML, and the package from here.
    os.environ.setdefault("PLOTLY_RENDERER", PLOTLY_RENDERER)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    if args.fast:
        os.environ["RESNET_EXPLORER_FAST"] = "1"
    else:  # a preview of the real schedules, even where the shell has fast mode on
        os.environ.pop("RESNET_EXPLORER_FAST", None)
    results = []
    for path in selected:
        print(f"{path.stem} ...", end=" ", flush=True)
        result = render(path, args.out, cell_timeout=args.cell_timeout)
        results.append(result)
        print(f"{result.seconds:.0f} s" + (f", {len(result.errors)} errors: {result.errors}" if result.errors else ""),
              flush=True)
    index = write_index(results, args.out, args.fast)
    print(f"wrote {index}")
    return 1 if any(result.errors for result in results) else 0


if __name__ == "__main__":
    sys.exit(main())
