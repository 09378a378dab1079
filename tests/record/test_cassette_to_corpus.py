"""Re-seeding a corpus from a cassette: records_key honoured, primary keys deduplicated, merged, reported."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import requests
from connector_watch.simulator import Simulator
from connector_watch.simulator.cassette import Cassette
from connector_watch.simulator.cassette_records import WRITE_BACK_MARKER
from connector_watch.simulator.interactions import Interaction, RecordedRequest, RecordedResponse
from connector_watch.simulator.tools.cassette_to_corpus import reseed
from connector_watch.tests.record.helpers import REPO, SPECS, drain, record

from sources.zendesk.zendesk import ZendeskLakeflowConnect


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "connector_watch.simulator.tools.cassette_to_corpus", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _odata_spec(tmp_path: Path) -> Path:
    spec_dir = tmp_path / "odata"
    (spec_dir / "corpus").mkdir(parents=True)
    (spec_dir / "corpus" / "customers.json").write_text(
        json.dumps(
            [{"CustomerID": "ALFKI", "Name": "Alfreds"}, {"CustomerID": "BONAP", "Name": "Bon app'"}],
            indent=2,
        )
    )
    (spec_dir / "endpoints.yaml").write_text(
        "endpoints:\n"
        "  - path: /odata/Customers\n"
        "    method: GET\n"
        "    corpus: customers\n"
        "    response:\n"
        "      wrapper: {records_key: d.results}\n"
    )
    return spec_dir


def _cassette(tmp_path: Path, bodies: list[Any]) -> Path:
    cassette = Cassette(
        "odata",
        [
            Interaction(
                RecordedRequest("GET", "https://x/odata/Customers", {"$skip": str(i)}),
                RecordedResponse(200, {}, json.dumps(b)),
            )
            for i, b in enumerate(bodies)
        ],
    )
    path = tmp_path / "TestOdata.json"
    cassette.save(path)
    return path


def test_records_key_is_honoured_and_records_merge_on_the_primary_key(tmp_path: Path) -> None:
    spec_dir = _odata_spec(tmp_path)
    cassette = _cassette(
        tmp_path,
        [
            {
                "d": {
                    "results": [
                        {"CustomerID": "ALFKI", "Name": "Alfreds Futterkiste"},
                        {"CustomerID": "NEW01", "Name": "New"},
                    ]
                }
            },
            {"d": {"results": [{"CustomerID": "NEW01", "Name": "New"}]}},  # the same record on another page
        ],
    )
    result = _run(
        "--cassette",
        str(cassette),
        "--spec",
        str(spec_dir / "endpoints.yaml"),
        "--output",
        str(spec_dir / "corpus"),
    )
    assert result.returncode == 0, result.stderr
    corpus = json.loads((spec_dir / "corpus" / "customers.json").read_text())
    assert corpus == [
        {"CustomerID": "ALFKI", "Name": "Alfreds Futterkiste"},  # updated in place
        {"CustomerID": "BONAP", "Name": "Bon app'"},  # kept: not in the cassette
        {"CustomerID": "NEW01", "Name": "New"},  # added once
    ]
    assert "1 added, 1 updated (fields changed: Name), 0 unchanged, 1 kept from the corpus" in result.stdout
    assert "primary key: CustomerID, inferred" in result.stdout
    assert "1 repeated recording(s) of the same record merged" in result.stdout


def test_replace_dry_run_and_explicit_primary_keys(tmp_path: Path) -> None:
    spec_dir = _odata_spec(tmp_path)
    cassette = _cassette(tmp_path, [{"d": {"results": [{"CustomerID": "ALFKI", "Name": "A"}]}}])
    before = (spec_dir / "corpus" / "customers.json").read_text()
    dry = _run(
        "--cassette",
        str(cassette),
        "--spec",
        str(spec_dir / "endpoints.yaml"),
        "--output",
        str(spec_dir / "corpus"),
        "--dry-run",
    )
    assert dry.returncode == 0 and dry.stdout.startswith("would write")
    assert (spec_dir / "corpus" / "customers.json").read_text() == before
    changes, _ = reseed(
        cassette,
        spec_dir / "endpoints.yaml",
        spec_dir / "corpus",
        replace=True,
        primary_keys={"customers": ["Name"]},
    )
    assert changes[0].primary_keys == ["Name"] and changes[0].removed == 2 and changes[0].added == 1
    assert json.loads((spec_dir / "corpus" / "customers.json").read_text()) == [
        {"CustomerID": "ALFKI", "Name": "A"}
    ]


def test_bad_input_is_a_clear_error(tmp_path: Path) -> None:
    spec_dir = _odata_spec(tmp_path)
    missing = _run(
        "--cassette",
        str(tmp_path / "nope.json"),
        "--spec",
        str(spec_dir / "endpoints.yaml"),
        "--output",
        str(tmp_path),
    )
    assert missing.returncode == 2 and "cassette not found" in missing.stderr
    empty = _cassette(tmp_path, [])
    nothing = _run(
        "--cassette",
        str(empty),
        "--spec",
        str(spec_dir / "endpoints.yaml"),
        "--output",
        str(spec_dir / "corpus"),
    )
    assert nothing.returncode == 1 and "nothing to write" in nothing.stderr


def test_a_recorded_cassette_reseeds_the_real_corpus_with_connector_primary_keys(
    fresh_server: Any, tmp_path: Path
) -> None:
    server = fresh_server("zendesk", drifts=["extra_field"])
    connector = ZendeskLakeflowConnect(server.config)
    options = {"page_size": "5", "max_records_per_batch": "100"}
    cassette = tmp_path / "TestZendesk.json"
    record(
        tmp_path, "zendesk", server.config, lambda: drain(connector, "tickets", options), cassette=cassette
    )
    corpus = tmp_path / "corpus"
    shutil.copytree(SPECS / "zendesk" / "corpus", corpus)
    changes, _ = reseed(cassette, SPECS / "zendesk" / "endpoints.yaml", corpus)
    tickets = next(c for c in changes if c.table == "tickets")
    assert tickets.pk_origin == "from sources/zendesk TABLE_METADATA" and tickets.primary_keys == ["id"]
    assert "encoded_id" in tickets.changed_fields and tickets.added == 0
    written = json.loads((corpus / "tickets.json").read_text())
    assert len(written) == len(json.loads((SPECS / "zendesk" / "corpus" / "tickets.json").read_text()))
    assert sum(1 for t in written if t.get("encoded_id") == "PZ8Q3M-D8Q1") == tickets.updated
    assert len({t["id"] for t in written}) == len(written)


def test_a_detail_endpoint_never_replaces_the_list_corpus_it_shares(tmp_path: Path) -> None:
    spec_dir = _odata_spec(tmp_path)
    spec = spec_dir / "endpoints.yaml"
    spec.write_text(
        spec.read_text()
        + "  - path: /odata/Customers/{id}\n    method: GET\n    corpus: customers\n"
        + "    params: {id: {role: filter, in: path, field: CustomerID, op: eq}}\n"
        + "    response: {single_entity: true}\n"
    )
    listed = {"d": {"results": [{"CustomerID": "ALFKI", "Name": "Alfreds F."}]}}
    detail = {"CustomerID": "BONAP", "Name": "Bon app'", "Phone": "91.24.45.40"}
    cassette = Cassette(
        "odata",
        [
            Interaction(
                RecordedRequest("GET", "https://x/odata/Customers", {}),
                RecordedResponse(200, {}, json.dumps(listed)),
            ),
            Interaction(
                RecordedRequest("GET", "https://x/odata/Customers/BONAP", {}),
                RecordedResponse(200, {}, json.dumps(detail)),
            ),
        ],
    )
    cassette.save(tmp_path / "TestOdata.json")
    _, extraction = reseed(tmp_path / "TestOdata.json", spec, spec_dir / "corpus")
    corpus = json.loads((spec_dir / "corpus" / "customers.json").read_text())
    assert isinstance(corpus, list) and [c["CustomerID"] for c in corpus] == ["ALFKI", "BONAP"]
    assert corpus[0]["Name"] == "Alfreds F."  # updated from the list recording
    assert extraction.entities == {} and any("list corpus" in reason for reason in extraction.skipped)
    # Replay derives from the same records: the list stays a list.
    with Simulator(mode="replay", cassette_path=tmp_path / "TestOdata.json", spec_path=spec):
        body = requests.get("https://x/odata/Customers", params={"$top": 5}, timeout=5).json()
    assert [c["CustomerID"] for c in body["d"]["results"]] == ["ALFKI"]


def test_reseeding_keeps_real_values_over_scrub_stand_ins_and_leaves_write_back_rows_out(
    tmp_path: Path,
) -> None:
    spec_dir = _odata_spec(tmp_path)
    corpus_file = spec_dir / "corpus" / "customers.json"
    corpus_file.write_text(
        json.dumps(
            [{"CustomerID": "ALFKI", "Name": "Alfreds", "Email": "maria@alfreds.example", "Sig": "Maria A."}]
        )
    )
    recorded = [
        {
            "CustomerID": "ALFKI",
            "Name": "Alfreds Futterkiste",
            "Email": "redacted-1@example.com",
            "Sig": "***REDACTED***",
        },
        {
            "CustomerID": "WB001",
            "Name": f"{WRITE_BACK_MARKER} 3f2a",
            "Email": "redacted-2@example.com",
            "Sig": None,
        },
        {"CustomerID": "BONAP", "Name": "Bon app'", "Email": "redacted-3@example.com", "Sig": None},
    ]
    changes, extraction = reseed(
        _cassette(tmp_path, [{"d": {"results": recorded}}]), spec_dir / "endpoints.yaml", spec_dir / "corpus"
    )
    corpus = {c["CustomerID"]: c for c in json.loads(corpus_file.read_text())}
    assert corpus["ALFKI"] == {
        "CustomerID": "ALFKI",
        "Name": "Alfreds Futterkiste",
        "Email": "maria@alfreds.example",
        "Sig": "Maria A.",
    }
    assert "WB001" not in corpus and extraction.skipped == {"a row a write-back test created": 1}
    assert (
        corpus["BONAP"]["Email"] == "redacted-3@example.com"
    )  # new records keep the stand-in: nothing real to keep
    assert (changes[0].added, changes[0].updated, changes[0].changed_fields) == (1, 1, {"Name"})
