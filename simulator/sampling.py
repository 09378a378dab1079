"""Sampling: what keeps a cassette small and its replay finite.

For each recorded JSON response:

* the **records list** is cut to ``sample_size`` items. The list is found through
  the spec when the request matched an endpoint (``wrapper.records_key``, dotted,
  e.g. ``d.results``), else as the top-level list, the first list of objects
  under a usual key (``records``, ``items``, ``data``, ``results``, ``value`` ...),
  or the largest list of objects within two levels;
* **pagination markers are neutralised**, so a replayed response never points at
  a page that was not recorded: next-page keys (the spec's ``pagination.next_key``,
  wrapper extras computed as ``next``, and the usual names at any depth up to
  three: ``next``, ``after_url``, ``@odata.nextLink``, ``paging.next``,
  ``links.next``, ``d.__next`` ...) become null, ``has_more``-style flags false
  and ``end_of_stream`` true; the ``Link`` header loses its ``next`` and
  ``last`` relations.

Bodies are re-serialised compactly, so ``Content-Length`` is dropped.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from connector_watch.simulator.interactions import Interaction
    from connector_watch.simulator.spec import Endpoint

RECORD_HINTS = ("records", "items", "data", "results", "value", "entries", "values", "elements", "objects")
#: Keys that point at the next page (set to null). Matched at any depth ≤ 3.
NEXT_KEYS = frozenset(
    {
        "next",
        "next_page",
        "next_url",
        "nextlink",
        "@odata.nextlink",
        "nextpagetoken",
        "next_page_token",
        "next_cursor",
        "nextcursor",
        "after_url",
        "after_cursor",
        "__next",
        "next_href",
        "nextpageurl",
    }
)
#: Flags that say "more pages": set to False. ``end_of_stream``-style flags: set to True.
MORE_FLAGS = frozenset({"has_more", "hasmore", "more", "has_next", "hasnext", "has_next_page", "hasnextpage"})
END_FLAGS = frozenset({"end_of_stream", "endofstream", "last_page", "is_last_page", "islastpage", "done"})
_LINK_PART = re.compile(r'<[^>]*>\s*;[^,]*rel="?(?P<rel>[^",;]+)"?[^,]*')


@dataclass
class SampleResult:
    records_before: int | None = None
    records_after: int | None = None
    neutralised: tuple[str, ...] = ()


def records_path(body: Any, endpoint: Endpoint | None = None) -> tuple[str, ...] | None:
    """Where the records list of ``body`` is: ``()`` for a top-level list, else a key path."""
    if isinstance(body, list):
        return ()
    if not isinstance(body, dict):
        return None
    if endpoint is not None and endpoint.response.wrapper is not None:
        path = tuple(endpoint.response.wrapper.records_key.split("."))
        if isinstance(get_path(body, path), list):
            return path
    for key in RECORD_HINTS:
        if _is_record_list(body.get(key)):
            return (key,)
    best: tuple[str, ...] | None = None
    best_size = 0
    for key, value in body.items():
        candidates = [((key,), value)]
        if isinstance(value, dict):
            candidates += [((key, inner), item) for inner, item in value.items()]
        for path, item in candidates:
            if _is_record_list(item) and len(item) > best_size:
                best, best_size = path, len(item)
    if best is not None:
        return best
    for key in RECORD_HINTS:  # an empty records list is still the records list
        if isinstance(body.get(key), list):
            return (key,)
    return None


def _is_record_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def get_path(body: Any, path: tuple[str, ...]) -> Any:
    """``body[path[0]][path[1]]…``, or None where an object is missing."""
    for part in path:
        if not isinstance(body, dict):
            return None
        body = body.get(part)
    return body


def _marker_keys(endpoint: Endpoint | None) -> tuple[set[tuple[str, ...]], set[str], set[str]]:
    """Exact next-key paths, has-more keys and end-of-stream keys the spec declares."""
    exact: set[tuple[str, ...]] = set()
    more: set[str] = set()
    end: set[str] = set()
    if endpoint is None:
        return exact, more, end
    response = endpoint.response
    key = response.next_key
    if key is None and response.pagination_style in ("cursor", "next_url", "odata_next_link"):
        from connector_watch.simulator.pagination import next_key

        key = next_key(endpoint)
    if key:
        exact.add((key,) if key.startswith("@") else tuple(key.split(".")))
    if response.wrapper is not None:

        def walk(value: Any, path: tuple[str, ...]) -> None:
            if isinstance(value, dict):
                if set(value) == {"computed"}:
                    name = value["computed"]
                    if name == "next":
                        exact.add(path)
                    elif name == "has_more":
                        more.add(path[-1])
                    elif name == "end_of_stream":
                        end.add(path[-1])
                    return
                for key, item in value.items():
                    walk(item, (*path, key))

        walk(dict(response.wrapper.extras), ())
    return exact, more, end


def neutralise(body: Any, endpoint: Endpoint | None = None) -> list[str]:
    """Null next-page pointers and settle has-more flags in place; returns the dotted keys changed."""
    changed: list[str] = []
    if not isinstance(body, dict):
        return changed
    exact, more, end = _marker_keys(endpoint)
    for path in exact:
        parent = get_path(body, path[:-1]) if len(path) > 1 else body
        if isinstance(parent, dict) and parent.get(path[-1]) is not None:
            parent[path[-1]] = None
            changed.append(".".join(path))

    def walk(node: dict[str, Any], prefix: str, depth: int) -> None:
        for key in list(node):
            value = node[key]
            lower = key.lower()
            dotted = f"{prefix}{key}"
            if lower in NEXT_KEYS and value is not None and not isinstance(value, list):
                node[key] = None
                changed.append(dotted)
            elif (lower in MORE_FLAGS or key in more) and value is True:
                node[key] = False
                changed.append(dotted)
            elif (lower in END_FLAGS or key in end) and value is False:
                node[key] = True
                changed.append(dotted)
            elif isinstance(value, dict) and depth < 3:
                walk(value, dotted + ".", depth + 1)

    walk(body, "", 1)
    return changed


def strip_link_header(value: str) -> str:
    """A ``Link`` header without its ``next`` and ``last`` relations (they lead to unrecorded pages)."""
    kept = []
    for match in _LINK_PART.finditer(value):
        rels = match.group("rel").split()
        if any(r in ("next", "last") for r in rels):
            continue
        kept.append(match.group(0).strip())
    return ", ".join(kept)


def sample_interaction(
    interaction: Interaction, endpoint: Endpoint | None = None, sample_size: int = 5
) -> SampleResult:
    """Cut and neutralise one (already scrubbed) interaction in place."""
    response = interaction.response
    result = SampleResult()
    headers = {}
    neutralised: list[str] = []
    for name, value in response.headers.items():
        lower = name.lower()
        if lower in ("content-length", "content-encoding", "transfer-encoding"):
            continue
        if lower == "link":
            stripped = strip_link_header(value)
            if stripped != value:
                neutralised.append("Link")
            if not stripped:
                continue
            value = stripped
        headers[name] = value
    response.headers = headers
    if response.body_text is None:
        result.neutralised = tuple(neutralised)
        return result
    try:
        body = json.loads(response.body_text)
    except ValueError:
        result.neutralised = tuple(neutralised)
        return result
    path = records_path(body, endpoint)
    if path is not None and sample_size >= 0:
        records = body if path == () else get_path(body, path)
        if isinstance(records, list):
            result.records_before = len(records)
            if len(records) > sample_size:
                del records[sample_size:]
            result.records_after = len(records)
    # Paging markers live in an envelope around records; a single object's fields are its data
    # (a "done" flag, a schedule's "next" run) and stay as recorded.
    envelope = path is not None and path != ()
    paged = (
        endpoint is not None
        and not endpoint.response.single_entity
        and endpoint.response.pagination_style not in (None, "none")
    )
    if envelope or paged:
        neutralised.extend(neutralise(body, endpoint))
    result.neutralised = tuple(neutralised)
    response.body_text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return result
