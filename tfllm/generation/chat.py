"""Rendering chat messages with a model's Jinja chat template.

Hugging Face and GGUF checkpoints carry their prompt format as a Jinja
template (`tokenizer.chat_template`); rendering it the way transformers'
`apply_chat_template` does (sandboxed environment, `trim_blocks`,
`lstrip_blocks`, `raise_exception`) gives the exact prompt the model was
tuned on. `jinja2` is the reference implementation of the language.
"""


def _raise_exception(message):
    raise ValueError(f"chat template: {message}")


def render_chat_template(template, messages, add_generation_prompt=True,
                         **special_tokens):
    """Renders chat messages into a prompt string.

    Args:
        template: str. A Jinja chat template.
        messages: list of dicts with `role` (`system`, `user`, `assistant`)
            and `content` (str).
        add_generation_prompt: bool. End with the header of an assistant
            turn, so the model continues as the assistant.
        **special_tokens: strings the template may use (`bos_token`,
            `eos_token`).

    Returns:
        str: the prompt text (special tokens as text; tokenizing it with
        the model's tokenizer maps them to their ids).

    Raises:
        ValueError: a message lacks `role` or `content`, or the template
            raises (e.g. roles out of order).

    Examples:
    ```python
    template = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\\n"
                "{{ m['content'] }}<|im_end|>\\n{% endfor %}"
                "{% if add_generation_prompt %}<|im_start|>assistant\\n"
                "{% endif %}")
    render_chat_template(template, [{"role": "user", "content": "Hi"}])
    # '<|im_start|>user\\nHi<|im_end|>\\n<|im_start|>assistant\\n'
    ```
    """
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    for number, message in enumerate(messages):
        if not isinstance(message, dict) or not {"role", "content"} <= set(
                message):
            raise ValueError(
                f"message {number} must be a dict with 'role' and "
                f"'content', got {message!r}")
    environment = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True)
    environment.globals["raise_exception"] = _raise_exception
    compiled = environment.from_string(template)
    return compiled.render(
        messages=messages, add_generation_prompt=add_generation_prompt,
        **special_tokens)
