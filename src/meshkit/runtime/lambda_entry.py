"""The Lambda entrypoint of every handler group: ``meshkit.runtime.lambda_entry.handler``.

It imports only the standard library (and meshkit's configuration, itself standard library
only) at import time; the group's router (and with it the event
models its handlers use) is imported on the first invocation, once.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

from meshkit.runtime.config import MeshConfig

if TYPE_CHECKING:
    from meshkit.runtime.router import EventRouter

__all__ = ["GROUP_ENV", "PYDANTIC_REQUIREMENT", "check_pydantic", "handler", "load_router"]

GROUP_ENV = MeshConfig.env_name("group")

#: meshkit's pydantic requirement (pyproject.toml; a test keeps the two equal): the dependencies
#: layer (Powertools' by default) must bring a release in ``[floor, cap)``.
PYDANTIC_REQUIREMENT = ((2, 11), (3, 0))

_ROUTERS: dict[str, EventRouter] = {}


def check_pydantic(version: str) -> None:
    """Refuse a pydantic outside meshkit's requirement, naming the layer to fix."""
    (floor, cap) = PYDANTIC_REQUIREMENT
    parts = tuple(int(p) for p in version.split(".")[:2] if p.isdigit())
    if len(parts) < 2 or not floor <= parts < cap:
        raise ImportError(
            f"pydantic {version} is on this function's path, meshkit needs "
            f">={floor[0]}.{floor[1]},<{cap[0]}: choose a Powertools layer version that bundles "
            "one, or pass dependencies_layer= a layer of yours (docs/deploy.md)"
        )


def load_router(group_name: str) -> EventRouter:
    """The EventRouter of a topology group, imported from its ``module:attr`` path once."""
    router = _ROUTERS.get(group_name)
    if router is not None:
        return router
    import pydantic

    check_pydantic(str(pydantic.VERSION))
    from meshkit import topology
    from meshkit.runtime.router import EventRouter

    try:
        group = topology.group(group_name)
    except KeyError as exc:
        raise LookupError(
            f"{GROUP_ENV}={group_name!r} names no handler group in meshkit.topology.GROUPS; "
            f"known groups: {[g.name for g in topology.GROUPS]}"
        ) from exc
    module_name, _, attr = group.router.partition(":")
    module = importlib.import_module(module_name)
    router = getattr(module, attr, None)
    if not isinstance(router, EventRouter):
        raise TypeError(
            f"{group.router} is {type(router).__name__}, not a meshkit EventRouter; "
            f"fix the router path of group {group_name!r} in meshkit.topology"
        )
    _ROUTERS[group_name] = router
    return router


def handler(event: dict[str, Any], context: object | None = None) -> dict[str, Any] | None:
    """Lambda handler: route an SQS batch (or an EventBridge event) to the group's router."""
    group_name = os.environ.get(GROUP_ENV)
    if not group_name:
        raise KeyError(
            f"environment variable {GROUP_ENV} is not set; the meshkit constructs set it to the "
            "function's handler group (see meshkit.topology.GROUPS)"
        )
    return load_router(group_name).resolve(event, context)
