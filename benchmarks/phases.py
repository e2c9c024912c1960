"""Where a `dedupe run` spends its time and memory: each step's wall time and the run's RSS around it.

    python benchmarks/phases.py SCRAPE OUT [--index IDX.sqlite] [--jobs N]

Runs the local engine in this process with a timer around its steps (pass one is what comes before
the index lookups), printing one line a step as it ends: when it started, how long it took, the
process's RSS before and after, and its peak so far (VmHWM; forked workers are not counted). The
run is the real one: OUT and its report are written, the index is added to.
"""

from __future__ import annotations

import argparse
import resource
import time
from collections.abc import Callable
from typing import Any

from dedupe import Options, RunOptions, engine
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


def _timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def step(*args: Any, **kwargs: Any) -> Any:
        start, before = time.perf_counter(), _rss_mb()
        try:
            return fn(*args, **kwargs)
        finally:
            print(f"{name:>22} at {start - T0:8.1f} s took {time.perf_counter() - start:7.1f} s"
                  f"  RSS {before:>5} -> {_rss_mb():>5} MB, peak {_peak_mb():>5} MB", flush=True)
    return step


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("scrape")
    ap.add_argument("out")
    ap.add_argument("--index", help="an index to ask and add to, as `dedupe run --index`")
    ap.add_argument("--jobs", type=int, default=0, help="worker processes (default: one per CPU)")
    args = ap.parse_args()
    engine._seen_before = _timed("index lookups", engine._seen_before)
    engine._boilerplate = _timed("boilerplate", engine._boilerplate)
    cluster_module._components = _timed("components", cluster_module._components)
    for name in ("candidates", "clustering", "write_outputs"):
        setattr(engine._Local, name, _timed(name, getattr(engine._Local, name)))
    index = Index.open(args.index) if args.index else None
    if index is not None:
        index.add_entries = _timed("index add", index.add_entries)  # type: ignore[method-assign]
    engine.run(args.scrape, args.out, Options(run=RunOptions(jobs=args.jobs)), report=args.out + ".report.jsonl",
               index=index)
    print(f"{'total':>22} {time.perf_counter() - T0:8.1f} s, peak RSS {_peak_mb()} MB")


if __name__ == "__main__":
    main()
