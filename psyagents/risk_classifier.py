"""A small learned risk classifier: character n-grams, TF-IDF and one logistic head per level.

The screen's rule layer only knows the wordings its patterns expect. This model
learns from labelled messages instead (English and Chinese written for the
project, the dev split and PsyGUARD's Chinese messages; see
``psyagents/risk_training.py`` and ``docs/safety.md``). Character n-grams need no
word segmentation, so one model serves both languages. Next to them, ``CONCEPTS``
maps words of both languages to the kind of cue they are (a drug, a height, a near
time, a farewell, fiction, negation, ...), so a word the training messages never
used still carries the weight its kind has learned - if it is on the list.

The shipped model is plain JSON (``safety_data/risk-classifier.json``): the
vocabulary with each n-gram's IDF and weights, the intercepts and the decision
thresholds. Scoring is a few dictionary look-ups in pure Python - no
scikit-learn, numpy or pickle at run time, so the same file gives the same
scores on any platform and library version.

Heads are cumulative: ``moderate`` scores P(level >= moderate), ``high``
P(level >= high), ``imminent`` P(level = imminent). The level is the highest
head whose probability reaches its threshold (``imminent`` only together with
``high``; see ``decide``). The model never says ``low``: passive ideation and
talk about suicide are left to the rules, where a wrong guess costs less.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Any

from .errors import PsyagentsError

FORMAT = "psyagents-risk-ngram/1"
HEADS: tuple[str, ...] = ("moderate", "high", "imminent")
DEFAULT_PATH = Path(__file__).parent / "safety_data" / "risk-classifier.json"

# Long messages are scored in windows of whole sentences and the highest window
# wins, so one risky line among other news is not diluted by the rest. Windows
# reach MAX_SCORED characters in all; past that, the start and end are scored.
WINDOW = 280
MAX_SCORED = 24_000

_SPACE = re.compile(r"\s+")
_DIGIT = re.compile(r"[0-9]")
_LATIN_WORD = re.compile(r"[a-z']+")
_SENTENCE_END = re.compile(r"(?<=[.!?。！？…\n])\s*")

# Concept classes: a message's words mapped to a few kinds of cue, so the model can weigh a cue it
# has seen with other words (one drug name teaches the class, not just the name).
CONCEPTS: dict[str, tuple[str, str]] = {
    # name: (English words, matched at word starts; Chinese substrings)
    "drug": (r"pills?|tablets?|meds\b|medication|medicine|paracetamol|acetaminophen|tylenol|ibuprofen|aspirin|codeine|tramadol|"
             r"sertraline|citalopram|fluoxetine|prozac|amitriptyline|quetiapine|lithium|insulin|antidepressants?|painkillers?|"
             r"opioids?|oxy\w*|morphine|fentanyl|heroin|methadone|diazepam|valium|xanax|benzos?|zopiclone|zolpidem|ambien|mirtazapine|venlafaxine|"
             r"pregabalin|gabapentin|propranolol|warfarin|digoxin|co-codamol|naproxen|antihistamines?|capsules?|sleeping (?:pills|tablets)|"
             r"overdos\w*|doses?|od|packets?|blister",
             r"药|安眠|安定|舍曲林|扑热息痛|对乙酰氨基酚|布洛芬|胰岛素|碳酸锂|百草枯|农药|敌敌畏|老鼠药|止痛片|阿普唑仑|艾司唑仑|氯硝西泮|佐匹克隆|唑吡坦|"
             r"帕罗西汀|文拉法辛|米氮平|喹硫平|奥氮平|胶囊|一板|一盒|整瓶"),
    "gas": (r"charcoal|bleach|antifreeze|gas|exhaust|carbon monoxide|helium|fumes|hose|tubing|poison\w*|weedkiller|pesticide|paraquat|taped?",
            r"炭|煤气|尾气|毒|胶带|封好|除草剂|消毒液|管子"),
    "ligature": (r"ropes?\b|noose|cord\b|belt\b|ligature|hang(?:ing|ed)? myself|hang\b|strap|knot\b|beam\b|bannister|banister",
                 r"绳|上吊|皮带|吊|横梁|打结"),
    "blade": (r"knife|knives|blades?\b|razor|cut(?:s|ting)?\b|slit|wrists?|bleed\w*|blood|stitches",
              r"刀|割|腕|血|缝针"),
    "height": (r"bridge|roofs?|rooftop|ledge|cliffs?|balcony|tower|floor|storey|jump\w*|edge|railing|barrier|car park|multi.storey|high enough|height|"
               r"overpass|flyover|viaduct|skyscraper|top deck|top floor|drop",
               r"桥|天台|楼顶|顶楼|跳|悬崖|栏杆|护栏|阳台|楼|高度|天桥|高架|窗台|窗户外"),
    "transit": (r"trains?|tracks|platform|railway|rail line|level crossing|motorway|highway|freeway|lorry|lorries|truck|traffic|tube|steering|oncoming",
                r"火车|铁轨|站台|地铁|卡车|列车|高速|车流|马路中间|轨道"),
    "water": (r"river|sea|lake|reservoir|drown\w*|canal|harbour|pier|weigh myself down|stones in|into the water",
              r"河|海|湖|水库|淹|石头|江|水里"),
    "gun": (r"guns?\b|shotgun|rifle|pistol|bullets?|loaded|trigger|firearm",
            r"枪|子弹|上膛"),
    "soon": (r"tonight|tomorrow|right now|now\b|in an? (?:hour|few minutes)|minutes?\b|this (?:evening|morning|afternoon)|before (?:sunrise|morning|dawn)|"
             r"midnight|later today|after this|as soon as|any minute|won't be long|by morning",
             r"今晚|今天晚上|明天|明早|现在|马上|一会儿|分钟|小时|天亮|凌晨|待会|等下|今夜|这就"),
    "when": (r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|weekend|next (?:week|month)|the date|\b0+(?:st|nd|rd|th)\b|"
             r"once the|when (?:the|my)|after (?:the|my)|until|deadline|by the end",
             r"周[一二三四五六日末]|星期|礼拜|[0-9一二三四五六七八九十]+号|日子|等.{1,6}(?:以后|之后|完)|期限|月底|过完"),
    "resolve": (r"plan\w*|decided|decision|made up my mind|for sure|definitely|going to|gonna|i'?ll\b|i will|worked out|picked|chosen|"
                r"ready\b|all set|lined up|arranged|sorted|everything'?s? (?:set|ready|in place)|set up|going through with",
                r"计划|决定|定好|安排好|算好|准备好|弄好|想好|选好|打算|要去|就去|一定会|会去"),
    "farewell": (r"goodbye|last (?:message|words)|for the last time|farewell|sorry for everything|thank you for everything|"
                 r"thanks for everything|won'?t be (?:here|back|around|needed)|be gone|i'?m gone|final|one last|one more time|"
                 r"before i go|when i'?m gone|after i'?m gone|not coming back|for afterwards|from me after|no point continuing",
                 r"永别|最后一条|最后一眼|最后一面|最后的话|告别|道别|不在了|不回来|走了以后|走之前|别了|以后会找到|不会待太久"),
    "affairs": (r"gave (?:away|my|him|her)|giving (?:away|my)|give away|rehome|will\b|solicitor|passwords?|life insurance|insurance|debts?|paid off|"
                r"cancel\w*|closed (?:my|the)|letters?\b|notes?\b|funeral|look after|names on|afterwards|after i'?m gone|when i'?m gone|"
                r"won'?t need|not need|deleted|put (?:the )?house",
                r"送给|托付|遗书|遗嘱|信|密码|保险|还清|注销|葬礼|交给|转给|过户|用不上|身后|留给"),
    "save": (r"saving|saved|stockpil\w*|collecting|stash\w*|hoard\w*|counted|counting|enough\b|jar\b|bought|buy\w*|got (?:the|a|some)",
             r"攒|存着|囤|数过|够了|足够|买了|买好|凑"),
    "lethal": (r"painless|lethal|fatal|deadly|how high|quick\w*|survive|guarantee\w*|does it hurt|less painful|least painful|"
               r"fastest way|surest|kill (?:you|someone)|enough to|do you die|stops? (?:your|my|the|a) heart|heart stop\w*|"
               r"liver (?:failure|damage)|damages? (?:the|your) liver|organ failure|bleed out|detect\w*|post.?mortem|"
               r"would (?:it|that|this) (?:work|do it|be (?:quick|enough|fatal|painless))|do the job|harder to save|be saved",
               r"致命|致死|多久|多高|会不会死|一定会死|保证|痛苦|查不出|死得|必死|救不回来|更难救|最快|最有效|能不能成功|成功率|肝衰竭"),
    "how": (r"how (?:much|many|long)|what dose|which (?:is|one|way|method)|is it true",
            r"多少|几片|几颗|什么办法|哪种|是不是"),
    "act": (r"i'?ve (?:taken|swallowed|drunk|done|cut)|took\b|swallowed|drank|injected|i'?m (?:on|at|in|standing|sitting|lying|holding|climbing)|"
            r"sitting|standing|lying|holding|climbing|already|started|it'?s done|doing it",
            r"吃了|喝了|吞了|已经|坐在|站在|躺在|正在|拿着|开始了|点上"),
    "die": (r"\bdie\b|dying|dead\b|death|kill(?:ing)? myself|suicid\w*|end (?:it|my life|things|myself)|take my (?:own )?life|not (?:be )?(?:here|around)|"
            r"gone\b|go too|way out",
            r"死|自杀|轻生|结束|了结|一了百了|走了|不想活|解脱"),
    "harm_other": (r"kill (?:him|her|them|my )|hurt (?:him|her|them)|stab (?:him|her)|beat (?:him|her|the)|make (?:him|her|them) pay|"
                   r"set fire|poison (?:him|her)|shoot (?:him|her|them)|want them (?:all )?dead",
                   r"杀了他|杀了她|弄死他|捅|砍他|打死他|报复|让他付出代价|让他尝尝"),
    "harm_from_others": (r"hit me|hits me|choked|strangl\w*|throat|threaten\w*|kill me|stab me|beat me|pinned me|i'?m dead",
                          r"掐|打我|杀了我|弄死我|打死我|砍死我|按在地上|威胁"),
    "fiction": (r"film|movie|novel|book\b|game\b|episode|character|series|\bplay\b|song|lyrics|documentary|opera|story|scene|cast as|thesis|essay|module|"
                r"lol|haha|lmao|😂|🤣",
                r"电影|小说|游戏|剧|角色|歌|纪录片|论文|作业|哈哈|笑死|xswl"),
    "other": (r"my (?:friend|best friend|son|daughter|sister|brother|husband|wife|mum|mom|dad|father|mother|colleague|coworker|student|pupil|patient|client|partner|boyfriend|girlfriend|uncle|aunt|cousin|grand\w*)",
              r"我(?:朋友|闺蜜|儿子|女儿|姐|妹|哥|弟|老公|老婆|妈|爸|同事|学生|病人|男朋友|女朋友|舅舅|叔)|她|他"),
    "past": (r"\bago\b|last (?:week|month|year|spring|summer|autumn|winter)|years? ago|when i was|used to|yesterday|back then",
             r"以前|前几年|那年|上周|上个月|昨天|曾经|当年|前几天|周前"),
    "better": (r"better place|doing (?:well|better|ok)|behind me|helped|good place|recovered|years? clean|happily",
               r"好多了|都过去了|过得挺好|过得很好|帮了|走出来"),
    "negate": (r"\bnever\b|\bnot\b|n'?t\b|\bno\b|wouldn'?t|promise",
               r"不会|没有|从来没|从没|绝不|绝对不|保证不"),
}

# Two patterns per concept: English alternatives as whole words (\w* for a stem), Chinese ones
# anywhere. Each runs only on a text with its script (most messages have one).
_CONCEPT_EN = [("c:" + name, re.compile(r"(?<![a-z'])(?:" + en + r")(?![a-z])")) for name, (en, _) in CONCEPTS.items()]
_CONCEPT_ZH = [("c:" + name, re.compile(zh)) for name, (_, zh) in CONCEPTS.items()]
_HAS_LATIN = re.compile(r"[a-z]")
_HAS_CJK = re.compile(r"[\u4e00-\u9fff]")


@lru_cache(maxsize=1)
def _fold():
    # The rule layer's folding: lower case, Traditional to Simplified, full-width to ASCII.
    from .default_plugins.basic_safety import normalise

    return normalise


def prepare(text: str) -> str:
    """The text the features are read from: folded, digits as 0, whitespace collapsed."""
    text = _fold()(text)
    text = _DIGIT.sub("0", text)
    return _SPACE.sub(" ", text).strip()


def features(text: str, *, char_max: int = 4, words: bool = True, concepts: bool = False) -> Counter[str]:
    """Counts of the character 1..char_max-grams (over ' text '), if ``words`` Latin word uni- and bigrams,
    and if ``concepts`` one ``c:NAME`` feature per match of a ``CONCEPTS`` class."""
    prepared = " " + prepare(text) + " "
    counts: Counter[str] = Counter()
    n = len(prepared)
    for size in range(1, char_max + 1):
        counts.update(prepared[i : i + size] for i in range(n - size + 1))
    if words:
        tokens = _LATIN_WORD.findall(prepared)
        counts.update("w:" + t for t in tokens)
        counts.update("w:" + a + " " + b for a, b in zip(tokens, tokens[1:]))
    if concepts:
        for patterns, script in ((_CONCEPT_EN, _HAS_LATIN), (_CONCEPT_ZH, _HAS_CJK)):
            if script.search(prepared):
                for name, pattern in patterns:
                    found = len(pattern.findall(prepared))
                    if found:
                        counts[name] += found
    counts.pop(" ", None)
    return counts


def windows(text: str, width: int = WINDOW, limit: int = MAX_SCORED) -> list[str]:
    """The text itself when short; else runs of whole sentences of about ``width`` characters."""
    if len(text) <= width:
        return [text]
    if len(text) > limit:
        text = text[: limit // 2] + "\n" + text[-limit // 2 :]
    parts: list[str] = []
    current = ""
    for sentence in _SENTENCE_END.split(text):
        while len(sentence) > width:  # a run-on "sentence": cut it, overlapping a little
            parts.append((current + " " + sentence[:width]).strip())
            current, sentence = "", sentence[width - 40 :]
        if current and len(current) + len(sentence) > width:
            parts.append(current)
            current = current[-80:] if len(current) > 80 else ""  # keep some context across the cut
        current = (current + " " + sentence).strip() if current else sentence
    if current.strip():
        parts.append(current)
    return [p for p in parts if p.strip()] or [text[:width]]


def decide(probabilities: dict[str, float], thresholds: dict[str, float]) -> str:
    """``high`` when its head reaches its threshold (``imminent`` if that head does too), else ``moderate`` when its does.

    The high head does not need the moderate one: each is tuned on its own false-positive budget.
    """
    level = "none"
    if probabilities.get("moderate", 0.0) >= thresholds.get("moderate", 1.0):
        level = "moderate"
    if probabilities.get("high", 0.0) >= thresholds.get("high", 1.0):
        level = "high"
        if probabilities.get("imminent", 0.0) >= thresholds.get("imminent", 1.0):
            level = "imminent"
    return level


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


class NgramRiskModel:
    """The JSON model: ``probabilities(text)`` per head, ``level(text)`` with the shipped thresholds."""

    def __init__(self, data: dict[str, Any], source: str = "<memory>"):
        if data.get("format") != FORMAT:
            raise PsyagentsError(f"risk classifier '{source}': field 'format' is {data.get('format')!r}, expected {FORMAT!r}")
        try:
            self.heads: tuple[str, ...] = tuple(data["heads"])
            self.intercepts: list[float] = [float(x) for x in data["intercepts"]]
            self.thresholds: dict[str, float] = {h: float(data["thresholds"][h]) for h in self.heads}
            self.options: dict[str, Any] = dict(data["features"])
            # entry: [idf, weight for each head], used as parsed (converting 40,000 entries costs more than loading)
            self.vocab: dict[str, list[float]] = data["vocabulary"]
            if not isinstance(self.vocab, dict):
                raise TypeError("'vocabulary' must be an object")
        except (KeyError, TypeError, ValueError) as exc:
            raise PsyagentsError(f"risk classifier '{source}': malformed model ({type(exc).__name__}: {exc})") from None
        if self.heads != HEADS[: len(self.heads)] or len(self.intercepts) != len(self.heads):
            raise PsyagentsError(f"risk classifier '{source}': field 'heads' must be a prefix of {list(HEADS)}")
        width = len(self.heads) + 1
        bad = next((k for k, v in self.vocab.items() if not isinstance(v, list) or len(v) != width
                    or not all(isinstance(x, (int, float)) for x in v)), None)
        if bad is not None:
            raise PsyagentsError(f"risk classifier '{source}': vocabulary entry {bad!r} needs an IDF and {len(self.heads)} weights")
        self.meta: dict[str, Any] = data.get("training", {})
        self.source = source

    @classmethod
    def load(cls, path: str | Path = DEFAULT_PATH) -> "NgramRiskModel":
        """Read a model file; a missing or unreadable file is a one-line PsyagentsError."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise PsyagentsError(f"risk classifier '{path}' not found") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise PsyagentsError(f"risk classifier '{path}' cannot be read: {exc}") from None
        if not isinstance(data, dict):
            raise PsyagentsError(f"risk classifier '{path}': expected a JSON object")
        return cls(data, str(path))

    def _probabilities_one(self, text: str) -> list[float]:
        counts = features(text, char_max=int(self.options.get("char_max", 4)), words=bool(self.options.get("words", True)),
                          concepts=bool(self.options.get("concepts", False)))
        sums = [0.0] * len(self.heads)
        norm = 0.0
        vocab = self.vocab
        for gram, count in counts.items():
            entry = vocab.get(gram)
            if entry is None:
                continue
            value = (1.0 + math.log(count)) * entry[0]
            norm += value * value
            for i in range(len(sums)):
                sums[i] += value * entry[i + 1]
        scale = 1.0 / math.sqrt(norm) if norm > 0 else 0.0
        return [_sigmoid(s * scale + b) for s, b in zip(sums, self.intercepts)]

    def probabilities(self, text: str) -> dict[str, float]:
        """P(at least each head's level); a long text takes the highest of its windows, head by head."""
        best = [0.0] * len(self.heads)
        for part in windows(text, int(self.options.get("window", WINDOW))):
            best = [max(a, b) for a, b in zip(best, self._probabilities_one(part))]
        return dict(zip(self.heads, best))

    def decide(self, probabilities: dict[str, float]) -> str:
        """The level for these head probabilities under the model's thresholds (see ``decide``)."""
        return decide(probabilities, self.thresholds)

    def level(self, text: str) -> str:
        """The level this model gives ``text`` (never ``low``)."""
        return self.decide(self.probabilities(text))
