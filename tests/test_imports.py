"""The package imports lazily: ``import dedupe`` is cheap, and the command line sets up numpy's threads first."""

from __future__ import annotations

import ast
import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

import dedupe


def test_public_names_are_imported_where_they_live():
    # the lazy package: its TYPE_CHECKING imports (what type checkers see), its map of homes (what
    # __getattr__ imports) and __all__ name the same things
    tree = ast.parse(Path(dedupe.__file__).read_text(encoding="utf-8"))
    guarded = next(node for node in tree.body if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING")
    imported = {alias.name: node.module for node in guarded.body if isinstance(node, ast.ImportFrom) for alias in node.names}
    assert imported == dedupe._HOME
    assert sorted([*imported, "__version__"]) == sorted(dedupe.__all__)
    for name, module in imported.items():
        assert getattr(dedupe, name) is getattr(importlib.import_module(f"dedupe.{module}"), name)


def test_import_dedupe_loads_no_numpy():
    # nor importlib.metadata, until the version is asked for; the command line's imports do not ask
    code = (
        "import sys, dedupe\n"
        "print('numpy' in sys.modules, 'importlib.metadata' in sys.modules)\n"
        "import dedupe.cli\n"
        "print('importlib.metadata' in sys.modules, dedupe.__version__ not in ('', None))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False", "False", "True"]


def test_the_version():
    from importlib.metadata import version

    from click.testing import CliRunner

    from dedupe.cli import main

    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"dedupe (news-dedupe), version {version('news-dedupe')}\n" == f"dedupe (news-dedupe), version {dedupe.__version__}\n"


@pytest.mark.skipif(not Path("/proc/self/task").is_dir() or (os.cpu_count() or 1) < 2, reason="threads counted in /proc")
def test_the_command_line_starts_no_blas_threads():
    # OpenBLAS starts a thread a core when numpy loads, spinning at first (0.1 CPU s a run)
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    code = "import os, dedupe.cli, numpy; print(len(os.listdir('/proc/self/task')), os.environ['OPENBLAS_NUM_THREADS'])"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert done.stdout.split() == ["1", "1"]


def test_the_command_sets_its_garbage_collector():
    # the console script's entry point (pyproject.toml) freezes the imports' objects and collects less often
    code = (
        "import gc, sys\n"
        "from dedupe.cli import GC_YOUNG_OBJECTS, entry\n"
        "sys.argv = ['dedupe', '--version']\n"
        "try:\n    entry()\nexcept SystemExit:\n    pass\n"
        "print(gc.get_threshold()[0] == GC_YOUNG_OBJECTS, gc.get_freeze_count() > 1000)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split()[-2:] == ["True", "True"]
    script = (Path(__file__).resolve().parent.parent / "pyproject.toml").read_text(encoding="utf-8")
    assert 'dedupe = "dedupe.cli:entry"' in script
