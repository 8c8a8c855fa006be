"""The synthetic community simulator: a plausible community (places, people, vehicles, devices) entered
through the same pipeline as real data, and event streams that give the alarm engine real work."""
