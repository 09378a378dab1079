"""What every test touched, whoever answered its requests: real pytest runs with the daemon's plugin.

The workspace below has a simulator of its own that works like the public repository's: it
replaces ``requests.Session.send`` and ``urllib.request.urlopen`` in ``setup_class`` (after the
plugin started) and loads its whole corpus directory there; the connector asks for a token in its
``__init__``. A test double at the adapter level (the way ``responses`` works) and a real HTTP
server on 127.0.0.1 reached through ``http.client`` complete the ways a request can be answered.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from connector_watch.tests.support.plugin_events import finished, run_with_plugin

SIMULATOR = '''
"""A stand-in for the public simulator: patches at enter, restores at exit."""
import io
import json
import pathlib
import urllib.request

import requests
from requests.models import Response


class Simulator:
    def __init__(self, corpus_dir):
        self.corpus_dir = pathlib.Path(corpus_dir)

    def __enter__(self):
        self.tables = {}
        for path in sorted(self.corpus_dir.glob("*.json")):
            with open(path, encoding="utf-8") as handle:
                self.tables[path.stem] = json.load(handle)
        tables = self.tables

        def send(session, request, **kwargs):
            response = Response()
            response.status_code = 200
            name = request.path_url.split("?")[0].strip("/")
            response._content = json.dumps(tables.get(name, {"token": "t"})).encode()
            response.request, response.url = request, request.url
            return response

        def urlopen(url, data=None, timeout=None):
            name = str(getattr(url, "full_url", url)).rsplit("/", 1)[-1]
            return io.BytesIO(json.dumps(tables.get(name, [])).encode())

        self.saved = (requests.sessions.Session.send, urllib.request.urlopen)
        requests.sessions.Session.send = send
        urllib.request.urlopen = urlopen
        return self

    def __exit__(self, *exc):
        requests.sessions.Session.send, urllib.request.urlopen = self.saved
'''

CONNECTOR = '''
import json
import urllib.request

import requests


class Connector:
    def __init__(self, base):
        self.base = base
        self.session = requests.Session()
        self.token = self.session.post(f"{base}/token", data={"grant_type": "x"}).json()["token"]

    def items(self):
        return self.session.get(f"{self.base}/items", params={"page": 1}).json()

    def other(self):
        return json.load(urllib.request.urlopen(f"{self.base}/other"))
'''

TESTS = '''
import json
import pathlib

from pkg.connector import Connector
from pkg.source_simulator import Simulator

ROOT = pathlib.Path(__file__).resolve().parents[1]


class TestFlow:
    @classmethod
    def setup_class(cls):
        cls.simulator = Simulator(ROOT / "data" / "corpus").__enter__()
        cls.connector = Connector("https://api.example.test")

    @classmethod
    def teardown_class(cls):
        cls.simulator.__exit__(None, None, None)

    def test_items(self):
        assert self.connector.items() == [{"id": 1}]

    def test_other(self):
        assert self.connector.other() == [{"id": 2}]

    def test_reads_a_fixture(self):
        assert json.loads((ROOT / "fixtures" / "expected.json").read_text()) == {"ok": True}

    def test_touches_nothing(self):
        assert self.connector.token == "t"
'''

DOUBLES = '''
import http.client
import http.server
import threading
from unittest import mock

import requests
from requests.models import Response


def test_adapter_level_double():
    """The way ``responses`` answers: below the session, at the adapter."""
    def answer(adapter, request, **kwargs):
        response = Response()
        response.status_code, response._content, response.request = 200, b"{}", request
        return response

    with mock.patch("requests.adapters.HTTPAdapter.send", autospec=True, side_effect=answer):
        assert requests.get("https://api.example.test/mocked").status_code == 200


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


def test_a_real_server_reached_through_http_client():
    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=5)
        connection.request("GET", "/raw?x=1")
        assert connection.getresponse().read() == b"ok"
        assert requests.get(f"http://127.0.0.1:{server.server_port}/via-requests", timeout=5).text == "ok"
    finally:
        server.shutdown()
'''


def _write(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")


@pytest.fixture(scope="module")
def events(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    root = tmp_path_factory.mktemp("evidence")
    _write(
        root,
        {
            "pkg/__init__.py": "",
            "pkg/source_simulator/__init__.py": SIMULATOR,
            "pkg/connector.py": CONNECTOR,
            "tests/__init__.py": "",
            "tests/test_flow.py": TESTS,
            "tests/test_doubles.py": DOUBLES,
            "data/corpus/items.json": '[{"id": 1}]',
            "data/corpus/other.json": '[{"id": 2}]',
            "fixtures/expected.json": '{"ok": true}',
        },
    )
    found, process = run_with_plugin(root, "tests")
    assert process.returncode == 0, process.stdout[-3000:]
    return finished(found)


def _requests(event: dict) -> set[tuple[str, str]]:
    return {(r[0], r[1]) for r in event["requests"]}


def test_a_request_made_in_setup_class_is_credited_to_every_test_of_the_class(events) -> None:
    for name in ("test_items", "test_other", "test_reads_a_fixture", "test_touches_nothing"):
        assert ("POST", "/token") in _requests(events[name]), name


def test_requests_a_simulator_patched_in_after_the_plugin_answered_are_each_tests_own(events) -> None:
    assert _requests(events["test_items"]) == {("POST", "/token"), ("GET", "/items")}
    assert _requests(events["test_other"]) == {("POST", "/token"), ("GET", "/other")}  # through urlopen
    assert _requests(events["test_touches_nothing"]) == {("POST", "/token")}


def test_a_corpus_the_simulator_loads_is_loaded_not_read(events) -> None:
    corpus = {"data/corpus/items.json", "data/corpus/other.json"}
    for name in ("test_items", "test_touches_nothing"):
        assert corpus <= set(events[name]["loaded"]), name
        assert not corpus & set(events[name]["read"]), name


def test_a_file_a_test_opens_itself_is_read_by_that_test_only(events) -> None:
    assert "fixtures/expected.json" in events["test_reads_a_fixture"]["read"]
    assert "fixtures/expected.json" not in events["test_items"]["read"]


def test_a_double_below_the_session_and_a_real_server_are_seen_too(events) -> None:
    assert _requests(events["test_adapter_level_double"]) == {("GET", "/mocked")}
    assert _requests(events["test_a_real_server_reached_through_http_client"]) == {
        ("GET", "/raw"),
        ("GET", "/via-requests"),
    }
