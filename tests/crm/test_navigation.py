"""The main menu is rendered once per set of areas and screen, and still marks where one is."""

import re

from django.urls import reverse

from tests.factories import UserFactory


def _active(response) -> list[str]:
    return re.findall(
        r'class="nav-link[^"]*active[^"]*"[^>]*href="([^"]+)"', response.content.decode()
    )


def test_the_cached_menu_marks_the_screen_one_is_on(client, asesor):
    client.force_login(asesor)

    assert _active(client.get(reverse("crm:customer_list"))) == [reverse("crm:customer_list")]
    assert _active(client.get(reverse("credits:loan_list"))) == [reverse("credits:loan_list")]
    # Back on the first screen, from the cache, the mark is where it was.
    assert _active(client.get(reverse("crm:customer_list"))) == [reverse("crm:customer_list")]


def test_two_people_with_the_same_areas_share_the_menu_and_each_keeps_their_name(client, asesor):
    other = UserFactory(username="otra", first_name="Olga", last_name="Ramos", role="Asesor")
    client.force_login(asesor)
    first = client.get(reverse("crm:customer_list")).content.decode()
    client.force_login(other)
    second = client.get(reverse("crm:customer_list")).content.decode()

    menu = re.compile(r'<ul class="navbar-nav me-auto flex-wrap">.*?</ul>', re.S)
    assert menu.search(first).group(0) == menu.search(second).group(0)
    name = re.compile(r'id="current-user"[^>]*>([^<]*)</a>')
    assert name.search(first).group(1) == "Andrea Quispe"
    assert name.search(second).group(1) == "Olga Ramos"


def test_people_with_other_areas_get_their_own_menu(client, asesor, supervisor):
    client.force_login(asesor)
    advisor_page = client.get(reverse("crm:customer_list")).content.decode()
    client.force_login(supervisor)
    supervisor_page = client.get(reverse("crm:customer_list")).content.decode()

    imports = reverse("crm:import_list")
    assert f'href="{imports}"' not in advisor_page
    assert f'href="{imports}"' in supervisor_page


def test_a_memo_block_is_written_once_for_each_value_of_its_variables():
    from django.template import engines

    from crm.templatetags import memo

    page = engines["django"].from_string(
        "{% load memo %}{% memo probe area %}{{ area }} {{ counter.pop }}{% endmemo %}"
    )
    counter = [3, 2, 1]

    first = page.render({"area": "a", "counter": counter})
    again = page.render({"area": "a", "counter": counter})
    other = page.render({"area": "b", "counter": counter})

    assert (first, again, other) == ("a 1", "a 1", "b 2")
    memo.forget()
    assert page.render({"area": "a", "counter": counter}) == "a 3"
