"""Alarms: rules as data, the engine over records and silences, the alarm lifecycle, linkage and
notifications, and the live stream."""
