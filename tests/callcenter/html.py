"""Reading the call-center pages the way a browser would: elements by id, form inputs."""

from html.parser import HTMLParser


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.by_id: dict[str, list[dict[str, str]]] = {}
        self.inputs: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        attributes = {name: value or "" for name, value in attrs}
        if "id" in attributes:
            self.by_id.setdefault(attributes["id"], []).append(attributes)
        if tag == "input" and "name" in attributes:
            self.inputs[attributes["name"]] = attributes.get("value", "")


def read(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


def elements(html: str) -> dict[str, list[dict[str, str]]]:
    """Return the attributes of every element with an id, by id."""
    return read(html).by_id


def input_values(html: str) -> dict[str, str]:
    """Return the value each named <input> starts with (what the agent sees pre-filled)."""
    return read(html).inputs
