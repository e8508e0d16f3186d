import pytest
from django.core.exceptions import ValidationError

from collections_app.conversations import services
from crm import messages
from crm.models import MessagePolicy
from tests.collections_app.conversations.conftest import inbound
from tests.collections_app.conversations.test_services import conversation_for


@pytest.mark.parametrize("unaccented", [False, True])
def test_the_same_sms_reply_twice_is_refused(rosa, cobranzas, unaccented):
    MessagePolicy.objects.create(pk=1, is_sms_unaccented=unaccented)
    inbound(rosa, "Hola", channel=messages.SMS)
    conversation = conversation_for(cobranzas, rosa)
    services.reply(conversation, channel=messages.SMS, body="Hola Ramírez", actor=cobranzas)

    with pytest.raises(ValidationError):
        services.reply(conversation, channel=messages.SMS, body="Hola Ramírez", actor=cobranzas)
