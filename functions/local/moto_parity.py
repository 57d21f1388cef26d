"""Make moto's Secrets Manager move its staging labels as AWS does (patched in memory at start).

moto 5.2.1 keeps a "default version" per secret that answers a GetSecretValue without VersionId or
VersionStage, and sets it only when a version is created with AWSCURRENT. AWS has no such thing: a
plain read returns the version that holds AWSCURRENT. So on moto, once UpdateSecretVersionStage has
moved AWSCURRENT (the refresh engine's compare-and-swap), plain reads (boto3, the AWS CLI, Powertools,
middy) keep getting the old version, and the next plain PutSecretValue hands AWSPREVIOUS to that stale
default version while the version really holding AWSCURRENT keeps it: two versions labelled
AWSCURRENT. AWS documents instead (PutSecretValue, UpdateSecretVersionStage API reference):

- each staging label is attached to one version at a time: a label given to a version leaves the
  version that had it;
- PutSecretValue without VersionStages moves AWSCURRENT to the new version;
- whenever AWSCURRENT moves, AWSPREVIOUS moves to the version AWSCURRENT was removed from; other
  labels of that version (e.g. AWSPENDING) stay where they are.

- a PutSecretValue whose ClientRequestToken names an existing version with the same value succeeds
  and does nothing (moto re-creates such a version when it is labelled AWSPENDING, dropping its
  AWSCURRENT: a repeated finished write of the refresh engine).

The patches below keep moto's own code and rewrite only where the default version and AWSPREVIOUS
go, and that one idempotency check. The moto installation on disk is not changed.
"""

from typing import Any

from moto.secretsmanager import models
from moto.secretsmanager.exceptions import ResourceExistsException

AWSCURRENT = "AWSCURRENT"
AWSPREVIOUS = "AWSPREVIOUS"
AWSPENDING = "AWSPENDING"

_update_secret_version_stage = models.SecretsManagerBackend.update_secret_version_stage
_check_with_existing_secrets_and_versions = (
    models.SecretsManagerBackend._check_with_existing_secrets_and_versions
)


def _holders(secret: Any, label: str) -> list:
    return [vid for vid, version in secret.versions.items() if label in version["version_stages"]]


def _follow_current(secret: Any) -> None:
    """The default version (what a plain GetSecretValue returns) is the one holding AWSCURRENT."""
    holders = _holders(secret, AWSCURRENT)
    # No holder (nothing written yet): a plain read then fails, as on AWS.
    secret.default_version_id = holders[0] if holders else None


def _detach(secret: Any, label: str, keep: str) -> None:
    for vid, version in secret.versions.items():
        if vid != keep and label in version["version_stages"]:
            version["version_stages"].remove(label)


def reset_default_version(self: Any, secret_version: dict, version_id: str) -> None:
    """A new version that takes AWSCURRENT (PutSecretValue/UpdateSecret/CreateSecret on a secret).

    moto's own version gives AWSPREVIOUS to its stale default version and replaces that version's
    labels; here AWSCURRENT leaves the version(s) that really hold it, the first of which gets
    AWSPREVIOUS in addition to the labels it keeps, and every label of the new version leaves the
    other versions.
    """
    previous = [vid for vid in _holders(self, AWSCURRENT) if vid != version_id]
    if previous:
        _detach(self, AWSPREVIOUS, keep="")
        for vid in previous:
            self.versions[vid]["version_stages"].remove(AWSCURRENT)
        self.versions[previous[0]]["version_stages"].append(AWSPREVIOUS)
    self.versions[version_id] = secret_version
    for label in list(secret_version["version_stages"]):
        _detach(self, label, keep=version_id)
    _follow_current(self)


def update_secret_version_stage(
    self: Any,
    secret_id: str,
    version_stage: str,
    remove_from_version_id: str,
    move_to_version_id: str,
) -> tuple:
    """moto moves the labels (and AWSPREVIOUS) itself; the default version follows AWSCURRENT."""
    secret = self.secrets.get(secret_id)
    no_op_move = (
        version_stage == AWSCURRENT
        and remove_from_version_id
        and remove_from_version_id == move_to_version_id
    )
    previous = _holders(secret, AWSPREVIOUS) if no_op_move and secret is not None else []
    result = _update_secret_version_stage(
        self, secret_id, version_stage, remove_from_version_id, move_to_version_id
    )
    if isinstance(secret, models.FakeSecret):
        if no_op_move:
            # AWSCURRENT stays where it is, so AWSPREVIOUS does too (moto drops it).
            for vid in previous:
                if AWSPREVIOUS not in secret.versions[vid]["version_stages"]:
                    secret.versions[vid]["version_stages"].append(AWSPREVIOUS)
        if move_to_version_id:
            # A label is on one version at a time, and on it once.
            stages = secret.versions[move_to_version_id]["version_stages"]
            while stages.count(version_stage) > 1:
                stages.remove(version_stage)
        _follow_current(secret)
    return result


def check_with_existing_secrets_and_versions(
    self: Any,
    secret_name: str,
    client_request_token: Any,
    secret_string: Any,
    secret_binary: Any,
    on_create: bool = False,
) -> Any:
    """A write whose ClientRequestToken names an existing version that holds a value.

    AWS: same value, the call succeeds and does nothing; another value, ResourceExistsException.
    moto exempts every version labelled AWSPENDING (meant for the empty version its RotateSecret
    creates) and re-creates it with the request's labels only, which drops AWSCURRENT from a
    finished write that is repeated. The exemption stays for versions without a value.
    """
    existing = self.secrets.get(secret_name) if client_request_token else None
    version = existing.versions.get(client_request_token) if isinstance(existing, models.FakeSecret) else None
    if (
        version is not None
        and AWSPENDING in version["version_stages"]
        and ("secret_string" in version or "secret_binary" in version)
    ):
        if version.get("secret_string") == secret_string and version.get("secret_binary") == secret_binary:
            return existing
        raise ResourceExistsException(
            f"You can't use ClientRequestToken {client_request_token} because that value is already in "
            f"use for a version of secret {existing.arn}."
        )
    return _check_with_existing_secrets_and_versions(
        self, secret_name, client_request_token, secret_string, secret_binary, on_create
    )


def apply() -> None:
    """Install the patches (idempotent)."""
    models.FakeSecret.reset_default_version = reset_default_version
    models.SecretsManagerBackend.update_secret_version_stage = update_secret_version_stage
    models.SecretsManagerBackend._check_with_existing_secrets_and_versions = (
        check_with_existing_secrets_and_versions
    )
