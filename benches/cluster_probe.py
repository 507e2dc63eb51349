#!/usr/bin/env python3
"""Helpers of benches/cluster.sh and cluster_join.sh (standard library only): SigV4-signed calls to tollgate's
S3 and admin APIs, the upstream's request counters, and the control-plane propagation
measurements.

  cluster_probe.py mkbucket URL BUCKET
  cluster_probe.py counts URL                   JSON {operation: requests} from URL/metrics
  cluster_probe.py objects URL BUCKET PREFIX    JSON {"count": n, "bytes": total}
  cluster_probe.py propagate --tenant T --user U --changes N URL1 URL2 ...
      creates N access keys on URL1, one at a time; after each, polls every other URL's
      GET /_tollgate/admin/keys every 10 ms until it lists the key (never using the key
      there, so no instance is prompted to read the log early); then disables --disable
      of those keys on URL2 and polls the others with a request signed by the key every
      10 ms until they refuse it (403): GET /_tollgate/admin/keys, which makes no instance
      read the log (an S3 ListBuckets would: it reads the log first). With --upstream URL, also the upstream's requests
      (by operation) while the keys were being created. Prints one JSON object.
  cluster_probe.py churn --tenant T --user U --changes N URL
      creates N access keys on URL, one after another; prints {"changes", "secs", "per_s"}
  cluster_probe.py report RESULTS.jsonl         the tables of benches/cluster.sh

Credentials: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (root's). Region us-east-1.
"""

import argparse
import datetime
import hashlib
import hmac
import http.client
import json
import os
import random
import statistics
import sys
import threading
import time
import urllib.parse
import xml.etree.ElementTree as ET

REGION = "us-east-1"
POLL = 0.010  # seconds between two polls of an instance
GIVE_UP = 20.0  # seconds after which a change counts as not propagated


def _q(s, safe):
    return urllib.parse.quote(s, safe=safe)


class Conn:
    """One keep-alive connection to a server, signing as (ak, sk)."""

    def __init__(self, url, ak, sk):
        u = urllib.parse.urlsplit(url)
        self.host = u.netloc
        self.ak, self.sk = ak, sk
        self.http = http.client.HTTPConnection(u.hostname, u.port, timeout=30)

    def call(self, method, path, query=(), body=b""):
        amz = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        payload = hashlib.sha256(body).hexdigest()
        headers = {"host": self.host, "x-amz-content-sha256": payload, "x-amz-date": amz}
        signed = ";".join(sorted(headers))
        cquery = "&".join(f"{_q(k, '-_.~')}={_q(v, '-_.~')}" for k, v in sorted(query))
        canonical = "\n".join(
            [method, _q(path, "/-_.~"), cquery, "".join(f"{k}:{headers[k]}\n" for k in sorted(headers)), signed, payload]
        )
        scope = f"{amz[:8]}/{REGION}/s3/aws4_request"
        to_sign = "\n".join(["AWS4-HMAC-SHA256", amz, scope, hashlib.sha256(canonical.encode()).hexdigest()])
        k = ("AWS4" + self.sk).encode()
        for part in (amz[:8], REGION, "s3", "aws4_request"):
            k = hmac.new(k, part.encode(), hashlib.sha256).digest()
        sig = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
        headers["authorization"] = f"AWS4-HMAC-SHA256 Credential={self.ak}/{scope}, SignedHeaders={signed}, Signature={sig}"
        headers["content-type"] = "application/json"
        target = _q(path, "/-_.~") + ("?" + cquery if cquery else "")
        for attempt in range(2):
            try:
                self.http.request(method, target, body=body, headers=headers)
                resp = self.http.getresponse()
                return resp.status, resp.read()
            except (http.client.HTTPException, OSError):
                self.http.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def admin(self, method, path, doc=None):
        body = json.dumps(doc).encode() if doc is not None else b""
        status, data = self.call(method, "/_tollgate/admin/" + path, body=body)
        if status // 100 != 2:
            raise SystemExit(f"cluster_probe: {method} admin/{path} on {self.host}: HTTP {status}: {data[:300]!r}")
        return json.loads(data) if data else None


def root_conn(url):
    return Conn(url, os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"])


def counts(url):
    u = urllib.parse.urlsplit(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    c.request("GET", "/metrics")
    text = c.getresponse().read().decode()
    out = {}
    for line in text.splitlines():
        if not line.startswith("tollgate_requests_total{"):
            continue
        labels, value = line.rsplit(" ", 1)
        op = labels.split('operation="', 1)[1].split('"', 1)[0]
        if op in ("metrics", "health", "ready"):  # the bench's own probes
            continue
        out[op] = out.get(op, 0) + int(float(value))
    return out


def objects(url, bucket, prefix):
    c = root_conn(url)
    n = size = 0
    token = None
    while True:
        q = [("list-type", "2"), ("prefix", prefix)] + ([("continuation-token", token)] if token else [])
        status, data = c.call("GET", f"/{bucket}", q)
        if status != 200:
            raise SystemExit(f"cluster_probe: listing {bucket}/{prefix}: HTTP {status}")
        root = ET.fromstring(data)
        ns = root.tag.split("}")[0] + "}" if root.tag.startswith("{") else ""
        for o in root.findall(f"{ns}Contents"):
            n += 1
            size += int(o.find(f"{ns}Size").text)
        if root.findtext(f"{ns}IsTruncated") != "true":
            return {"count": n, "bytes": size}
        token = root.findtext(f"{ns}NextContinuationToken")


def wait_all(urls, start, check):
    """Polls each of `urls` every POLL s (one thread each) until check(conn) is true; returns
    the seconds from `start` (a time.monotonic()) to the first poll that saw it, None if
    not within GIVE_UP."""
    seen = [None] * len(urls)

    def poll(i, url):
        conn = check.conn(url)
        while True:
            t = time.monotonic()
            if check(conn):
                seen[i] = t - start
                return
            if t - start > GIVE_UP:
                return
            time.sleep(max(0.0, POLL - (time.monotonic() - t)))

    threads = [threading.Thread(target=poll, args=(i, u)) for i, u in enumerate(urls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return seen


def summary(xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return {"n": 0}
    return {
        "n": len(xs),
        "median_ms": round(statistics.median(xs) * 1000, 1),
        "max_ms": round(max(xs) * 1000, 1),
        "min_ms": round(min(xs) * 1000, 1),
    }


def propagate(a):
    first, others = a.urls[0], a.urls[1:]
    c1 = root_conn(first)
    rng = random.Random(27)
    created, every, last, call = [], [], [], []
    if a.upstream:
        c0, w0 = counts(a.upstream), time.monotonic()
    for _ in range(a.changes):
        # A random pause, so that the changes fall at every phase of the instances' polls.
        time.sleep(rng.uniform(0, 0.5))
        t0 = time.monotonic()
        key = c1.admin("POST", "keys", {"tenant": a.tenant, "user": a.user})
        t1 = time.monotonic()
        ak = key["access_key"]
        created.append(key)

        def listed(conn, ak=ak):
            status, data = conn.call("GET", "/_tollgate/admin/keys")
            return status == 200 and any(k["access_key"] == ak for k in json.loads(data))

        listed.conn = root_conn
        seen = wait_all(others, t1, listed)
        call.append(t1 - t0)
        every.extend(seen)
        last.append(None if None in seen else max(seen))
    out = {
        "instances": len(a.urls),
        "changes": a.changes,
        "create_call": summary(call),
        "seen_per_instance": summary(every),
        "seen_by_all": summary(last),
        "not_seen": sum(1 for s in every if s is None),
    }
    if a.upstream:
        c1, w1 = counts(a.upstream), time.monotonic()
        out["creation_window"] = {"secs": round(w1 - w0, 3), "requests": {op: c1.get(op, 0) - c0.get(op, 0) for op in c1}}
    if a.disable and len(a.urls) > 1:
        second = root_conn(a.urls[1])
        refused_rest = [u for i, u in enumerate(a.urls) if i != 1]
        per, alls, dcall = [], [], []
        for key in created[: a.disable]:
            for url in refused_rest:
                status, data = Conn(url, key["access_key"], key["secret_key"]).call("GET", "/_tollgate/admin/keys")
                if status != 200:
                    raise SystemExit(f"cluster_probe: key {key['access_key']} not accepted by {url} before its disabling: HTTP {status} {data[:200]!r}")
            time.sleep(rng.uniform(0, 0.5))
            t0 = time.monotonic()
            second.admin("POST", f"keys/{key['access_key']}/disable")
            t1 = time.monotonic()
            dcall.append(t1 - t0)

            def refused(conn):
                status, _ = conn.call("GET", "/_tollgate/admin/keys")
                return status in (401, 403)

            refused.conn = lambda url, key=key: Conn(url, key["access_key"], key["secret_key"])
            seen = wait_all(refused_rest, t1, refused)
            per.extend(seen)
            alls.append(None if None in seen else max(seen))
        out["disable"] = {"keys": len(alls), "disable_call": summary(dcall), "refused_per_instance": summary(per), "refused_by_all": summary(alls),
                          "not_refused": sum(1 for s in per if s is None)}
    return out


def churn(a):
    """Creates `changes` access keys on the instance at `url`, one after another."""
    c = root_conn(a.url)
    t0 = time.monotonic()
    for _ in range(a.changes):
        c.admin("POST", "keys", {"tenant": a.tenant, "user": a.user})
    secs = time.monotonic() - t0
    return {"changes": a.changes, "secs": round(secs, 3), "per_s": round(a.changes / secs, 1)}


def _rates(line):
    """Upstream requests per second by operation over an idle window."""
    b, a = line["before"], line["after"]
    return {op: (a.get(op, 0) - b.get(op, 0)) / line["secs"] for op in a}


def _ops(d):
    """A request count by operation, the main ones named and the rest together."""
    main = ["ListObjectsV2", "GetObject", "PutObject"]
    rest = sum(v for k, v in d.items() if k not in main)
    return [d.get(k, 0) for k in main] + [rest]


def report(path):
    lines = [json.loads(l) for l in open(path) if l.strip()]
    by = {(l["round"], l["instances"], l["kind"]): l for l in lines}
    rounds = sorted({l["round"] for l in lines})
    sizes = sorted({l["instances"] for l in lines if l["kind"] == "idle"})

    print("Aggregate 4 KiB throughput (c=16 over the instances); CPU in seconds per 1,000 requests")
    print(f"{'round':>5} {'inst':>4} {'PUT ops/s':>10} {'gw cpu':>7} {'up cpu':>7} {'GET ops/s':>10} {'gw cpu':>7} {'up cpu':>7}  load (1/5/15 min, before and after)")
    for r in rounds:
        for n in sizes:
            cells, loads = [], []
            for k in ("put", "get"):
                l = by.get((r, n, k), {})
                err = f"({l['errors']})" if l.get("errors") else ""
                cells += [f"{l.get('ops_per_s', 0):.0f}{err}", f"{l.get('server_cpu_ms_per_op', 0):.2f}", f"{l.get('upstream_cpu_ms_per_op', 0):.2f}"]
                loads.append(f"{k.upper()} {l.get('load', '?')}")
            print(f"{r:>5} {n:>4} {cells[0]:>10} {cells[1]:>7} {cells[2]:>7} {cells[3]:>10} {cells[4]:>7} {cells[5]:>7}  {'; '.join(loads)}")
    print("gw cpu: the instances' CPU (user + system) summed; up cpu: the upstream's; errors in ()")
    print()

    print("Idle cluster: upstream requests per second (control log polls, heartbeats, mirror), and CPU")
    print(f"{'round':>5} {'inst':>4} {'req/s':>7} {'per inst':>8} {'LIST/s':>7} {'GET/s':>7} {'PUT/s':>7} {'other/s':>7} {'gw cpu ms/s/inst':>16} {'up cpu ms/s':>11}  load")
    for r in rounds:
        for n in sizes:
            l = by.get((r, n, "idle"))
            if not l:
                continue
            rates = _rates(l)
            total = sum(rates.values())
            lst, get, put, other = _ops(rates)
            print(f"{r:>5} {n:>4} {total:>7.2f} {total / n:>8.2f} {lst:>7.2f} {get:>7.2f} {put:>7.2f} {other:>7.2f} "
                  f"{l['gateway_cpu_ms'] / l['secs'] / n:>16.1f} {l['upstream_cpu_ms'] / l['secs']:>11.1f}  {l['load']}")
    print()

    props = [(r, by[k]) for r in rounds for k in by if k[0] == r and k[2] == "propagation"]
    if props:
        print("Control-plane propagation (ms after the change's admin call returned; polls every 10 ms)")
        print(f"{'round':>5} {'inst':>4} {'changes':>7} {'call p50':>8} {'each p50':>8} {'each max':>8} {'all p50':>8} {'all max':>8} {'missed':>6}  load")
        for r, l in props:
            c, e, a = l["create_call"], l["seen_per_instance"], l["seen_by_all"]
            print(f"{r:>5} {l['instances']:>4} {'key new':>7} {c.get('median_ms', '-'):>8} {e.get('median_ms', '-'):>8} {e.get('max_ms', '-'):>8} "
                  f"{a.get('median_ms', '-'):>8} {a.get('max_ms', '-'):>8} {l['not_seen']:>6}  {l['load']}")
            d = l.get("disable")
            if d:
                e, a = d["refused_per_instance"], d["refused_by_all"]
                dc = d.get("disable_call", {}).get("median_ms", "-")
                print(f"{r:>5} {l['instances']:>4} {'disable':>7} {dc:>8} {e.get('median_ms', '-'):>8} {e.get('max_ms', '-'):>8} "
                      f"{a.get('median_ms', '-'):>8} {a.get('max_ms', '-'):>8} {d['not_refused']:>6}")
        print("key new: created on instance 1, until each other instance lists it (GET /_tollgate/admin/keys)")
        print("disable: disabled on instance 2, until each other instance refuses a request signed by it (403)")
        print("each: per instance; all: until the last one; call p50: the creating (disabling) admin call's own latency")
        print()
        print("Upstream requests per control change (key creations; the idle rate of the same cluster subtracted)")
        print(f"{'round':>5} {'inst':>4} {'LIST':>6} {'GET':>6} {'PUT':>6} {'other':>6} {'total':>6}")
        for r, l in props:
            w = l.get("creation_window")
            idle = by.get((r, l["instances"], "idle"))
            if not w or not idle:
                continue
            rates = _rates(idle)
            per = {op: (v - rates.get(op, 0) * w["secs"]) / l["changes"] for op, v in w["requests"].items()}
            cells = _ops(per)
            print(f"{r:>5} {l['instances']:>4} " + " ".join(f"{v:>6.2f}" for v in cells) + f" {sum(cells):>6.2f}")
        print()
    for r in rounds:
        for k in by:
            if k[0] == r and k[2] == "log":
                l = by[k]
                c, m = l["control"], l["members"]
                print(f"round {r}: control log {c['count']} entries, {c['bytes'] / max(c['count'], 1):.0f} bytes each on average; "
                      f"heartbeats {m['count']} objects, {m['bytes'] / max(m['count'], 1):.0f} bytes each")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("mkbucket")
    m.add_argument("url")
    m.add_argument("bucket")
    c = sub.add_parser("counts")
    c.add_argument("url")
    o = sub.add_parser("objects")
    o.add_argument("url")
    o.add_argument("bucket")
    o.add_argument("prefix")
    g = sub.add_parser("propagate")
    g.add_argument("--tenant", required=True)
    g.add_argument("--user", required=True)
    g.add_argument("--changes", type=int, default=20)
    g.add_argument("--disable", type=int, default=10)
    g.add_argument("--upstream")
    g.add_argument("urls", nargs="+")
    h = sub.add_parser("churn")
    h.add_argument("--tenant", required=True)
    h.add_argument("--user", required=True)
    h.add_argument("--changes", type=int, required=True)
    h.add_argument("url")
    r = sub.add_parser("report")
    r.add_argument("results")
    a = p.parse_args()
    if a.cmd == "mkbucket":
        status, data = root_conn(a.url).call("PUT", f"/{a.bucket}")
        if status != 200 and b"BucketAlreadyOwnedByYou" not in data:
            raise SystemExit(f"cluster_probe: create bucket {a.bucket}: HTTP {status}: {data[:300]!r}")
    elif a.cmd == "counts":
        print(json.dumps(counts(a.url)))
    elif a.cmd == "objects":
        print(json.dumps(objects(a.url, a.bucket, a.prefix)))
    elif a.cmd == "report":
        report(a.results)
    elif a.cmd == "churn":
        print(json.dumps(churn(a)))
    else:
        print(json.dumps(propagate(a)))


if __name__ == "__main__":
    sys.exit(main())
