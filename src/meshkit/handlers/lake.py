"""Glue catalog and Lake Formation operations of the central account, each idempotent.

Grants are described by small dicts (principal, resource, permissions, grantable) stored with
the access request, so revocation removes exactly what was granted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from meshkit.events.types import S3Location
from meshkit.handlers._common import aws_error_code
from meshkit.runtime.errors import RejectEvent

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from meshkit.runtime.context import HandlerContext

__all__ = [
    "CLASS_VALUES",
    "DOMAIN_TAG_ALIAS",
    "LF_TAG_VALUE_LIMIT",
    "PRODUCT_TAG_ALIAS",
    "Grant",
    "apply_grants",
    "check_bucket_owner",
    "class_tag",
    "classify",
    "deregister_location",
    "domain_tag",
    "ensure_lf_tag_value",
    "location_arn",
    "product_tag",
    "register_location",
    "revoke_grants",
    "tag_resource",
]

#: Lake Formation's maximum number of values of one LF-tag key. The keys are per mesh, so it
#: bounds each mesh (not the account) to 1000 domains and 1000 distinct product names.
LF_TAG_VALUE_LIMIT = 1000
#: The short names a personas file may use for the mesh's own keys (docs/permissions.md).
DOMAIN_TAG_ALIAS = "mesh_domain"
PRODUCT_TAG_ALIAS = "mesh_product"


def domain_tag(mesh_name: str) -> str:
    """The LF-tag key whose values are the mesh's domains.

    LF-tag keys are account-wide: two meshes in one central account must not share a key, or
    a tag-mode grant of one mesh would match the other's tables. Mesh names hold no ``:``, so
    ``meshkit:<mesh>:domain`` cannot collide between two meshes.
    """
    return f"meshkit:{mesh_name}:domain"


#: Every product table's classification (:func:`class_tag`): ``open`` or ``sensitive``. A
#: tag-mode grant for non-sensitive data matches ``open`` only, so a sensitive table added to
#: the product later is not covered: it needs its own approval.
CLASS_VALUES = ("open", "sensitive")


def class_tag(mesh_name: str) -> str:
    """The LF-tag key holding each product table's classification (see :func:`domain_tag`)."""
    return f"meshkit:{mesh_name}:class"


def product_tag(mesh_name: str) -> str:
    """The LF-tag key whose values are the mesh's product names (see :func:`domain_tag`)."""
    return f"meshkit:{mesh_name}:product"


Grant = dict[str, Any]

PRODUCER_TABLE_PERMISSIONS = ["ALTER", "DESCRIBE", "INSERT", "DELETE", "SELECT"]
PRODUCER_DATABASE_PERMISSIONS = ["CREATE_TABLE", "DESCRIBE"]


def ensure_lf_tag_value(ctx: HandlerContext, key: str, value: str, *, new: bool = False) -> None:
    """Make ``value`` one of the LF-tag ``key``'s values, creating the tag when needed.

    ``new=True`` says the value cannot be there yet (a first registration): add it straight
    away and create the tag only when the key does not exist, one call in the common case.
    """
    lf = ctx.client("lakeformation")
    if new:
        try:
            lf.update_lf_tag(TagKey=key, TagValuesToAdd=[value])
            return
        except Exception as exc:
            if aws_error_code(exc) == "ResourceNumberLimitExceededException":
                raise _tag_full(key, value) from exc
            if aws_error_code(exc) != "EntityNotFoundException":
                raise
    try:
        existing = lf.get_lf_tag(TagKey=key)["TagValues"]
    except Exception as exc:
        if aws_error_code(exc) != "EntityNotFoundException":
            raise
        try:
            lf.create_lf_tag(TagKey=key, TagValues=[value])
            return
        except Exception as create_exc:
            # Created concurrently by another invocation: fall through to update.
            if aws_error_code(create_exc) != "AlreadyExistsException":
                raise
            existing = lf.get_lf_tag(TagKey=key)["TagValues"]
    if value in existing:
        return
    if len(existing) >= LF_TAG_VALUE_LIMIT:
        raise _tag_full(key, value)
    try:
        lf.update_lf_tag(TagKey=key, TagValuesToAdd=[value])
    except Exception as exc:
        if aws_error_code(exc) == "ResourceNumberLimitExceededException":
            raise _tag_full(key, value) from exc
        raise


def ensure_class_tag(ctx: HandlerContext) -> None:
    """The classification LF-tag with its two values (one call once it exists)."""
    try:
        ctx.client("lakeformation").create_lf_tag(
            TagKey=class_tag(ctx.config.mesh_name), TagValues=list(CLASS_VALUES)
        )
    except Exception as exc:
        if aws_error_code(exc) != "AlreadyExistsException":
            raise


def _tag_full(key: str, value: str) -> RejectEvent:
    per = "domain" if key.endswith(":domain") else "product name"
    return RejectEvent(
        f"LF-tag {key} cannot take the value {value!r}: it holds Lake Formation's maximum of "
        f"{LF_TAG_VALUE_LIMIT} values (one per {per} of this mesh); "
        "run another mesh (mesh_name) for further domains, or reuse product names",
        kind="state",
    )


# -- data locations ------------------------------------------------------------------------
# Lake Formation vends credentials for a table's data from the registrations of the account
# whose catalog holds the table: central's (docs/deploy.md, "Data locations"). Central therefore
# registers each domain's storage in its own Lake Formation, with its own location role, which
# each domain's bucket policy and key policy trust.


def _split_storage(storage_uri: str) -> tuple[str, str]:
    bucket, _, prefix = storage_uri.removeprefix("s3://").partition("/")
    return bucket, prefix


def location_arn(storage_uri: str, role_arn: str) -> str:
    """``s3://bucket/products/`` -> ``arn:<partition>:s3:::bucket/products/`` (the partition
    is the location role's, which lives in the same partition as the bucket)."""
    partition = role_arn.split(":")[1] if role_arn.startswith("arn:") else "aws"
    bucket, prefix = _split_storage(storage_uri)
    return f"arn:{partition}:s3:::{bucket}/{prefix}"


def _partition(region: str) -> str:
    # The region patterns of botocore's partitions.json (see events.types.ARN_PARTITIONS).
    for prefix, partition in (
        ("cn-", "aws-cn"),
        ("us-gov-", "aws-us-gov"),
        ("eusc-", "aws-eusc"),
        ("us-isob-", "aws-iso-b"),
        ("us-isof-", "aws-iso-f"),
        ("eu-isoe-", "aws-iso-e"),
        ("us-iso-", "aws-iso"),
    ):
        if region.startswith(prefix):
            return partition
    return "aws"


def location_role(ctx: HandlerContext) -> str:
    """Central's location role: ``location_role_arn``, or ``location_role_name`` (what the
    CentralGovernance construct sets) in this account and partition."""
    role = ctx.config.setting("location_role_arn", None)
    if role:
        return str(role)
    name = ctx.config.setting("location_role_name", None)
    if not name:
        raise RuntimeError(
            "setting location_role_name is missing: the CentralGovernance construct sets it"
        )
    partition = _partition(ctx.config.region)
    return f"arn:{partition}:iam::{ctx.config.account_id}:role/{name}"


def check_bucket_owner(ctx: HandlerContext, storage_uri: str, account: str) -> None:
    """Refuse storage in a bucket ``account`` does not own, before central registers it.

    Every domain bucket trusts central's location role, so registering another account's
    bucket for this domain would hand that data to this domain's consumers. S3 answers 403
    when ``ExpectedBucketOwner`` is not the owner. The call is ``HeadBucket`` (authorised as
    ``s3:ListBucket``, which the domain's bucket policy grants central for this check), not
    ``GetBucketLocation``: S3 answers the latter only to the bucket owner, 403 cross-account
    whatever the bucket policy says (docs/deploy.md, "Sources").
    """
    bucket, _ = _split_storage(storage_uri)
    try:
        ctx.client("s3").head_bucket(Bucket=bucket, ExpectedBucketOwner=account)
    except Exception as exc:
        code = aws_error_code(exc)
        if code in ("AccessDenied", "403", "NoSuchBucket", "404", "AllAccessDisabled"):
            raise RejectEvent(
                f"bucket {bucket} of storage {storage_uri} is not owned by account {account}, "
                f"or its bucket policy does not let central check it ({code}); a domain "
                "registers storage in its own bucket, deployed by its DataDomain stack",
                kind="validation",
            ) from exc
        raise


def register_location(ctx: HandlerContext, storage_uri: str) -> str:
    """Register the domain's storage with central's Lake Formation (idempotent); its ARN."""
    role = location_role(ctx)
    arn = location_arn(storage_uri, role)
    lf = ctx.client("lakeformation")
    try:
        lf.register_resource(ResourceArn=arn, RoleArn=role, UseServiceLinkedRole=False)
    except Exception as exc:
        if aws_error_code(exc) != "AlreadyExistsException":
            raise
        registered = lf.describe_resource(ResourceArn=arn)["ResourceInfo"].get("RoleArn")
        if registered != role:
            raise RejectEvent(
                f"location {arn} is already registered in central's Lake Formation with role "
                f"{registered}, not the mesh's location role {role}; deregister it first",
                kind="state",
            ) from exc
    return arn


def deregister_location(ctx: HandlerContext, storage_uri: str) -> None:
    """Deregister the domain's storage (a location already gone is not an error)."""
    arn = location_arn(storage_uri, location_role(ctx))
    try:
        ctx.client("lakeformation").deregister_resource(ResourceArn=arn)
    except Exception as exc:
        if aws_error_code(exc) != "EntityNotFoundException":
            raise


def _overlaps(a: str, b: str) -> bool:
    try:
        return S3Location.parse(a).overlaps(S3Location.parse(b))
    except ValueError:
        # A stored value from before the canonical rules: compare it as text, closed.
        a, b = a.rstrip("/") + "/", b.rstrip("/") + "/"
        return a.lower().startswith(b.lower()) or b.lower().startswith(a.lower())


def storage_conflicts(
    storage_uri: str, domain: str, others: Iterable[Mapping[str, Any]]
) -> list[str]:
    """Other active domains whose storage overlaps ``storage_uri`` (one registration each)."""
    return sorted(
        str(o["domain"])
        for o in others
        if o.get("domain") != domain
        and o.get("status") == "ACTIVE"
        and _overlaps(str(o.get("storage_uri", "")), storage_uri)
    )


def tag_resource(ctx: HandlerContext, resource: Mapping[str, Any], tags: Mapping[str, str]) -> None:
    ctx.client("lakeformation").add_lf_tags_to_resource(
        Resource=dict(resource),
        LFTags=[{"TagKey": k, "TagValues": [v]} for k, v in tags.items()],
    )


def database_resource(catalog: str, database: str) -> dict[str, Any]:
    return {"Database": {"CatalogId": catalog, "Name": database}}


def table_resource(catalog: str, database: str, table: str) -> dict[str, Any]:
    return {"Table": {"CatalogId": catalog, "DatabaseName": database, "Name": table}}


def tag_policy(
    catalog: str, resource_type: str, expression: Mapping[str, Sequence[str]]
) -> dict[str, Any]:
    return {
        "LFTagPolicy": {
            "CatalogId": catalog,
            "ResourceType": resource_type,
            "Expression": [{"TagKey": k, "TagValues": list(v)} for k, v in expression.items()],
        }
    }


def grant(
    principal: str, resource: dict[str, Any], permissions: Sequence[str], *, grantable: bool
) -> Grant:
    return {
        "principal": principal,
        "resource": resource,
        "permissions": list(permissions),
        "grantable": list(permissions) if grantable else [],
    }


def _grant_kwargs(g: Grant) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "Principal": {"DataLakePrincipalIdentifier": g["principal"]},
        "Resource": g["resource"],
        "Permissions": g["permissions"],
    }
    if g["grantable"]:
        kwargs["PermissionsWithGrantOption"] = g["grantable"]
    return kwargs


def apply_grants(ctx: HandlerContext, grants: Iterable[Grant]) -> None:
    """Grant each; Lake Formation treats an existing identical grant as success."""
    lf = ctx.client("lakeformation")
    for g in grants:
        lf.grant_permissions(**_grant_kwargs(g))


def revoke_grants(ctx: HandlerContext, grants: Iterable[Grant]) -> None:
    """Revoke each; a grant that is already gone is not an error (revocation is retried)."""
    lf = ctx.client("lakeformation")
    for g in grants:
        try:
            lf.revoke_permissions(**_grant_kwargs(g))
        except Exception as exc:
            if aws_error_code(exc) not in ("InvalidInputException", "EntityNotFoundException"):
                raise


def producer_grants(
    catalog: str, database: str, tables: Sequence[str], producer_account: str
) -> list[Grant]:
    """What a producer needs to manage its product's schema through its resource links."""
    out = [
        grant(
            producer_account,
            database_resource(catalog, database),
            PRODUCER_DATABASE_PERMISSIONS,
            grantable=False,
        )
    ]
    out += [
        grant(
            producer_account,
            table_resource(catalog, database, t),
            PRODUCER_TABLE_PERMISSIONS,
            grantable=False,
        )
        for t in tables
    ]
    return out


def consumer_grants(
    *,
    catalog: str,
    database: str,
    tables: Sequence[str],
    consumer_account: str,
    permissions: Sequence[str],
    mode: str,
    mesh_name: str,
    domain: str,
    product: str,
    sensitive_tables: Sequence[str] = (),
) -> tuple[list[Grant], dict[str, list[str]] | None]:
    """Grants for a consumer account (grantable, so it can grant its own principals).

    Tag mode grants the product's ``open`` tables by expression (tables added later inherit
    it only when they are open too) and the approved ``sensitive_tables`` by name.
    """
    if mode == "tag":
        domain_key = domain_tag(mesh_name)
        expression = {
            domain_key: [domain],
            product_tag(mesh_name): [product],
            class_tag(mesh_name): ["open"],
        }
        return (
            [
                grant(
                    consumer_account,
                    tag_policy(catalog, "DATABASE", {domain_key: [domain]}),
                    ["DESCRIBE"],
                    grantable=True,
                ),
                grant(
                    consumer_account,
                    tag_policy(catalog, "TABLE", expression),
                    permissions,
                    grantable=True,
                ),
                *(
                    grant(
                        consumer_account,
                        table_resource(catalog, database, t),
                        permissions,
                        grantable=True,
                    )
                    for t in tables
                    if t in sensitive_tables
                ),
            ],
            expression,
        )
    out = [
        grant(consumer_account, database_resource(catalog, database), ["DESCRIBE"], grantable=True)
    ]
    out += [
        grant(consumer_account, table_resource(catalog, database, t), permissions, grantable=True)
        for t in tables
    ]
    return out, None


def classify(
    ctx: HandlerContext, *, catalog: str, database: str, tables: Sequence[str]
) -> list[str]:
    """Why these tables are sensitive (empty: they are not).

    Sensitive when the parameter (default ``pii_flag``) is "true" on the database, a table or
    any column, or the LF-tag (default ``confidentiality=sensitive``) is on one of them.
    """
    by_table = classify_tables(ctx, catalog=catalog, database=database, tables=tables)
    return [r for reasons in by_table.values() for r in reasons]


def classify_tables(
    ctx: HandlerContext, *, catalog: str, database: str, tables: Sequence[str]
) -> dict[str, list[str]]:
    """:func:`classify`'s reasons by table (``""``: the database's own, for every table)."""
    flag = str(ctx.config.setting("pii_parameter", "pii_flag"))
    tag_key, _, tag_value = str(
        ctx.config.setting("sensitive_tag", "confidentiality=sensitive")
    ).partition("=")
    glue = ctx.client("glue")
    lf = ctx.client("lakeformation")
    out: dict[str, list[str]] = {"": []}

    db = glue.get_database(CatalogId=catalog, Name=database)["Database"]
    if str(db.get("Parameters", {}).get(flag, "")).lower() == "true":
        out[""].append(f"database {database} has {flag}=true")
    for table in tables:
        reasons = out.setdefault(table, [])
        t = glue.get_table(CatalogId=catalog, DatabaseName=database, Name=table)["Table"]
        if str(t.get("Parameters", {}).get(flag, "")).lower() == "true":
            reasons.append(f"table {table} has {flag}=true")
        for column in t.get("StorageDescriptor", {}).get("Columns", []):
            if str(column.get("Parameters", {}).get(flag, "")).lower() == "true":
                reasons.append(f"column {table}.{column['Name']} has {flag}=true")
        tags = lf.get_resource_lf_tags(
            Resource=table_resource(catalog, database, table), ShowAssignedLFTags=True
        )
        assigned = [*tags.get("LFTagOnDatabase", []), *tags.get("LFTagsOnTable", [])]
        for column in tags.get("LFTagsOnColumns", []):
            assigned.extend(column.get("LFTags", []))
        if any(
            a.get("TagKey") == tag_key and tag_value in a.get("TagValues", []) for a in assigned
        ):
            reasons.append(f"table {table} carries LF-tag {tag_key}={tag_value}")
    return out
