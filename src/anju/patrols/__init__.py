"""Electronic patrols: routes of ordered checkpoints, shifts, check-ins, missed checkpoints (seed 003 二(六))."""
