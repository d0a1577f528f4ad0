"""The installed ``rate_adapter`` drives a real ``camera_encoder`` over DDS (separate processes).

The test plays camera and edge: it publishes camera images on ``image_raw`` and a scripted
``link_feedback`` (lossy, clean, then none), and watches the encoder's ``latent`` frames,
whose ``rate_point`` is the JPEG quality the encoder really runs. Expected, from the policy
(ladon_ros/rate/policy.py) and docs/LINK.md:

- lossy link (80 % of frames lost, 10 kB/s goodput): straight down to the cheapest point;
- clean link: back up one point per hold (3 s, then 1.5 s) to the richest;
- feedback stops: after ``stale_s`` (3 s) the adapter is blind: cheapest point, and only
  1 of every ``max_skip`` (10) camera images passes its gate.

Everything waits for frames or log lines with deadlines; no duration is asserted.
"""
from __future__ import annotations

import json
import re

import pytest

rclpy = pytest.importorskip('rclpy')

from ladon_ros.ros import qos  # noqa: E402
from ros_harness import NodeProcesses, Probe, node_command, ros_domain  # noqa: E402

pytestmark = pytest.mark.ros

NS = '/rad1'
POINTS = ['jpeg@90', 'jpeg@50', 'jpeg@20']
CAMERA_HZ, FEEDBACK_HZ = 10.0, 5.0
# What the fake edge reports per feedback message, by link state.
LINK = {
    # 1 frame in 5 arrives, late and slow: loss 0.8 >= loss_congested, measured > budget.
    'lossy': dict(received=1, lost=4, one_way_delay_ms=400.0, bytes_per_s=10_000.0, arrival_rate_hz=2.0),
    # Every frame arrives fast: measured 15 ms + 50 ms edge <= low_water x budget (150 ms).
    'clean': dict(received=2, lost=0, one_way_delay_ms=15.0, bytes_per_s=2_000_000.0, arrival_rate_hz=CAMERA_HZ),
}
START_S = 240.0   # two node processes importing torch on a loaded 2-core machine
PHASE_S = 60.0    # each expected reaction takes a few seconds; the deadline is generous


class FakeCameraAndEdge(Probe):
    """Publishes camera images and the edge's link feedback; records the encoder's frames."""

    def __init__(self, domain_id: int):
        from sensor_msgs.msg import Image

        from ladon_ros.world import SceneGenerator
        from ladon_ros.msg import LatentFrame, LinkFeedback
        super().__init__('rate_adapter_probe', domain_id)
        rgb = SceneGenerator(image_size=(240, 320), seed=3).sample(0).image
        self.image = Image(height=240, width=320, encoding='rgb8', step=320 * 3, data=rgb.tobytes())
        self.image_pub = self.node.create_publisher(Image, f'{NS}/image_raw', qos.SENSOR)
        self.feedback_pub = self.node.create_publisher(LinkFeedback, f'{NS}/link_feedback', qos.FEEDBACK)
        self.node.create_subscription(LatentFrame, f'{NS}/latent', self._on_latent, qos.LATENT)
        self.link: str | None = None   # None: the edge says nothing
        self.images = 0
        self.frames: list[tuple[int, float]] = []  # (images published before it arrived, JPEG quality)
        self.received = self.lost = 0
        self.node.create_timer(1.0 / CAMERA_HZ, self._publish_image)
        self.node.create_timer(1.0 / FEEDBACK_HZ, self._publish_feedback)
        self._msg = LinkFeedback

    def _publish_image(self) -> None:
        self.image.header.stamp = self.node.get_clock().now().to_msg()
        self.image_pub.publish(self.image)
        self.images += 1

    def _publish_feedback(self) -> None:
        if self.link is None:
            return
        s = LINK[self.link]
        self.received += s['received']
        self.lost += s['lost']
        m = self._msg(arrival_rate_hz=s['arrival_rate_hz'], bytes_per_s=s['bytes_per_s'],
                      one_way_delay_ms=s['one_way_delay_ms'], frames_received=self.received, frames_lost=self.lost)
        m.header.stamp = self.node.get_clock().now().to_msg()
        self.feedback_pub.publish(m)

    def _on_latent(self, m) -> None:
        assert m.codec == 'jpeg', m.codec
        self.frames.append((self.images, round(m.rate_point)))

    def wait_quality(self, quality: int, timeout: float) -> bool:
        """Spins until a frame of JPEG ``quality`` arrives after the last call's frames."""
        start = len(self.frames)
        return self.spin_until(lambda: any(q == quality for _, q in self.frames[start:]), timeout)


def _decisions(log: str) -> list[dict]:
    return [json.loads(m) for m in re.findall(r'\bdecision (\{.*\})', log)]


def _switches(log: str) -> list[str]:
    return re.findall(r'encoder now runs (\S+)', log)


def test_adapter_switches_the_real_encoder_down_up_and_goes_blind(tmp_path, install_space):
    exe = install_space / 'lib' / 'ladon_ros'
    params = install_space / 'share' / 'ladon_ros' / 'config' / 'rate_adapter.yaml'
    # The installed executables (what `ros2 run ladon_ros ...` starts) with this test's arguments.
    adapter = [str(exe / 'rate_adapter'), *node_command(
        'rate_adapter', namespace=NS, params_file=params,
        params={'points': POINTS, 'start_point': 0, 'camera_fps': CAMERA_HZ})[3:]]
    encoder = [str(exe / 'camera_encoder'), *node_command(
        'camera_encoder', namespace=NS, remap={'image_raw': 'image_gated'},
        params={'codec': 'jpeg', 'quality': 90})[3:]]
    dom = ros_domain('rate_adapter')
    with NodeProcesses(dom, tmp_path / 'logs', {'OMP_NUM_THREADS': '1'}) as procs:
        procs.start_command('rate_adapter', adapter)
        procs.start_command('camera_encoder', encoder)
        with FakeCameraAndEdge(dom) as probe:
            def where() -> str:
                return (f'frames (images, quality) {probe.frames[-12:]}\n--- adapter:\n{procs.log("rate_adapter")}'
                        f'\n--- encoder:\n{procs.log("camera_encoder")}')

            # Started: images pass the adapter's gate and the encoder runs its start point.
            assert probe.wait_quality(90, START_S), where()
            assert procs.alive('rate_adapter') and procs.alive('camera_encoder'), where()

            probe.link = 'lossy'
            assert probe.wait_quality(20, PHASE_S), where()
            down = [d for d in _decisions(procs.log('rate_adapter')) if d['reason'] == 'down']
            assert down and down[0]['point'] == 'jpeg@20', where()

            probe.link = 'clean'
            assert probe.wait_quality(90, PHASE_S), where()
            assert _switches(procs.log('rate_adapter')) == ['jpeg@20', 'jpeg@50', 'jpeg@90'], where()

            probe.link = None
            assert probe.wait_quality(20, PHASE_S), where()
            blind = [d for d in _decisions(procs.log('rate_adapter')) if d['reason'] == 'blind']
            assert blind and blind[0]['point'] == 'jpeg@20' and blind[0]['skip'] == 10, where()
            # Blind also means fewest frames: 1 of every 10 camera images reaches the encoder.
            # Counted over 40 images; best-effort delivery can only lower the count.
            first = probe.images
            assert probe.spin_until(lambda: probe.images >= first + 40, PHASE_S), where()
            passed = sum(1 for n, _ in probe.frames if n > first)
            assert 1 <= passed <= 8, where()
            assert _switches(procs.log('rate_adapter'))[-1] == 'jpeg@20', where()
            assert procs.alive('rate_adapter') and procs.alive('camera_encoder'), where()
        codes = procs.stop()
    assert codes == {'rate_adapter': 0, 'camera_encoder': 0}, codes
