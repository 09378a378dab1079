"""Microsoft Graph connector (users, groups, directory audit log, organization): see msgraph.py."""
