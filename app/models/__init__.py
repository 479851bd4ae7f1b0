"""SQLAlchemy models: tenancy, licensing, people and audit."""

from app.models.adjustment import AdjustmentRun
from app.models.audit import AuditEvent
from app.models.catalogue import CatalogueItem, CustomerProfile, ProfileOffer, SalesProfile
from app.models.directory import DirectoryUser, UnmanagedSku, UserLicense
from app.models.insights import InsightSettings, UserActivity
from app.models.jobs import SyncRun
from app.models.licensing import ChangeRequest, Subscription, Tranche
from app.models.mail import MailPreference, SentMail
from app.models.people import Membership, StaffRole, User
from app.models.reports import AzureUsage, BillingAgreement, UsageSnapshot
from app.models.tenancy import Customer, Partner, Reseller

__all__ = [
    "AdjustmentRun",
    "AuditEvent",
    "AzureUsage",
    "BillingAgreement",
    "CatalogueItem",
    "ChangeRequest",
    "Customer",
    "CustomerProfile",
    "DirectoryUser",
    "InsightSettings",
    "MailPreference",
    "Membership",
    "Partner",
    "ProfileOffer",
    "Reseller",
    "SalesProfile",
    "SentMail",
    "StaffRole",
    "Subscription",
    "SyncRun",
    "Tranche",
    "UnmanagedSku",
    "UsageSnapshot",
    "User",
    "UserActivity",
    "UserLicense",
]
