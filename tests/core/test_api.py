"""Tests of the API's shared layer: the one error shape, also outside the views, and the schema."""

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from ninja import Schema

from aftersales.accounts import api as accounts_api
from aftersales.accounts.models import User
from aftersales.cases import api as cases_api
from aftersales.catalog import api as catalog_api
from aftersales.customers import api as customers_api
from aftersales.customers.models import Customer
from tests.conftest import ApiClient

pytestmark = pytest.mark.django_db

Api = Callable[[User], ApiClient]


def _error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json; charset=utf-8"
    body: dict[str, Any] = response.json()
    assert body.keys() == {"code", "message", "details"}
    assert body["code"] == code and body["message"]
    return body


@pytest.mark.parametrize("method", ["put", "delete", "trace"])
def test_method_an_endpoint_lacks_is_405_in_the_error_shape(
    api: Api, agent: User, method: str
) -> None:
    # Ninja answered a plain-text "Method not allowed".
    response = api(agent).client.generic(method.upper(), "/api/v1/cases/choices")

    body = _error(response, 405, "method_not_allowed")
    assert body["details"] == {"allowed": ["GET"]}
    assert response["Allow"] == "GET"


@pytest.mark.parametrize(
    "path", ["/api/v1/customers/abc", "/api/v1/customers/-1/timeline", "/api/v1/nothing-here"]
)
def test_path_no_route_matches_is_404_in_the_error_shape(api: Api, agent: User, path: str) -> None:
    # Django answered with its HTML page.
    _error(api(agent).client.get(path), 404, "not_found")


def test_pages_outside_the_api_keep_their_html_404(client: Client) -> None:
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_nul_character_in_a_body_is_400_and_creates_nothing(api: Api, agent: User) -> None:
    # PostgreSQL cannot store a NUL: this was a 500 there.
    response = api(agent).post("/customers", {"name": "李\x00伟", "phones": ["13800138000"]})

    _error(response, 400, "bad_request")
    assert not Customer.objects.exists()


def test_nul_character_in_a_query_is_422(api: Api, agent: User) -> None:
    response = api(agent).get("/catalog/units", serial="SN\x00")

    body = _error(response, 422, "invalid_input")
    assert [e["loc"] for e in body["details"]["errors"]] == [["query", "serial"]]


def test_every_schema_has_its_own_name_in_the_openapi_document() -> None:
    """Components are named after the class: a second `ContactIn` replaced the first one."""
    names = Counter(
        cls.__name__
        for module in (accounts_api, customers_api, catalog_api, cases_api)
        for cls in vars(module).values()
        if isinstance(cls, type)
        and issubclass(cls, Schema)
        and cls.__module__ == module.__name__
        and cls.model_fields  # field-less bases such as StrictIn are never documented
    )

    assert [name for name, n in names.items() if n > 1] == []
