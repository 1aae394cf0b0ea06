"""Confirmed registration, deployed: a DataDomain's two custom resources behind one Provider.

``Request`` registers (create and update) and waits for central's answer
(``meshkit.runtime.registration.register``, the code the local mesh runs); it is created after
the rules the request and the answer travel on. ``Deregistration`` sends
``DomainDeregistrationRequested`` straight to the central bus on delete, and every other
resource of the stack depends on it: CloudFormation deletes it last, only once everything else
is gone, so a stack whose deletion fails never tells central that the domain left.

CDK's Provider framework (onEvent only) answers CloudFormation, also when the function fails or
times out; the waiting is the runtime's own backoff loop, bounded by the function's timeout
(docs/deploy.md, "Registration").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import jsii
from aws_cdk import Aspects, CfnResource, CustomResource, Duration, IAspect, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import custom_resources as cr

from constructs import Construct, IConstruct
from meshkit.constructs import _code, _nag
from meshkit.constructs._handlers import depend_on, drop_role_dependency, lambda_role
from meshkit.events import domains

if TYPE_CHECKING:
    from aws_cdk import aws_dynamodb as dynamodb
    from aws_cdk import aws_events as events
    from aws_cdk import aws_kms as kms

    from meshkit.events.base import MeshEvent

__all__ = ["FUNCTION_TIMEOUT", "HANDLER", "RESOURCE_TYPE", "Registration"]

#: The custom resources' entrypoint (standard library and boto3 only: no layer).
HANDLER = "meshkit.runtime.registration.on_event"
RESOURCE_TYPE = "Custom::MeshkitRegistration"
#: Under the framework's own 15 minutes, so that the framework still reports a wait that ran
#: out as FAILED; the runtime stops re-sending a minute before this.
FUNCTION_TIMEOUT = Duration.minutes(14)
#: How long CloudFormation waits for the framework's answer (its default is an hour).
SERVICE_TIMEOUT = Duration.minutes(20)


class Registration(Construct):
    """The registration and deregistration custom resources of one DataDomain."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        domain: str,
        register_entry: str,
        deregister_entry: str,
        state: dynamodb.ITable,
        key: kms.IKey,
        domain_bus: events.IEventBus,
        central_bus_arn: str,
        architecture: lambda_.Architecture,
        runtime: lambda_.Runtime,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        self.provider_scope = Construct(self, "Provider")
        provider = self._provider(
            central_bus_arn=central_bus_arn,
            architecture=architecture,
            runtime=runtime,
            log_retention=log_retention,
        )
        # What only the registration needs: kept off the function's own policy, which the
        # deregistration (deleted last) depends on, so that the table, key and domain bus may
        # depend on the deregistration without a cycle.
        self.wait_policy = iam.Policy(
            self,
            "WaitPolicy",
            roles=[self.function_role],
            statements=[
                iam.PolicyStatement(
                    sid="SendRegistration",
                    actions=["events:PutEvents"],
                    resources=[domain_bus.event_bus_arn],
                    conditions=_only(domains.DomainRegistrationRequested),
                ),
                iam.PolicyStatement(
                    sid="ReadAnswer", actions=["dynamodb:GetItem"], resources=[state.table_arn]
                ),
                iam.PolicyStatement(
                    sid="DecryptState",
                    actions=["kms:Decrypt"],
                    resources=[key.key_arn],
                    conditions={
                        "StringEquals": {"kms:ViaService": f"dynamodb.{stack.region}.amazonaws.com"}
                    },
                ),
            ],
        )
        self.deregistration = CustomResource(
            self,
            "Deregistration",
            service_token=provider.service_token,
            resource_type=RESOURCE_TYPE,
            service_timeout=SERVICE_TIMEOUT,
            properties={"Kind": "deregistration", "Entry": deregister_entry},
        )
        self.request = CustomResource(
            self,
            "Request",
            service_token=provider.service_token,
            resource_type=RESOURCE_TYPE,
            service_timeout=SERVICE_TIMEOUT,
            properties={
                "Kind": "registration",
                "Entry": register_entry,
                "StateTable": state.table_name,
                "Domain": domain,
            },
        )
        self.request.node.add_dependency(self.wait_policy)
        _DeleteLast.of(stack).add(self)

    def _provider(
        self,
        *,
        central_bus_arn: str,
        architecture: lambda_.Architecture,
        runtime: lambda_.Runtime,
        log_retention: logs.RetentionDays,
    ) -> cr.Provider:
        scope = self.provider_scope
        log_group = logs.LogGroup(
            scope, "Logs", retention=log_retention, removal_policy=RemovalPolicy.DESTROY
        )
        role = lambda_role(
            scope,
            "FunctionRole",
            description="Sends meshkit domain (de)registration and waits for central's answer",
            log_group=log_group,
            sid="Logs",
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="SendDeregistration",
                actions=["events:PutEvents"],
                resources=[central_bus_arn],
                conditions=_only(domains.DomainDeregistrationRequested),
            )
        )
        self.function_role = role
        function = lambda_.Function(
            scope,
            "Function",
            description="meshkit: domain registration (confirmed) and deregistration (last)",
            runtime=runtime,
            architecture=architecture,
            handler=HANDLER,
            code=_code.package_code(),
            role=role,
            timeout=FUNCTION_TIMEOUT,
            memory_size=256,
            log_group=log_group,
        )
        drop_role_dependency(function, role)
        framework_logs = logs.LogGroup(
            scope, "FrameworkLogs", retention=log_retention, removal_policy=RemovalPolicy.DESTROY
        )
        framework_role = lambda_role(
            scope,
            "FrameworkRole",
            description="CDK's provider framework: invokes the registration function",
            log_group=framework_logs,
            sid="Logs",
        )
        provider = cr.Provider(
            scope,
            "Framework",
            on_event_handler=function,
            framework_on_event_role=framework_role,
            log_group=framework_logs,
        )
        framework = provider.node.find_child("framework-onEvent")
        drop_role_dependency(framework, framework_role)
        for r, lg in ((role, log_group), (framework_role, framework_logs)):
            _nag.acknowledge_resources(r, [f"{lg.log_group_arn}:*"], "own-logs")
        _nag.acknowledge_resources(
            framework_role, [f"{function.function_arn}:*"], "provider-invoke"
        )
        _nag.acknowledge(function, "AwsSolutions-L1", _nag.REASONS["stack-runtime"])
        return provider


def _only(model: type[MeshEvent]) -> dict[str, dict[str, list[str]]]:
    """PutEvents limited to the one event (IAM's events:source and events:detail-type keys)."""
    return {
        "StringEquals": {"events:source": [model.SOURCE], "events:detail-type": [model.DETAIL_TYPE]}
    }


def _within(node: IConstruct, scope: IConstruct) -> bool:
    path, root = node.node.path, scope.node.path
    return path == root or path.startswith(root + "/")


@jsii.implements(IAspect)
class _DeleteLast:
    """Every resource of the stack depends on each domain's deregistration (one per stack).

    An aspect, so that resources added to the stack after the DataDomain are covered too; the
    deregistrations and their providers are exempt (the provider must exist before them).
    """

    _ID = "MeshkitDeregistrationLast"

    @classmethod
    def of(cls, stack: Stack) -> _DeleteLast:
        holder = stack.node.try_find_child(cls._ID)
        if isinstance(holder, _Holder):
            return holder.aspect
        aspect = cls(stack)
        _Holder(stack, cls._ID, aspect)
        Aspects.of(stack).add(aspect)
        return aspect

    def __init__(self, stack: Stack) -> None:
        self._stack = stack
        self._registrations: list[Registration] = []

    def add(self, registration: Registration) -> None:
        self._registrations.append(registration)

    def visit(self, node: IConstruct) -> None:
        if not isinstance(node, CfnResource) or node.cfn_resource_type.startswith("AWS::CDK::"):
            return
        if Stack.of(node).node.path != self._stack.node.path:
            return
        exempt = [s for r in self._registrations for s in (r.provider_scope, r.deregistration)]
        if any(_within(node, scope) for scope in exempt):
            return
        for registration in self._registrations:
            target = registration.deregistration.node.default_child
            if isinstance(target, CfnResource):
                depend_on(node, target)


class _Holder(Construct):
    """Keeps the stack's one ``_DeleteLast`` (a construct without resources)."""

    def __init__(self, scope: Stack, id: str, aspect: _DeleteLast) -> None:
        super().__init__(scope, id)
        self.aspect = aspect
