"""Columns leave the daemon in UTF-16 code units, lines numbered as editors number them."""

from __future__ import annotations

from pathlib import Path

from connector_watch.daemon.diagnostics import (
    Diagnostic,
    Location,
    Position,
    Range,
    Related,
    TextEdit,
    VerifiedFix,
)
from connector_watch.daemon.events import Wire
from connector_watch.daemon.fixes import apply_edits
from connector_watch.daemon.hunks import split_lines
from connector_watch.daemon.utf16 import Utf16Positions, code_point_column, editor_lines, utf16_column

CORPUS = "corpus/tickets.json"
#: One record per line (as a minified corpus is): an emoji (two UTF-16 units) before the value.
LINE = '{"subject": "🎉 launch", "id": "42"}'


def test_a_column_after_a_character_outside_the_bmp_counts_it_twice() -> None:
    at_id = LINE.index('"42"')
    assert utf16_column(LINE, at_id) == at_id + 1
    assert utf16_column("café 42", 5) == 5  # é is one unit
    assert utf16_column("plain", 3) == 3
    assert utf16_column("🎉", 4) == 2 + 3  # past the end: as far past


def test_lines_break_where_editors_break_them() -> None:
    text = "a\x0cb\u2028c\r\nd\re\n"
    assert editor_lines(text) == ["a\x0cb\u2028c", "d", "e", ""]
    assert editor_lines(text, keepends=True) == ["a\x0cb\u2028c\r\n", "d\r", "e\n"]
    assert split_lines("x\ny") == ["x\n", "y"] == "x\ny".splitlines(keepends=True)
    # An edit on the line after a form feed lands where the editor shows it.
    edit = TextEdit("f", Range(Position(1, 0), Position(1, 1)), "D")
    assert apply_edits(text, [edit]) == "a\x0cb\u2028c\r\nD\re\n"


def test_a_diagnostic_and_its_fix_reach_the_wire_in_utf16(tmp_path: Path) -> None:
    (tmp_path / "corpus").mkdir()
    (tmp_path / CORPUS).write_text(f"[\n{LINE}\n]\n", encoding="utf-8")
    start = LINE.index('"42"')
    span = Range(Position(1, start), Position(1, start + 4))
    fix = VerifiedFix("convert to an integer", (TextEdit(CORPUS, span, "42"),), ("node",), "1 test passes")
    diagnostic = Diagnostic(
        "corpus", "id should be an integer", Location(CORPUS, span),
        related=[Related(Location(CORPUS, span), "the value")], fixes=[fix],
    )
    message = Wire(tmp_path).diagnostic(diagnostic)
    expected = {"start": {"line": 1, "character": start + 1}, "end": {"line": 1, "character": start + 5}}
    assert message["range"] == expected
    assert message["relatedInformation"][0]["location"]["range"] == expected
    assert message["data"]["fixes"][0]["edits"][0]["range"] == expected
    # Applied by an editor (UTF-16 columns over UTF-16 text), the fix replaces exactly the value.
    units = (tmp_path / CORPUS).read_text(encoding="utf-8").split("\n")[1].encode("utf-16-le")
    cut = units[: 2 * expected["start"]["character"]] + "42".encode("utf-16-le") + units[2 * expected["end"]["character"] :]
    assert cut.decode("utf-16-le") == LINE.replace('"42"', "42")
    assert diagnostic.location.range == span  # the daemon's own copy keeps code points


def test_ascii_lines_column_zero_and_unknown_files_are_not_read(tmp_path: Path) -> None:
    positions = Utf16Positions(tmp_path)
    here = Position(3, 7)
    assert positions.position("missing.json", here) == here
    assert positions.position("missing.json", Position(0, 0)) == Position(0, 0)
    (tmp_path / "a.json").write_text("plain\n", encoding="utf-8")
    assert positions.position("a.json", Position(0, 4)) == Position(0, 4)
    assert positions.position("a.json", Position(9, 4)) == Position(9, 4)  # beyond the file
    assert positions._lines["a.json"][1] == {}  # an ASCII file keeps no line


def test_only_the_lines_outside_ascii_are_kept_and_a_new_version_is_read_again(tmp_path: Path) -> None:
    positions = Utf16Positions(tmp_path)
    (tmp_path / CORPUS.split("/")[0]).mkdir()
    (tmp_path / CORPUS).write_text(f"[\n{LINE},\n{{}}\n]\n", encoding="utf-8")
    at_id = LINE.index('"42"')
    assert positions.position(CORPUS, Position(1, at_id)) == Position(1, at_id + 1)
    assert list(positions._lines[CORPUS][1]) == [1]
    (tmp_path / CORPUS).write_text(f"[\n{{}},\n{LINE}\n]\n", encoding="utf-8")  # the record moved down
    assert positions.position(CORPUS, Position(1, at_id)) == Position(1, at_id)
    assert positions.position(CORPUS, Position(2, at_id)) == Position(2, at_id + 1)


def test_a_client_column_comes_in_as_the_code_point_it_counts_to() -> None:
    at_id = LINE.index('"42"')
    assert code_point_column(LINE, utf16_column(LINE, at_id)) == at_id
    for column in range(len(LINE) + 3):
        assert code_point_column(LINE, utf16_column(LINE, column)) == column
    assert code_point_column("plain", 4) == 4
