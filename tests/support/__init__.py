"""Helpers shared by the integration, e2e and fault tiers."""
