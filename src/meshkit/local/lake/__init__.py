"""The local lake: Lake Formation, RAM and Glue across moto accounts, a crawler, a query engine.

moto keeps each account's Glue, Lake Formation and RAM state but nothing that crosses accounts
(see docs/local-mesh.md); :class:`LakeSimulation` supplies it with botocore hooks.
"""

from __future__ import annotations

from meshkit.local.lake.sharing import Invitation, LakeGrant, LakeResource
from meshkit.local.lake.simulation import LakeSimulation

__all__ = ["Invitation", "LakeGrant", "LakeResource", "LakeSimulation"]
