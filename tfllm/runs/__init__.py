"""Whole runs of a task: data, model, training, reports and export into a
run folder. The `tfllm` command's subcommands call these; so can Python."""
