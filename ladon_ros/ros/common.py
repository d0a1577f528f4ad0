"""Small pieces every node uses: process entry point, rate-limited logging, random-weights warning."""
from __future__ import annotations

import gc
import signal
import sys
import time

import rclpy
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.signals import SignalHandlerOptions

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


SIGNAL_POLL_S = 0.25  # longest a stop signal waits for the executor to notice it [s]


class _StopSignals:
    """SIGINT / SIGTERM handling of a node process: the first one stops it, later ones are ignored.

    rclpy's own handlers are not used: they shut the context down inside the signal, so a
    node's cleanup could no longer publish (a last heartbeat) or destroy its entities
    without errors; and Python's default SIGINT handler raises ``KeyboardInterrupt`` again
    when the second SIGINT arrives mid-cleanup (a terminal's Ctrl-C reaches the whole
    process group and ``ros2 launch`` forwards one more), which printed a traceback from
    inside ``destroy_node()`` and exit code -2 in the launch log.
    """

    def __init__(self):
        self.requested = False  # a stop signal arrived
        self.spinning = False   # the executor loop polls ``requested``
        self.cleaning = False   # cleanup runs: further signals are only recorded

    def install(self) -> None:
        """Takes over SIGINT and SIGTERM (main thread only)."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._handle)

    def _handle(self, signum, frame) -> None:
        first, self.requested = not self.requested, True
        if first and not self.spinning and not self.cleaning:
            raise KeyboardInterrupt  # still starting up (imports, weights): leave at once


def run_node(factory, args=None) -> int:
    """Runs one node (or several: ``factory`` returns a list) until Ctrl-C / SIGTERM /
    shutdown; returns the process exit code.

    A stop signal (once, twice, or SIGINT then SIGTERM) ends the process with code 0 and no
    traceback: the executor finishes its current callback, then each node's ``close()`` and
    ``destroy_node()`` run on a still valid context (see ``_StopSignals``), last made first.
    """
    stop = _StopSignals()
    stop.install()
    nodes = []
    code = 0
    try:
        rclpy.init(args=args if args is not None else sys.argv,
                   signal_handler_options=SignalHandlerOptions.NO)
        made = factory()
        nodes = list(made) if isinstance(made, (list, tuple)) else [made]
        executor = SingleThreadedExecutor()
        for node in nodes:
            executor.add_node(node)
        stop.spinning = True
        # Python runs signal handlers between bytecodes only, so the wait is bounded to
        # see ``requested`` soon after a signal (rclpy's handlers would wake it at once).
        # A node that has done its job (e.g. a bounded recording) sets ``finished``.
        while not stop.requested and rclpy.ok() and not any(getattr(n, 'finished', False) for n in nodes):
            executor.spin_once(timeout_sec=SIGNAL_POLL_S)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except (ValueError, ParameterException) as err:
        # ConfigError, CheckpointError, a source that cannot open, or a value rclpy refused
        # at declare time (out of its declared range, wrong type): one clear line, exit 2.
        if nodes:
            raise
        print(f'[ERROR] cannot start: {err}', file=sys.stderr)
        code = 2
    finally:
        stop.cleaning = True  # from here on a further signal must not interrupt the cleanup
        if stop.requested:
            # Python's finalisation resets handled signals to the default action (a second
            # SIGINT would then kill the exiting process: code -2), but keeps SIG_IGN.
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, signal.SIG_IGN)
        for node in reversed(nodes):
            close = getattr(node, 'close', None)
            if close is not None:
                close()
            node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
        # The process ends next. Interpreter teardown would garbage-collect torch's object
        # graph first (1-2 s measured on the 2-core machine, more with several nodes
        # exiting at once: past a launcher's patience); frozen objects are skipped.
        gc.freeze()
    return code
