"""/api/v1/ itself tells a client where the API is described."""

import pytest


@pytest.mark.django_db
def test_the_api_root_answers_json_with_its_docs_and_openapi_document_for_anyone(client):
    home = client.get("/api/v1/")

    assert home.status_code == 200
    assert home["Content-Type"] == "application/json"
    links = home.json()
    assert links == {
        "docs": "http://testserver/api/v1/docs",
        "openapi": "http://testserver/api/v1/openapi.json",
    }
    assert client.get(links["openapi"]).json()["info"]["title"] == "Cartera API"
    # Its own path is still ninja's root: every operation is documented under it.
    assert all(path.startswith("/api/v1/") for path in client.get(links["openapi"]).json()["paths"])
