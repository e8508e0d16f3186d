"""One small factory per model: required fields only; tests override what they are about."""

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from crm.models import Branch, Channel, Customer, Interaction, Product, Tag


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
