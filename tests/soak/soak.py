#!/usr/bin/env python3
"""Fault-injection soak of `backup run` / `backup prune` (run it as tests/soak.sh).

  tests/soak.sh [--runs N] [--seed S] [--steps K] [--only FAULT,...] [--keep]

Run i (seed S+i) is a scenario of its own: a fresh work dir, a `local` remote or a private
OpenSSH sshd on 127.0.0.1 (own host key, own authorized_keys, own config; only its own PIDs
are killed) reached through the loopback fault proxy (proxy.py), its remote directory on a
small tmpfs (root only), a retention policy and time zone drawn from the seed, and K steps.
Every agent process runs under libfaketime (clock.py): before every step the data set (a tree
and a dump, both from the seed) changes and the agent's wall clock moves on by minutes to
weeks, so snapshots spread over retention buckets. Step 0 runs clean and calibrates how long a
run takes and how many bytes it sends; every later step draws a fault from the seed: the agent
SIGKILLed at a random instant, the connection cut at a random byte or stalled, sshd killed and
restarted, `backup prune` racing `backup run`, a prune SIGKILLed, a byte of an uploaded file
flipped before verification, the commit's rename done with its answer lost (lose_reply.py is
the sshd's sftp subsystem), the remote's tmpfs filled for one run and freed (the next step
runs clean and must commit), the clock stepped back onto an existing snapshot's second,
`backup daemon` killed (SIGKILL or SIGTERM) and restarted, or its clock jumped forward or
backward while it runs (daemon_steps.py); `--only a,b` draws only those. After every step
the independent checker (check.py) inspects the remote and what the agent reported (its exit
code, the state file, `backup status --json`, the metrics file); a violation fails the run,
prints its seed (`tests/soak.sh --seed S --runs 1` replays the same schedule and data; the
instants are fractions of the measured clean run, so timing-dependent faults land near, not
at, the same byte) and keeps its work dir. At the end: the total time and the fault counts
by kind. The binary: $BACKUP_BIN, else $CARGO_TARGET_DIR/debug/backup,
else target/debug/backup.
"""

import argparse
import collections
import hashlib
import json
import os
import pwd
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # keep the work tree clean
sys.path.insert(0, HERE)
import daemon_steps  # noqa: E402
import retention  # noqa: E402
from clock import Clock  # noqa: E402
from proxy import Proxy  # noqa: E402

HANG = 120  # seconds: an agent still running then is a violation (hung), not a slow run
SFTP_FAULTS = {"clean": 1, "kill": 4, "cut": 3, "stall": 1, "stall_kill": 1, "sshd_kill": 2,
               "prune_race": 2, "prune_kill": 1, "corrupt": 2, "reply_lost": 1, "disk_full": 2,
               "clock_back": 1, "daemon_restart": 1, "daemon_jump": 1}
LOCAL_FAULTS = {"clean": 1, "kill": 4, "prune_race": 2, "prune_kill": 1, "corrupt": 2,
                "clock_back": 1, "daemon_restart": 1, "daemon_jump": 1}
ZONES = ["UTC", "Europe/Berlin", "America/New_York"]
TMPFS = "256m"  # the sftp remote's disk: room for a history, small enough to fill at once
# The dump command: its output, then, while the harness wants a window before verification
# ("corrupt"), a pause with its stream still open.
DUMP = 'cat "$0"; if [ -e "$0.slow" ]; then sleep 2; fi'


def binary():
    if os.environ.get("BACKUP_BIN"):
        return os.path.abspath(os.environ["BACKUP_BIN"])
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(HERE, "..", "..", "target"))
    return os.path.abspath(os.path.join(target, "debug", "backup"))


class Sshd:
    """A private sshd: fresh host and client keys, key auth only, foreground, own PID."""

    def __init__(self, d):
        self.d, self.proc = d, None
        os.makedirs("/run/sshd", exist_ok=True)
        for key in ("host_ed25519", "client_ed25519"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "soak",
                            "-f", f"{d}/{key}"], check=True)
        shutil.copy(f"{d}/client_ed25519.pub", f"{d}/authorized_keys")
        os.chmod(f"{d}/authorized_keys", 0o600)
        self.port = free_port()
        with open(f"{d}/sshd_config", "w") as f:
            f.write(f"""Port {self.port}
ListenAddress 127.0.0.1
HostKey {d}/host_ed25519
PidFile {d}/sshd.pid
AuthorizedKeysFile {d}/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
MaxStartups 100
Subsystem sftp {sys.executable} {HERE}/lose_reply.py {d}/lose-rename-reply
SetEnv SHLVL=1
""")
        self.start()

    def start(self):
        self.proc = subprocess.Popen(["/usr/sbin/sshd", "-D", "-E", f"{self.d}/sshd.log",
                                      "-f", f"{self.d}/sshd_config"], stdin=subprocess.DEVNULL)
        for _ in range(200):
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    if s.recv(4).startswith(b"SSH"):
                        return
            except OSError:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"sshd did not start; see {self.d}/sshd.log")

    def kill(self):
        """SIGKILL the listener and every session it forked (found through /proc)."""
        if self.proc is None:
            return
        for pid in [self.proc.pid] + descendants(self.proc.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait()
        self.proc = None

    def host_key(self):
        with open(f"{self.d}/host_ed25519.pub") as f:
            return " ".join(f.read().split()[:2])


def descendants(pid):
    out = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                for c in f.read().split():
                    out += [int(c)] + descendants(int(c))
    except OSError:
        pass
    return out


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DataSet:
    """The tree and the dump the job backs up; each step changes them, from the seed."""

    def __init__(self, root, rng):
        self.src, self.dump, self.rng = f"{root}/src", f"{root}/db.sql", rng
        os.makedirs(f"{self.src}/a/b")
        os.makedirs(f"{self.src}/empty")
        os.symlink("a/b", f"{self.src}/link")
        for _ in range(rng.randint(3, 8)):
            self._write(self._path())

    def _path(self):
        return f"{self.src}/{self.rng.choice(['', 'a/', 'a/b/'])}f{self.rng.randrange(40)}"

    def _write(self, path):
        rng = self.rng
        if rng.random() < 0.15:  # a big incompressible file: runs last long enough to hit
            data = rng.randbytes(rng.randint(256, 2048) * 1024)
        else:
            words = [rng.choice(["alpha", "beta", "gamma", "\n", str(rng.random())])
                     for _ in range(rng.randint(0, 6000))]
            data = " ".join(words).encode()
        with open(path, "wb") as f:
            f.write(data)
        os.chmod(path, rng.choice([0o644, 0o600, 0o755]))

    def change(self, seed, step):
        rng = self.rng
        files = sorted(os.path.join(t, n) for t, _, ns in os.walk(self.src) for n in ns
                       if not os.path.islink(os.path.join(t, n)))
        for _ in range(rng.randint(0, 2)):
            if len(files) > 2:
                os.remove(files.pop(rng.randrange(len(files))))
        for _ in range(rng.randint(1, 3)):
            self._write(rng.choice(files) if files and rng.random() < 0.6 else self._path())
        with open(f"{self.src}/stamp", "w") as f:
            f.write(f"seed {seed} step {step}\n")
        with open(self.dump, "w") as f:  # above the agent's default min_bytes (512)
            f.write(f"-- dump of seed {seed} step {step}\n")
            f.write("".join(f"INSERT {rng.random()};\n" for _ in range(rng.randint(40, 3000))))

    def expect(self):
        tree = subprocess.run([sys.executable, f"{HERE}/check.py", "digest", self.src],
                              capture_output=True, text=True, check=True).stdout.strip()
        with open(self.dump, "rb") as f:
            dump = hashlib.sha256(f.read()).hexdigest()
        return {"tree": tree, "dumps": {"db.sql": dump}}


class Scenario:
    def __init__(self, seed, steps, bin_path, counts, only):
        self.seed, self.steps, self.bin, self.counts = seed, steps, bin_path, counts
        self.rng = random.Random(seed)
        self.w = tempfile.mkdtemp(prefix=f"backup-soak-{seed}-")
        self.kind = "sftp" if self.rng.random() < 0.7 else "local"
        self.only = only
        if only and not set(only) & set(LOCAL_FAULTS):
            self.kind = "sftp"
        self.sshd = self.proxy = self.mounted = None
        self.data = DataSet(f"{self.w}/data", self.rng)
        self.policy, self.tz = retention.draw(self.rng), self.rng.choice(ZONES)
        self.clock = Clock(self.w, self.rng)
        remote_dir = f"{self.w}/remote"
        os.makedirs(remote_dir)
        self.ledger = {"job": "soak", "job_dir": f"{remote_dir}/soak", "source": self.data.src,
                       "policy": self.policy, "timezone": self.tz,
                       "state_file": f"{self.w}/state/state.json", "steps": []}
        if self.kind == "sftp":
            self.sshd = Sshd(self.w)
            self.proxy = Proxy(self.sshd.port)
            with open(f"{self.w}/known_hosts", "w") as f:
                f.write(f"[127.0.0.1]:{self.proxy.port} {self.sshd.host_key()}\n")
            remote = (f'host = "127.0.0.1"\nport = {self.proxy.port}\nuser = "{user()}"\n'
                      f'identity_file = "{self.w}/client_ed25519"\n'
                      f'known_hosts = "{self.w}/known_hosts"\nconnect_timeout = "10s"\n')
        else:
            remote = 'type = "local"\n'
        self.config = f"{self.w}/config.toml"
        rules = "".join(f"{k} = {json.dumps(v)}\n" for k, v in self.policy.items())
        with open(self.config, "w") as f:
            f.write(f"""[agent]
state_dir = "{self.w}/state"
timezone = "{self.tz}"
shutdown_timeout = "60s"
[remotes.r]
{remote}path = "{remote_dir}"
[jobs.soak]
remote = "r"
sources = ["{self.data.src}"]
timeout = "90s"
# Only `backup daemon` steps use it: a scheduled time every {daemon_steps.PERIOD} seconds.
schedule = "*/{daemon_steps.PERIOD} * * * * *"
[[jobs.soak.commands]]
name = "db.sql"
run = ["sh", "-c", {json.dumps(DUMP)}, "{self.data.dump}"]
[jobs.soak.retention]
{rules}""")
        self.dur, self.up = 0.5, 100_000
        if self.kind == "sftp":
            self.mounted = mount_tmpfs(remote_dir)

    def close(self, keep):
        if self.proxy:
            self.proxy.close()
        if self.sshd:
            self.sshd.kill()
        if self.mounted:
            if keep:  # the evidence outlives the mount
                shutil.copytree(self.mounted, f"{self.w}/remote-kept", symlinks=True)
            unmount(self.mounted)
        if not keep:
            shutil.rmtree(self.w, ignore_errors=True)

    def start(self, what, tag, job="soak", env=None):
        err = open(f"{self.w}/{tag}.err", "w")
        argv = [self.bin, "--config", self.config, what] + ([job] if job else [])
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                             env=env or self.clock.env())
        p.log, p.t0 = f"{self.w}/{tag}.err", time.monotonic()
        return p

    def finish(self, p, kill_after=None):
        """{"exit": code | "killed", ...}; SIGKILLs p after kill_after seconds if it still runs."""
        killed = False
        if kill_after is not None:
            try:
                p.wait(timeout=max(0.0, kill_after - (time.monotonic() - p.t0)))
            except subprocess.TimeoutExpired:
                phase = kill_phase(p.log)
                p.send_signal(signal.SIGKILL)
                killed = True
                self.counts[f"kill phase: {phase}"] += 1
        try:
            code = p.wait(timeout=HANG)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            return {"exit": f"hung for {HANG}s"}
        # How long the run took: the latest its snapshot's id can be after its start.
        took = round(time.monotonic() - p.t0, 3)
        if killed:
            return {"exit": "killed", "seconds": took}
        if code < 0:
            return {"exit": f"died of signal {-code}", "seconds": took}
        with open(p.log) as f:
            m = re.findall(r'snapshot="(\d{8}T\d{6}Z)"', f.read())
        return {"exit": code, "snapshot": m[-1] if m else None, "seconds": took}

    def step(self, k, fault, must_commit=False):
        rng, rec = self.rng, {"step": k, "fault": fault, "must_commit": must_commit}
        self.data.change(self.seed, k)
        self.clock.advance()
        rec["data"] = self.data.expect()
        if self.proxy:
            self.proxy.reset()
            up0 = self.proxy.up
        t0 = time.monotonic()
        tag = f"step{k}"
        if fault == "clean":
            rec["runs"] = [self.finish(self.start("run", tag))]
            if k == 0 and rec["runs"][0]["exit"] == 0:
                self.dur = time.monotonic() - t0
                self.up = self.proxy.up - up0 if self.proxy else self.up
        elif fault == "kill":
            rec["runs"] = [self.finish(self.start("run", tag), rng.uniform(0, 1.3) * self.dur)]
        elif fault in ("cut", "stall", "stall_kill"):
            self.proxy.arm(int(rng.uniform(0, 1.1) * self.up), "cut" if fault == "cut" else "stall")
            p = self.start("run", tag)
            if fault == "cut":
                rec["runs"] = [self.finish(p)]
            else:
                hold = rng.uniform(0.3, 2.5)
                while p.poll() is None and self.proxy.resumed.is_set():
                    time.sleep(0.01)
                if fault == "stall":
                    time.sleep(hold)
                    self.proxy.resume()
                    rec["runs"] = [self.finish(p)]
                else:
                    rec["runs"] = [self.finish(p, time.monotonic() - p.t0 + hold / 2)]
                    self.proxy.resume()
        elif fault == "sshd_kill":
            p = self.start("run", tag)
            delay, down = rng.uniform(0, 1.2) * self.dur, rng.uniform(0, 0.5)
            try:
                p.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                self.counts[f"sshd kill phase: {kill_phase(p.log)}"] += 1
            self.sshd.kill()
            time.sleep(down)
            self.sshd.start()
            rec["runs"] = [self.finish(p)]
        elif fault == "prune_race":
            offset = rng.uniform(-0.5, 1.0) * self.dur
            first, second = ("run", "prune") if offset >= 0 else ("prune", "run")
            a = self.start(first, f"{tag}-{first}")
            time.sleep(abs(offset))
            b = self.start(second, f"{tag}-{second}")
            done = {first: self.finish(a), second: self.finish(b)}
            rec["runs"], rec["prunes"] = [done["run"]], [done["prune"]]
        elif fault == "reply_lost":
            flag = f"{self.w}/lose-rename-reply"
            open(flag, "w").close()
            rec["runs"] = [self.finish(self.start("run", tag))]
            self.counts["reply_lost " + ("hit the commit" if not os.path.exists(flag) else "no rename")] += 1
            if os.path.exists(flag):
                os.remove(flag)
        elif fault == "corrupt":
            rec["runs"] = [self.corrupt(tag, rng)]
        elif fault == "prune_kill":
            p = self.start("prune", tag)
            rec["prunes"] = [self.finish(p, rng.uniform(0, 1.0) * self.dur)]
        elif fault == "clock_back":
            rec["runs"] = [self.clock_back(tag, rng)]
        elif fault == "disk_full":
            rec["runs"] = [self.disk_full(tag, rng)]
        elif fault == "daemon_restart":
            rec["runs"], rec["daemon"] = [], daemon_steps.restart(self, tag, rng)
        elif fault == "daemon_jump":
            rec["runs"], rec["daemon"] = [], daemon_steps.jump(self, tag, rng)
        rec["status"], rec["metrics"] = self.reports()
        self.ledger["steps"].append(rec)
        with open(f"{self.w}/ledger.json", "w") as f:
            json.dump(self.ledger, f, indent=1)
        r = subprocess.run([sys.executable, f"{HERE}/check.py", "step", f"{self.w}/ledger.json"],
                           capture_output=True, text=True)
        bad = [line for line in (r.stdout + r.stderr).splitlines() if line] or (
            [f"checker exited {r.returncode}"] if r.returncode else [])
        # The harness's own servers: a violation they caused is the harness's, and says so.
        if bad and self.sshd and self.sshd.proc.poll() is not None:
            bad.append(f"(harness: sshd died by itself, exit {self.sshd.proc.returncode}; see sshd.log)")
        if bad and self.proxy and self.proxy.refused:
            bad.append(f"(harness: the proxy could not reach sshd {self.proxy.refused} time(s) so far)")
        return bad

    def reports(self):
        """What `backup status --json` and the metrics file say after the step."""
        r = subprocess.run([self.bin, "--config", self.config, "status", "--json"],
                           capture_output=True, text=True, env=self.clock.env(), timeout=HANG)
        try:
            status = json.loads(r.stdout)
        except ValueError:
            status = f"exit {r.returncode}, not JSON: {(r.stdout + r.stderr).strip()[:300]}"
        try:
            with open(f"{self.w}/state/metrics.prom") as f:
                text = f.read()
        except OSError as e:
            text = f"# {e}"
        return status, text

    def clock_back(self, tag, rng):
        """The clock steps back onto an existing snapshot's second (or just before it): the
        run's id comes round again and must not touch the snapshot that has it."""
        from check import id_time, scan
        ids, _ = scan(self.ledger["job_dir"])
        if ids:
            target = id_time(rng.choice(ids)).timestamp() + rng.uniform(-1.5, 0.9)
            self.clock.jump(target - self.clock.now())
        self.counts["clock_back " + ("onto a snapshot's second" if ids else "nothing to land on")] += 1
        return self.finish(self.start("run", tag))

    def disk_full(self, tag, rng):
        """The remote's disk fills (a junk file leaves less room than the run needs) for one
        run, then is freed; the run must fail cleanly, and the next one (forced clean) commit."""
        junk = f"{self.mounted}/junk"
        st = os.statvfs(self.mounted)
        # The run first removes what killed runs left (their .partial): that room is not free.
        job_dir = self.ledger["job_dir"]
        left = sum(os.path.getsize(os.path.join(t, n)) for d in os.listdir(job_dir)
                   if d.endswith(".partial") for t, _, ns in os.walk(os.path.join(job_dir, d))
                   for n in ns) if os.path.isdir(job_dir) else 0
        leave = int(rng.uniform(0, 0.5) * self.up) - left
        with open(junk, "wb") as f:
            free = st.f_bavail * st.f_frsize
            os.posix_fallocate(f.fileno(), 0, min(free, max(0, free - leave)))
        try:
            run = self.finish(self.start("run", tag))
        finally:
            os.remove(junk)
        self.counts["disk_full " + ("run failed" if run["exit"] == 1 else "run fit anyway")] += 1
        return run

    def corrupt(self, tag, rng):
        """The remote disk flips a byte of the finished files.tar.zst in the `.partial` while
        the dump still runs (so before verification): the run must fail and commit nothing."""
        open(f"{self.data.dump}.slow", "w").close()
        p, job_dir, hit = self.start("run", tag), self.ledger["job_dir"], None
        try:
            deadline = time.monotonic() + 1.5
            while hit is None and p.poll() is None and time.monotonic() < deadline:
                time.sleep(0.02)
                for n in os.listdir(job_dir) if os.path.isdir(job_dir) else []:
                    f = f"{job_dir}/{n}/files.tar.zst"
                    try:
                        if n.endswith(".partial") and os.path.getsize(f) > 0:
                            size = os.path.getsize(f)
                            time.sleep(0.15)  # the tar stream's last write has landed
                            if os.path.getsize(f) == size:
                                hit = f
                    except OSError:  # not there yet, or committed (renamed) meanwhile
                        pass
            try:
                if hit:
                    with open(hit, "r+b") as f:
                        f.seek(rng.randrange(os.path.getsize(hit)))
                        b = f.read(1)
                        f.seek(-1, 1)
                        f.write(bytes([b[0] ^ 0x5A]))
            except OSError:  # the run committed (renamed the .partial) first
                hit = None
            self.counts["corrupt " + ("flipped a byte" if hit else "missed the window")] += 1
            return self.finish(p)
        finally:
            os.remove(f"{self.data.dump}.slow")

    def run(self):
        faults = SFTP_FAULTS if self.kind == "sftp" else LOCAL_FAULTS
        names = [n for n in faults if (not self.only or n in self.only)
                 and (n != "disk_full" or self.mounted)] or ["clean"]
        weights = [faults[n] for n in names]
        after_full = False
        for k in range(self.steps):
            fault = "clean" if k == 0 or after_full else self.rng.choices(names, weights)[0]
            self.counts[f"{self.kind} {fault}"] += 1
            bad = self.step(k, fault, must_commit=after_full)
            if bad:
                return [f"step {k} ({fault}): {b}" for b in bad]
            after_full = fault == "disk_full"
        return []


def kill_phase(log):
    """What the agent had logged when it was hit: where in the run the fault landed."""
    try:
        with open(log) as f:
            text = f.read()
    except OSError:
        return "?"
    for needle, phase in (("removed by retention", "prune"), ("committed", "after commit"),
                          ("finished in", "upload/verify (dump done)"),
                          ("command=", "streaming"), ("run started", "connect")):
        if needle in text:
            return phase
    return "start"


def mount_tmpfs(d):
    """A small tmpfs on d (root only): the remote disk the disk_full fault fills. None when it
    cannot be mounted (not root): the scenario then draws no disk_full."""
    if os.getuid() != 0:
        return None
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS},mode=0755", "soak-remote", d],
                       capture_output=True, text=True)
    if r.returncode != 0:
        print(f"soak: cannot mount a tmpfs on {d} ({r.stderr.strip()}); no disk_full faults",
              file=sys.stderr)
        return None
    return d


def unmount(d):
    """Unmounts the scenario's tmpfs; sshd's sessions, just SIGKILLed, may take a moment to
    let go of it, and a mount must never outlive the soak: lazily, as the last resort."""
    for _ in range(50):
        if subprocess.run(["umount", d], capture_output=True).returncode == 0:
            return
        time.sleep(0.1)
    subprocess.run(["umount", "-l", d], check=False)


def user():
    return pwd.getpwuid(os.getuid()).pw_name


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--only", type=lambda v: v.split(","), default=None,
                    help="draw only these faults (comma list), e.g. --only kill,cut")
    ap.add_argument("--keep", action="store_true", help="keep every work dir, not only failed ones")
    a = ap.parse_args()
    # SIGTERM (a CI timeout) unwinds like Ctrl-C: every scenario's finally unmounts its tmpfs.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    bin_path = binary()
    if not os.access(bin_path, os.X_OK):
        sys.exit(f"soak: no binary at {bin_path}; run cargo build (or set BACKUP_BIN)")
    counts, failed, t0 = collections.Counter(), [], time.monotonic()
    for seed in range(a.seed, a.seed + a.runs):
        sc, bad = None, None
        try:
            sc = Scenario(seed, a.steps, bin_path, counts, a.only)
            bad = sc.run()
        finally:
            if sc:
                sc.close(keep=a.keep or bad != [])
        if bad:
            failed.append(seed)
            print(f"FAIL seed {seed} ({sc.kind}); replay: tests/soak.sh --seed {seed} --runs 1 "
                  f"--steps {a.steps}{' --only ' + ','.join(a.only) if a.only else ''}; kept {sc.w}", flush=True)
            for b in bad:
                print(f"  {b}", flush=True)
        else:
            print(f"ok   seed {seed} ({sc.kind})", flush=True)
    print(f"soak: {a.runs} run(s), seeds {a.seed}..{a.seed + a.runs - 1}, {a.steps} steps each, "
          f"total time {time.monotonic() - t0:.0f}s, binary {bin_path}")
    print("fault counts by kind (scenario kind and fault; then where the faults landed):")
    for k in sorted(counts):
        print(f"  {counts[k]:5d}  {k}")
    if failed:
        print(f"soak: FAILED seeds {failed}")
        sys.exit(1)


if __name__ == "__main__":
    main()
