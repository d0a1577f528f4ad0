"""Errors shared by the core and the ROS layer."""


class FrameRejected(ValueError):
    """A received frame that cannot be served; the pipeline counts it and moves on.

    Attributes:
        reason: Short stable identifier (diagnostics counter name), e.g. ``'truncated'``.
    """

    def __init__(self, reason: str, detail: str):
        super().__init__(f'{reason}: {detail}')
        self.reason = reason
        self.detail = detail
