"""``LakeSimulation``: botocore hooks that give moto AWS's cross-account lake behaviour.

Handlers make ordinary boto3 calls; the hooks registered by :meth:`LakeSimulation.attach` answer
or observe them (Lake Formation, RAM, Glue). The simulation's own reads and writes go through
private, hook-free sessions holding the same credentials, so they are never counted, throttled
or re-intercepted as the handlers' calls.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError

from meshkit.local.lake._aws import Answer, LakeClientError, answer, fail, utcnow
from meshkit.local.lake.catalog import (
    DATABASE_STATE_CHANGE,
    CatalogSimulation,
    database_state_change,
)
from meshkit.local.lake.crawler import CrawlerSimulation, EmitAwsEvent
from meshkit.local.lake.locations import DataLocations, bucket_owner
from meshkit.local.lake.query import QueryEngine
from meshkit.local.lake.sharing import LakeGrant, LakeResource, SharingLedger, parse_resource

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    import boto3

    from meshkit.local.types import QueryResult

__all__ = ["LakeSimulation"]

_PARAMS = "meshkit.lake.params"
_SERVICES = ("glue", "lakeformation", "ram")
_PRIVATE_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3})
#: Data-cells filter calls moto does not implement; the ledger's filter store answers them.
_FILTER_OPS = frozenset(
    {
        "CreateDataCellsFilter",
        "UpdateDataCellsFilter",
        "GetDataCellsFilter",
        "DeleteDataCellsFilter",
        "ListDataCellsFilter",
    }
)
#: What a grant on a data-cells filter may give (reading through it, seeing it, dropping it).
_FILTER_PERMISSIONS = frozenset({"SELECT", "DESCRIBE", "DROP"})
#: Resource kinds a consumer account may re-grant when the owner gave it grant option.
_REGRANTABLE = frozenset({"database", "table", "table_wildcard", "tag_policy"})


class LakeSimulation:
    """Lake Formation and RAM across accounts, a real crawler and a query engine, on moto.

    ``emit_aws_event(account, source, detail_type, detail, resources)`` puts an AWS-format event
    on that account's default bus; ``clock()`` returns the mesh's current time (a datetime, or
    epoch seconds); accounts in ``organization_accounts`` share without RAM invitations.
    """

    def __init__(
        self,
        *,
        region: str = "us-east-1",
        emit_aws_event: EmitAwsEvent,
        clock: Callable[[], datetime | float] = utcnow,
        organization_accounts: set[str] | None = None,
    ) -> None:
        self.region = region
        self._emit_aws_event = emit_aws_event
        #: Lake Formation allows at most 1000 values per LF-tag key (lowered in tests).
        self.max_tag_values = 1000
        self._clock_source = clock
        # One hook-free session for the simulation's own calls, one set of keys per account.
        self._private = botocore.session.get_session()
        self._credentials: dict[str, tuple[str, str, str | None]] = {}
        self._clients: dict[tuple[str, str], Any] = {}
        self.ledger = SharingLedger(
            region=region,
            client=self._client,
            clock=self._now,
            organization_accounts=set(organization_accounts) if organization_accounts else None,
        )
        self.catalog = CatalogSimulation(self.ledger, self._client, self.is_attached)
        self.locations = DataLocations(self._client)
        self.crawler = CrawlerSimulation(
            region=region,
            ledger=self.ledger,
            catalog=self.catalog,
            client=self._client,
            attached=self.is_attached,
            emit=emit_aws_event,
            clock=self._now,
            locations=self.locations,
        )
        #: ``(operation) -> error code or None`` per batch entry (the mesh's injected faults).
        self.entry_fault: Callable[[str], str | None] | None = None
        self._engine = QueryEngine(
            ledger=self.ledger, catalog=self.catalog, client=self._client, locations=self.locations
        )

    # ------------------------------------------------------------------ public API
    def attach(self, account_id: str, session: boto3.session.Session) -> None:
        """Register the hooks on ``session`` (before it creates clients: clients copy them)."""
        credentials = session.get_credentials()
        if credentials is None:
            raise ValueError(
                f"The session for account {account_id} has no credentials; attach a session "
                "built from sts.assume_role into that account."
            )
        frozen = credentials.get_frozen_credentials()
        if not self._credentials:
            # Loading service models is most of a client's cost: share the caller's loader.
            self._private.register_component(
                "data_loader", session._session.get_component("data_loader")
            )
        self._credentials[account_id] = (frozen.access_key, frozen.secret_key, frozen.token)
        events = session.events
        tag = f"meshkit-lake-{id(self)}-{account_id}"
        for service in _SERVICES:
            events.register(
                f"before-parameter-build.{service}", _stash, unique_id=f"{tag}-stash-{service}"
            )
            events.register(
                f"before-call.{service}",
                partial(self._before_call, account_id),
                unique_id=f"{tag}-before-{service}",
            )
            events.register(
                f"after-call.{service}",
                partial(self._after_call, account_id),
                unique_id=f"{tag}-after-{service}",
            )
        # S3 ignores ExpectedBucketOwner in moto; only the one call central checks owners with.
        events.register("before-parameter-build.s3.HeadBucket", _stash, unique_id=f"{tag}-stash-s3")
        events.register(
            "before-call.s3.HeadBucket",
            partial(self._before_call, account_id),
            unique_id=f"{tag}-before-s3",
        )

    def is_attached(self, account_id: str) -> bool:
        return account_id in self._credentials

    def run_pending_crawls(self) -> int:
        """Run the crawls ``start_crawler`` queued; returns how many ran."""
        return self.crawler.run_pending()

    def query(self, account_id: str, principal_arn: str, sql: str) -> QueryResult:
        """Run one SELECT as ``principal_arn`` of ``account_id`` (PermissionError if refused)."""
        return self._engine.query(account_id, principal_arn, sql)

    def grants(self, account_id: str) -> list[LakeGrant]:
        """What ``account_id`` (or a principal ARN) was granted, usable or awaiting RAM."""
        return self.ledger.grants(account_id)

    def issued(self, account_id: str) -> list[LakeGrant]:
        """The grants made in ``account_id``'s Lake Formation (to accounts and principals)."""
        return self.ledger.issued(account_id)

    # ------------------------------------------------------------------ plumbing
    def _now(self) -> datetime:
        value = self._clock_source()
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=UTC)
        return datetime.fromtimestamp(float(value), UTC)

    def _client(self, account: str, service: str) -> Any:
        key = (account, service)
        if key not in self._clients:
            keys = self._credentials.get(account)
            if keys is None:
                raise LakeClientError(
                    "EntityNotFoundException",
                    f"Account {account} is not part of the local lake; attach it first.",
                )
            self._clients[key] = self._private.create_client(
                service,
                region_name=self.region,
                aws_access_key_id=keys[0],
                aws_secret_access_key=keys[1],
                aws_session_token=keys[2],
                config=_PRIVATE_CONFIG,
            )
        return self._clients[key]

    def _before_call(self, account: str, model: Any, context: dict[str, Any], **_: Any) -> Any:
        params: Mapping[str, Any] = context.get(_PARAMS, {})
        service = model.service_model.service_name
        op = model.name
        try:
            if service == "glue":
                return self.crawler.before(account, op, params) or self.catalog.before(
                    account, op, params
                )
            if service == "lakeformation":
                return self._lakeformation_before(account, op, params)
            if service == "ram":
                return self._ram_before(account, op, params)
            if service == "s3" and op == "HeadBucket":
                return self._expected_owner(params)
        except LakeClientError as exc:
            return fail(exc, xml=service == "s3")
        return None

    def _after_call(
        self,
        account: str,
        http_response: Any,
        parsed: Any,
        model: Any,
        context: dict[str, Any],
        **_: Any,
    ) -> None:
        if http_response is None or http_response.status_code >= 300:
            return
        params: Mapping[str, Any] = context.get(_PARAMS, {})
        service = model.service_model.service_name
        op = model.name
        if service == "glue":
            self.catalog.after(account, op, params)
            self.crawler.after(account, op, params, parsed)
            self._catalog_event(account, op, params, parsed)
        elif service == "lakeformation":
            self._lakeformation_after(account, op, params, parsed)

    def _catalog_event(self, account: str, op: str, params: Mapping[str, Any], parsed: Any) -> None:
        """Glue's ``Glue Data Catalog Database State Change`` on the catalog account's default
        bus, as AWS sends it for database and table creates and deletes."""
        if op == "BatchDeleteTable" and parsed.get("Errors"):
            failed = {str(e.get("TableName")) for e in parsed["Errors"]}
            params = {
                **params,
                "TablesToDelete": [
                    t for t in params.get("TablesToDelete") or [] if str(t) not in failed
                ],
            }
        catalog = str(params.get("CatalogId") or account)
        found = database_state_change(self.region, catalog, op, params)
        if found is not None:
            self._emit_aws_event(catalog, "aws.glue", DATABASE_STATE_CHANGE, found[0], found[1])

    def _expected_owner(self, params: Mapping[str, Any]) -> None:
        """S3's ``ExpectedBucketOwner`` on HeadBucket: 403 when the bucket belongs to another
        account. A HEAD response has no body, so botocore's error code is the status, "403"."""
        expected = params.get("ExpectedBucketOwner")
        owner = bucket_owner(str(params.get("Bucket", "")))
        if expected and owner is not None and owner != expected:
            raise LakeClientError("403", "Forbidden", status=403)

    # ------------------------------------------------------------------ Lake Formation
    def _lakeformation_before(
        self, account: str, op: str, params: Mapping[str, Any]
    ) -> Answer | None:
        if op == "GrantPermissions":
            self._check_filter_grant(account, params)
            self._check_regrant(account, params)
            return None
        if op in _FILTER_OPS:
            return self._cells_filter(account, op, params)
        if op in {"BatchGrantPermissions", "BatchRevokePermissions"}:
            return self._batch(account, op, params)
        if op == "ListPermissions":
            if params.get("Principal") and not params.get("Resource"):
                raise LakeClientError(
                    "InvalidInputException", "A Principal filter needs a Resource filter."
                )
            # moto crashes on a Table filter next to a TableWildcard grant and on LF-tag
            # resource types (research §4): the ledger answers every shape.
            rows = self.ledger.list_permissions(account, params)
            return answer(_page(rows, params))
        if "TableWithColumns" in (params.get("Resource") or {}):
            # Column tags: moto's own bookkeeping handles them; the ledger keeps table tags.
            return None
        if op == "GetResourceLFTags":
            return answer(self._resource_tags(account, params))
        if op in {"GetLFTag", "CreateLFTag", "UpdateLFTag", "DeleteLFTag"}:
            return self._lf_tag(account, op, params)
        if op == "AddLFTagsToResource":
            self._taggable(account, params)
            return None
        if op == "RemoveLFTagsFromResource":
            # moto raises KeyError on a resource it holds no tags for; the ledger answers.
            resource = self._taggable(account, params)
            self.ledger.remove_tags(resource, params.get("LFTags", []))
            return answer({"Failures": []})
        return None

    def _lf_tag(self, account: str, op: str, params: Mapping[str, Any]) -> Answer | None:
        """LF-tag definitions with AWS's errors (moto answers a missing key with an empty tag,
        overwrites a duplicate, and raises KeyError when updating a missing key)."""
        catalog = str(params.get("CatalogId") or account)
        key = str(params["TagKey"])
        client = self._client(catalog, "lakeformation")
        defined: dict[str, list[str]] = {}
        token: str | None = None
        while True:
            page = client.list_lf_tags(**({"NextToken": token} if token else {}))
            defined.update({t["TagKey"]: list(t["TagValues"]) for t in page.get("LFTags", [])})
            token = page.get("NextToken")
            if not token:
                break
        if op == "CreateLFTag":
            if key in defined:
                raise LakeClientError("AlreadyExistsException", "Tag key already exists")
            return None
        if key not in defined:
            raise LakeClientError("EntityNotFoundException", "Tag key does not exist")
        if op == "GetLFTag":
            return answer({"CatalogId": catalog, "TagKey": key, "TagValues": defined[key]})
        if op == "UpdateLFTag":
            values = set(defined[key]) | set(params.get("TagValuesToAdd") or [])
            values -= set(params.get("TagValuesToDelete") or [])
            if len(values) > self.max_tag_values:
                raise LakeClientError(
                    "ResourceNumberLimitExceededException",
                    f"LF-tag {key} would hold {len(values)} values; the maximum is "
                    f"{self.max_tag_values}",
                )
        return None

    def _taggable(self, account: str, params: Mapping[str, Any]) -> LakeResource:
        """The database or table LF-tags go on; AWS's errors for anything else or missing."""
        resource = parse_resource(params["Resource"], account)
        if resource.kind not in {"database", "table"}:
            raise LakeClientError(
                "InvalidInputException",
                "The local lake simulates LF-tags on a Database or a named Table only.",
            )
        glue = self._client(resource.catalog, "glue")
        try:
            if resource.kind == "database":
                glue.get_database(Name=resource.database)
            else:
                glue.get_table(DatabaseName=resource.database, Name=resource.table)
        except ClientError as exc:
            raise LakeClientError(
                "EntityNotFoundException", f"{resource.describe()} was not found."
            ) from exc
        return resource

    def _cells_filter(self, account: str, op: str, params: Mapping[str, Any]) -> Answer:
        """The five data-cells filter calls, with Lake Formation's shapes and errors."""
        store = self.ledger.filters
        if op == "ListDataCellsFilter":
            table = params.get("Table") or {}
            catalog = str(table.get("CatalogId") or account)
            database = table.get("DatabaseName")
            name = None if "TableWildcard" in table else table.get("Name")
            found = [
                f.as_api()
                for f in store.listed(
                    catalog,
                    str(database) if database else None,
                    str(name) if name else None,
                )
            ]
            page = _page(found, params, key="DataCellsFilters")
            return answer(page)
        if op in {"GetDataCellsFilter", "DeleteDataCellsFilter"}:
            catalog = str(params.get("TableCatalogId") or account)
            key = (
                catalog,
                str(params.get("DatabaseName", "")),
                str(params.get("TableName", "")),
                str(params.get("Name", "")),
            )
            if op == "GetDataCellsFilter":
                return answer({"DataCellsFilter": store.require(*key).as_api()})
            self._own_catalog(account, catalog, op)
            store.delete(*key)
            self.ledger.forget_filter(
                LakeResource("cells_filter", key[0], database=key[1], table=key[2], name=key[3])
            )
            return answer({})
        data = params.get("TableData") or {}
        catalog = str(data.get("TableCatalogId") or account)
        self._own_catalog(account, catalog, op)
        database, table_name = str(data.get("DatabaseName", "")), str(data.get("TableName", ""))
        try:
            table = self._client(catalog, "glue").get_table(DatabaseName=database, Name=table_name)[
                "Table"
            ]
        except ClientError as exc:
            raise LakeClientError(
                "EntityNotFoundException",
                f"Table {catalog}:{database}.{table_name} of the data cells filter was not found.",
            ) from exc
        columns = [
            str(c["Name"])
            for c in [
                *((table.get("StorageDescriptor") or {}).get("Columns") or []),
                *(table.get("PartitionKeys") or []),
            ]
        ]
        store.put(data, catalog, columns, create=op == "CreateDataCellsFilter")
        return answer({})

    def _own_catalog(self, account: str, catalog: str, op: str) -> None:
        if catalog != account:
            raise LakeClientError(
                "AccessDeniedException",
                f"{op} on a table of catalog {catalog} from account {account}: the local lake "
                "manages data cells filters in the table owner's account only.",
            )

    def _check_filter_grant(self, account: str, params: Mapping[str, Any]) -> None:
        """A grant on a data-cells filter needs the filter, and gives SELECT/DESCRIBE/DROP."""
        resource = parse_resource(params["Resource"], account)
        if resource.kind != "cells_filter":
            return
        self.ledger.filters.require(
            resource.catalog, resource.database, resource.table, resource.name
        )
        wanted = set(params.get("Permissions") or []) | set(
            params.get("PermissionsWithGrantOption") or []
        )
        if wanted - _FILTER_PERMISSIONS:
            raise LakeClientError(
                "InvalidInputException",
                f"Permissions {sorted(wanted - _FILTER_PERMISSIONS)} cannot be granted on a data "
                f"cells filter ({resource.describe()}); grant SELECT, DESCRIBE or DROP.",
            )

    def _check_regrant(self, account: str, params: Mapping[str, Any]) -> None:
        """A grant on another account's resource needs that permission with grant option."""
        resource = parse_resource(params["Resource"], account)
        if resource.catalog == account:
            return
        if resource.kind not in _REGRANTABLE:
            raise LakeClientError(
                "InvalidInputException",
                f"Granting {resource.describe()} of another catalog is not supported.",
            )
        wanted = set(params.get("Permissions") or []) | set(
            params.get("PermissionsWithGrantOption") or []
        )
        grantable = self._grantable(account, resource)
        missing = sorted(p for p in wanted if p not in grantable and "ALL" not in grantable)
        if missing:
            raise LakeClientError(
                "AccessDeniedException",
                f"Insufficient Lake Formation permission(s): Required Grant on "
                f"{resource.describe()} ({', '.join(missing)}); account {account} holds no "
                f"usable grant of them with grant option from {resource.catalog}.",
            )

    def _grantable(self, account: str, resource: LakeResource) -> set[str]:
        if resource.kind in {"table", "database"}:
            target = LakeResource(
                resource.kind, resource.catalog, database=resource.database, table=resource.table
            )
            return self.ledger.effective(
                account, target, issuer=resource.catalog, grantable_only=True
            )
        # A wildcard or tag-policy re-grant needs the same resource granted with grant option.
        held: set[str] = set()
        for grant in self.ledger.grants(account):
            if grant.usable and grant.resource.raw == resource.raw:
                held |= grant.grantable
        return held

    def _batch(self, account: str, op: str, params: Mapping[str, Any]) -> Answer:
        """Batch grants and revokes entry by entry, with AWS's per-entry Failures."""
        granting = op == "BatchGrantPermissions"
        failures: list[dict[str, Any]] = []
        done: list[dict[str, Any]] = []
        for entry in params.get("Entries", []):
            injected = self.entry_fault(op) if self.entry_fault is not None else None
            if injected is not None:
                failures.append(
                    {
                        "RequestEntry": entry,
                        "Error": {"ErrorCode": injected, "ErrorMessage": "injected by the mesh"},
                    }
                )
                continue
            try:
                if granting:
                    self._check_filter_grant(account, entry)
                    self._check_regrant(account, entry)
            except LakeClientError as exc:
                failures.append(
                    {
                        "RequestEntry": entry,
                        "Error": {"ErrorCode": exc.code, "ErrorMessage": exc.message},
                    }
                )
                continue
            done.append(entry)
        if done:
            client = self._client(account, "lakeformation")
            call = client.batch_grant_permissions if granting else client.batch_revoke_permissions
            result = call(Entries=done)
            failed_ids = {f["RequestEntry"]["Id"] for f in result.get("Failures", [])}
            failures.extend(result.get("Failures", []))
            for entry in done:
                if entry["Id"] not in failed_ids:
                    self._record(
                        account, "GrantPermissions" if granting else "RevokePermissions", entry
                    )
        return answer({"Failures": failures})

    def _lakeformation_after(
        self, account: str, op: str, params: Mapping[str, Any], parsed: Any
    ) -> None:
        if op in {"GrantPermissions", "RevokePermissions"}:
            self._record(account, op, params)
        elif op in {"AddLFTagsToResource", "RemoveLFTagsFromResource"}:
            if parsed.get("Failures") or "TableWithColumns" in params["Resource"]:
                return
            resource = parse_resource(params["Resource"], account)
            if op == "AddLFTagsToResource":
                self.ledger.add_tags(resource, params.get("LFTags", []))
            else:
                self.ledger.remove_tags(resource, params.get("LFTags", []))

    def _record(self, account: str, op: str, params: Mapping[str, Any]) -> None:
        principal = str(params["Principal"]["DataLakePrincipalIdentifier"])
        resource = parse_resource(params["Resource"], account)
        permissions = params.get("Permissions") or []
        grantable = params.get("PermissionsWithGrantOption") or []
        if op == "GrantPermissions":
            self.ledger.grant(account, principal, resource, permissions, grantable)
        else:
            self.ledger.revoke(account, principal, resource, permissions, grantable)

    def _resource_tags(self, account: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """get_resource_lf_tags from the ledger (moto raises KeyError on untagged tables)."""
        resource = self._taggable(account, params)

        def as_api(tags: Mapping[str, list[str]]) -> list[dict[str, Any]]:
            return [
                {"CatalogId": resource.catalog, "TagKey": k, "TagValues": list(v)}
                for k, v in sorted(tags.items())
            ]

        if resource.kind == "database":
            return {"LFTagOnDatabase": as_api(self.ledger.database_tags(*_db(resource)))}
        own = self.ledger.assigned_table_tags(*_db(resource), resource.table)
        shown = (
            own
            if params.get("ShowAssignedLFTags")
            else self.ledger.table_tags(*_db(resource), resource.table)
        )
        return {
            "LFTagOnDatabase": as_api(self.ledger.database_tags(*_db(resource))),
            "LFTagsOnTable": as_api(shown),
            "LFTagsOnColumns": [],
        }

    # ------------------------------------------------------------------ RAM
    def _ram_before(self, account: str, op: str, params: Mapping[str, Any]) -> Answer | None:
        if op == "GetResourceShareInvitations":
            wanted_arns = set(params.get("resourceShareInvitationArns") or [])
            wanted_shares = set(params.get("resourceShareArns") or [])
            found = [
                i.as_api()
                for i in self.ledger.invitations(account)
                if (not wanted_arns or i.arn in wanted_arns)
                and (not wanted_shares or i.share_arn in wanted_shares)
            ]
            return answer({"resourceShareInvitations": found})
        if op in {"AcceptResourceShareInvitation", "RejectResourceShareInvitation"}:
            invitation = self.ledger.respond(
                account,
                str(params["resourceShareInvitationArn"]),
                accept=op.startswith("Accept"),
            )
            response: dict[str, Any] = {"resourceShareInvitation": invitation.as_api()}
            if params.get("clientToken"):
                response["clientToken"] = params["clientToken"]
            return answer(response)
        if op == "GetResourceShares" and params.get("resourceOwner") == "OTHER-ACCOUNTS":
            shares = [
                s
                for s in self.ledger.shares_with(account)
                if (
                    not params.get("resourceShareArns")
                    or s["resourceShareArn"] in params["resourceShareArns"]
                )
                and (not params.get("name") or s["name"] == params["name"])
                and (
                    not params.get("resourceShareStatus")
                    or s["status"] == params["resourceShareStatus"]
                )
            ]
            return answer({"resourceShares": shares})
        return None


def _page(
    rows: list[dict[str, Any]],
    params: Mapping[str, Any],
    *,
    key: str = "PrincipalResourcePermissions",
) -> dict[str, Any]:
    """One page of a list as AWS pages it: ``MaxResults`` rows, then a NextToken
    (moto returns every row at once, research §A.3, which hides a missing NextToken loop)."""
    size = params.get("MaxResults")
    if not size:
        return {key: rows}
    token = str(params.get("NextToken") or "")
    try:
        start = int(token.removeprefix("page-")) if token else 0
    except ValueError:
        raise LakeClientError("InvalidInputException", "The NextToken is not valid.") from None
    end = start + int(size)
    out: dict[str, Any] = {key: rows[start:end]}
    if end < len(rows):
        out["NextToken"] = f"page-{end}"
    return out


def _db(resource: LakeResource) -> tuple[str, str]:
    return resource.catalog, resource.database


def _stash(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    """Keep the caller's API parameters for the before-call/after-call hooks of the same call."""
    context[_PARAMS] = copy.deepcopy(params)
