"""Evaluation reports: HTML and PDF per community and per district.

- `build` — `evaluate_all` scores every community once with the engine (paper, Wuhan, Shandong, plans);
  `community_report` / `district_report` turn that into a `model` in the report's language (`labels`).
- `charts` — radar, indicator bars, score bars, small multiples (matplotlib, no pyplot).
- `pdf` — A4 pages drawn with matplotlib's `PdfPages`; `html` — one self-contained page (Jinja2).
- `fonts` — the CJK font comes from the `pylopdf-fonts-zh-cn` package, never from the system.
- `output` — `write_report`, what `anju evaluate report` calls per report.

The submodules are imported where used: matplotlib is loaded only when a report is drawn, not by every
`anju` command.
"""
