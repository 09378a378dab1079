"""GitHub connector: the repositories of one owner, and the issues and commits of chosen repositories.

Connection options
------------------
``token``       personal access token or app token, sent as ``Authorization: Bearer``.
``owner``       user or organisation login (required).
``repos``       comma-separated names of ``owner``'s repositories read by ``issues`` and ``commits``.
``base_url``    API root, default ``https://api.github.com`` (GitHub Enterprise: ``https://HOST/api/v3``).
``start_date``  ISO date or timestamp; incremental tables start after it (default 2015-01-01).

Table options
-------------
``max_records_per_batch``  upper bound on the records of one incremental read (default 1000); for
                           ``commits`` it also sizes the per-repository micro-batch windows.

Tables
------
``repositories``  snapshot, ``GET /users/{owner}/repos``.
``issues``        cdc on ``updated_at``, ``GET /repos/{owner}/{repo}/issues`` sorted by update time,
                  ascending, from ``since``. Pull requests are issues too and carry ``pull_request``.
``commits``       append on ``commit.author.date``, ``GET /repos/{owner}/{repo}/commits`` in
                  ``since``/``until`` windows, partitioned by repository.

Every list endpoint paginates with ``page``/``per_page`` and a ``Link`` header, which is followed.
Offsets keep one cursor per repository: ``{"cursors": {"<repo>": "<ISO timestamp>"}}``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import requests
from connector_watch.sources.interface import LakeflowConnect, SupportsPartitionedStream, is_initial_offset
from pyspark.sql.types import StructType

from sources.github.github_schemas import TABLE_SCHEMAS

DEFAULT_BASE_URL = "https://api.github.com"
DEFAULT_START_DATE = "2015-01-01T00:00:00Z"
DEFAULT_MAX_RECORDS_PER_BATCH = 1000
MAX_PER_PAGE = 100  # GitHub's ceiling for per_page

REQUEST_TIMEOUT = (10, 60)  # (connect, read) seconds
MAX_ATTEMPTS = 5
MAX_RETRY_SLEEP = 60.0
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})

TABLE_METADATA: dict[str, dict[str, Any]] = {
    "repositories": {"primary_keys": ["id"], "ingestion_type": "snapshot"},
    "issues": {"primary_keys": ["id"], "cursor_field": "updated_at", "ingestion_type": "cdc"},
    "commits": {"primary_keys": ["sha"], "cursor_field": "commit.author.date", "ingestion_type": "append"},
}

ISSUE_CURSOR = "updated_at"
COMMIT_CURSOR = "commit.author.date"


def parse_timestamp(value: str) -> datetime:
    """An ISO-8601 timestamp (or date) as an aware UTC datetime."""
    parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def format_timestamp(value: datetime) -> str:
    """GitHub's timestamp format: ``YYYY-MM-DDTHH:MM:SSZ``."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def dig(record: dict[str, Any], dotted: str) -> Any:
    """The value at a dotted path of nested dicts, or None."""
    value: Any = record
    for part in dotted.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def take_batch(records: Iterable[dict], cursor_of: Callable[[dict], Any], limit: int) -> list[dict]:
    """Up to ``limit`` records of a cursor-ordered stream, never splitting records that share a cursor.

    The next read resumes strictly after the last cursor returned, so a batch must not end in the
    middle of a group of equal cursors. The group straddling the limit is left to the next batch,
    unless it is the whole batch, which then grows to hold all of it.
    """
    batch: list[dict] = []
    for record in records:
        if len(batch) >= limit and cursor_of(record) != cursor_of(batch[-1]):
            break
        batch.append(record)
    if len(batch) > limit:
        last = cursor_of(batch[-1])
        head = [record for record in batch if cursor_of(record) != last]
        if head:
            return head
    return batch


class GithubLakeflowConnect(LakeflowConnect, SupportsPartitionedStream):
    """Reads repositories, issues and commits through the GitHub REST API."""

    def __init__(self, options: dict[str, str]) -> None:
        super().__init__(options)
        self._init_ts = datetime.now(timezone.utc)
        self._owner = (options.get("owner") or "").strip()
        if not self._owner:
            raise ValueError("GitHub connector: option 'owner' is required")
        self._repos = [name.strip() for name in (options.get("repos") or "").split(",") if name.strip()]
        self._base_url = (options.get("base_url") or DEFAULT_BASE_URL).rstrip("/")
        self._start = parse_timestamp(options.get("start_date") or DEFAULT_START_DATE)
        # Reads never go past the moment the connector was built, so every read terminates.
        self._cap = self._init_ts.replace(microsecond=0)

        self._session = requests.Session()
        self._session.headers.update(
            {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
        )
        if options.get("token"):
            self._session.headers["Authorization"] = f"Bearer {options['token']}"

    # ------------------------------------------------------------------ interface

    def list_tables(self) -> list[str]:
        return list(TABLE_METADATA)

    def get_table_schema(self, table_name: str, table_options: dict[str, str]) -> StructType:
        self._check_table(table_name)
        return TABLE_SCHEMAS[table_name]

    def read_table_metadata(self, table_name: str, table_options: dict[str, str]) -> dict:
        self._check_table(table_name)
        return dict(TABLE_METADATA[table_name])

    def read_table(
        self, table_name: str, start_offset: dict | None, table_options: dict[str, str]
    ) -> tuple[Iterator[dict], dict | None]:
        self._check_table(table_name)
        if table_name == "repositories":
            return iter(list(self._read_repositories())), {}
        if table_name == "issues":
            return self._read_issues(start_offset, table_options)
        return self._read_commits(start_offset, table_options)

    # ------------------------------------------------------------------ partitioned stream (commits)

    def is_partitioned(self, table_name: str) -> bool:
        self._check_table(table_name)
        return table_name == "commits"

    def latest_offset(
        self, table_name: str, table_options: dict[str, str], start_offset: dict | None = None
    ) -> dict:
        self._check_partitioned(table_name)
        limit = self._batch_limit(table_options)
        cursors = self._cursors(start_offset)
        return {"cursors": {repo: self._commit_window_end(repo, cursors[repo], limit) for repo in cursors}}

    def get_partitions(  # type: ignore[override]
        self,
        table_name: str,
        table_options: dict[str, str],
        start_offset: dict | None = None,
        end_offset: dict | None = None,
    ) -> Sequence[dict]:
        self._check_partitioned(table_name)
        since = self._cursors(start_offset)
        # No end: a whole-table batch read (or a range open at the top), up to the cap.
        until = {repo: self._cap_iso for repo in since} if end_offset is None else self._cursors(end_offset)
        return [
            {"repo": repo, "since": since[repo], "until": until[repo]}
            for repo in self._repos
            if parse_timestamp(since[repo]) < parse_timestamp(until[repo])
        ]

    def read_partition(
        self, table_name: str, partition: dict, table_options: dict[str, str]
    ) -> Iterator[dict]:
        self._check_partitioned(table_name)
        return iter(self._read_commit_window(partition["repo"], partition["since"], partition["until"]))

    # ------------------------------------------------------------------ repositories

    def _read_repositories(self) -> Iterator[dict]:
        params = {"type": "owner", "sort": "full_name", "direction": "asc", "per_page": MAX_PER_PAGE}
        yield from self._paginate(f"{self._base_url}/users/{self._owner}/repos", params)

    # ------------------------------------------------------------------ issues

    def _read_issues(
        self, start_offset: dict | None, table_options: dict[str, str]
    ) -> tuple[Iterator[dict], dict | None]:
        limit = self._batch_limit(table_options)
        cursors = self._cursors(start_offset)
        records: list[dict] = []
        for repo in self._repos:
            remaining = limit - len(records)
            since = cursors[repo]
            if remaining <= 0 or parse_timestamp(since) >= self._cap:
                continue
            batch = take_batch(
                self._issues_after(repo, since, remaining), lambda r: r[ISSUE_CURSOR], remaining
            )
            if batch:
                records.extend(batch)
                cursors[repo] = batch[-1][ISSUE_CURSOR]
        if not records:
            return iter([]), self._settled(start_offset)
        return iter(records), {"cursors": cursors}

    def _issues_after(self, repo: str, since: str, page_size: int) -> Iterator[dict]:
        """Issues and pull requests of ``repo`` updated after ``since`` and by the cap, oldest first."""
        params = {
            "state": "all",
            "sort": "updated",
            "direction": "asc",
            "since": since,  # inclusive: the issue at ``since`` itself is skipped below
            "per_page": min(MAX_PER_PAGE, page_size),
        }
        lower = parse_timestamp(since)
        for issue in self._paginate(f"{self._repo_url(repo)}/issues", params):
            updated = parse_timestamp(issue[ISSUE_CURSOR])
            if updated <= lower:
                continue
            if updated > self._cap:
                return
            yield issue

    # ------------------------------------------------------------------ commits

    def _read_commits(
        self, start_offset: dict | None, table_options: dict[str, str]
    ) -> tuple[Iterator[dict], dict | None]:
        limit = self._batch_limit(table_options)
        cursors = self._cursors(start_offset)
        records: list[dict] = []
        advanced = False
        for repo in self._repos:
            remaining = limit - len(records)
            since = cursors[repo]
            if remaining <= 0 or parse_timestamp(since) >= self._cap:
                continue
            until = self._commit_window_end(repo, since, remaining)
            records.extend(self._read_commit_window(repo, since, until))
            cursors[repo] = until
            advanced = True
        if not advanced:
            return iter([]), self._settled(start_offset)
        return iter(records), {"cursors": cursors}

    def _read_commit_window(self, repo: str, since: str, until: str) -> list[dict]:
        """Commits of ``repo`` dated in ``(since, until]``, oldest first."""
        params = {"since": since, "until": until, "per_page": MAX_PER_PAGE}
        lower, upper = parse_timestamp(since), parse_timestamp(until)
        commits = [
            commit
            for commit in self._paginate(f"{self._repo_url(repo)}/commits", params)
            if lower < parse_timestamp(dig(commit, COMMIT_CURSOR)) <= upper
        ]
        commits.sort(key=lambda commit: parse_timestamp(dig(commit, COMMIT_CURSOR)))
        return commits

    def _commit_window_end(self, repo: str, since: str, limit: int) -> str:
        """The end of the next window after ``since`` holding about ``limit`` commits of ``repo``.

        GitHub lists commits newest first, so the oldest ones are on the last page: start there
        (the ``Link: rel="last"`` URL) and walk back with ``rel="prev"`` until ``limit + 1`` commits
        are known. Returns ``since`` itself once the repository is read up to the cap.
        """
        lower = parse_timestamp(since)
        if lower >= self._cap:
            return since
        # One more than ``limit`` per page: the extra commit tells whether the boundary second is shared.
        params = {"since": since, "until": self._cap_iso, "per_page": min(MAX_PER_PAGE, limit + 1)}
        response = self._get(f"{self._repo_url(repo)}/commits", params)
        if "last" in response.links:
            response = self._get(response.links["last"]["url"])
        dates: list[datetime] = []
        while True:
            page_dates = (parse_timestamp(dig(commit, COMMIT_CURSOR)) for commit in response.json())
            dates.extend(date for date in page_dates if date > lower)
            prev = response.links.get("prev", {}).get("url")
            if len(dates) > limit or not prev:
                break
            response = self._get(prev)
        dates.sort()
        if len(dates) <= limit:
            return self._cap_iso
        end = dates[limit - 1]
        if dates[limit] == end and end - timedelta(seconds=1) > lower:
            # Commits sharing the boundary second go whole into the next window.
            end -= timedelta(seconds=1)
        return format_timestamp(end)

    # ------------------------------------------------------------------ offsets and options

    @property
    def _cap_iso(self) -> str:
        return format_timestamp(self._cap)

    def _cursors(self, offset: dict | None) -> dict[str, str]:
        """The per-repository cursors of ``offset``; repositories it lacks start at ``start_date``."""
        known = {} if is_initial_offset(offset) else dict(offset.get("cursors", {}))  # type: ignore[union-attr]
        start = format_timestamp(self._start)
        return {repo: known.get(repo, start) for repo in self._repos}

    @staticmethod
    def _settled(start_offset: dict | None) -> dict:
        """The offset of a read that found nothing new: the one it was given."""
        return start_offset if start_offset is not None else {}

    def _batch_limit(self, table_options: dict[str, str]) -> int:
        raw = table_options.get("max_records_per_batch") or self.options.get("max_records_per_batch")
        limit = int(raw) if raw else DEFAULT_MAX_RECORDS_PER_BATCH
        if limit < 1:
            raise ValueError(f"max_records_per_batch must be at least 1, got {limit}")
        return limit

    def _check_table(self, table_name: str) -> None:
        if table_name not in TABLE_METADATA:
            raise ValueError(f"Unknown table {table_name!r}; expected one of {list(TABLE_METADATA)}")

    def _check_partitioned(self, table_name: str) -> None:
        self._check_table(table_name)
        if table_name != "commits":
            raise ValueError(f"Table {table_name!r} is not partitioned; read it with read_table")

    def _repo_url(self, repo: str) -> str:
        return f"{self._base_url}/repos/{self._owner}/{repo}"

    # ------------------------------------------------------------------ HTTP

    def _paginate(self, url: str, params: dict[str, Any]) -> Iterator[dict]:
        """The items of every page, following ``Link: rel="next"``."""
        next_url: str | None = url
        next_params: dict[str, Any] | None = params
        while next_url:
            response = self._get(next_url, next_params)
            yield from response.json()
            next_url = response.links.get("next", {}).get("url")
            next_params = None  # the Link URL carries every query parameter

    def _get(self, url: str, params: dict[str, Any] | None = None) -> requests.Response:
        """GET with a timeout, retrying rate limits and server errors a bounded number of times."""
        for attempt in range(1, MAX_ATTEMPTS + 1):
            response = self._session.get(url, params=params, timeout=REQUEST_TIMEOUT)
            if attempt < MAX_ATTEMPTS and _is_retryable(response):
                time.sleep(_retry_delay(response, attempt))
                continue
            response.raise_for_status()
            return response
        raise AssertionError("unreachable")  # pragma: no cover


def _is_retryable(response: requests.Response) -> bool:
    if response.status_code in RETRY_STATUSES:
        return True
    # GitHub signals an exhausted primary rate limit with a 403 and no remaining requests.
    return response.status_code == 403 and response.headers.get("x-ratelimit-remaining") == "0"


def _retry_delay(response: requests.Response, attempt: int) -> float:
    """Seconds to wait before retrying: ``Retry-After``, else the rate-limit reset, else backoff."""
    retry_after = response.headers.get("Retry-After")
    if retry_after is not None:
        try:
            return min(max(float(retry_after), 0.0), MAX_RETRY_SLEEP)
        except ValueError:
            pass
    reset = response.headers.get("x-ratelimit-reset")
    if reset and reset.isdigit():
        return min(max(int(reset) - time.time(), 0.0), MAX_RETRY_SLEEP)
    return min(2.0 ** (attempt - 1), MAX_RETRY_SLEEP)
