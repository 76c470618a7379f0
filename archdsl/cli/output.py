"""Where a command's output goes, with one error policy for every command (issue 16).

Contract: a command writes its result through `write_output` (text or bytes, to `-o PATH` or
standard output) or `open_output` (a stream, for writers such as rich's console), and prints on
standard output as usual; `main` runs every command inside `guarded_stdout()`. Then:

- a path the user named that cannot be written (a missing directory, a directory, no
  permission, a full disk) is a usage error, exit 2, naming the path and the reason;
  `check_output_path` says so before the work, so a slow export fails at once;
- standard output that cannot take the output (full, closed, an I/O error) is `OutputError`:
  exit 3 with one line on stderr;
- standard output whose reader went away (`archdsl summary x | head`) ends the command quietly,
  exit 0, as other command-line tools do.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from archdsl.cli.common import UsageError


class OutputError(Exception):
    """Standard output cannot be written (full, closed, an I/O error): exit 3."""


class ReaderGone(Exception):
    """Standard output's reader closed the pipe: the command stops quietly, exit 0. Not a
    BrokenPipeError, so no library on the way (rich exits 1 on one) takes it for its own."""


def check_output_path(path: str | os.PathLike | None) -> None:
    """Raise UsageError now if the output path cannot be a file we may write (before the work
    that makes the output)."""
    if path is None or str(path) == "-":
        return
    target = Path(path)
    if "\x00" in str(path):
        raise UsageError(f"cannot write {_shown(path)}: the path contains a NUL character")
    try:
        if target.is_dir():
            raise UsageError(f"cannot write {_shown(path)}: it is a directory; give a file "
                             "name")
        parent = target.parent
        if not parent.is_dir():
            raise UsageError(f"cannot write {_shown(path)}: the directory {_shown(parent)} "
                             "does not exist")
    except OSError as err:
        raise UsageError(f"cannot write {_shown(path)}: {err.strerror or err}") from None


@contextlib.contextmanager
def open_output(path: str | os.PathLike, binary: bool = False) -> Iterator[IO]:
    """A file opened for writing; any OS error opening or writing it is a usage error."""
    check_output_path(path)
    try:
        with open(path, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8"})
                  ) as fh:
            yield fh
    except OSError as err:
        raise UsageError(f"cannot write {_shown(path)}: {err.strerror or err}") from None


def write_output(path: str | os.PathLike | None, data: str | bytes) -> None:
    """`data` into the file `path`, or on standard output when it is None or '-'."""
    if path is None or str(path) == "-":
        if isinstance(data, bytes):
            sys.stdout.buffer.write(data)
        else:
            sys.stdout.write(data)
        sys.stdout.flush()
        return
    with open_output(path, binary=isinstance(data, bytes)) as fh:
        fh.write(data)


def _shown(path) -> str:
    return ascii(str(path))[1:-1] if not str(path).isprintable() else str(path)


class _GuardedStream:
    """Standard output as a command sees it: what it writes goes to the real stream, and an OS
    error there (other than a closed pipe) becomes `OutputError`. A closed stdout (None) fails
    on the first write."""

    def __init__(self, stream, binary: bool = False):
        self._stream, self._binary = stream, binary

    def _fail(self, err: OSError | None) -> OutputError:
        reason = "it is closed" if err is None else (err.strerror or str(err))
        return OutputError(f"cannot write to standard output: {reason}")

    def write(self, data):
        if self._stream is None:
            raise self._fail(None)
        try:
            return self._stream.write(data)
        except BrokenPipeError:
            raise ReaderGone() from None
        except (OSError, ValueError) as err:  # ValueError: a closed file object
            raise self._fail(err if isinstance(err, OSError) else None) from None

    def flush(self):
        if self._stream is None:
            return None
        try:
            return self._stream.flush()
        except BrokenPipeError:
            raise ReaderGone() from None
        except (OSError, ValueError) as err:
            raise self._fail(err if isinstance(err, OSError) else None) from None

    @property
    def buffer(self):
        inner = getattr(self._stream, "buffer", None) if self._stream is not None else None
        return _GuardedStream(inner, binary=True)

    def isatty(self) -> bool:
        try:
            return self._stream is not None and self._stream.isatty()
        except (OSError, ValueError):
            return False

    def __getattr__(self, name):  # encoding, fileno, ... as the real stream has them
        if self._stream is None:
            raise AttributeError(name)
        return getattr(self._stream, name)


@contextlib.contextmanager
def guarded_stdout() -> Iterator[None]:
    """Run a command with standard output guarded (see the module's contract); flushes it at the
    end, so a late write error is reported here and not at the interpreter's exit."""
    real = sys.stdout
    sys.stdout = _GuardedStream(real)  # type: ignore[assignment]
    try:
        yield
        sys.stdout.flush()
    finally:
        sys.stdout = real


def silence_broken_stdout() -> None:
    """After a closed pipe: point the stdout file descriptor at /dev/null, so Python's own flush
    at exit does not print "Exception ignored ... BrokenPipeError"."""
    with contextlib.suppress(OSError, ValueError, AttributeError, io.UnsupportedOperation):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
