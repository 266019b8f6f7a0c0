"""Who may use each endpoint, written out by hand.

tests/web/test_access.py compares this table with the declarations on the views
(core.auth.endpoint_access) and walks every endpoint x role x anonymous against it. When a
view's declaration changes, or a view is added or removed, those tests fail until this table
is changed to match: access rules change on purpose, in review, never by accident.

Each entry maps an endpoint to its declaration. Session pages declare `Roles(...)` (signed-in
staff holding any one of the roles) or `PUBLIC`; the JSON API declares `Token(scope)` (a
bearer token holding the scope; sessions get 401). A new kind of declaration gets its own
class here and its own branch in test_access.expected_status.
"""

from __future__ import annotations

from dataclasses import dataclass

VETTING, INSPECTOR, COMPLIANCE, ADMIN = "vetting", "inspector", "compliance", "admin"
ROLES = (VETTING, INSPECTOR, COMPLIANCE, ADMIN)


@dataclass(frozen=True)
class Roles:
    """A page for signed-in staff holding any one of `names`."""

    names: frozenset[str]

    def __init__(self, *names: str) -> None:
        object.__setattr__(self, "names", frozenset(names))

    def __repr__(self) -> str:
        return f"Roles({', '.join(repr(n) for n in sorted(self.names))})"


@dataclass(frozen=True)
class Public:
    """A page anyone may open without signing in."""

    def __repr__(self) -> str:
        return "PUBLIC"


@dataclass(frozen=True)
class Token:
    """An API endpoint: callers need a bearer token holding `scope`; a session gets 401."""

    scope: str


PUBLIC = Public()
EVERYONE = Roles(*ROLES)

Declaration = Roles | Public | Token

ACCESS_TABLE: dict[str, Declaration] = {
    # served by Flask and extensions
    "static": PUBLIC,
    "bootstrap.static": PUBLIC,
    # core
    "core.login": PUBLIC,
    "core.healthz": PUBLIC,
    "core.logout": EVERYONE,
    "core.home": EVERYONE,
    "core.users": Roles(ADMIN),
    "core.user_new": Roles(ADMIN),
    "core.user_edit": Roles(ADMIN),
    "core.user_set_active": Roles(ADMIN),
    "core.user_password": Roles(ADMIN),
    "core.audit_log": Roles(COMPLIANCE, ADMIN),
    # vetting
    "vetting.sellers": Roles(VETTING, COMPLIANCE),
    "vetting.seller_detail": Roles(VETTING, COMPLIANCE),
    "vetting.seller_new": Roles(VETTING),
    "vetting.seller_edit": Roles(VETTING),
    "vetting.seller_import": Roles(VETTING),
    "vetting.applications": Roles(VETTING, COMPLIANCE),
    "vetting.application_detail": Roles(VETTING, COMPLIANCE),
    "vetting.application_new": Roles(VETTING),
    "vetting.application_transition": Roles(VETTING),
    "vetting.application_item": Roles(VETTING),
    "vetting.application_evidence": Roles(VETTING),
    "vetting.application_decision": Roles(VETTING),
    "vetting.evidence_download": Roles(VETTING, COMPLIANCE),
    "vetting.checklist": Roles(VETTING, COMPLIANCE),
    "vetting.checklist_edit": Roles(VETTING),
    # quality control
    "qc.orders": Roles(INSPECTOR, COMPLIANCE),
    "qc.order_detail": Roles(INSPECTOR, COMPLIANCE),
    "qc.order_place": Roles(INSPECTOR),
    "qc.order_receive": Roles(INSPECTOR),
    "qc.order_cancel": Roles(INSPECTOR),
    "qc.order_lost": Roles(INSPECTOR),
    "qc.order_close": Roles(INSPECTOR),
    "qc.order_inspect": Roles(INSPECTOR),
    "qc.order_amend": Roles(INSPECTOR),
    "qc.order_critical": Roles(INSPECTOR),
    "qc.critical_queue": Roles(INSPECTOR, COMPLIANCE),
    "qc.photo": Roles(INSPECTOR, COMPLIANCE),
    "qc.listings": Roles(VETTING, INSPECTOR, COMPLIANCE),
    "qc.listing_import": Roles(VETTING, COMPLIANCE),
    "qc.plan": Roles(COMPLIANCE),
    "qc.plan_run": Roles(COMPLIANCE),
    # compliance
    "compliance.reviews": Roles(COMPLIANCE),
    "compliance.review_detail": Roles(COMPLIANCE),
    "compliance.seller_file": Roles(COMPLIANCE),
    "compliance.case_new": Roles(COMPLIANCE),
    "compliance.case_decide": Roles(COMPLIANCE),
    "compliance.reinstate": Roles(COMPLIANCE),
    "compliance.revoke": Roles(COMPLIANCE),
    "compliance.reports_page": Roles(COMPLIANCE, ADMIN),
    "compliance.report_detail": Roles(COMPLIANCE, ADMIN),
    "compliance.report_download": Roles(COMPLIANCE, ADMIN),
    "compliance.verify": Roles(COMPLIANCE, ADMIN),
    "compliance.export": Roles(COMPLIANCE, ADMIN),
    "compliance.notices_outbox": Roles(COMPLIANCE),
    "compliance.notice_detail": Roles(COMPLIANCE),
    "compliance.notice_pdf": Roles(COMPLIANCE),
    "compliance.notice_send_again": Roles(COMPLIANCE),
    "compliance.buyers": Roles(COMPLIANCE),
    "compliance.buyer_new": Roles(COMPLIANCE),
    "compliance.buyer_edit": Roles(COMPLIANCE),
    "compliance.buyer_retire": Roles(COMPLIANCE),
    "qc.signal_import": Roles(COMPLIANCE, ADMIN),
    # administration of the integrations
    "core.api_tokens": Roles(ADMIN),
    "core.api_token_create": Roles(ADMIN),
    "core.api_token_revoke": Roles(ADMIN),
    "webhooks.endpoints": Roles(ADMIN),
    "webhooks.endpoint_new": Roles(ADMIN),
    "webhooks.endpoint_detail": Roles(ADMIN),
    "webhooks.endpoint_set_active": Roles(ADMIN),
    "webhooks.dead_letters": Roles(ADMIN),
    "webhooks.redeliver": Roles(ADMIN),
    # the marketplace API (bearer tokens)
    "api.openapi_json": PUBLIC,
    "vetting_api.sellers": Token("read"),
    "vetting_api.seller": Token("read"),
    "vetting_api.label_events": Token("read"),
    "vetting_api.application_create": Token("write"),
    "qc_api.test_orders": Token("compliance"),
}
