"""The one description of the mesh's wiring, read by the CDK constructs and the local mesh alike.

It says which handler groups exist in which account role, which events each consumes, and the
EventBridge patterns (derived from the event classes) of every rule:

* on the **central bus**: one rule per central group (events sent by domains, never central's own);
  one *subscription* rule per domain, owned by the domain's stack, matching events central
  addresses to that domain's account (``detail.recipients``) and targeting the domain's bus;
* on each **domain bus**: a *forward* rule sending the events this account emits to central, and
  one rule per domain group (events sent by central);
* on each account's **default bus**: AWS service events (crawler state changes in domains, the
  schedule that sweeps expiries in central).

Central never holds a resource per domain: adding the thousandth domain changes no central
template.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from meshkit.events import access, domains, operations, products
from meshkit.events.aws import GlueCrawlerStateChange, ScheduledEvent

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from meshkit.events.base import EventDetail

__all__ = [
    "CENTRAL_EMITS",
    "DOMAIN_EMITS",
    "GROUPS",
    "MESH_SOURCES",
    "SWEEP_SCHEDULE",
    "HandlerGroup",
    "central_group_pattern",
    "crawler_name",
    "crawler_pattern",
    "domain_group_pattern",
    "forward_pattern",
    "groups_for",
    "pattern_for",
    "subscription_pattern",
]

Role = Literal["central", "domain"]

#: How often central sweeps expired requests and time-limited grants.
SWEEP_SCHEDULE = "rate(1 hour)"


@dataclass(frozen=True)
class HandlerGroup:
    """One deployable unit: rule(s) -> queue (with DLQ) -> Lambda running ``router``.

    ``router`` is an import path ``module:attribute`` of a meshkit.runtime.EventRouter, so this
    module stays free of handler imports.
    """

    name: str
    role: Role
    router: str
    #: Mesh events consumed from this account's mesh bus.
    events: tuple[type[EventDetail], ...]
    #: AWS service events consumed from this account's default bus.
    aws_events: tuple[type[EventDetail], ...] = ()

    @property
    def env_name(self) -> str:
        """A short identifier usable in resource names (``central-access``)."""
        return self.name.replace(".", "-")


GROUPS: tuple[HandlerGroup, ...] = (
    HandlerGroup(
        name="central.onboarding",
        role="central",
        router="meshkit.handlers.central:onboarding",
        events=(
            domains.DomainRegistrationRequested,
            domains.DomainDeregistrationRequested,
            products.ProductRegistrationRequested,
            products.ProductLinked,
            products.ProductSchemaUpdated,
            products.ProductCrawlFailed,
            products.ProductDeprecated,
        ),
    ),
    HandlerGroup(
        name="central.access",
        role="central",
        router="meshkit.handlers.central:access",
        events=(
            access.AccessRequested,
            access.AccessDecided,
            access.AccessLinked,
            access.AccessLinkFailed,
            access.AccessRevoked,
        ),
        aws_events=(ScheduledEvent,),
    ),
    HandlerGroup(
        name="domain.producer",
        role="domain",
        router="meshkit.handlers.producer:router",
        events=(
            domains.DomainRegistered,
            domains.DomainDeregistered,
            products.ProductRegistered,
            access.ApprovalRequested,
        ),
        aws_events=(GlueCrawlerStateChange,),
    ),
    HandlerGroup(
        name="domain.consumer",
        role="domain",
        router="meshkit.handlers.consumer:router",
        events=(
            access.AccessGranted,
            access.AccessDenied,
            access.AccessLinkFailed,
            access.AccessRevoked,
            access.AccessExpired,
            products.ProductDeprecationNotice,
        ),
    ),
)

#: Events a domain account emits (forwarded from its bus to central).
DOMAIN_EMITS: tuple[type[EventDetail], ...] = (
    domains.DomainRegistrationRequested,
    domains.DomainDeregistrationRequested,
    products.ProductRegistrationRequested,
    products.ProductLinked,
    products.ProductSchemaUpdated,
    products.ProductCrawlFailed,
    products.ProductDeprecated,
    access.AccessRequested,
    access.AccessDecided,
    access.AccessLinked,
    access.AccessLinkFailed,
    access.AccessRevoked,
    operations.FlowFailed,
    operations.EventRejected,
)

#: Events central emits; the addressed ones reach domains through their subscription rules.
CENTRAL_EMITS: tuple[type[EventDetail], ...] = (
    domains.DomainRegistered,
    domains.DomainDeregistered,
    products.ProductRegistered,
    products.ProductDeprecationNotice,
    access.ApprovalRequested,
    access.AccessGranted,
    access.AccessDenied,
    access.AccessLinkFailed,
    access.AccessRevoked,
    access.AccessExpired,
    operations.FlowFailed,
    operations.EventRejected,
)

MESH_SOURCES: tuple[str, ...] = tuple(sorted({m.SOURCE for m in (*DOMAIN_EMITS, *CENTRAL_EMITS)}))


def groups_for(role: Role) -> list[HandlerGroup]:
    return [g for g in GROUPS if g.role == role]


def group(name: str) -> HandlerGroup:
    for g in GROUPS:
        if g.name == name:
            return g
    raise KeyError(f"no handler group {name!r}; known: {[g.name for g in GROUPS]}")


def pattern_for(models: Iterable[type[EventDetail]], **extra: Any) -> dict[str, Any]:
    """An EventBridge pattern matching exactly these event classes (plus ``extra`` fields)."""
    models = list(models)
    if not models:
        raise ValueError("a pattern needs at least one event class")
    pattern: dict[str, Any] = {
        "source": sorted({m.SOURCE for m in models}),
        "detail-type": sorted({m.DETAIL_TYPE for m in models}),
    }
    pattern.update(extra)
    return pattern


def central_group_pattern(g: HandlerGroup, *, central_account: str) -> dict[str, Any]:
    """Central group rule on the central bus: the group's events, sent by any other account."""
    return pattern_for(g.events, account=[{"anything-but": central_account}])


def domain_group_pattern(g: HandlerGroup, *, central_account: str) -> dict[str, Any]:
    """Domain group rule on the domain bus: the group's events, sent by central only."""
    return pattern_for(g.events, account=[central_account])


def _domain_consumes() -> list[type[EventDetail]]:
    seen: dict[str, type[EventDetail]] = {}
    for g in groups_for("domain"):
        for m in g.events:
            seen[m.type_key()] = m
    return list(seen.values())


def subscription_pattern(*, domain_account: str, central_account: str) -> dict[str, Any]:
    """A domain's subscription rule on the central bus (owned by the domain's stack)."""
    return pattern_for(
        _domain_consumes(),
        account=[central_account],
        detail={"recipients": [domain_account]},
    )


def forward_pattern(
    *, domain_account: str, models: Sequence[type[EventDetail]] = ()
) -> dict[str, Any]:
    """The domain bus rule forwarding what this account emits to central (never echoes)."""
    return pattern_for(models or DOMAIN_EMITS, account=[domain_account])


def crawler_name(mesh: str, domain: str, product: str) -> str:
    """The product's crawler name; the crawler rule matches the ``{mesh}-{domain}-`` prefix."""
    return f"{mesh}-{domain}-{product}"


def crawler_pattern(*, mesh: str, domain: str) -> dict[str, Any]:
    """Default-bus rule for this domain's crawlers' final states."""
    return pattern_for(
        (GlueCrawlerStateChange,),
        detail={
            "crawlerName": [{"prefix": f"{mesh}-{domain}-"}],
            "state": ["Succeeded", "Failed"],
        },
    )


def schedule_pattern() -> dict[str, Any]:
    """The central sweep is a schedule rule; locally its events carry this shape."""
    return pattern_for((ScheduledEvent,))
