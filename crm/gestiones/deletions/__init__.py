"""The deletions audit screen and the confirmation step of gestiones' deletions; the audit
itself is the core's (`crm.deletions`)."""

# Registers gestiones' kinds with the audit whichever of these modules is imported first.
from crm.gestiones.deletions import kinds  # noqa: F401
