"""GitHub connector: repositories, issues and commits through the GitHub REST API."""

from sources.github.github import GithubLakeflowConnect

__all__ = ["GithubLakeflowConnect"]
