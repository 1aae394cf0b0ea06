"""The guard groups: meshkit events that arrive on a bus where they have no business.

Each mesh bus has a guard rule (``meshkit.topology.guard_pattern``, derived from
``meshkit.trust.TABLE``) taking the meshkit events no other rule of that bus may take from their
sender: a central-only event a domain puts on its own bus or on central's, a domain's event
central puts on its own bus, anything a third account puts on a domain's bus. Without it those
events would match no rule and vanish. Here each is rejected with the trust table's reason: the
router dead-letters it and publishes ``EventRejected`` on this account's bus (a domain's
rejection is forwarded to central, as every rejection of its groups is). An event type the
catalogue does not know is rejected by the router itself, as unknown.

The same code runs in Lambda and in the local mesh; it reads nothing and changes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from meshkit import trust
from meshkit.events.catalogue import mesh_events
from meshkit.runtime.errors import RejectEvent
from meshkit.runtime.router import EventRouter

if TYPE_CHECKING:
    from meshkit.events.base import EventDetail
    from meshkit.runtime.context import HandlerContext

__all__ = ["central", "domain", "reject_misplaced"]

central = EventRouter("central.guard")
domain = EventRouter("domain.guard")


def reject_misplaced(event: EventDetail, ctx: HandlerContext) -> None:
    """Reject ``event``: the guard rule only delivers events with no business on this bus."""
    bus: trust.Bus = "central" if ctx.config.role == "central" else "domain"
    raise RejectEvent(
        trust.misrouted_reason(trust.rule(event), sender=ctx.sender_account, bus=bus),
        kind="authorisation",
    )


_MESH_EVENTS = [m for m in mesh_events() if m.type_key() in trust.TABLE]
central.on(*_MESH_EVENTS)(reject_misplaced)
domain.on(*_MESH_EVENTS)(reject_misplaced)
