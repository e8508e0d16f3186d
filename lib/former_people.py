"""People who still hold work but may no longer be given any: their choices in a dropdown.

A list filtered by advisor or agent offers who may be given a customer, a loan, a
gestión or a conversation; someone deactivated, or moved to another role, still holds
theirs, and a supervisor must be able to find them to hand them over. Such a person is
offered too, after the others, marked why («Luis Rojas (inactivo)», «María Flores (sin
rol de asesor)»), under a group of their own («Ya no atienden»).

Knows no domain: the app says who may be given work (a queryset of users) and what
holding some means (an `Exists` of its rows pointing at the user).
"""

from functools import reduce
from operator import or_

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.forms.models import ModelChoiceIterator
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from lib import people

# The name a dropdown gives the group of people who left: what the conversations' inbox
# says in its own words («Ya no atienden conversaciones»).
FORMER_GROUP = _("Ya no atienden")
PERSON_ORDER = ("first_name", "last_name", "username")


def former(current: QuerySet, *holding: Exists) -> QuerySet:
    """Return the people who hold something (any of `holding`, an `Exists` over rows whose
    person is `OuterRef("pk")`) but are not among `current`, by name."""
    return (
        current.model._default_manager.filter(reduce(or_, holding))
        .exclude(pk__in=current.values("pk"))
        .order_by(*PERSON_ORDER)
    )


def with_former(current: QuerySet, *holding: Exists) -> QuerySet:
    """Return `current` (the people who may be given work) and, after them, those who
    hold some (any of `holding`) but are no longer among them: one query, each person
    annotated `is_current`.

    For a filter's queryset: `?advisor=<someone who left>` is then a valid choice.
    """
    is_current = Exists(current.filter(pk=OuterRef("pk")))
    return (
        current.model._default_manager.annotate(is_current=is_current)
        .filter(Q(is_current=True) | reduce(or_, holding))
        .order_by("-is_current", *PERSON_ORDER)
    )


def former_label(person: AbstractBaseUser, *, no_role: str) -> str:
    """Name someone who may no longer be given work, saying why: inactive, or `no_role`
    («sin el rol», «sin rol de asesor») for an active person without the role."""
    if person.is_active:
        return gettext("%(name)s (%(why)s)") % {
            "name": people.display_name(person),
            "why": no_role,
        }
    return gettext("%(name)s (inactivo)") % {"name": people.display_name(person)}


class _GroupingIterator(ModelChoiceIterator):
    """The empty label, the people who may be given work, then those who left, grouped.

    (No "null" choice: django-filter's iterator adds one, which no person filter uses.)
    """

    def __iter__(self):
        gone = []
        for value, label in super().__iter__():
            instance = getattr(value, "instance", None)
            if instance is not None and not getattr(instance, "is_current", True):
                gone.append((value, label))
            else:
                yield value, label
        if gone:
            yield str(self.field.former_group), gone


class FormerPeopleChoiceMixin:
    """For a person dropdown whose queryset is `with_former(...)`: people by full name,
    those who left marked why and grouped under `former_group`.

    Put it before the field class: `class F(FormerPeopleChoiceMixin, ModelChoiceField)`.
    The grouped choices are what lib.lists caches.
    """

    iterator = _GroupingIterator
    former_group = FORMER_GROUP
    no_role = _("sin rol de asesor")

    def label_from_instance(self, obj) -> str:
        if getattr(obj, "is_current", True):
            return people.display_name(obj)
        return former_label(obj, no_role=str(self.no_role))
