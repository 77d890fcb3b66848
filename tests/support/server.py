"""The real ASGI app under uvicorn on a loopback port, in a background thread."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn


class BackgroundServer:
    def __init__(self, app: Any) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def start(self) -> BackgroundServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("test server did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()


class MountedApp:
    """An ASGI app that hands each request to the app mounted when it arrives."""

    def __init__(self) -> None:
        self.app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        app = self.app
        assert app is not None, f"a {scope['type']} request reached a server no test is using"
        await app(scope, receive, send)


class ServerPool:
    """Servers kept for the whole session: a test borrows one, mounts its app on it and
    gives it back. Starting and stopping uvicorn took a third of each harness's set-up."""

    def __init__(self) -> None:
        self._idle: list[tuple[BackgroundServer, MountedApp]] = []
        self._every: list[BackgroundServer] = []
        self._lock = threading.Lock()

    def borrow(self, app: Any) -> PooledServer:
        with self._lock:
            idle = self._idle.pop() if self._idle else None
        if idle is None:
            mounted = MountedApp()
            server = BackgroundServer(mounted).start()
            with self._lock:
                self._every.append(server)
            idle = (server, mounted)
        server, mounted = idle
        mounted.app = app
        return PooledServer(self, server, mounted)

    def give_back(self, server: BackgroundServer, mounted: MountedApp) -> None:
        mounted.app = None
        with self._lock:
            self._idle.append((server, mounted))

    def close(self) -> None:
        with self._lock:
            every, self._every, self._idle = self._every, [], []
        for server in every:
            server.stop()


class PooledServer:
    """One borrowed server: its URL, serving the borrower's app until it is given back."""

    def __init__(self, pool: ServerPool, server: BackgroundServer, mounted: MountedApp) -> None:
        self._pool = pool
        self._server = server
        self._mounted = mounted
        self.url = server.url

    def give_back(self) -> None:
        self._pool.give_back(self._server, self._mounted)


SERVERS = ServerPool()
