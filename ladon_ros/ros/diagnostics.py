"""``/diagnostics`` of the nodes: one status builder and one periodic publisher.

A node gives ``Diagnostics`` a function that returns its statuses (built with ``status``);
every ``period_s`` they go out as one ``DiagnosticArray`` stamped with the node's clock.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from std_msgs.msg import Header

from ladon_ros.ros import qos

PERIOD_S = 1.0


def status(name: str, hardware_id: str, level: int, message: str,
           values: Mapping[str, Any]) -> DiagnosticStatus:
    """One ``DiagnosticStatus``; ``values`` become key/value strings (``str(v)``) in their order."""
    return DiagnosticStatus(level=level, name=name, hardware_id=hardware_id, message=message,
                            values=[KeyValue(key=k, value=str(v)) for k, v in values.items()])


class Diagnostics:
    """The node's ``/diagnostics`` publisher and the timer that feeds it.

    Args:
        node: The rclpy node (its clock stamps the array).
        statuses: Returns the statuses to publish now.
        period_s: Seconds between arrays.
    """

    def __init__(self, node, statuses: Callable[[], list[DiagnosticStatus]], period_s: float = PERIOD_S):
        self.node, self._statuses = node, statuses
        self.pub = node.create_publisher(DiagnosticArray, '/diagnostics', qos.DIAGNOSTICS)
        self.timer = node.create_timer(period_s, self.publish)

    def publish(self) -> None:
        """Publishes the statuses now (the timer calls this)."""
        stamp = self.node.get_clock().now().to_msg()
        self.pub.publish(DiagnosticArray(header=Header(stamp=stamp), status=self._statuses()))
