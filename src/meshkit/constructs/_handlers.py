"""Shared wiring: EventBridge rule -> SQS queue (KMS, DLQ, TLS-only) -> Lambda, plus alarms."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import jsii
from aws_cdk import (
    CfnResource,
    Duration,
    IStableListProducer,
    Lazy,
    RemovalPolicy,
    Stack,
    Token,
)
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs

from constructs import Construct, IConstruct
from meshkit.constructs import _code, _nag

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from aws_cdk import aws_kms as kms
    from aws_cdk import aws_sns as sns

    from meshkit.runtime.config import MeshConfig
    from meshkit.topology import HandlerGroup

__all__ = [
    "COMMON_PROPS",
    "DeliveryDeadLetters",
    "HandlerOptions",
    "MeshHandler",
    "QueueWiring",
    "add_queue_rule",
    "mesh_environment",
    "queue_alarm",
    "queue_with_dlq",
]

#: A batch of this size fits Lambda's 6 MB payload (10 events of at most 256 KB).
_BATCH_SIZE = 10

#: EventBridge's retry policy on every rule target: its documented maximums (185 attempts,
#: 24 hours), stated explicitly; what still fails goes to the delivery dead-letter queue.
RETRY_ATTEMPTS = 185
MAX_EVENT_AGE_SECONDS = 86_400


#: Reference-page descriptions of the props both constructs take.
COMMON_PROPS: dict[str, str] = {
    "alarm_topic": "SNS topic notified by the dead-letter and handler-error alarms.",
    "register_data_lake_admins": "Add the handler roles (and `data_lake_admins`) to the "
    "account's Lake Formation admins: merged into the current settings, removed on delete.",
    "data_lake_admins": "Further admin ARNs this stack adds (and removes on delete).",
    "max_receive_count": "Deliveries of one event before it goes to the dead-letter queue.",
    "architecture": "Lambda architecture of the handlers.",
    "runtime": "Lambda Python runtime of the handlers (must match the Powertools layer).",
    "powertools_layer_version": "Version of the public Powertools v3 layer (brings pydantic).",
    "dependencies_layer": "A layer of yours bringing pydantic 2 (>=2.11) instead of the public "
    "Powertools layer; required in a region where Powertools publishes none (docs/deploy.md).",
    "log_retention": "Retention of the handlers' log groups.",
}


@dataclass(frozen=True)
class HandlerOptions:
    """Knobs shared by every handler function of one construct."""

    key: kms.IKey
    alarm_topic: sns.ITopic | None = None
    max_receive_count: int = 5
    architecture: lambda_.Architecture = field(default_factory=lambda: lambda_.Architecture.ARM_64)
    runtime: lambda_.Runtime = field(default_factory=lambda: _code.DEFAULT_RUNTIME)
    powertools_layer_version: int = _code.DEFAULT_POWERTOOLS_LAYER_VERSION
    #: A team's own layer bringing pydantic (default: the public Powertools layer).
    dependencies_layer: lambda_.ILayerVersion | None = None
    log_retention: logs.RetentionDays = logs.RetentionDays.THREE_MONTHS
    memory_size: int = 512
    timeout: Duration = field(default_factory=lambda: Duration.seconds(60))
    #: A layer bringing pyarrow for the groups that read Parquet (default: AWS SDK for pandas).
    pyarrow_layer: lambda_.ILayerVersion | None = None
    pyarrow_layer_version: int = _code.DEFAULT_SDK_PANDAS_LAYER_VERSION
    #: Where EventBridge puts what it could not deliver to a rule target (one per construct).
    dead_letters: DeliveryDeadLetters | None = None

    def for_group(self, group: HandlerGroup) -> HandlerOptions:
        """These options sized for ``group`` (memory and timeout from the topology)."""
        import dataclasses

        return dataclasses.replace(
            self,
            memory_size=max(self.memory_size, group.memory_mb),
            timeout=Duration.seconds(max(int(self.timeout.to_seconds()), group.timeout_seconds)),
        )

    def delivery(self) -> DeliveryDeadLetters:
        if self.dead_letters is None:
            raise RuntimeError("HandlerOptions.dead_letters is not set: the construct creates it")
        return self.dead_letters

    @classmethod
    def from_props(cls, **props: Any) -> HandlerOptions:
        """From a construct's props: a prop left as None takes the default declared here."""
        return cls(**{k: v for k, v in props.items() if v is not None})


def mesh_environment(scope: IConstruct, config: MeshConfig) -> dict[str, str]:
    """The ``MESHKIT_*`` variables of a function, built by ``MeshConfig.to_env`` (the one
    builder the runtime reads back): settings holding CDK tokens go through
    ``Stack.to_json_string`` so that they resolve at deploy time, the others are sorted JSON."""

    def dumps(settings: Any) -> str:
        text = json.dumps(settings, sort_keys=True)
        return Stack.of(scope).to_json_string(settings) if Token.is_unresolved(text) else text

    return config.to_env(dumps=dumps)


def queue_alarm(
    scope: Construct,
    id: str,
    queue: sqs.IQueue,
    description: str,
    alarm_topic: sns.ITopic | None = None,
) -> cloudwatch.Alarm:
    """An alarm as soon as one message waits in ``queue`` (a dead-letter queue)."""
    alarm = cloudwatch.Alarm(
        scope,
        id,
        alarm_description=description,
        metric=queue.metric_approximate_number_of_messages_visible(
            period=Duration.minutes(5), statistic="Maximum"
        ),
        threshold=1,
        evaluation_periods=1,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    )
    if alarm_topic is not None:
        alarm.add_alarm_action(cw_actions.SnsAction(alarm_topic))
    return alarm


class QueueWiring(Construct):
    """A work queue with its dead-letter queue, both KMS-encrypted and TLS-only, and an alarm."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        key: kms.IKey,
        max_receive_count: int,
        visibility_timeout: Duration,
        alarm_topic: sns.ITopic | None,
    ) -> None:
        super().__init__(scope, id)
        if not 1 <= max_receive_count <= 1000:
            raise ValueError(
                f"max_receive_count={max_receive_count}: SQS accepts 1..1000; 5 is a good default"
            )
        self.dlq = sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            enforce_ssl=True,
            # Lambda's guidance: at least six times the function timeout.
            visibility_timeout=visibility_timeout,
            retention_period=Duration.days(4),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dlq, max_receive_count=max_receive_count
            ),
        )
        self.max_receive_count = max_receive_count
        self.dlq_alarm = queue_alarm(
            self,
            "DeadLetterAlarm",
            self.dlq,
            "Events reached the dead-letter queue: a flow failed for good.",
            alarm_topic,
        )


class DeliveryDeadLetters(Construct):
    """The dead-letter queue of a construct's rule targets: events EventBridge could not
    deliver (target gone, permissions, retries exhausted) are kept 14 days, with an alarm.

    Distinct from the handler groups' DLQs, which hold events a handler failed on: these never
    reached a queue or bus. EventBridge needs the queue in the rule's account and Region.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        key: kms.IKey,
        alarm_topic: sns.ITopic | None,
        queue_name: str | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.key = key
        self.queue = sqs.Queue(
            self,
            "Queue",
            queue_name=queue_name,
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        _nag.acknowledge(self.queue, "AwsSolutions-SQS3", _nag.REASONS["delivery-dlq"])
        self.alarm = queue_alarm(
            self,
            "Alarm",
            self.queue,
            "EventBridge could not deliver events to a rule target.",
            alarm_topic,
        )
        key.grant(events_principal(self), "kms:Decrypt", "kms:GenerateDataKey")

    def allow(self, rule_arn: str, *, like: bool = False, account: str | None = None) -> None:
        """Let EventBridge send the dead letters of ``rule_arn`` (a pattern when ``like``)."""
        principal = iam.ServicePrincipal(
            "events.amazonaws.com",
            conditions={
                "StringEquals": {"aws:SourceAccount": account or Stack.of(self).account},
                ("ArnLike" if like else "ArnEquals"): {"aws:SourceArn": rule_arn},
            },
        )
        self.queue.add_to_resource_policy(
            iam.PolicyStatement(
                actions=["sqs:SendMessage"],
                principals=[principal],
                resources=[self.queue.queue_arn],
            )
        )


def target_delivery(
    dead_letter_arn: str,
) -> dict[str, Any]:
    """The dead-letter and retry settings of one rule target (``CfnRule.TargetProperty``)."""
    return {
        "dead_letter_config": events.CfnRule.DeadLetterConfigProperty(arn=dead_letter_arn),
        "retry_policy": events.CfnRule.RetryPolicyProperty(
            maximum_retry_attempts=RETRY_ATTEMPTS,
            maximum_event_age_in_seconds=MAX_EVENT_AGE_SECONDS,
        ),
    }


def queue_with_dlq(
    scope: Construct, id: str, options: HandlerOptions, *, timeout: Duration | None = None
) -> QueueWiring:
    return QueueWiring(
        scope,
        id,
        key=options.key,
        max_receive_count=options.max_receive_count,
        visibility_timeout=Duration.seconds(6 * (timeout or options.timeout).to_seconds()),
        alarm_topic=options.alarm_topic,
    )


def add_queue_rule(
    scope: Construct,
    id: str,
    *,
    queue: sqs.IQueue,
    key: kms.IKey,
    event_pattern: Mapping[str, Any] | None = None,
    schedule: str | None = None,
    event_bus: events.IEventBus | None = None,
    description: str,
    dead_letters: DeliveryDeadLetters,
) -> events.CfnRule:
    """A rule (pattern from meshkit.topology, or a schedule) whose one target is ``queue``,
    with a retry policy and the construct's delivery dead-letter queue.

    L1, not ``events.Rule`` + ``targets.SqsQueue``: the rule carries the topology pattern
    verbatim (the same dict the local mesh routes with, compared in the tests), and the queue
    policy and key grant carry the ``aws:SourceAccount``/``aws:SourceArn`` conditions, which
    the L2 target's grants do not add.
    """
    rule = events.CfnRule(
        scope,
        id,
        description=description,
        event_bus_name=event_bus.event_bus_name if event_bus is not None else None,
        event_pattern=dict(event_pattern) if event_pattern is not None else None,
        schedule_expression=schedule,
        state="ENABLED",
        targets=[
            events.CfnRule.TargetProperty(
                arn=queue.queue_arn, id="Queue", **target_delivery(dead_letters.queue.queue_arn)
            )
        ],
    )
    dead_letters.allow(rule.attr_arn)
    principal = events_principal(scope, source_arn=rule.attr_arn)
    queue.add_to_resource_policy(
        iam.PolicyStatement(
            actions=["sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"],
            principals=[principal],
            resources=[queue.queue_arn],
        )
    )
    # EventBridge must encrypt what it sends to a KMS-encrypted queue.
    key.grant(events_principal(scope), "kms:Decrypt", "kms:GenerateDataKey")
    return rule


def events_principal(scope: Construct, *, source_arn: str | None = None) -> iam.IPrincipal:
    """EventBridge acting for this stack's account only (confused-deputy guard):
    ``aws:SourceAccount`` always, ``aws:SourceArn`` when the one rule is known."""
    conditions: dict[str, Any] = {"StringEquals": {"aws:SourceAccount": Stack.of(scope).account}}
    if source_arn is not None:
        conditions["ArnEquals"] = {"aws:SourceArn": source_arn}
    return iam.ServicePrincipal("events.amazonaws.com", conditions=conditions)


def pattern_json(pattern: Mapping[str, Any]) -> str:
    """A pattern as sorted JSON, for docs and comparisons."""
    return json.dumps(pattern, sort_keys=True)


class MeshHandler(Construct):
    """One handler group as deployed: its queue + DLQ, its function, role and alarms.

    Rules are added by the owner (central or domain) with ``add_rule``, since which bus and which
    pattern depend on the account role.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        group: HandlerGroup,
        options: HandlerOptions,
        config: MeshConfig,
        description: str,
        role_name: str | None = None,
    ) -> None:
        super().__init__(scope, id)
        options = options.for_group(group)
        self.group = group
        self._options = options
        self.wiring = queue_with_dlq(self, "Work", options)
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=options.log_retention,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.role = lambda_role(
            self,
            "Role",
            description=f"meshkit {group.name} handler",
            log_group=self.log_group,
            # A fixed name only where a role of another account must trust exactly this one.
            role_name=role_name,
        )
        self.config = dataclasses.replace(
            config,
            group=group.name,
            dead_letter_queue_url=self.wiring.dlq.queue_url,
            max_receive_count=options.max_receive_count,
        )
        env = {
            **mesh_environment(self, self.config),
            "POWERTOOLS_SERVICE_NAME": f"meshkit-{group.env_name}",
        }
        self.function = lambda_.Function(
            self,
            "Function",
            description=description,
            runtime=options.runtime,
            architecture=options.architecture,
            handler=_code.HANDLER,
            code=_code.package_code(),
            layers=self._layers(options),
            role=self.role,
            environment=env,
            memory_size=options.memory_size,
            timeout=options.timeout,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            application_log_level_v2=lambda_.ApplicationLogLevel.INFO,
            system_log_level_v2=lambda_.SystemLogLevel.WARN,
        )
        drop_role_dependency(self.function, self.role)
        self.function.add_event_source(
            sources.SqsEventSource(
                self.wiring.queue,
                batch_size=_BATCH_SIZE,
                report_batch_item_failures=True,
            )
        )
        # The router itself parks rejected events in the DLQ and reports them processed.
        self.wiring.dlq.grant_send_messages(self.role)
        self.errors_alarm = cloudwatch.Alarm(
            self,
            "ErrorsAlarm",
            alarm_description=f"meshkit {group.name} handler invocations failed.",
            metric=self.function.metric_errors(period=Duration.minutes(5), statistic="Sum"),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        if options.alarm_topic is not None:
            self.errors_alarm.add_alarm_action(cw_actions.SnsAction(options.alarm_topic))
        _nag.acknowledge_actions(self.role, ["kms:GenerateDataKey*", "kms:ReEncrypt*"], "kms")
        _nag.acknowledge(self.function, "AwsSolutions-L1", _nag.REASONS["runtime"])
        self.rules: list[events.CfnRule] = []

    def _layers(self, options: HandlerOptions) -> list[lambda_.ILayerVersion]:
        layers = [
            _code.dependencies_layer(
                self,
                "Powertools",
                layer=options.dependencies_layer,
                version=options.powertools_layer_version,
                architecture=options.architecture,
                runtime=options.runtime,
            )
        ]
        if self.group.needs_pyarrow:
            layers.append(
                options.pyarrow_layer
                or _code.pyarrow_layer(
                    self,
                    "Pyarrow",
                    version=options.pyarrow_layer_version,
                    architecture=options.architecture,
                    runtime=options.runtime,
                )
            )
        return layers

    @property
    def queue(self) -> sqs.IQueue:
        return self.wiring.queue

    @property
    def dead_letter_queue(self) -> sqs.IQueue:
        return self.wiring.dlq

    def add_rule(
        self,
        id: str,
        *,
        description: str,
        event_pattern: Mapping[str, Any] | None = None,
        schedule: str | None = None,
        event_bus: events.IEventBus | None = None,
    ) -> events.CfnRule:
        rule = add_queue_rule(
            self,
            id,
            queue=self.wiring.queue,
            key=self._options.key,
            event_pattern=event_pattern,
            schedule=schedule,
            event_bus=event_bus,
            description=description,
            dead_letters=self._options.delivery(),
        )
        self.rules.append(rule)
        return rule

    def add_to_role_policy(self, *statements: iam.PolicyStatement) -> None:
        for statement in statements:
            self.role.add_to_policy(statement)


@dataclass(frozen=True)
class CustomHandler:
    """What ``add_handler`` created for a team's own function."""

    rules: Sequence[events.CfnRule]
    queue: sqs.IQueue
    dead_letter_queue: sqs.IQueue
    event_source: sources.SqsEventSource
    dead_letter_alarm: cloudwatch.Alarm


@jsii.implements(IStableListProducer)
class _KeptDependencies(Construct):
    """The DependsOn of a resource whose role dependency was dropped: its role's policy, then
    what ``depend_on`` adds later (resolved at synthesis, after the aspects)."""

    ID = "MeshkitDependsOn"

    def __init__(self, scope: CfnResource, first: CfnResource) -> None:
        super().__init__(scope, self.ID)
        self.resources = [first]

    def produce(self) -> list[str]:
        return [r.logical_id for r in self.resources]


def lambda_role(
    scope: Construct,
    id: str,
    *,
    description: str,
    log_group: logs.ILogGroup,
    role_name: str | None = None,
    sid: str | None = None,
) -> iam.Role:
    """A function's own role (not Lambda's default, so no AWS managed policy is attached) that
    may write to ``log_group`` only; the caller adds what the function needs."""
    role = iam.Role(
        scope,
        id,
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=description,
        role_name=role_name,
    )
    role.add_to_policy(
        iam.PolicyStatement(
            sid=sid,
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[log_group.log_group_arn],
        )
    )
    return role


def drop_role_dependency(function: IConstruct, role: iam.IRole) -> None:
    """Keep only the policy in the function's DependsOn: the role is already implied by the
    function's GetAtt on it (cfn-lint W3005 otherwise)."""
    fn_cfn = function.node.default_child
    policy = role.node.try_find_child("DefaultPolicy")
    policy_cfn = policy.node.default_child if policy is not None else None
    if isinstance(fn_cfn, CfnResource) and isinstance(policy_cfn, CfnResource):
        kept = _KeptDependencies(fn_cfn, policy_cfn)
        fn_cfn.add_override("DependsOn", Lazy.list(kept))


def depend_on(resource: CfnResource, target: CfnResource) -> None:
    """``resource`` DependsOn ``target``, also when ``drop_role_dependency`` overrode it."""
    kept = resource.node.try_find_child(_KeptDependencies.ID)
    if isinstance(kept, _KeptDependencies):
        if target not in kept.resources:
            kept.resources.append(target)
    else:
        resource.add_resource_dependency(target)
