"""Run the benchmarks and print one table: ``python -m bench [module ...] [--json]``."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from typing import Any

from bench import MODULES

COLUMNS = ("benchmark", "name", "value", "unit", "goal", "ok", "note")


def _format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 10 else f"{value:,.3g}"
    return str(value)


def run_module(name: str) -> list[dict[str, Any]]:
    """Rows of one module; a skip row when it does not exist yet, an error row when it fails."""
    short = name.rsplit(".", 1)[-1]
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        return [
            {
                "benchmark": short,
                "name": "-",
                "value": "",
                "unit": "",
                "goal": "",
                "note": "skipped: module not written yet",
            }
        ]
    started = time.perf_counter()
    try:
        rows: list[dict[str, Any]] = list(module.run())
    except Exception as exc:  # one broken benchmark must not hide the others
        return [
            {
                "benchmark": short,
                "name": "-",
                "value": "",
                "unit": "",
                "goal": "",
                "ok": False,
                "note": f"error: {type(exc).__name__}: {exc}",
            }
        ]
    for row in rows:
        row.setdefault("benchmark", short)
    print(f"  {short}: {len(rows)} rows in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    cells = [
        [
            str(row.get("benchmark", "")),
            str(row.get("name", "")),
            _format_value(row.get("value", "")),
            str(row.get("unit", "")),
            str(row.get("goal", "")),
            {True: "yes", False: "NO"}.get(row.get("ok"), ""),  # type: ignore[arg-type]
            str(row.get("note", "")),
        ]
        for row in rows
    ]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(COLUMNS)]
    print("  ".join(c.ljust(w) for c, w in zip(COLUMNS, widths, strict=True)).rstrip())
    print("  ".join("-" * w for w in widths))
    for r in cells:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("modules", nargs="*", help="short names, e.g. import_time (default: all)")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args(argv)
    names = [m for m in MODULES if not args.modules or m.rsplit(".", 1)[-1] in args.modules]
    unknown = set(args.modules) - {m.rsplit(".", 1)[-1] for m in MODULES}
    if unknown:
        parser.error(f"unknown benchmark modules {sorted(unknown)}; known: {list(MODULES)}")
    rows = [row for name in names for row in run_module(name)]
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
    else:
        print_table(rows)
    return 1 if any(row.get("ok") is False for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
