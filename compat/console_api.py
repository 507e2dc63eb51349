"""The console's HTTP API as the console suites use it for their setup (compat/console_suite.py
in Chromium, compat/console_firefox.py in Firefox): a session opened outside the browser,
and a tenant with one key per role.

env: S3_ENDPOINT (the gateway, e.g. http://127.0.0.1:9000).
"""
import json
import os
import sys
import uuid
import urllib.error
import urllib.request

ENDPOINT = os.environ.get("S3_ENDPOINT", "").rstrip("/")
CONSOLE = ENDPOINT + "/_tollgate/console/"


def http(method, url, body=None, headers=None, timeout=60):
    """(status, headers, body) of one request; errors are answers too."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


class Session:
    """A console session opened outside the browser, for setup."""

    def __init__(self, access_key, secret_key):
        status, headers, body = http("POST", CONSOLE + "session", json.dumps({"access_key": access_key, "secret_key": secret_key}).encode(),
                                     {"content-type": "application/json"})
        if status != 200:
            raise RuntimeError(f"sign-in as {access_key}: {status} {body[:300]!r}")
        self.cookie = headers.get("set-cookie").split(";")[0]
        self.csrf = json.loads(body)["csrf"]

    def call(self, method, path, body=b"", headers=None):
        # urllib would type a body application/x-www-form-urlencoded, which moto (an
        # upstream of the compat runs) reads as a form, storing nothing.
        h = {"cookie": self.cookie, "x-tollgate-csrf": self.csrf, "content-type": "application/octet-stream", **(headers or {})}
        return http(method, CONSOLE + "api/" + path, body if method not in ("GET", "HEAD") else None, h)

    def admin(self, method, path, doc=None):
        status, _, body = self.call(method, "_tollgate/admin/" + path, json.dumps(doc).encode() if doc is not None else b"", {"content-type": "application/json"})
        if status != 200:
            raise RuntimeError(f"admin {method} {path}: {status} {body[:300]!r}")
        return json.loads(body)


def new_tenant(root, tenant, users=(("ada", "admin"), ("wes", "writer"), ("rae", "reader"))):
    """Creates `tenant` through root's session, a user of each (name, role) and a key each:
    {role: (access_key, secret_key)}."""
    root.admin("POST", "tenants", {"name": tenant})
    keys = {}
    for user, role in users:
        root.admin("POST", "users", {"tenant": tenant, "name": user, "role": role})
        k = root.admin("POST", "keys", {"tenant": tenant, "user": user})
        keys[role] = (k["access_key"], k["secret_key"])
    return keys



def setup(root_keys, tenant_prefix, bucket_prefix):
    """A run's tenant (new_tenant, through root's session) and a bucket of its admin's:
    (run id, root session, keys by role, admin session, tenant, bucket)."""
    run = uuid.uuid4().hex[:8]
    tenant, bucket = f"{tenant_prefix}{run}", f"{bucket_prefix}{run}"
    root = Session(*root_keys)
    keys = new_tenant(root, tenant)
    admin = Session(*keys["admin"])
    status, _, body = admin.call("PUT", bucket)
    if status != 200:
        raise RuntimeError(f"create bucket: {status} {body[:300]!r}")
    return run, root, keys, admin, tenant, bucket

class Checks:
    """A suite's PASS/FAIL lines and its summary."""

    def __init__(self, suite):
        self.suite, self.passed, self.failed = suite, 0, []

    def ok(self, name, cond, detail=""):
        if cond:
            self.passed += 1
            print(f"PASS {self.suite}: {name}", flush=True)
        else:
            self.failed.append(name)
            print(f"FAIL {self.suite}: {name} {detail}", flush=True)

    def run(self, start_driver, main, artifacts, before_close=None):
        """Runs `main` with the browser `start_driver` opens (a failure is the suite's, with a
        screenshot), lets `before_close` check the page last, prints the summary and exits."""
        driver = None
        try:
            driver = start_driver()
            main(driver)
        except Exception as e:  # noqa: BLE001 - any failure is reported as the suite's
            self.failed.append(f"driver: {e}")
            print(f"FAIL {self.suite}: {e}", flush=True)
            if driver:
                try:
                    driver.screenshot("failure")
                except Exception as shot:  # noqa: BLE001
                    print(f"{self.suite}: no screenshot of the failure: {shot}", flush=True)
        finally:
            if driver:
                if before_close:
                    before_close(driver)
                driver.close()
        print(f"{self.suite}: screenshots in {artifacts}")
        print(f"{self.suite}: {self.passed} passed, {len(self.failed)} failed")
        sys.exit(1 if self.failed else 0)
