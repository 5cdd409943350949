"""How a conversation becomes the text a local model continues: one rendering for every
in-process backend (transformers and vLLM), so both read the same tokens for the same item."""

from __future__ import annotations

from harness.models.backend import Message


def uses_chat(tokenizer, setting: str, where: str) -> bool:
    """`chat_template: auto` uses the tokenizer's template when it has one; `on` requires it."""
    has_template = bool(getattr(tokenizer, "chat_template", None))
    if setting == "on" and not has_template:
        raise ValueError(
            f"{where}: model.chat_template is 'on' but the tokenizer has no chat template"
        )
    return has_template if setting == "auto" else setting == "on"


def with_system(messages: list[Message], system_prompt: str | None) -> list[Message]:
    if system_prompt and messages[0]["role"] != "system":
        return [{"role": "system", "content": system_prompt}, *messages]
    return messages


def render_chat(
    tokenizer, use_chat: bool, system_prompt: str | None, messages: list[Message]
) -> str:
    """The prompt text: the chat template with a generation prompt, or the turns joined plainly."""
    if use_chat:
        return tokenizer.apply_chat_template(
            with_system(messages, system_prompt), tokenize=False, add_generation_prompt=True
        )
    parts = [m["content"] for m in messages if m["role"] != "system" or m["content"]]
    if system_prompt:
        parts.insert(0, system_prompt)
    return "\n\n".join(parts) + ("\n" if messages[-1]["role"] == "user" else "")


def encode_prompts(tokenizer, use_chat: bool, texts: list[str]) -> list[list[int]]:
    """Token ids of rendered prompts: a chat template already writes its special tokens; plain
    prompts get the tokenizer's own."""
    return tokenizer(texts, add_special_tokens=not use_chat)["input_ids"]
