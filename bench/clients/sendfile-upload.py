#!/usr/bin/env python3
"""HTTP/1.1 upload client that sends the body with sendfile(2).

bench/bodies.ts runs it with --sender=sendfile (and --sender=send, the same
client with send() from memory, as a control). The idea was a client cheaper
than node:http's: sendfile() from a file in the page cache (tmpfs) hands TCP
references to the file's pages, so the sender makes no copy. Measured on the
2-vCPU loopback VM (docs/streaming.md, "Upload throughput"), it is not
cheaper: 0.26-0.37 CPU-seconds per GiB against 0.23-0.31 for send() and for
node:http's client. A loopback sender's cost is mostly TCP, its own and the
receiver's input processing, which runs in softirq on the sending CPU; the
copy is a small part of it.

The body is FILE's bytes, read from offset 0 again when it runs out: a
--bytes larger than the file sends the file several times.

One upload:
    sendfile-upload.py --port P --file F --bytes N [--path /sink] [--chunked=SIZE]
Several (one process, started before the runs): with no --bytes, each stdin
line "PATH BYTES [length|chunked]" is one upload. Each upload makes a new
connection; the clock starts once it is up.

Each upload prints one JSON line: status, the response body, bytes sent,
seconds from the request's first byte to the response's last, this process's
CPU-seconds in that interval (getrusage: user + system; on a kernel without
IRQ time accounting it includes the softirq work done while it ran), and
TCP_INFO counters for the connection: retransmitted segments, and seconds
the sender was busy, stalled by the server's receive window (the server was
the limit) or by its own send buffer.
"""

import argparse
import json
import os
import resource
import socket
import struct
import sys
import time


def cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def tcp_info(sock):
    """This connection's counters from TCP_INFO (struct tcp_info, linux/tcp.h)."""
    b = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 192)
    return {
        "retransmits": struct.unpack_from("I", b, 100)[0],  # tcpi_total_retrans
        "busy": struct.unpack_from("Q", b, 168)[0] / 1e6,  # tcpi_busy_time, µs
        "rwnd_limited": struct.unpack_from("Q", b, 176)[0] / 1e6,
        "sndbuf_limited": struct.unpack_from("Q", b, 184)[0] / 1e6,
    }


class Uploader:
    def __init__(self, host, port, path_to_file, send_block=0):
        self.host = host
        self.port = port
        self.fd = os.open(path_to_file, os.O_RDONLY)
        self.size = os.fstat(self.fd).st_size
        if self.size == 0:
            raise SystemExit(f"{path_to_file} is empty")
        # --send: the file's first send_block bytes, sent with send() from memory instead.
        self.block = memoryview(os.pread(self.fd, min(send_block, self.size), 0)) if send_block else None
        self.sock = None
        self.buf = b""

    def send_body(self, n, offset):
        """Sends n bytes of the file from offset (wrapping at its end); returns the next offset."""
        if self.block is not None:
            while n > 0:
                k = min(n, len(self.block))
                self.sock.sendall(self.block[:k])
                n -= k
            return 0
        out = self.sock.fileno()
        while n > 0:
            sent = os.sendfile(out, self.fd, offset, min(n, self.size - offset))
            if sent == 0:
                raise OSError("sendfile sent nothing")
            n -= sent
            offset = (offset + sent) % self.size
        return offset

    def fill(self):
        d = self.sock.recv(65536)
        if not d:
            raise OSError("the server closed the connection before the response ended")
        self.buf += d

    def read_response(self):
        """One response with a Content-Length or chunked body: (status, body)."""
        while b"\r\n\r\n" not in self.buf:
            self.fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        body = b""
        if "content-length" in headers:
            n = int(headers["content-length"])
            while len(self.buf) < n:
                self.fill()
            body, self.buf = self.buf[:n], self.buf[n:]
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                while b"\r\n" not in self.buf:
                    self.fill()
                line, self.buf = self.buf.split(b"\r\n", 1)
                n = int(line.split(b";")[0], 16)
                while len(self.buf) < n + 2:
                    self.fill()
                body += self.buf[:n]
                self.buf = self.buf[n + 2:]
                if n == 0:
                    break
        return status, body.decode("utf8", "replace")

    def upload(self, path, total, chunk):
        """One POST of `total` bytes on a new connection; chunk > 0: chunked framing, chunks of that size."""
        self.sock = socket.create_connection((self.host, self.port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        try:
            framing = "transfer-encoding: chunked" if chunk else f"content-length: {total}"
            head = f"POST {path} HTTP/1.1\r\nhost: {self.host}:{self.port}\r\n{framing}\r\n\r\n".encode()
            i0 = tcp_info(self.sock)
            c0 = cpu_seconds()
            t0 = time.perf_counter()
            offset = 0
            if not chunk:
                # MSG_MORE: the head goes out with the body's first pages.
                self.sock.send(head, socket.MSG_MORE)
                self.send_body(total, 0)
            else:
                left = total
                prefix = head
                while left > 0:
                    n = min(chunk, left)
                    self.sock.sendall(prefix + b"%x\r\n" % n, socket.MSG_MORE)
                    offset = self.send_body(n, offset)
                    left -= n
                    prefix = b"\r\n"
                self.sock.sendall(prefix + b"0\r\n\r\n")
            status, body = self.read_response()
            seconds = time.perf_counter() - t0
            cpu = cpu_seconds() - c0
            i1 = tcp_info(self.sock)
        finally:
            self.sock.close()
            self.sock = None
        return {"status": status, "body": body, "bytes": total, "seconds": seconds, "cpu": cpu, "tcp": {k: i1[k] - i0[k] for k in i0}}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--file", required=True, help="the body's source; keep it in the page cache (tmpfs)")
    p.add_argument("--bytes", type=int, help="one upload of this many bytes, then exit")
    p.add_argument("--path", default="/sink")
    p.add_argument("--chunked", type=int, default=0, metavar="SIZE", help="chunked framing, SIZE-byte chunks (0: Content-Length)")
    p.add_argument("--send", type=int, default=0, metavar="SIZE", help="send() SIZE-byte blocks from memory instead of sendfile (a control)")
    a = p.parse_args()
    up = Uploader(a.host, a.port, a.file, a.send)
    if a.bytes is not None:
        print(json.dumps(up.upload(a.path, a.bytes, a.chunked)), flush=True)
        return
    for line in sys.stdin:
        parts = line.split()
        if not parts:
            continue
        chunk = (a.chunked or 1 << 20) if len(parts) > 2 and parts[2] == "chunked" else 0
        try:
            r = up.upload(parts[0], int(parts[1]), chunk)
        except OSError as e:
            r = {"error": str(e)}
        print(json.dumps(r), flush=True)


if __name__ == "__main__":
    main()
