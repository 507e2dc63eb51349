#!/usr/bin/env python3
"""The retry suite (issue 21): boto3 behind a small proxy that loses the first response of
CompleteMultipartUpload. The proxy forwards that request to the gateway (so the upload is completed
there), then closes the client's connection without answering. botocore's standard retry mode retries
the connection error, and the gateway answers the repeated Complete 200 with the same ETag (idempotent
completion). Relies only on the gateway's own behaviour, so it passes through an upstream too.

The proxy (stdlib only) forwards one request per client connection, request line, headers and body
unchanged (botocore signed them with the proxy's Host, which the gateway checks the signature against),
and says `Connection: close` both ways, so no keep-alive connection is ever reused through it.

env: S3_ENDPOINT, AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
"""
import hashlib
import http.client
import http.server
import os
import sys
import threading
import urllib.parse
import uuid

import boto3
from botocore.config import Config

SUITE = "retry"
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


UP = urllib.parse.urlsplit(ENDPOINT)
UP_HOST, UP_PORT = UP.hostname, UP.port or 80
# hop-by-hop headers, and Expect (http.server already answered 100 Continue; SigV4 does not sign it)
DROP_REQ = {"connection", "keep-alive", "proxy-connection", "te", "upgrade", "expect"}
DROP_RESP = {"connection", "keep-alive", "transfer-encoding", "content-length"}


class Proxy:
    def __init__(self):
        self.lock = threading.Lock()
        self.completes = []  # upstream status of each CompleteMultipartUpload forwarded
        self.dropped = 0
        self.errors = []
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def forward(self):
                self.close_connection = True
                try:
                    if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                        raise RuntimeError(f"{self.command} {self.path}: chunked request bodies are not supported")
                    body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                    conn = http.client.HTTPConnection(UP_HOST, UP_PORT, timeout=60)
                    try:
                        conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                        for k, v in self.headers.items():
                            if k.lower() not in DROP_REQ:
                                conn.putheader(k, v)
                        conn.putheader("Connection", "close")
                        conn.endheaders(body if body else None)
                        resp = conn.getresponse()
                        data = resp.read()
                        headers = resp.getheaders()
                        status, reason = resp.status, resp.reason
                    finally:
                        conn.close()
                except Exception as e:  # noqa: BLE001 (reported by the suite)
                    with proxy.lock:
                        proxy.errors.append(repr(e))
                    return  # close without an answer
                is_complete = self.command == "POST" and "uploadId=" in urllib.parse.urlsplit(self.path).query
                if is_complete:
                    with proxy.lock:
                        proxy.completes.append(status)
                        drop = proxy.dropped == 0
                        if drop:
                            proxy.dropped += 1
                    if drop:
                        return  # the gateway completed the upload; the client never hears of it
                self.send_response_only(status, reason)
                for k, v in headers:
                    if k.lower() not in DROP_RESP:
                        self.send_header(k, v)
                if self.command == "HEAD":
                    cl = resp.getheader("Content-Length")
                    if cl is not None:
                        self.send_header("Content-Length", cl)
                else:
                    self.send_header("Content-Length", str(len(data)))
                self.send_header("Connection", "close")
                self.end_headers()
                if self.command != "HEAD" and data:
                    self.wfile.write(data)
                self.wfile.flush()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = forward

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def client(url):
    return boto3.client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        config=Config(
            retries={"max_attempts": 5, "mode": "standard"},
            s3={"addressing_style": "path"},
            connect_timeout=10,
            read_timeout=60,
        ),
    )


def main():
    direct = client(ENDPOINT)
    proxy = Proxy()
    s3 = client(proxy.url)
    bucket = f"tgc-retry-{uuid.uuid4().hex[:12]}"
    key = "retry/complete.bin"
    part1 = os.urandom(5 * 1024 * 1024)
    part2 = os.urandom(1234)
    whole = part1 + part2
    try:
        direct.create_bucket(Bucket=bucket)
        up = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        e1 = s3.upload_part(Bucket=bucket, Key=key, UploadId=up, PartNumber=1, Body=part1)["ETag"]
        e2 = s3.upload_part(Bucket=bucket, Key=key, UploadId=up, PartNumber=2, Body=part2)["ETag"]
        parts = [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]
        try:
            r = s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=up, MultipartUpload={"Parts": parts})
            err = None
        except Exception as e:  # noqa: BLE001
            r, err = None, e
        ok("complete_multipart_upload succeeds although its first response was lost", err is None, repr(err))
        with proxy.lock:
            completes, dropped, errors = list(proxy.completes), proxy.dropped, list(proxy.errors)
        ok("the first Complete reached the gateway and its response was dropped", dropped == 1 and completes[:1] == [200],
           f"dropped={dropped} statuses={completes}")
        ok("botocore retried the Complete (the proxy saw at least 2)", len(completes) >= 2, f"statuses={completes}")
        ok("the proxy forwarded every request", not errors, f"errors={errors}")
        etag = (r or {}).get("ETag", "")
        ok("the retried Complete answers a 2-part ETag", etag.strip('"').endswith("-2"), f"etag={etag!r}")
        got = direct.get_object(Bucket=bucket, Key=key)
        data = got["Body"].read()
        ok("GET returns exactly the uploaded bytes", data == whole,
           f"len={len(data)} want={len(whole)} sha256={hashlib.sha256(data).hexdigest()[:16]}")
        ok("GET's ETag is the Complete's ETag", got["ETag"] == etag, f"get={got['ETag']!r} complete={etag!r}")
    finally:
        proxy.stop()
        try:
            direct.delete_object(Bucket=bucket, Key=key)
            direct.delete_bucket(Bucket=bucket)
        except Exception as e:  # noqa: BLE001
            print(f"note {SUITE}: cleanup: {e!r}", flush=True)

    print(f"{SUITE}: {passed} passed, {len(failed)} failed", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001
        print(f"FAIL {SUITE}: unexpected {e!r}", flush=True)
        sys.exit(1)
