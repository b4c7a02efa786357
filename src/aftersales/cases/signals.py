"""Lifecycle signals other domains build on (return visits follow resolutions).

Sent inside the transaction of the change, after its event is written, so a receiver's writes
commit or roll back with it. Arguments: `case`, `actor` (None for the system or the customer)
and `at`.
"""

from django.dispatch import Signal

case_resolved = Signal()
case_reopened = Signal()
