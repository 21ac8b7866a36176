"""`make bench`: the gateway, the stack and imagegen measured side by side with the alternatives.

Every figure is taken in the same invocation as its baseline, on this machine, with the processes pinned
to cores (server under test on core 0; load generator, nats-server and emulators on core 1). `python -m bench`
runs everything (about 10 minutes) and writes docs/benchmarks.md; `python -m bench ack e2e` runs only some
sections. Raw results and process logs land in bench/results/ (git-ignored).

The machine is shared, so every run records how much CPU other processes took ("others") and a disturbed
measurement is repeated once while a budget lasts (BENCH_RETRY_SECONDS, default 60). BENCH_NICE=-10 runs
everything the bench starts at a higher priority (default 0: polite to other people's jobs).
"""
