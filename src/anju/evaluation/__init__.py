"""Evaluation: score communities against the indicator systems of the seeds, with every point traceable.

- `data/paper.yaml`, `data/wuhan.yaml`, `data/shandong.yaml` — the three systems as data (codes, points,
  thresholds, published texts, and the readings Anju chose where a source is ambiguous);
  `systems` loads and checks them into the types of `model`.
- `evidence` — `Evidence` (value + source + references) and the `EvidenceProvider` registry that other
  modules plug their platform facts into; `inputs` reads fact files and checks every value.
- `criteria` (Table C-1 sub-criteria), `critic_topsis` (numpy), `paper` — the paper's index;
  `conditions`, `wuhan`, `shandong` — pass/fail requirements; `plans` — shortest routes to a target.
- `claims/` — audit of self-reported acceptance material (seed 004's notice, YAML/JSON/XLSX forms).
- `cli` — `anju evaluate …`; `tables` — its Chinese terminal tables.
"""
