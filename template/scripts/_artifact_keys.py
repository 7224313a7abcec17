"""Ed25519 detached signatures over a file's SHA-256, for air-gapped signing and verification.

The keyless path (cosign + GitHub OIDC, see docs/supply-chain.md) needs
network access to Sigstore. Where there is none, a release manager signs the
SBOM and artifacts with an offline Ed25519 key and anyone holding the public
key verifies them. The signed message is a fixed context string followed by
the file's name, the release it belongs to and its SHA-256 digest, so a
signature can never be replayed as a signature over anything else: not over
another file, not under another name (an old release's signed SBOM renamed to
look like a new one's), not for another release (the same file name signed for
v1.0 does not verify for v1.1). Signatures of the first format (v1) covered the
digest only; they are refused, with the hint to re-sign. Private keys never
enter a repository: writing one inside a git work tree is refused.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

FORMAT = "ed25519-sha256-v2"
LEGACY_FORMATS = ("ed25519-sha256-v1",)
CONTEXT = b"artifact-signature/" + FORMAT.encode() + b"\0"
PASSPHRASE_VARIABLE = "ARTIFACT_SIGNING_PASSPHRASE"  # noqa: S105 - the name of a variable, not a secret
CHUNK = 1 << 20


class SigningError(Exception):
    """A key, a signature or a file that cannot be used; the message says why."""


@dataclass(frozen=True)
class Signature:
    """A detached signature as stored next to the file (`<file>.sig`, JSON)."""

    file: str
    release: str
    sha256: str
    key_id: str
    signature: str

    def to_json(self) -> str:
        return json.dumps({"format": FORMAT, **self.__dict__}, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Signature:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise SigningError(f"the signature file is not JSON: {error}") from None
        if isinstance(data, dict) and data.get("format") in LEGACY_FORMATS:
            raise SigningError(
                f"the signature is in the old {data['format']} format, which binds neither the file name nor the "
                "release; re-sign the file with scripts/sign_artifact.py sign --release <tag>"
            )
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise SigningError(f"the signature file is not in the {FORMAT} format")
        try:
            return cls(
                str(data["file"]),
                str(data["release"]),
                str(data["sha256"]),
                str(data["key_id"]),
                str(data["signature"]),
            )
        except KeyError as error:
            raise SigningError(f"the signature file lacks {error.args[0]!r}") from None


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def key_id(public_key: Ed25519PublicKey) -> str:
    """The first 16 hex digits of the SHA-256 of the raw public key: names the key in a signature."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def _passphrase() -> bytes | None:
    value = os.environ.get(PASSPHRASE_VARIABLE)
    return value.encode() if value else None


def _inside_git_work_tree(path: Path) -> bool:
    try:
        result = subprocess.run(
            ["git", "rev-parse", "--is-inside-work-tree"],  # noqa: S607 - git from PATH, fixed arguments
            cwd=path,
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return False
    return result.returncode == 0 and result.stdout.strip() == "true"


def generate_keypair(private_path: Path, public_path: Path) -> str:
    """Write a new key pair (private key mode 600, encrypted when the passphrase variable is set)."""
    if private_path.exists():
        raise SigningError(f"{private_path} exists; refusing to overwrite a key")
    directory = private_path.resolve().parent
    if not directory.is_dir():
        raise SigningError(f"{directory} is not a directory")
    if _inside_git_work_tree(directory):
        raise SigningError(
            f"{private_path} is inside a git work tree; keep private keys outside any repository "
            "(e.g. on the offline signing machine or a removable medium)"
        )
    key = Ed25519PrivateKey.generate()
    passphrase = _passphrase()
    encryption = serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    descriptor = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
    public = key.public_key()
    public_path.write_bytes(
        public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return key_id(public)


def load_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=_passphrase())
    except (OSError, ValueError, TypeError) as error:
        raise SigningError(f"cannot load the private key {path}: {error}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningError(f"{path} is not an Ed25519 private key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except (OSError, ValueError) as error:
        raise SigningError(f"cannot load the public key {path}: {error}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise SigningError(f"{path} is not an Ed25519 public key")
    return key


def message(name: str, release: str, digest: str) -> bytes:
    """What is signed: the context, then the name, the release and the digest, unambiguously encoded."""
    return CONTEXT + json.dumps({"file": name, "release": release, "sha256": digest}, sort_keys=True).encode()


def _check_release(release: str) -> str:
    if not release or any(character.isspace() for character in release):
        raise SigningError(f"{release!r} is not a release name (e.g. v1.2.3)")
    return release


def sign(path: Path, private_key: Ed25519PrivateKey, release: str) -> Signature:
    digest = file_sha256(path)
    signature = private_key.sign(message(path.name, _check_release(release), digest))
    return Signature(path.name, release, digest, key_id(private_key.public_key()), base64.b64encode(signature).decode())


def verify(path: Path, signature: Signature, public_key: Ed25519PublicKey, release: str) -> None:
    """Raise SigningError unless `signature` is `public_key`'s signature over this file, under this name,
    for this release."""
    if signature.key_id != key_id(public_key):
        raise SigningError(f"signed by key {signature.key_id}, not by the given key {key_id(public_key)}")
    if signature.file != path.name:
        raise SigningError(f"signed as {signature.file!r}, not as {path.name!r}: a signature covers the file name")
    if signature.release != _check_release(release):
        raise SigningError(f"signed for release {signature.release!r}, not for {release!r}")
    digest = file_sha256(path)
    if digest != signature.sha256:
        raise SigningError(f"{path.name} has changed since it was signed (SHA-256 {digest} != {signature.sha256})")
    try:
        # The message is rebuilt from what the verifier expects, never from the signature file's fields.
        public_key.verify(base64.b64decode(signature.signature, validate=True), message(path.name, release, digest))
    except (InvalidSignature, ValueError):
        raise SigningError("the signature does not verify") from None
