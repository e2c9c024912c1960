"""The pre-commit hooks, run by the real `pre-commit` tool (`pre-commit try-repo` on this repo).

pre-commit builds the hook's own virtualenv from this repository (pip install, once per test
session: PRE_COMMIT_HOME is shared), then runs `dedupe hook check|fix` on files of a temporary
git repository of scraped text.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import FIXTURES
from .test_run import article, as_text, syndicated

ROOT = Path(__file__).resolve().parent.parent
SEED = (FIXTURES / "seed" / "kursk-article.txt").read_bytes()
CANONICAL = (FIXTURES / "seed" / "kursk-article.canonical.txt").read_bytes()

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="pre-commit needs git")


@pytest.fixture(scope="session")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pre-commit-home")


def git_repo(path: Path, files: dict[str, bytes]) -> Path:
    path.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=path, check=True)
    for name, data in files.items():
        (path / name).write_bytes(data)
    subprocess.run(["git", "add", "."], cwd=path, check=True)
    return path


def try_repo(repo: Path, home: Path, hook: str, files: list[str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    env.pop("PRE_COMMIT_NO_CONCURRENCY", None)
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(ROOT), hook, "--verbose", "--files", *files],
        cwd=repo, env=env, capture_output=True, text=True, timeout=900,
    )


def test_check_fails_on_the_seed_and_passes_on_its_canonical_form(tmp_path, pre_commit_home):
    repo = git_repo(tmp_path / "repo", {"seed.txt": SEED})
    bad = try_repo(repo, pre_commit_home, "dedupe-check", ["seed.txt"])
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "seed.txt: 1 duplicate headline(s), 3 repeated paragraph(s)" in bad.stdout
    assert (repo / "seed.txt").read_bytes() == SEED  # check never writes
    clean = git_repo(tmp_path / "clean", {"seed.txt": CANONICAL})
    good = try_repo(clean, pre_commit_home, "dedupe-check", ["seed.txt"])
    assert good.returncode == 0, good.stdout + good.stderr
    again = try_repo(clean, pre_commit_home, "dedupe-check", ["seed.txt"])
    assert again.returncode == 0, again.stdout  # a file is no copy of itself seen in an earlier run


def test_fix_rewrites_to_canonical_text(tmp_path, pre_commit_home):
    repo = git_repo(tmp_path / "repo", {"seed.txt": SEED})
    first = try_repo(repo, pre_commit_home, "dedupe-fix", ["seed.txt"])
    assert first.returncode == 1 and "seed.txt: rewritten as canonical text" in first.stdout
    assert (repo / "seed.txt").read_bytes() == CANONICAL
    second = try_repo(repo, pre_commit_home, "dedupe-fix", ["seed.txt"])
    assert second.returncode == 0, second.stdout


def test_a_copy_in_another_batch_is_still_caught(tmp_path, pre_commit_home):
    head, paras = article(0)
    files = {f"story-{n}.txt": as_text(*article(n)).encode() for n in range(1, 9)}
    files["aa-original.txt"] = as_text(head, paras).encode()
    files["zz-wire-copy.txt"] = syndicated(head, paras).encode()
    repo = git_repo(tmp_path / "repo", files)
    names = sorted(files)
    # pre-commit itself splits these ten files into batches run side by side (one per CPU)...
    together = try_repo(repo, pre_commit_home, "dedupe-check", names)
    assert together.returncode == 1
    # whichever batch got there second names the other file
    assert ("zz-wire-copy.txt: a copy of aa-original.txt" in together.stdout
            or "aa-original.txt: a copy of zz-wire-copy.txt" in together.stdout), together.stdout
    assert together.stdout.count(": a copy of ") == 1
    # ...and two separate calls are two batches for certain: the index carries the first to the second.
    (repo / ".dedupe-index.sqlite").unlink()
    first = try_repo(repo, pre_commit_home, "dedupe-check", names[:5])
    assert first.returncode == 0, first.stdout
    second = try_repo(repo, pre_commit_home, "dedupe-check", names[5:])
    assert second.returncode == 1 and "zz-wire-copy.txt: a copy of aa-original.txt" in second.stdout
