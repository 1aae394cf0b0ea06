"""Data-cells filters: the store moto lacks, the row-expression parser, and how grants combine.

moto has no CreateDataCellsFilter/Get/List/Update/Delete; this store answers them with Lake
Formation's shapes and errors. A filter is kept per (table catalog, database, table, name).

Row filter expressions are Lake Formation's PartiQL subset (research §A.1): comparisons
(``= <> != < > <= >=``) of a column with a literal, ``[NOT] BETWEEN``, ``[NOT] IN (...)``,
``[NOT] LIKE``, ``IS [NOT] NULL``, ``NOT``, ``AND``, ``OR`` and parentheses; no functions, no
column-to-column comparison, no subqueries, no statements. The expression is parsed at
CreateDataCellsFilter (anything else is ``InvalidInputException``) and the query engine only
ever runs the SQL this module writes from the parsed form, never the admin's text, so the
DuckDB sandbox stays closed.

Several filters granted to one principal on one table combine as cell-level security: a row
is returned when any filter's expression holds for it, and a column's value in that row is
returned when a filter that holds for the row includes the column; the table's other cells
read NULL. A plain table or column grant counts as a filter of all rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from meshkit.local.lake._aws import LakeClientError

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

__all__ = [
    "CellsFilter",
    "FilterStore",
    "ReadView",
    "combined_select",
    "parse_expression",
]

#: Lake Formation's maximum length of a FilterExpression (API model).
MAX_EXPRESSION = 2048
_NAME = re.compile(r"\A[\u0020-\uD7FF\uE000-\uFFFD\t]{1,255}\Z")
_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<string>'(?:[^']|'')*')
  | (?P<number>-?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?)
  | (?P<quoted>"(?:[^"]|"")+")
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op><>|!=|<=|>=|=|<|>)
  | (?P<punct>[(),.])
    """,
    re.VERBOSE,
)
_KEYWORDS = frozenset({"AND", "OR", "NOT", "BETWEEN", "IN", "LIKE", "IS", "NULL", "TRUE", "FALSE"})


def _invalid(expression: str, why: str) -> LakeClientError:
    return LakeClientError(
        "InvalidInputException",
        f"Invalid row filter expression {expression!r}: {why}. Use comparisons of a column with "
        "a literal joined by AND/OR (PartiQL subset: = <> != < > <= >= BETWEEN IN LIKE "
        "IS [NOT] NULL NOT); functions, subqueries and statements are not allowed.",
    )


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str


def _tokens(expression: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    while pos < len(expression):
        found = _TOKEN.match(expression, pos)
        if found is None:
            raise _invalid(expression, f"unexpected {expression[pos]!r} at position {pos + 1}")
        kind = found.lastgroup or ""
        text = found.group()
        pos = found.end()
        if kind == "space":
            continue
        if kind == "word" and text.upper() in _KEYWORDS:
            out.append(_Tok("kw", text.upper()))
        else:
            out.append(_Tok(kind, text))
    return out


# The parsed form: nested tuples the compiler turns into SQL.
#   ("or", a, b) ("and", a, b) ("not", a)
#   ("cmp", op, column, literal, column_first) ("between", negated, column, low, high)
#   ("in", negated, column, (literals...)) ("like", negated, column, pattern)
#   ("null", negated, column)
# A column is a tuple of name parts (a struct field is "s.f"); a literal is SQL text.
Node = tuple[Any, ...]


class _Parser:
    def __init__(self, expression: str) -> None:
        self.expression = expression
        self.toks = _tokens(expression)
        self.i = 0
        self.columns: set[str] = set()

    def peek(self, offset: int = 0) -> _Tok | None:
        j = self.i + offset
        return self.toks[j] if j < len(self.toks) else None

    def take(self) -> _Tok:
        tok = self.peek()
        if tok is None:
            raise _invalid(self.expression, "it ends too early")
        self.i += 1
        return tok

    def keyword(self, word: str) -> bool:
        tok = self.peek()
        if tok is not None and tok.kind == "kw" and tok.text == word:
            self.i += 1
            return True
        return False

    def expect(self, kind: str, text: str | None = None) -> _Tok:
        tok = self.take()
        if tok.kind != kind or (text is not None and tok.text != text):
            raise _invalid(self.expression, f"expected {text or kind}, found {tok.text!r}")
        return tok

    def parse(self) -> Node:
        if not self.toks:
            raise _invalid(self.expression, "it is empty")
        node = self.disjunction()
        tok = self.peek()
        if tok is not None:
            raise _invalid(self.expression, f"unexpected {tok.text!r} after the expression")
        return node

    def disjunction(self) -> Node:
        node = self.conjunction()
        while self.keyword("OR"):
            node = ("or", node, self.conjunction())
        return node

    def conjunction(self) -> Node:
        node = self.negation()
        while self.keyword("AND"):
            node = ("and", node, self.negation())
        return node

    def negation(self) -> Node:
        if self.keyword("NOT"):
            return ("not", self.negation())
        return self.predicate()

    def predicate(self) -> Node:
        tok = self.peek()
        if tok is not None and tok.kind == "punct" and tok.text == "(":
            self.take()
            inner = self.peek()
            if inner is not None and inner.kind == "word" and inner.text.upper() == "SELECT":
                raise _invalid(self.expression, "subqueries are not allowed")
            node = self.disjunction()
            self.expect("punct", ")")
            return node
        left = self.operand()
        negated = self.keyword("NOT")
        if self.keyword("BETWEEN"):
            column = self.need_column(left)
            low = self.literal()
            if not self.keyword("AND"):
                raise _invalid(self.expression, "BETWEEN needs AND")
            return ("between", negated, column, low, self.literal())
        if self.keyword("IN"):
            column = self.need_column(left)
            self.expect("punct", "(")
            values = [self.literal()]
            while self.peek() is not None and self.peek() == _Tok("punct", ","):
                self.take()
                values.append(self.literal())
            self.expect("punct", ")")
            return ("in", negated, column, tuple(values))
        if self.keyword("LIKE"):
            column = self.need_column(left)
            pattern = self.literal()
            if not pattern.startswith("'"):
                raise _invalid(self.expression, "LIKE needs a string pattern")
            return ("like", negated, column, pattern)
        if negated:
            raise _invalid(self.expression, "NOT must be followed by BETWEEN, IN or LIKE here")
        if self.keyword("IS"):
            column = self.need_column(left)
            is_not = self.keyword("NOT")
            if not self.keyword("NULL"):
                raise _invalid(self.expression, "IS needs [NOT] NULL")
            return ("null", is_not, column)
        op = self.take()
        if op.kind != "op":
            raise _invalid(self.expression, f"expected a comparison, found {op.text!r}")
        right = self.operand()
        if isinstance(left, tuple) == isinstance(right, tuple):
            raise _invalid(self.expression, "a comparison needs one column and one literal")
        if isinstance(left, tuple):
            return ("cmp", "<>" if op.text == "!=" else op.text, left, right, True)
        assert isinstance(right, tuple)
        return ("cmp", "<>" if op.text == "!=" else op.text, right, left, False)

    def need_column(self, operand: tuple[str, ...] | str) -> tuple[str, ...]:
        if not isinstance(operand, tuple):
            raise _invalid(self.expression, "the left side must be a column")
        return operand

    def operand(self) -> tuple[str, ...] | str:
        tok = self.peek()
        if tok is not None and tok.kind in {"word", "quoted"}:
            return self.column()
        return self.literal()

    def column(self) -> tuple[str, ...]:
        parts = [self.identifier()]
        while self.peek() == _Tok("punct", "."):
            self.take()
            parts.append(self.identifier())
        nxt = self.peek()
        if nxt == _Tok("punct", "("):
            raise _invalid(self.expression, f"functions are not allowed ({parts[-1]}(...))")
        self.columns.add(parts[0])
        return tuple(parts)

    def identifier(self) -> str:
        tok = self.take()
        if tok.kind == "word":
            return tok.text
        if tok.kind == "quoted":
            return tok.text[1:-1].replace('""', '"')
        raise _invalid(self.expression, f"expected a column name, found {tok.text!r}")

    def literal(self) -> str:
        tok = self.take()
        if tok.kind in {"string", "number"}:
            return tok.text
        if tok.kind == "kw" and tok.text in {"TRUE", "FALSE"}:
            return tok.text
        raise _invalid(self.expression, f"expected a literal, found {tok.text!r}")


@dataclass(frozen=True)
class Predicate:
    """A parsed row filter expression: its SQL (written by this module) and the columns it
    reads (top-level names)."""

    sql: str
    columns: frozenset[str]


def parse_expression(expression: str) -> Predicate:
    """Parse a FilterExpression; ``InvalidInputException`` for anything outside the subset."""
    if len(expression) > MAX_EXPRESSION:
        raise _invalid(expression[:40] + "...", f"it is longer than {MAX_EXPRESSION} characters")
    parser = _Parser(expression)
    node = parser.parse()
    return Predicate(_sql(node), frozenset(parser.columns))


def _ident(column: tuple[str, ...]) -> str:
    return ".".join('"' + part.replace('"', '""') + '"' for part in column)


def _sql(node: Node) -> str:
    kind = node[0]
    if kind in {"or", "and"}:
        return f"({_sql(node[1])} {kind.upper()} {_sql(node[2])})"
    if kind == "not":
        return f"(NOT {_sql(node[1])})"
    if kind == "cmp":
        _, op, column, literal, column_first = node
        return (
            f"({_ident(column)} {op} {literal})"
            if column_first
            else f"({literal} {op} {_ident(column)})"
        )
    neg = "NOT " if node[1] else ""
    column = _ident(node[2])
    if kind == "between":
        return f"({column} {neg}BETWEEN {node[3]} AND {node[4]})"
    if kind == "in":
        return f"({column} {neg}IN ({', '.join(node[3])}))"
    if kind == "like":
        return f"({column} {neg}LIKE {node[3]})"
    return f"({column} IS {neg}NULL)"


@dataclass(frozen=True)
class CellsFilter:
    """One stored data-cells filter (``TableData`` as the API spells it, VersionId filled)."""

    catalog: str
    database: str
    table: str
    name: str
    #: None: AllRowsWildcard.
    expression: str | None
    predicate: Predicate | None
    #: ColumnNames, or None for a ColumnWildcard.
    columns: tuple[str, ...] | None
    excluded: tuple[str, ...]
    version: str

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.catalog, self.database, self.table, self.name)

    def as_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "TableCatalogId": self.catalog,
            "DatabaseName": self.database,
            "TableName": self.table,
            "Name": self.name,
            "RowFilter": (
                {"AllRowsWildcard": {}}
                if self.expression is None
                else {"FilterExpression": self.expression}
            ),
            "VersionId": self.version,
        }
        if self.columns is not None:
            out["ColumnNames"] = list(self.columns)
        else:
            out["ColumnWildcard"] = {"ExcludedColumnNames": list(self.excluded)}
        return out

    def view(self) -> ReadView:
        return ReadView(
            self.predicate.sql if self.predicate else None,
            frozenset(self.columns) if self.columns is not None else None,
            frozenset(self.excluded),
        )


@dataclass(frozen=True)
class ReadView:
    """What one read grant shows: rows (SQL predicate, None for all) and columns."""

    predicate: str | None
    #: None: every column but ``excluded``.
    columns: frozenset[str] | None
    excluded: frozenset[str] = frozenset()

    def shows(self, column: str) -> bool:
        if self.columns is not None:
            return column in self.columns
        return column not in self.excluded


def combined_select(source: str, columns: Iterable[str], views: list[ReadView]) -> str | None:
    """The SELECT over ``source`` that shows what ``views`` allow together (cell-level).

    None when no view shows any row. Columns no view shows are left out; a column some views
    show is NULL in the rows only the other views let through.
    """
    if not views:
        return None
    items: list[str] = []
    for column in columns:
        showing = [v for v in views if v.shows(column)]
        if not showing:
            continue
        quoted = '"' + column.replace('"', '""') + '"'
        # Shown in every returned row: by a view of all rows, or by every view there is.
        if any(v.predicate is None for v in showing) or len(showing) == len(views):
            items.append(quoted)
        else:
            items.append(f"CASE WHEN {_any(showing)} THEN {quoted} END AS {quoted}")
    if not items:
        return None
    where = "" if any(v.predicate is None for v in views) else f" WHERE {_any(views)}"
    return f"SELECT {', '.join(items)} FROM {source}{where}"


def _any(views: list[ReadView]) -> str:
    return "(" + " OR ".join(str(v.predicate) for v in views) + ")"


class FilterStore:
    """Data-cells filters of every catalog, with the API's errors."""

    def __init__(self) -> None:
        self._filters: dict[tuple[str, str, str, str], CellsFilter] = {}
        self._versions = 0

    def get(self, catalog: str, database: str, table: str, name: str) -> CellsFilter | None:
        return self._filters.get((catalog, database, table, name))

    def require(self, catalog: str, database: str, table: str, name: str) -> CellsFilter:
        found = self.get(catalog, database, table, name)
        if found is None:
            raise LakeClientError(
                "EntityNotFoundException",
                f"Data cells filter {name} on {catalog}:{database}.{table} does not exist.",
            )
        return found

    def put(
        self, data: Mapping[str, Any], catalog: str, table_columns: list[str], *, create: bool
    ) -> CellsFilter:
        """Create or replace a filter from ``TableData``, validated against the table."""
        database = str(data.get("DatabaseName") or "")
        table = str(data.get("TableName") or "")
        name = str(data.get("Name") or "")
        for label, value in (("DatabaseName", database), ("TableName", table), ("Name", name)):
            if not _NAME.match(value):
                raise LakeClientError(
                    "InvalidInputException", f"TableData.{label} must be 1 to 255 characters."
                )
        existing = self.get(catalog, database, table, name)
        if create and existing is not None:
            raise LakeClientError(
                "AlreadyExistsException",
                f"Data cells filter {name} already exists on {catalog}:{database}.{table}.",
            )
        if not create and existing is None:
            self.require(catalog, database, table, name)
        row = data.get("RowFilter") or {}
        if ("FilterExpression" in row) == ("AllRowsWildcard" in row):
            raise LakeClientError(
                "InvalidInputException",
                "TableData.RowFilter needs exactly one of FilterExpression or AllRowsWildcard.",
            )
        known = set(table_columns)
        expression: str | None = None
        predicate: Predicate | None = None
        if "FilterExpression" in row:
            expression = str(row["FilterExpression"])
            predicate = parse_expression(expression)
            unknown = sorted(predicate.columns - known)
            if unknown:
                raise _invalid(expression, f"no column {', '.join(unknown)} in {database}.{table}")
        names = data.get("ColumnNames")
        wildcard = data.get("ColumnWildcard")
        if (names is None) == (wildcard is None):
            raise LakeClientError(
                "InvalidInputException",
                "TableData needs exactly one of ColumnNames or ColumnWildcard.",
            )
        columns = tuple(str(c) for c in names) if names is not None else None
        excluded = tuple(str(c) for c in (wildcard or {}).get("ExcludedColumnNames") or ())
        unknown = sorted((set(columns or ()) | set(excluded)) - known)
        if columns is not None and not columns:
            raise LakeClientError("InvalidInputException", "TableData.ColumnNames is empty.")
        if unknown:
            raise LakeClientError(
                "InvalidInputException",
                f"Column(s) {', '.join(unknown)} do not exist in {catalog}:{database}.{table}.",
            )
        self._versions += 1
        stored = CellsFilter(
            catalog,
            database,
            table,
            name,
            expression,
            predicate,
            columns,
            excluded,
            str(self._versions),
        )
        self._filters[stored.key] = stored
        return stored

    def delete(self, catalog: str, database: str, table: str, name: str) -> CellsFilter:
        found = self.require(catalog, database, table, name)
        del self._filters[found.key]
        return found

    def forget(self, catalog: str, database: str, table: str | None) -> None:
        """A deleted table (or database) takes its filters with it."""
        for key in list(self._filters):
            if key[:2] == (catalog, database) and (table is None or key[2] == table):
                del self._filters[key]

    def listed(
        self, catalog: str, database: str | None = None, table: str | None = None
    ) -> list[CellsFilter]:
        """Filters of one catalog (of a database, of a table), in a stable order."""
        return [
            f
            for key, f in sorted(self._filters.items())
            if key[0] == catalog
            and (database is None or key[1] == database)
            and (table is None or key[2] == table)
        ]
