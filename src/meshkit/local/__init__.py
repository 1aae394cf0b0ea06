"""The local mesh: every account on moto in one process, running the handlers Lambda runs.

``from meshkit.local import LocalMesh``; names are imported lazily so that importing this
package does not import moto.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "LocalMesh": "mesh",
    "CentralHandle": "mesh",
    "DomainHandle": "mesh",
    "Flow": "mesh",
    "MeshNotIdleError": "delivery",
    "Faults": "faults",
    "DeadLetter": "types",
    "FlowStats": "types",
    "QueryResult": "types",
    "TimelineEntry": "types",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'meshkit.local' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"meshkit.local.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
