"""lib.bulk.pages_by_pk: a queryset read a page at a time, by primary key."""

import pytest

from crm.models import Tag
from lib import bulk
from tests.factories import TagFactory

pytestmark = pytest.mark.django_db


def test_it_yields_every_row_once_in_pages_of_the_size_asked():
    tags = [TagFactory(name=f"t{n}") for n in range(5)]

    pages = list(bulk.pages_by_pk(Tag.objects.filter(name__startswith="t"), 2))

    assert [len(page) for page in pages] == [2, 2, 1]
    assert [tag.pk for page in pages for tag in page] == sorted(t.pk for t in tags)


def test_a_row_deleted_meanwhile_skips_nothing_after_it():
    tags = [TagFactory(name=f"t{n}") for n in range(4)]
    pages = bulk.pages_by_pk(Tag.objects.filter(name__startswith="t"), 2)

    first = next(pages)
    Tag.objects.filter(pk=first[0].pk).delete()
    rest = [tag.pk for page in pages for tag in page]

    assert rest == [tags[2].pk, tags[3].pk]


def test_nothing_to_read_yields_no_page():
    assert list(bulk.pages_by_pk(Tag.objects.none(), 10)) == []
