"""uvicorn's httptools protocol with a bound on the request head (request line and headers).

Why: httptools hands each fragment of a header to Python, which joins them until the header ends, and uvicorn
sets no limit; so every connection sending an endless header made the gateway hold all of it (measured: 10
connections x 20 MiB took its resident memory from 65 to 305 MiB). This protocol answers 431 and closes the
connection once a head is over MAX_HEAD_BYTES.

Only the head is counted, never the body (bodies are bounded by the webhook's 413 check): a read is counted when
all of it arrived while the current request's headers were incomplete (between on_message_begin and
on_headers_complete), and a completed head that may be over the bound is measured from its parsed parts. Both
are at most the head's size on the wire, so a head under the bound is never refused; an endless one is cut off
within the bound plus two reads (the event loop reads at most 256 KB at a time). The count starts afresh with
each request, so a keep-alive connection may carry any number of requests.
"""

from __future__ import annotations

import logging

import httptools
from uvicorn._types import HTTPScope
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

# Telegram's webhook requests have heads of well under 1 KiB (a POST line, Host, Content-Type, Content-Length,
# the secret token header); Kie's callbacks are as small. 64 KiB leaves room for any proxy's additions.
MAX_HEAD_BYTES = 64 * 1024
# The fewest bytes on the wire besides the method and the target: " ", " HTTP/1.1\r\n" and the final "\r\n";
# and per header besides its name and value, ":" and "\r\n" (the parser wants the CR).
_REQUEST_LINE_FRAMING = 1 + 11 + 2
_HEADER_FRAMING = 3
_REFUSAL = f"Request head (request line and headers) over {MAX_HEAD_BYTES} bytes".encode()

log = logging.getLogger("imagebot.gateway.http")


class HeadTooLarge(Exception):
    """Raised in a parser callback to stop the parser at a completed head over the bound."""


class HeadBoundedHttpToolsProtocol(HttpToolsProtocol):
    """HttpToolsProtocol that refuses a request head over MAX_HEAD_BYTES with 431 and closes the connection.

    It tells where a request is by uvicorn's per-request scope rather than by callbacks of its own, so that the
    common request (all of it in one read) costs next to nothing more: uvicorn's on_message_begin makes a new
    scope, and its on_headers_complete fills in "method" first; a scope without "method" is a request whose
    headers are incomplete.
    """

    _read_scope: HTTPScope | None = None  # the request being parsed when the current read arrived
    _read_size = 0
    _counted_scope: HTTPScope | None = None  # the request whose open head _head_bytes counts
    _head_bytes = 0
    _head_refused = False

    def data_received(self, data: bytes) -> None:
        # Mirrors HttpToolsProtocol.data_received (uvicorn 0.54), answering a head over the bound with 431.
        scope = self.scope
        self._read_scope, self._read_size = scope, len(data)
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self._head_refused:
                self._refuse_head()
                return
            msg = "Invalid HTTP request received."
            self.logger.warning(msg)
            self.send_400_response(msg)
            return
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        if self.scope is scope and scope is not None and "method" not in scope:
            # The same request's head was open before and after this read, so all of the read was head. (The
            # read in which a head begins may end a body and is not counted: its share is unknown, and counting
            # all of it would refuse the next request on the connection.)
            if self._counted_scope is not scope:
                self._counted_scope, self._head_bytes = scope, 0
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                self._refuse_head()

    def on_headers_complete(self) -> None:
        began_in_this_read = self.scope is not self._read_scope
        if (began_in_this_read and self._read_size <= MAX_HEAD_BYTES) or self._parsed_head_size() <= MAX_HEAD_BYTES:
            super().on_headers_complete()
            return
        self._head_refused = True
        raise HeadTooLarge  # stops the parser here; data_received answers 431

    def _parsed_head_size(self) -> int:
        """The head's size from its parts: the fewest bytes it can have taken on the wire."""
        size = len(self.parser.get_method()) + len(self.url) + _REQUEST_LINE_FRAMING
        for name, value in self.headers:
            size += len(name) + len(value) + _HEADER_FRAMING
        return size

    def _refuse_head(self) -> None:
        log.warning("cut off a request head over %d bytes (431, connection closed)", MAX_HEAD_BYTES)
        if self.cycle is None or self.cycle.response_complete:
            # Nothing else is being written on this connection; else (a pipelined request still being answered)
            # a response here would cut into that one, and the connection is only closed.
            content = [STATUS_LINE[431]]
            for name, value in self.server_state.default_headers:
                content.extend([name, b": ", value, b"\r\n"])
            content.extend(
                [
                    b"content-type: text/plain; charset=utf-8\r\n",
                    b"content-length: %d\r\n" % len(_REFUSAL),
                    b"connection: close\r\n",
                    b"\r\n",
                    _REFUSAL,
                ]
            )
            self.transport.write(b"".join(content))
        self.transport.close()
