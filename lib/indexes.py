"""Indexes Django cannot write the same way on every database."""

from django.db import models
from django.db.models.expressions import OrderBy


class NullsOrderedIndex(models.Index):
    """An index on columns ordered with their NULLs placed (`F(...).desc(nulls_last=True)`).

    PostgreSQL sorts NULL above every value and is told otherwise with NULLS LAST; SQLite
    sorts NULL below every value and refuses NULLS FIRST/LAST in an index. On SQLite the
    placement is therefore left out, which is only right where it is SQLite's own: NULLs
    last going down, first going up. Any other placement is refused when the index is
    declared.
    """

    def __init__(self, *expressions, **kwargs):
        for expression in expressions:
            if isinstance(expression, OrderBy) and (
                (expression.descending and expression.nulls_first)
                or (not expression.descending and expression.nulls_last)
            ):
                raise ValueError(
                    f"SQLite cannot index NULLs first going down or last going up: {expression!r}"
                )
        super().__init__(*expressions, **kwargs)

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
