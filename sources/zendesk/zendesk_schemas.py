"""Spark schemas of the Zendesk Support tables, following the documented JSON objects."""

from __future__ import annotations

from pyspark.sql.types import (
    ArrayType,
    BooleanType,
    DataType,
    LongType,
    MapType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)


def _fields(*specs: tuple[str, DataType], required: tuple[str, ...] = ()) -> StructType:
    """A struct of nullable fields, except the ``required`` ones (primary keys, cursors)."""
    return StructType([StructField(name, data_type, name not in required) for name, data_type in specs])


# ``via.source.from`` / ``via.source.to``: which keys appear depends on the channel.
VIA_PARTY = _fields(
    ("address", StringType()),
    ("name", StringType()),
    ("formatted_phone", StringType()),
    ("phone", StringType()),
    ("ticket_id", LongType()),
    ("subject", StringType()),
)

VIA = _fields(
    ("channel", StringType()),
    (
        "source",
        _fields(
            ("from", VIA_PARTY),
            ("to", VIA_PARTY),
            ("rel", StringType()),
        ),
    ),
)

CUSTOM_FIELD = _fields(
    ("id", LongType()),
    ("value", StringType()),
)

SATISFACTION_RATING = _fields(
    ("id", LongType()),
    ("score", StringType()),
    ("comment", StringType()),
    ("reason", StringType()),
    ("reason_id", LongType()),
)

TICKETS_SCHEMA = _fields(
    ("url", StringType()),
    ("id", LongType()),
    ("external_id", StringType()),
    ("via", VIA),
    ("created_at", TimestampType()),
    ("updated_at", TimestampType()),
    ("generated_timestamp", LongType()),
    ("type", StringType()),
    ("subject", StringType()),
    ("raw_subject", StringType()),
    ("description", StringType()),
    ("priority", StringType()),
    ("status", StringType()),
    ("recipient", StringType()),
    ("requester_id", LongType()),
    ("submitter_id", LongType()),
    ("assignee_id", LongType()),
    ("organization_id", LongType()),
    ("group_id", LongType()),
    ("collaborator_ids", ArrayType(LongType(), True)),
    ("follower_ids", ArrayType(LongType(), True)),
    ("email_cc_ids", ArrayType(LongType(), True)),
    ("problem_id", LongType()),
    ("has_incidents", BooleanType()),
    ("is_public", BooleanType()),
    ("due_at", TimestampType()),
    ("tags", ArrayType(StringType(), True)),
    ("custom_fields", ArrayType(CUSTOM_FIELD, True)),
    ("satisfaction_rating", SATISFACTION_RATING),
    ("sharing_agreement_ids", ArrayType(LongType(), True)),
    ("custom_status_id", LongType()),
    ("fields", ArrayType(CUSTOM_FIELD, True)),
    ("followup_ids", ArrayType(LongType(), True)),
    ("ticket_form_id", LongType()),
    ("brand_id", LongType()),
    ("allow_channelback", BooleanType()),
    ("allow_attachments", BooleanType()),
    ("from_messaging_channel", BooleanType()),
    required=("id", "updated_at"),
)

GROUPS_SCHEMA = _fields(
    ("url", StringType()),
    ("id", LongType()),
    ("is_public", BooleanType()),
    ("name", StringType()),
    ("description", StringType()),
    ("default", BooleanType()),
    ("deleted", BooleanType()),
    ("created_at", TimestampType()),
    ("updated_at", TimestampType()),
    required=("id",),
)

THUMBNAIL = _fields(
    ("url", StringType()),
    ("id", LongType()),
    ("file_name", StringType()),
    ("content_url", StringType()),
    ("mapped_content_url", StringType()),
    ("content_type", StringType()),
    ("size", LongType()),
    ("width", LongType()),
    ("height", LongType()),
    ("inline", BooleanType()),
    ("deleted", BooleanType()),
)

PHOTO = StructType([*THUMBNAIL.fields, StructField("thumbnails", ArrayType(THUMBNAIL, True), True)])

USERS_SCHEMA = _fields(
    ("id", LongType()),
    ("url", StringType()),
    ("name", StringType()),
    ("email", StringType()),
    ("created_at", TimestampType()),
    ("updated_at", TimestampType()),
    ("time_zone", StringType()),
    ("iana_time_zone", StringType()),
    ("phone", StringType()),
    ("shared_phone_number", BooleanType()),
    ("photo", PHOTO),
    ("locale_id", LongType()),
    ("locale", StringType()),
    ("organization_id", LongType()),
    ("role", StringType()),
    ("verified", BooleanType()),
    ("external_id", StringType()),
    ("tags", ArrayType(StringType(), True)),
    ("alias", StringType()),
    ("active", BooleanType()),
    ("shared", BooleanType()),
    ("shared_agent", BooleanType()),
    ("last_login_at", TimestampType()),
    ("two_factor_auth_enabled", BooleanType()),
    ("signature", StringType()),
    ("details", StringType()),
    ("notes", StringType()),
    ("role_type", LongType()),
    ("custom_role_id", LongType()),
    ("moderator", BooleanType()),
    ("ticket_restriction", StringType()),
    ("only_private_comments", BooleanType()),
    ("restricted_agent", BooleanType()),
    ("suspended", BooleanType()),
    ("default_group_id", LongType()),
    ("report_csv", BooleanType()),
    ("user_fields", MapType(StringType(), StringType(), True)),
    required=("id", "updated_at"),
)

SLA = _fields(
    ("target", LongType()),
    ("target_in_seconds", LongType()),
    ("business_hours", BooleanType()),
    (
        "policy",
        _fields(
            ("id", LongType()),
            ("title", StringType()),
            ("description", StringType()),
        ),
    ),
)

METRIC_STATUS = _fields(
    ("calendar", LongType()),
    ("business", LongType()),
)

TICKET_METRIC_EVENTS_SCHEMA = _fields(
    ("id", LongType()),
    ("ticket_id", LongType()),
    ("metric", StringType()),
    ("instance_id", LongType()),
    ("type", StringType()),
    ("time", TimestampType()),
    ("sla", SLA),
    ("status", METRIC_STATUS),
    ("deleted", BooleanType()),
    required=("id", "time"),
)

TABLE_SCHEMAS: dict[str, StructType] = {
    "tickets": TICKETS_SCHEMA,
    "groups": GROUPS_SCHEMA,
    "users": USERS_SCHEMA,
    "ticket_metric_events": TICKET_METRIC_EVENTS_SCHEMA,
}
