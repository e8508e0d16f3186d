"""The queue's search and filters (django-filter)."""

from datetime import date, datetime, time, timedelta

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from callcenter import selectors
from callcenter.models import Lead
from lib import lists, people, search

FREE = "free"


def _agent_choices():
    """The agents to filter by, from the cache (the queue refreshes every few seconds);
    dropped when a person or a group changes."""
    return lists.cached_choices(
        "callcenter.queue.agents", _read_agent_choices, watch=[get_user_model(), Group]
    )


def _read_agent_choices():
    choices = [(FREE, _("Libres (sin agente)"))]
    for user in selectors.agents():
        choices.append((str(user.pk), people.display_name(user)))
    return choices


def _source_choices():
    return [(source, source) for source in selectors.queue_sources()]


class LeadQueueFilter(django_filters.FilterSet):
    q = search.SearchFilter(method="search")
    state = django_filters.ChoiceFilter(
        label=_("Estado"),
        choices=[(s.value, s.label) for s in Lead.QUEUE_STATES],
        empty_label=_("Todos los estados"),
    )
    agent = django_filters.ChoiceFilter(
        label=_("Agente"), choices=(), method="by_agent", empty_label=_("Todos")
    )
    source = django_filters.ChoiceFilter(
        label=_("Origen"), choices=(), empty_label=_("Todos los orígenes")
    )
    since = django_filters.DateFilter(
        label=_("En cola desde"),
        method="queued_since",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    until = django_filters.DateFilter(
        label=_("En cola hasta"),
        method="queued_until",
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    class Meta:
        model = Lead
        fields = ["q", "state", "agent", "source", "since", "until"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Read per request: agents and sources change while the app runs.
        self.filters["agent"].extra["choices"] = _agent_choices()
        self.filters["source"].extra["choices"] = _source_choices()

    def search(self, queryset, name, value):
        return selectors.search_leads(queryset, value)

    def by_agent(self, queryset, name, value):
        if value == FREE:
            return queryset.filter(taken_by__isnull=True)
        return queryset.filter(taken_by_id=value)

    def queued_since(self, queryset, name, value):
        start = timezone.make_aware(datetime.combine(value, time.min))
        return queryset.filter(queued_at__gte=start)

    def queued_until(self, queryset, name, value):
        if value >= date.max:
            return queryset  # "until the end of time": no day after it to stop before
        end = timezone.make_aware(datetime.combine(value + timedelta(days=1), time.min))
        return queryset.filter(queued_at__lt=end)
