"""The /recovery portal: a debtor with an active written-off campaign identifies with a
document number and reCAPTCHA, sees the offer, pays it or says why not.

Its address is the customer portal's site plus /recovery/, fixed (recovery.urls mounts
it; /portal/recovery/ redirects here). `recovery:identify` is the landing page, which the
template variables link to.
"""

from django.urls import path

from recovery.portal import views

urlpatterns = [
    path("", views.identify, name="identify"),
    path("oferta/", views.offer, name="offer"),
    path("opciones-de-pago/", views.options, name="options"),
    path("pagar/", views.pay, name="pay"),
    path("no-me-interesa/", views.decline, name="decline"),
    path("gracias/", views.declined, name="declined"),
    path("pago/<str:reference>/", views.link, name="link"),
    path("imagen/<str:kind>/", views.image, name="image"),
    path("salir/", views.logout, name="logout"),
]
