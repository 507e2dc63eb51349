#!/usr/bin/env python3
"""The hostile suite: requests a careful attacker would send, by raw HTTP with hand-made
SigV4 signatures, and what the gateway must answer to each.

  1. x-amz-* headers outside SignedHeaders (presigned URLs and header signatures) are refused
  2. presign limits: expiry, credential scope region and service, algorithm, two auth kinds
  3. aws-chunked bodies whose x-amz-decoded-content-length lies are refused, nothing stored
  4. a declared Content-Length over the object size limit or a quota is refused before the body
  5. floods of anonymous and badly signed requests leave few (aggregated) audit entries
  6. the admin API: root-only endpoints and foreign keys look like missing ones to tenant admins
  7. client faults are 4xx: a body that does not match x-amz-content-sha256, a huge DeleteObjects
  8. Range headers, as S3 answers them
  9. topics: an append-open mailbox only for owners that are users of the bucket's tenant
 10. small leaks: request ids do not count up, proofs do not name the writer's access key

Only behaviour the gateway decides itself is checked, so it passes in front of an upstream
too (COMPAT_UPSTREAM=tollgate|moto).

env: S3_ENDPOINT, AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (root), TOLLGATE_BIN (for
`tollgate admin`). Prints one PASS/FAIL line per check and "hostile: N passed, M failed";
exits 1 if any check failed.
"""
import base64
import datetime
import hashlib
import hmac
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import time
import traceback
import urllib.parse
import uuid
import zlib

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

SUITE = "hostile"
ENDPOINT = os.environ.get("S3_ENDPOINT")
ROOT_AK = os.environ.get("AWS_ACCESS_KEY_ID")
ROOT_SK = os.environ.get("AWS_SECRET_ACCESS_KEY")
TOLLGATE = os.environ.get("TOLLGATE_BIN")
if not (ENDPOINT and ROOT_AK and ROOT_SK and TOLLGATE):
    sys.exit("S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and TOLLGATE_BIN must be set")
for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_PROFILE", "AWS_CA_BUNDLE"):
    os.environ.pop(var, None)
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
os.environ["AWS_CONFIG_FILE"] = os.devnull
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull

_url = urllib.parse.urlsplit(ENDPOINT)
HOST = _url.hostname
PORT = _url.port or 80
HOSTPORT = _url.netloc
REGION = "us-east-1"
RUN = f"{int(time.time())}-{uuid.uuid4().hex[:6]}"
UNSIGNED = "UNSIGNED-PAYLOAD"
NOT_SIGNED_MSG = "There were headers present in the request which were not signed"


# ---------------------------------------------------------------- SigV4 by hand

def _q(s, safe="-_.~"):
    return urllib.parse.quote(s, safe=safe)


def _hmac(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def _amz_now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def _signature(sk, amz_date, scope, canonical, algorithm="AWS4-HMAC-SHA256"):
    date, region, service, _ = scope.split("/")
    k = _hmac(("AWS4" + sk).encode(), date)
    k = _hmac(k, region)
    k = _hmac(k, service)
    k = _hmac(k, "aws4_request")
    sts = "\n".join([algorithm, amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    return hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()


def _canonical(method, path, query, headers, signed, payload_hash):
    cq = "&".join(f"{_q(k)}={_q(v)}" for k, v in sorted(query))
    lower = {k.lower(): " ".join(str(v).strip().split()) for k, v in headers.items()}
    ch = "".join(f"{h}:{lower.get(h, '')}\n" for h in signed)
    return "\n".join([method, _q(path, safe="/-_.~"), cq, ch, ";".join(signed), payload_hash])


def sign_headers(method, path, query=(), headers=None, payload_hash=UNSIGNED, ak=None, sk=None,
                 region=REGION, service="s3", signed=None):
    """Headers of a header-signed request: Host, x-amz-date, x-amz-content-sha256, Authorization
    added to `headers`; every header given is signed unless `signed` names the signed ones."""
    ak, sk = ak or ROOT_AK, sk or ROOT_SK
    h = dict(headers or {})
    h["Host"] = HOSTPORT
    h["x-amz-date"] = amz_date = _amz_now()
    h["x-amz-content-sha256"] = payload_hash
    names = sorted({k.lower() for k in h} if signed is None else set(signed))
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    sig = _signature(sk, amz_date, scope, _canonical(method, path, list(query), h, names, payload_hash))
    h["Authorization"] = f"AWS4-HMAC-SHA256 Credential={ak}/{scope}, SignedHeaders={';'.join(names)}, Signature={sig}"
    return h


def presign(method, path, query=(), headers=None, expires=300, ak=None, sk=None, region=REGION,
            service="s3", signed=("host",), algorithm="AWS4-HMAC-SHA256"):
    """The query string (with X-Amz-Signature) of a presigned URL signing the headers named."""
    ak, sk = ak or ROOT_AK, sk or ROOT_SK
    amz_date = _amz_now()
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    names = sorted(signed)
    q = list(query) + [
        ("X-Amz-Algorithm", algorithm),
        ("X-Amz-Credential", f"{ak}/{scope}"),
        ("X-Amz-Date", amz_date),
        ("X-Amz-Expires", str(expires)),
        ("X-Amz-SignedHeaders", ";".join(names)),
    ]
    h = dict(headers or {})
    h["Host"] = HOSTPORT
    sig = _signature(sk, amz_date, scope, _canonical(method, path, q, h, names, UNSIGNED), algorithm)
    q.append(("X-Amz-Signature", sig))
    return "&".join(f"{_q(k)}={_q(v)}" for k, v in q)


# ---------------------------------------------------------------- raw HTTP

class Resp:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers}
        self.body = body
        self.text = body.decode("utf-8", "replace")

    def code(self):
        m = re.search(r"<Code>([^<]*)</Code>", self.text)
        return m.group(1) if m else None

    def __repr__(self):
        return f"HTTP {self.status} headers={self.headers} body={self.text[:600]!r}"


def raw(method, target, headers=None, body=b"", timeout=15, conn=None):
    """One request; `target` is the path with its query. Headers are sent exactly as given
    (http.client adds only Content-Length when a body is given and none is set)."""
    c = conn or http.client.HTTPConnection(HOST, PORT, timeout=timeout)
    try:
        c.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        hdrs = dict(headers or {})
        if "Host" not in hdrs and "host" not in hdrs:
            hdrs["Host"] = HOSTPORT
        if body and not any(k.lower() == "content-length" for k in hdrs):
            hdrs["Content-Length"] = str(len(body))
        for k, v in hdrs.items():
            c.putheader(k, v)
        c.endheaders(body if body else None)
        r = c.getresponse()
        return Resp(r.status, r.getheaders(), r.read())
    finally:
        if conn is None:
            c.close()


def signed(method, path, query=(), headers=None, body=b"", ak=None, sk=None, **kw):
    """A header-signed request with the body's real SHA-256."""
    h = sign_headers(method, path, query, headers, hashlib.sha256(body).hexdigest(), ak=ak, sk=sk, **kw)
    qs = "&".join(f"{_q(k)}={_q(v)}" for k, v in query)
    return raw(method, path + ("?" + qs if qs else ""), h, body)


def head_status(bucket, key):
    return signed("HEAD", f"/{bucket}/{key}").status


def get_body(bucket, key):
    r = signed("GET", f"/{bucket}/{key}")
    return r.status, r.body


# ---------------------------------------------------------------- checks

passed, failed = 0, []


def check(name):
    def run(fn):
        global passed
        start = time.monotonic()
        try:
            fn()
            passed += 1
            print(f"PASS {SUITE}: {name} ({time.monotonic() - start:.1f}s)", flush=True)
        except Exception:  # noqa: BLE001 - every failure is reported
            failed.append(name)
            print(f"FAIL {SUITE}: {name} ({time.monotonic() - start:.1f}s)", flush=True)
            print("    | " + traceback.format_exc().rstrip().replace("\n", "\n    | "), flush=True)
    return run


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


def expect_error(r, status, code, what=""):
    expect(r.status == status and r.code() == code,
           f"{what}: expected {status} {code}, got {r.status} {r.code()}: {r!r}")


def expect_absent(bucket, key, secret=None):
    st, body = get_body(bucket, key)
    if st == 200 and secret is not None and secret in body:
        raise AssertionError(f"{bucket}/{key} holds the secret's bytes: {body[:200]!r}")
    expect(st == 404, f"{bucket}/{key} after a refused write: expected 404, got {st} ({body[:200]!r})")


def run_admin(args, ak=None, sk=None):
    """`tollgate admin ARGS`; a 503 SlowDown (after the flood the per-address failure budget
    refuses this address's requests, root's too, until it refills) is retried for 10 s."""
    env = dict(os.environ, AWS_ACCESS_KEY_ID=ak or ROOT_AK, AWS_SECRET_ACCESS_KEY=sk or ROOT_SK)
    deadline = time.monotonic() + 10
    while True:
        out = subprocess.run([TOLLGATE, "admin", "--endpoint", ENDPOINT, *args], env=env,
                             capture_output=True, text=True, timeout=60)
        if out.returncode == 0 or "SlowDown" not in out.stderr or time.monotonic() > deadline:
            return out
        time.sleep(0.5)


def admin(*args, ak=None, sk=None):
    out = run_admin(["--json", *args], ak, sk)
    if out.returncode != 0:
        raise RuntimeError(f"tollgate admin {' '.join(args)}: exit {out.returncode}: {out.stderr.strip()} {out.stdout.strip()}")
    return json.loads(out.stdout) if out.stdout.strip() else None


def client(ak=None, sk=None, **cfg):
    return boto3.client("s3", endpoint_url=ENDPOINT, region_name=REGION, aws_access_key_id=ak or ROOT_AK,
                        aws_secret_access_key=sk or ROOT_SK,
                        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1, "mode": "standard"}, **cfg))


def new_key(tenant, user, role):
    admin("user", "create", "--tenant", tenant, user, "--role", role)
    k = admin("key", "create", "--tenant", tenant, "--user", user)
    return k["access_key"], k["secret_key"]


def headers_only(method, path, headers, timeout=5.0):
    """Sends only the request head (no body, whatever Content-Length says); the answer
    and how long it took, or raises if none came within `timeout`."""
    s = socket.create_connection((HOST, PORT), timeout=timeout)
    try:
        head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        start = time.monotonic()
        s.sendall(head.encode())
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        except socket.timeout:
            raise AssertionError(f"no answer within {timeout}s to the head of a {method} declaring "
                                 f"Content-Length {headers.get('Content-Length')} (the gateway waits for the body); got {data!r}") from None
        took = time.monotonic() - start
        expect(b"\r\n\r\n" in data, f"connection closed before a full answer: {data!r}")
        head_raw, rest = data.split(b"\r\n\r\n", 1)
        lines = head_raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        hdrs = [tuple(x.strip() for x in line.split(":", 1)) for line in lines[1:] if ":" in line]
        r = Resp(status, hdrs, b"")
        n = int(r.headers.get("content-length", "0") or 0)
        try:
            while len(rest) < n:
                chunk = s.recv(65536)
                if not chunk:
                    break
                rest += chunk
        except socket.timeout:
            pass
        return Resp(status, hdrs, rest), took
    finally:
        s.close()


# ---------------------------------------------------------------- setup

root = client()
presigner = client(signature_version="s3v4")
B = f"tgc-hostile-{RUN}"
SECRET = f"TOP-SECRET-{uuid.uuid4().hex}".encode()
root.create_bucket(Bucket=B)
root.put_object(Bucket=B, Key="secret", Body=SECRET)
root.put_object(Bucket=B, Key="ten", Body=b"0123456789")

TA, TB = f"hsa{RUN}".replace("-", ""), f"hsb{RUN}".replace("-", "")
admin("tenant", "create", TA)
admin("tenant", "create", TB)
BOSS_AK, BOSS_SK = new_key(TA, "boss", "admin")
ALICE_AK, ALICE_SK = new_key(TA, "alice", "writer")
ZED_AK, ZED_SK = new_key(TB, "zed", "writer")
boss = client(BOSS_AK, BOSS_SK)
zed = client(ZED_AK, ZED_SK)
TBUCKET = f"tgc-hostile-t-{RUN}"  # tenant TA's bucket: quota, topic, public-read proofs
boss.create_bucket(Bucket=TBUCKET)
print(f"{SUITE}: against {ENDPOINT}, bucket {B}, tenants {TA} {TB}, bucket {TBUCKET}", flush=True)


def presigned_put(key):
    url = presigner.generate_presigned_url("put_object", Params={"Bucket": B, "Key": key}, ExpiresIn=300)
    u = urllib.parse.urlsplit(url)
    return u.path + "?" + u.query


# ---------------------------------------------------------------- 1. unsigned x-amz-* headers

@check("1 control: a boto3 presigned PUT used as is stores the object (200)")
def _():
    r = raw("PUT", presigned_put("plain"), body=b"plain body")
    expect(r.status == 200, f"presigned PUT: expected 200, got {r!r}")
    st, body = get_body(B, "plain")
    expect((st, body) == (200, b"plain body"), f"read back: expected (200, b'plain body'), got {(st, body)}")


@check("1 control: a hand-signed PUT (every header signed) stores the object (200)")
def _():
    r = signed("PUT", f"/{B}/hand", headers={"x-amz-meta-ok": "1"}, body=b"hand")
    expect(r.status == 200, f"expected 200, got {r!r}")
    expect(get_body(B, "hand") == (200, b"hand"), "read back differs")


def unsigned_header_refused(key, extra, secret=None):
    r = raw("PUT", presigned_put(key), headers=extra, body=b"attacker body")
    expect_error(r, 403, "AccessDenied", f"presigned PUT with unsigned {list(extra)}")
    expect(NOT_SIGNED_MSG in r.text, f"message: expected [{NOT_SIGNED_MSG}], got {r.text[:600]!r}")
    m = re.search(r"<HeadersNotSigned>([^<]*)</HeadersNotSigned>", r.text)
    expect(m is not None, f"no <HeadersNotSigned> element in {r.text[:600]!r}")
    for h in extra:
        expect(h.lower() in m.group(1).lower(), f"<HeadersNotSigned>: expected to name {h}, got [{m.group(1)}]")
    expect_absent(B, key, secret)


@check("1a presigned PUT + unsigned x-amz-copy-source: 403 HeadersNotSigned, no copy of the secret")
def _():
    unsigned_header_refused("dst-a", {"x-amz-copy-source": f"{B}/secret"}, SECRET)


@check("1b presigned PUT + unsigned x-amz-meta-evil: 403 HeadersNotSigned, nothing stored")
def _():
    unsigned_header_refused("dst-b", {"x-amz-meta-evil": "1"})


@check("1c presigned PUT + unsigned x-amz-tagging: 403 HeadersNotSigned, nothing stored")
def _():
    unsigned_header_refused("dst-c", {"x-amz-tagging": "a=b"})


@check("1d header-signed PUT (botocore SigV4Auth) + x-amz-meta-x added after signing: 403 HeadersNotSigned")
def _():
    body = b"signed body"
    req = AWSRequest(method="PUT", url=f"{ENDPOINT}/{B}/dst-d", data=body,
                     headers={"x-amz-content-sha256": hashlib.sha256(body).hexdigest()})
    SigV4Auth(Credentials(ROOT_AK, ROOT_SK), "s3", REGION).add_auth(req)
    h = dict(req.headers.items())
    h["x-amz-meta-x"] = "added"
    r = raw("PUT", f"/{B}/dst-d", headers=h, body=body)
    expect_error(r, 403, "AccessDenied", "header-signed PUT with an unsigned x-amz-meta-x")
    expect(NOT_SIGNED_MSG in r.text and "<HeadersNotSigned>" in r.text and "x-amz-meta-x" in r.text,
           f"expected [{NOT_SIGNED_MSG}] and <HeadersNotSigned>x-amz-meta-x, got {r.text[:600]!r}")
    expect_absent(B, "dst-d")


@check("1e presigned PUT whose SignedHeaders lacks host (validly signed over content-type): 403 AccessDenied")
def _():
    hdrs = {"Content-Type": "text/plain"}
    q = presign("PUT", f"/{B}/dst-e", headers=hdrs, signed=("content-type",))
    r = raw("PUT", f"/{B}/dst-e?{q}", headers=hdrs, body=b"no host signed")
    expect_error(r, 403, "AccessDenied", "SignedHeaders=content-type")
    expect_absent(B, "dst-e")


# ---------------------------------------------------------------- 2. presign limits

@check("2 control: a hand-presigned GET with X-Amz-Expires=604800 works (200)")
def _():
    r = raw("GET", f"/{B}/ten?" + presign("GET", f"/{B}/ten", expires=604800))
    expect(r.status == 200 and r.body == b"0123456789", f"expected 200 0123456789, got {r!r}")


@check("2 presigned X-Amz-Expires=604801: 400 AuthorizationQueryParametersError")
def _():
    r = raw("GET", f"/{B}/ten?" + presign("GET", f"/{B}/ten", expires=604801))
    expect_error(r, 400, "AuthorizationQueryParametersError", "X-Amz-Expires=604801")


@check("2 header-signed, credential scope region eu-west-1: 400 AuthorizationHeaderMalformed naming us-east-1")
def _():
    r = signed("GET", f"/{B}/ten", region="eu-west-1")
    expect_error(r, 400, "AuthorizationHeaderMalformed", "scope region eu-west-1")
    expect("<Region>us-east-1</Region>" in r.text, f"expected <Region>us-east-1</Region> in {r.text[:600]!r}")


@check("2 presigned, credential scope region eu-west-1: 400 AuthorizationQueryParametersError naming us-east-1")
def _():
    r = raw("GET", f"/{B}/ten?" + presign("GET", f"/{B}/ten", region="eu-west-1"))
    expect_error(r, 400, "AuthorizationQueryParametersError", "presigned scope region eu-west-1")
    expect("<Region>us-east-1</Region>" in r.text, f"expected <Region>us-east-1</Region> in {r.text[:600]!r}")


@check("2 presigned query and an Authorization header together: 400 InvalidArgument")
def _():
    q = presign("GET", f"/{B}/ten")
    h = sign_headers("GET", f"/{B}/ten", payload_hash=hashlib.sha256(b"").hexdigest())
    # the Authorization header (and the exempt x-amz-content-sha256) only: an x-amz-date
    # header outside the URL's SignedHeaders would be refused for that reason first
    h = {k: v for k, v in h.items() if k.lower() != "x-amz-date"}
    r = raw("GET", f"/{B}/ten?{q}", headers=h)
    expect_error(r, 400, "InvalidArgument", "presigned query + Authorization header")


@check("2 header-signed, credential scope service ec2: 400 AuthorizationHeaderMalformed")
def _():
    r = signed("GET", f"/{B}/ten", service="ec2")
    expect_error(r, 400, "AuthorizationHeaderMalformed", "scope service ec2")


@check("2 presigned X-Amz-Algorithm=AWS4-HMAC-SHA512: 400 AuthorizationQueryParametersError (not 501)")
def _():
    r = raw("GET", f"/{B}/ten?" + presign("GET", f"/{B}/ten", algorithm="AWS4-HMAC-SHA512"))
    expect_error(r, 400, "AuthorizationQueryParametersError", "X-Amz-Algorithm=AWS4-HMAC-SHA512")


# ---------------------------------------------------------------- 3. aws-chunked declared length

CHUNKED_DATA = os.urandom(1000)


def chunked_put(key, declared):
    data = CHUNKED_DATA
    crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    body = b""
    for i in range(0, len(data), 400):
        part = data[i:i + 400]
        body += f"{len(part):x}\r\n".encode() + part + b"\r\n"
    body += b"0\r\n" + f"x-amz-checksum-crc32:{crc}\r\n".encode() + b"\r\n"
    h = sign_headers("PUT", f"/{B}/{key}", headers={
        "Content-Encoding": "aws-chunked",
        "Content-Length": str(len(body)),
        "x-amz-decoded-content-length": str(declared),
        "x-amz-trailer": "x-amz-checksum-crc32",
    }, payload_hash="STREAMING-UNSIGNED-PAYLOAD-TRAILER")
    return raw("PUT", f"/{B}/{key}", headers=h, body=body, timeout=10)


@check("3 control: aws-chunked (unsigned payload, CRC32 trailer) with the right decoded length: 200, reads back")
def _():
    r = chunked_put("chunked-ok", len(CHUNKED_DATA))
    expect(r.status == 200, f"expected 200, got {r!r}")
    st, body = get_body(B, "chunked-ok")
    expect(st == 200 and body == CHUNKED_DATA, f"read back: expected 200 and the {len(CHUNKED_DATA)} bytes sent, got {st} and {len(body)} bytes")


@check("3 aws-chunked declaring 1 byte less than the body: 400, nothing stored")
def _():
    r = chunked_put("chunked-short", len(CHUNKED_DATA) - 1)
    expect(r.status == 400, f"expected 400, got {r!r}")
    expect_absent(B, "chunked-short")


@check("3 aws-chunked declaring 1 byte more than the body: 400, nothing stored")
def _():
    r = chunked_put("chunked-long", len(CHUNKED_DATA) + 1)
    expect(r.status == 400, f"expected 400, got {r!r}")
    expect_absent(B, "chunked-long")


# ---------------------------------------------------------------- 4. declared sizes over limits

@check("4 PUT declaring Content-Length 6 TB, head only: 400 EntityTooLarge within 5 s, Connection: close")
def _():
    h = sign_headers("PUT", f"/{B}/huge", headers={"Content-Length": "6000000000000"})
    r, took = headers_only("PUT", f"/{B}/huge", h)
    expect_error(r, 400, "EntityTooLarge", f"6 TB PUT (answered in {took:.2f}s)")
    expect(r.headers.get("connection", "").lower() == "close", f"expected Connection: close, got headers {r.headers}")
    expect_absent(B, "huge")


@check("4 PUT declaring 5000 bytes into a bucket with a 1000-byte quota, head only: 403 QuotaExceeded within 5 s, Connection: close")
def _():
    admin("quota", "set", "--bucket", TBUCKET, "--max-bytes", "1000")
    try:
        h = sign_headers("PUT", f"/{TBUCKET}/over", headers={"Content-Length": "5000"}, ak=BOSS_AK, sk=BOSS_SK)
        r, took = headers_only("PUT", f"/{TBUCKET}/over", h)
        expect_error(r, 403, "QuotaExceeded", f"5000-byte PUT over a 1000-byte quota (answered in {took:.2f}s)")
        expect(r.headers.get("connection", "").lower() == "close", f"expected Connection: close, got headers {r.headers}")
    finally:
        admin("quota", "set", "--bucket", TBUCKET, "--max-bytes", "0")
    expect_absent(TBUCKET, "over")


# ---------------------------------------------------------------- 6. admin API scope

@check("6 a tenant admin asking GET /_tollgate/admin/scrub (root only): 403")
def _():
    r = signed("GET", "/_tollgate/admin/scrub", ak=BOSS_AK, sk=BOSS_SK)
    expect(r.status == 403, f"tenant admin GET /_tollgate/admin/scrub: expected 403, got {r!r}")
    r = signed("POST", "/_tollgate/admin/scrub", ak=BOSS_AK, sk=BOSS_SK)
    expect(r.status == 403, f"tenant admin POST /_tollgate/admin/scrub: expected 403, got {r!r}")


@check("6 a tenant admin disabling another tenant's key gets the same 404 as for a missing key")
def _():
    foreign = signed("POST", f"/_tollgate/admin/keys/{ZED_AK}/disable", ak=BOSS_AK, sk=BOSS_SK)
    missing = signed("POST", f"/_tollgate/admin/keys/AKNOSUCH{uuid.uuid4().hex[:12].upper()}/disable", ak=BOSS_AK, sk=BOSS_SK)
    expect(foreign.status == 404, f"foreign key: expected 404, got {foreign!r}")
    expect((foreign.status, foreign.body) == (missing.status, missing.body),
           f"foreign key answered {foreign.status} {foreign.text!r}, a missing key {missing.status} {missing.text!r}")
    zed.list_buckets()  # zed's key still works


# ---------------------------------------------------------------- 7. client faults are 4xx

@check("7 PUT whose body does not match its signed x-amz-content-sha256: 400 XAmzContentSHA256Mismatch, nothing stored")
def _():
    h = sign_headers("PUT", f"/{B}/mismatch", payload_hash=hashlib.sha256(b"other bytes").hexdigest())
    r = raw("PUT", f"/{B}/mismatch", headers=h, body=b"the real bytes")
    expect_error(r, 400, "XAmzContentSHA256Mismatch", "body vs x-amz-content-sha256")
    expect_absent(B, "mismatch")


@check("7 DeleteObjects with a 3 MB well-formed XML body: 400 (MaxMessageLengthExceeded or MalformedXML), answered")
def _():
    objs = "".join(f"<Object><Key>del/{i:08d}-{'x' * 90}</Key></Object>" for i in range(27000))
    body = f'<?xml version="1.0" encoding="UTF-8"?><Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Quiet>true</Quiet>{objs}</Delete>'.encode()
    expect(len(body) > 3_000_000, f"body is {len(body)} bytes")
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    h = sign_headers("POST", f"/{B}", query=[("delete", "")], headers={"Content-MD5": md5, "Content-Length": str(len(body)),
                                                                         "Content-Type": "application/xml"},
                     payload_hash=hashlib.sha256(body).hexdigest())
    s = socket.create_connection((HOST, PORT), timeout=10)
    try:
        s.sendall(f"POST /{B}?delete= HTTP/1.1\r\n".encode() + "".join(f"{k}: {v}\r\n" for k, v in h.items()).encode() + b"\r\n")
        send_error = None
        try:
            s.sendall(body)
        except OSError as e:  # the gateway may answer and close early; the answer must still arrive
            send_error = e
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        except OSError as e:
            raise AssertionError(f"no answer to a 3 MB DeleteObjects: {e!r} (send: {send_error!r}), read {data!r}") from None
    finally:
        s.close()
    expect(data.startswith(b"HTTP/1.1 "), f"no HTTP answer to a 3 MB DeleteObjects (send: {send_error!r}): {data[:300]!r}")
    status = int(data.split()[1])
    code = re.search(rb"<Code>([^<]*)</Code>", data)
    code = code.group(1).decode() if code else None
    expect(status == 400 and code in ("MaxMessageLengthExceeded", "MalformedXML"),
           f"expected 400 MaxMessageLengthExceeded or MalformedXML, got {status} {code}: {data[:600]!r}")


# ---------------------------------------------------------------- 8. ranges

def range_get(spec):
    # Range outside SignedHeaders, as a URL presigned without it would send it: a signed
    # Range that S3 would ignore cannot be dropped without breaking the signature (README,
    # Security), so the gateway refuses it instead (400 InvalidArgument)
    h = sign_headers("GET", f"/{B}/ten", payload_hash=hashlib.sha256(b"").hexdigest())
    h["Range"] = spec
    return raw("GET", f"/{B}/ten", headers=h)


for _spec, _status, _body, _crange in [
    ("bytes=abc", 200, b"0123456789", None),
    ("bytes=0-1,4-5", 200, b"0123456789", None),
    ("bytes=5-1000", 206, b"56789", "bytes 5-9/10"),
    ("bytes=-3", 206, b"789", "bytes 7-9/10"),
    ("bytes=-0", 416, None, None),
    ("bytes=10-", 416, None, None),
]:
    @check(f"8 Range (unsigned): {_spec} on 0123456789: {_status}" + (f" {_body.decode()}" if _body else "") + (f", Content-Range {_crange}" if _crange else ""))
    def _(spec=_spec, status=_status, body=_body, crange=_crange):
        r = range_get(spec)
        got = (r.status, r.body if body is not None else None, r.headers.get("content-range") if crange else None)
        want = (status, body, crange)
        expect(got == want, f"Range: {spec}: expected (status, body, content-range) {want}, got {got} [{r.code()}]: {r!r}")


# ---------------------------------------------------------------- 9. topics

@check("9 append-open inbox: another tenant's writer to inbox/nosuchuser/x is 403 AccessDenied; to inbox/alice/x 200")
def _():
    admin("topic", "set", "--bucket", TBUCKET, "--topic", "inbox", "--write", "append-open", "--read", "auth")
    try:
        try:
            zed.put_object(Bucket=TBUCKET, Key="inbox/nosuchuser/x", Body=b"to nobody")
            raise AssertionError("inbox/nosuchuser/x: expected 403 AccessDenied, got 200")
        except ClientError as e:
            got = (e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"]["Code"])
            expect(got == (403, "AccessDenied"), f"inbox/nosuchuser/x: expected (403, AccessDenied), got {got}")
        expect(head_status(TBUCKET, "inbox/nosuchuser/x") == 404, "inbox/nosuchuser/x was stored")
        r = zed.put_object(Bucket=TBUCKET, Key="inbox/alice/x", Body=b"to alice")
        expect(r["ResponseMetadata"]["HTTPStatusCode"] == 200, f"inbox/alice/x: {r}")
    finally:
        admin("topic", "delete", "--bucket", TBUCKET, "--topic", "inbox")


# ---------------------------------------------------------------- 10. small leaks

@check("10 x-amz-request-id of consecutive requests are not sequential")
def _():
    ids = [signed("HEAD", f"/{B}").headers.get("x-amz-request-id") for _ in range(3)]
    expect(all(ids), f"a response without x-amz-request-id: {ids}")
    for a, b in zip(ids, ids[1:]):
        expect(a != b, f"two requests with one id {a}")
        expect(len(a) != len(b) or a[:-4] != b[:-4], f"ids {a} and {b} differ only in their last 4 characters")
        try:
            na, nb = int(a, 16), int(b, 16)
        except ValueError:
            continue
        expect(abs(na - nb) > 1, f"ids {a} and {b} are consecutive numbers")


@check("10 an anonymous read of a public-read bucket's proofs does not name the writer's access key")
def _():
    boss.put_object(Bucket=TBUCKET, Key="proved", Body=b"proved body")
    admin("bucket", "set", TBUCKET, "--visibility", "public-read")
    try:
        r = raw("GET", f"/_tollgate/proofs/object/{TBUCKET}/proved")
        expect(r.status == 200 and "proved" in r.text, f"anonymous proof read of a public-read bucket: expected 200 with the manifest, got {r!r}")
        expect(BOSS_AK not in r.text, f"the proof names the writer's access key {BOSS_AK}: {r.text[:800]!r}")
    finally:
        admin("bucket", "set", TBUCKET, "--visibility", "private")


# ---------------------------------------------------------------- 5. audit floods (last: it may trip the per-address failure limit)

def scrape_counter(name):
    """The sum of a counter's samples in GET /metrics, None when it is not exported. A 503
    (this address may just have been throttled for its failures) is retried for a few seconds."""
    deadline = time.monotonic() + 8
    while True:
        with raw_conn() as c:
            r = raw("GET", "/metrics", conn=c)
        if r.status != 503 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    expect(r.status == 200, f"GET /metrics: {r!r}")
    total, seen = 0.0, False
    for line in r.text.splitlines():
        m = re.match(rf"{name}(?:\{{[^}}]*\}})?\s+(\S+)", line)
        if m:
            seen = True
            total += float(m.group(1))
    return total if seen else None


class raw_conn:
    def __enter__(self):
        self.c = http.client.HTTPConnection(HOST, PORT, timeout=15)
        return self.c

    def __exit__(self, *a):
        self.c.close()


def flood(n, headers_fn, path):
    """n requests over keep-alive connections (reconnecting whenever the gateway closes);
    the statuses, by count."""
    statuses = {}
    c = http.client.HTTPConnection(HOST, PORT, timeout=15)
    for _ in range(n):
        for attempt in range(2):
            try:
                r = raw("GET", path, headers_fn(), conn=c)
                break
            except (http.client.HTTPException, OSError):
                c.close()
                c = http.client.HTTPConnection(HOST, PORT, timeout=15)
                if attempt:
                    raise
        statuses[r.status] = statuses.get(r.status, 0) + 1
        if r.headers.get("connection", "").lower() == "close":
            c.close()
            c = http.client.HTTPConnection(HOST, PORT, timeout=15)
    c.close()
    return statuses


def denied_audit():
    """Every denied audit entry (`tollgate admin audit --outcome denied --jsonl`, as root)."""
    out = run_admin(["audit", "--outcome", "denied", "--jsonl", "--limit", "10000"])
    expect(out.returncode == 0, f"tollgate admin audit --outcome denied --jsonl: exit {out.returncode}: {out.stderr.strip()}")
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def audit_identity(e):
    return json.dumps({k: v for k, v in e.items() if k != "count"}, sort_keys=True)


@check("5 300 anonymous + 300 badly signed requests: refused, a few aggregated audit entries, counted in /metrics")
def _():
    metric_before = scrape_counter("tollgate_unauthenticated_denials_total") or 0.0
    # What the flood adds to the audit is told apart by a snapshot before it (entries new
    # since, or whose count grew), not by a time window: an aggregated entry may carry the
    # time its window opened (and `--since` answers 400 "i128 is not supported" on some versions).
    before = {}
    for e in denied_audit():
        before[audit_identity(e)] = e.get("count", 1) if isinstance(e.get("count"), int) else 1
    unknown_ak = "AKHOSTILE" + uuid.uuid4().hex[:11].upper()
    anon = flood(300, lambda: {"Host": HOSTPORT}, f"/{B}/secret")
    time.sleep(2)  # the per-address failure budget refills: the bad signatures meet the check too
    bad = flood(300, lambda: sign_headers("GET", f"/{B}/secret", payload_hash=hashlib.sha256(b"").hexdigest(),
                                          ak=unknown_ak, sk="not-a-secret"), f"/{B}/secret")
    print(f"    anonymous: {anon}, bad signature: {bad}", flush=True)
    for what, st in (("anonymous", anon), ("bad signature", bad)):
        expect(set(st) <= {403, 503}, f"{what} GETs of a private object: expected only 403 or 503, got {st}")
    refused = anon.get(403, 0) + bad.get(403, 0)
    # every refusal that got past the per-address failure budget (403) is accounted for;
    # the throttled ones (503) may be counted as well, nothing else of note
    want = refused
    deadline = time.monotonic() + 6  # the audit may aggregate asynchronously
    while True:
        added, counted = [], 0
        for e in denied_audit():
            n = e["count"] if isinstance(e.get("count"), int) else None
            old = before.get(audit_identity(e))
            if old is None:
                added.append(e)
                counted += n or 0
            elif n is not None and n > old:
                added.append(e)
                counted += n - old
        if counted >= want or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    sample = json.dumps(added[:3])
    print(f"    {len(added)} new denied audit entries, counts summing to {counted}", flush=True)
    expect(len(added) <= 10, f"{len(added)} new denied audit entries for 600 refused requests (expected <= 10); first: {sample}")
    expect(all(isinstance(e.get("count"), int) for e in added), f"audit entries without an integer count field: {sample}")
    expect(want <= counted <= 600 + 20, f"the new audit entries' counts sum to {counted}, expected between the {refused} refusals (403) and the 600 requests (+20): {sample}")
    metric_after = scrape_counter("tollgate_unauthenticated_denials_total")
    expect(metric_after is not None, "/metrics has no tollgate_unauthenticated_denials_total")
    expect(metric_after - metric_before >= refused,
           f"tollgate_unauthenticated_denials_total grew by {metric_after - metric_before}, expected >= {refused} (the 403s)")


# ---------------------------------------------------------------- cleanup and summary

try:
    admin("bucket", "set", TBUCKET, "--visibility", "private")
    for c, bucket in ((root, B), (boss, TBUCKET)):
        for page in c.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for o in page.get("Contents", []):
                c.delete_object(Bucket=bucket, Key=o["Key"])
        c.delete_bucket(Bucket=bucket)
    for tenant, users in ((TA, ("boss", "alice")), (TB, ("zed",))):
        for user in users:
            admin("user", "delete", "--tenant", tenant, user)
        admin("tenant", "delete", tenant)
except Exception as e:  # noqa: BLE001 - cleanup is best effort, the checks decided
    print(f"{SUITE}: cleanup: {e!r}", flush=True)

print(f"{SUITE}: {passed} passed, {len(failed)} failed")
for name in failed:
    print(f"  failed: {name}")
sys.exit(1 if failed else 0)
