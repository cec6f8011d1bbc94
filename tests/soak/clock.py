"""The agent's wall clock in the soak: libfaketime (LD_PRELOAD) moves what the real binary's
clock_gettime(CLOCK_REALTIME) returns, so snapshot ids, retention buckets and the daemon's
schedule see a virtual time, without a test-only code path in the product. The monotonic
clock is left alone (FAKETIME_DONT_FAKE_MONOTONIC): timeouts and tokio's timers keep real time,
as they do across an NTP step.

Before every step the virtual clock moves forward by minutes, hours, days or weeks (from the
seed), so a scenario's snapshots spread over many retention buckets. A `backup run` or `prune`
gets a fixed offset (FAKETIME); a daemon reads the offset from a file on every call
(FAKETIME_TIMESTAMP_FILE, FAKETIME_NO_CACHE), so the harness can jump its clock while it runs.
"""

import glob
import os
import time

LIBS = glob.glob("/usr/lib/*/faketime/libfaketime.so.1") + glob.glob("/usr/lib/faketime/libfaketime.so.1")


class Clock:
    def __init__(self, w, rng):
        if not LIBS:
            raise RuntimeError("libfaketime is missing: apt-get install faketime (tests/soak.sh does)")
        self.lib, self.file, self.rng, self.offset = LIBS[0], f"{w}/faketime", rng, 0
        self._write()

    def advance(self):
        """The time between two steps: mostly within the hour or day, sometimes weeks."""
        r = self.rng.random()
        if r < 0.35:
            gap = self.rng.uniform(60, 3000)
        elif r < 0.65:
            gap = self.rng.uniform(3600, 20 * 3600)
        elif r < 0.9:
            gap = self.rng.uniform(86400, 9 * 86400)
        else:
            gap = self.rng.uniform(10 * 86400, 80 * 86400)
        self.offset += int(gap)
        self._write()

    def jump(self, seconds):
        """Moves the clock of a running daemon (and of every later step) by `seconds`."""
        self.offset += int(seconds)
        self._write()

    def now(self):
        """The virtual time now, in Unix seconds."""
        return time.time() + self.offset

    def _write(self):
        tmp = f"{self.file}.tmp"
        with open(tmp, "w") as f:
            f.write(f"{self.offset:+d}\n")
        os.replace(tmp, self.file)

    def env(self, live=False):
        """The environment of an agent process: a fixed offset, or (live) the file's."""
        env = dict(os.environ)
        env["LD_PRELOAD"] = " ".join(filter(None, [self.lib, env.get("LD_PRELOAD")]))
        env["FAKETIME_DONT_FAKE_MONOTONIC"] = "1"
        if live:
            env["FAKETIME_TIMESTAMP_FILE"] = self.file
            env["FAKETIME_NO_CACHE"] = "1"
        else:
            env["FAKETIME"] = f"{self.offset:+d}"
        return env
