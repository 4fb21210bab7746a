"""Stand-in for the payment portal (Cổng dịch vụ công): a payment order per notice, and the portal's
callback, signed with HMAC-SHA256 over the exact body bytes with a shared secret.

Callback body (JSON): {"payment_ref", "amount_vnd", "transaction_id", "paid_at" (ISO 8601 UTC),
"sent_at" (ISO 8601 UTC)}; header `X-Portal-Signature: sha256=<hex>`. A callback is refused when
the signature is missing or wrong (compared in constant time), when the body is not that JSON, or
when `sent_at` is further than the allowed skew from the store's clock (a replayed old callback).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from detector.errors import ConfigError
from detector.store.errors import InvalidRequest

SIGNATURE_PREFIX = "sha256="


class SignatureRefused(InvalidRequest):
    """A payment callback whose signature (or signed time) is not acceptable."""


@dataclass(frozen=True, slots=True)
class PaymentCallback:
    payment_ref: str
    amount_vnd: int
    transaction_id: str
    paid_at: datetime
    sent_at: datetime


def load_secret(path: str | Path) -> bytes:
    p = Path(path)
    try:
        secret = p.read_bytes().strip()
    except OSError as exc:
        raise ConfigError(f"{p}: payment portal secret cannot be read: {exc}") from exc
    if len(secret) < 16:
        raise ConfigError(f"{p}: payment portal secret is {len(secret)} bytes; at least 16 are needed")
    return secret


def sign(secret: bytes, body: bytes) -> str:
    """The signature header value the portal sends with `body`."""
    return SIGNATURE_PREFIX + hmac.new(secret, body, hashlib.sha256).hexdigest()


def _aware(value: object, name: str) -> datetime:
    if not isinstance(value, str):
        raise InvalidRequest(f"payment callback: {name} must be an ISO 8601 time string")
    try:
        t = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidRequest(f"payment callback: {name} {value[:40]!r} is not an ISO 8601 time") from exc
    if t.tzinfo is None:
        raise InvalidRequest(f"payment callback: {name} {value[:40]!r} has no time zone")
    return t


def verify_callback(
    secret: bytes | None, body: bytes, signature: str | None, now: datetime, max_skew_s: float
) -> PaymentCallback:
    """The parsed callback if its signature and signed time are good; SignatureRefused otherwise."""
    if secret is None:
        raise SignatureRefused("payment callbacks are disabled: no payment_secret_file is configured")
    if not signature or not signature.startswith(SIGNATURE_PREFIX):
        raise SignatureRefused("payment callback without a sha256= signature")
    if not hmac.compare_digest(sign(secret, body), signature.strip()):
        raise SignatureRefused("payment callback signature does not match its body")
    try:
        d = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidRequest(f"payment callback body is not JSON: {exc}") from exc
    if not isinstance(d, dict):
        raise InvalidRequest("payment callback body must be a JSON object")
    ref, txn, amount = d.get("payment_ref"), d.get("transaction_id"), d.get("amount_vnd")
    if not isinstance(ref, str) or not ref or not isinstance(txn, str) or not txn or len(txn) > 100:
        raise InvalidRequest("payment callback needs payment_ref and transaction_id (strings, <= 100 chars)")
    if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
        raise InvalidRequest("payment callback amount_vnd must be a non-negative integer")
    sent_at = _aware(d.get("sent_at"), "sent_at")
    if abs((now - sent_at).total_seconds()) > max_skew_s:
        raise SignatureRefused(
            f"payment callback signed at {sent_at.isoformat()} is more than {max_skew_s:.0f} s from now"
        )
    return PaymentCallback(ref, amount, txn, _aware(d.get("paid_at"), "paid_at"), sent_at)
