"""Agents' text on the user's terminal: an output that holds escape sequences (clear
the screen, set the window title, move the cursor, a hyperlink) is shown, not obeyed.
Control characters other than newline and tab print as their Unicode pictures (␛)."""

from __future__ import annotations

_PICTURES = {c: chr(0x2400 + c) for c in range(32) if c not in (9, 10)}
_PICTURES |= {127: "␡"} | {c: "�" for c in range(0x80, 0xA0)}  # C1: 8-bit CSI and OSC


def terminal_safe(text):
    """`text` with its control characters visible; anything not a string as it is."""
    return text.translate(_PICTURES) if isinstance(text, str) else text
