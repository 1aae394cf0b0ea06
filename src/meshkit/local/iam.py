"""IAM parity: every AWS call a handler group makes, as IAM sees it, checked against the identity
policy the constructs synthesize for that group's role.

:func:`iam_requests` turns one botocore call into the IAM requests AWS authorises: action,
resource ARN(s) and the condition keys the request carries. :class:`IamParity` is a botocore hook
for :class:`~meshkit.local.mesh.LocalMesh` (``call_hooks=[parity.attach]``): it records each call
a handler group makes (the mesh's own calls, ``internal_calls()``, are not checked), evaluates it
with :func:`meshkit.local.policy.evaluate` against that group's role policy read from the
synthesized CloudFormation template, and, enforcing, fails the call with ``AccessDenied`` as AWS
would. What it does not cover is listed in docs/local-mesh.md ("IAM parity").

This module is local-mesh only (templates come from the ``cdk`` extra at test time); nothing that
ships to Lambda imports it.
"""

from __future__ import annotations

import re
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from meshkit.local.accounts import acting_group, is_internal_call
from meshkit.local.policy import Decision, PolicyError, Request, evaluate

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    import boto3

__all__ = [
    "ACTION_EXCEPTIONS",
    "CallRecord",
    "IamParity",
    "IamRequest",
    "RolePolicy",
    "iam_requests",
    "role_policies",
]

#: botocore operations whose IAM action is not ``<signing name>:<operation>`` (AWS's service
#: authorization reference). ``None``: the call needs no IAM permission.
ACTION_EXCEPTIONS: dict[str, str | None] = {
    "s3.ListObjectsV2": "s3:ListBucket",
    "s3.ListObjects": "s3:ListBucket",
    "s3.HeadBucket": "s3:ListBucket",
    "s3.ListObjectVersions": "s3:ListBucketVersions",
    "s3.HeadObject": "s3:GetObject",
    "s3.GetObjectAttributes": "s3:GetObject",
    "s3.DeleteObjects": "s3:DeleteObject",
    "sqs.SendMessageBatch": "sqs:SendMessage",
    "sqs.DeleteMessageBatch": "sqs:DeleteMessage",
    "sqs.ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
    "sts.GetCallerIdentity": None,
}


@dataclass(frozen=True)
class IamRequest:
    """One authorisation AWS makes for a call: action, resource ARN, condition keys."""

    action: str
    resource: str
    context: Mapping[str, Any] = field(default_factory=dict)


def _arn(service: str, region: str, account: str, resource: str) -> str:
    return f"arn:aws:{service}:{region}:{account}:{resource}"


def _queue_arn(url: str, region: str, account: str) -> str:
    # https://sqs.<region>.amazonaws.com/<account>/<name> (moto answers the same shape)
    parts = [p for p in urlparse(url).path.split("/") if p]
    if len(parts) != 2:
        raise ValueError(f"cannot read an SQS queue ARN from the URL {url!r}")
    return _arn("sqs", region, parts[0], parts[1])


def _bus_arn(name: str | None, region: str, account: str) -> str:
    name = name or "default"
    return name if name.startswith("arn:") else _arn("events", region, account, f"event-bus/{name}")


def _table_arn(name: str, region: str, account: str, index: str | None = None) -> str:
    arn = name if name.startswith("arn:") else _arn("dynamodb", region, account, f"table/{name}")
    return f"{arn}/index/{index}" if index else arn


def _glue(op: str, params: Mapping[str, Any], region: str, account: str) -> list[str]:
    """Glue authorises the whole chain: the catalog, the database, then the table."""
    catalog_account = str(params.get("CatalogId") or account)
    catalog = _arn("glue", region, catalog_account, "catalog")

    def database(name: str) -> str:
        return _arn("glue", region, catalog_account, f"database/{name}")

    def table(db: str, name: str) -> str:
        return _arn("glue", region, catalog_account, f"table/{db}/{name}")

    if op in ("GetCrawler", "CreateCrawler", "UpdateCrawler", "StartCrawler", "DeleteCrawler"):
        return [_arn("glue", region, account, f"crawler/{params['Name']}")]
    if op in ("GetDatabase", "DeleteDatabase", "UpdateDatabase"):
        return [catalog, database(params["Name"])]
    if op == "CreateDatabase":
        return [catalog, database(params["DatabaseInput"]["Name"])]
    if op == "GetDatabases":
        return [catalog, _arn("glue", region, catalog_account, "database/*")]
    if op in ("GetTable", "DeleteTable"):
        db = params["DatabaseName"]
        return [catalog, database(db), table(db, params["Name"])]
    if op in ("CreateTable", "UpdateTable"):
        db = params["DatabaseName"]
        return [catalog, database(db), table(db, params["TableInput"]["Name"])]
    if op == "GetTables":
        db = params["DatabaseName"]
        return [catalog, database(db), table(db, "*")]
    if op == "BatchDeleteTable":
        db = params["DatabaseName"]
        return [catalog, database(db), *(table(db, t) for t in params["TablesToDelete"])]
    if op in ("GetPartitions", "GetPartition", "BatchGetPartition", "BatchCreatePartition"):
        db = params["DatabaseName"]
        return [catalog, database(db), table(db, params["TableName"])]
    if op in ("PutResourcePolicy", "GetResourcePolicy", "DeleteResourcePolicy"):
        return [str(params.get("ResourceArn") or catalog)]
    raise PolicyError(f"iam_requests: no Glue resource mapping for {op}: add it")


def _s3(op: str, action: str, params: Mapping[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    bucket = params["Bucket"]
    bucket_arn = f"arn:aws:s3:::{bucket}"
    if op in ("ListObjectsV2", "ListObjects", "ListObjectVersions"):
        context = {"s3:prefix": params.get("Prefix", "")}
        if "Delimiter" in params:
            context["s3:delimiter"] = params["Delimiter"]
        return [(action, bucket_arn, context)]
    if op in ("HeadBucket", "GetBucketVersioning", "GetBucketLocation"):
        return [(action, bucket_arn, {})]
    if op == "DeleteObjects":
        out: list[tuple[str, str, dict[str, Any]]] = []
        for obj in params["Delete"]["Objects"]:
            versioned = "VersionId" in obj
            out.append(
                (
                    "s3:DeleteObjectVersion" if versioned else "s3:DeleteObject",
                    f"{bucket_arn}/{obj['Key']}",
                    {},
                )
            )
        return out
    key = params["Key"]
    if "VersionId" in params and op in ("GetObject", "HeadObject", "DeleteObject"):
        action = "s3:DeleteObjectVersion" if op == "DeleteObject" else "s3:GetObjectVersion"
    if op == "CopyObject":
        source = params["CopySource"]
        if isinstance(source, str):
            src = source.lstrip("/").split("?versionId=")[0]
        else:
            src = f"{source['Bucket']}/{source['Key']}"
        return [
            ("s3:GetObject", f"arn:aws:s3:::{src}", {}),
            ("s3:PutObject", f"{bucket_arn}/{key}", {}),
        ]
    return [(action, f"{bucket_arn}/{key}", {})]


def _dynamodb(
    op: str, action: str, params: Mapping[str, Any], region: str, account: str
) -> list[tuple[str, str, dict[str, Any]]]:
    if op in ("BatchWriteItem", "BatchGetItem"):
        return [(action, _table_arn(t, region, account), {}) for t in params["RequestItems"]]
    if op == "TransactWriteItems":
        kinds = {
            "Put": "PutItem",
            "Update": "UpdateItem",
            "Delete": "DeleteItem",
            "ConditionCheck": "ConditionCheckItem",
        }
        out: list[tuple[str, str, dict[str, Any]]] = []
        for item in params["TransactItems"]:
            ((kind, body),) = item.items()
            out.append(
                (f"dynamodb:{kinds[kind]}", _table_arn(body["TableName"], region, account), {})
            )
        return out
    if op == "TransactGetItems":
        return [
            ("dynamodb:GetItem", _table_arn(i["Get"]["TableName"], region, account), {})
            for i in params["TransactItems"]
        ]
    index = params.get("IndexName") if op in ("Query", "Scan") else None
    return [(action, _table_arn(params["TableName"], region, account, index), {})]


def iam_requests(
    service: str,
    signing_name: str,
    operation: str,
    params: Mapping[str, Any],
    *,
    account: str,
    region: str,
) -> list[IamRequest]:
    """The IAM authorisations of one call of ``service.operation`` with ``params`` made in
    ``account``: ``<signing name>:<operation>`` unless :data:`ACTION_EXCEPTIONS` says otherwise,
    on the resources the call names (``*`` where the action has no resource-level permission)."""
    key = f"{service}.{operation}"
    if key in ACTION_EXCEPTIONS:
        mapped = ACTION_EXCEPTIONS[key]
        if mapped is None:
            return []
        action = mapped
    else:
        action = f"{signing_name}:{operation}"
    triples: list[tuple[str, str, dict[str, Any]]]
    if service == "events":
        if operation == "PutEvents":
            buses = {_bus_arn(e.get("EventBusName"), region, account) for e in params["Entries"]}
            triples = [(action, bus, {}) for bus in sorted(buses)]
        elif "EventBusName" in params or "Name" in params:
            name = params.get("EventBusName") or params.get("Name")
            triples = [(action, _bus_arn(name, region, account), {})]
        else:
            raise PolicyError(f"iam_requests: no EventBridge resource mapping for {operation}")
    elif service == "sqs":
        if operation == "GetQueueUrl":
            owner = params.get("QueueOwnerAWSAccountId") or account
            triples = [(action, _arn("sqs", region, owner, params["QueueName"]), {})]
        else:
            triples = [(action, _queue_arn(params["QueueUrl"], region, account), {})]
    elif service == "dynamodb":
        triples = _dynamodb(operation, action, params, region, account)
    elif service == "glue":
        triples = [(action, r, {}) for r in _glue(operation, params, region, account)]
        role = params.get("Role") if operation in ("CreateCrawler", "UpdateCrawler") else None
        if role:
            arn = role if role.startswith("arn:") else f"arn:aws:iam::{account}:role/{role}"
            triples.append(("iam:PassRole", arn, {"iam:PassedToService": "glue.amazonaws.com"}))
    elif service == "s3":
        triples = _s3(operation, action, params)
    elif service == "lakeformation":
        # Lake Formation's IAM actions take no resource ARN (its own grants are the lake
        # simulation's business, not IAM's).
        triples = [(action, "*", {})]
        if operation == "RegisterResource" and params.get("RoleArn"):
            triples.append(
                (
                    "iam:PassRole",
                    params["RoleArn"],
                    {"iam:PassedToService": "lakeformation.amazonaws.com"},
                )
            )
    elif service == "ram":
        context: dict[str, Any] = {}
        if operation == "AcceptResourceShareInvitation":
            # The invitation's ARN carries the account that sent it (the share's owner).
            arn = params["resourceShareInvitationArn"]
            context["ram:ShareOwnerAccountId"] = arn.split(":")[4]
        elif operation == "CreateResourceShare":
            context["ram:ResourceShareName"] = params["name"]
            types = sorted({_ram_type(a) for a in params.get("resourceArns", [])})
            if types:
                context["ram:RequestedResourceType"] = types
        # The RAM calls the handlers make are granted on ``*``: their ARN is not needed.
        triples = [(action, "*", context)]
    elif service == "ssm":
        name = str(params["Name"]).lstrip("/")
        triples = [(action, _arn("ssm", region, account, f"parameter/{name}"), {})]
    elif service == "secretsmanager":
        secret = str(params["SecretId"])
        arn = (
            secret
            if secret.startswith("arn:")
            else _arn("secretsmanager", region, account, f"secret:{secret}")
        )
        triples = [(action, arn, {})]
    elif service == "datazone":
        domain = params.get("domainIdentifier")
        if not domain:
            raise PolicyError(f"iam_requests: DataZone {operation} names no domain")
        triples = [(action, _arn("datazone", region, account, f"domain/{domain}"), {})]
    elif service == "sts" and operation == "AssumeRole":
        triples = [(action, params["RoleArn"], {})]
    elif service == "organizations":
        # Organizations ARNs need the organisation id; the template grants these on ``*`` or
        # on ``organizations::*`` patterns, which this wildcard cannot satisfy wrongly.
        triples = [(action, "*", {})]
    else:
        raise PolicyError(
            f"iam_requests: no resource mapping for {key}: add it (meshkit.local.iam)"
        )
    return [IamRequest(a, r, c) for a, r, c in triples]


def _ram_type(arn: str) -> str:
    # arn:aws:glue:<region>:<account>:table/db/t -> glue:Table
    parts = arn.split(":", 5)
    kind = parts[5].split("/", 1)[0] if len(parts) == 6 else ""
    return f"{parts[2]}:{kind.capitalize()}" if len(parts) == 6 else arn


# -- the template side -----------------------------------------------------------------------


_HASH = re.compile(r"\A(?P<stem>.+?)[0-9A-F]{8}\Z")
_GROUP_ROLE = re.compile(r"\Ameshkit (?P<group>[a-z0-9_.-]+) handler\Z")


def _stem(logical_id: str) -> str:
    match = _HASH.match(logical_id)
    return match["stem"] if match else logical_id


@dataclass(frozen=True)
class RolePolicy:
    """A handler group's role as synthesized: its logical id and resolved policy documents."""

    group: str
    account: str
    logical_id: str
    documents: tuple[Mapping[str, Any], ...]

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.account}:role/{self.logical_id}"

    def granted_actions(self) -> set[str]:
        """The actions the role's Allow statements name (as written, wildcards included)."""
        out: set[str] = set()
        for doc in self.documents:
            for st in doc["Statement"]:
                if st["Effect"] == "Allow" and "Action" in st:
                    actions = st["Action"]
                    out.update([actions] if isinstance(actions, str) else actions)
        return out


def group_roles(template: Mapping[str, Any]) -> dict[str, str]:
    """Handler group -> the logical id of its role (the role's description names the group)."""
    out = {}
    for lid, res in template["Resources"].items():
        if res["Type"] == "AWS::IAM::Role":
            match = _GROUP_ROLE.match(str(res["Properties"].get("Description", "")))
            if match:
                out[match["group"]] = lid
    return out


def _resolve(value: Any, refs: Callable[[str, str | None], str], region: str, account: str) -> Any:
    if isinstance(value, list):
        return [_resolve(v, refs, region, account) for v in value]
    if isinstance(value, str):
        return value
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((fn, arg),) = value.items()
        if fn == "Ref":
            pseudo = {
                "AWS::Partition": "aws",
                "AWS::Region": region,
                "AWS::AccountId": account,
                "AWS::URLSuffix": "amazonaws.com",
            }
            return pseudo[arg] if arg in pseudo else refs(arg, None)
        if fn == "Fn::GetAtt":
            lid, attr = arg if isinstance(arg, list) else arg.split(".", 1)
            return refs(lid, attr)
        if fn == "Fn::Join":
            sep, items = arg
            return sep.join(str(x) for x in _resolve(items, refs, region, account))
        if fn.startswith("Fn::"):
            raise PolicyError(f"role policy uses {fn}, which the IAM parity check cannot resolve")
    return {k: _resolve(v, refs, region, account) for k, v in value.items()}


def _rewrite(value: Any, rewrite: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return rewrite(value)
    if isinstance(value, list):
        return [_rewrite(v, rewrite) for v in value]
    if isinstance(value, dict):
        return {k: _rewrite(v, rewrite) for k, v in value.items()}
    return value


def role_policies(
    template: Mapping[str, Any],
    *,
    account: str,
    region: str,
    refs: Callable[[str, str | None], str],
    rewrite: Callable[[str], str] | None = None,
) -> dict[str, RolePolicy]:
    """Each handler group's role policies from ``template``, intrinsics resolved with ``refs``
    (``(logical id, attribute or None for Ref) -> value``) and the pseudo parameters; then
    ``rewrite`` applied to every string (placeholders synthesized for values only known later)."""

    def resolve(doc: Any) -> Any:
        out = _resolve(doc, refs, region, account)
        return _rewrite(out, rewrite) if rewrite is not None else out

    roles = group_roles(template)
    by_role: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for res in template["Resources"].values():
        if res["Type"] != "AWS::IAM::Policy":
            continue
        for role in res["Properties"].get("Roles", []):
            lid = role.get("Ref") if isinstance(role, dict) else None
            if isinstance(lid, str) and lid in roles.values():
                by_role[lid].append(resolve(res["Properties"]["PolicyDocument"]))
    for group, lid in roles.items():
        role = template["Resources"][lid]["Properties"]
        if role.get("ManagedPolicyArns") or role.get("PermissionsBoundary"):
            raise PolicyError(
                f"role {lid} ({group}) has managed policies or a boundary: not modelled"
            )
        for inline in role.get("Policies", []):
            by_role[lid].append(resolve(inline["PolicyDocument"]))
    return {
        group: RolePolicy(group, account, lid, tuple(by_role.get(lid, ())))
        for group, lid in roles.items()
    }


# -- the local mesh side ---------------------------------------------------------------------


@dataclass(frozen=True)
class CallRecord:
    """One authorisation of a handler group's call, and the decision on it."""

    group: str
    account: str
    role: str
    operation: str
    action: str
    resource: str
    decision: Decision

    def describe(self) -> str:
        return (
            f"{self.group} (role {self.role}, account {self.account}): {self.action} on "
            f"{self.resource} [{self.operation}]: {self.decision.reason}"
        )


class IamParity:
    """Records and checks every call of every handler group of a local mesh.

    ``templates``: the synthesized template of each account (by account id). ``arns``: builds,
    for one account, the map from a template's logical ids to the ARNs the local mesh uses
    (``(account, template) -> {logical id: value}``; see tests/functional/iam_support.py).
    ``rewrite``: applied to every resolved policy string (a placeholder synthesized for a value
    only the running mesh knows). ``bucket_owner``: the account owning an S3 bucket (S3 ARNs
    carry none), for ``aws:ResourceAccount``. ``enforce``: a call its role does not allow fails
    with ``AccessDenied``, as on AWS.
    """

    def __init__(
        self,
        templates: Mapping[str, Mapping[str, Any]],
        *,
        region: str,
        arns: Callable[[str, Mapping[str, Any]], Mapping[str, str]],
        rewrite: Callable[[str], str] | None = None,
        bucket_owner: Callable[[str], str | None] | None = None,
        enforce: bool = True,
    ) -> None:
        self._templates = dict(templates)
        self._region = region
        self._arns = arns
        self._rewrite = rewrite
        self._bucket_owner = bucket_owner
        self.enforce = enforce
        self._roles: dict[str, dict[str, RolePolicy]] = {}
        self._lock = threading.Lock()
        self.records: list[CallRecord] = []
        #: Calls of handler groups that have no synthesized role (e.g. a team's own handler).
        self.unchecked: list[tuple[str, str, str]] = []
        #: Calls a handler made in another account (the cross-account role is not modelled).
        self.cross_account: list[tuple[str, str, str]] = []

    def roles(self, account: str) -> dict[str, RolePolicy]:
        with self._lock:
            roles = self._roles.get(account)
            if roles is None:
                template = self._templates.get(account)
                if template is None:
                    roles = {}
                else:
                    table = self._arns(account, template)

                    def refs(lid: str, attr: str | None) -> str:
                        key = lid if attr is None else f"{lid}.{attr}"
                        if key not in table:
                            raise PolicyError(
                                f"account {account}: the role policy references {key}, which "
                                "has no local ARN (extend the logical-id map)"
                            )
                        return table[key]

                    roles = role_policies(
                        template,
                        account=account,
                        region=self._region,
                        refs=refs,
                        rewrite=self._rewrite,
                    )
                self._roles[account] = roles
            return roles

    def attach(self, account_id: str, session: boto3.session.Session) -> None:
        def before(event_name: str, model: Any = None, params: Any = None, **_: Any) -> None:
            if is_internal_call() or model is None:
                return
            scope = acting_group()
            if scope is None:
                return  # the scenario's driver (a person or a deployment), not a handler
            self.check(scope, account_id, model, dict(params or {}))

        session.events.register(
            "before-parameter-build", before, unique_id=f"meshkit-iam-parity-{account_id}"
        )

    def check(
        self, scope: tuple[str, str], account_id: str, model: Any, params: Mapping[str, Any]
    ) -> None:
        group, home = scope
        service_model = model.service_model
        operation = f"{service_model.service_name}.{model.name}"
        if account_id != home:
            with self._lock:
                self.cross_account.append((group, account_id, operation))
            return
        role = self.roles(home).get(group)
        if role is None:
            with self._lock:
                self.unchecked.append((group, home, operation))
            return
        requests = iam_requests(
            service_model.service_name,
            service_model.signing_name,
            model.name,
            params,
            account=account_id,
            region=self._region,
        )
        denied = []
        for req in requests:
            context = dict(req.context)
            owner = self._resource_account(req.resource)
            if owner is not None:
                context.setdefault("aws:ResourceAccount", owner)
            decision = evaluate(
                Request(req.action, req.resource, principal=role.arn, context=context),
                identity=list(role.documents),
                # Identity side only: resource policies are not evaluated (docs/local-mesh.md).
                resource_account=home,
            )
            record = CallRecord(
                group, home, role.logical_id, operation, req.action, req.resource, decision
            )
            with self._lock:
                self.records.append(record)
            if not decision.allowed:
                denied.append(record)
        if denied and self.enforce:
            from botocore.exceptions import ClientError

            raise ClientError(
                {
                    "Error": {
                        "Code": "AccessDeniedException",
                        "Message": "; ".join(d.describe() for d in denied),
                    }
                },
                model.name,
            )

    def _resource_account(self, arn: str) -> str | None:
        parts = arn.split(":", 5)
        if len(parts) < 6:
            return None  # "*": no single resource, no aws:ResourceAccount
        if parts[2] == "s3":
            bucket = parts[5].split("/", 1)[0]
            return self._bucket_owner(bucket) if self._bucket_owner is not None else None
        return parts[4] or None

    @property
    def denials(self) -> list[CallRecord]:
        return [r for r in self.records if not r.decision.allowed]

    def used_actions(self) -> dict[str, set[str]]:
        """Handler group -> the actions its calls needed (every account's calls together)."""
        out: dict[str, set[str]] = defaultdict(set)
        for r in self.records:
            out[r.group].add(r.action)
        return dict(out)

    def unused_grants(
        self,
        groups: Iterable[str] | None = None,
        *,
        used: Mapping[str, Iterable[str]] | None = None,
    ) -> dict[str, set[str]]:
        """Handler group -> actions its role is granted (in any checked account) that no
        recorded call needed (or none of ``used``, the actions of several runs together);
        a wildcard grant counts as used when a used action matches it."""
        from fnmatch import fnmatchcase

        used = self.used_actions() if used is None else used
        granted: dict[str, set[str]] = defaultdict(set)
        for account in self._templates:
            for group, role in self.roles(account).items():
                granted[group] |= role.granted_actions()
        out = {}
        for group, actions in granted.items():
            if groups is not None and group not in groups:
                continue
            mine = {u.lower() for u in used.get(group, ())}
            left = {a for a in actions if not any(fnmatchcase(u, a.lower()) for u in mine)}
            if left:
                out[group] = left
        return out
