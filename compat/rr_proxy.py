#!/usr/bin/env python3
"""A round-robin TCP (layer 4) proxy for the compat cluster run (compat/cluster.sh).

    python3 compat/rr_proxy.py [--port P] [--parent PID] HOST:PORT [HOST:PORT...]

Listens on 127.0.0.1:P (0, the default: a free port) and prints "rr_proxy: listening on
127.0.0.1:P" on stdout once it accepts connections. Each accepted connection goes to the
next backend in turn (round robin by connection, not by request: a client keeping its
connection alive stays on one backend) and its bytes are copied both ways unchanged, so TLS
passes through end to end (the backends' certificate is what the client verifies). A
backend that refuses the connection is logged and the client's connection closed: no
retry on another, so that a dead instance shows. Half-closes are passed on.

It exits when its parent (or --parent PID) is gone, on SIGTERM / SIGINT, and prints how
many connections each backend got on stderr as it exits.
"""
import argparse
import asyncio
import itertools
import os
import signal
import sys


def parse_backend(s):
    host, _, port = s.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"backend {s!r} is not HOST:PORT")
    return host, int(port)


async def pipe(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        pass


async def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: a free one)")
    ap.add_argument("--parent", type=int, default=os.getppid(), help="exit once this pid is gone (default: the parent)")
    ap.add_argument("backends", nargs="+", type=parse_backend, metavar="HOST:PORT")
    args = ap.parse_args()

    order = itertools.cycle(range(len(args.backends)))
    counts = [0] * len(args.backends)
    stop = asyncio.Event()

    async def handle(client_r, client_w):
        i = next(order)
        host, port = args.backends[i]
        counts[i] += 1
        try:
            up_r, up_w = await asyncio.open_connection(host, port)
        except OSError as e:
            print(f"rr_proxy: backend {host}:{port} refused a connection: {e}", file=sys.stderr, flush=True)
            client_w.close()
            return
        try:
            await asyncio.gather(pipe(client_r, up_w), pipe(up_r, client_w))
        finally:
            for w in (up_w, client_w):
                w.close()
            for w in (up_w, client_w):
                try:
                    await w.wait_closed()
                except (ConnectionError, OSError):
                    pass

    server = await asyncio.start_server(handle, "127.0.0.1", args.port, reuse_address=True)
    port = server.sockets[0].getsockname()[1]
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    async def watch_parent():
        while not stop.is_set():
            try:
                os.kill(args.parent, 0)
            except ProcessLookupError:
                stop.set()
                break
            except PermissionError:
                pass
            if os.getppid() == 1 and args.parent != 1:  # reparented: the parent is gone
                stop.set()
                break
            await asyncio.sleep(0.5)

    watcher = asyncio.create_task(watch_parent())
    print(f"rr_proxy: listening on 127.0.0.1:{port}", flush=True)
    async with server:
        await stop.wait()
    watcher.cancel()
    spread = ", ".join(f"{h}:{p} {n}" for (h, p), n in zip(args.backends, counts))
    print(f"rr_proxy: connections per backend: {spread}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    asyncio.run(main())
