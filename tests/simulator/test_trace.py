"""The trace: every answered request with its endpoint, corpus records, page state and caller."""

from __future__ import annotations

import inspect
import json
import sys
import types
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from connector_watch.simulator import trace
from connector_watch.tests.simulator.conftest import BASE

SPEC = """
endpoints:
  - path: /repos/{owner}/issues
    method: GET
    corpus: issues
    params:
      owner: {role: filter, in: path, field: owner, op: eq}
      state: {role: filter, field: state, op: eq}
      page: {role: page}
      per_page: {role: per_page, default: 2}
    response:
      pagination_style: page_number_with_link_header
      default_sort: "number desc"

  - path: /rate_limit
    method: GET
    corpus: rate
    response: {single_entity: true}
"""
CORPUS = {
    "issues": [
        {"number": 1, "owner": "octo", "state": "open"},
        {"number": 2, "owner": "octo", "state": "closed"},
        {"number": 3, "owner": "other", "state": "open"},
        {"number": 4, "owner": "octo", "state": "open"},
        {"number": 5, "owner": "octo", "state": "open"},
    ],
    "rate": {"limit": 5000},
}


def fetch(url: str, **kwargs) -> tuple[requests.Response, int]:
    """Make the call and return the line number that made it."""
    line = inspect.currentframe().f_lineno + 1
    response = requests.get(url, **kwargs)
    return response, line


def test_entry_names_endpoint_corpus_records_and_page(simulate, tmp_path) -> None:
    with simulate(SPEC, CORPUS) as sim:
        fetch(f"{BASE}/repos/octo/issues?state=open&page=1", timeout=7)
    [entry] = sim.trace.entries
    spec_file = str(tmp_path / "spec" / "endpoints.yaml")
    assert entry.mode == "simulate"
    assert (entry.method, entry.url) == ("GET", f"{BASE}/repos/octo/issues?state=open&page=1")
    assert (entry.outcome, entry.status) == ("served", 200)
    assert entry.endpoint.key == "GET /repos/{owner}/issues"
    assert (entry.endpoint.spec_file, entry.endpoint.line, entry.endpoint.index) == (spec_file, 2, 0)
    assert entry.corpus == "issues"
    assert entry.corpus_file == f"{tmp_path / 'spec' / 'corpus'}/issues.json"
    assert entry.served == [4, 3]  # corpus indices: numbers 5 and 4, newest first
    assert entry.total == 3
    assert entry.has_more is True
    assert entry.page["page"] == 1 and entry.page["next"] == 2
    assert entry.timeout == 7
    assert entry.elapsed_ms >= 0


def test_caller_is_the_line_that_made_the_request(simulate) -> None:
    with simulate(SPEC, CORPUS) as sim:
        _, line = fetch(f"{BASE}/rate_limit")
    caller = sim.trace.entries[0].caller
    assert caller.file == __file__
    assert caller.line == line
    assert caller.function == "fetch"


def test_caller_keeps_the_outer_lines_of_the_same_file(simulate) -> None:
    def paging_loop() -> int:
        fetch(f"{BASE}/rate_limit")
        return sys._getframe().f_lineno - 1

    with simulate(SPEC, CORPUS) as sim:
        loop_line = paging_loop()
    caller = sim.trace.entries[0].caller
    assert caller.function == "fetch"
    assert caller.outer[0] == (loop_line, "paging_loop")
    assert caller.outer[1][1] == "test_caller_keeps_the_outer_lines_of_the_same_file"


def test_families_group_the_pages_of_one_result_set(simulate) -> None:
    with simulate(SPEC, CORPUS) as sim:
        requests.get(f"{BASE}/repos/octo/issues?state=open&page=1")
        requests.get(f"{BASE}/repos/octo/issues?state=open&page=2&per_page=2")
        requests.get(f"{BASE}/repos/octo/issues?state=closed")
        requests.get(f"{BASE}/repos/other/issues?state=open")
    entries = sim.trace.entries
    assert entries[0].family == entries[1].family
    assert len({e.family for e in entries}) == 3
    family = sim.trace.families[entries[0].family]
    assert family.params == {"owner": ["octo"], "state": ["open"]}
    assert family.matched == (4, 3, 0)  # what paging to the end would reach, in serving order
    assert family.served == {4, 3, 0}
    assert family.requests == [entries[0].seq, entries[1].seq]
    assert family.endpoint.line == 2
    assert [e.has_more for e in entries] == [True, False, False, False]


def test_a_family_not_read_to_the_end_shows_what_was_missed(simulate) -> None:
    with simulate(SPEC, CORPUS) as sim:
        requests.get(f"{BASE}/repos/octo/issues")  # page 1 of 2, never followed
    family = next(iter(sim.trace.families.values()))
    assert set(family.matched) - family.served == {1, 0}


def test_single_entity_and_seq_order(simulate) -> None:
    with simulate(SPEC, CORPUS) as sim:
        requests.get(f"{BASE}/rate_limit")
        requests.get(f"{BASE}/rate_limit")
    first, second = sim.trace.entries
    assert first.served == [0]
    assert first.endpoint.line == 14
    assert second.seq == first.seq + 1
    assert first.family is None


def test_capture_collects_from_any_simulator_and_serialises(simulate) -> None:
    with trace.capture() as captured, simulate(SPEC, CORPUS) as sim:
        requests.get(f"{BASE}/repos/octo/issues?state=open")
        requests.get(f"{BASE}/rate_limit")
    outside = trace.Trace()
    with simulate(SPEC, CORPUS):
        requests.get(f"{BASE}/rate_limit")  # after the capture block: not collected
    assert len(captured) == 2
    assert [e.seq for e in captured] == [e.seq for e in sim.trace]
    assert captured.corpus_tables_read == {"issues", "rate"}
    assert [e.corpus for e in captured.for_corpus("rate")] == ["rate"]
    document = json.loads(json.dumps(captured.to_dict()))
    assert document["entries"][0]["endpoint"]["line"] == 2
    assert document["entries"][0]["served"] == [4, 3]
    [family] = document["families"].values()
    assert family["matched"] == [4, 3, 0]
    assert len(outside) == 0


def test_unknown_and_failed_requests_are_traced_too(simulate) -> None:
    with simulate(SPEC, CORPUS) as sim:
        try:
            requests.get(f"{BASE}/repos/octo/pulls")
        except requests.RequestException:
            pass
    [entry] = sim.trace.entries
    assert entry.outcome == "unknown-endpoint"
    assert entry.status is None
    assert entry.nearest and entry.nearest[0].startswith("GET /repos/{owner}/issues")


@pytest.mark.parametrize(
    "module_name", ["jsonplaceholder_source", "httpbin", "email_connector", "sources.http"]
)
def test_caller_in_a_module_whose_name_starts_like_plumbing(simulate, module_name: str) -> None:
    """Only the plumbing packages themselves are skipped, not every module sharing a prefix."""
    source = "import requests\n\ndef read(url):\n    return requests.get(url)\n"
    module = types.ModuleType(module_name)
    exec(compile(source, f"/connectors/{module_name}.py", "exec"), module.__dict__)
    with simulate(SPEC, CORPUS) as sim:
        module.read(f"{BASE}/rate_limit")
    caller = sim.trace.entries[0].caller
    assert (caller.file, caller.line, caller.function) == (f"/connectors/{module_name}.py", 4, "read")


def test_concurrent_requests_are_traced_once_each(simulate) -> None:
    """A connector fetching from a thread pool: one entry per request, distinct sequence numbers."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often, as a loaded machine would
    try:
        with simulate(SPEC, CORPUS) as sim, trace.capture() as captured, ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(lambda _: requests.get(f"{BASE}/rate_limit").status_code, range(150)))
    finally:
        sys.setswitchinterval(interval)
    assert statuses == [200] * 150
    assert len(sim.trace) == 150
    assert len(captured) == 150
    assert len({e.seq for e in sim.trace}) == 150
