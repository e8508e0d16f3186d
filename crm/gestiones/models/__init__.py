"""The gestiones tables, one module per topic; import them from here.

A process is configured, not coded: a `GestionType` has its states, the actions allowed in
each state and the results each action may have (the seed's follow-up table: *Acción /
Resultado / Estado / Cambia estado / Alerta cliente*).
`crm.gestiones.services.record_follow_up` applies one row of that table to a `Gestion`.
"""

from crm.gestiones.models.applications import CreditApplication, CreditLead
from crm.gestiones.models.campaigns import (
    Campaign,
    CampaignTarget,
    LifecycleEvent,
    LifecycleRun,
)
from crm.gestiones.models.gestiones import (
    Attachment,
    FollowUp,
    Gestion,
    Goal,
    Notification,
    attachment_upload_to,
)
from crm.gestiones.models.processes import (
    CLOSED_OUTCOMES,
    USER,
    Action,
    ActionResult,
    DocumentTemplate,
    FormField,
    GestionState,
    GestionType,
    Outcome,
    RejectionReason,
    StateAgent,
    template_upload_to,
)
from crm.gestiones.models.reports import (
    ChannelMonthSummary,
    OutcomeMonthSummary,
    RejectionMonthSummary,
    StateMonthSummary,
    SummaryBuild,
)
from crm.gestiones.models.surveys import (
    Answer,
    Question,
    Survey,
    SurveyInvitation,
    new_survey_token,
)
from crm.gestiones.models.timing import (
    ApplicationTime,
    ApplicationTimeFigure,
    StateStay,
    StateTimeFigure,
    TimeBuild,
)

# The deletions audit moved down to the core (collections_app and credits record theirs
# too); the name stays here for the modules that still import it from gestiones.
from crm.models import DeletionRecord

__all__ = [
    "CLOSED_OUTCOMES",
    "USER",
    "Action",
    "ActionResult",
    "Answer",
    "ApplicationTime",
    "ApplicationTimeFigure",
    "Attachment",
    "Campaign",
    "CampaignTarget",
    "ChannelMonthSummary",
    "CreditApplication",
    "CreditLead",
    "DeletionRecord",
    "DocumentTemplate",
    "FollowUp",
    "FormField",
    "Gestion",
    "GestionState",
    "GestionType",
    "Goal",
    "LifecycleEvent",
    "LifecycleRun",
    "Notification",
    "Outcome",
    "OutcomeMonthSummary",
    "Question",
    "RejectionMonthSummary",
    "RejectionReason",
    "StateAgent",
    "StateMonthSummary",
    "StateStay",
    "StateTimeFigure",
    "SummaryBuild",
    "Survey",
    "SurveyInvitation",
    "TimeBuild",
    "attachment_upload_to",
    "new_survey_token",
    "template_upload_to",
]
