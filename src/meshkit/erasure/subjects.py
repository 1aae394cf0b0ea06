"""Data subjects as the purge engine sees them: match keys mapped onto one table's columns, and
the keyed hash that stands for a subject wherever its values must not be kept.

A *match key* names one or more identifiers and their values (``{"customer_id": "42"}``, or a
composite ``{"first_name": "Ada", "birth_date": "1815-12-10"}``). A table declares which of its
columns holds which identifier (``subject_columns``); a key applies to the table when every
identifier it names is mapped, and a row matches when all of the key's columns equal its values
(compared as text). A row matching any applicable key is the subject's. Standard library only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

__all__ = ["MatchGroup", "Matcher", "canonical_text", "keyed_hash", "matcher_for"]


def canonical_text(value: object) -> str | None:
    """How a cell value compares with a match value: its text, ``None`` never matches."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


@dataclass(frozen=True)
class MatchGroup:
    """Keys naming the same columns: a row matches when its tuple of texts is in ``values``."""

    columns: tuple[str, ...]
    values: frozenset[tuple[str, ...]]


@dataclass(frozen=True)
class Matcher:
    """Every key that applies to one table, grouped by the columns they compare."""

    groups: tuple[MatchGroup, ...] = field(default_factory=tuple)

    @property
    def columns(self) -> list[str]:
        """The table columns a scan must read, in first-use order."""
        seen: dict[str, None] = {}
        for g in self.groups:
            for c in g.columns:
                seen.setdefault(c, None)
        return list(seen)

    def __bool__(self) -> bool:
        return bool(self.groups)

    def matches(self, row: Mapping[str, object]) -> bool:
        """Whether one row (column -> value) is the subject's."""
        for g in self.groups:
            texts = tuple(canonical_text(row.get(c)) for c in g.columns)
            if None not in texts and texts in g.values:
                return True
        return False


def matcher_for(keys: Sequence[Mapping[str, str]], subject_columns: Mapping[str, str]) -> Matcher:
    """The keys that apply to a table whose ``subject_columns`` map identifier -> column."""
    grouped: dict[tuple[str, ...], set[tuple[str, ...]]] = {}
    for key in keys:
        if not key or not all(ident in subject_columns for ident in key):
            continue
        idents = tuple(sorted(key))
        columns = tuple(subject_columns[i] for i in idents)
        grouped.setdefault(columns, set()).add(tuple(str(key[i]) for i in idents))
    return Matcher(tuple(MatchGroup(c, frozenset(v)) for c, v in sorted(grouped.items())))


def keyed_hash(secret: str | bytes, keys: Iterable[Mapping[str, str]]) -> str:
    """HMAC-SHA256 of the canonical form of ``keys``: proves which subject an erasure was for,
    to whoever holds the secret and the identifiers, without storing the identifiers."""
    canonical = json.dumps(
        sorted(json.dumps(dict(sorted(k.items())), separators=(",", ":")) for k in keys),
        separators=(",", ":"),
    )
    secret_bytes = secret.encode() if isinstance(secret, str) else secret
    return "hmac-sha256:" + hmac.new(secret_bytes, canonical.encode(), hashlib.sha256).hexdigest()


def value_hash(secret: str | bytes, identifier: str, value: str) -> str:
    """The subject index's key for one identifier value (never the value itself)."""
    secret_bytes = secret.encode() if isinstance(secret, str) else secret
    digest = hmac.new(secret_bytes, f"{identifier}\x1f{value}".encode(), hashlib.sha256)
    return digest.hexdigest()[:40]


__all__ += ["value_hash"]
