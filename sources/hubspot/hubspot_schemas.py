"""Spark schemas and table metadata of the HubSpot connector.

CRM v3 objects share one envelope, ``{id, properties, createdAt, updatedAt, archived}``;
HubSpot returns every property value as a string (or null), whatever the property's type, so
``properties`` is a struct of strings holding exactly the properties the connector asks for.
"""

from __future__ import annotations

from pyspark.sql.types import (
    ArrayType,
    BooleanType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

#: Contact properties requested from the search endpoint.
CONTACT_PROPERTIES: tuple[str, ...] = (
    "email",
    "firstname",
    "lastname",
    "phone",
    "company",
    "jobtitle",
    "lifecyclestage",
    "hs_lead_status",
    "hubspot_owner_id",
    "createdate",
    "lastmodifieddate",
    "hs_object_id",
)

#: Company properties requested from the search endpoint.
COMPANY_PROPERTIES: tuple[str, ...] = (
    "name",
    "domain",
    "industry",
    "phone",
    "city",
    "state",
    "country",
    "numberofemployees",
    "annualrevenue",
    "lifecyclestage",
    "hubspot_owner_id",
    "createdate",
    "hs_lastmodifieddate",
    "hs_object_id",
)


def _crm_object_schema(properties: tuple[str, ...]) -> StructType:
    return StructType(
        [
            StructField("id", StringType(), nullable=False),
            StructField(
                "properties",
                StructType([StructField(name, StringType(), nullable=True) for name in properties]),
                nullable=True,
            ),
            StructField("createdAt", TimestampType(), nullable=True),
            StructField("updatedAt", TimestampType(), nullable=True),
            StructField("archived", BooleanType(), nullable=True),
        ]
    )


OWNER_SCHEMA = StructType(
    [
        StructField("id", StringType(), nullable=False),
        StructField("email", StringType(), nullable=True),
        StructField("type", StringType(), nullable=True),
        StructField("firstName", StringType(), nullable=True),
        StructField("lastName", StringType(), nullable=True),
        StructField("userId", LongType(), nullable=True),
        StructField("userIdIncludingInactive", LongType(), nullable=True),
        StructField("createdAt", TimestampType(), nullable=True),
        StructField("updatedAt", TimestampType(), nullable=True),
        StructField("archived", BooleanType(), nullable=True),
        StructField(
            "teams",
            ArrayType(
                StructType(
                    [
                        StructField("id", StringType(), nullable=True),
                        StructField("name", StringType(), nullable=True),
                        StructField("primary", BooleanType(), nullable=True),
                    ]
                )
            ),
            nullable=True,
        ),
    ]
)

# Engagements v1 (``/engagements/v1/engagements/paged``): every timestamp is epoch milliseconds.
ENGAGEMENT_SCHEMA = StructType(
    [
        StructField(
            "engagement",
            StructType(
                [
                    StructField("id", LongType(), nullable=False),
                    StructField("portalId", LongType(), nullable=True),
                    StructField("active", BooleanType(), nullable=True),
                    StructField("createdAt", LongType(), nullable=True),
                    StructField("lastUpdated", LongType(), nullable=True),
                    StructField("createdBy", LongType(), nullable=True),
                    StructField("modifiedBy", LongType(), nullable=True),
                    StructField("ownerId", LongType(), nullable=True),
                    StructField("type", StringType(), nullable=True),
                    StructField("timestamp", LongType(), nullable=True),
                    StructField("source", StringType(), nullable=True),
                    StructField("bodyPreview", StringType(), nullable=True),
                    StructField("bodyPreviewIsTruncated", BooleanType(), nullable=True),
                ]
            ),
            nullable=False,
        ),
        StructField(
            "associations",
            StructType(
                [
                    StructField(name, ArrayType(LongType()), nullable=True)
                    for name in (
                        "contactIds",
                        "companyIds",
                        "dealIds",
                        "ownerIds",
                        "workflowIds",
                        "ticketIds",
                    )
                ]
            ),
            nullable=True,
        ),
        StructField(
            "attachments",
            ArrayType(StructType([StructField("id", LongType(), nullable=True)])),
            nullable=True,
        ),
        # The metadata's shape depends on engagement.type (NOTE, EMAIL, CALL, MEETING, TASK);
        # this is the union of the commonly used fields.
        StructField(
            "metadata",
            StructType(
                [
                    StructField("body", StringType(), nullable=True),
                    StructField("subject", StringType(), nullable=True),
                    StructField("title", StringType(), nullable=True),
                    StructField("status", StringType(), nullable=True),
                    StructField("taskType", StringType(), nullable=True),
                    StructField("startTime", LongType(), nullable=True),
                    StructField("endTime", LongType(), nullable=True),
                    StructField("toNumber", StringType(), nullable=True),
                    StructField("fromNumber", StringType(), nullable=True),
                    StructField("durationMilliseconds", LongType(), nullable=True),
                    StructField("disposition", StringType(), nullable=True),
                ]
            ),
            nullable=True,
        ),
    ]
)

TABLE_SCHEMAS: dict[str, StructType] = {
    "contacts": _crm_object_schema(CONTACT_PROPERTIES),
    "companies": _crm_object_schema(COMPANY_PROPERTIES),
    "owners": OWNER_SCHEMA,
    "engagements": ENGAGEMENT_SCHEMA,
}

TABLE_METADATA: dict[str, dict] = {
    "contacts": {
        "primary_keys": ["id"],
        "cursor_field": "updatedAt",
        "ingestion_type": "cdc_with_deletes",
    },
    "companies": {"primary_keys": ["id"], "cursor_field": "updatedAt", "ingestion_type": "cdc"},
    "owners": {"primary_keys": ["id"], "ingestion_type": "snapshot"},
    "engagements": {
        "primary_keys": ["engagement.id"],
        "cursor_field": "engagement.lastUpdated",
        "ingestion_type": "append",
    },
}
