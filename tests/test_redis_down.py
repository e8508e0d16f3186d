"""Redis down: staff pages still answer, public forms say the service is unavailable, and
/readyz tells the load balancer (Redis played by a closed port: no server needed)."""

import pytest
import redis
from django.test import Client
from django.urls import reverse
from pytest_django.asserts import assertContains

DOWN = "redis://127.0.0.1:1/0"  # nothing listens there: every call is refused


@pytest.fixture
def redis_down(settings):
    settings.REDIS_URL = DOWN
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": DOWN,
            "OPTIONS": settings.REDIS_CACHE_OPTIONS,  # production's
        }
    }
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
    settings.RATELIMIT_STORE = "redis"
    return settings


@pytest.fixture
def staff(supervisor):
    """A person made while Redis answered (requested before `redis_down`)."""
    supervisor.set_password("una-clave-larga-9")
    supervisor.save()
    return supervisor


def test_a_signed_in_list_page_answers_with_redis_down(staff, redis_down):
    client = Client()
    client.force_login(staff)

    response = client.get(reverse("crm:customer_list"))

    assert response.status_code == 200


def test_staff_can_sign_in_with_redis_down(staff, redis_down):
    response = Client().post(
        reverse("login"), {"username": staff.username, "password": "una-clave-larga-9"}
    )

    assert response.status_code == 302
    assert response.url == reverse("home")


def test_the_portal_identification_says_it_is_unavailable_with_redis_down(redis_down, db):
    data = {"document_type": "dni", "document_number": "41000001", "recaptcha_token": "t"}

    response = Client().post(reverse("collections_app:portal_identify"), data)

    assertContains(response, "no está disponible en este momento", status_code=429)


def test_readyz_answers_503_naming_redis_when_it_is_down(redis_down, db):
    response = Client().get("/readyz")

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "ok", "redis": "failed"},
    }


def test_readyz_answers_200_without_redis_when_the_database_answers(db, settings):
    settings.REDIS_URL = ""

    response = Client().get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "redis": "not used"}}


def test_readyz_pings_redis_url_itself_not_the_cache(db, settings, monkeypatch):
    # The cache may be another backend (the tests' memory cache, with REDIS_URL set in CI):
    # it asked the cache for a Redis connection, and answered 503 with Redis up.
    pinged = []

    class Up:
        def ping(self):
            pinged.append(True)
            return True

        def close(self):
            pass

    settings.REDIS_URL = "redis://redis.example:6379/0"
    monkeypatch.setattr(redis.Redis, "from_url", lambda url, **options: Up())

    response = Client().get("/readyz")

    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "redis": "ok"}
    assert pinged == [True]


def test_healthz_stays_200_without_checking_anything(redis_down):
    assert Client().get("/healthz").status_code == 200
