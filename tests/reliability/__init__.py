"""Reliability suite: hostile inputs, a soak under injected faults, and security checks."""
