"""Row filter expressions: the PartiQL subset is parsed; only SQL written from the parse runs."""

from __future__ import annotations

import pytest

from meshkit.local.lake._aws import LakeClientError
from meshkit.local.lake.filters import ReadView, combined_select, parse_expression


@pytest.mark.parametrize(
    ("expression", "sql", "columns"),
    [
        ("country = 'DE'", "(\"country\" = 'DE')", {"country"}),
        ("10 < amount", '(10 < "amount")', {"amount"}),
        ("a != 1 AND NOT b IS NULL", '(("a" <> 1) AND (NOT ("b" IS NULL)))', {"a", "b"}),
        (
            "x BETWEEN 1 AND 2 OR y NOT IN ('a', 'b')",
            "((\"x\" BETWEEN 1 AND 2) OR (\"y\" NOT IN ('a', 'b')))",
            {"x", "y"},
        ),
        ("name LIKE 'O''%'", "(\"name\" LIKE 'O''%')", {"name"}),
        ('"odd "" name".inner = TRUE', '("odd "" name"."inner" = TRUE)', {'odd " name'}),
        ("(a = 1)", '("a" = 1)', {"a"}),
    ],
)
def test_the_subset_parses_to_sql_written_from_the_parse(
    expression: str, sql: str, columns: set[str]
) -> None:
    parsed = parse_expression(expression)
    assert parsed.sql == sql
    assert parsed.columns == columns


@pytest.mark.parametrize(
    "expression",
    [
        "a = 1; SELECT 1",
        "a IN (SELECT b FROM t)",
        "(SELECT 1) = 1",
        "upper(a) = 'X'",
        "a = b",
        "1 = 1",
        "a = 1 --",
        "a = 1 /* x */",
        "a LIKE b",
        "a IS 1",
        "a = 'unterminated",
        "",
        "a = 1 OR",
        "a" * 3000 + " = 1",
    ],
)
def test_anything_else_is_invalid_input(expression: str) -> None:
    with pytest.raises(LakeClientError) as refused:
        parse_expression(expression)
    assert refused.value.code == "InvalidInputException"


def test_filters_combine_cell_by_cell() -> None:
    web = ReadView("(\"c\" = 'web')", None, frozenset({"secret"}))
    app = ReadView("(\"c\" = 'app')", frozenset({"c"}))
    sql = combined_select("src", ["c", "secret", "n"], [web, app])
    assert sql == (
        'SELECT "c", CASE WHEN (("c" = \'web\')) THEN "n" END AS "n" FROM src '
        "WHERE ((\"c\" = 'web') OR (\"c\" = 'app'))"
    )
    # A view of all rows lifts the row filter and shows its columns everywhere; the other
    # view's columns stay NULL outside its rows.
    everything = ReadView(None, frozenset({"n"}))
    assert combined_select("src", ["c", "n"], [app, everything]) == (
        'SELECT CASE WHEN (("c" = \'app\')) THEN "c" END AS "c", "n" FROM src'
    )
    assert combined_select("src", ["c"], [ReadView(None, frozenset({"x"}))]) is None
