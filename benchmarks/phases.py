"""Where a `dedupe run` spends its time and memory: each step's wall time and the run's RSS around it.

    python benchmarks/phases.py SCRAPE OUT [--index IDX.sqlite] [--jobs N] [--inner]

Runs the local engine in this process with a timer around its steps (pass one included), printing
one line a step as it ends: when it started, how long it took, the CPU time of this process and of
the workers that ended during the step (a worker's CPU is counted when it ends), the process's RSS
before and after, and its peak so far (VmHWM; forked workers are not counted). The run is the real
one: OUT and its report are written, the index is added to.
"""

from __future__ import annotations

import argparse
import resource
import time
from collections.abc import Callable, Iterator
from typing import Any

from dedupe import Options, RunOptions, engine, policy
from dedupe import cluster as cluster_module
from dedupe.index import Index

T0 = time.perf_counter()


def _rss_mb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) // 1024
    return 0


def _peak_mb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def _cpu() -> tuple[float, float]:
    """CPU seconds (user + system) of this process and of its ended workers."""
    own, workers = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, workers.ru_utime + workers.ru_stime


class _Step:
    """Times one step: wall, CPU here and in workers, RSS; prints its line when it ends."""

    def __init__(self, name: str) -> None:
        self.name, self.start, self.before, (self.own, self.workers) = name, time.perf_counter(), _rss_mb(), _cpu()

    def done(self) -> None:
        own, workers = _cpu()
        print(f"{self.name:>22} at {self.start - T0:8.1f} s took {time.perf_counter() - self.start:7.1f} s"
              f"  CPU {own - self.own:6.1f} + {workers - self.workers:6.1f} s"
              f"  RSS {self.before:>5} -> {_rss_mb():>5} MB, peak {_peak_mb():>5} MB", flush=True)


def _timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def step(*args: Any, **kwargs: Any) -> Any:
        timer = _Step(name)
        try:
            return fn(*args, **kwargs)
        finally:
            timer.done()
    return step


def _timed_iter(name: str, fn: Callable[..., Iterator[Any]]) -> Callable[..., Iterator[Any]]:
    """:func:`_timed` for a generator: the step lasts until it is exhausted."""
    def step(*args: Any, **kwargs: Any) -> Iterator[Any]:
        timer = _Step(name)
        try:
            yield from fn(*args, **kwargs)
        finally:
            timer.done()
    return step


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("scrape")
    ap.add_argument("out")
    ap.add_argument("--index", help="an index to ask and add to, as `dedupe run --index`")
    ap.add_argument("--jobs", type=int, default=0, help="worker processes (default: one per CPU)")
    ap.add_argument("--inner", action="store_true",
                    help="also a line for each step inside the clustering rounds and before writing (verify,"
                         " the cut's touched articles, settling with the kept copies, the similarity bins)")
    args = ap.parse_args()
    if args.inner:
        engine._LocalWork.verify_into = _timed("(verify into table)", engine._LocalWork.verify_into)  # type: ignore[method-assign]
        policy.ParagraphRows.touched = _timed("(touched)", policy.ParagraphRows.touched)  # type: ignore[method-assign]
        cluster_module.kept_copies = _timed("(settle, kept copies)", cluster_module.kept_copies)
        setattr(engine, "binned", _timed("(similarity bins)", getattr(engine, "binned")))  # noqa: B009, B010
    engine._Local.seen_before = _timed("index lookups", engine._Local.seen_before)  # type: ignore[method-assign]
    policy.ParagraphRows.boilerplate = _timed("boilerplate", policy.ParagraphRows.boilerplate)  # type: ignore[method-assign]
    cluster_module._components = _timed("components", cluster_module._components)
    engine._Local.prepared = _timed_iter("pass one", engine._Local.prepared)  # type: ignore[method-assign]
    for name in ("candidates", "clustering", "write_outputs"):
        setattr(engine._Local, name, _timed(name, getattr(engine._Local, name)))
    index = Index.open(args.index) if args.index else None
    if index is not None:
        index.add_entries = _timed("index add", index.add_entries)  # type: ignore[method-assign]
    engine.run(args.scrape, args.out, Options(run=RunOptions(jobs=args.jobs)), report=args.out + ".report.jsonl",
               index=index)
    own, workers = _cpu()
    print(f"{'total':>22} {time.perf_counter() - T0:8.1f} s, CPU {own:.1f} s here + {workers:.1f} s in workers,"
          f" peak RSS {_peak_mb()} MB")


if __name__ == "__main__":
    main()
