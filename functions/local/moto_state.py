"""Keep moto's Secrets Manager secrets and DynamoDB tables in a JSON file across restarts.

`npm start` runs the launcher with `--state-file .token-refresher/emulator-state.json`: the file is
read back before the server answers its first request, and written again (atomically: a temporary
file renamed over it) after every request that may change something, while the launcher still holds
its one-request-at-a-time lock. So a stop, a crash or a SIGKILL loses nothing that was answered. The
file is plain JSON (mode 0600, its directory 0700) because it holds secret values: every version of
every secret with its staging labels (so a rotated refresh token can also be read back by hand), and
every table with its items. Other services (Scheduler, CloudWatch, ...) are not kept.

Only what the service and an operator use is kept: names, ARNs, values, version ids, labels and
dates of secrets; key schema, indexes, billing mode, TTL setting and items of tables.
"""

import base64
import json
import os
import re
import sys
from typing import Any

import moto
from moto.dynamodb.models import dynamodb_backends
from moto.secretsmanager import models as secretsmanager

FORMAT = 1

# X-Amz-Target of requests that never change anything: no snapshot after them.
_READ_ONLY_TARGET = re.compile(
    r"^(secretsmanager\.(Get|List|Describe|BatchGet|ValidateResourcePolicy)"
    r"|DynamoDB_\d+\.(Get|BatchGet|Query|Scan|Describe|List|TransactGet))"
)

# Plain attributes of a FakeSecret kept as they are (all JSON values).
_SECRET_FIELDS = (
    "description",
    "tags",
    "kms_key_id",
    "created_date",
    "last_changed_date",
    "deleted_date",
    "policy",
    "rotation_requested",
    "rotation_enabled",
    "rotation_lambda_arn",
    "auto_rotate_after_days",
    "next_rotation_date",
    "last_rotation_date",
)


class StateFileError(Exception):
    """The state file exists but cannot be used; it is left untouched."""


def may_change_state(environ: dict) -> bool:
    """Whether a request may change emulated state (so a snapshot follows it)."""
    if environ.get("REQUEST_METHOD", "GET") in ("GET", "HEAD", "OPTIONS"):
        return False
    return not _READ_ONLY_TARGET.match(environ.get("HTTP_X_AMZ_TARGET", ""))


def _bytes_as_base64(value: Any) -> str:
    """moto keeps DynamoDB binary values (B, BS) as bytes; the wire format, and put_item, use base64."""
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _export_secrets() -> list:
    secrets = []
    for account_id, region, backend in secretsmanager.secretsmanager_backends.iter_backends():
        for secret in dict.values(backend.secrets):
            if not isinstance(secret, secretsmanager.FakeSecret):
                continue  # replicas are not kept
            versions = []
            for version_id, version in secret.versions.items():
                kept = {
                    "versionId": version_id,
                    "stages": list(version["version_stages"]),
                    "createdDate": version.get("createdate"),
                }
                if "secret_string" in version:
                    kept["secretString"] = version["secret_string"]
                if "secret_binary" in version:
                    kept["secretBinary"] = version["secret_binary"]
                versions.append(kept)
            secrets.append(
                {
                    "account": account_id,
                    "region": region,
                    "name": secret.name,
                    "arn": secret.arn,
                    "defaultVersionId": secret.default_version_id,
                    "fields": {field: getattr(secret, field, None) for field in _SECRET_FIELDS},
                    "versions": versions,
                }
            )
    return secrets


def _export_tables() -> list:
    tables = []
    for account_id, region, backend in dynamodb_backends.iter_backends():
        for table in backend.tables.values():
            provisioned = table.billing_mode != "PAY_PER_REQUEST"
            tables.append(
                {
                    "account": account_id,
                    "region": region,
                    "name": table.name,
                    "attributeDefinitions": table.attr,
                    "keySchema": table.schema,
                    "billingMode": table.billing_mode,
                    "throughput": {
                        "ReadCapacityUnits": table.throughput.get("ReadCapacityUnits", 0),
                        "WriteCapacityUnits": table.throughput.get("WriteCapacityUnits", 0),
                    }
                    if provisioned
                    else None,
                    "localSecondaryIndexes": [
                        {"IndexName": i.name, "KeySchema": i.schema, "Projection": i.projection}
                        for i in table.indexes
                    ],
                    "globalSecondaryIndexes": [
                        {
                            "IndexName": i.name,
                            "KeySchema": i.schema,
                            "Projection": i.projection,
                            **({"ProvisionedThroughput": i.throughput} if provisioned else {}),
                        }
                        for i in table.global_indexes
                    ],
                    "streams": table.stream_specification
                    if table.stream_specification and table.stream_specification.get("StreamEnabled")
                    else None,
                    "sse": table.sse_specification,
                    "tags": table.tags,
                    "deletionProtection": table.deletion_protection_enabled,
                    "ttl": table.ttl,
                    "items": [item.to_json()["Attributes"] for item in table.all_items()],
                }
            )
    return tables


def export_state() -> dict:
    """The emulated secrets and tables, as JSON values."""
    return {
        "format": FORMAT,
        "moto": moto.__version__,
        "secretsmanager": _export_secrets(),
        "dynamodb": _export_tables(),
    }


def _restore_secret(kept: dict) -> None:
    backend = secretsmanager.secretsmanager_backends[kept["account"]][kept["region"]]
    secret = secretsmanager.FakeSecret(
        account_id=kept["account"],
        region_name=kept["region"],
        secret_id=kept["name"],
        secret_version={},
        version_id="",
    )
    secret.arn = kept["arn"]
    for field, value in kept["fields"].items():
        if field in _SECRET_FIELDS:
            setattr(secret, field, value)
    for version in kept["versions"]:
        restored = {
            "version_id": version["versionId"],
            "version_stages": list(version["stages"]),
            "createdate": version["createdDate"],
        }
        if "secretString" in version:
            restored["secret_string"] = version["secretString"]
        if "secretBinary" in version:
            restored["secret_binary"] = version["secretBinary"]
        secret.versions[version["versionId"]] = restored
    secret.default_version_id = kept["defaultVersionId"]
    backend.secrets[secret.name] = secret


def _restore_table(kept: dict) -> None:
    backend = dynamodb_backends[kept["account"]][kept["region"]]
    table = backend.create_table(
        kept["name"],
        schema=kept["keySchema"],
        throughput=kept["throughput"],
        attr=kept["attributeDefinitions"],
        global_indexes=kept["globalSecondaryIndexes"],
        indexes=kept["localSecondaryIndexes"],
        streams=kept["streams"],
        billing_mode=kept["billingMode"],
        sse_specification=kept["sse"],
        tags=kept["tags"],
        deletion_protection_enabled=kept["deletionProtection"],
        warm_throughput=None,
    )
    table.ttl = kept["ttl"]
    for item in kept["items"]:
        table.put_item(item)


def restore_state(state: dict) -> None:
    """Put the secrets and tables of {@link export_state} back into an empty emulator."""
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise StateFileError(f"unknown format {state.get('format') if isinstance(state, dict) else state!r}")
    for kept in state.get("secretsmanager", []):
        _restore_secret(kept)
    for kept in state.get("dynamodb", []):
        _restore_table(kept)


def _write_private(path: str, text: str) -> None:
    """Write `text` to `path` atomically, mode 0600 (and the directory 0700)."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, mode=0o700, exist_ok=True)
    temporary = f"{path}.{os.getpid()}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            fd = -1
            out.write(text)
        os.replace(temporary, path)
    finally:
        if fd >= 0:
            os.close(fd)
        if os.path.exists(temporary):
            os.unlink(temporary)


class StateFile:
    """The state file of one launcher: {@link load} once at start, {@link save} after changes."""

    def __init__(self, path: str):
        self.path = path
        self._saved: str | None = None

    def load(self) -> bool:
        """Restore the file's state if it exists; whether it did. Raises StateFileError."""
        try:
            with open(self.path, encoding="utf-8") as source:
                text = source.read()
        except FileNotFoundError:
            return False
        except OSError as error:
            raise StateFileError(str(error)) from error
        try:
            restore_state(json.loads(text))
        except StateFileError:
            raise
        except Exception as error:  # a damaged or foreign file: say so, never overwrite it
            raise StateFileError(f"{type(error).__name__}: {error}") from error
        os.chmod(self.path, 0o600)
        self._saved = text
        return True

    def save(self) -> None:
        """Write the current state if it differs from what the file holds."""
        try:
            text = json.dumps(export_state(), indent=1, sort_keys=True, default=_bytes_as_base64)
            if text == self._saved:
                return
            _write_private(self.path, text)
        except Exception as error:  # never fail the request that was answered; the next change retries
            print(f"warning: could not save the emulator state to {self.path}: {error}", file=sys.stderr)
            return
        self._saved = text
