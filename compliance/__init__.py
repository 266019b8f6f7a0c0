"""Suspension review, audit PDFs, period reports and exports."""
