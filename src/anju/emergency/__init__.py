"""Emergency management: plans, drills, supplies, shelters and routing, CAP 1.2 warnings (issue 9)."""
