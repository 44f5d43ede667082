#!/usr/bin/env python3
"""Writes N synthetic photo-like JPEGs (smooth colour fields plus grain) for measuring
`dataset create --images` at scale: python3 make_jpeg_folder.py OUT_DIR N [SIZE].
Each image mixes a few of a fixed bank of sine fields with random weights and a shifted grain
field, so that the files differ but cost little to make."""
import os
import sys

import numpy as np
from PIL import Image


def main():
    out, n = sys.argv[1], int(sys.argv[2])
    size = int(sys.argv[3]) if len(sys.argv) > 3 else 1024
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    bank = [np.sin(2 * np.pi * (rng.uniform(1, 12) * x + rng.uniform(1, 12) * y) + rng.uniform(0, 6.3)).astype(np.float32)
            for _ in range(16)]
    grain = rng.normal(0, 6, (size, size)).astype(np.float32)
    for i in range(n):
        img = np.empty((size, size, 3), np.float32)
        for c in range(3):
            a, b = rng.choice(16, 2, replace=False)
            img[..., c] = 127.5 + 45 * (rng.uniform(0.3, 1) * bank[a] + rng.uniform(0.3, 1) * bank[b]) / 2
        img += np.roll(grain, (i * 37, i * 11), axis=(0, 1))[..., None]
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(os.path.join(out, f"{i:05d}.jpg"), quality=90)


if __name__ == "__main__":
    main()
