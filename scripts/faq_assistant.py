"""FAQ assistant: build an index, fine-tune the encoder, evaluate, export, ask.

Usage: python scripts/faq_assistant.py build --dataset banking77 --output saved_models/faq_index
       python scripts/faq_assistant.py train --dataset banking77 --run-name faq-minilm
       python scripts/faq_assistant.py evaluate --dataset banking77 --backbone runs/faq-minilm \
           --classifier runs/banking77-main --output saved_models/faq_index
       python scripts/faq_assistant.py export --assistant saved_models/faq_index
       echo "my card has not arrived" | python scripts/faq_assistant.py ask
"""

from tfllm.cli.faq_assistant import cli

if __name__ == "__main__":
    cli()
