"""A user's notifications."""

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from crm.gestiones.models import (
    Notification,
)


def notifications_for(user: AbstractBaseUser) -> QuerySet[Notification]:
    return Notification.objects.filter(recipient=user).select_related("gestion")


def unread_count(user: AbstractBaseUser) -> int:
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()
