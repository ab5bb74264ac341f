import pytest

from tfllm.data.bad_rows import BadRows
from tfllm.data.errors import DataFormatError
from tfllm.data.prompt_response import read_prompt_response_jsonl


def test_reads_pairs_with_optional_system(tmp_path):
    path = tmp_path / "sft.jsonl"
    path.write_text(
        '{"prompt": "Where is my parcel?", "response": "Let me check."}\n'
        "\n"
        '{"prompt": "Hi", "response": "Hello!", "system": "Be brief."}\n')
    examples = read_prompt_response_jsonl(path)
    assert [(e.prompt, e.response, e.system, e.line) for e in examples] == [
        ("Where is my parcel?", "Let me check.", None, 1),
        ("Hi", "Hello!", "Be brief.", 3)]


@pytest.mark.parametrize("line, message", [
    ('{"prompt": "Hi"}', r"sft.jsonl:2: no key 'response'"),
    ('{"prompt": "Hi", "response": ""}', r"sft.jsonl:2: 'response' must be"),
    ('{"prompt": 3, "response": "x"}', r"sft.jsonl:2: 'prompt' must be"),
    ('["Hi", "x"]', r"sft.jsonl:2: not a JSON object"),
    ('{"prompt": "Hi", ', r"sft.jsonl:2: not a JSON object"),
])
def test_bad_lines_name_file_and_line(tmp_path, line, message):
    path = tmp_path / "sft.jsonl"
    path.write_text('{"prompt": "a", "response": "b"}\n' + line + "\n")
    with pytest.raises(DataFormatError, match=message):
        read_prompt_response_jsonl(path)


def test_skipping_counts_bad_lines(tmp_path):
    path = tmp_path / "sft.jsonl"
    path.write_text('{"prompt": "a", "response": "b"}\n{"prompt": "a"}\n')
    bad = BadRows(skip=True)
    assert len(read_prompt_response_jsonl(path, bad_rows=bad)) == 1
    assert bad.count == 1 and bad.rows[0]["line"] == 2
