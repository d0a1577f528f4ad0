"""The test-side rclpy node: its own context, its own ``ROS_DOMAIN_ID``, spun by the test.

Every probe owns an ``rclpy.Context`` and an executor of that context, never the process's
default context or rclpy's global executor: a test that fails half way, or a CLI command run
in-process before it, then leaves nothing that the next test's probe would inherit (a default
context still initialised, an executor bound to a context already shut down). The domain id
is passed to ``rclpy.init``, not set in ``os.environ``.

What stays process-wide, and what a test must therefore not change in this process, is
Fast DDS's own start-up state: it reads ``ROS_DISCOVERY_SERVER`` (and the default XML profile)
once, when the process's first participant is created after the variable is set, and every
later participant of the process keeps it. A command that needs a discovery server (``ladon-ros
demo --discovery-server``) runs in a subprocess (test_fleet_demo.py); run in-process, it left
every later probe a client of its stopped server, deaf to the nodes of the next test.
"""
from __future__ import annotations

import contextlib
import os
import threading
import time


def spin_until(node, done, timeout: float, executor=None) -> bool:
    """Spins ``node`` until ``done()`` is true (True) or ``timeout`` seconds pass (False).

    Args:
        node: An rclpy node.
        done: Called after every spin; True ends the wait.
        timeout: Seconds to wait at most.
        executor: The executor to spin with (default: rclpy's global one, which serves only
            nodes of the default context).
    """
    import rclpy
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if executor is None:
            rclpy.spin_once(node, timeout_sec=0.05)
        else:
            executor.spin_once(timeout_sec=0.05)
        if done():
            return True
    return False


class Probe:
    """An rclpy node of the test on its own context and domain.

    Use as a context manager (or call ``close``): the node is destroyed before its context
    shuts down on every path (left to the interpreter's exit after a failed assert, Fast DDS
    deadlocked destroying its publishers and pytest hung).

    Args:
        name: Node name.
        domain_id: ``ROS_DOMAIN_ID`` of the node processes it talks to.
    """

    def __init__(self, name: str, domain_id: int):
        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        self.domain_id = domain_id
        self.context = rclpy.Context()
        rclpy.init(context=self.context, domain_id=domain_id)
        self.node = rclpy.create_node(name, context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._thread: threading.Thread | None = None

    def listen(self, msg_type, topic: str, profile, callback=None, **kwargs) -> list:
        """Subscribes to ``topic``; returns the list every message is appended to.

        Args:
            msg_type: Message class.
            topic: Topic name (relative names resolve in the root namespace).
            profile: QoS profile.
            callback: Called with each message (or with ``(msg, info)`` when it takes two
                arguments) instead of appending it; the returned list then stays empty.
            kwargs: Passed to ``create_subscription`` (``raw=True``, ...).
        """
        got: list = []
        self.node.create_subscription(msg_type, topic, callback or got.append, profile, **kwargs)
        return got

    def spin_until(self, done, timeout: float, poll_s: float = 0.05) -> bool:
        """Spins until ``done()`` is true (True) or ``timeout`` seconds pass (False).

        Spinning in the background (``spin_in_background``), ``done`` is polled every ``poll_s``.
        """
        if self._thread is not None:
            end = time.monotonic() + timeout
            while time.monotonic() < end:
                if done():
                    return True
                time.sleep(poll_s)
            return bool(done())
        return spin_until(self.node, done, timeout, self.executor)

    def spin_for(self, seconds: float) -> None:
        """Spins (delivers callbacks) for ``seconds``."""
        self.spin_until(lambda: False, seconds)

    def spin_in_background(self) -> None:
        """Spins in a daemon thread from now on (callbacks then run there: guard shared state);
        ``spin_until`` then only polls ``done``."""
        self._thread = threading.Thread(target=self.executor.spin, daemon=True)
        self._thread.start()

    def listed(self, full_name: str) -> bool:
        """True when node ``full_name`` (``/ns/name``) is in this probe's view of the graph."""
        return full_name in {(ns.rstrip('/') + '/' + n) for n, ns in self.node.get_node_names_and_namespaces()}

    def wait_listed(self, full_name: str, timeout: float) -> bool:
        """Spins until node ``full_name`` is listed (True) or ``timeout`` seconds pass (False)."""
        return self.spin_until(lambda: self.listed(full_name), timeout)

    def close(self) -> None:
        """Stops the executor, destroys the node, shuts the context down (idempotent)."""
        import rclpy
        if self.context is None:
            return
        self.executor.shutdown(timeout_sec=2.0)
        if self._thread is not None:
            self._thread.join(5.0)
        self.node.destroy_node()
        rclpy.shutdown(context=self.context)
        self.context = None

    def __enter__(self) -> 'Probe':
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@contextlib.contextmanager
def environment(env: dict[str, str]):
    """``os.environ`` updated with ``env`` inside the block, restored after it."""
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
