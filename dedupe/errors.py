"""Errors rooted in one class; each carries the exit code the CLI turns it into."""

from __future__ import annotations

import unicodedata


class DedupeError(Exception):
    """Base of every error dedupe raises on purpose."""

    exit_code = 1


_HIDDEN = {"Cc", "Cf", "Cs", "Zl", "Zp"}  # controls, format marks (RTL, zero-width), surrogates, line breaks


def printable(name: str) -> str:
    """A file name fit for a one-line message: line breaks, control and direction marks and
    undecodable bytes (surrogates) shown as escapes, everything else as it is.

    >>> printable("odd/line\\nbreak\\u202e.txt")
    'odd/line\\\\nbreak\\\\u202e.txt'
    """
    if name.isprintable():
        return name
    return "".join(
        c.encode("unicode_escape").decode("ascii") if unicodedata.category(c) in _HIDDEN else c for c in name
    )


class InputError(DedupeError):
    """An input could not be read as text: the message names the file and the problem."""

    exit_code = 1

    def __init__(self, source: str, problem: str) -> None:
        super().__init__(f"{printable(source)}: {problem}")
        self.source = source
        self.problem = problem

    def __reduce__(self) -> tuple[type[InputError], tuple[str, str]]:
        return type(self), (self.source, self.problem)  # raised in a worker process, re-raised in the run


class ConfigError(DedupeError):
    """Options that cannot work together, or a value out of range."""

    exit_code = 2


class IndexFileError(InputError):
    """An index target that cannot be used: not an index, corrupt, unreachable, other settings."""

    exit_code = 2

    @property
    def target(self) -> str:
        return self.source
