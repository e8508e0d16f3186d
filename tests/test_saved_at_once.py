"""The same form sent twice at once (two requests in the same instant): both pass the form's
check of a unique name, the first saves, and the second must be refused on the name as the
form refuses it, never a server error (IntegrityError). The race is reproduced by letting
the second skip the check, as it did when it ran before the first's commit."""

import pytest
from django.core.exceptions import ValidationError

from collections_app.models import Segment
from collections_app.strategies import segments
from crm.gestiones.campaigns import services as campaign_services
from crm.gestiones.models import Campaign
from lib import repeats
from tests.crm.gestiones.conftest import asesor2  # noqa: F401 (a fixture)
from tests.crm.gestiones.test_campaigns import call_type  # noqa: F401 (a fixture)


def test_a_segment_saved_twice_at_once_is_refused_on_its_name(cobranzas, monkeypatch):
    segments.save_segment(data={"name": "Al día"}, actor=cobranzas)
    monkeypatch.setattr(Segment, "validate_unique", lambda self, exclude=None: None)

    with pytest.raises(ValidationError) as caught:
        segments.save_segment(data={"name": "Al día"}, actor=cobranzas)

    assert caught.value.message_dict == {"name": ["Ya existe un segmento con este nombre."]}
    assert Segment.objects.filter(name="Al día").count() == 1


def test_a_campaign_saved_twice_at_once_is_refused_on_its_name(
    supervisor,
    call_type,  # noqa: F811
    monkeypatch,
):
    data = {"name": "Feria", "kind": Campaign.Kind.OUTBOUND, "gestion_type": call_type}
    campaign_services.save_campaign(data=data, actor=supervisor)
    monkeypatch.setattr(Campaign, "validate_unique", lambda self, exclude=None: None)
    monkeypatch.setattr(campaign_services, "_free_slug", lambda name, exclude: "feria-2")

    with pytest.raises(ValidationError) as caught:
        campaign_services.save_campaign(data=data, actor=supervisor)

    assert caught.value.message_dict == {"name": ["Ya existe una campaña con este nombre."]}
    assert Campaign.objects.filter(name="Feria").count() == 1


def test_the_refusal_leaves_the_callers_transaction_usable(cobranzas, django_assert_num_queries):
    first = Segment.objects.create(name="Uno", created_by=cobranzas)
    twin = Segment(name="Uno", created_by=cobranzas)

    with pytest.raises(ValidationError):
        repeats.save_or_refuse(twin, field="name", message="Ya existe.")

    assert Segment.objects.get(name="Uno") == first  # still queryable: a savepoint


def test_a_template_saved_twice_at_once_is_refused_on_its_name(db, monkeypatch):
    from collections_app.models import MessageTemplate
    from collections_app.strategies import templating

    data = {"name": "Recordatorio", "channel": "sms", "body": "Hola {nombre}", "is_active": True}
    templating.save_template(data=data)
    monkeypatch.setattr(MessageTemplate, "validate_unique", lambda self, exclude=None: None)

    with pytest.raises(ValidationError) as caught:
        templating.save_template(data=data)

    assert caught.value.message_dict == {"name": ["Ya existe una plantilla con este nombre."]}
    assert MessageTemplate.objects.filter(name="Recordatorio").count() == 1


def test_another_unique_value_saved_at_once_is_not_called_the_name(
    supervisor,
    call_type,  # noqa: F811
    monkeypatch,
):
    """Two names whose slug is the same, saved at once: the slug clashed, not the name."""
    campaign_services.save_campaign(
        data={"name": "Feria", "kind": Campaign.Kind.OUTBOUND, "gestion_type": call_type},
        actor=supervisor,
    )
    monkeypatch.setattr(Campaign, "validate_unique", lambda self, exclude=None: None)
    monkeypatch.setattr(campaign_services, "_free_slug", lambda name, exclude: "feria")

    with pytest.raises(ValidationError) as caught:
        campaign_services.save_campaign(
            data={"name": "FERIA!", "kind": Campaign.Kind.OUTBOUND, "gestion_type": call_type},
            actor=supervisor,
        )

    assert caught.value.messages == [
        "Otro registro se guardó en el mismo momento con datos que chocan con estos: vuelva a "
        "intentarlo."
    ]
