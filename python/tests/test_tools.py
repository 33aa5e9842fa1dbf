"""BCC tools in their tracepoint forms (written for these tests, tests/tools/), run as
scripts against real activity."""

import os
import shutil
import socket
import tempfile
import threading

from conftest import unique


def test_opensnoop_reports_our_open(tool):
    path = os.path.join(tempfile.gettempdir(), unique("bpfhook-opensnoop"))

    def trigger():
        with open(path, "w"):
            pass
        try:
            open(path + ".missing")
        except FileNotFoundError:
            pass
        os.unlink(path)

    code, out, err = tool("opensnoop.py", "-d", "1.5", trigger=trigger)
    assert code == 0, err
    mine = [l.split() for l in out.splitlines() if path in l]
    assert any(f[0] == str(os.getpid()) and f[3] == "0" and f[4] == path for f in mine), out
    missing = [f for f in mine if f[4] == path + ".missing"]
    assert missing and missing[0][2] == "-1" and missing[0][3] == "2", out


def test_execsnoop_reports_exec_with_parent(tool):
    directory = tempfile.mkdtemp(prefix="bpfhook-execsnoop-")
    binary = os.path.join(directory, "true")
    shutil.copy("/bin/true", binary)
    try:
        code, out, err = tool("execsnoop.py", "-d", "1.5",
                              trigger=lambda: os.spawnv(os.P_WAIT, binary, [binary]))
    finally:
        shutil.rmtree(directory)
    assert code == 0, err
    rows = [l.split() for l in out.splitlines() if l.endswith(binary)]
    # The exec'ing child's parent is this test process: read through task->real_parent.
    assert rows and rows[0][2] == str(os.getpid()), out


def test_biolatency_histogram_counts_direct_io(tool):
    path = os.path.join(os.path.expanduser("~"), unique(".bpfhook-bio"))

    def trigger():
        fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_DIRECT, 0o600)
        try:
            block = bytearray(4096)
            buffer = memoryview(__import__("mmap").mmap(-1, 4096))
            buffer[:] = block
            for _ in range(32):
                os.write(fd, buffer)
            os.fsync(fd)
        finally:
            os.close(fd)
            os.unlink(path)

    code, out, err = tool("biolatency.py", "-d", "1.5", trigger=trigger)
    assert code == 0, err
    assert "     usecs               : count     distribution" in out, out
    counts = [int(l.split(":")[1].split("|")[0]) for l in out.splitlines() if "->" in l]
    assert sum(counts) >= 1, out


def test_runqlat_histogram_has_rows(tool):
    def trigger():
        threads = [threading.Thread(target=lambda: [os.sched_yield() for _ in range(2000)])
                   for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    code, out, err = tool("runqlat.py", "-d", "1", trigger=trigger)
    assert code == 0, err
    assert "usecs" in out and "distribution" in out, out
    assert sum(int(l.split(":")[1].split("|")[0]) for l in out.splitlines() if "->" in l) > 0


def test_tcplife_reports_a_local_session_with_its_bytes(tool):
    ports = {}

    def trigger():
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        ports["server"] = server.getsockname()[1]

        def serve():
            conn, _ = server.accept()
            got = 0
            while got < 5000:
                got += len(conn.recv(65536))
            conn.sendall(b"y" * 3000)
            conn.close()

        thread = threading.Thread(target=serve)
        thread.start()
        client = socket.create_connection(("127.0.0.1", ports["server"]))
        client.sendall(b"x" * 5000)
        got = 0
        while got < 3000:
            got += len(client.recv(65536))
        client.close()
        thread.join()
        server.close()

    code, out, err = tool("tcplife.py", "-d", "1.5", trigger=trigger)
    assert code == 0, err
    port = str(ports["server"])
    client_rows = [l.split() for l in out.splitlines()
                   if len(l.split()) > 5 and l.split()[5] == port]
    assert client_rows, out
    row = client_rows[0]
    assert row[0] == str(os.getpid()) and row[2] == "127.0.0.1"
    fields = dict(f.split("=") for f in row if "=" in f)
    # 5000 bytes sent and 3000 received; the kernel's counters add the SYN's and FIN's
    # sequence numbers.
    assert 5000 <= int(fields["tx_b"]) <= 5002, out
    assert 3000 <= int(fields["rx_b"]) <= 3002, out
