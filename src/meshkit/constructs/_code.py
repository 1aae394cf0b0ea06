"""Shipping handlers without Docker: meshkit's source as the asset, pydantic from a layer."""

from __future__ import annotations

import atexit
import hashlib
import shutil
import tempfile
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from aws_cdk import Annotations, Stack, Token
from aws_cdk import aws_lambda as lambda_

if TYPE_CHECKING:
    from constructs import Construct

__all__ = [
    "DEFAULT_POWERTOOLS_LAYER_VERSION",
    "DEFAULT_RUNTIME",
    "HANDLER",
    "POWERTOOLS_ACCOUNT",
    "POWERTOOLS_LAYER_ACCOUNTS",
    "POWERTOOLS_LAYER_PYDANTIC",
    "dependencies_layer",
    "layer_partition",
    "package_code",
    "powertools_layer",
    "powertools_layer_arn",
    "pyarrow_layer",
]

#: The entrypoint the runtime provides (``meshkit.runtime.lambda_entry``).
HANDLER = "meshkit.runtime.lambda_entry.handler"

#: Account publishing the public Powertools for AWS Lambda (Python) layers (commercial partition).
POWERTOOLS_ACCOUNT = "017000801446"

#: Where Powertools publishes its v3 layer, per partition: region -> publishing account ("*":
#: every region of the partition). China and GovCloud are served from other accounts, and only
#: in the regions listed (Powertools' installation page, docs/deploy.md).
POWERTOOLS_LAYER_ACCOUNTS: dict[str, dict[str, str]] = {
    "aws": {"*": POWERTOOLS_ACCOUNT},
    "aws-cn": {"cn-north-1": "498634801083"},
    "aws-us-gov": {"us-gov-east-1": "165087284144", "us-gov-west-1": "165093116878"},
}

#: Version 27 of the ``AWSLambdaPowertoolsPythonV3-<python>-<arch>`` layer (Powertools 3.x), the
#: version the installation page gives in all three partitions. The layer is built with
#: ``pip install aws-lambda-powertools[all]==<release>``: it bundles pydantic 2 (the parser
#: extra), the newest release at its build.
DEFAULT_POWERTOOLS_LAYER_VERSION = 27

#: The pydantic major release the Powertools v3 layers bundle (Powertools 3's parser extra
#: requires pydantic 2); the minor is the newest at the layer's build and is not published per
#: layer version, so the Lambda entry checks it against meshkit's floor at cold start.
POWERTOOLS_LAYER_PYDANTIC = "2"

#: Powertools publishes its v3 layer per Python version; 3.13 is the newest for which the
#: layer name is documented, so it is the default (a prop changes it).
DEFAULT_RUNTIME = lambda_.Runtime.PYTHON_3_13

#: Account publishing the AWS SDK for pandas layers (pyarrow for the erasure handlers) in most
#: commercial regions; layer versions differ per region (its docs list them).
SDK_PANDAS_ACCOUNT = "336392948345"

#: A version of ``AWSSDKPandas-Python313-Arm64`` (pyarrow); set ``pyarrow_layer`` or
#: ``pyarrow_layer_version`` to the one of your region (docs/erasure.md).
DEFAULT_SDK_PANDAS_LAYER_VERSION = 11

#: Parts of the package that never run in Lambda (CDK, the moto-backed local mesh, caches).
_EXCLUDED = ("constructs", "local", "__pycache__", "*.pyc", "*.pyo", ".mypy_cache")


def _package_dir() -> Path:
    import meshkit

    return Path(meshkit.__file__).resolve().parent


@cache
def _staged_package() -> Path:
    """Copy the package (minus what Lambda never needs) to ``<tmp>/meshkit``, once per process.

    The asset hash is computed from the content, so the temporary location never shows in the
    template; the copy only exists so the asset root holds a ``meshkit/`` directory that Lambda
    can import (``/var/task/meshkit``).
    """
    source = _package_dir()
    digest = hashlib.sha256()
    for path in sorted(source.rglob("*.py")):
        digest.update(str(path.relative_to(source)).encode())
        digest.update(path.read_bytes())
    root = Path(tempfile.mkdtemp(prefix=f"meshkit-asset-{digest.hexdigest()[:12]}-"))
    atexit.register(shutil.rmtree, root, True)
    shutil.copytree(source, root / "meshkit", ignore=shutil.ignore_patterns(*_EXCLUDED))
    return root


def package_code() -> lambda_.Code:
    """The meshkit package as Lambda code (pure Python: no bundling, no Docker)."""
    return lambda_.Code.from_asset(str(_staged_package()))


def _python_tag(runtime: lambda_.Runtime) -> str:
    # "python3.13" -> "python313", the layer's naming.
    return runtime.name.replace(".", "")


def layer_partition(scope: Construct) -> str | None:
    """The partition of the stack's region, or None when the region is a deploy-time value."""
    region = Stack.of(scope).region
    if Token.is_unresolved(region):
        return None
    from meshkit.handlers.lake import _partition

    return _partition(region)


def powertools_layer_arn(
    *, region: str, partition: str, version: int, architecture: str, python_tag: str
) -> str:
    """The Powertools v3 layer ARN of ``region``; ValueError naming what to do where Powertools
    publishes no layer (``dependencies_layer``)."""
    accounts = POWERTOOLS_LAYER_ACCOUNTS.get(partition, {})
    account = accounts.get(region) or accounts.get("*")
    if account is None:
        known = ", ".join(
            f"{p}: {'every region' if '*' in r else ', '.join(sorted(r))}"
            for p, r in POWERTOOLS_LAYER_ACCOUNTS.items()
        )
        raise ValueError(
            f"region {region!r} (partition {partition!r}) has no public Powertools layer "
            f"(published in {known}); pass dependencies_layer= a layer of yours that brings "
            "pydantic 2 (docs/deploy.md, 'Dependencies layer')"
        )
    return (
        f"arn:{partition}:lambda:{region}:{account}:layer:"
        f"AWSLambdaPowertoolsPythonV3-{python_tag}-{architecture}:{version}"
    )


def powertools_layer(
    scope: Construct,
    id: str,
    *,
    version: int,
    architecture: lambda_.Architecture,
    runtime: lambda_.Runtime,
) -> lambda_.ILayerVersion:
    """The public Powertools v3 layer for this stack's region, architecture and Python version.

    In a stack whose region is a deploy-time value, the commercial partition's layer (in that
    region) is used, with a synth warning.
    """
    if runtime.family != lambda_.RuntimeFamily.PYTHON:
        raise ValueError(f"runtime {runtime.name} is not a Python runtime; meshkit needs Python")
    arch = "arm64" if architecture.name == lambda_.Architecture.ARM_64.name else "x86_64"
    region = Stack.of(scope).region
    partition = layer_partition(scope)
    if partition is None:
        Annotations.of(scope).add_warning_v2(
            "meshkit:powertools-layer-region",
            "the stack's region is known only at deploy time: the Powertools layer of the "
            f"commercial partition (account {POWERTOOLS_ACCOUNT}) is used; set the stack's env "
            "region (China and GovCloud publish from other accounts) or pass dependencies_layer",
        )
        partition = "aws"
    arn = powertools_layer_arn(
        region=region,
        partition=partition,
        version=version,
        architecture=arch,
        python_tag=_python_tag(runtime),
    )
    return lambda_.LayerVersion.from_layer_version_arn(scope, id, arn)


def dependencies_layer(
    scope: Construct,
    id: str,
    *,
    layer: lambda_.ILayerVersion | None,
    version: int,
    architecture: lambda_.Architecture,
    runtime: lambda_.Runtime,
) -> lambda_.ILayerVersion:
    """``layer`` (a team's own, bringing pydantic) or else the public Powertools layer."""
    if layer is not None:
        return layer
    return powertools_layer(scope, id, version=version, architecture=architecture, runtime=runtime)


def pyarrow_layer(
    scope: Construct,
    id: str,
    *,
    version: int,
    architecture: lambda_.Architecture,
    runtime: lambda_.Runtime,
) -> lambda_.ILayerVersion:
    """The AWS SDK for pandas layer (it bundles pyarrow), for the erasure handler's Parquet."""
    arch = "-Arm64" if architecture.name == lambda_.Architecture.ARM_64.name else ""
    tag = _python_tag(runtime).replace("python", "Python")
    arn = (
        f"arn:aws:lambda:{Stack.of(scope).region}:{SDK_PANDAS_ACCOUNT}:layer:"
        f"AWSSDKPandas-{tag}{arch}:{version}"
    )
    return lambda_.LayerVersion.from_layer_version_arn(scope, id, arn)
