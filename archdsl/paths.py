"""Every path archdsl opens for reading goes through here (issue 16).

Contract: `probe(path)` says what is at a path ("file", "dir", "other" or "missing"),
`resolved(path)` is its absolute form with links followed, `read_bytes(path, limit)` reads at
most `limit + 1` bytes. Whatever the operating system refuses (a symbolic link loop, a name
longer than the file system allows, a NUL byte, no permission) raises `PathProblem` with the
reason in the user's words; the caller turns it into its own diagnostic (`no-such-file` for the
spec, `bad-import` for a `use`) or a usage error for a command-line path. No OS error escapes as
an internal error.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

_REASONS = {
    errno.ELOOP: "the symbolic links form a loop",
    errno.ENAMETOOLONG: "the name is longer than the file system allows",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.ENOTDIR: "a part of the path is not a directory",
    errno.EISDIR: "it is a directory",
}


class PathProblem(Exception):
    """The operating system refused a path; the message says why."""


def reason(err: BaseException) -> str:
    """An OS error (or Python's refusal of a path) in the user's words."""
    if isinstance(err, OSError):
        return _REASONS.get(err.errno, err.strerror or str(err))
    if isinstance(err, RuntimeError):  # pathlib's "Symlink loop from ..." (Python < 3.13)
        return _REASONS[errno.ELOOP]
    if "null" in str(err):  # ValueError: embedded null byte
        return "the path contains a NUL character"
    return str(err)


def _checked(path: str | os.PathLike) -> str:
    text = os.fspath(path)
    if "\x00" in str(text):
        raise PathProblem("the path contains a NUL character")
    return text


def probe(path: str | os.PathLike) -> str:
    """"file", "dir", "other" (a device, a socket...) or "missing" (nothing there, or a link to
    nothing); raises PathProblem when the OS refuses to look."""
    text = _checked(path)
    try:
        mode = os.stat(text).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return "missing"
    except (OSError, ValueError) as err:
        raise PathProblem(reason(err)) from None
    if stat.S_ISREG(mode):
        return "file"
    return "dir" if stat.S_ISDIR(mode) else "other"


def resolved(path: str | os.PathLike) -> Path:
    """The absolute path with links followed (as far as they lead)."""
    _checked(path)
    try:
        return Path(path).resolve()
    except (OSError, RuntimeError, ValueError) as err:
        raise PathProblem(reason(err)) from None


def read_bytes(path: str | os.PathLike, limit: int) -> bytes:
    """At most `limit + 1` bytes of a file (the caller tells a file over the limit by the
    extra byte)."""
    text = _checked(path)
    try:
        with open(text, "rb") as fh:
            return fh.read(limit + 1)
    except (OSError, ValueError) as err:
        raise PathProblem(reason(err)) from None
