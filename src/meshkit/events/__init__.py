"""The typed event contract of the mesh: models, envelope, catalogue.

Names are imported lazily (module ``__getattr__``) so that a Lambda importing one model does not
pay for all of them.
"""

from __future__ import annotations

from meshkit._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    # base and helpers
    "EventDetail": "base",
    "MeshEvent": "base",
    "AddressedEvent": "base",
    "new_correlation_id": "base",
    "EventEnvelope": "envelope",
    "InvalidEnvelopeError": "envelope",
    "delivered_envelope": "envelope",
    "parse_envelope": "envelope",
    "to_put_events_entry": "envelope",
    "entry_size": "envelope",
    "MAX_ENTRY_BYTES": "envelope",
    "all_events": "catalogue",
    "mesh_events": "catalogue",
    "lookup": "catalogue",
    "parse_detail": "catalogue",
    "parse_event": "catalogue",
    "register": "catalogue",
    "InvalidEventError": "catalogue",
    "EventContractError": "exceptions",
    "EventTooLargeError": "exceptions",
    "UnknownEventTypeError": "exceptions",
    # domains
    "SharingMode": "domains",
    "DomainRegistrationRequested": "domains",
    "DomainRegistered": "domains",
    "DomainDeregistrationRequested": "domains",
    "DomainDeregistered": "domains",
    # products
    "TableSpec": "products",
    "RegisteredTable": "products",
    "Column": "products",
    "TableSchema": "products",
    "ProductRegistrationRequested": "products",
    "ProductRegistered": "products",
    "ProductLinked": "products",
    "ProductSchemaUpdated": "products",
    "ProductCrawlFailed": "products",
    "ProductDeprecated": "products",
    "ProductDeprecationNotice": "products",
    # access
    "Permission": "access",
    "AccessRequested": "access",
    "ApprovalRequested": "access",
    "AccessDecided": "access",
    "AccessGranted": "access",
    "AccessLinked": "access",
    "AccessLinkFailed": "access",
    "AccessDenied": "access",
    "AccessRevoked": "access",
    "AccessExpired": "access",
    # permissions-as-code
    "GrantChange": "permissions",
    "PermissionsApplied": "permissions",
    "PermissionsDriftDetected": "permissions",
    # erasure
    "ErasureRequested": "erasure",
    "ErasurePlanned": "erasure",
    "ErasureApproved": "erasure",
    "ErasureCompleted": "erasure",
    "ErasureCancelled": "erasure",
    "ErasureFailed": "erasure",
    # publication
    "DomainPublicationConfigured": "publication",
    "ProductPublicationFailed": "publication",
    "ProductPublicationOverride": "publication",
    "ProductPublished": "publication",
    "ProductUnpublished": "publication",
    "SubscriptionRequestReceived": "publication",
    # drop zones
    "PartnerName": "dropzone",
    "DropZoneCredentialsIssued": "dropzone",
    "DropZoneUploadAccepted": "dropzone",
    "DropZoneUploadRejected": "dropzone",
    # operations
    "FlowFailed": "operations",
    "EventRejected": "operations",
    "RejectionKind": "operations",
    # AWS service events
    "GlueCrawlerStateChange": "aws",
    "GlueDataCatalogDatabaseStateChange": "aws",
    "DataZoneDataSourceCreated": "aws",
    "DataZoneDataSourceRunFailed": "aws",
    "DataZoneDataSourceRunSucceeded": "aws",
    "DataZoneEnvironmentDeploymentCompleted": "aws",
    "DataZoneEnvironmentDeploymentFailed": "aws",
    "DataZoneSubscriptionRequestCreated": "aws",
    "ScheduledEvent": "aws",
    "S3ObjectCreated": "aws",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
