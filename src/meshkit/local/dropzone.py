"""A domain's drop zone in the local mesh: the resources the ``DropZone`` construct creates, the
vending API and partners who call it, with the IAM decisions moto does not make.

Provisioned as the construct provisions it, from ``meshkit.topology``: a bucket with EventBridge
notifications on (moto sends S3's ``Object Created`` events to the default bus), the upload role,
the ``dropzone`` handler group (default-bus rule -> queue -> the same router Lambda runs) and the
vending endpoint, whose handler (``meshkit.handlers.dropzone.handle_vend_request``) is the
Lambda's.

Partners are simulated with moto's IAM and STS: each has a role in its own account, which it
assumes to call the vending endpoint; the endpoint's ``AWS_IAM`` auth is decided by
:mod:`meshkit.local.policy` (the partner role's identity policy and the function URL's resource
policy, across accounts). The credentials it gets back are moto STS credentials, and every S3
call made with them is first decided by :mod:`meshkit.local.policy` against the upload role's
policies, the **session policy** the vending attached (read back from moto's STS, where AWS
would read it from the session token) and the bucket policy; an expired session (by the mesh
clock) is refused with ``ExpiredToken``. moto itself would allow every one of those calls.

    zone = mesh.add_drop_zone("sales", partners={"acme": {"product": "orders", ...}})
    acme = zone.partner("acme", account="777777777777")
    s3 = acme.s3(acme.request_credentials(duration_seconds=900))
    s3.put_object(Bucket=zone.bucket, Key="acme/orders.csv", Body=b"...")
    mesh.run_until_idle()
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from meshkit import topology
from meshkit.local.accounts import AccountClients, internal_calls
from meshkit.local.policy import Decision, Request, evaluate
from meshkit.local.provision import provision_group
from meshkit.runtime.publisher import Publisher

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from meshkit.events.base import EventDetail
    from meshkit.local.mesh import DomainHandle, LocalMesh
    from meshkit.runtime.router import Runtime

__all__ = ["LocalDropZone", "LocalPartner"]

#: What each S3 operation is authorised as (IAM action), where it differs from ``s3:<name>``.
_ACTIONS = {
    "HeadObject": "s3:GetObject",
    "ListObjectsV2": "s3:ListBucket",
    "ListObjects": "s3:ListBucket",
    "HeadBucket": "s3:ListBucket",
    "CreateMultipartUpload": "s3:PutObject",
    "UploadPart": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject",
    "AbortMultipartUpload": "s3:AbortMultipartUpload",
    "GetObjectAttributes": "s3:GetObject",
}


def _denied(operation: str, message: str, code: str = "AccessDenied") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


class _RecordingPublisher(Publisher):
    """Publishes like Lambda's, and lists what it put in ``mesh.published`` (as the mesh does
    for handlers' follow-ups)."""

    def __init__(self, mesh: LocalMesh, clients: Any, bus: str) -> None:
        super().__init__(clients, bus, sleep=lambda _seconds: None)
        self._mesh = mesh

    def publish(self, events: Sequence[EventDetail]) -> list[str]:
        ids = super().publish(events)
        for event in events:
            self._mesh._published.append((event.DETAIL_TYPE, json.loads(event.detail_json())))
        return ids


class LocalDropZone:
    """One domain's drop zone (see the module docstring)."""

    def __init__(
        self,
        mesh: LocalMesh,
        domain: DomainHandle,
        partners: Mapping[str, Mapping[str, Any]],
        *,
        max_session_seconds: int = 3_600,
    ) -> None:
        from meshkit.handlers.dropzone import DropZoneSettings
        from meshkit.runtime.router import Runtime

        self.mesh = mesh
        self.domain = domain
        account = domain.account
        self.bucket = f"{mesh.name}-{domain.name}-dropzone-{account}".replace("_", "-").lower()
        role_name = f"{mesh.name}-{domain.name}-dropzone-upload"
        self.upload_role_arn = f"arn:aws:iam::{account}:role/{role_name}"
        self.function_arn = (
            f"arn:aws:lambda:{mesh.region}:{account}:function:{mesh.name}-{domain.name}-vend"
        )
        setting: dict[str, Any] = {
            "bucket": self.bucket,
            "upload_role_arn": self.upload_role_arn,
            "max_session_seconds": max_session_seconds,
            "partners": {name: dict(spec) for name, spec in partners.items()},
        }
        # Checked before anything is created, as the construct checks at synth time.
        DropZoneSettings.of({"dropzone": setting})
        self._principals: dict[str, list[str]] = {name: [] for name in partners}
        self._setting = setting
        with internal_calls():
            self._provision_bucket()
            self._provision_role(role_name)
        group = topology.group("dropzone")
        prefix = f"{mesh.name}-{domain.name}-{group.env_name}"
        acct = mesh._account(account)
        wiring = provision_group(
            acct,
            name=group.name,
            queue_name=prefix,
            domain=domain.name,
            mesh_rules=[],
            default_rules=[(prefix, topology.dropzone_pattern(bucket=self.bucket), None)],
        )
        base = domain.config
        self.config = mesh._domain_config(
            group.name,
            wiring,
            domain.resources,
            sharing_mode=str(base.settings.get("sharing_mode", "named")),
            extra={**dict(base.settings.items()), "dropzone": setting},
        )
        domain.configs[group.name] = self.config
        mesh._deploy(acct, wiring, self.config)
        # The vending function: the same configuration, its own runtime (not an SQS consumer).
        clients = AccountClients(acct, mesh._account)
        self.vending: Runtime = Runtime.for_config(
            self.config,
            clients,
            clock=mesh.clock,
            publisher=_RecordingPublisher(mesh, clients, self.config.bus),
        )
        self.partners: dict[str, LocalPartner] = {}
        #: Sessions the vending issued: access key id -> expiry by the mesh clock (AWS keeps it
        #: in the session token; moto's STS stamps wall time, not the mesh's).
        self.sessions: dict[str, datetime] = {}

    # -- provisioning (what the DropZone construct creates) ---------------------------------------

    def _provision_bucket(self) -> None:
        s3 = self.domain.client("s3")
        s3.create_bucket(Bucket=self.bucket)
        s3.put_bucket_versioning(Bucket=self.bucket, VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_notification_configuration(
            Bucket=self.bucket, NotificationConfiguration={"EventBridgeConfiguration": {}}
        )
        # The TLS-only bucket policy is applied by the session guard, not given to moto: moto
        # counts a Bool condition as satisfied, so its Deny would refuse every call.

    def bucket_policy(self) -> dict[str, Any]:
        """TLS only, as every meshkit bucket."""
        return {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "TlsOnly",
                    "Effect": "Deny",
                    "Principal": {"AWS": "*"},
                    "Action": "s3:*",
                    "Resource": [
                        f"arn:aws:s3:::{self.bucket}",
                        f"arn:aws:s3:::{self.bucket}/*",
                    ],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        }

    def upload_policy(self) -> dict[str, Any]:
        """The upload role's own policy: puts into the bucket, never into quarantine. Every
        session is narrowed further to one partner's prefix by its session policy."""
        return {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "PartnerUploads",
                    "Effect": "Allow",
                    "Action": "s3:PutObject",
                    "Resource": f"arn:aws:s3:::{self.bucket}/*",
                },
                {
                    "Sid": "NeverQuarantine",
                    "Effect": "Deny",
                    "Action": "s3:PutObject",
                    "Resource": (
                        f"arn:aws:s3:::{self.bucket}/{topology.DROPZONE_QUARANTINE_PREFIX}*"
                    ),
                },
            ],
        }

    def _provision_role(self, role_name: str) -> None:
        iam = self.domain.client("iam")
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{self.domain.account}:root"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        iam.create_role(
            RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust), MaxSessionDuration=43200
        )
        iam.put_role_policy(
            RoleName=role_name,
            PolicyName="uploads",
            PolicyDocument=json.dumps(self.upload_policy()),
        )

    def function_url_policy(self) -> dict[str, Any]:
        """The vending function URL's resource policy: each partner's principals may invoke it,
        with IAM auth only."""
        principals = sorted({p for ps in self._principals.values() for p in ps})
        return {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "PartnersInvoke",
                    "Effect": "Allow",
                    "Principal": {"AWS": principals or ["arn:aws:iam::000000000000:root"]},
                    "Action": "lambda:InvokeFunctionUrl",
                    "Resource": self.function_arn,
                    "Condition": {"StringEquals": {"lambda:FunctionUrlAuthType": "AWS_IAM"}},
                }
            ],
        }

    # -- partners ---------------------------------------------------------------------------------

    def partner(self, name: str, *, account: str) -> LocalPartner:
        """The partner ``name`` as a third party in ``account``: a role there that may call the
        vending endpoint (and is one of the partner's allowed principals)."""
        if name not in self._setting["partners"]:
            raise KeyError(f"the drop zone has no partner {name!r}; add it to partners=")
        if name in self.partners:
            return self.partners[name]
        partner = LocalPartner(self, name, account)
        self._principals[name].append(partner.role_arn)
        spec = self._setting["partners"][name]
        spec["principals"] = sorted({*spec.get("principals", ()), partner.role_arn})
        self.partners[name] = partner
        return partner

    def authorize_invoke(self, caller: str, identity: list[dict[str, Any]]) -> Decision:
        """The function URL's ``AWS_IAM`` authorisation of ``caller`` (cross-account)."""
        return evaluate(
            Request(
                "lambda:InvokeFunctionUrl",
                self.function_arn,
                principal=caller,
                context={"lambda:FunctionUrlAuthType": "AWS_IAM"},
            ),
            identity=identity,
            resource=[self.function_url_policy()],
        )

    def sftp_login(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """What the Transfer Family identity provider answers (the same handler Lambda runs);
        the local mesh has no SFTP endpoint."""
        from meshkit.handlers.dropzone import identity_provider

        return identity_provider(self.vending, event)

    def enable_sftp(self, server_id: str) -> None:
        """Set the Transfer Family server id the identity provider answers for."""
        self._setting["sftp_server_id"] = server_id

    def objects(self, prefix: str = "") -> list[str]:
        """Keys in the drop-zone bucket (the domain's own view)."""
        with internal_calls():
            answer = self.domain.client("s3").list_objects_v2(Bucket=self.bucket, Prefix=prefix)
        return [o["Key"] for o in answer.get("Contents", [])]


class LocalPartner:
    """A third party: a role in its own account, calling the vending endpoint and S3."""

    def __init__(self, zone: LocalDropZone, name: str, account: str) -> None:
        self.zone = zone
        self.name = name
        self.account = account
        mesh = zone.mesh
        self._session = mesh.session(account)
        self.role_arn = f"arn:aws:iam::{account}:role/{name}-uploader"
        self.identity_policy: dict[str, Any] = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "lambda:InvokeFunctionUrl",
                    "Resource": zone.function_arn,
                }
            ],
        }
        iam = self._session.client("iam")
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        with internal_calls():
            iam.create_role(RoleName=f"{name}-uploader", AssumeRolePolicyDocument=json.dumps(trust))
            iam.put_role_policy(
                RoleName=f"{name}-uploader",
                PolicyName="vending",
                PolicyDocument=json.dumps(self.identity_policy),
            )

    def caller_arn(self) -> str:
        """The partner's own session (moto STS): what signs its request to the vending API."""
        answer = self._session.client("sts").assume_role(
            RoleArn=self.role_arn, RoleSessionName=f"{self.name}-vending"
        )
        return str(answer["AssumedRoleUser"]["Arn"])

    def call_vending(self, body: Mapping[str, Any], *, caller: str | None = None) -> dict[str, Any]:
        """POST ``body`` to the vending function URL as this partner; the HTTP answer."""
        from meshkit.handlers.dropzone import handle_vend_request

        caller = caller or self.caller_arn()
        decision = self.zone.authorize_invoke(caller, [self.identity_policy])
        if not decision.allowed:
            return {"statusCode": 403, "body": json.dumps({"message": decision.reason})}
        event = {
            "version": "2.0",
            "rawPath": "/",
            "requestContext": {
                "http": {"method": "POST", "path": "/"},
                "authorizer": {"iam": {"userArn": caller, "accountId": self.account}},
            },
            "body": json.dumps(dict(body)),
            "isBase64Encoded": False,
        }
        answer = handle_vend_request(self.zone.vending, event)
        if answer["statusCode"] == 200:
            issued = json.loads(answer["body"])
            self.zone.sessions[issued["AccessKeyId"]] = datetime.fromisoformat(
                issued["Expiration"].replace("Z", "+00:00")
            )
        return answer

    def request_credentials(self, duration_seconds: int = 900) -> dict[str, Any]:
        """Vended credentials (raises PermissionError with the API's answer when refused)."""
        answer = self.call_vending({"partner": self.name, "duration_seconds": duration_seconds})
        body = json.loads(answer["body"])
        if answer["statusCode"] != 200:
            raise PermissionError(f"vending answered {answer['statusCode']}: {body}")
        return dict(body)

    def s3(self, credentials: Mapping[str, Any]) -> Any:
        """An S3 client with ``credentials``; each call is authorised as IAM would."""
        import boto3

        from meshkit.local.accounts import botocore_session

        session = boto3.session.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            region_name=self.zone.mesh.region,
            botocore_session=botocore_session(),
        )
        client = session.client("s3")
        guard = _SessionGuard(self.zone, str(credentials["AccessKeyId"]))
        client.meta.events.register("provide-client-params.s3", guard)
        return client


class _SessionGuard:
    """Decides each S3 call of one vended session before it reaches moto."""

    def __init__(self, zone: LocalDropZone, access_key: str) -> None:
        self.zone = zone
        self.access_key = access_key

    def _session(self, operation: str) -> tuple[str, str | None, datetime]:
        """(assumed-role ARN, session policy, expiry) of the session: the role and policy as
        moto's STS recorded them, the expiry as the vending issued it."""
        from moto.sts.models import sts_backends

        expiry = self.zone.sessions.get(self.access_key)
        if expiry is not None:
            for backend in sts_backends.values():
                for regional in backend.values():
                    for role in getattr(regional, "assumed_roles", []):
                        if role.access_key_id == self.access_key:
                            return str(role.arn), role.policy, expiry
        raise _denied(
            operation,
            "The AWS Access Key Id you provided does not exist in our records.",
            "InvalidAccessKeyId",
        )

    def _role_policies(self) -> list[dict[str, Any]]:
        iam = self.zone.domain.client("iam")
        name = self.zone.upload_role_arn.rsplit("/", 1)[-1]
        with internal_calls():
            names = iam.list_role_policies(RoleName=name)["PolicyNames"]
            docs = [
                iam.get_role_policy(RoleName=name, PolicyName=n)["PolicyDocument"] for n in names
            ]
        return [json.loads(d) if isinstance(d, str) else dict(d) for d in docs]

    def __call__(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        operation = str(model.name)
        arn, policy, expires = self._session(operation)
        if self.zone.mesh.clock() >= expires:
            raise _denied(operation, "The provided token has expired.", "ExpiredToken")
        bucket = str(params.get("Bucket", ""))
        key = params.get("Key")
        requests: list[Request] = []
        context: dict[str, Any] = {"aws:SecureTransport": True}
        if operation in ("ListObjectsV2", "ListObjects"):
            context["s3:prefix"] = str(params.get("Prefix", ""))
        resource = f"arn:aws:s3:::{bucket}" + (f"/{key}" if key is not None else "")
        action = _ACTIONS.get(operation, f"s3:{operation}")
        requests.append(Request(action, resource, principal=arn, context=context))
        if operation in ("CopyObject", "UploadPartCopy"):
            source = params.get("CopySource")
            if isinstance(source, dict):
                src = f"arn:aws:s3:::{source.get('Bucket')}/{source.get('Key')}"
            else:
                src = f"arn:aws:s3:::{str(source).lstrip('/')}"
            requests.append(Request("s3:GetObject", src, principal=arn, context=context))
        identity = self._role_policies()
        with internal_calls():
            bucket_policy = self._bucket_policy(bucket)
        for request in requests:
            decision = evaluate(
                request,
                identity=identity,
                session=[policy] if policy else None,
                resource=bucket_policy,
                resource_account=self.zone.domain.account,
            )
            if not decision.allowed:
                raise _denied(
                    operation,
                    f"User: {arn} is not authorized to perform: {request.action} on resource: "
                    f"{request.resource} ({decision.reason})",
                )

    def _bucket_policy(self, bucket: str) -> list[dict[str, Any]] | None:
        if bucket != self.zone.bucket:
            return None
        return [self.zone.bucket_policy()]
