"""`python -m tfllm ...`: the `tfllm` command (`tfllm.cli.main`)."""

from tfllm.cli.main import cli

if __name__ == "__main__":
    cli()
