"""HubSpot connector (CRM v3 contacts, companies and owners; v1 engagements): see hubspot.py."""
