"""Field-level access rules: which roles see which personal and commercial data (ASVS V8).

Scopes (`accounts.roles.Scope`) decide *which records* a user sees; the record-level rule is
that every list and every object goes through the scoped selectors (`case_queryset_for`,
`customer_queryset_for`, `unit_queryset_for`), so a record outside the scope is a 404. The rules
below decide which *fields* of a visible record leave the server. Each is a permission, checked
in the API schemas' resolvers (`visible_to(context, perm)`) and in templates (`perms.x.y` or a
context flag), never a role name, so granting a role a field is one line in `ROLE_PERMISSIONS`.

Each rule: the data, the permission (or scope) that shows it, the roles that hold it, and
where it is enforced.

- Customer contact points (phone, e-mail; always masked) and address regions.
  Rule: `customers.view_contact`. Roles: every role with `customers.view_customer` (agents,
  technicians, callback, complaint review, supervisors, managers); not warehouse.
  Enforced: `CustomerOut.contacts/addresses`, `CustomerMatchOut.contacts` (caller look-up),
  customer search (API and page), customer page, merge page.
- Clear phone numbers, e-mail addresses and streets.
  Rule: `customers.reveal_contact`, and every reveal writes an audit row
  (`customer.contact_revealed`). Roles: agents, technicians, callback, supervisors, managers.
  Enforced: `POST /customers/{id}/reveal` and the page's reveal button are the only answers
  that carry a clear value.
- The owner of a unit (customer id, number, name).
  Rule: the customer is in the reader's customer scope (`customer_queryset_for`). Roles: desk
  roles and supervisors (every customer), technicians (the customers of their own cases);
  never warehouse. Enforced: `UnitOut.customer` (null otherwise), unit list, unit page.
- What a customer paid for a unit (revenue).
  Rule: `catalog.view_purchase_amount`. Roles: agents, callback, complaint review,
  supervisors, managers; not technicians, not warehouse. Enforced: `UnitOut.purchase_amount`
  (null otherwise), unit page.
- A customer's value figures: tier score, purchase total, dimension scores.
  Rule: `customers.view_customer_value`. Roles: as for purchase amounts. Enforced:
  `CustomerTierOut.score` (null otherwise), the tier card of the customer page.
- The tier report: every customer's purchase spread, tier moves, overrides.
  Rule: `customers.view_tier_report`. Roles: supervisors, regional and after-sales managers,
  administrators. Enforced: tier report API and page.
- The tier itself (the VIP badge).
  Rule: `customers.view_customer`: it sets the priority of the customer's cases and is not a
  revenue figure.
- Case content (subject, description, events, notes, attachments).
  Rule: the case scope (`case_queryset_for`: own, team, led teams, region, all). Enforced:
  every case endpoint and page; child records only through their case.

Warehouse staff see units (model, serial, purchase date, warranty) and product models, and no
customer at all: not the owner's name nor number, no contacts, no amounts, no cases. Parts they
ship go to a technician or an outlet named on a work order, never to a customer they look up.

Records that are deliberately not scoped: product lines and models, import reports (behind
`catalog.import_units`), teams and active staff offered for assignment (the assignment service
checks membership and `cases.reassign_case`), the tier report and tier moves (behind
`customers.view_tier_report`, held only by roles that see every customer), and a data-subject
export (behind `privacy.export_subject`: the person's whole file, every case included, as the
law requires; held only by the manager and administrators, who see every record anyway).
Everything else a client can name by id or number is looked up through a scoped selector,
and child records (case events, attachments, contacts, addresses, a customer's units) only
through their parent.

What a client may *write* is the other half: every API input schema derives from
`aftersales.core.schemas.StrictIn`, which refuses unknown fields (422 `invalid_input`), and
none of them carries an owner, assignee (except the assign endpoint), status (transitions
only), number, creator, merge pointer or tier (the tier endpoint only).
"""

from typing import Any

from django.http import HttpRequest

# Permissions that guard fields rather than models. They are created by `roles_sync` on the
# model their data belongs to (no migration needed): "app_label.codename" -> (model, name).
FIELD_PERMISSIONS: dict[str, tuple[str, str]] = {
    "customers.view_contact": ("customer", "Can see a customer's contact points (masked)"),
    "customers.view_customer_value": (
        "customer",
        "Can see a customer's value figures (tier score, purchase total)",
    ),
    "catalog.view_purchase_amount": ("unit", "Can see what a customer paid for a unit"),
}

VIEW_CONTACT = "customers.view_contact"
VIEW_CUSTOMER_VALUE = "customers.view_customer_value"
VIEW_PURCHASE_AMOUNT = "catalog.view_purchase_amount"


def may(user: Any, perm: str) -> bool:
    """Whether an active, signed-in user's roles grant `perm`."""
    return bool(
        user is not None
        and getattr(user, "is_authenticated", False)
        and user.is_active
        and user.has_perm(perm)
    )


def context_user(context: Any) -> Any:
    """The user behind the request of a ninja schema resolver's `context` (None if none)."""
    request = (context or {}).get("request")
    if not isinstance(request, HttpRequest):
        return None
    return getattr(request, "auth", None) or getattr(request, "user", None)


def visible_to(context: Any, perm: str) -> bool:
    """Whether the reader of an API response may see a field guarded by `perm`."""
    return may(context_user(context), perm)
