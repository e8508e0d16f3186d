"""Django admin pieces that know no domain."""

from django.contrib.admin.widgets import AutocompleteSelect

from lib.lookups import whole_number


class WholeNumberAutocompleteSelect(AutocompleteSelect):
    """Django's autocomplete for a foreign key to an integer id, that draws a form posted
    back with anything else ("²", "abc", 5,000 nines) as nothing chosen.

    Django's own looks the posted text up as an id to draw the form with its errors, and
    fails there (ValueError: a server error instead of the form's message).
    """

    def optgroups(self, name, value, attr=None):
        whole = [v for v in value if whole_number(str(v)) is not None]
        return super().optgroups(name, whole, attr)


class WholeNumberAutocompleteMixin:
    """For a ModelAdmin or inline whose `autocomplete_fields` are foreign keys to integer
    ids: their widget is WholeNumberAutocompleteSelect."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = WholeNumberAutocompleteSelect(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
