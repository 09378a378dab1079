"""A live GitHub REST API (the endpoints ``sources/github`` reads, plus issue creation).

* ``GET /users/{owner}/repos``: ``type``, ``sort`` (created, updated, pushed,
  full_name), ``direction``, ``page``/``per_page`` (max 100).
* ``GET /repos/{owner}/{repo}/issues``: ``state`` (open, closed, all; default
  open), ``since`` (updated at or after), ``sort`` (created, updated, comments),
  ``direction``, paging.
* ``GET /repos/{owner}/{repo}/commits``: ``since``/``until`` on the author date,
  ``author``, newest first, paging.
* ``POST /repos/{owner}/{repo}/issues``: create an issue (write-back).

Auth: ``Authorization: Bearer <token>`` (or ``token <token>``); 401 "Bad
credentials" otherwise. Pages carry a ``Link`` header (next, last, first,
prev). Drift ``new_endpoint`` makes those links point at
``/repositories/{id}/...``, as GitHub's own links do, which the spec does not
model.
"""

from __future__ import annotations

import copy
import math
import secrets
from typing import Any

from connector_watch.simulator.live_servers.framework import (
    ApiError,
    ApiRequest,
    ApiResponse,
    LiveApp,
    instant,
    now_iso,
    route,
)

DOCS = "https://docs.github.com/rest"


def _error(status: int, message: str) -> ApiError:
    return ApiError(status, {"message": message, "documentation_url": DOCS, "status": str(status)})


class GithubApp(LiveApp):
    source = "github"
    CREDENTIALS = {"token": lambda: "ghp_" + secrets.token_urlsafe(27)}
    DRIFT_DEFAULTS = {
        "extra_field": 'issues.issue_dependencies_summary={"blocked_by": 0, "blocking": 0, '
        '"total_blocked_by": 0, "total_blocking": 0}',
        "removed_field": "issues.author_association",
        "null_field": "repositories.description",
        "changed_type": "repositories.size",
        "new_endpoint": "new_endpoint",
    }
    OWNER = "octo-org"
    REPOS = "alpha,beta"

    def connector_config(self, base_url: str) -> dict[str, str]:
        return {
            "base_url": base_url,
            "token": self.credentials["token"],
            "owner": self.OWNER,
            "repos": self.REPOS,
        }

    def authenticate(self, request: ApiRequest) -> None:
        if request.bearer() != self.credentials["token"]:
            raise _error(401, "Bad credentials")

    def rate_limited(self, request: ApiRequest) -> ApiResponse:
        return ApiResponse(
            429,
            {"message": "API rate limit exceeded for user.", "documentation_url": DOCS, "status": "429"},
            {"Retry-After": "0", "x-ratelimit-limit": "5000", "x-ratelimit-remaining": "0"},
        )

    def not_found(self, request: ApiRequest) -> ApiResponse:
        return ApiResponse(404, {"message": "Not Found", "documentation_url": DOCS, "status": "404"})

    # ------------------------------------------------------------------ helpers
    def _repo(self, owner: str, name: str) -> dict[str, Any]:
        for repo in self.table("repositories"):
            if (
                repo.get("name") == name
                and str((repo.get("owner") or {}).get("login", "")).lower() == owner.lower()
            ):
                return repo
        raise _error(404, "Not Found")

    def _repo_by_id(self, repo_id: str) -> dict[str, Any]:
        for repo in self.table("repositories"):
            if str(repo.get("id")) == repo_id:
                return repo
        raise _error(404, "Not Found")

    def _page(
        self, request: ApiRequest, table: str, records: list[dict[str, Any]], link_path: str | None = None
    ) -> ApiResponse:
        per_page = request.int_arg("per_page", 30, 1, 100)
        page = request.int_arg("page", 1, 1)
        last = max(1, math.ceil(len(records) / per_page))
        window = records[(page - 1) * per_page : page * per_page]
        path = link_path or request.path

        def link(number: int, rel: str) -> str:
            query = [(k, v[-1]) for k, v in request.query.items() if k != "page"] + [("page", str(number))]
            return f'<{request.url(path, query)}>; rel="{rel}"'

        links = []
        if page < last:
            links += [link(page + 1, "next"), link(last, "last")]
        if page > 1:
            links += [link(1, "first"), link(page - 1, "prev")]
        headers = {"x-ratelimit-limit": "5000", "x-ratelimit-remaining": "4999"}
        if links:
            headers["Link"] = ", ".join(links)
        return ApiResponse(200, self.present_all(table, window), headers)

    @staticmethod
    def _sorted(records: list[dict[str, Any]], field: str, descending: bool) -> list[dict[str, Any]]:
        present = [r for r in records if r.get(field) is not None]
        missing = [r for r in records if r.get(field) is None]
        present.sort(
            key=lambda r: (instant(r[field]) or 0.0) if field.endswith("_at") else r[field],
            reverse=descending,
        )
        return present + missing

    # ------------------------------------------------------------------ repositories
    @route("GET", "/users/{owner}/repos")
    def list_repos(self, request: ApiRequest) -> ApiResponse:
        owner = request.path_params["owner"]
        repos = [
            r
            for r in self.table("repositories")
            if str((r.get("owner") or {}).get("login", "")).lower() == owner.lower()
        ]
        if not repos:
            raise _error(404, "Not Found")
        sort = request.arg("sort", "full_name")
        fields = {
            "created": "created_at",
            "updated": "updated_at",
            "pushed": "pushed_at",
            "full_name": "full_name",
        }
        if sort not in fields:
            raise ApiError(
                422, {"message": "Validation Failed", "errors": [{"field": "sort", "code": "invalid"}]}
            )
        direction = request.arg("direction", "asc" if sort == "full_name" else "desc")
        return self._page(request, "repositories", self._sorted(repos, fields[sort], direction == "desc"))

    # ------------------------------------------------------------------ issues
    def _issues(self, request: ApiRequest, repo: dict[str, Any], link_path: str | None = None) -> ApiResponse:
        suffix = f"/repos/{repo['owner']['login']}/{repo['name']}"
        issues = [i for i in self.table("issues") if str(i.get("repository_url", "")).endswith(suffix)]
        state = request.arg("state", "open")
        if state not in ("open", "closed", "all"):
            raise ApiError(
                422, {"message": "Validation Failed", "errors": [{"field": "state", "code": "invalid"}]}
            )
        if state != "all":
            issues = [i for i in issues if i.get("state") == state]
        since = request.arg("since")
        if since:
            bound = instant(since)
            if bound is None:
                raise ApiError(422, {"message": f"Invalid since: {since}"})
            issues = [i for i in issues if (instant(i.get("updated_at")) or 0) >= bound]
        sort = {"created": "created_at", "updated": "updated_at", "comments": "comments"}.get(
            request.arg("sort", "created") or "created", "created_at"
        )
        issues = self._sorted(issues, sort, request.arg("direction", "desc") == "desc")
        return self._page(request, "issues", issues, link_path)

    @route("GET", "/repos/{owner}/{repo}/issues")
    def list_issues(self, request: ApiRequest) -> ApiResponse:
        repo = self._repo(request.path_params["owner"], request.path_params["repo"])
        link_path = f"/repositories/{repo['id']}/issues" if self.drifting("new_endpoint") else None
        return self._issues(request, repo, link_path)

    @route("GET", "/repositories/{repo_id}/issues")
    def list_issues_by_id(self, request: ApiRequest) -> ApiResponse:
        if not self.drifting("new_endpoint"):
            return self.not_found(request)
        return self._issues(request, self._repo_by_id(request.path_params["repo_id"]))

    @route("POST", "/repos/{owner}/{repo}/issues", name="create_issue")
    def create_issue(self, request: ApiRequest) -> ApiResponse:
        repo = self._repo(request.path_params["owner"], request.path_params["repo"])
        body = request.json() or {}
        if not isinstance(body, dict) or not body.get("title"):
            raise ApiError(
                422, {"message": "Validation Failed", "errors": [{"field": "title", "code": "missing_field"}]}
            )
        issues = self.table("issues")
        api = "https://api.github.com"
        repo_url = f"{api}/repos/{repo['owner']['login']}/{repo['name']}"
        numbers = [
            i.get("number", 0)
            for i in issues
            if str(i.get("repository_url", "")).endswith(repo_url[len(api) :])
        ]
        number = max(numbers, default=0) + 1
        issue = copy.deepcopy(issues[0]) if issues else {}
        stamp = now_iso()
        issue.update(
            {
                "id": max((i.get("id", 0) for i in issues), default=0) + 1,
                "node_id": "I_" + secrets.token_hex(8),
                "number": number,
                "title": body["title"],
                "body": body.get("body"),
                "state": "open",
                "state_reason": None,
                "locked": False,
                "comments": 0,
                "labels": [],
                "assignee": None,
                "assignees": [],
                "milestone": None,
                "closed_at": None,
                "created_at": stamp,
                "updated_at": stamp,
                "repository_url": repo_url,
                "url": f"{repo_url}/issues/{number}",
                "html_url": f"https://github.com/{repo['owner']['login']}/{repo['name']}/issues/{number}",
                "comments_url": f"{repo_url}/issues/{number}/comments",
                "events_url": f"{repo_url}/issues/{number}/events",
                "labels_url": f"{repo_url}/issues/{number}/labels{{/name}}",
                "timeline_url": f"{repo_url}/issues/{number}/timeline",
            }
        )
        issue.pop("pull_request", None)
        issues.append(issue)
        return ApiResponse(201, self.present("issues", issue))

    # ------------------------------------------------------------------ commits
    def _commits(
        self, request: ApiRequest, repo: dict[str, Any], link_path: str | None = None
    ) -> ApiResponse:
        marker = f"/repos/{repo['owner']['login']}/{repo['name']}/"
        commits = [c for c in self.table("commits") if marker in str(c.get("url", ""))]
        for name, keep in (("since", lambda t, b: t >= b), ("until", lambda t, b: t <= b)):
            raw = request.arg(name)
            if raw:
                bound = instant(raw)
                if bound is None:
                    raise ApiError(422, {"message": f"Invalid {name}: {raw}"})
                commits = [
                    c
                    for c in commits
                    if keep(instant(((c.get("commit") or {}).get("author") or {}).get("date")) or 0, bound)
                ]
        author = request.arg("author")
        if author:
            commits = [c for c in commits if (c.get("author") or {}).get("login") == author]
        commits.sort(key=lambda c: instant(c["commit"]["author"]["date"]) or 0, reverse=True)
        return self._page(request, "commits", commits, link_path)

    @route("GET", "/repos/{owner}/{repo}/commits")
    def list_commits(self, request: ApiRequest) -> ApiResponse:
        repo = self._repo(request.path_params["owner"], request.path_params["repo"])
        link_path = f"/repositories/{repo['id']}/commits" if self.drifting("new_endpoint") else None
        return self._commits(request, repo, link_path)

    @route("GET", "/repositories/{repo_id}/commits")
    def list_commits_by_id(self, request: ApiRequest) -> ApiResponse:
        if not self.drifting("new_endpoint"):
            return self.not_found(request)
        return self._commits(request, self._repo_by_id(request.path_params["repo_id"]))
