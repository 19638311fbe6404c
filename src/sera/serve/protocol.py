"""The HTTP protocol ``sera serve`` runs: uvicorn's h11 protocol with a header timeout.

uvicorn closes an idle keep-alive connection after ``timeout_keep_alive`` seconds, but waits
for ever for the headers of a request whose first bytes have arrived: a client that sends a
header line now and then (slowloris) holds its connection open as long as it likes. Here a
connection whose request headers are not all in :data:`sera.serve.HEADER_TIMEOUT_S` seconds
after it opened (or after the previous answer) is closed. Bodies have their own limits
(:class:`sera.serve.uploads.BodyLimits`).
"""

from __future__ import annotations

import asyncio
import logging

from uvicorn.protocols.http.h11_impl import H11Protocol

from sera.serve import HEADER_TIMEOUT_S

log = logging.getLogger("sera.serve")


class HeaderTimeoutProtocol(H11Protocol):
    """uvicorn's h11 protocol, closing connections whose headers are slower than
    :attr:`header_timeout` seconds."""

    header_timeout: float = HEADER_TIMEOUT_S

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._headers_due = self.loop.call_later(self.header_timeout, self._headers_late)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._cancel_header_timer()
        if not self.transport.is_closing():
            self._headers_due = self.loop.call_later(self.header_timeout, self._headers_late)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def _waiting_for_headers(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _headers_late(self) -> None:
        self._headers_due = None
        if self._waiting_for_headers() and not self.transport.is_closing():
            log.info("closed a connection from %s: no complete request headers in %g s",
                     self.client[0] if self.client else "?", self.header_timeout)
            self.transport.close()

    def _cancel_header_timer(self) -> None:
        due = getattr(self, "_headers_due", None)
        if due is not None:
            due.cancel()
            self._headers_due = None


def protocol_with_header_timeout(seconds: float) -> type[HeaderTimeoutProtocol]:
    """:class:`HeaderTimeoutProtocol` with its own ``seconds`` (uvicorn takes a class)."""
    return type("HeaderTimeoutProtocol", (HeaderTimeoutProtocol,), {"header_timeout": seconds})
