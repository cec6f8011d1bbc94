"""Loopback TCP fault proxy of the soak: client -> 127.0.0.1:port -> 127.0.0.1:target.

Every accepted connection gets two pump threads. Faults act on all live connections:
`arm(after, action)` fires `action` ("cut": shut every connection; "stall": stop forwarding
both ways, sockets stay open) once `after` more client->server bytes have passed; `cut()`,
`stall()` and `resume()` act now. `up` counts client->server bytes (the harness calibrates
its byte budgets with it).
"""

import socket
import threading


class Proxy:
    def __init__(self, target_port):
        self.target = target_port
        self.lock = threading.Lock()
        self.conns = []
        self.up = 0
        self.refused = 0  # connections the target did not accept (sshd down or restarting)
        self.budget = None
        self.action = None
        self.stalled = threading.Event()
        self.resumed = threading.Event()
        self.resumed.set()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.closing = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closing:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(("127.0.0.1", self.target))
            except OSError:
                self.refused += 1
                client.close()
                continue
            with self.lock:
                self.conns.append((client, server))
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, src, dst, upstream):
        while True:
            try:
                data = src.recv(16384)
            except OSError:
                data = b""
            if not data:
                break
            if upstream:
                data = self._spend(data)
                if data is None:
                    break
            self.resumed.wait()
            try:
                dst.sendall(data)
            except OSError:
                break
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _spend(self, data):
        """data to forward, after firing an armed fault whose budget it reaches; None: cut."""
        with self.lock:
            self.up += len(data)
            if self.budget is None:
                return data
            if len(data) < self.budget:
                self.budget -= len(data)
                return data
            action = self.action
            self.budget = self.action = None
        if action == "cut":
            self.cut()
            return None
        self.stall()
        return data

    def arm(self, after, action):
        with self.lock:
            self.budget, self.action = max(1, after), action

    def cut(self):
        with self.lock:
            conns, self.conns = self.conns, []
        for pair in conns:
            for s in pair:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def stall(self):
        self.resumed.clear()

    def resume(self):
        self.resumed.set()

    def reset(self):
        with self.lock:
            self.budget = self.action = None
        self.resume()

    def close(self):
        self.closing = True
        self.resume()
        self.listener.close()
        self.cut()
