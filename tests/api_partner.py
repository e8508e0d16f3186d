"""A test client of the JSON API: it sends a token and checks every answer against the API's
own OpenAPI document (status documented, body valid against its schema)."""

import json

import jsonschema
from django.test import Client
from ninja.responses import NinjaJSONEncoder

from config.api import api


def api_schema() -> dict:
    # As served: JSON, whose keys are strings (the in-memory one has int status codes).
    return json.loads(json.dumps(api.get_openapi_schema(), cls=NinjaJSONEncoder))


class ApiPartner:
    """Calls `base` + a path; `route` names the documented path when it has parameters."""

    base = "/api/v1"

    def __init__(self, token: str | None, openapi: dict) -> None:
        self.client = Client(raise_request_exception=False)
        self.token = token
        self.openapi = openapi

    def get(self, path: str, params: dict | None = None, *, route: str | None = None):
        return self._call("get", path, route, data=params)

    def post(self, path: str, body: dict | None = None, *, route: str | None = None):
        data = json.dumps(body) if body is not None else ""
        return self._call("post", path, route, data=data, content_type="application/json")

    def post_raw(self, path: str, raw: str, *, route: str | None = None):
        return self._call("post", path, route, data=raw, content_type="application/json")

    def _call(self, method: str, path: str, route: str | None, **kwargs):
        headers = {"Authorization": f"Bearer {self.token}"} if self.token is not None else {}
        response = getattr(self.client, method)(self.base + path, headers=headers, **kwargs)
        self.check(method, self.base + (route or path), response)
        return response

    def check(self, method: str, path: str, response) -> None:
        operation = self.openapi["paths"][path][method]
        documented = operation["responses"]
        assert str(response.status_code) in documented, (
            f"{method.upper()} {path} answered {response.status_code}, not in the schema: "
            f"{response.content[:300]!r}"
        )
        schema = documented[str(response.status_code)]["content"]["application/json"]["schema"]
        assert response["Content-Type"].startswith("application/json")
        jsonschema.validate(
            response.json(),
            {**schema, "components": self.openapi["components"]},
            cls=jsonschema.Draft202012Validator,
            format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
        )
