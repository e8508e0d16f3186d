"""`lib.stale.KeepsOthersChangesPlain`: a plain form given the stored values merges a stale
save with what another person saved, as `KeepsOthersChanges` does for a ModelForm."""

import datetime
from decimal import Decimal

import pytest
from django import forms
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile

from lib import stale

TOOK = "Otra persona lo cambió a «%s» mientras usted editaba. Guarde de nuevo para dejar el suyo."


class RecordForm(stale.KeepsOthersChangesPlain, forms.Form):
    city = forms.CharField(required=False)
    amount = forms.DecimalField(required=False, decimal_places=2)
    due = forms.DateField(required=False)
    kind = forms.ChoiceField(required=False, choices=[("", "—"), ("a", "Auto"), ("c", "Casa")])
    group = forms.ModelChoiceField(queryset=Group.objects.all(), required=False)
    groups = forms.ModelMultipleChoiceField(queryset=Group.objects.all(), required=False)
    document = forms.FileField(required=False)
    code = forms.CharField(required=False, disabled=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Added after the mixin's __init__, as a type's dynamic fields are.
        self.fields["extra"] = forms.IntegerField(required=False)


STORED = {
    "city": "Lima",
    "amount": Decimal("1500.50"),
    "due": datetime.date(2026, 12, 1),
    "kind": "a",
    "group": None,
    "groups": [],
    "extra": 3,
}


def as_sent(stored: dict) -> dict:
    """Return what a browser sends for a form that shows `stored` untouched."""
    data = {}
    for name, value in stored.items():
        if isinstance(value, list):
            data[name] = [str(item.pk) for item in value]
        elif isinstance(value, Group):
            data[name] = str(value.pk)
        elif isinstance(value, datetime.date):
            data[name] = value.isoformat()
        else:
            data[name] = "" if value is None else str(value)
    return data


def opened(stored: dict) -> dict:
    """Open the form on `stored`: what it sends back untouched, its hidden field included."""
    shown = RecordForm(stored=stored, initial=stored)
    return {**as_sent(stored), stale.SEEN: shown[stale.SEEN].value()}


def saved(sent: dict, stored: dict, files=None) -> RecordForm:
    form = RecordForm(sent, files, stored=stored)
    form.is_valid()
    return form


def test_a_field_left_as_shown_keeps_the_value_stored_meanwhile():
    sent = {**opened(STORED), "kind": "c"}

    form = saved(sent, {**STORED, "city": "Cusco", "amount": Decimal("2000")})

    assert form.is_valid(), form.errors
    assert form.cleaned_data["city"] == "Cusco"
    assert form.cleaned_data["amount"] == Decimal("2000")
    assert form.cleaned_data["kind"] == "c"


def test_a_field_added_after_the_mixin_is_compared_too():
    form = saved(opened(STORED), {**STORED, "extra": 7})

    assert form.cleaned_data["extra"] == 7


def test_both_changing_a_field_is_refused_once_naming_the_stored_value_then_saved():
    other = {**STORED, "kind": "c"}
    sent = {**opened(STORED), "kind": ""}

    refused = saved(sent, other)

    assert refused.errors == {"kind": [TOOK % "Casa"]}
    again = saved({**sent, stale.SEEN: refused.data[stale.SEEN]}, other)
    assert again.is_valid(), again.errors
    assert again.cleaned_data["kind"] == ""


def test_both_making_the_same_change_is_no_conflict():
    form = saved({**opened(STORED), "city": "Cusco"}, {**STORED, "city": "Cusco"})

    assert form.is_valid(), form.errors


@pytest.mark.django_db
def test_rows_are_compared_by_their_keys_whatever_the_order():
    first, second, third = (Group.objects.create(name=name) for name in ("A", "B", "C"))
    shown = {**STORED, "group": first, "groups": [first, second]}
    sent = opened(shown)
    sent["groups"] = [str(second.pk), str(first.pk)]

    form = saved(sent, {**shown, "group": third, "groups": [second, first]})

    assert form.is_valid(), form.errors
    assert form.cleaned_data["group"] == third
    assert sorted(g.pk for g in form.cleaned_data["groups"]) == [first.pk, second.pk]


@pytest.mark.django_db
def test_a_row_changed_by_both_is_named_by_its_label():
    first, second, third = (Group.objects.create(name=name) for name in ("A", "B", "C"))
    shown = {**STORED, "group": first}

    form = saved({**opened(shown), "group": str(third.pk)}, {**shown, "group": second})

    assert form.errors == {"group": [TOOK % "B"]}


def test_the_same_number_or_day_written_otherwise_is_no_change():
    # "1500.5" as typed, Decimal("1500.50") as stored: the same amount.
    sent = {**opened(STORED), "amount": "1500.5"}

    form = saved(sent, {**STORED, "amount": Decimal("1500.500")})

    assert form.is_valid(), form.errors
    assert form.cleaned_data["amount"] == Decimal("1500.500")


def test_a_file_field_is_never_compared():
    shown = {**STORED, "document": "old.docx"}
    sent = opened(shown)
    upload = SimpleUploadedFile("new.docx", b"x")

    form = saved(sent, {**shown, "document": "theirs.docx"}, files={"document": upload})

    assert form.is_valid(), form.errors
    assert form.cleaned_data["document"] is upload


def test_a_disabled_field_is_never_compared():
    shown = {**STORED, "code": "A-1"}

    form = RecordForm(opened(shown), stored={**shown, "code": "B-2"}, initial={"code": "A-1"})

    assert form.is_valid(), form.errors
    assert form.cleaned_data["code"] == "A-1"


def test_a_form_sent_without_what_it_showed_is_taken_as_it_comes():
    sent = {**opened(STORED), "kind": "c"}
    del sent[stale.SEEN]

    form = saved(sent, {**STORED, "city": "Cusco"})

    assert form.cleaned_data["city"] == "Lima"


def test_a_forged_hidden_field_is_taken_as_no_hidden_field():
    sent = {**opened(STORED), stale.SEEN: "forged"}

    form = saved(sent, {**STORED, "city": "Cusco"})

    assert form.cleaned_data["city"] == "Lima"


def test_a_form_without_stored_values_has_nothing_to_compare():
    form = RecordForm()

    assert form[stale.SEEN].value() in (None, "")
    bound = RecordForm({**as_sent(STORED), stale.SEEN: opened(STORED)[stale.SEEN]})
    assert bound.is_valid(), bound.errors
    assert bound.cleaned_data["city"] == "Lima"


def test_a_refusal_writes_a_date_and_a_time_as_the_screens_do():
    class Hours(stale.KeepsOthersChangesPlain, forms.Form):
        day = forms.DateField()
        at = forms.TimeField()

    shown = Hours(stored={"day": datetime.date(2026, 4, 1), "at": datetime.time(7, 0)})
    sent = {"day": "2026-04-20", "at": "09:30", stale.SEEN: shown.fields[stale.SEEN].initial}

    refused = Hours(sent, stored={"day": datetime.date(2026, 4, 15), "at": datetime.time(8, 0, 30)})

    assert not refused.is_valid()
    assert "«15/04/2026»" in refused.errors["day"][0]
    assert "«08:00»" in refused.errors["at"][0]
