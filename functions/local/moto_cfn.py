"""CloudFormation support that moto 5.2.1 lacks and `cdk deploy` of this project's stack needs (issue 14).

Loaded by serialized_moto.py with `--cfn`; moto on disk is not changed. `apply()`:

- registers CloudFormation models for the resource types moto's CloudFormation skips ("no support"):
  AWS::SecretsManager::Secret, AWS::SecretsManager::ResourcePolicy, AWS::Scheduler::ScheduleGroup,
  AWS::Scheduler::Schedule, AWS::Lambda::Url, AWS::CloudWatch::Alarm, AWS::SQS::QueuePolicy,
  AWS::SNS::TopicPolicy, AWS::S3::BucketPolicy and AWS::CDK::Metadata. Each but the last two creates,
  updates and deletes the resource on moto's own service backend, so the service APIs then answer for
  it (the bucket policy of the bootstrap stack and the CDK metadata keep no state). A skipped resource
  would resolve a `Ref` to nothing, and the IAM policies naming it would fail with "Policy statement
  must contain resources".
- patches the moto defects the CDK CLI runs into, and the template properties moto's own models drop
  (see `_patch_*` below).
"""
from __future__ import annotations

import inspect
import json
import types
from collections.abc import Callable
from typing import Any

from moto.backends import get_backend
from moto.cloudformation import parsing
from moto.core.common_models import CloudFormationModel
from moto.core.exceptions import ServiceException


_MODULE = "token_refresher.moto_cfn"


def _props(cloudformation_json: dict[str, Any]) -> dict[str, Any]:
    return cloudformation_json.get("Properties") or {}


def _backend(service: str, account_id: str, region: str) -> Any:
    """moto's backend of a service (its name in moto.backends, e.g. "secretsmanager")."""
    return get_backend(service)[account_id][region]  # type: ignore[call-overload]


def _json_text(document: Any) -> str:
    """A policy document as the service APIs take it (the template may give an object or a string)."""
    return document if isinstance(document, str) else json.dumps(document)


class _Model:
    """A CloudFormation resource made on a moto service backend.

    A subclass fills in `create` (and `remove`; `update` where an update is not a replacement). `ref`
    is what `Ref` answers (and the physical id), `attrs` what `Fn::GetAtt` answers."""

    attributes: tuple[str, ...] = ()

    def __init__(self, account_id: str, region: str, ref: str, properties: dict[str, Any], **attrs: Any):
        self.account_id = account_id
        self.region = region
        self.ref = ref
        self.properties = properties
        self.attrs = attrs

    @property
    def physical_resource_id(self) -> str:
        return self.ref

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls.attributes

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        if attribute_name in self.attrs:
            return self.attrs[attribute_name]
        raise UnformattedGetAttTemplateException()

    def backend(self, service: str) -> Any:
        return _backend(service, self.account_id, self.region)

    @classmethod
    def create(cls, account_id: str, region: str, name: str, p: dict[str, Any]) -> _Model:
        """Create the resource; `name` is the one moto chose (the name property's value, if any)."""
        return cls(account_id, region, name, p)

    def update(self, name: str, p: dict[str, Any]) -> _Model:
        """By default an update replaces the resource."""
        self.remove()
        return type(self).create(self.account_id, self.region, name, p)

    def remove(self) -> None:
        """Undo `create` on the backend; what is gone already (moto deletes in no set order) is skipped."""

    # The CloudFormationModel interface, as moto calls it.

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> _Model:
        return cls.create(account_id, region_name, resource_name, _props(cloudformation_json))

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls,
        original_resource: _Model,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> _Model:
        return original_resource.update(new_resource_name, _props(cloudformation_json))

    def delete(self, account_id: str, region_name: str) -> None:
        self.remove()


MODELS: list[type] = []
"""Every model registered (moto finds them through `__subclasses__`, which holds them weakly)."""


def _register(cfn_type: str, name_property: str = "") -> Callable[[type[_Model]], type[_Model]]:
    """Make a `_Model` subclass moto's model of `cfn_type`. moto lists the *direct* subclasses of
    CloudFormationModel, files each by the second part of its module name, and takes the resource's
    name from the property `name_property`."""

    def register(model: type[_Model]) -> type[_Model]:
        def body(namespace: dict[str, Any]) -> None:
            namespace["__module__"] = _MODULE
            namespace["cloudformation_type"] = staticmethod(lambda: cfn_type)
            namespace["cloudformation_name_type"] = staticmethod(lambda: name_property)

        registered = types.new_class(model.__name__, (model, CloudFormationModel), exec_body=body)
        MODELS.append(registered)
        return registered

    return register


@_register("AWS::SecretsManager::Secret", "Name")
class Secret(_Model):
    attributes = ("Id",)

    @classmethod
    def create(cls, account_id: str, region: str, name: str, p: dict[str, Any]) -> _Model:
        backend = _backend("secretsmanager", account_id, region)
        name = p.get("Name", name)
        if name in backend.secrets:
            # A retained secret from an earlier stack: CloudFormation would fail; keep going as an update.
            arn = backend.secrets[name].arn
        else:
            secret_string = p.get("SecretString")
            if secret_string is None and "GenerateSecretString" in p:
                secret_string = json.loads(
                    backend.get_random_password(
                        password_length=32, exclude_characters="", exclude_numbers=False,
                        exclude_punctuation=False, exclude_uppercase=False, exclude_lowercase=False,
                        include_space=False, require_each_included_type=True,
                    )
                )["RandomPassword"]
            created = backend.create_secret(
                name=name, secret_string=secret_string, secret_binary=None, description=p.get("Description"),
                tags=p.get("Tags") or [], kms_key_id=p.get("KmsKeyId"), client_request_token=None,
                replica_regions=[], force_overwrite=False,
            )
            arn = json.loads(created)["ARN"]
        return cls(account_id, region, arn, p, Id=arn, Name=name)

    def update(self, name: str, p: dict[str, Any]) -> _Model:
        if p.get("Name", self.attrs["Name"]) != self.attrs["Name"]:
            return super().update(name, p)
        secret = self.backend("secretsmanager").secrets[self.ref]
        secret.description = p.get("Description")
        secret.kms_key_id = p.get("KmsKeyId")
        self.properties = p
        return self

    def remove(self) -> None:
        backend = self.backend("secretsmanager")
        if self.ref in backend.secrets:
            backend.delete_secret(self.ref, None, True)


@_register("AWS::SecretsManager::ResourcePolicy")
class SecretResourcePolicy(_Model):
    """PutResourcePolicy on `SecretId`; DeleteResourcePolicy on delete (a retained secret keeps none,
    as on AWS). `Ref` is the secret's ARN. moto ignores `BlockPublicPolicy`."""

    @classmethod
    def create(cls, account_id: str, region: str, name: str, p: dict[str, Any]) -> _Model:
        backend = _backend("secretsmanager", account_id, region)
        arn, _ = backend.put_resource_policy(p["SecretId"], _json_text(p["ResourcePolicy"]))
        return cls(account_id, region, arn, p)

    def remove(self) -> None:
        backend = self.backend("secretsmanager")
        if self.ref in backend.secrets:
            backend.delete_resource_policy(self.ref)


def _queue_name(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


@_register("AWS::SQS::QueuePolicy")
class QueuePolicy(_Model):
    """SetQueueAttributes Policy on each queue of `Queues` (URLs); an empty Policy on delete."""

    @classmethod
    def create(cls, account_id: str, region: str, name: str, p: dict[str, Any]) -> _Model:
        backend = _backend("sqs", account_id, region)
        for url in p["Queues"]:
            backend.set_queue_attributes(_queue_name(url), {"Policy": _json_text(p["PolicyDocument"])})
        return cls(account_id, region, name, p)

    def remove(self) -> None:
        backend = self.backend("sqs")
        for url in self.properties["Queues"]:
            if _queue_name(url) in backend.queues:
                backend.set_queue_attributes(_queue_name(url), {"Policy": ""})


@_register("AWS::SNS::TopicPolicy")
class TopicPolicy(_Model):
    """SetTopicAttributes Policy on each topic of `Topics` (ARNs); on delete the topic gets its default
    policy back (what the AWS::SNS::TopicPolicy handler does)."""

    @classmethod
    def create(cls, account_id: str, region: str, name: str, p: dict[str, Any]) -> _Model:
        backend = _backend("sns", account_id, region)
        for arn in p["Topics"]:
            backend.get_topic(arn).policy = _json_text(p["PolicyDocument"])
        return cls(account_id, region, name, p)

    def remove(self) -> None:
        backend = self.backend("sns")
        for arn in self.properties["Topics"]:
            topic = backend.topics.get(arn)
            if topic is not None:
                topic._policy_json = topic._create_default_topic_policy(self.region, self.account_id, topic.name)


@_register("AWS::Scheduler::ScheduleGroup", "Name")
class ScheduleGroup(_Model):
    attributes = ("Arn",)

    @classmethod
    def create(cls, account_id: str, region: str, name: str, p: dict[str, Any]) -> _Model:
        group = _backend("scheduler", account_id, region).create_schedule_group(name, p.get("Tags") or [])
        return cls(account_id, region, name, p, Arn=group.arn)

    def remove(self) -> None:
        backend = self.backend("scheduler")
        if self.ref in backend.schedule_groups:
            backend.delete_schedule_group(self.ref)


@_register("AWS::Scheduler::Schedule", "Name")
class Schedule(_Model):
    attributes = ("Arn",)

    @classmethod
    def create(cls, account_id: str, region: str, name: str, p: dict[str, Any]) -> _Model:
        group = p.get("GroupName", "default")
        schedule = _backend("scheduler", account_id, region).create_schedule(
            description=p.get("Description"),
            end_date=p.get("EndDate"),
            flexible_time_window=p.get("FlexibleTimeWindow"),
            group_name=group,
            kms_key_arn=p.get("KmsKeyArn"),
            name=name,
            schedule_expression=p.get("ScheduleExpression"),
            schedule_expression_timezone=p.get("ScheduleExpressionTimezone"),
            start_date=p.get("StartDate"),
            state=p.get("State"),
            target=p.get("Target"),
            action_after_completion=None,
        )
        return cls(account_id, region, name, p, Arn=schedule.arn, GroupName=group)

    def remove(self) -> None:
        backend = self.backend("scheduler")
        group = backend.schedule_groups.get(self.attrs["GroupName"])
        if group is not None and self.ref in group.schedules:
            backend.delete_schedule(self.attrs["GroupName"], self.ref)


@_register("AWS::Lambda::Url")
class FunctionUrl(_Model):
    attributes = ("FunctionUrl", "FunctionArn")

    @classmethod
    def create(cls, account_id: str, region: str, name: str, p: dict[str, Any]) -> _Model:
        function_arn = p["TargetFunctionArn"]
        config = {k: v for k, v in p.items() if k in ("AuthType", "Cors", "InvokeMode")}
        url = _backend("lambda", account_id, region).create_function_url_config(function_arn, config)
        return cls(account_id, region, function_arn, p, FunctionUrl=url.url, FunctionArn=function_arn)

    def remove(self) -> None:
        try:
            self.backend("lambda").delete_function_url_config(self.ref)
        except Exception:  # noqa: BLE001 - the function may be gone already
            pass


def _metric_data_queries(metrics: list[dict[str, Any]] | None) -> list[Any] | None:
    """An alarm's `Metrics` (metric math and metric stats) as moto's model holds them."""
    from moto.cloudwatch.models import Metric, MetricDataQuery, MetricStat

    if not metrics:
        return None
    queries = []
    for q in metrics:
        stat = None
        if q.get("MetricStat"):
            ms, m = q["MetricStat"], q["MetricStat"]["Metric"]
            stat = MetricStat(
                metric=Metric(
                    metric_name=m.get("MetricName"), namespace=m.get("Namespace"), dimensions=m.get("Dimensions") or []
                ),
                period=ms.get("Period"),
                stat=ms.get("Stat"),
                unit=ms.get("Unit"),
            )
        queries.append(
            MetricDataQuery(
                query_id=q.get("Id"), label=q.get("Label"), period=q.get("Period"), return_data=q.get("ReturnData"),
                expression=q.get("Expression"), metric_stat=stat,
            )
        )
    return queries


@_register("AWS::CloudWatch::Alarm", "AlarmName")
class Alarm(_Model):
    attributes = ("Arn",)

    @classmethod
    def create(cls, account_id: str, region: str, name: str, p: dict[str, Any]) -> _Model:
        alarm = _backend("cloudwatch", account_id, region).put_metric_alarm(
            name=name,
            namespace=p.get("Namespace"),
            metric_name=p.get("MetricName"),
            comparison_operator=p.get("ComparisonOperator"),
            evaluation_periods=p.get("EvaluationPeriods"),
            period=p.get("Period"),
            threshold=p.get("Threshold"),
            statistic=p.get("Statistic"),
            description=p.get("AlarmDescription"),
            dimensions=p.get("Dimensions") or [],
            alarm_actions=p.get("AlarmActions") or [],
            metric_data_queries=_metric_data_queries(p.get("Metrics")),
            datapoints_to_alarm=p.get("DatapointsToAlarm"),
            extended_statistic=p.get("ExtendedStatistic"),
            ok_actions=p.get("OKActions") or [],
            insufficient_data_actions=p.get("InsufficientDataActions") or [],
            unit=p.get("Unit"),
            actions_enabled=p.get("ActionsEnabled", True),
            treat_missing_data=p.get("TreatMissingData"),
        )
        return cls(account_id, region, name, p, Arn=alarm.alarm_arn)

    def remove(self) -> None:
        self.backend("cloudwatch").delete_alarms([self.ref])


class _NoState(_Model):
    """Kept by nothing: the bootstrap stack's bucket policy (moto would not enforce it), CDK metadata."""


for _type in ("AWS::S3::BucketPolicy", "AWS::CDK::Metadata"):
    _register(_type)(_NoState)


class _ChangeSetNotFound(ServiceException):
    # moto finds an error's service by the second part of its module name.
    __module__ = "moto.cloudformation.exceptions"
    code = "ChangeSetNotFound"


def _patch_change_sets() -> None:
    """DescribeChangeSet of a missing change set answers ChangeSetNotFound (moto: a ValidationError),
    DeleteChangeSet of a missing one succeeds as on AWS (moto: an HTTP 500 from an unbound local; the CLI
    deletes its change set's name before every deploy and diff); a stack made or updated through a change
    set gets its Outputs (moto keeps the ones of the stack's first, empty template)."""
    from moto.cloudformation.models import CloudFormationBackend

    describe = CloudFormationBackend.describe_change_set
    delete = CloudFormationBackend.delete_change_set
    execute = CloudFormationBackend.execute_change_set

    def _exists(self: Any, name: str) -> bool:
        return name in self.change_sets or any(cs.change_set_name == name for cs in self.change_sets.values())

    def describe_change_set(self: Any, change_set_name: str) -> Any:
        if not _exists(self, change_set_name):
            raise _ChangeSetNotFound(f"ChangeSet [{change_set_name}] does not exist")
        return describe(self, change_set_name)

    def delete_change_set(self: Any, change_set_name: str) -> None:
        if _exists(self, change_set_name):
            delete(self, change_set_name)

    def execute_change_set(self: Any, change_set_name: str, stack_name: str | None = None) -> None:
        execute(self, change_set_name, stack_name)
        for stack in self.stacks.values():
            if stack.name == stack_name or stack.stack_id == stack_name or stack_name is None:
                stack._parse_template()
                stack.output_map = stack._create_output_map()

    CloudFormationBackend.describe_change_set = describe_change_set
    CloudFormationBackend.delete_change_set = delete_change_set
    CloudFormationBackend.execute_change_set = execute_change_set


Fix = Callable[[Any, dict[str, Any], str, str], None]


def _after(model: Any, method: str, fix: Fix) -> None:
    """Run `fix(resource, properties, account_id, region)` after moto's own `create_from_cloudformation_json`
    or `update_from_cloudformation_json` of `model` (moto passes the update's arguments by keyword)."""
    original = getattr(model, method).__func__
    signature = inspect.signature(original)

    def wrapped(cls: Any, *args: Any, **kwargs: Any) -> Any:
        resource = original(cls, *args, **kwargs)
        call = signature.bind(cls, *args, **kwargs).arguments
        fix(resource, _props(call["cloudformation_json"]), call["account_id"], call["region_name"])
        return resource

    setattr(model, method, classmethod(wrapped))


def _patch_properties() -> None:
    """Template properties moto's models drop: the KMS key policy (moto keeps the dict, and KMS calls on
    the key then answer 500; and moto has no key update), DynamoDB SSE, TTL and PITR, Lambda
    `Architectures` and `LoggingConfig` (and on update `ReservedConcurrentExecutions`, which moto applies
    on create only)."""
    from moto.awslambda.models import LambdaFunction
    from moto.dynamodb.models.table import Table
    from moto.kms.models import Key

    def key(resource: Any, p: dict[str, Any], account_id: str, region: str) -> None:
        if "KeyPolicy" in p:
            resource.policy = _json_text(p["KeyPolicy"])
        resource.description = p.get("Description") or ""
        resource.key_rotation_status = p.get("EnableKeyRotation", False)

    def update_key(cls: Any, original_resource: Any, new_resource_name: str, cloudformation_json: dict[str, Any],
                   account_id: str, region_name: str) -> Any:
        key(original_resource, _props(cloudformation_json), account_id, region_name)
        return original_resource

    def table(resource: Any, p: dict[str, Any], account_id: str, region: str) -> None:
        backend = _backend("dynamodb", account_id, region)
        sse = p.get("SSESpecification")
        if sse and resource.sse_specification is not None and "Enabled" not in resource.sse_specification:
            # The template says SSEEnabled, the API (and moto's model) Enabled.
            resource.sse_specification["Enabled"] = bool(sse.get("SSEEnabled"))
        if p.get("TimeToLiveSpecification"):
            backend.update_time_to_live(resource.name, p["TimeToLiveSpecification"])
        if p.get("PointInTimeRecoverySpecification"):
            spec = p["PointInTimeRecoverySpecification"]
            backend.update_continuous_backups(
                resource.name, {"PointInTimeRecoveryEnabled": spec.get("PointInTimeRecoveryEnabled", False)}
            )

    def function(resource: Any, p: dict[str, Any], account_id: str, region: str) -> None:
        resource.architectures = list(p.get("Architectures") or ["x86_64"])
        resource.logging_config = p.get("LoggingConfig")
        resource.reserved_concurrency = p.get("ReservedConcurrentExecutions")

    get_configuration = LambdaFunction.get_configuration

    def get_configuration_with_logging(self: Any, on_create: bool = False) -> dict[str, Any]:
        config = get_configuration(self, on_create)
        logging = getattr(self, "logging_config", None) or {}
        # What Lambda answers: the format (Text by default) and the log group (/aws/lambda/<name> by default).
        config["LoggingConfig"] = {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{self.function_name}", **logging}
        return config

    _after(Key, "create_from_cloudformation_json", key)
    Key.update_from_cloudformation_json = classmethod(update_key)
    _after(Table, "create_from_cloudformation_json", table)
    _after(LambdaFunction, "create_from_cloudformation_json", function)
    _after(LambdaFunction, "update_from_cloudformation_json", function)
    LambdaFunction.get_configuration = get_configuration_with_logging


def _patch_lambda_permission() -> None:
    """moto's AWS::Lambda::Permission adds a statement with a random Sid and keeps nothing else: the
    resource has no physical id (ListStackResources answers none), and deleting the stack leaves the
    statement on the function. Here the Sid is the resource's generated name and its physical id, as
    in CloudFormation; delete removes the statement, and an update replaces it."""
    from moto.awslambda.models import Permission

    def create(cls: Any, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
               region_name: str, **kwargs: Any) -> Any:
        p = _props(cloudformation_json)
        function = _backend("lambda", account_id, region_name).get_function(p["FunctionName"])
        # AddPermission's fields: the function is named by the request's path, not its body.
        statement = {k: v for k, v in p.items() if k != "FunctionName"}
        function.policy.add_statement(raw=json.dumps({**statement, "StatementId": resource_name}))
        permission = Permission(region=region_name)
        permission.account_id = account_id
        permission.function_name = p["FunctionName"]
        permission.statement_id = resource_name
        return permission

    def update(cls: Any, original_resource: Any, new_resource_name: str, cloudformation_json: dict[str, Any],
               account_id: str, region_name: str) -> Any:
        original_resource.delete(account_id, region_name)
        return create(cls, new_resource_name, cloudformation_json, account_id, region_name)

    def delete(self: Any, account_id: str, region_name: str) -> None:
        try:
            function = _backend("lambda", account_id, region_name).get_function(self.function_name)
            function.policy.del_statement(self.statement_id)
        except Exception:  # noqa: BLE001 - the function, or its statement, is gone already
            pass

    Permission.create_from_cloudformation_json = classmethod(create)
    Permission.update_from_cloudformation_json = classmethod(update)
    Permission.physical_resource_id = property(lambda self: self.statement_id)
    Permission.delete = delete


def _patch_log_group_arn() -> None:
    """`Fn::GetAtt <LogGroup>.Arn` answers the ARN with `:*` (all its log streams), as CloudFormation
    documents; moto's answer lacks it, so the IAM statements CDK writes for a function's log group
    differ from what an account gets."""
    from moto.logs.models import LogGroup

    get_cfn_attribute = LogGroup.get_cfn_attribute

    def get_cfn_attribute_with_streams(self: Any, attribute_name: str) -> Any:
        value = get_cfn_attribute(self, attribute_name)
        return f"{value}:*" if attribute_name == "Arn" and not value.endswith(":*") else value

    LogGroup.get_cfn_attribute = get_cfn_attribute_with_streams


def _patch_previous_ssm_parameters() -> None:
    """On update, moto passes a `UsePreviousValue` SSM parameter (the CLI's BootstrapVersion) on as its
    previous *resolved* value and then looks that value up as a parameter name. A value that names no
    parameter is kept as it is."""
    from moto.ssm.models import ssm_backends

    parse = parsing.ResourceMap.parse_ssm_parameter

    def parse_ssm_parameter(self: Any, value: str, value_type: str) -> str:
        if ssm_backends[self._account_id][self._region_name].get_parameter(value) is None:
            return value
        return parse(self, value, value_type)

    parsing.ResourceMap.parse_ssm_parameter = parse_ssm_parameter


def apply() -> None:
    """Register the models (moto caches its type map on first use) and patch moto's defects."""
    parsing.get_model_list.cache_clear()
    parsing.get_model_map.cache_clear()
    parsing.get_name_type_map.cache_clear()
    _patch_change_sets()
    _patch_properties()
    _patch_log_group_arn()
    _patch_lambda_permission()
    _patch_previous_ssm_parameters()
