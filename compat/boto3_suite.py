#!/usr/bin/env python3
"""boto3 compatibility suite: drives a live S3 endpoint exactly as an SDK user would.

env: S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (region us-east-1, path-style).
Prints one PASS/FAIL line per check and a final "boto3: N passed, M failed" line;
exits 1 if any check failed.
"""
import base64
import concurrent.futures
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
import uuid

import boto3
import botocore
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

SUITE = "boto3"
MIB = 1024 * 1024
ENDPOINT = os.environ.get("S3_ENDPOINT")
AK = os.environ.get("AWS_ACCESS_KEY_ID")
SK = os.environ.get("AWS_SECRET_ACCESS_KEY")
if not (ENDPOINT and AK and SK):
    sys.exit("S3_ENDPOINT, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set")
for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_PROFILE"):
    os.environ.pop(var, None)
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
os.environ["AWS_CONFIG_FILE"] = os.devnull
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
# COMPAT_CA_BUNDLE: the CA (PEM) of an https:// endpoint's certificate (compat/cluster.sh's
# test CA): boto3 and `tollgate admin` read AWS_CA_BUNDLE, urllib's default context SSL_CERT_FILE.
if os.environ.get("COMPAT_CA_BUNDLE"):
    os.environ["AWS_CA_BUNDLE"] = os.environ["SSL_CERT_FILE"] = os.environ["COMPAT_CA_BUNDLE"]


def make_client(signature_version=None, ak=AK, sk=SK):
    cfg = Config(
        s3={"addressing_style": "path"},
        retries={"max_attempts": 2, "mode": "standard"},
        connect_timeout=10,
        read_timeout=60,
        max_pool_connections=16,
        **({"signature_version": signature_version} if signature_version else {}),
    )
    return boto3.client(
        "s3",
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id=ak,
        aws_secret_access_key=sk,
        config=cfg,
    )


s3 = make_client()
RUN = f"{int(time.time())}-{uuid.uuid4().hex[:8]}"
BUCKET = f"tgc-boto3-{RUN}"
BUCKET_LIST = f"tgc-boto3l-{RUN}"  # the 1200-key listing bucket
BUCKET_VER = f"tgc-boto3v-{RUN}"  # the versioned bucket
BUCKET_SSE = f"tgc-boto3e-{RUN}"  # encryption at rest
created_buckets = []
WORK = tempfile.mkdtemp(prefix="tgcompat-boto3.")

passed = 0
failed = []


# Behaviour moto lacks, passed through by the gateway in front of it (compat/MOTO.md).
MOTO_LACKS = os.environ.get("COMPAT_UPSTREAM") == "moto"


# Checks not run, by "suite: name" (an extended regex), and why (compat/lib.sh: check).
SKIP_CHECKS = os.environ.get("COMPAT_SKIP_CHECKS")


def check(name, skip=None):
    if skip is None and SKIP_CHECKS and re.search(SKIP_CHECKS, f"{SUITE}: {name}"):
        skip = os.environ.get("COMPAT_SKIP_REASON") or "skipped"

    def deco(fn):
        global passed
        if skip:
            print(f"SKIP {SUITE}: {name}: {skip}", flush=True)
            return fn
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - a check fails on anything
            failed.append(name)
            print(f"FAIL {SUITE}: {name}: {type(e).__name__}: {e}", flush=True)
            tb = traceback.format_exc().rstrip().splitlines()
            for line in tb[-6:]:
                print(f"    | {line}")
        else:
            passed += 1
            print(f"PASS {SUITE}: {name}", flush=True)
        return fn

    return deco


def error_of(fn, *args, **kwargs):
    """Run fn, expect a ClientError; return (code, http status)."""
    try:
        fn(*args, **kwargs)
    except ClientError as e:
        return e.response["Error"].get("Code"), e.response["ResponseMetadata"].get("HTTPStatusCode")
    raise AssertionError(f"{fn.__name__} succeeded, an error was expected")


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(MIB), b""):
            h.update(chunk)
    return h.hexdigest()


def http(method, url, data=None, headers=None):
    """Plain urllib request; returns (status, body, headers), never raises on HTTP errors."""
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers


def tamper_signature(url):
    """Flip the first character of the (X-Amz-)Signature value, keeping its format."""
    m = re.search(r"(?:X-Amz-Signature|Signature)=([^&])", url)
    assert m, f"no signature in {url}"
    c = m.group(1)
    repl = "1" if c == "0" else "0" if c in "0123456789abcdef" else "B" if c == "A" else "A"
    return url[: m.start(1)] + repl + url[m.end(1):]


def empty_and_delete(bucket):
    """Best-effort clean-up that does not depend on ListObjectVersions."""
    try:
        for up in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
            s3.abort_multipart_upload(Bucket=bucket, Key=up["Key"], UploadId=up["UploadId"])
    except Exception:  # noqa: BLE001
        pass
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            objs = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if objs:
                s3.delete_objects(Bucket=bucket, Delete={"Objects": objs, "Quiet": True})
    except Exception:  # noqa: BLE001
        pass
    try:
        s3.delete_bucket(Bucket=bucket)
    except Exception:  # noqa: BLE001
        pass


def delete_all_versions(bucket):
    """Remove every version and delete marker by id (a bucket holding any is not empty)."""
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        objs = [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
        if objs:
            r = s3.delete_objects(Bucket=bucket, Delete={"Objects": objs, "Quiet": True})
            assert not r.get("Errors"), f"delete_objects errors {r.get('Errors')[:3]}"


def versions_of(bucket, prefix):
    """[(key, version id, is latest, is a delete marker)] in listing order (markers and versions merged by key)."""
    r = s3.list_object_versions(Bucket=bucket, Prefix=prefix)
    assert not r.get("IsTruncated"), "a short listing came back truncated"
    out = [(v["Key"], v["VersionId"], v["IsLatest"], False) for v in r.get("Versions", [])]
    out += [(v["Key"], v["VersionId"], v["IsLatest"], True) for v in r.get("DeleteMarkers", [])]
    return out


print(f"{SUITE}: boto3 {boto3.__version__}, botocore {botocore.__version__} against {ENDPOINT}, bucket {BUCKET}")

# ---------------------------------------------------------------------------
try:

    @check("create_bucket")
    def _():
        s3.create_bucket(Bucket=BUCKET)
        created_buckets.append(BUCKET)
        s3.head_bucket(Bucket=BUCKET)
        names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
        assert BUCKET in names, f"{BUCKET} not in list_buckets: {names}"

    # --- multipart transfer ------------------------------------------------
    BIG = os.path.join(WORK, "big.bin")
    BIG_SIZE = 20 * MIB + 12345  # > 16 MiB: 3 parts of 8, 8 and 4 MiB
    with open(BIG, "wb") as f:
        f.write(os.urandom(BIG_SIZE))
    TC = TransferConfig(multipart_threshold=8 * MIB, multipart_chunksize=8 * MIB)

    @check("upload_file > 16 MiB (multipart), download_file, sha256 equal")
    def _():
        s3.upload_file(BIG, BUCKET, "multi/big.bin", Config=TC)
        head = s3.head_object(Bucket=BUCKET, Key="multi/big.bin")
        assert head["ContentLength"] == BIG_SIZE, f"ContentLength {head['ContentLength']}"
        assert head["ETag"].strip('"').endswith("-3"), f"multipart ETag should end in -3: {head['ETag']}"
        out = os.path.join(WORK, "big.down")
        s3.download_file(BUCKET, "multi/big.bin", out, Config=TC)
        assert sha256_file(out) == sha256_file(BIG), "downloaded file differs"

    @check("get_object PartNumber=1 returns only part 1 (206, PartsCount)",
           skip=MOTO_LACKS and "moto answers GET ?partNumber with the whole object (compat/MOTO.md)")
    def _():
        r = s3.get_object(Bucket=BUCKET, Key="multi/big.bin", PartNumber=1)
        body = r["Body"].read()
        assert r["ContentLength"] == 8 * MIB, f"ContentLength {r['ContentLength']} != 8 MiB"
        assert len(body) == 8 * MIB, f"body length {len(body)}"
        assert r.get("PartsCount") == 3, f"PartsCount {r.get('PartsCount')!r}"
        assert r["ResponseMetadata"]["HTTPStatusCode"] == 206, f"status {r['ResponseMetadata']['HTTPStatusCode']}"
        with open(BIG, "rb") as f:
            assert body == f.read(8 * MIB), "part 1 bytes differ"
        h = s3.head_object(Bucket=BUCKET, Key="multi/big.bin", PartNumber=3)
        assert h["ContentLength"] == BIG_SIZE - 16 * MIB, f"part 3 ContentLength {h['ContentLength']}"

    # --- listing -----------------------------------------------------------
    LIST_KEYS = [f"k/{i:04d}" for i in range(1180)] + [
        "k/Z", "k/a", "k/a b", "k/a+b", "k/a%2Bb", "k/é", "k/日本", "k/~tilde",
        "k/sub/x", "k/sub/y", "k/sub2/z", "k/-dash", "k/.dot", "k/_u", "k/=eq",
        "k/zz/é/1", "k/\u00c9", "k/e\u0301", "k/\U0001f600", "k/'q'",
    ]
    WANT_SORTED = sorted(LIST_KEYS, key=lambda k: k.encode("utf-8"))

    @check(f"put {len(LIST_KEYS)} small objects (8 threads)")
    def _():
        s3.create_bucket(Bucket=BUCKET_LIST)
        created_buckets.append(BUCKET_LIST)

        def put(k):
            s3.put_object(Bucket=BUCKET_LIST, Key=k, Body=k.encode())

        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            list(ex.map(put, LIST_KEYS))

    @check("list_objects_v2 paginator (PageSize 250): all keys, in UTF-8 byte order")
    def _():
        pages = list(
            s3.get_paginator("list_objects_v2").paginate(
                Bucket=BUCKET_LIST, PaginationConfig={"PageSize": 250}
            )
        )
        got = [o["Key"] for p in pages for o in p.get("Contents", [])]
        assert len(pages) == (len(LIST_KEYS) + 249) // 250, f"{len(pages)} pages"
        for p in pages[:-1]:
            assert p["KeyCount"] == 250 and p["IsTruncated"], f"page KeyCount {p['KeyCount']} truncated {p['IsTruncated']}"
        assert not pages[-1]["IsTruncated"], "last page is truncated"
        missing = set(LIST_KEYS) - set(got)
        extra = set(got) - set(LIST_KEYS)
        assert not missing and not extra, f"missing {sorted(missing)[:10]}, extra {sorted(extra)[:10]}"
        assert got == WANT_SORTED, "keys are not in UTF-8 byte order: " + str(
            next((a, b) for a, b in zip(got, WANT_SORTED) if a != b)
        )

    @check("list_objects_v2 MaxKeys=1000 then StartAfter / ContinuationToken")
    def _():
        r = s3.list_objects_v2(Bucket=BUCKET_LIST, MaxKeys=1000)
        assert r["KeyCount"] == 1000 and r["IsTruncated"], f"KeyCount {r['KeyCount']}, truncated {r['IsTruncated']}"
        r2 = s3.list_objects_v2(Bucket=BUCKET_LIST, ContinuationToken=r["NextContinuationToken"])
        assert [o["Key"] for o in r["Contents"] + r2["Contents"]] == WANT_SORTED, "two pages != all keys"
        r3 = s3.list_objects_v2(Bucket=BUCKET_LIST, StartAfter="k/1170", MaxKeys=5)
        assert [o["Key"] for o in r3["Contents"]] == WANT_SORTED[WANT_SORTED.index("k/1170") + 1:][:5], "StartAfter"

    @check("list_objects (v1) paginator with Marker: all keys, ETags present")
    def _():
        got = []
        for p in s3.get_paginator("list_objects").paginate(Bucket=BUCKET_LIST, PaginationConfig={"PageSize": 300}):
            for o in p.get("Contents", []):
                assert o.get("ETag"), f"no ETag on {o['Key']}"
                got.append(o["Key"])
        assert got == WANT_SORTED, f"{len(got)} keys, first difference " + str(
            next(((a, b) for a, b in zip(got, WANT_SORTED) if a != b), None)
        )

    @check("list_objects_v2 with Delimiter: CommonPrefixes")
    def _():
        # as on AWS, MaxKeys above 1000 is capped at 1000
        r = s3.list_objects_v2(Bucket=BUCKET_LIST, Prefix="k/", Delimiter="/", MaxKeys=2000)
        assert r["KeyCount"] == 1000 and r["IsTruncated"], f"KeyCount {r['KeyCount']}, truncated {r['IsTruncated']}"
        r2 = s3.list_objects_v2(Bucket=BUCKET_LIST, Prefix="k/", Delimiter="/", ContinuationToken=r["NextContinuationToken"])
        assert not r2["IsTruncated"], "second page truncated"
        prefixes = [p["Prefix"] for p in r.get("CommonPrefixes", []) + r2.get("CommonPrefixes", [])]
        assert prefixes == ["k/sub/", "k/sub2/", "k/zz/"], f"CommonPrefixes {prefixes}"
        keys = [o["Key"] for o in r.get("Contents", []) + r2.get("Contents", [])]
        assert "k/sub/x" not in keys and "k/0000" in keys, "Contents must not include keys below a prefix"
        assert len(keys) == len(LIST_KEYS) - 4, f"{len(keys)} Contents"
        r = s3.list_objects_v2(Bucket=BUCKET_LIST, Delimiter="/")
        assert [p["Prefix"] for p in r.get("CommonPrefixes", [])] == ["k/"], "root CommonPrefixes"
        assert r.get("KeyCount") == 1, f"root KeyCount {r.get('KeyCount')}"
        # a delimiter listing paginates over prefixes too
        got = []
        for p in s3.get_paginator("list_objects_v2").paginate(
            Bucket=BUCKET_LIST, Prefix="k/", Delimiter="/", PaginationConfig={"PageSize": 100}
        ):
            got += [o["Key"] for o in p.get("Contents", [])] + [c["Prefix"] for c in p.get("CommonPrefixes", [])]
        assert sorted(got) == sorted(keys + prefixes), "paginated delimiter listing differs"

    PLUS_KEY = "enc/a+b c=d%41 é.txt"

    @check("key with '+' and space round-trips through EncodingType=url listing")
    def _():
        s3.put_object(Bucket=BUCKET, Key=PLUS_KEY, Body=b"plus")
        # botocore sets EncodingType=url itself and decodes the answer (unquote_plus)
        r = s3.list_objects_v2(Bucket=BUCKET, Prefix="enc/")
        keys = [o["Key"] for o in r.get("Contents", [])]
        assert keys == [PLUS_KEY], f"auto-decoded keys {keys!r}"
        r = s3.list_objects(Bucket=BUCKET, Prefix="enc/")
        keys = [o["Key"] for o in r.get("Contents", [])]
        assert keys == [PLUS_KEY], f"v1 auto-decoded keys {keys!r}"
        # explicitly asked for: botocore leaves the encoded form alone
        r = s3.list_objects_v2(Bucket=BUCKET, Prefix="enc/", EncodingType="url")
        raw = [o["Key"] for o in r.get("Contents", [])]
        assert r.get("EncodingType") == "url", f"EncodingType {r.get('EncodingType')!r}"
        assert len(raw) == 1 and "+" not in raw[0].replace("%2B", ""), f"'+' not encoded: {raw!r}"
        assert urllib.parse.unquote_plus(raw[0]) == PLUS_KEY, f"raw key {raw!r} does not decode to {PLUS_KEY!r}"
        # prefixes are encoded too
        r = s3.list_objects_v2(Bucket=BUCKET, Prefix="enc/a+", Delimiter=" ")
        cps = [p["Prefix"] for p in r.get("CommonPrefixes", [])]
        assert cps == ["enc/a+b "], f"CommonPrefixes {cps!r}"
        h = s3.head_object(Bucket=BUCKET, Key=PLUS_KEY)
        assert h["ContentLength"] == 4

    # --- presigned URLs ----------------------------------------------------
    def presign_roundtrip(client, label):
        key = f"presign/{label} é+x.txt"
        body = f"presigned put {label}".encode()
        url = client.generate_presigned_url(
            "put_object",
            Params={"Bucket": BUCKET, "Key": key, "ContentType": "application/octet-stream"},
            ExpiresIn=300,
        )
        print(f"    {label} PUT url: {url}")
        st, resp, _ = http("PUT", url, data=body, headers={"Content-Type": "application/octet-stream"})
        assert st == 200, f"presigned PUT status {st}: {resp[:300]!r}"
        assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == body, "PUT body not stored"
        url = client.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=300)
        print(f"    {label} GET url: {url}")
        st, resp, _ = http("GET", url)
        assert st == 200, f"presigned GET status {st}: {resp[:300]!r}"
        assert resp == body, "presigned GET body differs"
        return url

    @check("presigned PUT and GET, default signature (urllib)")
    def _():
        url = presign_roundtrip(make_client(), "default")
        # record which signature the default produced
        sig = "SigV2" if "AWSAccessKeyId=" in url else "SigV4" if "X-Amz-Signature=" in url else "?"
        print(f"    default presign signature: {sig}")

    @check("presigned PUT and GET, SigV4 (urllib)")
    def _():
        url = presign_roundtrip(make_client("s3v4"), "s3v4")
        assert "X-Amz-Signature=" in url, "not a SigV4 URL"

    # --- browser form uploads (POST object) --------------------------------
    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    def form_post(post, file_name, data, extra=None):
        """POST a generate_presigned_post form as a browser does (multipart/form-data, the
        file last) with urllib; returns (status, body, headers), redirects not followed."""
        boundary = uuid.uuid4().hex
        parts = []
        for name, value in list(post["fields"].items()) + list((extra or {}).items()):
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{file_name}"\r\n'
            f"Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n"
        )
        parts.append(f"--{boundary}--\r\n".encode())
        req = urllib.request.Request(
            post["url"], data=b"".join(parts), method="POST", headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
        )
        try:
            with urllib.request.build_opener(_NoRedirect).open(req, timeout=30) as r:
                return r.status, r.read(), r.headers
        except urllib.error.HTTPError as e:
            return e.code, e.read(), e.headers

    def key_exists(key):
        return s3.list_objects_v2(Bucket=BUCKET, Prefix=key).get("KeyCount", 0) > 0

    @check("generate_presigned_post: a browser form upload (SigV2 and SigV4; 204, 201 with ${filename}, 303 redirect)")
    def _():
        for label, client, field in (("default", s3, "signature"), ("s3v4", make_client("s3v4"), "x-amz-signature")):
            post = client.generate_presigned_post(BUCKET, f"forms/plain-{label}", ExpiresIn=300)
            assert field in post["fields"], f"{label}: {sorted(post['fields'])}"
            st, body, headers = form_post(post, "plain.txt", b"form body")
            assert st == 204, f"{label}: status {st}: {body[:300]!r}"
            got = s3.get_object(Bucket=BUCKET, Key=f"forms/plain-{label}")
            assert got["Body"].read() == b"form body"
            assert headers.get("ETag") == got["ETag"], f"ETag {headers.get('ETag')} vs {got['ETag']}"
        post = s3.generate_presigned_post(
            BUCKET,
            "forms/${filename}",
            Fields={"success_action_status": "201", "Content-Type": "text/plain", "x-amz-meta-origin": "browser"},
            Conditions=[
                {"success_action_status": "201"},
                ["starts-with", "$Content-Type", "text/"],
                {"x-amz-meta-origin": "browser"},
                ["content-length-range", 1, 1024],
            ],
            ExpiresIn=300,
        )
        st, body, _ = form_post(post, "hello.txt", b"hello from a form")
        assert st == 201, f"status {st}: {body[:300]!r}"
        assert b"<Key>forms/hello.txt</Key>" in body, body
        head = s3.head_object(Bucket=BUCKET, Key="forms/hello.txt")
        assert head["ContentType"] == "text/plain" and head["Metadata"] == {"origin": "browser"}, head
        post = s3.generate_presigned_post(
            BUCKET,
            "forms/redirected",
            Fields={"success_action_redirect": "https://app.example/done"},
            Conditions=[{"success_action_redirect": "https://app.example/done"}],
            ExpiresIn=300,
        )
        st, body, headers = form_post(post, "r.txt", b"redirected")
        assert st == 303, f"status {st}: {body[:300]!r}"
        q = urllib.parse.parse_qs(urllib.parse.urlparse(headers["Location"]).query)
        assert q["bucket"] == [BUCKET] and q["key"] == ["forms/redirected"] and q["etag"][0].strip('"'), q

    def presigned_post_refusals(s3):
        post = s3.generate_presigned_post(BUCKET, "forms/expired", ExpiresIn=-60)
        st, body, _ = form_post(post, "e.txt", b"x")
        assert st == 403 and b"Policy expired" in body, f"expired: {st} {body[:300]!r}"
        post = s3.generate_presigned_post(BUCKET, "forms/big", Conditions=[["content-length-range", 1, 10]], ExpiresIn=300)
        st, body, _ = form_post(post, "b.txt", b"x" * 11)
        assert st == 400 and b"EntityTooLarge" in body, f"oversize: {st} {body[:300]!r}"
        post = s3.generate_presigned_post(BUCKET, "forms/extra", ExpiresIn=300)
        st, body, _ = form_post(post, "x.txt", b"x", extra={"x-amz-meta-sneaky": "1"})
        assert st == 403 and b"Extra input fields: x-amz-meta-sneaky" in body, f"extra field: {st} {body[:300]!r}"
        post = s3.generate_presigned_post(BUCKET, "forms/forged", ExpiresIn=300)
        # boto3's default signs forms with SigV2 here (`signature`), s3v4 with `x-amz-signature`.
        field = "x-amz-signature" if "x-amz-signature" in post["fields"] else "signature"
        sig = post["fields"][field]
        post["fields"][field] = ("B" if sig[0] == "A" else "A") + sig[1:]
        st, body, _ = form_post(post, "f.txt", b"x")
        assert st == 403 and b"SignatureDoesNotMatch" in body, f"forged: {st} {body[:300]!r}"
        for k in ("forms/expired", "forms/big", "forms/extra", "forms/forged"):
            assert not key_exists(k), f"{k} was stored"

    @check("generate_presigned_post refusals (SigV2 and SigV4): expired, oversize, extra field, forged signature; nothing stored")
    def _():
        for client in (s3, make_client("s3v4")):
            presigned_post_refusals(client)

    @check("presigned GET with a tampered signature is 403")
    def _():
        for sv in (None, "s3v4"):
            url = make_client(sv).generate_presigned_url(
                "get_object", Params={"Bucket": BUCKET, "Key": PLUS_KEY}, ExpiresIn=300
            )
            bad = tamper_signature(url)
            st, resp, _ = http("GET", bad)
            assert st == 403, f"{sv or 'default'}: status {st}: {resp[:200]!r}"

    # --- conditional requests ---------------------------------------------
    @check("conditional GET/HEAD: If-None-Match etag -> 304, If-Match wrong -> 412")
    def _():
        etag = s3.put_object(Bucket=BUCKET, Key="cond/obj", Body=b"conditional")["ETag"]
        code, status = error_of(s3.get_object, Bucket=BUCKET, Key="cond/obj", IfNoneMatch=etag)
        assert (code, status) == ("304", 304), f"If-None-Match: {(code, status)}"
        code, status = error_of(s3.head_object, Bucket=BUCKET, Key="cond/obj", IfNoneMatch=etag)
        assert status == 304, f"HEAD If-None-Match: {(code, status)}"
        code, status = error_of(s3.get_object, Bucket=BUCKET, Key="cond/obj", IfMatch='"0123456789abcdef0123456789abcdef"')
        assert (code, status) == ("PreconditionFailed", 412), f"If-Match: {(code, status)}"
        r = s3.get_object(Bucket=BUCKET, Key="cond/obj", IfMatch=etag)
        assert r["Body"].read() == b"conditional"
        r = s3.get_object(Bucket=BUCKET, Key="cond/obj", IfNoneMatch='"0123456789abcdef0123456789abcdef"')
        assert r["Body"].read() == b"conditional"

    @check("put_object If-None-Match '*' on an existing key -> 412, nothing changed")
    def _():
        code, status = error_of(s3.put_object, Bucket=BUCKET, Key="cond/obj", Body=b"overwrite", IfNoneMatch="*")
        assert (code, status) == ("PreconditionFailed", 412), f"{(code, status)}"
        assert s3.get_object(Bucket=BUCKET, Key="cond/obj")["Body"].read() == b"conditional", "object was overwritten"
        s3.put_object(Bucket=BUCKET, Key="cond/new", Body=b"new", IfNoneMatch="*")
        assert s3.get_object(Bucket=BUCKET, Key="cond/new")["Body"].read() == b"new"

    @check("head_object on a missing key -> 404; get_object -> NoSuchKey")
    def _():
        code, status = error_of(s3.head_object, Bucket=BUCKET, Key="no/such/key")
        assert (code, status) == ("404", 404), f"{(code, status)}"
        code, status = error_of(s3.get_object, Bucket=BUCKET, Key="no/such/key")
        assert (code, status) == ("NoSuchKey", 404), f"{(code, status)}"
        code, status = error_of(s3.head_bucket, Bucket=f"tgc-missing-{RUN}")
        assert status == 404, f"head_bucket missing: {(code, status)}"

    @check("unknown access key -> InvalidAccessKeyId, wrong secret -> SignatureDoesNotMatch")
    def _():
        bad = make_client(ak="TGCOMPATNOSUCHKEY000", sk=SK)
        code, status = error_of(bad.list_objects_v2, Bucket=BUCKET)
        assert (code, status) == ("InvalidAccessKeyId", 403), f"unknown key: {(code, status)}"
        bad = make_client(ak=AK, sk=SK + "x")
        code, status = error_of(bad.list_objects_v2, Bucket=BUCKET)
        assert (code, status) == ("SignatureDoesNotMatch", 403), f"wrong secret: {(code, status)}"

    @check("put_object with a wrong x-amz-checksum-crc32 is refused and nothing is stored")
    def _():
        code, status = error_of(
            s3.put_object, Bucket=BUCKET, Key="cond/badsum", Body=b"checksummed body", ChecksumCRC32="AAAAAA=="
        )
        assert status == 400, f"{(code, status)}"
        code, status = error_of(s3.head_object, Bucket=BUCKET, Key="cond/badsum")
        assert status == 404, f"object stored despite bad checksum: {(code, status)}"

    # --- delete / copy -----------------------------------------------------
    @check("delete_objects")
    def _():
        keys = ["del/1", "del/2 é+", "del/3=x"]
        for k in keys:
            s3.put_object(Bucket=BUCKET, Key=k, Body=b"x")
        r = s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": k} for k in keys] + [{"Key": "del/missing"}]})
        assert sorted(d["Key"] for d in r.get("Deleted", [])) == sorted(keys + ["del/missing"]), f"Deleted {r.get('Deleted')}"
        assert not r.get("Errors"), f"Errors {r.get('Errors')}"
        assert s3.list_objects_v2(Bucket=BUCKET, Prefix="del/")["KeyCount"] == 0, "keys left"
        s3.put_object(Bucket=BUCKET, Key="del/q", Body=b"x")
        r = s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": "del/q"}], "Quiet": True})
        assert not r.get("Deleted") and not r.get("Errors"), f"Quiet answer {r}"
        assert s3.list_objects_v2(Bucket=BUCKET, Prefix="del/")["KeyCount"] == 0, "quiet delete left keys"

    @check("copy_object (metadata copied, then replaced)")
    def _():
        s3.put_object(
            Bucket=BUCKET, Key="copy/src é+", Body=b"copy me", ContentType="text/x-src", Metadata={"color": "blue"}
        )
        r = s3.copy_object(Bucket=BUCKET, Key="copy/dst 1", CopySource={"Bucket": BUCKET, "Key": "copy/src é+"})
        src = s3.head_object(Bucket=BUCKET, Key="copy/src é+")
        assert r["CopyObjectResult"]["ETag"] == src["ETag"], "copy ETag differs from source"
        g = s3.get_object(Bucket=BUCKET, Key="copy/dst 1")
        assert g["Body"].read() == b"copy me"
        assert g["ContentType"] == "text/x-src" and g["Metadata"] == {"color": "blue"}, f"{g['ContentType']} {g['Metadata']}"
        s3.copy_object(
            Bucket=BUCKET, Key="copy/dst 2", CopySource=f"{BUCKET}/copy/src é+",
            MetadataDirective="REPLACE", ContentType="text/x-new", Metadata={"shape": "round"},
        )
        g = s3.head_object(Bucket=BUCKET, Key="copy/dst 2")
        assert g["ContentType"] == "text/x-new" and g["Metadata"] == {"shape": "round"}, f"{g['ContentType']} {g['Metadata']}"

    # --- versioning (a bucket of its own) ----------------------------------
    VKEY = "ver/doc é+.txt"
    ver = {}  # version ids found by one check, used by the later ones

    @check("versioning: put_bucket_versioning Enabled, get_bucket_versioning")
    def _():
        s3.create_bucket(Bucket=BUCKET_VER)
        created_buckets.append(BUCKET_VER)
        assert "Status" not in s3.get_bucket_versioning(Bucket=BUCKET_VER), "a new bucket has a versioning Status"
        s3.put_bucket_versioning(Bucket=BUCKET_VER, VersioningConfiguration={"Status": "Enabled"})
        assert s3.get_bucket_versioning(Bucket=BUCKET_VER).get("Status") == "Enabled"

    @check("versioning: two put_objects of one key, distinct VersionIds, list newest first")
    def _():
        ver["v1"] = s3.put_object(Bucket=BUCKET_VER, Key=VKEY, Body=b"first")["VersionId"]
        ver["v2"] = s3.put_object(Bucket=BUCKET_VER, Key=VKEY, Body=b"second!")["VersionId"]
        for v in (ver["v1"], ver["v2"]):
            assert re.fullmatch(r"[0-9a-f]{32}", v), f"VersionId {v!r} is not 32 hex characters"
        assert ver["v1"] != ver["v2"], f"both puts answered {ver['v1']}"
        r = s3.list_object_versions(Bucket=BUCKET_VER, Prefix="ver/")
        got = [(v["Key"], v["VersionId"], v["IsLatest"], v["Size"]) for v in r.get("Versions", [])]
        assert got == [(VKEY, ver["v2"], True, 7), (VKEY, ver["v1"], False, 5)], f"Versions {got}"
        assert not r.get("DeleteMarkers"), f"DeleteMarkers {r.get('DeleteMarkers')}"

    @check("versioning: get_object/head_object VersionId of the older one")
    def _():
        g = s3.get_object(Bucket=BUCKET_VER, Key=VKEY, VersionId=ver["v1"])
        assert g["Body"].read() == b"first" and g["VersionId"] == ver["v1"], f"VersionId {g['VersionId']}"
        h = s3.head_object(Bucket=BUCKET_VER, Key=VKEY, VersionId=ver["v1"])
        assert h["ContentLength"] == 5 and h["VersionId"] == ver["v1"], f"head {h['ContentLength']} {h['VersionId']}"
        g = s3.get_object(Bucket=BUCKET_VER, Key=VKEY)
        assert g["Body"].read() == b"second!" and g["VersionId"] == ver["v2"], f"current VersionId {g['VersionId']}"

    @check("versioning: delete_object lays a marker, get_object NoSuchKey, marker listed")
    def _():
        r = s3.delete_object(Bucket=BUCKET_VER, Key=VKEY)
        assert r.get("DeleteMarker") is True, f"DeleteMarker {r.get('DeleteMarker')!r}"
        ver["marker"] = r["VersionId"]
        assert re.fullmatch(r"[0-9a-f]{32}", ver["marker"]), f"marker VersionId {ver['marker']!r}"
        code, status = error_of(s3.get_object, Bucket=BUCKET_VER, Key=VKEY)
        assert (code, status) == ("NoSuchKey", 404), f"{(code, status)}"
        got = versions_of(BUCKET_VER, "ver/")
        want = [(VKEY, ver["v2"], False, False), (VKEY, ver["v1"], False, False), (VKEY, ver["marker"], True, True)]
        assert got == want, f"versions {got}"
        assert s3.list_objects_v2(Bucket=BUCKET_VER)["KeyCount"] == 0, "list_objects_v2 shows a deleted key"
        code, status = error_of(s3.get_object, Bucket=BUCKET_VER, Key=VKEY, VersionId=ver["marker"])
        assert (code, status) == ("MethodNotAllowed", 405), f"GET of the marker by id: {(code, status)}"

    @check("versioning: delete_object VersionId=<marker> brings the key back")
    def _():
        r = s3.delete_object(Bucket=BUCKET_VER, Key=VKEY, VersionId=ver["marker"])
        assert r.get("DeleteMarker") is True and r.get("VersionId") == ver["marker"], f"answer {r.get('DeleteMarker')} {r.get('VersionId')}"
        g = s3.get_object(Bucket=BUCKET_VER, Key=VKEY)
        assert g["Body"].read() == b"second!" and g["VersionId"] == ver["v2"], f"VersionId {g['VersionId']}"
        assert versions_of(BUCKET_VER, "ver/") == [(VKEY, ver["v2"], True, False), (VKEY, ver["v1"], False, False)]

    @check("versioning: put/get_object_tagging VersionId")
    def _():
        r = s3.put_object_tagging(Bucket=BUCKET_VER, Key=VKEY, VersionId=ver["v1"], Tagging={"TagSet": [{"Key": "era", "Value": "old"}]})
        assert r.get("VersionId") == ver["v1"], f"VersionId {r.get('VersionId')}"
        t = s3.get_object_tagging(Bucket=BUCKET_VER, Key=VKEY, VersionId=ver["v1"])
        assert t["TagSet"] == [{"Key": "era", "Value": "old"}], f"TagSet {t['TagSet']}"
        t = s3.get_object_tagging(Bucket=BUCKET_VER, Key=VKEY)
        assert t["TagSet"] == [] and t.get("VersionId") == ver["v2"], f"current: {t['TagSet']} {t.get('VersionId')}"

    @check("versioning: copy_object CopySource with VersionId copies that version")
    def _():
        r = s3.copy_object(Bucket=BUCKET_VER, Key="ver/copy", CopySource={"Bucket": BUCKET_VER, "Key": VKEY, "VersionId": ver["v1"]})
        assert r.get("CopySourceVersionId") == ver["v1"], f"CopySourceVersionId {r.get('CopySourceVersionId')}"
        assert re.fullmatch(r"[0-9a-f]{32}", r.get("VersionId", "")), f"copy VersionId {r.get('VersionId')!r}"
        assert r["VersionId"] not in (ver["v1"], ver["v2"]), "the copy reused a source version id"
        g = s3.get_object(Bucket=BUCKET_VER, Key="ver/copy")
        assert g["Body"].read() == b"first" and g["VersionId"] == r["VersionId"], "the copy is not the old version"

    @check("versioning: list_object_versions paginator (MaxKeys 2): every version once, in order",
           )
    def _():
        want = []  # keys ascending, each key's versions newest first
        for k in ("pg/a", "pg/b é", "pg/c"):
            ids = [s3.put_object(Bucket=BUCKET_VER, Key=k, Body=f"{k} {i}".encode())["VersionId"] for i in range(3)]
            want += [(k, v, i == 0, False) for i, v in enumerate(reversed(ids))]
        marker = s3.delete_object(Bucket=BUCKET_VER, Key="pg/b é")["VersionId"]
        # the marker is now pg/b é's latest: first of its key
        i = next(n for n, w in enumerate(want) if w[0] == "pg/b é")
        want[i:i + 3] = [("pg/b é", marker, True, True)] + [(k, v, False, m) for k, v, _, m in want[i:i + 3]]
        pages = list(s3.get_paginator("list_object_versions").paginate(Bucket=BUCKET_VER, Prefix="pg/", PaginationConfig={"PageSize": 2}))
        assert len(pages) == 5, f"{len(pages)} pages for 10 entries"
        seen = 0
        for n, p in enumerate(pages):
            vs = [(v["Key"], v["VersionId"], v["IsLatest"], False) for v in p.get("Versions", [])]
            ms = [(v["Key"], v["VersionId"], v["IsLatest"], True) for v in p.get("DeleteMarkers", [])]
            assert len(vs) + len(ms) == 2, f"page {n} holds {len(vs) + len(ms)} entries"
            assert p["IsTruncated"] == (n < len(pages) - 1), f"page {n} IsTruncated {p['IsTruncated']}"
            # a page answers its versions and its markers in two lists, each in listing order
            chunk = want[seen:seen + 2]
            assert vs == [e for e in chunk if not e[3]] and ms == [e for e in chunk if e[3]], f"page {n}: {vs} {ms}, want {chunk}"
            seen += 2
        assert seen == len(want), f"{seen} entries listed, {len(want)} stored"

    @check("versioning: Suspended: writes answer VersionId 'null', older versions stay")
    def _():
        s3.put_bucket_versioning(Bucket=BUCKET_VER, VersioningConfiguration={"Status": "Suspended"})
        assert s3.get_bucket_versioning(Bucket=BUCKET_VER).get("Status") == "Suspended"
        assert s3.put_object(Bucket=BUCKET_VER, Key=VKEY, Body=b"third")["VersionId"] == "null"
        assert s3.put_object(Bucket=BUCKET_VER, Key=VKEY, Body=b"fourth")["VersionId"] == "null", "second write"
        g = s3.get_object(Bucket=BUCKET_VER, Key=VKEY)
        assert g["Body"].read() == b"fourth" and g["VersionId"] == "null", f"VersionId {g['VersionId']}"
        got = versions_of(BUCKET_VER, "ver/doc")
        assert got == [(VKEY, "null", True, False), (VKEY, ver["v2"], False, False), (VKEY, ver["v1"], False, False)], f"versions {got}"
        assert s3.get_object(Bucket=BUCKET_VER, Key=VKEY, VersionId=ver["v1"])["Body"].read() == b"first"
        r = s3.delete_object(Bucket=BUCKET_VER, Key=VKEY)
        assert r.get("DeleteMarker") is True and r.get("VersionId") == "null", f"suspended delete {r.get('DeleteMarker')} {r.get('VersionId')}"

    @check("versioning: delete every version by id, then delete_bucket")
    def _():
        code, status = error_of(s3.delete_bucket, Bucket=BUCKET_VER)
        assert (code, status) == ("BucketNotEmpty", 409), f"a bucket holding only versions: {(code, status)}"
        delete_all_versions(BUCKET_VER)
        r = s3.list_object_versions(Bucket=BUCKET_VER)
        assert not r.get("Versions") and not r.get("DeleteMarkers"), "versions left"
        s3.delete_bucket(Bucket=BUCKET_VER)
        created_buckets.remove(BUCKET_VER)

    @check("unversioned bucket: no VersionId, an overwrite leaves one null version, a delete lays no marker")
    def _():
        s3.create_bucket(Bucket=BUCKET_VER)
        created_buckets.append(BUCKET_VER)
        assert "Status" not in s3.get_bucket_versioning(Bucket=BUCKET_VER), "a new bucket has a versioning Status"
        s3.put_object(Bucket=BUCKET_VER, Key=VKEY, Body=b"first")
        r = s3.put_object(Bucket=BUCKET_VER, Key=VKEY, Body=b"second!")
        assert "VersionId" not in r, f"an unversioned bucket answered VersionId {r['VersionId']!r}"
        assert versions_of(BUCKET_VER, "ver/") == [(VKEY, "null", True, False)], "the overwrite left more than one version"
        assert s3.get_object(Bucket=BUCKET_VER, Key=VKEY)["Body"].read() == b"second!"
        r = s3.delete_object(Bucket=BUCKET_VER, Key=VKEY)
        assert not r.get("DeleteMarker"), "delete_object laid a delete marker"
        assert versions_of(BUCKET_VER, "ver/") == [], "versions left after delete_object"
        s3.delete_bucket(Bucket=BUCKET_VER)
        created_buckets.remove(BUCKET_VER)

    # --- encryption at rest (a bucket of its own) ---------------------------
    # boto3 base64-encodes SSECustomerKey and computes its MD5 itself
    SSEC_KEY = os.urandom(32)
    SSEC_KEY_MD5 = base64.b64encode(hashlib.md5(SSEC_KEY).digest()).decode()
    SSEC = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": SSEC_KEY}
    SSEC_BODY = b"customer-keyed body " * 100
    # SSE-C keys travel only over HTTPS: S3 refuses them over plain HTTP, and so does tollgate
    # unless loopback clients may send them (run.sh's own gateway allows it); an external
    # endpoint in plain HTTP (the container's) is not asked.
    SSEC_SKIP = None
    if os.environ.get("COMPAT_EXTERNAL") == "1" and ENDPOINT.startswith("http://"):
        SSEC_SKIP = f"SSE-C needs HTTPS and {ENDPOINT} is an external plain-HTTP endpoint"
    s3.create_bucket(Bucket=BUCKET_SSE)
    created_buckets.append(BUCKET_SSE)

    @check("sse: put_object/get_object/head_object with SSECustomerKey", skip=SSEC_SKIP)
    def _():
        r = s3.put_object(Bucket=BUCKET_SSE, Key="ssec/obj é+", Body=SSEC_BODY, **SSEC)
        assert r.get("SSECustomerAlgorithm") == "AES256", f"put SSECustomerAlgorithm {r.get('SSECustomerAlgorithm')!r}"
        assert r.get("SSECustomerKeyMD5") == SSEC_KEY_MD5, f"put SSECustomerKeyMD5 {r.get('SSECustomerKeyMD5')!r}"
        assert "ServerSideEncryption" not in r, f"an SSE-C put answered ServerSideEncryption {r['ServerSideEncryption']!r}"
        # an SSE-C object's ETag is not the MD5 of its plaintext
        assert r["ETag"].strip('"') != hashlib.md5(SSEC_BODY).hexdigest(), f"SSE-C ETag is the plaintext MD5: {r['ETag']}"
        g = s3.get_object(Bucket=BUCKET_SSE, Key="ssec/obj é+", **SSEC)
        assert g["Body"].read() == SSEC_BODY, "SSE-C body differs"
        assert (g.get("SSECustomerAlgorithm"), g.get("SSECustomerKeyMD5")) == ("AES256", SSEC_KEY_MD5), \
            f"get {g.get('SSECustomerAlgorithm')!r} {g.get('SSECustomerKeyMD5')!r}"
        assert g["ETag"] == r["ETag"], f"get ETag {g['ETag']} != put ETag {r['ETag']}"
        h = s3.head_object(Bucket=BUCKET_SSE, Key="ssec/obj é+", **SSEC)
        assert h["ContentLength"] == len(SSEC_BODY) and h.get("SSECustomerKeyMD5") == SSEC_KEY_MD5, f"head {h['ContentLength']} {h.get('SSECustomerKeyMD5')!r}"
        g = s3.get_object(Bucket=BUCKET_SSE, Key="ssec/obj é+", Range="bytes=10-29", **SSEC)
        assert g["Body"].read() == SSEC_BODY[10:30], "SSE-C ranged body differs"

    @check("sse: get_object/head_object of an SSE-C object without its key -> 400, another key -> 403", skip=SSEC_SKIP)
    def _():
        code, status = error_of(s3.get_object, Bucket=BUCKET_SSE, Key="ssec/obj é+")
        assert (code, status) == ("InvalidRequest", 400), f"get without the key: {(code, status)}"
        code, status = error_of(s3.head_object, Bucket=BUCKET_SSE, Key="ssec/obj é+")
        assert status == 400, f"head without the key: {(code, status)}"
        other = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": os.urandom(32)}
        code, status = error_of(s3.get_object, Bucket=BUCKET_SSE, Key="ssec/obj é+", **other)
        assert (code, status) == ("AccessDenied", 403), f"get with another key: {(code, status)}"

    @check("sse: copy_object SSE-C -> SSE-S3 with CopySourceSSECustomer*", skip=SSEC_SKIP)
    def _():
        src = {"Bucket": BUCKET_SSE, "Key": "ssec/obj é+"}
        code, status = error_of(s3.copy_object, Bucket=BUCKET_SSE, Key="ssec/copy-nokey", CopySource=src, ServerSideEncryption="AES256")
        assert status == 400, f"copy without the source key: {(code, status)}"
        r = s3.copy_object(
            Bucket=BUCKET_SSE, Key="ssec/copy", CopySource=src, ServerSideEncryption="AES256",
            CopySourceSSECustomerAlgorithm="AES256", CopySourceSSECustomerKey=SSEC_KEY,
        )
        assert r.get("ServerSideEncryption") == "AES256", f"copy ServerSideEncryption {r.get('ServerSideEncryption')!r}"
        # SSE-S3: the copy's ETag is the MD5 of the plaintext
        assert r["CopyObjectResult"]["ETag"].strip('"') == hashlib.md5(SSEC_BODY).hexdigest(), f"copy ETag {r['CopyObjectResult']['ETag']}"
        g = s3.get_object(Bucket=BUCKET_SSE, Key="ssec/copy")
        assert g["Body"].read() == SSEC_BODY, "the copy's body differs"
        assert g.get("ServerSideEncryption") == "AES256" and "SSECustomerAlgorithm" not in g, \
            f"copy read back as {g.get('ServerSideEncryption')!r} {g.get('SSECustomerAlgorithm')!r}"
        code, status = error_of(s3.head_object, Bucket=BUCKET_SSE, Key="ssec/copy-nokey")
        assert status == 404, f"the refused copy was stored: {(code, status)}"

    # SSE-KMS: the gateway's keyring; a key is named by id or by an ARN ending in key/ID
    KMS_ARN_PREFIX = "arn:aws:kms:us-east-1:111122223333:key/"
    KMS_BODY = b"kms body " * 100
    TOLLGATE_BIN = os.environ.get("TOLLGATE_BIN")
    KMS_ID = f"tgc-boto3-{RUN}"

    def kms_of(r):
        return r.get("ServerSideEncryption"), r.get("SSEKMSKeyId")

    def tgadmin(*args):
        subprocess.run([TOLLGATE_BIN, "admin", "--endpoint", ENDPOINT, *args], check=True, capture_output=True, timeout=60)

    def kms_context(d):
        return base64.b64encode(json.dumps(d).encode()).decode()

    @check("sse-kms: put_object ServerSideEncryption='aws:kms' (default key): PUT/GET/HEAD answer aws:kms + key 'default', ETag not MD5")
    def _():
        r = s3.put_object(Bucket=BUCKET_SSE, Key="kms/obj", Body=KMS_BODY, ServerSideEncryption="aws:kms")
        assert kms_of(r) == ("aws:kms", "default"), f"put {kms_of(r)}"
        assert r["ETag"].strip('"') != hashlib.md5(KMS_BODY).hexdigest(), f"SSE-KMS ETag is the plaintext MD5: {r['ETag']}"
        g = s3.get_object(Bucket=BUCKET_SSE, Key="kms/obj")
        assert g["Body"].read() == KMS_BODY, "SSE-KMS body differs"
        assert kms_of(g) == ("aws:kms", "default") and g["ETag"] == r["ETag"], f"get {kms_of(g)} {g['ETag']}"
        h = s3.head_object(Bucket=BUCKET_SSE, Key="kms/obj")
        assert kms_of(h) == ("aws:kms", "default") and h["ContentLength"] == len(KMS_BODY), f"head {kms_of(h)} {h['ContentLength']}"
        g = s3.get_object(Bucket=BUCKET_SSE, Key="kms/obj", Range="bytes=10-29")
        assert g["Body"].read() == KMS_BODY[10:30], "SSE-KMS ranged body differs"

    @check("sse-kms: SSEKMSKeyId of a key the keyring lacks -> 400 KMS.NotFoundException, nothing stored")
    def _():
        code, status = error_of(
            s3.put_object, Bucket=BUCKET_SSE, Key="kms/unknown", Body=KMS_BODY,
            ServerSideEncryption="aws:kms", SSEKMSKeyId=KMS_ARN_PREFIX + "tollgate-compat",
        )
        assert (code, status) == ("KMS.NotFoundException", 400), f"{(code, status)}"
        code, status = error_of(s3.head_object, Bucket=BUCKET_SSE, Key="kms/unknown")
        assert status == 404, f"object stored despite the refusal: {(code, status)}"

    @check("sse-kms: SSEKMSEncryptionContext accepted; a malformed one -> 400 InvalidArgument, nothing stored")
    def _():
        r = s3.put_object(Bucket=BUCKET_SSE, Key="kms/ctx", Body=KMS_BODY, ServerSideEncryption="aws:kms",
                          SSEKMSEncryptionContext=kms_context({"project": "tollgate", "suite": "boto3"}))
        assert kms_of(r) == ("aws:kms", "default"), f"put {kms_of(r)}"
        assert s3.get_object(Bucket=BUCKET_SSE, Key="kms/ctx")["Body"].read() == KMS_BODY, "body under a context differs"
        for bad in ("not base64 at all!", kms_context(["a", "list"]), kms_context({"n": 1})):
            code, status = error_of(s3.put_object, Bucket=BUCKET_SSE, Key="kms/badctx", Body=KMS_BODY,
                                    ServerSideEncryption="aws:kms", SSEKMSEncryptionContext=bad)
            assert (code, status) == ("InvalidArgument", 400), f"context {bad!r}: {(code, status)}"
        code, status = error_of(s3.head_object, Bucket=BUCKET_SSE, Key="kms/badctx")
        assert status == 404, f"object stored despite a malformed context: {(code, status)}"

    @check("sse-kms: keyring key (tollgate admin keyring create) by ARN and by id; disabled -> 400 KMS.DisabledException; enabled again",
           skip=None if TOLLGATE_BIN else "TOLLGATE_BIN not set: no tollgate admin to create a key")
    def _():
        tgadmin("keyring", "create", KMS_ID)
        r = s3.put_object(Bucket=BUCKET_SSE, Key="kms/own", Body=KMS_BODY, ServerSideEncryption="aws:kms", SSEKMSKeyId=KMS_ARN_PREFIX + KMS_ID)
        assert kms_of(r) == ("aws:kms", KMS_ID), f"put by ARN {kms_of(r)}"
        r = s3.put_object(Bucket=BUCKET_SSE, Key="kms/own2", Body=KMS_BODY, ServerSideEncryption="aws:kms", SSEKMSKeyId=KMS_ID)
        assert kms_of(r) == ("aws:kms", KMS_ID), f"put by id {kms_of(r)}"
        h = s3.head_object(Bucket=BUCKET_SSE, Key="kms/own")
        assert kms_of(h) == ("aws:kms", KMS_ID), f"head {kms_of(h)}"
        tgadmin("keyring", "disable", KMS_ID)
        try:
            code, status = error_of(s3.get_object, Bucket=BUCKET_SSE, Key="kms/own")
            assert (code, status) == ("KMS.DisabledException", 400), f"get under a disabled key: {(code, status)}"
            code, status = error_of(s3.put_object, Bucket=BUCKET_SSE, Key="kms/own3", Body=KMS_BODY,
                                    ServerSideEncryption="aws:kms", SSEKMSKeyId=KMS_ID)
            assert (code, status) == ("KMS.DisabledException", 400), f"put under a disabled key: {(code, status)}"
            code, status = error_of(s3.head_object, Bucket=BUCKET_SSE, Key="kms/own3")
            assert status == 404, f"object stored under a disabled key: {(code, status)}"
        finally:
            tgadmin("keyring", "enable", KMS_ID)
        assert s3.get_object(Bucket=BUCKET_SSE, Key="kms/own")["Body"].read() == KMS_BODY, "body after enable differs"

    @check("sse-kms: upload_file ExtraArgs ServerSideEncryption='aws:kms' (multipart), head aws:kms, download_file equal")
    def _():
        s3.upload_file(BIG, BUCKET_SSE, "kms/big.bin", ExtraArgs={"ServerSideEncryption": "aws:kms"}, Config=TC)
        head = s3.head_object(Bucket=BUCKET_SSE, Key="kms/big.bin")
        assert kms_of(head) == ("aws:kms", "default"), f"head {kms_of(head)}"
        assert head["ContentLength"] == BIG_SIZE, f"ContentLength {head['ContentLength']}"
        out = os.path.join(WORK, "kms-big.down")
        s3.download_file(BUCKET_SSE, "kms/big.bin", out, Config=TC)
        assert sha256_file(out) == sha256_file(BIG), "downloaded SSE-KMS file differs"

    @check("sse-kms: put_bucket_encryption aws:kms:dsse -> 501, unknown KMSMasterKeyID -> 400, aws:kms: a plain put reports aws:kms")
    def _():
        def rules(algorithm, key=None):
            d = {"SSEAlgorithm": algorithm, **({"KMSMasterKeyID": key} if key else {})}
            return {"Rules": [{"ApplyServerSideEncryptionByDefault": d}]}

        code, status = error_of(s3.put_bucket_encryption, Bucket=BUCKET_SSE, ServerSideEncryptionConfiguration=rules("aws:kms:dsse"))
        assert (code, status) == ("NotImplemented", 501), f"aws:kms:dsse: {(code, status)}"
        code, status = error_of(s3.put_bucket_encryption, Bucket=BUCKET_SSE,
                                ServerSideEncryptionConfiguration=rules("aws:kms", KMS_ARN_PREFIX + "tollgate-compat"))
        assert (code, status) == ("KMS.NotFoundException", 400), f"unknown KMSMasterKeyID: {(code, status)}"
        s3.put_bucket_encryption(Bucket=BUCKET_SSE, ServerSideEncryptionConfiguration=rules("aws:kms"))
        try:
            got = s3.get_bucket_encryption(Bucket=BUCKET_SSE)["ServerSideEncryptionConfiguration"]["Rules"]
            assert [r["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] for r in got] == ["aws:kms"], f"rules {got}"
            r = s3.put_object(Bucket=BUCKET_SSE, Key="kms/by-default", Body=KMS_BODY)
            assert kms_of(r) == ("aws:kms", "default"), f"plain put {kms_of(r)}"
            h = s3.head_object(Bucket=BUCKET_SSE, Key="kms/by-default")
            assert kms_of(h) == ("aws:kms", "default"), f"head {kms_of(h)}"
        finally:
            s3.delete_bucket_encryption(Bucket=BUCKET_SSE)

    @check("sse: put_object ServerSideEncryption=AES256: PUT/GET/HEAD answer AES256, ETag = MD5")
    def _():
        body = b"sse-s3 body " * 50
        r = s3.put_object(Bucket=BUCKET_SSE, Key="sse/small", Body=body, ServerSideEncryption="AES256")
        assert r.get("ServerSideEncryption") == "AES256", f"put ServerSideEncryption {r.get('ServerSideEncryption')!r}"
        assert r["ETag"].strip('"') == hashlib.md5(body).hexdigest(), f"SSE-S3 ETag {r['ETag']} is not the MD5"
        g = s3.get_object(Bucket=BUCKET_SSE, Key="sse/small")
        assert g["Body"].read() == body and g.get("ServerSideEncryption") == "AES256", f"get {g.get('ServerSideEncryption')!r}"
        h = s3.head_object(Bucket=BUCKET_SSE, Key="sse/small")
        assert h.get("ServerSideEncryption") == "AES256" and h["ETag"] == r["ETag"], f"head {h.get('ServerSideEncryption')!r} {h['ETag']}"

    @check("sse: upload_file ExtraArgs ServerSideEncryption=AES256 (multipart), head AES256, download_file equal")
    def _():
        s3.upload_file(BIG, BUCKET_SSE, "sse/big.bin", ExtraArgs={"ServerSideEncryption": "AES256"}, Config=TC)
        head = s3.head_object(Bucket=BUCKET_SSE, Key="sse/big.bin")
        assert head.get("ServerSideEncryption") == "AES256", f"ServerSideEncryption {head.get('ServerSideEncryption')!r}"
        assert head["ContentLength"] == BIG_SIZE, f"ContentLength {head['ContentLength']}"
        assert head["ETag"].strip('"').endswith("-3"), f"multipart ETag should end in -3: {head['ETag']}"
        out = os.path.join(WORK, "sse-big.down")
        s3.download_file(BUCKET_SSE, "sse/big.bin", out, Config=TC)
        assert sha256_file(out) == sha256_file(BIG), "downloaded SSE-S3 file differs"

    @check("sse: upload_file/download_file ExtraArgs SSECustomerKey (multipart)", skip=SSEC_SKIP)
    def _():
        s3.upload_file(BIG, BUCKET_SSE, "ssec/big.bin", ExtraArgs=SSEC, Config=TC)
        head = s3.head_object(Bucket=BUCKET_SSE, Key="ssec/big.bin", **SSEC)
        assert head["ContentLength"] == BIG_SIZE and head.get("SSECustomerKeyMD5") == SSEC_KEY_MD5, \
            f"head {head['ContentLength']} {head.get('SSECustomerKeyMD5')!r}"
        out = os.path.join(WORK, "ssec-big.down")
        s3.download_file(BUCKET_SSE, "ssec/big.bin", out, ExtraArgs=SSEC, Config=TC)
        assert sha256_file(out) == sha256_file(BIG), "downloaded SSE-C file differs"
        code, status = error_of(s3.head_object, Bucket=BUCKET_SSE, Key="ssec/big.bin")
        assert status == 400, f"head of the SSE-C multipart object without the key: {(code, status)}"

    @check("sse: empty and delete the encryption bucket")
    def _():
        for k in ("ssec/obj é+", "ssec/copy", "sse/small", "sse/big.bin", "ssec/big.bin",
                  "kms/obj", "kms/ctx", "kms/own", "kms/own2", "kms/big.bin", "kms/by-default"):
            s3.delete_object(Bucket=BUCKET_SSE, Key=k)
        assert s3.list_objects_v2(Bucket=BUCKET_SSE)["KeyCount"] == 0, "keys left"
        s3.delete_bucket(Bucket=BUCKET_SSE)
        created_buckets.remove(BUCKET_SSE)

    # --- bucket deletion ---------------------------------------------------
    @check("delete_bucket on a non-empty bucket -> 409 BucketNotEmpty, nothing deleted")
    def _():
        code, status = error_of(s3.delete_bucket, Bucket=BUCKET)
        assert (code, status) == ("BucketNotEmpty", 409), f"{(code, status)}"
        s3.head_bucket(Bucket=BUCKET)
        assert s3.get_object(Bucket=BUCKET, Key="cond/obj")["Body"].read() == b"conditional"

    @check("empty a bucket with list_object_versions + delete_objects(VersionId 'null')")
    def _():
        stored = sum(p.get("KeyCount", 0) for p in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET))
        assert stored > 0, "the bucket is already empty: nothing to test"
        total = 0
        seen_versions = set()
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=BUCKET):
            vers = page.get("Versions", []) + page.get("DeleteMarkers", [])
            seen_versions |= {v.get("VersionId") for v in vers}
            objs = [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in vers]
            if objs:
                r = s3.delete_objects(Bucket=BUCKET, Delete={"Objects": objs})
                assert not r.get("Errors"), f"delete_objects errors {r.get('Errors')[:3]}"
                total += len(objs)
        assert total == stored, f"{total} versions listed for {stored} objects"
        assert seen_versions == {"null"}, f"VersionIds {seen_versions}"
        left = s3.list_objects_v2(Bucket=BUCKET)
        assert left["KeyCount"] == 0, f"{left['KeyCount']} keys left: {[o['Key'] for o in left.get('Contents', [])][:5]}"
        s3.delete_bucket(Bucket=BUCKET)
        created_buckets.remove(BUCKET)
        code, status = error_of(s3.head_bucket, Bucket=BUCKET)
        assert status == 404, f"bucket still there: {(code, status)}"

finally:
    for b in list(created_buckets):
        if b == BUCKET_VER:
            try:
                delete_all_versions(b)
            except Exception:  # noqa: BLE001
                pass
        empty_and_delete(b)
    for root, dirs, files in os.walk(WORK, topdown=False):
        for n in files:
            os.unlink(os.path.join(root, n))
        os.rmdir(root)

print(f"{SUITE}: {passed} passed, {len(failed)} failed")
for name in failed:
    print(f"  failed: {name}")
sys.exit(1 if failed else 0)
