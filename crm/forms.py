"""Input parsing for the CRM screens, query strings included."""

from datetime import date, timedelta

import phonenumbers
from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _
from phonenumber_field.formfields import PhoneNumberField

from crm import identity, services, validators
from crm.models import OPT_OUT_TAG, Appointment, Branch, Channel, Customer, Interaction, Tag
from lib import former_people, people
from lib.stale import KeepsOthersChanges

# The longest note the 360 page takes; a note longer than a timeline summary is kept whole.
NOTE_MAX_CHARS = 4000
# The agenda opens on today and the days after it.
AGENDA_DAYS = 14
# The advisor filter's choice for appointments whose organizer matched no user.
UNASSIGNED = "none"


def refuse_control_characters_in(form: forms.BaseForm) -> None:
    """Add `refuse_control_characters` to every text field of the form."""
    for field in form.fields.values():
        if isinstance(field, forms.CharField) and not isinstance(field, PhoneNumberField):
            field.validators.append(validators.refuse_control_characters)


def error_lines(form: forms.BaseForm) -> list[str]:
    """Return every error of a bound form as one line: the field's label, then the message
    (a non-field error as it is). For a report's filters answered as text (a workbook's 400)."""
    return [
        f"{form.fields[name].label}: {message}" if name in form.fields else str(message)
        for name, messages in form.errors.items()
        for message in messages
    ]


def branches_offered(*, keeping=()) -> "QuerySet[Branch]":
    """The branches a rule may name: the active ones, and those it names already (`keeping`,
    ids or a queryset). An inactive branch a segment names was left out of its list, so the
    next save dropped it silently, and the segment reached every branch's customers."""
    return Branch.objects.filter(Q(is_active=True) | Q(pk__in=keeping)).order_by("name")


class ServiceErrorsMixin:
    """Show a service's ValidationError on the form, on its field when the form has one."""

    def add_service_error(self, exc: ValidationError) -> None:
        if not hasattr(exc, "error_dict"):
            self.add_error(None, exc)
            return
        for field, errors in exc.error_dict.items():
            self.add_error(field if field in self.fields else None, errors)


class ConfirmsIdentityMixin(ServiceErrorsMixin):
    """A form on which a person confirms a change of a customer's document or names.

    The form declares `confirm_identity` (the box) and `identity_key` (hidden). Ticking
    the box counts only with the key of the changes the refusal listed, which the page
    sends back (`crm.identity.confirmation_key`): a box ticked on a first POST, or kept
    while other values were typed, gets the refusal with each old and new value first.
    """

    def identity_customer_id(self) -> int | None:
        return self.instance.pk

    def confirms_identity(self) -> str:
        """Return the key of the changes the person confirmed ("" when the box is clear)."""
        if not self.cleaned_data.get("confirm_identity"):
            return ""
        return self.cleaned_data.get("identity_key") or ""

    def offers_identity_confirmation(self) -> bool:
        """Say whether to show the confirmation box: once a save was refused for want of it
        (the refusal lists each old and new value), or when it was ticked."""
        return "confirm_identity" in self.fields and (
            self.has_error("confirm_identity") or bool(self["confirm_identity"].value())
        )

    def add_service_error(self, exc: ValidationError) -> None:
        super().add_service_error(exc)
        if self.has_error("confirm_identity"):
            self.put_identity_key()

    def put_identity_key(self) -> None:
        """Send back the key of the changes the refusal just listed."""
        data = self.data.copy()
        data[self.add_prefix("identity_key")] = identity.key_for(
            self.identity_customer_id(), self.cleaned_data
        )
        self.data = data


def identity_key_field() -> forms.CharField:
    return forms.CharField(widget=forms.HiddenInput, required=False, max_length=128)


def identity_confirmation_field() -> forms.BooleanField:
    return forms.BooleanField(
        label=_("Confirmo el cambio de documento o nombres de este cliente."), required=False
    )


class PersonChoiceField(forms.ModelChoiceField):
    """A user picker that shows people by full name (`lib.people.display_name`)."""

    def label_from_instance(self, obj) -> str:
        return people.display_name(obj)


class PersonMultipleChoiceField(forms.ModelMultipleChoiceField):
    """Several users, shown by full name."""

    def label_from_instance(self, obj) -> str:
        return people.display_name(obj)


def advisors():
    """Return the active users who can be assigned customers (anyone who may edit them)."""
    User = get_user_model()
    return (
        User.objects.filter(is_active=True, groups__permissions__codename="change_customer")
        .distinct()
        .order_by("first_name", "last_name", "username")
    )


def advisor_left(user: AbstractBaseUser) -> str:
    """Say why `user` is no longer among `advisors()`: «(inactivo)», «(sin rol de asesor)»;
    "" while they are."""
    if not user.is_active:
        return _("(inactivo)")
    if not advisors().filter(pk=user.pk).exists():
        return _("(sin rol de asesor)")
    return ""


def branch_left(branch: Branch) -> str:
    return "" if branch.is_active else _("(sucursal inactiva)")


def channel_left(channel: Channel) -> str:
    return "" if channel.is_active else _("(canal inactivo)")


def advisor_refused(user: AbstractBaseUser) -> str:
    """Why `user` may not be given a customer or a loan now, in a sentence; "" if they may."""
    note = advisor_left(user)
    if not note:
        return ""
    name = people.display_name(user)
    if not user.is_active:
        return _("%(name)s ya no está activo: elija otro asesor.") % {"name": name}
    return _("%(name)s no tiene el rol de asesor: elija otro asesor.") % {"name": name}


def branch_refused(branch: Branch) -> str:
    if branch.is_active:
        return ""
    return _("La sucursal %(name)s está inactiva: elija otra.") % {"name": branch}


def channel_refused(channel: Channel) -> str:
    if channel.is_active:
        return ""
    return _("El canal %(name)s está inactivo: elija otro.") % {"name": channel}


# A choice the lists offer only while it is active: (offered rows, every row, why a row is
# no longer offered as «(…)», the sentence refusing it as a new pick).
LEAVING_CHOICES = {
    "advisor": (advisors, lambda: get_user_model().objects.all(), advisor_left, advisor_refused),
    "branch": (
        lambda: Branch.objects.filter(is_active=True),
        Branch.objects.all,
        branch_left,
        branch_refused,
    ),
    "channel": (
        lambda: Channel.objects.filter(is_active=True),
        Channel.objects.all,
        channel_left,
        channel_refused,
    ),
}


def offer_keeping(field: forms.ModelChoiceField, name: str, *, keeping: int | None) -> None:
    """Offer in `field` the active rows of its kind (`LEAVING_CHOICES[name]`), and the row a
    record holds (`keeping`, an id) even when it is no longer active, marked with why.

    The field accepts any row, so that `refuse_new_leaving` names the one refused instead of
    «Escoja una opción válida». Without the stored row among the choices, the select showed
    empty on a customer whose advisor left or whose branch closed, and saving any other
    change cleared it.
    """
    offered, everyone, left, _refused = LEAVING_CHOICES[name]
    field.queryset = everyone()
    label = field.label_from_instance

    def choices() -> list[tuple]:
        rows = [(row.pk, label(row)) for row in offered()]
        if keeping is not None and all(pk != keeping for pk, _label in rows):
            rows += [
                (row.pk, f"{label(row)} {left(row)}".strip())
                for row in everyone().filter(pk=keeping)
            ]
        empty = [] if field.empty_label is None else [("", field.empty_label)]
        return [*empty, *rows]

    field.choices = choices


def refuse_new_leaving(form: forms.BaseForm, name: str, *, keeping: int | None) -> None:
    """Refuse on the bound `form` a newly chosen row no longer active (`offer_keeping`); the
    one the record holds (`keeping`) stays as it is."""
    value = form.cleaned_data.get(name)
    if value is None or value.pk == keeping:
        return
    why = LEAVING_CHOICES[name][3](value)
    if why:
        form.add_error(name, why)


class PersonContactForm(forms.Form):
    """A person who writes to us from a public page: who they are and how to reach them.

    The document is checked as its type requires, and a phone or an e-mail is needed. A
    page's own form adds its fields (an amount, a message) and its consent wording.
    """

    document_type = forms.ChoiceField(
        label=_("Tipo de documento"),
        choices=Customer.DocumentType.choices,
        initial=Customer.DocumentType.DNI,
    )
    document_number = forms.CharField(
        label=_("Número de documento"),
        max_length=20,
        error_messages={"required": _("Ingrese el número de documento.")},
    )
    first_name = forms.CharField(
        label=_("Nombres"), max_length=120, error_messages={"required": _("Ingrese sus nombres.")}
    )
    last_name = forms.CharField(
        label=_("Apellidos"),
        max_length=120,
        error_messages={"required": _("Ingrese sus apellidos.")},
    )
    phone = PhoneNumberField(
        label=_("Celular"), required=False, help_text=_("Ej.: 987 654 321 o +51 987 654 321")
    )
    email = forms.EmailField(label=_("Correo electrónico"), required=False)
    # Filled by static/js/recaptcha.js on submit; empty when the page runs without keys.
    recaptcha_token = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean(self):
        cleaned = super().clean()
        number = validators.normalize_document_number(cleaned.get("document_number", ""))
        if number and cleaned.get("document_type"):
            cleaned["document_number"] = number
            try:
                validators.validate_document(cleaned["document_type"], number)
            except ValidationError as exc:
                self.add_error(None, exc)
        if not cleaned.get("phone") and not cleaned.get("email") and not self.errors.get("phone"):
            self.add_error("phone", _("Déjenos al menos un celular o un correo para contactarlo."))
        return cleaned

    def person_data(self) -> dict:
        """Return who the person is and how to reach them, as crm.services takes it."""
        data = self.cleaned_data
        return {
            "document_type": data["document_type"],
            "document_number": data["document_number"],
            "first_name": data["first_name"],
            "last_name": data["last_name"],
            "phone": data["phone"] or "",
            "email": data["email"],
        }


def limit_tags_to_hand_kept(field: forms.ModelMultipleChoiceField, customer: Customer) -> None:
    """Offer only the tags a person keeps: not `No contactar` (the consent field says it) nor
    the ones an app keeps (services.MANAGED_TAGS), which the help text names if present."""
    field.queryset = Tag.objects.exclude(name__in=[OPT_OUT_TAG, *services.managed_tag_names()])
    field.help_text = services.managed_tags_note(customer)


class CustomerForm(KeepsOthersChanges, ConfirmsIdentityMixin, forms.ModelForm):
    """A customer's data. On a customer whose identity is protected (`crm.identity`), the
    document and names are locked, saying why, for a user without the role; a user with
    it confirms the change. What another person saved while the form was open stays
    (`lib.stale`): a stale tab does not undo a "No contactar" or a new phone."""

    phone = PhoneNumberField(
        label=_("Celular"), required=False, help_text=_("Ej.: 987 654 321 o +51 987 654 321")
    )
    phone_secondary = PhoneNumberField(label=_("Teléfono alternativo"), required=False)
    advisor = PersonChoiceField(label=_("Asesor"), queryset=advisors(), required=False)
    tags = forms.ModelMultipleChoiceField(
        label=_("Etiquetas"),
        queryset=Tag.objects.exclude(name=OPT_OUT_TAG),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 4}),
    )
    confirm_identity = identity_confirmation_field()
    identity_key = identity_key_field()

    class Meta:
        model = Customer
        fields = [*services.CUSTOMER_FIELDS, "tags"]
        labels = {"has_opted_out": _("No contactar")}

    def __init__(self, *args, user: AbstractBaseUser | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        for name in LEAVING_CHOICES:
            offer_keeping(self.fields[name], name, keeping=self._stored_id(name))
        self.fields["document_number"].widget.attrs["autofocus"] = True
        refuse_control_characters_in(self)
        limit_tags_to_hand_kept(self.fields["tags"], self.instance)
        self.fields["has_opted_out"].help_text = _(
            "El cliente pidió no recibir mensajes ni campañas: no se le enviará ninguno."
        )
        # Why the identity is protected ([] for a new or a free customer).
        self.identity_reasons = identity.protection(self.instance)
        self.identity_locked = bool(self.identity_reasons) and not identity.may_change(
            user, self.identity_reasons
        )
        if self.identity_locked:
            why = identity.refused_message(self.instance, self.identity_reasons)
            for name in identity.IDENTITY_FIELDS:
                self.fields[name].disabled = True
                self.fields[name].help_text = why
            self.fields["document_number"].widget.attrs.pop("autofocus", None)
        if not self.identity_reasons or self.identity_locked:
            del self.fields["confirm_identity"]
            del self.fields["identity_key"]
        else:
            self.fields["confirm_identity"].help_text = _(
                "Este cliente %(reasons)s: el cambio queda en su historial con los datos "
                "anteriores."
            ) % {"reasons": "; ".join(self.identity_reasons)}

    def clean_document_number(self) -> str:
        return validators.normalize_document_number(self.cleaned_data.get("document_number", ""))

    def clean_first_name(self) -> str:
        return self._name_with_letters("first_name", _("Escriba los nombres con letras."))

    def clean_last_name(self) -> str:
        return self._name_with_letters("last_name", _("Escriba los apellidos con letras."))

    def _name_with_letters(self, field: str, message: str) -> str:
        """Refuse a typed name without a single letter ("12345", "..."): a slip, not a name.

        Only a value being changed: a name stored before this rule keeps the rest of the
        customer editable (and a locked identity is not typed at all).
        """
        value = self.cleaned_data.get(field, "")
        if value and field in self.changed_data and not any(c.isalpha() for c in value):
            raise ValidationError(message)
        return value

    def clean_phone(self):
        phone = self.cleaned_data.get("phone")
        # SMS and WhatsApp go to this number: a landline typed here would take them nowhere.
        # Only when typed: one stored before keeps the rest of the customer editable.
        if (
            phone
            and "phone" in self.changed_data
            and phonenumbers.number_type(phone) == phonenumbers.PhoneNumberType.FIXED_LINE
        ):
            raise ValidationError(
                _(
                    "Es un teléfono fijo: regístrelo como teléfono alternativo y deje aquí "
                    "un celular."
                )
            )
        return phone

    def _stored_id(self, name: str) -> int | None:
        return getattr(self.instance, f"{name}_id") if self.instance.pk else None

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("phone") and not cleaned.get("email") and not self.errors.get("phone"):
            self.add_error("phone", _("Registre al menos un celular o un correo para contactarlo."))
        # After `lib.stale`: a value left as shown is the stored one by now.
        for name in LEAVING_CHOICES:
            refuse_new_leaving(self, name, keeping=self._stored_id(name))
        return cleaned

    def _post_clean(self) -> None:
        # A number the field refused as typed (too long…) never reaches the customer, whose
        # own check (Customer.clean) then called it missing as well: say only why.
        said = len(self._errors.get("document_number", ()))
        super()._post_clean()
        if said:
            del self._errors["document_number"][said:]

    def service_data(self) -> dict:
        """Return the cleaned fields the services take, without the tags."""
        return {k: v for k, v in self.cleaned_data.items() if k in services.CUSTOMER_FIELDS}

    @staticmethod
    def initial_from(query) -> dict:
        """Return the name, e-mail and phone a link brings (the agenda's "registrar").

        A booking holds one full name; ``name`` is split as names are written here:
        given names first, then the two surnames (one when there are only two words).
        The person registering sees the split and corrects it before saving.
        """
        initial = {
            f: query[f] for f in ("first_name", "last_name", "email", "phone") if query.get(f)
        }
        words = query.get("name", "").split()
        if words and "first_name" not in initial:
            surnames = 2 if len(words) >= 3 else len(words) - 1
            initial["first_name"] = " ".join(words[: len(words) - surnames])
            if surnames:
                initial["last_name"] = " ".join(words[len(words) - surnames :])
        return initial


class QuickNoteForm(forms.Form):
    """The 360 page's quick form: a note, or a call or message made outside the app."""

    KINDS = [
        (Interaction.Kind.NOTE, _("Nota")),
        (Interaction.Kind.CALL, _("Llamada")),
        (Interaction.Kind.WHATSAPP, _("WhatsApp")),
        (Interaction.Kind.EMAIL, _("Correo")),
        (Interaction.Kind.SMS, _("SMS")),
        (Interaction.Kind.FOLLOW_UP, _("Seguimiento")),
    ]

    kind = forms.ChoiceField(label=_("Tipo"), choices=KINDS, initial=Interaction.Kind.NOTE)
    summary = forms.CharField(
        label=_("Nota"),
        max_length=NOTE_MAX_CHARS,
        validators=[validators.refuse_control_characters],
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": _("Escriba una nota…")}),
        error_messages={
            "required": _("Escriba el texto de la nota."),
            "max_length": _(
                "La nota tiene %(show_value)d caracteres y el máximo es %(limit_value)d: "
                "divídala en dos notas."
            ),
        },
    )

    # What was recorded, said as such: a call logged is not "a note added".
    SAVED = {
        Interaction.Kind.NOTE: _("Nota agregada."),
        Interaction.Kind.CALL: _("Llamada registrada."),
        Interaction.Kind.WHATSAPP: _("WhatsApp registrado."),
        Interaction.Kind.EMAIL: _("Correo registrado."),
        Interaction.Kind.SMS: _("SMS registrado."),
        Interaction.Kind.FOLLOW_UP: _("Seguimiento registrado."),
    }

    def direction(self) -> str:
        if self.cleaned_data["kind"] in (Interaction.Kind.NOTE, Interaction.Kind.FOLLOW_UP):
            return Interaction.Direction.INTERNAL
        return Interaction.Direction.OUTBOUND

    def saved_message(self, kept_chars: int = 0) -> str:
        """Say what was recorded; `kept_chars`, the length of a text kept whole."""
        kind = self.cleaned_data["kind"]
        if not kept_chars:
            return str(self.SAVED[kind])
        if kind == Interaction.Kind.NOTE:
            return _(
                "Nota agregada completa (%(n)s caracteres); el historial la muestra entera."
            ) % {"n": kept_chars}
        return _(
            "%(done)s Se guardó el texto completo (%(n)s caracteres); el historial lo muestra "
            "entero."
        ) % {"done": self.SAVED[kind], "n": kept_chars}


def day_field(label: str) -> forms.DateField:
    """An optional day typed in the browser's date picker, which sends and expects ISO dates
    whatever the display locale."""
    return forms.DateField(
        label=label,
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )


# The timeline's date filter takes days from this one to TIMELINE_YEARS_AHEAD years from
# today: a typo's year 0202 or 20266 is a mistake to show, not a query to run.
TIMELINE_FIRST_DAY = date(2000, 1, 1)
TIMELINE_YEARS_AHEAD = 10


class TimelineFilterForm(forms.Form):
    """The 360 timeline's filters and its next page's cursor, read from the query string.

    `q`, `desde` and `hasta` are what a person types (their mistakes are shown next to
    the field); `before_at` and `before_id` are the cursor the «Cargar más» link carries.
    """

    FILTERS = ("q", "desde", "hasta", "kind")

    q = forms.CharField(label=_("Buscar"), required=False, max_length=100)
    desde = day_field(_("Desde"))
    hasta = day_field(_("Hasta"))
    kind = forms.ChoiceField(
        label=_("Tipo"), choices=[("", _("Todo")), *Interaction.Kind.choices], required=False
    )
    before_at = forms.DateTimeField(required=False)
    before_id = forms.IntegerField(required=False, min_value=1)

    def clean_desde(self) -> date | None:
        return self._day_in_range(self.cleaned_data["desde"])

    def clean_hasta(self) -> date | None:
        return self._day_in_range(self.cleaned_data["hasta"])

    def _day_in_range(self, day: date | None) -> date | None:
        if day is None:
            return None
        today = timezone.localdate()
        try:
            last = today.replace(year=today.year + TIMELINE_YEARS_AHEAD)
        except ValueError:  # 29 February, in a year that has none
            last = today.replace(year=today.year + TIMELINE_YEARS_AHEAD, day=28)
        if not TIMELINE_FIRST_DAY <= day <= last:
            raise ValidationError(
                _("Elija una fecha entre el %(first)s y el %(last)s."),
                params={"first": _short(TIMELINE_FIRST_DAY), "last": _short(last)},
                code="out_of_range",
            )
        return day

    def clean(self):
        cleaned = super().clean()
        since, until = cleaned.get("desde"), cleaned.get("hasta")
        if since and until and until < since:
            self.add_error("hasta", _("La fecha final es anterior a la inicial."))
        return cleaned

    def typed_text(self) -> str:
        """Return the search as typed, for its box: without NUL characters, and no longer
        than the box takes."""
        typed = str(self.data.get("q") or "").replace("\x00", "")
        return typed[: self.fields["q"].max_length]

    def has_bad_cursor(self) -> bool:
        """Say whether the cursor (written by the «Cargar más» link, not typed) is broken."""
        return "before_at" in self.errors or "before_id" in self.errors

    def has_bad_filters(self) -> bool:
        return any(name in self.errors for name in self.FILTERS)

    def cursor(self):
        at, pk = self.cleaned_data.get("before_at"), self.cleaned_data.get("before_id")
        return (at, pk) if at and pk else None

    def filters(self) -> dict:
        """Return the valid filters as selectors.timeline takes them."""
        data = self.cleaned_data
        return {
            "text": data.get("q") or "",
            "since": data.get("desde"),
            "until": data.get("hasta"),
            "kind": data.get("kind") or "",
        }

    def query(self, *, kind: bool = True) -> dict[str, str]:
        """Return the valid filters as query-string values (the kind too, unless `kind` is
        false), for the links that keep them: the kind chips, «Cargar más»."""
        data = self.cleaned_data
        values = {
            "q": data.get("q") or "",
            "desde": data["desde"].isoformat() if data.get("desde") else "",
            "hasta": data["hasta"].isoformat() if data.get("hasta") else "",
            "kind": (data.get("kind") or "") if kind else "",
        }
        return {name: value for name, value in values.items() if value}

    def no_match_message(self) -> str:
        """Say what was searched and found nothing ("" when nothing was filtered)."""
        data = self.cleaned_data
        text, since, until, kind = (data.get(name) for name in self.FILTERS)
        if not (text or since or until or kind):
            return ""
        message = str(_("Ninguna entrada"))
        if kind:
            message += _(" de tipo «%(kind)s»") % {"kind": Interaction.Kind(kind).label}
        if text:
            message += _(" coincide con «%(text)s»") % {"text": text}
        if since and until:
            message += _(" entre %(since)s y %(until)s") % {
                "since": _short(since),
                "until": _short(until),
            }
        elif since:
            message += _(" desde el %(since)s") % {"since": _short(since)}
        elif until:
            message += _(" hasta el %(until)s") % {"until": _short(until)}
        return message + "."


def _short(day: date) -> str:
    return formats.date_format(day, "SHORT_DATE_FORMAT")


class AgendaFilterForm(forms.Form):
    """The agenda's filters, read from the query string; blank dates mean the next two weeks."""

    q = forms.CharField(label=_("Buscar"), required=False, max_length=100)
    since = day_field(_("Desde"))
    until = day_field(_("Hasta"))
    status = forms.ChoiceField(
        label=_("Estado"),
        choices=[("", _("Todos los estados")), *Appointment.Status.choices],
        required=False,
    )
    # Only for those who see every advisor's appointments (removed otherwise).
    advisor = forms.ChoiceField(label=_("Asesor"), required=False)

    def __init__(self, data, *, user: AbstractBaseUser) -> None:
        super().__init__(data)
        self.advisors: dict[str, AbstractBaseUser] = {}
        if user.has_perm("crm.view_all_appointments"):
            # Who left and still has appointments too, under «Ya no atienden»: a supervisor
            # finds their pending ones to hand them over. One query for both.
            people_offered = list(
                former_people.with_former(
                    advisors(), Exists(Appointment.objects.filter(advisor=OuterRef("pk")))
                )
            )
            current = [u for u in people_offered if u.is_current]
            gone = [u for u in people_offered if not u.is_current]
            self.advisors = {str(u.pk): u for u in people_offered}
            self.fields["advisor"].choices = [
                ("", _("Todos los asesores")),
                (UNASSIGNED, _("Sin asesor")),
                *((str(u.pk), people.display_name(u)) for u in current),
                *self._former_group(gone),
            ]
        else:
            del self.fields["advisor"]

    @staticmethod
    def _former_group(gone: list) -> list[tuple]:
        """The advisors who left, as the lists group them (lib.former_people), each marked
        why; nothing when nobody did."""
        if not gone:
            return []
        no_role = str(former_people.FormerPeopleChoiceMixin.no_role)
        return [
            (
                former_people.FORMER_GROUP,
                [(str(u.pk), former_people.former_label(u, no_role=no_role)) for u in gone],
            )
        ]

    def clean(self):
        cleaned = super().clean()
        today = timezone.localdate()
        # The agenda's days are counted from these dates: the calendar's last ones leave no
        # room (9999-12-31 typed by hand).
        latest = date.max - timedelta(days=AGENDA_DAYS)
        for name in ("since", "until"):
            if cleaned.get(name) and cleaned[name] > latest:
                self.add_error(name, _("Elija una fecha válida."))
                return cleaned
        since = cleaned.get("since") or today
        until = cleaned.get("until") or since + timedelta(days=AGENDA_DAYS - 1)
        if until < since:
            self.add_error("until", _("La fecha final es anterior a la inicial."))
        cleaned["since"], cleaned["until"] = since, until
        return cleaned

    def filters(self) -> dict:
        """Return the cleaned filters as selectors.agenda takes them."""
        data = self.cleaned_data
        choice = data.get("advisor", "")
        return {
            "since": data["since"],
            "until": data["until"],
            "status": data["status"],
            "advisor": self.advisors.get(choice) if choice else None,
            "unassigned": choice == UNASSIGNED,
            "text": data["q"],
        }
