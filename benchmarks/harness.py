"""What every benchmark does around its measurement: a scratch directory, progress lines on
stderr, a description of the machine (and how fast it runs right now), and a results file
under benchmarks/results/ (git-ignored).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def say(message: str) -> None:
    """A progress line, on stderr so that stdout holds only the report."""
    print(message, file=sys.stderr, flush=True)


def timestamp() -> str:
    """When a run started, as results file names carry it."""
    return time.strftime("%Y%m%d-%H%M%S")


@contextlib.contextmanager
def scratch_dir(prefix: str, *, keep: bool = False) -> Iterator[Path]:
    """A new temporary directory, removed afterwards unless `keep`."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield work
    finally:
        if keep:
            say(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def cpus() -> int:
    """The cores this process may run on (what the benchmark can use, not what the host has)."""
    return len(os.sched_getaffinity(0))


def machine(**extra: Any) -> dict[str, Any]:
    """The machine a run measured, for its results file; `extra` adds versions and such."""
    return {"cpus": cpus(), "python": platform.python_version(), **extra}


def machine_busy_s() -> float:
    """CPU seconds every process on the machine has used so far (not idle, not waiting on
    disk): set against a run's own CPU it shows what other load took meanwhile."""
    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0) - getattr(t, "steal", 0.0)


def python_speed_ms() -> float:
    """CPU milliseconds of a fixed pure-Python loop. The same code on this (virtual) machine
    runs up to about 2x slower at times, unseen by any load figure; runs compare fairly only
    when this agrees."""
    started = time.process_time()
    total = 0
    for i in range(1_000_000):
        total += i
    return 1000 * (time.process_time() - started)


def speed_note(speeds: list[float]) -> str:
    before, after = speeds
    return (
        f"a fixed Python loop took {before:.0f} ms before, {after:.0f} ms after (this virtual "
        "machine's speed drifts up to 2x; compare runs whose figures here agree)"
    )


def write_results(name: str, result: dict[str, Any]) -> Path:
    """Save one run's figures as benchmarks/results/<name>.json."""
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"results written to {path.relative_to(RESULTS_DIR.parent.parent)}")
    return path
