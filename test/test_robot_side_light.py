"""The robot-side executables import no torch: image_source, camera_encoder by default, and
robot_camera (the two in one process).

A fresh interpreter refuses torch and torchvision (an import hook), then runs the two nodes'
own code paths with their default parameters: image_source draws and publishes one
synthetic frame, camera_encoder (ONNX back end, the shipped bundle) configures, activates
and encodes that frame. compressai's package must not be imported either (its rANS
extension is loaded on its own: ``ladon_ros.codec.latent.rans``).
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from ros_harness import ros_domain

HEAVY = ('torch', 'torchvision')

SCRIPT = textwrap.dedent('''
    import sys
    HEAVY = {heavy!r}

    class NoTorch:
        def find_spec(self, name, path=None, target=None):
            if name.split('.')[0] in HEAVY:
                raise ImportError(f'{{name}} is blocked: the robot side must run without it')
            return None

    sys.meta_path.insert(0, NoTorch())
    import rclpy
    from ladon_ros.ros.camera_encoder_node import CameraEncoderNode
    from ladon_ros.ros.image_source_node import ImageSourceNode

    rclpy.init()
    source = ImageSourceNode()
    images = []
    source.pub.publish = images.append
    source._tick()
    camera = CameraEncoderNode()  # defaults: autostart (configure + activate), backend onnx
    assert camera.active, 'camera_encoder did not activate'
    latents = []
    camera.pub.publish = latents.append
    camera._on_image(images[0])
    frame = latents[0]
    ident = camera.encoder.identity
    assert (frame.codec, frame.model_id, frame.weights_hash) == ('ladon', ident.model_id, ident.short_hash)
    leaked = sorted(m for m in sys.modules if m.split('.')[0] in HEAVY or m == 'compressai')
    assert not leaked, leaked
    print('LIGHT', camera.encoder.backend.name, ident.weights_hash, len(frame.data))
    camera.close(); camera.destroy_node(); source.close(); source.destroy_node()
    from ladon_ros.ros.robot_camera_node import make_nodes
    composed_source, composed_camera = make_nodes()
    composed_latents = []
    composed_camera.pub.publish = composed_latents.append
    composed_source._tick()  # the frame goes to the encoder in-process
    assert len(composed_latents) == 1 and composed_latents[0].codec == 'ladon'
    leaked = sorted(m for m in sys.modules if m.split('.')[0] in HEAVY or m == 'compressai')
    assert not leaked, leaked
    print('COMPOSED', len(composed_latents[0].data))
    for node in (composed_camera, composed_source):
        node.close(); node.destroy_node()
    rclpy.shutdown()
''')


def test_image_source_and_camera_encoder_import_no_torch():
    from ladon_ros.camera.bundle import read_bundle_info
    from ladon_ros.weights import shipped_camera_bundle
    env = {**os.environ, 'ROS_DOMAIN_ID': str(ros_domain('robot_side_light'))}
    out = subprocess.run([sys.executable, '-c', SCRIPT.format(heavy=HEAVY)], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    backend, weights_hash, nbytes = out.stdout.split('LIGHT', 1)[1].split()[:3]
    assert backend == 'onnx' and weights_hash == read_bundle_info(shipped_camera_bundle())['weights_hash']
    assert int(nbytes) > 30  # header + a coded latent
    assert int(out.stdout.split('COMPOSED', 1)[1].split()[0]) > 30


def test_hook_blocks_torch():
    # Guards the test above: the same hook must make `import torch` fail.
    script = SCRIPT.format(heavy=HEAVY).split('import rclpy')[0] + 'import torch\n'
    out = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and 'torch is blocked' in out.stderr
