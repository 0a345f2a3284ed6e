"""Login and tokens on a fake CapRover: the checks in the real server's order, and the back-off.

docs/caprover-api.md ("Login" and "Tokens") has the order, the texts and their sources.
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime
from typing import Any

from gc_tui.core.totp import totp_code
from gc_tui.demo.http_wire import Response
from gc_tui.demo.instance import FakeInstance
from gc_tui.demo.responses import envelope


def login(instance: FakeInstance, body: dict[str, Any]) -> Response:
    """POST /api/v2/login: a token, or the first check that failed."""
    state = instance.state
    password = str(body.get("password") or "")
    otp_token = str(body.get("otpToken") or "")
    if not password:
        return envelope(1000, "password is empty.")
    if instance.at_least("1.14") and len(password) > 29:
        return envelope(1000, "password is too long - maximum 29 characters. ...")
    otp_on = instance.otp_secret is not None and instance.at_least("1.11")
    if otp_on and not otp_token:
        return envelope(1114, "Enter OTP token as well")
    loop_now = asyncio.get_running_loop().time()
    if (
        len(state.failures) == state.failures.maxlen
        and loop_now - state.failures[0] < instance.backoff_window_seconds
    ):
        return envelope(1113, "Too many wrong passwords... Wait for 30 seconds and retry.")
    otp_good = not otp_on or _otp_matches(instance, otp_token)
    if not otp_good or not secrets.compare_digest(password.encode(), instance.password.encode()):
        state.failures.append(loop_now)
        on_1_10 = instance.version.startswith("1.10")
        wrong = "Password is incorrect." if on_1_10 else "Invalid credentials"
        return envelope(1105, wrong)
    token = secrets.token_urlsafe(48)
    instance.tokens[token] = instance.token_version
    return envelope(100, "Login succeeded", {"token": token})


def token_refusal(instance: FakeInstance, token: str) -> Response | None:
    """The 1106 answer for a token that is unknown or from before a restart; None if valid."""
    token_version = instance.tokens.get(token)
    if token_version is None:
        return envelope(1106, "Auth token corrupted")
    if token_version != instance.token_version:
        return envelope(1106, "Auth token is no longer valid. Request for a new auth token")
    return None


def _otp_matches(instance: FakeInstance, otp_token: str) -> bool:
    secret = instance.otp_secret
    assert secret is not None
    now = datetime.now(UTC).timestamp()
    return any(
        secrets.compare_digest(totp_code(secret, now=now + drift), otp_token)
        for drift in (-30, 0, 30)
    )
