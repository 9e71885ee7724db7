"""Save figures for slides and handouts: self-contained HTML, or PNG/SVG/PDF through kaleido.

``save_image`` needs the optional package kaleido (``pip install kaleido``) and a Chromium or
Chrome on the machine (Debian: ``apt-get install chromium``). It never downloads a browser.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import plotly.graph_objects as go

IMAGE_FORMATS = ("png", "svg", "pdf", "jpeg", "jpg", "webp")
DEBIAN_CHROMIUM = "/usr/lib/chromium/chromium"
_BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


class ExportError(RuntimeError):
    """A figure could not be exported; the message says what to install or change."""


def save_html(figure: go.Figure, path: str | os.PathLike) -> Path:
    """Write a self-contained HTML page (plotly.js included, works offline, about 5 MB)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.write_html(path, include_plotlyjs=True, full_html=True)
    return path


def find_browser() -> str:
    """The Chromium/Chrome kaleido will use; sets ``BROWSER_PATH`` to Debian's if it is unset.

    Raises ``ExportError`` saying what to install when there is none.
    """
    configured = os.environ.get("BROWSER_PATH")
    if configured:
        if os.access(configured, os.X_OK):
            return configured
        raise ExportError(f"BROWSER_PATH={configured!r} is not an executable browser. Point it at "
                          f"Chromium or Chrome (Debian: {DEBIAN_CHROMIUM}) or unset it.")
    if os.access(DEBIAN_CHROMIUM, os.X_OK):
        # Debian's /usr/bin/chromium is a shell wrapper; kaleido needs the binary itself.
        os.environ["BROWSER_PATH"] = DEBIAN_CHROMIUM
        return DEBIAN_CHROMIUM
    for name in _BROWSER_NAMES:
        found = shutil.which(name)
        if found:
            return found
    raise ExportError(
        "save_image needs Chromium or Chrome to draw the figure, and none was found. Install one "
        "(Debian/Ubuntu: `apt-get install -y chromium`) or set BROWSER_PATH to its executable. "
        "save_html(figure, path) works without a browser."
    )


def save_image(figure: go.Figure, path: str | os.PathLike, *, scale: float = 2.0) -> Path:
    """Write PNG, SVG, PDF, JPEG or WebP (from the file's suffix) at the figure's own size.

    ``scale=2`` doubles the pixels of PNG/JPEG/WebP so that slides stay sharp. Needs kaleido
    (``pip install kaleido``) and Chromium (``apt-get install -y chromium``).
    """
    path = Path(path)
    image_format = path.suffix.lower().lstrip(".")
    if image_format not in IMAGE_FORMATS:
        raise ValueError(f"cannot tell the image format from {path.name!r}; use a file name "
                         f"ending in one of: {', '.join('.' + f for f in IMAGE_FORMATS)}")
    try:
        import kaleido  # noqa: F401  (plotly uses it; imported here to give a clear error)
    except ImportError:
        raise ExportError("save_image needs the kaleido package: `pip install kaleido` (and "
                          "Chromium: `apt-get install -y chromium`). save_html(figure, path) "
                          "needs neither.") from None
    find_browser()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        figure.write_image(path, format="jpeg" if image_format == "jpg" else image_format, scale=scale)
    except Exception as error:  # kaleido reports a missing or broken browser in several ways
        raise ExportError(f"kaleido could not draw {path.name} with the browser at "
                          f"{os.environ.get('BROWSER_PATH', 'PATH')}: {error}") from error
    return path
