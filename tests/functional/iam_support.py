"""IAM parity support: the demo's configuration synthesized with the real constructs, and the map
from each template's logical ids to the ARNs the local mesh provisions.

How a logical id is matched: CDK names a resource ``<construct path><8-hex hash>``. The
constructs are built here with fixed ids (``Governance`` for CentralGovernance, ``Domain`` for
each DataDomain), so the stem after that prefix names the resource (``Bus``, ``Registry``,
``State``, ``Data`` ...). A handler group's own queues share the stem of its role, whose
description names the group (``meshkit central.access handler``). The DataZone domain id, only
known once the local mesh runs, is synthesized as :data:`DATAZONE_PLACEHOLDER` and replaced by
the mesh's in every resolved value.
"""

from __future__ import annotations

import os
import tempfile
from typing import TYPE_CHECKING, Any

from meshkit import topology
from meshkit.local import iam

if TYPE_CHECKING:
    from collections.abc import Mapping

    from meshkit.local.mesh import LocalMesh

DATAZONE_PLACEHOLDER = "dzd_meshkitparity"
CENTRAL_ID = "Governance"
DOMAIN_ID = "Domain"


def synth_mesh(
    *,
    mesh_name: str,
    central_account: str,
    region: str,
    domains: Mapping[str, str],
    principals: Mapping[str, tuple[str, ...]],
    personas: str | None = None,
) -> dict[str, dict[str, Any]]:
    """Templates by account: CentralGovernance (DataZone on; the ``personas`` file deployed
    when given) and one DataDomain (publishing to DataZone) per ``domains`` name -> account,
    with the consumer ``principals`` (names, as ``LocalMesh.add_domain`` takes them), as the
    local mesh deploys them."""
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    import aws_cdk as cdk

    from meshkit.constructs import CentralGovernance, DataDomain, PermissionsSettings
    from meshkit.constructs.datazone import DataZonePublishing, DataZoneSettings

    outdir = tempfile.mkdtemp(prefix="meshkit-iam-parity-")
    app = cdk.App(outdir=outdir)
    permissions = None
    if personas is not None:
        path = os.path.join(outdir, "personas.yaml")
        with open(path, "w", encoding="utf-8") as f:
            f.write(personas)
        permissions = PermissionsSettings(file=path)
    env = cdk.Environment(account=central_account, region=region)
    central = cdk.Stack(app, "Central", env=env)
    CentralGovernance(
        central,
        CENTRAL_ID,
        mesh_name=mesh_name,
        member_accounts=list(domains.values()),
        domain_accounts=dict(domains),
        datazone=DataZoneSettings(
            domain_ids=[DATAZONE_PLACEHOLDER], environment_profile_id="parity"
        ),
        permissions=permissions,
    )
    stacks = {"Central": central_account}
    for name, account in domains.items():
        stack = cdk.Stack(
            app, f"Domain-{name}", env=cdk.Environment(account=account, region=region)
        )
        DataDomain(
            stack,
            DOMAIN_ID,
            mesh_name=mesh_name,
            domain_name=name,
            central_account=central_account,
            consumer_principals=[
                f"arn:aws:iam::{account}:role/{mesh_name}-{name}-{p}" for p in principals[name]
            ],
            datazone=DataZonePublishing(datazone_domain_id=DATAZONE_PLACEHOLDER, project_name=name),
        )
        stacks[f"Domain-{name}"] = account
    assembly = app.synth()
    return {stacks[s.stack_name]: s.template for s in assembly.stacks}


def _group_stems(template: Mapping[str, Any]) -> dict[str, str]:
    return {
        group: iam._stem(lid)[: -len("Role")] for group, lid in iam.group_roles(template).items()
    }


def local_arns(mesh: LocalMesh) -> Any:
    """The ``arns`` callback of :class:`meshkit.local.iam.IamParity` for ``mesh``."""

    def table(account: str, template: Mapping[str, Any]) -> dict[str, str]:
        region = mesh.region

        def ddb(name: str) -> str:
            return f"arn:aws:dynamodb:{region}:{account}:table/{name}"

        if account == mesh.central_account:
            res: Any = mesh.central.resources
            prefix = CENTRAL_ID
            shared = {
                "Bus": res.bus_arn,
                "Registry": ddb(res.registry_table),
                "Idempotency": ddb(res.idempotency_table),
                "ErasureKey": res.erasure_secret,
                "LocationRole": res.location_role_arn,
                # The personas file's parameter (Ref: its name, as the local mesh puts it).
                "PersonasFile": topology.permissions_parameter(mesh.name),
            }
        else:
            (handle,) = [d for d in mesh.domains.values() if d.account == account]
            res = handle.resources
            prefix = DOMAIN_ID
            shared = {
                "Bus": res.bus_arn,
                "State": ddb(res.state_table),
                "Idempotency": ddb(res.idempotency_table),
                "SubjectIndex": ddb(res.subject_index_table),
                "Data": f"arn:aws:s3:::{res.bucket}",
                "ErasureKey": res.erasure_secret,
                "CrawlerRole": res.crawler_role_arn,
            }
        by_stem = {f"{prefix}{k}": v for k, v in shared.items()}
        for group, stem in _group_stems(template).items():
            wiring = res.groups.get(group)
            if wiring is not None:
                queue, dlq = wiring.queue_arn, wiring.dlq_arn
            else:
                # A group turned on later in the run (mesh.deploy_permissions, as a stack
                # update) or never (DataZone off): provisioning's names.
                queue = (
                    f"arn:aws:sqs:{region}:{account}:{mesh.name}-{topology.group(group).env_name}"
                )
                dlq = f"{queue}-dlq"
            by_stem[f"{stem}WorkQueue"] = queue
            by_stem[f"{stem}WorkDeadLetterQueue"] = dlq
        out: dict[str, str] = {}
        for lid, resource in template["Resources"].items():
            kind = resource["Type"]
            value = by_stem.get(iam._stem(lid))
            if value is None and kind in ("AWS::KMS::Key", "AWS::Logs::LogGroup"):
                # Handlers never call KMS or CloudWatch Logs themselves (the services and
                # Lambda do, with grants this check does not model): a distinct ARN no call
                # will ever name.
                service = "kms" if kind == "AWS::KMS::Key" else "logs"
                value = f"arn:aws:{service}:{region}:{account}:unmodelled/{lid}"
            if value is None:
                continue
            out[f"{lid}.Arn"] = value
            if kind == "AWS::SecretsManager::Secret":
                out[lid] = value  # Ref of a secret is its ARN
            if kind == "AWS::SSM::Parameter":
                out[lid] = value  # Ref of a parameter is its name
        return out

    return table


def rewrite(mesh: LocalMesh) -> Any:
    """Replaces the synthesized DataZone placeholder by the running mesh's domain id (a mesh
    without DataZone keeps it: no call names that domain)."""

    def replace(value: str) -> str:
        if "datazone" not in mesh.features:
            return value
        return value.replace(DATAZONE_PLACEHOLDER, mesh.datazone_domain_id)

    return replace


def bucket_owner(mesh: LocalMesh) -> Any:
    """The account owning a domain's bucket (``aws:ResourceAccount`` of an S3 request)."""

    def owner(bucket: str) -> str | None:
        found = [d.account for d in mesh.domains.values() if d.bucket == bucket]
        return found[0] if found else None

    return owner
