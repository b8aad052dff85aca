"""Benchmark pokediff on each Keras backend against diffusers.

For every size and contender a fresh process is started (the Keras backend
is fixed at import time, and peak memory is per process); it trains for a
few steps on random data and samples with 50 guided DDIM steps, and
reports its timings as JSON. The parent prints one table, with every
pokediff speed as a ratio to diffusers measured in the same run, and
writes all the numbers to a JSON file.

Usage:

    python benchmarks/benchmark.py
    python benchmarks/benchmark.py --sizes tiny --backends torch,diffusers
    python benchmarks/benchmark.py --quick      # a smoke run of seconds

See `docs/performance.md` for what each column means and for results.
"""

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from datetime import timezone
from pathlib import Path

import _contenders
import _unet_cost

SIZES = ("tiny", "small")
BACKENDS = ("tensorflow", "jax", "torch", "diffusers")
KERAS_BACKENDS = ("tensorflow", "jax", "torch")
# Training costs about three forward passes.
TRAIN_FORWARD_MULTIPLE = 3
# Sampling speeds are reported for this many DDIM steps.
REPORTED_STEPS = 50
QUICK = {
    "batch_size": 4,
    "train_steps": 3,
    "warmup_steps": 1,
    "sample_batches": 1,
    "sample_steps": 5,
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--sizes", default=",".join(SIZES))
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument(
        "--train-steps",
        type=int,
        default=10,
        help="training steps in all, warm-up included",
    )
    parser.add_argument(
        "--warmup-steps",
        type=int,
        default=2,
        help="first training steps left out of the steady-state rate",
    )
    parser.add_argument(
        "--sample-batches",
        type=int,
        default=1,
        help="timed sampling batches (after a one-step warm-up call)",
    )
    parser.add_argument("--sample-steps", type=int, default=50)
    parser.add_argument(
        "--timeout", type=float, default=1800, help="per child, seconds"
    )
    parser.add_argument("--out", default="benchmarks/results.json")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: " + ", ".join(f"{k}={v}" for k, v in QUICK.items()),
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--size", help=argparse.SUPPRESS)
    parser.add_argument("--result-file", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        for key, value in QUICK.items():
            setattr(args, key, value)
    args.sizes = _split(args.sizes, SIZES, "--sizes")
    args.backends = _split(args.backends, BACKENDS, "--backends")
    if not 1 <= args.warmup_steps < args.train_steps:
        parser.error(
            "--warmup-steps expected at least 1 and fewer than "
            f"--train-steps={args.train_steps}. Received: "
            f"{args.warmup_steps}"
        )
    return args


def _split(value, choices, flag):
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in choices]
    if unknown or not names:
        raise SystemExit(
            f"{flag} expected a comma-separated subset of {choices}. "
            f"Received: {value!r}"
        )
    return names


# Child process ---------------------------------------------------------------


def child_main(args):
    """Run one measurement and write its JSON to `args.result_file`."""
    if args.child == "peak":
        result = _contenders.run_matmul_peak()
    else:
        from pokediff.presets import preset_config

        result = _contenders.CONTENDERS[args.child](
            preset_config(args.size),
            args.size,
            batch_size=args.batch_size,
            train_steps=args.train_steps,
            warmup_steps=args.warmup_steps,
            sample_batches=args.sample_batches,
            sample_steps=args.sample_steps,
        )
    Path(args.result_file).write_text(json.dumps(result))


# Parent process --------------------------------------------------------------


def run_child(args, child, size=None, keras_backend=None):
    """Start one child, wait for it, and return its result with peak RSS."""
    env = dict(os.environ)
    # No backend-specific tuning flags leak in: every contender runs with
    # its defaults.
    env.pop("XLA_FLAGS", None)
    env.pop("KERAS_BACKEND", None)
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    if keras_backend:
        env["KERAS_BACKEND"] = keras_backend
    with tempfile.TemporaryDirectory() as folder:
        result_file = Path(folder) / "result.json"
        log_file = Path(folder) / "log.txt"
        command = [
            sys.executable,
            os.path.abspath(__file__),
            "--child",
            child,
            f"--result-file={result_file}",
            f"--batch-size={args.batch_size}",
            f"--train-steps={args.train_steps}",
            f"--warmup-steps={args.warmup_steps}",
            f"--sample-batches={args.sample_batches}",
            f"--sample-steps={args.sample_steps}",
        ]
        if size:
            command.append(f"--size={size}")
        with open(log_file, "wb") as log:
            spawned = time.time()
            process = subprocess.Popen(
                command, env=env, stdout=log, stderr=subprocess.STDOUT
            )
            # `wait4` gives the rusage of this child alone (ru_maxrss).
            deadline = time.monotonic() + args.timeout
            while True:
                pid, status, usage = os.wait4(process.pid, os.WNOHANG)
                if pid:
                    break
                if time.monotonic() > deadline:
                    process.kill()
                    pid, status, usage = os.wait4(process.pid, 0)
                    break
                time.sleep(0.1)
            process.returncode = os.waitstatus_to_exitcode(status)
            elapsed = time.time() - spawned
        log_text = log_file.read_text(errors="replace")
        if process.returncode != 0 or not result_file.exists():
            print(
                f"  FAILED (exit {process.returncode}); last output:\n"
                + log_text[-3000:],
                file=sys.stderr,
            )
            return {"error": log_text[-3000:], "exit_code": process.returncode}
        result = json.loads(result_file.read_text())
    result["peak_rss_mb"] = usage.ru_maxrss / 1024
    result["process_s"] = elapsed
    if "first_step_end_wall" in result:
        result["time_to_first_step_s"] = (
            result.pop("first_step_end_wall") - spawned
        )
    return result


def machine_info():
    info = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "load_average_at_start": os.getloadavg(),
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["memory_gib"] = int(line.split()[1]) / 2**20
                break
    except OSError:
        pass
    return info


def analyse(results, peak_flops, sample_steps):
    """Add FLOPs, the ratios to diffusers and the fraction of peak."""
    from pokediff.presets import preset_config

    by_size = {}
    for row in results:
        by_size.setdefault(row["size"], {})[row["backend"]] = row
    for size, rows in by_size.items():
        config = preset_config(size)
        reference = rows.get("diffusers", {})
        pokediff_params = _unet_cost.unet_cost(**config)["params"]
        for backend, row in rows.items():
            variant = "diffusers" if backend == "diffusers" else "pokediff"
            cost = _unet_cost.unet_cost(**config, variant=variant)
            row["analytic_params"] = cost["params"]
            row["forward_gflops_per_image"] = cost["forward_flops"] / 1e9
            if "error" in row:
                continue
            # The per-step cost of sampling is constant, so images/s at 50
            # steps follows from the steps timed.
            row["sample_images_per_s_50_steps"] = (
                row["sample_images_per_s"] * sample_steps / REPORTED_STEPS
            )
            if backend == "diffusers":
                row["params_vs_pokediff"] = row["params"] / pokediff_params - 1
            train_flops = TRAIN_FORWARD_MULTIPLE * cost["forward_flops"]
            row["train_gflops_per_s"] = (
                row["train_images_per_s"] * train_flops / 1e9
            )
            row["fraction_of_matmul_peak"] = (
                row["train_gflops_per_s"] * 1e9 / peak_flops
            )
            if "error" not in reference and reference:
                for key in ("train", "sample"):
                    row[f"{key}_vs_diffusers"] = (
                        row[f"{key}_images_per_s"]
                        / reference[f"{key}_images_per_s"]
                    )


COLUMNS = (
    ("size", "size", "{}"),
    ("backend", "backend", "{}"),
    ("params", "params", "{:,}"),
    ("train_images_per_s", "train img/s", "{:.1f}"),
    ("train_vs_diffusers", "vs diffusers", "{:.2f}x"),
    ("sample_images_per_s_50_steps", "sample img/s", "{:.3f}"),
    ("sample_vs_diffusers", "vs diffusers", "{:.2f}x"),
    ("first_step_s", "1st train step s", "{:.1f}"),
    ("sample_warmup_s", "sample warm-up s", "{:.1f}"),
    ("time_to_first_step_s", "to 1st step s", "{:.1f}"),
    ("peak_rss_mb", "peak RSS MB", "{:.0f}"),
    ("forward_gflops_per_image", "GFLOP/img fwd", "{:.2f}"),
    ("fraction_of_matmul_peak", "% matmul peak", "{:.0%}"),
)


def format_table(results):
    header = [title for _, title, _ in COLUMNS]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    for row in results:
        cells = []
        for key, _, template in COLUMNS:
            value = row.get(key)
            if "error" in row and key not in ("size", "backend"):
                cells.append("failed" if key == "params" else "")
            else:
                cells.append("" if value is None else template.format(value))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    if args.child:
        child_main(args)
        return 0

    started = datetime.now(timezone.utc)
    print(f"Benchmark: sizes {args.sizes}, backends {args.backends}")
    report = {
        "date": started.isoformat(timespec="seconds"),
        "command": shlex.join([Path(sys.executable).name, *sys.argv]),
        "machine": machine_info(),
        "settings": {
            key: getattr(args, key)
            for key in (
                "batch_size",
                "train_steps",
                "warmup_steps",
                "sample_batches",
                "sample_steps",
                "quick",
            )
        },
        "guidance_scale": _contenders.GUIDANCE_SCALE,
        "train_forward_multiple": TRAIN_FORWARD_MULTIPLE,
    }
    print("Measuring the float32 matmul peak ...", flush=True)
    peaks = [run_child(args, "peak")]

    results = []
    for size in args.sizes:
        # diffusers first: it is the reference of the ratios.
        order = sorted(args.backends, key=lambda name: name != "diffusers")
        for backend in order:
            print(f"{size} / {backend} ...", flush=True)
            if backend == "diffusers":
                row = run_child(args, "diffusers", size)
            else:
                row = run_child(args, "pokediff", size, keras_backend=backend)
            row = {"size": size, "backend": backend, **row}
            results.append(row)
            if "error" not in row:
                print(
                    f"  train {row['train_images_per_s']:.1f} img/s, "
                    f"sample {row['sample_images_per_s']:.2f} img/s, "
                    f"peak RSS {row['peak_rss_mb']:.0f} MB, "
                    f"{row['process_s']:.0f} s in all",
                    flush=True,
                )

    print("Measuring the float32 matmul peak again ...", flush=True)
    peaks.append(run_child(args, "peak"))
    # The machine may be shared: the best of the two is the peak.
    peak = max(p.get("peak", 0.0) for p in peaks) or float("nan")
    analyse(results, peak, args.sample_steps)
    report["matmul_peak"] = {"runs": peaks, "peak_gflops": peak / 1e9}
    report["results"] = results
    report["load_average_at_end"] = os.getloadavg()

    table = format_table(results)
    print()
    print(table)
    print()
    _print_notes(report, results)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"Wrote {out}")
    return 0


def _print_notes(report, results):
    peak = report["matmul_peak"]["peak_gflops"]
    size = report["matmul_peak"]["runs"][0].get("matrix_size")
    machine = report["machine"]
    print(
        f"Float32 matmul peak: {peak:.0f} GFLOP/s (best of NumPy and "
        f"PyTorch {size}x{size} matmuls, at start and at end)."
    )
    settings = report["settings"]
    print(
        f"Training: batch {settings['batch_size']}, "
        f"{settings['train_steps']} steps of which the first "
        f"{settings['warmup_steps']} are warm-up. Sampling: DDIM, guidance "
        f"{report['guidance_scale']} (two predictions per step, one batch "
        f"of {2 * settings['batch_size']}), images/s for "
        f"{REPORTED_STEPS} steps, from {settings['sample_steps']} timed "
        "steps after a one-step warm-up call."
    )
    print(
        f"Machine: {machine.get('cpu_model', '?')}, "
        f"{machine['cpus_usable']} usable CPUs, load average at start "
        f"{machine['load_average_at_start'][0]:.1f}, at end "
        f"{report['load_average_at_end'][0]:.1f}."
    )
    for row in results:
        if row["backend"] == "diffusers" and "error" not in row:
            print(
                f"{row['size']}: diffusers UNet2DModel has {row['params']:,} "
                f"parameters, {row['params_vs_pokediff']:+.1%} vs pokediff."
            )
        if "torch_threads" in row:
            print(
                f"{row['size']} / {row['backend']}: torch threads "
                f"{row['torch_threads']}; forward FLOPs analytic "
                f"{row['forward_gflops_per_image']:.3f} G, torch counter "
                f"{row.get('measured_forward_flops', 0) / 1e9:.3f} G."
            )


if __name__ == "__main__":
    sys.exit(main())
