"""What can go wrong in a launch or a picture: a fixed reason code and a sentence to show.

The reason is the ``/metrics`` label and the log's ``reason``; the message is what the
clinician reads. Neither ever holds a token, a code, a patient id or a server's answer.
"""

from __future__ import annotations


class TimelineError(Exception):
    def __init__(self, reason: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.status = status
