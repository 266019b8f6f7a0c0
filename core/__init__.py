"""Shared foundation: database base, staff accounts and roles, the audit trail."""
