"""What the local API servers of the tests share: serving on 127.0.0.1 from a thread, started
and stopped by the code (fixture) that uses them."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import ThreadingHTTPServer


@dataclass
class Recorded:
    """One request as a local server received it, for tests to assert what the SDK sent."""

    method: str
    path: str
    query: dict[str, list[str]]
    body: dict | None
    authorization: str | None


class LocalServer:
    """Serve `self._handler()` on (self.host, self.port) in a thread; `with` starts and stops it."""

    name = "local-server"
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    def _handler(self):
        raise NotImplementedError

    def start(self):
        self._server = ThreadingHTTPServer((self.host, self.port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=10)
            self._server = self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
