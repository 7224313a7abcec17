"""Sign release files with an offline Ed25519 key (the air-gapped path of docs/supply-chain.md).

    python scripts/sign_artifact.py keygen --private /media/keys/release.key --public release.pub
    python scripts/sign_artifact.py sign --key /media/keys/release.key --release v1.2.3 dist/sbom.cdx.json dist/*.whl

`sign` writes `<file>.sig` next to each file, covering the file's content, its
name and the release, so it verifies only for that file under that name in that
release. Set ARTIFACT_SIGNING_PASSPHRASE to encrypt the private key at
generation and to unlock it when signing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from _artifact_keys import SigningError, generate_keypair, load_private_key, sign


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sign_artifact.py", description=__doc__.split("\n", 1)[0])
    commands = parser.add_subparsers(dest="command", required=True)
    keygen = commands.add_parser("keygen", help="create a key pair (the private key outside any repository)")
    keygen.add_argument("--private", type=Path, required=True, help="where to write the private key (mode 600)")
    keygen.add_argument("--public", type=Path, required=True, help="where to write the public key")
    signer = commands.add_parser("sign", help="write <file>.sig for each file")
    signer.add_argument("--key", type=Path, required=True, help="the private key")
    signer.add_argument("--release", required=True, help="the release the files belong to (e.g. v1.2.3)")
    signer.add_argument("files", type=Path, nargs="+")
    args = parser.parse_args(argv)
    try:
        if args.command == "keygen":
            identifier = generate_keypair(args.private, args.public)
            print(f"key {identifier}: private {args.private}, public {args.public}")
            return 0
        key = load_private_key(args.key)
        for path in args.files:
            if not path.is_file():
                raise SigningError(f"{path} is not a file")
            signature = sign(path, key, args.release)
            path.with_name(path.name + ".sig").write_text(signature.to_json(), encoding="utf-8")
            print(f"signed {path} for {signature.release} (sha256 {signature.sha256}, key {signature.key_id})")
    except SigningError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
