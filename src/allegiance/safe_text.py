"""Untrusted text made inert for the places it is shown: terminals, Markdown, HTML.

Model output, provider error messages and suite text are untrusted. Printed raw, an answer
could clear the screen, rewrite earlier lines, set the window title or write to the
clipboard (OSC 52) of the person reading it; in a report, a bidirectional override makes a
sentence or a reproduce command read differently from what it is ("Trojan Source").
"""

from __future__ import annotations

import re

# Characters a terminal acts on instead of showing: C0 controls except newline and tab
# (ESC starts colour, cursor, title, clipboard and hyperlink sequences), DEL, the C1
# controls (U+009B is a one-character CSI on some terminals), and the bidirectional
# overrides and isolates that make text read differently from what it is.
_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# In a report, the direction marks (LRM, RLM, ALM) are ordinary in Hebrew, Arabic and Persian
# text and cannot reverse a run of text as the overrides and isolates can: they stay.
_UNSAFE_IN_DOCUMENTS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def visible_controls(text: str, *, keep_direction_marks: bool = False) -> str:
    """``text`` with every control and bidirectional-override character shown as an escape
    (``\\x1b``, ``\\u202e``); newlines and tabs kept, a Windows line end read as a newline.
    ``keep_direction_marks`` is for reports (HTML, Markdown), where right-to-left answers use
    them; a terminal gets them escaped too."""
    text = text.replace("\r\n", "\n")
    pattern = _UNSAFE_IN_DOCUMENTS if keep_direction_marks else _UNSAFE
    return pattern.sub(lambda m: _escape(m.group()), text)


def one_line(text: str) -> str:
    """``text`` for a field of a one-line header: line breaks shown as ``\\n``/``\\r``, so a
    server's model name or error cannot print lines that look like the tool's own
    (``verdict   refusal: refused``)."""
    return text.replace("\r", "\\r").replace("\n", "\\n")


def json_visible_controls(text: str) -> str:
    """JSON text with the same characters as ``\\uXXXX`` escapes: still the same JSON
    value, but inert on a terminal (``json.dumps`` escapes C0 controls itself, not C1 or
    bidirectional controls)."""
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
