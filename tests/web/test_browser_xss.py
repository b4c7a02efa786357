"""Stored scripts never run, in a real Chromium: escaped output, the Content-Security-Policy, and
attachments that are always downloaded, never rendered."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aftersales.accounts.roles import Role
from aftersales.accounts.services import staff_create, team_create
from aftersales.cases.models import Case
from aftersales.cases.services import case_note_add, case_open
from aftersales.customers.services import customer_create
from tests.web.conftest import login

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PASSWORD = "Browser-pass-2026"
SCRIPT = "<script>window.__xss=1</script>"
IMG = '<img src=x onerror="window.__xss=1">'
SVG_ONLOAD = '<svg onload="window.__xss=1"></svg>'
# A polyglot: an SVG document whose script also runs where it is taken for HTML.
SVG_FILE = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="window.__xss=1">'
    b"<script>window.__xss=1;alert(1)</script></svg>"
)
TXT_FILE = (
    b"compressor log 2026-11-25\n<html><body><script>window.__xss=1;alert(1)</script>"
    b'<img src=x onerror="window.__xss=1"></body></html>\n'
)


@pytest.fixture
def private_root(settings: Any, tmp_path: Path) -> Path:
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    return settings.PRIVATE_MEDIA_ROOT  # type: ignore[no-any-return]


@pytest.fixture
def hostile_case(private_root: Path) -> Case:
    desk = team_create(code="desk-sz", name="深圳受理台", kind="frontline")
    agent = staff_create(
        username="agent",
        password=PASSWORD,
        display_name="李娜",
        roles=[Role.FRONTLINE_AGENT],
        teams=[desk],
    )
    customer = customer_create(actor=agent, name=f"张伟{IMG}", phones=["13800138000"])
    case, _ = case_open(
        actor=agent,
        customer=customer,
        channel="web",
        subject=f"冰箱{SCRIPT}",
        description=f"{IMG}\n{SCRIPT}\n{SVG_ONLOAD}",
        team=desk,
    )
    case_note_add(actor=agent, case=case, body=f"{SVG_ONLOAD}{IMG}{SCRIPT}")
    return case


@pytest.fixture
def watched(page: Any) -> Iterator[dict[str, list[str]]]:
    """The page, with every dialog and every console error it produces recorded."""
    seen: dict[str, list[str]] = {"dialogs": [], "errors": []}

    def on_dialog(dialog: Any) -> None:
        seen["dialogs"].append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("console", lambda m: m.type == "error" and seen["errors"].append(m.text))
    yield seen


def _csp_errors(seen: dict[str, list[str]]) -> list[str]:
    return [e for e in seen["errors"] if "Content Security Policy" in e]


def _assert_nothing_ran(page: Any, seen: dict[str, list[str]]) -> None:
    assert page.evaluate("() => typeof window.__xss") == "undefined"
    assert seen["dialogs"] == []


def test_stored_payloads_show_as_text_and_never_run(
    page: Any, watched: dict[str, list[str]], hostile_case: Case
) -> None:
    login(page, "agent", PASSWORD)

    page.goto(f"/cases/{hostile_case.number}/")
    page.wait_for_load_state("networkidle")
    _assert_nothing_ran(page, watched)
    assert SCRIPT in page.locator("h1").inner_text()
    timeline = page.locator("#timeline").inner_text()
    assert IMG in timeline and SVG_ONLOAD in timeline
    assert page.locator("#timeline script, #timeline img, #timeline svg").count() == 0

    page.goto(f"/customers/{hostile_case.customer_id}/")
    page.wait_for_load_state("networkidle")
    _assert_nothing_ran(page, watched)
    assert IMG in page.locator("h1").inner_text()

    page.goto("/cases/")
    page.wait_for_load_state("networkidle")
    _assert_nothing_ran(page, watched)
    assert page.get_by_text(f"冰箱{SCRIPT}").count() == 1
    # The queue's live search swaps results in through HTMX: still only text.
    before = page.url
    with page.expect_response(lambda r: r.request.headers.get("hx-request") == "true"):
        page.locator("input[name=q]").press_sequentially("SR")
    page.wait_for_function("url => location.href !== url", arg=before)
    page.wait_for_load_state("networkidle")
    _assert_nothing_ran(page, watched)
    # Pages with personal data are not kept in the browser: no HTMX history snapshots.
    assert page.evaluate("() => sessionStorage.getItem('htmx-history-cache')") is None
    # The language switch moved out of an inline handler and still works under the policy.
    with page.expect_navigation():
        page.select_option("select[name=language]", "zh-hans")
    assert page.evaluate("() => document.documentElement.lang") == "zh-hans"
    assert _csp_errors(watched) == []


def test_the_policy_blocks_a_script_injected_into_the_page(
    page: Any, watched: dict[str, list[str]], hostile_case: Case
) -> None:
    login(page, "agent", PASSWORD)
    page.goto(f"/cases/{hostile_case.number}/")

    # As if an attacker had found a way to write markup into the page: the inline script and
    # inline handler are refused by the browser, and the refusal is reported.
    violation = page.evaluate(
        """() => new Promise((resolve) => {
            const seen = [];
            document.addEventListener("securitypolicyviolation", (e) => {
                seen.push(e.violatedDirective);
                if (seen.length === 2) resolve(seen);
            });
            const script = document.createElement("script");
            script.textContent = "window.__xss = 1";
            document.body.appendChild(script);
            const holder = document.createElement("div");
            holder.innerHTML = '<img src="data:," onerror="window.__xss = 2">';
            document.body.appendChild(holder);
            setTimeout(() => resolve(seen), 3000);
        })"""
    )

    assert len(violation) == 2
    assert all(d.startswith("script-src") for d in violation), violation
    _assert_nothing_ran(page, watched)


def test_attachments_are_checked_by_type_and_downloaded_never_rendered(
    page: Any, watched: dict[str, list[str]], hostile_case: Case, tmp_path: Path
) -> None:
    svg = tmp_path / "logo.svg"
    svg.write_bytes(SVG_FILE)
    disguised = tmp_path / "photo.png"
    disguised.write_bytes(SVG_FILE)
    text = tmp_path / "compressor.txt"
    text.write_bytes(TXT_FILE)
    login(page, "agent", PASSWORD)
    page.goto(f"/cases/{hostile_case.number}/")

    for refused in (svg, disguised):
        page.set_input_files("#attachment-form input[type=file]", str(refused))
        with page.expect_navigation() as nav:
            page.click("#attachment-form button[type=submit]")
        assert nav.value.status == 415
        assert page.locator("#case-error").get_attribute("data-code") == "unsupported_type"
        _assert_nothing_ran(page, watched)
    assert hostile_case.attachments.count() == 0

    page.set_input_files("#attachment-form input[type=file]", str(text))
    page.click("#attachment-form button[type=submit]")
    link = page.locator("#attachment-list a", has_text="compressor.txt")
    link.wait_for()

    with page.expect_download() as download_info:
        link.click()
    download = download_info.value
    assert download.suggested_filename == "compressor.txt"
    assert Path(download.path()).read_bytes() == TXT_FILE
    _assert_nothing_ran(page, watched)

    # Opened directly (typed into the address bar), the file is still a download, not a page.
    with page.expect_download() as direct_info:
        try:
            page.goto(link.get_attribute("href") or "")
        except Exception as exc:  # Chromium reports a navigation that turned into a download
            assert "Download is starting" in str(exc)
    assert direct_info.value.suggested_filename == "compressor.txt"
    assert page.url.endswith(f"/cases/{hostile_case.number}/")
    _assert_nothing_ran(page, watched)


def test_pages_and_the_admin_run_without_policy_violations(
    page: Any, watched: dict[str, list[str]], hostile_case: Case
) -> None:
    staff_create(
        username="root",
        password=PASSWORD,
        display_name="管理员",
        roles=[Role.ADMINISTRATOR],
    )
    login(page, "root", PASSWORD)
    for url in (
        f"/cases/{hostile_case.number}/",
        "/cases/",
        f"/customers/{hostile_case.customer_id}/",
        "/customers/tiers/",
        "/units/",
        "/notifications/",
        "/sla/breaches/",
        "/audit/",
        "/privacy/",
        "/account/security/",
        "/admin/",
        "/admin/cases/routingrule/",
        "/admin/cases/routingrule/add/",
        "/admin/accounts/user/",
        "/api/v1/docs",
    ):
        response = page.goto(url)
        assert response is not None and response.status == 200, url
        page.wait_for_load_state("networkidle")
        assert _csp_errors(watched) == [], url
    # ECharts draws under the policy (its tooltips style elements through the CSSOM, allowed).
    page.goto("/customers/tiers/")
    chart = page.locator("[data-chart] canvas").first
    chart.wait_for()
    chart.hover()
    page.wait_for_timeout(300)
    assert _csp_errors(watched) == []
    # The admin's own scripts work under the policy.
    page.goto("/admin/cases/routingrule/add/")
    assert page.evaluate("() => typeof window.django") == "object"
    _assert_nothing_ran(page, watched)
