#!/usr/bin/env python3
"""The console in Firefox: headless Firefox (Debian's firefox-esr) on the gateway's web console.

Setup goes through the console's API as root, as compat/console_suite.py does (a tenant, its
admin, writer and reader, a bucket). Then, in Firefox: sign in as the writer and see the
bucket listed, open it, create a folder, upload a small file through the file picker (its
progress bar finishing, the file listed and stored as sent), download it in the page and
compare digests, open its details and verify its proof, sign out (the session ends); sign in
as the reader and see an upload refused with the gateway's message. Any JavaScript error,
Content-Security-Policy violation or unexpected error the console logs during the run fails
the suite (the checks are first shown to see a planted error and violation). Screenshots of
each step go to $TOLLGATE_ARTIFACTS/console-firefox (default compat/artifacts/console-firefox).

No geckodriver: Firefox is driven through its own WebDriver BiDi remote agent
(--remote-debugging-port), over a WebSocket spoken with the standard library alone.
env: S3_ENDPOINT, AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (root), FIREFOX_BIDI_URL
(ws://127.0.0.1:PORT/session), FIREFOX_PID (to notice an exit while waiting for it),
CONSOLE_WORK (a scratch directory), CONSOLE_FIREFOX_BUDGET (seconds for the whole run, 300).
"""
import base64
import hashlib
import json
import os
import socket
import struct
import sys
import time
import urllib.parse
import uuid

from console_api import CONSOLE, ENDPOINT, Checks, setup

SUITE = "console-firefox"
BIDI_URL = os.environ.get("FIREFOX_BIDI_URL")
FIREFOX_PID = int(os.environ.get("FIREFOX_PID") or 0)
WORK = os.environ.get("CONSOLE_WORK") or "/tmp"
if not (ENDPOINT and BIDI_URL and os.environ.get("AWS_ACCESS_KEY_ID")):
    sys.exit("S3_ENDPOINT, FIREFOX_BIDI_URL and AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY must be set (compat/console.sh sets them)")
ROOT = (os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"])
ARTIFACTS = os.path.join(os.environ.get("TOLLGATE_ARTIFACTS") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "artifacts"), "console-firefox")
os.makedirs(ARTIFACTS, exist_ok=True)
# Every wait below is bounded on its own, and the whole run by this.
DEADLINE = time.monotonic() + float(os.environ.get("CONSOLE_FIREFOX_BUDGET") or 300)
CSP_MARK = "tollgate-suite: CSP violation"

checks = Checks(SUITE)
ok = checks.ok


def bounded(timeout):
    """`timeout`, cut to what is left of the run's budget."""
    left = DEADLINE - time.monotonic()
    if left <= 0:
        raise TimeoutError("the run's time budget (CONSOLE_FIREFOX_BUDGET) is spent")
    return min(timeout, left)


def alive(pid):
    """Whether process `pid` runs (a zombie does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


class WebSocketClosed(ConnectionError):
    pass


class WebSocket:
    """A minimal RFC 6455 client: masked text messages out; whole messages in (fragments
    joined, 16- and 64-bit lengths, pings answered)."""

    GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    def __init__(self, url, timeout=30):
        u = urllib.parse.urlsplit(url)
        if u.scheme != "ws" or not u.hostname:
            raise ValueError(f"a ws:// URL is needed, not {url}")
        host, port = u.hostname, u.port or 80
        deadline = time.monotonic() + timeout
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""
        self.parts = None  # the fragments of a message not yet whole
        try:
            key = base64.b64encode(os.urandom(16)).decode()
            # No Origin header: Firefox's remote agent refuses origins it was not told to allow.
            self.sock.sendall((f"GET {u.path or '/'} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
            while b"\r\n\r\n" not in self.buf:
                if len(self.buf) > 65536:
                    raise ConnectionError("websocket handshake: no end of the answer's headers")
                self.buf += self._recv_some(deadline)
            head, self.buf = self.buf.split(b"\r\n\r\n", 1)
            lines = head.decode("latin-1").split("\r\n")
            status = lines[0].split()
            if len(status) < 2 or status[1] != "101":
                raise ConnectionError(f"websocket handshake with {url} refused: {lines[0]}")
            headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
            accept = base64.b64encode(hashlib.sha1((key + self.GUID).encode()).digest()).decode()
            if headers.get("sec-websocket-accept") != accept:
                raise ConnectionError(f"websocket handshake with {url}: wrong Sec-WebSocket-Accept")
        except BaseException:
            self.sock.close()
            raise

    def _recv_some(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("nothing arrived on the websocket in time")
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(1 << 16)
        except socket.timeout:
            raise TimeoutError("nothing arrived on the websocket in time") from None
        if not data:
            raise WebSocketClosed("the browser closed the websocket connection")
        return data

    def _frame(self, deadline):
        """(fin, opcode, payload) of the next frame; nothing is consumed until it is whole, so a
        timeout leaves the stream where it was."""
        while True:
            b = self.buf
            if len(b) >= 2:
                n, at = b[1] & 0x7F, 2
                if n == 126 and len(b) >= 4:
                    n, at = struct.unpack("!H", b[2:4])[0], 4
                elif n == 127 and len(b) >= 10:
                    n, at = struct.unpack("!Q", b[2:10])[0], 10
                if (b[1] & 0x7F) < 126 or at > 2:
                    mask = None
                    if b[1] & 0x80:
                        mask, at = b[at:at + 4], at + 4
                    if len(b) >= at + n:
                        payload, self.buf = b[at:at + n], b[at + n:]
                        if mask:  # a server sends unmasked frames, but be lenient
                            payload = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
                        return b[0] & 0x80, b[0] & 0x0F, payload
            self.buf += self._recv_some(deadline)

    def _send_frame(self, opcode, payload):
        n = len(payload)
        head = bytes([0x80 | opcode])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 1 << 16:
            head += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack("!Q", n)
        mask = os.urandom(4)
        # A client masks every frame: XOR with the 4-byte key, done as one big integer.
        m = int.from_bytes((mask * (n // 4 + 1))[:n], "big")
        masked = (int.from_bytes(payload, "big") ^ m).to_bytes(n, "big") if n else b""
        self.sock.sendall(head + mask + masked)

    def send(self, text):
        self._send_frame(0x1, text.encode())

    def recv(self, timeout):
        """The next whole message, as text; TimeoutError if none arrives within `timeout` (a
        message begun stays for the next call)."""
        deadline = time.monotonic() + timeout
        while True:
            fin, opcode, payload = self._frame(deadline)
            if opcode == 0x9:  # ping (may come between a message's fragments): pong, same payload
                self._send_frame(0xA, payload)
                continue
            if opcode == 0xA:  # unsolicited pong
                continue
            if opcode == 0x8:
                try:
                    self._send_frame(0x8, payload[:2])
                except OSError:
                    pass
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                raise WebSocketClosed(f"the browser closed the websocket ({code} {payload[2:].decode(errors='replace')})")
            if opcode in (0x1, 0x2) and self.parts is None:
                self.parts = [payload]
            elif opcode == 0x0 and self.parts is not None:
                self.parts.append(payload)
            else:
                raise ConnectionError(f"websocket: unexpected frame (opcode {opcode})")
            if fin:
                message, self.parts = b"".join(self.parts), None
                return message.decode()

    def close(self):
        try:
            self._send_frame(0x8, struct.pack("!H", 1000))
        except OSError:
            pass
        self.sock.close()


class Firefox:
    """A WebDriver BiDi session on Firefox's remote agent: one tab, its log entries kept."""

    def __init__(self, url, pid=0, start_timeout=90):
        self.next_id = 0
        self.log = []
        self.ws = self._connect(url, pid, start_timeout)
        # A first start on a fresh profile may take a while on a busy machine.
        caps = self.cmd("session.new", {"capabilities": {"alwaysMatch": {"acceptInsecureCerts": False}}}, timeout=120)["capabilities"]
        print(f"{SUITE}: {caps.get('browserName')} {caps.get('browserVersion')} (headless: {caps.get('moz:headless')}), over WebDriver BiDi", flush=True)
        self.context = self.cmd("browsingContext.getTree", {"maxDepth": 0})["contexts"][0]["context"]
        self.cmd("session.subscribe", {"events": ["log.entryAdded"]})
        # Every document of the run reports its CSP violations in the console too, so the
        # check does not hang on which of them Firefox logs itself.
        self.cmd("script.addPreloadScript", {"functionDeclaration":
                 "() => { document.addEventListener('securitypolicyviolation', (e) => console.error("
                 + json.dumps(CSP_MARK) + " + ': ' + e.violatedDirective + ' blocked ' + (e.blockedURI || '(inline)') + ' in ' + e.documentURI)); }"})
        self.viewport(1100, 900)

    @staticmethod
    def _connect(url, pid, timeout):
        """The websocket, once Firefox's remote agent takes it (polled; Firefox must live)."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if pid and not alive(pid):
                raise RuntimeError(f"Firefox (pid {pid}) exited before its remote agent answered (last error: {last})")
            try:
                return WebSocket(url, timeout=10)
            except (OSError, ConnectionError, TimeoutError) as e:
                last = e
            time.sleep(0.2)
        raise RuntimeError(f"Firefox's remote agent at {url} did not answer within {timeout} s (last error: {last})")

    def cmd(self, method, params, timeout=60):
        self.next_id += 1
        my = self.next_id
        self.ws.send(json.dumps({"id": my, "method": method, "params": params}))
        limit = bounded(timeout)
        deadline = time.monotonic() + limit
        late = f"BiDi {method}: no answer within {limit:.0f} s" + ("" if limit == timeout else " (the run's time budget, CONSOLE_FIREFOX_BUDGET, is spent)")
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(late)
            try:
                m = json.loads(self.ws.recv(left))
            except TimeoutError:
                raise TimeoutError(late) from None
            if m.get("type") == "event":
                self._event(m)
            elif m.get("id") == my:
                if m.get("type") == "error":
                    raise RuntimeError(f"BiDi {method}: {m.get('error')}: {m.get('message')}")
                return m.get("result")

    def _event(self, m):
        if m.get("method") == "log.entryAdded":
            self.log.append(m["params"])

    def viewport(self, width, height):
        self.cmd("browsingContext.setViewport", {"context": self.context, "viewport": {"width": width, "height": height}})

    def open(self, url):
        self.cmd("browsingContext.navigate", {"context": self.context, "url": url, "wait": "complete"})

    def evaluate(self, expression):
        r = self.cmd("script.evaluate", {"expression": expression, "target": {"context": self.context}, "awaitPromise": True,
                                         "resultOwnership": "none"})
        if r.get("type") == "exception":
            d = r.get("exceptionDetails") or {}
            raise RuntimeError(f"script error: {d.get('text')} (line {d.get('lineNumber')})")
        return r["result"]

    def js(self, body, *args):
        """Runs `body` (an async function's body, its arguments as `args`) in the page; what it
        returns comes back through JSON."""
        v = self.evaluate(f"(async (args) => {{ {body} }})({json.dumps(list(args))}).then((v) => JSON.stringify(v === undefined ? null : v))")
        return json.loads(v["value"])

    def wait(self, body, what, timeout=60, *args):
        """Polls `body` until it returns something truthy; a page between documents is polled again."""
        deadline = time.monotonic() + bounded(timeout)
        last = None
        while time.monotonic() < deadline:
            try:
                v = self.js(body, *args)
                if v:
                    return v
            except RuntimeError as e:  # e.g. the realm went away with a navigation
                last = e
            time.sleep(0.1)
        raise RuntimeError(f"timed out after {timeout} s waiting for {what}" + (" or the run's time budget (CONSOLE_FIREFOX_BUDGET)" if time.monotonic() >= DEADLINE else "")
                           + (f" (last error: {last})" if last else ""))

    def text(self, css):
        return self.js("const e = document.querySelector(args[0]); return e ? e.textContent : null;", css)

    def visible(self, element_id):
        return self.js("const e = document.getElementById(args[0]); return !!e && !e.hidden;", element_id)

    def node(self, css):
        """The element's shared reference, scrolled into view."""
        r = self.evaluate(f"(() => {{ const e = document.querySelector({json.dumps(css)}); if (e) e.scrollIntoView({{block: 'center'}}); return e; }})()")
        if r.get("type") != "node":
            raise RuntimeError(f"no element {css} in the page")
        return {"sharedId": r["sharedId"]}

    def click(self, css):
        """A real mouse click in the middle of the element."""
        el = self.node(css)
        self.cmd("input.performActions", {"context": self.context, "actions": [{
            "type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"}, "actions": [
                {"type": "pointerMove", "x": 0, "y": 0, "origin": {"type": "element", "element": el}},
                {"type": "pointerDown", "button": 0}, {"type": "pointerUp", "button": 0}]}]})
        self.cmd("input.releaseActions", {"context": self.context})

    def type(self, css, text):
        """Clears the field, clicks it and types `text` key by key."""
        self.js("const e = document.querySelector(args[0]); if (e) e.value = '';", css)
        self.click(css)
        keys = []
        for c in text:
            keys += [{"type": "keyDown", "value": c}, {"type": "keyUp", "value": c}]
        self.cmd("input.performActions", {"context": self.context, "actions": [{"type": "key", "id": "keyboard", "actions": keys}]})
        self.cmd("input.releaseActions", {"context": self.context})
        got = self.js("const e = document.querySelector(args[0]); return e ? e.value : null;", css)
        if got != text:
            raise RuntimeError(f"typed into {css}, but it holds {got!r}")

    def set_files(self, css, paths):
        """Chooses `paths` in the file input, as the file picker would."""
        self.cmd("input.setFiles", {"context": self.context, "element": self.node(css), "files": list(paths)})

    def screenshot(self, name):
        data = self.cmd("browsingContext.captureScreenshot", {"context": self.context})["data"]
        with open(os.path.join(ARTIFACTS, f"{name}.png"), "wb") as f:
            f.write(base64.b64decode(data))

    def settle_log(self, timeout=15):
        """Waits until every entry the page logged so far has arrived: the page logs a marker,
        and entries of one page arrive in order."""
        marker = f"tollgate-suite: log marker {uuid.uuid4().hex}"
        self.js("console.info(args[0]);", marker)
        deadline = time.monotonic() + bounded(timeout)
        while not any(e.get("text") == marker for e in self.log):
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError("the page's log marker did not arrive")
            try:
                m = json.loads(self.ws.recv(left))
            except TimeoutError:
                continue
            if m.get("type") == "event":
                self._event(m)
        self.log = [e for e in self.log if e.get("text") != marker]

    def close(self):
        """Ends the session and Firefox with it (compat/console.sh waits for it, then kills)."""
        try:
            self.cmd("browser.close", {}, timeout=20)
        except (RuntimeError, OSError, TimeoutError) as e:
            print(f"{SUITE}: closing Firefox: {e}", flush=True)
        self.ws.close()


# The console logs (console.error) every error it shows that is not the gateway's answer:
# only the reader's refused upload is expected (its message wraps the gateway's AccessDenied).
EXPECTED_CONSOLE_ERRORS = ("Error: Upload of docs/reader.txt failed: AccessDenied",)


def page_problems(log):
    """The entries that fail the run: uncaught errors and rejections (Firefox reports its own
    CSP blocks among them), the CSP violations the preload script logs, and any other error
    the console logs (an exception it caught and showed)."""
    def bad(e):
        text = e.get("text") or ""
        if e.get("level") != "error":
            return False
        return e.get("type") == "javascript" or CSP_MARK in text or not text.startswith(EXPECTED_CONSOLE_ERRORS)
    return [e for e in log if bad(e)]


def describe(entries):
    return "; ".join(f"[{e.get('type')}/{e.get('level')}] {(e.get('text') or '')[:300]}" for e in entries)


def sign_in(d, key, secret):
    d.wait("return !document.getElementById('signin-view').hidden || !document.getElementById('app-view').hidden", "the console page")
    if d.visible("sign-out"):
        d.click("#sign-out")
        d.wait("return !document.getElementById('signin-view').hidden", "sign-out")
    d.type("#signin-key", key)
    d.type("#signin-secret", secret)
    d.click("#signin-submit")
    d.wait("return !document.getElementById('sign-out').hidden || !document.getElementById('error').hidden", "sign-in")


def upload_status(d, key):
    return d.js("const r = [...document.querySelectorAll('.upload')].find((r) => r.dataset.key === args[0]);"
                " return r ? {text: r.querySelector('.upload-status').textContent, cls: r.querySelector('.upload-status').className,"
                " value: r.querySelector('progress').value, max: r.querySelector('progress').max} : null;", key)


def self_test(d):
    """Plants an uncaught error and a CSP violation, and shows that both are caught."""
    d.js("setTimeout(() => { throw new Error('tollgate-suite: planted error'); }, 0);"
         " const s = document.createElement('script'); s.textContent = 'window.tollgateSuitePlanted = 1;'; document.head.append(s);")
    deadline = time.monotonic() + bounded(20)
    while True:
        d.settle_log()
        problems = page_problems(d.log)
        seen_error = any("planted error" in (e.get("text") or "") for e in problems)
        seen_csp = any(CSP_MARK in (e.get("text") or "") for e in problems)
        if (seen_error and seen_csp) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    planted_ran = d.js("return window.tollgateSuitePlanted === 1;")
    ok("the checks see a planted JavaScript error and CSP violation (and the CSP blocks the inline script)",
       seen_error and seen_csp and not planted_ran, f"error seen: {seen_error}, violation seen: {seen_csp}, inline script ran: {planted_ran}; {describe(d.log)}")
    d.log.clear()


def main(d):
    run, root, keys, admin, tenant, bucket = setup(ROOT, "cf", "tgc-console-ff-")

    d.open(CONSOLE)
    self_test(d)
    # A fresh page for the run proper.
    d.open(CONSOLE)

    # The writer signs in and sees the bucket list.
    sign_in(d, *keys["writer"])
    who = d.text("#who") or ""
    ok("writer signs in", "wes (writer)" in who, f"{who!r} {d.text('#error')}")
    ok("the secret is not kept in the page", d.js("return document.getElementById('signin-secret').value;") == "")
    d.wait("return document.getElementById('bucket-table') !== null || !document.getElementById('error').hidden", "the bucket list")
    listed = d.js("return [...document.querySelectorAll('#bucket-table a.bucket-link')].map((a) => a.textContent);") or []
    d.screenshot("01-buckets")
    ok("the bucket list shows the tenant's bucket", bucket in listed, f"{listed} {d.text('#error')}")

    # Into the bucket (a click on its link), a folder, then a file into it by the file picker.
    d.click(f"#bucket-table a.bucket-link[href$='/{bucket}/']")
    d.wait("return document.getElementById('drop-zone') !== null || !document.getElementById('error').hidden", "the bucket's objects")
    ok("the bucket opens (empty)", "This folder is empty." in (d.text("#listing") or ""), f"{d.text('#listing')} {d.text('#error')}")
    d.type("#new-folder", "docs")
    d.click("#create-folder button")
    d.wait("return location.hash.endsWith('docs%2F') && document.getElementById('drop-zone') !== null || !document.getElementById('error').hidden",
           "the new folder")
    crumbs = d.text(".crumbs") or ""
    d.screenshot("02-folder")
    ok("a folder is created and opened", crumbs.endswith("/ docs"), f"{crumbs!r} {d.text('#error')}")
    status, _, _ = admin.call("HEAD", f"{bucket}/docs/")
    ok("the folder is stored (an empty docs/ object)", status == 200, str(status))

    data = os.urandom(3 << 20)
    digest = hashlib.sha256(data).hexdigest()
    path = os.path.join(WORK, "firefox-upload.bin")
    with open(path, "wb") as f:
        f.write(data)
    key = "docs/firefox-upload.bin"
    d.set_files("#file-input", [path])
    st, seen = None, set()
    deadline = time.monotonic() + bounded(90)
    while time.monotonic() < deadline:
        st = upload_status(d, key)
        if st:
            seen.add(round(float(st["value"]) / float(st["max"]), 2))
            if "uploaded" in st["text"] or "bad" in st["cls"]:
                break
        time.sleep(0.05)
    print(f"{SUITE}: progress values seen: {sorted(seen)}", flush=True)
    ok("the upload's progress bar finishes, the row says uploaded",
       st is not None and st["text"] == "uploaded (3.0 MiB)" and "good" in st["cls"] and float(st["value"]) == float(st["max"]) == len(data), str(st))
    d.wait("return document.querySelector('#object-table a.object-link[data-key=\"' + args[0] + '\"]') !== null || !document.getElementById('error').hidden",
           "the uploaded file in the listing", 30, key)
    row = d.js("const a = document.querySelector('#object-table a.object-link[data-key=\"' + args[0] + '\"]');"
               " return a ? [...a.closest('tr').cells].slice(0, 2).map((c) => c.textContent) : null;", key)
    d.screenshot("03-uploaded")
    ok("the file is listed with its size", row == ["firefox-upload.bin", "3.0 MiB"], f"{row} {d.text('#error')}")
    status, _, stored = admin.call("GET", f"{bucket}/{key}")
    ok("the stored object is the file", status == 200 and hashlib.sha256(stored).hexdigest() == digest, f"{status} {len(stored)} bytes")
    got = d.js("const r = await fetch(document.querySelector('a.download').href); const b = await r.arrayBuffer();"
               " const h = new Uint8Array(await crypto.subtle.digest('SHA-256', b));"
               " return [r.status, [...h].map((x) => x.toString(16).padStart(2, '0')).join('')];")
    ok("a download in the browser matches", got == [200, digest], str(got))

    # Details, then the proof and its verification.
    d.click(f"#object-table a.object-link[data-key='{key}']")
    d.wait("return document.getElementById('object-details') !== null || !document.getElementById('error').hidden", "the object's details")
    facts = d.text("#object-facts") or ""
    ok("the details show the key and size", key in facts and f"{len(data)} bytes" in facts, f"{facts[:300]!r} {d.text('#error')}")
    d.click("#show-proof")
    d.wait("return document.getElementById('proof-panel') !== null || !document.getElementById('error').hidden", "the proof")
    proof = d.text("#proof-panel") or ""
    ok("the proof shows the file's SHA-256", digest in proof, (d.text("#error") or proof)[:300])
    if digest in proof:
        d.click("#proof-panel .verify")
        d.wait("return document.getElementById('verify-result') !== null || !document.getElementById('error').hidden", "the verification")
        result = d.text("#verify-result") or ""
        d.screenshot("04-proof-verified")
        ok("the proof verifies (signature valid, chain intact)", "signature valid" in result and "chain intact" in result, f"{result!r} {d.text('#error')}")

    # Sign out: the sign-in form again, and the session is over for the gateway too.
    d.click("#sign-out")
    d.wait("return !document.getElementById('signin-view').hidden && document.getElementById('sign-out').hidden", "the sign-in form after signing out")
    gone = d.js("const r = await fetch('/_tollgate/console/session', {cache: 'no-store'}); return r.status;")
    d.screenshot("05-signed-out")
    ok("sign-out ends the session", gone == 401 and d.text("#notice") == "Signed out.", f"GET session: {gone}, notice {d.text('#notice')!r}")

    # The reader: the upload is refused with the gateway's words.
    sign_in(d, *keys["reader"])
    who = d.text("#who") or ""
    ok("reader signs in", "rae (reader)" in who, f"{who!r} {d.text('#error')}")
    ok("the sign-out notice is gone once signed in again", (d.text("#notice") or "") == "", f"notice {d.text('#notice')!r}")
    d.js("location.hash = args[0];", f"#/b/{bucket}/docs%2F")
    d.wait("return document.getElementById('drop-zone') !== null || !document.getElementById('error').hidden", "the folder as the reader")
    small = os.path.join(WORK, "reader.txt")
    with open(small, "w") as f:
        f.write("a reader's attempt\n")
    d.set_files("#file-input", [small])
    d.wait("const r = document.querySelector('.upload .upload-status'); return r && r.className.includes('bad');", "the refusal")
    refusal = d.text(".upload .upload-status") or ""
    err = d.text("#error") or ""
    d.screenshot("06-reader-refused")
    ok("the reader sees the upload refused in the gateway's words", "AccessDenied" in refusal and "AccessDenied" in err, f"{refusal!r} / {err!r}")
    status, _, _ = admin.call("HEAD", f"{bucket}/docs/reader.txt")
    ok("nothing was stored", status == 404, str(status))



def last_page_check(driver):
    """Every error the page logged during the run, except those expected, fails it."""
    try:
        driver.settle_log()
    except Exception as e:  # noqa: BLE001 - the check below still reports what arrived
        print(f"{SUITE}: the page's last log entries may be missing: {e}", flush=True)
    problems = page_problems(driver.log)
    ok("no JavaScript error, CSP violation or unexpected logged error in the page during the run", not problems, describe(problems))
    others = [e for e in driver.log if e not in problems]
    if others:
        print(f"{SUITE}: expected or harmless console entries: {describe(others)}", flush=True)


checks.run(lambda: Firefox(BIDI_URL, FIREFOX_PID), main, ARTIFACTS, before_close=last_page_check)
