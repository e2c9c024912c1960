"""The compiled kernels (``dedupe._speedups``); everything else is in pyproject.toml.

``optional=True``: where no C compiler is found the install goes on without them, and dedupe runs its
Python and numpy code instead (``dedupe.speedups``), with the same results.
"""

import sys

from setuptools import Extension, setup

# no fused multiply-add: the kernels' float comparisons must round as the Python code's do
flags = [] if sys.platform == "win32" else ["-O3", "-ffp-contract=off"]
setup(ext_modules=[Extension("dedupe._speedups", ["dedupe/_speedups.c"], extra_compile_args=flags, optional=True)])
