"""The secret Telegram sends in X-Telegram-Bot-Api-Secret-Token."""

from __future__ import annotations

import base64
import hashlib
import hmac

_DERIVATION_LABEL = b"imagebot/webhook-secret/v1"


def derive_webhook_secret(bot_token: str) -> str:
    """A secret every replica computes alike from the bot token, so no webhook is ever registered without one.

    HMAC-SHA256 keyed by the token, base64url without padding: only the characters Telegram allows
    (A-Z, a-z, 0-9, _ and -), 43 of them; the token cannot be recovered from it.
    """
    digest = hmac.new(bot_token.encode(), _DERIVATION_LABEL, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def effective_webhook_secret(configured: str, bot_token: str) -> str:
    """The configured secret, else the derived one. Also in polling mode: the endpoint is never open."""
    return configured or derive_webhook_secret(bot_token)


def secret_matches(expected: str, presented: str | None) -> bool:
    """Constant-time comparison; a missing header never matches."""
    if presented is None:
        return False
    return hmac.compare_digest(expected.encode(), presented.encode())
