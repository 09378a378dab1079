"""Spark schemas and table metadata of the Microsoft Graph connector (v1.0 resource shapes)."""

from __future__ import annotations

from pyspark.sql.types import (
    ArrayType,
    BooleanType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)


def _strings(*names: str) -> list[StructField]:
    return [StructField(name, StringType(), nullable=True) for name in names]


#: The user properties requested with ``$select`` (several, such as accountEnabled and
#: createdDateTime, are only returned when selected).
USER_FIELDS: tuple[str, ...] = (
    "id",
    "displayName",
    "givenName",
    "surname",
    "userPrincipalName",
    "mail",
    "jobTitle",
    "department",
    "officeLocation",
    "mobilePhone",
    "businessPhones",
    "preferredLanguage",
    "accountEnabled",
    "userType",
    "usageLocation",
    "createdDateTime",
)

USER_SCHEMA = StructType(
    [
        StructField("id", StringType(), nullable=False),
        *_strings(
            "displayName",
            "givenName",
            "surname",
            "userPrincipalName",
            "mail",
            "jobTitle",
            "department",
            "officeLocation",
            "mobilePhone",
        ),
        StructField("businessPhones", ArrayType(StringType()), nullable=True),
        *_strings("preferredLanguage"),
        StructField("accountEnabled", BooleanType(), nullable=True),
        *_strings("userType", "usageLocation"),
        StructField("createdDateTime", TimestampType(), nullable=True),
    ]
)

GROUP_FIELDS: tuple[str, ...] = (
    "id",
    "displayName",
    "description",
    "mail",
    "mailNickname",
    "mailEnabled",
    "securityEnabled",
    "groupTypes",
    "visibility",
    "securityIdentifier",
    "createdDateTime",
    "renewedDateTime",
)

GROUP_SCHEMA = StructType(
    [
        StructField("id", StringType(), nullable=False),
        *_strings("displayName", "description", "mail", "mailNickname"),
        StructField("mailEnabled", BooleanType(), nullable=True),
        StructField("securityEnabled", BooleanType(), nullable=True),
        StructField("groupTypes", ArrayType(StringType()), nullable=True),
        *_strings("visibility", "securityIdentifier"),
        StructField("createdDateTime", TimestampType(), nullable=True),
        StructField("renewedDateTime", TimestampType(), nullable=True),
    ]
)

DIRECTORY_AUDIT_SCHEMA = StructType(
    [
        StructField("id", StringType(), nullable=False),
        *_strings("category", "correlationId", "result", "resultReason", "activityDisplayName"),
        StructField("activityDateTime", TimestampType(), nullable=True),
        *_strings("loggedByService", "operationType"),
        StructField(
            "initiatedBy",
            StructType(
                [
                    StructField(
                        "user",
                        StructType(_strings("id", "displayName", "userPrincipalName", "ipAddress")),
                        nullable=True,
                    ),
                    StructField(
                        "app",
                        StructType(
                            _strings("appId", "displayName", "servicePrincipalId", "servicePrincipalName")
                        ),
                        nullable=True,
                    ),
                ]
            ),
            nullable=True,
        ),
        StructField(
            "targetResources",
            ArrayType(
                StructType(
                    [
                        *_strings("id", "displayName", "type", "userPrincipalName", "groupType"),
                        StructField(
                            "modifiedProperties",
                            ArrayType(StructType(_strings("displayName", "oldValue", "newValue"))),
                            nullable=True,
                        ),
                    ]
                )
            ),
            nullable=True,
        ),
        StructField("additionalDetails", ArrayType(StructType(_strings("key", "value"))), nullable=True),
    ]
)

ORGANIZATION_SCHEMA = StructType(
    [
        StructField("id", StringType(), nullable=False),
        *_strings(
            "displayName",
            "tenantType",
            "countryLetterCode",
            "city",
            "state",
            "street",
            "postalCode",
            "preferredLanguage",
        ),
        StructField("createdDateTime", TimestampType(), nullable=True),
        StructField("businessPhones", ArrayType(StringType()), nullable=True),
        StructField("technicalNotificationMails", ArrayType(StringType()), nullable=True),
        StructField(
            "verifiedDomains",
            ArrayType(
                StructType(
                    [
                        *_strings("capabilities"),
                        StructField("isDefault", BooleanType(), nullable=True),
                        StructField("isInitial", BooleanType(), nullable=True),
                        *_strings("name", "type"),
                    ]
                )
            ),
            nullable=True,
        ),
        StructField(
            "assignedPlans",
            ArrayType(
                StructType(
                    [
                        StructField("assignedDateTime", TimestampType(), nullable=True),
                        *_strings("capabilityStatus", "service", "servicePlanId"),
                    ]
                )
            ),
            nullable=True,
        ),
    ]
)

TABLE_SCHEMAS: dict[str, StructType] = {
    "users": USER_SCHEMA,
    "groups": GROUP_SCHEMA,
    "directory_audits": DIRECTORY_AUDIT_SCHEMA,
    "organization": ORGANIZATION_SCHEMA,
}

TABLE_METADATA: dict[str, dict] = {
    "users": {"primary_keys": ["id"], "ingestion_type": "snapshot"},
    "groups": {"primary_keys": ["id"], "ingestion_type": "snapshot"},
    "directory_audits": {
        "primary_keys": ["id"],
        "cursor_field": "activityDateTime",
        "ingestion_type": "append",
    },
    "organization": {"primary_keys": ["id"], "ingestion_type": "snapshot"},
}
