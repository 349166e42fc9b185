"""Which SSH public keys the chapter accepts: parse and judge one OpenSSH key line.

Pure. `parse_public_key` takes what a requester pasted (one `authorized_keys`-style
line: type, base64 blob, optional comment) and returns a `PublicKey` with the type,
the strength in bits, the fingerprint in OpenSSH's `SHA256:…` form and the comment,
or raises `SSHKeyError` whose message tells the requester what to do instead.
Accepted: ssh-ed25519, sk-ssh-ed25519@openssh.com, ecdsa-sha2-nistp256/384/521 and
ssh-rsa of at least 3072 bits. The blob's framing is read here, so that a key whose
blob names another type, is truncated or carries trailing bytes gets its own message;
the key material itself is checked by `cryptography`'s `load_ssh_public_key` (an ECDSA
point off its curve, an RSA exponent out of range). Private keys are recognised and
refused with a warning never to paste one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from dataclasses import dataclass

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_ssh_public_key

from policies.errors import Refusal
from policies.words import Words

MIN_RSA_BITS = 3072
MAX_LINE = 16_384

_ECDSA = {
    "ecdsa-sha2-nistp256": "nistp256",
    "ecdsa-sha2-nistp384": "nistp384",
    "ecdsa-sha2-nistp521": "nistp521",
}
ACCEPTED_TYPES = (
    "ssh-ed25519",
    "sk-ssh-ed25519@openssh.com",
    *_ECDSA,
    "ssh-rsa",
)
_HOW_TO = Words(
    "Create a new key with `ssh-keygen -t ed25519` and paste the .pub file.",
    "ats-bridge-sshkey-how-to",
)


class SSHKeyError(Refusal, ValueError):
    """The pasted text is not an acceptable SSH public key; the message (`Words`) says why."""


@dataclass(frozen=True)
class PublicKey:
    type: str
    bits: int
    blob: bytes
    fingerprint: str  # SHA256:<base64 without padding>, as `ssh-keygen -l` prints it
    comment: str

    @property
    def line(self) -> str:
        """The key as stored and installed: type and blob, without the comment."""
        return f"{self.type} {base64.b64encode(self.blob).decode('ascii')}"


def fingerprint(blob: bytes) -> str:
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode("ascii")
    return "SHA256:" + digest.rstrip("=")


def parse_public_key(text: str) -> PublicKey:
    """Parse and validate one OpenSSH public key line."""
    text = text.strip()
    if "PRIVATE KEY" in text or "-----BEGIN" in text:
        raise SSHKeyError(
            Words(
                "This looks like a private key. Never paste a private key anywhere: it must "
                "stay on your computer. Paste the public key instead (the file ending in .pub), "
                "and if you have shared this private key, create a new one.",
                "ats-bridge-sshkey-private",
            )
        )
    if not text:
        raise SSHKeyError(
            Words(f"No key was given. {_HOW_TO}", "ats-bridge-sshkey-empty", how=_HOW_TO)
        )
    if len(text) > MAX_LINE:
        raise SSHKeyError(
            Words(
                "That is far too long for an SSH public key. Paste one .pub line.",
                "ats-bridge-sshkey-too-long",
            )
        )
    if "\n" in text or "\r" in text:
        raise SSHKeyError(
            Words("Paste one key at a time, on one line.", "ats-bridge-sshkey-one-line")
        )
    parts = text.split(None, 2)
    if len(parts) < 2:
        raise SSHKeyError(
            Words(
                f"An SSH public key reads `TYPE BASE64 [comment]`. {_HOW_TO}",
                "ats-bridge-sshkey-format",
                how=_HOW_TO,
            )
        )
    key_type, encoded = parts[0], parts[1]
    comment = parts[2].strip() if len(parts) > 2 else ""
    if key_type == "ssh-dss":
        raise SSHKeyError(
            Words(
                f"DSA keys are obsolete and refused. {_HOW_TO}",
                "ats-bridge-sshkey-dsa",
                how=_HOW_TO,
            )
        )
    if key_type not in ACCEPTED_TYPES:
        raise SSHKeyError(
            Words(
                f"Key type {key_type[:40]!r} is not accepted (accepted: "
                f"{', '.join(ACCEPTED_TYPES)}). Paste the key alone, without options. {_HOW_TO}",
                "ats-bridge-sshkey-type",
                type=key_type[:40],
                accepted=", ".join(ACCEPTED_TYPES),
                how=_HOW_TO,
            )
        )
    try:
        blob = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise SSHKeyError(
            Words(
                "The key's base64 part is damaged (copy the whole line again).",
                "ats-bridge-sshkey-base64",
            )
        ) from None
    reader = _Reader(blob)
    inner = reader.string().decode("ascii", "replace")
    if inner != key_type:
        raise SSHKeyError(
            Words(
                f"The line says {key_type!r} but the key inside is {inner[:40]!r}: "
                "the line was edited or pieced together. Copy the .pub file again.",
                "ats-bridge-sshkey-mismatch",
                type=key_type,
                inner=inner[:40],
            )
        )
    _check_framing(key_type, reader)
    if not reader.done():
        raise SSHKeyError(
            Words(
                "The key has extra bytes at its end; copy the .pub file again.",
                "ats-bridge-sshkey-extra-bytes",
            )
        )
    bits = _check_material(key_type, blob)
    return PublicKey(key_type, bits, blob, fingerprint(blob), comment)


def _check_framing(key_type: str, reader: _Reader) -> None:
    """The fields after the type, with the messages a requester can act on."""
    if key_type in ("ssh-ed25519", "sk-ssh-ed25519@openssh.com"):
        if len(reader.string()) != 32:
            raise SSHKeyError(
                Words(
                    "The Ed25519 key is not 32 bytes long; copy the .pub file again.",
                    "ats-bridge-sshkey-ed25519-length",
                )
            )
        if key_type.startswith("sk-"):
            application = reader.string()
            if not application:
                raise SSHKeyError(
                    Words(
                        "The security-key key names no application.",
                        "ats-bridge-sshkey-sk-application",
                    )
                )
        return
    if key_type in _ECDSA:
        curve = _ECDSA[key_type]
        if reader.string() != curve.encode():
            raise SSHKeyError(
                Words(
                    f"The ECDSA key is not on the {curve} curve its type names.",
                    "ats-bridge-sshkey-ecdsa-curve",
                    curve=curve,
                )
            )
        reader.string()  # the point, checked by cryptography
        return
    reader.string()  # RSA exponent and modulus, checked by cryptography
    reader.string()


def _check_material(key_type: str, blob: bytes) -> int:
    """The key's strength in bits, once `cryptography` has accepted its numbers."""
    line = key_type.encode() + b" " + base64.b64encode(blob)
    try:
        key = load_ssh_public_key(line)
    except (ValueError, UnsupportedAlgorithm):
        kind = "ECDSA" if key_type in _ECDSA else "RSA" if key_type == "ssh-rsa" else "Ed25519"
        raise SSHKeyError(
            Words(
                f"The {kind} key is not a valid key (its numbers do not fit together); "
                "copy the .pub file again.",
                "ats-bridge-sshkey-invalid",
                kind=kind,
            )
        ) from None
    if isinstance(key, ec.EllipticCurvePublicKey):
        return key.curve.key_size
    if isinstance(key, rsa.RSAPublicKey):
        bits = key.key_size
        if bits < MIN_RSA_BITS:
            raise SSHKeyError(
                Words(
                    f"This RSA key has {bits} bits; at least {MIN_RSA_BITS} are needed. {_HOW_TO}",
                    "ats-bridge-sshkey-rsa-bits",
                    bits=bits,
                    min=MIN_RSA_BITS,
                    how=_HOW_TO,
                )
            )
        return bits
    return 256


class _Reader:
    """Reads the SSH wire format (RFC 4251 §5): uint32-length-prefixed strings."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def string(self) -> bytes:
        if self.at + 4 > len(self.data):
            raise SSHKeyError(
                Words(
                    "The key is truncated; copy the whole line again.",
                    "ats-bridge-sshkey-truncated",
                )
            )
        (length,) = struct.unpack(">I", self.data[self.at : self.at + 4])
        start, self.at = self.at + 4, self.at + 4 + length
        if self.at > len(self.data):
            raise SSHKeyError(
                Words(
                    "The key is truncated; copy the whole line again.",
                    "ats-bridge-sshkey-truncated",
                )
            )
        return self.data[start : self.at]

    def done(self) -> bool:
        return self.at == len(self.data)
