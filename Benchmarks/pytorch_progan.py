#!/usr/bin/env python3
"""The iteration `progan-mpi bench` times, in PyTorch (CPU): the reference of compare_pytorch.py.

Same networks and the same step as Sources/ProGAN and Sources/Training/Trainer.swift, at the
paper's widths (fmap base 8192, fmap max 512, latent 512, 3 channels), stable at --res (alpha 1):

  G: pixel-normalized latent -> dense (no bias) to 512*16, reshape, + bias, LReLU(0.2), pixelnorm,
     conv3x3, LReLU, pixelnorm; each later block: nearest 2x up, two conv3x3 each + LReLU and
     pixelnorm; toRGB 1x1 (gain 1, linear).
  D: fromRGB 1x1 + LReLU; blocks conv3x3, conv3x3 (+ LReLU each), 2x2 average pool; at 4x4
     minibatch stddev over the whole minibatch, conv3x3 (nf+1 -> nf), dense to 512 (LReLU),
     dense to 1 (gain 1).
  Equalized learning rate: weights N(0,1), multiplied by gain/sqrt(fan_in) in every forward.
  D step: fakes = G(z) without grad; WGAN-GP loss with lambda 10, target 1, drift 0.001; the
     penalty's gradient from torch.autograd.grad(create_graph=True); gradients of D only; skipped
     if any is non-finite; Adam (lr 0.001, betas (0, 0.99), eps 1e-8).
  G step: loss -mean D(G(z)); gradients of G only (as our autograd: D's weights need none); Adam.
  EMA of G's weights, decay 0.999.
Ours also keeps the toRGB/fromRGB layers of the lower resolutions (unused at alpha 1, still
updated by Adam and the EMA: 7.6k of 23.1M parameters at 1024); they are left out here.

A measurement, not a test (CI does not run it). Prints a summary, or one JSON object with --json:
images/s, seconds per iteration, each iteration's seconds, a breakdown by phase (perf_counter
around each phase; CPU eager mode is synchronous), peak RSS (getrusage ru_maxrss, KiB).

    OMP_NUM_THREADS=1 python3 Benchmarks/pytorch_progan.py --res 16 --iters 3 --warmup 1
"""

import argparse
import json
import math
import resource
import sys
import time

import torch
import torch.nn.functional as F

LATENT, FMAP_BASE, FMAP_MAX, CHANNELS = 512, 8192, 512, 3
LEAKY, GP_LAMBDA, GP_TARGET, DRIFT = 0.2, 10.0, 1.0, 0.001
LR, BETAS, EPS, EMA_BETA = 0.001, (0.0, 0.99), 1e-8, 0.999
SQRT2 = math.sqrt(2.0)


def paper_minibatch(res):
    """The paper's minibatch (appendix A.1): 16 up to 128, then 14, 6, 3."""
    return 16 if res <= 128 else {256: 14, 512: 6}.get(res, 3)


def nf(stage):
    return min(FMAP_BASE >> stage, FMAP_MAX)


def width(res):
    return nf(int(math.log2(res)) - 1)


class EqConv:
    """Same-padded k x k conv with a weight N(0,1) scaled by gain/sqrt(fan_in) at run time."""

    def __init__(self, cin, cout, k, gain):
        self.w = torch.randn(cout, cin, k, k).requires_grad_()
        self.b = torch.zeros(cout).requires_grad_()
        self.scale = gain / math.sqrt(cin * k * k)

    def __call__(self, x):
        return F.conv2d(x, self.w * self.scale, self.b, padding=self.w.shape[-1] // 2)

    def params(self):
        return [self.w, self.b]


class EqDense:
    """x W^T * gain/sqrt(fan_in) (+ bias)."""

    def __init__(self, fin, fout, gain, bias=True):
        self.w = torch.randn(fout, fin).requires_grad_()
        self.b = torch.zeros(fout).requires_grad_() if bias else None
        self.scale = gain / math.sqrt(fin)

    def __call__(self, x):
        y = x @ (self.w * self.scale).t()
        return y if self.b is None else y + self.b

    def params(self):
        return [self.w] + ([self.b] if self.b is not None else [])


def lrelu(x):
    return F.leaky_relu(x, LEAKY)


def pixel_norm(x):
    return x * torch.rsqrt((x * x).mean(dim=1, keepdim=True) + 1e-8)


class Generator:
    def __init__(self, res):
        self.res = res
        nf4 = width(4)
        self.dense = EqDense(LATENT, nf4 * 16, SQRT2 / 4, bias=False)
        self.dense_bias = torch.zeros(nf4).requires_grad_()
        self.conv4 = EqConv(nf4, nf4, 3, SQRT2)
        self.blocks = []
        r = 8
        while r <= res:
            cin, cout = width(r // 2), width(r)
            self.blocks.append((EqConv(cin, cout, 3, SQRT2), EqConv(cout, cout, 3, SQRT2)))
            r *= 2
        self.to_rgb = EqConv(width(res), CHANNELS, 1, 1.0)

    def __call__(self, z):
        x = self.dense(pixel_norm(z)).reshape(z.shape[0], -1, 4, 4)
        x = pixel_norm(lrelu(x + self.dense_bias.view(1, -1, 1, 1)))
        x = pixel_norm(lrelu(self.conv4(x)))
        for c0, c1 in self.blocks:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
            x = pixel_norm(lrelu(c0(x)))
            x = pixel_norm(lrelu(c1(x)))
        return self.to_rgb(x)

    def params(self):
        ps = self.dense.params() + [self.dense_bias] + self.conv4.params()
        for c0, c1 in self.blocks:
            ps += c0.params() + c1.params()
        return ps + self.to_rgb.params()


def minibatch_stddev(x):
    """One group of the whole minibatch: std over samples of every feature, averaged, as a map."""
    n, _, h, w = x.shape
    y = x - x.mean(dim=0, keepdim=True)
    s = torch.sqrt((y * y).mean(dim=0) + 1e-8).mean()
    return torch.cat([x, s.view(1, 1, 1, 1).expand(n, 1, h, w)], dim=1)


class Discriminator:
    def __init__(self, res):
        self.from_rgb = EqConv(CHANNELS, width(res), 1, SQRT2)
        self.blocks = []
        r = res
        while r > 4:
            c0, c1 = width(r), width(r // 2)
            self.blocks.append((EqConv(c0, c0, 3, SQRT2), EqConv(c0, c1, 3, SQRT2)))
            r //= 2
        nf4 = width(4)
        self.conv4 = EqConv(nf4 + 1, nf4, 3, SQRT2)
        self.dense0 = EqDense(nf4 * 16, nf(0), SQRT2)
        self.dense1 = EqDense(nf(0), 1, 1.0)

    def __call__(self, img):
        x = lrelu(self.from_rgb(img))
        for c0, c1 in self.blocks:
            x = lrelu(c1(lrelu(c0(x))))
            x = F.avg_pool2d(x, 2)
        x = lrelu(self.conv4(minibatch_stddev(x)))
        x = lrelu(self.dense0(x.reshape(x.shape[0], -1)))
        return self.dense1(x)

    def params(self):
        ps = self.from_rgb.params()
        for c0, c1 in self.blocks:
            ps += c0.params() + c1.params()
        return ps + self.conv4.params() + self.dense0.params() + self.dense1.params()


class Phases:
    """Seconds by phase: `switch(name)` charges the time since the last switch to the previous phase."""

    def __init__(self):
        self.seconds = {}
        self.current, self.mark = "other", time.perf_counter()

    def switch(self, name):
        t = time.perf_counter()
        self.seconds[self.current] = self.seconds.get(self.current, 0.0) + t - self.mark
        self.current, self.mark = name, t


def finite(grads):
    return all(bool(torch.isfinite(g).all()) for g in grads)


def step(G, D, Gs_params, opt_g, opt_d, reals, batch, ph, split_gp=False):
    g_params, d_params = G.params(), D.params()
    # D step.
    ph.switch("G_forward")
    with torch.no_grad():
        fakes = G(torch.randn(batch, LATENT))
    ph.switch("D_forward")
    d_real, d_fake = D(reals), D(fakes)
    ph.switch("GP_forward")
    mix = torch.rand(batch, 1, 1, 1)
    x_hat = (reals + (fakes - reals) * mix).requires_grad_(True)
    d_hat = D(x_hat)
    ph.switch("GP_grad")
    (g,) = torch.autograd.grad(d_hat.sum(), x_hat, create_graph=True)
    ph.switch("GP_forward")
    norms = torch.sqrt((g * g).sum(dim=(1, 2, 3)))
    penalty = ((norms - GP_TARGET) ** 2).sum() * (GP_LAMBDA / GP_TARGET ** 2 / batch)
    ph.switch("D_forward")
    wgan_and_drift = (d_fake.sum() - d_real.sum()) / batch + (d_real ** 2).sum() * (DRIFT / batch)
    loss_d = wgan_and_drift + penalty
    if split_gp:
        # Profiling only: the D(real)/D(fake) and penalty graphs share nothing but the weights,
        # so two backward calls do the same work as one, plus one sum of the gradients.
        ph.switch("D_backward")
        grads = torch.autograd.grad(wgan_and_drift, d_params)
        ph.switch("GP_double_backward")
        extra = torch.autograd.grad(penalty, d_params, allow_unused=True)  # D's last bias: unused
        grads = [a if b is None else a + b for a, b in zip(grads, extra)]
    else:
        ph.switch("D_step_backward")
        grads = torch.autograd.grad(loss_d, d_params)
    ph.switch("optimizer")
    if finite(grads):
        for p, gr in zip(d_params, grads):
            p.grad = gr
        opt_d.step()
    # G step.
    ph.switch("G_forward")
    fakes = G(torch.randn(batch, LATENT))
    ph.switch("D_forward")
    loss_g = -D(fakes).sum() / batch
    ph.switch("G_step_backward")
    grads = torch.autograd.grad(loss_g, g_params)
    ph.switch("optimizer")
    if finite(grads):
        for p, gr in zip(g_params, grads):
            p.grad = gr
        opt_g.step()
    with torch.no_grad():
        for s, p in zip(Gs_params, g_params):
            s.lerp_(p, 1.0 - EMA_BETA)
    ph.switch("other")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--res", type=int, required=True, help="resolution, a power of two from 4 to 1024")
    ap.add_argument("--batch", type=int, help="minibatch (default: the paper's at --res)")
    ap.add_argument("--iters", type=int, default=5, help="timed iterations")
    ap.add_argument("--warmup", type=int, default=1, help="untimed iterations before them")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--split-gp", action="store_true",
                    help="profile the D step's backward in two calls: D_backward and GP_double_backward")
    a = ap.parse_args()
    if a.res < 4 or a.res > 1024 or a.res & (a.res - 1):
        sys.exit("pytorch_progan.py: --res %d is not a power of two between 4 and 1024" % a.res)
    batch = a.batch or paper_minibatch(a.res)
    if batch < 1 or a.iters < 1 or a.warmup < 0:
        sys.exit("pytorch_progan.py: --batch and --iters must be at least 1, --warmup at least 0")
    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(1000)

    G, D = Generator(a.res), Discriminator(a.res)
    Gs_params = [p.detach().clone() for p in G.params()]
    opt_g = torch.optim.Adam(G.params(), lr=LR, betas=BETAS, eps=EPS)
    opt_d = torch.optim.Adam(D.params(), lr=LR, betas=BETAS, eps=EPS)
    # Smooth synthetic images in [-1, 1], like the Swift bench's.
    u = torch.linspace(0, 1, a.res)
    f = 1 + 3 * torch.rand(batch, 1, 1, 1)
    reals = (torch.sin(6.28 * f * u.view(1, 1, 1, -1) + torch.arange(CHANNELS).view(1, -1, 1, 1))
             * torch.cos(6.28 * f * u.view(1, 1, -1, 1))).contiguous()

    for i in range(a.warmup):
        t0 = time.perf_counter()
        step(G, D, Gs_params, opt_g, opt_d, reals, batch, Phases(), a.split_gp)
        if not a.json:
            print("warm-up %d/%d  %.3f s" % (i + 1, a.warmup, time.perf_counter() - t0), file=sys.stderr)
    ph = Phases()
    times = []
    for i in range(a.iters):
        t0 = time.perf_counter()
        step(G, D, Gs_params, opt_g, opt_d, reals, batch, ph, a.split_gp)
        times.append(time.perf_counter() - t0)
        print("pytorch %dx%d batch %d: iteration %d/%d  %.3f s" % (a.res, a.res, batch, i + 1, a.iters, times[-1]),
              file=sys.stderr)
    ph.switch("other")
    total = sum(times)
    result = {
        "framework": "pytorch", "torch_version": torch.__version__, "threads": torch.get_num_threads(),
        "resolution": a.res, "batch": batch, "iterations": a.iters, "warmup": a.warmup,
        "parameters_g": sum(p.numel() for p in G.params()), "parameters_d": sum(p.numel() for p in D.params()),
        "images_per_second": batch * a.iters / total, "seconds_per_iteration": total / a.iters,
        "iteration_seconds": times,
        "breakdown": {k: v / a.iters for k, v in sorted(ph.seconds.items())},
        "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }
    if a.json:
        print(json.dumps(result, sort_keys=True))
    else:
        print("pytorch %s, %d thread(s): %dx%d batch %d: %.3f img/s, %.3f s/iteration, peak RSS %.2f GiB" % (
            torch.__version__, result["threads"], a.res, a.res, batch, result["images_per_second"],
            result["seconds_per_iteration"], result["peak_rss_kib"] / 2 ** 20))
        for k, v in result["breakdown"].items():
            print("  %-36s %8.3f s  %5.1f%%" % (k, v, 100 * v * a.iters / total))


if __name__ == "__main__":
    main()
