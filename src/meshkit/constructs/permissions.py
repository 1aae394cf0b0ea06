"""``CentralGovernance(permissions=PermissionsSettings(...))``: lake personas as code, deployed.

The personas file is validated at synth (errors with line:column: nothing is synthesized) and
shipped as an SSM parameter of the central account, as compact JSON
(``meshkit.governance.model.dumps_compact``): the ``central.permissions`` group reads it on
every event. A standard parameter holds 4 KB, an advanced one 8 KB (chosen by size); a larger
file is refused at synth (docs/permissions.md, "Where it runs").
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from meshkit import topology

if TYPE_CHECKING:
    from aws_cdk import Duration

    from meshkit.governance.model import PersonasFile

__all__ = ["PermissionsSettings"]


@dataclass(frozen=True)
class PermissionsSettings:
    """The personas file central manages, and how often it reconciles the whole catalog.

    ``file``: a YAML (``permissions`` extra), TOML or JSON personas file. ``reconcile``: the
    period of the full reconcile that catches lost events and reports drift (default one
    hour; whole minutes, at least one).
    """

    file: str | os.PathLike[str]
    reconcile: Duration | None = None

    def schedule(self) -> str:
        """The reconcile's EventBridge schedule expression."""
        if self.reconcile is None:
            return topology.PERMISSIONS_RECONCILE
        return topology.rate_expression(
            int(self.reconcile.to_seconds()), what="PermissionsSettings.reconcile"
        )

    def load(self) -> PersonasFile:
        """The validated file; a ValueError naming each problem's line:column otherwise."""
        from meshkit.governance.model import PersonasFileError, load

        try:
            return load(os.fspath(self.file))
        except PersonasFileError as exc:
            raise ValueError(
                "PermissionsSettings.file is not a valid personas file:\n" + "\n".join(exc.problems)
            ) from None

    def parameter(self) -> tuple[str, Literal["Standard", "Advanced"]]:
        """The parameter's value (compact JSON) and the SSM tier it needs; a ValueError when
        the file is larger than an SSM parameter holds."""
        from meshkit.governance.model import dumps_compact, parameter_tier

        text = dumps_compact(self.load())
        return text, parameter_tier(text, name=os.fspath(self.file))
