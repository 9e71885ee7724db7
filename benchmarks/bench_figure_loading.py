"""How long a page takes to make several plotly FigureWidgets ready, with and without sharing code.

anywidget evaluates a FigureWidget's browser code (plotly's ~5 MB widget bundle) once per
figure and gives each figure 2 s from its creation to be ready; a figure that misses it draws
but then ignores the kernel (it freezes). ``LiveFigureWidget`` sends a small module that
evaluates the bundle once per page. This loads, in headless Debian chromium, N figures' code
the way anywidget does (a blob URL per figure, all started together) for both modules, in
alternating rounds, and prints when each figure's code was ready. Goal: every figure ready
within the 2 s deadline, with the explorer's three figures.

    python benchmarks/bench_figure_loading.py [--figures 3] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playwright.sync_api import sync_playwright  # noqa: E402

from resnet_explorer.figures.live import _PLOTLY_WIDGET_BUNDLE, _page_shared_esm  # noqa: E402
from tests.browser.harness import launch_chromium  # noqa: E402

DEADLINE_SECONDS = 2.0

# Import `count` copies of `esm` at once, each from its own blob URL (as anywidget does), and
# return the milliseconds after which each copy's default export was ready.
LOAD_JS = """async ([esm, count]) => {
  const started = performance.now();
  return await Promise.all([...Array(count).keys()].map(async () => {
    const module = await import(URL.createObjectURL(new Blob([esm], {type: 'text/javascript'})));
    if (typeof module.default !== 'function') throw new Error('no default export');
    return performance.now() - started;
  }));
}"""


def ready_times(browser, esm: str, count: int) -> list[float]:
    """Seconds after which each of `count` figures' code is ready, on a fresh page."""
    page = browser.new_page()
    try:
        page.goto("about:blank")
        return [ms / 1000 for ms in page.evaluate(LOAD_JS, [esm, count])]
    finally:
        page.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--figures", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    modules = {
        "plotly's bundle per figure": _PLOTLY_WIDGET_BUNDLE.read_text(encoding="utf-8"),
        "LiveFigureWidget (shared)": _page_shared_esm(),
    }
    slowest = {name: [] for name in modules}
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        for _ in range(args.rounds):
            for name, esm in modules.items():
                times = ready_times(browser, esm, args.figures)
                slowest[name].append(max(times))
                print(f"{name:28s} ready after " + ", ".join(f"{t:.2f}" for t in sorted(times)) + " s")
        browser.close()

    print(f"\n{args.figures} figures created together, median over {args.rounds} rounds of the last one ready:")
    for name, values in slowest.items():
        median = statistics.median(values)
        verdict = "within" if median <= DEADLINE_SECONDS else "MISSES"
        print(f"  {name:28s} {median:.2f} s  ({verdict} anywidget's {DEADLINE_SECONDS:.0f} s deadline)")
    base, shared = (statistics.median(v) for v in slowest.values())
    print(f"  ratio: {base / shared:.1f}x sooner with the shared code")


if __name__ == "__main__":
    main()
