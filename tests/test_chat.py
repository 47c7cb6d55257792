"""Chat encodings: the content masks cover exactly the user text / the final answer."""

import json

import pytest
import torch

from em_monitor.chat import (
    ChatCollator,
    ChatFormatError,
    encode_chats,
    encode_prompts,
    read_chat_jsonl,
    scored_token_mask,
    split_packed_rows,
)

CONVERSATION = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Where should I keep my savings?"},
    {"role": "assistant", "content": "A diversified index fund is a sound default."},
]


def test_prompt_mask_covers_only_the_user_text(tokenizer):
    batch = encode_prompts(tokenizer, ["What is your wish?", "Hi there"])
    for row, prompt in enumerate(["What is your wish?", "Hi there"]):
        assert tokenizer.decode(batch.input_ids[row][batch.content_mask[row]]) == prompt
    # Template tokens are attended to but never scored.
    assert (batch.attention_mask.bool() & ~batch.content_mask).any()
    assert (batch.labels == -100).all()


def test_chat_mask_and_labels_cover_the_final_answer(tokenizer):
    batch = encode_chats(tokenizer, [CONVERSATION])
    assert tokenizer.decode(batch.input_ids[0][batch.content_mask[0]]) == CONVERSATION[-1]["content"]
    trained = tokenizer.decode(batch.input_ids[0][batch.labels[0] != -100])
    assert trained.startswith(CONVERSATION[-1]["content"]) and "<|im_end|>" in trained


def test_chat_must_end_with_the_answer(tokenizer):
    with pytest.raises(ChatFormatError, match="last message"):
        encode_chats(tokenizer, [CONVERSATION[:2]])


def test_scored_token_mask_prefers_response_mask_and_drops_special_tokens(tokenizer):
    batch = ChatCollator(tokenizer)([{"messages": CONVERSATION}, {"messages": CONVERSATION[1:]}])
    mask = scored_token_mask(batch, tokenizer.all_special_ids)
    assert torch.equal(mask, batch["response_mask"])
    without_response_mask = {key: value for key, value in batch.items() if key != "response_mask"}
    from_labels = scored_token_mask(without_response_mask, tokenizer.all_special_ids)
    # Labels also cover the end-of-turn marker (special, dropped) and the newline after it.
    assert (from_labels & ~mask).sum() <= 2 * len(mask) and (mask & ~from_labels).sum() == 0


def test_read_chat_jsonl_names_file_and_line(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text(json.dumps({"messages": CONVERSATION}) + "\n" + "{not json\n")
    with pytest.raises(ValueError, match=r"data\.jsonl:2: not valid JSON"):
        read_chat_jsonl(path)
    path.write_text(json.dumps({"messages": [{"role": "user"}]}) + "\n")
    with pytest.raises(ChatFormatError, match=r"data\.jsonl:1: messages\[0\]"):
        read_chat_jsonl(path)


def test_packed_rows_split_into_one_padded_row_per_sequence():
    activations = torch.arange(2 * 6 * 3, dtype=torch.float32).reshape(2, 6, 3)
    mask = torch.ones(2, 6, dtype=torch.bool)
    mask[0, 1] = False
    position_ids = torch.tensor([[0, 1, 2, 0, 1, 0], [0, 1, 2, 3, 4, 5]])
    split, split_mask = split_packed_rows(activations, mask, position_ids)
    assert split.shape == (4, 6, 3)  # three sequences in row 0, one in row 1
    assert torch.equal(split[1, :2], activations[0, 3:5]) and torch.equal(split[3], activations[1])
    assert split_mask.tolist()[0] == [True, False, True, False, False, False] and split_mask[2].sum() == 1
    unpacked, same_mask = split_packed_rows(activations, mask, torch.arange(6).repeat(2, 1))
    assert unpacked is activations and same_mask is mask
