"""A facility system's webhook endpoint on 127.0.0.1: keeps every POST (headers and body),
answers 500 to the first ``failures`` of them (an outage), 204 afterwards."""

from __future__ import annotations

import threading

from tests.support.loopback import LoopbackServer, Reply, Request


class WebhookReceiver(LoopbackServer):
    def __init__(self) -> None:
        super().__init__()
        self.received: list[Request] = []
        self.accepted: list[Request] = []
        self.failures = 0
        self._guard = threading.Lock()

    def handle(self, request: Request) -> Reply:
        with self._guard:
            self.received.append(request)
            if self.failures > 0:
                self.failures -= 1
                return Reply(500, {"error": "try again later"})
            self.accepted.append(request)
        return Reply(204)
