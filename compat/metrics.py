#!/usr/bin/env python3
"""The metrics suite: GET /metrics parses with the Prometheus client library's OpenMetrics parser, names
and labels follow its conventions, and the counters move as boto3 requests are made.

env: S3_ENDPOINT, AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
"""
import os
import sys
import time
import urllib.request
import uuid

import boto3
from botocore.config import Config
from prometheus_client.openmetrics.parser import text_string_to_metric_families

SUITE = "metrics"
ENDPOINT = os.environ.get("S3_ENDPOINT")
if not (ENDPOINT and os.environ.get("AWS_ACCESS_KEY_ID") and os.environ.get("AWS_SECRET_ACCESS_KEY")):
    sys.exit("S3_ENDPOINT, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set")
for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
    os.environ.pop(var, None)
os.environ["AWS_CONFIG_FILE"] = os.devnull

failed = []
passed = 0


def ok(name, cond, detail=""):
    global passed
    if cond:
        passed += 1
        print(f"PASS {SUITE}: {name}", flush=True)
    else:
        failed.append(name)
        print(f"FAIL {SUITE}: {name} {detail}", flush=True)


def scrape():
    with urllib.request.urlopen(f"{ENDPOINT}/metrics", timeout=10) as r:
        ctype = r.headers.get("content-type", "")
        text = r.read().decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    return ctype, families


def sample(families, family, name, **labels):
    f = families.get(family)
    if f is None:
        return 0.0
    total = 0.0
    for s in f.samples:
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
            total += s.value
    return total


s3 = boto3.client("s3", endpoint_url=ENDPOINT, region_name="us-east-1",
                  config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                                retries={"max_attempts": 1}))
bucket = f"tgc-metrics-{int(time.time())}-{uuid.uuid4().hex[:6]}"

ctype, before = scrape()
ok("GET /metrics parses (prometheus_client OpenMetrics parser)", len(before) > 0, f"{len(before)} families")
ok("content type is Prometheus/OpenMetrics text", "text" in ctype, ctype)
names = sorted(before)
ok("every family is named tollgate_* in snake_case",
   all(n.startswith("tollgate_") and n == n.lower() for n in names), str(names))
for family in ("tollgate_requests", "tollgate_request_duration_seconds", "tollgate_in_flight_requests"):
    ok(f"family {family} is exported", family in before, str(names))

s3.create_bucket(Bucket=bucket)
N = 7
for i in range(N):
    s3.put_object(Bucket=bucket, Key=f"k{i}", Body=b"x" * 1000)
for i in range(3):
    s3.get_object(Bucket=bucket, Key=f"k{i}")["Body"].read()
try:
    s3.get_object(Bucket=bucket, Key="missing")
except s3.exceptions.NoSuchKey:
    pass
_, after = scrape()

put_before = sample(before, "tollgate_requests", "tollgate_requests_total", operation="PutObject", status="200")
put_after = sample(after, "tollgate_requests", "tollgate_requests_total", operation="PutObject", status="200")
ok(f"tollgate_requests_total{{operation=PutObject,status=200}} moved by {N}", put_after - put_before == N,
   f"{put_before} -> {put_after}")
get_404 = sample(after, "tollgate_requests", "tollgate_requests_total", operation="GetObject", status="404") - \
    sample(before, "tollgate_requests", "tollgate_requests_total", operation="GetObject", status="404")
ok("a missing key counts as GetObject 404", get_404 == 1, str(get_404))
hist = sample(after, "tollgate_request_duration_seconds", "tollgate_request_duration_seconds_count", operation="PutObject") - \
    sample(before, "tollgate_request_duration_seconds", "tollgate_request_duration_seconds_count", operation="PutObject")
ok(f"the PutObject latency histogram counted {N}", hist == N, str(hist))
body_in = sample(after, "tollgate_body_bytes", "tollgate_body_bytes_total", direction="in") - \
    sample(before, "tollgate_body_bytes", "tollgate_body_bytes_total", direction="in")
ok("bytes in moved by at least the bodies sent", body_in >= N * 1000, str(body_in))
labels = {k for f in after.values() for s in f.samples for k in s.labels}
ok("no bucket, key or principal labels", not labels & {"bucket", "key", "principal", "access_key"}, str(labels))

for i in range(N):
    s3.delete_object(Bucket=bucket, Key=f"k{i}")
s3.delete_bucket(Bucket=bucket)
print(f"{SUITE}: {passed} passed, {len(failed)} failed")
sys.exit(1 if failed else 0)
