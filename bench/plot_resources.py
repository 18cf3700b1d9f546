#!/usr/bin/env python3
"""Plots a resource CSV written by `mliot monitor` as a PNG (CPU, RSS, disk
and network over time, one panel each, like the thesis's figures).

Usage: bench/plot_resources.py IN.csv OUT.png [TITLE]
Needs matplotlib (scripts/install-deps --peers installs python3-matplotlib).
"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: plot_resources.py IN.csv OUT.png [TITLE]")
    rows = list(csv.DictReader(open(sys.argv[1])))
    if not rows:
        sys.exit(f"{sys.argv[1]}: no rows")
    t = [float(r["t_s"]) for r in rows]
    col = lambda name: [float(r[name]) for r in rows]
    fig, ax = plt.subplots(4, 1, figsize=(8, 9), sharex=True)
    ax[0].plot(t, col("cpu_percent"))
    ax[0].set_ylabel("CPU %\n(100 = 1 core)")
    ax[1].plot(t, col("rss_mb"))
    ax[1].set_ylabel("RSS MB")
    ax[2].plot(t, col("disk_read_mb_s"), label="read")
    ax[2].plot(t, col("disk_write_mb_s"), label="write")
    ax[2].set_ylabel("disk MB/s")
    ax[2].legend()
    ax[3].plot(t, col("net_rx_mb_s_namespace"), label="rx")
    ax[3].plot(t, col("net_tx_mb_s_namespace"), label="tx")
    ax[3].set_ylabel("network MB/s\n(namespace)")
    ax[3].legend()
    ax[3].set_xlabel("seconds")
    if len(sys.argv) > 3:
        fig.suptitle(sys.argv[3])
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=100)


if __name__ == "__main__":
    main()
