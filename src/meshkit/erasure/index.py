"""The subject index: which objects hold which identifier value, kept current by S3 events.

One DynamoDB table per domain (``meshkit.runtime.tables.SUBJECT_INDEX_TABLE``):

* ``TABLE`` / ``<location>`` — a product table's subject columns (from ``ProductRegistered``),
  so that an S3 event under the location knows what to index;
* ``OBJ#<uri>`` / ``META`` — what was indexed of one object: its ETag and version;
* ``SUBJ#<hash>`` / ``<uri>`` — a *posting*: the object holds rows with this identifier value
  (``hash`` is ``value_hash(secret, identifier, value)``, never the value), with ``gsi1`` =
  ``OBJ#<uri>`` so that an object's postings can be dropped when it changes or goes.

An object counts as indexed only at the ETag its ``META`` names: the find compares it with the
ETag a listing returns, so a stale or missing entry (an event not delivered yet, an object older
than the index) makes the find read that object instead of trusting the index.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from meshkit.erasure.subjects import value_hash

if TYPE_CHECKING:
    from collections import Counter
    from collections.abc import Iterable, Iterator, Mapping

__all__ = ["IndexedObject", "SubjectIndex"]

_BATCH = 25
_GET_BATCH = 100


@dataclass(frozen=True)
class IndexedObject:
    uri: str
    etag: str
    version_id: str | None
    rows: int


def _s(value: str) -> dict[str, str]:
    return {"S": value}


class SubjectIndex:
    """Reads and writes one domain's subject index table."""

    def __init__(self, ddb: Any, table: str, secret: str | bytes) -> None:
        self.ddb = ddb
        self.table = table
        self.secret = secret

    # -- tables ----------------------------------------------------------------------------
    def put_table(self, location: str, subject_columns: Mapping[str, str], product: str) -> None:
        columns = {k: _s(v) for k, v in sorted(subject_columns.items())}
        self.ddb.put_item(
            TableName=self.table,
            Item={
                "pk": _s("TABLE"),
                "sk": _s(location),
                "product": _s(product),
                "subject_columns": {"M": columns},
            },
        )

    def table_for(self, uri: str) -> tuple[str, dict[str, str]] | None:
        """The registered table whose location holds ``uri`` (the longest match)."""
        best: tuple[str, dict[str, str]] | None = None
        for item in self._query({"pk": "TABLE"}):
            location = item["sk"]["S"]
            if uri.startswith(location if location.endswith("/") else location + "/") and (
                best is None or len(location) > len(best[0])
            ):
                columns = {k: v["S"] for k, v in item["subject_columns"]["M"].items()}
                best = (location, columns)
        return best

    # -- objects ---------------------------------------------------------------------------
    def hash(self, identifier: str, value: str) -> str:
        return value_hash(self.secret, identifier, value)

    def indexed(self, uris: Iterable[str]) -> dict[str, IndexedObject]:
        """What the index holds of these objects (BatchGetItem, 100 per call)."""
        wanted = list(dict.fromkeys(uris))
        out: dict[str, IndexedObject] = {}
        for start in range(0, len(wanted), _GET_BATCH):
            keys = [
                {"pk": _s(f"OBJ#{u}"), "sk": _s("META")} for u in wanted[start : start + _GET_BATCH]
            ]
            request: dict[str, Any] = {self.table: {"Keys": keys, "ConsistentRead": True}}
            for attempt in range(10):
                if attempt:
                    time.sleep(min(0.05 * 2**attempt, 2.0))
                answer = self.ddb.batch_get_item(RequestItems=request)
                for item in answer.get("Responses", {}).get(self.table, []):
                    uri = item["pk"]["S"].removeprefix("OBJ#")
                    out[uri] = IndexedObject(
                        uri,
                        item["etag"]["S"],
                        item.get("version_id", {}).get("S"),
                        int(item["rows"]["N"]),
                    )
                request = answer.get("UnprocessedKeys") or {}
                if not request:
                    break
        return out

    def postings(self, identifier: str, value: str) -> dict[str, str]:
        """Objects holding ``identifier`` = ``value``: uri -> the ETag they were indexed at."""
        pk = f"SUBJ#{self.hash(identifier, value)}"
        return {item["sk"]["S"]: item["etag"]["S"] for item in self._query({"pk": pk})}

    def record(
        self,
        uri: str,
        *,
        etag: str,
        version_id: str | None,
        rows: int,
        values: Mapping[str, Counter[str]],
        subject_columns: Mapping[str, str],
    ) -> int:
        """Index one object version: its postings replace the previous version's. Returns
        how many postings it has. Idempotent: the same version gives the same items."""
        by_column = {column: identifier for identifier, column in subject_columns.items()}
        postings: dict[str, int] = {}
        for column, counts in values.items():
            identifier = by_column.get(column)
            if identifier is None:
                continue
            for value, n in counts.items():
                postings[self.hash(identifier, value)] = (
                    postings.get(self.hash(identifier, value), 0) + n
                )
        old = {item["gsi1sk"]["S"] for item in self._query({"gsi1pk": f"OBJ#{uri}"}, index=True)}
        writes: list[dict[str, Any]] = [
            {
                "PutRequest": {
                    "Item": {
                        "pk": _s(f"SUBJ#{h}"),
                        "sk": _s(uri),
                        "gsi1pk": _s(f"OBJ#{uri}"),
                        "gsi1sk": _s(h),
                        "etag": _s(etag),
                        "rows": {"N": str(n)},
                    }
                }
            }
            for h, n in sorted(postings.items())
        ]
        writes += [
            {"DeleteRequest": {"Key": {"pk": _s(f"SUBJ#{h}"), "sk": _s(uri)}}}
            for h in sorted(old - set(postings))
        ]
        self._batch(writes)
        meta: dict[str, Any] = {
            "pk": _s(f"OBJ#{uri}"),
            "sk": _s("META"),
            "etag": _s(etag),
            "rows": {"N": str(rows)},
            "postings": {"N": str(len(postings))},
        }
        if version_id:
            meta["version_id"] = _s(version_id)
        # The META last: until it names this ETag, the find does not trust the postings.
        self.ddb.put_item(TableName=self.table, Item=meta)
        return len(postings)

    def drop(self, uri: str) -> int:
        """Forget an object (deleted, or no longer under a table); returns postings removed."""
        self.ddb.delete_item(TableName=self.table, Key={"pk": _s(f"OBJ#{uri}"), "sk": _s("META")})
        old = [item["gsi1sk"]["S"] for item in self._query({"gsi1pk": f"OBJ#{uri}"}, index=True)]
        self._batch(
            [{"DeleteRequest": {"Key": {"pk": _s(f"SUBJ#{h}"), "sk": _s(uri)}}} for h in old]
        )
        return len(old)

    # -- plumbing --------------------------------------------------------------------------
    def _query(self, key: Mapping[str, str], *, index: bool = False) -> Iterator[dict[str, Any]]:
        ((name, value),) = key.items()
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "#k = :v",
            "ExpressionAttributeNames": {"#k": name},
            "ExpressionAttributeValues": {":v": _s(value)},
        }
        if index:
            kwargs["IndexName"] = "gsi1"
        else:
            kwargs["ConsistentRead"] = True
        while True:
            answer = self.ddb.query(**kwargs)
            yield from answer.get("Items", [])
            last = answer.get("LastEvaluatedKey")
            if not last:
                return
            kwargs["ExclusiveStartKey"] = last

    def _batch(self, writes: list[dict[str, Any]]) -> None:
        for start in range(0, len(writes), _BATCH):
            request: dict[str, Any] = {self.table: writes[start : start + _BATCH]}
            for attempt in range(10):
                if attempt:
                    time.sleep(min(0.05 * 2**attempt, 2.0))
                answer = self.ddb.batch_write_item(RequestItems=request)
                request = answer.get("UnprocessedItems") or {}
                if not request:
                    break
            else:
                raise RuntimeError(
                    f"subject index {self.table}: DynamoDB left writes unprocessed after 10 "
                    "tries (throttled); the event is retried"
                )
