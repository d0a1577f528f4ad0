"""Helpers of the tests whose in-process rclpy node watches node processes."""
from __future__ import annotations

import contextlib
import os
import time


def spin_until(node, done, timeout: float) -> bool:
    """Spins ``node`` until ``done()`` is true (True) or ``timeout`` seconds pass (False)."""
    import rclpy
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        rclpy.spin_once(node, timeout_sec=0.05)
        if done():
            return True
    return False


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
