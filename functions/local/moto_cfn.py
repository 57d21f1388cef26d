"""CloudFormation support that moto 5.2.1 lacks and `cdk deploy` of this project's stack needs (issue 14).

Loaded by serialized_moto.py with `--cfn`; moto on disk is not changed. `apply()`:

- registers CloudFormation models for the resource types moto's CloudFormation skips ("no support"):
  AWS::SecretsManager::Secret, AWS::Scheduler::ScheduleGroup, AWS::Scheduler::Schedule,
  AWS::Lambda::Url, AWS::CloudWatch::Alarm, AWS::SQS::QueuePolicy, AWS::SNS::TopicPolicy,
  AWS::S3::BucketPolicy and AWS::CDK::Metadata. Each creates (and deletes) the resource on moto's own
  service backend, so the service APIs then answer for it. A skipped resource would resolve a `Ref` to
  nothing, and the IAM policies naming it would fail with "Policy statement must contain resources".
- patches the moto defects the CDK CLI runs into (see `_patch_*` below).
"""
from __future__ import annotations

import json
from typing import Any

from moto.cloudformation import parsing
from moto.core.common_models import CloudFormationModel
from moto.core.exceptions import ServiceException


_MODULE = "token_refresher.moto_cfn"


def _props(cloudformation_json: dict[str, Any]) -> dict[str, Any]:
    return cloudformation_json.get("Properties") or {}


class _Model:
    """A CloudFormation resource made on a service backend; `ref` is what `Ref` answers."""

    cfn_type = ""
    attributes: dict[str, str] = {}

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

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    def delete(self, account_id: str, region_name: str) -> None:
        self.remove()

    def remove(self) -> None:
        pass

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Any:
        original_resource.remove()
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)


class Secret(_Model, CloudFormationModel):
    __module__ = _MODULE  # moto files its models by the second part of their module name
    attributes = {"Id": "Id"}

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SecretsManager::Secret"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> Secret:
        from moto.secretsmanager.models import secretsmanager_backends

        p = _props(cloudformation_json)
        backend = secretsmanager_backends[account_id][region_name]
        secret_string = p.get("SecretString")
        if secret_string is None and "GenerateSecretString" in p:
            secret_string = backend.get_random_password(
                password_length=32, exclude_characters="", exclude_numbers=False, exclude_punctuation=False,
                exclude_uppercase=False, exclude_lowercase=False, include_space=False, require_each_included_type=True,
            )
            secret_string = json.loads(secret_string)["RandomPassword"]
        name = p.get("Name", resource_name)
        if name in backend.secrets:
            # A retained secret from an earlier stack: CloudFormation would fail; keep going as an update.
            arn = backend.secrets[name].arn
        else:
            result = json.loads(
                backend.create_secret(
                    name=name,
                    secret_string=secret_string,
                    secret_binary=None,
                    description=p.get("Description"),
                    tags=p.get("Tags") or [],
                    kms_key_id=p.get("KmsKeyId"),
                    client_request_token=None,
                    replica_regions=[],
                    force_overwrite=False,
                )
            )
            arn = result["ARN"]
        return cls(account_id, region_name, arn, p, Id=arn, Name=name)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Any:
        from moto.secretsmanager.models import secretsmanager_backends

        p = _props(cloudformation_json)
        backend = secretsmanager_backends[account_id][region_name]
        if p.get("Name", original_resource.attrs["Name"]) != original_resource.attrs["Name"]:
            original_resource.remove()
            return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)
        secret = backend.secrets[original_resource.ref]
        secret.description = p.get("Description")
        secret.kms_key_id = p.get("KmsKeyId")
        original_resource.properties = p
        return original_resource

    def remove(self) -> None:
        from moto.secretsmanager.models import secretsmanager_backends

        backend = secretsmanager_backends[self.account_id][self.region]
        if self.ref in backend.secrets:
            backend.delete_secret(self.ref, None, True)


class ScheduleGroup(_Model, CloudFormationModel):
    __module__ = _MODULE  # moto files its models by the second part of their module name
    attributes = {"Arn": "Arn"}

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Scheduler::ScheduleGroup"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> ScheduleGroup:
        from moto.scheduler.models import scheduler_backends

        p = _props(cloudformation_json)
        name = p.get("Name", resource_name)
        group = scheduler_backends[account_id][region_name].create_schedule_group(name, p.get("Tags") or [])
        return cls(account_id, region_name, name, p, Arn=group.arn)

    def remove(self) -> None:
        from moto.scheduler.models import scheduler_backends

        backend = scheduler_backends[self.account_id][self.region]
        if self.ref in backend.schedule_groups:
            backend.delete_schedule_group(self.ref)


class Schedule(_Model, CloudFormationModel):
    __module__ = _MODULE  # moto files its models by the second part of their module name
    attributes = {"Arn": "Arn"}

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Scheduler::Schedule"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> Schedule:
        from moto.scheduler.models import scheduler_backends

        p = _props(cloudformation_json)
        name = p.get("Name", resource_name)
        group = p.get("GroupName", "default")
        schedule = scheduler_backends[account_id][region_name].create_schedule(
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
        return cls(account_id, region_name, name, p, Arn=schedule.arn, GroupName=group)

    def remove(self) -> None:
        from moto.scheduler.models import scheduler_backends

        backend = scheduler_backends[self.account_id][self.region]
        group = backend.schedule_groups.get(self.attrs["GroupName"])
        if group is not None and self.ref in group.schedules:
            backend.delete_schedule(self.attrs["GroupName"], self.ref)


class FunctionUrl(_Model, CloudFormationModel):
    __module__ = _MODULE  # moto files its models by the second part of their module name
    attributes = {"FunctionUrl": "FunctionUrl", "FunctionArn": "FunctionArn"}

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Lambda::Url"

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> FunctionUrl:
        from moto.awslambda.models import lambda_backends

        p = _props(cloudformation_json)
        config = {k: v for k, v in p.items() if k in ("AuthType", "Cors", "InvokeMode")}
        url = lambda_backends[account_id][region_name].create_function_url_config(p["TargetFunctionArn"], config)
        function_arn = p["TargetFunctionArn"]
        return cls(account_id, region_name, function_arn, p, FunctionUrl=url.url, FunctionArn=function_arn)

    def remove(self) -> None:
        from moto.awslambda.models import lambda_backends

        try:
            lambda_backends[self.account_id][self.region].delete_function_url_config(self.ref)
        except Exception:  # noqa: BLE001 - the function may be gone already
            pass


class Alarm(_Model, CloudFormationModel):
    __module__ = _MODULE  # moto files its models by the second part of their module name
    attributes = {"Arn": "Arn"}

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CloudWatch::Alarm"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "AlarmName"

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> Alarm:
        from moto.cloudwatch.models import MetricDataQuery, MetricStat, Metric, cloudwatch_backends

        p = _props(cloudformation_json)
        name = p.get("AlarmName", resource_name)
        queries = None
        if p.get("Metrics"):
            queries = []
            for q in p["Metrics"]:
                stat = None
                if q.get("MetricStat"):
                    ms = q["MetricStat"]
                    m = ms["Metric"]
                    stat = MetricStat(
                        metric=Metric(
                            metric_name=m.get("MetricName"),
                            namespace=m.get("Namespace"),
                            dimensions=m.get("Dimensions") or [],
                        ),
                        period=ms.get("Period"),
                        stat=ms.get("Stat"),
                        unit=ms.get("Unit"),
                    )
                queries.append(
                    MetricDataQuery(
                        query_id=q.get("Id"),
                        label=q.get("Label"),
                        period=q.get("Period"),
                        return_data=q.get("ReturnData"),
                        expression=q.get("Expression"),
                        metric_stat=stat,
                    )
                )
        alarm = cloudwatch_backends[account_id][region_name].put_metric_alarm(
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
            metric_data_queries=queries,
            datapoints_to_alarm=p.get("DatapointsToAlarm"),
            extended_statistic=p.get("ExtendedStatistic"),
            ok_actions=p.get("OKActions") or [],
            insufficient_data_actions=p.get("InsufficientDataActions") or [],
            unit=p.get("Unit"),
            actions_enabled=p.get("ActionsEnabled", True),
            treat_missing_data=p.get("TreatMissingData"),
        )
        return cls(account_id, region_name, name, p, Arn=alarm.alarm_arn)

    def remove(self) -> None:
        from moto.cloudwatch.models import cloudwatch_backends

        cloudwatch_backends[self.account_id][self.region].delete_alarms([self.ref])


def _placeholder(type_name: str) -> type[_Model]:
    """A resource that has no state worth keeping here (policies on other resources, CDK metadata)."""

    class Placeholder(_Model, CloudFormationModel):
        __module__ = _MODULE  # moto files its models by the second part of their module name
        @staticmethod
        def cloudformation_type() -> str:
            return type_name

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[misc]
            cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
        ) -> _Model:
            return cls(account_id, region_name, resource_name, _props(cloudformation_json))

    Placeholder.__name__ = "Placeholder_" + type_name.replace("::", "_")
    return Placeholder


PLACEHOLDERS = [
    _placeholder(t)
    for t in ("AWS::SQS::QueuePolicy", "AWS::SNS::TopicPolicy", "AWS::S3::BucketPolicy", "AWS::CDK::Metadata")
]


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


def _after_create(model: Any, fix: Any) -> None:
    """Run `fix(resource, properties, account_id, region)` after moto's own create_from_cloudformation_json."""
    create = model.create_from_cloudformation_json.__func__

    def create_from_cloudformation_json(cls: Any, resource_name: str, cloudformation_json: dict[str, Any],
                                        account_id: str, region_name: str, **kwargs: Any) -> Any:
        resource = create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        fix(resource, _props(cloudformation_json), account_id, region_name)
        return resource

    model.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)


def _patch_properties() -> None:
    """Template properties moto's models drop: the KMS key policy (moto keeps the dict, and KMS calls on
    the key then answer 500), DynamoDB SSE, TTL and PITR, Lambda Architectures."""
    from moto.awslambda.models import LambdaFunction
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodb.models.table import Table
    from moto.kms.models import Key

    def key(resource: Any, p: dict[str, Any], account_id: str, region: str) -> None:
        if isinstance(resource.policy, dict):
            resource.policy = json.dumps(resource.policy)

    def table(resource: Any, p: dict[str, Any], account_id: str, region: str) -> None:
        backend = dynamodb_backends[account_id][region]
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
        if p.get("Architectures"):
            resource.architectures = list(p["Architectures"])

    _after_create(Key, key)
    _after_create(Table, table)
    _after_create(LambdaFunction, function)


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
    parsing.get_model_map.cache_clear()
    parsing.get_name_type_map.cache_clear()
    _patch_change_sets()
    _patch_properties()
    _patch_previous_ssm_parameters()
