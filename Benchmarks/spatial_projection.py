#!/usr/bin/env python3
"""Projected efficiency of spatial + data parallelism for the paper's networks at one resolution.

A model, not a measurement: it combines numbers measured on one machine (the per-image time of a
one-rank step, the optimizer's time, the extra cost of a slab measured with two ranks) with
point-to-point and all-reduce costs (latency alpha, bandwidth beta; measured within a node, or
taken from an interconnect's data sheet) and the decomposition rule of `SpatialLayout` (the
same rule and the same level costs as `NetworkConfig.levelCost`, re-stated here).

Per step, on the busiest rank of N (D groups of S slabs, n = ceil(B / D) images a group):
  compute   = n * T1 * sum over levels of share(l) * (1 / S * (1 + o) if l is split else 1)
  halo      = sum over split levels of convs(l) * exchanges * 2 * (alpha + n * 2 * C(l) * r(l) * 4 B / beta)
  gather    = at the first whole level below the split ones, per pass: (S - 1) * (alpha + n * C * r * r / S * 4 B / beta)
  allreduce = 2 (N - 1) / N * P * 4 B / beta + 2 (N - 1) * alpha   (ring, P parameters of G and D;
              the sharded update's reduce-scatter and all-gather move the same bytes, plus one
              small all-reduce agreeing on finiteness: 2 log2(N) alpha)
  optimizer = measured one-rank time x ((1 - a) + a / N): Adam is sharded over the N ranks (each
              updates 1/N of G and D), the EMA of G and the gradient flattening stay whole on every
              rank; a is Adam's share of the measured time (--sharded-share; default 0.67, its
              share of the optimizer's memory traffic: Adam reads g, m, v, w and writes m, v, w
              over G and D, 7 x 46.2M floats; the EMA 3 x 23.1M over G; flattening 2 x 46.2M)
  efficiency = (B * T1 + optimizer) / (N * (compute + halo + gather + allreduce + optimizer))
(--sharded-share 0 gives the projection of the replicated optimizer, as before the sharding.)
share(l) is level l's fraction of one image's multiply-adds (both networks' 3x3 convolutions and
the 4x4 dense layers); o the measured extra cost of computing a slab instead of a whole image
(two ranks on one image: o = 2 * t(2 ranks) / t(1 rank) - 1, which also holds their waiting on
each other). A step has 3 passes of D's convolutions forward (reals with fakes, the penalty's
mix, G's fakes), their backward, and the penalty's recorded gradient and its backward (about 8
exchanges a D conv), and 2 forward and 1 backward of G's (3 a G conv).

Usage: spatial_projection.py --t1 SECONDS_PER_IMAGE --optimizer SECONDS [--slab-overhead O]
         [--alpha SECONDS --beta BYTES_PER_SECOND] [--resolution 1024] [--ranks 8 16 64] [--batch 3 32]
"""
import argparse
import math


def nf(r, fmap_base=8192, fmap_max=512):
    return min(fmap_base >> (int(math.log2(r)) - 1), fmap_max)


def level_cost(r):
    c = nf(r)
    if r == 4:
        return 2 * r * r * 9 * c * c + 2 * 16 * c * c
    return 2 * r * r * 9 * (c * c + c * nf(r // 2))


def is_split(r, s):
    return s > 1 and r > 4 and r // s >= 2


def layout(ranks, batch, res):
    levels = [2 ** k for k in range(2, int(math.log2(res)) + 1)]
    best = None
    s = 1
    while s <= ranks and res // s >= 2 and (s == 1 or res > 4):
        per_image = sum(level_cost(r) / s if is_split(r, s) else level_cost(r) for r in levels)
        for d in range(1, min(batch, ranks // s) + 1):
            load = -(-batch // d) * per_image
            margin = 1e-9 * (best[0] if best else 0)
            if best is None or load < best[0] - margin or (load <= best[0] + margin and s == best[1]):
                best = (load, s, d)
        s *= 2
    return best[2], best[1]


def project(ranks, batch, res, t1, optimizer, overhead, alpha, beta, parameters, sharded=0.67):
    d, s = layout(ranks, batch, res)
    n = -(-batch // d)
    levels = [2 ** k for k in range(2, int(math.log2(res)) + 1)]
    total = sum(level_cost(r) for r in levels)
    compute = n * t1 * sum(level_cost(r) / total * ((1 + overhead) / s if is_split(r, s) else 1) for r in levels)
    halo = 0.0
    gather = 0.0
    if s > 1:
        for r in levels:
            if is_split(r, s):
                convs = 2 * 8 + 2 * 3          # D's two convs x 8 exchanges, G's two x 3
                halo += convs * 2 * (alpha + n * 2 * nf(r) * r * 4 / beta)
        whole = max(r for r in levels if not is_split(r, s))
        gather = 6 * (s - 1) * (alpha + n * nf(whole) * whole * whole / s * 4 / beta)
    allreduce = (2 * (ranks - 1) / ranks * parameters * 4 / beta + 2 * (ranks - 1) * alpha
                 + (2 * math.ceil(math.log2(ranks)) * alpha if sharded > 0 else 0)) if ranks > 1 else 0
    rank_optimizer = optimizer * ((1 - sharded) + sharded / ranks)
    step = compute + halo + gather + allreduce + rank_optimizer
    efficiency = (batch * t1 + optimizer) / (ranks * step)
    return dict(d=d, s=s, idle=ranks - d * s, compute=compute, halo=halo, gather=gather, allreduce=allreduce,
                optimizer=rank_optimizer, step=step, efficiency=efficiency)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--t1", type=float, required=True, help="seconds of a one-rank step per image at the resolution")
    p.add_argument("--optimizer", type=float, required=True, help="seconds of Adam + EMA + gradient flattening a step")
    p.add_argument("--slab-overhead", type=float, default=0.0, help="o: extra cost of a slab (see the docstring)")
    p.add_argument("--alpha", type=float, default=2e-6, help="point-to-point latency, seconds")
    p.add_argument("--beta", type=float, default=12.5e9, help="bandwidth, bytes/s")
    p.add_argument("--sharded-share", type=float, default=0.67, help="a: the share of --optimizer sharded over the ranks (Adam)")
    p.add_argument("--parameters", type=float, default=46.17e6, help="parameters of G and D (1024: 46.17M)")
    p.add_argument("--resolution", type=int, default=1024)
    p.add_argument("--ranks", type=int, nargs="+", default=[8, 16, 64])
    p.add_argument("--batch", type=int, nargs="+", default=[3, 32])
    a = p.parse_args()
    print(f"resolution {a.resolution}, T1 {a.t1:.2f} s/image, optimizer {a.optimizer:.3f} s ({a.sharded_share:.2f} of it sharded), "
          f"slab overhead {a.slab_overhead:.3f}, "
          f"alpha {a.alpha * 1e6:.1f} us, beta {a.beta / 1e9:.1f} GB/s")
    print(f"{'batch':>5} {'ranks':>5} {'D x S':>7} {'idle':>4} {'compute':>8} {'halo':>7} {'gather':>7} {'allred':>7} "
          f"{'optim':>6} {'step s':>7} {'effic':>6}")
    for b in a.batch:
        for n in a.ranks:
            r = project(n, b, a.resolution, a.t1, a.optimizer, a.slab_overhead, a.alpha, a.beta, a.parameters, a.sharded_share)
            print(f"{b:5d} {n:5d} {r['d']:>3d} x {r['s']:<2d} {r['idle']:4d} {r['compute']:8.2f} {r['halo']:7.3f} "
                  f"{r['gather']:7.3f} {r['allreduce']:7.3f} {r['optimizer']:6.3f} {r['step']:7.2f} {r['efficiency']:6.2f}")


if __name__ == "__main__":
    main()
