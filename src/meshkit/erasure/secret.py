"""The erasure key: the secret behind keyed hashes (the registry's record, the subject index).

It lives in AWS Secrets Manager (setting ``erasure_secret``: its name or ARN; the constructs
create it and the local mesh provisions it) and is read once per warm process. Whoever holds it
and a subject's identifiers can show which record or posting is about that subject; the record
and the index alone reveal nothing, even for low-entropy identifiers such as e-mail addresses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from meshkit.runtime.context import HandlerContext

__all__ = ["clear_cache", "erasure_secret"]

_CACHE: dict[tuple[str, str], str] = {}


def clear_cache() -> None:
    """Forget cached secrets (tests; a Lambda keeps them while warm)."""
    _CACHE.clear()


def erasure_secret(ctx: HandlerContext) -> str:
    """This account's erasure key (Secrets Manager, cached per process)."""
    arn = ctx.config.setting("erasure_secret", None)
    if not arn:
        raise RuntimeError(
            "setting erasure_secret is missing: the CentralGovernance and DataDomain "
            "constructs set it (a Secrets Manager secret holding the erasure key)"
        )
    key = (ctx.config.account_id, str(arn))
    if key not in _CACHE:
        answer = ctx.client("secretsmanager").get_secret_value(SecretId=str(arn))
        _CACHE[key] = str(answer["SecretString"])
    return _CACHE[key]
