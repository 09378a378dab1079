"""Spark schemas of the GitHub tables, following the REST API's documented response objects.

Only columns the list endpoints actually return are declared; fields that are always null in a
list response (``mirror_url``, ``performed_via_github_app``, the issue ``type``) are left out.
"""

from __future__ import annotations

from pyspark.sql.types import (
    ArrayType,
    BooleanType,
    DataType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)


def _fields(*specs: tuple[str, DataType], required: tuple[str, ...] = ()) -> StructType:
    """A struct of nullable fields, except the ``required`` ones (primary keys)."""
    return StructType([StructField(name, data_type, name not in required) for name, data_type in specs])


# "simple-user": the account object embedded in repositories, issues and commits.
USER = _fields(
    ("login", StringType()),
    ("id", LongType()),
    ("node_id", StringType()),
    ("avatar_url", StringType()),
    ("gravatar_id", StringType()),
    ("url", StringType()),
    ("html_url", StringType()),
    ("followers_url", StringType()),
    ("following_url", StringType()),
    ("gists_url", StringType()),
    ("starred_url", StringType()),
    ("subscriptions_url", StringType()),
    ("organizations_url", StringType()),
    ("repos_url", StringType()),
    ("events_url", StringType()),
    ("received_events_url", StringType()),
    ("type", StringType()),
    ("user_view_type", StringType()),
    ("site_admin", BooleanType()),
)

LICENSE = _fields(
    ("key", StringType()),
    ("name", StringType()),
    ("spdx_id", StringType()),
    ("url", StringType()),
    ("node_id", StringType()),
)

PERMISSIONS = _fields(
    ("admin", BooleanType()),
    ("maintain", BooleanType()),
    ("push", BooleanType()),
    ("triage", BooleanType()),
    ("pull", BooleanType()),
)

REPOSITORIES_SCHEMA = _fields(
    ("id", LongType()),
    ("node_id", StringType()),
    ("name", StringType()),
    ("full_name", StringType()),
    ("private", BooleanType()),
    ("owner", USER),
    ("html_url", StringType()),
    ("description", StringType()),
    ("fork", BooleanType()),
    ("url", StringType()),
    ("forks_url", StringType()),
    ("keys_url", StringType()),
    ("collaborators_url", StringType()),
    ("teams_url", StringType()),
    ("hooks_url", StringType()),
    ("issue_events_url", StringType()),
    ("events_url", StringType()),
    ("assignees_url", StringType()),
    ("branches_url", StringType()),
    ("tags_url", StringType()),
    ("blobs_url", StringType()),
    ("git_tags_url", StringType()),
    ("git_refs_url", StringType()),
    ("trees_url", StringType()),
    ("statuses_url", StringType()),
    ("languages_url", StringType()),
    ("stargazers_url", StringType()),
    ("contributors_url", StringType()),
    ("subscribers_url", StringType()),
    ("subscription_url", StringType()),
    ("commits_url", StringType()),
    ("git_commits_url", StringType()),
    ("comments_url", StringType()),
    ("issue_comment_url", StringType()),
    ("contents_url", StringType()),
    ("compare_url", StringType()),
    ("merges_url", StringType()),
    ("archive_url", StringType()),
    ("downloads_url", StringType()),
    ("issues_url", StringType()),
    ("pulls_url", StringType()),
    ("milestones_url", StringType()),
    ("notifications_url", StringType()),
    ("labels_url", StringType()),
    ("releases_url", StringType()),
    ("deployments_url", StringType()),
    ("created_at", TimestampType()),
    ("updated_at", TimestampType()),
    ("pushed_at", TimestampType()),
    ("git_url", StringType()),
    ("ssh_url", StringType()),
    ("clone_url", StringType()),
    ("svn_url", StringType()),
    ("homepage", StringType()),
    ("size", LongType()),
    ("stargazers_count", LongType()),
    ("watchers_count", LongType()),
    ("language", StringType()),
    ("has_issues", BooleanType()),
    ("has_projects", BooleanType()),
    ("has_downloads", BooleanType()),
    ("has_wiki", BooleanType()),
    ("has_pages", BooleanType()),
    ("has_discussions", BooleanType()),
    ("forks_count", LongType()),
    ("archived", BooleanType()),
    ("disabled", BooleanType()),
    ("open_issues_count", LongType()),
    ("license", LICENSE),
    ("allow_forking", BooleanType()),
    ("is_template", BooleanType()),
    ("web_commit_signoff_required", BooleanType()),
    ("topics", ArrayType(StringType(), True)),
    ("visibility", StringType()),
    ("forks", LongType()),
    ("open_issues", LongType()),
    ("watchers", LongType()),
    ("default_branch", StringType()),
    ("permissions", PERMISSIONS),
    required=("id",),
)

LABEL = _fields(
    ("id", LongType()),
    ("node_id", StringType()),
    ("url", StringType()),
    ("name", StringType()),
    ("color", StringType()),
    ("default", BooleanType()),
    ("description", StringType()),
)

MILESTONE = _fields(
    ("url", StringType()),
    ("html_url", StringType()),
    ("labels_url", StringType()),
    ("id", LongType()),
    ("node_id", StringType()),
    ("number", LongType()),
    ("title", StringType()),
    ("description", StringType()),
    ("creator", USER),
    ("open_issues", LongType()),
    ("closed_issues", LongType()),
    ("state", StringType()),
    ("created_at", TimestampType()),
    ("updated_at", TimestampType()),
    ("due_on", TimestampType()),
    ("closed_at", TimestampType()),
)

PULL_REQUEST_REF = _fields(
    ("url", StringType()),
    ("html_url", StringType()),
    ("diff_url", StringType()),
    ("patch_url", StringType()),
    ("merged_at", TimestampType()),
)

REACTIONS = _fields(
    ("url", StringType()),
    ("total_count", LongType()),
    ("+1", LongType()),
    ("-1", LongType()),
    ("laugh", LongType()),
    ("hooray", LongType()),
    ("confused", LongType()),
    ("heart", LongType()),
    ("rocket", LongType()),
    ("eyes", LongType()),
)

SUB_ISSUES_SUMMARY = _fields(
    ("total", LongType()),
    ("completed", LongType()),
    ("percent_completed", LongType()),
)

ISSUES_SCHEMA = _fields(
    ("url", StringType()),
    ("repository_url", StringType()),
    ("labels_url", StringType()),
    ("comments_url", StringType()),
    ("events_url", StringType()),
    ("html_url", StringType()),
    ("id", LongType()),
    ("node_id", StringType()),
    ("number", LongType()),
    ("title", StringType()),
    ("user", USER),
    ("labels", ArrayType(LABEL, True)),
    ("state", StringType()),
    ("locked", BooleanType()),
    ("assignee", USER),
    ("assignees", ArrayType(USER, True)),
    ("milestone", MILESTONE),
    ("comments", LongType()),
    ("created_at", TimestampType()),
    ("updated_at", TimestampType()),
    ("closed_at", TimestampType()),
    ("author_association", StringType()),
    ("active_lock_reason", StringType()),
    ("sub_issues_summary", SUB_ISSUES_SUMMARY),
    ("draft", BooleanType()),
    ("pull_request", PULL_REQUEST_REF),
    ("body", StringType()),
    ("reactions", REACTIONS),
    ("timeline_url", StringType()),
    ("state_reason", StringType()),
    required=("id", "updated_at"),
)

GIT_ACTOR = _fields(
    ("name", StringType()),
    ("email", StringType()),
    ("date", TimestampType()),
)

VERIFICATION = _fields(
    ("verified", BooleanType()),
    ("reason", StringType()),
    ("signature", StringType()),
    ("payload", StringType()),
    ("verified_at", TimestampType()),
)

GIT_COMMIT = _fields(
    ("author", GIT_ACTOR),
    ("committer", GIT_ACTOR),
    ("message", StringType()),
    ("tree", _fields(("sha", StringType()), ("url", StringType()))),
    ("url", StringType()),
    ("comment_count", LongType()),
    ("verification", VERIFICATION),
)

PARENT = _fields(
    ("sha", StringType()),
    ("url", StringType()),
    ("html_url", StringType()),
)

COMMITS_SCHEMA = _fields(
    ("sha", StringType()),
    ("node_id", StringType()),
    ("commit", GIT_COMMIT),
    ("url", StringType()),
    ("html_url", StringType()),
    ("comments_url", StringType()),
    ("author", USER),
    ("committer", USER),
    ("parents", ArrayType(PARENT, True)),
    required=("sha",),
)

TABLE_SCHEMAS: dict[str, StructType] = {
    "repositories": REPOSITORIES_SCHEMA,
    "issues": ISSUES_SCHEMA,
    "commits": COMMITS_SCHEMA,
}
