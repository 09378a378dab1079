"""A verified fix names the contents it was verified against, and applies only to them."""

from __future__ import annotations

import hashlib

from connector_watch.daemon.diagnostics import Position, Range, TextEdit, VerifiedFix, content_digest

SPEC = "simulator/specs/zendesk/endpoints.yaml"
BROKEN = b"        records_key: ticket\n"
FIXED = b"        records_key: tickets\n"


def _fix() -> VerifiedFix:
    edit = TextEdit(SPEC, Range(Position(0, 0), Position(1, 0)), FIXED.decode())
    return VerifiedFix("records_key back", (edit,), ("node",), "1 test passes", ((SPEC, content_digest(BROKEN)),))


def test_the_digest_is_sha256_of_the_bytes_as_editors_can_compute_it() -> None:
    assert content_digest(BROKEN) == hashlib.sha256(BROKEN).hexdigest()
    assert _fix().to_dict()["verified"]["against"] == {SPEC: hashlib.sha256(BROKEN).hexdigest()}


def test_a_fix_applies_to_the_file_it_was_verified_against_and_not_once_applied() -> None:
    fix = _fix()
    assert fix.applies_to({SPEC: BROKEN}.get)
    assert not fix.applies_to({SPEC: FIXED}.get)  # applied and saved: never again
    assert not fix.applies_to({}.get)  # the file is gone


def test_a_fix_without_digests_says_nothing_of_them() -> None:
    bare = VerifiedFix("t", (), ("n",), "")
    assert "against" not in bare.to_dict()["verified"]
