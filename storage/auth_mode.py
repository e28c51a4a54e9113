"""``DOCKET_AUTH``: whether Docket asks everyone to sign in (``password``, the default) or runs
in single-user mode (``none``) on a personal computer, where :func:`storage.users.ensure_local_admin`
gives the one account everyone acts as.
"""

from __future__ import annotations

import os

AUTH_ENV = "DOCKET_AUTH"
AUTH_MODES = ("password", "none")


class AuthConfigError(ValueError):
    """``DOCKET_AUTH`` has a value Docket does not know."""


def auth_mode() -> str:
    """Return ``"password"`` (default) or ``"none"`` (single-user mode) from ``$DOCKET_AUTH``.

    Raises :class:`AuthConfigError` for any other value, so a typo never switches sign-in off.
    """
    value = os.environ.get(AUTH_ENV, "").strip().lower() or "password"
    if value not in AUTH_MODES:
        raise AuthConfigError(f"{AUTH_ENV} must be one of {', '.join(AUTH_MODES)} (or unset); "
                              f"got {os.environ[AUTH_ENV]!r}")
    return value
