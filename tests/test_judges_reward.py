"""The reward-model judge: a tiny randomly initialised classifier (built here, offline) and, marked ``model``,
the embedded model turned into a sequence classifier with one output."""

from __future__ import annotations

import math

import pytest

from psyagents.errors import PsyagentsError
from psyagents.judging import RewardModelJudge, get_judge, resolve_principles
from psyagents.registry import get_principle

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

H = [("client", "i failed my exam and i feel useless")]
WARM = "it sounds like you feel crushed . what was hardest"
COLD = "you should study more"
WORDS = sorted(set(" ".join([H[0][1], WARM, COLD, "system user assistant : you are a counsellor"]).split()))
TEMPLATE = "{% for m in messages %}<{{ m['role'] }}> {{ m['content'] }} {% endfor %}"


def _tokenizer(folder, chat_template: bool = True):
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {"[PAD]": 0, "[UNK]": 1, "<system>": 2, "<user>": 3, "<assistant>": 4, **{w: i + 5 for i, w in enumerate(WORDS)}}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", eos_token="[PAD]")
    if chat_template:
        fast.chat_template = TEMPLATE
    fast.save_pretrained(folder)
    return fast


def _tiny(folder, num_labels: int = 1, seed: int = 0, pad: bool = True):
    torch.manual_seed(seed)
    config = transformers.LlamaConfig(
        vocab_size=len(WORDS) + 5, hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
        num_key_value_heads=1, num_labels=num_labels, pad_token_id=0 if pad else None,
    )
    model = transformers.LlamaForSequenceClassification(config).eval()
    model.save_pretrained(folder)
    _tokenizer(folder)
    return model


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny-rm")
    _tiny(folder)
    return folder


def test_scores_are_deterministic_and_mapped_by_sigmoid(tiny):
    judge = get_judge(f"reward:{tiny}?system=none")
    assert judge.name == f"reward:{tiny}?system=none" and judge.system is None and judge.default_principles == "reward"
    r_warm, r_cold = judge.reward(H, WARM), judge.reward(H, COLD)
    assert r_warm != r_cold and judge.reward(H, WARM) == r_warm
    assert RewardModelJudge(str(tiny), system=None).reward(H, WARM) == r_warm  # a fresh load gives the same number
    reward, empathy, ratio = judge.rate_reply(H, WARM, resolve_principles("reward,empathy,miti-open-questions"))
    s = 1 / (1 + math.exp(-r_warm))
    assert reward.score == round(s, 4) and (reward.scale_min, reward.scale_max) == (0, 1)
    assert empathy.score == round(1 + 4 * s, 4) and float(empathy.raw) == pytest.approx(r_warm, rel=1e-5)
    assert ratio.status == "failed" and "one scalar" in ratio.error


def test_it_selects_the_highest_reward_and_rates_consistently(tiny):
    judge = RewardModelJudge(str(tiny), system=None)
    replies = [COLD, WARM, "what was hardest"]
    rewards = [judge.reward(H, r) for r in replies]
    [c] = judge.choose(H, replies)
    assert c.winner == rewards.index(max(rewards)) and c.order == [0, 1, 2]
    scores = [judge.rate_reply(H, r, [get_principle("empathy")])[0].score for r in replies]
    assert sorted(range(3), key=scores.__getitem__) == sorted(range(3), key=rewards.__getitem__)
    [whole] = judge.rate_session([*H, ("counselor", WARM), ("client", "yes")], [get_principle("reward")])
    assert whole.score == judge.rate_reply(H, WARM, [get_principle("reward")])[0].score  # ends on the last counsellor turn


def test_the_text_uses_the_chat_template(tiny):
    judge = RewardModelJudge(str(tiny), system="you are a counsellor")
    assert judge._text(H, WARM) == f"<system> you are a counsellor <user> {H[0][1]} <assistant> {WARM} "


def test_a_peft_adapter_over_a_base(tmp_path):
    peft = pytest.importorskip("peft")
    base = tmp_path / "base"
    _tiny(base)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(base)  # as a trainer loads its base
    lora = peft.get_peft_model(model, peft.LoraConfig(task_type="SEQ_CLS", r=2, target_modules=["q_proj", "v_proj"]))
    torch.manual_seed(1)
    with torch.no_grad():
        for name, param in lora.named_parameters():
            if "lora_B" in name or "score" in name:
                param.add_(torch.randn_like(param) * 0.5)  # a trained-looking adapter, not the identity
    adapter = tmp_path / "adapter"
    lora.save_pretrained(adapter)
    judge = get_judge(f"reward:{adapter}?system=none")
    ids = judge.tokenizer(judge._text(H, WARM), add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        expected = float(lora.eval()(input_ids=torch.tensor([ids])).logits[0, 0])
    assert judge.reward(H, WARM) == pytest.approx(expected, abs=1e-5)
    assert judge.reward(H, WARM) != pytest.approx(RewardModelJudge(str(base), system=None).reward(H, WARM), abs=1e-4)


def test_bad_reward_models_are_named(tmp_path):
    with pytest.raises(PsyagentsError, match="needs a model folder"):
        get_judge("reward")
    with pytest.raises(PsyagentsError, match="does not exist"):
        get_judge(f"reward:{tmp_path / 'nope'}")
    with pytest.raises(PsyagentsError, match="has no config.json or adapter_config.json"):
        get_judge(f"reward:{tmp_path}")
    two = tmp_path / "two"
    _tiny(two, num_labels=2)
    with pytest.raises(PsyagentsError, match="one output, this one has 2"):
        get_judge(f"reward:{two}")
    with pytest.raises(PsyagentsError, match="unknown option 'temperature'"):
        get_judge(f"reward:{two}?temperature=1")
    with pytest.raises(PsyagentsError, match="max_length must be a whole number"):
        get_judge(f"reward:{two}?max_length=x")


@pytest.mark.model
def test_the_embedded_model_as_a_reward_model(tmp_path):
    """The real path: SmolLM2-135M-Instruct as AutoModelForSequenceClassification(num_labels=1, pad_token_id set), as TRL's
    RewardTrainer starts from it; the new score head is random (seeded), so the test checks determinism and consistency, not taste."""
    from psyagents.default_plugins.local_models import embedded_model_path

    source = embedded_model_path()
    torch.manual_seed(0)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(source, num_labels=1, local_files_only=True)
    tok = transformers.AutoTokenizer.from_pretrained(source, local_files_only=True)
    model.config.pad_token_id = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    folder = tmp_path / "smollm2-rm"
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    del model
    judge = get_judge(f"reward:{folder}?system=none&max_length=256")
    history = [("client", "I failed my exam and I feel useless.")]
    replies = ["It sounds like you feel crushed. What was hardest?", "Just study harder next time."]
    rewards = [judge.reward(history, r) for r in replies]
    assert all(math.isfinite(r) for r in rewards) and rewards[0] != rewards[1]
    again = [v.score for r in replies for v in judge.rate_reply(history, r, [get_principle("reward")])]
    assert again == [round(1 / (1 + math.exp(-r)), 4) for r in rewards]  # the same numbers a second time
    [c] = judge.choose(history, replies)
    assert c.winner == rewards.index(max(rewards))


def test_the_default_system_prompt_is_the_exports(tiny):
    from psyagents.export import system_prompt

    judge = RewardModelJudge(str(tiny))
    assert judge.system == system_prompt(None) and "counsellor" in judge.system
