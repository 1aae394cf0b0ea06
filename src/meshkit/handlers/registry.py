"""The central registry (and each domain's own state): one DynamoDB table, single-table design.

Items (``pk`` / ``sk``):

* ``DOMAIN#<name>`` / ``META`` — a domain: account, storage prefix, sharing mode, status;
  ``gsi1`` = ``ACCOUNT#<account>`` so one account can be looked up to its domains.
* ``PRODUCT#<domain>#<product>`` / ``META`` — a product: tables, classification, status,
  schema from the last crawl, ``version`` for optimistic locking.
* ``GRANTUSE#<scope>`` / ``<grant unit>`` — which active requests rely on one Lake Formation
  permission of one principal on one resource (``users``, a string set): two requests of one
  consumer may need the same grant, and a revocation removes only what no request still uses.
* ``OPENBY#<consumer domain>`` / ``<request id>`` — the consumer's open requests (written
  with the request, deleted when it closes): deregistration finds the domain's own requests
  by key.
* ``CTABLE#<domain>#<central table>`` / ``META`` — which product owns a central table name,
  so a registration checks its names with one ``BatchGetItem`` whatever the domain holds.
* ``REQUEST#<id>`` / ``META`` — an access request and its grants; its state machine is
  PENDING -> APPROVED | DENIED | EXPIRED, APPROVED -> REVOKED | LINK_FAILED, each transition one
  conditional write. Indexes:

  - ``gsi1`` = ``REQSTATE#<state>`` / ``<deadline>#<id>``: the sweep reads what is due (a
    pending request's expiry, a grant's end, a revocation not finished yet) and nothing else:
    a finished revocation moves its deadline to ``NO_DEADLINE``;
  - ``gsi2`` = ``OPEN#<producer domain>#<product>`` / ``<id>``: sparse, only while the
    request is open (pending, granted, or its grants not yet released), so deprecation and
    deregistration read exactly the requests they close;
  - a finished request carries ``expires_at_epoch`` (``request_retention_days``, default 365):
    DynamoDB's TTL prunes it after the retention period.

Domain state tables use the same layout for their own items (``ACCESS``, ``LINKUSE#<db>``,
tombstones with a TTL).

It is the source of truth for audits: who asked, who decided, when and why.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from meshkit.handlers._common import aws_error_code
from meshkit.runtime.tables import TTL_ATTRIBUTE

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from meshkit.registry import DomainRecord, ProductRecord, RequestRecord
    from meshkit.runtime.context import HandlerContext

__all__ = ["NO_DEADLINE", "OPEN_STATES", "ConditionFailed", "Registry", "open_index_keys"]

_SER = TypeSerializer()
_DESER = TypeDeserializer()

#: gsi1 sort key for a state with no deadline.
NO_DEADLINE = "9999-12-31T23:59:59Z"

#: Request states still holding or awaiting something (kept in the sparse indexes).
OPEN_STATES = frozenset({"PENDING", "APPROVED"})

#: Index attributes of the open-request index, removed when a request is closed.
OPEN_INDEX_ATTRIBUTES = ("gsi2pk", "gsi2sk")


def open_index_keys(producer_domain: str, product: str, request_id: str) -> dict[str, str]:
    """The sparse-index attributes of an open request."""
    return {"gsi2pk": f"OPEN#{producer_domain}#{product}", "gsi2sk": request_id}


class ConditionFailed(Exception):
    """A conditional write found the item in another state."""


def _to_ddb(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _SER.serialize(v) for k, v in item.items() if v is not None}


def _from_ddb(item: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: _DESER.deserialize(v) for k, v in item.items()}
    # DynamoDB numbers come back as Decimal; the registry only stores integers.
    return {k: (int(v) if type(v).__name__ == "Decimal" else v) for k, v in out.items()}


class Registry:
    """Typed-enough access to the state table named by ``config.registry_table``."""

    def __init__(self, ctx: HandlerContext) -> None:
        table = ctx.config.registry_table
        if not table:
            raise RuntimeError(
                "MeshConfig.registry_table is not set: the registry handlers need it "
                "(MESHKIT_REGISTRY_TABLE)"
            )
        self.table = table
        self.ddb = ctx.client("dynamodb")

    # -- generic ---------------------------------------------------------------------------
    def get(self, pk: str, sk: str = "META") -> dict[str, Any] | None:
        response = self.ddb.get_item(
            TableName=self.table, Key=_to_ddb({"pk": pk, "sk": sk}), ConsistentRead=True
        )
        item = response.get("Item")
        return _from_ddb(item) if item else None

    def put(
        self,
        item: Mapping[str, Any],
        *,
        condition: str | None = None,
        values: Mapping[str, Any] | None = None,
        names: Mapping[str, str] | None = None,
    ) -> None:
        kwargs: dict[str, Any] = {"TableName": self.table, "Item": _to_ddb(item)}
        if condition:
            kwargs["ConditionExpression"] = condition
        if values:
            kwargs["ExpressionAttributeValues"] = _to_ddb(values)
        if names:
            kwargs["ExpressionAttributeNames"] = dict(names)
        self._write(self.ddb.put_item, kwargs)

    def put_all(
        self,
        items: list[Mapping[str, Any]],
        *,
        condition: str,
        values: Mapping[str, Any] | None = None,
        names: Mapping[str, str] | None = None,
    ) -> None:
        """Put up to 100 items at once, each under ``condition``: all or none
        (``TransactWriteItems``); ConditionFailed when any condition fails."""
        if not 0 < len(items) <= 100:
            raise ValueError("put_all writes 1 to 100 items")
        put: dict[str, Any] = {"TableName": self.table, "ConditionExpression": condition}
        if values:
            put["ExpressionAttributeValues"] = _to_ddb(values)
        if names:
            put["ExpressionAttributeNames"] = dict(names)
        try:
            self.ddb.transact_write_items(
                TransactItems=[{"Put": {**put, "Item": _to_ddb(item)}} for item in items]
            )
        except Exception as exc:
            if aws_error_code(exc) == "TransactionCanceledException":
                raise ConditionFailed(str(exc)) from exc
            raise

    def update(
        self,
        pk: str,
        changes: Mapping[str, Any],
        *,
        condition: str | None = None,
        values: Mapping[str, Any] | None = None,
        names: Mapping[str, str] | None = None,
        sk: str = "META",
        remove: tuple[str, ...] = (),
    ) -> None:
        """Set ``changes`` (None values are removed) under an optional condition."""
        names_: dict[str, str] = dict(names or {})
        vals: dict[str, Any] = dict(values or {})
        sets: list[str] = []
        removes: list[str] = []
        for i, (key, value) in enumerate(changes.items()):
            names_[f"#u{i}"] = key
            if value is None:
                removes.append(f"#u{i}")
            else:
                sets.append(f"#u{i} = :u{i}")
                vals[f":u{i}"] = value
        for j, key in enumerate(remove):
            names_[f"#r{j}"] = key
            removes.append(f"#r{j}")
        expression = ""
        if sets:
            expression += "SET " + ", ".join(sets)
        if removes:
            expression += " REMOVE " + ", ".join(removes)
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "Key": _to_ddb({"pk": pk, "sk": sk}),
            "UpdateExpression": expression.strip(),
            "ExpressionAttributeNames": names_,
        }
        if condition:
            kwargs["ConditionExpression"] = condition
        if vals:
            kwargs["ExpressionAttributeValues"] = _to_ddb(vals)
        self._write(self.ddb.update_item, kwargs)

    def delete(self, pk: str, sk: str = "META") -> None:
        self.ddb.delete_item(TableName=self.table, Key=_to_ddb({"pk": pk, "sk": sk}))

    def query_index(
        self,
        pk: str,
        *,
        before: str | None = None,
        prefix: str | None = None,
        index: str = "gsi1",
        limit: int = 100,
    ) -> Iterator[dict[str, Any]]:
        """Items of one partition of ``index`` (optionally with sort key < ``before``, or
        beginning with ``prefix``), all pages."""
        condition = f"{index}pk = :p"
        if before:
            condition += f" AND {index}sk < :b"
        elif prefix:
            condition += f" AND begins_with({index}sk, :b)"
        return self._pages(
            {
                "TableName": self.table,
                "IndexName": index,
                "KeyConditionExpression": condition,
                "ExpressionAttributeValues": _to_ddb({":p": pk, ":b": before or prefix}),
                "Limit": limit,
            }
        )

    def get_many(self, keys: list[tuple[str, str]]) -> list[dict[str, Any]]:
        """The items of up to 100 ``(pk, sk)`` keys, in one ``BatchGetItem`` (plus retries of
        what DynamoDB left unprocessed)."""
        if len(keys) > 100:
            raise ValueError("get_many reads at most 100 keys per call")
        out: list[dict[str, Any]] = []
        request: dict[str, Any] = {
            self.table: {
                "Keys": [_to_ddb({"pk": pk, "sk": sk}) for pk, sk in dict.fromkeys(keys)],
                "ConsistentRead": True,
            }
        }
        while request:
            response = self.ddb.batch_get_item(RequestItems=request)
            out.extend(_from_ddb(i) for i in response.get("Responses", {}).get(self.table, []))
            request = response.get("UnprocessedKeys") or {}
        return out

    def query_pk(self, pk: str) -> Iterator[dict[str, Any]]:
        """Every item of one partition, all pages."""
        return self._pages(
            {
                "TableName": self.table,
                "KeyConditionExpression": "pk = :p",
                "ExpressionAttributeValues": _to_ddb({":p": pk}),
                "ConsistentRead": True,
            }
        )

    def _pages(self, kwargs: dict[str, Any]) -> Iterator[dict[str, Any]]:
        while True:
            response = self.ddb.query(**kwargs)
            for item in response.get("Items", []):
                yield _from_ddb(item)
            last = response.get("LastEvaluatedKey")
            if not last:
                return
            kwargs["ExclusiveStartKey"] = last

    @staticmethod
    def _write(call: Any, kwargs: dict[str, Any]) -> None:
        try:
            call(**kwargs)
        except Exception as exc:
            if aws_error_code(exc) == "ConditionalCheckFailedException":
                raise ConditionFailed(str(exc)) from exc
            raise

    # -- domains ---------------------------------------------------------------------------
    def domain(self, name: str) -> dict[str, Any] | None:
        return self.get(f"DOMAIN#{name}")

    def domain_record(self, name: str) -> DomainRecord | None:
        """The domain as a typed record (``meshkit.registry``)."""
        from meshkit.registry import DomainRecord

        item = self.domain(name)
        return DomainRecord.model_validate(item) if item else None

    def domains_of_account(self, account: str) -> list[dict[str, Any]]:
        return list(self.query_index(f"ACCOUNT#{account}"))

    # -- products --------------------------------------------------------------------------
    def product(self, domain: str, product: str) -> dict[str, Any] | None:
        return self.get(f"PRODUCT#{domain}#{product}")

    def product_record(self, domain: str, product: str) -> ProductRecord | None:
        from meshkit.registry import ProductRecord

        item = self.product(domain, product)
        return ProductRecord.model_validate(item) if item else None

    # -- requests --------------------------------------------------------------------------
    def request_record(self, request_id: str) -> RequestRecord | None:
        from meshkit.registry import RequestRecord

        item = self.request(request_id)
        return RequestRecord.model_validate(item) if item else None

    def request(self, request_id: str) -> dict[str, Any] | None:
        return self.get(f"REQUEST#{request_id}")

    def transition(
        self,
        request_id: str,
        *,
        expected: str,
        new: str,
        changes: Mapping[str, Any],
        due: str,
        condition: str = "",
        values: Mapping[str, Any] | None = None,
        names: Mapping[str, str] | None = None,
        prune_at: int | None = None,
        consumer_domain: str | None = None,
    ) -> bool:
        """Move a request from state ``expected`` to ``new`` in one conditional write.

        ``due`` is the new state's deadline (gsi1 sort key, so the sweep finds it); extra
        ``condition`` terms are ANDed. False when the request was not in ``expected``.

        A request that keeps (or still has to release) grants stays open; one that ends
        without grants (denied, expired) leaves the open-request index and its consumer's
        ``OPENBY`` item (``consumer_domain``), and gets its TTL (``prune_at``, epoch seconds).
        Revocations close when their grants are released (:meth:`close`).
        """
        closing = new not in OPEN_STATES and new not in ("REVOKED", "LINK_FAILED")
        index: dict[str, Any] = {}
        if closing:
            index = dict.fromkeys(OPEN_INDEX_ATTRIBUTES)
            if prune_at is not None:
                index[TTL_ATTRIBUTE] = prune_at
        try:
            self.update(
                f"REQUEST#{request_id}",
                {
                    **changes,
                    **index,
                    "state": new,
                    "gsi1pk": f"REQSTATE#{new}",
                    "gsi1sk": f"{due}#{request_id}",
                },
                condition="#state = :expected" + (f" AND {condition}" if condition else ""),
                values={":expected": expected, **(values or {})},
                names={"#state": "state", **(names or {})},
            )
        except ConditionFailed:
            return False
        if closing and consumer_domain:
            self.delete(f"OPENBY#{consumer_domain}", request_id)
        return True

    def close(
        self, request_id: str, changes: Mapping[str, Any], *, prune_at: int, consumer_domain: str
    ) -> None:
        """A revoked (or refused) request released its grants: nothing is due any more, it
        leaves the open-request index and its consumer's ``OPENBY`` item, and gets its TTL."""
        self.update(
            f"REQUEST#{request_id}",
            {
                **changes,
                "gsi1sk": f"{NO_DEADLINE}#{request_id}",
                **dict.fromkeys(OPEN_INDEX_ATTRIBUTES),
                TTL_ATTRIBUTE: prune_at,
            },
        )
        self.delete(f"OPENBY#{consumer_domain}", request_id)

    def open_by(self, consumer_domain: str, request_id: str, producer_domain: str) -> None:
        """Record an open request of ``consumer_domain`` (before the request is written)."""
        self.put(
            {
                "pk": f"OPENBY#{consumer_domain}",
                "sk": request_id,
                "producer_domain": producer_domain,
            }
        )

    def requests_in_state(
        self, state: str, *, due_before: str | None = None
    ) -> list[dict[str, Any]]:
        return list(self.query_index(f"REQSTATE#{state}", before=due_before))

    def open_requests_of_product(self, domain: str, product: str) -> Iterator[dict[str, Any]]:
        """Open requests for ``domain.product``: the sparse index."""
        return self.query_index(f"OPEN#{domain}#{product}", index="gsi2")

    def open_requests_of_consumer(self, domain: str) -> Iterator[dict[str, Any]]:
        """Open requests made by consumer ``domain``: its ``OPENBY`` items, each read by key
        (one left by an interrupted write whose request does not exist is skipped)."""
        for pointer in self.query_pk(f"OPENBY#{domain}"):
            item = self.request(pointer["sk"])
            if item is not None and item.get("consumer_domain") == domain:
                yield item

    # -- shared grants ---------------------------------------------------------------------
    @staticmethod
    def grant_units(grants: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
        """Each grant split into one unit per permission, keyed canonically: two requests
        granting the same permission to the same principal on the same resource share it."""
        units: dict[str, dict[str, Any]] = {}
        for g in grants:
            for permission in g["permissions"]:
                grantable = permission in (g.get("grantable") or [])
                unit = {
                    "principal": g["principal"],
                    "resource": g["resource"],
                    "permissions": [permission],
                    "grantable": [permission] if grantable else [],
                }
                key = json.dumps(
                    [g["principal"], g["resource"], permission, grantable],
                    sort_keys=True,
                    separators=(",", ":"),
                )
                units[key] = unit
        return list(units.items())

    def hold_grants(self, scope: str, grants: list[dict[str, Any]], request_id: str) -> None:
        """Record that ``request_id`` relies on ``grants`` (idempotent: a set add)."""
        self.hold(f"GRANTUSE#{scope}", [key for key, _unit in self.grant_units(grants)], request_id)

    def hold(self, pk: str, units: list[str], request_id: str) -> None:
        """Add ``request_id`` to the users of each unit (``pk`` / unit): one write per unit."""
        for key in units:
            self.ddb.update_item(
                TableName=self.table,
                Key=_to_ddb({"pk": pk, "sk": key}),
                UpdateExpression="ADD #u :r",
                ExpressionAttributeNames={"#u": "users"},
                ExpressionAttributeValues={":r": {"SS": [request_id]}},
            )

    def release(self, pk: str, units: list[str], request_id: str) -> list[str]:
        """Drop ``request_id`` from the users of each unit; the units nobody uses any more."""
        free: list[str] = []
        for key in units:
            answer = self.ddb.update_item(
                TableName=self.table,
                Key=_to_ddb({"pk": pk, "sk": key}),
                UpdateExpression="DELETE #u :r",
                ExpressionAttributeNames={"#u": "users"},
                ExpressionAttributeValues={":r": {"SS": [request_id]}},
                ReturnValues="ALL_NEW",
            )
            if not answer.get("Attributes", {}).get("users"):
                free.append(key)
        return free

    def release_grants(
        self, scope: str, grants: list[dict[str, Any]], request_id: str
    ) -> list[dict[str, Any]]:
        """Drop ``request_id`` from the users of ``grants``; returns the units no active
        request uses any more (the ones to revoke). One write per unit, whatever the mesh size.

        A unit never held (granted before the counting existed) is released at once.
        """
        units = dict(self.grant_units(grants))
        free = self.release(f"GRANTUSE#{scope}", list(units), request_id)
        return [units[key] for key in free]
