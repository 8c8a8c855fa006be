"""CRITIC weights + TOPSIS closeness over many communities (issue 6 target: 10,000 x 32 in under 1 s).

The score matrix is random (seeded) indicator scores 0-100 in steps of the sub-criteria, with a few
constant columns as real data has; the timed part is exactly what `evaluate paper` does with a matrix:
`critic_weights` then `topsis_closeness` then the ranks. Best of --repeat runs, plus the median.

    python -m bench.evaluation_scale [--communities 10000] [--indicators 32] [--repeat 7]
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import numpy as np

from bench.common import machine, print_json_line


def run(communities: int, indicators: int, repeat: int, seed: int = 6) -> dict[str, Any]:
    from anju.evaluation.critic_topsis import competition_ranks, critic_weights, topsis_closeness

    rng = np.random.default_rng(seed)
    # scores move in steps of 5 like most Table C-1 criteria; two columns stay constant
    matrix = rng.integers(0, 21, size=(communities, indicators)).astype(np.float64) * 5
    matrix[:, :2] = 100.0
    times = {"critic_s": [], "topsis_s": [], "rank_s": [], "total_s": []}
    for _ in range(repeat):
        t0 = time.perf_counter()
        w = critic_weights(matrix)
        t1 = time.perf_counter()
        c = topsis_closeness(matrix, w)
        t2 = time.perf_counter()
        competition_ranks(c)
        t3 = time.perf_counter()
        times["critic_s"].append(t1 - t0)
        times["topsis_s"].append(t2 - t1)
        times["rank_s"].append(t3 - t2)
        times["total_s"].append(t3 - t0)
    best = {k: round(min(v), 6) for k, v in times.items()}
    median = {k: round(statistics.median(v), 6) for k, v in times.items()}
    return {
        "bench": "evaluation_scale",
        "communities": communities,
        "indicators": indicators,
        "repeat": repeat,
        "best": best,
        "median": median,
        "target_s": 1.0,
        "meets_target": best["total_s"] < 1.0,
        "numpy": np.__version__,
        "machine": machine(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--communities", type=int, default=10_000)
    parser.add_argument("--indicators", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    result = run(args.communities, args.indicators, args.repeat)
    print_json_line(result)
    b, m = result["best"], result["median"]
    print(
        f"CRITIC-TOPSIS over {args.communities:,} communities x {args.indicators} indicators: "
        f"best {b['total_s'] * 1000:.1f} ms (CRITIC {b['critic_s'] * 1000:.1f}, TOPSIS {b['topsis_s'] * 1000:.1f}, "
        f"ranks {b['rank_s'] * 1000:.1f}), median {m['total_s'] * 1000:.1f} ms; target < 1000 ms"
    )


if __name__ == "__main__":
    main()
