"""Static checks in the suite: mypy --strict on the package, ruff (pyflakes and import order) everywhere."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def check(*args: str) -> None:
    result = subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_passes():
    check("mypy", "--no-error-summary")


def test_ruff_passes():
    check("ruff", "check", "dedupe", "tests", "benchmarks")


def test_every_public_name_exists():
    import dedupe

    assert [name for name in dedupe.__all__ if not hasattr(dedupe, name)] == []
