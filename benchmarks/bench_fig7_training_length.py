"""What does Fig. 7 take? The plain / ResNet layer-response ratio against training length and size.

He et al. 2015, Fig. 7: "ResNets have generally smaller responses than their plain
counterparts", and deeper ResNets smaller still. After brief runs (500-4,000 steps) the median
response of plain-20 was only 1.01-1.11x that of ResNet-20. This script trains each requested
net with the long recipe (SGD 0.9, wd 1e-4, batch 128, lr 0.1 after a 100-step warm-up at 0.01,
divided by 10 at 50% and 75% of the steps, crop + flip) on the shipped Fashion-MNIST subset and
measures ``layer_responses`` on all 2,000 test images, at the end and at eighths of the run.

Each finished run is appended as one JSON line to ``--out``; ``--report`` prints the table
(median-response ratios plain/ResNet per length, size and seed) from that file.

    python benchmarks/bench_fig7_training_length.py --nets plain-20 resnet-20 --steps 2000 8000 \
        --sizes 16 --seeds 0 1 2
    python benchmarks/bench_fig7_training_length.py --report
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

import resnet_explorer as rx
from resnet_explorer.training import train

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from make_checkpoints import long_schedule  # noqa: E402 - the recipe of the long checkpoints

RESULTS = Path(__file__).resolve().parent / "results" / "fig7_training_length.jsonl"
NETS = {"plain-20": (20, "none"), "resnet-20": (20, "A"), "plain-56": (56, "none"),
        "resnet-56": (56, "A"), "resnet-110": (110, "A"), "plain-110": (110, "none")}


def run_one(net: str, steps: int, size: int, seed: int, save_dir: Path | None) -> dict:
    depth, shortcut = NETS[net]
    data = rx.load_dataset(image_size=size)
    probe_images = data.test_images
    torch.manual_seed(seed)
    model = rx.build_model(depth, shortcut, in_channels=data.in_channels,
                           num_classes=data.num_classes)
    midway = []

    def measure(history):
        step = history.steps[-1] if history.steps else 0
        if history.status == "running" and history.eval_steps and history.eval_steps[-1] == step:
            responses = rx.layer_responses(model, probe_images[:500])
            midway.append({"step": step, "median": responses.median,
                           "mean": float(responses.std.mean())})

    plan = long_schedule(steps)
    started = time.perf_counter()
    history = train(model, data, schedule=plan, seed=seed, progress=False, callback=measure,
                    callback_every=1)
    seconds = time.perf_counter() - started
    responses = rx.layer_responses(model, probe_images)
    record = {
        "net": net, "steps": steps, "image_size": size, "seed": seed, "status": history.status,
        "final_train_error": history.final_train_error, "final_test_error": history.final_test_error,
        "median_response": responses.median, "mean_response": float(responses.std.mean()),
        "layer_std": [round(float(value), 5) for value in responses.std],
        "layer_names": responses.layer_names, "midway": midway, "seconds": round(seconds, 1),
        "precision": history.runtime.get("precision"), "threads": torch.get_num_threads(),
        "schedule": plan.as_dict(),
    }
    if save_dir is not None:
        save_dir.mkdir(parents=True, exist_ok=True)
        stem = f"{net}-s{steps}-i{size}-seed{seed}"
        torch.save({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()},
                   save_dir / f"{stem}.pt")
        (save_dir / f"{stem}.history.json").write_text(json.dumps(history.to_dict()))
    return record


def report(path: Path) -> None:
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    by_key = {(r["net"], r["steps"], r["image_size"], r["seed"]): r for r in records}
    print(f"{'size':>4} {'steps':>6} {'seed':>4}  " + "  ".join(f"{n:>10}" for n in NETS)
          + "   plain20/res20  plain56/res56  res20/res56  res56/res110")
    ratios: dict[tuple, list] = {}
    for size, steps, seed in sorted({(k[2], k[1], k[3]) for k in by_key}):
        medians = {net: by_key.get((net, steps, size, seed), {}).get("median_response")
                   for net in NETS}
        cells = "  ".join(f"{m:10.3f}" if m is not None else f"{'-':>10}" for m in medians.values())

        def ratio(a, b):
            if medians[a] is None or medians[b] is None:
                return None
            return medians[a] / medians[b]

        row = [ratio("plain-20", "resnet-20"), ratio("plain-56", "resnet-56"),
               ratio("resnet-20", "resnet-56"), ratio("resnet-56", "resnet-110")]
        for index, value in enumerate(row):
            if value is not None:
                ratios.setdefault((size, steps, index), []).append(value)
        text = "  ".join(f"{v:13.2f}" if v is not None else f"{'-':>13}" for v in row)
        print(f"{size:>4} {steps:>6} {seed:>4}  {cells}   {text}")
    print("\nmean over seeds (ratio > 1: the first net responds more)")
    names = ["plain20/res20", "plain56/res56", "res20/res56", "res56/res110"]
    for (size, steps, index), values in sorted(ratios.items()):
        spread = f" (min {min(values):.2f}, max {max(values):.2f}, {len(values)} seeds)"
        print(f"  {size}x{size}, {steps:>6} steps, {names[index]:<14} "
              f"{statistics.mean(values):.2f}{spread}")
    _report_during_training(by_key)
    print("\nerrors (train subset / test) of each run")
    for key, r in sorted(by_key.items()):
        print(f"  {r['net']:<10} {r['steps']:>6} steps {r['image_size']}x{r['image_size']} seed "
              f"{r['seed']}: train {r['final_train_error']:.3f} test {r['final_test_error']:.3f} "
              f"median response {r['median_response']:.3f}, {r['seconds']:.0f} s "
              f"({r['threads']} thread(s), {r['precision']})")


def _report_during_training(by_key: dict) -> None:
    """The median-response ratios at the steps each long run measured on its way ("midway")."""
    pairs = [("plain-20", "resnet-20"), ("plain-56", "resnet-56"), ("resnet-20", "resnet-56"),
             ("resnet-56", "resnet-110")]
    for size, steps, seed in sorted({(k[2], k[1], k[3]) for k in by_key}):
        midway = {net: {m["step"]: m["median"] for m in by_key[(net, steps, size, seed)].get("midway", [])}
                  for net in NETS if (net, steps, size, seed) in by_key}
        shown = [(a, b) for a, b in pairs if midway.get(a) and midway.get(b)]
        if not shown:
            continue
        print(f"\nduring the {steps}-step runs ({size}x{size}, seed {seed}): median ratio at each step")
        print(f"{'step':>6}  " + "  ".join(f"{_short(a)}/{_short(b)}".rjust(13) for a, b in shown))
        for step in sorted(set.intersection(*(set(midway[a]) & set(midway[b]) for a, b in shown))):
            print(f"{step:>6}  " + "  ".join(f"{midway[a][step] / midway[b][step]:13.2f}" for a, b in shown))


def _short(net: str) -> str:
    """``"resnet-56"`` -> ``"res56"``, ``"plain-20"`` -> ``"plain20"`` (the table's column names)."""
    return net.replace("resnet-", "res").replace("-", "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nets", nargs="+", choices=list(NETS), default=["plain-20", "resnet-20"])
    parser.add_argument("--steps", nargs="+", type=int, default=[2000])
    parser.add_argument("--sizes", nargs="+", type=int, default=[16])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--save-models", type=Path, help="folder for the trained weights")
    parser.add_argument("--report", action="store_true", help="print the table of --out and stop")
    args = parser.parse_args()
    if args.report:
        report(args.out)
        return
    torch.set_num_threads(args.threads)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for seed in args.seeds:
        for size in args.sizes:
            for steps in args.steps:
                for net in args.nets:
                    record = run_one(net, steps, size, seed, args.save_models)
                    with open(args.out, "a", encoding="utf-8") as file:
                        file.write(json.dumps(record) + "\n")
                    print(f"{net} {steps} steps {size}x{size} seed {seed}: median response "
                          f"{record['median_response']:.3f}, train {record['final_train_error']:.3f}"
                          f", test {record['final_test_error']:.3f}, {record['seconds']:.0f} s, "
                          f"load {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
