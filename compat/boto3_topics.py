#!/usr/bin/env python3
"""Topics through boto3, as SDK users would meet them: a snapshot replaced under
optimistic locking by two racing clients, a content-addressed append log, and a mailbox
written by another tenant's user and read only by its recipient.

env: S3_ENDPOINT, AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (root), TOLLGATE_BIN (for
`tollgate admin`, which creates tenants, users, keys and topics).
Prints one PASS/FAIL line per check and "topics: N passed, M failed"; exits 1 on failure.
"""
import concurrent.futures
import hashlib
import json
import os
import subprocess
import sys
import time
import traceback

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

SUITE = "topics"
ENDPOINT = os.environ.get("S3_ENDPOINT")
ROOT_AK = os.environ.get("AWS_ACCESS_KEY_ID")
ROOT_SK = os.environ.get("AWS_SECRET_ACCESS_KEY")
TOLLGATE = os.environ.get("TOLLGATE_BIN")
if not (ENDPOINT and ROOT_AK and ROOT_SK and TOLLGATE):
    sys.exit("S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and TOLLGATE_BIN must be set")
for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_PROFILE", "AWS_CA_BUNDLE"):
    os.environ.pop(var, None)
os.environ["AWS_CONFIG_FILE"] = os.devnull
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
RUN = f"{int(time.time())}{os.getpid()}"


def admin(*args):
    env = dict(os.environ, AWS_ACCESS_KEY_ID=ROOT_AK, AWS_SECRET_ACCESS_KEY=ROOT_SK)
    out = subprocess.run([TOLLGATE, "admin", "--endpoint", ENDPOINT, "--json", *args], env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout) if out.stdout.strip() else None


def client(ak, sk):
    cfg = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1, "mode": "standard"})
    return boto3.client("s3", endpoint_url=ENDPOINT, region_name="us-east-1", aws_access_key_id=ak, aws_secret_access_key=sk, config=cfg)


def new_user(tenant, name, role):
    admin("user", "create", "--tenant", tenant, name, "--role", role)
    k = admin("key", "create", "--tenant", tenant, "--user", name)
    return client(k["access_key"], k["secret_key"])


def error_of(fn, **kw):
    try:
        fn(**kw)
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    return None, 200


passed, failed = 0, []


def check(name):
    def run(fn):
        global passed
        try:
            fn()
            passed += 1
            print(f"PASS {SUITE}: {name}")
        except Exception:  # noqa: BLE001 - every failure is reported
            failed.append(name)
            print(f"FAIL {SUITE}: {name}")
            print("    | " + traceback.format_exc().replace("\n", "\n    | "))
    return run


TA, TB = f"tpa{RUN}", f"tpb{RUN}"
BUCKET = f"tgc-topics-{RUN}"
admin("tenant", "create", TA)
admin("tenant", "create", TB)
alice = new_user(TA, "alice", "writer")
bob = new_user(TA, "bob", "writer")
carol = new_user(TA, "carol", "admin")
zed = new_user(TB, "zed", "writer")
carol.create_bucket(Bucket=BUCKET)
admin("topic", "set", "--bucket", BUCKET, "--topic", "snap", "--write", "single-auth", "--read", "auth")
admin("topic", "set", "--bucket", BUCKET, "--topic", "log", "--write", "append-auth", "--read", "open", "--content-addressed")
admin("topic", "set", "--bucket", BUCKET, "--topic", "inbox", "--write", "append-open", "--read", "auth")

try:
    @check("snapshot: create with IfNoneMatch, two racing IfMatch writers, exactly one wins")
    def _():
        key = "snap/alice/state.json"
        try:
            alice.put_object(Bucket=BUCKET, Key=key, Body=b"v0")
            raise AssertionError("a write without If-Match or If-None-Match was taken")
        except ClientError as e:
            assert e.response["Error"]["Code"] == "PreconditionFailed", e.response
            # botocore held the body back for this refusal (Expect: 100-continue): the
            # connection closes, so the next request cannot be misread as that body
            assert e.response["ResponseMetadata"]["HTTPHeaders"].get("connection") == "close", e.response
        etag = alice.put_object(Bucket=BUCKET, Key=key, Body=b"v1", IfNoneMatch="*")["ETag"]
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            results = list(pool.map(lambda body: error_of(alice.put_object, Bucket=BUCKET, Key=key, Body=body, IfMatch=etag), [b"left", b"right"]))
        assert sorted(results, key=lambda r: r[1]) == [(None, 200), ("PreconditionFailed", 412)], results
        assert error_of(bob.get_object, Bucket=BUCKET, Key=key)[1] == 403
        assert carol.get_object(Bucket=BUCKET, Key=key)["Body"].read() in (b"left", b"right")

    @check("append log: content-addressed, wrong digest is BadDigest, no overwrite or delete")
    def _():
        body = b'{"event": 1}'
        key = "log/alice/" + hashlib.sha256(body).hexdigest()
        alice.put_object(Bucket=BUCKET, Key=key, Body=body)
        wrong = "log/alice/" + hashlib.sha256(b"other").hexdigest()
        assert error_of(alice.put_object, Bucket=BUCKET, Key=wrong, Body=body)[0] == "BadDigest"
        assert error_of(alice.head_object, Bucket=BUCKET, Key=wrong)[1] == 404
        assert error_of(alice.put_object, Bucket=BUCKET, Key=key, Body=body)[1] == 403
        assert error_of(alice.delete_object, Bucket=BUCKET, Key=key)[1] == 403
        assert zed.get_object(Bucket=BUCKET, Key=key)["Body"].read() == body

    @check("mailbox: another tenant's user writes, only the recipient reads and lists")
    def _():
        zed.put_object(Bucket=BUCKET, Key="inbox/alice/hello", Body=b"hi alice")
        assert alice.get_object(Bucket=BUCKET, Key="inbox/alice/hello")["Body"].read() == b"hi alice"
        assert error_of(zed.get_object, Bucket=BUCKET, Key="inbox/alice/hello")[1] == 403
        assert error_of(bob.get_object, Bucket=BUCKET, Key="inbox/alice/hello")[1] == 403
        listed = [o["Key"] for o in bob.list_objects_v2(Bucket=BUCKET, Prefix="inbox/").get("Contents", [])]
        assert listed == [], listed
        listed = [o["Key"] for o in alice.list_objects_v2(Bucket=BUCKET, Prefix="inbox/").get("Contents", [])]
        assert listed == ["inbox/alice/hello"], listed
        assert error_of(zed.put_object, Bucket=BUCKET, Key="inbox/alice/hello", Body=b"overwrite")[1] == 403
finally:
    # Append topics are immutable: drop the topics, then empty the bucket as its admin.
    for topic in ("snap", "log", "inbox"):
        admin("topic", "delete", "--bucket", BUCKET, "--topic", topic)
    for page in carol.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for o in page.get("Contents", []):
            carol.delete_object(Bucket=BUCKET, Key=o["Key"])
    carol.delete_bucket(Bucket=BUCKET)

print(f"{SUITE}: {passed} passed, {len(failed)} failed")
for name in failed:
    print(f"  failed: {name}")
sys.exit(1 if failed else 0)
