"""Case attachments (工单附件): photos of a fault, invoices, logs, short videos.

Rules (OWASP ASVS V5 file handling):
- the type is identified from the file's own bytes against an allowlist (JPEG, PNG, GIF, WebP,
  PDF, MP4, UTF-8 plain text/log/CSV); what the uploader claims is ignored; SVG, HTML, XML,
  scripts and anything unknown are refused;
- the bytes are stored under `PRIVATE_MEDIA_ROOT` with a random name; no URL serves that
  directory: a file leaves the server only through `attachment_open`, which finds it through
  its case (so an attachment id of another case is simply not found) and audits the download;
- downloads are always sent as `attachment`, with the identified type, `nosniff` and a sandbox
  Content-Security-Policy, so even a file that fooled the checks is never rendered as a page.
"""

import hashlib
import re
import secrets
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import QuerySet
from django.http import FileResponse
from django.utils.translation import gettext as _

from aftersales.accounts.models import User
from aftersales.accounts.permissions import require_perm
from aftersales.core import clock
from aftersales.core.errors import ApplicationError, Conflict, NotFound
from aftersales.core.schemas import DB_INT_MAX
from aftersales.core.services import audit_record

from .models import Attachment, Case, CaseEvent
from .services import case_event_record

MAX_FILENAME = 200


@dataclass(frozen=True)
class FileType:
    content_type: str
    extensions: tuple[str, ...]  # the first is added to a name that lacks all of them


FILE_TYPES = {
    t.content_type: t
    for t in (
        FileType("image/jpeg", (".jpg", ".jpeg")),
        FileType("image/png", (".png",)),
        FileType("image/gif", (".gif",)),
        FileType("image/webp", (".webp",)),
        FileType("application/pdf", (".pdf",)),
        FileType("video/mp4", (".mp4", ".m4v")),
        FileType("text/plain", (".txt", ".log")),
        FileType("text/csv", (".csv",)),
    )
}
# Text has no magic bytes: it is accepted only under these names, and only as valid UTF-8.
TEXT_EXTENSIONS = {".txt": "text/plain", ".log": "text/plain", ".csv": "text/csv"}
# ISO base media brands of ordinary MP4 video (not HEIF images, not QuickTime).
MP4_BRANDS = {b"isom", b"iso2", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1", b"M4V "}
# Text a browser's sniffer would take for a web page or an image it renders (WHATWG MIME
# Sniffing, "identify an unknown MIME type"): refused even under a .txt name.
MARKUP_START = re.compile(
    rb"<(\?xml|!doctype|html|head|body|script|iframe|svg|style|title|table|a\b|img|div|p\b|"
    rb"br\b|b\b|h1|font|!--)",
    re.IGNORECASE,
)
# C0 controls other than tab, line feed, form feed, carriage return and escape (logs have ANSI).
TEXT_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f\x7f]")


def sniff_content_type(data: bytes, filename: str) -> str | None:
    """The allowed type the bytes themselves show, or None when the file is refused."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    if data[4:8] == b"ftyp" and data[8:12] in MP4_BRANDS:
        return "video/mp4"
    text_type = TEXT_EXTENSIONS.get(Path(filename).suffix.lower())
    if text_type is None:
        return None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    if TEXT_CONTROL.search(text) or MARKUP_START.match(data.lstrip(b"\xef\xbb\xbf \t\r\n\x0c")):
        return None
    return text_type


def clean_filename(name: str, content_type: str) -> str:
    """The uploader's file name, made harmless to show and to send back.

    No directory parts, no control or direction-override characters (U+202E shows
    "invoice<RLO>fdp.exe" as "invoiceexe.pdf"), no leading dots, at most 200 characters with
    the extension kept, and an extension that matches the identified type.
    """
    base = re.split(r"[/\\]", name)[-1]
    base = "".join(c for c in base if unicodedata.category(c) not in {"Cc", "Cf", "Zl", "Zp"})
    base = " ".join(base.split()).lstrip(". ")
    stem, suffix = _split(base)
    allowed = FILE_TYPES[content_type].extensions
    if suffix.lower() not in allowed:
        stem, suffix = (base or "attachment"), allowed[0]
    stem = stem or "attachment"
    return stem[: MAX_FILENAME - len(suffix)] + suffix


def _split(name: str) -> tuple[str, str]:
    dot = name.rfind(".")
    if dot <= 0 or len(name) - dot > 6:
        return name, ""
    return name[:dot], name[dot:]


def _root() -> Path:
    return Path(settings.PRIVATE_MEDIA_ROOT) / "attachments"


def _path(stored_name: str) -> Path:
    # Fanned out by the first two characters to keep directories small; the name is ours,
    # never the uploader's.
    return _root() / stored_name[:2] / stored_name


def attachment_list(case: Case) -> QuerySet[Attachment]:
    """The case's attachments that are not deleted, oldest first, with their uploaders."""
    return case.attachments.filter(deleted_at__isnull=True).select_related("uploaded_by")


def _get(case: Case, attachment_id: int) -> Attachment:
    # Always through the parent case: another case's attachment id is "not found", never
    # opened or deleted (the mistake of django-helpdesk #1335).
    attachment = (
        attachment_list(case).filter(pk=attachment_id).first()
        if 0 < attachment_id <= DB_INT_MAX
        else None
    )
    if attachment is None:
        raise NotFound("not_found", _("No such attachment on this case."))
    return attachment


def attachment_add(*, actor: User, case: Case, upload: "UploadedFile[bytes]") -> Attachment:
    """Attach an uploaded file to a case, after checking its size, real type and the limit.

    Refusals: 413 `too_large`, 415 `unsupported_type`, 409 `too_many_attachments`; nothing is
    stored then. The case timeline gets an `attachment` event in the same transaction.
    """
    require_perm(actor, "cases.work_case")
    limit = settings.ATTACHMENT_MAX_BYTES
    if upload.size is None or upload.size > limit:
        raise _too_large(limit)
    data = b"".join(upload.chunks())
    if len(data) > limit:
        raise _too_large(limit)
    if not data:
        raise ApplicationError(
            "empty_file", _("The file is empty."), details={"file": "empty"}, status=422
        )
    content_type = sniff_content_type(data, upload.name or "")
    if content_type is None:
        raise ApplicationError(
            "unsupported_type",
            _(
                "This kind of file cannot be attached. Allowed: JPEG, PNG, GIF and WebP "
                "images, PDF, MP4 video, and plain text, log or CSV files."
            ),
            details={"allowed": sorted(FILE_TYPES)},
            status=415,
        )
    stored_name = secrets.token_hex(20)
    path = _path(stored_name)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(path, "xb") as out:  # "x": a name collision fails instead of overwriting
        out.write(data)
    path.chmod(0o600)
    try:
        with transaction.atomic():
            locked = Case.objects.select_for_update(of=("self",)).get(pk=case.pk)
            count = locked.attachments.filter(deleted_at__isnull=True).count()
            if count >= settings.ATTACHMENT_MAX_PER_CASE:
                raise Conflict(
                    "too_many_attachments",
                    _("A case holds at most %(n)d attachments.")
                    % {"n": settings.ATTACHMENT_MAX_PER_CASE},
                    details={"limit": settings.ATTACHMENT_MAX_PER_CASE},
                )
            now = clock.now()
            attachment = Attachment(
                case=locked,
                uploaded_by=actor,
                filename=clean_filename(upload.name or "", content_type),
                stored_name=stored_name,
                content_type=content_type,
                size=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                created_at=now,
            )
            attachment.full_clean()
            attachment.save()
            locked.updated_at = now
            locked.save(update_fields=["updated_at"])
            case_event_record(
                locked,
                kind=CaseEvent.Kind.ATTACHMENT,
                actor=actor,
                at=now,
                body=attachment.filename,
                data={
                    "change": "added",
                    "attachment_id": attachment.pk,
                    "content_type": content_type,
                    "size": attachment.size,
                },
            )
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return attachment


def _too_large(limit: int) -> ApplicationError:
    return ApplicationError(
        "too_large",
        _("The file is larger than %(mb)s MB.") % {"mb": f"{limit / 1024 / 1024:g}"},
        details={"max_bytes": limit},
        status=413,
    )


def attachment_delete(*, actor: User, case: Case, attachment_id: int) -> Attachment:
    """Delete an attachment of `case`: by whoever uploaded it, or by someone who may reassign
    cases (a supervisor). The row stays as the record (who, what, when, its hash); the bytes are
    removed once the deletion is committed."""
    require_perm(actor, "cases.view_case")
    with transaction.atomic():
        locked = Case.objects.select_for_update(of=("self",)).get(pk=case.pk)
        attachment = _get(locked, attachment_id)
        if attachment.uploaded_by_id != actor.pk and not actor.has_perm("cases.reassign_case"):
            raise PermissionDenied(_("Only the uploader or a supervisor may delete this file."))
        now = clock.now()
        attachment.deleted_at = now
        attachment.deleted_by = actor
        attachment.save(update_fields=["deleted_at", "deleted_by"])
        locked.updated_at = now
        locked.save(update_fields=["updated_at"])
        case_event_record(
            locked,
            kind=CaseEvent.Kind.ATTACHMENT,
            actor=actor,
            at=now,
            body=attachment.filename,
            data={"change": "removed", "attachment_id": attachment.pk},
        )
        path = _path(attachment.stored_name)
        transaction.on_commit(lambda: path.unlink(missing_ok=True))
    return attachment


def attachment_open(
    *, actor: User, case: Case, attachment_id: int, ip: str | None = None
) -> tuple[Attachment, IO[bytes]]:
    """Open an attachment of `case` for download and audit who took it (action
    "attachment.download", about the case's customer). The caller closes the file."""
    require_perm(actor, "cases.view_case")
    attachment = _get(case, attachment_id)
    try:
        handle = open(_path(attachment.stored_name), "rb")  # noqa: SIM115 - the response closes it
    except FileNotFoundError as exc:
        raise NotFound("not_found", _("The file of this attachment is missing.")) from exc
    try:
        with transaction.atomic():
            audit_record(
                actor=actor,
                action="attachment.download",
                entity="attachment",
                entity_id=attachment.pk,
                data={"case_id": case.pk, "sha256": attachment.sha256},
                customer_id=case.customer_id,
                ip=ip,
            )
    except BaseException:
        handle.close()
        raise
    return attachment, handle


def download_response(attachment: Attachment, handle: IO[bytes]) -> FileResponse:
    """The one way an attachment is sent: saved, never shown in the page's origin."""
    content_type = attachment.content_type
    if content_type.startswith("text/"):
        content_type += "; charset=utf-8"
    response = FileResponse(
        handle, as_attachment=True, filename=attachment.filename, content_type=content_type
    )
    response["X-Content-Type-Options"] = "nosniff"
    # Opened anyway (e.g. a PDF viewer), the file runs in a sandbox with no scripts and no
    # access to the application's origin.
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    return response


def attachments_erase_for_customers(*, customer_ids: list[int]) -> int:
    """Remove the files attached to the cases of erased customers (个人信息删除).

    Photos, invoices and logs a customer sent are their personal data: the bytes are removed
    once the erasure commits and each row is marked deleted (the file name itself is replaced
    through the registry of personal-data fields). Returns how many files go.
    """
    attachments = Attachment.objects.filter(
        case__customer_id__in=customer_ids, deleted_at__isnull=True
    )
    paths = [_path(name) for name in attachments.values_list("stored_name", flat=True)]
    count = attachments.update(deleted_at=clock.now())
    for path in paths:
        transaction.on_commit(lambda p=path: p.unlink(missing_ok=True))  # type: ignore[misc]
    return count
