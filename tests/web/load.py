#!/usr/bin/python3
"""Load for the web view (tests/web/web_test.sh): slow clients, malformed requests, and a probe
that the page still answers meanwhile.

  load.py HOST PORT SECONDS SLOW MALFORMED

SLOW clients each trickle a request one byte every 0.5 s (reconnecting when the server drops
them), MALFORMED requests of a dozen kinds are sent one after another, and every 0.5 s a
well-formed GET / is timed. Runs at most SECONDS (bounded). Prints one line of figures; exit 1
when a probe failed or took longer than 2 s.
"""
import signal
import socket
import sys
import threading
import time

host, port, seconds, n_slow, n_bad = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(
    sys.argv[4]), int(sys.argv[5])
deadline = time.monotonic() + seconds


def stop(*_):
    """SIGTERM: every thread ends at its next step; the figures are printed."""
    global deadline
    deadline = 0.0


signal.signal(signal.SIGTERM, stop)
stats = {"dropped": 0, "bad_sent": 0, "bad_400": 0, "probes": 0, "probe_fail": 0, "probe_max": 0.0}
lock = threading.Lock()

BAD = [
    b"GARBAGE\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 20000 + b"\r\n\r\n",
    b"GET / HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789",
    b"GET / HTTP/7.0\r\n\r\n",
    b"\x00\x01\x02\xff\xfe\r\n\r\n",
    b"GET /" + b"%" * 3000 + b" HTTP/1.1\r\n\r\n",
    b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\n",
    b"GET / HTTP/1.1\r\nHost x\r\n\r\n",
    b"G\x85T / HTTP/1.1\r\n\r\n",
    b"GET / HTTP/1.1\r\n" + b"H: v\r\n" * 2000 + b"\r\n",
    b"GET\r\n\r\n",
    b"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
]


def slow_client():
    request = b"GET / HTTP/1.1\r\nHost: slow\r\nUser-Agent: " + b"s" * 200 + b"\r\n\r\n"
    while time.monotonic() < deadline:
        try:
            s = socket.create_connection((host, port), timeout=2)
            for i in range(len(request)):
                if time.monotonic() >= deadline:
                    break
                s.send(request[i:i + 1])
                time.sleep(0.5)
            s.close()
        except OSError:
            with lock:
                stats["dropped"] += 1
            time.sleep(0.2)


def malformed():
    for i in range(n_bad):
        if time.monotonic() >= deadline:
            break
        try:
            s = socket.create_connection((host, port), timeout=2)
            s.sendall(BAD[i % len(BAD)])
            reply = s.recv(64)
            s.close()
            with lock:
                stats["bad_sent"] += 1
                if reply.startswith(b"HTTP/1.1 400") or reply.startswith(b"HTTP/1.0 400"):
                    stats["bad_400"] += 1
        except OSError:
            with lock:
                stats["bad_sent"] += 1


def probe():
    while time.monotonic() < deadline:
        t0 = time.monotonic()
        ok = False
        try:
            s = socket.create_connection((host, port), timeout=2)
            s.sendall(b"GET / HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            s.close()
            ok = data.startswith(b"HTTP/1.1 200") and b"</html>" in data
        except OSError:
            ok = False
        took = time.monotonic() - t0
        with lock:
            stats["probes"] += 1
            stats["probe_max"] = max(stats["probe_max"], took)
            if not ok or took > 2.0:
                stats["probe_fail"] += 1
        time.sleep(0.5)


threads = [threading.Thread(target=slow_client, daemon=True) for _ in range(n_slow)]
threads.append(threading.Thread(target=malformed, daemon=True))
threads.append(threading.Thread(target=probe, daemon=True))
for t in threads:
    t.start()
for t in threads:
    t.join(timeout=max(0.0, deadline - time.monotonic()) + 5)
print("load: %d slow clients, malformed sent %d (400: %d), probes %d (failed %d, slowest %.3f s)"
      % (n_slow, stats["bad_sent"], stats["bad_400"], stats["probes"], stats["probe_fail"],
         stats["probe_max"]))
sys.exit(1 if stats["probe_fail"] or stats["probes"] == 0 else 0)
