"""Start moto_server with its requests handled one at a time.

moto's server is threaded and its DynamoDB backend takes no lock, so two concurrent conditional
UpdateItem calls can both pass their condition: on AWS a conditional write is atomic. Serialising the
WSGI application restores that guarantee for tests that race many lease acquisitions. Arguments are
moto_server's own (-H HOST -p PORT).
"""
import sys
import threading

from moto import server
from moto.moto_server import werkzeug_app

_lock = threading.Lock()
_call = werkzeug_app.DomainDispatcherApplication.__call__


def _serialised_call(self, environ, start_response):
    with _lock:
        # moto builds the whole response before returning, so nothing runs outside the lock.
        return _call(self, environ, start_response)


werkzeug_app.DomainDispatcherApplication.__call__ = _serialised_call

if __name__ == "__main__":
    sys.argv[0] = "moto_server"
    server.main(sys.argv[1:])
