"""The retention rules a new installation starts with (editable in the admin afterwards).

- Read notifications: 90 days after they were read; they only point at cases, which stay.
- Sign-in throttle counters: 30 days untouched (the accounts prune removes idle ones sooner; this
  is the ceiling the privacy policy promises), never while they hold a lock.
- Expired sessions: at once (0 days after expiry): an expired session is of no use to anyone.
- Inactive customers: anonymised 3 years (1095 days) after their last activity with no case
  open, the period the service policy keeps customer files for after the last contact; cases,
  units and purchase amounts stay with the anonymised stub.

Data-subject exports are never stored (they are built and downloaded in one request), so no
rule is needed for them; the audit log has none by design (append-only evidence).
"""

from typing import Any

from .models import RetentionAction, RetentionKind, RetentionRule

DEFAULT_RULES: tuple[tuple[str, int, str], ...] = (
    (RetentionKind.NOTIFICATIONS_READ, 90, RetentionAction.DELETE),
    (RetentionKind.SIGN_IN_ATTEMPTS, 30, RetentionAction.DELETE),
    (RetentionKind.SESSIONS_EXPIRED, 0, RetentionAction.DELETE),
    (RetentionKind.INACTIVE_CUSTOMERS, 1095, RetentionAction.ANONYMISE),
)


def retention_defaults_install(*, rule_model: Any = RetentionRule) -> None:
    """Create the default rules that are missing; existing (perhaps edited) rules are kept."""
    for kind, keep_days, action in DEFAULT_RULES:
        rule_model.objects.get_or_create(
            kind=str(kind), defaults={"keep_days": keep_days, "action": str(action)}
        )
