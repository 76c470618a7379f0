"""The long fuzz run: `python fuzz/run.py --minutes 10`.

Feeds archdsl hostile input for as long as asked, round-robin over targets, and reports how many
inputs each target tried, crashes (any exception but `ArchError` from the API; a traceback or
exit status 70 from the command line), inputs slower than a second, the slowest input and the
peak memory of the process. Crashing and slow inputs are written to `fuzz/crashes/` to reproduce
with `archdsl check "$(cat fuzz/crashes/<file>)"`. Exit status 0 when nothing crashed or was slow.

Targets (strategies from `fuzz/strategies.py`):
  soup        token soups through `archdsl.load`
  text        arbitrary Unicode text through `archdsl.load`
  zoo:<name>  random edits of each zoo spec and block library, loaded as files
  cli         token soups through the real command-line entry point (`check`, `summary`,
              `render` when present), in-process
  valid       valid chains built with torch: output shape and parameter count must agree
              (not timed: building a module may take longer than checking a spec)
  accepted    chains with edge-value arguments (0, negatives, inf, integers beyond 64 bits):
              whatever `check` accepts must build, run and compile to .py source that builds
              the same module (issue 16; not timed)

No shrinking (Hypothesis' generate phase only): the point is volume; a crash file is a
reproducer.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ["ARCHDSL_NO_CACHE"] = "1"  # every input is parsed; none is stored in the user's cache

if importlib.util.find_spec("hypothesis") is None:  # the test extra brings it
    sys.exit("fuzz/run.py needs the test extra (missing: hypothesis): pip install -e \".[test]\"")

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import archdsl  # noqa: E402
from archdsl.loader import zoo_dir, zoo_path  # noqa: E402
from fuzz.strategies import (  # noqa: E402
    accepted_spec_builds,
    check_outcome,
    edge_specs,
    mutations,
    token_soups,
    valid_chains,
)

SLOW_S = 1.0
UNTIMED = {"valid", "accepted"}  # building a torch module may take longer; the bound is for checking
CRASHES = Path(__file__).parent / "crashes"


@dataclass
class Stats:
    tried: int = 0
    crashes: int = 0
    slow: int = 0
    slowest: float = 0.0
    examples: list[str] = field(default_factory=list)


class Campaign:
    def __init__(self, deadline: float, sandbox: Path):
        self.deadline, self.sandbox = deadline, sandbox
        self.stats: dict[str, Stats] = {}

    def record(self, target: str, data: str, seconds: float, error: BaseException | None):
        s = self.stats.setdefault(target, Stats())
        s.tried += 1
        s.slowest = max(s.slowest, seconds)
        if error is None and (seconds <= SLOW_S or target in UNTIMED):
            return
        kind = "crash" if error is not None else "slow"
        if error is not None:
            s.crashes += 1
        else:
            s.slow += 1
        CRASHES.mkdir(exist_ok=True)
        name = f"{target.replace(':', '-')}-{kind}-{s.crashes + s.slow}.txt"
        (CRASHES / name).write_text(data, encoding="utf-8")
        note = f"{kind}: {type(error).__name__}: {error}" if error else f"slow: {seconds:.2f}s"
        s.examples.append(f"{name}: {note}"[:300])

    def run(self, target: str, strategy, action, batch: int) -> None:
        @settings(max_examples=batch, deadline=None, database=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(strategy)
        def prop(value):
            if time.monotonic() > self.deadline:
                return
            start = time.perf_counter()
            error = None
            try:
                action(value)
            except Exception as err:  # noqa: BLE001  (every other exception is a finding)
                error = err
            data = value if isinstance(value, str) else repr(value)
            self.record(target, data, time.perf_counter() - start, error)

        prop()


def _load_text(text: str) -> None:
    check_outcome(lambda: archdsl.load(text, input="3x32x32", classes=10))


def _load_file(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    check_outcome(lambda: archdsl.load(path))


def _cli(commands: list[str]):
    from archdsl.cli.main import main

    def action(args: tuple[str, str]) -> None:
        text, command = args
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main([command, text, "--input", "3x32x32"])
            except SystemExit as exc:  # argparse: a usage error (e.g. a spec starting with -)
                code = exc.code
        if code not in (0, 1, 2) or "Traceback" in err.getvalue():
            raise AssertionError(f"exit {code}: {err.getvalue()[-500:]}")

    return st.tuples(token_soups(), st.sampled_from(commands)), action


def _valid(chain) -> None:
    import torch

    text, shape = chain
    model = archdsl.load(text, input=shape)
    net = model.build().eval()
    with torch.no_grad():
        out = net(torch.zeros(2, *shape))
    if tuple(out.shape[1:]) != model.output_shape or \
            sum(p.numel() for p in net.parameters()) != model.totals.params:
        raise AssertionError(f"torch disagrees on {text!r}")


def targets(sandbox: Path) -> list[tuple[str, object, object, int]]:
    out = [("soup", token_soups(), _load_text, 200),
           ("text", st.text(max_size=300), _load_text, 200)]
    files = [zoo_path(n) for n in archdsl.zoo()] + sorted((zoo_dir() / "blocks").iterdir())
    for path in files:
        if path.suffix not in (".arch", ".yaml", ".yml"):
            continue
        mutant = sandbox / f"mutant{path.suffix}"
        original = path.read_text(encoding="utf-8")
        out.append((f"zoo:{path.stem}", mutations(original),
                    lambda text, m=mutant: _load_file(m, text), 50))
    commands = ["check", "summary"]
    if importlib.util.find_spec("archdsl.cli.render") is not None:
        commands.append("render")
    strategy, action = _cli(commands)
    out.append(("cli", strategy, action, 100))
    out.append(("valid", valid_chains(), _valid, 20))
    out.append(("accepted", edge_specs(), lambda spec: accepted_spec_builds(spec, sandbox), 50))
    return out


@contextlib.contextmanager
def progress_shown(campaign, seconds: float, stream=None):
    """On a terminal, a bar of the campaign's time with the inputs and crashes so far (rich's
    progress, as the CLI's long commands show); nothing when stderr is piped or logged. Yields
    the function to call after each batch."""
    stream = stream or sys.stderr
    if not (hasattr(stream, "isatty") and stream.isatty()):
        yield lambda: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    started = time.monotonic()
    bar = Progress(TextColumn("fuzzing"), BarColumn(), TextColumn("{task.fields[found]}"),
                   TimeRemainingColumn(), console=Console(file=stream), transient=True)
    with bar:
        task = bar.add_task("fuzz", total=seconds, found="")

        def update() -> None:
            stats = campaign.stats.values()
            bar.update(task, completed=min(seconds, time.monotonic() - started),
                       found=f"{sum(s.tried for s in stats):,} inputs, "
                             f"{sum(s.crashes for s in stats)} crashes")

        yield update


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="how long to run")
    parser.add_argument("--json", metavar="FILE", help="also write the summary as JSON")
    args = parser.parse_args(argv)
    sandbox = Path(tempfile.mkdtemp(prefix="archdsl-fuzz-"))
    shutil.copytree(zoo_dir() / "blocks", sandbox / "blocks")
    started = time.monotonic()
    campaign = Campaign(started + args.minutes * 60, sandbox)
    plan = targets(sandbox)
    try:
        with progress_shown(campaign, args.minutes * 60) as update:
            while time.monotonic() < campaign.deadline:
                for name, strategy, action, batch in plan:
                    if time.monotonic() >= campaign.deadline:
                        break
                    campaign.run(name, strategy, action, batch)
                    update()
    finally:
        shutil.rmtree(sandbox, ignore_errors=True)
    elapsed = time.monotonic() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    total = sum(s.tried for s in campaign.stats.values())
    crashes = sum(s.crashes for s in campaign.stats.values())
    slow = sum(s.slow for s in campaign.stats.values())
    slowest = max((s.slowest for k, s in campaign.stats.items() if k not in UNTIMED),
                  default=0.0)
    for name, s in campaign.stats.items():
        print(f"{name:24s} {s.tried:8d} inputs  {s.crashes:3d} crashes  {s.slow:3d} slow  "
              f"slowest {s.slowest:.3f}s")
        for line in s.examples[:5]:
            print("    " + line)
    print(f"total: {total} inputs in {elapsed / 60:.1f} min, {crashes} crashes, {slow} slower "
          f"than {SLOW_S:.0f}s, slowest {slowest:.3f}s, peak memory {peak_mib:.0f} MiB")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "inputs": total, "crashes": crashes, "slow": slow, "slowest_s": slowest,
            "minutes": elapsed / 60, "peak_mib": peak_mib,
            "targets": {k: vars(v) for k, v in campaign.stats.items()}}, indent=2) + "\n")
    return 1 if crashes or slow else 0


if __name__ == "__main__":
    sys.exit(main())
