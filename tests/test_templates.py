"""What the template language shows as text when written wrong."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _templates() -> list[Path]:
    return [
        path
        for path in ROOT.rglob("*.html")
        if not {".venv", "node_modules", "staticfiles", "htmlcov"} & set(path.parts)
    ]


def test_every_short_comment_closes_on_its_own_line():
    # Django's {# #} is one line long: one that runs on was printed on the payment-link
    # page, to debtors. A longer note is a {% comment %}.
    unclosed = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in _templates()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if "{#" in line and "#}" not in line[line.index("{#") :]
    ]
    assert _templates()
    assert not unclosed, unclosed
