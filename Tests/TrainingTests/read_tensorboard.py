#!/usr/bin/env python3
"""Reads a progan-mpi run's TensorBoard events with the `tensorboard` package's own readers and
checks them against the run's metrics.jsonl and PNG files. Run by TensorBoardEventsTests.

    python3 read_tensorboard.py RUN_DIR [--event-files N] [--swd]

Checks: every event file starts with file_version "brain.Event:2" (event_file_loader, which
also verifies the records' CRCs); through EventAccumulator (what TensorBoard's Python loader
builds its charts from): each tick scalar has one point per metrics.jsonl tick at step = images
shown, with the record's value; the `fakes` image has one per tick and is the fakes-*.png file of
that tick byte for byte, a PNG whose header and pixel data match the event's height and width;
`reals` once at step 0, equal to reals.png; with --swd the SWD and floor scalars equal the swd
records. Prints one line per check group; exits 1 with the reason on the first failure.
"""
import argparse
import glob
import json
import math
import os
import struct
import sys
import zlib

from tensorboard.backend.event_processing import event_accumulator, event_file_loader

# metrics.jsonl key -> TensorBoard tag (Sources/Training/TensorBoardLog.swift).
TICK_TAGS = {
    "loss/D": "Loss/D", "loss/G": "Loss/G", "loss/gp": "Loss/GP", "loss/drift": "Loss/drift",
    "D/real": "D/real", "D/fake": "D/fake", "grad_norm": "D/grad_norm",
    "kimg": "Progress/kimg", "step": "Progress/step", "resolution": "Progress/resolution",
    "alpha": "Progress/alpha", "minibatch": "Progress/minibatch", "lr": "Progress/learning_rate",
    "skipped_D": "Progress/skipped_D", "skipped_G": "Progress/skipped_G",
    "sec_per_kimg": "Timing/sec_per_kimg", "elapsed_s": "Timing/elapsed_s",
    "time/G": "Timing/G", "time/D": "Timing/D", "time/GP": "Timing/GP",
    "time/allreduce": "Timing/allreduce", "time/optimizer": "Timing/optimizer", "time/data": "Timing/data", "time/spatial": "Timing/spatial",
}


class CheckFailed(Exception):
    pass


def check(condition, message):
    if not condition:
        raise CheckFailed(message)


def same_float32(expected, got):
    """A float64 from metrics.jsonl against TensorBoard's float32 simple_value."""
    if math.isnan(expected):
        return math.isnan(got)
    return abs(got - expected) <= 1e-6 * abs(expected) + 1e-30


def png_size(data, what):
    """(width, height, channels) of an 8-bit gray or RGB PNG; checks chunk CRCs and inflates the
    pixel data to the size the header announces."""
    check(data[:8] == b"\x89PNG\r\n\x1a\n", f"{what}: not a PNG")
    at, header, idat = 8, None, b""
    while at < len(data):
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        body = data[at + 8:at + 8 + length]
        (crc,) = struct.unpack(">I", data[at + 8 + length:at + 12 + length])
        check(zlib.crc32(kind + body) == crc, f"{what}: bad CRC in chunk {kind!r}")
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        at += 12 + length
    check(header is not None, f"{what}: no IHDR")
    width, height, depth, color = header[:4]
    check(depth == 8 and color in (0, 2), f"{what}: expected 8-bit gray or RGB, got depth {depth} color {color}")
    channels = 1 if color == 0 else 3
    pixels = zlib.decompress(idat)
    check(len(pixels) == height * (1 + width * channels), f"{what}: {len(pixels)} bytes of pixel data for {width}x{height}x{channels}")
    return width, height, channels


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("run")
    parser.add_argument("--event-files", type=int, default=1)
    parser.add_argument("--swd", action="store_true")
    args = parser.parse_args()
    logdir = os.path.join(args.run, "tensorboard")

    files = sorted(glob.glob(os.path.join(logdir, "*tfevents*")))
    check(len(files) == args.event_files, f"expected {args.event_files} event file(s) in {logdir}, found {files}")
    for path in files:
        events = list(event_file_loader.EventFileLoader(path).Load())
        check(events and events[0].file_version == "brain.Event:2",
              f"{path}: first event is not file_version brain.Event:2")
    print(f"ok: {len(files)} event file(s), each starting with brain.Event:2")

    records = [json.loads(line) for line in open(os.path.join(args.run, "metrics.jsonl")) if line.strip()]
    ticks = [r for r in records if "kind" not in r]
    check(ticks, "metrics.jsonl has no tick records")
    steps = [round(r["kimg"] * 1000) for r in ticks]

    # size_guidance 0: keep every point (the default samples some kinds down).
    acc = event_accumulator.EventAccumulator(logdir, size_guidance={
        event_accumulator.SCALARS: 0, event_accumulator.IMAGES: 0})
    acc.Reload()
    tags = acc.Tags()

    for key, tag in TICK_TAGS.items():
        check(tag in tags["scalars"], f"scalar tag {tag} missing; have {sorted(tags['scalars'])}")
        points = acc.Scalars(tag)
        check([p.step for p in points] == steps, f"{tag}: steps {[p.step for p in points]}, ticks at {steps}")
        for p, r in zip(points, ticks):
            check(same_float32(float(r[key]), p.value), f"{tag} at step {p.step}: {p.value} in TensorBoard, {r[key]} in metrics.jsonl")
    check("Timing/elapsed_s" in tags["scalars"] and "time" not in tags["scalars"], "wall clock must not be a chart")
    print(f"ok: {len(TICK_TAGS)} tick scalars, one point per tick at steps {steps}, values equal to metrics.jsonl")

    fakes = acc.Images("fakes")
    check([e.step for e in fakes] == steps, f"fakes: steps {[e.step for e in fakes]}, ticks at {steps}")
    for e in fakes:
        on_disk = open(os.path.join(args.run, "fakes-%09d.png" % e.step), "rb").read()
        check(e.encoded_image_string == on_disk, f"fakes at {e.step}: differs from fakes-{e.step:09d}.png")
        width, height, _ = png_size(e.encoded_image_string, f"fakes at {e.step}")
        check((e.width, e.height) == (width, height), f"fakes at {e.step}: event says {e.width}x{e.height}, PNG {width}x{height}")
    reals = acc.Images("reals")
    check([e.step for e in reals] == [0], f"reals: expected once at step 0, got steps {[e.step for e in reals]}")
    check(reals[0].encoded_image_string == open(os.path.join(args.run, "reals.png"), "rb").read(), "reals differs from reals.png")
    width, height, channels = png_size(reals[0].encoded_image_string, "reals")
    print(f"ok: fakes at every tick and reals once, PNGs of {width}x{height}x{channels} equal to the grid files")

    if args.swd:
        swd = [r for r in records if r.get("kind") == "swd"]
        floors = [r for r in records if r.get("kind") == "swd_floor"]
        check(swd and floors, "metrics.jsonl has no swd or swd_floor records")
        for prefix, rs in (("SWD", swd), ("SWD_floor", floors)):
            names = ["avg"] + [f"{res}px" for res in rs[0]["swd_resolutions"]]
            for name in names:
                tag = f"{prefix}/{name}"
                check(tag in tags["scalars"], f"scalar tag {tag} missing")
                points = acc.Scalars(tag)
                check(len(points) == len(rs), f"{tag}: {len(points)} points, {len(rs)} records")
                for p, r in zip(points, rs):
                    want = r["swd_avg"] if name == "avg" else r["swd_levels"][names.index(name) - 1]
                    check(same_float32(want, p.value), f"{tag} at step {p.step}: {p.value}, record {want}")
        swd_steps = [p.step for p in acc.Scalars("SWD/avg")]
        check(swd_steps == [round(r["kimg"] * 1000) for r in swd], f"SWD/avg steps {swd_steps}")
        check(acc.Scalars("SWD_floor/avg")[0].step == 0, "the first floor is not at step 0")
        print(f"ok: SWD at steps {swd_steps}, {len(floors)} floor(s), equal to the swd records")


if __name__ == "__main__":
    try:
        main()
    except CheckFailed as failure:
        print(f"FAILED: {failure}")
        sys.exit(1)
