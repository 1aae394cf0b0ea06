"""meshkit.local.policy: the IAM evaluator the local mesh uses where moto applies too little."""

from __future__ import annotations

from typing import Any

import pytest

from meshkit.local.policy import PolicyError, Request, evaluate, parse_policy

ROLE = "arn:aws:sts::111122223333:assumed-role/partner/acme"
BUCKET = "arn:aws:s3:::lake-data"


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: Any, resource: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def req(action: str, key: str, **context: Any) -> Request:
    return Request(action, f"{BUCKET}/{key}", principal=ROLE, context=context)


S3_ALL = doc(allow(["s3:GetObject", "s3:PutObject", "s3:ListBucket"], "*"))
SESSION = doc(allow("s3:PutObject", f"{BUCKET}/dropzone/acme/*"))


# --- the session-policy intersection (what moto does not apply) ---------------------------------


def test_session_policy_narrows_the_role() -> None:
    # GIVEN a role allowed all of S3, in a session limited to PutObject under its prefix
    inside = req("s3:PutObject", "dropzone/acme/a.csv")
    # THEN a put inside is allowed, a read or a put elsewhere is not
    assert evaluate(inside, identity=[S3_ALL], session=[SESSION])
    for request in (
        req("s3:GetObject", "dropzone/acme/a.csv"),
        req("s3:PutObject", "dropzone/other/a.csv"),
        req("s3:PutObject", "products/sales/a.csv"),
    ):
        decision = evaluate(request, identity=[S3_ALL], session=[SESSION])
        assert not decision.allowed
        assert decision.kind == "implicit-deny"
        assert "session policy" in decision.reason


def test_the_session_policy_cannot_widen_the_role() -> None:
    narrow = doc(allow("s3:GetObject", "*"))
    decision = evaluate(
        req("s3:PutObject", "dropzone/acme/a"), identity=[narrow], session=[SESSION]
    )
    assert not decision.allowed
    assert "no identity policy" in decision.reason


def test_an_empty_session_policy_set_allows_nothing() -> None:
    assert not evaluate(req("s3:PutObject", "dropzone/acme/a"), identity=[S3_ALL], session=[])


def test_boundary_limits_like_a_session_policy() -> None:
    boundary = doc(allow("s3:*", f"{BUCKET}/dropzone/*"))
    assert evaluate(req("s3:GetObject", "dropzone/x"), identity=[S3_ALL], boundary=[boundary])
    decision = evaluate(req("s3:GetObject", "other/x"), identity=[S3_ALL], boundary=[boundary])
    assert not decision.allowed
    assert "permissions boundary" in decision.reason


def test_explicit_deny_wins_wherever_it_is() -> None:
    deny = doc({"Sid": "NoDelete", "Effect": "Deny", "Action": "s3:*", "Resource": "*"})
    decision = evaluate(req("s3:GetObject", "a"), identity=[S3_ALL, deny])
    assert decision.kind == "explicit-deny"
    assert "'NoDelete'" in decision.reason
    decision = evaluate(req("s3:GetObject", "a"), identity=[S3_ALL], session=[S3_ALL, deny])
    assert decision.kind == "explicit-deny"


# --- Action / NotAction, Resource / NotResource ------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "action", "expected"),
    [
        ("s3:GetObject", "s3:getobject", True),  # actions are case-insensitive
        ("s3:Get*", "s3:GetObjectVersion", True),
        ("s3:Get?bject", "s3:GetObject", True),
        ("s3:Get?bject", "s3:GetXXbject", False),
        ("s3:*", "glue:GetTable", False),
        ("*", "glue:GetTable", True),
    ],
)
def test_action_wildcards(pattern: str, action: str, expected: bool) -> None:
    request = Request(action, f"{BUCKET}/a", principal=ROLE)
    assert evaluate(request, identity=[doc(allow(pattern, "*"))]).allowed is expected


def test_not_action_and_not_resource() -> None:
    policy = doc(
        {"Effect": "Allow", "NotAction": "s3:DeleteObject", "Resource": "*"},
        {"Effect": "Deny", "Action": "s3:*", "NotResource": f"{BUCKET}/public/*"},
    )
    assert evaluate(req("s3:GetObject", "public/a"), identity=[policy])
    assert not evaluate(req("s3:DeleteObject", "public/a"), identity=[policy])
    assert evaluate(req("s3:GetObject", "private/a"), identity=[policy]).kind == "explicit-deny"


@pytest.mark.parametrize(
    ("pattern", "resource", "expected"),
    [
        (f"{BUCKET}/a/*", f"{BUCKET}/a/b/c.csv", True),  # * crosses '/'
        (f"{BUCKET}/a/*", f"{BUCKET}/A/b", False),  # resources are case-sensitive
        (f"{BUCKET}/a/?", f"{BUCKET}/a/b", True),
        ("arn:aws:s3:::lake-*", BUCKET, True),
        (
            "arn:aws:glue:*:111122223333:table/db/*",
            "arn:aws:glue:eu-west-1:111122223333:table/db/t",
            True,
        ),
        # a wildcard stays within its ARN segment: the region '*' cannot eat the account
        ("arn:aws:glue:*:table/db/t", "arn:aws:glue:eu-west-1:111122223333:table/db/t", False),
        ("arn:aws:glue:*:*:table/db/t", "arn:aws:glue:eu-west-1:111122223333:table/db/t", True),
    ],
)
def test_resource_matching(pattern: str, resource: str, expected: bool) -> None:
    request = Request("s3:GetObject", resource, principal=ROLE)
    assert evaluate(request, identity=[doc(allow("s3:GetObject", pattern))]).allowed is expected


def test_policy_variables_in_resources() -> None:
    policy = doc(allow("s3:PutObject", f"{BUCKET}/dropzone/${{aws:PrincipalTag/partner}}/*"))
    tagged = {"aws:PrincipalTag/partner": "acme"}
    assert evaluate(req("s3:PutObject", "dropzone/acme/a", **tagged), identity=[policy])
    assert not evaluate(req("s3:PutObject", "dropzone/other/a", **tagged), identity=[policy])
    # the key absent: the statement matches nothing
    assert not evaluate(req("s3:PutObject", "dropzone/acme/a"), identity=[policy])
    # a wildcard inside the substituted value is a literal character, not a wildcard
    starred = {"aws:PrincipalTag/partner": "*"}
    assert not evaluate(req("s3:PutObject", "dropzone/acme/a", **starred), identity=[policy])
    assert evaluate(req("s3:PutObject", "dropzone/*/a", **starred), identity=[policy])


def test_policy_variables_are_literal_in_the_2008_version() -> None:
    policy = {
        "Version": "2008-10-17",
        "Statement": [allow("s3:PutObject", f"{BUCKET}/${{aws:username}}/*")],
    }
    assert not evaluate(req("s3:PutObject", "bob/a", **{"aws:username": "bob"}), identity=[policy])
    assert evaluate(req("s3:PutObject", "${aws:username}/a"), identity=[policy])


# --- conditions ----------------------------------------------------------------------------


def cond(operator: str, key: str, value: Any) -> dict[str, Any]:
    return doc(allow("s3:GetObject", "*", Condition={operator: {key: value}}))


@pytest.mark.parametrize(
    ("operator", "key", "value", "context", "expected"),
    [
        ("StringEquals", "s3:prefix", "a/", {"s3:prefix": "a/"}, True),
        ("StringEquals", "s3:prefix", ["x", "a/"], {"s3:prefix": "a/"}, True),  # OR of values
        ("StringEquals", "s3:prefix", "A/", {"s3:prefix": "a/"}, False),
        ("StringEquals", "s3:prefix", "a/", {}, False),  # absent key: positive is false
        ("StringNotEquals", "s3:prefix", ["x", "y"], {"s3:prefix": "a/"}, True),
        ("StringNotEquals", "s3:prefix", ["x", "a/"], {"s3:prefix": "a/"}, False),
        ("StringNotEquals", "s3:prefix", "x", {}, True),  # absent key: negated is true
        ("StringEqualsIgnoreCase", "s3:prefix", "A/", {"s3:prefix": "a/"}, True),
        ("StringNotEqualsIgnoreCase", "s3:prefix", "A/", {"s3:prefix": "a/"}, False),
        ("StringLike", "s3:prefix", "dropzone/*", {"s3:prefix": "dropzone/acme/"}, True),
        ("StringNotLike", "s3:prefix", "dropzone/*", {"s3:prefix": "dropzone/acme/"}, False),
        ("StringEqualsIfExists", "s3:prefix", "a/", {}, True),
        ("StringEqualsIfExists", "s3:prefix", "a/", {"s3:prefix": "b/"}, False),
        ("NumericLessThanEquals", "s3:max-keys", "10", {"s3:max-keys": 10}, True),
        ("NumericLessThan", "s3:max-keys", "10", {"s3:max-keys": "10"}, False),
        ("NumericGreaterThan", "s3:max-keys", 5, {"s3:max-keys": "6"}, True),
        ("NumericNotEquals", "s3:max-keys", 5, {"s3:max-keys": "5"}, False),
        ("NumericEquals", "s3:max-keys", 5, {"s3:max-keys": "five"}, False),
        (
            "DateLessThan",
            "aws:CurrentTime",
            "2030-01-01T00:00:00Z",
            {"aws:CurrentTime": "2029-12-31T23:59:59Z"},
            True,
        ),
        (
            "DateGreaterThanEquals",
            "aws:EpochTime",
            "2030-01-01T00:00:00Z",
            {"aws:EpochTime": "1893456000"},
            True,
        ),
        (
            "DateNotEquals",
            "aws:CurrentTime",
            "2030-01-01T00:00:00Z",
            {"aws:CurrentTime": "2030-01-01T00:00:00+00:00"},
            False,
        ),
        ("Bool", "aws:SecureTransport", "true", {"aws:SecureTransport": True}, True),
        ("Bool", "aws:SecureTransport", "false", {"aws:SecureTransport": True}, False),
        ("Bool", "aws:SecureTransport", "false", {}, False),
        ("BoolIfExists", "aws:SecureTransport", "false", {}, True),
        ("IpAddress", "aws:SourceIp", "203.0.113.0/24", {"aws:SourceIp": "203.0.113.9"}, True),
        ("IpAddress", "aws:SourceIp", "203.0.113.0/24", {"aws:SourceIp": "198.51.100.1"}, False),
        ("NotIpAddress", "aws:SourceIp", "203.0.113.0/24", {"aws:SourceIp": "198.51.100.1"}, True),
        ("IpAddress", "aws:SourceIp", "2001:db8::/32", {"aws:SourceIp": "2001:db8::1"}, True),
        (
            "ArnLike",
            "aws:SourceArn",
            "arn:aws:transfer:*:111122223333:server/*",
            {"aws:SourceArn": "arn:aws:transfer:eu-west-1:111122223333:server/s-1"},
            True,
        ),
        (
            "ArnEquals",
            "aws:SourceArn",
            "arn:aws:transfer:*:111122223333:server/*",
            {"aws:SourceArn": "arn:aws:transfer:eu-west-1:444455556666:server/s-1"},
            False,
        ),
        (
            "ArnNotLike",
            "aws:SourceArn",
            "arn:aws:transfer:*:111122223333:server/*",
            {"aws:SourceArn": "arn:aws:transfer:eu-west-1:444455556666:server/s-1"},
            True,
        ),
        (
            "BinaryEquals",
            "s3:x-amz-content-sha256",
            "QUJD",
            {"s3:x-amz-content-sha256": "QUJD"},
            True,
        ),
        ("Null", "aws:SourceIp", "true", {}, True),
        ("Null", "aws:SourceIp", "false", {}, False),
        ("Null", "aws:SourceIp", "false", {"aws:SourceIp": "203.0.113.9"}, True),
    ],
)
def test_condition_operators(
    operator: str, key: str, value: Any, context: dict[str, Any], expected: bool
) -> None:
    request = Request("s3:GetObject", f"{BUCKET}/a", principal=ROLE, context=context)
    assert evaluate(request, identity=[cond(operator, key, value)]).allowed is expected


ORG_PATHS = {"aws:PrincipalOrgPaths": ["o-abc/r-ab12/ou-ab12-1111/ou-ab12-2222/"]}


@pytest.mark.parametrize(
    ("operator", "value", "context", "expected"),
    [
        ("ForAnyValue:StringLike", "o-abc/r-ab12/ou-ab12-1111/*", ORG_PATHS, True),
        ("ForAnyValue:StringLike", "o-abc/r-ab12/ou-ab12-9999/*", ORG_PATHS, False),
        ("ForAnyValue:StringLike", "o-abc/*", {}, False),  # absent: ForAnyValue is false
        ("ForAllValues:StringLike", "o-abc/*", {}, True),  # absent: ForAllValues is true
        (
            "ForAllValues:StringLike",
            "o-abc/r-ab12/ou-ab12-1111/*",
            {"aws:PrincipalOrgPaths": ["o-abc/r-ab12/ou-ab12-1111/", "o-abc/r-ab12/ou-ab12-3333/"]},
            False,
        ),
        ("ForAnyValue:StringNotLike", "o-abc/r-ab12/ou-ab12-1111/*", ORG_PATHS, False),
    ],
)
def test_multivalued_keys(
    operator: str, value: str, context: dict[str, Any], expected: bool
) -> None:
    request = Request("s3:GetObject", f"{BUCKET}/a", principal=ROLE, context=context)
    assert (
        evaluate(request, identity=[cond(operator, "aws:PrincipalOrgPaths", value)]).allowed
        is expected
    )


def test_every_key_and_every_block_must_hold() -> None:
    policy = doc(
        allow(
            "s3:GetObject",
            "*",
            Condition={
                "StringEquals": {"s3:prefix": "a/", "aws:SourceVpc": "vpc-1"},
                "Bool": {"aws:SecureTransport": "true"},
            },
        )
    )
    full = {"s3:prefix": "a/", "aws:SourceVpc": "vpc-1", "aws:SecureTransport": "true"}
    assert evaluate(req("s3:GetObject", "a", **full), identity=[policy])
    for missing in full:
        partial = {k: v for k, v in full.items() if k != missing}
        assert not evaluate(req("s3:GetObject", "a", **partial), identity=[policy])


def test_condition_key_names_are_case_insensitive() -> None:
    policy = cond("StringEquals", "AWS:SourceVpc", "vpc-1")
    assert evaluate(req("s3:GetObject", "a", **{"aws:sourcevpc": "vpc-1"}), identity=[policy])


def test_principal_keys_come_from_the_caller() -> None:
    policy = cond("StringEquals", "aws:PrincipalAccount", "111122223333")
    assert evaluate(req("s3:GetObject", "a"), identity=[policy])
    policy = cond("ArnLike", "aws:PrincipalArn", "arn:aws:sts::*:assumed-role/partner/*")
    assert evaluate(req("s3:GetObject", "a"), identity=[policy])


# --- unknown things are errors, not allows -------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        (cond("StringSortOfEquals", "s3:prefix", "a"), "unknown condition operator"),
        (cond("ForSomeValues:StringLike", "s3:prefix", "a"), "unknown condition set operator"),
        (cond("NullIfExists", "s3:prefix", "true"), "unknown condition operator"),
        (cond("StringEquals", "s3:made-up-key", "a"), "unknown condition key 's3:made-up-key'"),
        (cond("NumericEquals", "s3:max-keys", "ten"), "needs a number"),
        (cond("DateEquals", "aws:CurrentTime", "yesterday"), "needs an ISO 8601 date"),
        (cond("Bool", "aws:SecureTransport", "yes"), "needs 'true' or 'false'"),
        (cond("IpAddress", "aws:SourceIp", "not-an-ip"), "IP address or CIDR"),
    ],
)
def test_unknown_or_malformed_conditions_raise(policy: dict[str, Any], message: str) -> None:
    request = req(
        "s3:GetObject",
        "a",
        **{
            "s3:max-keys": "1",
            "aws:CurrentTime": "2030-01-01",
            "aws:SecureTransport": "true",
            "aws:SourceIp": "203.0.113.1",
        },
    )
    with pytest.raises(PolicyError, match=message):
        evaluate(request, identity=[policy])


def test_a_key_known_to_the_caller_or_present_in_the_context_is_accepted() -> None:
    policy = cond("StringEquals", "meshkit:partner", "acme")
    assert not evaluate(req("s3:GetObject", "a"), identity=[policy], known_keys=["meshkit:partner"])
    assert evaluate(req("s3:GetObject", "a", **{"meshkit:partner": "acme"}), identity=[policy])
    # tag families are known by prefix
    tags = cond("StringEquals", "aws:ResourceTag/owner", "sales")
    assert not evaluate(req("s3:GetObject", "a"), identity=[tags])


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("{not json", "not valid JSON"),
        ({"Version": "2012-10-17"}, "Statement must be"),
        ({"Version": "2019-01-01", "Statement": [allow("s3:GetObject", "*")]}, "Version must be"),
        ({"Statement": [allow("s3:GetObject", "*")], "Extra": 1}, "unknown top-level"),
        (doc({"Effect": "Permit", "Action": "s3:GetObject", "Resource": "*"}), "Effect must be"),
        (doc({"Effect": "Allow", "Resource": "*"}), "exactly one of Action and NotAction"),
        (
            doc({"Effect": "Allow", "Action": "s3:A", "NotAction": "s3:B", "Resource": "*"}),
            "exactly one of Action",
        ),
        (doc({"Effect": "Allow", "Action": "s3:A"}), "exactly one of Resource and NotResource"),
        (
            doc({"Effect": "Allow", "Action": "GetObject", "Resource": "*"}),
            "is not 'service:Operation'",
        ),
        (doc({"Effect": "Allow", "Action": [], "Resource": "*"}), "non-empty list"),
        (doc(allow("s3:A", "*", Conditions={})), "unknown element"),
        (doc(allow("s3:A", "*", Principal={"Robot": "x"})), "unknown principal type"),
    ],
)
def test_malformed_policies_raise(document: Any, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        parse_policy(document)


def test_principal_only_in_resource_policies() -> None:
    policy = doc(allow("s3:GetObject", "*", Principal="*"))
    with pytest.raises(PolicyError, match="resource policies only"):
        evaluate(req("s3:GetObject", "a"), identity=[policy])
    with pytest.raises(PolicyError, match="needs a Principal"):
        evaluate(req("s3:GetObject", "a"), resource=[S3_ALL])


# --- resource policies ----------------------------------------------------------------------


def bucket_policy(principal: Any) -> dict[str, Any]:
    return doc(allow("s3:GetObject", f"{BUCKET}/*", Principal=principal))


@pytest.mark.parametrize(
    ("principal", "expected"),
    [
        ("*", True),
        ({"AWS": "111122223333"}, True),
        ({"AWS": "arn:aws:iam::111122223333:root"}, True),
        ({"AWS": "arn:aws:iam::111122223333:role/partner"}, True),  # the session's role
        ({"AWS": "arn:aws:iam::111122223333:role/path/partner"}, True),
        ({"AWS": "arn:aws:iam::111122223333:role/other"}, False),
        ({"AWS": "444455556666"}, False),
        ({"Service": "transfer.amazonaws.com"}, False),
    ],
)
def test_resource_policy_principals(principal: Any, expected: bool) -> None:
    # within one account, the resource policy alone can grant
    request = req("s3:GetObject", "a")
    decision = evaluate(
        request, resource=[bucket_policy(principal)], resource_account="111122223333"
    )
    assert decision.allowed is expected


def test_cross_account_needs_both_sides() -> None:
    request = req("s3:GetObject", "a")
    theirs = bucket_policy({"AWS": "111122223333"})
    mine = doc(allow("s3:GetObject", "*"))
    kwargs: dict[str, Any] = {"resource_account": "444455556666"}
    assert evaluate(request, identity=[mine], resource=[theirs], **kwargs)
    only_mine = evaluate(request, identity=[mine], resource=[], **kwargs)
    assert not only_mine
    assert "cross-account" in only_mine.reason
    assert not evaluate(request, resource=[theirs], **kwargs)


def test_not_principal_deny() -> None:
    policy = doc(
        allow("s3:GetObject", "*", Principal="*"),
        {
            "Effect": "Deny",
            "Action": "s3:GetObject",
            "Resource": "*",
            "NotPrincipal": {"AWS": "arn:aws:iam::111122223333:role/partner"},
        },
    )
    assert evaluate(req("s3:GetObject", "a"), resource=[policy], resource_account="111122223333")
    other = Request("s3:GetObject", f"{BUCKET}/a", principal="arn:aws:iam::111122223333:user/eve")
    decision = evaluate(other, resource=[policy], resource_account="111122223333")
    assert decision.kind == "explicit-deny"


def test_a_resource_policy_allow_is_still_limited_by_the_session_policy() -> None:
    request = req("s3:GetObject", "dropzone/acme/a")
    decision = evaluate(
        request,
        session=[SESSION],
        resource=[bucket_policy("*")],
        resource_account="111122223333",
    )
    assert not decision.allowed
    assert "session policy" in decision.reason
