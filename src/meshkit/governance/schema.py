"""Write the personas file's JSON Schema: ``python -m meshkit.governance.schema FILE``."""

from __future__ import annotations

import sys
from pathlib import Path

from meshkit.governance.model import dumps_schema


def main(argv: list[str]) -> int:
    target = Path(argv[0] if argv else "docs/permissions.schema.json")
    target.write_text(dumps_schema(), encoding="utf-8")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
