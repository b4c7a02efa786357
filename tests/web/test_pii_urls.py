"""No personal data in URLs: walking the staff pages of a seeded system as an agent, using the
caller look-up and the searches, no phone number or e-mail address appears in any URL (links,
form actions, HTMX attributes, redirects, pushed history entries). URLs end up in access logs,
proxy logs, browser history and `Referer` headers.
"""

import html
import re
from collections import deque
from collections.abc import Iterator
from io import StringIO
from typing import Any
from urllib.parse import quote, urljoin

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import Client

from aftersales.accounts.models import User
from aftersales.customers.models import ContactPoint
from tests.auth import sign_in

URL_ATTRIBUTE = re.compile(r'(?:href|action|src|hx-get|hx-post|hx-push-url)="([^"]*)"')
NOT_WALKED = ("/static/", "/media/", "/admin/", "/api/", "/logout", "/i18n/", "/account/")
MAX_PAGES = 120


@pytest.fixture(scope="module")
def seeded(django_db_setup: Any, django_db_blocker: Any) -> Iterator[None]:
    """A small seed once for the module, rolled back at the end."""
    with django_db_blocker.unblock(), transaction.atomic():
        call_command("seed", customers=30, cases=40, stdout=StringIO(), verbosity=0)
        yield
        transaction.set_rollback(True)


pytestmark = pytest.mark.django_db


def _needles() -> dict[str, str]:
    needles = {}
    for contact in ContactPoint.objects.all():
        value = contact.value
        needles[value] = value
        if contact.kind == "phone":
            needles[value.removeprefix("+")] = value
            needles[value.removeprefix("+86")] = value  # the national form
        else:
            needles[quote(value)] = value  # as a query string would carry it
    return needles


class Walk:
    def __init__(self, client: Client) -> None:
        self.client = client
        self.urls: list[tuple[str, str]] = []  # (where it was found, the URL)

    def note(self, where: str, url: str | None) -> None:
        if url:
            self.urls.append((where, html.unescape(url)))

    def collect(self, where: str, response: Any) -> list[str]:
        self.note(where, response.get("Location"))
        self.note(where, response.get("HX-Push-Url"))
        if "text/html" not in response.get("Content-Type", ""):
            return []
        found = [html.unescape(u) for u in URL_ATTRIBUTE.findall(response.content.decode())]
        for url in found:
            self.note(where, url)
        return found

    def crawl(self, start: str) -> int:
        seen, queue = {start}, deque([start])
        while queue and len(seen) <= MAX_PAGES:
            path = queue.popleft()
            response = self.client.get(path)
            for url in [*self.collect(path, response), response.get("Location") or ""]:
                target = urljoin(path, url.split("#")[0])
                if not url or not target.startswith("/") or target.startswith(NOT_WALKED):
                    continue
                if target not in seen:
                    seen.add(target)
                    queue.append(target)
        return len(seen)


def test_no_phone_or_email_in_any_url(seeded: None) -> None:
    agent = User.objects.get(username="agent")
    client = Client()
    sign_in(client, agent)
    walk = Walk(client)
    needles = _needles()
    phone = next(c.value for c in ContactPoint.objects.filter(kind="phone"))
    email = next(c.value for c in ContactPoint.objects.filter(kind="email"))

    # The searches and the caller look-up, as the pages send them (form posts and HTMX).
    posted = client.post("/customers/call/", {"phone": phone})
    walk.collect("caller look-up", posted)
    walk.collect("caller result", client.get(posted["Location"]))
    for term in (phone, email):
        walk.collect("customer search", client.post("/customers/", {"q": term}))
        htmx = client.post("/customers/", {"q": term}, headers={"HX-Request": "true"})
        walk.collect("customer search (htmx)", htmx)
        walk.collect("queue search", client.post("/cases/", {"q": term, "status": "all"}))
        htmx = client.post("/cases/", {"q": term}, headers={"HX-Request": "true"})
        walk.collect("queue search (htmx)", htmx)
    pages = walk.crawl("/")

    assert pages > 20, walk.urls[-20:]  # the walk reached customer, case and unit pages
    # The needles catch the URLs of the past (the number in the query string).
    assert any(n in f"/customers/call/?phone={quote(phone)}" for n in needles)
    assert any(n in f"/customers/?q={quote(email)}" for n in needles)
    leaks = [(where, url, needles[n]) for where, url in walk.urls for n in needles if n in url]
    assert leaks == []
