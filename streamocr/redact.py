"""Redacting credentials from source URLs before they are printed, logged or shown.

A network source may carry a user name and password (``rtsp://user:secret@host/live``).
Whatever streamocr prints, logs, writes or shows names the source through `redact_url`
(one URL) or `redact_text` (any message that may contain URLs), which keep the user name
and replace the password with ``***``.

Example:
    >>> redact_url("rtsp://admin:hunter2@10.0.0.5:554/live")
    'rtsp://admin:***@10.0.0.5:554/live'
"""

from __future__ import annotations

import re

# scheme://userinfo@ where userinfo has no '/', '?', '#' or whitespace. The userinfo runs
# to the last '@' before the host, since a password may itself contain an '@'.
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<userinfo>[^/?#\s]*)@")
# A password may also come as a query parameter (some cameras: ?user=..&password=..).
_SECRET_QUERY = re.compile(
    r"(?P<key>[?&;](?:password|passwd|pwd|pass|token|key|secret|auth)=)(?P<value>[^&#\s]*)",
    re.IGNORECASE,
)
MASK = "***"


def _mask_userinfo(match: re.Match[str]) -> str:
    user, sep, _password = match.group("userinfo").partition(":")
    # user:password keeps the user; a lone token (rtsp://TOKEN@host) may be the secret.
    masked = f"{user}:{MASK}" if sep and user else MASK
    return f"{match.group('scheme')}{masked}@"


def redact_text(text: str) -> str:
    """`text` with the password of every URL in it (and secret query values) masked."""
    text = _USERINFO.sub(_mask_userinfo, text)
    return _SECRET_QUERY.sub(lambda m: m.group("key") + MASK, text)


def redact_url(url: str) -> str:
    """`url` with its password masked (``user:***@``); other strings come back unchanged."""
    return redact_text(url)
