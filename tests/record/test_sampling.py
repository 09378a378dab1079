"""Sampling: records cut through the spec, pagination markers neutralised so replay cannot loop."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from connector_watch.simulator.interactions import Interaction, RecordedRequest, RecordedResponse
from connector_watch.simulator.sampling import neutralise, records_path, sample_interaction, strip_link_header
from connector_watch.simulator.spec import load_spec


def _interaction(body: object, headers: dict[str, str] | None = None) -> Interaction:
    return Interaction(
        RecordedRequest("GET", "https://api.example.com/items", {}),
        RecordedResponse(200, dict(headers or {}), json.dumps(body)),
    )


def _spec(tmp_path: Path, response_yaml: str) -> object:
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "items.json").write_text("[]")
    spec = tmp_path / "endpoints.yaml"
    spec.write_text(
        "endpoints:\n  - path: /items\n    method: GET\n    corpus: items\n"
        + textwrap.indent(textwrap.dedent(response_yaml), "    ")
    )
    return load_spec(spec)


def test_records_are_cut_through_a_dotted_records_key(tmp_path: Path) -> None:
    spec = _spec(
        tmp_path,
        """
        params:
          $skiptoken: {role: cursor}
        response:
          pagination_style: odata_next_link
          wrapper:
            records_key: d.results
            extras: {d.__count: {computed: total}}
        """,
    )
    endpoint = spec.endpoints[0]
    body = {"d": {"results": [{"id": i} for i in range(12)], "__next": "https://x/items?$skiptoken=abc"}}
    interaction = _interaction(body, {"Content-Length": "999"})
    result = sample_interaction(interaction, endpoint, sample_size=5)
    sampled = json.loads(interaction.response.body_text)
    assert result.records_before == 12 and result.records_after == 5
    assert [r["id"] for r in sampled["d"]["results"]] == [0, 1, 2, 3, 4]
    assert sampled["d"]["__next"] is None  # nested next keys too
    assert "Content-Length" not in interaction.response.headers


def test_spec_declared_pagination_keys_and_flags_are_neutralised(tmp_path: Path) -> None:
    spec = _spec(
        tmp_path,
        """
        params:
          offset: {role: offset}
          limit: {role: limit}
        response:
          pagination_style: offset_limit
          wrapper:
            records_key: results
            extras:
              hasMore: {computed: has_more}
              offset: {computed: next}
              stream_done: {computed: end_of_stream}
        """,
    )
    body = {"results": [{"id": 1}], "hasMore": True, "offset": 40, "stream_done": False}
    changed = neutralise(body, spec.endpoints[0])
    assert body == {"results": [{"id": 1}], "hasMore": False, "offset": None, "stream_done": True}
    assert set(changed) == {"hasMore", "offset", "stream_done"}


def test_usual_next_markers_are_neutralised_without_a_spec() -> None:
    body = {
        "data": [{"id": 1}],
        "paging": {"next": {"after": "NTI"}},
        "links": {"next": "https://x?page=2", "self": "https://x"},
        "@odata.nextLink": "https://x?$skiptoken=1",
        "after_url": "https://x?cursor=abc",
        "end_of_stream": False,
        "has_more": True,
    }
    neutralise(body)
    assert body["paging"]["next"] is None and body["links"]["next"] is None and body["links"]["self"]
    assert body["@odata.nextLink"] is None and body["after_url"] is None
    assert body["end_of_stream"] is True and body["has_more"] is False


def test_link_header_loses_next_and_last_only() -> None:
    link = '<https://x?page=3>; rel="next", <https://x?page=9>; rel="last", <https://x?page=1>; rel="first", <https://x?page=1>; rel="prev"'
    assert strip_link_header(link) == '<https://x?page=1>; rel="first", <https://x?page=1>; rel="prev"'
    interaction = _interaction([{"id": i} for i in range(8)], {"Link": '<https://x?page=2>; rel="next"'})
    sample_interaction(interaction, None, sample_size=3)
    assert "Link" not in interaction.response.headers
    assert len(json.loads(interaction.response.body_text)) == 3


def test_records_list_is_found_by_hint_or_size() -> None:
    assert records_path([{"a": 1}]) == ()
    assert records_path({"meta": {}, "items": [{"a": 1}]}) == ("items",)
    assert records_path({"_embedded": {"widgets": [{"a": 1}, {"a": 2}]}, "tags": [{"t": 1}]}) == (
        "_embedded",
        "widgets",
    )
    assert records_path({"value": []}) == ("value",)
    assert records_path({"count": 3}) is None


def test_non_json_and_errors_are_left_alone() -> None:
    interaction = Interaction(
        RecordedRequest("GET", "https://x/", {}), RecordedResponse(200, {}, "plain text")
    )
    result = sample_interaction(interaction, None, 5)
    assert interaction.response.body_text == "plain text" and result.records_before is None


def test_a_single_object_keeps_fields_that_look_like_paging_markers(tmp_path: Path) -> None:
    body = {"id": "T-1", "done": False, "more": True, "settings": {"next": "weekly"}}
    interaction = _interaction(body)
    sample_interaction(interaction)  # no spec: a lone object is data, not an envelope
    assert json.loads(interaction.response.body_text) == body
    detail = _spec(tmp_path, "response: {single_entity: true, pagination_style: none}")
    interaction = _interaction(body)
    sample_interaction(interaction, detail.endpoints[0])
    assert json.loads(interaction.response.body_text) == body
    envelope = _interaction({"items": [{"id": 1}], "has_more": True, "next": "abc"})
    sample_interaction(envelope)  # records in an envelope: its markers are neutralised
    assert json.loads(envelope.response.body_text) == {"items": [{"id": 1}], "has_more": False, "next": None}
