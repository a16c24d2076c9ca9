# The benchmark's worker: does nothing, so what is timed is process start-up.
# With an argument it sleeps that many seconds first (used to read the
# launcher's peak memory while a worker is alive).
import sys

if len(sys.argv) > 1:
    import time

    time.sleep(float(sys.argv[1]))
