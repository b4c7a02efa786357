"""Navigation shown in the layout, according to the user's permissions."""

from typing import Any

from django.http import HttpRequest

from aftersales.notifications.selectors import unread_count


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    # Nothing of the application before the second sign-in step (MFA) is done.
    verified = user is not None and getattr(user, "is_verified", lambda: False)()
    if user is None or not user.is_authenticated or not verified:
        return {"nav_items": [], "unread_notifications": 0, "signed_in_fully": False}
    items = []
    if user.has_perm("cases.add_case"):
        items.append(("web:caller_lookup", "call"))
    if user.has_perm("cases.view_case"):
        items.append(("web:case_queue", "cases"))
    if user.has_perm("complaints.view_complaint"):
        items.append(("web:complaint_list", "complaints"))
    if user.has_perm("complaints.review_complaint"):
        items.append(("web:complaint_reviews", "complaint_reviews"))
    if user.has_perm("callbacks.view_returnvisit"):
        items.append(("web:visit_worklist", "callbacks"))
    if user.has_perm("customers.view_customer"):
        items.append(("web:customer_search", "customers"))
    if user.has_perm("catalog.view_unit"):
        items.append(("web:unit_list", "units"))
    if user.has_perm("parts.view_part"):
        items.append(("web:part_list", "parts"))
    if user.has_perm("customers.view_tier_report"):
        items.append(("web:customer_tiers", "tiers"))
    if user.has_perm("core.view_auditevent"):
        items.append(("web:audit_log", "audit"))
    if user.has_perm("privacy.view_erasurerecord"):
        items.append(("web:privacy_home", "privacy"))
    return {
        "nav_items": items,
        "unread_notifications": unread_count(user),
        "signed_in_fully": True,
    }
