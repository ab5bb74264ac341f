"""Stream monitoring: timestamped records -> time windows -> alerts.

`stream` reads JSON-lines records (file, folder or stdin; `--follow`),
`windows` counts labels per topic per fixed time window, `alerts` tests a
window's negative share against its rolling baseline (one-sided binomial
test), `state` checkpoints the read position and aggregator state so a
restarted monitor resumes without double counting, `topics` assigns
topics, `trend` writes plots and TensorBoard scalars, `evaluation_stream`
builds the seeded evaluation stream and `evaluation` scores alerts
against its injected bursts. `tfllm.apps.sentiment_monitor` wires them.
"""
