"""The cross-account Lake Formation ledger: grants, LF-tags, RAM shares and invitations.

moto stores a Lake Formation grant only in the granting account and has no RAM consumer side
(research §4, §5); this ledger is what makes a grant from one account usable in another.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from meshkit.local.lake._aws import LakeClientError
from meshkit.local.lake.filters import FilterStore, ReadView

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from datetime import datetime

__all__ = [
    "Invitation",
    "LakeGrant",
    "LakeResource",
    "SharingLedger",
    "parse_resource",
]

_ACCOUNT = re.compile(r"\A[0-9]{12}\Z")
_ROLE_ACCOUNT = re.compile(r"^arn:aws(?:-cn|-us-gov|-iso|-iso-b)?:iam::([0-9]{12}):")

ResourceKind = Literal[
    "catalog", "database", "table", "table_wildcard", "tag_policy", "cells_filter", "other"
]

#: Table permissions a database-level ``ALL`` or a table ``ALL`` stands for.
_ALL = "ALL"


def principal_account(principal: str) -> str | None:
    """The account a Lake Formation principal belongs to (an account id or an IAM ARN)."""
    if _ACCOUNT.match(principal):
        return principal
    found = _ROLE_ACCOUNT.match(principal)
    return found.group(1) if found else None


@dataclass(frozen=True)
class LakeResource:
    """A Lake Formation resource, normalised (CatalogId always filled in)."""

    kind: ResourceKind
    catalog: str
    database: str = ""
    table: str = ""
    #: ``TABLE`` or ``DATABASE`` for an LF-tag policy.
    resource_type: str = ""
    #: LF-tag policy terms: ((key, (values...)), ...), each term must hold.
    expression: tuple[tuple[str, tuple[str, ...]], ...] = ()
    #: TableWithColumns: the granted columns (None: every column).
    columns: tuple[str, ...] | None = None
    #: TableWithColumns with a ColumnWildcard: the columns left out.
    excluded_columns: tuple[str, ...] = ()
    #: The resource as the API spells it (CatalogId filled in): echoed by list_permissions.
    raw: str = ""
    #: DataCellsFilter: the filter's name (``database``/``table`` hold its table).
    name: str = ""

    def as_api(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.raw)
        return parsed

    def describe(self) -> str:
        if self.kind == "table":
            return f"{self.catalog}:{self.database}.{self.table}"
        if self.kind == "table_wildcard":
            return f"{self.catalog}:{self.database}.*"
        if self.kind == "database":
            return f"{self.catalog}:{self.database}"
        if self.kind == "cells_filter":
            return f"{self.catalog}:{self.database}.{self.table} (data cells filter {self.name})"
        if self.kind == "tag_policy":
            terms = " AND ".join(f"{k} IN ({', '.join(v)})" for k, v in self.expression)
            return f"{self.catalog}:{self.resource_type} WHERE {terms}"
        return f"{self.catalog}:{self.raw}"


def parse_resource(resource: Mapping[str, Any], default_catalog: str) -> LakeResource:
    """Normalise a Lake Formation ``Resource`` structure as the caller's account sees it."""
    kind_name, body = next(iter(resource.items())) if resource else ("", {})
    body = dict(body or {})
    catalog = str(body.get("CatalogId") or default_catalog)
    if kind_name in {"Database", "Table", "TableWithColumns", "LFTagPolicy", "LFTag"}:
        body["CatalogId"] = catalog
    if kind_name == "DataCellsFilter":
        catalog = str(body.get("TableCatalogId") or default_catalog)
        body["TableCatalogId"] = catalog
    raw = json.dumps({kind_name: body}, sort_keys=True)
    if kind_name == "Catalog":
        return LakeResource("catalog", catalog, raw=raw)
    if kind_name == "Database":
        return LakeResource("database", catalog, database=str(body["Name"]), raw=raw)
    if kind_name == "Table":
        database = str(body["DatabaseName"])
        if "TableWildcard" in body or "Name" not in body:
            return LakeResource("table_wildcard", catalog, database=database, raw=raw)
        return LakeResource("table", catalog, database=database, table=str(body["Name"]), raw=raw)
    if kind_name == "TableWithColumns":
        wildcard = body.get("ColumnWildcard")
        columns = None if wildcard is not None else tuple(body.get("ColumnNames") or ())
        excluded = tuple((wildcard or {}).get("ExcludedColumnNames") or ())
        return LakeResource(
            "table",
            catalog,
            database=str(body["DatabaseName"]),
            table=str(body["Name"]),
            columns=columns,
            excluded_columns=excluded,
            raw=raw,
        )
    if kind_name == "DataCellsFilter":
        return LakeResource(
            "cells_filter",
            catalog,
            database=str(body.get("DatabaseName", "")),
            table=str(body.get("TableName", "")),
            name=str(body.get("Name", "")),
            raw=raw,
        )
    if kind_name == "LFTagPolicy" and "Expression" in body:
        terms = tuple(
            (str(term["TagKey"]), tuple(str(v) for v in term["TagValues"]))
            for term in body["Expression"]
        )
        return LakeResource(
            "tag_policy",
            catalog,
            resource_type=str(body.get("ResourceType", "TABLE")),
            expression=terms,
            raw=raw,
        )
    return LakeResource("other", catalog, raw=raw)


@dataclass
class _Entry:
    issuer: str
    principal: str
    resource: LakeResource
    permissions: set[str] = field(default_factory=set)
    grantable: set[str] = field(default_factory=set)


@dataclass
class Invitation:
    """A RAM resource-share invitation from the catalog owner to another account."""

    arn: str
    share_arn: str
    share_name: str
    sender: str
    receiver: str
    status: str
    timestamp: datetime

    def as_api(self) -> dict[str, Any]:
        return {
            "resourceShareInvitationArn": self.arn,
            "resourceShareName": self.share_name,
            "resourceShareArn": self.share_arn,
            "senderAccountId": self.sender,
            "receiverAccountId": self.receiver,
            "invitationTimestamp": self.timestamp,
            "status": self.status,
        }


@dataclass
class _Share:
    arn: str
    name: str
    owner: str
    receiver: str
    created: datetime
    invitation: Invitation | None


@dataclass(frozen=True)
class LakeGrant:
    """What one account (or principal) was granted, as the ledger sees it."""

    grantor: str
    grantee: str
    resource: LakeResource
    permissions: frozenset[str]
    grantable: frozenset[str]
    #: True once the RAM invitation is accepted (at once within one organisation, and always
    #: for grants that stay inside one account).
    usable: bool
    #: PENDING / ACCEPTED / REJECTED, or None when no invitation was needed.
    invitation_status: str | None


class SharingLedger:
    """Grants made through attached sessions, and the RAM shares that carry them across."""

    def __init__(
        self,
        *,
        region: str,
        client: Callable[[str, str], Any],
        clock: Callable[[], datetime],
        organization_accounts: set[str] | None,
    ) -> None:
        self._region = region
        self._client = client
        self._clock = clock
        self._org = organization_accounts
        self._entries: dict[tuple[str, str, str], _Entry] = {}
        # (owner, receiver, resource raw) -> share; one share per resource and account.
        self._shares: dict[tuple[str, str, str], _Share] = {}
        # catalog -> database -> table ("" for the database itself) -> key -> values
        self._tags: dict[tuple[str, str, str], dict[str, list[str]]] = {}
        #: Data-cells filters (moto has none).
        self.filters = FilterStore()

    # ------------------------------------------------------------------ organisation
    def same_organisation(self, a: str, b: str) -> bool:
        return self._org is not None and a in self._org and b in self._org

    # ------------------------------------------------------------------ grants
    def grant(
        self,
        issuer: str,
        principal: str,
        resource: LakeResource,
        permissions: Iterable[str],
        grantable: Iterable[str] = (),
    ) -> None:
        """Record a successful grant; a grant to another account is shared through RAM."""
        key = (issuer, principal, resource.raw)
        entry = self._entries.setdefault(key, _Entry(issuer, principal, resource))
        entry.permissions.update(permissions)
        entry.grantable.update(grantable)
        entry.permissions.update(entry.grantable)
        if _ACCOUNT.match(principal) and principal != issuer:
            self._share(issuer, principal, resource)

    def revoke(
        self,
        issuer: str,
        principal: str,
        resource: LakeResource,
        permissions: Iterable[str],
        grantable: Iterable[str] = (),
    ) -> None:
        """Record a successful revoke; an account left with nothing leaves the RAM share."""
        key = (issuer, principal, resource.raw)
        entry = self._entries.get(key)
        if entry is None:
            return
        removed = set(permissions)
        if _ALL in removed:
            removed |= entry.permissions
        entry.permissions -= removed
        entry.grantable -= removed | set(grantable)
        if not entry.permissions:
            del self._entries[key]
            self._unshare(issuer, principal, resource)

    def forget_resource(self, catalog: str, database: str, table: str | None) -> None:
        """A deleted database or table takes its grants and tags with it, as in AWS."""
        for key, entry in list(self._entries.items()):
            res = entry.resource
            if res.catalog != catalog or res.database != database:
                continue
            if table is None or (res.kind in {"table", "cells_filter"} and res.table == table):
                del self._entries[key]
                self._unshare(entry.issuer, entry.principal, res)
        self.filters.forget(catalog, database, table)
        for tag_key in list(self._tags):
            if tag_key[:2] == (catalog, database) and (table is None or tag_key[2] == table):
                del self._tags[tag_key]

    def forget_filter(self, filter_resource: LakeResource) -> None:
        """A deleted data-cells filter takes the grants on it with it."""
        for key, entry in list(self._entries.items()):
            res = entry.resource
            if res.kind == "cells_filter" and (
                res.catalog,
                res.database,
                res.table,
                res.name,
            ) == (
                filter_resource.catalog,
                filter_resource.database,
                filter_resource.table,
                filter_resource.name,
            ):
                del self._entries[key]
                self._unshare(entry.issuer, entry.principal, res)

    def _share(self, owner: str, receiver: str, resource: LakeResource) -> None:
        key = (owner, receiver, resource.raw)
        share = self._shares.get(key)
        if share is not None:
            invitation = share.invitation
            if invitation is None or invitation.status != "REJECTED":
                return
            # A rejected share is offered again by the next grant.
            share.invitation = self._invite(owner, receiver, share.arn, share.name)
            return
        name = f"LakeFormation-V4-{uuid.uuid4().hex[:12].upper()}"
        created = self._client(owner, "ram").create_resource_share(
            name=name,
            principals=[receiver],
            resourceArns=self._resource_arns(resource),
            allowExternalPrincipals=True,
        )["resourceShare"]
        arn = str(created["resourceShareArn"])
        invitation = (
            None
            if self.same_organisation(owner, receiver)
            else self._invite(owner, receiver, arn, name)
        )
        self._shares[key] = _Share(arn, name, owner, receiver, self._clock(), invitation)

    def _invite(self, owner: str, receiver: str, share_arn: str, name: str) -> Invitation:
        return Invitation(
            arn=f"arn:aws:ram:{self._region}:{owner}:resource-share-invitation/{uuid.uuid4()}",
            share_arn=share_arn,
            share_name=name,
            sender=owner,
            receiver=receiver,
            status="PENDING",
            timestamp=self._clock(),
        )

    def _unshare(self, owner: str, receiver: str, resource: LakeResource) -> None:
        share = self._shares.pop((owner, receiver, resource.raw), None)
        if share is not None:
            self._client(owner, "ram").delete_resource_share(resourceShareArn=share.arn)

    def _resource_arns(self, resource: LakeResource) -> list[str]:
        prefix = f"arn:aws:glue:{self._region}:{resource.catalog}"
        if resource.kind == "database":
            return [f"{prefix}:database/{resource.database}"]
        if resource.kind == "table":
            return [f"{prefix}:table/{resource.database}/{resource.table}"]
        if resource.kind == "table_wildcard":
            return [f"{prefix}:table/{resource.database}/*"]
        # LF-tag policies are shared by expression; RAM carries no fixed resource for them.
        return []

    def _usable(self, entry: _Entry) -> bool:
        if not _ACCOUNT.match(entry.principal) or entry.principal == entry.issuer:
            return True
        share = self._shares.get((entry.issuer, entry.principal, entry.resource.raw))
        if share is None:
            return False
        return share.invitation is None or share.invitation.status == "ACCEPTED"

    def _invitation_status(self, entry: _Entry) -> str | None:
        share = self._shares.get((entry.issuer, entry.principal, entry.resource.raw))
        if share is None or share.invitation is None:
            return None
        return share.invitation.status

    def grants(self, grantee: str) -> list[LakeGrant]:
        """Every grant whose principal is ``grantee`` (an account id or a principal ARN)."""
        return [self._public(e) for e in self._entries.values() if e.principal == grantee]

    def issued(self, issuer: str) -> list[LakeGrant]:
        """Every grant made in ``issuer``'s Lake Formation."""
        return [self._public(e) for e in self._entries.values() if e.issuer == issuer]

    def _public(self, entry: _Entry) -> LakeGrant:
        return LakeGrant(
            grantor=entry.issuer,
            grantee=entry.principal,
            resource=entry.resource,
            permissions=frozenset(entry.permissions),
            grantable=frozenset(entry.grantable),
            usable=self._usable(entry),
            invitation_status=self._invitation_status(entry),
        )

    # ------------------------------------------------------------------ evaluation
    def effective(
        self,
        principal: str,
        target: LakeResource,
        *,
        issuer: str | None = None,
        grantable_only: bool = False,
    ) -> set[str]:
        """Permissions ``principal`` holds on a table or database, from usable grants.

        ``issuer`` narrows to the grants made in one account's Lake Formation (the catalog
        owner for an account's grant, the consumer account for its principals' grants).
        """
        held: set[str] = set()
        for entry in self._entries.values():
            if entry.principal != principal or (issuer is not None and entry.issuer != issuer):
                continue
            if not self._usable(entry) or not self.covers(entry.resource, target):
                continue
            held |= entry.grantable if grantable_only else entry.permissions
        return held

    def visible(self, principal: str, catalog: str, database: str, *, issuer: str) -> bool:
        """Whether any usable grant lets ``principal`` see something in a database."""
        for entry in self._entries.values():
            if entry.principal != principal or entry.issuer != issuer:
                continue
            res = entry.resource
            if not self._usable(entry) or res.catalog != catalog:
                continue
            if res.database == database:
                return True
            if res.kind == "tag_policy" and self._tag_policy_touches(res, catalog, database):
                return True
        return False

    def covers(self, granted: LakeResource, target: LakeResource) -> bool:
        """Whether a grant on ``granted`` applies to ``target`` (a table or a database)."""
        if granted.catalog != target.catalog:
            return False
        if target.kind == "table":
            if granted.kind == "table":
                return (granted.database, granted.table) == (target.database, target.table)
            if granted.kind == "table_wildcard":
                return granted.database == target.database
            if granted.kind == "tag_policy" and granted.resource_type == "TABLE":
                tags = self.table_tags(target.catalog, target.database, target.table)
                return _matches(granted.expression, tags)
            return False
        if target.kind == "database":
            if granted.kind == "database":
                return granted.database == target.database
            if granted.kind == "tag_policy" and granted.resource_type == "DATABASE":
                tags = self.database_tags(target.catalog, target.database)
                return _matches(granted.expression, tags)
        return False

    def columns_for(
        self, principal: str, target: LakeResource, *, issuer: str
    ) -> tuple[set[str] | None, set[str]]:
        """Columns a principal may SELECT on a table: (allowed or None for all, excluded)."""
        allowed: set[str] = set()
        exclusions: list[set[str]] = []
        for entry in self._entries.values():
            if entry.principal != principal or entry.issuer != issuer:
                continue
            if not self._usable(entry) or not self.covers(entry.resource, target):
                continue
            if not ({"SELECT", _ALL} & entry.permissions):
                continue
            res = entry.resource
            if res.kind == "table" and res.columns is not None:
                allowed |= set(res.columns)
            elif res.excluded_columns:
                exclusions.append(set(res.excluded_columns))
            else:
                return None, set()
        if exclusions:
            # Every column but those all the wildcard grants left out and no grant names.
            return None, set.intersection(*exclusions) - allowed
        return allowed, set()

    def filter_views(
        self, principal: str, target: LakeResource, *, issuer: str | None = None
    ) -> list[ReadView]:
        """The data-cells filters on a table ``principal`` holds SELECT on (usable grants)."""
        views: list[ReadView] = []
        for entry in self._entries.values():
            res = entry.resource
            if entry.principal != principal or (issuer is not None and entry.issuer != issuer):
                continue
            if res.kind != "cells_filter" or "SELECT" not in entry.permissions:
                continue
            if (res.catalog, res.database, res.table) != (
                target.catalog,
                target.database,
                target.table,
            ):
                continue
            found = self.filters.get(res.catalog, res.database, res.table, res.name)
            if found is not None and self._usable(entry):
                views.append(found.view())
        return views

    def _tag_policy_touches(self, policy: LakeResource, catalog: str, database: str) -> bool:
        if policy.resource_type == "DATABASE":
            return _matches(policy.expression, self.database_tags(catalog, database))
        return any(
            _matches(policy.expression, self.table_tags(catalog, database, table))
            for (cat, db, table) in self._tags
            if (cat, db) == (catalog, database) and table
        ) or _matches(policy.expression, self.database_tags(catalog, database))

    # ------------------------------------------------------------------ LF-tags
    def add_tags(self, resource: LakeResource, tags: Iterable[Mapping[str, Any]]) -> None:
        """Merge LF-tags onto a database or table (AWS merges; moto replaces, research §4)."""
        store = self._tags.setdefault(_tag_key(resource), {})
        for tag in tags:
            store[str(tag["TagKey"])] = [str(v) for v in tag["TagValues"]]

    def remove_tags(self, resource: LakeResource, tags: Iterable[Mapping[str, Any]]) -> None:
        store = self._tags.get(_tag_key(resource), {})
        for tag in tags:
            store.pop(str(tag["TagKey"]), None)

    def database_tags(self, catalog: str, database: str) -> dict[str, list[str]]:
        return dict(self._tags.get((catalog, database, ""), {}))

    def assigned_table_tags(self, catalog: str, database: str, table: str) -> dict[str, list[str]]:
        return dict(self._tags.get((catalog, database, table), {}))

    def table_tags(self, catalog: str, database: str, table: str) -> dict[str, list[str]]:
        """A table's effective LF-tags: its database's, overridden key by key by its own."""
        tags = self.database_tags(catalog, database)
        tags.update(self.assigned_table_tags(catalog, database, table))
        return tags

    # ------------------------------------------------------------------ RAM consumer side
    def invitations(self, receiver: str) -> list[Invitation]:
        return [
            s.invitation
            for s in self._shares.values()
            if s.invitation is not None and s.receiver == receiver
        ]

    def respond(self, receiver: str, invitation_arn: str, *, accept: bool) -> Invitation:
        """Accept or reject an invitation, with RAM's errors for the wrong state."""
        for invitation in self.invitations(receiver):
            if invitation.arn != invitation_arn:
                continue
            if invitation.status == "ACCEPTED":
                raise LakeClientError(
                    "ResourceShareInvitationAlreadyAcceptedException",
                    f"The invitation {invitation_arn} has already been accepted.",
                )
            if invitation.status == "REJECTED":
                raise LakeClientError(
                    "ResourceShareInvitationAlreadyRejectedException",
                    f"The invitation {invitation_arn} has already been rejected.",
                )
            invitation.status = "ACCEPTED" if accept else "REJECTED"
            return invitation
        raise LakeClientError(
            "ResourceShareInvitationArnNotFoundException",
            f"The invitation ARN {invitation_arn} was not found for account {receiver}.",
        )

    def shares_with(self, receiver: str) -> list[dict[str, Any]]:
        """Shares another account made with ``receiver`` that it can use (RAM OTHER-ACCOUNTS)."""
        shares = []
        for share in self._shares.values():
            if share.receiver != receiver:
                continue
            if share.invitation is not None and share.invitation.status != "ACCEPTED":
                continue
            shares.append(
                {
                    "resourceShareArn": share.arn,
                    "name": share.name,
                    "owningAccountId": share.owner,
                    "allowExternalPrincipals": True,
                    "status": "ACTIVE",
                    "creationTime": share.created,
                    "lastUpdatedTime": share.created,
                    "featureSet": "STANDARD",
                }
            )
        return shares

    # ------------------------------------------------------------------ list_permissions
    def list_permissions(self, account: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        """``lakeformation.list_permissions`` as AWS answers it in ``account``.

        Grants made in the account, and grants other accounts made to it once usable (AWS lists
        those in the receiving account too).
        """
        principal = (params.get("Principal") or {}).get("DataLakePrincipalIdentifier")
        resource_type = params.get("ResourceType")
        wanted = parse_resource(params["Resource"], account) if params.get("Resource") else None
        related = str(params.get("IncludeRelated") or "").upper() == "TRUE"
        rows = []
        for entry in self._entries.values():
            own = entry.issuer == account
            received = entry.principal == account and entry.issuer != account
            if not (own or (received and self._usable(entry))):
                continue
            if principal is not None and entry.principal != principal:
                continue
            if resource_type and not _of_type(entry.resource, resource_type):
                continue
            if wanted is not None and not (
                _same_resource(entry.resource, wanted) or (related and _filter_of(entry, wanted))
            ):
                continue
            row: dict[str, Any] = {
                "Principal": {"DataLakePrincipalIdentifier": entry.principal},
                "Resource": entry.resource.as_api(),
                "Permissions": sorted(entry.permissions),
                "PermissionsWithGrantOption": sorted(entry.grantable),
            }
            share = self._shares.get((entry.issuer, entry.principal, entry.resource.raw))
            if received and share is not None:
                # AWS marks the rows a RAM share derives; they are not grants of this account.
                row["AdditionalDetails"] = {"ResourceShare": [share.arn]}
            rows.extend(_as_read(entry.resource, row))
        return rows


def _as_read(resource: LakeResource, row: dict[str, Any]) -> list[dict[str, Any]]:
    """A grant in the shapes AWS reads it back in (research §A.1), not as it was written.

    SELECT on a Table comes back on the table's TableWithColumns with a column wildcard; ALL on
    a Table keeps its row and adds that implicit column row; a TableWildcard grant comes back
    as ``TableWithColumns{Name: "ALL_TABLES", ColumnWildcard: {}}``. Permissions come back
    sorted. Readers that compare raw shapes see the false diffs AWS's users see.
    """
    api = resource.as_api()
    if resource.kind == "table_wildcard":
        body = api.get("Table", {})
        row["Resource"] = {
            "TableWithColumns": {
                "CatalogId": resource.catalog,
                "DatabaseName": body.get("DatabaseName", resource.database),
                "Name": "ALL_TABLES",
                "ColumnWildcard": {},
            }
        }
        return [row]
    if resource.kind != "table" or "Table" not in api:
        return [row]
    perms, grantable = set(row["Permissions"]), set(row["PermissionsWithGrantOption"])
    if not ({"SELECT", _ALL} & perms):
        return [row]
    columns = {
        **row,
        "Resource": {
            "TableWithColumns": {
                "CatalogId": resource.catalog,
                "DatabaseName": resource.database,
                "Name": resource.table,
                "ColumnWildcard": {},
            }
        },
        "Permissions": ["SELECT"],
        "PermissionsWithGrantOption": ["SELECT"] if {"SELECT", _ALL} & grantable else [],
    }
    rest = perms - {"SELECT"} if _ALL not in perms else perms
    if not rest:
        return [columns]
    table = {
        **row,
        "Permissions": sorted(rest),
        "PermissionsWithGrantOption": sorted(grantable & rest),
    }
    return [table, columns]


def _tag_key(resource: LakeResource) -> tuple[str, str, str]:
    if resource.kind == "database":
        return (resource.catalog, resource.database, "")
    if resource.kind == "table":
        return (resource.catalog, resource.database, resource.table)
    raise LakeClientError(
        "InvalidInputException",
        "LF-tags are simulated on databases and tables only; tag columns on the table.",
    )


def _matches(
    expression: tuple[tuple[str, tuple[str, ...]], ...], tags: Mapping[str, list[str]]
) -> bool:
    return bool(expression) and all(
        key in tags and set(values) & set(tags[key]) for key, values in expression
    )


def _of_type(resource: LakeResource, resource_type: str) -> bool:
    if resource_type == "DATABASE":
        return resource.kind == "database"
    if resource_type == "TABLE":
        return resource.kind in {"table", "table_wildcard"}
    if resource_type == "CATALOG":
        return resource.kind == "catalog"
    if resource_type == "LF_TAG_POLICY":
        return resource.kind == "tag_policy"
    if resource_type in {"LF_TAG_POLICY_TABLE", "LF_TAG_POLICY_DATABASE"}:
        return resource.kind == "tag_policy" and resource_type.endswith(resource.resource_type)
    api_name = {"DATA_LOCATION": "DataLocation", "LF_TAG": "LFTag"}.get(resource_type)
    return api_name is not None and resource.raw.startswith(f'{{"{api_name}"')


def _filter_of(entry: _Entry, wanted: LakeResource) -> bool:
    """IncludeRelated=TRUE on a Table: the grants on that table's data-cells filters too."""
    res = entry.resource
    return (
        wanted.kind == "table"
        and res.kind == "cells_filter"
        and (res.catalog, res.database, res.table)
        == (wanted.catalog, wanted.database, wanted.table)
    )


def _same_resource(entry: LakeResource, wanted: LakeResource) -> bool:
    if wanted.kind == "table":
        return entry.kind == "table" and (entry.catalog, entry.database, entry.table) == (
            wanted.catalog,
            wanted.database,
            wanted.table,
        )
    if wanted.kind == "database":
        return entry.kind == "database" and (entry.catalog, entry.database) == (
            wanted.catalog,
            wanted.database,
        )
    return entry.raw == wanted.raw
