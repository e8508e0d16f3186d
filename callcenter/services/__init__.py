"""Writes of the call center, by topic: `leads` (Kommo in and out), `calls` (taking and
releasing leads, the call, orders against stock, outcomes), `orders` (annulling an order
confirmed by mistake)."""
