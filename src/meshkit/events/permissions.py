"""Permissions-as-code: personas mapped to desired grants, applied and checked for drift."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from meshkit.events.base import MeshEvent
from meshkit.events.types import PrincipalArn, ShortText

__all__ = ["GrantChange", "PermissionsApplied", "PermissionsDriftDetected"]

SOURCE = "meshkit.permissions"


class GrantChange(BaseModel):
    """One grant added, removed, or found different from the plan."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    action: Literal["grant", "revoke"] = Field(description="What the plan does.")
    principal: PrincipalArn = Field(description="Who.")
    resource: ShortText = Field(
        description="Resource, as database[.table].", examples=["sales.orders"]
    )
    permissions: list[ShortText] = Field(
        min_length=1, max_length=20, description="LF permissions.", examples=[["SELECT"]]
    )


class PermissionsApplied(MeshEvent):
    """A permissions plan was applied."""

    SOURCE: ClassVar[str] = SOURCE
    DETAIL_TYPE: ClassVar[str] = "PermissionsApplied"

    plan_id: ShortText = Field(description="Identifies the applied plan.", examples=["p-2026"])
    changes: list[GrantChange] = Field(max_length=500, description="Changes applied (first 500).")
    total_changes: int = Field(ge=0, description="All changes, also those not listed.")


class PermissionsDriftDetected(MeshEvent):
    """Grants in Lake Formation differ from the desired state."""

    SOURCE: ClassVar[str] = SOURCE
    DETAIL_TYPE: ClassVar[str] = "PermissionsDriftDetected"

    drift: list[GrantChange] = Field(
        min_length=1, max_length=500, description="Changes that would restore the plan."
    )
    total_drift: int = Field(ge=1, description="All drifting grants, also those not listed.")
