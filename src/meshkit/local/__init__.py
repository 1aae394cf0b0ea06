"""The local mesh: every account on moto in one process, running the handlers Lambda runs.

``from meshkit.local import LocalMesh``; names are imported lazily so that importing this
package does not import moto.
"""

from __future__ import annotations

from meshkit._extras import require
from meshkit._lazy import lazy_exports

# Before anything of the local mesh is imported: one line saying what to install.
require("local", "meshkit.local (the local mesh)")

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


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
