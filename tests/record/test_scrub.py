"""Scrubbing: what is redacted before a recording reaches disk."""

from __future__ import annotations

import base64
import json

import pytest
from connector_watch.simulator.scrub import (
    REDACTED,
    Scrubber,
    SecretFound,
    body_fingerprint,
    is_secret_name,
    scrub_body,
    scrub_query,
    scrub_url_query,
    secret_values,
)


@pytest.mark.parametrize(
    "name",
    [
        "token",
        "api_token",
        "access_token",
        "refresh_token",
        "client_secret",
        "password",
        "X-Api-Key",
        "signature",
        "secret_access_key",
        "SessionToken",
        "Authorization",
        "id_token",
        "apiKey",
    ],
)
def test_credential_names_are_secret(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "token_type",
        "next_page_token",
        "pageToken",
        "expires_in",
        "cursor",
        "key",
        "two_factor_auth_enabled",
        "author",
    ],
)
def test_ordinary_names_in_responses_are_not_secret(name: str) -> None:
    assert not is_secret_name(name)


@pytest.mark.parametrize("name", ["key", "sig", "session", "auth", "otp"])
def test_request_side_names_are_secret(name: str) -> None:
    assert is_secret_name(name, bare_key=True)


def test_query_keys_carrying_credentials_are_redacted_and_others_kept() -> None:
    scrubbed = Scrubber().query({"api_key": "abc123xyz", "key": "k-123456", "page": "2", "pageToken": "p2"})
    assert scrubbed == {"api_key": REDACTED, "key": REDACTED, "page": "2", "pageToken": "p2"}
    assert scrub_query({"sig": "zzz", "since": "2024"}) == {"sig": REDACTED, "since": "2024"}


def test_request_body_fields_carrying_credentials_change_the_fingerprint_not_other_bodies() -> None:
    form = b"grant_type=client_credentials&client_id=abc&client_secret=s3cr3t-value"
    scrubbed = scrub_body(form)
    assert b"s3cr3t-value" not in scrubbed and b"client_id=abc" in scrubbed
    assert body_fingerprint(form) == body_fingerprint(
        b"grant_type=client_credentials&client_id=abc&client_secret=other"
    )
    plain = json.dumps({"filterGroups": [], "limit": 5}).encode()
    import hashlib

    assert body_fingerprint(plain) == hashlib.sha256(plain).hexdigest()  # same as the public format
    nested = json.dumps({"auth": {"password": "hunter2-long"}, "q": 1}).encode()
    assert b"hunter2-long" not in scrub_body(nested)


def test_headers_cookies_and_authorization_are_redacted() -> None:
    headers = Scrubber().headers(
        {
            "Set-Cookie": "session=abc; HttpOnly",
            "X-Api-Key": "k",
            "Content-Type": "application/json",
            "Content-Length": "12",
            "x-oauth-scopes": "repo",
            "Link": '<https://api.example.com/x?page=2&access_token=zzz>; rel="next"',
        }
    )
    assert headers["Set-Cookie"] == REDACTED and headers["X-Api-Key"] == REDACTED
    assert headers["x-oauth-scopes"] == REDACTED
    assert headers["Content-Type"] == "application/json"
    assert "Content-Length" not in headers
    assert "zzz" not in headers["Link"] and "page=2" in headers["Link"]


def test_token_endpoint_responses_lose_every_credential() -> None:
    body = json.dumps(
        {"token_type": "Bearer", "expires_in": 3599, "access_token": "eyJhbGciOi.abc.def", "id": "x-123456"}
    )
    scrubbed = json.loads(Scrubber().body_text(body, path="/tenant/oauth2/v2.0/token"))
    assert scrubbed["access_token"] == REDACTED and scrubbed["id"] == REDACTED
    assert scrubbed["token_type"] == "Bearer" and scrubbed["expires_in"] == 3599
    assert Scrubber().body_text("access_token=abc123&expires=1", path="/oauth/token") == REDACTED


def test_response_fields_named_like_credentials_keep_their_type_when_not_secret_values() -> None:
    body = json.dumps(
        {"password": "pw-123456", "password_set": True, "signature": None, "two_factor_auth_enabled": True}
    )
    scrubbed = json.loads(Scrubber().body_text(body))
    assert scrubbed == {
        "password": REDACTED,
        "password_set": True,
        "signature": None,
        "two_factor_auth_enabled": True,
    }


def test_emails_get_stable_stand_ins_within_a_recording() -> None:
    scrubber = Scrubber()
    text = scrubber.text(
        "from ana@example.org to bo@corp.io, cc ANA@example.org; clone git@github.com:o/r.git"
    )
    assert "ana@" not in text.lower() and "bo@corp.io" not in text
    assert text.count("redacted-1@example.com") == 2 and "redacted-2@example.com" in text
    assert "git@github.com:o/r.git" in text
    assert scrubber.text(text) == text  # idempotent


def test_secrets_the_connector_sent_are_redacted_wherever_they_appear() -> None:
    scrubber = Scrubber(["configured-secret-1"])
    basic = base64.b64encode(b"agent@example.com/token:zendesk-api-token-9").decode()
    scrubber.learn_from_request(
        {"Authorization": f"Basic {basic}"}, {"api_key": ["query-secret-7"]}, b"client_secret=form-secret-8"
    )
    scrubber.learn_from_request({"Authorization": "Bearer bearer-token-5"}, {}, None)
    leaked = (
        "echo zendesk-api-token-9 bearer-token-5 query-secret-7 form-secret-8 configured-secret-1 "
        + basic
        + " configured%2Dsecret-1".replace("%2D", "-")
    )
    clean = scrubber.text(leaked)
    for secret in (
        "zendesk-api-token-9",
        "bearer-token-5",
        "query-secret-7",
        "form-secret-8",
        "configured-secret-1",
        basic,
    ):
        assert secret not in clean
    with pytest.raises(SecretFound):
        scrubber.check("oops bearer-token-5", "the cassette")
    scrubber.check(clean, "the cassette")


def test_url_query_credentials_are_redacted_in_any_url() -> None:
    url = "https://api.example.com/v1/items?api_key=abc123&page=3&signature=xyz"
    assert (
        scrub_url_query(url)
        == "https://api.example.com/v1/items?api_key=%2A%2A%2AREDACTED%2A%2A%2A&page=3&signature=%2A%2A%2AREDACTED%2A%2A%2A"
    )
    assert "abc123" not in Scrubber().text(f"see {url} now")


def test_secret_values_of_a_config() -> None:
    config = {
        "token": "t-123456",
        "owner": "octo-org",
        "client_secret": "cs-654321",
        "nested": {"api_key": "k-999999"},
    }
    assert sorted(secret_values(config)) == ["cs-654321", "k-999999", "t-123456"]


def test_binary_bodies_lose_known_secrets_too() -> None:
    scrubber = Scrubber(["binary-secret-42"])
    blob = base64.b64encode(b"\x00\x01PK...binary-secret-42...\xff").decode()
    cleaned = base64.b64decode(scrubber.body_b64(blob) or "")
    assert b"binary-secret-42" not in cleaned and REDACTED.encode() in cleaned
    untouched = base64.b64encode(b"\x00\x01").decode()
    assert scrubber.body_b64(untouched) == untouched
