"""Authenticating Kie.ai callbacks: a token in the callback URL and, when configured, Kie's HMAC headers.

Kie signs `taskId + "." + timestamp` (not the body) with the account's webhookHmacKey: base64 HMAC-SHA256,
timestamp in Unix seconds in X-Webhook-Timestamp. An old timestamp is a replay and is refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import time


def sign(hmac_key: str, task_id: str, timestamp: str) -> str:
    digest = hmac.new(hmac_key.encode(), f"{task_id}.{timestamp}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def signature_problem(
    hmac_key: str, task_id: str, timestamp: str | None, signature: str | None, max_skew: float, now: float | None = None
) -> str | None:
    """None when the signature is valid and fresh, else the reason to refuse."""
    if not timestamp or not signature:
        return "missing X-Webhook-Timestamp or X-Webhook-Signature"
    try:
        sent_at = float(timestamp)
    except ValueError:
        return "X-Webhook-Timestamp is not a number"
    if not math.isfinite(sent_at):  # "nan" would pass every age comparison
        return "X-Webhook-Timestamp is not a number"
    if abs((now if now is not None else time.time()) - sent_at) > max_skew:
        return "X-Webhook-Timestamp too old or in the future (replay?)"
    if not hmac.compare_digest(sign(hmac_key, task_id, timestamp).encode(), signature.encode()):
        return "bad X-Webhook-Signature"
    return None


def token_matches(expected: str, presented: str | None) -> bool:
    return presented is not None and hmac.compare_digest(expected.encode(), presented.encode())
