"""`{% memo name var… %}…{% endmemo %}`: a part of a template written once per process for
each value of its variables (and the language).

For what changes only with the code: the layout's asset links, the navigation bar's fixed
links, the main menu per role. Django's `{% cache %}` keeps a block in a cache backend,
which pickles it on the way in and out: ~0.1 ms a block, even in the process's own memory;
here the string is kept as it is (lib.kept). Nothing that depends on the request or the person
beyond the given variables may go inside (a CSRF token, a name, a count).
"""

from django import template
from django.utils.translation import get_language

from lib.kept import Kept

register = template.Library()

_kept: Kept[str] = Kept(2_000)


class MemoNode(template.Node):
    def __init__(self, nodelist, name: str, vary_on: list):
        self.nodelist = nodelist
        self.name = name
        self.vary_on = vary_on

    def render(self, context) -> str:
        key = (self.name, get_language(), *(value.resolve(context) for value in self.vary_on))
        return _kept.get(key, lambda: self.nodelist.render(context))


@register.tag
def memo(parser, token) -> MemoNode:
    bits = token.split_contents()
    if len(bits) < 2:
        raise template.TemplateSyntaxError("'memo' takes a name and, optionally, variables.")
    nodelist = parser.parse(("endmemo",))
    parser.delete_first_token()
    return MemoNode(nodelist, bits[1], [parser.compile_filter(bit) for bit in bits[2:]])


def forget() -> None:
    """Drop every kept block (tests that change what the layout shows)."""
    _kept.clear()
