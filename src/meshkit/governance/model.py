"""The personas file: personas, their principals and rules; loading with line/column errors.

A file is YAML (``.yaml``/``.yml``), TOML (``.toml``) or JSON (``.json``; what a deployed
mesh keeps in its SSM parameter, :func:`dumps_compact`). Validation errors name the place in
the file: ``personas.yaml:12:9: personas[0].rules[1].processing_record: ...``. The JSON Schema
of the file is :func:`json_schema` (published as ``docs/permissions.schema.json``).
"""

from __future__ import annotations

import fnmatch
import json
import re
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

__all__ = [
    "SSM_ADVANCED_LIMIT",
    "SSM_STANDARD_LIMIT",
    "ColumnSelection",
    "Persona",
    "PersonasFile",
    "PersonasFileError",
    "ProcessingRecord",
    "Rule",
    "dumps_compact",
    "json_schema",
    "load",
    "loads",
    "parameter_tier",
]

#: What one SSM parameter value holds, in bytes: a standard parameter, an advanced one.
SSM_STANDARD_LIMIT = 4096
SSM_ADVANCED_LIMIT = 8192

#: Lake Formation's permission enum (research §A.1); a file naming anything else is refused.
Permission = Literal[
    "ALL",
    "SELECT",
    "ALTER",
    "DROP",
    "DELETE",
    "INSERT",
    "DESCRIBE",
    "CREATE_TABLE",
]

_ALL_IMPLIES = {"SELECT", "ALTER", "DROP", "DELETE", "INSERT", "DESCRIBE", "CREATE_TABLE"}
_ACCOUNT = re.compile(r"\A[0-9]{12}\Z")
_ROLE = re.compile(
    r"\Aarn:aws(?:-cn|-us-gov|-iso|-iso-b)?:iam::[0-9]{12}:(role|user)/[\w+=,.@/-]{1,512}\Z",
    re.ASCII,
)
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
_TAG = re.compile(r"^[a-z0-9_.:/=+@-]{1,50}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProcessingRecord(_Strict):
    """The documented record of processing a grant of personal data needs (GDPR art. 30)."""

    purpose: str = Field(min_length=3, max_length=500, description="Why the data is processed.")
    legal_basis: str = Field(
        min_length=3, max_length=200, description="e.g. 'art. 6(1)(f) legitimate interest'."
    )
    owner: str = Field(min_length=1, max_length=200, description="Who answers for it.")
    review_date: date = Field(description="When the record is next reviewed (ISO date).")


class ColumnSelection(_Strict):
    """Columns of the matched tables: an include list or an exclude list, not both."""

    include: list[str] | None = Field(default=None, min_length=1, max_length=100)
    exclude: list[str] | None = Field(default=None, min_length=1, max_length=100)

    @model_validator(mode="after")
    def _one(self) -> ColumnSelection:
        if (self.include is None) == (self.exclude is None):
            raise ValueError("give exactly one of include or exclude")
        return self


class RowFilter(_Strict):
    """A data-cells filter: the rows a persona sees (Lake Formation's PartiQL subset)."""

    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,255}$", description="Filter name per table.")
    expression: str = Field(min_length=1, max_length=2048, description="e.g. \"country = 'DE'\"")


class Rule(_Strict):
    """What one persona gets on the tables a rule matches."""

    database: str | None = Field(
        default=None, min_length=1, max_length=255, description="Database name or glob."
    )
    tables: list[str] = Field(
        default_factory=lambda: ["*"],
        min_length=1,
        description='Table names or globs; ["*"] is "all tables", tables created later too.',
    )
    lf_tags: dict[str, list[str]] | None = Field(
        default=None,
        description="An LF-tag expression: AND across keys, OR across one key's values.",
    )
    columns: ColumnSelection | None = None
    row_filter: RowFilter | None = None
    permissions: list[Permission] = Field(min_length=1, description="Lake Formation permissions.")
    grant_option: list[Permission] = Field(
        default_factory=list, description="Permissions granted WITH GRANT OPTION."
    )
    pii: bool = Field(default=False, description="The rule may grant personal-data columns.")
    processing_record: ProcessingRecord | None = None

    @field_validator("lf_tags")
    @classmethod
    def _tags(cls, value: dict[str, list[str]] | None) -> dict[str, list[str]] | None:
        if value is None:
            return None
        if not value:
            raise ValueError("an LF-tag expression needs at least one key")
        for key, values in value.items():
            if not _TAG.match(key) or not values or not all(_TAG.match(v) for v in values):
                raise ValueError(
                    f"LF-tag {key!r}: keys and values are lower-case, 1-50 characters, "
                    "and a key needs at least one value"
                )
            if len(values) > 50:
                raise ValueError(f"LF-tag {key!r}: at most 50 values in one expression")
        return value

    @model_validator(mode="after")
    def _coherent(self) -> Rule:
        if (self.database is None) == (self.lf_tags is None):
            raise ValueError("give exactly one of database (name or glob) or lf_tags")
        if self.pii and self.processing_record is None:
            raise ValueError(
                "pii: true needs a processing_record (purpose, legal basis, owner, review date)"
            )
        if self.processing_record is not None and not self.pii:
            raise ValueError("a processing_record belongs to a rule with pii: true")
        implied = _ALL_IMPLIES if "ALL" in self.permissions else set()
        missing = sorted(set(self.grant_option) - set(self.permissions) - implied)
        if missing:
            raise ValueError(f"grant_option names permissions the rule does not grant: {missing}")
        if self.row_filter is not None and self.lf_tags is not None:
            raise ValueError("a row_filter applies to named tables: use database, not lf_tags")
        if self.row_filter is not None and set(self.permissions) - {"SELECT", "DESCRIBE"}:
            raise ValueError("a row_filter grants SELECT (and DESCRIBE) only")
        if self.columns is not None and self.columns.exclude and self.grant_option:
            raise ValueError("SELECT with grant option on columns needs an include list")
        return self

    def matches_table(self, database: str, table: str, tags: dict[str, list[str]]) -> bool:
        if self.lf_tags is not None:
            return all(key in tags and set(v) & set(tags[key]) for key, v in self.lf_tags.items())
        assert self.database is not None
        return fnmatch.fnmatchcase(database, self.database) and any(
            fnmatch.fnmatchcase(table, pattern) for pattern in self.tables
        )

    @property
    def all_tables(self) -> bool:
        return self.tables == ["*"]


class Persona(_Strict):
    """A lake persona (data engineers, technical users, data admins, analysts, ...)."""

    name: str = Field(pattern=_NAME.pattern, description="Lower-case name, unique in the file.")
    description: str = Field(default="", max_length=500)
    principals: list[str] = Field(
        min_length=1,
        description="IAM role/user ARNs, account ids, or role names (resolved in the "
        "catalog's account).",
    )
    on_drift: Literal["report", "repair"] = Field(
        default="report",
        description="report: extra grants of this persona are reported; repair: revoked.",
    )
    rules: list[Rule] = Field(min_length=1)

    @field_validator("principals")
    @classmethod
    def _principals(cls, value: list[str]) -> list[str]:
        for principal in value:
            if not (_ACCOUNT.match(principal) or _ROLE.match(principal) or _NAME.match(principal)):
                raise ValueError(
                    f"{principal!r} is not an IAM role/user ARN, an account id or a role name"
                )
        return value

    def resolved_principals(self, account: str) -> list[str]:
        """Role names become role ARNs of ``account`` (the catalog's)."""
        return sorted(
            {
                p if (":" in p or _ACCOUNT.match(p)) else f"arn:aws:iam::{account}:role/{p}"
                for p in self.principals
            }
        )


class PersonasFile(_Strict):
    """The whole file: a version and the personas."""

    version: Literal[1] = 1
    personas: list[Persona] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> PersonasFile:
        names = [p.name for p in self.personas]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"persona names must be unique: {dup}")
        return self


class PersonasFileError(ValueError):
    """A personas file that cannot be used; ``problems`` are 'file:line:col: where: what'."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the personas file (draft 2020-12, as pydantic writes it)."""
    schema = PersonasFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://meshkit.dev/schemas/permissions.schema.json"
    return schema


def load(path: str | Path) -> PersonasFile:
    """Read and validate a personas file (YAML or TOML by its suffix)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PersonasFileError([f"{path}: cannot read: {exc.strerror}"]) from exc
    if path.suffix == ".toml":
        return loads(text, fmt="toml", name=str(path))
    if path.suffix == ".json":
        return loads(text, fmt="json", name=str(path))
    return loads(text, fmt="yaml", name=str(path))


def loads(
    text: str, *, fmt: Literal["yaml", "toml", "json"] = "yaml", name: str = "<file>"
) -> PersonasFile:
    """Validate a personas document; errors carry line and column."""
    if fmt == "toml":
        data, positions = _toml(text, name)
    elif fmt == "json":
        try:
            data, positions = json.loads(text), {}
        except json.JSONDecodeError as exc:
            raise PersonasFileError(
                [f"{name}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}"]
            ) from None
    else:
        data, positions = _yaml(text, name)
    try:
        return PersonasFile.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = tuple(error["loc"])
            line, col = _position(positions, loc)
            where = _dotted(loc) or "(top level)"
            message = str(error["msg"]).removeprefix("Value error, ")
            problems.append(f"{name}:{line}:{col}: {where}: {message}")
        raise PersonasFileError(problems) from None


def dumps_compact(file: PersonasFile) -> str:
    """``file`` as compact JSON: what a deployed mesh keeps in its SSM parameter.

    JSON parses with the standard library (the Lambda runtime has no PyYAML), and only what
    differs from the defaults is written, so the file fits SSM's value limit for longer.
    """
    text = json.dumps(
        file.model_dump(mode="json", exclude_defaults=True), separators=(",", ":"), sort_keys=True
    )
    if PersonasFile.model_validate_json(text) != file:
        raise ValueError("the personas file does not read back the same from its compact form")
    return text


def parameter_tier(text: str, *, name: str = "<file>") -> Literal["Standard", "Advanced"]:
    """The SSM tier a parameter holding ``text`` needs; a ValueError beyond what SSM holds."""
    size = len(text.encode("utf-8"))
    if size <= SSM_STANDARD_LIMIT:
        return "Standard"
    if size <= SSM_ADVANCED_LIMIT:
        return "Advanced"
    raise ValueError(
        f"{name}: the personas file takes {size} bytes as compact JSON, over the "
        f"{SSM_ADVANCED_LIMIT} bytes an SSM parameter holds: match tables with globs or "
        "lf_tags rules instead of listing them, merge personas that share rules, or split the "
        "mesh (docs/permissions.md, 'Where it runs')"
    )


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif str(part).startswith(("function-", "literal[")):
            continue
        else:
            out += f".{part}" if out else str(part)
    return out


def _position(
    positions: dict[tuple[Any, ...], tuple[int, int]], loc: tuple[Any, ...]
) -> tuple[int, int]:
    """The deepest known position on the error's path (the parent when a key is missing)."""
    parts = tuple(p for p in loc if not str(p).startswith(("function-", "literal[")))
    while parts and parts not in positions:
        parts = parts[:-1]
    return positions.get(parts, (1, 1))


def _yaml(text: str, name: str) -> tuple[Any, dict[tuple[Any, ...], tuple[int, int]]]:
    try:
        import yaml  # type: ignore[import-untyped]
    except ImportError:
        raise PersonasFileError(
            [f"{name}: YAML files need PyYAML (pip install 'meshkit[permissions]'), or use TOML"]
        ) from None

    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{mark.line + 1}:{mark.column + 1}" if mark else "1:1"
        raise PersonasFileError([f"{name}:{where}: not valid YAML: {exc.problem}"]) from None
    positions: dict[tuple[Any, ...], tuple[int, int]] = {}

    def walk(current: Any, path: tuple[Any, ...]) -> None:
        positions[path] = (current.start_mark.line + 1, current.start_mark.column + 1)
        if isinstance(current, yaml.MappingNode):
            for key, value in current.value:
                walk(value, (*path, key.value))
                positions[(*path, key.value)] = (key.start_mark.line + 1, key.start_mark.column + 1)
        elif isinstance(current, yaml.SequenceNode):
            for i, item in enumerate(current.value):
                walk(item, (*path, i))

    if node is not None:
        walk(node, ())
    return data, positions


def _toml(text: str, name: str) -> tuple[Any, dict[tuple[Any, ...], tuple[int, int]]]:
    import tomllib

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        where = f"{found.group(1)}:{found.group(2)}" if found else "1:1"
        raise PersonasFileError([f"{name}:{where}: not valid TOML: {exc}"]) from None
    # tomllib keeps no positions: find each key's line by its name, in order (good enough to
    # point at the right table of an array-of-tables, which is where mistakes are).
    positions: dict[tuple[Any, ...], tuple[int, int]] = {}
    lines = text.splitlines()

    def locate(key: str, start: int) -> int:
        pattern = re.compile(rf"^\s*(\[\[?)?\s*([\w.]*\.)?{re.escape(key)}\s*(=|\]\]?)")
        for i in range(start, len(lines)):
            if pattern.search(lines[i]):
                return i
        return start

    cursor = 0

    def walk(value: Any, path: tuple[Any, ...]) -> None:
        nonlocal cursor
        if isinstance(value, dict):
            for key, item in value.items():
                found = locate(str(key), cursor)
                positions[(*path, key)] = (found + 1, 1)
                cursor = found
                walk(item, (*path, key))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                positions[(*path, i)] = (cursor + 1, 1)
                walk(item, (*path, i))

    walk(data, ())
    return data, positions


def dumps_schema() -> str:
    """The published schema file's text."""
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"
