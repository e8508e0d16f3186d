"""The public calculator at /calculadora/ and its lead forms (no namespace, no sign-in)."""

from django.urls import path

from credits.calculator import views

urlpatterns = [
    path("", views.calculator, name="calculator"),
    path("invertir/", views.invest_lead, name="calculator_lead"),
    path("credito/", views.credit_lead, name="calculator_credit"),
]
