"""Filled in by its feature; an empty list keeps the URLconf importable meanwhile."""

urlpatterns: list = []
