"""The image folder a new user points the source at (issue 12): six files, two of them bad."""
from __future__ import annotations

import cv2
import numpy as np


def write_user_folder(folder) -> dict[str, np.ndarray]:
    """The six files of the issue; returns name -> the RGB the usable ones must give."""
    rng = np.random.default_rng(0)
    big = rng.integers(0, 255, (720, 1280, 3), np.uint8)
    cv2.imwrite(str(folder / 'a_big.jpg'), big, [cv2.IMWRITE_JPEG_QUALITY, 95])
    gray = np.tile(np.arange(64, dtype=np.uint8) * 3, (40, 1))
    cv2.imwrite(str(folder / 'b_gray.png'), gray)
    rgba = np.zeros((40, 50, 4), np.uint8)
    rgba[..., 2], rgba[..., 3] = 200, 128  # BGRA: red, half transparent
    cv2.imwrite(str(folder / 'c_rgba.png'), rgba)
    data = (folder / 'a_big.jpg').read_bytes()
    (folder / 'd_truncated.jpg').write_bytes(data[:len(data) // 3])
    cv2.imwrite(str(folder / 'e_tiny.png'), np.full((5, 7, 3), 90, np.uint8))
    deep = np.full((30, 40), 257 * 100, np.uint16)
    cv2.imwrite(str(folder / 'f_16bit.png'), deep)
    (folder / 'notes.txt').write_text('not an image')
    return {'gray': cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB), 'rgba': np.dstack([rgba[..., 2]] + [rgba[..., 0]] * 2),
            '16bit': np.full((30, 40, 3), 100, np.uint8)}
