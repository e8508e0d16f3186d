"""The app's URLs plus the benchmark's anchors, which exist only under bench settings."""

from django.urls import include, path

from bench import views

urlpatterns = [
    path("bench/bare/", views.bare, name="bench_bare"),
    path("bench/table/", views.table, name="bench_table"),
    path("bench/insert/", views.insert, name="bench_insert"),
    path("", include("config.urls")),
]

handler400 = "lib.error_pages.bad_request"
handler403 = "lib.error_pages.permission_denied"
handler404 = "lib.error_pages.page_not_found"
handler500 = "lib.error_pages.server_error"
