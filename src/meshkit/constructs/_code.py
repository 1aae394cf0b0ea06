"""Shipping handlers without Docker: meshkit's source as the asset, pydantic from a layer."""

from __future__ import annotations

import atexit
import hashlib
import shutil
import tempfile
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from aws_cdk import Stack, Token
from aws_cdk import aws_lambda as lambda_

if TYPE_CHECKING:
    from constructs import Construct

__all__ = [
    "DEFAULT_POWERTOOLS_LAYER_VERSION",
    "DEFAULT_RUNTIME",
    "HANDLER",
    "POWERTOOLS_ACCOUNT",
    "package_code",
    "powertools_layer",
    "pyarrow_layer",
]

#: The entrypoint the runtime provides (``meshkit.runtime.lambda_entry``).
HANDLER = "meshkit.runtime.lambda_entry.handler"

#: Account publishing the public Powertools for AWS Lambda (Python) layers (commercial partition).
POWERTOOLS_ACCOUNT = "017000801446"

#: Version 27 of the ``AWSLambdaPowertoolsPythonV3-<python>-<arch>`` layer (Powertools 3.x),
#: the layer bundles pydantic 2, which meshkit needs besides boto3 (in the runtime already).
DEFAULT_POWERTOOLS_LAYER_VERSION = 27

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


def powertools_layer(
    scope: Construct,
    id: str,
    *,
    version: int,
    architecture: lambda_.Architecture,
    runtime: lambda_.Runtime,
) -> lambda_.ILayerVersion:
    """The public Powertools v3 layer for this stack's region, architecture and Python version."""
    if runtime.family != lambda_.RuntimeFamily.PYTHON:
        raise ValueError(f"runtime {runtime.name} is not a Python runtime; meshkit needs Python")
    arch = "arm64" if architecture.name == lambda_.Architecture.ARM_64.name else "x86_64"
    region = Stack.of(scope).region
    partition = Stack.of(scope).partition
    if not Token.is_unresolved(partition) and partition != "aws":
        raise ValueError(
            f"the public Powertools layer account {POWERTOOLS_ACCOUNT} serves the 'aws' "
            f"partition only, not {partition!r}; publish pydantic as your own layer there"
        )
    arn = (
        f"arn:aws:lambda:{region}:{POWERTOOLS_ACCOUNT}:layer:"
        f"AWSLambdaPowertoolsPythonV3-{_python_tag(runtime)}-{arch}:{version}"
    )
    return lambda_.LayerVersion.from_layer_version_arn(scope, id, arn)


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
