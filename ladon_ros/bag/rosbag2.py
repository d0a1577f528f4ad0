"""A rosbag2 bag folder with one MCAP file: ``<bag>/<bag>_0.mcap`` + ``<bag>/metadata.yaml``.

What rosbag2's MCAP storage writes: profile ``ros2``, one ``ros2msg`` schema per type, one
``cdr`` channel per topic (its offered QoS in the channel metadata), messages stamped with
the receive time, and ``metadata.yaml`` (version 9) so ``ros2 bag info`` / ``ros2 bag play``
on a full ROS 2 install and independent readers such as ``rosbags`` open it. Messages are
stored as the CDR bytes that crossed DDS, unchanged.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import yaml

from ladon_ros.bag.msgdefs import schema, split_type

METADATA_VERSION = 9
LATENT_TYPE = 'ladon_ros/msg/LatentFrame'
# rosbag2's representation of "no limit" for deadline / lifespan / lease durations.
_INFINITE = {'sec': 9223372036, 'nsec': 854775807}


def qos_profile(*, reliable: bool, transient_local: bool = False, depth: int = 1) -> dict:
    """One ``offered_qos_profiles`` entry as rosbag2 writes it."""
    return {'history': 'keep_last', 'depth': depth, 'reliability': 'reliable' if reliable else 'best_effort',
            'durability': 'transient_local' if transient_local else 'volatile', 'deadline': dict(_INFINITE),
            'lifespan': dict(_INFINITE), 'liveliness': 'automatic',
            'liveliness_lease_duration': dict(_INFINITE), 'avoid_ros_namespace_conventions': False}


@dataclass
class _Topic:
    name: str
    msgtype: str
    channel_id: int
    qos: list
    type_hash: str
    count: int = 0


@dataclass
class BagMessage:
    """One stored message: topic, ROS type ('pkg/msg/Type'), receive time [ns] and CDR bytes."""

    topic: str
    msgtype: str
    log_time_ns: int
    data: bytes
    schema_text: str = field(default='', repr=False)


class BagWriter:
    """Writes a new bag folder; ``close()`` (or the ``with`` block) finishes it.

    Args:
        path: The bag folder to create (must not exist, like ``ros2 bag record -o``).
        compression: MCAP chunk compression, ``'zstd'`` (rosbag2's default profile) or ``''``.
        chunk_size: Bytes per MCAP chunk.
    """

    def __init__(self, path: str | Path, *, compression: str = 'zstd', chunk_size: int = 1 << 20):
        from mcap.writer import CompressionType, Writer
        self.path = Path(path)
        if self.path.exists():
            raise FileExistsError(f'{self.path} exists; a bag is written to a new folder')
        self.path.mkdir(parents=True)
        self.file = self.path / f'{self.path.name}_0.mcap'
        self._fh = open(self.file, 'wb')
        kind = {'zstd': CompressionType.ZSTD, '': CompressionType.NONE}[compression]
        self._mcap = Writer(self._fh, chunk_size=chunk_size, compression=kind)
        self._mcap.start(profile='ros2', library='ladon_ros')
        self._schemas: dict[str, int] = {}
        self._topics: dict[str, _Topic] = {}
        self._first = self._last = None
        self._encoders: dict[str, object] = {}
        self.closed = False

    def add_topic(self, topic: str, msgtype: str, *, qos: list[dict] | None = None, type_hash: str = '') -> None:
        """Declares a topic (once) before its messages; ``msgtype`` is 'pkg/msg/Type'."""
        if topic in self._topics:
            return
        pkg, typ = split_type(msgtype)
        msgtype = f'{pkg}/msg/{typ}'
        if msgtype not in self._schemas:
            self._schemas[msgtype] = self._mcap.register_schema(msgtype, 'ros2msg', schema(msgtype).encode())
        qos = list(qos or [])
        metadata = {'offered_qos_profiles': yaml.safe_dump(qos, sort_keys=False) if qos else ''}
        if type_hash:
            metadata['topic_type_hash'] = type_hash
        channel = self._mcap.register_channel(topic, 'cdr', self._schemas[msgtype], metadata)
        self._topics[topic] = _Topic(topic, msgtype, channel, qos, type_hash)

    def write(self, topic: str, data: bytes, log_time_ns: int, publish_time_ns: int | None = None) -> None:
        """Stores one CDR-serialised message of a declared topic."""
        t = self._topics[topic]
        self._mcap.add_message(t.channel_id, log_time=log_time_ns, data=bytes(data),
                               publish_time=log_time_ns if publish_time_ns is None else publish_time_ns,
                               sequence=t.count)
        t.count += 1
        self._first = log_time_ns if self._first is None else min(self._first, log_time_ns)
        self._last = log_time_ns if self._last is None else max(self._last, log_time_ns)

    def write_fields(self, topic: str, message, log_time_ns: int) -> bytes:
        """Serialises ``message`` (an object or dict with the type's fields) without rclpy and stores it.

        Returns:
            The CDR bytes written.
        """
        from mcap_ros2._dynamic import serialize_dynamic
        t = self._topics[topic]
        if t.msgtype not in self._encoders:
            pkg, typ = split_type(t.msgtype)
            self._encoders[t.msgtype] = serialize_dynamic(f'{pkg}/{typ}', schema(t.msgtype))[f'{pkg}/{typ}']
        data = self._encoders[t.msgtype](message)
        self.write(topic, data, log_time_ns)
        return data

    def metadata(self) -> dict:
        """The ``metadata.yaml`` content for what was written so far."""
        count = sum(t.count for t in self._topics.values())
        start = self._first or 0
        duration = (self._last - self._first) if count else 0
        return {'rosbag2_bagfile_information': {
            'version': METADATA_VERSION, 'storage_identifier': 'mcap',
            'duration': {'nanoseconds': duration}, 'starting_time': {'nanoseconds_since_epoch': start},
            'message_count': count,
            'topics_with_message_count': [
                {'topic_metadata': {'name': t.name, 'type': t.msgtype, 'serialization_format': 'cdr',
                                    'offered_qos_profiles': t.qos, 'type_description_hash': t.type_hash},
                 'message_count': t.count} for t in self._topics.values()],
            'compression_format': '', 'compression_mode': '',
            'relative_file_paths': [self.file.name],
            'files': [{'path': self.file.name, 'starting_time': {'nanoseconds_since_epoch': start},
                       'duration': {'nanoseconds': duration}, 'message_count': count}],
            'custom_data': {'writer': 'ladon_ros'},
            'ros_distro': os.environ.get('ROS_DISTRO', 'kilted')}}

    def close(self) -> None:
        """Finishes the MCAP file (summary, index) and writes ``metadata.yaml``."""
        if self.closed:
            return
        self.closed = True
        meta = yaml.safe_dump(self.metadata(), sort_keys=False)
        # rosbag2 also keeps the metadata inside the MCAP file (ros2 bag reindex, info).
        self._mcap.add_metadata('rosbag2', {'serialized_metadata': meta})
        self._mcap.finish()
        self._fh.close()
        (self.path / 'metadata.yaml').write_text(meta)

    def __enter__(self) -> 'BagWriter':
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def mcap_files(bag: str | Path) -> list[Path]:
    """The MCAP files of a bag folder (``metadata.yaml`` order) or a single ``.mcap`` file."""
    bag = Path(bag)
    if bag.is_file():
        return [bag]
    meta = bag / 'metadata.yaml'
    if meta.is_file():
        info = yaml.safe_load(meta.read_text())['rosbag2_bagfile_information']
        if info.get('storage_identifier') != 'mcap':
            raise ValueError(f'{bag}: storage {info.get("storage_identifier")!r}; only mcap bags are read')
        return [bag / Path(p).name for p in info['relative_file_paths']]
    files = sorted(bag.glob('*.mcap'))
    if not files:
        raise FileNotFoundError(f'{bag}: no metadata.yaml and no .mcap file')
    return files


def read_messages(bag: str | Path, topics: list[str] | None = None) -> Iterator[BagMessage]:
    """Every message of the bag (in receive-time order per file), CDR bytes as stored."""
    from mcap.reader import make_reader
    for path in mcap_files(bag):
        with open(path, 'rb') as fh:
            reader = make_reader(fh)
            for sch, channel, message in reader.iter_messages(topics=topics, log_time_order=True):
                yield BagMessage(channel.topic, sch.name if sch else '', message.log_time, message.data,
                                 sch.data.decode() if sch else '')
