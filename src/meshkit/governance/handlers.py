"""Central permissions handlers: inheritance on schema changes, a scheduled full reconcile.

The personas file lives in an SSM parameter of the central account (setting
``permissions_parameter``, default ``/<mesh>/permissions/personas``; TOML, or YAML with the
``permissions`` extra). An event is only a trigger: what is granted follows from the file and
the catalog as they are, so a duplicate or late event plans nothing new.

- ``ProductSchemaUpdated`` (sender checked against the registry): the matching personas' grants
  on that product's tables are applied within this one event. The registry's personal-data
  columns count as well as the catalog's flags, so a column the crawl has just rewritten is
  never granted without a processing record.
- Glue's ``Glue Data Catalog Database State Change`` for ``CreateTable`` in central's own
  catalog (best effort: AWS may drop or reorder it): the new tables get the personas' grants
  within that event. A meshkit product's table counts the registry's personal-data columns, and
  a table without columns yet (central creates a product's table before its first crawl) gets
  no read grant until its schema is known.
- The schedule (``ScheduledEvent``): a full reconcile; missing grants are granted, extra grants
  of managed principals revoked (``on_drift: repair``) or reported (``report``), and
  ``PermissionsDriftDetected`` lists the exact difference.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from meshkit.events.aws import GlueDataCatalogDatabaseStateChange, ScheduledEvent
from meshkit.events.permissions import GrantChange, PermissionsApplied, PermissionsDriftDetected
from meshkit.events.products import ProductSchemaUpdated
from meshkit.governance.apply import apply_plan
from meshkit.governance.plan import Plan, compute
from meshkit.governance.state import (
    Catalog,
    TableInfo,
    desired_state,
    read_actual,
    read_catalog,
    read_filters,
)
from meshkit.handlers._common import require_own_account, require_sender
from meshkit.runtime.errors import RejectEvent
from meshkit.runtime.router import EventRouter

if TYPE_CHECKING:
    from meshkit.events.base import EventDetail
    from meshkit.governance.model import PersonasFile
    from meshkit.governance.plan import Change
    from meshkit.governance.state import Desired
    from meshkit.runtime.context import HandlerContext

__all__ = ["permissions"]

permissions = EventRouter("central.permissions")

#: Events carry at most this many changes (the rest are counted in total_*).
_LISTED = 500


def _file(ctx: HandlerContext) -> PersonasFile | None:
    from meshkit.governance.model import PersonasFileError, loads

    name = str(
        ctx.config.setting("permissions_parameter", f"/{ctx.config.mesh_name}/permissions/personas")
    )
    ssm = ctx.client("ssm")
    try:
        text = str(ssm.get_parameter(Name=name)["Parameter"]["Value"])
    except ssm.exceptions.ParameterNotFound:
        return None  # no file deployed: nothing is managed
    fmt = "toml" if text.lstrip().startswith(("[", "version =", "version=")) else "yaml"
    try:
        file = loads(text, fmt=fmt, name=name)  # type: ignore[arg-type]
    except PersonasFileError as exc:
        raise RejectEvent(f"the personas file {name} is invalid: {exc}", kind="state") from exc
    return with_mesh_tag_keys(file, ctx.config.mesh_name)


def with_mesh_tag_keys(file: PersonasFile, mesh_name: str) -> PersonasFile:
    """``mesh_domain`` / ``mesh_product`` in ``lf_tags`` name this mesh's own LF-tag keys.

    meshkit's keys are per mesh (``meshkit:<mesh>:domain``, handlers/lake.py): the short names
    keep a personas file independent of the mesh it is deployed to.
    """
    from meshkit.handlers import lake

    aliases = {
        lake.DOMAIN_TAG_ALIAS: lake.domain_tag(mesh_name),
        lake.PRODUCT_TAG_ALIAS: lake.product_tag(mesh_name),
    }
    personas = []
    for persona in file.personas:
        rules = [
            rule.model_copy(
                update={"lf_tags": {aliases.get(k, k): v for k, v in rule.lf_tags.items()}}
            )
            if rule.lf_tags is not None
            else rule
            for rule in persona.rules
        ]
        personas.append(persona.model_copy(update={"rules": rules}))
    return file.model_copy(update={"personas": personas})


def _changes(changes: list[Change]) -> list[GrantChange]:
    return [
        GrantChange(
            action=c.action,
            principal=c.principal,
            resource=c.resource.describe()[:256],
            permissions=list(c.permissions or c.grantable)[:20],
        )
        for c in changes[:_LISTED]
    ]


def _apply(ctx: HandlerContext, plan: Plan) -> list[EventDetail]:
    if not plan.changes:
        return []
    result = apply_plan(ctx.client("lakeformation"), plan, catalog_id=ctx.config.account_id)
    if result.filter_failures:
        change, code, message = result.filter_failures[0]
        raise RuntimeError(
            f"{len(result.filter_failures)} data cells filter change(s) failed, e.g. "
            f"{change.action} {change.resource.describe()}: {code} {message}"
        )
    if result.failures:
        first = result.failures[0]
        # Raising retries the whole event (the plan is recomputed: what succeeded is not redone).
        raise RuntimeError(
            f"{len(result.failures)} grant change(s) failed, e.g. {first[0].resource.describe()} "
            f"for {first[0].principal}: {first[1]} {first[2]}"
        )
    done = [*result.granted, *result.revoked]
    return [
        PermissionsApplied(plan_id=plan.plan_id, changes=_changes(done), total_changes=len(done))
    ]


def _inherit(
    ctx: HandlerContext, database: str, tables: set[str], pii: dict[str, set[str]]
) -> list[EventDetail]:
    file = _file(ctx)
    if file is None:
        return []
    account = ctx.config.account_id
    glue, lf = ctx.client("glue"), ctx.client("lakeformation")
    uses_tags = any(r.lf_tags is not None for p in file.personas for r in p.rules)
    full = read_catalog(glue, lf, account, with_tags=uses_tags)
    subset = [
        TableInfo(t.database, t.name, t.columns, t.pii_columns | pii.get(t.name, set()), t.tags)
        for t in full.tables
        if t.database == database and t.name in tables
    ]
    desired = _desired(file, Catalog(account, subset))
    actual, _ = read_actual(lf, account, desired.persona_of)
    on_filters, filters, _ = read_filters(lf, account, tables={(database, t) for t in tables})
    scoped = {
        key: grants
        for key, grants in {**actual, **on_filters}.items()
        if key[1].database == database
        and (key[1].table in tables or key[1].kind == "table_wildcard")
    }
    plan = compute(desired, scoped, filters)
    return _apply(ctx, plan)


def _desired(file: PersonasFile, catalog: Catalog) -> Desired:
    """The desired state; a file whose rules conflict on this catalog rejects the event."""
    from meshkit.governance.model import PersonasFileError

    try:
        return desired_state(file, catalog)
    except PersonasFileError as exc:
        raise RejectEvent(f"the personas file cannot be applied: {exc}", kind="state") from exc


@permissions.on(ProductSchemaUpdated)
def inherit_schema(event: ProductSchemaUpdated, ctx: HandlerContext) -> list[EventDetail]:
    """New tables and columns of a product get the personas' grants within this event."""
    from meshkit.handlers.registry import Registry

    reg = Registry(ctx)
    domain = reg.domain_record(event.domain)
    if domain is None or not domain.active:
        raise RejectEvent(f"domain {event.domain!r} is not registered", kind="state")
    require_sender(ctx, event, owner=domain.account_id)
    product = reg.product_record(event.domain, event.product)
    if product is None:
        raise RejectEvent(f"product {event.domain}.{event.product} is not registered", kind="state")
    database = product.central_database
    pii: dict[str, set[str]] = {}
    for spec in product.tables:
        columns = set(spec.pii_columns)
        if spec.pii or product.pii:
            columns |= {
                c.name for t in event.tables if t.name == spec.central_table for c in t.columns
            }
        pii[spec.central_table] = columns
    return _inherit(ctx, database, {t.name for t in event.tables}, pii)


@permissions.on(GlueDataCatalogDatabaseStateChange)
def inherit_new_tables(
    event: GlueDataCatalogDatabaseStateChange, ctx: HandlerContext
) -> list[EventDetail]:
    """Tables created in central's catalog get the personas' grants within this event."""
    require_own_account(ctx, event)
    if event.type_of_change != "CreateTable" or not event.changed_tables:
        return []  # deletes take their grants with them; a new database holds no table yet
    from meshkit.handlers.registry import Registry

    glue = ctx.client("glue")
    reg = Registry(ctx)
    pii: dict[str, set[str]] = {}
    for name in event.changed_tables:
        try:
            table = glue.get_table(DatabaseName=event.database_name, Name=name)["Table"]
        except glue.exceptions.EntityNotFoundException:
            continue  # deleted since (events come out of order): the reconcile has it
        params = table.get("Parameters") or {}
        domain, product = params.get("mesh_domain"), params.get("mesh_product")
        if not domain or not product:
            continue  # not a product table: the catalog's own flags are all there is
        record = reg.product_record(str(domain), str(product))
        if record is None:
            continue
        sd = table.get("StorageDescriptor") or {}
        columns = {
            str(c["Name"])
            for c in [*(sd.get("Columns") or []), *(table.get("PartitionKeys") or [])]
        }
        for spec in record.tables:
            if spec.central_table == name:
                pii[name] = set(spec.pii_columns) | (columns if spec.pii or record.pii else set())
    return _inherit(ctx, event.database_name, set(event.changed_tables), pii)


@permissions.on(ScheduledEvent)
def reconcile(event: ScheduledEvent, ctx: HandlerContext) -> list[EventDetail]:
    """The full reconcile: report the exact drift, repair what the personas allow."""
    require_own_account(ctx, event)
    file = _file(ctx)
    if file is None:
        return []
    from meshkit.governance.engine import plan_file
    from meshkit.governance.model import PersonasFileError

    try:
        outcome = plan_file(
            file, ctx.client("glue"), ctx.client("lakeformation"), ctx.config.account_id
        )
    except PersonasFileError as exc:
        raise RejectEvent(f"the personas file cannot be applied: {exc}", kind="state") from exc
    plan = outcome.plan
    drift = [*plan.grants, *plan.revokes, *plan.reported]
    out: list[EventDetail] = []
    if drift:
        out.append(PermissionsDriftDetected(drift=_changes(drift), total_drift=len(drift)))
    return out + _apply(ctx, plan)
