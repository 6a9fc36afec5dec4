"""Log formatting that settings.LOGGING refers to."""

import logging


class OneLineFormatter(logging.Formatter):
    """The message without its traceback, for expected noise: each scanner's bad Host header was a
    15-line DisallowedHost traceback in production logs."""

    def format(self, record: logging.LogRecord) -> str:
        saved = record.exc_info, record.exc_text, record.stack_info
        record.exc_info = record.exc_text = record.stack_info = None
        try:
            return super().format(record)
        finally:
            record.exc_info, record.exc_text, record.stack_info = saved
