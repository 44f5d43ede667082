#!/usr/bin/env python3
"""progan-mpi against PyTorch on the same machine, in one go, one thread each.

For every resolution, runs `progan-mpi bench --json` and then Benchmarks/pytorch_progan.py --json
with the same resolution, batch and iteration counts (OPENBLAS_NUM_THREADS, OMP_NUM_THREADS and
MKL_NUM_THREADS = 1, torch.set_num_threads(1)), prints a table (res, batch, ours img/s, PyTorch
img/s, ratio, ...) and writes it, with both sides' raw JSON, to Benchmarks/results/.

    swift build -c release --product progan-mpi
    python3 Benchmarks/compare_pytorch.py            # R = 4 .. 256: ~15 min on the quiet 2-core dev machine
    python3 Benchmarks/compare_pytorch.py --quick    # R = 4, 8, 16 with 1 iteration: both sides work

The default plan keeps the full table under ~25 minutes on the 2-core dev machine: one iteration at
R = 256 is ~1 TFLOP an image, so from 32 up the batch is below the paper's (the table says which;
both sides always run the same batch) and from 64 up there is no warm-up (one iteration is tens of
seconds; the first one's extra costs are then ~1%). --batch, --iters, --warmup override the plan
for every resolution, e.g. `--res 256 --batch 14 --iters 2` for the paper's minibatch.
Targets (issue 5): ours/PyTorch >= 1.0 at every R from 4 to 256 and >= 1.3 at 4 and 8.
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# resolution -> (batch, warm-up iterations, timed iterations)
PLAN = {
    4: (16, 2, 10),
    8: (16, 1, 3),
    16: (16, 1, 2),
    32: (8, 1, 1),
    64: (4, 0, 1),
    128: (2, 0, 1),
    256: (2, 0, 1),
    512: (1, 0, 1),
    1024: (1, 0, 1),
}
QUICK = {4: (16, 1, 2), 8: (16, 1, 1), 16: (16, 0, 1)}
TARGET = {4: 1.3, 8: 1.3}


def run_json(argv, env, timeout):
    """Runs a benchmark that prints one JSON object on stdout; returns (dict or None, error text)."""
    try:
        p = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, "timed out after %d s" % timeout
    if p.returncode != 0:
        return None, "exit %d: %s" % (p.returncode, (p.stderr.strip().splitlines() or [""])[-1])
    try:
        return json.loads(p.stdout.strip().splitlines()[-1]), ""
    except (ValueError, IndexError):
        return None, "no JSON on stdout: %r" % p.stdout[-200:]


def machine():
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    return "%s, %d CPUs, %s, Python %s" % (cpu, os.cpu_count(), platform.platform(), platform.python_version())


def main():
    ap = argparse.ArgumentParser(description="progan-mpi bench against PyTorch, one thread each.")
    ap.add_argument("--res", default="4,8,16,32,64,128,256", help="comma-separated resolutions")
    ap.add_argument("--quick", action="store_true", help="R = 4, 8, 16 with 1-2 iterations (a check that both work)")
    ap.add_argument("--batch", type=int, help="batch at every resolution (default: the plan's)")
    ap.add_argument("--iters", type=int, help="timed iterations at every resolution")
    ap.add_argument("--warmup", type=int, help="warm-up iterations at every resolution")
    ap.add_argument("--binary", default=os.path.join(ROOT, ".build/release/progan-mpi"))
    ap.add_argument("--out", default=os.path.join(HERE, "results"), help="folder for the table and raw JSON")
    ap.add_argument("--timeout", type=int, default=3600, help="seconds per benchmark process")
    a = ap.parse_args()
    if not os.access(a.binary, os.X_OK):
        sys.exit("compare_pytorch.py: no %s; run 'swift build -c release --product progan-mpi' first" % a.binary)
    plan = QUICK if a.quick else PLAN
    resolutions = sorted(plan) if a.quick else [int(r) for r in a.res.split(",")]
    for r in resolutions:
        if r not in PLAN:
            sys.exit("compare_pytorch.py: --res %d is not a power of two between 4 and 1024" % r)

    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    started = datetime.datetime.now()
    header = [
        "progan-mpi bench vs PyTorch (Benchmarks/pytorch_progan.py), 1 thread each, %s" % started.strftime("%Y-%m-%d %H:%M"),
        "machine: %s; load average at start %s" % (machine(), " ".join("%.2f" % x for x in os.getloadavg())),
        "command: python3 Benchmarks/compare_pytorch.py %s" % " ".join(sys.argv[1:]),
        "",
        "  res  batch  warm+it   ours img/s  torch img/s   ratio   ours GFLOP/s  conv/sgemm   ours MiB  torch MiB",
    ]
    print("\n".join(header), flush=True)
    rows, raw = [], []
    for r in resolutions:
        batch, warmup, iters = plan.get(r, PLAN[r])
        batch = a.batch or batch
        warmup = a.warmup if a.warmup is not None else warmup
        iters = a.iters or iters
        common = ["--res", str(r), "--batch", str(batch), "--iters", str(iters), "--warmup", str(warmup), "--json"]
        ours, err_o = run_json([a.binary, "bench"] + common, env, a.timeout)
        torch_, err_t = run_json([sys.executable, os.path.join(HERE, "pytorch_progan.py")] + common, env, a.timeout)
        raw.append({"resolution": r, "ours": ours, "ours_error": err_o, "pytorch": torch_, "pytorch_error": err_t})
        o = ours["images_per_second"] if ours else float("nan")
        t = torch_["images_per_second"] if torch_ else float("nan")
        ratio = o / t if ours and torch_ else float("nan")
        conv = 100 * ours["conv_gflops"] / ours["sgemm_gflops"] if ours and ours["sgemm_gflops"] else float("nan")
        line = "%5d  %5d  %3d+%-3d  %11.3f  %11.3f  %6.2f%s  %13.1f  %9.0f%%  %9.0f  %9.0f" % (
            r, batch, warmup, iters, o, t, ratio, " " if ratio >= TARGET.get(r, 1.0) else "*",
            ours["achieved_gflops"] if ours else float("nan"), conv,
            ours["peak_rss_kib"] / 1024 if ours else float("nan"),
            torch_["peak_rss_kib"] / 1024 if torch_ else float("nan"))
        for side, err in (("ours", err_o), ("pytorch", err_t)):
            if err:
                line += "\n       %s failed: %s" % (side, err)
        rows.append(line)
        print(line, flush=True)

    finished = datetime.datetime.now()
    footer = [
        "",
        "ratio = ours / PyTorch img/s; * = below the target (>= 1.3 at 4 and 8, >= 1.0 elsewhere).",
        "conv/sgemm = our conv kernels' GFLOP/s over plain sgemm of the largest conv's shape, same run (target >= 75% at 16..128).",
        "MiB = peak RSS (getrusage ru_maxrss). Batches below 16 from 32 up keep the run short (see the script's doc).",
        "ours on %s; PyTorch %s" % (
            next((x["ours"]["blas_config"] for x in raw if x["ours"]), "?"),
            next((x["pytorch"].get("torch_version", "?") for x in raw if x["pytorch"]), "?")),
        "took %s; load average at end %s" % (str(finished - started).split(".")[0],
                                            " ".join("%.2f" % x for x in os.getloadavg())),
    ]
    print("\n".join(footer))
    os.makedirs(a.out, exist_ok=True)
    stem = os.path.join(a.out, "compare_pytorch-%s%s" % (started.strftime("%Y-%m-%d-%H%M"), "-quick" if a.quick else ""))
    with open(stem + ".txt", "w") as f:
        f.write("\n".join(header + rows + footer) + "\n")
    with open(stem + ".json", "w") as f:
        json.dump(raw, f, indent=1, sort_keys=True)
    print("wrote %s.txt and .json" % stem)


if __name__ == "__main__":
    main()
