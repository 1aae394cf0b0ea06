"""The central registry (and each domain's own state): one DynamoDB table, single-table design.

Items (``pk`` / ``sk``):

* ``DOMAIN#<name>`` / ``META`` — a domain: account, storage prefix, sharing mode, status;
  ``gsi1`` = ``ACCOUNT#<account>`` so one account can be looked up to its domains.
* ``PRODUCT#<domain>#<product>`` / ``META`` — a product: tables, classification, status,
  schema from the last crawl, ``version`` for optimistic locking.
* ``REQUEST#<id>`` / ``META`` — an access request and its grants; its state machine is
  PENDING -> APPROVED | DENIED | EXPIRED, APPROVED -> REVOKED, each transition one conditional
  write; ``gsi1`` = ``REQSTATE#<state>`` / ``<deadline>#<id>`` so the sweep finds what expires.

It is the source of truth for audits: who asked, who decided, when and why.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from meshkit.handlers._common import aws_error_code

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from meshkit.registry import DomainRecord, ProductRecord, RequestRecord
    from meshkit.runtime.context import HandlerContext

__all__ = ["ConditionFailed", "Registry"]

_SER = TypeSerializer()
_DESER = TypeDeserializer()

#: gsi1 sort key for a state with no deadline.
NO_DEADLINE = "9999-12-31T23:59:59Z"


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
        self, gsi1pk: str, *, before: str | None = None, limit: int = 100
    ) -> Iterator[dict[str, Any]]:
        """Items of one gsi1 partition (optionally with gsi1sk < ``before``), all pages."""
        return self._pages(
            {
                "TableName": self.table,
                "IndexName": "gsi1",
                "KeyConditionExpression": "gsi1pk = :p" + (" AND gsi1sk < :b" if before else ""),
                "ExpressionAttributeValues": _to_ddb({":p": gsi1pk, ":b": before}),
                "Limit": limit,
            }
        )

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
    ) -> bool:
        """Move a request from state ``expected`` to ``new`` in one conditional write.

        ``due`` is the new state's deadline (gsi1 sort key, so the sweep finds it); extra
        ``condition`` terms are ANDed. False when the request was not in ``expected``.
        """
        try:
            self.update(
                f"REQUEST#{request_id}",
                {
                    **changes,
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
        return True

    def requests_in_state(
        self, state: str, *, due_before: str | None = None
    ) -> list[dict[str, Any]]:
        return list(self.query_index(f"REQSTATE#{state}", before=due_before))
