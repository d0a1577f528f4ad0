"""``ladon-ros record``: robots' latents (and optionally results) to an MCAP bag in the rosbag2 layout."""
from __future__ import annotations

import time


def register(sub) -> None:
    """Adds the ``record`` subcommand."""
    p = sub.add_parser('record', help="record robots' latents to a bag (MCAP, rosbag2 layout; ros2 bag reads it)")
    p.add_argument('robots', nargs='*', help="robot namespaces, e.g. /robot1 /robot2 (default: every robot "
                                             "publishing a latent, found in the graph)")
    p.add_argument('-o', '--output', default=None, help='bag folder to create (default: ladon_<date>_<time>)')
    p.add_argument('--results', action='store_true',
                   help="also the robots' compact results (classification, detections, segmentation/compressed)")
    p.add_argument('--frame-stats', action='store_true', help='also perception/frame_stats')
    p.add_argument('--label-info', action='store_true', help="also the edge's latched label_info/* maps")
    p.add_argument('--max-frames', type=int, default=0, help='stop after this many latent frames (0 = Ctrl-C)')
    p.add_argument('--duration', type=float, default=0.0, help='stop after this many seconds (0 = Ctrl-C)')
    p.add_argument('--compression', choices=['zstd', 'none'], default='zstd', help='MCAP chunk compression')
    p.set_defaults(func=run, needs_ros=True)  # a ROS node in this process: main() sets up its environment


def run(args) -> int:
    """Records until Ctrl-C, ``--duration`` or ``--max-frames``; prints what the bag holds."""
    from ladon_ros.bag.rosbag2 import BagWriter
    from ladon_ros.ros.tools.bag_record import BagRecorder
    from ladon_ros.ros.common import run_node
    path = args.output or time.strftime('ladon_%Y_%m_%d-%H_%M_%S')
    writer = BagWriter(path, compression='' if args.compression == 'none' else 'zstd')
    groups = [g for g, on in (('results', args.results), ('frame_stats', args.frame_stats)) if on]
    code = run_node(lambda: BagRecorder(writer, args.robots, groups=groups, label_info=args.label_info,
                                        max_messages=args.max_frames, duration_s=args.duration),
                    args=['ladon-ros-record'])
    writer.close()  # also when the node never started (its close() did it otherwise)
    meta = writer.metadata()['rosbag2_bagfile_information']
    size = sum(f.stat().st_size for f in writer.path.iterdir())
    print(f'{writer.path}: {meta["message_count"]} messages, {size / 1e6:.2f} MB, '
          f'{meta["duration"]["nanoseconds"] / 1e9:.1f} s')
    for t in meta['topics_with_message_count']:
        print(f'  {t["topic_metadata"]["name"]}: {t["message_count"]}')
    return code
