"""`.env.example` is where an operator learns the settings: every variable config/settings.py
reads from the environment is in it, set or commented out."""

import re
from pathlib import Path

from django.conf import settings

BASE = Path(settings.BASE_DIR)
# env.str("NAME", …), env.int(…), env("NAME"), env_addresses("NAME"), os.environ.get("NAME")
READ = re.compile(
    r"""\b(?:env(?:_\w+|\.\w+)?|os\.environ\.get|os\.getenv)\(\s*["']([A-Z][A-Z0-9_]+)["']"""
)


def test_every_variable_the_settings_read_is_in_the_env_example():
    read = set(READ.findall((BASE / "config" / "settings.py").read_text(encoding="utf-8")))
    example = (BASE / ".env.example").read_text(encoding="utf-8")
    listed = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", example, flags=re.MULTILINE))

    assert len(read) > 60, read  # the pattern still finds them
    assert sorted(read - listed) == []
