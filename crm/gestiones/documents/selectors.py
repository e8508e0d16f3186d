"""Reads of document templates and of the files filed on gestiones, with who may see them."""

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404

from crm.gestiones import selectors as gestion_selectors
from crm.gestiones.models import (
    Attachment,
    DocumentTemplate,
    Gestion,
    GestionType,
)
from lib import search


def template_list(
    *, q: str = "", gestion_type: GestionType | None = None, is_active: bool | None = None
) -> QuerySet[DocumentTemplate]:
    """Return the templates matching the list's filters, by name, with their types and roles."""
    templates = DocumentTemplate.objects.prefetch_related("gestion_types", "roles").order_by(
        "name", "pk"
    )
    templates = search.in_small_table(templates, q, "name")
    if gestion_type is not None:
        templates = templates.filter(gestion_types=gestion_type)
    if is_active is not None:
        templates = templates.filter(is_active=is_active)
    return templates


def template_for(pk: int) -> DocumentTemplate:
    return get_object_or_404(DocumentTemplate, pk=pk)


def may_generate(user: AbstractBaseUser, template: DocumentTemplate) -> bool:
    """Return whether `user`'s role may generate `template` (no roles: any role)."""
    if user.is_superuser:
        return True
    roles = template.roles.all()
    return not roles.exists() or roles.filter(pk__in=user.groups.values("pk")).exists()


def templates_for(user: AbstractBaseUser, gestion: Gestion) -> list[DocumentTemplate]:
    """Return the active templates of the gestión's type that `user` may generate on it."""
    if not user.has_perm("gestiones.add_followup"):
        return []
    templates = DocumentTemplate.objects.filter(
        is_active=True, gestion_types=gestion.gestion_type_id
    )
    if not user.is_superuser:
        templates = templates.filter(Q(roles__isnull=True) | Q(roles__in=user.groups.values("pk")))
    return list(templates.distinct().order_by("name"))


def attachment_for(user: AbstractBaseUser, pk: int) -> Attachment:
    """Return the attachment `pk` if `user` may see its gestión, else 404."""
    return get_object_or_404(
        Attachment.objects.filter(
            follow_up__gestion__in=gestion_selectors.visible_gestiones(user).values("pk")
        ),
        pk=pk,
    )
