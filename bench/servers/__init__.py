"""The servers the bench measures against: baselines (each a runnable module) and the trivial one."""
