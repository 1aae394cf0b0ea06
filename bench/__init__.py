"""meshkit benchmarks: ``make bench`` (``python -m bench``) runs every module and prints a table.

A benchmark module exposes ``run() -> list[dict]``; each row has ``name``, ``value``, ``unit``,
``goal`` (text, may be empty), ``note`` and optionally ``ok`` (True/False when a goal was
checked). Add a module by listing it in ``MODULES``.
"""

from __future__ import annotations

#: Benchmark modules, in the order their rows are printed; missing ones are skipped.
MODULES: tuple[str, ...] = (
    "bench.import_time",
    "bench.flows",
    "bench.synth",
    "bench.erasure",
    "bench.permissions",
    "bench.publication",
    "bench.registry",
    "bench.portal",
)
