"""CDK constructs deploying the mesh (the only meshkit package that imports aws_cdk)."""

from __future__ import annotations

from meshkit._extras import require

# Before aws_cdk is imported: one line saying what to install.
require("cdk", "meshkit.constructs (the CDK constructs)")

from meshkit.constructs._handlers import CustomHandler  # noqa: E402
from meshkit.constructs.central import CentralGovernance  # noqa: E402
from meshkit.constructs.datazone import DataZonePublishing, DataZoneSettings  # noqa: E402
from meshkit.constructs.domain import DataDomain  # noqa: E402
from meshkit.constructs.dropzone import DropZone  # noqa: E402
from meshkit.constructs.permissions import PermissionsSettings  # noqa: E402
from meshkit.constructs.stackset import DomainStackSet  # noqa: E402
from meshkit.constructs.team import MeshEventSource, MeshFunction  # noqa: E402

__all__ = [
    "CentralGovernance",
    "CustomHandler",
    "DataDomain",
    "DataZonePublishing",
    "DataZoneSettings",
    "DomainStackSet",
    "DropZone",
    "MeshEventSource",
    "MeshFunction",
    "PermissionsSettings",
]
