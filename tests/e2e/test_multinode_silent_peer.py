"""A machine 1 whose main_process_ip:port is not machine 0's store but something that
answers part of a reply and then stays silent (or a machine 0 frozen mid-answer): the
launcher gives up within --rdzv_timeout plus the 10 s a due reply may take, with one line
naming the endpoint, instead of waiting forever."""
import socket
import subprocess
import threading
import time

from lib import ACCELERATE, TempDir, check, clean_env, finish

listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(8)
port = listener.getsockname()[1]
held = []


def serve():
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        held.append(conn)
        try:
            conn.recv(4096)
            conn.sendall(b"\x00\x00")  # half of the 4-byte answer to PING, then nothing
        except OSError:
            pass


threading.Thread(target=serve, daemon=True).start()

with TempDir() as tmp:
    t0 = time.monotonic()
    try:
        r = subprocess.run([ACCELERATE, "launch", "--multi_gpu", "--num_machines", "2", "--num_processes", "4",
                            "--machine_rank", "1", "--main_process_ip", "127.0.0.1", "--main_process_port", str(port),
                            "--rdzv_timeout", "3", "--no_python", "/bin/true"], cwd=tmp, env=clean_env(tmp),
                           capture_output=True, text=True, timeout=60)
        code, err = r.returncode, r.stderr
    except subprocess.TimeoutExpired:
        code, err = None, "<still waiting after 60 s>"
    took = time.monotonic() - t0
    check(code == 1 and took < 20, "a silent peer: exit 1 within 20 s (got %s after %.1f s)" % (code, took))
    lines = [l for l in err.splitlines() if "machine 1" in l]
    check(len(lines) == 1 and "did not answer within 10 s" in lines[0] and "127.0.0.1:%d" % port in lines[0],
          "one line naming the endpoint and the silence (%r)" % err[-500:])
listener.close()
for c in held:
    c.close()
finish()
