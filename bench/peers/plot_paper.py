#!/usr/bin/python3
"""Draws one experiment of `mliot bench paper` from its JSON: plot_paper.py DATA.json OUT.png

Prints {"figure": OUT.png} as its last line (the kit's peer runner reads it).
Needs python3-matplotlib (scripts/install-deps --peers).
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import peerlib  # noqa: E402

def save(fig, out, title=None):
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


CONFIG_STYLE = {"baseline": ("tab:gray", "o"), "dr": ("tab:blue", "s"), "hpo": ("tab:orange", "^"),
                "dr+hpo": ("tab:green", "D")}


def fig5(report, out):
    points = report["points"]
    types = [t for t in ("image", "audio", "sensor") if any(p["type"] == t for p in points)]
    metrics = [("train_s", "training time (s)"), ("accuracy", "accuracy"), ("latency_ms", "predict p50 (ms)")]
    fig, axes = plt.subplots(len(metrics), len(types), figsize=(4 * len(types), 8), squeeze=False)
    for col, t in enumerate(types):
        for row, (key, label) in enumerate(metrics):
            ax = axes[row][col]
            for cfg, (color, marker) in CONFIG_STYLE.items():
                series = sorted((p["rows"], p[key]) for p in points if p["type"] == t and p["config"] == cfg)
                if series:
                    ax.plot([x for x, _ in series], [y for _, y in series], color=color, marker=marker, label=cfg)
            if row == 0:
                ax.set_title(t)
            if row == len(metrics) - 1:
                ax.set_xlabel("training rows")
            if col == 0:
                ax.set_ylabel(label)
            ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    save(fig, out, "Fig. 5: dimensionality reduction x HPO (mliot)")


def fig7(report, out):
    points = report["points"]
    types = [t for t in ("image", "audio", "sensor") if any(p["type"] == t for p in points)]
    kinds = []
    for p in points:
        if p["classifier"] not in kinds:
            kinds.append(p["classifier"])
    fig, axes = plt.subplots(2, len(types), figsize=(4 * len(types), 6), squeeze=False)
    for col, t in enumerate(types):
        for row, (key, label) in enumerate([("accuracy", "accuracy"), ("latency_ms", "predict p50 (ms)")]):
            ax = axes[row][col]
            values = [next((p[key] for p in points if p["type"] == t and p["classifier"] == k), 0) for k in kinds]
            colors = ["tab:green" if k == "logreg" else "tab:gray" for k in kinds]
            ax.bar(range(len(kinds)), values, color=colors)
            ax.set_xticks(range(len(kinds)))
            ax.set_xticklabels(kinds, rotation=30, fontsize=8)
            if key == "latency_ms":
                ax.set_yscale("log")
            if row == 0:
                ax.set_title(f"{t} (background: {report['backgrounds'][t]['background']})", fontsize=9)
                ax.set_ylim(min(values) - 0.05 if values else 0, 1.0)
            if col == 0:
                ax.set_ylabel(label)
            ax.grid(alpha=0.3, axis="y")
    save(fig, out, "Fig. 7: stage-1 classifiers, background vs the rest (mliot)")


def fig6(report, out):
    v = report["versions"]
    fig, ax = plt.subplots(figsize=(6, 4))
    xs = [p["at_s"] for p in v]
    ys = [p["accuracy"] for p in v]
    ax.step(xs + [report["budget_s"]], ys + [ys[-1]], where="post", color="tab:green", label="mliot (lazy)")
    ax.plot(xs, ys, "o", color="tab:green")
    ax.axvline(xs[-1], color="tab:gray", linestyle="--", label="full ensemble ready (no lazy training)")
    for p in v:
        ax.annotate("+".join(p["members"]), (p["at_s"], p["accuracy"]), fontsize=6, rotation=20)
    ax.set_xlabel("seconds since training started")
    ax.set_ylabel("test accuracy of the served version")
    ax.set_title(f"Fig. 6: lazy training ({report['type']})")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    save(fig, out)


def fig8(report, out):
    fig, axes = plt.subplots(2, 1, figsize=(9, 5), sharex=True)
    for ax, run in zip(axes, ("baseline", "two-stage")):
        w = report["runs"][run]["windows"]
        for stage, color in ((2, "tab:orange"), (1, "tab:green")):
            pts = [p for p in w if p["stage"] == stage]
            ax.scatter([p["t_s"] for p in pts], [p["ms"] for p in pts], s=4, color=color,
                       label=f"answered by stage {stage}")
        ax.set_title(f"{run}: mean {report['runs'][run]['mean_ms']:.3f} ms, "
                     f"accuracy {report['runs'][run]['accuracy']:.3f}", fontsize=9)
        ax.set_ylabel("window latency (ms)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper right")
    axes[-1].set_xlabel("stream time (s)")
    save(fig, out, f"Fig. 8: two-stage serving on a background-heavy audio stream ({report['data']})")


def table4(report, out):
    rows = report["rows"]
    datasets = [d for d in ("dcase2016-task2", "sp-sw-har") if any(r["dataset"] == d for r in rows)]
    fig, axes = plt.subplots(2, len(datasets), figsize=(6 * len(datasets), 7), squeeze=False)
    for col, d in enumerate(datasets):
        mine = sorted((r for r in rows if r["dataset"] == d), key=lambda r: -r["accuracy"])
        paper = [p for p in report["paper_rows"] if p["dataset"] == d]
        names = [r["system"] for r in mine] + [f"paper: {p['system']}" for p in paper]
        colors = ["tab:green" if r["system"].startswith("mliot") else "tab:gray" for r in mine]
        colors += ["tab:blue" if "MLIoT" in p["system"] else "lightgray" for p in paper]
        for row, (key, pkey, label) in enumerate([("accuracy", "accuracy", "accuracy"),
                                                  ("latency_ms_p50", "latency_ms", "latency p50 (ms)")]):
            ax = axes[row][col]
            values = [r[key] for r in mine] + [p[pkey] for p in paper]
            ax.barh(range(len(names)), values, color=colors)
            ax.set_yticks(range(len(names)))
            ax.set_yticklabels(names, fontsize=7)
            ax.invert_yaxis()
            if key != "accuracy":
                ax.set_xscale("log")
            ax.set_xlabel(label)
            ax.grid(alpha=0.3, axis="x")
            if row == 0:
                ax.set_title(d)
    save(fig, out, "Table 4: mliot (green) against general-purpose baselines (gray); the paper's rows (blue)")


def fig9(report, out):
    t = report["timeline"]
    fig, ax = plt.subplots(figsize=(9, 4))
    w = 8  # windows per rolling mean
    for key, color, label in (("adapted", "tab:blue", "mliot with corrective feedback"),
                              ("baseline", "tab:orange", "no adaptation")):
        xs, ys = [], []
        for i in range(len(t)):
            lo = max(0, i - w + 1)
            xs.append(t[i]["t_s"])
            ys.append(sum(p[key] for p in t[lo:i + 1]) / (i + 1 - lo))
        ax.plot(xs, ys, color=color, label=label)
    for e in report["events"]:
        style = ":" if e["event"].startswith("noise") else "--"
        ax.axvline(e["t_s"], color="tab:gray", linestyle=style)
        ax.annotate(e["event"], (e["t_s"], 1.02), fontsize=7, rotation=20, xycoords=("data", "axes fraction"))
    ax.set_xlabel("stream time (s)")
    ax.set_ylabel(f"accuracy (rolling, {w} windows)")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=8, loc="lower left")
    ax.grid(alpha=0.3)
    ax.set_title(f"Fig. 9: adaptation under noise ({report['data']}); noise dotted, feedback dashed", fontsize=9, pad=22)
    save(fig, out)


def placement(report, out):
    traces = report["traces"]
    devices = [d["name"] for d in report.get("devices", [])] or ["M1", "M2", "M3", "M4", "M5"]
    devices = sorted(devices)
    colors = {1: "tab:blue", 2: "tab:orange", 3: "tab:green"}
    fig, (ax, tx) = plt.subplots(1, 2, figsize=(14, 5), gridspec_kw={"width_ratios": [3, 2]})
    # Traces that overlap on a device get their own lane (the first free one).
    lanes, slot = {}, {}
    for t in sorted(traces, key=lambda t: t["submitted_s"]):
        if not t["accepted"] or t["node"] not in devices:
            continue
        ends = lanes.setdefault(t["node"], [])
        free = next((i for i, e in enumerate(ends) if e <= t["submitted_s"]), len(ends))
        if free == len(ends):
            ends.append(0)
        ends[free] = t["ended_s"]
        slot[t["trace"]] = free
    for t in traces:
        if t["trace"] not in slot:
            continue
        n = max(1, len(lanes[t["node"]]))
        h = 0.8 / n
        y = devices.index(t["node"]) - 0.4 + h * (slot[t["trace"]] + 0.5)
        start, serving, end = t["submitted_s"], t["serving_s"], t["ended_s"]
        if serving < 0:
            serving = end
        c = colors.get(t["iteration"], "tab:gray")
        ax.barh(y, serving - start, left=start, height=h * 0.9, color=c, alpha=0.35)
        ax.barh(y, end - serving, left=serving, height=h * 0.9, color=c, alpha=0.9)
        ax.text(start, y, f"{t['trace']}:{t['policy']}", fontsize=6, va="center")
    for it in sorted({t["iteration"] for t in traces}):
        first = min(t["submitted_s"] for t in traces if t["iteration"] == it)
        ax.axvline(first, color=colors.get(it, "tab:gray"), linestyle=":")
        ax.annotate(f"({it})", (first, len(devices) - 0.4), fontsize=9, color=colors.get(it, "tab:gray"))
    ax.set_yticks(range(len(devices)))
    ax.set_yticklabels(devices)
    ax.set_xlabel("seconds since the first trace (light: training, dark: serving)")
    ax.grid(alpha=0.3, axis="x")
    lines = []
    for p in report["policies"]:
        lines.append(f"{p['policy']}: {p['meaning']}")
    lines.append("")
    for t in traces:
        where = t["node"] if t["accepted"] else "refused"
        lat = f", {t['latency_ms_p50']:.1f} ms" if "latency_ms_p50" in t else ""
        lines.append(f"{t['trace']}:{t['policy']} -> {where}{lat}  R=[{' > '.join(t['ranking'])}]")
    tx.axis("off")
    tx.text(0, 1, "\n".join(lines), fontsize=6.5, va="top", family="monospace")
    name = {"fig10": "Fig. 10: latency-bound traces", "fig11": "Fig. 11: latency and locality",
            "fig12": "Fig. 12: diverse policies"}.get(report["experiment"], report["experiment"])
    save(fig, out, f"{name} on the emulated testbed ({report['data']})")


def fig3(report, out):
    results = [r for r in report["results"] if "train_s" in r]
    types = [t for t in ("image", "audio", "sensor") if any(r["type"] == t for r in results)]
    devices = [d["name"] for d in report["devices"]]
    dev_colors = dict(zip(devices, ["tab:red", "tab:orange", "tab:blue", "tab:green", "tab:purple"]))
    metrics = [("train_s", "training time (s)"), ("cpu_norm", "CPU (share of the quota)"),
               ("peak_mb", "peak memory (MB)")]
    fig, axes = plt.subplots(len(metrics), len(types), figsize=(5 * len(types), 9), squeeze=False)
    for col, t in enumerate(types):
        kinds = sorted({r["kind"] for r in results if r["type"] == t})
        width = 0.8 / max(1, len(devices))
        for row, (key, label) in enumerate(metrics):
            ax = axes[row][col]
            for i, d in enumerate(devices):
                values = [next((r[key] for r in results if r["type"] == t and r["kind"] == k and r["device"] == d), 0)
                          for k in kinds]
                ax.bar([x + i * width for x in range(len(kinds))], values, width, color=dev_colors[d], label=d)
            ax.set_xticks([x + width * (len(devices) - 1) / 2 for x in range(len(kinds))])
            ax.set_xticklabels(kinds, rotation=35, fontsize=7)
            if key == "train_s":
                ax.set_yscale("log")
            if row == 0:
                ax.set_title(t)
            if col == 0:
                ax.set_ylabel(label)
            ax.grid(alpha=0.3, axis="y")
    axes[0][0].legend(fontsize=8)
    save(fig, out, "Fig. 3: the device benchmark: each kind trained under each device's quota")


def fig13(report, out):
    devices = report["devices"]
    colors = dict(zip(devices, ["tab:red", "tab:blue", "tab:green"]))
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 7), sharex=True)
    for d in devices:
        steps = report["unbounded"].get(d, [])
        top.errorbar([s["tasks"] for s in steps], [s["mean_ms"] for s in steps],
                     yerr=[s["stdev_ms"] for s in steps], color=colors[d], marker="o", capsize=3, label=d)
        tasks = report["bounded"].get(d, {}).get("tasks", [])
        bottom.errorbar([t["task"] for t in tasks], [t["measured_mean_ms"] for t in tasks],
                        yerr=[t["step"]["stdev_ms"] for t in tasks], color=colors[d], marker="o", capsize=3,
                        label=f"{d}: measured ({len(tasks)} admitted)")
        bottom.plot([t["task"] for t in tasks], [t["predicted_ms"] for t in tasks], color=colors[d],
                    linestyle="--", marker="x", label=f"{d}: predicted at admission")
    bottom.axhline(report["bound_ms"], color="black", linestyle=":", label=f"bound {report['bound_ms']:.2f} ms")
    top.set_title("no policy", fontsize=9)
    bottom.set_title("latency_ms <= bound: admission by predicted latency", fontsize=9)
    for ax in (top, bottom):
        ax.set_ylabel("end-to-end latency, mean (ms)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    bottom.set_xlabel("co-located tasks on the device")
    save(fig, out, f"Fig. 13: co-located tasks ({report['data']})")


PLOTS = {"fig3": fig3, "fig5": fig5, "fig6": fig6, "fig7": fig7, "fig8": fig8, "fig9": fig9, "fig10": placement, "fig11": placement, "fig12": placement, "fig13": fig13, "table4": table4}


def main():
    if len(sys.argv) != 3:
        raise SystemExit("usage: plot_paper.py DATA.json OUT.png")
    with open(sys.argv[1]) as f:
        report = json.load(f)
    name = report.get("experiment")
    if name not in PLOTS:
        raise SystemExit(f"plot_paper: no plot for experiment '{name}'")
    PLOTS[name](report, sys.argv[2])
    peerlib.emit({"figure": sys.argv[2]})


if __name__ == "__main__":
    main()
