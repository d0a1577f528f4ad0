"""Base of the two model-holding nodes: a lifecycle (managed) node that can start itself.

configure = read + validate parameters, load the weights, create the topics; activate =
start serving (reloading the weights if deactivate freed them); deactivate = stop serving
and free the model (weights, ONNX sessions, cached CUDA memory) while the topics and the
validated config stay, so a paused robot holds no model memory; cleanup = also drop every
topic and the config, so configure can load other weights without restarting the process.
No lifecycle manager runs in the embedded default, so ``autostart`` (default true)
walks configure -> activate in the constructor; a config error then stops the process.
"""
from __future__ import annotations

import ctypes
import gc
import sys
import traceback

from diagnostic_msgs.msg import DiagnosticStatus
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn

from ladon_ros.ros.common import RANDOM_PREFIX, RANDOM_WARNING_PERIOD_S, RateLimitedLog, warn_if_random
from ladon_ros.ros.params import ConfigError, declare, read

OK, FAIL = TransitionCallbackReturn.SUCCESS, TransitionCallbackReturn.FAILURE


def _trim_heap() -> None:
    """Returns freed heap pages to the OS (glibc ``malloc_trim``; a no-op elsewhere).

    Freed weights otherwise stay in glibc's arenas: its mmap threshold grows after the
    first large free, so later tensors live on the heap, which shrinks only when trimmed.
    """
    try:
        ctypes.CDLL('libc.so.6').malloc_trim(0)
    except (OSError, AttributeError):
        pass


class ManagedModelNode(LifecycleNode):
    """Subclasses set ``CONFIG`` (a config dataclass of ``ladon_ros.ros.params``) and implement
    ``load``, ``load_model``, ``model_loaded``, ``free_model``, ``start``, ``stop`` and ``unload``."""

    CONFIG: type = object

    def __init__(self, name: str, **kwargs):
        super().__init__(name, **kwargs)
        declare(self, self.CONFIG)
        self.cfg = None
        self.active = False
        self.metas = []  # CheckpointMeta of every loaded model (random-weights warning)
        self.log = RateLimitedLog(self.get_logger())
        self._error = ''
        self._random_timer = None

    def health(self, *, serving: str, rejected: dict, rejected_what: str) -> tuple[int, str]:
        """Level and message of the node's main ``/diagnostics`` status.

        Args:
            serving: Message when all is well (e.g. 'serving 2 robot(s)').
            rejected: Reason -> count of refused inputs.
            rejected_what: What the refused inputs are, for the message.
        """
        if self.cfg is None:
            return DiagnosticStatus.WARN, 'not configured (no model loaded)'
        if not self.active:
            return DiagnosticStatus.WARN, 'inactive (model freed until activate)'
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
            self.cfg = read(self, self.CONFIG)
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
        if not self.model_loaded():  # deactivate freed it: same validated config, load again
            self._error = ''
            try:
                self.load_model(self.cfg)
            except ValueError as err:  # e.g. the checkpoint changed on disk since configure
                return self._fail_activate(f'activate: {err}')
            except Exception:  # noqa: BLE001
                return self._fail_activate(f'activate crashed:\n{traceback.format_exc()}')
        self.start()
        self.active = True
        self.get_logger().info('active')
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.active = False
        self.stop()
        self._free_model()
        self.get_logger().info('inactive: model freed')
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

    def _free_model(self) -> None:
        self.free_model()
        gc.collect()  # model tensors sit in reference cycles (nn.Module); free them now
        torch = sys.modules.get('torch')  # never import torch here (the ONNX camera runs without it)
        if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
            torch.cuda.empty_cache()
        _trim_heap()

    def _release(self) -> None:
        if self._random_timer is not None:
            self.destroy_timer(self._random_timer)
            self._random_timer = None
        self.unload()
        self.metas = []
        self.cfg = None

    def _fail_activate(self, text: str) -> TransitionCallbackReturn:
        self._error = text
        self.get_logger().error(text)  # the node stays inactive (topics kept); fix and activate again
        self._free_model()
        return FAIL

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
        """Loads the model(s) (``load_model``) and creates topics; raises ``ValueError`` on bad config."""
        raise NotImplementedError

    def load_model(self, cfg) -> None:
        """Builds the model(s) from a validated config; raises ``ValueError`` on bad files."""
        raise NotImplementedError

    def model_loaded(self) -> bool:
        """Whether the model(s) are in memory."""
        raise NotImplementedError

    def free_model(self) -> None:
        """Drops every reference to the model(s) (deactivate); topics stay."""
        raise NotImplementedError

    def start(self) -> None:
        """Begins serving (called on activate)."""

    def stop(self) -> None:
        """Stops serving (called on deactivate)."""

    def unload(self) -> None:
        """Frees the model(s) and destroys topics; must be safe to call twice."""
        raise NotImplementedError
