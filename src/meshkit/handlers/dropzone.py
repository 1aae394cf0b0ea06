"""Drop zones for third parties: vended upload credentials, an SFTP identity provider, and the
validation of what partners upload.

One drop zone per domain (the ``DropZone`` construct; ``LocalMesh.add_drop_zone``): a bucket of
its own with one prefix per partner (``<partner>/``) and a ``quarantine/`` prefix. Its settings
are the ``dropzone`` entry of the handler settings (:class:`DropZoneSettings`).

* :func:`vend` issues temporary credentials for one partner: ``sts:AssumeRole`` on the drop
  zone's upload role with a session policy allowing ``s3:PutObject`` under ``<partner>/`` and
  nothing else, for 15 minutes to 12 hours (never above ``max_session_seconds``); the session
  policy is checked against STS's 2,048-character limit before the call. Every issue publishes
  ``DropZoneCredentialsIssued`` and logs one line. :func:`vend_handler` is its Lambda function
  URL (``AWS_IAM`` auth: the caller is the IAM principal that signed the request).
* :func:`identity_provider` answers AWS Transfer Family (SFTP) logins with the same role and the
  same session policy, public keys only (:func:`identity_provider_handler` is its Lambda).
* ``router`` (group ``dropzone``) receives S3's ``Object Created`` events for the bucket: a valid
  upload (``meshkit.handlers.uploads``) is copied under the product table's location, the
  product's crawler is started (its state change drives ``ProductSchemaUpdated`` as for any
  crawl), the upload is deleted and ``DropZoneUploadAccepted`` published; an invalid one is moved
  to ``quarantine/<key>`` with ``DropZoneUploadRejected`` and its reason.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal

from meshkit.events.aws import S3ObjectCreated
from meshkit.events.dropzone import (
    DropZoneCredentialsIssued,
    DropZoneUploadAccepted,
    DropZoneUploadRejected,
)
from meshkit.handlers._common import aws_error_code, require_own_account
from meshkit.handlers.registry import Registry
from meshkit.handlers.uploads import FORMATS, ColumnRule, UploadInvalid, validate_upload
from meshkit.runtime.errors import RejectEvent, RetryLater
from meshkit.runtime.router import EventRouter
from meshkit.topology import DROPZONE_QUARANTINE_PREFIX

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from meshkit.events.base import EventDetail
    from meshkit.runtime.context import HandlerContext
    from meshkit.runtime.router import Runtime

__all__ = [
    "MAX_SESSION_POLICY_CHARS",
    "MAX_SESSION_SECONDS",
    "MIN_SESSION_SECONDS",
    "QUARANTINE_PREFIX",
    "DropZoneSettings",
    "Partner",
    "VendingRefused",
    "identity_provider",
    "identity_provider_handler",
    "router",
    "session_policy",
    "vend",
    "vend_handler",
]

logger = logging.getLogger("meshkit.dropzone")

#: STS AssumeRole's DurationSeconds range (the role's MaxSessionDuration caps it further).
MIN_SESSION_SECONDS = 900
MAX_SESSION_SECONDS = 43_200
#: STS's limit on the plaintext session policy (inline ``Policy`` plus ``PolicyArns``).
MAX_SESSION_POLICY_CHARS = 2_048
#: Where rejected uploads are moved, in the drop-zone bucket (no partner can write there).
QUARANTINE_PREFIX = DROPZONE_QUARANTINE_PREFIX

_PARTNER = re.compile(r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$")
#: Keys a drop zone processes: no spaces or characters S3 might encode in its notifications.
_SAFE_KEY = re.compile(r"^[A-Za-z0-9._=/-]{1,900}$")
_S3_URI = re.compile(r"^s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(.*)$")


class VendingRefused(PermissionError):
    """Credentials were not issued: ``status`` is the HTTP status the API answers with."""

    def __init__(self, message: str, status: int = 403) -> None:
        self.status = status
        super().__init__(message)


@dataclass(frozen=True)
class Partner:
    """One partner of a drop zone and the rules its uploads must follow."""

    name: str
    #: The data product (and table) its accepted uploads feed.
    product: str
    #: Where accepted uploads go: the table's location (``s3://…/``), under the domain storage.
    target_uri: str
    #: The product's table the uploads belong to (default: the product's name).
    table: str | None = None
    format: Literal["csv", "json", "parquet"] = "csv"
    max_bytes: int = 100 * 1024 * 1024
    columns: tuple[ColumnRule, ...] = ()
    #: IAM principal ARNs allowed to ask for credentials (roles match their sessions).
    principals: tuple[str, ...] = ()
    #: SSH public keys for SFTP logins (``ssh-ed25519 AAAA…``); none: no SFTP for this partner.
    public_keys: tuple[str, ...] = ()

    @classmethod
    def from_setting(cls, name: str, raw: Mapping[str, Any]) -> Partner:
        where = f"drop-zone partner {name!r}"
        if not _PARTNER.match(name) or name + "/" == DROPZONE_QUARANTINE_PREFIX:
            raise ValueError(
                f"{where}: use 2..32 lowercase letters, digits or '-' (not 'quarantine')"
            )
        unknown = set(raw) - {
            "product",
            "table",
            "target_uri",
            "format",
            "max_bytes",
            "columns",
            "principals",
            "public_keys",
        }
        if unknown:
            raise ValueError(f"{where}: unknown setting(s) {sorted(unknown)}")
        for needed in ("product", "target_uri"):
            if not raw.get(needed):
                raise ValueError(f"{where}: {needed} is required")
        target = str(raw["target_uri"])
        if not _S3_URI.match(target) or not target.endswith("/"):
            raise ValueError(f"{where}: target_uri {target!r} must be s3://bucket/prefix/")
        fmt = raw.get("format", "csv")
        if fmt not in FORMATS:
            raise ValueError(f"{where}: format {fmt!r} is not one of {list(FORMATS)}")
        max_bytes = int(raw.get("max_bytes", cls.max_bytes))
        if max_bytes < 1:
            raise ValueError(f"{where}: max_bytes must be positive")
        columns = tuple(
            ColumnRule(c) if isinstance(c, str) else ColumnRule(str(c["name"]), str(c["type"]))
            for c in raw.get("columns", ())
        )
        return cls(
            name=name,
            product=str(raw["product"]),
            table=str(raw["table"]) if raw.get("table") else None,
            target_uri=target,
            format=fmt,
            max_bytes=max_bytes,
            columns=columns,
            principals=tuple(str(p) for p in raw.get("principals", ())),
            public_keys=tuple(str(k) for k in raw.get("public_keys", ())),
        )

    def allows(self, caller: str) -> bool:
        """Whether ``caller`` (an IAM or STS ARN) is one of this partner's principals; a role
        ARN admits that role's sessions (``…:assumed-role/<role>/<session>``)."""
        if caller in self.principals:
            return True
        session = re.fullmatch(r"arn:([^:]+):sts::(\d{12}):assumed-role/([^/]+)/[^/]+", caller)
        if session is None:
            return False
        partition, account, role = session.groups()
        return any(
            re.fullmatch(rf"arn:{partition}:iam::{account}:role/(.+/)?{re.escape(role)}", p)
            for p in self.principals
        )


@dataclass(frozen=True)
class DropZoneSettings:
    """The ``dropzone`` handler setting, as the construct (or the local mesh) writes it."""

    bucket: str
    upload_role_arn: str
    partners: Mapping[str, Partner]
    max_session_seconds: int = 3_600
    #: SFTP logins are answered (the construct's ``sftp=True``): only the drop zone's Transfer
    #: server may invoke the identity provider (its Lambda permission names the server's ARN).
    sftp: bool = False
    #: When set, the identity provider also refuses logins naming another server.
    sftp_server_id: str | None = None
    partition: str = "aws"
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, settings: Mapping[str, Any]) -> DropZoneSettings:
        raw = settings.get("dropzone")
        if not isinstance(raw, dict):
            raise RuntimeError(
                "setting 'dropzone' is missing: the DropZone construct (or "
                "LocalMesh.add_drop_zone) sets it"
            )
        max_session = int(raw.get("max_session_seconds", 3_600))
        if not MIN_SESSION_SECONDS <= max_session <= MAX_SESSION_SECONDS:
            raise ValueError(
                f"dropzone max_session_seconds={max_session}: STS allows "
                f"{MIN_SESSION_SECONDS}..{MAX_SESSION_SECONDS}"
            )
        role = str(raw.get("upload_role_arn", ""))
        match = re.fullmatch(r"arn:([a-z-]+):iam::\d{12}:role/.+", role)
        if match is None:
            raise ValueError(f"dropzone upload_role_arn={role!r} is not an IAM role ARN")
        partners = {
            name: Partner.from_setting(name, spec)
            for name, spec in dict(raw.get("partners", {})).items()
        }
        return cls(
            bucket=str(raw["bucket"]),
            upload_role_arn=role,
            partners=partners,
            max_session_seconds=max_session,
            sftp=bool(raw.get("sftp", False)) or bool(raw.get("sftp_server_id")),
            sftp_server_id=raw.get("sftp_server_id") or None,
            partition=match.group(1),
        )

    def partner(self, name: str) -> Partner:
        try:
            return self.partners[name]
        except KeyError:
            raise VendingRefused(f"no drop-zone partner {name!r}", status=404) from None

    def prefix_uri(self, partner: str) -> str:
        return f"s3://{self.bucket}/{partner}/"


def session_policy(bucket: str, partner: str, *, partition: str = "aws") -> str:
    """The session policy of a partner's credentials: PutObject under its prefix, nothing else
    (the upload role itself may put anywhere in the bucket except the quarantine prefix).

    Raises ValueError when it would exceed STS's 2,048 characters (a very long bucket name)."""
    if not _PARTNER.match(partner):
        raise ValueError(f"partner {partner!r}: use 2..32 lowercase letters, digits or '-'")
    policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "PartnerPrefixOnly",
                    "Effect": "Allow",
                    "Action": "s3:PutObject",
                    "Resource": f"arn:{partition}:s3:::{bucket}/{partner}/*",
                }
            ],
        },
        separators=(",", ":"),
    )
    if len(policy) > MAX_SESSION_POLICY_CHARS:
        raise ValueError(
            f"the session policy for {partner!r} is {len(policy)} characters, over STS's "
            f"{MAX_SESSION_POLICY_CHARS}"
        )
    return policy


def _session_name(partner: str, stamp: int) -> str:
    return f"dropzone-{partner}-{stamp}"[:64]


def vend(
    rt: Runtime,
    *,
    caller: str,
    partner: str,
    duration_seconds: int = MIN_SESSION_SECONDS,
) -> dict[str, Any]:
    """Issue ``partner``'s upload credentials to ``caller`` (the authenticated IAM principal).

    Returns the credentials with the bucket and prefix they may write to; raises
    :class:`VendingRefused` (unknown partner, caller not allowed, duration out of bounds)."""
    settings = DropZoneSettings.of(rt.config.settings)
    spec = settings.partner(partner)
    if not spec.allows(caller):
        raise VendingRefused(f"{caller} may not ask for partner {partner!r}'s credentials")
    if isinstance(duration_seconds, bool) or not isinstance(duration_seconds, int):
        raise VendingRefused("duration_seconds must be an integer", status=400)
    upper = settings.max_session_seconds
    if not MIN_SESSION_SECONDS <= duration_seconds <= upper:
        raise VendingRefused(
            f"duration_seconds={duration_seconds}: this drop zone issues "
            f"{MIN_SESSION_SECONDS}..{upper} seconds",
            status=400,
        )
    policy = session_policy(settings.bucket, partner, partition=settings.partition)
    now = rt.clock()
    name = _session_name(partner, int(now.timestamp()))
    answer = rt.clients.client("sts").assume_role(
        RoleArn=settings.upload_role_arn,
        RoleSessionName=name,
        Policy=policy,
        DurationSeconds=duration_seconds,
    )
    credentials = answer["Credentials"]
    expires = now + timedelta(seconds=duration_seconds)
    audit = DropZoneCredentialsIssued(
        domain=rt.config.domain or "",
        partner=partner,
        caller=caller,
        channel="api",
        prefix=settings.prefix_uri(partner),
        session_name=name,
        expires_at=expires,
        duration_seconds=duration_seconds,
    )
    logger.info("drop-zone credentials issued: %s", audit.detail_json())
    rt.publisher.publish([audit])
    return {
        "AccessKeyId": credentials["AccessKeyId"],
        "SecretAccessKey": credentials["SecretAccessKey"],
        "SessionToken": credentials["SessionToken"],
        "Expiration": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "Bucket": settings.bucket,
        "Prefix": f"{partner}/",
    }


def _http(status: int, body: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json", "cache-control": "no-store"},
        "body": json.dumps(body),
    }


def handle_vend_request(rt: Runtime, event: Mapping[str, Any]) -> dict[str, Any]:
    """A Lambda function URL request (payload 2.0, ``AWS_IAM`` auth) -> an HTTP answer."""
    context = event.get("requestContext") or {}
    caller = ((context.get("authorizer") or {}).get("iam") or {}).get("userArn")
    if not caller:
        return _http(401, {"error": "the request is not IAM-authenticated (AWS_IAM auth)"})
    method = (context.get("http") or {}).get("method", "POST")
    if method != "POST":
        return _http(405, {"error": "POST a JSON body {partner, duration_seconds}"})
    try:
        raw = event.get("body") or "{}"
        if event.get("isBase64Encoded"):
            import base64

            raw = base64.b64decode(raw).decode()
        body = json.loads(raw)
        if not isinstance(body, dict) or not isinstance(body.get("partner"), str):
            raise ValueError("partner is required")
    except (ValueError, UnicodeDecodeError) as exc:
        return _http(400, {"error": f"bad request body: {exc}"})
    try:
        answer = vend(
            rt,
            caller=str(caller),
            partner=body["partner"],
            duration_seconds=body.get("duration_seconds", MIN_SESSION_SECONDS),
        )
    except VendingRefused as exc:
        logger.warning("drop-zone credentials refused to %s: %s", caller, exc)
        return _http(exc.status, {"error": str(exc)})
    return _http(200, answer)


def vend_handler(event: dict[str, Any], context: object | None = None) -> dict[str, Any]:
    """Lambda entrypoint of the vending function URL."""
    from meshkit.runtime.router import default_runtime

    return handle_vend_request(default_runtime(), event)


def identity_provider(rt: Runtime, event: Mapping[str, Any]) -> dict[str, Any]:
    """A Transfer Family custom identity provider answer for ``{username, password?, protocol,
    serverId, sourceIp}``: the upload role, the partner's session policy and a logical home of
    ``/`` -> ``/<bucket>/<partner>``, with the partner's public keys. Password logins, unknown
    users, partners without keys and other servers get ``{}`` (Transfer then refuses)."""
    settings = DropZoneSettings.of(rt.config.settings)
    user = str(event.get("username", ""))
    server = str(event.get("serverId", ""))
    refused: str | None = None
    spec = settings.partners.get(user)
    if not settings.sftp:
        refused = "SFTP is not enabled on this drop zone"
    elif settings.sftp_server_id is not None and server != settings.sftp_server_id:
        refused = f"server {server!r} is not this drop zone's SFTP server"
    elif spec is None:
        refused = f"no drop-zone partner {user!r}"
    elif event.get("password"):
        refused = "password logins are not accepted: use the partner's SSH key"
    elif not spec.public_keys:
        refused = f"partner {user!r} has no SSH public key"
    if refused is not None or spec is None:
        logger.warning("drop-zone SFTP login refused for %r: %s", user, refused)
        return {}
    now = rt.clock()
    audit = DropZoneCredentialsIssued(
        domain=rt.config.domain or "",
        partner=user,
        caller=f"sftp:{user}",
        channel="sftp",
        prefix=settings.prefix_uri(user),
        session_name=_session_name(user, int(now.timestamp())),
    )
    logger.info("drop-zone SFTP login: %s", audit.detail_json())
    rt.publisher.publish([audit])
    return {
        "Role": settings.upload_role_arn,
        "Policy": session_policy(settings.bucket, user, partition=settings.partition),
        "HomeDirectoryType": "LOGICAL",
        "HomeDirectoryDetails": json.dumps(
            [{"Entry": "/", "Target": f"/{settings.bucket}/{user}"}]
        ),
        "PublicKeys": list(spec.public_keys),
    }


def identity_provider_handler(
    event: dict[str, Any], context: object | None = None
) -> dict[str, Any]:
    """Lambda entrypoint of the Transfer Family identity provider."""
    from meshkit.runtime.router import default_runtime

    return identity_provider(default_runtime(), event)


# --- uploads ------------------------------------------------------------------------------------

router = EventRouter("dropzone")


def _quarantine(
    ctx: HandlerContext,
    settings: DropZoneSettings,
    key: str,
    partner: str | None,
    reason: Literal["format", "size", "schema", "location"],
    message: str,
    size: int,
) -> DropZoneUploadRejected:
    s3 = ctx.client("s3")
    target = QUARANTINE_PREFIX + key
    s3.copy_object(
        Bucket=settings.bucket, Key=target, CopySource={"Bucket": settings.bucket, "Key": key}
    )
    s3.delete_object(Bucket=settings.bucket, Key=key)
    return DropZoneUploadRejected(
        domain=ctx.config.domain or "",
        partner=partner,
        source_uri=f"s3://{settings.bucket}/{key}",
        quarantine_uri=f"s3://{settings.bucket}/{target}",
        reason=reason,
        message=message[:4000],
        size=size,
    )


def _storage_covers(ctx: HandlerContext, target: str) -> bool:
    storage = str(ctx.config.setting("storage_uri", ""))
    return bool(storage) and target.startswith(storage)


@router.on(S3ObjectCreated)
def upload_arrived(event: S3ObjectCreated, ctx: HandlerContext) -> EventDetail | None:
    """Validate one upload; move it into the product (and crawl) or into quarantine."""
    require_own_account(ctx, event)
    settings = DropZoneSettings.of(ctx.config.settings)
    key = event.object.key
    if event.bucket.name != settings.bucket or key.startswith(QUARANTINE_PREFIX):
        return None  # not a partner's upload (the rule already filters these)
    s3 = ctx.client("s3")
    try:
        head = s3.head_object(Bucket=settings.bucket, Key=key)
    except Exception as exc:
        if aws_error_code(exc) in ("404", "NoSuchKey", "NotFound"):
            ctx.logger.info("s3://%s/%s is gone: already handled", settings.bucket, key)
            return None
        raise
    size = int(head.get("ContentLength", event.object.size or 0))
    partner_name, _, rest = key.partition("/")
    spec = settings.partners.get(partner_name)
    if spec is None or not rest:
        return _quarantine(
            ctx, settings, key, None, "location", f"{key!r} is under no partner's prefix", size
        )
    if not _SAFE_KEY.match(key) or rest.endswith("/"):
        return _quarantine(
            ctx,
            settings,
            key,
            partner_name,
            "location",
            f"{key!r}: use object names of letters, digits and . _ = - / only",
            size,
        )
    if size > spec.max_bytes or size == 0:
        # Decided from the object's metadata: an oversized upload is never read.
        message = (
            "the upload is empty"
            if size == 0
            else (f"the upload is {size} bytes, over the {spec.max_bytes} limit")
        )
        return _quarantine(ctx, settings, key, partner_name, "size", message, size)
    data = s3.get_object(Bucket=settings.bucket, Key=key)["Body"].read()
    try:
        checked = validate_upload(
            key, data, format=spec.format, max_bytes=spec.max_bytes, columns=spec.columns
        )
    except UploadInvalid as invalid:
        return _quarantine(ctx, settings, key, partner_name, invalid.reason, str(invalid), size)

    if not _storage_covers(ctx, spec.target_uri):
        raise RejectEvent(
            f"partner {partner_name}'s target_uri {spec.target_uri} is outside the domain's "
            f"storage {ctx.config.setting('storage_uri', '')}",
            kind="validation",
        )
    product = Registry(ctx).get("PRODUCT", spec.product)
    if product is None or not product.get("crawler_name"):
        # Not the partner's fault: the upload stays where it is, the event goes to the DLQ
        # (redrive it once the product is registered).
        raise RejectEvent(
            f"product {spec.product!r} is not registered in this domain yet; "
            f"s3://{settings.bucket}/{key} stays in the drop zone",
            kind="state",
        )
    bucket, prefix = _S3_URI.match(spec.target_uri).groups()  # type: ignore[union-attr]
    target_key = prefix + f"{partner_name}--" + rest.replace("/", "--")
    s3.copy_object(
        Bucket=bucket, Key=target_key, CopySource={"Bucket": settings.bucket, "Key": key}
    )
    crawler = str(product["crawler_name"])
    try:
        ctx.client("glue").start_crawler(Name=crawler)
    except Exception as exc:
        if aws_error_code(exc) == "CrawlerRunningException":
            # The running crawl may have listed the table before this object landed: crawl
            # again once it is over (the copy above is repeated harmlessly).
            raise RetryLater(f"crawler {crawler} is running; the upload is crawled after") from exc
        raise
    s3.delete_object(Bucket=settings.bucket, Key=key)
    # The product's crawl reports ProductSchemaUpdated under the product's correlation id:
    # the acceptance joins that flow.
    correlation = str(product.get("correlation_id") or "")
    return DropZoneUploadAccepted(
        domain=ctx.config.domain or "",
        partner=partner_name,
        product=spec.product,
        table=spec.table or spec.product,
        source_uri=f"s3://{settings.bucket}/{key}",
        target_uri=f"s3://{bucket}/{target_key}",
        size=size,
        rows=checked.rows,
        crawler_name=crawler,
        **({"correlation_id": correlation} if correlation else {}),
    )


def partner_names(settings: Mapping[str, Any]) -> Sequence[str]:
    """The partners configured in handler ``settings`` (for docs and the local mesh)."""
    return sorted(DropZoneSettings.of(settings).partners)
