"""The conversations inbox: every message in and out, per customer, and who answers it."""
