"""Throughput of the cleaner: `dedupe clean` end to end and the library call alone.

Prints MB/s per core (CPU time), docs/s and peak RSS for:
- `dedupe clean CORPUS --out TMP` as a subprocess (read, repair, segment, dedup, write);
- `clean_text` over texts already in memory (the cleaner alone);
- ftfy.fix_text on every text (what calling ftfy unconditionally would cost), for scale.

Usage: python benchmarks/clean_speed.py [CORPUS_DIR] [--json OUT.json]
(default corpus ../shared/corpora/bbc-news-2225/articles; any folder of .txt/.md articles works)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import ftfy

from dedupe import clean_text
from dedupe.clean import FTFY_CONFIG
from dedupe.io import decode, expand_inputs


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def row(name: str, mb: float, docs: int, seconds: float, rss_mb: float, base: float | None) -> dict:
    rate = mb / seconds
    ratio = f"{rate / base:6.2f}x" if base else "   1.00x"
    print(f"{name:<38} {rate:8.2f} MB/s/core {docs / seconds:9.0f} docs/s  peak RSS {rss_mb:6.0f} MB  {ratio}")
    return {"name": name, "mb_per_s_per_core": round(rate, 3), "docs_per_s": round(docs / seconds, 1), "peak_rss_mb": round(rss_mb, 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus", nargs="?", default="../shared/corpora/bbc-news-2225/articles")
    ap.add_argument("--json", help="also write the figures here")
    args = ap.parse_args()
    paths = [p for p, name in expand_inputs([args.corpus]) if name is not None]
    texts = [decode(Path(p).read_bytes(), p)[0] for p in paths]
    mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    print(f"corpus: {args.corpus}: {len(texts)} documents, {mb:.2f} MB; CPU: {os.cpu_count()} cores")

    with tempfile.TemporaryDirectory() as out:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run([sys.executable, "-m", "dedupe.cli", "clean", args.corpus, "--out", out], check=False,
                       stderr=subprocess.DEVNULL)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cli_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    rows = [row("dedupe clean (CLI, end to end)", mb, len(texts), cli_cpu, after.ru_maxrss / 1024, None)]
    base = rows[0]["mb_per_s_per_core"]

    t0 = cpu()
    for i, t in enumerate(texts):
        clean_text(t, doc=str(i))
    rows.append(row("clean_text (library, in memory)", mb, len(texts), cpu() - t0,
                    resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, base))

    t0 = cpu()
    for t in texts:
        ftfy.fix_text(t, FTFY_CONFIG)
    rows.append(row("ftfy.fix_text on every text", mb, len(texts), cpu() - t0,
                    resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, base))
    if args.json:
        Path(args.json).write_text(json.dumps({"corpus": args.corpus, "mb": mb, "docs": len(texts), "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
