"""E-mail backends that fail the way an SMTP server or connection does.

Set one with `settings.EMAIL_BACKEND = "tests.email_backends.RefusingBackend"`; set the
locmem backend back to let the next attempt through.
"""

import smtplib

from django.core.mail.backends.base import BaseEmailBackend


class RefusingBackend(BaseEmailBackend):
    """The server refuses the recipient for good (550)."""

    def send_messages(self, email_messages):
        raise smtplib.SMTPRecipientsRefused(
            {m.to[0]: (550, b"5.1.1 User unknown") for m in email_messages}
        )


class GreylistingBackend(BaseEmailBackend):
    """The server asks to try the recipient again later (450)."""

    def send_messages(self, email_messages):
        raise smtplib.SMTPRecipientsRefused(
            {m.to[0]: (450, b"4.2.0 Greylisted, try again later") for m in email_messages}
        )


class TimeoutBackend(BaseEmailBackend):
    """The server does not answer in time."""

    def send_messages(self, email_messages):
        raise TimeoutError("timed out")


class UnreachableBackend(BaseEmailBackend):
    """Nothing listens on the SMTP port."""

    def send_messages(self, email_messages):
        raise ConnectionRefusedError(111, "Connection refused")


class DisconnectingBackend(BaseEmailBackend):
    """The server hangs up mid-conversation."""

    def send_messages(self, email_messages):
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")


class BusyBackend(BaseEmailBackend):
    """The server accepts the recipient but cannot take the message now (451)."""

    def send_messages(self, email_messages):
        raise smtplib.SMTPDataError(451, b"4.3.0 Mail server temporarily rejected message")


class RejectingContentBackend(BaseEmailBackend):
    """The server refuses the message itself for good (554)."""

    def send_messages(self, email_messages):
        raise smtplib.SMTPDataError(554, b"5.7.1 Message rejected as spam")


class BadCredentialsBackend(BaseEmailBackend):
    """Our SMTP user or password is wrong (535)."""

    def send_messages(self, email_messages):
        raise smtplib.SMTPAuthenticationError(535, b"5.7.8 Authentication credentials invalid")
