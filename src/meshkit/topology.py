"""The one description of the mesh's wiring, read by the CDK constructs and the local mesh alike.

It says which handler groups exist in which account role, which events each consumes, and the
EventBridge patterns (derived from the event classes) of every rule:

* on the **central bus**: one rule per central group (events sent by domains, never central's own);
  one *subscription* rule per domain, owned by the domain's stack, matching events central
  addresses to that domain's account (``detail.recipients``) and targeting the domain's bus;
* on each **domain bus**: a *forward* rule sending the events this account emits to central, and
  one rule per domain group (events sent by central);
* on each account's **default bus**: AWS service events (crawler state changes and the storage
  bucket's S3 object events in domains, the schedule that sweeps expiries in central);
* a *guard* rule on every mesh bus (derived from ``meshkit.trust``): the meshkit events that
  have no business on that bus from their sender (a central-only event put on a domain bus, or
  on central's by a domain; a domain's event put on central's bus by central; anything a third
  account puts on a domain bus), to a group that rejects them visibly (``EventRejected`` and
  the dead-letter queue with the reason) instead of letting them match no rule;
* *operator* rules on the central bus for the events people send (``ErasureRequested``,
  ``ErasureApproved``, ``ErasureCancelled``): accepted from any sender, central included, the
  handler checking the sender against the mesh's erasure requesters and approvers; and *own*
  rules on a domain bus for the events a domain sends itself (``ErasureObjectQueued``: one
  object's purge, never forwarded).

Central never holds a resource per domain: adding the thousandth domain changes no central
template.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from meshkit import trust
from meshkit.events import access, domains, erasure, operations, products, publication
from meshkit.events.aws import (
    DATAZONE_EVENTS,
    GlueCrawlerStateChange,
    S3ObjectCreated,
    S3ObjectDeleted,
    ScheduledEvent,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from meshkit.events.base import EventDetail

__all__ = [
    "CENTRAL_EMITS",
    "DOMAIN_EMITS",
    "DROPZONE_QUARANTINE_PREFIX",
    "ERASURE_MEMORY_MB",
    "ERASURE_TIMEOUT_SECONDS",
    "FEATURES",
    "GROUPS",
    "IDENTIFYING_EVENTS",
    "MESH_SOURCES",
    "OPTIONAL_GROUPS",
    "SWEEP_SCHEDULE",
    "CustomRule",
    "HandlerGroup",
    "archive_pattern",
    "central_group_pattern",
    "central_only",
    "crawler_name",
    "crawler_pattern",
    "custom_rules",
    "domain_group_pattern",
    "dropzone_pattern",
    "forward_pattern",
    "groups_for",
    "guard_pattern",
    "operator_pattern",
    "own_pattern",
    "pattern_for",
    "storage_pattern",
    "subscription_pattern",
]

Role = Literal["central", "domain"]

#: How often central sweeps expired requests and time-limited grants.
SWEEP_SCHEDULE = "rate(1 hour)"

#: The erasure function's memory and timeout: the Lambda ceiling of one object's purge
#: (about a third of the memory for the largest uncompressed object; docs/erasure.md).
ERASURE_MEMORY_MB = 3008
ERASURE_TIMEOUT_SECONDS = 900


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
    #: Central: events people send, accepted from any sender (central included); the handler
    #: checks the sender.
    operator_events: tuple[type[EventDetail], ...] = ()
    #: Events this very account puts on its own mesh bus that the group reacts to (a rule
    #: matching this account as sender): a domain's own queued work, central's own decisions.
    own_events: tuple[type[EventDetail], ...] = ()
    #: Lambda sizing: the erasure groups hold objects in memory (docs/erasure.md).
    memory_mb: int = 512
    timeout_seconds: int = 60
    #: The group reads Parquet: its function gets a layer bringing pyarrow.
    needs_pyarrow: bool = False
    #: A group deployed only when its feature is turned on (``"datazone"``); None: always.
    feature: str | None = None
    #: The group's one rule is its bus's guard (:func:`guard_pattern`); it rejects every event
    #: it receives (dead letter and ``EventRejected``, the reason from ``meshkit.trust``).
    guard: bool = False

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
        name="central.erasure",
        role="central",
        router="meshkit.erasure.central:router",
        events=(erasure.ErasurePlanned, erasure.ErasureFailed, erasure.ErasureCompleted),
        operator_events=(
            erasure.ErasureRequested,
            erasure.ErasureApproved,
            erasure.ErasureCancelled,
        ),
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
    HandlerGroup(
        name="central.publication",
        role="central",
        router="meshkit.handlers.publication:central",
        events=(
            publication.DomainPublicationConfigured,
            products.ProductSchemaUpdated,
            products.ProductDeprecated,
            access.AccessLinked,
            operations.EventRejected,
        ),
        own_events=(
            operations.EventRejected,
            domains.DomainDeregistered,
            access.AccessGranted,
            access.AccessDenied,
            access.AccessRevoked,
            access.AccessExpired,
            access.AccessLinkFailed,
        ),
        # The hourly schedule reconciles publications whose DataZone event was lost.
        aws_events=(*DATAZONE_EVENTS, ScheduledEvent),
        feature="datazone",
    ),
    HandlerGroup(
        name="domain.publication",
        role="domain",
        router="meshkit.handlers.publication:domain",
        events=(publication.SubscriptionRequestReceived,),
        feature="datazone",
    ),
    HandlerGroup(
        name="domain.erasure",
        role="domain",
        router="meshkit.erasure.domain:router",
        events=(products.ProductRegistered, erasure.ErasureDispatched, erasure.ErasureDecided),
        own_events=(erasure.ErasureObjectQueued,),
        aws_events=(S3ObjectCreated, S3ObjectDeleted),
        memory_mb=ERASURE_MEMORY_MB,
        timeout_seconds=ERASURE_TIMEOUT_SECONDS,
        needs_pyarrow=True,
    ),
    # The guards: one rule per mesh bus (guard_pattern) taking what has no business there.
    HandlerGroup(
        name="central.guard",
        role="central",
        router="meshkit.handlers.guard:central",
        events=(),
        guard=True,
    ),
    HandlerGroup(
        name="domain.guard",
        role="domain",
        router="meshkit.handlers.guard:domain",
        events=(),
        guard=True,
    ),
)

#: Optional features and the groups they add.
FEATURES: tuple[str, ...] = ("datazone",)

#: Groups an optional construct deploys into a domain account (not every DataDomain has them):
#: ``dropzone`` validates partners' uploads (the ``DropZone`` construct,
#: ``LocalMesh.add_drop_zone``); its rule is :func:`dropzone_pattern` on the default bus.
OPTIONAL_GROUPS: tuple[HandlerGroup, ...] = (
    HandlerGroup(
        name="dropzone",
        role="domain",
        router="meshkit.handlers.dropzone:router",
        events=(),
        aws_events=(S3ObjectCreated,),
    ),
)

#: Where a drop zone moves rejected uploads; its rule never matches objects there.
DROPZONE_QUARANTINE_PREFIX = "quarantine/"

#: Events a domain account emits (forwarded from its bus to central).
DOMAIN_EMITS: tuple[type[EventDetail], ...] = (
    domains.DomainRegistrationRequested,
    domains.DomainDeregistrationRequested,
    products.ProductRegistrationRequested,
    products.ProductLinked,
    products.ProductSchemaUpdated,
    products.ProductCrawlFailed,
    products.ProductDeprecated,
    publication.DomainPublicationConfigured,
    access.AccessRequested,
    access.AccessDecided,
    access.AccessLinked,
    access.AccessLinkFailed,
    access.AccessRevoked,
    erasure.ErasureRequested,
    erasure.ErasureApproved,
    erasure.ErasureCancelled,
    erasure.ErasurePlanned,
    erasure.ErasureFailed,
    erasure.ErasureCompleted,
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
    publication.ProductPublished,
    publication.ProductPublicationFailed,
    publication.ProductUnpublished,
    publication.SubscriptionRequestReceived,
    erasure.ErasureDispatched,
    erasure.ErasureDecided,
    erasure.ErasureRecorded,
    operations.FlowFailed,
    operations.EventRejected,
)

#: Events carrying a subject's identifier values: kept out of the central archive.
IDENTIFYING_EVENTS: tuple[type[EventDetail], ...] = (
    erasure.ErasureRequested,
    erasure.ErasureDispatched,
)

MESH_SOURCES: tuple[str, ...] = tuple(sorted({m.SOURCE for m in (*DOMAIN_EMITS, *CENTRAL_EMITS)}))


def groups_for(role: Role, features: Iterable[str] | None = None) -> list[HandlerGroup]:
    """The groups deployed in ``role``: the always-on ones plus those of ``features``.

    ``features=None`` lists every group (what the wiring could hold, e.g. for documentation).
    """
    if features is not None:
        features = set(features)
        unknown = features - set(FEATURES)
        if unknown:
            raise ValueError(f"unknown features {sorted(unknown)}; known: {list(FEATURES)}")
    return [
        g
        for g in GROUPS
        if g.role == role and (features is None or g.feature is None or g.feature in features)
    ]


def group(name: str) -> HandlerGroup:
    for g in (*GROUPS, *OPTIONAL_GROUPS):
        if g.name == name:
            return g
    known = [g.name for g in (*GROUPS, *OPTIONAL_GROUPS)]
    raise KeyError(f"no handler group {name!r}; known: {known}")


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


def central_only(model: type[EventDetail]) -> bool:
    """Only central sends ``model`` (it is in CENTRAL_EMITS, not in DOMAIN_EMITS)."""
    key = model.type_key()
    return any(m.type_key() == key for m in CENTRAL_EMITS) and not any(
        m.type_key() == key for m in DOMAIN_EMITS
    )


@dataclass(frozen=True)
class CustomRule:
    """One rule of a team's handler: its id suffix, the bus it lives on, its pattern."""

    id: str
    bus: Literal["mesh", "default"]
    pattern: dict[str, Any]


def custom_rules(
    models: Iterable[type[EventDetail]], *, central_account: str, any_sender: bool = False
) -> list[CustomRule]:
    """The rules subscribing a team's handler to ``models`` (constructs and local mesh alike).

    Mesh events are matched on the account's mesh bus, AWS service events on its default bus.
    A model only central sends (``AccessGranted``, ``DomainRegistered``...) is matched from
    central's account only, so that nobody else can put a look-alike on the bus; pass
    ``any_sender=True`` to match it from any sender (the handler then checks the sender).
    """
    models = list(models)
    if not models:
        raise ValueError("add_handler needs at least one event class, e.g. AccessGranted")
    mesh = [m for m in models if not m.EXTERNAL]
    central = [] if any_sender else [m for m in mesh if central_only(m)]
    others = [m for m in mesh if m not in central]
    external = [m for m in models if m.EXTERNAL]
    rules: list[CustomRule] = []
    if central:
        # One rule when every mesh model is central's: its id stays "MeshRule".
        rules.append(
            CustomRule(
                "MeshRule" if not others else "CentralRule",
                "mesh",
                pattern_for(central, account=[central_account]),
            )
        )
    if others:
        rules.append(CustomRule("MeshRule", "mesh", pattern_for(others)))
    if external:
        rules.append(CustomRule("AwsRule", "default", pattern_for(external)))
    return rules


def central_group_pattern(g: HandlerGroup, *, central_account: str) -> dict[str, Any]:
    """Central group rule on the central bus: the group's events, sent by any other account."""
    return pattern_for(g.events, account=[{"anything-but": central_account}])


def operator_pattern(g: HandlerGroup) -> dict[str, Any]:
    """Central operator rule: the group's operator events from any sender (central included:
    an operator in the governance account); the handler checks who sent them."""
    return pattern_for(g.operator_events)


def own_pattern(g: HandlerGroup, *, account: str) -> dict[str, Any]:
    """Own rule: the events ``account`` put on its own bus that the group reacts to (a domain's
    queued work for itself; central's own decisions)."""
    return pattern_for(g.own_events, account=[account])


def storage_pattern(*, bucket: str, prefix: str) -> dict[str, Any]:
    """Default-bus rule for the S3 object events of the domain's data prefix."""
    return pattern_for(
        (S3ObjectCreated, S3ObjectDeleted),
        detail={"bucket": {"name": [bucket]}, "object": {"key": [{"prefix": prefix}]}},
    )


def archive_pattern() -> dict[str, Any]:
    """What the central archive keeps: every mesh event except those carrying identifiers."""
    return {
        "source": list(MESH_SOURCES),
        "detail-type": [{"anything-but": sorted(m.DETAIL_TYPE for m in IDENTIFYING_EVENTS)}],
    }


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


def dropzone_pattern(*, bucket: str) -> dict[str, Any]:
    """Default-bus rule of a drop zone: objects created in its bucket, outside quarantine."""
    return pattern_for(
        (S3ObjectCreated,),
        detail={
            "bucket": {"name": [bucket]},
            "object": {"key": [{"anything-but": {"prefix": DROPZONE_QUARANTINE_PREFIX}}]},
        },
    )


def schedule_pattern() -> dict[str, Any]:
    """The central sweep is a schedule rule; locally its events carry this shape."""
    return pattern_for((ScheduledEvent,))


def guard_pattern(role: Role, *, central_account: str, account: str) -> dict[str, Any]:
    """The guard rule of ``account``'s mesh bus: meshkit events with no business there.

    It matches every event of a ``meshkit.*`` source whose detail type the trust table does not
    let in from its sender (``meshkit.trust.accepted_types``): on central's bus, from central
    and from any other account; on a domain's bus, from central, from the domain's own
    account, and anything from a third account. Detail types the catalogue does not know are
    matched too (``anything-but``): the guard group rejects them as unknown. Every other rule
    of the bus takes only what the table lets in, so the guard never takes an event another
    group consumes (``tests/unit/test_trust.py`` checks this against every rule).
    """
    from_central, from_other = trust.accepted_types(role)
    others: list[Any] = [{"anything-but": central_account}] if role == "central" else [account]
    branches: list[dict[str, Any]] = []
    for accounts, accepted in (([central_account], from_central), (others, from_other)):
        branch: dict[str, Any] = {"account": accounts}
        if accepted:
            branch["detail-type"] = [{"anything-but": list(accepted)}]
        branches.append(branch)
    if role == "domain":
        # Nobody but central (its subscription rule) and the domain itself puts on its bus.
        branches.append({"account": [{"anything-but": sorted({central_account, account})}]})
    return {"source": [{"prefix": trust.MESH_SOURCE_PREFIX}], "$or": branches}
