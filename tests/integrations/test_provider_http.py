import pytest
import requests
import responses

from integrations import http
from integrations.errors import ProviderError, TemporaryProviderError

URL = "https://provider.example/api/leads"


@pytest.fixture
def api():
    with responses.RequestsMock() as mock:
        yield mock


def test_it_sends_our_user_agent_and_a_default_timeout(api):
    api.add(responses.GET, URL, json={})

    http.request(http.session(), "GET", URL)

    sent = api.calls[0].request
    assert sent.headers["User-Agent"] == "Cartera/1.0"
    assert sent.req_kwargs["timeout"] == http.DEFAULT_TIMEOUT


def test_it_keeps_a_timeout_the_caller_chose(api):
    api.add(responses.GET, URL, json={})

    http.request(http.session(), "GET", URL, timeout=3)

    assert api.calls[0].request.req_kwargs["timeout"] == 3


def test_it_never_retries_behind_the_callers_back():
    adapter = http.session().get_adapter(URL)

    assert adapter.max_retries.total == 0


def test_it_returns_a_successful_response(api):
    api.add(responses.GET, URL, json={"id": 7})

    response = http.request(http.session(), "GET", URL)

    assert response.json() == {"id": 7}


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_it_raises_a_temporary_error_when_the_provider_is_overloaded_or_down(api, status):
    api.add(responses.GET, URL, status=status)

    with pytest.raises(TemporaryProviderError):
        http.request(http.session(), "GET", URL)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_it_raises_a_permanent_error_when_the_provider_refuses_the_call(api, status):
    api.add(responses.GET, URL, status=status, json={"detail": "no such lead"})

    with pytest.raises(ProviderError) as raised:
        http.request(http.session(), "GET", URL)

    assert not isinstance(raised.value, TemporaryProviderError)
    assert "no such lead" in str(raised.value)


@pytest.mark.parametrize(
    "error",
    [
        requests.ConnectTimeout("connect timed out"),
        requests.ReadTimeout("read timed out"),
        requests.ConnectionError("connection reset"),
    ],
)
def test_it_raises_a_temporary_error_when_the_provider_does_not_answer(api, error):
    api.add(responses.GET, URL, body=error)

    with pytest.raises(TemporaryProviderError):
        http.request(http.session(), "GET", URL)


def test_it_leaves_the_query_string_out_of_error_messages(api):
    api.add(responses.GET, URL, status=401)

    with pytest.raises(ProviderError) as raised:
        http.request(http.session(), "GET", URL, params={"access_token": "secret-token"})

    assert "secret-token" not in str(raised.value)
    assert URL in str(raised.value)


def test_an_answer_keeps_its_texts_without_nul_characters(api):
    api.add(
        responses.GET,
        URL,
        body='{"name": "Rosa\\u0000", "notes": [{"te\\u0000xt": "a\\u0000b"}], "n": 1}',
        content_type="application/json",
    )

    answer = http.answer_json(http.request(http.session(), "GET", URL))

    assert answer == {"name": "Rosa", "notes": [{"text": "ab"}], "n": 1}


def test_an_answer_nested_too_deep_for_the_parser_is_not_json(api):
    api.add(responses.GET, URL, body="[" * 100_000 + "]" * 100_000)

    with pytest.raises(ValueError, match="nested too deep"):
        http.answer_json(http.request(http.session(), "GET", URL))
