"""Verify offline Ed25519 signatures written by sign_artifact.py; exit 1 on any mismatch.

    python scripts/verify_artifact.py --public release.pub --release v1.2.3 dist/sbom.cdx.json dist/*.whl

Each file is checked against `<file>.sig`: the signature must be by the given
public key, over the file's current SHA-256, its current name and the release
asked for. A file renamed after signing, or signed for another release, is
rejected.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from _artifact_keys import Signature, SigningError, load_public_key, verify


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="verify_artifact.py", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--public", type=Path, required=True, help="the signer's public key")
    parser.add_argument("--release", required=True, help="the release the files must have been signed for")
    parser.add_argument("files", type=Path, nargs="+")
    args = parser.parse_args(argv)
    try:
        public_key = load_public_key(args.public)
    except SigningError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    failures = 0
    for path in args.files:
        signature_path = path.with_name(path.name + ".sig")
        try:
            if not path.is_file() or not signature_path.is_file():
                raise SigningError(f"{path} or its signature {signature_path.name} is missing")
            verify(path, Signature.from_json(signature_path.read_text(encoding="utf-8")), public_key, args.release)
            print(f"OK       {path}")
        except SigningError as error:
            failures += 1
            print(f"REJECTED {path}: {error}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
