#!/usr/bin/env python3
"""An SFTP server that loses the answer to a rename: `lose_reply.py FLAG`.

sshd runs it as the sftp subsystem (`Subsystem sftp /usr/bin/python3 lose_reply.py FLAG`) or as
`ForceCommand` (then a command the client asked for, such as the agent's remote sha256sum, runs
as it would). It relays SFTP packets to OpenSSH's sftp-server. While the file FLAG exists, the
first rename of a `.partial` directory (SSH_FXP_RENAME or posix-rename@openssh.com: the
agent's commit) goes through and is carried out, then its status reply is dropped and the
session killed (the sftp-server, and the sshd process above this one): the server renamed, the
client never hears so. FLAG is removed then, so it happens once.
"""

import os
import signal
import struct
import subprocess
import sys
import threading

SFTP_SERVER = "/usr/lib/openssh/sftp-server"
# What SSH_ORIGINAL_COMMAND is for an sftp subsystem request under ForceCommand.
SFTP_NAMES = ("internal-sftp", "sftp-server", "sftp")
RENAME, EXTENDED, STATUS = 18, 200, 101


def packets(stream):
    """(raw packet, type, body) from an SFTP byte stream, until it ends."""
    while True:
        head = stream.read(4)
        if len(head) < 4:
            return
        body = stream.read(struct.unpack(">I", head)[0])
        yield head + body, body[0] if body else 0, body


def main():
    flag = sys.argv[1]
    original = os.environ.get("SSH_ORIGINAL_COMMAND", "")
    if original and original.split()[0].rsplit("/", 1)[-1] not in SFTP_NAMES:
        os.execvp("sh", ["sh", "-c", original])
    child = subprocess.Popen([SFTP_SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    lost = {}

    def upstream():
        for raw, kind, body in packets(sys.stdin.buffer):
            rid = struct.unpack(">I", body[1:5])[0] if len(body) >= 5 else None
            is_rename = kind == RENAME or (kind == EXTENDED and b"posix-rename@openssh.com" in body[:40])
            if is_rename and b".partial" in body and os.path.exists(flag) and "id" not in lost:
                lost["id"] = rid
                os.remove(flag)
            child.stdin.write(raw)
            child.stdin.flush()
        child.stdin.close()

    threading.Thread(target=upstream, daemon=True).start()
    for raw, kind, body in packets(child.stdout):
        rid = struct.unpack(">I", body[1:5])[0] if len(body) >= 5 else None
        if kind == STATUS and "id" in lost and rid == lost["id"]:
            child.kill()
            os.kill(os.getppid(), signal.SIGKILL)
            os._exit(0)
        sys.stdout.buffer.write(raw)
        sys.stdout.buffer.flush()


if __name__ == "__main__":
    main()
