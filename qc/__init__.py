"""Sampling plan, mystery test orders, inspections, scoring and statistics."""
