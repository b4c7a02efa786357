"""Case attachments: real types, limits, private storage, scoped look-ups, audited downloads."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from aftersales.accounts.models import User
from aftersales.accounts.roles import Role
from aftersales.cases.attachments import clean_filename, sniff_content_type
from aftersales.cases.models import Attachment, Case, CaseEvent
from aftersales.cases.services import case_open
from aftersales.core.models import AuditEvent
from tests.auth import sign_in

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
PDF = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n"
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom\x00\x00\x00\x08free"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>'
HTML = b"<!doctype html><html><body><script>alert(1)</script></body></html>"


@pytest.fixture(autouse=True)
def private_root(settings: Any, tmp_path: Path) -> Path:
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    return settings.PRIVATE_MEDIA_ROOT  # type: ignore[no-any-return]


def _url(case: Case, suffix: str = "") -> str:
    return f"/api/v1/cases/{case.number}/attachments{suffix}"


def _upload(
    client: Client, case: Case, name: str, data: bytes, content_type: str = "application/pdf"
) -> Any:
    return client.post(
        _url(case), {"file": SimpleUploadedFile(name, data, content_type=content_type)}
    )


def _stored_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_upload_stores_privately_with_the_type_the_bytes_show(
    api: Callable[[User], Any], agent: User, open_case: Case, private_root: Path
) -> None:
    # The client claims HTML; the bytes are a PNG: the bytes win.
    response = _upload(api(agent).client, open_case, "fault.png", PNG, "text/html")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["filename"] == "fault.png"
    assert body["content_type"] == "image/png"
    assert body["size"] == len(PNG)
    attachment = Attachment.objects.get(pk=body["id"])
    assert attachment.case == open_case and attachment.uploaded_by == agent
    [stored] = _stored_files(private_root)
    assert stored.read_bytes() == PNG
    assert stored.name == attachment.stored_name and "fault" not in stored.name
    assert not str(stored).startswith(str(settings.STATIC_ROOT))
    event = open_case.events.get(kind=CaseEvent.Kind.ATTACHMENT)
    assert event.actor == agent and event.body == "fault.png"
    assert event.data == {
        "change": "added",
        "attachment_id": attachment.pk,
        "content_type": "image/png",
        "size": len(PNG),
    }
    listed = api(agent).get(f"/cases/{open_case.number}/attachments").json()
    assert [a["id"] for a in listed] == [attachment.pk]
    assert listed[0]["uploaded_by"] == {"id": agent.pk, "name": agent.label}


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("photo.jpg", JPEG, "image/jpeg"),
        ("invoice.pdf", PDF, "application/pdf"),
        ("noise.mp4", MP4, "video/mp4"),
        ("anim.gif", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "image/gif"),
        ("x.webp", b"RIFF\x1a\x00\x00\x00WEBPVP8 ", "image/webp"),
        ("app.log", "2026-11-25 错误 E42: compressor\n".encode(), "text/plain"),
        ("readings.csv", b"time,temp\n10:00,4.5\n", "text/csv"),
    ],
)
def test_allowed_types_are_accepted(
    api: Callable[[User], Any], agent: User, open_case: Case, name: str, data: bytes, expected: str
) -> None:
    response = _upload(api(agent).client, open_case, name, data)
    assert response.status_code == 201, response.content
    assert response.json()["content_type"] == expected


@pytest.mark.parametrize(
    ("name", "data", "claimed"),
    [
        ("drawing.svg", SVG, "image/svg+xml"),
        ("page.html", HTML, "text/html"),
        ("photo.png", HTML, "image/png"),  # HTML claiming to be an image
        ("photo.png", SVG, "image/png"),
        ("notes.txt", HTML, "text/plain"),  # an HTML document renamed .txt
        ("data.txt", b'<?xml version="1.0"?><svg onload="alert(1)"/>', "text/plain"),
        ("data.xml", b'<?xml version="1.0"?><a/>', "application/xml"),
        ("run.js", b"alert(document.cookie)", "text/javascript"),
        ("run.sh", b"#!/bin/sh\nrm -rf /\n", "text/plain"),
        ("setup.exe", b"MZ\x90\x00\x03\x00\x00\x00", "application/octet-stream"),
        ("broken.txt", b"\xff\xfe\x00h\x00i", "text/plain"),  # not UTF-8
        ("bin.log", b"abc\x00def", "text/plain"),  # NUL: binary, not text
        ("clip.mov", b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  ", "video/quicktime"),
    ],
)
def test_unsupported_types_are_refused_and_nothing_is_stored(
    api: Callable[[User], Any],
    agent: User,
    open_case: Case,
    private_root: Path,
    name: str,
    data: bytes,
    claimed: str,
) -> None:
    response = _upload(api(agent).client, open_case, name, data, claimed)

    assert response.status_code == 415, response.content
    assert response.json()["code"] == "unsupported_type"
    assert "image/png" in response.json()["details"]["allowed"]
    assert not Attachment.objects.exists()
    assert not open_case.events.filter(kind=CaseEvent.Kind.ATTACHMENT).exists()
    assert _stored_files(private_root) == []


def test_too_large_is_413_and_nothing_is_stored(
    api: Callable[[User], Any], agent: User, open_case: Case, settings: Any, private_root: Path
) -> None:
    settings.ATTACHMENT_MAX_BYTES = 1024
    response = _upload(api(agent).client, open_case, "big.pdf", PDF + b"x" * 1024)

    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert response.json()["details"] == {"max_bytes": 1024}
    assert not Attachment.objects.exists()
    assert _stored_files(private_root) == []
    assert _upload(api(agent).client, open_case, "ok.pdf", PDF).status_code == 201


def test_empty_file_and_missing_field_are_refused(
    api: Callable[[User], Any], agent: User, open_case: Case
) -> None:
    client = api(agent).client
    empty = _upload(client, open_case, "empty.txt", b"")
    assert (empty.status_code, empty.json()["code"]) == (422, "empty_file")
    missing = client.post(_url(open_case), {"other": "x"})
    assert (missing.status_code, missing.json()["code"]) == (422, "invalid_input")
    assert not Attachment.objects.exists()


def test_a_case_holds_at_most_the_configured_number(
    api: Callable[[User], Any], agent: User, open_case: Case, settings: Any, private_root: Path
) -> None:
    settings.ATTACHMENT_MAX_PER_CASE = 2
    client = api(agent).client
    assert _upload(client, open_case, "a.pdf", PDF).status_code == 201
    assert _upload(client, open_case, "b.pdf", PDF).status_code == 201

    third = _upload(client, open_case, "c.pdf", PDF)

    assert third.status_code == 409
    assert third.json()["code"] == "too_many_attachments"
    assert open_case.attachments.count() == 2
    assert len(_stored_files(private_root)) == 2


def test_download_is_a_saved_file_with_the_sniffed_type_and_is_audited(
    api: Callable[[User], Any], agent: User, open_case: Case
) -> None:
    client = api(agent).client
    text = b"log line\n<script>alert(1)</script>\n"
    attachment_id = _upload(client, open_case, "../../etc/fault log.txt", text).json()["id"]

    response = client.get(_url(open_case, f"/{attachment_id}/download"))

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == text
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="fault log.txt"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "sandbox; default-src 'none'"
    assert response["Cache-Control"] == "no-store"
    audit = AuditEvent.objects.get(action="attachment.download")
    assert audit.actor == agent
    assert (audit.entity, audit.entity_id) == ("attachment", attachment_id)
    assert audit.customer_id == open_case.customer_id
    assert audit.data == {
        "case_id": open_case.pk,
        "sha256": Attachment.objects.get(pk=attachment_id).sha256,
    }
    assert audit.ip == "127.0.0.1"


def test_another_cases_attachment_id_is_not_found(
    api: Callable[[User], Any], agent: User, open_case: Case, customer: Any
) -> None:
    other_case, _ = case_open(actor=agent, customer=customer, channel="phone", subject="漏水")
    client = api(agent).client
    foreign_id = _upload(client, other_case, "theirs.pdf", PDF).json()["id"]

    download = client.get(_url(open_case, f"/{foreign_id}/download"))
    delete = client.delete(_url(open_case, f"/{foreign_id}"))

    assert (download.status_code, download.json()["code"]) == (404, "not_found")
    assert (delete.status_code, delete.json()["code"]) == (404, "not_found")
    assert Attachment.objects.get(pk=foreign_id).deleted_at is None
    assert not AuditEvent.objects.filter(action="attachment.download").exists()
    huge = client.get(_url(open_case, f"/{2**63}/download"))
    assert huge.status_code in (404, 422)


def test_a_case_outside_the_scope_is_not_found(
    api: Callable[[User], Any], agent: User, other_agent: User, open_case: Case
) -> None:
    attachment_id = _upload(api(agent).client, open_case, "a.pdf", PDF).json()["id"]
    outsider = api(other_agent).client

    assert outsider.get(_url(open_case)).status_code == 404
    assert outsider.get(_url(open_case, f"/{attachment_id}/download")).status_code == 404
    assert outsider.delete(_url(open_case, f"/{attachment_id}")).status_code == 404
    assert _upload(outsider, open_case, "b.pdf", PDF).status_code == 404
    assert open_case.attachments.count() == 1
    assert not AuditEvent.objects.filter(action="attachment.download").exists()


def test_only_the_uploader_or_a_supervisor_deletes(
    api: Callable[[User], Any],
    agent: User,
    senior_agent: User,
    supervisor: User,
    open_case: Case,
    private_root: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:
    first = _upload(api(agent).client, open_case, "a.pdf", PDF).json()["id"]
    second = _upload(api(agent).client, open_case, "b.pdf", PDF).json()["id"]

    refused = api(senior_agent).client.delete(_url(open_case, f"/{first}"))
    assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")
    assert Attachment.objects.get(pk=first).deleted_at is None

    with django_capture_on_commit_callbacks(execute=True):
        assert api(agent).client.delete(_url(open_case, f"/{first}")).status_code == 204
        assert api(supervisor).client.delete(_url(open_case, f"/{second}")).status_code == 204

    gone = Attachment.objects.get(pk=first)
    assert gone.deleted_by == agent and gone.deleted_at is not None
    assert Attachment.objects.get(pk=second).deleted_by == supervisor
    assert _stored_files(private_root) == []
    assert api(agent).get(f"/cases/{open_case.number}/attachments").json() == []
    assert api(agent).client.get(_url(open_case, f"/{first}/download")).status_code == 404
    removed = open_case.events.filter(kind=CaseEvent.Kind.ATTACHMENT, data__change="removed")
    assert sorted(e.data["attachment_id"] for e in removed) == [first, second]
    again = api(agent).client.delete(_url(open_case, f"/{first}"))
    assert again.status_code == 404


def test_viewing_is_not_enough_to_attach(
    api: Callable[[User], Any],
    make_staff: Callable[..., User],
    desk_team: Any,
    open_case: Case,
) -> None:
    reviewer = make_staff(Role.COMPLAINT_REVIEWER, teams=[desk_team])
    response = _upload(api(reviewer).client, open_case, "a.pdf", PDF)
    assert (response.status_code, response.json()["code"]) == (403, "forbidden")
    assert not Attachment.objects.exists()


def test_file_names_are_cleaned() -> None:
    assert clean_filename("../../etc/passwd.txt", "text/plain") == "passwd.txt"
    assert clean_filename("C:\\Users\\李\\发票.pdf", "application/pdf") == "发票.pdf"
    # A right-to-left override would show "invoice\u202efdp.exe" as "invoiceexe.pdf".
    assert clean_filename("invoice\u202efdp.exe", "application/pdf") == "invoicefdp.exe.pdf"
    assert clean_filename("bad\x00na\r\nme.png", "image/png") == "badname.png"
    assert clean_filename(".htaccess", "text/plain") == "htaccess.txt"
    assert clean_filename("", "image/jpeg") == "attachment.jpg"
    assert clean_filename("photo.JPEG", "image/jpeg") == "photo.JPEG"
    assert clean_filename("evil.html", "image/png") == "evil.html.png"
    long = clean_filename("x" * 500 + ".pdf", "application/pdf")
    assert len(long) == 200 and long.endswith(".pdf")


def test_sniffing_ignores_the_claimed_name_for_binary_types() -> None:
    assert sniff_content_type(PNG, "report.txt") == "image/png"
    assert sniff_content_type(b"plain words", "report.pdf") is None
    assert sniff_content_type(b"\xef\xbb\xbfBOM text", "a.txt") == "text/plain"
    assert sniff_content_type(b"  \n<HTML><body>", "a.txt") is None


# The case page: the same rules through the staff UI.


def test_case_page_lists_uploads_and_downloads(
    client: Client, agent: User, open_case: Case
) -> None:
    sign_in(client, agent)
    page_url = f"/cases/{open_case.number}/"
    response = client.post(
        f"{page_url}attach/", {"file": SimpleUploadedFile("主板.jpg", JPEG, "image/jpeg")}
    )
    assert response.status_code == 302
    attachment = open_case.attachments.get()

    page = client.get(page_url)
    assert page.status_code == 200
    html = page.content.decode()
    download = f"{page_url}attachments/{attachment.pk}/"
    assert download in html and "主板.jpg" in html

    file = client.get(download)
    assert file.status_code == 200
    assert file["Content-Disposition"].startswith("attachment;")
    assert file["Content-Type"] == "image/jpeg"
    assert AuditEvent.objects.filter(action="attachment.download", entity_id=attachment.pk)

    gone = client.post(f"{page_url}detach/", {"attachment": str(attachment.pk)})
    assert gone.status_code == 302
    assert client.get(download).status_code == 404


def test_case_page_shows_refusals_with_their_status(
    client: Client, agent: User, open_case: Case, customer: Any
) -> None:
    sign_in(client, agent)
    page_url = f"/cases/{open_case.number}/"
    svg = client.post(
        f"{page_url}attach/", {"file": SimpleUploadedFile("x.svg", SVG, "image/svg+xml")}
    )
    assert svg.status_code == 415
    assert b'data-code="unsupported_type"' in svg.content
    assert client.post(f"{page_url}attach/", {}).status_code == 422
    other_case, _ = case_open(actor=agent, customer=customer, channel="phone", subject="漏水")
    client.post(
        f"/cases/{other_case.number}/attach/", {"file": SimpleUploadedFile("a.pdf", PDF, "")}
    )
    foreign = other_case.attachments.get()
    assert client.get(f"{page_url}attachments/{foreign.pk}/").status_code == 404
    detach = client.post(f"{page_url}detach/", {"attachment": str(foreign.pk)})
    assert detach.status_code == 404
    assert Attachment.objects.get(pk=foreign.pk).deleted_at is None
    assert open_case.attachments.count() == 0


def test_adding_and_removing_are_case_events_mirrored_in_the_audit_log(
    api: Callable[[User], Any], agent: User, open_case: Case
) -> None:
    client = api(agent).client
    attachment_id = _upload(client, open_case, "fault.png", PNG, "image/png").json()["id"]
    assert client.delete(_url(open_case, f"/{attachment_id}")).status_code in (200, 204)

    events = CaseEvent.objects.filter(case=open_case, kind="attachment").order_by("id")
    assert [e.data["change"] for e in events] == ["added", "removed"]
    mirrored = AuditEvent.objects.filter(action="case.attachment", entity_id=open_case.pk)
    assert sorted(r.data["event_id"] for r in mirrored) == [e.pk for e in events]
    # The file name is the event's free text: it stays out of the audit log.
    assert all("fault.png" not in str(r.data) for r in mirrored)
