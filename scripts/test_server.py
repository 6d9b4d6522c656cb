#!/usr/bin/env python3
"""Loopback HTTP(S) server for the fetch tests (standard library only).

Serves the files of --dir on 127.0.0.1 at a free port and prints that port
as its first line on stdout. The last path segment names the file; earlier
segments select fault modes (any other segment is a free namespace, so each
test can keep its own per-path state):

  404        answer 404 Not Found
  500x2      answer 500 to the first two requests on this path, then serve
  drop       first request: send half the body, then close the connection;
             later requests are served (with HTTP ranges)
  wrong      serve the file with one byte changed
  slow       send a few bytes, then stall (past any low-speed timeout)
  trickle    send the body in ten pieces, 50 ms apart
  norange    ignore Range headers: always the whole file with 200
  redirect3  redirect to the same path with redirect2, then redirect1, then
             to the plain file: three hops
  endless    a body that never ends and announces no size (ends with the
             connection)
  huge       a body that announces 10^12 bytes, then never ends
  drip       the file's first 4 kB every half second, for ever (above any
             low-speed floor)

GET /__count answers "requests N ranges M" (itself not counted): every other
request, and how many of them carried a Range header.

--tls-dir DIR serves HTTPS with a self-signed certificate for 127.0.0.1
that the server creates in DIR with the openssl command (DIR/cert.pem).
The server exits when its stdin reaches end of file (the test that started
it went away) and after --lifetime seconds in any case.
"""
import argparse
import http.server
import os
import re
import socket
import ssl
import subprocess
import sys
import threading
import time

MODES = {"404", "500x2", "drop", "wrong", "slow", "trickle", "norange",
         "redirect1", "redirect2", "redirect3", "endless", "huge", "drip"}


def endless(wfile, piece, pause):
    """Writes piece for ever (until the client hangs up)."""
    try:
        while True:
            wfile.write(piece)
            wfile.flush()
            time.sleep(pause)
    except OSError:
        pass


class State:
    def __init__(self, root):
        self.root = root
        self.lock = threading.Lock()
        self.requests = 0
        self.ranges = 0
        self.per_path = {}

    def count(self, path, has_range):
        """Counts one request; returns how many came before on this path."""
        with self.lock:
            self.requests += 1
            self.ranges += 1 if has_range else 0
            seen = self.per_path.get(path, 0)
            self.per_path[path] = seen + 1
            return seen


def make_handler(state):
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def send_body(self, status, body, headers=()):
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path == "/__count":
                self.send_body(200, f"requests {state.requests} ranges {state.ranges}\n".encode())
                return
            range_header = self.headers.get("Range")
            seen = state.count(self.path, range_header is not None)
            segments = [s for s in self.path.split("?")[0].split("/") if s]
            if not segments:
                self.send_body(404, b"no file named\n")
                return
            modes = set(segments[:-1]) & MODES
            name = segments[-1]
            for hops in (3, 2, 1):
                mode = f"redirect{hops}"
                if mode in modes:
                    i = segments.index(mode)
                    rest = segments[:i] + ([f"redirect{hops - 1}"] if hops > 1 else []) + segments[i + 1:]
                    self.send_response(302)
                    self.send_header("Location", "/" + "/".join(rest))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
            if "404" in modes:
                self.send_body(404, b"not found\n")
                return
            if "500x2" in modes and seen < 2:
                self.send_body(500, b"try again\n")
                return
            path = os.path.join(state.root, name)
            if name.startswith(".") or not os.path.isfile(path):
                self.send_body(404, b"not found\n")
                return
            with open(path, "rb") as f:
                data = f.read()
            if "wrong" in modes:
                middle = len(data) // 2
                data = data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1:]
            status, start = 200, 0
            match = None if "norange" in modes else re.fullmatch(r"bytes=(\d+)-", range_header or "")
            if match:
                start = int(match.group(1))
                if start >= len(data):
                    self.send_body(416, b"", [("Content-Range", f"bytes */{len(data)}")])
                    return
                status = 206
            body = data[start:]
            if modes & {"endless", "huge", "drip"}:
                self.send_response(200)
                if "huge" in modes:
                    self.send_header("Content-Length", str(10 ** 12))
                self.end_headers()
                self.close_connection = True
                drip = "drip" in modes
                endless(self.wfile, (data * 2)[:4096] if drip else bytes(1 << 16), 0.5 if drip else 0)
                return
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.end_headers()
            if "drop" in modes and seen == 0:
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
            elif "slow" in modes:
                self.wfile.write(body[:100])
                self.wfile.flush()
                time.sleep(120)
            elif "trickle" in modes:
                piece = len(body) // 10 + 1
                for i in range(0, len(body), piece):
                    self.wfile.write(body[i:i + piece])
                    self.wfile.flush()
                    time.sleep(0.05)
            else:
                self.wfile.write(body)

    return Handler


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # clients that hang up or reject our certificate are expected


def self_signed(tls_dir):
    cert, key = os.path.join(tls_dir, "cert.pem"), os.path.join(tls_dir, "key.pem")
    if not os.path.exists(cert):
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
             "-keyout", key, "-out", cert],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


def exit_on_stdin_eof():
    while sys.stdin.buffer.read(4096):
        pass
    os._exit(0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", required=True, help="directory whose files are served")
    parser.add_argument("--tls-dir", help="serve HTTPS with a certificate made in this directory")
    parser.add_argument("--lifetime", type=float, default=300, help="exit after this many seconds")
    parser.add_argument("--exit-on-stdin-eof", action="store_true")
    args = parser.parse_args()

    server = Server(("127.0.0.1", 0), make_handler(State(os.path.abspath(args.dir))))
    if args.tls_dir:
        server.socket = self_signed(args.tls_dir).wrap_socket(
            server.socket, server_side=True, do_handshake_on_connect=False)
    if args.exit_on_stdin_eof:
        threading.Thread(target=exit_on_stdin_eof, daemon=True).start()
    threading.Timer(args.lifetime, lambda: os._exit(0)).start()
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
