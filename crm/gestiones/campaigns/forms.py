"""Input parsing for the campaign screens and the public inbound form."""

import django_filters
from django import forms
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from crm import forms as crm_forms
from crm.forms import ServiceErrorsMixin
from crm.gestiones import selectors as gestion_selectors
from crm.gestiones.campaigns import selectors, services
from crm.gestiones.models import Campaign, GestionType
from crm.models import Branch, Channel, Product, Tag
from lib import people, search
from lib.stale import KeepsOthersChanges


def campaign_agent_choices() -> QuerySet:
    """Return who may work gestiones (`gestion_selectors.agents`: active, with follow-ups,
    superusers included): those an inbound campaign may feed."""
    return gestion_selectors.agents()


class CampaignFilter(django_filters.FilterSet):
    """The campaign list's search box and filters."""

    q = search.SearchFilter(method="search")
    kind = django_filters.ChoiceFilter(
        label=_("Tipo"), choices=Campaign.Kind.choices, empty_label=_("Todos los tipos")
    )
    status = django_filters.ChoiceFilter(
        label=_("Estado"), choices=Campaign.Status.choices, empty_label=_("Todos los estados")
    )

    class Meta:
        model = Campaign
        fields = ["q", "kind", "status"]

    def search(self, queryset, name, value):
        return search.in_small_table(queryset, value, "name", "description", "slug")


class CampaignForm(KeepsOthersChanges, ServiceErrorsMixin, forms.ModelForm):
    """A campaign's configuration: what it is, who it reaches and what each one gets. What
    another person saved while the form was open stays (`lib.stale`)."""

    class Meta:
        model = Campaign
        fields = [*services.CAMPAIGN_FIELDS, *services.CAMPAIGN_M2M_FIELDS]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 2}),
            "message_body": forms.Textarea(attrs={"rows": 4}),
            "starts_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "ends_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["slug"].required = False
        self.fields["slug"].help_text = _(
            "Forma parte del enlace del formulario público (/campana/feria-2026/). Vacío: se "
            "toma del nombre."
        )
        # The active channels, and the campaign's own even if deactivated since (marked):
        # left out, the select showed empty and saving cleared the campaign's channel.
        crm_forms.offer_keeping(self.fields["channel"], "channel", keeping=self.instance.channel_id)
        # The usable types, and the campaign's own even if it stopped being usable: the
        # service then says why, instead of the field saying "not a valid choice".
        usable = Q(pk__in=selectors.usable_gestion_types().values("pk"))
        if self.instance.gestion_type_id:
            usable |= Q(pk=self.instance.gestion_type_id)
        self.fields["gestion_type"].queryset = GestionType.objects.filter(usable)
        self.fields["gestion_type"].help_text = _(
            "Solo tipos activos sin campos obligatorios propios: nadie los llena al abrirse "
            "desde una campaña."
        )
        self.fields["segment_branches"].queryset = crm_forms.branches_offered(
            keeping=self.instance.segment_branches.all() if self.instance.pk else ()
        )
        self.fields["segment_channels"].queryset = Channel.objects.all()
        self.fields["segment_tags"].queryset = Tag.objects.all()
        self.fields["segment_products"].queryset = Product.objects.all()
        agents = self.fields["agents"]
        agents.queryset = campaign_agent_choices()
        agents.label_from_instance = people.display_name
        agents.help_text = _(
            "Campañas entrantes: reciben las gestiones por carga de trabajo. Vacío: los "
            "gestores del estado inicial del tipo."
        )
        for name in (
            "segment_branches",
            "segment_channels",
            "segment_tags",
            "segment_products",
            "agents",
        ):
            self.fields[name].widget.attrs["size"] = 5

    def clean(self):
        cleaned = super().clean()
        crm_forms.refuse_new_leaving(self, "channel", keeping=self.instance.channel_id)
        return cleaned

    def service_data(self) -> dict:
        """Return the cleaned fields `services.save_campaign` takes."""
        return dict(self.cleaned_data)


class SegmentForm(forms.Form):
    """The outbound segment's filters alone, read from the campaign form for a live count."""

    segment_branches = forms.ModelMultipleChoiceField(Branch.objects.all(), required=False)
    segment_channels = forms.ModelMultipleChoiceField(Channel.objects.all(), required=False)
    segment_tags = forms.ModelMultipleChoiceField(Tag.objects.all(), required=False)
    segment_products = forms.ModelMultipleChoiceField(Product.objects.all(), required=False)
    segment_city = forms.CharField(max_length=120, required=False)

    def segment_count(self) -> tuple[int, int]:
        """Return how many customers the filters select, and how many of them asked not to
        be contacted ((0, 0) for filters that do not parse)."""
        if not self.is_valid():
            return 0, 0
        data = self.cleaned_data
        return selectors.segment_counts(
            selectors.customers_matching(
                branches=data["segment_branches"],
                channels=data["segment_channels"],
                tags=data["segment_tags"],
                products=data["segment_products"],
                city=data["segment_city"],
            )
        )


class InboundForm(crm_forms.PersonContactForm):
    """A person answering an inbound campaign: who they are, how to reach them, and consent."""

    message = forms.CharField(
        label=_("Mensaje"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    consent = forms.BooleanField(
        label=_(
            "Acepto que me contacten sobre esta campaña y el tratamiento de mis datos "
            "personales para ese fin."
        ),
        error_messages={"required": _("Necesitamos su autorización para contactarlo.")},
    )

    def registration_data(self) -> dict:
        """Return what `services.register_inbound` takes."""
        data = self.cleaned_data
        return {**self.person_data(), "message": data["message"], "consent": data["consent"]}
