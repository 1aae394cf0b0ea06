"""Runtime configuration: one account's view of the mesh, from the environment or given."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["ENV_PREFIX", "MeshConfig"]

ENV_PREFIX = "MESHKIT_"

Role = Literal["central", "domain"]


@dataclass(frozen=True)
class MeshConfig:
    """What a handler needs to know about where it runs.

    In Lambda it comes from ``MESHKIT_*`` environment variables set by the constructs; the local
    mesh builds one per account. ``settings`` carries policy knobs (see ``setting``).
    """

    mesh_name: str
    role: Role
    account_id: str
    region: str
    central_account: str
    #: This account's mesh bus (name or ARN): follow-up events are put here.
    bus: str
    #: Central's bus ARN (domains forward to it through a rule; kept for reference).
    central_bus: str = ""
    #: The handler group this process serves (see meshkit.topology).
    group: str = ""
    #: For a domain deployment: the domain it serves.
    domain: str | None = None
    registry_table: str | None = None
    idempotency_table: str | None = None
    #: Where rejected events are sent with their reason (an SQS queue URL).
    dead_letter_queue_url: str | None = None
    #: SQS maxReceiveCount of the group's queue: the attempt that emits FlowFailed.
    max_receive_count: int = 5
    #: Name of the role meshkit assumes in another account, when a handler needs to.
    cross_account_role_name: str | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)

    def setting(self, name: str, default: Any) -> Any:
        return self.settings.get(name, default)

    def to_env(self) -> dict[str, str]:
        """The ``MESHKIT_*`` variables ``from_env`` reads back into this configuration."""
        values = {
            "MESH_NAME": self.mesh_name,
            "ROLE": self.role,
            "ACCOUNT_ID": self.account_id,
            "REGION": self.region,
            "CENTRAL_ACCOUNT": self.central_account,
            "BUS": self.bus,
            "CENTRAL_BUS": self.central_bus,
            "GROUP": self.group,
            "DOMAIN": self.domain,
            "REGISTRY_TABLE": self.registry_table,
            "IDEMPOTENCY_TABLE": self.idempotency_table,
            "DLQ_URL": self.dead_letter_queue_url,
            "MAX_RECEIVE_COUNT": str(self.max_receive_count),
            "CROSS_ACCOUNT_ROLE": self.cross_account_role_name,
            "SETTINGS": json.dumps(dict(self.settings), sort_keys=True),
        }
        return {ENV_PREFIX + k: v for k, v in values.items() if v}

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> MeshConfig:
        """Read ``MESHKIT_*`` variables; a missing required one is a clear error."""
        env = os.environ if env is None else env

        def need(name: str) -> str:
            value = env.get(ENV_PREFIX + name)
            if not value:
                raise KeyError(
                    f"environment variable {ENV_PREFIX}{name} is not set; the meshkit "
                    "constructs set it, set it yourself when running a handler elsewhere"
                )
            return value

        def opt(name: str) -> str | None:
            return env.get(ENV_PREFIX + name) or None

        role = need("ROLE")
        if role not in ("central", "domain"):
            raise ValueError(f"{ENV_PREFIX}ROLE must be 'central' or 'domain', not {role!r}")
        return cls(
            mesh_name=need("MESH_NAME"),
            role=role,  # type: ignore[arg-type]
            account_id=need("ACCOUNT_ID"),
            region=env.get("AWS_REGION") or need("REGION"),
            central_account=need("CENTRAL_ACCOUNT"),
            bus=need("BUS"),
            central_bus=opt("CENTRAL_BUS") or "",
            group=opt("GROUP") or "",
            domain=opt("DOMAIN"),
            registry_table=opt("REGISTRY_TABLE"),
            idempotency_table=opt("IDEMPOTENCY_TABLE"),
            dead_letter_queue_url=opt("DLQ_URL"),
            max_receive_count=int(opt("MAX_RECEIVE_COUNT") or 5),
            cross_account_role_name=opt("CROSS_ACCOUNT_ROLE"),
            settings=json.loads(opt("SETTINGS") or "{}"),
        )
