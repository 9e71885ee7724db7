"""One look for every explorer: a stylesheet, and the HTML of status lines and messages.

Each explorer's box carries the class ``rx-explorer`` and ``rx-large`` (projector) or
``rx-small`` (laptop), and starts with ``STYLESHEET``: text sizes follow the box's own class,
so a projector-sized explorer and a laptop-sized one can share a page.
"""

from __future__ import annotations

import html
from collections.abc import Iterable

ERROR_COLOR = "#B00020"
TEXT_COLOR = "#222222"
NOTE_COLOR = "#555555"

#: Font sizes in pixels, projector / laptop: controls and text, headline numbers, captions and
#: notes, and the side of a checkbox.
SIZES = {
    "rx-large": {"text": 20, "headline": 22, "caption": 17, "checkbox": 22},
    "rx-small": {"text": 14, "headline": 15, "caption": 13, "checkbox": 15},
}
_CONTROL_TEXT = (".widget-label", ".widget-label-basic", ".widget-readout", "label", "button", "select",
                 ".widget-html-content")


def _rules(size_class: str, sizes: dict[str, int]) -> str:
    scope = f".rx-explorer.{size_class}"
    controls = ", ".join(f"{scope} {selector}" for selector in _CONTROL_TEXT)
    return (f"{controls} {{font-size: {sizes['text']}px;}} "
            f"{scope} .rx-text {{font-size: {sizes['text']}px; line-height: 1.4;}} "
            f"{scope} .rx-headline {{font-size: {sizes['headline']}px; line-height: 1.4;}} "
            f"{scope} .rx-caption, {scope} .rx-note {{font-size: {sizes['caption']}px;}} "
            f"{scope} input[type=checkbox] {{width: {sizes['checkbox']}px; height: {sizes['checkbox']}px;}}")


#: The one stylesheet of every explorer (the first child of its box).
STYLESHEET = ("<style>" + " ".join(_rules(name, sizes) for name, sizes in SIZES.items())
              + f" .rx-explorer select {{height: auto;}} .rx-explorer .rx-caption {{color: #444444;}}"
              f" .rx-explorer .rx-note {{color: {NOTE_COLOR};}} .rx-explorer .rx-error {{color: {ERROR_COLOR};}}"
              "</style>")


def size_class(large: bool) -> str:
    """The box class that selects the projector or the laptop sizes."""
    return "rx-large" if large else "rx-small"


def text_html(text: str, *, color: str = TEXT_COLOR, bold: bool = False, kind: str = "text") -> str:
    """A line of ``text`` (already HTML) in the explorer's text size, or ``kind`` "headline" / "caption"."""
    weight = "bold" if bold else "normal"
    return f"<div class='rx-{kind}' style='color:{color}; font-weight:{weight}'>{text}</div>"


def status_html(errors: Iterable[str], note: str) -> str:
    """The status line: each error on its own line (⚠, in red), or else the ``note``; plain text in."""
    errors = list(errors)
    if errors:
        return "<br>".join(f"<span class='rx-error'>⚠ {html.escape(message)}</span>" for message in errors)
    return f"<span class='rx-note'>{html.escape(note)}</span>"
