"""Navigation shown in the layout, according to the user's permissions."""

from typing import Any

from django.http import HttpRequest


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": []}
    items = []
    if user.has_perm("cases.add_case"):
        items.append(("web:caller_lookup", "call"))
    if user.has_perm("cases.view_case"):
        items.append(("web:case_queue", "cases"))
    if user.has_perm("customers.view_customer"):
        items.append(("web:customer_search", "customers"))
    if user.has_perm("catalog.view_unit"):
        items.append(("web:unit_list", "units"))
    return {"nav_items": items}
