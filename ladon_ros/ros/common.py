"""Small pieces every node uses: process entry point, rate-limited logging, random-weights warning."""
from __future__ import annotations

import sys
import time

import rclpy
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException

RANDOM_WARNING_PERIOD_S = 10.0
RANDOM_PREFIX = 'RANDOM WEIGHTS'


class RateLimitedLog:
    """Logs each key at most once per ``period_s``, then says how many were suppressed.

    A storm of bad frames (one reason, many per second) must not flood the log, but each
    new reason is reported at once.
    """

    def __init__(self, logger, period_s: float = 5.0):
        self.logger, self.period_s = logger, period_s
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def warning(self, key: str, text: str) -> None:
        """Logs ``text`` under ``key`` unless it was logged less than ``period_s`` ago."""
        now = time.monotonic()
        if now - self._last.get(key, -1e9) < self.period_s:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return
        n = self._suppressed.pop(key, 0)
        self._last[key] = now
        self.logger.warning(text + (f' (+{n} more like this since the last message)' if n else ''))


def warn_if_random(logger, metas: list) -> bool:
    """Logs the loud random-weights warning when any of ``metas`` is untrained; returns whether it did.

    Args:
        metas: Objects with ``model_id`` and ``notes`` (``CheckpointMeta`` or an ONNX bundle's).
    """
    # The prefix of ladon_ros.weights.RANDOM_NOTE, not imported: that module imports torch,
    # which the ONNX camera side must not need (test_ros_sources checks the prefix).
    random = [m.model_id for m in metas if m.notes.startswith(RANDOM_PREFIX)]
    if random:
        logger.warning(f'!!! RANDOM WEIGHTS (untrained {", ".join(random)}): results are MEANINGLESS; '
                       'ship trained checkpoints in ladon_ros/weights or set the checkpoint parameters !!!')
    return bool(random)


def run_node(factory, args=None) -> int:
    """Runs one node until Ctrl-C / SIGTERM / shutdown; returns the process exit code."""
    rclpy.init(args=args if args is not None else sys.argv)
    node = None
    code = 0
    try:
        node = factory()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except (ValueError, ParameterException) as err:
        # ConfigError, CheckpointError, a source that cannot open, or a value rclpy refused
        # at declare time (out of its declared range, wrong type): one clear line, exit 2.
        if node is not None:
            raise
        print(f'[ERROR] cannot start: {err}', file=sys.stderr)
        code = 2
    finally:
        if node is not None:
            close = getattr(node, 'close', None)
            if close is not None:
                close()
            node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
    return code
