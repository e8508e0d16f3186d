"""Indexes Django cannot write the same way on every database."""

from django.db import models
from django.db.models.expressions import OrderBy


class NullsOrderedIndex(models.Index):
    """An index on columns ordered with their NULLs placed (`F(...).desc(nulls_last=True)`).

    PostgreSQL writes the placement (NULLS FIRST/LAST) and reads the index for that order,
    either way. SQLite refuses the placement in an index: there it is a plain index in the
    same directions, which serves the orders whose NULLs go where SQLite's own go (below
    every value: last going down, first going up).
    """

    def create_sql(self, model, schema_editor, using="", **kwargs):
        if schema_editor.connection.vendor == "sqlite":
            plain = models.Index(
                *(
                    OrderBy(e.expression, descending=e.descending) if isinstance(e, OrderBy) else e
                    for e in self.expressions
                ),
                name=self.name,
                condition=self.condition,
            )
            return plain.create_sql(model, schema_editor, using=using, **kwargs)
        return super().create_sql(model, schema_editor, using=using, **kwargs)
