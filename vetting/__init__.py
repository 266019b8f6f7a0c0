"""Sellers, applications, the certification checklist and the Back Label."""
