#!/usr/bin/env python3
"""Re-creates the captures in this folder from the real sd-server / sd-cli (see README.md).

    python3 capture.py <sd-server> <sd-cli> <model.gguf> [--only=help,cli,two-jobs,...]

Runs one program at a time in a scratch folder, with the model linked there as
`sdxs-random.gguf` so that the captures hold no machine paths. stdout and stderr are read through
pipes (as the supervisor reads them) and written byte for byte. Prints what it saw (status codes,
job JSON, timings, peak RSS) as notes on stdout; the job JSON samples are written as
`sdcpp-*.json`. The step `expiry` (a 410 after the 600 s result TTL) runs only when named in
`--only`, as it waits 10 minutes.
"""
import base64
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
PORT = 18931  # fixed, so the captured "listening on" line is the same on every run
MODEL = "sdxs-random.gguf"


def note(*args):
    print(*args, flush=True)


def save(name, data):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def png_stats(data):
    """(width, height, distinct byte values) of an 8-bit RGB/RGBA PNG, with stdlib only."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, b""
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            w, h, _, ctype = struct.unpack(">IIBB", body[:10])
        elif kind == b"IDAT":
            idat += body
    ch = {2: 3, 6: 4}[ctype]
    raw, stride = zlib.decompress(idat), w * ch
    prev, seen = bytearray(stride), set()
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - ch] if i >= ch else 0
            b, c = prev[i], (prev[i - ch] if i >= ch else 0)
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        seen.update(line)
        prev = line
    return w, h, len(seen)


class Proc:
    """A child whose stdout and stderr are collected from pipes, chunk by chunk."""

    def __init__(self, argv, cwd):
        # argv[0] is the bare name: usage texts print it, and a path would tie a capture to a machine.
        self.p = subprocess.Popen([os.path.basename(argv[0])] + argv[1:], cwd=cwd, executable=argv[0],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.out, self.err = bytearray(), bytearray()
        self.threads = [threading.Thread(target=self._pump, args=(s, b), daemon=True)
                        for s, b in ((self.p.stdout, self.out), (self.p.stderr, self.err))]
        for t in self.threads:
            t.start()

    def _pump(self, stream, buf):
        while True:
            chunk = os.read(stream.fileno(), 65536)
            if not chunk:
                return
            buf.extend(chunk)

    def peak_rss_mib(self):
        with open(f"/proc/{self.p.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        return None

    def finish(self, sig=None, timeout=30):
        if sig is not None and self.p.poll() is None:
            self.p.send_signal(sig)
        rc = self.p.wait(timeout)
        for t in self.threads:
            t.join()
        return rc


def http(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{PORT}{path}", data=data, method=method,
                                 headers={"Content-Type": "application/json"} if data else {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def start_server(argv, cwd):
    srv = Proc(argv + ["-m", MODEL, "--listen-ip", "127.0.0.1", "--listen-port", str(PORT)], cwd)
    t0 = time.monotonic()
    while True:
        if srv.p.poll() is not None:
            raise RuntimeError(f"sd-server exited {srv.p.returncode}: {srv.err.decode()}")
        try:
            status, caps = http("GET", "/sdcpp/v1/capabilities")
            break
        except (ConnectionError, urllib.error.URLError):
            time.sleep(0.05)
    note(f"  ready after {time.monotonic() - t0:.2f}s: GET /sdcpp/v1/capabilities -> {status}")
    return srv, caps


def short(job):
    """The job JSON with base64 images cut, for the notes."""
    job = json.loads(json.dumps(job))
    for img in ((job.get("result") or {}).get("images") or []):
        img["b64_json"] = img["b64_json"][:24] + f"...({len(img['b64_json'])} chars)"
    return json.dumps(job)


def run_job(body, samples=None):
    """POST a job, poll every 20 ms until it ends; returns (final job, seconds, states seen)."""
    t0 = time.monotonic()
    status, accepted = http("POST", "/sdcpp/v1/img_gen", body)
    note(f"  POST img_gen -> {status} {json.dumps(accepted)}")
    assert status == 202, accepted
    seen = []
    while True:
        status, job = http("GET", f"/sdcpp/v1/jobs/{accepted['id']}")
        if not seen or seen[-1] != job["status"]:
            seen.append(job["status"])
            if samples is not None:
                samples.setdefault(job["status"], job)
        if job["status"] in ("completed", "failed", "cancelled"):
            break
        time.sleep(0.02)
    elapsed = time.monotonic() - t0
    note(f"  states {' -> '.join(seen)}; {elapsed:.2f}s from POST to {job['status']}")
    for img in ((job.get("result") or {}).get("images") or []):
        note(f"  image {img['index']}: {png_stats(base64.b64decode(img['b64_json']))} (w, h, distinct)")
    if samples is not None:
        samples["accepted"] = accepted
    return job, elapsed


def job_body(w, h, steps, batch=1):
    return {"prompt": "a cat", "width": w, "height": h, "seed": 42, "batch_count": batch,
            "sample_params": {"sample_steps": steps, "guidance": {}}}


def capture_help(server, cli, work):
    for name, exe in (("sd-server", server), ("sd-cli", cli)):
        p = Proc([exe, "--help"], work)
        rc = p.finish()
        save(f"{name}-help.txt", bytes(p.out))
        note(f"{name} --help: exit {rc}, stderr {bytes(p.err)!r}")


def capture_cli(cli, work):
    note("sd-cli 64x64, 2 steps")
    t0 = time.monotonic()
    p = Proc([cli, "-m", MODEL, "-p", "a cat", "-W", "64", "-H", "64", "--steps", "2", "-s", "42",
              "-o", "x.png"], work)
    rc = p.finish(timeout=120)
    note(f"  exit {rc} after {time.monotonic() - t0:.2f}s;"
         f" png {png_stats(open(os.path.join(work, 'x.png'), 'rb').read())} (w, h, distinct)")
    save("sd-cli-64x64-2steps.stdout", bytes(p.out))
    save("sd-cli-64x64-2steps.stderr", bytes(p.err))


def capture_two_jobs(server, work):
    note("sd-server: start, 64x64 2 steps, then 128x128 3 steps")
    srv, caps = start_server([server], work)
    save("sdcpp-capabilities.json", json.dumps(caps, indent=2) + "\n")
    samples = {}
    run_job(job_body(64, 64, 2), samples)
    note(f"  peak RSS after the first job: {srv.peak_rss_mib():.0f} MiB")
    run_job(job_body(128, 128, 3))
    status, missing = http("GET", "/sdcpp/v1/jobs/job_does_not_exist")
    note(f"  GET unknown job -> {status} {json.dumps(missing)}")
    samples["404"] = missing
    rc = srv.finish(signal.SIGTERM)
    note(f"  SIGTERM -> exit {rc}")
    save("sd-server-start-and-2-jobs.stdout", bytes(srv.out))
    save("sd-server-start-and-2-jobs.stderr", bytes(srv.err))
    for key, job in samples.items():
        save(f"sdcpp-job-{key}.json", json.dumps(job, indent=2) + "\n")


def capture_batch(server, work):
    note("sd-server: batch_count 2, 64x64 2 steps")
    srv, _ = start_server([server], work)
    job, _ = run_job(job_body(64, 64, 2, batch=2))
    note(f"  {len(job['result']['images'])} images")
    rc = srv.finish(signal.SIGTERM)
    save("sd-server-batch2.stdout", bytes(srv.out))
    save("sd-server-batch2.stderr", bytes(srv.err))
    note(f"  SIGTERM -> exit {rc}")


def capture_cancel(server, work):
    note("sd-server: cancel a generating job (256x256, 20 steps) and a queued one")
    srv, _ = start_server([server], work)
    _, first = http("POST", "/sdcpp/v1/img_gen", job_body(256, 256, 20))
    _, second = http("POST", "/sdcpp/v1/img_gen", job_body(64, 64, 2))
    while b"| 1/20" not in srv.out:
        time.sleep(0.02)
    status, body = http("GET", f"/sdcpp/v1/jobs/{second['id']}")
    note(f"  queued job -> {status} {short(body)}")
    save("sdcpp-job-queued-behind.json", json.dumps(body, indent=2) + "\n")
    status, body = http("POST", f"/sdcpp/v1/jobs/{first['id']}/cancel")
    note(f"  cancel generating -> {status} {json.dumps(body)}")
    save("sdcpp-cancel-generating-409.json", json.dumps(body, indent=2) + "\n")
    status, body = http("POST", f"/sdcpp/v1/jobs/{second['id']}/cancel")
    note(f"  cancel queued -> {status} {short(body)}")
    save("sdcpp-cancel-queued-200.json", json.dumps(body, indent=2) + "\n")
    t0 = time.monotonic()
    while True:
        status, body = http("GET", f"/sdcpp/v1/jobs/{first['id']}")
        if body["status"] not in ("queued", "generating"):
            break
        time.sleep(0.1)
    note(f"  the generating job went on: {body['status']} {time.monotonic() - t0:.1f}s after the cancel")
    status, body = http("POST", f"/sdcpp/v1/jobs/{first['id']}/cancel")
    note(f"  cancel completed -> {status} {short(body)}")
    run_job(job_body(64, 64, 2))
    rc = srv.finish(signal.SIGTERM)
    save("sd-server-cancel.stdout", bytes(srv.out))
    save("sd-server-cancel.stderr", bytes(srv.err))
    note(f"  SIGTERM -> exit {rc}")


def capture_expiry(server, work):
    """A finished job is kept 600 s, then answers 410 (for at least 60 s more), then 404."""
    note("sd-server: a job's answers after it expired (waits 610 s)")
    srv, _ = start_server([server], work)
    job, _ = run_job(job_body(64, 64, 2))
    time.sleep(610)
    status, body = http("GET", f"/sdcpp/v1/jobs/{job['id']}")
    note(f"  GET expired job -> {status} {json.dumps(body)}")
    save("sdcpp-job-410.json", json.dumps(body, indent=2) + "\n")
    status, body = http("POST", f"/sdcpp/v1/jobs/{job['id']}/cancel")
    note(f"  cancel expired job -> {status} {json.dumps(body)}")
    note(f"  SIGTERM -> exit {srv.finish(signal.SIGTERM)}")


def capture_failures(server, work):
    with open(os.path.join(work, "random.gguf"), "wb") as f:
        f.write(bytes((i * 7919 + 13) % 251 for i in range(1 << 16)))
    for name, args in (("missing-model", ["-m", "missing.gguf"]),
                       ("random-bytes", ["-m", "random.gguf"]),
                       ("unknown-flag", ["-m", MODEL, "--backend", "te=cpu"])):
        p = Proc([server] + args + ["--listen-ip", "127.0.0.1", "--listen-port", str(PORT)], work)
        rc = p.finish()
        save(f"sd-server-{name}.stdout", bytes(p.out))
        save(f"sd-server-{name}.stderr", bytes(p.err))
        note(f"sd-server {' '.join(args)}: exit {rc}")
    # The port already taken by a plain listener (no SO_REUSEPORT): sd-server loads the model,
    # then its listen() fails. Another port than PORT, whose TIME_WAIT sockets would block the
    # plain bind (sd-server's httplib binds with SO_REUSEPORT only).
    port = PORT + 1
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
        s.listen()
        p = Proc([server, "-m", MODEL, "--listen-ip", "127.0.0.1", "--listen-port", str(port)], work)
        rc = p.finish(timeout=60)
    save("sd-server-port-taken.stdout", bytes(p.out))
    save("sd-server-port-taken.stderr", bytes(p.err))
    note(f"sd-server on a taken port: exit {rc}")


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--only=")]
    if len(args) != 3:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    server, cli, model = (os.path.abspath(a) for a in args)
    work = tempfile.mkdtemp(prefix="sd-capture-")
    try:
        os.symlink(model, os.path.join(work, MODEL))
        steps = {
            "help": lambda: capture_help(server, cli, work),
            "cli": lambda: capture_cli(cli, work),
            "two-jobs": lambda: capture_two_jobs(server, work),
            "batch": lambda: capture_batch(server, work),
            "cancel": lambda: capture_cancel(server, work),
            "failures": lambda: capture_failures(server, work),
            "expiry": lambda: capture_expiry(server, work),  # 10 minutes: only when asked for
        }
        only = [a.split("=", 1)[1].split(",") for a in sys.argv if a.startswith("--only=")]
        for name, step in steps.items():
            if (name in only[0]) if only else name != "expiry":
                step()
    finally:
        shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
