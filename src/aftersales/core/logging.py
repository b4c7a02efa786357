"""Keep personal data out of the logs: a filter that masks phone numbers and e-mail addresses.

Installed on every handler in `LOGGING` (see `config/settings/base.py`), so whatever logger
writes a record, and whatever the code put in its message, arguments or exception, the line
that reaches the console or a log collector carries ``[phone]`` and ``[e-mail]`` instead.
The message is formatted first and its arguments dropped: an argument's own `str()` (a dict,
a model, an exception) is where personal data most often hides.

Phone numbers are recognised in the forms people and systems write them: E.164 and other
international numbers (``+86 138 0013 8000``, ``0086...``), mainland mobiles (``13800138000``,
``138-0013-8000``) and landlines with their area code (``0755-8888 6666``, ``010-12345678``).
Dates, times, case and customer numbers (``SR2026...``, ``C2026...``) are left alone.
"""

import logging
import re

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_SEP = r"[\s\-]?"
PHONE = re.compile(
    r"(?<![\w+])(?:"
    rf"(?:\+|00)\d{{1,3}}{_SEP}\(?\d{{1,4}}\)?(?:{_SEP}\d){{5,12}}"  # international
    rf"|1[3-9]\d{_SEP}\d{{4}}{_SEP}\d{{4}}"  # mainland mobile
    rf"|\(?0\d{{2,3}}\)?{_SEP}\d{{3,4}}{_SEP}\d{{4}}"  # landline with area code
    r")(?![\w])"
)


def redact(text: str) -> str:
    """`text` with e-mail addresses and phone numbers replaced by placeholders."""
    return PHONE.sub("[phone]", EMAIL.sub("[e-mail]", text))


class RedactPersonalData(logging.Filter):
    """Rewrites each record's message (with its arguments) and exception text, redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: log what there is rather than nothing
            message = f"{record.msg} {record.args}"
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
