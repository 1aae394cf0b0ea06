"""Team handler: tell the team's SNS topic when this domain was granted access to a product.

Deployed by ``examples/domain/app.py`` with ``MeshFunction`` (meshkit ships beside this file)
and run by the local mesh in ``tests/functional/test_extending.py``: the same code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from meshkit.events import AccessGranted
from meshkit.runtime.router import EventRouter

if TYPE_CHECKING:
    from meshkit.runtime.context import HandlerContext

router = EventRouter("sales.notify")


class NotifySettings(BaseModel):
    """This function's own settings (``MeshFunction(settings=...)``, read from ``ctx.config``)."""

    topic_arn: str
    subject: str = "meshkit: access granted"


@router.on(AccessGranted)
def notify(event: AccessGranted, ctx: HandlerContext) -> None:
    # The rule only matches AccessGranted sent by central; the handler checks it all the same.
    if ctx.sender_account != ctx.config.central_account:
        return
    settings = ctx.config.settings_as(NotifySettings)
    ctx.client("sns").publish(
        TopicArn=settings.topic_arn,
        Subject=settings.subject,
        Message=f"{event.producer_domain}.{event.product} -> {event.consumer_domain}",
    )
    ctx.logger.info("notified %s", settings.topic_arn)


def handler(event: dict[str, Any], context: object) -> dict[str, Any] | None:
    """Lambda: an SQS batch of EventBridge events."""
    return router.resolve(event, context)
