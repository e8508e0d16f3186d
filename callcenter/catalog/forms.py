"""Input parsing for the catalog's admin pages: product, import upload, stock adjustment."""

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy as _

from callcenter.catalog import services
from callcenter.models import CatalogProduct
from lib import fields as lib_fields
from lib import spreadsheets
from lib.stale import KeepsOthersChanges


class CatalogProductForm(KeepsOthersChanges, forms.ModelForm):
    """A product's data. What another person saved while the form was open stays
    (`lib.stale`; the admin's change page renders the hidden field). Stock is not edited
    here once the product exists: the admin shows it read-only and `update_product`
    never writes it."""

    class Meta:
        model = CatalogProduct
        fields = ["sku", "name", "description", "price", "currency", "stock", "is_active"]
        field_classes = {"price": lib_fields.DecimalField, "stock": lib_fields.IntegerField}

    def clean_stock(self) -> int | None:
        # The column's own bound, the same on every database (SQLite took 10^10).
        stock = self.cleaned_data.get("stock")
        if stock is not None and stock > services.MAX_STOCK:
            raise forms.ValidationError(services.too_much_stock())
        return stock

    def clean_currency(self) -> str:
        currency = self.cleaned_data["currency"].strip().upper()
        if not services.CURRENCY_RE.fullmatch(currency):
            raise forms.ValidationError(_("La moneda debe ser un código de 3 letras (PEN, USD)."))
        return currency


class CatalogImportForm(forms.Form):
    file = forms.FileField(
        label=_("Archivo"),
        help_text=_(
            "Excel (.xlsx o .xls), OpenDocument (.ods) o CSV (.csv, separado por comas o por "
            "punto y coma, en UTF-8 o Windows-1252). "
            "Columnas: sku, nombre, precio, stock; opcionales: moneda, descripcion, activo."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".xlsx,.xls,.ods,.csv"}),
    )
    skip_invalid = forms.BooleanField(
        label=_("Omitir filas con errores"),
        required=False,
        help_text=_(
            "Sin marcar, un archivo con alguna fila mala no importa nada. Marcado, importa "
            "las filas buenas; en ambos casos puede descargar las filas malas con su motivo."
        ),
    )

    def clean_file(self) -> UploadedFile:
        # Only the extension and size here: the file is read in the background, after the
        # upload (whole, so a file of any size was stored and then held in memory).
        upload = self.cleaned_data["file"]
        spreadsheets.check_extension(upload.name)
        spreadsheets.check_size(upload.size)
        return upload


class StockAdjustmentForm(forms.Form):
    delta = lib_fields.IntegerField(
        label=_("Cambio (unidades)"),
        help_text=_("Positivo para sumar unidades (p. ej. 10), negativo para restarlas (-3)."),
    )
    note = forms.CharField(
        label=_("Motivo"),
        max_length=255,
        help_text=_("Quedará en el historial de movimientos: conteo, merma, devolución…"),
    )
