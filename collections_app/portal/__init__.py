"""The customer portal (/portal/, current portfolio): a debtor proves who they are with a
one-time code sent to the phone or e-mail on file, then reads their statement and pays,
reports a payment, promises to pay, takes an agreement or asks for a call.

The debtor has no account: the portal keeps the customer's id in the session (its own
keys, apart from staff sign-in) until a short idle timeout. Every action goes through
`collections_app.services`, as the agents' screens and the bot do.
"""
