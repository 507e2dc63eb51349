#!/usr/bin/env python3
"""Decrypts an object tollgate stored encrypted (format version 1), without tollgate.

    tools/decrypt.py --master-key-file DATA_DIR/master.key STORED > plain    # SSE-S3
    tools/decrypt.py --customer-key BASE64_KEY STORED > plain                 # SSE-C

STORED is the object's bytes as the disk (blobs/..) or the upstream holds them: one sealed
stream (a single-part object, or one part of a multipart object). The format is in the
README ("Encryption at rest"); this script is its executable description, run by the tests.
Needs the `cryptography` package.
"""
import argparse
import base64
import hashlib
import hmac
import struct
import sys

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MODES = {1: b"sse-s3", 2: b"sse-kms", 3: b"sse-c"}
FRAME = 65536 + 16


def decrypt(blob: bytes, kek_of, context: bytes = b"") -> bytes:
    """kek_of(key_id) is the key that wrapped the data key named in the header."""
    if blob[:4] != b"TGE1" or blob[12] != 16:
        raise ValueError("not a tollgate sealed stream (format 1)")
    mode, (part,), prefix = blob[4], struct.unpack(">H", blob[5:7]), blob[7:12]
    p = 14 + blob[13]
    key_id = blob[14:p]
    wrapped = blob[p + 1 : p + 1 + blob[p]]
    p += 1 + blob[p]
    aad = b"tollgate sse v1\0" + MODES[mode] + b"\0" + key_id + b"\0" + context
    dk = AESGCM(AESGCM(kek_of(key_id)).decrypt(wrapped[:12], wrapped[12:], aad))
    frames = [blob[i : i + FRAME] for i in range(p, len(blob), FRAME)]
    return b"".join(dk.decrypt(prefix + struct.pack(">HIB", part, i, i == len(frames) - 1), f, None) for i, f in enumerate(frames))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    key = ap.add_mutually_exclusive_group(required=True)
    key.add_argument("--master-key-file", help="the gateway's master.key (SSE-S3 objects)")
    key.add_argument("--customer-key", help="the SSE-C key, base64 (as sent in x-amz-server-side-encryption-customer-key)")
    ap.add_argument("stored", help="the stored bytes of the object")
    args = ap.parse_args()
    if args.master_key_file:
        master = base64.b64decode(open(args.master_key_file).read().strip())
        derive = lambda key, label: hmac.new(key, label, hashlib.sha256).digest()  # noqa: E731

        def kek_of(key_id: bytes) -> bytes:
            if not key_id:  # the SSE-S3 key before any rotation
                return derive(master, b"tollgate kek v1\0sse-s3")
            versions = derive(master, b"tollgate kek v1\0sse-s3 versions")
            return derive(versions, b"tollgate derived key v1\0" + key_id)  # key_id "v{n}": version n
    else:
        customer = base64.b64decode(args.customer_key)

        def kek_of(_key_id: bytes) -> bytes:
            return customer

    sys.stdout.buffer.write(decrypt(open(args.stored, "rb").read(), kek_of))


if __name__ == "__main__":
    main()
