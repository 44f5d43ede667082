#!/usr/bin/env python3
"""Reference values for the Metrics module (Laplacian pyramid, sliced Wasserstein distance, MS-SSIM).

Writes Tests/MetricsTests/Fixtures/metrics_reference.json, which MetricsReferenceTests compares the
Swift code with. CI has no numpy/scipy: the Swift test reads the committed JSON only. Regenerate
(only when a definition changes; commit the JSON):

    python3 Benchmarks/metrics_reference.py

The computations are written from the definitions (Karras et al. 2018, appendix D; Wang et al.
2003), independently of the Swift code, in float64:

- Laplacian pyramid: 5x5 binomial filter [1,4,6,4,1]/16 (separable), mirror padding (edge pixel not
  repeated, numpy "reflect" = scipy.ndimage "mirror"), keep even rows/columns; upsample = zeros
  inserted, same filter x4; band = level - upsample(next). Checked here against
  scipy.ndimage.convolve(mode="mirror"), the ProGAN code's own definition, when scipy is present.
- SWD: descriptors normalized per channel over the whole set (population std); per direction the
  sorted projections of both sets are compared, mean |difference| over descriptors and directions.
- MS-SSIM, the ProGAN authors' rule: scipy correlate2d (valid) with a Gaussian window of
  min(11, side) pixels, sigma 1.5 * size / 11 (centred between pixels when even), data mapped to
  [0, 1], L = 1, K1 = 0.01, K2 = 0.03, 2x2 average pooling between 5 scales, weights
  0.0448/0.2856/0.3001/0.2363/0.1333 as published, negative terms clipped to 0.

The end-to-end SWD and the MS-SSIM average need the same random draws as the Swift code: CounterRNG
(SplitMix64 finalizer over (seed, stream, index)) and the layout documented in
Sources/Metrics/RandomDraws.swift are reimplemented below.

All image inputs are derived from one stored 3x32x32 uint8 image `base` by exact integer operations
(flip, roll, channel rotation, pixel replication), which the Swift test repeats, so the fixture
stays small.
"""
import json
import math
import os

import numpy as np
from scipy import signal

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "MetricsTests", "Fixtures", "metrics_reference.json")
M64 = (1 << 64) - 1

# ---------------------------------------------------------------------------------------------
# CounterRNG (Sources/TensorKit/CounterRNG.swift) and the metrics' draw layout (RandomDraws.swift).


def _mix(z):
    z = (z + 0x9E3779B97F4A7C15) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


class CounterRNG:
    def __init__(self, seed):
        self.seed = seed

    def bits(self, stream, index):
        a = _mix(((self.seed * 0xD1B54A32D192ED03) & M64) ^ stream)
        return _mix(a ^ ((index * 0x9E3779B97F4A7C15) & M64))

    def uniform_double(self, stream, index):
        return (self.bits(stream, index) >> 11) * (1.0 / 9007199254740992.0)

    def normal(self, stream, index):
        u1 = self.uniform_double(stream, (2 * index) & M64)
        u2 = self.uniform_double(stream, (2 * index + 1) & M64)
        r = math.sqrt(-2.0 * math.log(1.0 - u1))
        return np.float32(r * math.cos(2.0 * math.pi * u2))

    def below(self, bound, stream, index):
        return (self.bits(stream, index) * bound) >> 64


PATCH_STREAM = 0x5357445000000000
DIRECTION_STREAM = 0x5357444400000000
PAIR_STREAM = 0x4D53535300000000
PATCHES, PATCH, REPEATS, DIRS = 128, 7, 4, 128


def patch_corner(rng, level, image, patch, rng_range):
    stream = PATCH_STREAM + level
    base = (image * PATCHES + patch) * 2
    return rng.below(rng_range, stream, base), rng.below(rng_range, stream, base + 1)


def directions(rng, level, rep, count, dim):
    """count x dim unit directions, as float32 (normalized in double, scaled in float32)."""
    stream = DIRECTION_STREAM + level
    d = np.zeros((count, dim), np.float32)
    for k in range(count):
        base = (rep * count + k) * dim
        for j in range(dim):
            d[k, j] = rng.normal(stream, base + j)
    norm = np.sqrt((d.astype(np.float64) ** 2).sum(axis=1, keepdims=True))
    return d * (1.0 / norm).astype(np.float32)


def pair(rng, k, n):
    i = rng.below(n, PAIR_STREAM, 2 * k)
    j = rng.below(n - 1, PAIR_STREAM, 2 * k + 1)
    return i, j + 1 if j >= i else j


# ---------------------------------------------------------------------------------------------
# Laplacian pyramid.

TAPS = np.array([1, 4, 6, 4, 1], np.float64) / 16


def filt(x):
    """Separable 5x5 binomial filter of CHW planes, mirror padding."""
    p = np.pad(x, ((0, 0), (2, 2), (2, 2)), mode="reflect")
    n = x.shape[1]
    h = sum(TAPS[t] * p[:, :, t:t + n] for t in range(5))
    return sum(TAPS[t] * h[:, t:t + n, :] for t in range(5))


def pyr_down(x):
    return filt(x)[:, ::2, ::2]


def pyr_up(x):
    c, n, _ = x.shape
    z = np.zeros((c, 2 * n, 2 * n))
    z[:, ::2, ::2] = x
    return 4 * filt(z)


def laplacian_pyramid(x, coarsest):
    levels, g = [], x
    while g.shape[1] > coarsest:
        nxt = pyr_down(g)
        levels.append(g - pyr_up(nxt))
        g = nxt
    levels.append(g)
    return levels


def check_against_scipy(x):
    try:
        import scipy.ndimage
    except ImportError:
        return
    k = np.outer(TAPS, TAPS)[None]
    down = scipy.ndimage.convolve(x, k, mode="mirror")[:, ::2, ::2]
    assert np.abs(down - pyr_down(x)).max() < 1e-12
    z = np.zeros((x.shape[0], 2 * x.shape[1], 2 * x.shape[2]))
    z[:, ::2, ::2] = x
    up = scipy.ndimage.convolve(z, 4 * k, mode="mirror")
    assert np.abs(up - pyr_up(x)).max() < 1e-12


# ---------------------------------------------------------------------------------------------
# Sliced Wasserstein distance.


def normalize(desc, channels):
    """desc: M x (C*49) float32, laid out (c, dy, dx). Returns float32, as the Swift code stores it."""
    d = desc.astype(np.float64).reshape(len(desc), channels, -1)
    mean = d.mean(axis=(0, 2), keepdims=True)
    std = d.std(axis=(0, 2), keepdims=True)
    std[std == 0] = 1
    return ((d - mean) / std).reshape(len(desc), -1).astype(np.float32)


def mean_sorted_difference(a, b, dirs):
    pa = np.sort(a.astype(np.float64) @ dirs.astype(np.float64).T, axis=0)
    pb = np.sort(b.astype(np.float64) @ dirs.astype(np.float64).T, axis=0)
    return float(np.abs(pa - pb).mean())


def descriptors(images, seed, coarsest=16):
    """Per level: (N*128) x (C*49) float32 patches, corners from the CounterRNG layout."""
    rng = CounterRNG(seed)
    out = None
    for g, img in enumerate(images):
        levels = laplacian_pyramid(img.astype(np.float64), coarsest)
        if out is None:
            out = [[] for _ in levels]
        for lev, x in enumerate(levels):
            s = x.shape[1]
            for p in range(PATCHES):
                y0, x0 = patch_corner(rng, lev, g, p, s - PATCH + 1)
                out[lev].append(x[:, y0:y0 + PATCH, x0:x0 + PATCH].reshape(-1).astype(np.float32))
    return [np.stack(level) for level in out]


def swd(real, fake, seed):
    """Per-level SWD x1e3 between two image sets (N x C x S x S float32), patches and directions from seed."""
    da, db = descriptors(real, seed), descriptors(fake, seed)
    rng, c, result = CounterRNG(seed), real.shape[1], []
    for lev, (a, b) in enumerate(zip(da, db)):
        a, b = normalize(a, c), normalize(b, c)
        total = sum(mean_sorted_difference(a, b, directions(rng, lev, r, DIRS, a.shape[1]))
                    for r in range(REPEATS))
        result.append(total / REPEATS * 1e3)
    return result


# ---------------------------------------------------------------------------------------------
# MS-SSIM.

WEIGHTS = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333]


def gaussian_window(k):
    """k x k Gaussian, sigma 1.5 * k / 11, on a grid centred between pixels when k is even."""
    sigma = 1.5 * k / 11
    t = np.arange(k, dtype=np.float64) - (k - 1) / 2
    g = np.exp(-(t[:, None] ** 2 + t[None, :] ** 2) / (2 * sigma ** 2))
    return g / g.sum()


def ms_ssim(x, y):
    """x, y: C x S x S in [-1, 1]. Returns the MS-SSIM (float): the ProGAN authors' rule (always
    5 scales, window min(11, side) with sigma shrunk in proportion, weights as published, terms
    clipped at 0), written here as 2D 'valid' correlation with scipy in float64."""
    x = (np.asarray(x, dtype=np.float64) + 1) / 2
    y = (np.asarray(y, dtype=np.float64) + 1) / 2
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    result = 1.0
    for j in range(5):
        win = gaussian_window(min(11, x.shape[-1]))
        f = lambda t: np.stack([signal.correlate2d(plane, win, mode="valid") for plane in t])
        mx, my = f(x), f(y)
        vx, vy, cov = f(x * x) - mx ** 2, f(y * y) - my ** 2, f(x * y) - mx * my
        cs = (2 * cov + c2) / (vx + vy + c2)
        lum = (2 * mx * my + c1) / (mx ** 2 + my ** 2 + c1)
        term = (lum * cs).mean() if j == 4 else cs.mean()
        result *= max(float(term), 0.0) ** WEIGHTS[j]
        pool = lambda t: 0.25 * (t[:, 0::2, 0::2] + t[:, 1::2, 0::2] + t[:, 0::2, 1::2] + t[:, 1::2, 1::2])
        x, y = pool(x), pool(y)
    return result


# ---------------------------------------------------------------------------------------------
# Inputs: one stored uint8 image and exact integer transforms of it (repeated in the Swift test).


def make_base():
    """3x32x32 uint8: smooth shared structure, per-channel detail, a sharp rectangle."""
    rs = np.random.RandomState(20180101)
    img = np.zeros((3, 32, 32))
    for g, amp in ((4, 1.0), (8, 0.6), (16, 0.35), (32, 0.2)):
        shared = rs.randn(g, g)
        for c in range(3):
            grid = shared + 0.4 * rs.randn(g, g)
            img[c] += amp * np.kron(grid, np.ones((32 // g, 32 // g)))
    img[:, 9:20, 5:14] += 1.2
    img = filt(img)                                  # soften the block edges a little
    return np.clip(np.round(127.5 + 60 * img), 0, 255).astype(np.uint8)


def to_float(u8):
    """uint8 -> float32 in [-1, 1], exactly as ImageBatch(uint8:) (float32 divide, then subtract)."""
    return u8.astype(np.float32) / np.float32(127.5) - np.float32(1)


def flip(u8):                                        # mirror left-right
    return u8[..., ::-1].copy()


def roll(u8):                                        # cyclic shift by 3 rows down, 5 columns right
    return np.roll(u8, (3, 5), axis=(-2, -1))


def rotate_channels(u8):                             # (R, G, B) -> (G, B, R)
    return u8[[1, 2, 0]]


def replicate(u8, k):                                # pixel replication, S -> k S
    return np.repeat(np.repeat(u8, k, axis=-2), k, axis=-1)


# ---------------------------------------------------------------------------------------------


def tensor(x):
    x = np.asarray(x)
    return {"shape": list(x.shape), "data": x.reshape(-1).tolist()}


def fmt(obj):
    """JSON with float32-precise numbers (9 significant digits) to keep the file small."""
    if isinstance(obj, dict):
        return "{" + ", ".join(json.dumps(k) + ": " + fmt(v) for k, v in obj.items()) + "}"
    if isinstance(obj, list):
        return "[" + ",".join(fmt(v) for v in obj) + "]"
    if isinstance(obj, float):
        return repr(int(obj)) if obj.is_integer() and abs(obj) < 1e15 else "%.9g" % obj
    return json.dumps(obj)


def main():
    base = make_base()
    tensors = {"base": tensor(base.astype(np.int64))}

    # 1. Pyramid of to_float(base), coarsest 8 (three levels: 32, 16, 8).
    x = to_float(base).astype(np.float64)
    check_against_scipy(x)
    for k, level in enumerate(laplacian_pyramid(x, 8)):
        tensors["pyramid/level%d" % k] = tensor(level)

    # 2. SWD on stored descriptors and directions (no RNG): 32 descriptors of 3 x 49 values with very
    #    different per-channel offsets and scales (so per-channel normalization matters), integers.
    rs = np.random.RandomState(7)
    m, dim = 32, 3 * 49
    offsets, scales = np.array([128, -20, 1000]), np.array([40, 3, 250])
    def desc(shift):
        v = rs.randn(m, 3, 49) * scales[None, :, None] + offsets[None, :, None] + shift
        return np.round(v).astype(np.int64).reshape(m, dim)
    a, b = desc(0), desc(np.array([0, 2, -100])[None, :, None] + rs.randn(m, 3, 1) * 10)
    d = rs.randn(8, dim)
    d = (d / np.linalg.norm(d, axis=1, keepdims=True)).astype(np.float32)
    tensors["swd/a"], tensors["swd/b"], tensors["swd/directions"] = tensor(a), tensor(b), tensor(d)
    na, nb = normalize(a.astype(np.float32), 3), normalize(b.astype(np.float32), 3)
    tensors["swd/meanSortedDifference"] = tensor([mean_sorted_difference(na, nb, d)])
    tensors["swd/meanSortedDifferenceRaw"] = tensor(
        [mean_sorted_difference(a.astype(np.float32), b.astype(np.float32), d)])

    # 3. End-to-end SWD, seed 7: real = [base, flip(base)], fake = [roll(base), rotate_channels(base)].
    real = np.stack([to_float(base), to_float(flip(base))])
    fake = np.stack([to_float(roll(base)), to_float(rotate_channels(base))])
    tensors["swdImages/perLevel"] = tensor(swd(real, fake, 7))
    tensors["swdImages/selfPerLevel"] = tensor(swd(real, real, 7))

    # 4. MS-SSIM of x and roll(x): x = replicate(base, 8) (256 px), replicate(base, 4) (128 px:
    #    the smallest window is 8 px), replicate(base, 2) (64 px), base[:, 16:, 16:] (16 px); and the average over 6 random pairs
    #    (seed 5) of [x, roll(x), flip(x), rotate_channels(x)] with x = replicate(base, 2).
    for name, u8 in (("s256", replicate(base, 8)), ("s128", replicate(base, 4)), ("s64", replicate(base, 2)),
                     ("s16", base[:, 16:, 16:])):
        tensors["msssim/" + name] = tensor([ms_ssim(to_float(u8), to_float(roll(u8)))])
    x = replicate(base, 2)
    images = [to_float(t) for t in (x, roll(x), flip(x), rotate_channels(x))]
    rng = CounterRNG(5)
    scores = [ms_ssim(images[i], images[j]) for i, j in (pair(rng, k, 4) for k in range(6))]
    tensors["msssim/pairAverage"] = tensor([sum(scores) / 6])

    doc = {
        "description": (
            "Metrics reference values (Benchmarks/metrics_reference.py, float64 numpy/scipy). "
            "base: 3x32x32 uint8; images are uint8 -> float32 x/127.5-1. pyramid/levelK: Laplacian "
            "pyramid of base, coarsest 8 (binomial 5x5, mirror padding). swd/a, swd/b: 32 descriptors "
            "of 147 (c,dy,dx) values; swd/directions 8x147 unit; meanSortedDifference after "
            "per-channel normalization of each set, ...Raw without. swdImages/perLevel: SWD x1e3 "
            "levels 32,16, seed 7, real [base, flip(base)], fake [roll(base) by (3,5), channels "
            "(G,B,R)]; selfPerLevel real vs real. msssim/sN: MS-SSIM of x and roll(x), x = base "
            "replicated to N px (s16: bottom-right 16x16 crop); pairAverage: 6 pairs (seed 5) of "
            "[x, roll x, flip x, rotated channels x], x = base at 64 px."),
        "tensors": tensors,
    }
    text = fmt(doc)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        f.write(text + "\n")
    print("wrote %s (%d bytes)" % (os.path.relpath(OUT, ROOT), len(text) + 1))
    for k in ("swd/meanSortedDifference", "swd/meanSortedDifferenceRaw", "swdImages/perLevel",
              "swdImages/selfPerLevel", "msssim/s256", "msssim/s128", "msssim/s64", "msssim/s16", "msssim/pairAverage"):
        print(k, tensors[k]["data"])


if __name__ == "__main__":
    main()
