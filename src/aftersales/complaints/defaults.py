"""What a new installation starts with (editable in the admin afterwards): the review policy,
the compensation approval chain and the answer letter in Chinese and English.

Approval chain (补偿审批): agents approve up to ¥200, supervisors and regional managers up to
¥2,000, the after-sales manager without a limit. Installed by a migration;
`complaints_defaults_ensure` puts back what is missing where a database was emptied (tests).
Existing (perhaps edited) rows are never changed.
"""

from decimal import Decimal
from typing import Any

# (rank, name, roles, limit; None = unlimited)
APPROVAL_LEVELS: tuple[tuple[int, str, list[str], Decimal | None], ...] = (
    (1, "坐席 / Agent", ["frontline_agent", "senior_agent"], Decimal("200")),
    (2, "主管 / Supervisor", ["supervisor", "regional_manager"], Decimal("2000")),
    (3, "售后经理 / After-sales manager", ["aftersales_manager"], None),
)

ANSWER = "complaint_answer"

# (code, language, subject, body); placeholders: see `complaints.letters.PLACEHOLDERS`.
# One line per paragraph, so mail clients wrap the text to their own width.
LETTERS: tuple[tuple[str, str, str, str], ...] = (
    (
        ANSWER,
        "zh-hans",
        "关于您的投诉 $complaint_number 的答复",
        "\n\n".join(
            [
                "尊敬的 $customer_name：",
                "您好！感谢您就我们的服务向我们反映问题（投诉编号 $complaint_number）。"
                "给您带来的不便和困扰，我们深表歉意。",
                "我们已对您反映的情况进行了认真核实，处理结果如下：",
                "$message",
                "$compensation",
                "如您对以上处理结果有任何疑问或不同意见，请直接回复本函或致电我们的服务热线，"
                "并提供投诉编号 $complaint_number，我们将及时跟进，直至问题得到妥善解决。",
                "再次感谢您的理解与支持，我们会以此为鉴，持续改进服务。",
                "此致\n敬礼",
                "$company",
            ]
        ),
    ),
    (
        ANSWER,
        "en",
        "Our answer to your complaint $complaint_number",
        "\n\n".join(
            [
                "Dear $customer_name,",
                "Thank you for telling us about your experience with our service (complaint "
                "reference $complaint_number). We are sorry for the inconvenience and "
                "frustration this has caused you.",
                "We have looked carefully into what you reported. This is what we found and "
                "what we will do:",
                "$message",
                "$compensation",
                "If you have any questions about this answer, or if you do not agree with it, "
                "please reply to this letter or call our service hotline quoting "
                "$complaint_number, and we will follow it up until the matter is properly "
                "resolved.",
                "Thank you again for your patience. Your feedback helps us improve our service.",
                "Yours sincerely,",
                "$company",
            ]
        ),
    ),
)


def complaints_defaults_install(
    *, policy_model: Any, level_model: Any, template_model: Any
) -> None:
    """Create what is missing with the given (possibly historical) models."""
    if not policy_model.objects.exists():
        policy_model.objects.create()
    for rank, name, roles, limit in APPROVAL_LEVELS:
        level_model.objects.get_or_create(
            rank=rank, defaults={"name": name, "roles": roles, "limit": limit}
        )
    for code, language, subject, body in LETTERS:
        template_model.objects.get_or_create(
            code=code, language=language, defaults={"subject": subject, "body": body}
        )


def complaints_defaults_ensure() -> None:
    """Install the defaults that are missing (e.g. after a database flush)."""
    from .models import ApprovalLevel, LetterTemplate, ReviewPolicy

    complaints_defaults_install(
        policy_model=ReviewPolicy, level_model=ApprovalLevel, template_model=LetterTemplate
    )
