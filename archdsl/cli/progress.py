"""What long commands show while they work and what file-writing commands say when done.

`working(args, text)`: a spinner with the elapsed time on stderr while the block runs, only when
stderr is a terminal and `--quiet` is not given (piped or logged output gets nothing extra);
it disappears when done. `wrote(args, path, detail)`: one line on stderr, `wrote PATH (SIZE)`,
the same for every command that writes a file, silenced by `--quiet`.
"""

from __future__ import annotations

import contextlib
import os
import sys


def quiet(args) -> bool:
    return bool(getattr(args, "quiet", False))


@contextlib.contextmanager
def working(args, text: str):
    if quiet(args) or not (hasattr(sys.stderr, "isatty") and sys.stderr.isatty()):
        yield
        return
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                        console=Console(stderr=True), transient=True)
    with progress:
        progress.add_task(text, total=None)
        yield


def size_text(path: str) -> str:
    from archdsl.report.tables import human_bytes

    try:
        return human_bytes(os.path.getsize(path))
    except OSError:
        return "size unknown"


def wrote(args, path: str | None, detail: str = "") -> None:
    """`wrote PATH (SIZE[, detail])` on stderr; nothing for stdout or with --quiet."""
    if path is None or path == "-" or quiet(args):
        return
    sys.stderr.write(f"wrote {path} ({size_text(path)}{', ' + detail if detail else ''})\n")
