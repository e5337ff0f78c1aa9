"""Chat templates and the `chat` level (`validate.chat`, `chat.yaml`): family formats with known
tokens, a VLM round with the processor's placeholder (wrapped in start/end tokens where the
processor requires it), and decision heads that get a template but no chat level."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import arch_folder, arch_json, arch_levels, build_in_process

TYPES = ("qwen2", "gpt2", "roberta", "llava", "hunyuan_vl", "cosmos3_edge", "jev")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return build_in_process(tmp_path_factory, "chat", TYPES)


def test_chat_template_uses_the_family_format_and_known_tokens(built: dict[str, Any]) -> None:
    from transformers import AutoTokenizer

    folder = arch_folder(built, "qwen2", "Qwen2ForCausalLM")
    tokenizer = AutoTokenizer.from_pretrained(folder)
    messages = [{"role": "user", "content": "Hi"}]
    text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert text == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    ids = tokenizer.convert_tokens_to_ids(["<|im_start|>", "<|im_end|>"])
    vocab = arch_json(built, "qwen2", "Qwen2ForCausalLM", "config.json")["vocab_size"]
    assert all(tokenizer.unk_token_id != i < vocab for i in ids)
    assert built["qwen2"]["chat_template"] == "chatml"
    assert built["gpt2"]["chat_template"] == "generic"
    # RoBERTa has a causal LM head too (RobertaForCausalLM): the generic role-tag format.
    assert built["roberta"]["chat_template"] == "generic"
    assert (folder / "chat_template.jinja").is_file()


def test_vlm_chat_round_renders_the_processors_image_placeholder(built: dict[str, Any]) -> None:
    from transformers import AutoProcessor

    from tinymodels.validate.chat import sample_messages

    arch = "LlavaForConditionalGeneration"
    assert built["llava"]["pytorch"][arch]["levels"]["chat"] == "ok"
    processor = AutoProcessor.from_pretrained(arch_folder(built, "llava", arch))
    text = processor.apply_chat_template(sample_messages(("image",)), add_generation_prompt=True, tokenize=False)
    assert text.count(processor.image_token) == 1


def test_chat_placeholder_is_wrapped_when_the_processor_requires_it(built: dict[str, Any]) -> None:
    from transformers import AutoProcessor

    from tinymodels.validate.chat import chat_placeholder

    processor = AutoProcessor.from_pretrained(built["out"] / "hunyuan_vl" / "HunYuanVLForConditionalGeneration")
    wrapped = processor.image_start_token + processor.image_token + processor.image_end_token
    assert chat_placeholder(processor, "image") == wrapped
    assert wrapped in processor.chat_template
    # A processor that accepts its bare placeholder keeps it (Cosmos3 Edge has start/end tokens too).
    cosmos = AutoProcessor.from_pretrained(built["out"] / "cosmos3_edge" / "Cosmos3EdgeForConditionalGeneration")
    assert chat_placeholder(cosmos, "image") in (cosmos.image_token, getattr(cosmos, "image_placeholder_token", None))


def test_decision_heads_get_a_template_but_no_chat_level(built: dict[str, Any]) -> None:
    from transformers import AutoTokenizer

    levels = arch_levels(built, "jev", "JevForDecision")
    assert levels["pipeline"] == {"decision": "ok"}
    assert "chat" not in levels
    tokenizer = AutoTokenizer.from_pretrained(built["out"] / "jev" / "JevForDecision")
    assert tokenizer.chat_template
