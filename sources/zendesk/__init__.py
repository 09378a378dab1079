"""Zendesk Support connector: tickets, users, groups and ticket metric events."""

from sources.zendesk.zendesk import ZendeskLakeflowConnect

__all__ = ["ZendeskLakeflowConnect"]
