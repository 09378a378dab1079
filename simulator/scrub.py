"""Scrubbing: what is redacted before a recorded interaction reaches disk.

Record mode keeps every exchange in memory unscrubbed (the live validator needs
the real request); everything written (cassettes, validation and coverage
reports) passes through a :class:`Scrubber` first. It redacts:

* **credential-named fields** wherever they appear: request query keys, request
  body fields (JSON or form), response headers, response JSON keys, and query
  strings inside any URL (``response.url``, ``Link`` headers, next-page URLs in
  bodies). A name is credential-like when one of its words is ``token``,
  ``secret``, ``password``, ``signature``, ``sig``, ``credential``, an
  ``*_key`` such as ``api_key`` ... (see :func:`is_secret_name`); pagination
  tokens (``next_page_token``, ``cursor``) are not secrets and are kept, since
  replay needs them;
* **token-endpoint responses** (an OAuth token URL, or a body carrying
  ``access_token``): every string value but ``token_type``/``scope``;
* **cookies** (``Set-Cookie``, ``Cookie``) and the authorization headers;
* **email addresses** anywhere in text, as ``redacted-<n>@example.com`` (the same
  address gets the same stand-in within one recording, so links survive);
* **known secret values**, literally, wherever they occur: the values of the
  connector config's credential-named options and every credential the
  connector sent (bearer tokens, basic-auth passwords, client secrets), also in
  their URL-encoded and base64 forms.

:meth:`Scrubber.check` is the last line of defence: it refuses text that still
contains a known secret.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, unquote, urlencode, urlsplit, urlunsplit

REDACTED = "***REDACTED***"
EMAIL_DOMAIN = "example.com"

#: Words that make a field name a credential, wherever the name appears.
SECRET_WORDS = frozenset(
    {
        "token",
        "secret",
        "password",
        "passwd",
        "pwd",
        "passphrase",
        "signature",
        "credential",
        "credentials",
        "apikey",
        "authorization",
        "assertion",
    }
)
#: More words that mark a credential in a request (query keys, body fields) or a header, where
#: they rarely mean anything else (``?sig=``, ``X-Auth``, ``session=``); in response bodies they
#: name ordinary fields (``two_factor_auth_enabled``), so they are not used there.
REQUEST_SECRET_WORDS = frozenset({"auth", "session", "cookie", "sig", "otp", "jwt"})
#: ``key`` is a credential only after one of these (``api_key``, ``secret_key``), never alone
#: (``"key": "PROJ-1"`` is an issue key).
KEY_QUALIFIERS = frozenset(
    {"api", "secret", "private", "access", "client", "signing", "master", "encryption", "subscription", "x"}
)
#: Words that mark a token as a pagination or bookkeeping value, not a credential.
SAFE_WORDS = frozenset(
    {
        "page",
        "next",
        "prev",
        "previous",
        "cursor",
        "continuation",
        "sync",
        "skip",
        "type",
        "expires",
        "expiry",
        "expiration",
        "count",
        "url",
        "uri",
        "endpoint",
        "length",
        "limit",
        "verified",
        "reason",
        "payload",
    }
)
#: Headers always redacted, beyond credential-named ones.
SENSITIVE_HEADERS = frozenset(
    {
        "set-cookie",
        "cookie",
        "authorization",
        "proxy-authorization",
        "x-oauth-scopes",
        "x-accepted-oauth-scopes",
        "github-authentication-token-expiration",
        "x-github-token",
    }
)
#: Strings kept in token-endpoint responses.
TOKEN_RESPONSE_KEEP = frozenset({"token_type", "scope", "error", "error_description", "error_codes"})
TOKEN_PATH = re.compile(r"(/token\b|/oauth2?/|/oauth2/v2\.0/|/auth/token|/connect/token)", re.IGNORECASE)

#: Address-shaped strings that name no person.
NOT_PERSONAL = ("git@",)
_EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}(?![\w-])")
_EMAIL_IN_URL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9._+-]+%40[A-Za-z0-9.-]+\.[A-Za-z]{2,}(?![\w-])"
)  # @ as %40
_URL_QUERY_PAIR = re.compile(r"(?P<lead>[?&;])(?P<name>[^=&#\s\"'<>;]+)=(?P<value>[^&#\s\"'<>;]*)")
_WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
_MIN_SECRET_LENGTH = 6


def name_words(name: str) -> list[str]:
    """``"X-Api-Key"`` → ``["x", "api", "key"]``; ``"accessToken"`` → ``["access", "token"]``."""
    return [w.lower() for w in _WORDS.findall(str(name))]


def is_secret_name(name: str, *, bare_key: bool = False) -> bool:
    """Whether a field, header or query key with this name carries a credential.

    ``bare_key``: the name is a request's (query key, request body field, header). There ``key``
    alone counts (``?key=...`` is an API key) and so do ``auth``, ``session``, ``sig`` ...; in
    response bodies ``"key"`` is usually a record's name and ``auth`` part of a flag's.
    """
    words = name_words(name)
    if not words:
        return False
    if bare_key and (words == ["key"] or any(w in REQUEST_SECRET_WORDS for w in words)):
        return not any(w in SAFE_WORDS for w in words)
    joined = "".join(words)
    if joined in ("apikey", "accesstoken", "refreshtoken", "idtoken", "clientsecret", "privatekey"):
        return True
    if any(w in SAFE_WORDS for w in words):
        return False
    if any(w in SECRET_WORDS for w in words):
        return True
    return any(w == "key" and i > 0 and words[i - 1] in KEY_QUALIFIERS for i, w in enumerate(words))


def secret_values(config: Mapping[str, Any] | None) -> list[str]:
    """The values of a connector config's credential-named options (what must never reach disk)."""
    found: list[str] = []
    for key, value in (config or {}).items():
        if isinstance(value, Mapping):
            found.extend(secret_values(value))
        elif is_secret_name(str(key)) and isinstance(value, (str, int)) and str(value):
            found.append(str(value))
    return found


def is_token_endpoint(path: str, body: Any = None) -> bool:
    if TOKEN_PATH.search(path or ""):
        return True
    return isinstance(body, dict) and any(k in body for k in ("access_token", "refresh_token", "id_token"))


class SecretFound(AssertionError):
    """Text about to be written still contains a known secret (a scrubber bug, never ignored)."""


class Scrubber:
    """Redacts one recording session's interactions. Keeps state: the secrets it has learned
    and the stand-ins it has given email addresses."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._emails: dict[str, str] = {}
        for secret in secrets:
            self.add_secret(secret)

    # ------------------------------------------------------------------ secrets
    def add_secret(self, value: Any) -> None:
        text = str(value or "")
        if len(text) < _MIN_SECRET_LENGTH or text == REDACTED:
            return
        self._secrets.add(text)
        for variant in (quote(text, safe=""), quote_plus(text), base64.b64encode(text.encode()).decode()):
            if len(variant) >= _MIN_SECRET_LENGTH:
                self._secrets.add(variant)

    @property
    def secrets(self) -> frozenset[str]:
        return frozenset(self._secrets)

    def learn_from_request(
        self, headers: Mapping[str, str], query: Mapping[str, Any], body: bytes | None
    ) -> None:
        """Remember every credential a request carried, so it is redacted wherever it shows up."""
        for name, value in headers.items():
            lower = name.lower()
            if lower in ("authorization", "proxy-authorization"):
                scheme, _, credential = str(value).partition(" ")
                self.add_secret(credential or scheme)
                if scheme.lower() == "basic" and credential:
                    try:
                        user, _, password = base64.b64decode(credential).decode("utf-8").partition(":")
                    except (ValueError, UnicodeDecodeError):
                        continue
                    self.add_secret(password)
                    if "/token" in user:  # Zendesk: "{email}/token:{api_token}"
                        self.add_secret(user)
            elif lower == "cookie" or is_secret_name(name, bare_key=True):
                self.add_secret(value)
        for key, value in query.items():
            if is_secret_name(key, bare_key=True):
                for item in value if isinstance(value, list) else [value]:
                    self.add_secret(item)
        for key, value in _body_fields(body):
            if is_secret_name(key, bare_key=True):
                self.add_secret(value)

    # ------------------------------------------------------------------ text
    def text(self, value: str) -> str:
        """Free text: known secrets, credential query parameters in URLs, email addresses."""
        if not value:
            return value
        for secret in sorted(self._secrets, key=len, reverse=True):
            if secret in value:
                value = value.replace(secret, REDACTED)
        value = _URL_QUERY_PAIR.sub(self._query_pair, value)
        value = _EMAIL_IN_URL.sub(lambda m: quote(self._stand_in(unquote(m.group(0))), safe=""), value)
        return _EMAIL.sub(self._email, value)

    def _query_pair(self, match: re.Match[str]) -> str:
        if is_secret_name(unquote(match.group("name")), bare_key=True) and match.group("value"):
            return f"{match.group('lead')}{match.group('name')}={quote(REDACTED)}"
        return match.group(0)

    def _email(self, match: re.Match[str]) -> str:
        return self._stand_in(match.group(0))

    def _stand_in(self, address: str) -> str:
        if address.endswith("@" + EMAIL_DOMAIN) and address.startswith("redacted-"):
            return address
        if address.lower().startswith(NOT_PERSONAL):  # git@github.com:org/repo.git is an SSH URL
            return address
        key = address.lower()
        if key not in self._emails:
            self._emails[key] = f"redacted-{len(self._emails) + 1}@{EMAIL_DOMAIN}"
        return self._emails[key]

    def url(self, url: str | None) -> str | None:
        return None if url is None else self.text(url)

    # ------------------------------------------------------------------ structures
    def query(self, query: Mapping[str, Any]) -> dict[str, Any]:
        return {
            key: (REDACTED if is_secret_name(key, bare_key=True) else self._value(value))
            for key, value in query.items()
        }

    def headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for name, value in headers.items():
            lower = name.lower()
            if lower in SENSITIVE_HEADERS or is_secret_name(name, bare_key=True):
                out[name] = REDACTED
            elif lower in ("content-length", "content-encoding", "transfer-encoding"):
                continue
            else:
                out[name] = self.text(str(value))
        return out

    def json(self, value: Any, *, token_response: bool = False) -> Any:
        """A JSON value with credential-named keys redacted and every string scrubbed."""
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                if is_secret_name(str(key)) and item not in (None, "", [], {}) and not isinstance(item, bool):
                    out[key] = REDACTED if not isinstance(item, (dict, list)) else self._redact_all(item)
                elif token_response and isinstance(item, str) and key not in TOKEN_RESPONSE_KEEP:
                    out[key] = REDACTED
                else:
                    out[key] = self.json(item, token_response=token_response)
            return out
        if isinstance(value, list):
            return [self.json(item, token_response=token_response) for item in value]
        if isinstance(value, str):
            return self.text(value)
        return value

    def strings(self, value: Any) -> Any:
        """A JSON value with every string scrubbed (emails, learnt secrets) and its keys kept: for the
        reports, whose keys are their own, not the API's."""
        if isinstance(value, dict):
            return {key: self.strings(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.strings(item) for item in value]
        return self.text(value) if isinstance(value, str) else value

    def _redact_all(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: self._redact_all(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._redact_all(v) for v in value]
        return REDACTED if value is not None and not isinstance(value, bool) else value

    def _value(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self._value(v) for v in value]
        return self.text(value) if isinstance(value, str) else value

    def body_text(self, text: str | None, *, path: str = "") -> str | None:
        """A response body: JSON is scrubbed structurally (and re-serialised), other text as text."""
        if text is None:
            return None
        try:
            data = json.loads(text)
        except ValueError:
            if is_token_endpoint(path):
                return REDACTED
            return self.text(text)
        scrubbed = self.json(data, token_response=is_token_endpoint(path, data))
        return json.dumps(scrubbed, ensure_ascii=False, separators=(",", ":"))

    def body_b64(self, value: str | None) -> str | None:
        """A binary body (base64): known secrets inside the bytes are overwritten."""
        if not value:
            return value
        try:
            data = base64.b64decode(value)
        except ValueError:
            return value
        changed = False
        for secret in sorted(self._secrets, key=len, reverse=True):
            raw = secret.encode("utf-8")
            if raw in data:
                data = data.replace(raw, REDACTED.encode())
                changed = True
        return base64.b64encode(data).decode() if changed else value

    # ------------------------------------------------------------------ the last check
    def check(self, text: str, where: str) -> None:
        for secret in self._secrets:
            if secret in text:
                raise SecretFound(
                    f"refusing to write {where}: it still contains a credential the connector used "
                    f"({len(secret)} characters, starting {secret[:2]!r}…)"
                )


# ---------------------------------------------------------------------- request bodies


def _body_fields(body: bytes | None) -> list[tuple[str, Any]]:
    """``(name, value)`` of every scalar field in a JSON or form body (nested JSON by leaf name)."""
    if not body:
        return []
    text = body.decode("utf-8", errors="replace")
    try:
        data = json.loads(text)
    except ValueError:
        return [(k, v) for k, v in parse_qsl(text, keep_blank_values=True)] if "=" in text else []
    fields: list[tuple[str, Any]] = []

    def walk(value: Any, name: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, str(key))
        elif isinstance(value, list):
            for item in value:
                walk(item, name)
        elif value is not None:
            fields.append((name, value))

    walk(data, "")
    return fields


def scrub_body(body: bytes | None) -> bytes | None:
    """A request body with credential-named fields redacted; unchanged (same bytes) when it has none."""
    if not body:
        return body
    text = body.decode("utf-8", errors="replace")
    try:
        data = json.loads(text)
    except ValueError:
        if "=" not in text:
            return body
        pairs = parse_qsl(text, keep_blank_values=True)
        if not any(is_secret_name(k, bare_key=True) for k, _ in pairs):
            return body
        return urlencode(
            [(k, REDACTED if is_secret_name(k, bare_key=True) else v) for k, v in pairs]
        ).encode()

    changed = False

    def redact(value: Any) -> Any:
        nonlocal changed
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                if (
                    is_secret_name(str(key), bare_key=True)
                    and not isinstance(item, (dict, list))
                    and item is not None
                ):
                    changed = True
                    out[key] = REDACTED
                else:
                    out[key] = redact(item)
            return out
        if isinstance(value, list):
            return [redact(v) for v in value]
        return value

    scrubbed = redact(data)
    if not changed:
        return body
    return json.dumps(scrubbed, sort_keys=True, separators=(",", ":")).encode()


def body_fingerprint(body: bytes | None) -> str | None:
    """The ``body_sha256`` a cassette stores: of the raw body, or of its scrubbed form when the body
    carries credentials (so a hash never stands in for a short secret)."""
    scrubbed = scrub_body(body)
    return hashlib.sha256(scrubbed).hexdigest() if scrubbed else None


def scrub_query(query: Mapping[str, Any]) -> dict[str, Any]:
    """A request query as a cassette stores and matches it: credential values redacted."""
    return {k: (REDACTED if is_secret_name(k, bare_key=True) else v) for k, v in query.items()}


def scrub_url_query(url: str) -> str:
    """``url`` with credential-named query parameters redacted (for URLs built from requests)."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    if not any(is_secret_name(k, bare_key=True) for k, _ in pairs):
        return url
    query = urlencode([(k, REDACTED if is_secret_name(k, bare_key=True) else v) for k, v in pairs])
    return urlunsplit(parts._replace(query=query))


def redact_query_secrets(text: str, url: str) -> str:
    """``text`` (an error message, say) with the values of ``url``'s credential-named query
    parameters redacted, as written and percent-encoded."""
    parts = urlsplit(url)
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if value and is_secret_name(key, bare_key=True):
            for form in {value, quote(value, safe=""), quote_plus(value, safe="")}:
                text = text.replace(form, REDACTED)
    return text


_STAND_IN_EMAIL = re.compile(r"redacted-\d+@" + re.escape(EMAIL_DOMAIN))


def is_scrubbed(value: Any) -> bool:
    """Whether a recorded value is (or holds) a stand-in this module wrote instead of the real one."""
    return isinstance(value, str) and (REDACTED in value or _STAND_IN_EMAIL.search(value) is not None)


def mask_emails(text: str) -> str:
    """``text`` with every email address (real or a stand-in, ``@`` or ``%40``) as ``<email>``: how
    replay matches a request carrying an address with its recording, which holds a stand-in."""
    return _EMAIL.sub("<email>", _EMAIL_IN_URL.sub("<email>", text))
