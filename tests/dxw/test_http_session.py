"""The HTTP session every connector uses: a body is read whole, in large pieces, over a real socket."""

from dataclasses import replace
from http.server import BaseHTTPRequestHandler

import pytest

from dxw.settings import get_settings
from dxw.sources import http_session
from dxw.sources.contract import SourceError
from tests.http_server import serving

# 3 MB of JSON (more than one piece of BODY_PIECE), and a body cut off before its declared length.
BIG = b'{"dataValues": [' + b",".join(b'{"value": "%d"}' % n for n in range(200_000)) + b"]}"
connections: list[int] = []


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: a second page may reuse the connection

    def do_GET(self):
        connections.append(self.client_address[1])
        if self.path == "/cut":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b'{"dataValues": [')
            self.wfile.flush()
            self.close_connection = True
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(BIG)))
        self.end_headers()
        self.wfile.write(BIG)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    with serving(Handler) as url:
        yield url


def test_a_body_larger_than_a_piece_is_read_whole_and_the_connection_reused(server):
    assert len(BIG) > 2 * http_session.BODY_PIECE
    settings = get_settings()
    session = http_session.session(settings)
    connections.clear()
    for page in (1, 2):
        parsed, document = http_session.fetch_page(session, settings, "test", page, "GET", f"{server}/big")
        assert document.content == BIG
        assert len(parsed["dataValues"]) == 200_000
        assert parsed["dataValues"][-1] == {"value": "199999"}
        assert document.media_type == "application/json"
    # Both pages over one connection (same client port): the body was read to its end.
    assert len(connections) == 2
    assert connections[0] == connections[1]
    session.close()


def test_a_body_cut_off_before_its_length_is_a_source_error_naming_the_page(server):
    settings = replace(get_settings(), http_retries=0, http_timeout_read=2.0)
    session = http_session.session(settings)
    with pytest.raises(SourceError, match="request for page 3 failed"):
        http_session.fetch_page(session, settings, "test", 3, "GET", f"{server}/cut")
    session.close()
