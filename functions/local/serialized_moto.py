"""Start moto_server so that it answers as AWS does where this project depends on it.

- Requests are handled one at a time. moto's server is threaded and its DynamoDB backend takes no
  lock, so two concurrent conditional UpdateItem calls can both pass their condition: on AWS a
  conditional write is atomic. Serialising the WSGI application restores that guarantee for tests that
  race many lease acquisitions.
- Secrets Manager moves its staging labels as AWS does (moto_parity.py): a plain GetSecretValue
  returns the version holding AWSCURRENT, and a plain PutSecretValue leaves exactly one AWSCURRENT.
- With `--state-file FILE`, the secrets and tables are read from FILE at start and written back to it
  after every request that may change them (moto_state.py), so they survive a restart or a crash.

- With `--cfn` (or TOKEN_REFRESHER_MOTO_CFN=1 in the environment), moto's CloudFormation gets the resource types and fixes that `cdk deploy` of this
  project's stack needs (moto_cfn.py; the deploy rehearsal, issue 14).

The other arguments are moto_server's own (-H HOST -p PORT). moto on disk is not changed.
"""
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from moto import server  # noqa: E402
from moto.moto_server import werkzeug_app  # noqa: E402

import moto_parity  # noqa: E402
import moto_state  # noqa: E402

STATE_FILE_EXIT_CODE = 3

_lock = threading.Lock()
_call = werkzeug_app.DomainDispatcherApplication.__call__
_state_file = None


def _serialised_call(self, environ, start_response):
    with _lock:
        # moto builds the whole response before returning, so nothing runs outside the lock.
        response = _call(self, environ, start_response)
        if _state_file is not None and moto_state.may_change_state(environ):
            _state_file.save()
        return response


werkzeug_app.DomainDispatcherApplication.__call__ = _serialised_call
moto_parity.apply()


def _take_cfn(argv):
    """Remove `--cfn` from argv; returns (whether it was there, rest)."""
    cfn = "--cfn" in argv or os.environ.get("TOKEN_REFRESHER_MOTO_CFN") == "1"
    return cfn, [arg for arg in argv if arg != "--cfn"]


def _take_state_file(argv):
    """Remove `--state-file FILE` (or `--state-file=FILE`) from argv; returns (FILE or None, rest)."""
    rest, path = [], None
    args = iter(argv)
    for arg in args:
        if arg == "--state-file":
            path = next(args, None)
        elif arg.startswith("--state-file="):
            path = arg.split("=", 1)[1]
        else:
            rest.append(arg)
    return path, rest


if __name__ == "__main__":
    cfn, args = _take_cfn(sys.argv[1:])
    if cfn:
        import moto_cfn

        moto_cfn.apply()
    path, args = _take_state_file(args)
    if path:
        _state_file = moto_state.StateFile(path)
        try:
            restored = _state_file.load()
        except moto_state.StateFileError as error:
            print(
                f"error: cannot restore the emulator state from {path}: {error}\n"
                f"  The file is left as it is: it may hold a provider's only refresh token. Move it away\n"
                f"  (or delete it to start from empty state) and start again.",
                file=sys.stderr,
            )
            sys.exit(STATE_FILE_EXIT_CODE)
        print(f"emulator state: {'restored from' if restored else 'new, kept in'} {path}", file=sys.stderr)
    sys.argv[0] = "moto_server"
    server.main(args)
