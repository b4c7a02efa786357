"""Navigation shown in the layout, according to the user's permissions."""

from typing import Any

from django.http import HttpRequest

from aftersales.notifications.selectors import unread_count


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": [], "unread_notifications": 0}
    items = []
    if user.has_perm("cases.add_case"):
        items.append(("web:caller_lookup", "call"))
    if user.has_perm("cases.view_case"):
        items.append(("web:case_queue", "cases"))
    if user.has_perm("customers.view_customer"):
        items.append(("web:customer_search", "customers"))
    if user.has_perm("catalog.view_unit"):
        items.append(("web:unit_list", "units"))
    if user.has_perm("customers.view_tier_report"):
        items.append(("web:customer_tiers", "tiers"))
    return {"nav_items": items, "unread_notifications": unread_count(user)}
