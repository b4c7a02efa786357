"""docs/security.md's access table says what `accounts.roles` grants: a change to a role must
change the document too."""

from pathlib import Path

from aftersales.accounts.roles import ROLE_PERMISSIONS, ROLE_SCOPES, Role

DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"

# The table's columns after "role" and "scope", in order.
COLUMNS = [
    "cases.view_case",
    "cases.work_case",
    "cases.reassign_case",
    "customers.view_customer",
    "customers.view_contact",
    "customers.reveal_contact",
    "catalog.view_purchase_amount",
    "customers.view_tier_report",
    "customers.set_tier",
    "core.view_auditevent",
    "privacy.export_subject",
    "privacy.erase_subject",
    "accounts.change_user",
    "integrations.add_webhook",
    "complaints.handle_complaint",
    "complaints.review_complaint",
    "complaints.approve_compensation",
    "callbacks.work_return_visit",
    "parts.reserve_part",
    "parts.move_stock",
    "parts.approve_replenishment",
]


def _table() -> dict[str, list[str]]:
    rows: dict[str, list[str]] = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0] in Role._value2member_map_:
            rows[cells[0]] = cells[1:]
    return rows


def test_the_access_table_lists_every_role_with_its_scope_and_rights() -> None:
    table = _table()
    assert set(table) == {r.value for r in Role}
    for role in Role:
        scope, *marks = table[role.value]
        granted = set(ROLE_PERMISSIONS[role])
        assert scope == ROLE_SCOPES[role].value, role
        assert len(marks) == len(COLUMNS), role
        for perm, mark in zip(COLUMNS, marks, strict=True):
            assert (mark == "✓") == (perm in granted), (role.value, perm)
