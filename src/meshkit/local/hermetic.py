"""Keep the user's AWS shell configuration out of the local mesh.

The local mesh talks to moto in this process. Variables such as ``AWS_ENDPOINT_URL``,
``AWS_PROFILE`` or ``AWS_CONFIG_FILE`` in the user's shell would otherwise reach every botocore
session the mesh (and the handlers it runs) creates: an endpoint URL sends calls past moto to
the network, a profile that does not exist in the shell's config file crashes the first client.
While a mesh runs, these variables are removed and the config files point at an empty file;
on exit the user's values come back unchanged.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import MutableMapping

__all__ = ["LEAKING_VARIABLES", "HermeticEnvironment"]

#: Variables botocore reads that change where calls go, who makes them, or how they are signed.
LEAKING_VARIABLES = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_EC2_METADATA_DISABLED",
    "AWS_CA_BUNDLE",
    "AWS_USE_FIPS_ENDPOINT",
    "AWS_USE_DUALSTACK_ENDPOINT",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    "AWS_STS_REGIONAL_ENDPOINTS",
    "AWS_S3_US_EAST_1_REGIONAL_ENDPOINT",
    "AWS_S3_ADDRESSING_STYLE",
    "AWS_ACCOUNT_ID_ENDPOINT_MODE",
    "AWS_MAX_ATTEMPTS",
    "AWS_RETRY_MODE",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
)
#: Every service-specific endpoint (``AWS_ENDPOINT_URL_S3``, ...) and the global one.
_ENDPOINT_PREFIX = "AWS_ENDPOINT_URL"


def _leaks(name: str) -> bool:
    return name in LEAKING_VARIABLES or name.startswith(_ENDPOINT_PREFIX)


class HermeticEnvironment:
    """Remove the user's AWS variables from ``environ`` on ``enter``; put them back on ``exit``."""

    def __init__(self, environ: MutableMapping[str, str] | None = None) -> None:
        self._environ: MutableMapping[str, str] = os.environ if environ is None else environ
        self._saved: dict[str, str] | None = None

    def enter(self) -> None:
        if self._saved is not None:
            return
        env = self._environ
        self._saved = {name: value for name, value in env.items() if _leaks(name)}
        for name in self._saved:
            del env[name]
        # No config file at all: ~/.aws/config may set endpoints, profiles or retry modes too.
        env["AWS_CONFIG_FILE"] = os.devnull
        env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull

    def exit(self) -> None:
        if self._saved is None:
            return
        env = self._environ
        for name in [name for name in env if _leaks(name)]:
            del env[name]
        env.update(self._saved)
        self._saved = None
