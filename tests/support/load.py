"""
A small HTTP load generator for the tests and benchmarks: ``clients`` threads,
each with its own keep-alive connection, sending GETs back to back (with an
optional pause) until stopped, and counting every answer by status and every
socket error by kind. Only for loopback or the test bed's own containers.
With ``tls``, HTTPS without verifying the certificate: the load counts answers;
the tests verify certificates with their own clients.

A client sends its next request on its idle keep-alive connection blindly, as
Python's http.client does, and retries nothing.
"""

import collections
import http.client
import ssl
import threading
import time

# Between two requests each client of a deploy under load waits DEPLOY_PAUSE seconds: 50
# clients on keep-alive connections then send about 100 requests a second. At 0.1 s the
# load alone kept both cores of the test machines busy and each deploy took three times as
# long; the concurrency during a drain, a switch or a reload is the same.
DEPLOY_PAUSE = 0.5


class Load:
    def __init__(self, host, port=80, paths=("/",), clients=50, host_header="localhost", pause=0.0,
                 timeout=30, tls=None):
        self.host, self.port, self.paths = host, port, list(paths)
        self.context = None  # one for every client's connections
        if (port == 443 if tls is None else tls):
            self.context = ssl.create_default_context()
            self.context.check_hostname = False
            self.context.verify_mode = ssl.CERT_NONE
        self.clients, self.host_header, self.pause, self.timeout = clients, host_header, pause, timeout
        self.statuses = collections.Counter()
        self.errors = collections.Counter()
        self.served_by = collections.Counter()
        self.latencies = []
        self.failures = []  # (time, what) of the first non-2xx answers and errors
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = []
        self.started = self.stopped = None

    def _record(self, path, status=None, error=None, latency=None, served_by=None):
        with self._lock:
            if status is not None:
                self.statuses[status] += 1
                self.latencies.append(latency)
                if served_by:
                    self.served_by[served_by] += 1
                if not 200 <= status < 300 and len(self.failures) < 20:
                    self.failures.append((round(time.monotonic() - self.started, 2), path, f"status {status}",
                                          served_by))
            if error is not None:
                self.errors[error] += 1
                if len(self.failures) < 20:
                    self.failures.append((round(time.monotonic() - self.started, 2), path, error))

    def _client(self, index):
        conn = None
        n = index
        while not self._stop.is_set():
            path = self.paths[n % len(self.paths)]
            n += 1
            if conn is None:
                if self.context:
                    conn = http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout,
                                                       context=self.context)
                else:
                    conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            start = time.monotonic()
            try:
                conn.request("GET", path, headers={"Host": self.host_header})
                response = conn.getresponse()
                response.read()
                self._record(path, status=response.status, latency=time.monotonic() - start,
                             served_by=response.getheader("X-Served-By"))
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException, ssl.SSLError) as exc:
                self._record(path, error=f"{type(exc).__name__}: {exc}")
                conn.close()
                conn = None
            if self.pause:
                self._stop.wait(self.pause)
        if conn is not None:
            conn.close()

    def start(self):
        self.started = time.monotonic()
        for i in range(self.clients):
            thread = threading.Thread(target=self._client, args=(i,), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self):
        self._stop.set()
        for thread in self._threads:
            thread.join(self.timeout + 5)
        self.stopped = time.monotonic()
        return self.summary()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        if self.stopped is None:
            self.stop()

    def summary(self):
        with self._lock:
            ok = sum(n for s, n in self.statuses.items() if 200 <= s < 300)
            total = sum(self.statuses.values())
            lat = sorted(self.latencies)
            seconds = (self.stopped or time.monotonic()) - self.started

            def pct(p):
                return lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else None

            return {
                "clients": self.clients,
                "seconds": seconds,
                "requests": total,
                "ok": ok,
                "non_2xx": total - ok,
                "errors": sum(self.errors.values()),
                "failed": total - ok + sum(self.errors.values()),
                "statuses": dict(self.statuses),
                "error_kinds": dict(self.errors),
                "served_by": dict(self.served_by),
                "rps": total / seconds if seconds else 0.0,
                "p50_ms": pct(0.50),
                "p99_ms": pct(0.99),
                "first_failures": list(self.failures),
            }


def no_failure(summary):
    """(ok, message) for a load summary: more than 200 requests, every answer a 2xx, no socket
    error; the message gives the counts, then the first failures (time, path, what)."""
    return (summary["requests"] > 200 and summary["failed"] == 0,
            f"{summary['requests']} requests, statuses {summary['statuses']}, errors {summary['error_kinds']}, "
            f"first failures {summary['first_failures']}")
