"""Stock set-ups shared by the parts tests."""

import datetime as dt

from aftersales.accounts.models import User
from aftersales.cases.models import Case
from aftersales.parts.models import Location, Part, Reservation
from aftersales.parts.services import stock_issue, stock_receive, stock_reserve


def issue(
    who: tuple[User, User], case: Case, part: Part, location: Location, quantity: int,
    at: dt.datetime,
) -> Reservation:  # fmt: skip
    """Receive, reserve and issue `quantity` at `at`."""
    warehouse_user, agent = who
    stock_receive(actor=warehouse_user, part=part, location=location, quantity=quantity, at=at)
    result = stock_reserve(
        actor=agent, case=case, part=part, location=location, quantity=quantity, at=at
    )
    assert result.reservation is not None
    stock_issue(actor=agent, reservation=result.reservation, at=at)
    return result.reservation
