"""How the screens, documents and timelines name a signed-in person."""

from django.contrib.auth.models import AbstractBaseUser


def display_name(user: AbstractBaseUser | None) -> str:
    """Return the user's full name, else the username; "" for nobody."""
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()
