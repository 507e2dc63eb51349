#!/usr/bin/env python3
"""The console suite: headless Chromium on the gateway's own web console.

Setup goes through the console's API as root (sign-in, then the admin API through the
session): a tenant, its admin, writer and reader, and a bucket. Then, in the browser:
sign in as the writer, create a folder, upload a 20 MiB file (multipart, progress bar),
download it in the page and compare digests, make a share link and fetch it anonymously,
show and verify its proof; a key named `<img src=x onerror=alert(1)>` lists as text; a
versioned key's two versions are listed newest first, the older downloaded with its own
content and deleted (confirmed); a versioned key deleted in the page is found under "Show
deleted keys", restored, and downloads with its content again; the keyboard alone (WebDriver
Actions: Tab, Shift+Tab, Enter, Space, Escape) signs out and in, follows the skip link,
opens a bucket and an object, reaches the upload control, opens a confirmation and
dismisses it with Escape (focus returned), closes the details with Escape, the focused
element and its focus indicator (a solid outline of 2 px or more, or a box-shadow) checked
at each step; the reader's upload is refused in the page with the
gateway's message; the admin's audit log is filtered by operation and exported as JSON and
CSV (read back from the browser's download directory); a topic the suite sets is listed
with the tenant's limits and quotas; the health page shows /ready's checks and charts of
at least two /metrics samples; root runs upload_expiry now and sees its last run change, and
sees usage over time charted from the usage history.
Screenshots of each
step go to $TOLLGATE_ARTIFACTS/console (default compat/artifacts/console).

Chromium is driven through chromedriver's W3C WebDriver HTTP API with urllib alone.
env: S3_ENDPOINT, AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (root), WEBDRIVER_URL, CHROMIUM,
CONSOLE_WORK (a scratch directory).
"""
import base64
import hashlib
import json
import os
import sys
import time
import urllib.error
import urllib.request

from console_api import CONSOLE, Checks, Session, http, setup

SUITE = "console"
ENDPOINT = os.environ.get("S3_ENDPOINT", "").rstrip("/")
WEBDRIVER_URL = os.environ.get("WEBDRIVER_URL")
WORK = os.environ.get("CONSOLE_WORK") or "/tmp"
if not (ENDPOINT and WEBDRIVER_URL and os.environ.get("AWS_ACCESS_KEY_ID")):
    sys.exit("S3_ENDPOINT, WEBDRIVER_URL and AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY must be set (compat/console.sh sets them)")
ROOT = (os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"])
ARTIFACTS = os.path.join(os.environ.get("TOLLGATE_ARTIFACTS") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "artifacts"), "console")
os.makedirs(ARTIFACTS, exist_ok=True)
XSS_KEY = "<img src=x onerror=alert(1)>"
# WebDriver's key codes of the keys the keyboard section presses.
KEYS = {"Tab": "\ue004", "Enter": "\ue007", "Space": "\ue00d", "Escape": "\ue00c", "Shift": "\ue008"}
# What has the focus, and whether the console's own indicator is drawn on it: a solid
# outline of 2 px or more, or a box-shadow (Chromium's default ring is an `auto` outline).
FOCUSED = """const a = document.activeElement;
if (!a || a === document.body) return null;
const s = getComputedStyle(a);
const r = a.getBoundingClientRect();
return {id: a.id, tag: a.tagName.toLowerCase(), cls: String(a.className || ''), key: a.dataset ? (a.dataset.key || null) : null,
  text: (a.textContent || '').trim().slice(0, 60), type: a.getAttribute('type'), inDialog: a.closest('dialog') !== null,
  focusVisible: a.matches(':focus-visible'), outline: s.outlineStyle + ' ' + s.outlineWidth, shadow: s.boxShadow,
  ring: (s.outlineStyle === 'solid' && parseFloat(s.outlineWidth) >= 2) || (s.boxShadow !== 'none' && s.boxShadow !== ''),
  onScreen: r.width > 0 && r.height > 0 && r.right > 0 && r.left < innerWidth};"""
DOWNLOADS = os.path.join(WORK, "downloads")
os.makedirs(DOWNLOADS, exist_ok=True)

checks = Checks(SUITE)
ok = checks.ok


class WebDriver:
    """A WebDriver session, spoken as JSON over HTTP with bounded timeouts."""

    def __init__(self, url, binary):
        self.url = url.rstrip("/")
        caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": binary,
            # --no-sandbox: CI runs as root, where Chromium's sandbox cannot start.
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1100,900"],
            "prefs": {"download.default_directory": DOWNLOADS, "download.prompt_for_download": False},
        }}}}
        self.session = self.call("POST", "/session", caps, timeout=60)["sessionId"]
        self.call("POST", f"/session/{self.session}/timeouts", {"script": 60000, "pageLoad": 20000})
        # Headless Chromium saves downloads only where it is told to.
        self.call("POST", f"/session/{self.session}/goog/cdp/execute",
                  {"cmd": "Browser.setDownloadBehavior", "params": {"behavior": "allow", "downloadPath": DOWNLOADS}})

    def call(self, method, path, body=None, timeout=90):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method, headers={"content-type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return json.loads(r.read())["value"]
        except urllib.error.HTTPError as e:
            raise RuntimeError(f"webdriver {method} {path}: {e.code} {e.read()[:500]!r}") from None

    def open(self, url):
        self.call("POST", f"/session/{self.session}/url", {"url": url})

    def js(self, script, *args):
        return self.call("POST", f"/session/{self.session}/execute/sync", {"script": script, "args": list(args)})

    def js_async(self, body, *args):
        """Runs `body` (an async function's body, its arguments as `args`) and returns what it returned."""
        script = ("const done = arguments[arguments.length - 1]; const args = Array.from(arguments).slice(0, -1);"
                  f" (async (args) => {{ {body} }})(args).then(done, e => done('script error: ' + e));")
        return self.call("POST", f"/session/{self.session}/execute/async", {"script": script, "args": list(args)})

    def element(self, css):
        el = self.call("POST", f"/session/{self.session}/element", {"using": "css selector", "value": css})
        return next(iter(el.values()))

    def click(self, css):
        self.call("POST", f"/session/{self.session}/element/{self.element(css)}/click", {})

    def type(self, css, text):
        eid = self.element(css)
        self.call("POST", f"/session/{self.session}/element/{eid}/clear", {})
        self.call("POST", f"/session/{self.session}/element/{eid}/value", {"text": text})

    def give_file(self, css, path):
        self.call("POST", f"/session/{self.session}/element/{self.element(css)}/value", {"text": path})

    def wait(self, script, what, timeout=60, *args):
        """Polls `script` (returning a truthy value when done) for up to `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            v = self.js(script, *args)
            if v:
                return v
            time.sleep(0.2)
        raise RuntimeError(f"timed out waiting for {what}")

    def text(self, css):
        return self.js("const e = document.querySelector(arguments[0]); return e ? e.textContent : null;", css)

    def keys(self, *actions):
        """Real key presses (WebDriver Actions): each action is ("down" | "up", key)."""
        self.call("POST", f"/session/{self.session}/actions", {"actions": [{"type": "key", "id": "keyboard", "actions": [
            {"type": "keyDown" if kind == "down" else "keyUp", "value": KEYS.get(k, k)} for kind, k in actions]}]})

    def press(self, key, shift=False):
        """One key pressed and released (Tab, Enter, Space, Escape or a character), Shift held if asked."""
        seq = [("down", key), ("up", key)]
        self.keys(*([("down", "Shift")] + seq + [("up", "Shift")] if shift else seq))

    def type_keys(self, text):
        """Types `text` into the focused element, one key press a character."""
        self.keys(*[a for ch in text for a in (("down", ch), ("up", ch))])

    def focused(self):
        """The focused element (document.activeElement) and whether its focus indicator shows."""
        return self.js(FOCUSED)

    def alert_open(self):
        try:
            self.call("GET", f"/session/{self.session}/alert/text")
            return True
        except RuntimeError:
            return False

    def screenshot(self, name):
        png = base64.b64decode(self.call("GET", f"/session/{self.session}/screenshot"))
        with open(os.path.join(ARTIFACTS, f"{name}.png"), "wb") as f:
            f.write(png)

    def close(self):
        try:
            self.call("DELETE", f"/session/{self.session}")
        except (RuntimeError, OSError) as e:
            print(f"{SUITE}: closing the browser: {e}", flush=True)


def sign_in(d, key, secret):
    d.open(CONSOLE)
    d.wait("return !document.getElementById('signin-view').hidden || !document.getElementById('app-view').hidden", "the console page")
    if d.js("return !document.getElementById('sign-out').hidden"):
        d.click("#sign-out")
        d.wait("return !document.getElementById('signin-view').hidden", "sign-out")
    d.type("#signin-key", key)
    d.type("#signin-secret", secret)
    d.click("#signin-submit")
    d.wait("return !document.getElementById('sign-out').hidden || !document.getElementById('error').hidden", "sign-in")


def goto(d, hash_, ready_css):
    d.js("location.hash = arguments[0];", hash_)
    d.wait("return document.querySelector(arguments[0]) !== null || !document.getElementById('error').hidden", ready_css, 60, ready_css)


def upload_status(d, key):
    return d.js("const r = [...document.querySelectorAll('.upload')].find(r => r.dataset.key === arguments[0]);"
                " return r ? {text: r.querySelector('.upload-status').textContent, cls: r.querySelector('.upload-status').className,"
                " value: r.querySelector('progress').value, max: r.querySelector('progress').max} : null;", key)


def downloaded(suffix, timeout=30):
    """The content of the newest finished download whose name ends with `suffix`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        present = os.listdir(DOWNLOADS)
        names = [n for n in present if n.endswith(suffix)]
        # Chromium reserves the final name with an empty file while it writes a .crdownload.
        if names and not any(n.endswith(".crdownload") for n in present):
            newest = max(names, key=lambda n: os.path.getmtime(os.path.join(DOWNLOADS, n)))
            with open(os.path.join(DOWNLOADS, newest), encoding="utf-8") as f:
                text = f.read()
            if text:
                return text
        time.sleep(0.2)
    return None


def fits_a_phone(d, name):
    """Whether the page, at 400 px wide, reflows rather than scrolling sideways (a screenshot as `name`)."""
    d.call("POST", f"/session/{d.session}/window/rect", {"width": 400, "height": 850})
    time.sleep(0.3)
    overflow = d.js("return [document.documentElement.scrollWidth, document.documentElement.clientWidth];")
    d.screenshot(name)
    d.call("POST", f"/session/{d.session}/window/rect", {"width": 1100, "height": 900})
    return overflow[0] <= overflow[1], overflow


def describe(f):
    if not f:
        return "nothing (the body)"
    return f"<{f['tag']}{' #' + f['id'] if f['id'] else ''}{' .' + f['cls'] if f['cls'] else ''}> {f['text']!r} (outline {f['outline']}, shadow {f['shadow']})"


class Keyboard:
    """The keyboard section's walk: every element Tab reaches is checked for a visible
    focus indicator; the ones without are kept to report."""

    def __init__(self, d):
        self.d = d
        self.unmarked = []

    def now(self):
        f = self.d.focused()
        if f and not (f["ring"] and f["focusVisible"] and f["onScreen"]):
            self.unmarked.append(describe(f))
        return f

    def press(self, key, shift=False):
        self.d.press(key, shift)
        return self.now()

    def tab_to(self, matches, what, limit=80, shift=False):
        """Presses Tab (or Shift+Tab) until the focused element `matches`; fails after `limit` presses."""
        seen = []
        for _ in range(limit):
            f = self.press("Tab", shift)
            if f and matches(f):
                return f
            seen.append(describe(f))
        raise RuntimeError(f"Tab did not reach {what} in {limit} presses; went through {seen[-12:]}")


def put_many(session, bucket, prefix, count):
    """Stores `count` one-byte objects `{prefix}k0000000`..., eight requests at a time."""
    from concurrent.futures import ThreadPoolExecutor

    def put(i):
        status, _, body = session.call("PUT", f"{bucket}/{prefix}k{i:07d}", b"x")
        if status != 200:
            raise RuntimeError(f"PUT {prefix}k{i:07d}: {status} {body[:200]!r}")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, range(count)))


def main(d):
    run, root, keys, admin, tenant, bucket = setup(ROOT, "cs", "tgc-console-")

    vbucket = f"tgc-console-v-{run}"
    versioning = b'<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Enabled</Status></VersioningConfiguration>'
    for method, path, body, h in (("PUT", vbucket, b"", None), ("PUT", vbucket + "?versioning", versioning, {"content-type": "application/xml"})):
        status, _, answer = admin.call(method, path, body, h)
        if status != 200:
            raise RuntimeError(f"{method} {path}: {status} {answer[:300]!r}")
    version_ids = []
    for content in (b"the first version\n", b"the second version, longer\n"):
        status, headers, answer = admin.call("PUT", f"{vbucket}/notes.txt", content)
        if status != 200:
            raise RuntimeError(f"PUT notes.txt: {status} {answer[:300]!r}")
        version_ids.append(headers.get("x-amz-version-id"))

    # The writer signs in.
    sign_in(d, *keys["writer"])
    d.screenshot("01-signed-in")
    who = d.text("#who") or ""
    ok("writer signs in", "wes (writer)" in who, who)
    ok("the secret is not kept in the page", d.js("return document.getElementById('signin-secret').value") == "")

    # A folder, then a 20 MiB file into it.
    goto(d, f"#/b/{bucket}/", "#object-table, #listing p")
    d.type("#new-folder", "docs")
    d.click("#create-folder button")
    d.wait("return location.hash.includes('docs')", "the new folder")
    goto(d, f"#/b/{bucket}/docs%2F", "#drop-zone")
    data = os.urandom(20 << 20)
    path = os.path.join(WORK, "big.bin")
    with open(path, "wb") as f:
        f.write(data)
    digest = hashlib.sha256(data).hexdigest()
    d.give_file("#file-input", path)
    key = "docs/big.bin"
    seen_progress = set()
    deadline = time.monotonic() + 120
    st = None
    while time.monotonic() < deadline:
        st = upload_status(d, key)
        if st:
            seen_progress.add(round(float(st["value"]) / float(st["max"]), 2))
            if "uploaded" in st["text"] or "bad" in st["cls"]:
                break
        time.sleep(0.05)
    d.screenshot("02-uploaded")
    ok("20 MiB upload completes with a progress bar", st is not None and "uploaded" in st["text"] and float(st["value"]) == float(st["max"]), str(st))
    print(f"{SUITE}: progress values seen: {sorted(seen_progress)}", flush=True)
    status, _, stored = admin.call("GET", f"{bucket}/{key}")
    ok("the stored object is the file", status == 200 and hashlib.sha256(stored).hexdigest() == digest)

    # Download in the page, compared by digest.
    got = d.js_async("const r = await fetch(document.querySelector('a.download').href); const b = await r.arrayBuffer();"
                     " const h = new Uint8Array(await crypto.subtle.digest('SHA-256', b));"
                     " return [r.status, [...h].map(x => x.toString(16).padStart(2, '0')).join('')];")
    ok("download in the browser matches", got == [200, digest], str(got))

    # Details, share link, proof.
    d.click("a.object-link")
    d.wait("return document.getElementById('object-details') !== null", "object details")
    ok("details show the size", "20971520 bytes" in (d.text("#object-facts") or ""))
    d.click("#share")
    d.wait("return document.getElementById('share-url') !== null || !document.getElementById('error').hidden", "share link")
    url = d.js("const e = document.getElementById('share-url'); return e ? e.value : null;")
    d.screenshot("03-share-link")
    if url:
        status, _, body = http("GET", url)
        ok("share link fetched anonymously", status == 200 and hashlib.sha256(body).hexdigest() == digest, f"{status} {body[:200]!r}")
    else:
        ok("share link made", False, d.text("#error") or "")
    d.click("#show-proof")
    d.wait("return document.getElementById('proof-panel') !== null || !document.getElementById('error').hidden", "proof")
    proof = d.text("#proof-panel") or ""
    ok("the proof shows the file's SHA-256", digest in proof, (d.text("#error") or proof)[:300])
    if digest in proof:
        d.click("#proof-panel .verify")
        d.wait("return document.getElementById('verify-result') !== null", "verification")
        result = d.text("#verify-result") or ""
        d.screenshot("04-proof-verified")
        ok("the proof verifies", "signature valid" in result and "chain intact" in result, result)

    # A key that is markup lists as text.
    wes = Session(*keys["writer"])
    status, _, _ = wes.call("PUT", bucket + "/" + urllib.request.quote(XSS_KEY, safe=""), b"x")
    goto(d, f"#/b/{bucket}/", "#object-table")
    links = d.js("return [...document.querySelectorAll('a.object-link')].map(a => a.textContent);")
    imgs = d.js("return document.querySelectorAll('#listing img').length;")
    d.screenshot("05-markup-key")
    ok("a key named as markup renders as text", status == 200 and XSS_KEY in links and imgs == 0 and not d.alert_open(), f"{status} {links} {imgs}")

    # Rename by copy: the markup key becomes renamed.txt.
    d.js("[...document.querySelectorAll('a.object-link')].find(a => a.textContent === arguments[0]).click();", XSS_KEY)
    d.wait("return document.getElementById('rename-to') !== null", "the details of the markup key")
    ok("the details show the markup key as text", d.text("#detail-key") == XSS_KEY and d.js("return document.querySelectorAll('#object-details img').length;") == 0)
    d.type("#rename-to", "renamed.txt")
    d.click("#rename button")
    d.wait("return (document.getElementById('notice').textContent || '').startsWith('Renamed') || !document.getElementById('error').hidden", "the rename")
    old_status = wes.call("HEAD", bucket + "/" + urllib.request.quote(XSS_KEY, safe=""))[0]
    new_status, _, new_body = wes.call("GET", bucket + "/renamed.txt")
    ok("rename by copy moves the object", (old_status, new_status, new_body) == (404, 200, b"x"), f"{old_status} {new_status} {new_body[:200]!r} {d.text('#error')}")

    # A versioned bucket: the key's two versions, newest first, the older one downloaded and deleted.
    goto(d, f"#/b/{vbucket}/", "#object-table")
    d.click("a.object-link")
    d.wait("return document.getElementById('version-table') !== null || document.getElementById('versions') !== null"
           " || !document.getElementById('error').hidden", "the versions")
    listed = d.js("return [...document.querySelectorAll('#version-table tbody tr')].map(r => [...r.cells].slice(0, 3).map(c => c.textContent));") or []
    d.screenshot("06-versions")
    ok("a versioned object lists its versions newest first, the latest marked",
       listed == [[version_ids[1], "latest", "version"], [version_ids[0], "", "version"]], f"{listed} {version_ids} {d.text('#versions')} {d.text('#error')}")
    fits, overflow = fits_a_phone(d, "06-versions-phone")
    ok("the versions fit a phone's width", fits, str(overflow))
    got = d.js_async("const r = await fetch(document.querySelectorAll('#version-table a.version-download')[1].href); return [r.status, await r.text()];")
    ok("the older version downloads with its own content", got == [200, "the first version\n"], str(got))
    d.js("document.querySelectorAll('#version-table button.version-delete')[1].click();")
    d.wait("return document.getElementById('confirm-dialog').open", "the confirmation")
    d.click("#confirm-ok")
    d.wait("return (document.getElementById('notice').textContent || '').startsWith('Deleted the version') || !document.getElementById('error').hidden", "the version's deletion")
    d.wait("return document.querySelectorAll('#version-table tbody tr').length === 1 || !document.getElementById('error').hidden", "the versions read again")
    status, _, body = wes.call("GET", f"{vbucket}/notes.txt?versionId={version_ids[0]}")
    status_latest, _, latest = wes.call("GET", f"{vbucket}/notes.txt")
    ok("a version is deleted after confirmation, the latest stays", status == 404 and (status_latest, latest) == (200, b"the second version, longer\n"),
       f"{status} {status_latest} {d.text('#error')}")

    # A deleted key of a versioned bucket: deleted in the page (confirmed), gone from the
    # listing, found under "Show deleted keys", restored, and downloaded with its content again.
    for method, path in (("PUT", f"{vbucket}/old/gone.txt"), ("DELETE", f"{vbucket}/old/gone.txt")):
        status, _, answer = admin.call(method, path, b"gone\n" if method == "PUT" else b"")
        if status not in (200, 204):
            raise RuntimeError(f"{method} {path}: {status} {answer[:300]!r}")
    # (through the bucket list: the same address again would show nothing new)
    goto(d, "#/buckets", "#bucket-table")
    goto(d, f"#/b/{vbucket}/", "#object-table")
    d.js("[...document.querySelectorAll('a.object-link')].find(a => a.dataset.key === 'notes.txt').click();")
    d.wait("return document.getElementById('delete-object') !== null || !document.getElementById('error').hidden", "the details of notes.txt")
    d.click("#delete-object")
    d.wait("return document.getElementById('confirm-dialog').open", "the confirmation")
    d.click("#confirm-ok")
    d.wait("return document.getElementById('restore-object') !== null || !document.getElementById('error').hidden", "the deleted key's details")
    listed = d.js("return [...document.querySelectorAll('a.object-link')].map(a => a.dataset.key);") or []
    status, _, _ = wes.call("GET", f"{vbucket}/notes.txt")
    ok("a versioned key deleted in the page is gone from the listing, its details offer Restore",
       status == 404 and "notes.txt" not in listed and d.js("return document.querySelector('#object-details[data-deleted]') !== null"),
       f"{status} {listed} {d.text('#error')}")
    goto(d, "#/buckets", "#bucket-table")
    goto(d, f"#/b/{vbucket}/", "#object-table, #listing p")
    d.wait("const t = document.getElementById('show-deleted'); return t && t.offsetParent !== null", "the deleted keys' toggle")
    d.click("#show-deleted")
    d.wait("return document.getElementById('deleted-table') !== null || !document.getElementById('error').hidden", "the deleted keys")
    deleted = d.js("return [...document.querySelectorAll('#deleted-table a.deleted-link')].map(a => a.dataset.key);") or []
    folders = d.js("return [...document.querySelectorAll('#deleted-table a.folder')].map(a => a.textContent);") or []
    d.screenshot("07-deleted-keys")
    ok("the deleted keys of a versioned bucket are listed (folders too)", deleted == ["notes.txt"] and folders == ["old/"], f"{deleted} {folders} {d.text('#error')}")
    d.js("document.querySelector('#deleted-table a.folder').click();")
    d.wait("return [...document.querySelectorAll('#deleted-table a.deleted-link')].some(a => a.dataset.key === 'old/gone.txt') || !document.getElementById('error').hidden",
           "the deleted keys of old/")
    ok("the deleted keys' view stays on in a folder", d.js("return document.getElementById('show-deleted').checked"), d.text("#error") or "")
    goto(d, f"#/b/{vbucket}/", "#deleted-table")
    d.js("[...document.querySelectorAll('a.deleted-link')].find(a => a.dataset.key === 'notes.txt').click();")
    d.wait("return document.getElementById('restore-object') !== null || !document.getElementById('error').hidden", "the Restore button")
    first = d.js("const r = document.querySelector('#version-table tbody tr'); return r ? [...r.cells].slice(1, 3).map(c => c.textContent) : null;")
    d.screenshot("07-deleted-key-details")
    ok("a deleted key's details show its delete marker as the latest entry", first == ["latest", "delete marker"], f"{first} {d.text('#error')}")
    d.click("#restore-object")
    d.wait("return (document.getElementById('notice').textContent || '').startsWith('Restored') || !document.getElementById('error').hidden", "the restore")
    d.wait("return document.getElementById('detail-download') !== null || !document.getElementById('error').hidden", "the restored object's details")
    got = d.js_async("const r = await fetch(document.getElementById('detail-download').href); return [r.status, await r.text()];")
    d.wait("return ![...document.querySelectorAll('a.deleted-link')].some(a => a.dataset.key === 'notes.txt')", "notes.txt gone from the deleted keys", 30)
    status, _, body = wes.call("GET", f"{vbucket}/notes.txt")
    d.screenshot("07-restored")
    ok("Restore makes the previous version current: it downloads with its content again",
       got == [200, "the second version, longer\n"] and (status, body) == (200, b"the second version, longer\n"), f"{got} {status} {d.text('#error')}")
    d.click("#show-deleted")
    d.wait("return [...document.querySelectorAll('a.object-link')].some(a => a.dataset.key === 'notes.txt')", "notes.txt listed again", 30)
    ok("the restored key is listed among the objects again", True)

    # The keyboard alone: every step by real key presses (Tab, Shift+Tab, Enter, Space,
    # Escape), the focused element and its focus indicator checked at each one.
    # (A key that leaves the page is pressed with d.press: what has the focus is checked once
    # the next page is shown, not while the old one is being hidden.)
    kb = Keyboard(d)
    d.open(CONSOLE)
    d.wait("return !document.getElementById('app-view').hidden && document.querySelector('#app-view h1') !== null", "the console page")
    d.wait("return document.activeElement && document.activeElement.tagName === 'H1'", "the focus on the page's heading", 10)
    f = kb.press("Tab", shift=True)
    ok("keyboard: Shift+Tab from the page's heading reaches Sign out", f and f["id"] == "sign-out", describe(f))
    d.press("Enter")
    d.wait("return !document.getElementById('signin-view').hidden", "the sign-out by Enter")
    d.wait("return document.activeElement && document.activeElement.id === 'signin-key'", "the focus on the access key", 10)
    f = kb.now()
    ok("keyboard: signed out with Enter, the focus on the access key field", f and f["id"] == "signin-key", describe(f))
    f = kb.press("Tab", shift=True)
    ok("keyboard: a skip link comes first and shows when focused", f and f["id"] == "skip-link" and f["onScreen"], describe(f))
    f = kb.press("Enter")
    ok("keyboard: the skip link moves the focus to the content's heading", f and f["tag"] == "h1" and f["text"] == "Sign in", describe(f))
    f = kb.press("Tab")
    ok("keyboard: Tab goes on to the access key", f and f["id"] == "signin-key", describe(f))
    d.type_keys(keys["writer"][0])
    f = kb.press("Tab")
    ok("keyboard: Tab reaches the secret", f and f["id"] == "signin-secret", describe(f))
    d.type_keys(keys["writer"][1])
    f = kb.press("Tab")
    ok("keyboard: Tab reaches Sign in", f and f["id"] == "signin-submit", describe(f))
    f = kb.press("Tab", shift=True)
    ok("keyboard: Shift+Tab goes back to the secret", f and f["id"] == "signin-secret", describe(f))
    kb.press("Tab")
    d.press("Space")
    d.wait("return !document.getElementById('sign-out').hidden || !document.getElementById('error').hidden", "the sign-in by Space")
    d.wait("return document.querySelector('#bucket-table') !== null || !document.getElementById('error').hidden", "the buckets")
    f = kb.now()
    ok("keyboard: signed in with Space, the focus on the Buckets heading", f and f["tag"] == "h1" and f["text"] == "Buckets" and "wes (writer)" in (d.text("#who") or ""),
       f"{describe(f)} {d.text('#error')}")
    f = kb.tab_to(lambda f: "bucket-link" in f["cls"] and f["text"] == bucket, f"the link of bucket {bucket}")
    ok("keyboard: Tab reaches the bucket's link", True)
    d.press("Enter")
    d.wait("return document.querySelector('#object-table') !== null || !document.getElementById('error').hidden", "the bucket opened by Enter")
    f = kb.now()
    ok("keyboard: Enter opens the bucket, the focus on the Objects heading", f and f["tag"] == "h1" and f["text"] == "Objects", describe(f))
    f = kb.tab_to(lambda f: f["id"] == "file-input", "the upload control")
    d.screenshot("13-keyboard-upload-focus")
    ok("keyboard: Tab reaches the upload control (the file input)", f["type"] == "file", describe(f))
    f = kb.tab_to(lambda f: "object-link" in f["cls"] and f["key"] == "renamed.txt", "the link of renamed.txt")
    d.screenshot("13-keyboard-focus")
    ok("keyboard: Tab reaches an object's link in the list", True)
    d.press("Enter")
    d.wait("return document.getElementById('object-details') !== null || !document.getElementById('error').hidden", "the details opened by Enter")
    d.wait("return document.activeElement && document.activeElement.closest('#object-details') !== null", "the focus in the details", 10)
    f = kb.now()
    ok("keyboard: Enter opens the object's details, the focus on their heading",
       f and f["tag"] == "h2" and d.text("#detail-key") == "renamed.txt", f"{describe(f)} {d.text('#error')}")
    f = kb.tab_to(lambda f: f["id"] == "show-proof", "the Provenance button")
    d.press("Space")
    d.wait("return document.getElementById('proof').childElementCount > 0 || !document.getElementById('error').hidden", "the provenance opened by Space")
    ok("keyboard: Space presses a button (Provenance shown)", d.js("return document.getElementById('proof').childElementCount > 0"), d.text("#error") or "")
    f = kb.press("Tab")
    ok("keyboard: Tab reaches Delete object", f and f["id"] == "delete-object", describe(f))
    d.press("Enter")
    d.wait("return document.getElementById('confirm-dialog').open", "the confirmation opened by Enter")
    f = kb.now()
    d.screenshot("14-keyboard-confirm")
    ok("keyboard: the confirmation opens with the focus on Cancel", f and f["id"] == "confirm-cancel" and f["inDialog"], describe(f))
    f = kb.press("Tab")
    ok("keyboard: Tab moves within the confirmation", f and f["id"] == "confirm-ok" and f["inDialog"], describe(f))
    f = kb.press("Escape")
    status, _, _ = wes.call("HEAD", f"{bucket}/renamed.txt")
    ok("keyboard: Escape dismisses the confirmation, nothing deleted, the focus back on Delete object",
       not d.js("return document.getElementById('confirm-dialog').open") and status == 200 and f and f["id"] == "delete-object", f"{status} {describe(f)}")
    f = kb.press("Tab", shift=True)
    ok("keyboard: Shift+Tab goes back to Provenance", f and f["id"] == "show-proof", describe(f))
    f = kb.press("Escape")
    ok("keyboard: Escape closes the details, the focus back on the object's link",
       d.js("return document.getElementById('object-details') === null") and f and f["key"] == "renamed.txt", describe(f))
    ok("keyboard: every element reached shows a focus indicator", not kb.unmarked, "; ".join(kb.unmarked[:8]))

    # A large folder: pages of 1000, the first one timed in the page (fetch, parse, render).
    many = int(os.environ.get("CONSOLE_LIST_KEYS", "2500"))
    started = time.monotonic()
    put_many(wes, bucket, "many/", many)
    print(f"{SUITE}: {many} keys stored in {time.monotonic() - started:.1f}s", flush=True)

    def listing_ms():
        """The page's listing asked outside the browser: (status, what the gateway and its upstream take)."""
        started = time.monotonic()
        status, _, _ = wes.call("GET", f"{bucket}?list-type=2&max-keys=1000&prefix=many%2F&delimiter=%2F")
        return status, int((time.monotonic() - started) * 1000)

    upstream = bool(os.environ.get("COMPAT_UPSTREAM"))
    # Through an upstream, the listing is asked directly before and after the page, and the
    # slower one counts: moto's times for the same listing vary by a second under load.
    before = listing_ms() if upstream else None
    goto(d, f"#/b/{bucket}/many%2F", "#object-table")
    rows = d.js("return document.querySelectorAll('#object-table tbody tr').length;")
    render_ms = int(d.js("return document.getElementById('objects-view').dataset.renderMs;") or 0)
    fetch_ms = int(d.js("return document.getElementById('objects-view').dataset.fetchMs;") or 0)
    print(f"{SUITE}: first page of {many} keys shown in {render_ms} ms (its listing {fetch_ms} ms)", flush=True)
    d.screenshot("06-large-folder")
    if upstream:
        after = listing_ms()
        direct_ms = max(before[1], after[1])
        print(f"{SUITE}: the same listing asked directly before and after the page: {before[1]} ms, {after[1]} ms", flush=True)
        # The upstream's listing is the upstream's (moto's takes seconds on a loaded machine):
        # the page's own work is bounded, and its listing against the same one asked directly.
        ok("a large folder shows its first 1000 keys, the page's own work within 300 ms",
           rows == 1000 and render_ms - fetch_ms < 300, f"{rows} rows, {render_ms - fetch_ms} ms")
        ok("the page's listing takes what the listing takes (at most twice, plus 200 ms)",
           before[0] == after[0] == 200 and fetch_ms < 2 * direct_ms + 200, f"{before[0]}/{after[0]}: {fetch_ms} ms in the page, {direct_ms} ms directly")
    else:
        ok("a large folder shows its first 1000 keys within 300 ms", rows == 1000 and render_ms < 300, f"{rows} rows, {render_ms} ms")
    # A phone's width: the page reflows rather than scrolling sideways.
    fits, overflow = fits_a_phone(d, "06-phone-width")
    ok("at a phone's width nothing scrolls sideways", fits, str(overflow))
    d.click("#next-page")
    d.wait("return (document.querySelector('#pager span') || {}).textContent?.startsWith('Page 2')", "page 2")
    first = d.js("return document.querySelector('a.object-link').textContent;")
    ok("the next page continues the listing", first == "k%07d" % 1000, str(first))
    d.js("document.getElementById('next-page').focus();")
    d.press("Enter")
    d.wait("return (document.querySelector('#pager span') || {}).textContent?.startsWith('Page 3')", "page 3 by Enter")
    f = d.focused()
    ok("keyboard: a page turned with Enter keeps the focus in the pager", f and f["tag"] == "button" and d.js("return document.getElementById('pager').contains(document.activeElement)"),
       describe(f))

    # The reader: the upload is refused with the gateway's words.
    sign_in(d, *keys["reader"])
    goto(d, f"#/b/{bucket}/", "#drop-zone")
    small = os.path.join(WORK, "reader.txt")
    with open(small, "w") as f:
        f.write("a reader's attempt\n")
    d.give_file("#file-input", small)
    d.wait("const r = document.querySelector('.upload .upload-status'); return r && r.className.includes('bad');", "the refusal")
    refusal = d.text(".upload .upload-status") or ""
    err = d.text("#error") or ""
    d.screenshot("07-reader-refused")
    ok("reader sees the upload refused in the gateway's words", "AccessDenied" in refusal and "AccessDenied" in err, f"{refusal} / {err}")
    status, _, _ = admin.call("HEAD", f"{bucket}/reader.txt")
    ok("nothing was stored", status == 404, str(status))

    # The tenant's admin: a user and its key (the secret shown once), a bucket quota, and
    # the audit entries of both.
    sign_in(d, *keys["admin"])
    ok("an admin sees the administration pages", d.js("return !document.getElementById('nav-admin').hidden"))
    goto(d, "#/admin/users", "#create-user")
    d.type("#create-user input[name=name]", "newbie")
    d.click("#create-user button")
    d.wait("return !document.getElementById('notice').hidden || !document.getElementById('error').hidden", "the new user")
    goto(d, "#/admin/keys", "#create-key")
    d.type("#create-key input[name=user]", "newbie")
    d.click("#create-key button")
    d.wait("return document.getElementById('new-secret-key') !== null || !document.getElementById('error').hidden", "the new key")
    new_key = (d.text("#new-access-key") or "", d.text("#new-secret-key") or "")
    d.screenshot("08-admin-new-key")
    ok("a new key's secret is shown once and works", len(new_key[1]) >= 20 and Session(*new_key).csrf != "", str(new_key[0]))
    goto(d, "#/admin/quotas", "#bucket-quota")
    d.type("#bucket-quota input[name=bucket]", bucket)
    d.type("#bucket-quota input[name=max_objects]", "1000")
    d.click("#bucket-quota button")
    d.wait("return (document.getElementById('notice').textContent || '').includes('Quota') || !document.getElementById('error').hidden", "the quota")
    ok("the admin sets a bucket quota", "Quota of bucket" in (d.text("#notice") or ""), d.text("#error") or "")
    goto(d, "#/admin/buckets", "#admin-bucket-table")
    d.js("[...document.querySelectorAll('#admin-bucket-table tbody tr')].find(r => r.firstChild.textContent === arguments[0]).querySelector('button.visibility').click();", bucket)
    d.wait("return document.getElementById('confirm-dialog').open", "the confirmation")
    d.click("#confirm-ok")
    d.wait("return (document.getElementById('notice').textContent || '').includes('public-read') || !document.getElementById('error').hidden", "the visibility change")
    status, _, _ = http("GET", f"{ENDPOINT}/{bucket}/renamed.txt")
    ok("an admin makes the bucket public-read (anonymous GET)", status == 200, f"{status} {d.text('#error')}")
    goto(d, "#/admin/audit", "#audit-table")
    # The admin's own entries (a large log answers its oldest first: the filter finds these).
    d.type("#audit-filter input[name=principal]", keys["admin"][0])
    d.click("#audit-filter button")
    d.wait("return [...document.querySelectorAll('#audit-table tbody tr td:nth-child(3)')].length > 0 &&"
           " [...document.querySelectorAll('#audit-table tbody tr td:nth-child(4)')].every(td => td.textContent.includes(arguments[0]))",
           "the filtered audit log", 30, keys["admin"][0])
    ops = d.js("return [...document.querySelectorAll('#audit-table tbody tr td:nth-child(2)')].map(td => td.textContent);") or []
    d.screenshot("09-admin-audit")
    ok("the audit log shows the admin's changes", {"AdminCreateKey", "AdminSetBucketQuota", "AdminSetBucket"} <= set(ops), str(ops[:10]))
    # By operation, then exported as the browser makes the files (JSON and CSV).
    d.type("#audit-filter input[name=operation]", "AdminSetBucketQuota")
    d.click("#audit-filter button")
    d.wait("const ops = [...document.querySelectorAll('#audit-table tbody tr td:nth-child(2)')].map(td => td.textContent);"
           " return ops.length > 0 && ops.every(o => o === 'AdminSetBucketQuota');", "the audit log filtered by operation", 30)
    ok("the audit log filters by operation", True)
    fits, overflow = fits_a_phone(d, "09-audit-phone")
    ok("the audit page fits a phone's width", fits, str(overflow))
    d.click("#audit-export-json")
    exported = downloaded(".json")
    try:
        entries = json.loads(exported or "[]")
    except ValueError:
        entries = []
    ok("the JSON export holds the filtered entries", bool(entries) and all(e["operation"] == "AdminSetBucketQuota" for e in entries)
       and any(e["principal"] == keys["admin"][0] and bucket in (e["bucket"], e["key"]) for e in entries),
       (exported or "no file")[:300])
    d.click("#audit-export-csv")
    csv_text = downloaded(".csv") or ""
    ok("the CSV export holds them too", csv_text.startswith('time,time_ns,operation') and '"AdminSetBucketQuota"' in csv_text and keys["admin"][0] in csv_text,
       csv_text[:300])
    # A time range that starts after every entry: nothing matches.
    d.js("document.querySelector('#audit-filter input[name=since]').value = '2099-01-01T00:00';")
    d.click("#audit-filter button")
    d.wait("return (document.querySelector('#audit-out p') || {}).textContent?.startsWith('0 matching') || !document.getElementById('error').hidden", "the audit log from 2099")
    ok("the audit log filters by time range", d.js("return document.querySelectorAll('#audit-table tbody tr').length") == 0, d.text("#error") or "")

    # Topics and limits (read-only): a topic set up here is listed, with the tenant's limits and quotas.
    admin.admin("PUT", f"topics/{bucket}/inbox", {"write": "append-open", "read": "auth"})
    goto(d, "#/admin/topics", "#topic-table")
    listed = d.js("return [...document.querySelectorAll('#topic-table tbody tr')].map(r => [...r.cells].slice(0, 2).map(c => c.textContent));") or []
    limit_rows = d.js("return document.querySelectorAll('#limits-table tbody tr').length;")
    quotas = d.text("#bucket-quota-table") or ""
    d.screenshot("10-topics-limits")
    ok("the topics page lists the suite's topic, the tenant's rate limits and quotas", [bucket, "inbox/"] in listed and limit_rows == 4 and "1000 objects" in quotas,
       f"{listed} {limit_rows} {quotas[:200]} {d.text('#error')}")
    fits, overflow = fits_a_phone(d, "10-topics-phone")
    ok("the topics page fits a phone's width", fits, str(overflow))

    # Health: /ready's checks in words, and charts of samples from /metrics.
    ok("a tenant admin has no Jobs page", d.js("return document.getElementById('admin-jobs') === null"))
    goto(d, "#/admin/health", "#ready-checks p")
    d.wait("const s = document.querySelector('#rate-chart svg'); return (s && Number(s.dataset.samples) >= 2) || !document.getElementById('error').hidden",
           "two samples of /metrics", 30)
    ready = d.text("#ready-checks") or ""
    samples = d.js("return [...document.querySelectorAll('#health svg.chart')].map(s => [Number(s.dataset.samples), s.querySelector('polyline').getAttribute('points').split(' ').length]);")
    d.screenshot("11-health")
    ok("the health page shows the ready checks in words", "Ready: the gateway can serve." in ready and "Metadata store takes a durable write: yes" in ready, ready)
    ok("the health page draws rate and latency from at least two samples", len(samples) == 2 and all(n >= 2 and p == n for n, p in samples),
       f"{samples} {d.text('#error')}")
    fits, overflow = fits_a_phone(d, "11-health-phone")
    ok("the health page fits a phone's width", fits, str(overflow))

    # Root: the jobs, one run now.
    sign_in(d, *ROOT)
    goto(d, "#/admin/jobs", "#job-table")
    row = ("const r = [...document.querySelectorAll('#job-table tbody tr')].find(r => r.cells[0].textContent === arguments[0]);"
           " return r ? [...r.cells].map(c => c.textContent) : null;")
    before = d.js(row, "upload_expiry")
    d.js("[...document.querySelectorAll('#job-table tbody tr')].find(r => r.cells[0].textContent === arguments[0]).querySelector('button.run-job').click();", "upload_expiry")
    d.wait("return (document.getElementById('notice').textContent || '').startsWith('Job upload_expiry ran') || !document.getElementById('error').hidden", "the job's run")
    d.wait("const r = [...document.querySelectorAll('#job-table tbody tr')].find(r => r.cells[0].textContent === arguments[0]);"
           " return r && r.cells[2].textContent !== arguments[1];", "the job's last run shown", 30, "upload_expiry", before[2] if before else "")
    after = d.js(row, "upload_expiry")
    d.screenshot("12-jobs")
    ok("root runs a job now and sees its last run and result", before is not None and after[2] != before[2] and after[3].startswith("ok"), f"{before} {after} {d.text('#error')}")
    fits, overflow = fits_a_phone(d, "12-jobs-phone")
    ok("the jobs page fits a phone's width", fits, str(overflow))
    goto(d, "#/admin/topics", "#limits-table")
    ok("root sees its own tenant's topics and limits", d.js("return document.querySelectorAll('#limits-table tbody tr').length") == 4, d.text("#error") or "")

    # Root: usage over time, charted from the usage_history job's samples, per tenant and bucket.
    for _ in range(2):
        root.admin("POST", "jobs/usage_history/run")
    goto(d, "#/admin/quotas", "#usage-history .charts")
    samples = d.js("const c = document.querySelector('#usage-history svg.chart'); return c ? Number(c.dataset.samples) : 0;")
    figures = d.js("return document.querySelectorAll('#usage-history figure.chart-box').length")
    d.screenshot("15-usage-history")
    ok("root sees each tenant's and bucket's bytes charted over the usage history", samples >= 2 and figures >= 2, f"{samples} samples, {figures} charts {d.text('#error')}")


checks.run(lambda: WebDriver(WEBDRIVER_URL, os.environ.get("CHROMIUM") or "chromium"), main, ARTIFACTS)
