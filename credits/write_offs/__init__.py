"""Castigo en lote: writing off many active loans at once, in the background (services),
and its pages (views)."""
