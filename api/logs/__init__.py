"""Log routes added by Search II (context, cursor walks, export, histogram); the older ones stay in api/."""
