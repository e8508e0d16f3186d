"""The same form sent twice (a double click, the back button and send, a retry): the record
the first one made a moment ago, which the second should name or return, not repeat."""

from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Model, QuerySet
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from lib import people


def sent_name(value: object, *, max_length: int = 200) -> str | None:
    """Return a name as a refused form sent it, stripped, when it could be a stored one;
    None for what no row holds (empty, too long, a NUL character, which PostgreSQL refuses
    in a query: a form sent with "\x00" was a server error looking for its first send)."""
    text = str(value or "").strip()
    if not text or len(text) > max_length or "\x00" in text:
        return None
    return text


def made_within(
    rows: QuerySet, window: timedelta, *, now: datetime | None = None, field: str = "created_at"
) -> Model | None:
    """Return the newest of `rows` made (`field`: when it was written) within `window`
    before now."""
    since = (now or timezone.now()) - window
    return rows.filter(**{f"{field}__gte": since}).order_by(f"-{field}", "-pk").first()


def done_when_by(when: datetime | None, who: AbstractBaseUser | None) -> str:
    """Say when, and by whom, the first of two sends did the work: "el 06/12/2026 a las
    14:03 por Ana Pérez" (local time; without a person, or a time, that part is left out)."""
    parts = []
    if when is not None:
        local = timezone.localtime(when)
        parts.append(
            _("el %(day)s a las %(time)s")
            % {
                "day": formats.date_format(local, "d/m/Y"),
                "time": formats.time_format(local, "H:i"),
            }
        )
    if who is not None:
        parts.append(_("por %(name)s") % {"name": people.display_name(who)})
    return " ".join(parts)


def save_or_refuse(instance: Model, *, field: str, message: str) -> None:
    """Save `instance`; if a unique value another request saved a moment ago takes it
    (the same form sent twice at once: both passed the form's check, the other saved
    first), refuse it on `field` with `message`, as the form would have, never a server
    error. The caller's transaction stays usable (a savepoint)."""
    try:
        with transaction.atomic():
            instance.save()
    except IntegrityError as exc:
        taken = (
            type(instance)
            ._default_manager.filter(**{f"{field}__iexact": getattr(instance, field)})
            .exclude(pk=instance.pk)
            .exists()
        )
        if taken:
            raise ValidationError({field: message}) from exc
        # Another unique value (a slug made from a different name) clashed: not the name.
        raise ValidationError(
            _(
                "Otro registro se guardó en el mismo momento con datos que chocan con "
                "estos: vuelva a intentarlo."
            )
        ) from exc
