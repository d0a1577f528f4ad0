"""One robot as the edge sees it: its ``latent`` subscription, result publishers and link stats.

A channel exists for every robot the edge serves and for every robot it subscribes to ahead
of need (``takeover_subscriptions``): ``serving`` says which; the edge ignores the frames of
a robot it does not serve, and a takeover only sets the flag (nothing for DDS to match).
"""
from __future__ import annotations

import collections

import numpy as np
from diagnostic_msgs.msg import DiagnosticStatus
from rclpy.event_handler import PublisherEventCallbacks, SubscriptionEventCallbacks
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from ladon_ros.edge.serving import Arrival, RobotHealth
from ladon_ros.fleet.queue import RobotAccount
from ladon_ros.msg import (Classification, Detection2DArray, FrameStats, LatentFrame, LinkFeedback, PerceptionResults)
from ladon_ros.results import FrameResults
from ladon_ros.ros import qos
from ladon_ros.ros.conversions import head_messages, labels_to_image, rgb_to_image, to_perception_results
from ladon_ros.ros.diagnostics import status
from ladon_ros.ros.stats import LinkStats
from ladon_ros.visualize import annotate, colorize_labels

# The edge never sees the camera image of a Ladon frame (only its latent), so the debug
# image draws boxes and labels over the colour mask on a neutral grey canvas.
_CANVAS_GREY = 96


def topic(ns: str, name: str) -> str:
    """``name`` inside robot namespace ``ns`` ('' = relative, i.e. the edge node's own)."""
    ns = ns.rstrip('/')
    return f'{ns}/{name}' if ns else name


class RobotChannel:
    """Subscription + publishers of one robot namespace on the edge node."""

    def __init__(self, node, ns: str, on_latent, served_by: str = ''):
        self.node, self.ns, self.served_by = node, ns, served_by
        self.link = LinkStats()
        self.rejected: collections.Counter = collections.Counter()  # reason -> frames of this robot refused
        self.closed = False  # set (under the node's lock) before destroy()
        self.serving = False  # set (under the node's lock) by set_serving()
        self._serving_since_ns: int | None = None  # until its first result after set_serving(True)
        self.held = None  # while not serving: its newest (message, arrival [ns, node clock])
        self.served_here = False  # a result published since set_serving(True)
        # No QoS event handlers on the per-robot publishers: rclpy's defaults (two per
        # publisher: incompatible QoS and type warnings) are waitables that the executor walks
        # in Python on every wake, 16 per robot; with 16 robots that walk was 38 % of the
        # edge's CPU (py-spy, docs/FLEET_BENCH.md). A mismatched reader still logs the
        # warning on its own side.
        quiet = {'event_callbacks': PublisherEventCallbacks(use_default_callbacks=False)}
        pub = node.create_lifecycle_publisher
        self.pubs = {
            'classification': pub(Classification, topic(ns, 'perception/classification'), qos.RESULTS, **quiet),
            'detections': pub(Detection2DArray, topic(ns, 'perception/detections'), qos.RESULTS, **quiet),
            # The robot's compact results contract (what may cross its slow link back):
            # classification, detections, the label map as PNG at the model's resolution in
            # the camera's aspect ratio (image_transport 'compressed' naming; upsample it
            # nearest to the camera size) and frame_stats. The raw label map, overlay and
            # debug images are 100-1000x larger: for base-station viewers only.
            'segmentation_png': pub(CompressedImage, topic(ns, 'perception/segmentation/compressed'), qos.RESULTS,
                                    **quiet),
            'segmentation': pub(Image, topic(ns, 'perception/segmentation'), qos.RESULTS, **quiet),
            'overlay': pub(Image, topic(ns, 'perception/segmentation_overlay'), qos.RESULTS, **quiet),
            'debug': pub(Image, topic(ns, 'perception/debug_image'), qos.RESULTS, **quiet),
            'stats': pub(FrameStats, topic(ns, 'perception/frame_stats'), qos.RESULTS, **quiet),
            # The same compact results as one message per frame (the thin link's choice: one
            # datagram instead of four; docs/FLEET.md "Thin links"). Made only while subscribed.
            'results': pub(PerceptionResults, topic(ns, 'perception/results'), qos.RESULTS, **quiet),
            'feedback': pub(LinkFeedback, topic(ns, 'link_feedback'), qos.FEEDBACK, **quiet),
        }
        self.on_latent = on_latent
        self.sub = None
        self._subscribe()
        self.name = self.sub.topic_name.rsplit('/latent', 1)[0] or '/'
        # Quarantine of a robot whose frames are all refused (rules: ladon_ros.edge.serving):
        # its subscription is dropped for a while, so DDS stops delivering (and the edge stops
        # deserialising) its frames; every other robot keeps the edge's CPU.
        self.health = RobotHealth()
        # Heads not run for this robot because none of their topics had a subscriber.
        self.skipped: collections.Counter = collections.Counter()
        # The edge's receive-pause count at this robot's last frame (sequence gaps across a
        # pause are frames replaced in the DDS reader, not lost on the link).
        self.pauses_seen = 0

    def _subscribe(self) -> None:
        # One event handler, not rclpy's default two: a best-effort, volatile reader with no
        # deadline or liveliness (qos.LATENT) is compatible with every writer's QoS, so only a
        # robot publishing another LatentFrame definition (an old build) is worth a warning.
        events = SubscriptionEventCallbacks(incompatible_type=self._incompatible_type, use_default_callbacks=False)
        self.sub = self.node.create_subscription(LatentFrame, topic(self.ns, 'latent'),
                                                 lambda m: self.on_latent(self, m), qos.LATENT,
                                                 event_callbacks=events)

    def _incompatible_type(self, _event) -> None:
        self.node.get_logger().warning(
            f'{topic(self.ns, "latent")}: a publisher offers another LatentFrame type (a robot of another '
            'ladon_ros build?): its frames are not received')

    def set_serving(self, serving: bool, now_ns: int) -> None:
        """Serve this robot from now on (``now_ns``: the node's clock), or only listen."""
        self.serving, self.held, self.served_here = serving, None, False
        self._serving_since_ns = now_ns if serving else None
        self.health.consecutive_rejected = self.health.received_since_served = 0

    def results_reach_readers(self) -> bool:
        """Whether every reader of this robot's compact results that the graph knows is matched
        to this edge's publisher. A new owner announces a robot (and so releases the old owner,
        ``fleet_view``) only then: results published before DDS matched them were lost, and a
        returning edge left gaps of 0.9-1.0 s. A reader that never matches costs at most the
        old owner's hand-over limit (``HANDOVER_S``)."""
        for key in ('classification', 'detections', 'stats', 'results'):
            pub = self.pubs[key]
            if pub.get_subscription_count() < self.node.count_subscribers(pub.topic_name):
                return False
        return True

    def first_served_since(self, arrival_ns: int) -> tuple[float, float] | None:
        """Call after publishing a result: (its frame's arrival, now) in seconds since the robot
        became served here, for the first result since then; None for every later one."""
        if self._serving_since_ns is None:
            return None
        t0, self._serving_since_ns = self._serving_since_ns, None
        return (arrival_ns - t0) / 1e9, (self.node.get_clock().now().nanoseconds - t0) / 1e9

    def pause(self, now: float, base_s: float) -> float:
        """Stops receiving this robot's frames for a quarantine; returns its length [s]."""
        if self.sub is not None:
            self.node.destroy_subscription(self.sub)
            self.sub = None
        return self.health.pause(now, base_s)

    def resume(self) -> None:
        """Receives this robot's frames again (after a pause)."""
        if self.sub is None:
            self._subscribe()
        self.health.resume()

    def wanted_tasks(self, debug_image: bool) -> tuple[str, ...]:
        """The heads whose results somebody subscribes to (the others are not run for this robot).

        classification: ``perception/classification``; detection: ``perception/detections``;
        segmentation: the label map (compressed or raw) or the overlay; the debug image (when
        published) and ``perception/results`` need all three.
        """
        all_heads = (debug_image and self._wanted('debug')) or self._wanted('results')
        wants = []
        if all_heads or self._wanted('classification'):
            wants.append('classification')
        if all_heads or self._wanted('detections'):
            wants.append('detection')
        if all_heads or any(self._wanted(k) for k in ('segmentation_png', 'segmentation', 'overlay')):
            wants.append('segmentation')
        return tuple(wants)

    def publish(self, arrival: Arrival, results: FrameResults, stages_ms: dict[str, float], *,
                wants: tuple[str, ...], debug_image: bool, alpha: float) -> None:
        """Publishes the result topics of the heads run (``wants``) for one served frame, and its stats.

        Header = the camera frame's. A topic whose head was not run had no subscriber when the
        frame was served: nothing is published on it. ``perception/results`` (all of them in one
        message) is published only while subscribed.
        """
        h, frame = arrival.header, arrival.frame
        parts = head_messages(results, wants, h, arrival.sequence)
        for key, msg in parts:
            # A head may run for another topic (the debug image, perception/results): its own
            # topic then has no reader, and an unread message is serialised for nothing.
            if self._wanted(key):
                self.pubs[key].publish(msg)
        if 'segmentation' in wants:
            # The big images are rendered only while somebody listens: with nobody subscribed
            # they would cost edge CPU (fleet capacity) for nothing.
            if self._wanted('segmentation'):
                self.pubs['segmentation'].publish(labels_to_image(results.segmentation, h))
            if self._wanted('overlay'):
                self.pubs['overlay'].publish(rgb_to_image(colorize_labels(results.segmentation), h))
        if debug_image and set(wants) == {'classification', 'detection', 'segmentation'} and self._wanted('debug'):
            canvas = np.full((*results.segmentation.shape, 3), _CANVAS_GREY, np.uint8)
            self.pubs['debug'].publish(rgb_to_image(annotate(canvas, results, alpha), h))
        stats = FrameStats(
            header=h, sequence=arrival.sequence, codec=frame.codec, rate_point=float(frame.rate_point),
            payload_bytes=len(frame.payload), encode_ms=float(frame.encode_ms), transit_ms=stages_ms['transit'],
            decode_ms=stages_ms['decode'], heads_ms=stages_ms['heads'], total_ms=stages_ms['total'],
            served_by=self.served_by)
        self.pubs['stats'].publish(stats)
        if self._wanted('results'):
            self.pubs['results'].publish(to_perception_results(parts, stats))

    def activate(self) -> None:
        """Enables the lifecycle publishers of a channel made while the node is active."""
        for p in self.pubs.values():
            p.on_activate(None)

    def _wanted(self, key: str) -> bool:
        return self.pubs[key].get_subscription_count() > 0

    def publish_feedback(self, stamp, now_ns: int) -> None:
        """LinkFeedback of the last window (edge clock), only while someone (a rate adapter) listens.

        Nothing crosses the link for a writer without readers anyway; skipping it also saves
        the edge the message per robot and period (docs/FLEET.md "Thin links")."""
        if not self._wanted('feedback'):
            return
        f = self.link.feedback(now_ns)
        self.pubs['feedback'].publish(LinkFeedback(
            header=Header(stamp=stamp), frames_received=self.link.received, frames_lost=self.link.lost, **f))

    def diagnostic(self, hardware_id: str, queue: RobotAccount) -> DiagnosticStatus:
        """Per-robot status for /diagnostics: the link, and the robot's share of the edge (``queue``)."""
        f = self.link.feedback(self.node.get_clock().now().nanoseconds)
        values = {'frames_received': self.link.received, 'frames_lost': self.link.lost,
                  'frames_replaced_in_reader': self.link.replaced_in_reader,
                  'camera_restarts': self.link.restarts, **{k: f'{v:.1f}' for k, v in f.items()},
                  'frames_dropped_stale': queue.dropped_stale, 'edge_time_s': f'{queue.edge_time_s:.3f}',
                  'frames_rejected': sum(self.rejected.values()), 'quarantines': self.health.quarantines,
                  **{f'rejected_{reason}': n for reason, n in sorted(self.rejected.items())},
                  **{f'heads_skipped_{task}': n for task, n in sorted(self.skipped.items())}}
        level, text = DiagnosticStatus.OK, 'receiving'
        if not self.link.received:
            level, text = DiagnosticStatus.WARN, 'no frames yet'
        elif self.health.quarantined_until is not None:
            level, text = DiagnosticStatus.ERROR, (f'quarantined (every recent frame refused: '
                                                   f'{dict(self.rejected)}); not receiving for now')
        elif self.rejected:
            level, text = DiagnosticStatus.WARN, f'receiving; rejected frames: {dict(self.rejected)}'
        return status(f'edge_perception: robot {self.name}', hardware_id, level, text, values)

    def destroy(self) -> None:
        """Removes the subscription and publishers from the node."""
        if self.sub is not None:
            self.node.destroy_subscription(self.sub)
        for p in self.pubs.values():
            self.node.destroy_lifecycle_publisher(p)
