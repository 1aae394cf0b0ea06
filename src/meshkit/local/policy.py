"""An IAM policy evaluator for the local mesh, where moto applies too little of IAM.

moto evaluates trust policies and ``StringEquals`` conditions only, ignores session policies and
resource policies, and never puts ``aws:PrincipalOrgPaths`` in the request context. The local mesh
asks this module instead, wherever it stands in for an IAM decision (for example the session
policy on a drop-zone partner's S3 calls). It is pure Python and imports nothing from AWS.

    decision = evaluate(
        Request("s3:PutObject", "arn:aws:s3:::lake/dropzone/acme/a.csv",
                principal="arn:aws:sts::111122223333:assumed-role/partner/acme"),
        identity=[role_policy],
        session=[session_policy],
    )
    decision.allowed, decision.reason

What it implements, as AWS documents it:

- policy grammar: ``Version`` (``2012-10-17`` or ``2008-10-17``), ``Statement`` (one or a list),
  ``Sid``, ``Effect`` (``Allow``/``Deny``), exactly one of ``Action``/``NotAction``, exactly one
  of ``Resource``/``NotResource``, ``Principal``/``NotPrincipal`` (resource policies only) and
  ``Condition``; any other element, or a malformed one, is a :class:`PolicyError`;
- matching: actions case-insensitively with ``*``/``?``; resources per ARN segment (partition,
  service, region, account, then the resource part) with ``*``/``?``; policy variables
  ``${key}`` (and ``${*}``, ``${?}``, ``${$}``) in resources and condition values, version
  ``2012-10-17`` only; a variable whose key is absent from the request makes that value match
  nothing;
- conditions: all blocks and all keys of a block must hold (AND), the values of one key are
  alternatives (OR; for negated operators: none may match). Operators: ``String{Equals,NotEquals,
  EqualsIgnoreCase,NotEqualsIgnoreCase,Like,NotLike}``, ``Numeric{Equals,NotEquals,LessThan,
  LessThanEquals,GreaterThan,GreaterThanEquals}``, ``Date…`` (same six), ``Bool``,
  ``BinaryEquals``, ``IpAddress``/``NotIpAddress``, ``Arn{Equals,Like,NotEquals,NotLike}``,
  ``Null``; each with an ``…IfExists`` suffix (not ``Null``) and a ``ForAnyValue:`` or
  ``ForAllValues:`` set prefix. A key absent from the request makes a positive operator false
  and a negated one true; ``IfExists`` and ``ForAllValues`` hold for an absent key,
  ``ForAnyValue`` does not;
- decision (:func:`evaluate`): an explicit ``Deny`` in any policy wins; otherwise the request is
  allowed when an identity policy allows it, or a resource policy does (within one account; across
  accounts both must), and every given session policy set and permissions boundary allows it too.
  A resource-policy allow is limited by session policies and boundaries as well (AWS exempts a
  resource policy naming the exact session ARN; this evaluator does not).

An **unknown condition operator or key is an error**, never a silent allow: keys are the global
``aws:`` keys and the service keys listed in :data:`KNOWN_CONDITION_KEYS` (tag keys such as
``aws:PrincipalTag/<tag>`` by prefix), any key present in the request's context, and whatever the
caller adds with ``known_keys``. Not modelled: service control and resource control policies,
``Principal`` of type ``Federated``/``CanonicalUser`` matching beyond equality, policy-variable
defaults (``${key, 'x'}``), and the size and count limits of policies (checked where they are
vended, not here).
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Literal

__all__ = [
    "KNOWN_CONDITION_KEYS",
    "Decision",
    "Policy",
    "PolicyError",
    "Request",
    "Statement",
    "evaluate",
    "parse_policy",
]


class PolicyError(ValueError):
    """A policy this evaluator cannot apply faithfully: malformed, or using an unknown key or
    operator. Raised instead of guessing, because a guess would be an allow or a deny AWS might
    not give."""


#: Condition keys known without being in the request context. Tag-style keys are matched by the
#: prefix before ``/`` (``aws:PrincipalTag/team``). Compared case-insensitively, like IAM.
KNOWN_CONDITION_KEYS: frozenset[str] = frozenset(
    k.lower()
    for k in (
        # global keys
        "aws:CalledVia",
        "aws:CalledViaFirst",
        "aws:CalledViaLast",
        "aws:CurrentTime",
        "aws:EpochTime",
        "aws:FederatedProvider",
        "aws:MultiFactorAuthAge",
        "aws:MultiFactorAuthPresent",
        "aws:PrincipalAccount",
        "aws:PrincipalArn",
        "aws:PrincipalIsAWSService",
        "aws:PrincipalOrgID",
        "aws:PrincipalOrgPaths",
        "aws:PrincipalServiceName",
        "aws:PrincipalServiceNamesList",
        "aws:PrincipalType",
        "aws:RequestedRegion",
        "aws:ResourceAccount",
        "aws:ResourceOrgID",
        "aws:ResourceOrgPaths",
        "aws:SecureTransport",
        "aws:SourceAccount",
        "aws:SourceArn",
        "aws:SourceIdentity",
        "aws:SourceIp",
        "aws:SourceOrgID",
        "aws:SourceOrgPaths",
        "aws:SourceVpc",
        "aws:SourceVpce",
        "aws:TagKeys",
        "aws:TokenIssueTime",
        "aws:UserAgent",
        "aws:userid",
        "aws:username",
        "aws:ViaAWSService",
        "aws:VpcSourceIp",
        # tag families, matched by prefix
        "aws:PrincipalTag/",
        "aws:RequestTag/",
        "aws:ResourceTag/",
        # S3
        "s3:authType",
        "s3:delimiter",
        "s3:max-keys",
        "s3:prefix",
        "s3:ResourceAccount",
        "s3:signatureAge",
        "s3:signatureversion",
        "s3:TlsVersion",
        "s3:x-amz-acl",
        "s3:x-amz-content-sha256",
        "s3:x-amz-server-side-encryption",
        "s3:x-amz-server-side-encryption-aws-kms-key-id",
        "s3:x-amz-storage-class",
        "s3:ExistingObjectTag/",
        "s3:RequestObjectTag/",
        "s3:RequestObjectTagKeys",
        # STS
        "sts:ExternalId",
        "sts:RoleSessionName",
        "sts:SourceIdentity",
        "sts:TransitiveTagKeys",
        # KMS
        "kms:CallerAccount",
        "kms:EncryptionContextKeys",
        "kms:ViaService",
        "kms:EncryptionContext:",
        # EventBridge
        "events:creatorAccount",
        "events:detail-type",
        "events:source",
        "events:TargetArn",
        # Lake Formation / Glue / RAM
        "glue:CredentialIssuingService",
        "lakeformation:EnabledOnlyForMetaDataAccess",
        "ram:AllowsExternalPrincipals",
        "ram:PermissionArn",
        "ram:RequestedResourceType",
        "ram:ResourceShareName",
        "ram:ShareOwnerAccountId",
        # IAM
        "iam:PassedToService",
    )
)

_VERSIONS = ("2012-10-17", "2008-10-17")
_STATEMENT_KEYS = frozenset(
    {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource"}
    | {"Principal", "NotPrincipal", "Condition"}
)

ContextValue = str | bool | int | float | Sequence[str]


@dataclass(frozen=True)
class Request:
    """One API call to decide: ``action`` (``service:Operation``), the ``resource`` ARN, the
    calling ``principal`` ARN (needed for resource policies) and the request ``context``
    (condition keys, single values or lists for multivalued keys such as
    ``aws:PrincipalOrgPaths``)."""

    action: str
    resource: str
    principal: str | None = None
    context: Mapping[str, ContextValue] = field(default_factory=dict)

    def value(self, key: str) -> list[str] | None:
        """The context values of ``key`` (case-insensitive name) as strings; None when absent."""
        lowered = key.lower()
        for name, raw in self.context.items():
            if name.lower() == lowered:
                return _as_strings(raw)
        if lowered == "aws:principalarn" and self.principal:
            return [self.principal]
        if lowered == "aws:principalaccount" and self.principal:
            account = _account_of(self.principal)
            return [account] if account else None
        return None


def _as_strings(raw: ContextValue) -> list[str]:
    if isinstance(raw, bool):
        return ["true" if raw else "false"]
    if isinstance(raw, int | float | str):
        return [str(raw)]
    return [str(v) for v in raw]


@dataclass(frozen=True)
class Decision:
    """The outcome: ``allowed``, its ``kind`` and a sentence saying why (names the statement)."""

    allowed: bool
    kind: Literal["allow", "explicit-deny", "implicit-deny"]
    reason: str

    def __bool__(self) -> bool:
        return self.allowed


@dataclass(frozen=True)
class Statement:
    """One parsed statement; built by :func:`parse_policy`."""

    sid: str | None
    effect: Literal["Allow", "Deny"]
    actions: tuple[str, ...]
    not_action: bool
    resources: tuple[str, ...]
    not_resource: bool
    principals: Mapping[str, tuple[str, ...]] | None
    not_principal: bool
    conditions: tuple[tuple[str, str, tuple[str, ...]], ...]

    @property
    def label(self) -> str:
        return f"statement {self.sid!r}" if self.sid else "an unnamed statement"


@dataclass(frozen=True)
class Policy:
    """A parsed policy document (identity, session, boundary or resource policy)."""

    version: str
    statements: tuple[Statement, ...]
    name: str = "policy"


def _strings(value: Any, element: str, where: str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(i, str) for i in items):
        raise PolicyError(f"{where}: {element} must be a string or a non-empty list of strings")
    return tuple(items)


def _condition_values(value: Any, where: str) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    if not items:
        raise PolicyError(f"{where}: a condition key needs at least one value")
    out: list[str] = []
    for item in items:
        if isinstance(item, bool):
            out.append("true" if item else "false")
        elif isinstance(item, int | float | str):
            out.append(str(item))
        else:
            raise PolicyError(f"{where}: condition values must be strings, numbers or booleans")
    return tuple(out)


def _parse_statement(raw: Any, index: int, name: str) -> Statement:
    where = f"{name} statement {index}"
    if not isinstance(raw, dict):
        raise PolicyError(f"{where}: a statement must be an object")
    unknown = set(raw) - _STATEMENT_KEYS
    if unknown:
        raise PolicyError(f"{where}: unknown element(s) {sorted(unknown)}")
    sid = raw.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise PolicyError(f"{where}: Sid must be a string")
    if sid:
        where = f"{name} statement {sid!r}"
    effect = raw.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise PolicyError(f"{where}: Effect must be 'Allow' or 'Deny', not {effect!r}")
    if ("Action" in raw) == ("NotAction" in raw):
        raise PolicyError(f"{where}: exactly one of Action and NotAction is required")
    if ("Resource" in raw) == ("NotResource" in raw):
        raise PolicyError(f"{where}: exactly one of Resource and NotResource is required")
    if "Principal" in raw and "NotPrincipal" in raw:
        raise PolicyError(f"{where}: Principal and NotPrincipal exclude each other")
    not_action = "NotAction" in raw
    actions = _strings(raw["NotAction" if not_action else "Action"], "Action", where)
    for action in actions:
        if action != "*" and (action.count(":") != 1 or action.startswith(":")):
            raise PolicyError(f"{where}: action {action!r} is not 'service:Operation'")
    not_resource = "NotResource" in raw
    resources = _strings(raw["NotResource" if not_resource else "Resource"], "Resource", where)
    principals: dict[str, tuple[str, ...]] | None = None
    not_principal = "NotPrincipal" in raw
    if "Principal" in raw or not_principal:
        value = raw["NotPrincipal" if not_principal else "Principal"]
        if value == "*":
            principals = {"AWS": ("*",)}
        elif isinstance(value, dict) and value:
            principals = {}
            for kind, ids in value.items():
                if kind not in ("AWS", "Service", "Federated", "CanonicalUser"):
                    raise PolicyError(f"{where}: unknown principal type {kind!r}")
                principals[kind] = _strings(ids, f"Principal {kind}", where)
        else:
            raise PolicyError(f"{where}: Principal must be '*' or an object of principal types")
    conditions: list[tuple[str, str, tuple[str, ...]]] = []
    block = raw.get("Condition", {})
    if not isinstance(block, dict):
        raise PolicyError(f"{where}: Condition must be an object")
    for operator, keys in block.items():
        _operator(operator, where)  # validates
        if not isinstance(keys, dict) or not keys:
            raise PolicyError(f"{where}: condition {operator} must map keys to values")
        for key, values in keys.items():
            conditions.append((operator, str(key), _condition_values(values, where)))
    return Statement(
        sid=sid,
        effect=effect,
        actions=actions,
        not_action=not_action,
        resources=resources,
        not_resource=not_resource,
        principals=principals,
        not_principal=not_principal,
        conditions=tuple(conditions),
    )


def parse_policy(document: str | Mapping[str, Any] | Policy, name: str = "policy") -> Policy:
    """Parse and validate a policy document (JSON text or a dict); :class:`PolicyError` says
    exactly what is wrong."""
    if isinstance(document, Policy):
        return document
    if isinstance(document, str):
        try:
            loaded = json.loads(document)
        except json.JSONDecodeError as exc:
            raise PolicyError(f"{name} is not valid JSON: {exc}") from exc
    else:
        loaded = dict(document)
    if not isinstance(loaded, dict):
        raise PolicyError(f"{name} must be a JSON object")
    unknown = set(loaded) - {"Version", "Statement", "Id"}
    if unknown:
        raise PolicyError(f"{name}: unknown top-level element(s) {sorted(unknown)}")
    version = loaded.get("Version", "2008-10-17")
    if version not in _VERSIONS:
        raise PolicyError(f"{name}: Version must be one of {list(_VERSIONS)}, not {version!r}")
    raw = loaded.get("Statement")
    items = [raw] if isinstance(raw, dict) else raw
    if not isinstance(items, list) or not items:
        raise PolicyError(f"{name}: Statement must be an object or a non-empty list")
    statements = tuple(_parse_statement(s, i, name) for i, s in enumerate(items))
    return Policy(version=version, statements=statements, name=name)


# --- matching -------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _like(value: str, pattern: str, ignore_case: bool = False) -> bool:
    return _glob(pattern, ignore_case).fullmatch(value) is not None


_VARIABLE = re.compile(r"\$\{([^}]*)\}")


def _substitute(text: str, request: Request, policy: Policy) -> str | None:
    """Replace ``${...}`` policy variables; None when one names a key absent from the request.
    Wildcards that come from the request are escaped by the caller's matching (see _expand)."""
    if policy.version != "2012-10-17" or "${" not in text:
        return text
    missing = False

    def repl(match: re.Match[str]) -> str:
        nonlocal missing
        name = match.group(1).strip()
        if name in ("*", "?", "$"):
            return "\x00" + name  # a literal character, protected from wildcard expansion
        if "," in name:
            raise PolicyError(
                f"{policy.name}: policy-variable defaults ({text!r}) are not modelled"
            )
        values = request.value(name)
        if values is None or len(values) != 1:
            missing = True
            return ""
        return values[0].replace("*", "\x00*").replace("?", "\x00?")

    out = _VARIABLE.sub(repl, text)
    return None if missing else out


def _pattern_match(value: str, pattern: str, ignore_case: bool = False) -> bool:
    """StringLike where ``\\x00c`` in the pattern is the literal character c."""
    if "\x00" not in pattern:
        return _like(value, pattern, ignore_case)
    parts: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\x00":
            parts.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        parts.append(".*" if c == "*" else "." if c == "?" else re.escape(c))
        i += 1
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.fullmatch("".join(parts), value, flags) is not None


def _literal(pattern: str) -> str:
    return re.sub("\x00(.)", r"\1", pattern)


def _arn_parts(arn: str) -> list[str] | None:
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return None
    return parts


def _arn_like(value: str, pattern: str) -> bool:
    """ArnLike: each of the six colon-separated parts is matched on its own."""
    if pattern == "*":
        return True
    got, want = _arn_parts(value), _arn_parts(pattern)
    if got is None or want is None:
        return False
    return all(_pattern_match(g, w) for g, w in zip(got, want, strict=True))


def _account_of(arn: str) -> str | None:
    parts = _arn_parts(arn)
    return parts[4] if parts and parts[4] else None


def _action_matches(action: str, patterns: Iterable[str]) -> bool:
    return any(_like(action, p, ignore_case=True) for p in patterns)


def _resource_matches(request: Request, policy: Policy, patterns: Iterable[str]) -> bool:
    for raw in patterns:
        pattern = _substitute(raw, request, policy)
        if pattern is None:
            continue
        if pattern == "*" or _arn_like(request.resource, pattern):
            return True
    return False


def _principal_matches(request: Request, principals: Mapping[str, tuple[str, ...]]) -> bool:
    caller = request.principal
    for kind, ids in principals.items():
        for ident in ids:
            if kind == "AWS" and ident == "*":
                return True
            if caller is None:
                continue
            if kind != "AWS":
                if caller == ident:
                    return True
                continue
            account = _account_of(caller)
            if ident == account or ident == f"arn:aws:iam::{account}:root":
                return True
            if ident == caller:
                return True
            # an assumed-role session is matched by its role's ARN
            session = re.fullmatch(r"arn:([^:]+):sts::(\d{12}):assumed-role/([^/]+)/.+", caller)
            if session is not None:
                partition, acct, role = session.groups()
                if re.fullmatch(
                    rf"arn:{partition}:iam::{acct}:role/(.+/)?{re.escape(role)}", ident
                ):
                    return True
    return False


# --- conditions -----------------------------------------------------------------------------

_BASE_OPERATORS = frozenset(
    {
        "StringEquals",
        "StringNotEquals",
        "StringEqualsIgnoreCase",
        "StringNotEqualsIgnoreCase",
        "StringLike",
        "StringNotLike",
        "NumericEquals",
        "NumericNotEquals",
        "NumericLessThan",
        "NumericLessThanEquals",
        "NumericGreaterThan",
        "NumericGreaterThanEquals",
        "DateEquals",
        "DateNotEquals",
        "DateLessThan",
        "DateLessThanEquals",
        "DateGreaterThan",
        "DateGreaterThanEquals",
        "Bool",
        "BinaryEquals",
        "IpAddress",
        "NotIpAddress",
        "ArnEquals",
        "ArnLike",
        "ArnNotEquals",
        "ArnNotLike",
        "Null",
    }
)
_NEGATED = frozenset(
    {
        "StringNotEquals",
        "StringNotEqualsIgnoreCase",
        "StringNotLike",
        "NumericNotEquals",
        "DateNotEquals",
        "NotIpAddress",
        "ArnNotEquals",
        "ArnNotLike",
    }
)


@dataclass(frozen=True)
class _Operator:
    base: str
    qualifier: Literal["", "ForAnyValue", "ForAllValues"]
    if_exists: bool


def _operator(name: str, where: str) -> _Operator:
    qualifier: Literal["", "ForAnyValue", "ForAllValues"] = ""
    base = name
    if ":" in name:
        prefix, base = name.split(":", 1)
        if prefix not in ("ForAnyValue", "ForAllValues"):
            raise PolicyError(f"{where}: unknown condition set operator {prefix!r} in {name!r}")
        qualifier = prefix  # type: ignore[assignment]
    if_exists = base.endswith("IfExists") and base != "IfExists"
    if if_exists:
        base = base[: -len("IfExists")]
    if base not in _BASE_OPERATORS or (if_exists and base == "Null"):
        raise PolicyError(f"{where}: unknown condition operator {name!r}")
    return _Operator(base, qualifier, if_exists)


def _key_known(key: str, request: Request, known: frozenset[str]) -> bool:
    lowered = key.lower()
    if request.value(key) is not None or lowered in known or lowered in KNOWN_CONDITION_KEYS:
        return True
    if "/" in lowered:
        prefix = lowered.split("/", 1)[0] + "/"
        if prefix in KNOWN_CONDITION_KEYS or prefix in known:
            return True
    return bool(lowered.startswith("kms:encryptioncontext:"))


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _date(text: str) -> datetime | None:
    try:
        if re.fullmatch(r"-?\d+(\.\d+)?", text):
            return datetime.fromtimestamp(float(text), tz=UTC)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


_COMPARE = {
    "Equals": lambda a, b: a == b,
    "NotEquals": lambda a, b: a == b,  # negation applied by the caller
    "LessThan": lambda a, b: a < b,
    "LessThanEquals": lambda a, b: a <= b,
    "GreaterThan": lambda a, b: a > b,
    "GreaterThanEquals": lambda a, b: a >= b,
}


def _one(base: str, value: str, wanted: str, where: str) -> bool:
    """Whether one context value matches one policy value (positive form of the operator)."""
    if base in ("StringEquals", "StringNotEquals"):
        return value == _literal(wanted)
    if base in ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"):
        return value.lower() == _literal(wanted).lower()
    if base in ("StringLike", "StringNotLike"):
        return _pattern_match(value, wanted)
    if base.startswith("Numeric"):
        want = _number(wanted)
        if want is None:
            raise PolicyError(f"{where}: {base} needs a number, not {wanted!r}")
        got = _number(value)
        return got is not None and bool(_COMPARE[base[len("Numeric") :]](got, want))
    if base.startswith("Date"):
        want_d = _date(wanted)
        if want_d is None:
            raise PolicyError(f"{where}: {base} needs an ISO 8601 date or epoch, not {wanted!r}")
        got_d = _date(value)
        return got_d is not None and bool(_COMPARE[base[len("Date") :]](got_d, want_d))
    if base == "Bool":
        if wanted.lower() not in ("true", "false"):
            raise PolicyError(f"{where}: Bool needs 'true' or 'false', not {wanted!r}")
        return value.lower() == wanted.lower()
    if base == "BinaryEquals":
        try:
            return base64.b64decode(value, validate=True) == base64.b64decode(wanted)
        except ValueError:
            return False
    if base in ("IpAddress", "NotIpAddress"):
        try:
            network = ipaddress.ip_network(wanted, strict=False)
        except ValueError as exc:
            raise PolicyError(f"{where}: {base} needs an IP address or CIDR: {exc}") from exc
        try:
            return ipaddress.ip_address(value) in network
        except ValueError:
            return False
    if base in ("ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike"):
        return _arn_like(value, wanted)
    raise PolicyError(f"{where}: unknown condition operator {base!r}")  # pragma: no cover


def _condition_holds(
    operator: str,
    key: str,
    wanted_raw: tuple[str, ...],
    request: Request,
    policy: Policy,
    where: str,
    known: frozenset[str],
) -> bool:
    op = _operator(operator, where)
    if not _key_known(key, request, known):
        raise PolicyError(
            f"{where}: unknown condition key {key!r}; put it in the request context or in "
            "known_keys if it is a real key"
        )
    values = request.value(key)
    if op.base == "Null":
        flag = wanted_raw[0].lower()
        if flag not in ("true", "false") or len(wanted_raw) != 1:
            raise PolicyError(f"{where}: Null needs 'true' or 'false'")
        absent = values is None or values == []
        return absent == (flag == "true")
    if values is None or (op.qualifier and values == []):
        if op.qualifier == "ForAllValues":
            return True
        if op.qualifier == "ForAnyValue":
            return False
        return op.if_exists or op.base in _NEGATED
    wanted = tuple(
        w for w in (_substitute(w, request, policy) for w in wanted_raw) if w is not None
    )
    negated = op.base in _NEGATED

    def matches(value: str) -> bool:
        hit = any(_one(op.base, value, w, where) for w in wanted)
        return not hit if negated else hit

    if op.qualifier == "ForAllValues":
        return all(matches(v) for v in values)
    if op.qualifier == "ForAnyValue":
        return any(matches(v) for v in values)
    # no set operator: a single-valued key; a multivalued one matches when any of its values does
    # (negated: when none of its values is among the policy's values)
    if negated:
        return all(matches(v) for v in values)
    return any(matches(v) for v in values)


def _statement_applies(
    st: Statement, request: Request, policy: Policy, known: frozenset[str], resource_policy: bool
) -> bool:
    if _action_matches(request.action, st.actions) == st.not_action:
        return False
    if _resource_matches(request, policy, st.resources) == st.not_resource:
        return False
    if resource_policy:
        if st.principals is None:
            raise PolicyError(f"{policy.name} {st.label}: a resource policy needs a Principal")
        if _principal_matches(request, st.principals) == st.not_principal:
            return False
    elif st.principals is not None:
        raise PolicyError(f"{policy.name} {st.label}: Principal belongs in resource policies only")
    where = f"{policy.name} {st.label}"
    return all(
        _condition_holds(op, key, values, request, policy, where, known)
        for op, key, values in st.conditions
    )


def _scan(
    policies: Sequence[Policy], request: Request, known: frozenset[str], resource_policy: bool
) -> tuple[str | None, str | None]:
    """(label of the first denying statement, label of the first allowing statement)."""
    deny: str | None = None
    allow: str | None = None
    for policy in policies:
        for st in policy.statements:
            if not _statement_applies(st, request, policy, known, resource_policy):
                continue
            label = f"{policy.name} {st.label}"
            if st.effect == "Deny" and deny is None:
                deny = label
            elif st.effect == "Allow" and allow is None:
                allow = label
    return deny, allow


PolicyInput = str | Mapping[str, Any] | Policy


def _parse_all(items: Sequence[PolicyInput] | None, kind: str) -> list[Policy] | None:
    if items is None:
        return None
    return [parse_policy(p, f"{kind} policy {i}") for i, p in enumerate(items)]


def evaluate(
    request: Request,
    *,
    identity: Sequence[PolicyInput] = (),
    session: Sequence[PolicyInput] | None = None,
    boundary: Sequence[PolicyInput] | None = None,
    resource: Sequence[PolicyInput] | None = None,
    resource_account: str | None = None,
    known_keys: Iterable[str] = (),
) -> Decision:
    """Decide ``request`` against the principal's ``identity`` policies, its ``session`` policies
    (None: not a session with a session policy; ``[]``: a session policy set that allows
    nothing), its permissions ``boundary`` (None: none) and the target's ``resource`` policies.

    ``resource_account`` is the account owning the resource (default: the account in its ARN,
    or the caller's when the ARN has none, as S3's do): a resource policy alone grants only
    within that account."""
    known = frozenset(k.lower() for k in known_keys)
    identities = _parse_all(identity, "identity") or []
    sessions = _parse_all(session, "session")
    boundaries = _parse_all(boundary, "boundary")
    resources = _parse_all(resource, "resource")

    id_deny, id_allow = _scan(identities, request, known, False)
    filters: list[tuple[str, list[Policy]]] = []
    if sessions is not None:
        filters.append(("session policy", sessions))
    if boundaries is not None:
        filters.append(("permissions boundary", boundaries))
    filter_allows: dict[str, str | None] = {}
    denies = [id_deny]
    for kind, policies in filters:
        deny, allow = _scan(policies, request, known, False)
        denies.append(deny)
        filter_allows[kind] = allow
    res_deny, res_allow = (None, None)
    if resources is not None:
        res_deny, res_allow = _scan(resources, request, known, True)
        denies.append(res_deny)
    for deny in denies:
        if deny is not None:
            return Decision(False, "explicit-deny", f"{request.action} is denied by {deny}")

    caller_account = _account_of(request.principal) if request.principal else None
    owner = resource_account or _account_of(request.resource) or caller_account
    same_account = caller_account is None or owner is None or owner == caller_account
    if same_account:
        granted = id_allow or res_allow
        if granted is None:
            return Decision(
                False,
                "implicit-deny",
                f"no identity{' or resource' if resources is not None else ''} policy allows "
                f"{request.action} on {request.resource}",
            )
    else:
        if id_allow is None:
            return Decision(
                False,
                "implicit-deny",
                f"no identity policy allows {request.action} on {request.resource}",
            )
        if res_allow is None:
            return Decision(
                False,
                "implicit-deny",
                f"{request.resource} is in account {owner}: cross-account access needs its "
                f"resource policy to allow {request.action} too",
            )
        granted = id_allow
    for kind, allow in filter_allows.items():
        if allow is None:
            return Decision(
                False,
                "implicit-deny",
                f"the {kind} does not allow {request.action} on {request.resource}",
            )
    return Decision(True, "allow", f"{request.action} is allowed by {granted}")
