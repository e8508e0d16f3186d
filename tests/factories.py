"""One small factory per model: required fields only; tests override what they are about."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from crm.models import Appointment, Branch, Channel, Customer, Interaction, Product, Tag
from lib import search


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name", locale="es_ES")
    last_name = factory.Faker("last_name", locale="es_ES")
    password = factory.django.Password("demo1234")

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        """`UserFactory(role="Asesor")` puts the user in that group (created by migration)."""
        if create and extracted:
            self.groups.add(Group.objects.get(name=extracted))


class BranchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Branch
        django_get_or_create = ("code",)

    name = factory.Sequence(lambda n: f"Sucursal {n}")
    code = factory.Sequence(lambda n: f"suc-{n}")
    city = "Lima"


class ChannelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Channel
        django_get_or_create = ("code",)

    name = factory.Sequence(lambda n: f"Canal {n}")
    code = factory.Sequence(lambda n: f"canal-{n}")


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    name = factory.Sequence(lambda n: f"Producto {n}")
    code = factory.Sequence(lambda n: f"prod-{n}")


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Etiqueta {n}")


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    document_type = Customer.DocumentType.DNI
    document_number = factory.Sequence(lambda n: f"{10000000 + n:08d}")
    first_name = factory.Faker("first_name", locale="es_ES")
    last_name = factory.Faker("last_name", locale="es_ES")
    phone = factory.Sequence(lambda n: f"+519{10000000 + n:08d}")
    branch = factory.SubFactory(BranchFactory)
    channel = factory.SubFactory(ChannelFactory)

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        # The services keep search_text current; a factory row must be as consistent.
        customer = model_class(*args, **kwargs)
        customer.search_text = customer.build_search_text()
        customer.save()
        return customer


class InteractionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Interaction

    customer = factory.SubFactory(CustomerFactory)
    kind = Interaction.Kind.NOTE
    summary = factory.Faker("sentence", locale="es_ES")


class AppointmentFactory(factory.django.DjangoModelFactory):
    """A booking as the Cal.com webhook records it; `crm.services` writes the real ones."""

    class Meta:
        model = Appointment

    customer = factory.SubFactory(CustomerFactory)
    calcom_uid = factory.Sequence(lambda n: f"calcom-uid-{n}")
    title = "Asesoría de crédito"
    starts_at = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
    ends_at = factory.LazyAttribute(lambda a: a.starts_at + timedelta(minutes=30))
    calcom_event_at = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)


class LoanProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "credits.LoanProduct"
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Crédito vehicular {n}")
    annual_rate = Decimal("24.00")
    method = "french"
    frequency = "monthly"
    min_term = 1
    max_term = 72
    min_amount = Decimal("100.00")
    max_amount = Decimal("500000.00")
    late_annual_rate = Decimal("0.00")


class LoanFactory(factory.django.DjangoModelFactory):
    """A draft loan, consistent with its product; `credits.services` moves it along."""

    class Meta:
        model = "credits.Loan"

    customer = factory.SubFactory(CustomerFactory)
    product = factory.SubFactory(LoanProductFactory)
    payment_code = factory.Sequence(lambda n: f"L{n:09d}")
    currency = factory.SelfAttribute("product.currency")
    principal = Decimal("10000.00")
    annual_rate = factory.SelfAttribute("product.annual_rate")
    term = 12
    method = factory.SelfAttribute("product.method")
    frequency = factory.SelfAttribute("product.frequency")
    fee_type = factory.SelfAttribute("product.fee_type")
    fee_value = factory.SelfAttribute("product.fee_value")
    late_annual_rate = factory.SelfAttribute("product.late_annual_rate")
    grace_days = factory.SelfAttribute("product.grace_days")
    start_date = date(2026, 1, 1)
    first_due_date = date(2026, 2, 1)


class InvestorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "credits.Investor"

    name = factory.Faker("name", locale="es_ES")
    document_number = factory.Sequence(lambda n: f"{40000000 + n:08d}")
    email = factory.Sequence(lambda n: f"inversor{n}@example.com")
    bank_name = "BCP"
    bank_account = factory.Sequence(lambda n: f"191-{n:08d}-0-00")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        # The services keep search_text current; a factory row must be as consistent.
        investor = model_class(*args, **kwargs)
        investor.search_text = investor.build_search_text()
        investor.save()
        return investor


class CatalogProductFactory(factory.django.DjangoModelFactory):
    """A product with no stock; stock comes through `callcenter.catalog`, so the ledger adds up."""

    class Meta:
        model = "callcenter.CatalogProduct"
        django_get_or_create = ("sku",)

    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    name = factory.Sequence(lambda n: f"Producto {n}")
    price = Decimal("49.90")
    search_text = factory.LazyAttribute(lambda p: search.normalize(f"{p.name} {p.sku}"))
