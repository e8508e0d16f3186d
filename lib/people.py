"""How the screens, documents and timelines name a signed-in person."""

from django.contrib.auth.models import AbstractBaseUser


def display_name(user: AbstractBaseUser | None) -> str:
    """Return the user's full name, else the username; "" for nobody."""
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()


def signed_in(user: AbstractBaseUser | None) -> AbstractBaseUser | None:
    """Return the user when a person is signed in; None for the system or an anonymous user.

    What a row's `actor` holds: None means the system did it (a task, a webhook, an import).
    """
    return user if user is not None and user.is_authenticated else None
