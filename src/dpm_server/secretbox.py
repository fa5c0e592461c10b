"""Secrets at rest: sensitive ``authConfig.fields`` are Fernet-encrypted one by one and never leave in clear.

A stored authConfig keeps every field name, with ``"[REDACTED]"`` in place of each sensitive value; the
ciphertexts and fingerprints live beside it. The public view is then the stored config plus
``fieldFingerprints``, with no decryption on the read path. Fingerprints follow ``dpm.resources.secrets``
(``sha256:<salt>:<digest>``) and stay the same while a value is unchanged, so clients can compare them.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from dpm.resources.secrets import REDACTED, fingerprint, fingerprint_matches, is_sensitive_field


@dataclass
class SealedAuth:
    """An authConfig as stored: ``config`` with redacted values, plus ciphertexts and fingerprints by field name."""

    config: dict[str, Any]
    ciphertexts: dict[str, str] = field(default_factory=dict)
    fingerprints: dict[str, str] = field(default_factory=dict)


class SecretBox:
    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    @staticmethod
    def generate_key() -> bytes:
        return Fernet.generate_key()

    def seal(self, auth: Mapping[str, Any], previous: SealedAuth | None = None) -> SealedAuth:
        """Encrypt the sensitive fields of a sent authConfig, keeping stored values where the client sent none.

        A sensitive field sent as ``"[REDACTED]"`` or left out keeps its stored value; one sent as ``null`` is
        removed. A redacted field with nothing stored is dropped, so the rules report it as missing.
        """
        config = copy.deepcopy(dict(auth))
        sent: dict[str, Any] = dict(config.get("fields") or {})
        previous = previous or SealedAuth(config={})
        sealed = SealedAuth(config=config)
        fields: dict[str, Any] = {}
        for name, value in sent.items():
            if not is_sensitive_field(name):
                fields[name] = value
            elif value is None:
                continue
            elif value == REDACTED:
                if name in previous.ciphertexts:
                    self._keep(sealed, previous, name)
                    fields[name] = REDACTED
            else:
                self._store(sealed, previous, name, value)
                fields[name] = REDACTED
        for name in previous.ciphertexts.keys() - sent.keys():
            self._keep(sealed, previous, name)
            fields[name] = REDACTED
        config["fields"] = fields
        return sealed

    def open(self, sealed: SealedAuth) -> dict[str, Any]:
        """The authConfig with sensitive values in clear: only for outbound calls and full backups."""
        config = copy.deepcopy(sealed.config)
        fields = config.setdefault("fields", {})
        for name, token in sealed.ciphertexts.items():
            fields[name] = self._decrypt(token)
        return config

    @staticmethod
    def public(sealed: SealedAuth) -> dict[str, Any]:
        config = copy.deepcopy(sealed.config)
        config.setdefault("fields", {})
        config.setdefault("headers", {})
        config["fieldFingerprints"] = dict(sealed.fingerprints)
        return config

    def _store(self, sealed: SealedAuth, previous: SealedAuth, name: str, value: Any) -> None:
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
        old_print = previous.fingerprints.get(name)
        unchanged = old_print is not None and fingerprint_matches(old_print, text) is True
        sealed.fingerprints[name] = old_print if unchanged and old_print else fingerprint(text)
        sealed.ciphertexts[name] = self._fernet.encrypt(json.dumps(value).encode()).decode()

    @staticmethod
    def _keep(sealed: SealedAuth, previous: SealedAuth, name: str) -> None:
        sealed.ciphertexts[name] = previous.ciphertexts[name]
        if name in previous.fingerprints:
            sealed.fingerprints[name] = previous.fingerprints[name]

    def _decrypt(self, token: str) -> Any:
        try:
            return json.loads(self._fernet.decrypt(token.encode()))
        except InvalidToken as exc:
            raise RuntimeError("a stored secret cannot be decrypted: the server's secret key has changed") from exc


def mask(value: Any, name: str | int | None = None) -> Any:
    """``value`` with every sensitive field (by key name, at any depth) replaced by ``"[REDACTED]"``."""
    if isinstance(name, str) and is_sensitive_field(name) and value not in (None, ""):
        return REDACTED
    if isinstance(value, Mapping):
        return {k: mask(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v) for v in value]
    return value
