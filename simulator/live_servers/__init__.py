"""Live servers: a real HTTP API per example source, for record mode without the internet.

``python -m connector_watch.simulator.live_servers <source> [--port N] [--drift KIND ...]`` starts
one on 127.0.0.1 and prints its base URL. Tests start them with
:func:`~simulator.live_servers.process.start` (a separate process on a free port,
stopped at the end). See ``README.md`` here.
"""

from __future__ import annotations

from connector_watch.simulator.live_servers.framework import Drift, LiveApp, make_server

SOURCES = ("github", "hubspot", "msgraph", "zendesk")


def app_class(source: str) -> type[LiveApp]:
    """The :class:`LiveApp` of an example source."""
    if source == "github":
        from connector_watch.simulator.live_servers.github import GithubApp

        return GithubApp
    if source == "zendesk":
        from connector_watch.simulator.live_servers.zendesk import ZendeskApp

        return ZendeskApp
    if source == "hubspot":
        from connector_watch.simulator.live_servers.hubspot import HubspotApp

        return HubspotApp
    if source == "msgraph":
        from connector_watch.simulator.live_servers.msgraph import MsgraphApp

        return MsgraphApp
    raise ValueError(f"no live server for {source!r}; available: {', '.join(SOURCES)}")


__all__ = ["SOURCES", "Drift", "LiveApp", "app_class", "make_server"]
