#!/usr/bin/env python3
"""The browser suite: headless Chromium, on a page served from another origin than the gateway,
(a) uploads with a presigned PUT, (b) uploads with an HTML form POST made from boto3's
generate_presigned_post, (c) downloads with fetch. Each is first refused by the browser (the
bucket has no CORS rules: the page sees a TypeError), then works once PutBucketCors allows the
page's origin. Screenshots go to $TOLLGATE_ARTIFACTS (default compat/artifacts/browser); the
checks read the page's results, never pixels.

Chromium is driven through chromedriver's W3C WebDriver HTTP API with urllib alone (no
selenium to install). compat/browser.sh starts the page server and chromedriver.

env: S3_ENDPOINT, AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, PAGE_URL (the page, on its own
origin), WEBDRIVER_URL (chromedriver), CHROMIUM (the browser binary).
"""
import base64
import json
import os
import sys
import tempfile
import urllib.error
import urllib.request
import uuid

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

SUITE = "browser"
ENDPOINT = os.environ.get("S3_ENDPOINT")
PAGE_URL = os.environ.get("PAGE_URL")
WEBDRIVER_URL = os.environ.get("WEBDRIVER_URL")
if not (ENDPOINT and PAGE_URL and WEBDRIVER_URL and os.environ.get("AWS_ACCESS_KEY_ID")):
    sys.exit("S3_ENDPOINT, PAGE_URL, WEBDRIVER_URL and AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY must be set (compat/browser.sh sets them)")
for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
    os.environ.pop(var, None)
os.environ["AWS_CONFIG_FILE"] = os.devnull
ARTIFACTS = os.environ.get("TOLLGATE_ARTIFACTS") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "artifacts")
ARTIFACTS = os.path.join(ARTIFACTS, "browser")
os.makedirs(ARTIFACTS, exist_ok=True)
PAGE_ORIGIN = "/".join(PAGE_URL.split("/")[:3])

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


class WebDriver:
    """A WebDriver session, spoken as JSON over HTTP with bounded timeouts."""

    def __init__(self, url, binary):
        self.url = url.rstrip("/")
        caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": binary,
            # --no-sandbox: CI runs as root, where Chromium's sandbox cannot start.
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1000,700"],
        }}}}
        self.session = self.call("POST", "/session", caps, timeout=60)["sessionId"]
        self.call("POST", f"/session/{self.session}/timeouts", {"script": 20000, "pageLoad": 20000})

    def call(self, method, path, body=None, timeout=30):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method, headers={"content-type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return json.loads(r.read())["value"]
        except urllib.error.HTTPError as e:
            raise RuntimeError(f"webdriver {method} {path}: {e.code} {e.read()[:500]!r}") from None

    def open(self, url):
        self.call("POST", f"/session/{self.session}/url", {"url": url})

    def run(self, function, *args):
        """Calls the page's async `function` with `args` and returns what it resolved to."""
        script = f"const done = arguments[arguments.length - 1]; {function}(...Array.from(arguments).slice(0, -1)).then(done, e => done({{ok: false, error: 'script: ' + e}}));"
        return self.call("POST", f"/session/{self.session}/execute/async", {"script": script, "args": list(args)})

    def run_sync(self, script, *args):
        return self.call("POST", f"/session/{self.session}/execute/sync", {"script": script, "args": list(args)})

    def give_file(self, css, path):
        """Chooses `path` in the file input `css`, as a user would."""
        el = self.call("POST", f"/session/{self.session}/element", {"using": "css selector", "value": css})
        eid = next(iter(el.values()))
        self.call("POST", f"/session/{self.session}/element/{eid}/value", {"text": path})

    def screenshot(self, name):
        png = base64.b64decode(self.call("GET", f"/session/{self.session}/screenshot"))
        with open(os.path.join(ARTIFACTS, f"{name}.png"), "wb") as f:
            f.write(png)

    def close(self):
        try:
            self.call("DELETE", f"/session/{self.session}")
        except (RuntimeError, OSError) as e:
            print(f"{SUITE}: closing the browser: {e}", flush=True)


s3 = boto3.client("s3", endpoint_url=ENDPOINT, region_name="us-east-1",
                  config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
bucket = f"tgc-browser-{uuid.uuid4().hex[:12]}"
s3.create_bucket(Bucket=bucket)


def exists(key):
    try:
        s3.head_object(Bucket=bucket, Key=key)
        return True
    except ClientError as e:
        if e.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
            return False
        raise


def body_of(key):
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()


def blocked(result):
    """The browser refused the page the answer: a TypeError, and no status seen."""
    return result.get("ok") is False and "status" not in result and "TypeError" in result.get("error", "")


def round_of(driver, phase, expect_allowed):
    """Runs (a), (b) and (c) once; `expect_allowed`: whether the bucket's rules allow the page."""
    driver.open(PAGE_URL)
    put_key, form_key = f"{phase}/put.txt", f"{phase}/form.txt"
    text = f"uploaded by a presigned PUT ({phase})"

    # (a) presigned PUT: a PUT is preflighted, so without rules it is never sent.
    url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": put_key}, ExpiresIn=600)
    r = driver.run("presignedPut", f"{phase}: presigned PUT", url, text)
    if expect_allowed:
        ok(f"{phase}: presigned PUT from the page works", r.get("status") == 200, r)
        ok(f"{phase}: the page reads the exposed ETag", bool(r.get("etag")), r)
        ok(f"{phase}: the presigned PUT stored the bytes", exists(put_key) and body_of(put_key) == text)
    else:
        ok(f"{phase}: presigned PUT refused by the browser", blocked(r), r)
        ok(f"{phase}: the refused preflight kept the PUT from being sent", not exists(put_key))

    # (b) HTML form POST with a presigned POST policy.
    post = s3.generate_presigned_post(bucket, form_key, ExpiresIn=600)
    driver.run_sync("prepareForm(arguments[0], arguments[1]);", post["url"], post["fields"])
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write(f"uploaded by an HTML form ({phase})")
        file_path = f.name
    try:
        driver.give_file("#file", file_path)
        r = driver.run("submitForm", f"{phase}: form POST")
    finally:
        os.unlink(file_path)
    if expect_allowed:
        ok(f"{phase}: form POST from the page works", r.get("status") in (200, 201, 204), r)
        ok(f"{phase}: the form POST stored the file", exists(form_key) and body_of(form_key) == f"uploaded by an HTML form ({phase})")
    else:
        # A form POST is a "simple" request: the browser sends it without asking, and
        # keeps the answer from the page. CORS guards what a page may read, not what it sends.
        ok(f"{phase}: form POST answer refused to the page", blocked(r), r)
        ok(f"{phase}: the form POST was sent all the same", exists(form_key))

    # (c) download with fetch.
    s3.put_object(Bucket=bucket, Key=f"{phase}/get.txt", Body=f"downloaded ({phase})".encode())
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": f"{phase}/get.txt"}, ExpiresIn=600)
    r = driver.run("download", f"{phase}: fetch download", url)
    if expect_allowed:
        ok(f"{phase}: fetch download works", r.get("status") == 200 and r.get("body") == f"downloaded ({phase})", r)
    else:
        ok(f"{phase}: fetch download refused by the browser", blocked(r), r)
    driver.screenshot(phase)


driver = None
try:
    driver = WebDriver(WEBDRIVER_URL, os.environ.get("CHROMIUM", "/usr/bin/chromium"))
    round_of(driver, "without-cors", expect_allowed=False)
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [{
        "AllowedOrigins": [PAGE_ORIGIN],
        "AllowedMethods": ["GET", "PUT", "POST"],
        "AllowedHeaders": ["*"],
        "ExposeHeaders": ["ETag"],
        "MaxAgeSeconds": 60,
    }]})
    round_of(driver, "with-cors", expect_allowed=True)
    # Another origin than the rules name stays refused.
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [{"AllowedOrigins": ["https://elsewhere.example"], "AllowedMethods": ["GET", "PUT", "POST"]}]})
    round_of(driver, "other-origin", expect_allowed=False)
except Exception as e:  # noqa: BLE001 - any failure is the suite's, reported as one
    failed.append(f"driver: {e}")
    print(f"FAIL {SUITE}: the browser could not be driven: {e}", flush=True)
    if driver is not None:
        try:
            driver.screenshot("failure")
        except Exception as shot:  # noqa: BLE001
            print(f"{SUITE}: no screenshot of the failure: {shot}", flush=True)
finally:
    if driver is not None:
        driver.close()

print(f"{SUITE}: screenshots in {ARTIFACTS}")
print(f"{SUITE}: {passed} passed, {len(failed)} failed")
sys.exit(1 if failed else 0)
