"""Base of the two model-holding nodes: a lifecycle (managed) node that can start itself.

configure = read + validate parameters and load the weights; activate = start serving;
deactivate = pause (weights stay loaded so activate is instant); cleanup = free the model
and every topic, so configure can load other weights without restarting the process.
No lifecycle manager runs in the embedded default, so ``autostart`` (default true)
walks configure -> activate in the constructor; a config error then stops the process.
"""
from __future__ import annotations

import traceback

from diagnostic_msgs.msg import DiagnosticStatus
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn

from ladon_ros.ros.common import RANDOM_PREFIX, RANDOM_WARNING_PERIOD_S, RateLimitedLog, warn_if_random
from ladon_ros.ros.params import ConfigError, declare, read

OK, FAIL = TransitionCallbackReturn.SUCCESS, TransitionCallbackReturn.FAILURE


class ManagedModelNode(LifecycleNode):
    """Subclasses set ``TABLE``/``CONFIG`` and implement ``load``, ``start``, ``stop``, ``unload``."""

    TABLE: tuple = ()
    CONFIG: type = object

    def __init__(self, name: str, **kwargs):
        super().__init__(name, **kwargs)
        declare(self, self.TABLE)
        self.cfg = None
        self.active = False
        self.metas = []  # CheckpointMeta of every loaded model (random-weights warning)
        self.log = RateLimitedLog(self.get_logger())
        self._error = ''
        self._random_timer = None

    def health(self, *, loaded: bool, serving: str, rejected: dict, rejected_what: str) -> tuple[int, str]:
        """Level and message of the node's main ``/diagnostics`` status.

        Args:
            loaded: Whether the model is loaded (configured).
            serving: Message when all is well (e.g. 'serving 2 robot(s)').
            rejected: Reason -> count of refused inputs.
            rejected_what: What the refused inputs are, for the message.
        """
        if not loaded:
            return DiagnosticStatus.WARN, 'not configured (no model loaded)'
        if not self.active:
            return DiagnosticStatus.WARN, 'inactive'
        level, text = DiagnosticStatus.OK, serving
        if rejected:
            level, text = DiagnosticStatus.WARN, f'{text}; {rejected_what}: {dict(rejected)}'
        if any(m.notes.startswith(RANDOM_PREFIX) for m in self.metas):
            level, text = DiagnosticStatus.WARN, f'{text}; RANDOM WEIGHTS: results are meaningless'
        return level, text

    def autostart(self) -> None:
        """configure + activate when the ``autostart`` parameter is true.

        Raises:
            ConfigError: configure failed (the reason is in the message).
        """
        if not self.get_parameter('autostart').value:
            self.get_logger().info('autostart is false: waiting for lifecycle transitions')
            return
        if self.trigger_configure() != OK:
            raise ConfigError(self._error or 'configure failed')
        if self.trigger_activate() != OK:
            raise ConfigError(self._error or 'activate failed')

    # -- lifecycle callbacks ------------------------------------------------------------
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._error = ''
        try:
            self.cfg = read(self, self.TABLE, self.CONFIG)
            self.load(self.cfg)
        except ValueError as err:  # ConfigError, CheckpointError: a clear message, no traceback
            return self._fail(f'configure: {err}')
        except Exception:  # noqa: BLE001 - rclpy would swallow it silently
            return self._fail(f'configure crashed:\n{traceback.format_exc()}')
        if warn_if_random(self.get_logger(), self.metas):
            self._random_timer = self.create_timer(
                RANDOM_WARNING_PERIOD_S, lambda: warn_if_random(self.get_logger(), self.metas))
        return OK

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.start()
        self.active = True
        self.get_logger().info('active')
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.active = False
        self.stop()
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        return super().on_cleanup(state)

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        if self.active:
            self.active = False
            self.stop()
        self._release()
        return super().on_shutdown(state)

    def close(self) -> None:
        """Process exit: stop serving and free the model."""
        if self.active:
            self.active = False
            self.stop()
        self._release()

    def _release(self) -> None:
        if self._random_timer is not None:
            self.destroy_timer(self._random_timer)
            self._random_timer = None
        self.unload()
        self.metas = []
        self.cfg = None

    def _fail(self, text: str) -> TransitionCallbackReturn:
        self._error = text
        self.get_logger().error(text)
        try:
            self.unload()
        except Exception:  # noqa: BLE001 - best effort after a failed load
            pass
        return FAIL

    # -- for subclasses -----------------------------------------------------------------
    def load(self, cfg) -> None:
        """Loads the model(s) and creates topics; raises ``ValueError`` on bad config."""
        raise NotImplementedError

    def start(self) -> None:
        """Begins serving (called on activate)."""

    def stop(self) -> None:
        """Stops serving (called on deactivate)."""

    def unload(self) -> None:
        """Frees the model(s) and destroys topics; must be safe to call twice."""
        raise NotImplementedError
