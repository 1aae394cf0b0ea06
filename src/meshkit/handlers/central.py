"""Central governance handlers: domain onboarding, product registration, access decisions.

Every handler first checks the envelope's sender account against the registry (a detail field
is only a claim), raises ``RejectEvent`` before changing anything when the check fails, and is
safe under duplicate and out-of-order delivery: registry writes are conditional, catalog and
Lake Formation calls idempotent, and a transition interrupted half-way resumes on redelivery
(the registry remembers which event started it).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from meshkit.events.access import (
    AccessDecided,
    AccessDenied,
    AccessExpired,
    AccessGranted,
    AccessLinked,
    AccessLinkFailed,
    AccessRequested,
    AccessRevoked,
    ApprovalRequested,
)
from meshkit.events.aws import ScheduledEvent
from meshkit.events.domains import (
    DomainDeregistered,
    DomainDeregistrationRequested,
    DomainRegistered,
    DomainRegistrationRequested,
)
from meshkit.events.products import (
    ProductCrawlFailed,
    ProductDeprecated,
    ProductDeprecationNotice,
    ProductLinked,
    ProductRegistered,
    ProductRegistrationRequested,
    ProductSchemaUpdated,
    RegisteredTable,
)
from meshkit.events.types import S3Location
from meshkit.handlers import lake
from meshkit.handlers._common import (
    aws_error_code,
    central_database_name,
    central_table_name,
    from_iso,
    iso,
    require_own_account,
    require_sender,
)
from meshkit.handlers.registry import NO_DEADLINE, ConditionFailed, Registry, open_index_keys
from meshkit.runtime.errors import RejectEvent
from meshkit.runtime.router import EventRouter

if TYPE_CHECKING:
    from meshkit.events.base import EventDetail
    from meshkit.runtime.context import HandlerContext

__all__ = [
    "access",
    "check_decider",
    "check_domain_owner",
    "check_pending",
    "check_requested_product",
    "check_requester",
    "onboarding",
]

onboarding = EventRouter("central.onboarding")
access = EventRouter("central.access")


# -- trust ---------------------------------------------------------------------------------
def _prune_at(ctx: HandlerContext) -> int:
    """Epoch seconds after which DynamoDB's TTL may remove a finished request (the audit
    retention, setting ``request_retention_days``, default 365)."""
    days = int(ctx.config.setting("request_retention_days", 365))
    return int(ctx.now().timestamp()) + days * 86400


def _active_domain(
    ctx: HandlerContext, reg: Registry, name: str, event: EventDetail, *, party: str = "owner"
) -> dict[str, Any]:
    """The registered domain ``name``, whose account must be the sender: the event's ``party``
    (owner, or consumer for a new request) in meshkit.trust's table."""
    domain = reg.domain(name)
    if domain is None or domain.get("status") != "ACTIVE":
        raise RejectEvent(f"domain {name!r} is not registered", kind="state")
    # meshkit.trust: the sender is that party, and a member now.
    require_sender(ctx, event, **{party: domain["account_id"]})
    return domain


# -- the access checks, on registry items alone ---------------------------------------------
# Pure functions of registry items (``meshkit.registry`` records dumped to JSON fit too): the
# handlers below call them, and so do the CLI and the portal before they send an event, so a
# refusal reads the same wherever it is made.


def check_domain_owner(name: str, domain: Mapping[str, Any] | None, sender_account: str) -> None:
    """``sender_account`` may act for domain ``name`` (RejectEvent otherwise)."""
    if domain is None or domain.get("status") != "ACTIVE":
        raise RejectEvent(f"domain {name!r} is not registered", kind="state")
    if domain["account_id"] != sender_account:
        raise RejectEvent(
            f"account {sender_account} may not act for domain {name!r} "
            f"(owned by {domain['account_id']})"
        )


def check_requester(event: AccessRequested, sender_account: str) -> None:
    """The principals of an access request are the sender's own."""
    principal_account = event.principals[0].split(":")[4]
    if principal_account != sender_account:
        raise RejectEvent(
            f"principals of account {principal_account} requested by account "
            f"{sender_account}: a consumer can only request for itself"
        )


def check_requested_product(
    event: AccessRequested,
    product: Mapping[str, Any] | None,
    producer: Mapping[str, Any] | None,
) -> list[str]:
    """The product asked for accepts requests; the central tables the request covers."""
    if event.consumer_domain == event.producer_domain:
        raise RejectEvent("a domain does not request access to its own product", kind="validation")
    if product is None or producer is None or producer.get("status") != "ACTIVE":
        raise RejectEvent(
            f"product {event.producer_domain}.{event.product} is not registered", kind="state"
        )
    if product.get("status") != "ACTIVE":
        raise RejectEvent(
            f"product {event.producer_domain}.{event.product} is {product['status'].lower()}; "
            "it accepts no new requests",
            kind="state",
        )
    by_name = {t["name"]: t["central_table"] for t in product["tables"]}
    if event.tables:
        unknown = sorted(set(event.tables) - set(by_name))
        if unknown:
            raise RejectEvent(
                f"product {event.producer_domain}.{event.product} has no tables {unknown}; "
                f"it has {sorted(by_name)}",
                kind="validation",
            )
        return [by_name[t] for t in event.tables]
    return [by_name[t] for t in sorted(by_name)]


def check_decider(
    request_id: str,
    item: Mapping[str, Any] | None,
    producer: Mapping[str, Any] | None,
    sender_account: str,
) -> None:
    """``sender_account`` may decide request ``request_id``: it is the producer's, active."""
    if item is None:
        raise RejectEvent(f"no access request {request_id}", kind="state")
    if sender_account != item["producer_account"]:
        raise RejectEvent(
            f"account {sender_account} may not decide request {request_id}: only the "
            f"producer's account {item['producer_account']} may"
        )
    if producer is None or producer.get("status") != "ACTIVE":
        raise RejectEvent(
            f"domain {item['producer_domain']!r} is deregistered: its decision on request "
            f"{request_id} is refused",
            kind="state",
        )


def check_pending(request_id: str, item: Mapping[str, Any], now: datetime) -> None:
    """Request ``request_id`` still waits for a decision: pending and unexpired at ``now``."""
    state = item.get("state")
    if state != "PENDING":
        raise RejectEvent(
            f"request {request_id} is {state}, not pending: decided once only", kind="state"
        )
    expires = item["expires_at"]
    expires_at = from_iso(expires) if isinstance(expires, str) else expires
    if expires_at <= now:
        raise RejectEvent(f"request {request_id} expired at {iso(expires_at)}", kind="state")


def _require_binding(ctx: HandlerContext, name: str) -> None:
    """The domain name is bound to the sender account by central's ``domain_accounts``.

    Fails closed: a name the map does not hold (or a central without the map) is refused, so
    a member account cannot take a name another team's stack will register.
    """
    bindings = ctx.config.setting("domain_accounts", None)
    if not isinstance(bindings, Mapping):
        raise RejectEvent(
            f"domain name {name!r} is not bound to an account: central has no domain_accounts "
            "map; a mesh admin binds names to accounts with "
            "CentralGovernance(domain_accounts={...})"
        )
    owner = bindings.get(name)
    if owner is None:
        raise RejectEvent(
            f"domain name {name!r} is not bound to an account in central's domain_accounts "
            f"({len(bindings)} names bound); a mesh admin binds it with "
            f"CentralGovernance(domain_accounts={{{name!r}: {ctx.sender_account!r}}})"
        )
    if owner != ctx.sender_account:
        raise RejectEvent(
            f"domain name {name!r} is bound to account {owner} by central's domain_accounts; "
            f"account {ctx.sender_account} may not register it"
        )


# -- domain onboarding ---------------------------------------------------------------------
@onboarding.on(DomainRegistrationRequested)
def register_domain(event: DomainRegistrationRequested, ctx: HandlerContext) -> EventDetail:
    # The owner of a registration is the account it registers: a domain registers itself only.
    require_sender(ctx, event, owner=event.account_id)
    _require_binding(ctx, event.domain)
    reg = Registry(ctx)
    existing = reg.domain(event.domain)
    if existing is not None and existing["account_id"] != event.account_id:
        raise RejectEvent(
            f"domain name {event.domain!r} is taken by account {existing['account_id']}",
            kind="state",
        )
    clash = lake.storage_conflicts(
        event.storage_uri, event.domain, reg.domains_of_account(event.account_id)
    )
    if clash:
        raise RejectEvent(
            f"storage {event.storage_uri} of domain {event.domain!r} overlaps the storage of "
            f"domains {clash}; give each domain its own bucket or prefix",
            kind="validation",
        )
    # Checked before anything is created: the storage is registered with central's Lake
    # Formation, whose location role every domain bucket trusts.
    lake.check_bucket_owner(ctx, event.storage_uri, event.account_id)
    # The LF-tag value first: it is the step that can hit a hard limit, so a refusal leaves
    # nothing behind.
    domain_key = lake.domain_tag(ctx.config.mesh_name)
    lake.ensure_lf_tag_value(ctx, domain_key, event.domain)
    lake.register_location(ctx, event.storage_uri)
    catalog = ctx.config.account_id
    database = central_database_name(ctx.config.mesh_name, event.domain)
    glue = ctx.client("glue")
    try:
        glue.create_database(
            DatabaseInput={
                "Name": database,
                "Description": event.description or f"Data products of domain {event.domain}",
                # No IAMAllowedPrincipals default grant: Lake Formation alone decides access.
                "CreateTableDefaultPermissions": [],
                "Parameters": {
                    "data_owner": event.account_id,
                    "data_owner_name": event.domain,
                    "mesh_domain": event.domain,
                },
            }
        )
    except Exception as exc:
        if aws_error_code(exc) != "AlreadyExistsException":
            raise
    lake.tag_resource(ctx, lake.database_resource(catalog, database), {domain_key: event.domain})
    moved = (existing or {}).get("storage_uri")
    if moved and moved != event.storage_uri:
        # The domain moved its storage: before the registry forgets the old location.
        lake.deregister_location(ctx, moved)
    now = iso(ctx.now())
    try:
        reg.put(
            {
                "pk": f"DOMAIN#{event.domain}",
                "sk": "META",
                "gsi1pk": f"ACCOUNT#{event.account_id}",
                "gsi1sk": f"DOMAIN#{event.domain}",
                "domain": event.domain,
                "account_id": event.account_id,
                "storage_uri": event.storage_uri,
                "sharing_mode": event.sharing_mode,
                "owner": event.owner,
                "central_database": database,
                "status": "ACTIVE",
                "registered_at": (existing or {}).get("registered_at", now),
                "updated_at": now,
                "correlation_id": event.correlation_id,
            },
            condition="attribute_not_exists(pk) OR account_id = :acct",
            values={":acct": event.account_id},
        )
    except ConditionFailed as exc:
        raise RejectEvent(
            f"domain name {event.domain!r} was taken concurrently", kind="state"
        ) from exc
    return DomainRegistered(
        domain=event.domain,
        account_id=event.account_id,
        central_database=database,
        lf_tag_key=domain_key,
        sharing_mode=event.sharing_mode,
        recipients=[event.account_id],
        **event.follow_up(),
    )


@onboarding.on(DomainDeregistrationRequested)
def deregister_domain(
    event: DomainDeregistrationRequested, ctx: HandlerContext
) -> list[EventDetail]:
    """A domain leaves: everything it opened is closed, as a producer and as a consumer.

    Its pending requests (both sides) end with ``AccessDenied``; granted access (to its
    products, and its own access to others') is revoked with ``AccessRevoked`` to both
    parties; its products are marked ``DEREGISTERED``; the producer's own Lake Formation
    permissions are revoked and its central catalog database (with its tables) is deleted:
    nothing of the domain stays readable or writable through the mesh. The registry keeps the
    records (audit), and the domain's name stays bound to its account. The handler resumes
    where it stopped on redelivery (every step is conditional or idempotent).
    """
    require_sender(ctx, event, owner=event.account_id)
    reg = Registry(ctx)
    domain = reg.domain(event.domain)
    if domain is None:
        return []  # never registered, or already removed: nothing to do
    require_sender(ctx, event, owner=domain["account_id"])
    if domain.get("status") == "DEREGISTERED":
        if domain.get("deregistration_event") != ctx.envelope.id:
            return []  # done before
    else:
        # Central's Lake Formation stops vending credentials for the domain's storage first
        # (a retry after a failure here still finds the domain active). Then the status: from
        # here on, the domain's events are refused (a departed producer's decision included),
        # so nothing new opens while the rest is closed.
        lake.deregister_location(ctx, domain["storage_uri"])
        reg.update(
            f"DOMAIN#{event.domain}",
            {
                "status": "DEREGISTERED",
                "updated_at": iso(ctx.now()),
                "deregistered_at": iso(ctx.now()),
                "reason": event.reason,
                "deregistration_event": ctx.envelope.id,
            },
        )
    why = f"domain {event.domain} was deregistered" + (f": {event.reason}" if event.reason else "")
    out: list[EventDetail] = []
    products = list(reg.query_index(f"DOMAINPRODUCTS#{event.domain}"))
    for product in products:
        for r in reg.open_requests_of_product(event.domain, product["product"]):
            out.extend(_end_request(ctx, reg, r, reason=why, by="central:deregistration"))
    for r in reg.open_requests_of_consumer(event.domain):
        out.extend(_end_request(ctx, reg, r, reason=why, by="central:deregistration"))
    catalog = ctx.config.account_id
    database = domain["central_database"]
    tables = sorted(
        {t["central_table"] for p in products for t in p.get("tables", [])}
        | {t for p in products for t in p.get("retired_tables") or []}
    )
    lake.revoke_grants(ctx, lake.producer_grants(catalog, database, tables, domain["account_id"]))
    try:
        ctx.client("glue").delete_database(Name=database)
    except Exception as exc:
        if aws_error_code(exc) != "EntityNotFoundException":
            raise
    for product in products:
        if product.get("status") != "DEREGISTERED":
            reg.update(
                product["pk"],
                {"status": "DEREGISTERED", "deregistered_at": iso(ctx.now())},
            )
    return [
        *out,
        DomainDeregistered(
            domain=event.domain,
            account_id=event.account_id,
            reason=event.reason,
            recipients=[event.account_id],
            **event.follow_up(),
        ),
    ]


def _end_request(
    ctx: HandlerContext, reg: Registry, r: dict[str, Any], *, reason: str, by: str
) -> list[EventDetail]:
    """Close one open request for a lifecycle end: pending -> DENIED (AccessDenied), granted
    -> REVOKED (AccessRevoked); a revocation this event started and did not finish resumes."""
    reason = reason[:256]
    state = r.get("state")
    if state == "PENDING":
        if reg.transition(
            r["request_id"],
            expected="PENDING",
            new="DENIED",
            changes={"decided_by": by, "decision_reason": reason, "decided_at": iso(ctx.now())},
            due=NO_DEADLINE,
            prune_at=_prune_at(ctx),
            consumer_domain=r["consumer_domain"],
        ):
            return [_denied(r, reason=reason, by=by)]
        return []
    if state == "APPROVED":
        if _start_revocation(ctx, reg, r, reason=reason, revoked_by=by):
            return [
                _revoke(
                    ctx, reg, r, reason=reason, revoked_by=by, correlation_id=r["correlation_id"]
                )
            ]
        return []
    if r.get("revoke_event") == ctx.envelope.id and not r.get("grants_revoked_at"):
        return [
            _revoke(
                ctx,
                reg,
                r,
                reason=r.get("revocation_reason") or reason,
                revoked_by=r.get("revoked_by") or by,
                correlation_id=r["correlation_id"],
            )
        ]
    return []


def _denied(r: dict[str, Any], *, reason: str, by: str) -> AccessDenied:
    return AccessDenied(
        request_id=r["request_id"],
        consumer_domain=r["consumer_domain"],
        producer_domain=r["producer_domain"],
        product=r["product"],
        reason=reason[:256],
        decided_by=by[:256],
        recipients=[r["consumer_account"]],
        correlation_id=r["correlation_id"],
    )


# -- product registration ------------------------------------------------------------------
def _under(location: str, prefix: str) -> bool:
    # Both were checked canonical at the boundary (S3LocationUri): compared by parts. A stored
    # storage from before the canonical rules that does not parse contains nothing (closed).
    try:
        return S3Location.parse(location).within(S3Location.parse(prefix))
    except ValueError:
        return False


def _table_input(
    name: str,
    location: str,
    *,
    params: dict[str, str],
    columns: list[dict[str, Any]],
    partition_keys: list[dict[str, Any]],
    base: dict[str, Any] | None = None,
) -> dict[str, Any]:
    sd: dict[str, Any] = dict((base or {}).get("StorageDescriptor", {}))
    sd["Location"] = location
    sd["Columns"] = columns
    return {
        "Name": name,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": params,
        "StorageDescriptor": sd,
        "PartitionKeys": partition_keys,
    }


def _flag_columns(
    columns: list[dict[str, Any]], pii_columns: set[str], flag: str
) -> list[dict[str, Any]]:
    out = []
    for column in columns:
        c = {k: v for k, v in column.items() if k in ("Name", "Type", "Comment", "Parameters")}
        params = dict(c.get("Parameters") or {})
        if column["Name"] in pii_columns:
            params[flag] = "true"
        else:
            params.pop(flag, None)
        if params:
            c["Parameters"] = params
        else:
            c.pop("Parameters", None)
        out.append(c)
    return out


@onboarding.on(ProductRegistrationRequested)
def register_product(
    event: ProductRegistrationRequested, ctx: HandlerContext
) -> EventDetail | None:
    reg = Registry(ctx)
    domain = _active_domain(ctx, reg, event.domain, event)
    outside = [t.location for t in event.tables if not _under(t.location, domain["storage_uri"])]
    if outside:
        raise RejectEvent(
            f"table locations {outside} lie outside domain {event.domain!r}'s storage "
            f"{domain['storage_uri']}",
            kind="validation",
        )
    existing = reg.product(event.domain, event.product)
    if existing is not None and existing.get("status") == "DEPRECATED":
        raise RejectEvent(
            f"product {event.domain}.{event.product} is deprecated; register a new product name",
            kind="state",
        )
    catalog = ctx.config.account_id
    database = domain["central_database"]
    names = {t.name: central_table_name(event.product, t.name) for t in event.tables}
    glue = ctx.client("glue")
    flag = str(ctx.config.setting("pii_parameter", "pii_flag"))
    # A central table name must not belong to another product of the domain: each name's
    # claim item answers that, all in one BatchGetItem, before anything is changed.
    owners = {
        c["central_table"]: c["product"]
        for c in reg.get_many([_claim_key(event.domain, n) for n in names.values()])
    }
    clashes = sorted(n for n in names.values() if owners.get(n, event.product) != event.product)
    if clashes:
        raise RejectEvent(
            f"central tables {clashes} already belong to products "
            f"{sorted({owners[n] for n in clashes})} of domain {event.domain!r}; rename the tables",
            kind="validation",
        )
    current: dict[str, dict[str, Any]] = {}
    for spec in event.tables if existing is not None else ():
        try:
            table = glue.get_table(DatabaseName=database, Name=names[spec.name])["Table"]
        except Exception as exc:
            if aws_error_code(exc) != "EntityNotFoundException":
                raise
            continue
        owner = table.get("Parameters", {}).get("mesh_product")
        if owner and owner != event.product:
            raise RejectEvent(
                f"central table {database}.{names[spec.name]} already belongs to product "
                f"{owner!r}; rename table {spec.name!r}",
                kind="validation",
            )
        current[spec.name] = table

    sharing_mode = event.sharing_mode or domain["sharing_mode"]
    mesh = ctx.config.mesh_name
    lake.ensure_lf_tag_value(ctx, lake.product_tag(mesh), event.product, new=existing is None)
    # Claimed after the last check that can refuse: a refusal leaves no claim behind.
    unclaimed = sorted(n for n in names.values() if n not in owners)
    if unclaimed:
        try:
            reg.put_all(
                [
                    {
                        "pk": _claim_key(event.domain, n)[0],
                        "sk": "META",
                        "domain": event.domain,
                        "product": event.product,
                        "central_table": n,
                        "claimed_at": iso(ctx.now()),
                    }
                    for n in unclaimed
                ],
                condition="attribute_not_exists(pk) OR #p = :p",
                values={":p": event.product},
                names={"#p": "product"},
            )
        except ConditionFailed as exc:
            raise RejectEvent(
                f"central tables among {unclaimed} were claimed concurrently by another product "
                f"of domain {event.domain!r}; rename the tables",
                kind="state",
            ) from exc
    changed: list[str] = []
    for spec in event.tables:
        name = names[spec.name]
        params = {
            "mesh_domain": event.domain,
            "mesh_product": event.product,
            "data_owner": domain["account_id"],
        }
        if event.pii or spec.pii:
            params[flag] = "true"
        pii_columns = set(spec.pii_columns)
        table = current.get(spec.name)
        if table is None:
            # A new product's tables are created straight away; one that exists all the same
            # (a table of the same name) is read and checked like a re-registration.
            try:
                glue.create_table(
                    DatabaseName=database,
                    TableInput=_table_input(
                        name, spec.location, params=params, columns=[], partition_keys=[]
                    ),
                )
                changed.append(name)
            except Exception as exc:
                if aws_error_code(exc) != "AlreadyExistsException":
                    raise
                table = glue.get_table(DatabaseName=database, Name=name)["Table"]
                owner = table.get("Parameters", {}).get("mesh_product")
                if owner and owner != event.product:
                    raise RejectEvent(
                        f"central table {database}.{name} already belongs to product "
                        f"{owner!r}; rename table {spec.name!r}",
                        kind="validation",
                    ) from exc
        if table is not None:
            old_sd = table.get("StorageDescriptor", {})
            columns = _flag_columns(old_sd.get("Columns", []), pii_columns, flag)
            keep = {
                k: v
                for k, v in table.get("Parameters", {}).items()
                if k not in params and k != flag
            }
            new_params = {**keep, **params}
            if (
                old_sd.get("Location") != spec.location
                or table.get("Parameters", {}) != new_params
                or old_sd.get("Columns", []) != columns
            ):
                glue.update_table(
                    DatabaseName=database,
                    TableInput=_table_input(
                        name,
                        spec.location,
                        params=new_params,
                        columns=columns,
                        partition_keys=table.get("PartitionKeys", []),
                        base=table,
                    ),
                )
                changed.append(name)
    version = int((existing or {}).get("version", 0))
    tables = [
        {
            "name": t.name,
            "central_table": names[t.name],
            "location": t.location,
            "pii": event.pii or t.pii,
            "pii_columns": list(t.pii_columns),
            "sensitive": t.sensitive,
            # Erasure fans out to the tables that declare the request's identifiers.
            "subject_columns": dict(t.subject_columns) or None,
        }
        for t in event.tables
    ]
    # Tables dropped from the product are kept in the catalog; record them as retired.
    retired = sorted(
        {t["central_table"] for t in (existing or {}).get("tables", [])} - set(names.values())
    )
    registered = _registered_event(event, domain, catalog, database, names, sharing_mode)
    if (
        existing is not None
        and not changed
        and existing.get("status") == "ACTIVE"
        and existing.get("tables") == tables
        and not retired
        and existing.get("pii") == event.pii
        and existing.get("description") == event.description
        and existing.get("sharing_mode") == sharing_mode
    ):
        # An identical re-registration: read, compared, nothing to write. It is also how a
        # producer retries a crawl: after a failed (or never finished) crawl, every table is
        # handed to the producer as changed, which starts its crawler again.
        if (existing.get("last_crawl") or {}).get("state") == "SUCCEEDED":
            return None
        return registered.model_copy(update={"changed_tables": sorted(names.values())})
    lake.ensure_class_tag(ctx)
    classes = _classes({**(existing or {}), "tables": tables})
    for name in names.values():
        lake.tag_resource(
            ctx,
            lake.table_resource(catalog, database, name),
            {
                lake.domain_tag(mesh): event.domain,
                lake.product_tag(mesh): event.product,
                lake.class_tag(mesh): classes[name],
            },
        )
    lake.apply_grants(
        ctx, lake.producer_grants(catalog, database, list(names.values()), domain["account_id"])
    )
    try:
        reg.put(
            {
                **(existing or {}),
                "pk": f"PRODUCT#{event.domain}#{event.product}",
                "sk": "META",
                "gsi1pk": f"DOMAINPRODUCTS#{event.domain}",
                "gsi1sk": event.product,
                "domain": event.domain,
                "product": event.product,
                "producer_account": domain["account_id"],
                "central_database": database,
                "tables": tables,
                "retired_tables": retired or None,
                "pii": event.pii,
                "description": event.description,
                "sharing_mode": sharing_mode,
                "status": "ACTIVE",
                "version": version + 1,
                "updated_at": iso(ctx.now()),
                "correlation_id": event.correlation_id,
            },
            condition="attribute_not_exists(pk) OR #v = :v",
            values={":v": version},
            names={"#v": "version"},
        )
    except ConditionFailed as exc:
        # Another registration of the same product won the race; redelivery re-applies ours.
        raise RuntimeError(f"product {event.domain}.{event.product} changed concurrently") from exc
    return registered.model_copy(update={"changed_tables": changed})


def _claim_key(domain: str, central_table: str) -> tuple[str, str]:
    """The registry key saying which product owns a central table name of ``domain``."""
    return f"CTABLE#{domain}#{central_table}", "META"


def _registered_event(
    event: ProductRegistrationRequested,
    domain: dict[str, Any],
    catalog: str,
    database: str,
    names: dict[str, str],
    sharing_mode: str,
) -> ProductRegistered:
    return ProductRegistered(
        domain=event.domain,
        product=event.product,
        producer_account=domain["account_id"],
        central_account=catalog,
        central_database=database,
        tables=[
            RegisteredTable(
                name=t.name,
                central_table=names[t.name],
                location=t.location,
                subject_columns=dict(t.subject_columns) or None,
            )
            for t in event.tables
        ],
        sharing_mode=sharing_mode,
        changed_tables=[],
        recipients=[domain["account_id"]],
        **event.follow_up(),
    )


def _owned_product(
    ctx: HandlerContext, reg: Registry, domain: str, product: str, event: EventDetail
) -> dict[str, Any]:
    _active_domain(ctx, reg, domain, event)
    item = reg.product(domain, product)
    if item is None:
        raise RejectEvent(f"product {domain}.{product} is not registered", kind="state")
    return item


@onboarding.on(ProductLinked)
def product_linked(event: ProductLinked, ctx: HandlerContext) -> None:
    reg = Registry(ctx)
    _owned_product(ctx, reg, event.domain, event.product, event)
    reg.update(
        f"PRODUCT#{event.domain}#{event.product}",
        {
            "crawler_name": event.crawler_name,
            "link_database": event.link_database,
            "linked_at": iso(ctx.now()),
        },
    )


@onboarding.on(ProductSchemaUpdated)
def schema_updated(event: ProductSchemaUpdated, ctx: HandlerContext) -> None:
    """Record the crawled schema and put the pii flags back on the columns the crawl rewrote."""
    reg = Registry(ctx)
    product = _owned_product(ctx, reg, event.domain, event.product, event)
    flag = str(ctx.config.setting("pii_parameter", "pii_flag"))
    glue = ctx.client("glue")
    database = product["central_database"]
    by_central = {t["central_table"]: t for t in product["tables"]}
    for schema in event.tables:
        spec = by_central.get(schema.name)
        if spec is None or not spec["pii_columns"]:
            continue  # no flags to put back: nothing to read
        table = glue.get_table(DatabaseName=database, Name=schema.name)["Table"]
        sd = table.get("StorageDescriptor", {})
        columns = _flag_columns(sd.get("Columns", []), set(spec["pii_columns"]), flag)
        if columns != sd.get("Columns", []):
            glue.update_table(
                DatabaseName=database,
                TableInput=_table_input(
                    schema.name,
                    sd.get("Location", spec["location"]),
                    params=table.get("Parameters", {}),
                    columns=columns,
                    partition_keys=table.get("PartitionKeys", []),
                    base=table,
                ),
            )
    crawled = {
        "schema": [t.model_dump(mode="json") for t in event.tables],
        "last_crawl": {
            "state": "SUCCEEDED",
            "at": iso(ctx.now()),
            "crawler": event.crawler_name,
        },
    }
    # A table whose schema is known now may become open (never the other way: declarations
    # stay): its classification tag follows, so tag grants for open data cover it from now.
    before, after = _classes(product), _classes({**product, **crawled})
    for name, value in sorted(after.items()):
        if before.get(name) != value:
            lake.tag_resource(
                ctx,
                lake.table_resource(ctx.config.account_id, database, name),
                {lake.class_tag(ctx.config.mesh_name): value},
            )
    reg.update(f"PRODUCT#{event.domain}#{event.product}", crawled)


@onboarding.on(ProductCrawlFailed)
def crawl_failed(event: ProductCrawlFailed, ctx: HandlerContext) -> None:
    reg = Registry(ctx)
    _owned_product(ctx, reg, event.domain, event.product, event)
    reg.update(
        f"PRODUCT#{event.domain}#{event.product}",
        {
            "last_crawl": {
                "state": "FAILED",
                "at": iso(ctx.now()),
                "crawler": event.crawler_name,
                "error": event.error_message,
            }
        },
    )


@onboarding.on(ProductDeprecated)
def deprecate_product(event: ProductDeprecated, ctx: HandlerContext) -> list[EventDetail]:
    """No new requests; pending ones end now; granted access ends at the stated end.

    The end is the event's ``access_ends_at`` (at once when it is not after now), else the
    grace period (setting ``deprecation_grace_days``, default 90); a grant ending earlier on
    its own keeps its end. The sweep revokes each grant when its end comes. Reads only the
    product's open requests (the sparse index), and resumes on redelivery.
    """
    reg = Registry(ctx)
    product = _owned_product(ctx, reg, event.domain, event.product, event)
    now = ctx.now()
    if product.get("status") == "DEPRECATED":
        if product.get("deprecation_event") != ctx.envelope.id:
            return []
        end = from_iso(product["access_ends_at"])
    else:
        grace = int(ctx.config.setting("deprecation_grace_days", 90))
        end = event.access_ends_at or now + timedelta(days=grace)
        reg.update(
            f"PRODUCT#{event.domain}#{event.product}",
            {
                "status": "DEPRECATED",
                "deprecated_at": iso(now),
                "deprecation_reason": event.reason,
                "successor": event.successor,
                "access_ends_at": iso(end),
                "deprecation_event": ctx.envelope.id,
            },
        )
    out: list[EventDetail] = []
    reason = f"product {event.domain}.{event.product} is deprecated: {event.reason}"[:256]
    ends = iso(end)
    ended = f"{reason}; access ended at {ends}"[:256]
    consumers: set[str] = set()
    for r in reg.open_requests_of_product(event.domain, event.product):
        if r["state"] == "PENDING":
            out.extend(_end_request(ctx, reg, r, reason=reason, by="central:deprecation"))
        elif r["state"] == "APPROVED" and end <= now:
            out.extend(_end_request(ctx, reg, r, reason=ended, by="central:deprecation"))
        elif r["state"] == "APPROVED":
            consumers.add(r["consumer_account"])
            if r.get("access_ends_at") and r["access_ends_at"] <= ends:
                continue  # ends earlier on its own
            try:
                reg.update(
                    r["pk"],
                    {
                        "access_ends_at": ends,
                        "access_end_reason": ended,
                        "gsi1sk": f"{ends}#{r['request_id']}",
                    },
                    condition="#s = :approved",
                    values={":approved": "APPROVED"},
                    names={"#s": "state"},
                )
            except ConditionFailed:
                continue  # revoked meanwhile
        else:
            out.extend(_end_request(ctx, reg, r, reason=ended, by="central:deprecation"))
    recipients = sorted(consumers)
    # AddressedEvent carries at most 100 recipients: one notice per hundred consumers.
    for i in range(0, len(recipients), 100):
        out.append(
            ProductDeprecationNotice(
                domain=event.domain,
                product=event.product,
                reason=event.reason,
                successor=event.successor,
                access_ends_at=end,
                recipients=recipients[i : i + 100],
                **event.follow_up(),
            )
        )
    return out


# -- access --------------------------------------------------------------------------------
def _classes(product: dict[str, Any]) -> dict[str, str]:
    """Each central table's classification LF-tag value (``lake.class_tag``): ``sensitive``
    when what the registry knows makes it so (:func:`_declared_sensitivity`), else ``open``."""
    return {
        t["central_table"]: "sensitive"
        if _declared_sensitivity(product, [t["central_table"]])
        else "open"
        for t in product["tables"]
    }


def _declared_sensitivity(product: dict[str, Any], tables: list[str]) -> list[str]:
    """Why ``tables`` are sensitive by what the registry knows, whatever the catalog shows.

    Fails closed: what the producer declared at registration (``pii``, ``pii_columns``,
    ``sensitive``) counts from that moment, before any crawl and after a failed one (a crawl
    rewrites the catalog's columns, the registry keeps the declaration). A table whose schema
    no successful crawl has reported is sensitive unless declared ``sensitive=False``.
    """
    crawl = product.get("last_crawl") or {}
    crawled = (
        {s["name"] for s in product.get("schema") or []}
        if crawl.get("state") == "SUCCEEDED"
        else set()
    )
    by_central = {t["central_table"]: t for t in product["tables"]}
    reasons: list[str] = []
    for name in tables:
        spec = by_central[name]
        if spec.get("sensitive"):
            reasons.append(f"table {name} is declared sensitive")
        if spec.get("pii"):
            reasons.append(f"table {name} is declared personal data")
        reasons.extend(
            f"column {name}.{column} is declared personal data" for column in spec["pii_columns"]
        )
        if name not in crawled and spec.get("sensitive") is not False:
            why = "its last crawl failed" if crawl.get("state") == "FAILED" else "never crawled"
            reasons.append(
                f"the schema of table {name} is not known ({why}); the producer may declare "
                "it sensitive=False"
            )
    return reasons


def _request_item(
    event: AccessRequested,
    ctx: HandlerContext,
    product: dict[str, Any],
    tables: list[str],
    reasons: list[str],
) -> dict[str, Any]:
    return {
        "pk": f"REQUEST#{event.request_id}",
        "sk": "META",
        "request_id": event.request_id,
        "consumer_domain": event.consumer_domain,
        "consumer_account": ctx.sender_account,
        "producer_domain": event.producer_domain,
        "producer_account": product["producer_account"],
        "product": event.product,
        "central_database": product["central_database"],
        "tables": tables,
        "principals": list(event.principals),
        "permissions": list(event.permissions),
        "purpose": event.purpose,
        "duration_days": event.duration_days,
        "sensitive": bool(reasons),
        "reasons": reasons or None,
        "sharing_mode": product["sharing_mode"],
        "requested_at": iso(ctx.now()),
        "request_event": ctx.envelope.id,
        "correlation_id": event.correlation_id,
    }


def _grant(
    ctx: HandlerContext, reg: Registry, item: dict[str, Any], correlation_id: str
) -> AccessGranted:
    """Grant the consumer account (idempotent), record the grants, build AccessGranted."""
    catalog = ctx.config.account_id
    requested_all = item.get("all_tables", False)
    mode = item["sharing_mode"] if requested_all else "named"
    grants, expression = lake.consumer_grants(
        catalog=catalog,
        database=item["central_database"],
        tables=item["tables"],
        consumer_account=item["consumer_account"],
        permissions=item["permissions"],
        mode=mode,
        mesh_name=ctx.config.mesh_name,
        domain=item["producer_domain"],
        product=item["product"],
        sensitive_tables=item.get("sensitive_tables") or (),
    )
    # Counted before granting: a revocation of another request of this consumer between the
    # two steps then cannot take away what this one is about to rely on.
    reg.hold_grants(item["consumer_account"], grants, item["request_id"])
    lake.apply_grants(ctx, grants)
    ends = None
    if item.get("duration_days"):
        ends = ctx.now() + timedelta(days=int(item["duration_days"]))
    reg.update(
        item["pk"],
        {
            "grants": grants,
            "granted_mode": mode,
            "granted_at": iso(ctx.now()),
            "access_ends_at": iso(ends) if ends else None,
            "gsi1pk": "REQSTATE#APPROVED",
            "gsi1sk": f"{iso(ends) if ends else NO_DEADLINE}#{item['request_id']}",
        },
    )
    return AccessGranted(
        request_id=item["request_id"],
        consumer_domain=item["consumer_domain"],
        consumer_account=item["consumer_account"],
        producer_domain=item["producer_domain"],
        product=item["product"],
        central_account=catalog,
        central_database=item["central_database"],
        tables=item["tables"],
        principals=item["principals"],
        permissions=item["permissions"],
        sharing_mode=mode,
        lf_tag_expression=expression,
        expires_at=ends,
        recipients=[item["consumer_account"]],
        correlation_id=correlation_id,
    )


def _reuse(existing: dict[str, Any], event: AccessRequested) -> str:
    """What differs between the stored request and ``event`` of the same id ("" when it is
    the same request sent again)."""
    by_name = {t: central_table_name(event.product, t) for t in event.tables or []}
    asked = sorted(by_name.values()) if event.tables else None
    stored = (
        None
        if existing.get("all_tables", not event.tables)
        else sorted(existing.get("tables") or [])
    )
    fields = {
        "consumer_domain": (existing.get("consumer_domain"), event.consumer_domain),
        "producer_domain": (existing.get("producer_domain"), event.producer_domain),
        "product": (existing.get("product"), event.product),
        "tables": (stored, asked),
        "principals": (sorted(existing.get("principals") or []), sorted(event.principals)),
        "permissions": (sorted(existing.get("permissions") or []), sorted(event.permissions)),
    }
    return ", ".join(name for name, (old, new) in fields.items() if old != new)


@access.on(AccessRequested)
def request_access(event: AccessRequested, ctx: HandlerContext) -> EventDetail | None:
    reg = Registry(ctx)
    _active_domain(ctx, reg, event.consumer_domain, event, party="consumer")
    check_requester(event, ctx.sender_account)
    existing = reg.request(event.request_id)
    if existing is not None:
        if existing["consumer_account"] != ctx.sender_account:
            raise RejectEvent(f"request id {event.request_id} belongs to another account")
        reused = _reuse(existing, event)
        if reused:
            # Not AccessDenied: an answer carrying this id would end the original request
            # at the consumer. The rejection (DLQ + EventRejected) names the original.
            raise RejectEvent(
                f"request id {event.request_id} is already used by the request of "
                f"{existing['consumer_domain']} for {existing['producer_domain']}."
                f"{existing['product']} ({existing.get('state', 'PENDING')}); this one differs "
                f"in {reused}: give each request its own request_id",
                kind="state",
            )
        if existing.get("request_event") != ctx.envelope.id or existing.get("state") != "APPROVED":
            return None  # the same request again: it is already being handled
        if existing.get("grants"):
            return None
        # An auto-grant interrupted after its state was written: resume it.
        return _grant(ctx, reg, existing, event.correlation_id)
    product = reg.product(event.producer_domain, event.product)
    producer = reg.domain(event.producer_domain)
    tables = check_requested_product(event, product, producer)
    assert product is not None
    by_table = lake.classify_tables(
        ctx, catalog=ctx.config.account_id, database=product["central_database"], tables=tables
    )
    reasons: list[str] = []
    sensitive: list[str] = []
    for table in tables:
        found = _declared_sensitivity(product, [table]) + by_table.get(table, [])
        reasons += [r for r in found if r not in reasons]
        if found or by_table[""]:
            sensitive.append(table)
    reasons += [r for r in by_table[""] if r not in reasons]
    item = _request_item(event, ctx, product, tables, reasons)
    item["all_tables"] = not event.tables
    # Granted by name in tag mode: a tag grant covers open tables only.
    item["sensitive_tables"] = sensitive or None
    policy = str(ctx.config.setting("approval_policy", "auto"))
    if reasons or policy == "always":
        ttl_days = int(ctx.config.setting("request_ttl_days", 7))
        expires = ctx.now() + timedelta(days=ttl_days)
        item.update(
            state="PENDING",
            expires_at=iso(expires),
            gsi1pk="REQSTATE#PENDING",
            gsi1sk=f"{iso(expires)}#{event.request_id}",
            **open_index_keys(event.producer_domain, event.product, event.request_id),
        )
        reg.open_by(event.consumer_domain, event.request_id, event.producer_domain)
        try:
            reg.put(item, condition="attribute_not_exists(pk)")
        except ConditionFailed:
            return None
        return ApprovalRequested(
            request_id=event.request_id,
            producer_domain=event.producer_domain,
            product=event.product,
            tables=event.tables,
            principals=event.principals,
            consumer_domain=event.consumer_domain,
            consumer_account=ctx.sender_account,
            purpose=event.purpose,
            duration_days=event.duration_days,
            reasons=reasons or [f"approval policy is {policy!r}"],
            expires_at=expires,
            recipients=[product["producer_account"]],
            **event.follow_up(),
        )
    item.update(
        state="APPROVED",
        decided_by="policy:auto",
        decided_at=iso(ctx.now()),
        decision_reason="not sensitive",
        **open_index_keys(event.producer_domain, event.product, event.request_id),
    )
    reg.open_by(event.consumer_domain, event.request_id, event.producer_domain)
    try:
        reg.put(item, condition="attribute_not_exists(pk)")
    except ConditionFailed:
        return None
    return _grant(ctx, reg, item, event.correlation_id)


@access.on(AccessDecided)
def decide(event: AccessDecided, ctx: HandlerContext) -> EventDetail | None:
    reg = Registry(ctx)
    item = reg.request(event.request_id)
    if item is None:
        raise RejectEvent(f"no access request {event.request_id}", kind="state")
    require_sender(ctx, event, owner=item["producer_account"])
    producer = reg.domain(item["producer_domain"])
    check_decider(event.request_id, item, producer, ctx.sender_account)
    state = item.get("state")
    if state != "PENDING" and item.get("decision_event") == ctx.envelope.id:
        if state == "APPROVED" and not item.get("grants"):
            return _grant(ctx, reg, item, item["correlation_id"])  # resume an interrupted grant
        return None
    moment = ctx.now()
    check_pending(event.request_id, item, moment)
    now = iso(moment)
    new_state = "APPROVED" if event.approved else "DENIED"
    moved = reg.transition(
        event.request_id,
        expected="PENDING",
        new=new_state,
        changes={
            "decided_by": str(event.decided_by),
            "decision_reason": event.reason,
            "decided_at": now,
            "decision_event": ctx.envelope.id,
        },
        due=NO_DEADLINE,
        condition="#e > :now",
        values={":now": now},
        names={"#e": "expires_at"},
        prune_at=None if event.approved else _prune_at(ctx),
        consumer_domain=item["consumer_domain"],
    )
    if not moved:
        raise RejectEvent(f"request {event.request_id} is no longer pending", kind="state")
    item.update(state=new_state)
    # The answer continues the request's flow, whatever id the decision tool used.
    if event.approved:
        return _grant(ctx, reg, item, item["correlation_id"])
    return _denied(item, reason=event.reason or "denied", by=str(event.decided_by))


@access.on(AccessLinked)
def access_linked(event: AccessLinked, ctx: HandlerContext) -> None:
    reg = Registry(ctx)
    item = reg.request(event.request_id)
    if item is None:
        raise RejectEvent(f"account {ctx.sender_account} has no request {event.request_id}")
    require_sender(ctx, event, consumer=item["consumer_account"])
    if item.get("state") != "APPROVED":
        return None  # revoked meanwhile: the consumer is told separately
    reg.update(
        item["pk"],
        {
            "linked_at": iso(ctx.now()),
            "link_database": event.link_database,
            "links": list(event.links),
        },
    )
    return None


def _revoke(
    ctx: HandlerContext,
    reg: Registry,
    item: dict[str, Any],
    *,
    reason: str,
    revoked_by: str,
    correlation_id: str,
) -> AccessRevoked:
    _release(ctx, reg, item)
    return AccessRevoked(
        request_id=item["request_id"],
        reason=reason[:256],
        revoked_by=revoked_by[:256],
        consumer_domain=item["consumer_domain"],
        link_database=item.get("link_database"),
        recipients=sorted({item["consumer_account"], item["producer_account"]}),
        correlation_id=correlation_id,
    )


@access.on(AccessLinkFailed)
def link_failed(event: AccessLinkFailed, ctx: HandlerContext) -> EventDetail | None:
    """The consumer refused the grant: the request ends ``LINK_FAILED``, what central granted
    for it is revoked (shared grants counted), and the consumer is told why."""
    reg = Registry(ctx)
    item = reg.request(event.request_id)
    if item is None:
        raise RejectEvent(f"account {ctx.sender_account} has no request {event.request_id}")
    # Central's own AccessLinkFailed goes to the consumer; on central's bus only the consumer's.
    require_sender(ctx, event, consumer=item["consumer_account"])
    state = item.get("state")
    if state == "LINK_FAILED":
        if item.get("link_failed_event") != ctx.envelope.id or item.get("grants_revoked_at"):
            return None
    elif state == "APPROVED":
        moved = reg.transition(
            event.request_id,
            expected="APPROVED",
            new="LINK_FAILED",
            changes={
                "link_failed_reason": event.reason,
                "link_failed_at": iso(ctx.now()),
                "link_failed_event": ctx.envelope.id,
            },
            due=iso(ctx.now()),
        )
        if not moved:
            return None  # revoked or refused meanwhile
    elif state == "REVOKED":
        return None  # already ended: nothing left to undo
    else:
        raise RejectEvent(
            f"request {event.request_id} is {state}: it was never granted, nothing to refuse",
            kind="state",
        )
    _release(ctx, reg, item)
    return AccessLinkFailed(
        request_id=event.request_id,
        consumer_domain=item["consumer_domain"],
        reason=f"the consumer could not link the grant: {event.reason}"[:256],
        recipients=[item["consumer_account"]],
        correlation_id=item["correlation_id"],
    )


def _release(ctx: HandlerContext, reg: Registry, item: dict[str, Any]) -> None:
    """Revoke the request's grants that no other active request of the consumer account
    still relies on, then close the request (nothing due, out of the open indexes, TTL)."""
    unused = reg.release_grants(
        item["consumer_account"], item.get("grants") or [], item["request_id"]
    )
    lake.revoke_grants(ctx, unused)
    reg.close(
        item["request_id"],
        {"grants_revoked_at": iso(ctx.now())},
        prune_at=_prune_at(ctx),
        consumer_domain=item["consumer_domain"],
    )


def _start_revocation(
    ctx: HandlerContext, reg: Registry, item: dict[str, Any], *, reason: str, revoked_by: str
) -> bool:
    """APPROVED -> REVOKED; False when it is not APPROVED (already revoked, say)."""
    return reg.transition(
        item["request_id"],
        expected="APPROVED",
        new="REVOKED",
        changes={
            "revoked_at": iso(ctx.now()),
            "revoked_by": revoked_by,
            "revocation_reason": reason,
            "revoke_event": ctx.envelope.id,
        },
        due=iso(ctx.now()),
    )


@access.on(AccessRevoked)
def revoke(event: AccessRevoked, ctx: HandlerContext) -> EventDetail | None:
    reg = Registry(ctx)
    item = reg.request(event.request_id)
    if item is None:
        raise RejectEvent(f"no access request {event.request_id}", kind="state")
    require_sender(ctx, event, owner=item["producer_account"], consumer=item["consumer_account"])
    by = "producer" if ctx.sender_account == item["producer_account"] else "consumer"
    state = item.get("state")
    if state == "REVOKED":
        if item.get("revoke_event") == ctx.envelope.id and not item.get("grants_revoked_at"):
            return _revoke(
                ctx,
                reg,
                item,
                reason=event.reason,
                revoked_by=item["revoked_by"],
                correlation_id=event.correlation_id,
            )
        return None
    if state != "APPROVED":
        raise RejectEvent(f"request {event.request_id} is {state}: nothing to revoke", kind="state")
    revoked_by = f"{by}:{event.revoked_by}"
    if not _start_revocation(ctx, reg, item, reason=event.reason, revoked_by=revoked_by):
        return None
    return _revoke(
        ctx,
        reg,
        item,
        reason=event.reason,
        revoked_by=revoked_by,
        correlation_id=event.correlation_id,
    )


@access.on(ScheduledEvent)
def sweep(event: ScheduledEvent, ctx: HandlerContext) -> list[EventDetail]:
    """Expire unanswered requests and revoke access whose period has ended."""
    require_own_account(ctx, event)
    reg = Registry(ctx)
    now = iso(ctx.now())
    out: list[EventDetail] = []
    for item in reg.requests_in_state("PENDING", due_before=now):
        expired = reg.transition(
            item["request_id"],
            expected="PENDING",
            new="EXPIRED",
            changes={"expired_at": now},
            due=NO_DEADLINE,
            prune_at=_prune_at(ctx),
            consumer_domain=item["consumer_domain"],
        )
        if not expired:
            continue
        out.append(
            AccessExpired(
                request_id=item["request_id"],
                consumer_domain=item["consumer_domain"],
                producer_domain=item["producer_domain"],
                product=item["product"],
                recipients=sorted({item["consumer_account"], item["producer_account"]}),
                correlation_id=item["correlation_id"],
            )
        )
    for item in reg.requests_in_state("REVOKED", due_before=now):
        # A revocation this very sweep started before it was interrupted: finish it.
        if item.get("revoke_event") == ctx.envelope.id and not item.get("grants_revoked_at"):
            out.append(
                _revoke(
                    ctx,
                    reg,
                    item,
                    reason=item["revocation_reason"],
                    revoked_by=item["revoked_by"],
                    correlation_id=item["correlation_id"],
                )
            )
    for item in reg.requests_in_state("APPROVED", due_before=now):
        if not item.get("access_ends_at") or item["access_ends_at"] > now:
            continue
        reason = item.get("access_end_reason") or f"access period ended at {item['access_ends_at']}"
        if _start_revocation(ctx, reg, item, reason=reason, revoked_by="central:expiry"):
            out.append(
                _revoke(
                    ctx,
                    reg,
                    item,
                    reason=reason,
                    revoked_by="central:expiry",
                    correlation_id=item["correlation_id"],
                )
            )
    return out
