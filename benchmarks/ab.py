"""Two versions of dedupe on one corpus, run one after the other round after round: the CPU and
wall time of each `dedupe run`, and whether the two give the same outputs and report.

    python benchmarks/ab.py SCRAPE --base REV [--jobs N] [--rounds K] [--outputs DIR]

This machine's speed moves by 10-20% from one hour to the next, so a run of each version cannot
tell a change of a few percent from the hour; runs alternated in the same minutes can. REV (any git
revision) is checked out in a temporary worktree and its compiled kernels built there
(`setup.py build_ext --inplace`, with this interpreter); the other side is this checkout as it is.
Each run is `python -m dedupe.cli run SCRAPE --out DIR/ab-SIDE --jobs N` started in its side's
folder, measured by speed.py's `measure` (`os.wait4`: user + system CPU of the command and the
workers it waited for).
The first round's outputs are compared file by file, and the reports line by line without their
summary lines. Besides each side's medians, each round's ratio is printed (its two runs share
their minutes, so it drifts least with the machine) with their median. Outputs go to /dev/shm
where there is one (the disk's file creation varies several-fold from hour to hour on the
benchmark machine; see benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from speed import ROOT, measure  # benchmarks/ is on sys.path when this script runs


def _corpus_bytes(scrape: Path) -> int:
    return sum(p.stat().st_size for p in scrape.rglob("*") if p.is_file())


def _worktree(rev: str, into: Path) -> Path:
    """REV checked out in a worktree under ``into``, its kernels built if it has them."""
    tree = into / "base"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet", str(tree), rev], check=True)
    if (tree / "setup.py").exists():
        subprocess.run([sys.executable, "setup.py", "build_ext", "--inplace"], cwd=tree,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(tree / "build", ignore_errors=True)
    return tree


def _kernels(side: Path) -> str:
    """Which dedupe a command started in ``side`` imports, and whether its kernels are built."""
    probe = "import dedupe, dedupe.speedups as s; print(dedupe.__file__, 'kernels' if s.native else 'no kernels')"
    done = subprocess.run([sys.executable, "-c", probe], cwd=side, capture_output=True, text=True)
    return (done.stdout or done.stderr).strip().splitlines()[-1]


def _run(side: Path, scrape: Path, out: Path, jobs: int, workdir: Path, tag: str) -> dict[str, Any]:
    """One `dedupe run`, started in ``side``, measured as speed.py measures its contenders."""
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "dedupe.cli", "run", str(scrape), "--out", str(out), "--jobs", str(jobs)]
    return measure(cmd, workdir, tag, cwd=side)


def _same_tree(a: Path, b: Path) -> bool:
    cmp = filecmp.dircmp(a, b)
    if cmp.left_only or cmp.right_only or cmp.funny_files:
        return False
    _, mismatch, errors = filecmp.cmpfiles(a, b, cmp.common_files, shallow=False)
    return not mismatch and not errors and all(_same_tree(a / d, b / d) for d in cmp.common_dirs)


def _report_lines(out: Path) -> list[str]:
    report = out.with_name(out.name + ".report.jsonl")
    return [line for line in report.read_text(encoding="utf-8").splitlines() if '"kind": "summary"' not in line]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("scrape", type=Path)
    ap.add_argument("--base", required=True, help="the git revision to compare this checkout with")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--outputs", type=Path, default=None, help="where the runs write (default: /dev/shm, else a temp dir)")
    args = ap.parse_args()
    scrape = args.scrape.resolve()
    size = _corpus_bytes(scrape)
    shm = Path("/dev/shm")
    with tempfile.TemporaryDirectory(prefix="dedupe-ab-") as tmp:
        outputs = Path(tempfile.mkdtemp(prefix="dedupe-ab-", dir=args.outputs or (shm if shm.is_dir() else tmp)))
        base = _worktree(args.base, Path(tmp))
        try:
            sides = {"base": base, "head": ROOT}
            for name, side in sides.items():
                print(f"{name}: {_kernels(side)}")
            print(f"corpus: {scrape} ({size / 1e6:.1f} MB); dedupe run --jobs {args.jobs}, {args.rounds} rounds")
            cpu: dict[str, list[float]] = {name: [] for name in sides}
            wall: dict[str, list[float]] = {name: [] for name in sides}
            same = None
            for r in range(1, args.rounds + 1):
                for name, side in sides.items():
                    m = _run(side, scrape, outputs / f"ab-{name}", args.jobs, Path(tmp), f"{name}-{r}")
                    if m["rc"] not in (0, 1):
                        raise SystemExit(f"{name}: dedupe run exited with {m['rc']}:\n{m['stderr'][-2000:]}")
                    cpu[name].append(m["cpu_s"])
                    wall[name].append(m["wall_s"])
                    print(f"round {r} {name}: wall {m['wall_s']:6.2f} s  CPU {m['cpu_s']:6.2f} s"
                          f" (system {m['system_s']:.2f})")
                if same is None:
                    a, b = outputs / "ab-base", outputs / "ab-head"
                    same = _same_tree(a, b) and _report_lines(a) == _report_lines(b)
            print(f"same outputs and report (round 1): {'yes' if same else 'NO'}")
            for name in sides:
                c = statistics.median(cpu[name])
                print(f"{name}: median CPU {c:.2f} s ({size / 1e6 / c:.2f} MB/s per core), median wall "
                      f"{statistics.median(wall[name]):.2f} s")
            ratio = statistics.median(cpu["head"]) / statistics.median(cpu["base"])
            change = (1 - ratio) * 100
            print(f"head / base: CPU {ratio:.3f} ({abs(change):.1f}% {'less' if change >= 0 else 'more'}), wall "
                  f"{statistics.median(wall['head']) / statistics.median(wall['base']):.3f}")
            # each round's two runs share their minutes: the ratio within a round drifts least with the machine
            rounds = [h / b for h, b in zip(cpu["head"], cpu["base"])]
            print("CPU head / base round by round: " + ", ".join(f"{r:.3f}" for r in rounds)
                  + f"; median {statistics.median(rounds):.3f}, head faster in {sum(r < 1 for r in rounds)} of {len(rounds)}")
        finally:
            shutil.rmtree(outputs, ignore_errors=True)
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


if __name__ == "__main__":
    main()
