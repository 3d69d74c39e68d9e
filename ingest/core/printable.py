"""Names and values from a source, made safe to show: a column named with terminal escape
sequences must not clear a screen and print a fake `OK`, and one with a control character must
not break the workbook's XML. Both escape rather than drop, so a person still sees what the
source holds (`ctl\\x01`)."""

from __future__ import annotations

import re
from typing import Any, TextIO

_CONSOLE_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
"""Control characters but newline, tab and carriage return (ESC, backspace, bell, C1), and the
bidirectional overrides that reorder what a terminal shows. A carriage return stays: the
progress line rewrites itself with it, and alone it cannot clear a screen."""
_XML_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
"""What XML 1.0 forbids in a text node (openpyxl's ILLEGAL_CHARACTERS_RE and the two non-characters)."""


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """`text` with control characters shown as \\xNN (newlines and tabs kept)."""
    return _CONSOLE_UNSAFE.sub(_escape, text)


def xml_safe(text: str) -> str:
    """`text` with what an XML text node cannot hold shown as \\xNN: for workbook cells and comments."""
    return _XML_UNSAFE.sub(_escape, text)


class PrintableStream:
    """A text stream that writes `printable(text)` to the stream it wraps: the CLI's stdout and
    stderr, so nothing a source named reaches the terminal raw, whichever path printed it."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(printable(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:  # flush, fileno, isatty, encoding, ...
        return getattr(self._stream, name)


def raw_stream(stream: TextIO) -> TextIO:
    """The stream a PrintableStream wraps (or `stream` itself): for the progress line, which
    writes its own terminal codes (erase line) around job names the workbook validated."""
    return stream._stream if isinstance(stream, PrintableStream) else stream
