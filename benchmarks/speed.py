"""Speed of dedupe against MinHash peers, measured in one run on the same news texts.

Usage (from the repo root):
    python benchmarks/speed.py [--shared ../shared] [--docs N] [--json OUT.json] [--scaling] [--million]
                               [--subset N] [--rounds K] [--workdir DIR] [--outputs DIR] [--only NAME,NAME]

The corpus (benchmarks/speed_corpus.py: the public corpora in SHARED/corpora, scaled up by sampling and
perturbing) is written once as a scrape directory of .txt files. Every contender then runs in its own
subprocess on those files, so its peak RSS is its own; the parent collects each subprocess's rusage
with os.wait4 (CPU of the process and of the children it reaped, and its ru_maxrss).

Signature contenders (each reads the files and signs every text; compared with dedupe's signature stage):
  floor                  lowercase, re.findall(r"\\w+"), word 5-gram shingles, xxhash.xxh32_intdigest; no MinHash
  datasketch update      MinHash(num_perm=128) (default sha1 hash), m.update(shingle.encode("utf8")) per shingle
  datasketch update_batch  MinHash(num_perm=128, hashfunc=xxh32_intdigest).update_batch(shingle bytes)
  datasketch bulk        MinHash.bulk(shingle bytes of each text, num_perm=128, hashfunc=xxh32_intdigest)
  rensa                  RMinHash(num_perm=128, seed=42).update(shingle strings); digest()
  datatrove              MinhashDedupSignature(config=MinhashConfig(num_buckets=16, hashes_per_bucket=8)):
                         get_signature(get_shingles(text)), the per-document body of its run()
  dedupe prepare         dedupe.prepare.prepare(Article(id, "x.txt", text), Options())
Pipelines (compared with `dedupe run` end to end):
  naive pipeline         ftfy.fix_text(text) + datasketch update_batch/xxhash + MinHashLSH(threshold=0.8)
  naive pipeline, per shingle  the same with datasketch's documented loop: MinHash(num_perm=128) (sha1),
                         m.update(shingle.encode("utf8")) per shingle (the issue's naive pipeline, 0.27 MB/s there)
  rensa pipeline         ftfy.fix_text only on lines dedupe.clean.needs_repair flags + RMinHash + RMinHashLSH
                         (dedupe's own cheap check, which a pipeline built without dedupe does not have)
  rensa pipeline, ftfy's check  the same, ftfy.fix_text only on lines ftfy.badness.is_bad flags (ftfy's public
                         cheap check: mojibake only; a rensa pipeline of public parts, as the issue's, 7.5 MB/s there)
  dedupe run --jobs 1/2  python -m dedupe.cli run SCRAPE --out OUT --jobs J, the two alternated --rounds times
                         (default 3): each one's median run, and the median of the rounds' speed-ups
The summary ends with the issue's speed targets against this run's figures, each met or not (see targets()).
--scaling runs `dedupe run --jobs 2` on 10k and 100k documents, without and with --index IDX.sqlite (and on 1M
with --million: the --index run only). Stderr of every subprocess is kept out of the table and printed only when
it fails. --outputs /dev/shm/x puts what `dedupe run` writes on a tmpfs: on this machine's disk, creating the
outputs costs from under 1 to over 9 s of system time for 20,000 articles, hour to hour.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]  # measure this checkout's dedupe

MARK = "@@SPEED "
NUM_PERM = 128
SHINGLE = 5
_WORDS = re.compile(r"\w+")


# ----------------------------------------------------------------------------------------------
# The contenders, run inside a child process. Each factory imports and builds what it needs (not
# timed) and returns the timed function, which reads every file and does its work on the text.
# ----------------------------------------------------------------------------------------------


def _read(files: list[Path]) -> Iterator[str]:
    for p in files:
        yield p.read_bytes().decode("utf-8")


def _shingles(text: str) -> list[str]:
    """Word 5-grams of the lowercased text (the whole text when it has fewer words)."""
    w = _WORDS.findall(text.lower())
    if len(w) < SHINGLE:
        return [" ".join(w)] if w else []
    return [" ".join(w[i : i + SHINGLE]) for i in range(len(w) - SHINGLE + 1)]


def make_floor() -> Callable[[list[Path]], dict[str, Any]]:
    import xxhash

    h = xxhash.xxh32_intdigest

    def run(files: list[Path]) -> dict[str, Any]:
        n = 0
        for text in _read(files):
            hashes = [h(s.encode()) for s in _shingles(text)]
            n += len(hashes)
        return {"shingles": n}

    return run


def make_datasketch_update() -> Callable[[list[Path]], dict[str, Any]]:
    from datasketch import MinHash

    def run(files: list[Path]) -> dict[str, Any]:
        for text in _read(files):
            m = MinHash(num_perm=NUM_PERM)
            for s in _shingles(text):
                m.update(s.encode("utf8"))
            m.digest()
        return {}

    return run


def make_datasketch_batch() -> Callable[[list[Path]], dict[str, Any]]:
    import xxhash
    from datasketch import MinHash

    h = xxhash.xxh32_intdigest

    def run(files: list[Path]) -> dict[str, Any]:
        for text in _read(files):
            m = MinHash(num_perm=NUM_PERM, hashfunc=h)
            m.update_batch([s.encode() for s in _shingles(text)])
            m.digest()
        return {}

    return run


def make_datasketch_bulk() -> Callable[[list[Path]], dict[str, Any]]:
    import xxhash
    from datasketch import MinHash

    if not hasattr(MinHash, "bulk"):
        raise ImportError(f"datasketch {metadata.version('datasketch')} has no MinHash.bulk")
    h = xxhash.xxh32_intdigest

    def run(files: list[Path]) -> dict[str, Any]:
        sets = ([s.encode() for s in _shingles(text)] for text in _read(files))
        out = MinHash.bulk(sets, num_perm=NUM_PERM, hashfunc=h)
        return {"signatures": len(out)}

    return run


def make_rensa() -> Callable[[list[Path]], dict[str, Any]]:
    from rensa import RMinHash

    def run(files: list[Path]) -> dict[str, Any]:
        for text in _read(files):
            m = RMinHash(num_perm=NUM_PERM, seed=42)
            m.update(_shingles(text))
            m.digest()
        return {}

    return run


def make_datatrove() -> Callable[[list[Path]], dict[str, Any]]:
    import xxhash
    from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature

    folder = tempfile.TemporaryDirectory(prefix="speed-datatrove-")  # nothing is written to it; removed at exit
    step = MinhashDedupSignature(
        output_folder=folder.name,
        config=MinhashConfig(n_grams=SHINGLE, num_buckets=16, hashes_per_bucket=8),  # 128 hashes
    )
    try:
        step._hash_func("probe")
    except TypeError:
        # datatrove hashes str; xxhash >= 4 takes bytes only (datatrove's [processing] extra pins
        # xxhash<4, which dedupe's environment does not have). The same xxh64, encoding first:
        step._hash_func = lambda s: xxhash.xxh64_intdigest(s.encode("utf-8"))
    step.word_tokenizer.word_tokenize("Load the tokenizer before timing.")

    def run(files: list[Path], _folder: Any = folder) -> dict[str, Any]:
        for text in _read(files):
            shingles = step.get_shingles(text)
            if shingles.size:
                step.get_signature(shingles)
        return {"num_hashes": step.num_hashes, "tokenizer": type(step.word_tokenizer).__name__}

    return run


def make_dedupe_prepare() -> Callable[[list[Path]], dict[str, Any]]:
    from dedupe.config import Options
    from dedupe.prepare import prepare
    from dedupe.records import Article

    options = Options()

    def run(files: list[Path]) -> dict[str, Any]:
        for i, text in enumerate(_read(files)):
            prepare(Article(str(i), "x.txt", text), options)
        return {}

    return run


def make_naive_pipeline() -> Callable[[list[Path]], dict[str, Any]]:
    import xxhash
    from datasketch import MinHash

    h = xxhash.xxh32_intdigest

    def sign(text: str) -> Any:
        m = MinHash(num_perm=NUM_PERM, hashfunc=h)
        m.update_batch([s.encode() for s in _shingles(text)])
        return m

    return _naive_pipeline(sign)


def make_naive_pipeline_per_shingle() -> Callable[[list[Path]], dict[str, Any]]:
    from datasketch import MinHash

    def sign(text: str) -> Any:
        m = MinHash(num_perm=NUM_PERM)
        for s in _shingles(text):
            m.update(s.encode("utf8"))
        return m

    return _naive_pipeline(sign)


def _naive_pipeline(sign: Callable[[str], Any]) -> Callable[[list[Path]], dict[str, Any]]:
    """ftfy on every text, a datasketch MinHash made by ``sign``, and datasketch's LSH."""
    import ftfy
    from datasketch import MinHashLSH

    def run(files: list[Path]) -> dict[str, Any]:
        lsh = MinHashLSH(threshold=0.8, num_perm=NUM_PERM)
        dropped = 0
        for i, text in enumerate(_read(files)):
            m = sign(ftfy.fix_text(text))
            if lsh.query(m):
                dropped += 1
            else:
                lsh.insert(str(i), m)
        return {"dropped": dropped}

    return run


def make_rensa_pipeline() -> Callable[[list[Path]], dict[str, Any]]:
    from dedupe.clean import needs_repair

    return _rensa_pipeline(needs_repair)


def make_rensa_pipeline_ftfy_check() -> Callable[[list[Path]], dict[str, Any]]:
    from ftfy.badness import is_bad

    return _rensa_pipeline(is_bad)


def _rensa_pipeline(check: Callable[[str], bool]) -> Callable[[list[Path]], dict[str, Any]]:
    """rensa signatures and LSH, ftfy (dedupe's settings) called on the lines ``check`` flags."""
    import ftfy
    from rensa import RMinHash, RMinHashLSH

    from dedupe.clean import FTFY_CONFIG

    def run(files: list[Path]) -> dict[str, Any]:
        lsh = RMinHashLSH(threshold=0.8, num_perm=NUM_PERM, num_bands=16)
        dropped = repaired = 0
        for i, text in enumerate(_read(files)):
            lines = text.split("\n")
            for j, line in enumerate(lines):
                if check(line):
                    lines[j] = ftfy.fix_text(line, FTFY_CONFIG)
                    repaired += 1
            m = RMinHash(num_perm=NUM_PERM, seed=42)
            m.update(_shingles("\n".join(lines)))
            if lsh.query(m):
                dropped += 1
            else:
                lsh.insert(i, m)
        return {"dropped": dropped, "lines_repaired": repaired}

    return run


# name -> (factory, kind, slow); slow ones run on --subset documents
CONTENDERS: dict[str, tuple[Callable[[], Callable[[list[Path]], dict[str, Any]]], str, bool]] = {
    "floor (read+tokenise+xxh32 5-grams)": (make_floor, "signature", False),
    "datasketch update (per shingle, sha1)": (make_datasketch_update, "signature", True),
    "datasketch update_batch + xxh32": (make_datasketch_batch, "signature", False),
    "datasketch MinHash.bulk + xxh32": (make_datasketch_bulk, "signature", False),
    "rensa RMinHash": (make_rensa, "signature", False),
    "datatrove MinhashDedupSignature": (make_datatrove, "signature", True),
    "dedupe prepare (signature stage)": (make_dedupe_prepare, "signature", False),
    "naive pipeline (ftfy+datasketch+LSH)": (make_naive_pipeline, "pipeline", False),
    "naive pipeline, per shingle (update)": (make_naive_pipeline_per_shingle, "pipeline", True),
    "rensa pipeline (cheap ftfy+rensa+LSH)": (make_rensa_pipeline, "pipeline", False),
    "rensa pipeline, ftfy's check (is_bad)": (make_rensa_pipeline_ftfy_check, "pipeline", False),
}
PIPELINES = [name for name, (_, kind, _) in CONTENDERS.items() if kind == "pipeline"]
DEDUPE_SIG = "dedupe prepare (signature stage)"
RUN_J = {1: "dedupe run --jobs 1", 2: "dedupe run --jobs 2"}


def _cpu() -> float:
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def list_files(scrape: Path) -> list[Path]:
    return sorted(scrape.rglob("*.txt"))


def child_main(name: str, scrape: Path, limit: int) -> None:
    """Run one contender on the first ``limit`` files; print its figures as one marked JSON line."""
    try:
        run = CONTENDERS[name][0]()
    except ImportError as e:
        print(MARK + json.dumps({"skipped": f"{type(e).__name__}: {e}"}), flush=True)
        return
    cpu0, wall0 = _cpu(), time.perf_counter()
    files = list_files(scrape)[:limit]
    extra = run(files)
    cpu, wall = _cpu() - cpu0, time.perf_counter() - wall0
    size = sum(p.stat().st_size for p in files)
    print(MARK + json.dumps({"docs": len(files), "bytes": size, "cpu_s": cpu, "wall_s": wall, **extra}), flush=True)


# ----------------------------------------------------------------------------------------------
# The parent: subprocesses measured with os.wait4.
# ----------------------------------------------------------------------------------------------


def _tree(root: int) -> list[int]:
    """A process and all its descendants, now (those that exit meanwhile are left out)."""
    found, todo, seen = [], [root], set()
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except OSError:
            continue
        found.append(pid)
    return found


def _proc_kb(path: str, field: str) -> int | None:
    """A ``Field:  N kB`` line of a /proc file, or None when the process is gone."""
    try:
        with open(path) as f:
            return next(int(ln.split()[1]) for ln in f if ln.startswith(field))
    except (OSError, StopIteration, ValueError):
        return None


def _tree_pss_kb(root: int) -> int:
    """Proportional set size of a process and all its descendants, now (KiB; 0 if gone)."""
    return sum(_proc_kb(f"/proc/{pid}/smaps_rollup", "Pss:") or 0 for pid in _tree(root))


def _tree_hwm_kb(root: int, peaks: dict[int, int]) -> None:
    """Record each process's peak RSS so far (VmHWM, KiB) in the tree under ``root``."""
    for pid in _tree(root):
        hwm = _proc_kb(f"/proc/{pid}/status", "VmHWM:")
        if hwm is not None:
            peaks[pid] = max(peaks.get(pid, 0), hwm)


def measure(cmd: list[str], workdir: Path, tag: str, cwd: Path = ROOT) -> dict[str, Any]:
    """Run ``cmd`` (in ``cwd``, the repo root by default); its wall time, CPU (with reaped children),
    peak RSS, output.

    ``peak_rss_mb`` is the rusage ru_maxrss that os.wait4 returns for this one child: the largest
    single process among it and the children it reaped. (RUSAGE_CHILDREN's ru_maxrss is the largest
    of *all* children so far, so after a big contender it would hide a smaller one's peak.) For a
    command with worker processes, ``tree_pss_mb`` is the peak of their summed PSS;
    ``client_peak_rss_mb`` is the command's own peak RSS (VmHWM; with a LocalCluster its process also
    holds the scheduler and the nannies) and ``worker_peak_rss_mb`` the largest peak RSS of its
    child processes (the worker processes), both sampled every 0.5 s at first, every 5 s after
    five minutes (the kernel keeps each process's peak RSS; only the PSS sum can miss a short peak).
    """
    out_path, err_path = workdir / f"{tag}.stdout", workdir / f"{tag}.stderr"
    peak_tree = [0]
    peaks: dict[int, int] = {}
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=cwd)
        done = threading.Event()

        def sample() -> None:
            # PSS costs the kernel a walk of each process's pages: every 0.5 s for the first half
            # minute, then less often (up to every 5 s), so a long run is not slowed by its measuring
            while not done.wait(min(5.0, max(0.5, (time.perf_counter() - t0) / 60))):
                peak_tree[0] = max(peak_tree[0], _tree_pss_kb(proc.pid))
                _tree_hwm_kb(proc.pid, peaks)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, ru = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        done.set()
        sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {
        "cmd": cmd,
        "rc": proc.returncode,
        "wall_s": wall,
        "cpu_s": ru.ru_utime + ru.ru_stime,  # the process and every child it waited for
        "system_s": ru.ru_stime,  # the kernel's share (creating output files, mostly)
        "peak_rss_mb": ru.ru_maxrss / 1024,  # largest single process among them (KiB on Linux)
        "tree_pss_mb": peak_tree[0] / 1024,
        "client_peak_rss_mb": peaks.get(proc.pid, 0) / 1024,
        "worker_peak_rss_mb": max((kb for pid, kb in peaks.items() if pid != proc.pid), default=0) / 1024,
        "stdout": out_path.read_text(errors="replace"),
        "stderr": err_path.read_text(errors="replace"),
    }


def _failed(name: str, m: dict[str, Any]) -> None:
    print(f"!! {name} failed (exit {m['rc']}): {' '.join(m['cmd'])}\n--- stderr ---\n{m['stderr'][-4000:]}"
          f"--- end of stderr ---", flush=True)


def run_contender(name: str, scrape: Path, limit: int, workdir: Path) -> dict[str, Any] | None:
    tag = re.sub(r"\W+", "-", name).strip("-")
    m = measure([sys.executable, str(Path(__file__).resolve()), "--child", name, "--scrape", str(scrape),
                 "--limit", str(limit)], workdir, tag)
    lines = [ln for ln in m["stdout"].splitlines() if ln.startswith(MARK)]
    if m["rc"] != 0 or not lines:
        _failed(name, m)
        return None
    got = json.loads(lines[-1][len(MARK):])
    if "skipped" in got:
        print(f"-- {name}: skipped, cannot be imported here ({got['skipped']})", flush=True)
        return {"name": name, "skipped": got["skipped"]}
    extra = {k: v for k, v in got.items() if k not in ("docs", "bytes", "cpu_s", "wall_s")}
    return {"name": name, "kind": CONTENDERS[name][1], "docs": got["docs"], "mb": got["bytes"] / 1e6,
            "cpu_s": got["cpu_s"], "wall_s": got["wall_s"], "process_cpu_s": m["cpu_s"],
            "peak_rss_mb": m["peak_rss_mb"], **extra}


_SUMMARY = re.compile(r"(\d+) files, (\d+) articles read: (\d+) kept, (\d+) dropped")


def _count(scrape: Path) -> tuple[int, int]:
    """.txt files under ``scrape`` and their bytes, without a list of paths (the parent stays small)."""
    n = size = 0
    for folder, _, names in os.walk(scrape):
        for name in names:
            if name.endswith(".txt"):
                n += 1
                size += os.stat(os.path.join(folder, name)).st_size
    return n, size


_TRASH: list[Path] = []  # outputs and scrapes, removed when the whole benchmark is done


def _trash(path: Path) -> None:
    """Remove ``path`` at the end, not now: ext4 skips recently freed inodes when it allocates new
    ones, so deleting 17,000 files just before a run makes that run's file creation several times
    slower (seen here: 3-6 s of extra system time for ``dedupe run`` on 20,000 documents)."""
    _TRASH.append(path)


OUTPUTS: Path | None = None  # --outputs: where dedupe run writes (default: the workdir)


def run_dedupe(scrape: Path, jobs: int, workdir: Path, tag: str, index: Path | None = None,
               extra: tuple[str, ...] = ()) -> dict[str, Any] | None:
    out = (OUTPUTS or workdir) / f"{tag}.out"
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "dedupe.cli", "run", str(scrape), "--out", str(out), "--jobs", str(jobs), *extra]
    if index is not None:
        cmd += ["--index", str(index)]
    m = measure(cmd, workdir, tag)
    if m["rc"] not in (0, 1):
        _failed(f"dedupe run --jobs {jobs}", m)
        return None
    docs, size = _count(scrape)
    found = _SUMMARY.search(m["stderr"])
    row = {"name": f"dedupe run --jobs {jobs}" + (" --index" if index else ""), "kind": "end-to-end",
           "docs": docs, "mb": size / 1e6, "cpu_s": m["cpu_s"],
           "wall_s": m["wall_s"], "process_cpu_s": m["cpu_s"], "system_s": m["system_s"],
           "peak_rss_mb": m["peak_rss_mb"],
           "tree_pss_mb": m["tree_pss_mb"], "exit": m["rc"], "client_peak_rss_mb": m["client_peak_rss_mb"],
           "worker_peak_rss_mb": m["worker_peak_rss_mb"],
           "dropped": int(found.group(4)) if found else None}
    _trash(out)
    return row


def run_dedupe_rounds(scrape: Path, workdir: Path, rounds: int, only: set[str] | None
                      ) -> tuple[list[dict[str, Any]], list[float]]:
    """``dedupe run --jobs 1`` and ``--jobs 2``, one after the other, ``rounds`` times: each one's row is
    its median run (by CPU for one job, whose figure is MB/s per core; by wall time for two), with
    every round's figures under ``rounds``; and each round's speed-up from one to two cores, its two
    runs sharing their minutes (this machine's speed moves from hour to hour, and a run of two jobs
    by 10-25% from one minute to the next)."""
    wanted = [j for j in (1, 2) if not only or any(o in RUN_J[j] for o in only)]
    runs: dict[int, list[dict[str, Any]]] = {j: [] for j in wanted}
    speedups: list[float] = []
    for k in range(max(1, rounds)):
        got: dict[int, dict[str, Any]] = {}
        for jobs in wanted:
            print(f".. {RUN_J[jobs]}" + (f" (round {k + 1} of {rounds})" if rounds > 1 else ""), flush=True)
            # a folder a round: the last round's files are removed at the end, not just before a run (_trash)
            row = run_dedupe(scrape, jobs, workdir, f"run-j{jobs}" + (f"-r{k + 1}" if k else ""))
            if row:
                got[jobs] = row
                runs[jobs].append(row)
        if 1 in got and 2 in got:
            speedups.append(got[1]["wall_s"] / got[2]["wall_s"])
    rows = []
    for jobs, done in runs.items():
        if done:
            key = "cpu_s" if jobs == 1 else "wall_s"
            median = sorted(done, key=lambda r: r[key])[(len(done) - 1) // 2]
            rows.append({**median, "rounds": [{f: r[f] for f in ("cpu_s", "wall_s", "peak_rss_mb")} for r in done]})
    return rows, speedups


def materialise(shared: Path, docs: int, out: Path) -> tuple[int, int, float]:
    """Write the corpus to ``out`` in a subprocess (documents, bytes, seconds).

    Not in this process: a child's ru_maxrss starts at its parent's RSS when it is spawned (vfork
    and exec carry the high-water mark over), so the parent must stay small for the children's
    peak RSS to be their own.
    """
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, str(HERE / "speed_corpus.py"), str(out), "--shared", str(shared),
                           "--docs", str(docs)], capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"writing the corpus failed:\n{done.stderr}")
    n, size = map(int, re.findall(r"\d+", done.stdout)[:2])
    return n, size, time.perf_counter() - t0


def _rates(row: dict[str, Any]) -> None:
    row["mb_per_s_per_core"] = row["mb"] / row["cpu_s"]
    row["docs_per_s"] = row["docs"] / row["cpu_s"]


def print_table(rows: list[dict[str, Any]], total_docs: int) -> None:
    head = f"{'contender':<40} {'docs':>7} {'MB':>7} {'CPU s':>8} {'wall s':>7} {'MB/s/core':>9} {'docs/s':>8}" \
           f" {'peak RSS MB':>11} {'× dedupe':>9}  compared with"
    print(head)
    print("-" * len(head))
    for r in rows:
        if "skipped" in r:
            print(f"{r['name']:<40} skipped: {r['skipped']}")
            continue
        ratio = f"{r['ratio']:8.2f}x" if r.get("ratio") is not None else f"{'':>9}"
        print(f"{r['name']:<40} {r['docs']:>7} {r['mb']:>7.1f} {r['cpu_s']:>8.2f} {r['wall_s']:>7.2f}"
              f" {r['mb_per_s_per_core']:>9.2f} {r['docs_per_s']:>8.0f} {r['peak_rss_mb']:>11.0f} {ratio}"
              f"  {r.get('vs', '')}")
    subset = [r for r in rows if "docs" in r and r["docs"] < total_docs and r["kind"] != "end-to-end"]
    for r in subset:
        print(f"   {r['name']} ran on the first {r['docs']:,} of {total_docs:,} documents (too slow for all);"
              f" its rates are per document and per MB, so they compare as they are")


def machine() -> dict[str, Any]:
    model = ""
    try:
        model = next(ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    versions: dict[str, str | None] = {}
    for pkg in ("news-dedupe", "datasketch", "rensa", "datatrove", "spacy", "ftfy", "xxhash", "numpy", "cydifflib"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "dedupe"], cwd=ROOT, capture_output=True, text=True)
    return {
        "nproc": os.cpu_count(), "cpus_usable": len(os.sched_getaffinity(0)), "cpu_model": model,
        "python": platform.python_version(), "packages": versions,
        "dedupe_commit": git.stdout.strip(), "dedupe_tree_modified": bool(dirty.stdout.strip()),
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
        "OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE"),
    }


def main_speed(args: argparse.Namespace, workdir: Path, report: dict[str, Any]) -> None:
    scrape = workdir / f"scrape-{args.docs}"
    n, size, took = materialise(args.shared, args.docs, scrape)
    print(f"corpus: {n:,} documents, {size / 1e6:.1f} MB of text, written to {scrape} in {took:.1f} s", flush=True)
    report["corpus"] = {"docs": n, "mb": size / 1e6, "seed": 0, "dup_rate": 0.1}
    only = set(args.only.split(",")) if args.only else None

    rows: list[dict[str, Any]] = []
    for name, (_, _, slow) in CONTENDERS.items():
        if only and not any(o in name for o in only):
            continue
        limit = min(args.subset, args.docs) if slow else args.docs
        print(f".. {name}" + (f" (first {limit:,} documents)" if limit < args.docs else ""), flush=True)
        row = run_contender(name, scrape, limit, workdir)
        if row:
            rows.append(row)
    run_rows, round_speedups = run_dedupe_rounds(scrape, workdir, args.rounds, only)
    rows += run_rows

    measured = [r for r in rows if "skipped" not in r]
    for r in measured:
        _rates(r)
    by = {r["name"]: r for r in measured}
    sig, e2e = by.get(DEDUPE_SIG), by.get(RUN_J[1])
    for r in measured:
        base = sig if r["kind"] == "signature" else e2e
        if base is not None and r is not base:
            r["ratio"] = r["mb_per_s_per_core"] / base["mb_per_s_per_core"]
            r["vs"] = "signature stage" if base is sig else "run --jobs 1"
    print()
    print_table(rows, args.docs)
    j1, j2 = by.get(RUN_J[1]), by.get(RUN_J[2])
    if round_speedups:
        report["speedup_1_to_2_cores_wall"] = statistics.median(round_speedups)
        report["speedup_rounds"] = round_speedups
        print(f"\ndedupe run speed-up from 1 to 2 cores (wall time, the median of {len(round_speedups)} alternated"
              f" round{'s' if len(round_speedups) > 1 else ''}: "
              + ", ".join(f"{x:.2f}x" for x in round_speedups) + f"): {report['speedup_1_to_2_cores_wall']:.2f}x")
    runs = [r for r in (j1, j2) if r]
    if runs:
        print("dedupe run system CPU (the kernel's share of CPU s: creating the output files, mostly; on this"
              " machine's disk it varies several-fold from hour to hour, see --outputs): "
              + "; ".join(f"{r['name']}: {r['system_s']:.1f} s" for r in runs))
        print("dedupe run memory of the command and its workers together (peak summed PSS, sampled): "
              + "; ".join(f"{r['name']}: {r['tree_pss_mb']:.0f} MB" for r in runs))
    for name in PIPELINES:
        if name in by and j1:
            print(f"dedupe run --jobs 1 is {j1['mb_per_s_per_core'] / by[name]['mb_per_s_per_core']:.2f}x the"
                  f" {name} in MB/s per core (it also cleans paragraphs, verifies candidates and"
                  f" writes every kept article and a report)")
    drops = {r["name"]: r["dropped"] for r in measured if r.get("dropped") is not None}
    if drops:
        print("documents dropped as copies: " + "; ".join(f"{k}: {v:,}" for k, v in drops.items()))
    print("ratio column: this contender's MB/s per core ÷ dedupe's (signature stage for signature contenders,"
          " `dedupe run --jobs 1` for pipelines); CPU s covers reading the files and the work, not interpreter"
          " start-up, except for `dedupe run` (the whole command); peak RSS is the largest single process")
    report["rows"] = rows
    report["targets"] = targets(by, report.get("speedup_1_to_2_cores_wall"))
    if not args.keep_scrape:
        _trash(scrape)


FLOOR = "floor (read+tokenise+xxh32 5-grams)"
# the issue's speed targets: (what, threshold, the contender dedupe run --jobs 1 is compared with)
PIPELINE_TARGETS = [
    ("dedupe run --jobs 1 over the naive pipeline, per shingle (the issue's naive pipeline)", 30.0,
     "naive pipeline, per shingle (update)"),
    ("dedupe run --jobs 1 over the rensa pipeline with ftfy's check (built from public parts)", 1.3,
     "rensa pipeline, ftfy's check (is_bad)"),
    ("dedupe run --jobs 1 over the rensa pipeline with dedupe's own check", 1.3, "rensa pipeline (cheap ftfy+rensa+LSH)"),
]


# the issue's own figures for its pipelines (MB/s per core): not targets, printed beside them
ISSUE_FIGURES = [("naive datasketch + ftfy pipeline", 0.27), ("rensa pipeline with a cheap check", 7.5)]


def targets(by: dict[str, dict[str, Any]], speedup: float | None) -> list[dict[str, Any]]:
    """The issue's speed targets against what this run measured (those it measured), printed and returned.

    This machine's speed moves by a third or more from hour to hour; the floor, a fixed Python loop
    measured in the same run, moves with it, and ``dedupe run``'s ratio to the floor moves less: at this
    run's ratio, the floor's speed at which the per-core target would be reached."""
    found: list[dict[str, Any]] = []
    j1 = by.get(RUN_J[1])
    if j1:
        rate = j1["mb_per_s_per_core"]
        found.append({"target": "dedupe run --jobs 1, MB/s per core", "at_least": 10.0, "value": rate, "unit": ""})
        floor = by.get(FLOOR)
        if floor:
            found[-1]["floor_ratio"] = rate / floor["mb_per_s_per_core"]
        for what, at_least, name in PIPELINE_TARGETS:
            if name in by:
                found.append({"target": what, "at_least": at_least, "value": rate / by[name]["mb_per_s_per_core"],
                              "unit": "x"})
    if speedup is not None:
        found.append({"target": "dedupe run from 1 to 2 cores (wall time)", "at_least": 1.8, "value": speedup,
                      "unit": "x"})
    if found:
        print("the issue's speed targets, as this run measured them:")
    for t in found:
        t["met"] = t["value"] >= t["at_least"]
        line = (f"  {t['target']}: {t['value']:.2f}{t['unit']} (target {t['at_least']:g}{t['unit']}:"
                f" {'met' if t['met'] else 'not met'})")
        if "floor_ratio" in t:
            line += (f"; {t['floor_ratio']:.2f}x the floor measured here: at that ratio, {t['at_least']:g} MB/s per"
                     f" core needs an hour in which the floor runs at {t['at_least'] / t['floor_ratio']:.1f} or more")
        print(line)
    if j1:
        stated = [f"{j1['mb_per_s_per_core'] / rate:.1f}x its {rate:g} MB/s for the {what}"
                  for what, rate in ISSUE_FIGURES]
        print("  for reference, against the figures the issue states for its pipelines (not measured in this"
              " run; its pipelines built from public parts measure faster here, see benchmarks/README.md): "
              + ", ".join(stated))
    return found


def _index_supported() -> bool:
    h = subprocess.run([sys.executable, "-m", "dedupe.cli", "run", "--help"], cwd=ROOT, capture_output=True, text=True)
    return "--index" in h.stdout


def _file_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*") if p.is_file())


def main_scaling(args: argparse.Namespace, workdir: Path, report: dict[str, Any]) -> None:
    sizes = [int(n) for n in args.scaling_sizes.split(",")] if args.scaling_sizes else \
        [10_000, 100_000] + ([1_000_000] if args.million else [])
    with_index = _index_supported()
    if not with_index:
        print("`dedupe run --index` is not supported by this dedupe: no index sizes")
    out: list[dict[str, Any]] = []
    print(f"\nscaling: dedupe run --jobs 2 on {', '.join(f'{n:,}' for n in sizes)} documents", flush=True)
    for n in sizes:
        scrape = workdir / f"scale-{n}"
        _, size, took = materialise(args.shared, n, scrape)
        print(f".. {n:,} documents ({size / 1e6:,.0f} MB) written in {took:.0f} s", flush=True)
        entry: dict[str, Any] = {"docs": n, "mb": size / 1e6}
        # From 1M documents only the --index run (it gives every figure; the plain run would add hours).
        plain = run_dedupe(scrape, 2, workdir, f"scale-{n}") if n < args.index_only_from or not with_index else None
        if plain is None and n >= args.index_only_from and with_index:
            entry["plain"] = "not run (index run only at this size)"
        if plain:
            entry.update(wall_s=plain["wall_s"], cpu_s=plain["cpu_s"], cpu_ms_per_doc=1000 * plain["cpu_s"] / n,
                         peak_rss_mb=plain["peak_rss_mb"], tree_pss_mb=plain["tree_pss_mb"], dropped=plain["dropped"],
                         client_peak_rss_mb=plain["client_peak_rss_mb"], worker_peak_rss_mb=plain["worker_peak_rss_mb"])
        # the Dask engine twice: candidate pairs gathered on the client, and kept on the cluster
        for where, key in (("client", "dask"), ("cluster", "dask_cluster")) if args.dask and n < args.index_only_from \
                else ():
            on_dask = run_dedupe(scrape, 2, workdir, f"scale-{n}-{key}",
                                 extra=("--engine", "dask", "--components", where))
            if on_dask:
                entry.update({f"{key}_{k}": on_dask[k] for k in
                              ("wall_s", "cpu_s", "peak_rss_mb", "tree_pss_mb", "dropped", "client_peak_rss_mb",
                               "worker_peak_rss_mb")})
        if with_index:
            idx = workdir / f"scale-{n}.sqlite"
            for p in workdir.glob(idx.name + "*"):
                p.unlink()
            ir = run_dedupe(scrape, 2, workdir, f"scale-{n}-index", index=idx)
            if ir:
                stats = subprocess.run([sys.executable, "-m", "dedupe.cli", "index", "stats", str(idx)], cwd=ROOT,
                                       capture_output=True, text=True)
                found = re.search(r"articles: (\d+)", stats.stdout)
                indexed = int(found.group(1)) if found else None
                nbytes = _file_bytes(idx)
                entry.update(index_wall_s=ir["wall_s"], index_cpu_s=ir["cpu_s"], index_peak_rss_mb=ir["peak_rss_mb"],
                             index_tree_pss_mb=ir["tree_pss_mb"],
                             index_bytes=nbytes, index_articles=indexed, index_bytes_per_doc=nbytes / n,
                             index_bytes_per_article=nbytes / indexed if indexed else None)
            for p in workdir.glob(idx.name + "*"):
                p.unlink()
        _trash(scrape)
        out.append(entry)
        _print_scaling(out)
    report["scaling"] = out


def _print_scaling(out: list[dict[str, Any]]) -> None:
    print(f"{'docs':>9} {'MB':>7} {'wall s':>8} {'CPU s':>8} {'CPU ms/doc':>10} {'peak RSS MB':>11} {'all PSS MB':>10}"
          f" {'| --index: wall s':>17} {'CPU ms/doc':>10} {'peak RSS MB':>11} {'index MB':>9} {'B/doc':>7}"
          f" {'B/indexed':>9}")
    for e in out:
        line = f"{e['docs']:>9,} {e['mb']:>7.0f}"
        line += (f" {e['wall_s']:>8.1f} {e['cpu_s']:>8.1f} {e['cpu_ms_per_doc']:>10.2f} {e['peak_rss_mb']:>11.0f}"
                 f" {e['tree_pss_mb']:>10.0f}" if "wall_s" in e else
                 f" {'not run' if 'plain' in e else 'failed':>51}")
        if "index_wall_s" in e:
            per = e["index_bytes_per_article"]
            line += (f" {e['index_wall_s']:>17.1f} {1000 * e['index_cpu_s'] / e['docs']:>10.2f}"
                     f" {e['index_peak_rss_mb']:>11.0f} {e['index_bytes'] / 1e6:>9.1f} {e['index_bytes_per_doc']:>7.0f}"
                     f" {per:>9.0f}" if per else "")
        print(line, flush=True)
    for e in out:
        for key, where in (("dask", "client"), ("dask_cluster", "cluster")):
            if f"{key}_wall_s" not in e:
                continue
            same = "same" if e.get(f"{key}_dropped") == e.get("dropped") else "DIFFERENT"
            local = f" (local engine: {e['wall_s']:.1f} s)" if "wall_s" in e else ""
            print(f"{e['docs']:>9,} docs, --engine dask --components {where} (LocalCluster of 2):"
                  f" {e[f'{key}_wall_s']:.1f} s wall{local}, {1000 * e[f'{key}_cpu_s'] / e['docs']:.2f} ms CPU/doc,"
                  f" largest process {e[f'{key}_peak_rss_mb']:.0f} MB, all PSS {e[f'{key}_tree_pss_mb']:.0f} MB;"
                  f" {same} number dropped", flush=True)
            local = (f"; local engine: the run {e['client_peak_rss_mb']:.0f} MB, a worker"
                     f" {e['worker_peak_rss_mb']:.0f} MB" if "client_peak_rss_mb" in e else "")
            print(f"{'':>9}  peak RSS (sampled): the client {e[f'{key}_client_peak_rss_mb']:.0f} MB (with the"
                  f" scheduler and nannies), a worker {e[f'{key}_worker_peak_rss_mb']:.0f} MB{local}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    ap.add_argument("--docs", type=int, default=20_000,
                    help="documents in the corpus (default 20,000; 0: only --scaling)")
    ap.add_argument("--json", type=Path, help="also write every figure here")
    ap.add_argument("--scaling", action="store_true", help="also time dedupe run --jobs 2 on 10k and 100k docs")
    ap.add_argument("--dask", action="store_true", help="with --scaling, also run --engine dask, with --components client and cluster (needs news-dedupe[dask])")
    ap.add_argument("--million", action="store_true",
                    help="with --scaling: 1M documents too (3.4 GB on disk; about an hour, see benchmarks/README.md)")
    ap.add_argument("--subset", type=int, default=2_000, help="documents for the slow contenders (default 2,000)")
    ap.add_argument("--rounds", type=int, default=3,
                    help="dedupe run --jobs 1 and --jobs 2 alternated this many times; the median of each is"
                         " reported (default 3)")
    ap.add_argument("--only", help="comma-separated parts of contender names to run (default: all)")
    ap.add_argument("--workdir", type=Path, help="keep scrape dirs, outputs and stderr here (default: a temp dir)")
    ap.add_argument("--outputs", type=Path,
                    help="write dedupe run's outputs here instead of the workdir (a tmpfs such as /dev/shm takes"
                         " the disk's file-creation time out)")
    ap.add_argument("--keep-scrape", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--scaling-sizes", help=argparse.SUPPRESS)  # e.g. 2000,5000: to test the harness
    ap.add_argument("--index-only-from", type=int, default=1_000_000, help=argparse.SUPPRESS)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--scrape", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--limit", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    global OUTPUTS
    OUTPUTS = args.outputs.resolve() if args.outputs else None
    if OUTPUTS is not None:
        OUTPUTS.mkdir(parents=True, exist_ok=True)
    if args.child:
        child_main(args.child, args.scrape, args.limit)
        return

    started = time.perf_counter()
    info = machine()
    print(f"machine: {info['nproc']} CPUs ({info['cpu_model']}), Python {info['python']}; dedupe"
          f" {info['dedupe_commit']}{' (dedupe/ modified)' if info['dedupe_tree_modified'] else ''}")
    print("packages: " + ", ".join(f"{k} {v or 'not installed'}" for k, v in info["packages"].items()))
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if info[var]:
            print(f"note: {var}={info[var]} is set (inherited by every contender; it slows numpy's BLAS kernels,"
                  f" see benchmarks/README.md)")
    report: dict[str, Any] = {"machine": info, "args": {k: str(v) for k, v in vars(args).items()}}
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        # an installed package has its modules compiled; without them each `dedupe run` would compile
        # dedupe's from source first (about 40 ms here), which no user's run pays twice
        compileall.compile_dir(ROOT / "dedupe", quiet=1)
        print("note: PYTHONDONTWRITEBYTECODE is set: dedupe's modules compiled once, as an install compiles them")
    if args.workdir:
        workdir = args.workdir.resolve()
        workdir.mkdir(parents=True, exist_ok=True)
        tmp = None
    else:
        tmp = tempfile.TemporaryDirectory(prefix="dedupe-speed-")
        workdir = Path(tmp.name)
    try:
        if args.docs > 0:
            main_speed(args, workdir, report)
        if args.scaling:
            main_scaling(args, workdir, report)
    finally:
        report["total_wall_s"] = time.perf_counter() - started
        after = machine()
        report["dedupe_at_end"] = {k: after[k] for k in ("dedupe_commit", "dedupe_tree_modified")}
        if (after["dedupe_commit"], after["dedupe_tree_modified"]) != (info["dedupe_commit"],
                                                                        info["dedupe_tree_modified"]) \
                or info["dedupe_tree_modified"]:
            print(f"\nnote: dedupe/ was {'modified' if info['dedupe_tree_modified'] else 'clean'} at"
                  f" {info['dedupe_commit']} when this run started and is"
                  f" {'modified' if after['dedupe_tree_modified'] else 'clean'} at {after['dedupe_commit']} now:"
                  " the dedupe rows may mix versions")
        report["parent_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"this process's own peak RSS: {report['parent_peak_rss_mb']:.0f} MB (a floor under every"
              f" contender's peak RSS figure, see measure())")
        print(f"\ntotal wall time of this benchmark: {report['total_wall_s']:.0f} s")
        if args.json:
            args.json.write_text(json.dumps(report, indent=2, default=str) + "\n")
        for path in _TRASH:
            shutil.rmtree(path, ignore_errors=True)
        if tmp is not None:
            tmp.cleanup()


if __name__ == "__main__":
    main()
