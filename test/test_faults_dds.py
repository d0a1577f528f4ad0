"""Faults over real DDS, nodes in separate processes (own ROS_DOMAIN_IDs: ros_harness).

* the fuzz corpus published as LatentFrame at a running edge: it keeps serving valid frames
  and /diagnostics counts every reject by reason;
* a link that drops a share of the frames: no stall, losses counted, latency unchanged;
* overload at 10x what the edge serves: keep-latest, newest served, drops counted, RSS flat;
* kill -9 of the edge mid-stream and restart, three times (camera side never blocks; results
  resume a median < 2 s after the edge is up again, none later than 5 s); kill -9 of the
  camera encoder and restart;
* lifecycle over lifecycle_msgs services (edge and camera encoder): deactivate frees the
  model and activate reloads it, cleanup drops the topics too, configure with other
  weights uses them, same process;
* unreadable images into a running camera encoder: counted, encoding goes on.

Figures are printed with a ``[faults]`` prefix (shown even without ``-s``).
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import statistics
import struct
import threading
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from std_msgs.msg import Header

from ladon_ros.camera import make_camera_encoder
from ladon_ros.codec import bitstream
from ladon_ros.msg import FrameStats, LatentFrame
from ladon_ros.ros import qos
from ladon_ros.ros.conversions import wire_to_latent
from ros_harness import NodeProcesses, Probe, ros_domain

pytestmark = pytest.mark.ros
ROBOT = '/robot1'
RESUME_TARGET_S = 2.0  # the target: results resume within 2 s of the restarted edge being active
RESUME_BOUND_S = 5.0  # no single restart may take longer (a stall, not DDS matching noise)
EDGE_RESTARTS = 3  # kill -9 / restart cycles in the default run (the soak runs more)
IMAGE = np.random.default_rng(5).integers(0, 255, (120, 160, 3), dtype=np.uint8)


def say(capsys, text: str) -> None:
    """Prints a figure so it shows in the pytest output even when output is captured."""
    with capsys.disabled():
        print(f'\n[faults] {text}')


def rss_mib(pid: int) -> float:
    """Resident set size of process ``pid`` [MiB] (from /proc)."""
    for line in Path(f'/proc/{pid}/status').read_text().splitlines():
        if line.startswith('VmRSS:'):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f'no VmRSS for {pid}')


class ReliabilityProbe(Probe):
    """A test-side rclpy node on its own context and domain, spun in a background thread.

    Publishes LatentFrame on ``<ns>/latent`` and records FrameStats, /diagnostics and
    (optionally) the latent topic itself.
    """

    def __init__(self, domain: int, ns: str = ROBOT, watch_latent: bool = False):
        super().__init__('reliability_probe', domain)
        self.pub = self.node.create_publisher(LatentFrame, f'{ns}/latent', qos.LATENT)
        self.lock = threading.Lock()
        self.stats: list[tuple[float, FrameStats]] = []
        self.latent: list[tuple[float, int]] = []
        self.latent_hashes: list[str] = []
        self.diag: dict[str, dict[str, str]] = {}
        self.diag_msg: dict[str, str] = {}
        self.node.create_subscription(FrameStats, f'{ns}/perception/frame_stats', self._on_stats, qos.RESULTS)
        self.node.create_subscription(DiagnosticArray, '/diagnostics', self._on_diag, qos.DIAGNOSTICS)
        if watch_latent:
            self.node.create_subscription(LatentFrame, f'{ns}/latent', self._on_latent, qos.LATENT)
        self.sequence = 0
        self.spin_in_background()

    def _on_stats(self, msg: FrameStats) -> None:
        with self.lock:
            self.stats.append((time.monotonic(), msg))

    def _on_latent(self, msg: LatentFrame) -> None:
        with self.lock:
            self.latent.append((time.monotonic(), msg.sequence))
            self.latent_hashes.append(msg.weights_hash)

    def _on_diag(self, msg: DiagnosticArray) -> None:
        with self.lock:
            for s in msg.status:
                if s.name.startswith('edge_perception: fleet'):
                    continue  # assignment status, not counters
                if s.name.startswith('edge_perception'):
                    key = 'pipeline' if s.name.endswith('pipeline') else 'robot'
                elif s.name.startswith('camera_encoder'):
                    key = 'camera'
                else:
                    continue
                self.diag[key] = {kv.key: kv.value for kv in s.values}
                self.diag_msg[key] = s.message

    def counter(self, key: str, name: str, default: int = 0) -> int:
        with self.lock:
            return int(self.diag.get(key, {}).get(name, default))

    def rejected(self) -> dict[str, int]:
        with self.lock:
            return {k.split('.', 1)[1]: int(v) for k, v in self.diag.get('pipeline', {}).items()
                    if k.startswith('rejected.')}

    def served_sequences(self, since: float = 0.0) -> list[int]:
        with self.lock:
            return [m.sequence for t, m in self.stats if t >= since]

    def publish(self, frame, sequence: int | None = None) -> None:
        """Publishes a WireFrame (or a ready LatentFrame) with a fresh stamp and sequence."""
        stamp = self.node.get_clock().now().to_msg()
        seq = self.sequence if sequence is None else sequence
        if isinstance(frame, LatentFrame):
            msg = frame
            msg.header = Header(stamp=stamp, frame_id='cam')
            msg.sequence = seq
        else:
            msg = wire_to_latent(frame, Header(stamp=stamp, frame_id='cam'), seq)
        self.pub.publish(msg)
        self.sequence = seq + 1

    def wait(self, cond, timeout: float, step: float = 0.05) -> bool:
        """Until ``cond()`` (polled every ``step`` s; callbacks run in the probe's thread)."""
        return self.spin_until(cond, timeout, poll_s=step)

    def settle(self, read, quiet: float = 2.5, timeout: float = 20.0) -> None:
        """Waits until ``read()`` (e.g. diagnostics counters, published at 1 Hz) stops changing."""
        end, last, since = time.monotonic() + timeout, read(), time.monotonic()
        while time.monotonic() < end and time.monotonic() - since < quiet:
            time.sleep(0.1)
            now = read()
            if now != last:
                last, since = now, time.monotonic()

    def wait_active(self, timeout: float = 90.0) -> bool:
        """Until /diagnostics says the edge serves and our publisher is matched."""
        def ready():
            with self.lock:
                msg = self.diag_msg.get('pipeline', '')
            return msg.startswith('serving') and self.pub.get_subscription_count() > 0
        return self.wait(ready, timeout)


@pytest.fixture(scope='module')
def world(tmp_path_factory):
    """Random-weight checkpoints (cache in a tmp dir) and frames encoded from them."""
    tmp = tmp_path_factory.mktemp('faults')
    cache = tmp / 'cache'
    old = os.environ.get('LADON_ROS_CACHE')
    os.environ['LADON_ROS_CACHE'] = str(cache)
    try:
        from ladon_ros.weights import random_checkpoint
        ladon, teacher = random_checkpoint('ladon_small'), random_checkpoint('teacher_small')
        other = random_checkpoint('ladon_small', seed=1)
    finally:
        if old is None:
            os.environ.pop('LADON_ROS_CACHE')
        else:
            os.environ['LADON_ROS_CACHE'] = old
    enc = make_camera_encoder(codec='ladon', checkpoint=ladon)
    rng = np.random.default_rng(11)
    pool = [enc.encode(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)) for _ in range(6)]
    images = {c: make_camera_encoder(codec=c, checkpoint=ladon, quality=q).encode(IMAGE)
              for c, q in (('jpeg', 80), ('png', 3), ('webp', 80))}
    foreign = make_camera_encoder(codec='ladon', checkpoint=other).encode(IMAGE)
    return dict(tmp=tmp, cache=cache, ladon=str(ladon), teacher=str(teacher), other=str(other), pool=pool,
                good=pool[0], images=images, foreign=foreign,
                env={'LADON_ROS_CACHE': str(cache), 'OMP_NUM_THREADS': '1'})


def _edge_params(world, **extra):
    return {'robot_namespaces': [ROBOT], 'checkpoints': [world['ladon']], 'teacher_checkpoint': world['teacher'],
            'publish_debug_image': False, **extra}


# --- the corpus ------------------------------------------------------------------------------

def _repack(frame, body: bytes, shape=None):
    header, _ = bitstream.parse(frame.payload)
    shape = shape or header.shape
    return dataclasses.replace(frame, payload=bitstream.pack(frame.codec, shape, body, frame.weights_hash),
                               latent_shape=shape)


def _raw_header(frame, codec_id, version, flags, c, h, w, body, delta=0):
    header, _ = bitstream.parse(frame.payload)
    payload = struct.pack('>4sBBHHHH8sII', bitstream.MAGIC, version, codec_id, flags, c, h, w,
                          header.weights_hash, len(body) + delta, zlib.crc32(body)) + body
    return dataclasses.replace(frame, payload=payload, latent_shape=(c, h, w))


def bad_frames(world) -> list[tuple[str, object]]:
    """A deterministic corpus of frames the edge must refuse (same kinds as test_fuzz_receive_path)."""
    from test_fuzz_receive_path import _jpeg_header, _png_header, _webp_vp8x
    rng = np.random.default_rng(2024)
    good = world['good']
    p = good.payload
    c, h, w = good.latent_shape
    out = []
    for k in rng.integers(0, len(p) - 1, 16):
        out.append(('truncated', dataclasses.replace(good, payload=p[:int(k)])))
    for n in rng.integers(1, 400, 8):
        out.append(('extended', dataclasses.replace(good, payload=p + rng.bytes(int(n)))))
    for _ in range(16):
        buf = bytearray(p)
        for pos in rng.integers(0, 8 * len(buf), int(rng.integers(1, 6))):
            buf[pos // 8] ^= 1 << (pos % 8)
        out.append(('bit_flip', dataclasses.replace(good, payload=bytes(buf))))
    for n in rng.integers(0, 3000, 8):
        out.append(('random', dataclasses.replace(good, payload=rng.bytes(int(n)))))
    for n in (0, 4, 64, 1000, 4096, 2 * c * h * w + 64, 2 * c * h * w + 65):
        out.append(('valid_crc_all_ones', _repack(good, b'\xff' * n)))
    for _ in range(8):
        out.append(('valid_crc_random', _repack(good, rng.bytes(int(rng.integers(1, 4000))))))
    for codec_id, version, flags, shape, delta in (
            (9, 1, 0, (c, h, w), 0), (1, 7, 0, (c, h, w), 0), (1, 1, 3, (c, h, w), 0),
            (1, 1, 0, (65535, 65535, 65535), 0), (1, 1, 0, (0, h, w), 0), (1, 1, 0, (c, 8193, w), 0),
            (1, 1, 0, (1024, 8192, 8192), 0), (1, 1, 0, (c, h, w), 5), (1, 1, 0, (c, h, w), -5),
            (1, 1, 0, (c + 1, h, w), 0)):
        out.append(('header', _raw_header(good, codec_id, version, flags, *shape, rng.bytes(64), delta)))
    for field, value in (('rate_point', float('nan')), ('encode_ms', float('inf')), ('rate_point', -1.0),
                         ('encode_ms', float('-inf')), ('image_size', (0, 160)), ('image_size', (120, 100000)),
                         ('latent_shape', (c, h)), ('latent_shape', (c, h, w, 1)), ('latent_shape', (c, h + 1, w)),
                         ('codec', 'h264'), ('codec', 'jpeg'), ('model_id', 'ladon_resnet50'),
                         ('weights_hash', 'deadbeefdeadbeef'), ('weights_hash', '')):
        out.append((f'field_{field}', dataclasses.replace(good, **{field: value})))
    out.append(('foreign_weights', world['foreign']))
    img = world['images']
    for codec, body in (('png', _png_header(65535, 65535) + bytes(64)), ('jpeg', _jpeg_header(65500, 65500)),
                        ('webp', _webp_vp8x(16384, 16384)), ('png', _jpeg_header(160, 120)),
                        ('jpeg', rng.bytes(500)), ('webp', rng.bytes(300))):
        out.append((f'image_{codec}', _repack(img[codec], body)))
    return out


# --- the shared edge (its own domain): fuzz corpus, lossy link, overload -------------------------

@contextlib.contextmanager
def running_edge(world, domain: int):
    """An edge_perception process on ``domain`` and an active probe; both stopped on exit."""
    procs = NodeProcesses(domain, world['tmp'] / f'logs{domain}', world['env'])
    probe = None
    try:
        procs.start('edge_perception', params=_edge_params(world))
        probe = ReliabilityProbe(domain)
        assert probe.wait_active(), procs.log('edge_perception')[-3000:]
        yield procs, probe
    finally:
        if probe is not None:
            probe.close()
        procs.stop()


@pytest.fixture(scope='module')
def edge30(world):
    with running_edge(world, ros_domain('faults_edge')) as running:
        yield running


def _serve_one(probe, frame, timeout=10.0) -> bool:
    """Publishes ``frame`` until a result with its sequence comes back (best effort may drop one)."""
    for _ in range(3):
        seq = probe.sequence
        probe.publish(frame)
        if probe.wait(lambda: seq in probe.served_sequences(), timeout / 3):
            return True
    return False


def test_fuzz_corpus_over_dds_is_rejected_and_valid_frames_keep_being_served(world, edge30, capsys):
    procs, probe = edge30
    assert _serve_one(probe, world['good'])
    before = dict(probe.rejected())
    corpus = bad_frames(world)
    valid_sent, valid_seqs = 0, []
    t_corpus = time.monotonic()
    for i, (_, frame) in enumerate(corpus):
        probe.publish(frame)
        time.sleep(0.03)  # the edge refuses in ~1-15 ms; keep-latest would merge a faster burst
        if i % 10 == 9:
            seq = probe.sequence
            valid_seqs.append(seq)
            probe.publish(world['pool'][i % len(world['pool'])])
            valid_sent += 1
            # The edge serves in order: once this frame is served, the ones before it are handled.
            probe.wait(lambda: seq in probe.served_sequences(t_corpus), 10.0, step=0.01)
    total_before = sum(before.values())

    probe.settle(lambda: (sum(probe.rejected().values()), probe.counter('pipeline', 'frames_dropped_stale')))
    after = probe.rejected()
    delta = {k: after.get(k, 0) - before.get(k, 0) for k in after if after.get(k, 0) != before.get(k, 0)}
    served = set(probe.served_sequences())
    valid_served = sum(1 for s in valid_seqs if s in served)
    stale = probe.counter('pipeline', 'frames_dropped_stale')
    lost = probe.counter('robot', 'frames_lost')
    say(capsys, f'DDS fuzz: {len(corpus)} bad frames published, {sum(delta.values())} rejected by reason {delta}, '
                f'{stale} merged by keep-latest, {lost} lost on the link; {valid_served}/{valid_sent} interleaved '
                'valid frames served; edge alive')
    assert procs.alive('edge_perception'), procs.log('edge_perception')[-3000:]
    assert 'decode_error' not in delta and 'inference_error' not in delta, procs.log('edge_perception')[-3000:]
    assert sum(delta.values()) + stale + lost >= 0.9 * len(corpus)
    # Rejections are logged rate-limited: at most one line per reason per 5 s (plus one each).
    log_lines = [ln for ln in procs.log('edge_perception').splitlines() if 'rejected a frame' in ln]
    assert len(log_lines) <= len(delta) * (2 + (time.monotonic() - t_corpus) / 5.0), len(log_lines)
    say(capsys, f'DDS fuzz: {len(log_lines)} rejection log lines for {sum(delta.values())} rejected frames (rate-limited)')
    assert len(delta) >= 8, delta
    assert valid_served >= valid_sent - 1
    assert _serve_one(probe, world['good'])


def test_lossy_link_drops_are_counted_and_delivered_frames_keep_their_latency(world, edge30, capsys):
    procs, probe = edge30
    rng = np.random.default_rng(7)
    pool = world['pool']
    lost0 = probe.counter('robot', 'frames_lost')

    def run(n, drop):
        t0 = time.monotonic()
        sent, dropped = [], 0
        for i in range(n):
            if rng.random() < drop:
                probe.sequence += 1  # the link eats it: the sequence still advances on the robot
                dropped += 1
            else:
                sent.append(probe.sequence)
                probe.publish(pool[i % len(pool)])
            time.sleep(0.25)  # 4 Hz: below what the edge serves, so only the link loses frames
        probe.wait(lambda: all(s in probe.served_sequences(t0) for s in sent[-1:]), 5.0)
        with probe.lock:
            lat = [m.total_ms for t, m in probe.stats if t >= t0 and m.sequence in set(sent)]
        return sent, dropped, lat

    clean_sent, _, clean_lat = run(12, 0.0)
    lossy_sent, dropped, lossy_lat = run(36, 0.3)
    # A dropped frame is counted when the next one arrives (a gap in the sequence).
    last = probe.sequence
    probe.publish(pool[0])
    probe.wait(lambda: last in probe.served_sequences(), 5.0)
    probe.settle(lambda: probe.counter('robot', 'frames_lost'), quiet=1.5)
    lost = probe.counter('robot', 'frames_lost') - lost0
    served = set(probe.served_sequences())
    delivered_served = sum(1 for s in lossy_sent if s in served)
    p50_clean, p50_lossy = statistics.median(clean_lat), statistics.median(lossy_lat)
    say(capsys, f'lossy link: {dropped}/36 frames dropped (30% target), edge counted {lost} lost; '
                f'{delivered_served}/{len(lossy_sent)} delivered frames served; latency p50 {p50_clean:.0f} ms '
                f'without loss, {p50_lossy:.0f} ms with loss')
    assert dropped <= lost <= dropped + 2  # +DDS best-effort loss on localhost (rare)
    assert delivered_served >= len(lossy_sent) - 2
    assert p50_lossy <= 2 * p50_clean + 50  # no stall: delivered frames are not slowed by the gaps


def overload_run(world, probe, procs, seconds: float, capsys, label: str) -> dict:
    """Publishes at 10x the edge's measured service rate (at most 400 Hz) for ``seconds``; returns the figures."""
    pool = world['pool']
    # Service time: what one frame costs the edge when it is not overloaded.
    t0 = time.monotonic()
    for i in range(5):
        assert _serve_one(probe, pool[i % len(pool)])
    with probe.lock:
        recent = [m for t, m in probe.stats if t >= t0]
    service_ms = statistics.median(m.decode_ms + m.heads_ms for m in recent)
    rate_hz = min(400.0, 10 * 1000.0 / service_ms)
    pid = procs.procs['edge_perception'].pid
    stale0, lost0 = probe.counter('pipeline', 'frames_dropped_stale'), probe.counter('robot', 'frames_lost')
    served0 = probe.counter('pipeline', 'frames_served')
    rss, ages = [], []
    msgs = [wire_to_latent(f, Header(), 0) for f in pool]
    start = time.monotonic()
    next_t, n_pub, next_rss = start, 0, start
    while time.monotonic() - start < seconds:
        probe.publish(msgs[n_pub % len(msgs)])
        n_pub += 1
        now = time.monotonic()
        if now >= next_rss:
            rss.append((now - start, rss_mib(pid)))
            next_rss = now + 1.0
        next_t += 1.0 / rate_hz
        delay = next_t - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    elapsed = time.monotonic() - start
    # Drained: the last frame published is served, or the edge's counters have stopped moving.
    last_seq = probe.sequence - 1
    if not probe.wait(lambda: last_seq in probe.served_sequences(start), 10.0):
        probe.settle(lambda: (len(probe.served_sequences()), probe.counter('pipeline', 'frames_dropped_stale')),
                     quiet=1.5, timeout=10.0)
    # The edge's own counters (1 Hz): every frame it received is served or merged; the probe's
    # frame_stats subscription may miss results in a burst (the writer keeps the last 10).
    probe.settle(lambda: (probe.counter('pipeline', 'frames_served'), probe.counter('pipeline', 'frames_dropped_stale'),
                          probe.counter('robot', 'frames_lost')), quiet=1.5, timeout=10.0)
    with probe.lock:
        during = [(t - start, m) for t, m in probe.stats if start <= t <= start + elapsed]
    served = probe.counter('pipeline', 'frames_served') - served0
    stale = probe.counter('pipeline', 'frames_dropped_stale') - stale0
    lost = probe.counter('robot', 'frames_lost') - lost0
    warm = [r for t, r in rss if t >= min(10.0, seconds / 3)]
    growth = (max(warm[-3:]) - warm[0]) / warm[0] * 100 if len(warm) >= 3 else float('nan')
    ages = [m.total_ms for _, m in during]
    half = len(ages) // 2
    fig = dict(rate_hz=n_pub / elapsed, service_ms=service_ms, published=n_pub, served=served, stale=stale,
               lost=lost, rss_start=warm[0] if warm else float('nan'), rss_end=max(warm[-3:]) if warm else float('nan'),
               growth=growth, age_first=statistics.median(ages[:half]) if half else float('nan'),
               age_last=statistics.median(ages[half:]) if half else float('nan'))
    factor = fig["rate_hz"] * service_ms / 1e3  # the overload (the rate is capped at 400 Hz)
    say(capsys, f'{label}: {elapsed:.0f} s at {fig["rate_hz"]:.0f} Hz ({factor:.1f}x the edge at {service_ms:.0f} ms/frame): '
                f'{n_pub} published, {served} served, {stale} dropped by keep-latest, {lost} lost in DDS '
                f'(unaccounted {n_pub - served - stale - lost}); served-frame age p50 {fig["age_first"]:.0f} -> '
                f'{fig["age_last"]:.0f} ms; edge RSS {fig["rss_start"]:.1f} MiB after warm-up -> {fig["rss_end"]:.1f} MiB '
                f'(peak of the last 3 samples, {growth:+.1f}%)')
    assert procs.alive('edge_perception')
    return fig


def test_overload_keeps_latest_counts_drops_and_memory_stays_flat(world, edge30, capsys):
    procs, probe = edge30
    fig = overload_run(world, probe, procs, 15.0, capsys, 'overload')
    # A real overload, its drops counted: the rate is capped at 400 Hz, which the ONNX edge (about
    # 5 ms per frame, less in batches) serves at about 2x, so a quarter of the frames or more are dropped.
    assert fig['served'] > 0 and fig['stale'] + fig['lost'] > 0.25 * fig['published']
    # Newest served: a served frame is at most a few service times old and does not age over the run
    # (a FIFO queue at 10x would make it grow by ~0.9 s per second).
    assert fig['age_last'] <= max(2 * fig['age_first'], fig['age_first'] + 20 * fig['service_ms'])
    # Every published frame is accounted for: served, merged by keep-latest or lost (DDS keep-last 1).
    assert abs(fig['published'] - fig['served'] - fig['stale'] - fig['lost']) <= 0.05 * fig['published'] + 5
    assert fig['growth'] < 5.0


def _bad_camera_images(probe) -> tuple[int, int]:
    """Publishes unreadable images into the robot's image_raw; returns (sent, counted by the camera)."""
    from sensor_msgs.msg import Image
    pub = probe.node.create_publisher(Image, f'{ROBOT}/image_raw', qos.SENSOR)
    assert probe.wait(lambda: pub.get_subscription_count() > 0, 10.0)
    bad = [Image(height=4, width=4, encoding='16UC1', step=8, data=bytes(32)),
           Image(height=0, width=4, encoding='rgb8', step=12, data=b''),
           Image(height=4, width=4, encoding='rgb8', step=5, data=bytes(80)),
           Image(height=100, width=100, encoding='rgb8', step=300, data=bytes(10)),
           Image(height=2 ** 31, width=2 ** 31, encoding='bgr8', step=1, data=b'')]
    before = probe.counter('camera', 'images_rejected')
    sent = 0
    for _ in range(4):
        for msg in bad:
            pub.publish(msg)
            sent += 1
            time.sleep(0.03)  # best effort depth 1: one image at a time, between the source's frames
    probe.settle(lambda: probe.counter('camera', 'images_rejected'), quiet=2.5, timeout=10.0)
    probe.node.destroy_publisher(pub)
    counted = probe.counter('camera', 'images_rejected') - before
    assert counted >= sent // 2, (sent, counted)
    return sent, counted


# --- kill / restart (its own domain) ----------------------------------------------------------

def test_kill_edge_and_camera_mid_stream_and_restart(world, capsys):
    fig = kill_restart_run(world, capsys, domain=ros_domain('faults_restart'), edge_restarts=EDGE_RESTARTS)
    assert fig['edge_restarts'] == EDGE_RESTARTS
    assert statistics.median(fig['resumes']) < RESUME_TARGET_S, fig['resumes']


def kill_restart_run(world, capsys, *, domain: int, edge_restarts: int) -> dict:
    """kill -9 the edge ``edge_restarts`` times, then the camera once; returns the figures."""
    env = dict(world['env'])
    procs = NodeProcesses(domain, world['tmp'] / f'logs{domain}', env)
    probe = None
    try:
        procs.start('edge_perception', params=_edge_params(world, serve_image_codecs=False))
        procs.start('image_source', label='source', namespace=ROBOT, params={'rate_hz': 5.0, 'width': 160,
                                                                             'height': 120})
        procs.start('camera_encoder', label='camera', namespace=ROBOT, params={'checkpoint': world['ladon']})
        probe = ReliabilityProbe(domain, watch_latent=True)
        assert probe.wait_active(), procs.log('edge_perception')[-3000:]
        assert probe.wait(lambda: len(probe.served_sequences()) >= 3, 120.0), \
            '\n'.join(f'--- {p}:\n' + procs.log(p)[-1500:] for p in ('source', 'camera', 'edge_perception'))
        served_before_bad = len(probe.served_sequences())
        bad_sent, bad_counted = _bad_camera_images(probe)
        assert procs.alive('camera'), procs.log('camera')[-3000:]
        assert probe.wait(lambda: len(probe.served_sequences()) > served_before_bad + 2, 15.0), 'encoding stopped'
        resumes, restarts, firsts, starts = [], 0, [], []
        for cycle in range(edge_restarts):
            procs.procs['edge_perception'].kill()  # SIGKILL: no clean shutdown
            procs.procs['edge_perception'].wait()
            t_kill = time.monotonic()
            # The camera keeps publishing while the edge is down (5 frames, deadline 10 s).
            assert probe.wait(lambda: sum(1 for t, _ in list(probe.latent) if t > t_kill) >= 5, 10.0), \
                'the camera side blocked while the edge was down'
            assert procs.alive('camera') and procs.alive('source')
            t_spawn = time.monotonic()
            procs.start('edge_perception', params=_edge_params(world, serve_image_codecs=False))
            log_path = procs.log_dir / 'edge_perception.log'
            assert probe.wait(lambda: ']: active' in log_path.read_text(errors='replace'), 90.0, step=0.02)
            t_active = time.monotonic()
            starts.append(t_active - t_spawn)
            assert probe.wait(lambda: probe.served_sequences(t_active), 10.0), procs.log('edge_perception')[-2000:]
            with probe.lock:
                t_first, first = next((t, m) for t, m in probe.stats if t >= t_active)
            resumes.append(t_first - t_active)
            firsts.append(f'transit {first.transit_ms:.0f} + decode {first.decode_ms:.0f} + heads {first.heads_ms:.0f} ms')
            restarts += 1
        # The camera side: kill -9 and restart; the edge resumes and its counters stay sane.
        served_before = len(probe.served_sequences())
        procs.procs['camera'].kill()
        procs.procs['camera'].wait()
        time.sleep(1.0)
        procs.start('camera_encoder', label='camera', namespace=ROBOT, params={'checkpoint': world['ladon']})
        t_cam = time.monotonic()
        assert probe.wait(lambda: probe.served_sequences(t_cam + 0.5), 90.0), procs.log('camera')[-2000:]
        cam_resume = (next(t for t, _ in probe.stats if t >= t_cam + 0.5) - t_cam)
        # The restart is counted once the edge's per-robot diagnostics (1 Hz) show it.
        probe.wait(lambda: probe.counter('robot', 'camera_restarts') >= 1, 10.0)
        probe.settle(lambda: (probe.counter('robot', 'frames_lost'), probe.counter('robot', 'frames_received')),
                     quiet=1.5, timeout=10.0)
        restarts_seen = probe.counter('robot', 'camera_restarts')
        lost = probe.counter('robot', 'frames_lost')
        received = probe.counter('robot', 'frames_received')
        served_after = len(probe.served_sequences()) - served_before
        say(capsys, f'kill -9 edge x{restarts}: camera kept publishing, results resumed (target 2 s) '
                    f'{", ".join(f"{r * 1000:.0f} ms" for r in resumes)} after the edge was active again '
                    f'(median {statistics.median(resumes) * 1000:.0f} ms; process start to active: '
                    f'{", ".join(f"{s:.1f} s" for s in starts)}, mostly Python, torch and rclpy imports) '
                    f'(first frame: {"; ".join(firsts)}); '
                    f'{bad_sent} unreadable camera images sent to the running camera_encoder: {bad_counted} counted in '
                    f'its diagnostics, it kept encoding; '
                    f'kill -9 camera x1: first result {cam_resume:.1f} s after its restart (incl. process start), '
                    f'edge counted camera_restarts={restarts_seen}, frames_lost={lost} of {received} received '
                    f'(since the last edge start), {served_after} served after')
        # Target: 2 s. What remains after the edge is active is DDS endpoint matching (the first
        # frame itself takes ~0.1 s); on a loaded 2-core machine one matching took up to 2.5 s, so
        # every restart must stay under a stall bound and the callers assert the 2 s median.
        assert max(resumes) < RESUME_BOUND_S, resumes
        assert restarts_seen >= 1 and served_after > 0
        assert lost <= 0.2 * received + 2  # a restart is not counted as millions of lost frames
        assert procs.alive('edge_perception') and procs.alive('source')
        # The camera encoder reloads other weights through lifecycle services, same process.
        cam_pid = procs.procs['camera'].pid
        from ladon_ros.checkpoint import read_metadata
        other_hash = read_metadata(world['other']).short_hash
        Lifecycle(probe.node, f'{ROBOT}/camera_encoder').reload('checkpoint', world['other'])
        assert probe.wait(lambda: other_hash in probe.latent_hashes, 15.0), procs.log('camera')[-2000:]
        assert procs.procs['camera'].pid == cam_pid and procs.alive('camera')
        say(capsys, f'camera_encoder lifecycle over services: deactivate, cleanup, checkpoint:=other, configure, '
                    f'activate: same pid {cam_pid} now sends latents of weights {other_hash}')
        return dict(edge_restarts=restarts, camera_restarts=restarts_seen, resumes=resumes, lost=lost,
                    received=received, starts=starts)
    finally:
        if probe is not None:
            probe.close()
        procs.stop()


# --- lifecycle over services (shared edge) -----------------------------------------------------------------

def _call(node, client, request, timeout=30.0):
    assert client.wait_for_service(timeout_sec=timeout), client.srv_name
    future = client.call_async(request)
    end = time.monotonic() + timeout
    while not future.done() and time.monotonic() < end:
        time.sleep(0.02)
    assert future.done(), f'{client.srv_name} timed out'
    return future.result()


class Lifecycle:
    """Drives a managed node of another process through lifecycle_msgs / rcl_interfaces services."""

    def __init__(self, node, name: str):
        from lifecycle_msgs.srv import ChangeState, GetState
        from rcl_interfaces.srv import SetParameters
        self.node = node
        self.change = node.create_client(ChangeState, f'{name}/change_state')
        self.get = node.create_client(GetState, f'{name}/get_state')
        self.setp = node.create_client(SetParameters, f'{name}/set_parameters')

    def transition(self, tid: int) -> None:
        from lifecycle_msgs.msg import Transition
        from lifecycle_msgs.srv import ChangeState
        assert _call(self.node, self.change, ChangeState.Request(transition=Transition(id=tid))).success, tid

    def state(self) -> str:
        from lifecycle_msgs.srv import GetState
        return _call(self.node, self.get, GetState.Request()).current_state.label

    def set(self, name: str, value) -> None:
        from rcl_interfaces.msg import Parameter as ParamMsg
        from rcl_interfaces.msg import ParameterType, ParameterValue
        from rcl_interfaces.srv import SetParameters
        if isinstance(value, list):
            pv = ParameterValue(type=ParameterType.PARAMETER_STRING_ARRAY, string_array_value=value)
        else:
            pv = ParameterValue(type=ParameterType.PARAMETER_STRING, string_value=value)
        res = _call(self.node, self.setp, SetParameters.Request(parameters=[ParamMsg(name=name, value=pv)]))
        assert res.results[0].successful, res.results[0].reason

    def reload(self, name: str, value) -> None:
        """deactivate -> cleanup (frees the model) -> set ``name`` -> configure -> activate."""
        from lifecycle_msgs.msg import Transition
        self.transition(Transition.TRANSITION_DEACTIVATE)
        self.transition(Transition.TRANSITION_CLEANUP)
        assert self.state() == 'unconfigured'
        self.set(name, value)
        self.transition(Transition.TRANSITION_CONFIGURE)
        self.transition(Transition.TRANSITION_ACTIVATE)
        assert self.state() == 'active'


def test_lifecycle_cleanup_frees_the_model_and_reconfigure_swaps_weights(world, edge30, capsys):
    """On the shared edge; swaps the weights and back, so the other tests may run before or after it."""
    from lifecycle_msgs.msg import Transition
    procs, probe = edge30
    pid = procs.procs['edge_perception'].pid
    life = Lifecycle(probe.node, '/edge_perception')
    other = make_camera_encoder(codec='ladon', checkpoint=world['other']).encode(IMAGE)
    assert _serve_one(probe, world['good'])
    rss_loaded = rss_mib(pid)
    # deactivate frees the model (topics stay); activate loads it again and serving resumes.
    life.transition(Transition.TRANSITION_DEACTIVATE)
    assert life.state() == 'inactive'
    assert probe.wait(lambda: 'model freed' in probe.diag_msg.get('pipeline', ''), 5.0)
    life.transition(Transition.TRANSITION_ACTIVATE)
    assert life.state() == 'active'
    assert _serve_one(probe, world['good']), procs.log('edge_perception')[-2000:]
    life.transition(Transition.TRANSITION_DEACTIVATE)
    life.transition(Transition.TRANSITION_CLEANUP)
    assert life.state() == 'unconfigured'
    assert probe.wait(lambda: 'not configured' in probe.diag_msg.get('pipeline', ''), 5.0)
    time.sleep(0.5)
    rss_free = rss_mib(pid)
    life.set('checkpoints', [world['other']])
    life.transition(Transition.TRANSITION_CONFIGURE)
    life.transition(Transition.TRANSITION_ACTIVATE)
    assert life.state() == 'active'
    assert probe.wait(lambda: probe.pub.get_subscription_count() > 0, 10.0)
    rejected0 = probe.rejected().get('weights_mismatch', 0)
    assert _serve_one(probe, other), procs.log('edge_perception')[-2000:]
    probe.publish(world['good'])  # the old weights are gone
    assert probe.wait(lambda: probe.rejected().get('weights_mismatch', 0) > rejected0, 5.0)
    assert procs.procs['edge_perception'].pid == pid and procs.alive('edge_perception')
    rss_swapped = rss_mib(pid)
    # Swap back (the shared edge serves the module's own weights to whichever test runs next).
    life.reload('checkpoints', [world['ladon']])
    assert probe.wait(lambda: probe.pub.get_subscription_count() > 0, 10.0)
    assert _serve_one(probe, world['good']), procs.log('edge_perception')[-2000:]
    say(capsys, f'edge lifecycle over services: deactivate -> inactive, diagnostics "model freed"; activate -> '
                f'served again; deactivate+cleanup -> unconfigured, diagnostics "not configured (no '
                f'model loaded)", RSS {rss_loaded:.1f} -> {rss_free:.1f} MiB (the small models are a few MiB inside '
                f'the torch runtime); set checkpoints + configure + activate '
                f'in the same process (pid {pid}): the new weights are served, the old ones refused '
                f'(weights_mismatch); RSS {rss_swapped:.1f} MiB; swapped back: the first weights are served again')
