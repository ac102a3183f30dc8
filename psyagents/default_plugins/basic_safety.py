"""The basic safety screen: English and Chinese rules and lexicons (layer "rules").

This is the first, cheapest layer of screening: precompiled regular expressions
over one message, with no model. It errs towards sensitivity (a missed crisis is
worse than a counsellor checking in needlessly) but handles the common ways a
risk word appears without risk: negation, idioms, fiction and media, other
people, hypotheticals and risk that is over. Later layers (a classifier, an LLM
assessor) add their own checks; ``safety.screen`` keeps the highest level.

Levels follow the C-SSRS screener and the labelling guide in
``psyagents/safety_data/README.md`` (categories are fixed strings, ``CATEGORIES``):

* **imminent** - intent with a near timeframe or the means at hand now ("tonight",
  "the pills are in front of me", 今晚就, 药就在面前), being at the place (on the
  ledge, on the tracks, 站在天台边上), the means set up (the rope tied, 炭已经点上了),
  an attempt under way ("I've just taken the whole bottle", "the pills are kicking
  in"), uncontrolled bleeding, a final farewell next to suicidal content, and
  immediate danger to or from someone else (a knife ready; someone at the door
  with a weapon).
* **high** - a plan (a chosen method, place or date; a question about lethality,
  even "hypothetically" or "for a friend"), preparation (notes, stockpiled pills,
  charcoal, giving things away, settling affairs), a recent attempt, including
  interrupted or aborted ones, stated intent ("I'm going to kill myself", 我要自杀,
  迟早会自杀), self-harm intent, intent or a threat to harm a specific person,
  command hallucinations, and life-threatening violence against the speaker
  (strangulation, death threats).
* **moderate** - active ideation without a plan ("I want to kill myself", "I want
  to die", 想死, 不想活了, 一了百了), passive ideation with thoughts of acting on it,
  current self-harm, physical violence or threats from others, fantasies of
  harming someone, and distant past risk that is not said to be resolved.
* **low** - passive ideation ("I wish I could just disappear", 活着没意思,
  不想醒来), talking or asking about suicide, someone else's risk (always low,
  as asking_about_suicide), verbal abuse (including being told to die), and any
  risk of the speaker's that is over ("years ago ... but I'm in a good place now").
* **none** otherwise.

How a match is softened, and why:

* Negated ("I would never kill myself", 我不会自杀): dropped. The negation must
  govern the phrase (same clause, just before it, not across "but"/"why"/因为).
* Idioms and hyperbole ("this deadline is killing me", 累死了, 笑死我了, 尴尬得想死,
  "he'd kill me if I ate the last biscuit"): masked before matching. Banter
  ("I'm going to kill him lol", 想死的心都有了哈哈) drops aggression and ideation
  up to moderate; "just kidding"/开玩笑的 or "asked if ... I said no" drops all.
* Someone else's risk ("my friend wants to die", 她有自杀倾向): low, as
  asking_about_suicide - the speaker is worried, not at risk themselves. Chinese
  often drops the subject, so a clause with no subject counts as the speaker's;
  the agent after 被 (被我妈发现) is not the subject; quoted words after someone
  else's speech verb (她发朋友圈说“再见了这个世界”) are theirs, as are
  有自杀念头的同学 and song lyrics. Someone else's risk that is over, or a pet's,
  is none.
* Fiction, media, study and work (films, novels, essays, "suicide prevention",
  a nurse's patient): none, but only for mentions and other people - "after the
  film I want to die" is still the speaker's own ideation.
* Hypotheticals about someone ("hypothetically, if someone...", 假如有人): low,
  except questions about lethality, which stay high.
* Past risk: with a sign that it is resolved in the message ("but I'm in a good
  place now", 现在好多了) at most low; distant past without one ("when I was 15")
  at most moderate; recent past (a recent attempt) unchanged. A present-tense
  situation told in the past ("three days ago I stood on the roof") is a recent,
  interrupted attempt: high, not imminent.

Veiled risk: a message can be imminent with no risk word at all ("I'm at the
station. next train in 4 minutes. i'm sorry"). Cues of different kinds - at a
place or an edge, calm, a note, settled affairs, a farewell, a time, means at
hand, an overdose under way - are weighted (``_VEILED_WEIGHT``); together they
make high or imminent, one kind alone never counts, and one of them must lean
towards risk, so a commute or a trip ("everything's ready, leaving tonight" with
a flight) stays none.

Both lexicons run on any message containing their script, whatever ``language``
says, because clients switch languages mid-message and the two sets of patterns
do not collide. Traditional Chinese is folded to Simplified, full-width forms to
ASCII and case to lower before matching, character for character, so evidence is
quoted from the original text. Texting forms are accepted: apostrophes may be
dropped ("im", "dont", "whats"), and zs stands for 自杀.

Speed: every pattern is cut into parts that open with a literal, which the regex
engine can skip to quickly. An index of those first words and characters picks the
few dozen of ~1,600 parts that could match a message, and a part that needs one of a
few literals ("already ", "just ") is skipped when the message has none of them; a
first pass runs the rest, and idiom masks and context checks run only where
something matched. Parts compile on first use. An ordinary message takes a few
hundredths of a millisecond, a 100k-character one roughly 10-40 ms; at most 64
matches of one rule are considered (``bench/screen.py`` measures it).

To extend: pass your own ``Rule`` list (``LexiconCheck(rules=DEFAULT_RULES +
mine)``) or register another ``SafetyCheck`` - the highest level wins.

Tuning: the rules were tuned on ``safety_data/screen-dev-*.jsonl``, on messages
written by the developers and on PsyGUARD's validation file, never on the test
split; ``docs/safety.md`` has the figures.
"""

from __future__ import annotations

import bisect
import functools
import logging
import operator
import re
from re import _parser as _sre_parser  # to read what a pattern needs; private but stable since 3.11
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice

from psyagents.hookspecs import hookimpl
from psyagents.risk import RiskAssessment, at_least, level_index
from psyagents.safety import SafetyCheck

logger = logging.getLogger(__name__)

CATEGORIES: tuple[str, ...] = (
    "suicide_attempt",
    "suicide_preparation",
    "suicide_plan",
    "active_suicidal_ideation",
    "passive_suicidal_ideation",
    "self_harm_behavior",
    "self_harm_intent",
    "aggression_to_others",
    "aggression_from_others",
    "asking_about_suicide",
)
SUICIDE_CATEGORIES = frozenset(CATEGORIES[:5])
# Categories about the speaker's own safety: about someone else they become
# asking_about_suicide.
SELF_RISK_CATEGORIES = SUICIDE_CATEGORIES | {"self_harm_behavior", "self_harm_intent"}

MAX_EVIDENCE = 10
# A pathological message (the same phrase thousands of times) must not make the
# screen slow; beyond this many matches of one rule the rest add nothing.
MAX_MATCHES_PER_RULE = 64
# Context is looked for this far around a match, so cost stays linear in the text.
CONTEXT_CHARS = 240


@dataclass(frozen=True)
class Rule:
    """One lexicon entry.

    ``person`` says whose risk the phrase describes:
    ``self`` - the pattern itself names the speaker ("kill myself");
    ``any`` - the subject is inferred from the clause (Chinese drops subjects);
    ``other`` - explicitly someone else ("killed himself");
    ``mention`` - a bare topic word ("suicide", 自杀), at most low.

    ``firm`` marks a phrase that hypotheticals and third persons do not soften:
    a question about lethality is high even "hypothetically" or "for a friend".
    ``now`` marks a situation that is imminent in the present tense (on the
    ledge, the rope tied); told in the past ("three days ago I stood on the
    roof") it is a recent, interrupted attempt: high, ``suicide_attempt``.
    ``needs`` is a pattern that must also occur in the sentence ("would it be
    painless" counts only next to a medicine); a rule anchored on its rarer words
    stays fast.
    """

    category: str
    level: str
    pattern: str
    person: str = "any"
    firm: bool = False
    now: bool = False
    needs: str = ""

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            raise ValueError(f"unknown safety category '{self.category}'")
        level_index(self.level)
        if self.person not in ("self", "any", "other", "mention"):
            raise ValueError(f"unknown person '{self.person}' in rule {self.pattern!r}")


def _rules(category: str, level: str, person: str, *patterns: str, firm: bool = False, now: bool = False, needs: str = "") -> list[Rule]:
    return [Rule(category, level, p, person, firm, now, needs) for p in patterns]


# --- Normalisation ----------------------------------------------------------------
# Every replacement is one character for one, so match offsets index the original.
# The Traditional characters are those the lexicon and its context words use.

_TRAD_TO_SIMP = dict(zip(
    "殺準備傷藥樓見後遺書說這個沒過會為來與從時經絕們麼還對著裡開電應歲學覺實殘劃聽讓給臨別計畫醫囑農燒繩橋顆願錯點兒"
    "現頭話讀關於劇視聞報導論題寫課氣熱餓無難嚇煩醜萬離種盡厭滅媽親長師體動憂鬱結東車淨壓滿輕誰進處發問腦將斷邊陽臺臉"
    "夢懷輩雙爾麗樂歡戀愛隨強騷擾罵護獲認識狀態傾衝該樣條試嘗嚐嗎選擇鐘脈劑緒極慮療癒禮歷隻幾億"
    "頂撐掛綁險慘罰勸攔搶燈鐵軌壞塊憤敗廢鎖緊購買賣錢帳號刪轉櫃閉鬧喪縫針燙飯聯繫網頁訊",
    "杀准备伤药楼见后遗书说这个没过会为来与从时经绝们么还对着里开电应岁学觉实残划听让给临别计画医嘱农烧绳桥颗愿错点儿"
    "现头话读关于剧视闻报导论题写课气热饿无难吓烦丑万离种尽厌灭妈亲长师体动忧郁结东车净压满轻谁进处发问脑将断边阳台脸"
    "梦怀辈双尔丽乐欢恋爱随强骚扰骂护获认识状态倾冲该样条试尝尝吗选择钟脉剂绪极虑疗愈礼历只几亿"
    "顶撑挂绑险惨罚劝拦抢灯铁轨坏块愤败废锁紧购买卖钱账号删转柜闭闹丧缝针烫饭联系网页讯",
))

_FOLD: dict[int, int | str] = {ord(t): s for t, s in _TRAD_TO_SIMP.items()}
_FOLD.update({c: c + 32 for c in range(ord("A"), ord("Z") + 1)})
# Full-width ASCII (common in Chinese typing) to ASCII, letters lowered.
for _c in range(0xFF01, 0xFF5F):
    _ascii = _c - 0xFEE0
    _FOLD[_c] = _ascii + 32 if ord("A") <= _ascii <= ord("Z") else _ascii
_FOLD[0x3000] = " "
for _c in "\u2018\u2019\u02bc\u2032":
    _FOLD[ord(_c)] = "'"
# Control and zero-width characters become spaces so they cannot glue or split words oddly.
for _c in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0), *range(0x200B, 0x2010), 0x2028, 0x2029, 0x2060, 0xFEFF]:
    _FOLD[_c] = " "
_FOLD[ord("\r")] = "\n"


def normalise(text: str) -> str:
    """Lower-case, fold Traditional to Simplified and full-width to ASCII; same length as ``text``."""
    return text.translate(_FOLD)


# --- Masks: idioms and hyperbole that look like risk ------------------------------

_EN_IDIOMS = [
    r"\b(?:is|are|was|were|'s|'re|it's|this|that|they're|you're) (?:literally |really |slowly )?killing me\b",
    r"\bkill(?:ed|ing|s)? (?:it|time|the (?:vibe|mood|lights?|engine|process))\b",
    r"\bdying (?:to|for)\b",
    r"\bto die for\b",
    r"\b(?:die|died|dying|dead) (?:of|from|with) (?:laughter|laughing|embarrassment|shame|boredom|cuteness|curiosity|envy|jealousy|heat|cold|hunger)\b",
    r"\b(?:died|dying|dead) laughing\b",
    r"\b(?:bored|scared|worried|frightened|tickled|loved|freezing|starving|stressed)(?: half)? to death\b",
    r"\b(?:would|'d) rather die than\b",
    r"\bcould (?:literally |just |honestly )?(?:kill|murder) (?:him|her|them|you|someone|somebody|for|a\b)(?: for)?",
    r"\bcould (?:literally |just )?kill myself (?:for|when)\b",
    r"\bkill(?:ed|ing|s)? myself (?:laughing|at work|at the gym|with work|over (?:this|that|it|nothing)|working|studying|to (?:finish|get|meet|make))",
    r"\bdead (?:tired|serious|set|wrong|right|end|beat|on)\b",
    r"\bdeadlines?\b",
    r"\bdrop dead gorgeous\b",
    r"\b(?:i'd|i would) kill for\b",
    r"\bmurder (?:a|an|some) (?:pizza|burger|drink|coffee|beer|pint|curry)\b",
    r"\bover my dead body\b",
    r"\bif looks could kill\b",
    r"\bkill two birds\b",
    # "He'd kill me if I ate the last biscuit": a threat over a trifle is a figure of speech.
    r"\b(?:kill|murder) me if i (?:ate|eat|touch|touched|use|used|borrow|borrowed|forget|forgot|break|broke|lose|lost|finish|finished|drink|drank|scratch|scratched|spill|spilled|spilt|wear|wore|miss|missed)\b|\b(?:kill|murder) me if i(?:'m| am| was| were) late\b",
]
_ZH_IDIOMS = [
    # Adjective + 死 as "extremely": 累死了, 热死了, 气死我了, 笑死, 烦得要死, 吓个半死.
    r"(?:累|热|冷|饿|渴|困|忙|烦|气|笑|吓|急|闷|晒|撑|痛|疼|苦|难受|无聊|丑|笨|蠢|臭|吵|挤|懒|美|帅|爽|萌|可爱|羡慕|嫉妒|"
    r"开心|高兴|恨|怕|紧张|尴尬|恶心|麻烦|讨厌|心疼|馋|忙活|折腾|憋|郁闷|冻|捂|酸|辣|咸|甜|香|胖|瘦|穷|难看|难吃|难听|"
    r"想你想|可怜|倒霉|担心|着急)"
    r"(?:得要|得快要?|得|个半|个)?死(?:了|我了|人了|啦|掉了|人|我|你了|你)?",
    r"想死(?:你们?|您|他们?|她们?|它)(?:了|啦)?|想死我(?:了|啦)",  # "miss you to death"
    r"想死(?:我家|我的)?(?:狗|猫|狗狗|猫咪|宝宝|宝贝|老婆|老公|女朋友|男朋友|妈|爸|家人|你们)(?:了|啦)",
    r"(?:我)?(?:妈|爸|爸妈|父母|老妈|老爸|我妈|我爸)(?:估计|肯定|非|一定|绝对|会|要|得)*(?:打死|杀了|弄死)我",
    r"(?:玩|输|气|烦|累|热|困|饿|忙|考|学|卷|吵|笑|吃|撑|尴尬|丢人|无聊|紧张|羞|难堪|社死|痒|疼|痛)得(?:我)?想死",
    # 死 in words that are not about dying; none of them ends a risk phrase (想死心 would).
    r"死(?:党|心眼|心塌地|心了|机|角|板|胡同|记硬背|磕|宅|忠|皮赖脸|性不改|不承认|活不|定了|鬼|对头|缠烂打|里逃生|气沉沉|循环)",
    r"生活不下去|要死不活|要死要活|死去活来|生不如死|半死不活|往死里(?:学|练|吃|喝|干|卷)|生死(?:攸关|之交|与共)|笑死",
    r"(?:杀|砍)(?:价|毒|菌|虫|时间|青|手锏)|杀(?:马特|疯了)|秒杀|抹杀|扼杀|自杀式(?:袭击|攻击)?",
]


# --- The lexicon --------------------------------------------------------------------
# Patterns run on normalised text (lower case, Simplified). English ones use \b;
# Chinese ones are bounded by clause punctuation via [^，。！？...] where needed.

_I = r"\bi(?:'?m| am|'?ve| have|'d| would|'ll| will)?"  # the speaker as subject ("im", "ive" in texting)
_ADV = r"(?:(?:really|just|honestly|seriously|sometimes|often|still|actually|literally|kind of|kinda|so|truly|always|totally|genuinely) )*"
_NC = r"[^，。！？；,.!?;\n]"  # any character inside a clause

_EN_METHOD = (
    r"(?:jump(?:ing)? (?:off|from|in front of)|hang(?:ing)? myself|shoot(?:ing)? myself|overdos(?:e|ing)|"
    r"slit(?:ting)? my wrists?|cut(?:ting)? my wrists?|drown(?:ing)? myself|poison(?:ing)? myself|"
    r"throw(?:ing)? myself|step(?:ping)? in front of|take (?:all|the rest) of my (?:pills|meds)|"
    r"take all (?:my|the|of my) (?:pills|meds|tablets)|gas(?:sing)? myself|crash(?:ing)? my car|"
    r"(?:take|taking|swallow|swallowing) (?:them|these|those) all|(?:take|swallow) (?:the )?(?:whole|entire) (?:bottle|packet|box)|"
    r"walk(?:ing)? (?:into|in front of) (?:the )?(?:sea|ocean|river|lake|water|traffic|a train|a bus|a lorry|a truck)|"
    r"drive (?:my car )?(?:into|off) (?:a|the) (?:wall|tree|bridge|cliff|river|lorry|truck)|step(?:ping)? off (?:the|a) (?:ledge|roof|bridge|edge)|"
    r"lie down on the (?:tracks|road)|stop taking my (?:insulin|heart (?:meds|medication))|take every (?:pill|tablet)|take (?:all|every one of) the (?:pills|tablets) in the house)"
)
# Medicines and poisons named in questions about how much would kill.
_EN_DRUG = (
    r"(?:pills|tablets|capsules|meds|medication|medicine|painkillers|sleeping pills|sleeping tablets|paracetamol|acetaminophen|tylenol|"
    r"ibuprofen|aspirin|codeine|tramadol|oxy\w*|insulin|lithium|antidepressants|sertraline|fluoxetine|prozac|citalopram|venlafaxine|"
    r"amitriptyline|quetiapine|seroquel|xanax|valium|diazepam|benzos?|zopiclone|melatonin|antifreeze|bleach|rat poison|weedkiller)"
)
_EN_NUMBER = r"(?:\d{2,}(?!\s?(?:mg|ml|mcg|g)\b)|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|a hundred|a dozen|dozens)"
_ZH_METHOD = r"(?:跳楼|跳河|跳江|跳海|跳桥|跳湖|跳崖|跳轨|卧轨|上吊|(?:走|跳)进(?:海|河|江|湖)里?|吊死自己|割腕|割脉|烧炭|喝农药|吃农药|喝敌敌畏|吞药|服毒|吃安眠药|吞安眠药|开煤气|跳下去|从楼上跳|安乐死)"
_ZH_MEANS_WORD = r"(?:药|片|颗|粒|楼|跳|割|农药|安眠药|煤气|炭|绳|河|海|刀|血)"

EN_RULES: list[Rule] = [
    # Attempt in progress: imminent.
    *_rules("suicide_attempt", "imminent", "self",
            rf"{_I} (?:just |already )+(?:took|taken|swallowed|downed|drank|drunk) (?:all|the whole|a whole|an entire|the entire|a bunch of|a handful of|too many|\d{{2,}}|dozens of|every one of|the rest of|most of|half of|half (?:the|a|my))\b(?: [\w']+){{0,4}}",
            rf"{_I} (?:just |already )*(?:took|taken|swallowed|drank|drunk) (?:some |the )?(?:bleach|poison|antifreeze|rat poison|weedkiller|pesticide)",
            rf"{_I} (?:just |already )+(?:overdosed|od'd|cut (?:too )?deep|slit my wrists?)",
            r"\bi(?:'m| am) (?:overdosing|bleeding out)\b",
            rf"{_I} (?:just |already )?cut (?:too |really |very |so )?deep\b|\b(?:went|gone|cut) (?:way |much )?too deep\b",
            r"\b(?:can't|cannot|won't|can not) stop (?:the )?bleeding\b|\bbleeding (?:won't|will not|doesn't|isn't going to) stop\b|\b(?:there's|there is|i'm losing|losing) (?:so much|a lot of|lots of|too much) blood\b",
            r"\b(?:the )?(?:rope|noose) is (?:around|on) my neck\b",
            r"\b(?:the )?gun is (?:to|against|at) my head\b",
            r"\b(?:just|already) (?:took|swallowed|downed) (?:everything|every (?:pill|tablet)|the lot|all of (?:them|it)|the whole (?:bottle|box|packet|pack|strip|lot))\b(?: [\w']+){0,4}",
            # "I've taken 30 of ..." - the present perfect says it has just happened.
            r"\bi(?:'ve| have) (?:just |already )?(?:taken|swallowed|downed) (?:everything|every (?:pill|tablet)|the lot|all of (?:them|it))\b",
            rf"\bi(?:'ve| have) (?:just |already )?(?:taken|swallowed|downed) (?:(?:a|the|my) (?:whole |entire )?(?:load|lot|bunch|handful|fistful|box|packet|pack|bottle|strip|tub) of|(?:about |like |around |maybe |over |nearly )?{_EN_NUMBER}(?: of)?) (?:(?:my|the|those|these|his|her) )?(?:\w+'s )?(?:\w+ )?{_EN_DRUG}\b"),
    # At the place or with the means set up, now: imminent (told in the past: a recent attempt).
    *_rules("suicide_preparation", "imminent", "self",
            r"\b(?:standing|sitting|perched|sat|stood|crouching) on (?:the |a |my )?(?:window ?ledge|ledge|windowsill|window sill|railing|parapet|edge of (?:the|a) (?:roof|building|bridge|cliff|platform|balcony))\b",
            r"\b(?:i'm|i am) on (?:the )?(?:ledge|parapet|edge of the (?:roof|building|bridge|cliff))\b",
            r"\b(?:i'm|i am|im) (?:\w+ )?(?:on|lying on|standing on|sitting on|lying across) (?:the )?(?:train |railway |rail )?(?:tracks|railway line|rails|level crossing)\b",
            r"\b(?:i'm |i am )?(?:leaning|hanging) over (?:the |a )?(?:railing|edge|parapet|barrier|balcony)\b|\bclimbed (?:over|onto) (?:the |a )?(?:railing|barrier|parapet|ledge)\b",
            r"\btying (?:it|the rope|the noose|a noose|a rope|the belt|the cord|the sheet|the scarf) (?:to|around|round|onto|on|over) (?:the|my|a) (?:banister|bannister|beam|rafter|railing|door|hook|ceiling|pipe|tree|branch|light fitting|wardrobe)\b",
            r"\b(?:the )?(?:rope|noose) is (?:tied|up|ready|hanging|set up)\b",
            r"\b(?:knife|blade|razor|gun)\b (?:is )?(?:to|against|on|at|pressed to|pressed against|held to) my (?:wrist|wrists|arm|throat|neck|skin|head|chest|temple)\b",
            r"\b(?:the )?(?:rope|noose|belt|cord) is (?:around|round|over|tied to|on) the (?:beam|banister|bannister|rafter|railing|door|hook|ceiling|pipe|tree|branch)\b",
            r"\bin the (?:car|garage)\b[^.!?\n]{0,40}\bengine (?:is |'s )?(?:running|on|going)\b",
            r"\bhose\b[^.!?\n]{0,30}\bexhaust\b|\bexhaust\b[^.!?\n]{0,30}\bhose\b",
            r"\b(?:a|the|my) (?:belt|rope|noose|cord|scarf|tie|cable|dressing gown cord) (?:around|round|on) my neck\b",
            r"\b(?:got|have|'ve got) (?:all )?(?:the |my |of my )?(?:pills|tablets|meds) (?:lined up|counted out|laid out|in front of me|in my hand)\b",
            r"\b(?:pills|tablets|meds)\b[^.!?\n]{0,20}\b(?:is|are)\b[^.!?\n]{0,10}(?:in front of me|in my hand|lined up|counted out)\b",
            now=True),
    # Recent attempt: high.
    *_rules("suicide_attempt", "high", "self",
            rf"{_I} (?:tried|attempted|tried again) to (?:kill myself|end (?:my life|it all)|take my (?:own )?life|commit suicide|hang myself|overdose|die)\b",
            rf"{_I} (?:tried|attempted) suicide\b",
            r"\bi (?:overdosed|od'd|took an overdose)\b",
            r"\b(?:my|a|the) (?:(?:last|first|second|third|recent) )?suicide attempt\b",
            r"\bsurvived (?:my|an|a|the) (?:suicide )?attempt\b",
            r"\bi (?:almost|nearly) (?:killed myself|died by suicide|jumped|hanged myself|overdosed)\b",
            r"\bstomach pumped\b",
            r"\bi (?:\w+ )?(?:slit|slashed|cut) my wrists?\b",
            rf"{_I} (?:tried|attempted|tried again) to (?:drown|hang|shoot|poison|gas|suffocate|electrocute|strangle|stab) myself\b",
            rf"{_I} (?:tried|attempted|tried again) to (?:jump|walk into|step in front of|drive (?:my car )?(?:into|off))\b",
            r"\b(?:meaning|intending|meant|trying|wanting) to (?:jump|die|end it|end my life|kill myself|drown myself|hang myself)\b",
            rf"\b(?:took|taken|swallowed|downed) (?:(?:a|the|my) (?:whole |entire )?(?:load|lot|bunch|handful|fistful|pile|heap|box|packet|pack|bottle|strip|tub|blister pack) of|(?:about |like |around |maybe |over |nearly )?{_EN_NUMBER}(?: of)?) (?:(?:my|the|those|these|his|her) )?(?:\w+'s )?(?:\w+ )?{_EN_DRUG}\b",
            r"\b(?:edge|ledge|roof|rooftop|bridge|platform|tracks|railing|cliff)\b[^.!?\n]{0,60}\b(?:grabbed|pulled|dragged|talked) (?:me|my arm|my hand)\b",
            r"\b(?:took|taken|swallowed|overdosed)\b[^.!?\n]{0,40}\b(?:on purpose|deliberately|intentionally)\b",
            r"\b(?:went|go|drove|walked|got|climbed) (?:to|up to|onto|out to) (?:the|a) (?:bridge|roof|rooftop|cliff|cliffs|tracks|station|edge|river|building|car park)\b[^.!?\n]{0,30}\bto (?:jump|die|end it|kill myself|end my life)\b"),
    *_rules("suicide_attempt", "low", "other",
            r"\b(?:he|she|they|friend|brother|sister|mom|mum|dad|son|daughter|wife|husband|partner|boyfriend|girlfriend) (?:tried|attempted) (?:to kill (?:himself|herself|themselves)|suicide)\b"),
    # Preparation: high.
    *_rules("suicide_preparation", "high", "self",
            r"\b(?:suicide|goodbye|farewell) (?:note|letter|message|video)s?\b",
            r"\bgiv(?:e|en|ing) away (?:all )?(?:of )?my (?:stuff|things|belongings|possessions|pets?)\b",
            r"\b(?:stockpil|hoard|sav|collect)(?:e|ed|ing) (?:up )?(?:my |some |all )?(?:pain |sleeping |old |leftover )?(?:pills|meds|medication|tablets|painkillers)\b",
            rf"\b(?:stockpil(?:e|ed|ing)|hoard(?:ed|ing)?|sav(?:e|ed|ing) up) (?:my |some |all (?:of )?(?:my )?|the )?(?:\w+ )?{_EN_DRUG}\b",
            r"\b(?:letters?|notes?) (?:to|for) (?:my )?(?:family|parents|mum|mom|dad|kids|children|friends|everyone|wife|husband|partner|sister|brother)\b[^.!?\n]{0,30}\b(?:why i|goodbye|explaining|saying sorry)",
            r"\b(?:said|saying) (?:my )?(?:final |last )?goodbyes\b",
            r"\bi(?:'m| am) ready to (?:die|go|end it)\b",
            r"\b(?:getting|got|put|putting) my affairs in order\b",
            r"\bgoodbye (?:forever|world|cruel world|everyone forever)\b",
            r"\b(?:this|it) (?:is|will be|'s|'ll be) my (?:last|final) (?:message|post|goodbye|words|note|text)\b",
            r"\bby the time (?:you|anyone|someone) (?:read|reads|see|sees|find|finds) this\b",
            r"\b(?:won't|will not|wont) be (?:here|around|alive) (?:tomorrow|much longer|for much longer|for long|by morning|anymore|any more|by (?:then|\w+))\b",
            r"\b(?:won't|will not|not going to) be alive\b",
            r"\b(?:won't|will not|don't think i'll|do not think i will|don't think i will|not going to) (?:be needing|need) (?:it|them|this|these|that|those|any of (?:it|this|them|that)|my \w+)(?: \w+){0,2} (?:much longer|for much longer|for long|where i'm going|after (?:this|tonight|today))\b",
            r"\b(?:logging|signing) off (?:for good|forever)\b",
            r"\b(?:tie|tied|tying|practi[sc]\w* tying|learn(?:ed|ing|t)? (?:how )?to tie) (?:a|the) noose\b",
            r"\b(?:for when|in case|until) i(?:'m)? (?:decide|finally decide|ready|am ready|need|want) to (?:go|do it|die|end it|use (?:it|them))\b",
            rf"{_I} (?:just |already |finally )?(?:set|sorted|sorting|settled|settling|getting|got|put|putting) (?:all )?(?:my )?(?:affairs|things) in order\b",
            r"\b(?:bought|got|ordered|buying) (?:some |a bag of |the )?(?:charcoal|helium)\b(?! (?:for|to) (?:the )?(?:bbq|barbecue|grill|party|balloons))"),
    # Plan: a chosen method, research, or a question about lethality. High.
    *_rules("suicide_plan", "high", "self",
            r"\b(?:a|my|the) (?:suicide )?plan (?:to|for|of how to) (?:kill myself|end (?:it|my life)|die|take my (?:own )?life|do it)\b",
            rf"{_I} (?:\w+ )?(?:planned|worked out|figured out|decided|chosen|picked) (?:how|when|where|the (?:date|day|way|method)) (?:(?:to |i(?:'ll| will| would|'d) )(?:do it|kill myself|end it|die)\b|(?=\s*(?:[.,;!?\n]|$)))",
            r"\bi know (?:exactly )?how i(?:'d| would| will|'ll) do it\b",
            rf"\b(?:i(?:'m| am)? )?(?:going to|gonna|will|'ll|about to|want to|wanna|plan to|planning to) {_EN_METHOD}",
            r"\b(?:going to|gonna|about to|ready to) jump\b(?! (?:in|into|on|at|up|rope|start|ahead|ship|the gun|to conclusions)\b)",
            rf"\b(?:thinking|thought|think|thinking a lot|considering|considered) (?:about |of )?{_EN_METHOD}",
            r"\b(?:looked up|googled|researched|researching|searched|searching for) (?:how to (?:kill myself|die|overdose|hang myself)|ways to (?:die|kill myself)|suicide methods|lethal doses?)\b",
            r"\bhow (?:many|much) [^.?!\n]{0,40}(?:to (?:die|kill (?:myself|yourself|a person|someone|me)|overdose|be (?:fatal|lethal)|od)|would (?:kill|be (?:fatal|lethal)))",
            r"\b(?:lethal|fatal) (?:dose|amount|overdose)\b",
            r"\b(?:painless|quickest|fastest|easiest|best|surest|quick|quiet|peaceful|least painful|most effective) (?:way|ways|method|methods) (?:to|of) (?:die|dying|kill myself|killing myself|end (?:it|my life|things)|ending (?:it|things|my life)|commit(?:ting)? suicide|suicide|go)\b",
            r"\bhow (?:to|do i|can i|would i|should i|could i) (?:kill myself|commit suicide|end my life|end it all|die without pain|die painlessly)\b",
            r"\bhow long (?:does|would|will|did) it take to (?:die|bleed out|drown|suffocate)\b",
            rf"{_I} (?:just |already |finally |now )?(?:planned|worked out|figured out|decided on|chosen|chose|picked|set) (?:the|a|which|what) (?:date|day)(?=\s*(?:[.,;!?\n]|$|and\b|already\b))",
            rf"{_I} (?:just |already |finally |now )?(?:worked out|figured out|picked|chosen|chose|decided on|found) (?:which|what|the) (?:bridge|building|roof|rooftop|cliff|overpass|multi-storey|car park|tracks|railway|train line|tree|beam)\b",
            rf"\bi know (?:exactly )?(?:which|what|how many|how much) (?:\w+ )?(?:{_EN_DRUG}|bridge|building|dose|method)\b",
            r"\bi know (?:exactly )?(?:where|how|when) and (?:i know )?(?:exactly )?(?:where|how|when)\b",
            r"\b(?:when|what time) the (?:fast|express|non-stopping|freight) trains? (?:go|goes|come|comes|pass|passes|run|runs) (?:through|past|by)\b",
            r"\b(?:videos?|tutorials?|guides?|instructions) (?:on|about|for|showing) how to (?:tie a noose|kill (?:myself|yourself)|hang (?:myself|yourself)|overdose|die)\b",
            r"\b(?:so|that) (?:it|it'll|it will|it would|it'd) (?:looks?|seems?|look|seem) like an accident\b|\bmake it (?:look|seem) like an accident\b",
            r"\b(?:thought|think|thinking|worked out|figured out) (?:about |of )?(?:exactly )?how i(?:'d| would|'ll| will| could| might) (?:do it|kill myself|end it|die)\b",
            r"\bwhere i(?:'d| would|'ll| will| could| am going to|'m going to) (?:jump|do it|hang myself|go over|step off)\b"),
    # Questions about lethality: high even "hypothetically" or "for a friend".
    *_rules("suicide_plan", "high", "self",
            rf"\bhow (?:many|much) (?:of )?(?:my |the |your |their |those |these )?(?:\w+ ){{0,2}}{_EN_DRUG}\b[^.?!\n]{{0,50}}(?:\bdie\b|\bdying\b|\bkill|fatal|lethal|overdose|\bod\b|wreck|destroy|shut down|for good|permanent|never wake|stop (?:my|your|the|a) heart)",
            firm=True),
    # The same, anchored on the question; a medicine must be named in the sentence.
    *_rules("suicide_plan", "high", "self",
            r"\b(?:would|will|could|does|is|do)(?: it| that| this| they| that many| that much)? (?:be )?(?:painless|fatal|lethal|enough to (?:kill|die|end it)|kill (?:you|me|someone|somebody|them|a person|him|her)|do it|do the job|be enough)\b",
            r"\b(?:would|will|could|do|does|can) (?:you|i|someone|a person|they|he|she) (?:die|not wake up|never wake up)\b",
            r"\bshuts? (?:down )?(?:your|my|the|a person's) (?:liver|kidneys|heart)\b",
            firm=True, needs=rf"\b{_EN_DRUG}\b|\bwhole (?:bottle|packet|box)\b|\ball of them\b|\bthe lot\b"),
    *_rules("suicide_plan", "high", "self",
            r"\b(?:researched|looked up|googled|found out|worked out|calculated|know) (?:the )?(?:exact |lethal |right |fatal )?(?:dose|amount|number)\b[^.!?\n]{0,40}\b(?:would do it|to die|to kill|fatal|lethal|do the job|would be enough)\b",
            r"\bis (?:dying|drowning|hanging|jumping|overdosing|an overdose|bleeding out) (?:painless|quick|instant|peaceful)\b",
            r"\b(?:how many|what) (?:floors|storeys|stories|metres|meters|feet) (?:would|do|does|to)\b[^.?!\n]{0,30}\b(?:kill|die|fatal|survive)",
            r"\b(?:looked up|look up|looking up|googled|googling|researched|researching|searched|searching|read up on|reading up on) (?:which|what|how many|how much|how long|how fast)\b[^.!?\n]{0,50}(?:\bdie\b|\bkill|fatal|lethal|overdose|shuts? (?:\w+ ){0,2}down|liver|painless)",
            r"\b(?:jumping|a jump|falling|a fall|jump|fall) (?:off|from|out of) [^.?!\n]{0,40}\b(?:kill (?:you|me|someone|a person)|be fatal|be lethal|enough to (?:die|kill)|survivable|survive)\b",
            r"\b(?:what|which) (?:height|floor|storey|dose|amount)\b[^.?!\n]{0,50}\b(?:die|kill|fatal|lethal)\b",
            r"\bhow (?:high|far|tall|deep|many floors|many storeys|long)\b[^.?!\n]{0,50}\b(?:to (?:make sure|be sure|guarantee) (?:you|i|someone|a person) (?:die|dies|don't survive)|kill (?:you|me|someone|a person)|to be fatal|be lethal|to die)\b",
            firm=True),
    # Stated intent is more than ideation (C-SSRS item 4): high, category active ideation.
    *_rules("active_suicidal_ideation", "high", "self",
            rf"{_I} {_ADV}(?:going to|gonna|about to|will|'ll|decided to|have decided to|'ve decided to) {_ADV}(?:kill myself|end (?:my life|it all)|take my (?:own )?life|commit suicide|die by suicide)\b",
            r"\bi(?:'ve| have) decided to (?:die|end it)\b",
            rf"{_I} {_ADV}(?:going to|gonna|about to|will|'ll) {_ADV}end it\b(?! (?:with|between|for|off|early|here|there|now with)\b)",
            r"\b(?:haven't|have not|havent|not) (?:jumped|done it|killed myself|ended it|gone through with it|taken them|pulled the trigger) yet\b",
            r"\bvoices? (?:\w+ ){0,3}(?:telling|tell|told|tells|say|saying|says) me to (?:kill myself|die|jump|end it|hurt myself|cut myself)\b",
            r"\b(?:when|once|after) (?:she|he|they|my \w+|it) (?:goes|dies|is gone|passes(?: away)?)\b[^.!?\n]{0,10}\bso (?:do|will) i\b"),
    # Active ideation: moderate.
    *_rules("active_suicidal_ideation", "moderate", "any",
            r"\b(?:want|wants|wanted|wanna|wish|wishing|need|needs) to (?:kill (?:myself|yourself|himself|herself|themselves)|end (?:my|his|her|their) life|end it all|take (?:my|his|her|their) (?:own )?life|commit suicide|die)\b",
            r"\b(?:thinking|thought|thinks|think|thinking a lot|considering|considered|contemplating|contemplated) (?:about |of )?(?:suicide|killing myself|ending my life|ending it all|taking my (?:own )?life|dying)\b",
            r"\bsuicidal (?:thoughts|feelings|urges|ideation|ideas)\b",
            r"\bthoughts (?:of|about) (?:suicide|killing myself|ending my life|ending it all|dying)\b",
            rf"\b(?:feel|feels|feeling|felt|been|am|'m|is|are|'re|was|were|get|getting|got) {_ADV}(?:very |so |pretty |a bit |a little |quite )?suicidal\b"),
    *_rules("active_suicidal_ideation", "moderate", "self",
            r"\bkill(?:ed|ing|s)? myself\b",
            r"\b(?:end(?:ing)?|take|taking) my (?:own )?life\b",
            r"\bend(?:ing)? it all\b",
            r"\bi (?:should|could|might as well) (?:just )?(?:die|kill myself)\b",
            r"\b(?:urge|urges|impulse|impulses) to (?:kill myself|die|end it)\b",
            r"\b(?:want|wanna|wanted|need) to end it\b(?! (?:with|between|for|off)\b)",
            r"\bend(?:ing)? things\b(?! (?:with|between|off|on)\b)",
            r"\b(?:saying|says|telling me|tells me|tell me|voice|voices)\b[^.!?\n]{0,20}\bjust end it\b",
            r"\bsuicide (?:might|may|could|would|is|seems|feels like) (?:be )?(?:the )?(?:only|best|easiest|one|last) (?:way|option|answer|solution|choice|way out)\b"),
    *_rules("asking_about_suicide", "low", "other",
            r"\bkill(?:s|ed|ing)? (?:himself|herself|themselves|yourself)\b",
            r"\b(?:he|she|they|you) (?:is|are|was|were|'s|'re|seems?) (?:feeling )?suicidal\b",
            r"\bcommitted suicide\b"),
    # Passive ideation: low.
    *_rules("passive_suicidal_ideation", "low", "self",
            r"\bwish(?:ing|ed|es)? (?:i|i'd) (?:could |would |had )?(?:just )?(?:disappear|vanish|go to sleep forever|not wake up|never wake up|wouldn't wake up|didn't wake up|won't wake up|die|be dead|was dead|were dead|had never been born|never been born|was never born|wasn't born|weren't born|sleep forever|didn't exist|wasn't here|wasn't alive|not exist|stop existing|cease to exist|fall asleep and never wake up)\b",
            r"\bwhat(?:'s| is)?(?: even| really| honestly)?(?: is)? the (?:point|use) (?:of|in) (?:living|life|being alive|going on|existing|me being here|my life|even trying to live)\b",
            r"\bno (?:reason|point) (?:to|in) (?:live|living|go on|going on|be alive|being alive|keep living|exist|existing)\b",
            r"\b(?:don't|do not|dont) (?:really |even )?want to (?:live|be alive|exist|be here anymore|wake up|go on|keep living)\b",
            r"\bnot sure (?:i|if i) want to (?:live|be alive|go on|keep living)\b",
            r"\b(?:tired|sick) of (?:living|life|being alive|existing)\b",
            r"\b(?:better off|be better) (?:dead|without me)\b",
            r"\b(?:can't|cannot|can not|cant) (?:go on|keep going|carry on|keep) (?:living|anymore)\b",
            r"\blife (?:isn't|is not|ain't|isnt) worth living\b",
            r"\bnot worth living\b",
            r"\bhate being alive\b",
            r"\b(?:don't|do not|dont) (?:really |even )?care (?:if|whether) i (?:die|live|wake up|don't wake up)\b",
            r"\b(?:think|thinking|thought) about (?:death|dying) (?:all the time|a lot|constantly|every day|so much|more and more)\b",
            r"\b(?:disappointed|upset|annoyed|sad|angry|gutted) (?:that )?(?:i'm|i am|i was) still (?:here|alive)\b|\b(?:disappointed|upset|gutted) (?:to wake up|that i woke up|i woke up)\b",
            r"\bif i (?:got|get|was|were) (?:hit|run over) by a (?:bus|car|truck|train|lorry)\b[^.!?\n]{0,30}\b(?:wouldn't|would not) (?:mind|care)\b|\b(?:wouldn't|would not) (?:mind|care) if i (?:got|get|was|were) (?:hit|run over)\b",
            r"\bhope i (?:don't|never|do not) wake up\b",
            r"\bwant to (?:just )?(?:disappear|vanish|sleep forever|stop existing|not exist|not be here)\b",
            r"\b(?:go|fall) (?:to sleep|asleep) and (?:never|not) wake up\b",
            r"\b(?:nobody|no one|noone) would (?:care|notice|miss me) if i (?:died|was gone|were gone|disappeared|wasn't here|weren't here)\b",
            r"\bwish (?:it|everything) would (?:all )?(?:end|stop)\b",
            r"\bwant (?:it|everything|this) (?:all )?to be over\b",
            r"\b(?:i'd|i would) be (?:fine|okay|ok|happy|relieved|glad) if i (?:didn't|did not|never|don't|wouldn't) wake up\b",
            r"\bfantasi[sz](?:e|es|ed|ing) about (?:just )?(?:not existing|dying|being dead|disappearing|not waking up)\b",
            r"\b(?:i would|i'd|id) rather (?:be dead|not exist|not be alive|die)\b",
            r"\bwish i (?:was|were) dead\b",
            r"\bhop(?:e|ing) i (?:won't|don't|never|wouldn't|do not|will not) wake up\b",
            r"\b(?:wouldn't|would not|wouldnt) mind (?:not waking up|never waking up|dying|if i died|being dead|not being here|not existing|not being alive)\b",
            r"\b(?:don't|doesn't|can't|do not|does not) see (?:the|a|any) point (?:anymore|any more|in (?:living|going on|life|being alive|anything)|of (?:living|life|being alive))\b",
            r"\b(?:living|life|being alive|existing) (?:feels|is|seems) (?:like )?(?:a chore|pointless|meaningless|unbearable|not worth it|an obligation)\b"),
    # Self-harm.
    *_rules("self_harm_intent", "high", "self",
            r"\b(?:want|wanna|urge|urges|tempted|going|need|needs|itching|craving) to (?:cut|hurt|harm|burn|punish|scratch|hit|punch|starve) myself\b",
            r"\b(?:want|wanna|urge|urges|tempted|going) to (?:cut|self[- ]?harm)(?: again| deep| deeper)?\b",
            r"\b(?:thinking|thought|think) (?:about|of) (?:cutting|hurting|harming|burning) myself\b",
            r"\burges? to (?:cut|self[- ]?harm|hurt myself)\b"),
    *_rules("self_harm_behavior", "moderate", "self",
            r"\bi (?:\w+ )?(?:cut|burn|burned|burnt|hurt|harm|harmed|hit|scratch|scratched|punch|punched|starve|starved) myself\b",
            r"\bi(?:'ve| have)? (?:been |started |keep |kept )(?:cutting|burning|hurting|harming|scratching|self[- ]?harming)(?: myself| again)?\b",
            r"\bi self[- ]?harm(?:ed)?\b",
            r"\bcut(?:ting)? (?:my|into my) (?:arms?|wrists?|legs?|thighs?|skin|stomach)\b",
            r"\bmy (?:cuts|self[- ]?harm scars|scars from cutting)\b",
            r"\bi (?:\w+ )?cut (?:again|a lot|deep|deeper|every (?:day|night)|myself)\b|\bi used to cut\b",
            r"\bscars on my (?:arms?|wrists?|thighs?|legs?|stomach)\b",
            r"\b(?:scratch|scratched|scratching|scrape|scraped|scraping) my (?:wrists?|arms?|thighs?|legs?|skin)\b",
            r"\b(?:cutting|burning|hurting|harming|scratching|hitting|punching|starving) myself\b",
            r"\b(?:already |just )?started cutting\b(?! (?:the|a|my hair|back|down|out|costs|ties|corners)\b)",
            r"\b(?:skipp(?:ing|ed)|skip|starv(?:ing|ed)) (?:meals|food|eating|myself)\b[^.!?\n]{0,30}\b(?:on purpose|as (?:a )?punishment|to punish)\b",
            r"\b(?:don't|do not|didn't) deserve to eat\b",
            r"\b(?:with|using) (?:a|my|the) (?:blade|razor|razor blade|compass|lighter|knife)\b[^.!?\n]{0,30}\b(?:until|till|til) (?:it|they|i) (?:bleeds?|bled)\b",
            r"\b(?:punch|punched|punching|hit|hitting|bang|banged|banging) (?:the |a )?(?:wall|walls|door|mirror|my head)\b[^.!?\n]{0,30}\b(?:until|till|til) (?:my )?(?:knuckles|hands?|fists?|head|it) (?:bled|bleed|were bleeding|was bleeding|broke|split)"),
    *_rules("asking_about_suicide", "low", "mention",
            r"\bsuicid(?:e|es|al|ality)\b",
            r"\b(?:read|reads|sounded|sounds|looked|looks|seemed|seems) like (?:a )?(?:goodbye|suicide note|farewell|cry for help)\b",
            r"\bself[- ]?harm(?:ing)?\b",
            r"\bkill(?:ing)? (?:oneself|themself)\b"),
    # Aggression.
    *_rules("aggression_to_others", "high", "self",
            rf"\bi(?:'m| am|'ll| will)? {_ADV}(?:want|wanna|going|gonna|plan|planning|intend|about) (?:to )?(?:kill|hurt|stab|shoot|murder|strangle|beat up|attack|poison|choke) (?:him|her|them|you|someone|somebody|people|everyone|everybody|all of (?:them|you)|my \w+|the \w+|that \w+|those \w+)\b",
            r"\bi(?:'ll| will) (?:kill|murder|stab|shoot|hurt) (?:you|him|her|them)\b",
            r"\bshoot up (?:the|my|a) (?:school|office|workplace|class|mall)\b",
            r"\b(?:going to|gonna|will|'ll|want to|wanna) (?:beat|kick|stab|strangle) (?:him|her|them|that \w+|the \w+|my \w+) to death\b",
            r"\b(?:thought|think|thinking|worked out|figured out|planned|planning) (?:about |of )?(?:exactly )?how (?:i'd|i would|i could|i'll|i will|i might|to) (?:kill|hurt|stab|shoot|murder|strangle|beat up|attack|poison|get back at)\b",
            r"\b(?:going to|gonna|will|'ll) (?:bring|take) (?:something|a (?:knife|gun|weapon|bat|hammer)|my (?:knife|gun)) (?:to|into) (?:work|school|the office|class|his|her|their)\b",
            r"\b(?:going to|gonna|will|'ll) make (?:him|her|them|you|that \w+|the \w+) (?:pay|suffer)\b(?! (?:for|back|the|a|rent|me)\b)",
            r"\b(?:going to|gonna|will|'ll) make sure (?:he|she|they|that \w+|the \w+|my \w+) (?:never|can't|won't) (?:\w+ ){0,3}(?:again|anyone|anybody)\b",
            r"\bvoices? (?:\w+ ){0,3}(?:telling|tell|told|tells|say|saying|says) me to (?:kill|hurt|stab|attack|harm|poison) (?:him|her|them|someone|somebody|people|my \w+|the \w+)\b"),
    *_rules("aggression_to_others", "moderate", "self",
            r"\bfantasi[sz](?:e|es|ed|ing) about (?:my \w+|him|her|them|the \w+|that \w+|\w+)(?:'s)? (?:\w+ ){0,2}(?:getting|being) (?:hit|killed|hurt|run over|stabbed|shot|beaten)\b",
            r"\b(?:thoughts|urges?|fantasies|fantasi[sz]e|fantasi[sz]ing|thinking|thought|think|dream(?:ing)?) (?:of|about|to) (?:killing|hurting|stabbing|shooting|murdering|strangling|kill|hurt|stab|shoot|murder) (?:him|her|them|someone|somebody|people|others|my \w+|the (?:man|guy|woman|person|people|boy|girl|kid) who|that (?:man|guy|woman|person))\b"),
    *_rules("aggression_to_others", "moderate", "self",
            r"\bi hope (?:he|she|they|you|it|my \w+) (?:dies|die|rots?|gets? (?:hit|killed))\b",
            r"\b(?:go|just go|just|should|please) (?:die|kill yourself|kill urself)\b",
            r"\bkys\b",
            r"\bdrop dead\b",
            r"\bwish (?:he|she|they|you|my \w+) (?:was|were) dead\b",
            r"\b(?:he|she|they|you) deserves? to die\b"),
    # Immediate danger from someone else (at the door with a weapon): imminent.
    *_rules("aggression_from_others", "imminent", "self",
            r"\b(?:at|outside|banging on|pounding on|breaking down|kicking in|trying to (?:get in|break in)(?: through)?|in) (?:my|the) (?:door|front door|house|flat|room|window)\b[^.!?\n]{0,40}\b(?:with|has|holding|got) (?:a|his|her|the) (?:knife|gun|hammer|weapon|bat|axe|machete)\b",
            r"\b(?:with|has|holding|got) (?:a|his|her|the) (?:knife|gun|hammer|weapon|bat|axe|machete)\b[^.!?\n]{0,40}\b(?:at|outside|banging on|pounding on|breaking down|kicking in) (?:my|the) (?:door|front door|window)\b",
            r"\b(?:is|'s|are|'re) (?:outside|downstairs|at the door|in the house|here|coming) with (?:a|his|her|the) (?:knife|gun|hammer|weapon|bat|axe|machete)\b",
            r"\b(?:he's|she's|they're|he is|she is|they are) (?:here|outside|downstairs|at the door|in the house|back)\b[^.!?\n]{0,30}\b(?:got|has|have|with|holding) (?:a|his|her|the) (?:knife|gun|hammer|weapon|axe|machete)\b",
            r"\b(?:broken|broke|kicked|kicking|breaking|smashed|smashing) (?:the|my) door (?:down|in)\b[^.!?\n]{0,60}\b(?:knife|gun|hammer|weapon|axe|machete)\b|\b(?:knife|gun|hammer|weapon|axe|machete)\b[^.!?\n]{0,60}\b(?:i'm|i am) hiding\b",
            r"(?:拿着|带着|提着)(?:刀|菜刀|斧头|枪|棍子|锤子){_NC}{0,10}(?:在|堵在)?(?:我)?(?:家)?(?:门口|门外|外面砸门|砸门|踹门)|(?:在|堵在)(?:我)?(?:家)?(?:门口|门外){_NC}{0,10}(?:拿着|带着|提着)(?:刀|菜刀|斧头|枪)".replace("{_NC}", _NC)),
    # Life-threatening violence against the speaker (strangulation, death threats): high.
    *_rules("aggression_from_others", "high", "self",
            r"\b(?:chokes|choked|choking|strangles|strangled|strangling) me\b",
            r"\b(?:put|puts|had|has|wrapped|wraps|got) (?:his|her|their|both) hands (?:round|around|on) my (?:neck|throat)\b",
            r"\bthreaten(?:s|ed|ing)? to kill me\b|\bdeath threats?\b",
            r"\b(?:said|says|saying|told me|threatened|threatens|swore|swears|screaming|shouting|yelling|screamed|shouted|yelled)\b[^.!?\n]{0,30}\b(?:he|she|they)(?:'d| would| will|'ll|'s going to| is going to| is gonna|'s gonna) kill (?:me|us|us both|us all|my (?:kids|children|baby|mum|mom))\b",
            r"\bnext time (?:he|she|they) (?:won't|will not|wont) stop\b",
            r"\b(?:grabbed|grabs|held|holds|pinned|pins|squeezed|squeezes) me (?:up )?by the (?:throat|neck)\b|\b(?:finish|finishes) me off\b",
            r"\b(?:showed|sent|texted|shows|sends|pulled) me (?:a (?:photo|picture|pic) of )?(?:his|her|their|a) (?:gun|knife|weapon)\b|\bpulled a (?:gun|knife) on me\b"),
    *_rules("aggression_from_others", "moderate", "self",
            r"\b(?:he|she|they|someone|somebody|people|kids|my (?:partner|husband|wife|boyfriend|girlfriend|dad|father|mom|mum|mother|step-?dad|step-?father|step-?mom|step-?mum|step-?mother|brother|sister|boss|ex|uncle|teacher|coach|parents|flatmate|roommate|housemate|neighbou?r|manager|landlord|colleague|coworker|classmates?)) (?:\w+ )?(?:hits|hit|beats|beat|punches|punched|kicks|kicked|slaps|slapped|shoves|shoved|pushes|pushed|pins|pinned|drags|dragged|shakes|shook|abuses|abused|rapes|raped|molests|molested|assaults|assaulted|threatens|threatened|hurts|burns|burned|touches|touched) me\b",
            r"\b(?:shoves|shoved|pushes|pushed|throws|threw) me (?:around|against|into|down)\b|\b(?:throws|threw|throwing) (?:things|stuff|a \w+|the \w+|plates|bottles) at me\b",
            r"\bthreaten(?:s|ed|ing)? to (?:hurt|beat|stab|shoot) me\b",
            r"\b(?:he|she|they)(?:'ll| will|'d| would)? (?:\w+ )?(?:make|making) me (?:regret|pay|suffer|sorry)\b",
            r"\b(?:keeps?|kept) (?:turning up|showing up|following me|waiting for me|watching me)\b",
            r"\b(?:i am|i'm|i was|i've been|i have been|keep getting|being) (?:being )?(?:abused|beaten|beaten up|raped|molested|assaulted|bullied|threatened|stalked|trafficked|sexually abused)\b",
            r"\bstalk(?:s|ed|ing)? me\b"),
    # Verbal and emotional abuse, including being told to die: low.
    *_rules("aggression_from_others", "low", "self",
            r"\b(?:told|tells|telling) me to (?:go )?(?:kill myself|die|drop dead)\b",
            r"\b(?:humiliates|humiliated|humiliating|belittles|belittled|insults|insulted|screams at|yells at|swears at) me\b",
            r"\bcalls? me (?:names|fat|stupid|worthless|useless|ugly|pathetic|a (?:failure|loser|burden))\b",
            r"\bthreaten(?:s|ed|ing)? to make my life (?:hell|miserable)\b"),
]

ZH_RULES: list[Rule] = [
    # Attempt in progress: imminent.
    *_rules("suicide_attempt", "imminent", "self",
            rf"(?:刚|刚刚|刚才|已经)(?:吃|吞|服|喝)(?:了|下|掉)(?:一整瓶|整瓶|一瓶|一大把|一把|全部|所有的?|好多|很多|大量|\d{{2,}}|几十|[二三四五六七八九两几]十){_NC}{{0,6}}(?:药|片|颗|粒)",
            r"(?:刚|刚刚|刚才|已经)(?:吃|吞|服|喝)(?:了|下)(?:半瓶|一瓶|一整瓶|整瓶|一口|一大口|一些|好多|很多|一大把|一把)?(?:农药|百草枯|老鼠药|敌敌畏|毒药|安眠药)",
            r"(?:刚|刚刚|刚才|已经)(?:割|划)(?:了|开|破)?(?:了)?(?:手腕|腕|动脉|脉)",
            r"血(?:一直|还在|不停地?|止不住地?)(?:在)?(?:流|往外冒|冒)|血止不住|止不住血",
            r"绳子?(?:已经)?(?:套在|在)(?:我的?)?脖子上",
            r"(?:药|安眠药|农药|毒药|整瓶药)(?:都|全)?(?:已经|刚|刚刚|刚才)(?:都|全)?(?:吃|吞|喝|服)(?:下去|完|光|掉)?了",
            r"(?:刚|刚刚|刚才|已经)把(?:一整盒|一整瓶|一整板|一盒|一瓶|整盒|整瓶|所有的?|全部|剩下的|家里的)?(?:药|安眠药|药片)(?:都|全)?(?:吃|吞)(?:了|掉|下去|光)"),
    *_rules("suicide_preparation", "imminent", "self",
            r"(?:站|坐|蹲|趴)在(?:了)?(?:楼顶|天台|窗台|窗户|窗|桥|阳台|楼|顶楼|屋顶)(?:的)?(?:边|边上|边缘|栏杆|护栏|外面|外边)",
            r"(?:躺|站|坐)在(?:了)?(?:铁轨|轨道)上",
            rf"(?:站|坐|蹲)在{_NC}{{0,6}}(?:窗台|栏杆|护栏|窗户)上",
            r"绳子?(?:已经|都)?(?:挂|系|绑|套|打)好",
            r"(?:炭|木炭)(?:已经|都|也)?(?:点|烧)(?:上|着|起来)?了(?![，,]?(?:可以)?(?:烤|吃))|点(?:上|着)了?(?:炭|木炭)|(?:炭|木炭)(?:已经|正在)(?:点|烧)(?:上|着|起来)?(?!烤)",
            r"(?:煤气|燃气)(?:已经|都)?(?:打开|开)了",
            r"(?:药|安眠药)(?:都|已经)*(?:摆|倒|数)好了",
            now=True),
    # Recent attempt: high.
    *_rules("suicide_attempt", "high", "any",
            r"自杀未遂|自杀过|自杀了?[一二三两几\d]次|有过自杀(?:行为|经历)",
            r"(?:试|尝试)(?:过|着|了)?(?:去)?(?:自杀|去死|结束(?:自己的?)?生命)",
            r"没死成|没死掉|死了?[一二三两几\d]次(?:都)?没死",
            r"被(?:送(?:到|去|进)?医院)?抢救|洗胃",
            r"差(?:一)?点(?:就)?(?:死了|杀死自己|杀了自己|自杀|跳(?:下去|楼|河|海)|割腕|冲下去|开下去|撞上去)",
            rf"(?:吃|吞|服)(?:了)?(?:很多|好多|一瓶|一把|大量|一整瓶|\d+){_NC}{{0,6}}(?:自杀|想死|去死)",
            r"(?:吃|吞|服)药自杀",
            rf"(?:吃|吞|服|喝)了{_NC}{{0,10}}(?:药|片|颗|粒|农药){_NC}{{0,4}}[，,]?(?:会不会死|会死吗|能死吗|会死么|会不会有事)",
            r"(?:吃|吞|服|喝)(?:了|下|掉|过)(?:一整|整|一|几|好几|大半|一大|半)(?:瓶|板|盒|把|袋|堆)(?:的)?(?:安眠药|药片|药|农药|止痛药)",
            r"吞(?:过|了)(?:一?(?:大)?(?:把|瓶|板|盒))?(?:安眠)?药",
            rf"{_ZH_METHOD}{_NC}{{0,12}}[，,]?{_NC}{{0,12}}(?:送(?:去|到|进)?(?:医院|急诊)|缝了?(?:\d+|几|好几|十几)?针|抢救|洗胃)",
            rf"(?:上周|前天|昨天|昨晚|前几天|上个?月|上个?星期|(?:天|周|个月|个星期|星期)(?:前|之前)){_NC}{{0,10}}(?:割腕|割脉|跳楼|跳河|跳江|上吊|烧炭|吞药|服毒|喝农药|吃安眠药|吞安眠药)",
            r"(?:药|安眠药|农药)(?:都|全)?(?:吃|吞|喝)(?:下去|完|光)了",
            rf"(?:天台|楼顶|顶楼|窗台|桥上|桥边|河边|江边|海边|轨道|铁轨|阳台|楼边){_NC}{{0,10}}被{_NC}{{0,6}}?(?:拉|拽|拖|抱|救|劝)(?:了)?(?:下来|回来|上来|住)"),
    # Preparation and final farewells: high.
    *_rules("suicide_preparation", "high", "any",
            r"准备(?:去|好)?(?:自杀|去死|结束(?:自己的?)?生命)",
            rf"(?:写|留|准备)(?:好|了|下)?(?:了)?(?:一封)?(?:遗书|遗言)|遗(?:书|言){_NC}{{0,4}}(?:写好|写完|写了|放在|留在|留给)",
            r"交代(?:好)?后事|(?:该|要)?交代的(?:事)?(?:都|也)?交代(?:了|好|完)",
            r"把(?:我的?)?(?:所有的?|全部的?)(?:东西|衣服|书|家当|积蓄)(?:都|全)?(?:送(?:人|给别人|掉)|分(?:给别人|掉))了?",
            r"(?:买|囤|备|准备|网购)(?:了|好)?(?:一些|几包|一包|两包|一袋)?(?:木)?炭(?!烧烤|烤|火锅|笔|画|盆|炉|黑)|(?:木)?炭(?:已经|都|也)?(?:买|准备|备|网购)好",
            r"(?:存款|积蓄|财产|遗产|宠物|猫|狗)(?:都|全)?(?:转|送|留|给|托付)(?:给)?了?(?:我)?(?:妹|弟|姐|哥|妈|爸|爸妈|父母|朋友|室友|家人|邻居|同事|同学)",
            rf"(?:攒|囤|存)(?:了|着)?{_NC}{{0,8}}(?:安眠药|药片|药)",
            rf"(?:买|准备)(?:好|了)?(?:了)?(?:绳子|安眠药|木炭|炭|农药|刀片){_NC}{{0,4}}(?:自杀|去死|结束)",
            r"(?:再见了?|永别了?|告别)(?:这个|这)?世界|永别了|下辈子(?:再)?见|来生再见",
            r"这是我(?:的)?最后(?:一条|一次|的)?(?:消息|留言|一句话|的话)"),
    # Plan: a named method, a decision, or a lethality question. High.
    *_rules("suicide_plan", "high", "any",
            rf"(?:想|要|打算|准备|计划|决定|想要|好想|想去|去|真想|就|就要)(?:去|来个|来一个|用)?{_ZH_METHOD}",
            rf"(?:从|在){_NC}{{0,8}}(?:楼顶|天台|楼上|桥上|顶楼|窗户|阳台|\d+楼|[一二三四五六七八九十几]+楼)(?:上)?跳下(?:去|来)?",
            rf"(?:打算|准备|计划|决定){_NC}{{1,10}}?{_ZH_METHOD}",
            rf"(?:查|搜|百度|上网查|搜索|研究)(?:了|过|一下)?{_NC}{{0,10}}(?:怎么死|死得|致死|自杀|会死|能死)",
            rf"(?:看|查|搜|找|学)(?:了|过)?{_NC}{{0,6}}(?:烧炭|自杀|上吊|割腕|跳楼|服毒)的?(?:教程|方法|攻略|视频|步骤)",
            rf"(?:哪种|什么|哪些|哪个)(?:药|方法|方式|办法|楼){_NC}{{0,8}}(?:会|能|才能|可以)(?:死|致死)",
            rf"(?:割|划|跳|吃|喝|吞|上吊|勒)(?:多深|多高|多少|几楼|多久|几层|几片|几颗|多少片|多少颗|多少粒){_NC}{{0,8}}?(?:才|就)?(?:会|能|可以)?(?:死|致死|没命|摔死|一觉不醒|醒不过来|不再醒来|肝衰竭|衰竭|出事)",
            rf"{_ZH_METHOD}(?:的?(?:想法|念头|冲动)|去死|自杀)",
            r"死法|(?:死|死去|死掉|自杀)(?:的|有)?(?:好|哪些|什么|快的|一种|好的)?(?:方法|方式|办法)|(?:快速|慢慢|彻底|无痛|不痛苦|没有痛苦|毫无痛苦|轻松|安静)(?:地|的)?(?:死|死亡|死掉|自杀)",
            rf"(?:怎么|怎样|如何)(?:样)?(?:才能|可以|能|让自己)?{_NC}{{0,6}}?(?:死掉|死亡|自杀|死)(?!的|了)",
            r"约(?:人)?(?:一起)?(?:死|自杀|烧炭)|一起(?:去)?(?:自杀|烧炭)",
            r"计(?:划|画)(?:自杀|死亡|去死|结束)",
            r"(?:计划|计画|想|安排|决定|选|定)好了?(?:自杀|去死|死)的?(?:时间|地点|方式|方法|日子)",
            r"(?:自杀|去死)的?(?:时间|地点|日子|方式|方法)(?:和|跟)?(?:时间|地点|日子)?(?:我)?(?:也|都|已经)*(?:定|想|选|计划|安排)好",
            r"(?:方法|死法|地点|怎么死)(?:我)?(?:也|都|已经)*(?:想好|选好|定好|挑好|找好|计划好|查好|查过|查了)",
            r"(?:想好|决定好|选好|定好)(?:了)?(?:怎么死|死法|自杀的?(?:时间|地点|方式|方法)|去死的?(?:时间|日子))",
            r"(?:什么|哪种|怎样的?|最好的?|无痛的?|不痛的?|没有痛苦的?|不痛苦的?|最轻松的?|轻松的?|快速的?|最快的?)(?:的)?(?:死法|自杀方式|自杀方法|方式(?:去)?死|方法(?:去)?死)",
            r"(?:怎么|怎样|如何)(?:才能)?(?:自杀|去死)|(?:怎么|怎样|如何)(?:才能)?死(?:才|会|得)?(?:不痛|快|没有痛苦|比较快|舒服|彻底|干净)",
            rf"致死量|(?:多少|几)(?:片|颗|粒|克|毫克|mg|瓶){_NC}{{0,6}}(?:会|能|可以)?(?:致死|死)",
            r"死得(?:快|透|彻底|干脆|干净)|(?:会|能)死(?:得)?(?:透|彻底)|多久(?:会|能|才)?死",
            rf"{_ZH_MEANS_WORD}{_NC}{{0,12}}(?:会|能|可以)(?:不会|不能)?(?:瞬间|直接|马上)?(?:死|死亡|致死)(?:吗|么|嘛|吧|呢|掉吗)"),
    # Stated intent: high.
    *_rules("active_suicidal_ideation", "high", "any",
            r"(?:我要|我决定|决定|我打算|打算)(?:去)?(?:自杀|去死|结束(?:自己的?|我的)?生命|了结自己)",
            rf"(?:我决定|决定|我打算|打算|计划|准备)(?:好)?了?{_NC}{{1,8}}?(?:去)?(?:自杀|去死|结束(?:自己的?|我的)?生命|了结自己)",
            r"(?:迟早|早晚|总有一天|终究)(?:我)?(?:会|要|得)(?:去)?(?:自杀|去死|结束自己|了结自己|结束(?:自己的?|我的)?生命)",
            r"(?:就|我要|我会|就要|那就)去(?:死|自杀)(?!吧)",
            r"(?:就|要|会)(?:去)?把(?:我)?自己(?:了结|结束|杀|弄死)(?:了|掉)?"),
    # Active ideation: moderate.
    *_rules("active_suicidal_ideation", "moderate", "any",
            r"想(?:要)?(?:去)?死",
            r"想(?:要)?(?:去)?(?:自杀|自尽|轻生|寻死|求死)",
            r"想(?:要)?(?:去)?(?:结束|了结|终结)(?:掉)?(?:自己的?|我的)?(?:生命|性命|一生|自己)",
            r"(?:想|要)(?:离开|告别)(?:这个)?世界",
            r"自杀的?(?:念头|想法|冲动|倾向|意念|欲望)|轻生的?(?:念头|想法|倾向)",
            r"有(?:过)?(?:轻生|自杀)(?:的)?(?:念头|想法|倾向|冲动)?",
            r"想(?:过|到|着|起)(?:要)?(?:去)?(?:自杀|去死|死|轻生)",
            r"选择(?:了)?(?:自杀|死亡|去死|轻生)|不敢(?:去)?(?:自杀|死|去死)",
            r"(?:杀死|杀了|弄死|了结|结束掉?)(?:我)?自己",
            r"去死|求死|寻死",
            r"不(?:想|要)(?:再)?活(?![着得])|一了百了|一死了之",
            r"(?:想|想着|想过|在想)(?:要)?(?:怎么|怎样|如何)?(?:去)?(?:结束|了结)(?:掉)?(?:这一切|一切|这一生|这辈子)",
            r"(?:就|要|去|会)(?:去)?(?:自杀|自尽|轻生)"),
    # Passive ideation: low.
    *_rules("passive_suicidal_ideation", "low", "any",
            r"活着(?:真|好|太|也|都)?(?:没|没有)(?:什么)?(?:意思|意义|希望|盼头)|活着(?:有|还有)?什么(?:意思|意义|用)",
            r"不(?:想|要)(?:再)?这样活(?:了|下去|着)?(?!得)|不(?:想|要)(?:再)?活着(?!得)",
            r"活不下去|(?:不知道|不知)(?:该)?怎么(?:继续)?活下去",
            r"(?:找不到|没有)(?:活下去|活着)的(?:理由|意义|动力|勇气|信念)",
            r"不想(?:再)?醒(?:来|过来)|一(?:睡|觉)不醒|(?:睡着了?|睡过去)(?:就)?(?:不要|别|不|再也不)(?:再)?醒",
            r"(?:希望|宁愿|但愿|真希望)(?:我)?(?:自己)?(?:就这么|就这样|就)?(?:能|可以)?(?:从来)?(?:没有出生|没出生|没被生下来|消失|死掉|死了|不存在|不在了)",
            r"想(?:要)?消失(?!一(?:个|下|段|会|天|周|阵)|几天|两天|一天|(?:一个)?周末)|消失(?:就好|算了|掉就好)|(?:还)?不如(?:就)?(?:消失|不存在)",
            r"(?:要是|如果)(?:我)?(?:从来)?没(?:有)?(?:出生|被生下来)",
            r"死了(?:就)?(?:算了|解脱|好了)|死掉(?:就)?(?:好了|算了)|(?:还)?不如死(?:了|掉)?(?:算了)?",
            r"生无可恋|渴望死亡|向往死亡|死亡(?:是|很)?(?:一种)?(?:美好|美丽|解脱)",
            r"不想(?:再)?存在|活够了|宁(?:可|愿)(?:就|去)?死",
            r"死(?:了|掉|亡)?(?:才|就|会|也)?(?:能|可以)?(?:轻松|解脱|摆脱|不难受|不痛苦|好了)|只有(?:我)?死(?:了|掉)?(?:才|就)",
            r"死亡(?:比活着|真好|更好)|早死(?:好|算了|早超生)|我死了(?:是不是|会不会|就|他们|大家|世界|对)",
            r"活着(?:好|太|真|很)?(?:累|痛苦)",
            rf"(?:消失|死|不在)了?[，,]?{_NC}{{0,4}}(?:也)?没(?:有)?人(?:会)?(?:在意|在乎|发现|难过|伤心|想我)"),
    # Self-harm.
    *_rules("self_harm_intent", "high", "any",
            r"想(?:过|到|着)?(?:要)?(?:去)?(?:用|拿)?(?:刀|刀片|小刀|剪刀|烟头|打火机)?(?:自残|自伤|伤害自己|割(?:自己|手|腕|手腕)|划(?:自己|手|伤自己)|打自己|扇自己|伤自己|虐待自己|惩罚自己)",
            r"自残的?(?:冲动|念头|想法|欲望)|忍不住(?:想)?(?:自残|割|划)"),
    *_rules("self_harm_behavior", "moderate", "any",
            r"自残|自伤|自虐",
            r"(?:割|划)(?:伤|破)?(?:了|过)?(?:自己|手腕|手臂|胳膊|大腿|腕|手)|割腕|割手|划手",
            r"(?:扇|抽|掐|咬|烫|烧)(?:了)?自己(?:的)?(?:耳光|巴掌|脸|头|手)?|打自己(?:的)?(?:耳光|巴掌|头)",
            r"(?:用|拿)?头撞墙|伤害(?:了)?自己(?!或|和|及|与|的人)|烟头烫|割(?:下去|了一刀|了几刀)",
            r"(?:手臂|胳膊|手腕|大腿|腿)上(?:有)?(?:好多|很多|一道道|几道|一些)?(?:划痕|刀痕|伤痕|割痕|疤痕)",
            r"把(?:自己的?)?(?:手臂|胳膊|手|腿|皮肤|脸)(?:都)?(?:抓|挠|掐|咬)(?:破|烂|出血)",
            rf"(?:用拳头|拿拳头)?(?:砸|捶|打)墙[，,]?{_NC}{{0,6}}(?:手|拳头)(?:都)?(?:破|流血|出血|肿)"),
    *_rules("asking_about_suicide", "low", "mention",
            r"自杀|轻生|寻死|自尽|跳楼|安乐死|遗书"),
    # Aggression.
    *_rules("aggression_to_others", "high", "self",
            r"想(?:要)?(?:去)?(?:杀|砍|捅|弄死|打死|杀死|杀掉|掐死|毒死|报复)(?:了|死|掉)?(?:他|她|他们|她们|你|你们|人|所有人|全家|别人|全人类|人类|(?:我的?)?(?:老公|老婆|丈夫|妻子|领导|父母|爸|妈|同学|同事|老师|室友|老板|男朋友|女朋友|孩子))",
            rf"想(?:要)?把{_NC}{{1,10}}(?:杀|砍|剁|捅|掐|打|弄|毒|烧)(?:死|了|掉)",
            rf"(?:想|要|会)(?:要)?(?:去)?(?:拿|用)(?:刀|枪|斧头|锤子|菜刀){_NC}{{0,6}}(?:杀|砍|捅|剁|弄死|打死)",
            r"杀人的?(?:冲动|念头|想法|欲望)|报复社会|同归于尽",
            r"(?:拿|带|握)(?:着)?刀(?:去)?(?:找|砍|杀|捅)",
            r"杀了?(?:你|他|她|他们|你们)(?:全家)?",
            r"(?:捅|砍|弄|打|掐|毒|勒)死(?:你|他|她|他们|她们|你们)",
            rf"让(?:他|她|他们|她们|你|你们|那个{_NC}{{1,4}}?|这个{_NC}{{1,4}}?)(?:付出代价|血债血偿|偿命)"),
    *_rules("aggression_to_others", "moderate", "self",
            rf"幻想(?:着|过)?(?!自己|我){_NC}{{1,10}}?(?:死掉|死了|去死|出车祸|被车撞|被杀|杀掉|杀了|砍死|捅死|打死|弄死|掐死)"),
    *_rules("aggression_to_others", "moderate", "self",
            rf"(?:你|你们|他|她|他们|她们|全家){_NC}{{0,4}}(?:去死|死光|死绝|不得好死|死全家|都得死|快点死|早点死)",
            r"去死吧|死全家|不得好死",
            rf"(?:希望|恨不得|巴不得|想让|想|让|盼着|但愿)(?:他|她|他们|她们|你|你们|别人|所有人){_NC}{{0,4}}(?:去)?死"),
    *_rules("aggression_from_others", "moderate", "self",
            r"(?:打|揍|扇|踢|掐|虐待|家暴|性侵|猥亵|强奸|威胁|侵犯|性骚扰|霸凌|欺凌|殴打|暴打)(?:了|过)?我(?!电话|手机|的电话|的手机)",
            rf"被{_NC}{{0,4}}?(?:暴打|殴打|毒打|揍|虐待|家暴|性侵|猥亵|强奸|性骚扰|霸凌|欺凌|扇(?:了)?(?:一|几|两)?(?:个)?(?:耳光|巴掌|脸))",
            rf"被{_NC}{{0,4}}?打(?:了|伤|得|过)",
            r"(?:把我)?(?:往死里)?(?:打|砍|弄)(?:伤)我|往死里(?:打|骂)",
            r"让我好看|要我好看|给我(?:点)?颜色(?:看看|瞧瞧)|(?:堵|跟踪|尾随)我",
            r"以死相逼|(?:拿|用)(?:自己的)?(?:命|生命|死)(?:来)?(?:威胁|逼)",
            r"(?:拿|用)(?:东西|杯子|碗|盘子|椅子|皮带|衣架|棍子|鞋){_NC}{0,2}?(?:砸|打|扔|抽)我".replace("{_NC}", _NC)),
    *_rules("aggression_from_others", "high", "self",
            rf"说{_NC}{{0,8}}(?:杀了|杀死|砍死|打死|弄死|掐死)我",
            r"掐(?:住|着)?我(?:的)?脖子|(?:要|想|说要|威胁要?|扬言要?)(?:把我)?(?:杀|砍|打|弄|掐)(?:了|死)我|把我(?:往死里)?(?:打|砍|杀|掐|弄)死"),
    *_rules("aggression_from_others", "low", "self",
            r"(?:辱骂|谩骂|折磨|羞辱)我|语言暴力|冷暴力",
            r"骂我(?:是)?(?:个)?(?:废物|垃圾|猪|蠢货|贱人|没用|去死|白眼狼|累赘)",
            r"(?:让|叫|要|逼)我(?:去)?死|说我怎么不去死"),
]

# Online shorthand: zs is 自杀 (每天都在想zs).
ZH_RULES = [Rule(r.category, r.level, r.pattern.replace("自杀", "(?:自杀|zs)"), r.person, r.firm, r.now, r.needs) for r in ZH_RULES]

DEFAULT_RULES: tuple[Rule, ...] = (*EN_RULES, *ZH_RULES)
_DEFAULT_SET = frozenset(DEFAULT_RULES)


# --- Fast matching ----------------------------------------------------------------
# Python's regex engine skips quickly through text only to a pattern's literal first
# characters; a pattern opening with \b, an optional word or an alternation of
# differently-shaped branches is tried at every position instead, about a
# millisecond per 100k characters each. So each rule is cut into literal-led parts,
# and a message runs only the parts its words and characters allow (_Gate, _PartIndex).

_IS_CJK = re.compile(r"[\u4e00-\u9fff]")


def _split_alternatives(pattern: str) -> list[str]:
    """The top-level ``|`` alternatives of a pattern (groups and classes left whole)."""
    parts: list[str] = []
    depth, start, i, in_class = 0, 0, 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
            if pattern[i + 1:i + 2] == "]":  # a literal ] first in a class
                i += 1
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            parts.append(pattern[start:i])
            start = i + 1
        i += 1
    parts.append(pattern[start:])
    return parts


_WORD_START = re.compile(r"\\b(?![*+?{])")
# Texting drops apostrophes ("im", "dont", "whats"): in a pattern, the apostrophe of
# n't, 'm, 've and 's becomes optional. 'll, 're and 'd stay ("ill", "were", "id").
_APOSTROPHE = re.compile(r"(?<=[a-z|:])'(?=(?:t|m|ve|s)\b)")


def _loose_apostrophes(pattern: str) -> str:
    return _APOSTROPHE.sub("'?", pattern)
MAX_EXPANSIONS = 64


def _group_end(pattern: str, start: int) -> int:
    """Index just past the group opening at ``start``; -1 if unbalanced."""
    depth, i, in_class = 0, start, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return -1


def _expand_leading(pattern: str, budget: int = MAX_EXPANSIONS) -> list[str]:
    """Rewrite a pattern that opens with a group into patterns that open with literals.

    ``(?:a|b)?c`` becomes ``ac``, ``bc`` and ``c``: the same matches, but each can be
    found by the engine's fast literal search instead of a slow position-by-position one.
    """
    if not pattern.startswith("(?:"):
        return [pattern]
    end = _group_end(pattern, 0)
    if end < 0:
        return [pattern]
    body, rest = pattern[3:end - 1], pattern[end:]
    alternatives = _split_alternatives(body)
    if rest.startswith("??"):
        alternatives, rest = alternatives + [""], rest[2:]
    elif rest.startswith("?"):
        alternatives, rest = alternatives + [""], rest[1:]
    elif rest[:1] in ("*", "+", "{"):
        return [pattern]
    out: list[str] = []
    for alt in alternatives:
        out += _expand_leading(alt + rest, budget)
        if len(out) > budget or "" in out:
            return [pattern]  # too many, or a pattern that can match nothing
    return out


class _Part:
    """One alternative, compiled so the regex engine can skip ahead to its first characters.

    It is compiled the first time it runs: most parts never run on a given message (the
    gate skips them), and compiling all ~1,600 up front would cost a new process ~0.3 s.
    """

    __slots__ = ("pattern", "regex", "literals", "word_start", "cjk", "lead")

    def __init__(self, pattern: str, word_start: bool) -> None:
        self.pattern = pattern
        self.regex: re.Pattern[str] | None = None  # see compiled()
        self.literals: tuple[str, ...] | None = None  # see needed_literals()
        self.word_start = word_start
        self.cjk = _IS_CJK.search(pattern) is not None
        self.lead = _lead(pattern)

    def compiled(self) -> re.Pattern[str]:
        if self.regex is None:
            self.regex = re.compile(self.pattern)
        return self.regex

    def needed_literals(self) -> tuple[str, ...]:
        """Literals one of which every match contains (() if none is known), worked out on first use.

        The gate passes every part that opens with "i" for almost any English message;
        looking for "already " or "just " first is cheaper than running such a part.
        """
        if self.literals is None:
            # A part led by a longer word rarely passes the gate and is then quick to run anyway.
            needs = _required_literals(self.pattern, 1) if len(self.lead) < NEED_LEAD else []
            self.literals = tuple(sorted(needs[0])) if needs and len(needs[0]) <= MAX_NEED else ()
        return self.literals

    def may_match(self, text: str) -> bool:
        """False when ``text`` lacks every needed literal, so the part cannot match anywhere in it."""
        literals = self.literals if self.literals is not None else self.needed_literals()
        if not literals or len(text) > MAX_NEED_TEXT:
            return True
        for lit in literals:
            if lit in text:
                return True
        return False

    @classmethod
    def parts_of(cls, pattern: str) -> list["_Part"]:
        parts = []
        for alt in _split_alternatives(_loose_apostrophes(pattern)):
            # A leading \b hides the literal prefix the engine uses to skip through
            # text, so it is dropped here and checked by hand in finditer.
            word_start = _WORD_START.match(alt) is not None
            for expanded in _expand_leading(alt[2:] if word_start else alt):
                if expanded.startswith("'?"):
                    # A loosened apostrophe must not lead a part (no literal to skip to);
                    # after a word start the apostrophe-less form could not match anyway.
                    expanded = expanded[0] + expanded[2:]
                parts.append(cls(expanded, word_start))
        return parts

    def first(self, text: str, pos: int, endpos: int) -> tuple[int, int] | None:
        """The first span ``finditer`` yields, or None; without a generator in the common cases."""
        if not self.may_match(text):
            return None
        m = (self.regex or self.compiled()).search(text, pos, endpos)
        if m is None:
            return None
        start, end = m.span()
        if end > start and not (self.word_start and start > 0 and _is_word_char(text[start - 1]) == _is_word_char(text[start])):
            return start, end
        return next(self.finditer(text, pos, endpos), None)

    def finditer(self, text: str, pos: int, endpos: int) -> Iterator[tuple[int, int]]:
        search = (self.regex or self.compiled()).search
        while pos < endpos:
            m = search(text, pos, endpos)
            if m is None:
                return
            start, end = m.span()
            if self.word_start and start > 0 and _is_word_char(text[start - 1]) == _is_word_char(text[start]):
                pos = start + 1
                continue
            if end > start:
                yield start, end
            pos = end if end > start else start + 1


_LEAD = re.compile(r"[a-z0-9]+|[\u4e00-\u9fff]+")
MAX_LEAD = 12
# A part needing one of more literals than this is simply run: looking for them all costs more.
MAX_NEED = 8
# Nor in a long text: a literal ending in a space is slow to rule out among many spaces,
# slower than the part's own regex, which skips to the part's first letters.
MAX_NEED_TEXT = 2000
NEED_LEAD = 4  # only parts whose lead is shorter look for needed literals


def _lead(pattern: str) -> str:
    """The literal letters (or CJK characters) every match of ``pattern`` starts with; '' if none."""
    m = _LEAD.match(pattern)
    if not m:
        return ""
    lead = m.group()
    if pattern[m.end():m.end() + 1] in ("?", "*", "{"):
        lead = lead[:-1]  # "kills?": the s is optional
    return lead[:MAX_LEAD]


_WORD = re.compile(r"[a-z0-9]+")


class _Gate:
    """Which parts can match anywhere in one message, found without scanning for each part.

    A part whose match starts at a word start with letters ``lead`` needs a word in the
    text beginning with ``lead``; a Chinese part needs its first characters in the text;
    no part needs a script the text lacks. Scanning 100k characters costs tens of
    microseconds per part, so skipping the parts that cannot match keeps long messages fast.
    """

    def __init__(self, text: str) -> None:
        self.latin = _HAS_LATIN.search(text) is not None
        self.cjk = _IS_CJK.search(text) is not None
        words = set(_WORD.findall(text)) if self.latin else set()
        self.prefixes = {w[:k] for w in words for k in range(1, min(len(w), MAX_LEAD) + 1)}
        self.chars = set(text) if self.cjk else set()

    def allows(self, part: "_Part") -> bool:
        if part.cjk:
            return self.cjk and (not part.lead or all(ch in self.chars for ch in part.lead[:2]))
        if not self.latin:
            return False
        return not (part.lead and part.word_start) or part.lead in self.prefixes


class _PartIndex:
    """The parts of a list that ``_Gate.allows``, found by looking up the message's word
    prefixes and characters instead of asking about each part: a message has a few dozen
    prefixes, the rules ~1,600 parts, and asking each one cost most of a screen."""

    def __init__(self, parts: Iterable[_Part]) -> None:
        self.parts = list(parts)
        self.latin_always: list[int] = []  # parts the gate allows whenever there is Latin text
        self.latin_lead: dict[str, list[int]] = {}  # lead -> parts that need a word starting with it
        self.cjk_always: list[int] = []
        self.cjk_lead: dict[str, list[tuple[str, int]]] = {}  # first char -> (second char or '', part)
        for i, part in enumerate(self.parts):
            if part.cjk:
                if part.lead:
                    self.cjk_lead.setdefault(part.lead[0], []).append((part.lead[1:2], i))
                else:
                    self.cjk_always.append(i)
            elif part.lead and part.word_start:
                self.latin_lead.setdefault(part.lead, []).append(i)
            else:
                self.latin_always.append(i)
        self.latin_keys = frozenset(self.latin_lead)
        self.cjk_keys = frozenset(self.cjk_lead)

    def allowed(self, gate: _Gate) -> list[int]:
        """Indices, in order, of the parts ``gate.allows``."""
        out: list[int] = []
        if gate.latin:
            out += self.latin_always
            for lead in gate.prefixes & self.latin_keys:
                out += self.latin_lead[lead]
        if gate.cjk:
            out += self.cjk_always
            chars = gate.chars
            for ch in chars & self.cjk_keys:
                out += [i for second, i in self.cjk_lead[ch] if not second or second in chars]
        out.sort()
        return out


# --- Literal prefilter -------------------------------------------------------------
# What a pattern cannot match without: sets of literal strings, each set holding at least
# one substring of every match ("kill myself" or "end my life"). When a text has none of
# a set, the pattern cannot match it, so it need not run. Read from the parsed pattern;
# anything not understood (classes with categories, back-references, flags) needs nothing.

MAX_LITERAL_SET = 64


def _literal_score(options: frozenset[str]) -> tuple[int, int]:
    # Longer literals are rarer, but past five characters hardly more so; fewer are cheaper to look for.
    return min(5, *map(len, options)), -len(options)


def _seq_literals(items) -> tuple[frozenset[str] | None, list[frozenset[str]]]:
    """(every string a parsed sequence can match, if few; else None) and the literal sets it needs."""
    needs: list[frozenset[str]] = []
    run: set[str] = {""}  # the strings the items since the last unknown one can match, end to end
    exact = True
    for op, av in _joined_literals(items):
        if op is None:
            item_exact, item_needs = frozenset({av}), []
        else:
            item_exact, item_needs = _item_literals(op, av)
        needs += item_needs
        if item_exact is None:
            exact = False
            needs.append(frozenset(run))
            run = {""}
            continue
        joined = {a + b for a in run for b in item_exact}
        if len(joined) > MAX_LITERAL_SET:
            exact = False
            needs.append(frozenset(run))
            joined = set(item_exact)
        run = joined
    needs.append(frozenset(run))
    return (frozenset(run) if exact else None), [n for n in needs if n and "" not in n]


def _joined_literals(items) -> Iterator[tuple]:
    """The parsed items with each run of single characters joined into (None, "text")."""
    chars: list[str] = []
    for op, av in items:
        if op is _sre_parser.LITERAL:
            chars.append(chr(av))
            continue
        if chars:
            yield None, "".join(chars)
            chars = []
        yield op, av
    if chars:
        yield None, "".join(chars)


def _item_literals(op, av) -> tuple[frozenset[str] | None, list[frozenset[str]]]:
    p = _sre_parser
    if op is p.LITERAL:
        return frozenset({chr(av)}), []
    if op in (p.AT, p.ASSERT, p.ASSERT_NOT):
        return frozenset({""}), []  # zero-width: consumes nothing
    if op is p.IN:
        chars: set[str] = set()
        for kind, value in av:
            if kind is p.LITERAL:
                chars.add(chr(value))
            elif kind is p.RANGE and value[1] - value[0] < 16:
                chars.update(map(chr, range(value[0], value[1] + 1)))
            else:
                return None, []
        return (frozenset(chars) if chars else None), []
    if op is p.SUBPATTERN:
        _, add_flags, _, sub = av
        if add_flags & re.IGNORECASE:
            return None, []
        return _seq_literals(sub)
    if op is p.ATOMIC_GROUP:
        return _seq_literals(av)
    if op in (p.MAX_REPEAT, p.MIN_REPEAT, p.POSSESSIVE_REPEAT):
        low, high, sub = av
        sub_exact, sub_needs = _seq_literals(sub)
        if low == 0:
            return (sub_exact | {""} if sub_exact is not None and high == 1 else None), []
        if sub_exact is not None and "" not in sub_exact:
            sub_needs = [*sub_needs, sub_exact]
        return (sub_exact if low == high == 1 else None), sub_needs
    if op is p.BRANCH:
        infos = [_seq_literals(branch) for branch in av[1]]
        exacts = [e for e, _ in infos]
        exact = None
        if all(e is not None for e in exacts):
            exact = frozenset().union(*exacts)
            if len(exact) > MAX_LITERAL_SET:
                exact = None
        # Whichever branch matched, its own best set is met: the union of those is needed.
        if all(n for _, n in infos):
            union = frozenset().union(*(max(n, key=_literal_score) for _, n in infos))
            if len(union) <= 4 * MAX_LITERAL_SET:
                return exact, [union]
        return exact, []
    return None, []


@functools.lru_cache(maxsize=4096)
def _required_literals(pattern: str, limit: int = 3) -> list[frozenset[str]]:
    """Up to ``limit`` literal sets a match of ``pattern`` always contains one of, rarest first; [] if none known."""
    try:
        parsed = _sre_parser.parse(pattern)
        if parsed.state.flags & re.IGNORECASE:
            return []
        _, needs = _seq_literals(parsed)
    except Exception:  # pragma: no cover - an unknown construct needs nothing, so the pattern always runs
        return []
    return sorted({_shortest(n) for n in needs}, key=_literal_score, reverse=True)[:limit]


def _shortest(options: frozenset[str]) -> frozenset[str]:
    """``options`` without those containing another: "a lethal dose" is there whenever "lethal dose" is."""
    by_length = sorted(options, key=len)
    keep: list[str] = []
    for option in by_length:
        if not any(k in option for k in keep):
            keep.append(option)
    return frozenset(keep)


class _LiteralFinder:
    """Which of a fixed set of literals occur in a text, looking only at the likely ones.

    Each literal is filed under its rarest two characters (one if it is one character
    long); a text's own pairs of characters pick the few literals worth a substring test.
    """

    def __init__(self, literals: Iterable[str]) -> None:
        self.by_key: dict[str, list[str]] = {}
        for lit in sorted(set(literals)):
            key = lit if len(lit) < 2 else max((lit[i:i + 2] for i in range(len(lit) - 1)), key=_rarity)
            self.by_key.setdefault(key, []).append(lit)
        self.keys = frozenset(self.by_key)

    def present(self, text: str) -> set[str]:
        grams = set(text)
        grams.update(map(operator.add, text, text[1:]))
        by_key = self.by_key
        return {lit for key in self.keys.intersection(grams) for lit in by_key[key] if lit in text}


# English characters from most to least common; anything else (CJK, digits) counts as rare.
_COMMON_CHARS = {ch: i for i, ch in enumerate(" etaoinsrhldcumfpgwybv,.'kjxqz")}


def _rarity(pair: str) -> int:
    return sum(_COMMON_CHARS.get(ch, len(_COMMON_CHARS)) for ch in pair)


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


class _Finder:
    """Several patterns searched as one, each cut into literal-led parts."""

    def __init__(self, *patterns: str) -> None:
        self.parts = [part for p in patterns for part in _Part.parts_of(p)]

    @functools.cached_property
    def index(self) -> _PartIndex:
        return _PartIndex(self.parts)

    def finditer(self, text: str, pos: int = 0, endpos: int | None = None, *, limit: int | None = None,
                 gate: "_Gate | None" = None) -> Iterator[tuple[int, int]]:
        """Spans matched by any part (in part order, not text order); ``limit`` per part; ``gate`` (of ``text``) skips parts that cannot match."""
        endpos = len(text) if endpos is None else endpos
        parts = self.parts if gate is None else [self.parts[i] for i in self.index.allowed(gate)]
        for part in parts:
            if part.may_match(text):
                yield from islice(part.finditer(text, pos, endpos), limit)

    def search(self, text: str, pos: int = 0, endpos: int | None = None, *, gate: "_Gate | None" = None) -> tuple[int, int] | None:
        """The earliest span matched by any part, or None; ``gate`` (of ``text``) skips parts that cannot match."""
        endpos = len(text) if endpos is None else endpos
        best = None
        parts = self.parts if gate is None else [self.parts[i] for i in self.index.allowed(gate)]
        for part in parts:
            span = part.first(text, pos, endpos)
            if span is not None and (best is None or span < best):
                best = span
        return best


# --- Context cues -----------------------------------------------------------------


def _cx(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{_loose_apostrophes(p)})" for p in patterns))


# Negators that govern a phrase right after them. Phrases that contain a negator
# but do not negate the risk ("can't stop", 忍不住) are removed first.
_EN_NEGATION = _cx(r"\b(?:not|never|no|nor|without|neither|don't|dont|doesn't|didn't|won't|wont|wouldn't|isn't|aren't|wasn't|haven't|hasn't|hadn't|cannot|can't|shouldn't|no longer)\b")
_EN_NOT_NEGATION = _cx(r"\b(?:can't|cannot|can not|couldn't|won't|don't|not|never) (?:stop|help)\b", r"\b(?:don't|do not|not) (?:know|sure|think)\b",
                       r"\bno one\b", r"\bnot (?:ok|okay|fine|well|good|doing well)\b")
_ZH_NEGATION = _cx(r"不会|不想|不要|不是|不再|不打算|不可能|没有(?!人)|从未|从不|从来|绝不|决不|绝对不|永远不|不曾|未曾|无意|不愿|并非|并不")
_ZH_NEGATION_ADJACENT = re.compile(r"(?:不|没|(?<![特区分级告性类派识辨差个离送道])别)$")
_ZH_NOT_NEGATION = _cx(r"忍不住|止不住|控制不住|受不了|撑不住|停不下来|忍不了|不得不|不由得|不知道|不由自主|不自觉|离不开|不了|不敢|不舍得|不甘心|"
                       r"不行|不下去|不如|要不|有没有|是不是|会不会|能不能|要不要|想不想|可不可以|敢不敢|该不该")  # A-not-A questions ask, they do not deny
# Words that end the scope of a negation ("I don't know why I want to die").
_SCOPE_BREAK = _cx(r"\b(?:but|and|because|cause|so|why|how|when|if|that|though|although|since|until|unless|who|which|what|or|yet|while|whether)\b",
                   r"但是?|可是|不过|因为|所以|而且|为什么|怎么|如果|要是|就是|还是|然后|只是|却|而")

_EN_SELF = re.compile(r"\b(?:i|i'm|im|i've|ive|i'd|i'll|me|myself)\b")  # not "my": "my friend" is the friend
_EN_OTHER = re.compile(
    r"\b(?:he|she|they|you|we|his|her|him|them|their|your|himself|herself|themselves|yourself|someone|somebody|anyone|"
    r"people|person|friend|friends|brother|sister|mom|mum|dad|mother|father|son|daughter|wife|husband|partner|"
    r"boyfriend|girlfriend|kid|kids|child|children|student|students|patient|client|character|cousin|uncle|aunt|"
    r"grandma|grandpa|classmate|roommate|colleague|coworker|neighbor|neighbour|protagonist|hero|heroine|narrator|author|"
    r"singer|actor|actress)\b")
_ZH_SELF = re.compile(r"我|自己|本人")
_ZH_AGENT_WORDS = (
    r"他|她|它|你|您|妈|爸|母亲|父亲|哥|姐|弟|妹|儿子|女儿|孩子|朋友|同学|室友|同事|老公|老婆|丈夫|妻子|男友|女友|闺蜜|家人|"
    r"别人|有人|老师|邻居|保安|路人|警察|医生|护士|陌生人"
)
_ZH_OTHER = re.compile(
    r"他|她|它|你|您|妈|爸|母亲|父亲|哥|姐|弟|妹|儿子|女儿|孩子|小孩|朋友|同学|室友|同事|老公|老婆|丈夫|妻子|男友|女友|"
    r"闺蜜|亲戚|家人|对方|他人|某人|主角|角色|人物|别人|有人|人们|学生|学妹|学弟|学姐|学长|患者|来访者|病人|宝宝|老师|网友|邻居|作者|"
    r"演员|明星|歌手|爷爷|奶奶|外婆|外公|叔叔|阿姨|表妹|表哥|表姐|表弟|领导|上司|老板|女主|男主|配角|反派|猫|狗|鸟|兔")
_ANIMAL = re.compile(r"猫|狗|鸟|兔|\b(?:cat|dog|puppy|kitten|bird|rabbit|hamster)\b")
_ZH_RELATIVE = re.compile(r"的(?:人|同学|学生|孩子|朋友|患者|病人|来访者|青少年|人群|案例|新闻|事件|男生|女生|网友)")
_ZH_AGENT = re.compile(rf"被(?:我的?|他的?|她的?)?(?:{_ZH_AGENT_WORDS})+")

_MEDIA = _cx(
    # Words that rarely describe the speaker's own life; "story" or "class" alone would.
    r"\b(?:movies?|films?|novels?|tv|characters?|protagonist|lyrics|video games?|poems?|poetry|anime|manga|"
    r"documentar(?:y|ies)|articles?|news|headlines?|essays?|papers?|thesis|dissertation|research|study|studies|"
    r"statistics|stats|rates|lectures?|presentation|podcast|prevention|awareness|campaign|training|workshop|seminar|"
    r"fiction|author|script|hamlet|romeo|juliet|books?|book club|literature|course|module|coursework|assignment|homework|architecture|barrier|"
    r"studied|studying|lit|poet|poets|poem)\b",
    r"\b(?:in|from) (?:the|a|this|that) (?:story|show|game|play|series|episode|scene|book|song)\b",
    r"电影|电视剧|剧里|剧中|小说|动漫|动画|漫画|游戏里|歌词|这首歌|新闻|报道|文章|论文|作文|研究|统计|数据|"
    r"讲座|预防|干预|科普|宣传|培训|主角|角色|剧情|书里|书中|纪录片|案例|心理课|课上|课堂|护士|医生|病人|患者|急诊|值班|病房",
    r"\b(?:nurse|nurses|paramedic|paramedics|doctor|on shift|my shift|the ward|a&e|er|icu|patients)\b",
)
_HYPOTHETICAL = _cx(
    r"\b(?:hypothetical(?:ly)?|what if (?:someone|somebody|a person|people)|if (?:someone|somebody|a person|a friend|people)|"
    r"suppose|supposing|imagine (?:if|that|someone)|let's say|in theory|if i ever)\b",
    r"假如|假设|如果有人|要是有人|假若|比如说有人",
)
_PAST = _cx(
    r"\b(?:years ago|a long time ago|long ago|used to|in the past|back then|back in|at one point|previously|as a (?:kid|teen|teenager|child)|"
    r"when i was|in (?:high )?school|in college|last year|as a teenager|in my (?:early |late |mid )?(?:teens|twenties|thirties|teenage years)|in (?:19|20)\d\d)\b",
    r"以前|曾经|过去|之前|那时候?|当时|当年|很久以前|年前|小时候|上学的?时候|(?:高中|初中|大学|小学|[大高初][一二三四])(?:的)?时候?|前(?:几|两|些)年|那(?:几|两)年|那段(?:时间|日子)",
)
_DISTANT_PAST = _cx(
    r"\b(?:\w+ years ago|a long time ago|long ago|as a (?:kid|teen|teenager|child)|when i was (?:younger|little|small|a (?:kid|child|teen|teenager)|in (?:high )?school|in college|\d+)|in high school|back in (?:19|20)\d\d|"
    r"in my (?:early |late |mid )?(?:teens|twenties|thirties|teenage years)|in (?:19|20)\d\d)\b",
    r"(?:几|\d+|[一二三四五六七八九十两]+)年前|很久以前|小时候|当年|上学的?时候|(?:高中|初中|大学|小学|[大高初][一二三四])(?:的)?时候?|前(?:几|两|些)年|那(?:几|两)年",
)
# Simple past in English ("I stood on a chair with a belt around my neck").
_EN_PAST_VERB = _cx(r"\b(?:was|were|stood|sat|had|got down|climbed down|put|tried|went|pulled|took)\b")
# The sentence is about now, whatever came before.
_PRESENT = _cx(r"\b(?:now|today|tonight|currently|these days|lately|again|anymore|any more|right now|this (?:week|month|morning|evening))\b",
               r"现在|最近|今天|今晚|这几天|这段时间|又")
# Days to weeks ago: a situation told in the past ("three days ago I stood on the roof") is not happening now.
_RECENT_PAST = _cx(
    r"\b(?:ago|yesterday|last (?:night|week|weekend|month|time|monday|tuesday|wednesday|thursday|friday|saturday|sunday)|"
    r"earlier (?:today|this week)|on (?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)|the other (?:day|night))\b",
    r"(?:几|\d+|[一二三四五六七八九十两]+)(?:天|周|个月|个?星期|个?礼拜)(?:前|之前|以前)|昨天|昨晚|前天|前几天|上周|上个?月|上个?星期|上次|那天|那晚|去年",
)
_RESOLVED = _Finder(
    r"\b(?:i'm|i am|im) (?:now )?(?:in a (?:good|better|much better|great|healthy|safe) place|doing (?:much |a lot |so much |way )?(?:better|well|fine|okay|ok|great)|"
    r"(?:much |a lot |so much |way )?better now|fine now|ok(?:ay)? now|safe now|happy now|over (?:it|that)|past (?:it|that)|recovered)\b",
    r"\b(?:got|gotten|getting) (?:better|help|through it)\b",
    r"\b(?:and|now|but) (?:i'm |i am )?doing (?:really |very |so |pretty )?(?:well|better|fine|great|okay|ok)\b",
    r"\b(?:not anymore|no longer|not any more)\b",
    r"\b(?:haven't|have not)(?: \w+){1,4} (?:since|in (?:over |more than |almost |nearly )?(?:years|\w+ years|a long time|ages|\d+ years))\b",
    r"\b(?:i'm|i am) not (?:there|in that (?:place|headspace|space)|like that) (?:anymore|any more)\b",
    r"\bthat (?:part of my life|chapter|time|period) (?:is|was) (?:over|behind me|done)\b",
    r"\b(?:been|i'm|i am|stayed|staying) clean (?:since|for)\b",
    r"\b(?:that's|it's) (?:all )?(?:behind me|in the past)\b",
    r"\b(?:these days|now) i(?:'m| am) (?:good|fine|happy|ok|okay|better|well|doing well)\b",
    r"\bglad i(?:'m| am) (?:still )?(?:here|alive)\b",
    r"现在(?:已经|都|挺|很|好|也|完全|真的|基本)?(?:好多了|好了|好很多|很好|挺好|没事了?|不会了|不这么想了|走出来了|康复|过得(?:很|挺)?好|很开心|很幸福)",
    r"已经(?:走出来|康复|好了|好多了|过去了|不再)|不再(?:想|有)|早就(?:好了|走出来|过去了|不这么想)|都过去了",
    r"状态(?:好多了|好了|很好|挺好|稳定|不错)|过得(?:挺|很|还)?(?:好|不错)",
)
# Escalators: they never raise anything on their own, only next to suicidal content.
_TIMEFRAME = _cx(
    r"\b(?:tonight|right now|this (?:evening|afternoon)|in (?:the next )?(?:a few|an|\d+|five|ten|fifteen|twenty|thirty|a couple of) (?:minutes?|hours?)|in the next (?:minute|hour|few (?:minutes|hours))|"
    r"before (?:the )?(?:morning|sunrise)|when everyone(?:'s| is) asleep|(?:today|tomorrow|tonight) is the (?:day|night))\b",
    r"\b(?:myself|die|it all|my life|it|do it) (?:now|today|tomorrow)\b",
    r"\btomorrow (?:morning|night|evening|afternoon)\b|\bfirst thing tomorrow\b|\bbefore (?:anyone|everyone) (?:wakes|gets) up\b|\bas soon as\b|\bwhen it gets dark\b|\bafter dark\b|\b(?:right )?after (?:this|our|the) (?:session|call|chat|message|conversation)\b",
    r"今晚|今夜|今天(?:就|晚上)|明天就|现在就|就现在|现在(?:准备|马上)|马上|立刻|立即|等(?:一)?会儿?就|一会儿就|待会儿?就|这就|此刻",
    r"明早|明天(?:一)?早(?:上)?|明晚|明天晚上|天一亮|天亮(?:之前|以前|前)|等(?:他们|大家|家里人|爸妈)?睡着",
    r"(?:一|两|半|几|\d+)(?:个)?(?:小时|钟头|分钟)(?:后|以后|之后)",
)
_MEANS_AT_HAND = _Finder(
    r"\b(?:pills|tablets|rope|noose|gun|knife|blade|razor|bottle|meds)\b[^.!?\n]{0,20}\b(?:is|are)\b[^.!?\n]{0,10}(?:in front of me|right here|here|next to me|beside me|in my hand|ready|loaded|with me)\b",
    r"\b(?:holding|have|got) (?:the|a|my|some) (?:gun|rope|charcoal|poison)\b",
    r"\bi(?: have|'ve got| got) (?:the |my |some |all (?:the |my )?)?(?:pills|tablets|meds) (?:here|with me|right here|in front of me|ready)\b",
    r"\bholding (?:the|a|my|some) (?:knife|blade|razor|pills)\b",
    r"\b(?:standing|sitting|i'm|i am) (?:on|at) (?:the )?(?:top of the |edge of the )?(?:edge|ledge|roof|rooftop|bridge|cliff|railway|tracks|platform edge|multi-storey|car park)\b",
    r"(?:现在|已经)(?:一个)?人?在(?:楼顶|天台|桥上|河边|江边|海边|湖边|顶楼|铁轨)",
    r"\bloaded (?:the |my )?gun\b|\btied (?:the|a) (?:rope|noose)\b",
    rf"\bwith (?:a|the|my) (?:(?:whole |full )?(?:bottle|box|packet|handful|bag) of (?:\w+ )?{_EN_DRUG}|gun|rope|noose|razor|blade)\b",
    r"\b(?:got|have|i've got|i have) (?:the|a|my) (?:knife|gun|blade|weapon|hammer|bat) (?:ready|loaded|here|with me|on me|in my (?:bag|pocket|hand))\b",
    r"\b(?:he's|she's|he has|she has|they've|they have) got (?:a|the|his|her|their) (?:knife|gun|weapon|hammer|axe)\b",
    r"刀(?:我)?(?:已经|都)?磨好了|磨好(?:了)?(?:刀|刀子)|(?:刀|刀子|菜刀)(?:就|已经)?(?:在|放在|藏在)(?:我)?(?:的)?(?:手上|手里|包里|身上|口袋)",
    r"(?:药|安眠药|刀|刀片|绳子?|农药|炭)(?:就|已经)?(?:在|放在|摆在)(?:我)?(?:的)?(?:面前|手上|手里|手边|身边|旁边|桌上|眼前)",
    r"手(?:里|上)(?:拿着|握着|攥着)(?:刀|药|刀片|绳)",
    r"(?:站在|坐在|爬上|到了)(?:楼顶|天台|窗台|窗边|桥上|楼边|阳台边|河边|江边|海边|顶楼)",
    r"已经准备好了|(?:都|一切都?)准备好了|绳子(?:已经)?(?:挂|系|绑)好",
)
# A farewell makes suicidal content imminent; with plain distress ("I can't take it
# anymore. This is goodbye.") it is read as a final message too.
_FAREWELL = _Finder(
    r"\bthis is goodbye\b|\bgoodbye (?:everyone|all|guys|forever|world)\b|\bsaying goodbye\b|\bi love you all\b|\bsorry for everything\b",
    r"\b(?:this|it) (?:is|will be|'s|'ll be) my (?:last|final) (?:message|post|words|text)\b",
    r"再见了|永别|对不起大家|再见(?:了)?(?:这个)?世界|最后(?:跟|和|对)你(?:们)?说(?:一声|一句|句)",
)
_DISTRESS = _Finder(
    r"\b(?:can't|cannot|can not) (?:take|do|handle|bear|stand) (?:it|this) any ?more\b|\bi(?:'m| am) done\b|\bcan't go on\b",
    r"撑不下去|受不了了|坚持不下去|熬不下去|撑不住了",
)

# An attempt under way: the effects, or minutes since. Next to an attempt it is imminent.
_IN_PROGRESS = _Finder(
    r"\b(?:pills|tablets|meds|drugs|it)(?:'re| are| r|'s| is) (?:already )?(?:kicking in|starting to (?:kick in|work)|taking effect|working already|already working)\b",
    r"\b(?:starting|beginning) to feel (?:really |so |very )?(?:sleepy|drowsy|dizzy|woozy|numb|faint|sick|weird)\b",
    r"\bfeeling (?:really |so |very )?(?:sleepy|drowsy|dizzy|woozy|faint) (?:now|already)\b|\bi feel (?:really |so |very )?(?:dizzy|drowsy|woozy|faint|sleepy)\b",
    r"\bminutes ago\b|\b(?:an|half an) hour ago\b|\btoo late now\b|\bit's too late\b",
    r"\bit's done\b(?! (?:with|for|now,? i|and dusted))",
    r"\b(?:it's|its|they're|the cuts are) (?:much |way )?deeper than (?:before|last time|usual|ever)\b|\b(?:already|just) started cutting\b",
    r"\b(?:don't|do not|dont) (?:call|tell) (?:anyone|anybody|an ambulance|911|999|my \w+)\b",
    r"\bone (?:by|after) (?:one|another)\b[^.!?\n]{0,20}\b(?:pills?|tablets?)\b|\b(?:pills?|tablets?)\b[^.!?\n]{0,20}\bone (?:by|after) (?:one|another)\b",
    r"一(?:颗|片|粒)一(?:颗|片|粒)(?:地|的)?(?:吃|吞)|正在(?:吃|吞)(?:药|安眠药)|头(?:好|很|有点|开始)?晕|(?:好|很|开始)(?:困|想睡)|意识(?:开始)?模糊|(?:别|不要)(?:叫|打)(?:120|救护车)|来不及了|分钟前",
)
# Veiled risk: no risk word, but several cues of different kinds together (at the
# place and calm; a note left and heading out now; everything ready, tonight, thank
# you for everything). One cue alone never counts.
_VEILED: dict[str, _Finder] = {
    "place": _Finder(
        r"\b(?:i'm|i am|im|i've got to|i got to|i made it to)(?: now| already| just)?(?: up| out)? (?:at|on|by|near|under) (?:the )?(?:\w+ )?(?:station|platform|railway|bridge|roof|rooftop|top floor|cliff|cliffs|river|riverbank|pier|overpass|multi-storey)\b",
        r"\b(?:i'm|i am|im) (?:standing|sitting|stood|sat) (?:on|at|by|under|near) (?:the |a )?(?:bridge|roof|rooftop|cliff|edge|platform|tracks|railing|river)\b",
        r"(?:已经|现在|我)(?:就)?(?:一个)?(?:人)?(?:在|到了|站在|坐在|爬上了?|来到了?)(?:桥上|楼顶|天台|顶楼|河边|江边|海边|湖边|铁轨|轨道|站台|窗台|屋顶|悬崖)",
        r"\b(?:top floor|roof|top) of (?:the|a|my) (?:car park|multi-storey|parking garage|building|hospital|tower|block|flats)\b",
        r"(?:站在|坐在|爬上了?)(?:桥上|楼顶|天台|顶楼|铁轨|轨道|窗台|屋顶|悬崖)",
    ),
    # A dangerous spot, not just a place: the cliff edge, the tracks.
    "edge": _Finder(
        r"\b(?:i'm|i am|im) (?:now |already )?(?:in|into) the (?:water|sea|river|lake|ocean)\b",
        r"\b(?:climbed|climbing|i'm|i am|im) (?:over|onto|on|past) (?:the |a )?(?:fence|barrier|railing|parapet|safety rail|edge)\b",
        r"\b(?:at|on|to|near) the (?:cliff ?edge|edge of the (?:cliff|roof|bridge|platform|building)|(?:train |railway )?tracks|railway line)\b",
        r"(?:在|到了|站在|坐在)(?:悬崖边|崖边|铁轨|轨道|楼顶边|天台边)",
    ),
    "calm": _Finder(
        r"\b(?:not|no longer) (?:scared|afraid|frightened) (?:anymore|any more)\b|\bfrom up here\b|\b(?:finally|at last) (?:at peace|free)\b",
        r"\b(?:water|sea|river|drop|ground)(?:'s| is)? (?:looks?|seems?|is|'s)? ?(?:so )?(?:calm|peaceful|inviting|close|far|dark|deep|still|cold)\b|\bi feel (?:so )?(?:calm|at peace) now\b|\bmade (?:my )?peace with (?:it|everything|this|dying)\b",
        r"\blooks? (?:so )?(?:tiny|small|far down|a long way down)\b",
        r"\b(?:at peace with|made) my decision\b|\bmy mind is made up\b",
        r"不(?:害怕|怕)了|(?:终于|马上就)(?:可以|能|要)?(?:解脱|轻松|自由)了|(?:吃完|喝完|做完)?就(?:能|可以|会)?解脱了|手一松|一切(?:就|都)(?:要)?结束了|从这里看下去|下面(?:的)?(?:水|河|街)(?:好|很)?(?:平静|安静)",
    ),
    "intent": _Finder(
        r"\b(?:going to|gonna|about to|ready to) (?:do it|go through with it|drive off|step off|let go|take them(?: all)?|jump)\b",
        r"\b(?:going to|gonna|about to) climb (?:over|onto|up on) (?:the )?(?:barrier|railing|edge|fence|parapet|ledge|wall)\b",
        r"\b(?:don't|do not|dont) (?:try to )?(?:stop|talk) me(?: out of it)?\b|\b(?:nobody|no one) (?:can|will) stop me\b",
        r"(?:别|不要)(?:再)?(?:劝|拦)我|没人能(?:拦|阻止)(?:住)?我|(?:马上|立刻|现在)就?跳",
        r"\b(?:tonight|today)(?:'s| is) the (?:night|day)\b",
        r"(?:准备|打算|要)动手了|就(?:是)?(?:今晚|今天|明天)了|(?:准备|打算)?(?:要)?跳(?:下去)?了|等(?:一)?会儿?就(?:吃|跳|动手|走)",
    ),
    "waiting": _Finder(
        r"\b(?:waiting|wait) (?:for|until|till) (?:everyone|them|the house|my (?:parents|family|wife|husband|flatmate|roommate|partner|mum|mom|dad))\b[^.!?\n]{0,20}\b(?:asleep|to sleep|to leave|to go out|is empty|are out)\b",
        r"\bwaiting for the right (?:time|moment|day)\b|\bwhen (?:the house|everyone) is (?:empty|asleep)\b|\b(?:nobody|no one|noone) knows (?:i'm here|where i am)\b",
        r"等(?:他们|大家|家里人|爸妈|家人|室友)(?:都)?睡着|等(?:家里)?没人(?:的时候)?|(?:今晚|今天|现在)?家里没人|等(?:一个)?合适的(?:时机|时候)|没(?:有)?人知道我在(?:这|这里|哪)",
    ),
    "understand": _Finder(
        r"\b(?:you'll|you will|they'll|they will|she'll|he'll) understand\b|\b(?:i think )?you know why\b",
        r"(?:就|都|会)(?:会)?明白(?:的|了)?(?:吧)?[。！!.]?$|你(?:应该)?知道(?:为什么|我要做什么)|以后(?:用得上|用得着)|(?:我)?(?:以后)?(?:用不上|用不到|不需要)了",
    ),
    "means": _Finder(
        r"\b(?:i've got|i have|i've|got) (?:everything|all|what) i need\b(?! (?:for|to)\b)|\bgo(?:ing)? through with it\b",
        r"\bsealed (?:the|my) (?:\w+ )?(?:door|doors|window|windows|room|vents|gaps)\b",
        r"(?:把门)?反锁(?:了|上)|锁(?:好|上)(?:了)?(?:门|房门)|(?:门窗|窗户)(?:都)?(?:封|关)(?:好|死)了",
        r"(?:该|要)?(?:准备|买)的(?:东西)?(?:都|也)?(?:准备|买)(?:好|齐)了|(?:准备|买)好了(?:药|安眠药|绳子|刀片|炭)",
        r"(?:药|安眠药|药片)(?:全|都)?(?:倒|拿)出来了|数了(?:一下|一遍)?(?:有|一共)?[^，。！？,.!?\n]{0,4}(?:片|颗|粒)",
        r"\bcounted (?:them|the pills|my pills|out)\b",
    ),
    "note": _Finder(
        r"\b(?:left|leaving|put|wrote|written|writing) (?:a|the|my) (?:note|letter|letters|notes)\b(?! (?:for|to) (?:the )?(?:landlord|teacher|school|work|neighbou?rs?|delivery|cleaner|office)\b)",
        r"\bwrit(?:e|ing|ten) (?:letters? |notes? )?to (?:the )?(?:people|everyone|everybody|those) i love\b",
        r"\b(?:a )?letters? (?:to|for) (?:each of )?(?:my|all my) (?:kids|children|family|parents|friends|sisters?|brothers?)\b",
        rf"(?:留|写)(?:了|好)(?:了)?(?:一)?(?:张|封)?(?:给{_NC}{{1,6}}的)?(?:纸条|字条|便条|信)",
    ),
    "ready": _Finder(
        r"\b(?:everything|it all|all of it)(?:'s| is) (?:ready|sorted|in place|set up|arranged|settled|taken care of)\b(?! (?:for|to|at|by)\b)",
        r"(?:东西|一切)(?:都|也|已经)*准备好了",
    ),
    "date": _Finder(
        r"(?:日子|日期|哪天|时间)(?:我)?(?:也|都|已经)*(?:选|定|挑|想|计划)好了?",
    ),
    "settle": _Finder(
        r"\b(?:updated|wrote|written|made|making|writing|finished|sorted(?: out)?|changed) my will\b",
        r"\b(?:wrote down|written down|gave (?:him|her|them|my \w+)|left (?:him|her|them|my \w+)) (?:all )?(?:of )?my passwords\b",
        r"\b(?:deleted|deleting|closed|closing) (?:all )?my (?:social media|accounts|instagram|facebook)\b",
        r"\bgiv(?:e|en|ing) (?:away )?(?:all )?(?:of )?my (?:\w+ ){1,4}(?:away|to (?:charity|friends|people))\b",
        r"\b(?:gave|given|giving) (?:away )?my (?:cat|dog|pets?|rabbit|bird) to\b|\bpaid off (?:all )?my debts?\b|\b(?:cancelled|canceled|cancelling) (?:all )?my (?:phone|contract|subscriptions?|accounts?|gym)\b",
        r"(?:账号|帐号|社交账号|社群账号|微博|朋友圈)(?:都|全)?(?:删|注销|清空)(?:了|掉)",
        r"(?:存款|积蓄|钱|密码)(?:都|全)?(?:转|留|交)(?:给)?了|(?:猫|狗|宠物)(?:都)?托付给|(?:存款|积蓄|钱){_NC}{0,6}(?:转|留|交)给".replace("{_NC}", _NC),
    ),
    "depart": _Finder(
        r"\b(?:heading|going|walking|driving|on my way|omw) (?:into|to|out to|down to|up to) the (?:woods|forest|bridge|river|sea|beach|cliffs?|tracks|station|lake|roof|rooftop|railway)\b",
        r"\bi(?:'ll| will) be gone\b",
        r"就(?:要)?走了?(?=[，。！？,.!?\s]|$)",
    ),
    "time": _Finder(
        r"\brn\b|\b(?:tonight|right now|in (?:a few|\d+|five|ten|twenty|thirty|a couple of|an|half an) (?:minutes?|hours?|hour)|next (?:train|bus) (?:is )?in|before (?:the )?(?:morning|sunrise)|when everyone(?:'s| is) asleep)\b",
        r"\b(?:woods|forest|bridge|river|sea|beach|cliffs?|tracks|station|lake|roof|rooftop) now\b",
        r"今晚|今夜|今天(?:就|晚上)|明天就|现在就|马上|立刻|待会儿?就|一会儿就|等(?:他们|大家|家里人)?睡着",
    ),
    "farewell": _Finder(
        r"\bthis is goodbye\b|\bgoodbye (?:everyone|all|guys|forever|world)\b|\bsaid (?:my )?goodbyes\b|\bi love you all\b|\bsorry for everything\b",
        r"\b(?:please )?(?:just )?let me go\b|\b(?:just )?wanted to say (?:goodbye|bye)\b",
        r"\b(?:the )?last (?:thing|message|words?) i(?:'ll| will) ever (?:write|say|send)\b",
        r"\btell (?:my \w+|them|her|him|everyone) (?:that )?(?:i love (?:them|her|him|you)|i'm sorry)\b",
        r"告别的(?:消息|信|话)|发了告别|道别的(?:消息|信)",
        r"再见了|永别|对不起大家|最后(?:跟|和|对)你(?:们)?说(?:一声|一句|句)",
    ),
    "thanks": _Finder(
        r"\bthank you for everything\b|\bi(?:'m| am) (?:so )?sorry\.?\s*$|\b(?:just )?wanted to (?:say|tell (?:you|someone)) (?:thank you|thanks|sorry)\b",
        r"\b(?:please )?(?:don't|do not) (?:try to )?(?:call|find|stop|save|look for) me\b|\b(?:don't|do not) call anyone\b",
        r"谢谢你(?:们)?(?:一直|这么久|这段时间)?(?:以来)?(?:陪(?:我|着我)|的陪伴)|(?:别|不要)(?:来)?(?:找|救)我|(?:不用|别)(?:再)?担心我了|(?:跟|和|对)你(?:们)?说(?:声|一声)谢谢|谢谢你(?:们)?(?:这些年|这么多年)",
    ),
    "distress": _Finder(
        r"\bi(?:'m| am) done\b(?! (?:with|for|here|at|now with)\b)|\b(?:can't|cannot) (?:take|do) (?:it|this) any ?more\b|\bcan't (?:go on|keep going|carry on)\b",
        r"撑不下去了|坚持不下去了|撑不住了|不想(?:再)?(?:撑|坚持)(?:下去)?了?",
    ),
    "in_progress": _IN_PROGRESS,
    "at_hand": _Finder(
        r"\b(?:gun|knife|blade|razor|rope|noose|pills)\b (?:is |are )?(?:in my (?:lap|hand|hands|mouth)|against my|to my head|round my neck|around my neck)",
        r"\b(?:holding|have|got|with) (?:the|a|my) (?:gun|rope|noose|razor|blade|razor blade)\b",
        r"\b(?:got|have|put|laid|lined) (?:the |my |all (?:the |my )?)?(?:pills|tablets|meds) (?:out|lined up|laid out|counted out|on the (?:bed|table|desk|floor))\b",
        r"\b(?:the )?gas is (?:on|running)\b|\bturned (?:on )?the gas(?: on)?\b",
        r"(?:药|安眠药|刀|刀片|绳子?|农药|炭)(?:就|已经)?(?:在|放在|摆在)(?:我)?(?:的)?(?:面前|手上|手里|手边|眼前)|手(?:里|上)(?:拿着|握着|攥着)(?:刀|药|刀片|绳)",
        r"(?:都|全|就)(?:在|摆在|放在)(?:我)?(?:的)?(?:面前|眼前|手边)",
    ),
    "overdose": _Finder(
        r"\bi (?:just |already )?(?:took|swallowed) (?:them|them all|it all)\b",
        r"\bi(?:'ve| have) (?:just |already )?(?:taken|swallowed) (?:the|all the|all my|all of the) (?:pills|tablets)\b",
        rf"\b(?:took|taken|swallowed) all (?:of )?(?:my|the|his|her|mum's|mom's|dad's) (?:\w+ )?{_EN_DRUG}\b",
        r"把(?:所有的?|全部|剩下的|家里的)?(?:药|安眠药)(?:都|全)(?:吃|吞)(?:了|掉|下去)|(?:药|安眠药)(?:都|全)(?:吃|吞)(?:了|掉|光|完)",
    ),
}
_VEILED_PARTS = [(kind, part) for kind, finder in _VEILED.items() for part in finder.parts]
_VEILED_INDEX = _PartIndex(part for _, part in _VEILED_PARTS)


def _veiled_cues(text: str, gate: _Gate) -> dict[str, tuple[int, int]]:
    """The earliest span of each kind of veiled cue in ``text`` (what ``_VEILED[kind].search`` finds), in ``_VEILED`` order."""
    best: dict[str, tuple[int, int]] = {}
    n = len(text)
    short = n <= MAX_NEED_TEXT
    for i in _VEILED_INDEX.allowed(gate):
        kind, part = _VEILED_PARTS[i]
        literals = part.literals if part.literals is not None else part.needed_literals()  # part.may_match, inlined
        if literals and short:
            for lit in literals:
                if lit in text:
                    break
            else:
                continue
        span = part.first(text, 0, n)
        if span is not None and (kind not in best or span < best[kind]):
            best[kind] = span
    return {kind: best[kind] for kind in _VEILED if kind in best}


# Knowing a target's movements turns thoughts of harming them into a plan.
_TARGET_KNOWN = _Finder(
    r"\bi know (?:exactly )?(?:where|when|what time) (?:he|she|they)(?:'s| is| are)? (?:alone|lives?|works?|parks?|sleeps?|goes|leaves?|finishes)\b",
    r"(?:我)?知道(?:他|她|他们)(?:每天)?(?:几点|住(?:在)?哪|在哪|什么时候|走哪条路|一个人)",
)
# Passive ideation plus thoughts of acting on it is active ideation (C-SSRS item 2).
_ACTING_ON = _Finder(
    r"\b(?:thinking|thought|think|thinks|considering|considered) (?:about |of )?(?:actually )?(?:doing something about it|doing something|doing it|acting on it|going through with it)\b",
    r"(?:想过|在想|考虑|想着)(?:要)?(?:付诸行动|真的去做|真的动手|动手)",
)
# How much each kind of cue says. Together they must reach VEILED_HIGH (high) or
# VEILED_IMMINENT with a place, a time or an attempt under way (imminent), and one of
# them must lean towards risk: "I'm at the station, next train in 4 minutes" is a commute.
_VEILED_WEIGHT = {"edge": 2.0, "in_progress": 2.0, "farewell": 2.0, "calm": 2.0, "place": 2.0, "at_hand": 2.0, "overdose": 1.5, "waiting": 1.5,
                  "understand": 1.5, "note": 1.5, "settle": 1.5, "distress": 1.5,
                  "date": 1.5, "means": 1.5, "intent": 1.0, "ready": 1.0, "depart": 1.0, "time": 1.0, "thanks": 1.0}
_VEILED_LEANING = frozenset({"intent", "edge", "in_progress", "farewell", "calm", "note", "settle", "distress", "date", "means", "thanks", "at_hand", "overdose",
                             "waiting", "understand"})
VEILED_HIGH, VEILED_IMMINENT = 2.5, 3.0
_VEILED_PAST_OK = frozenset({"in_progress", "overdose"})  # "took them all half an hour ago" is past, and now
# Trips and outings explain "everything's ready, leaving tonight".
_TRAVEL = _cx(r"\b(?:holiday|vacation|trip|flight|luggage|suitcase|packing|travel(?:l?ing)?|airport|concert|party|wedding)\b",
              r"出差|旅游|旅行|回老家|航班|机票|火车票|行李|飞机|聚会|婚礼|演唱会")
# Someone else's words: "he told me to kill myself", 叫我去死 are abuse, not the speaker's wish.
_TOLD_TO = _cx(
    r"\b(?:told|tells|telling|tell|keeps telling|kept telling|wants|wanted) me to (?:go |just )?$",
    r"(?:叫|让|逼|要|劝|说)我(?:去)?$",
)
# Banter: "I'm going to kill him lol" is not a threat.
_JOKE = _cx(r"\b(?:lol|lmao|lmfao|rofl|haha\w*|jk|just kidding|kidding|xd)\b|😂|🤣|😆|😅|😜|🙄|哈哈|hhh|xswl|开玩笑")
# Taken back in the same sentence ("开玩笑的", "just kidding") or a question answered no.
_RETRACTED = _cx(
    r"(?<!not )(?<!n.t )\b(?:just kidding|jk|only joking|just joking)\b",
    r"\b(?:asked|asks) (?:me )?(?:if|whether)\b[^.!?\n]*\bi (?:said|answered|told (?:him|her|them)) no\b",
    r"(?<!不是)(?<!没)(?:开玩笑的|开个玩笑|说着玩的|逗你的)",
)
# Quoting a song is not saying it ("我想死在你怀里（歌词）").
_SINGING = _cx(r"\blyrics?\b|\bsings?\b|\bsang\b|\bsong goes\b", r"歌词|歌里(?:唱|写)|这首歌")
# Quoted speech: text inside quotes after someone else's speech verb is theirs.
_QUOTE = re.compile(r"[\"“”「」『』']")
_SPEECH_BEFORE_QUOTE = _cx(
    r"\b(?:say|says|said|saying|texted|texts|text|wrote|writes|writing|posted|posts|messaged|told me|tells me|goes|went|replied|asked|typed|captioned)\W*$",
    r"(?:说|写|写道|发|发了|道|问|留言|写着|说过)[\s:：,，]*$",
)

_CLAUSE_BREAK = re.compile(r"[,，、;；:：.。!！?？\n…~～()（）\"“”「」]+|(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])|\s(?:but|because)\s")
_SENTENCE_BREAK = re.compile(r"[.。!！?？\n;；…]+|(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])")
_HAS_LATIN = re.compile(r"[a-z]")
# A match is never longer than this, so a window this much wider than a first-pass
# match holds every second-pass match near it.
MAX_MATCH_CHARS = 160
# Message-level cues (means at hand, a farewell, risk that is over) are looked for
# this far from the risk phrases, which for any ordinary message is all of it.
MESSAGE_CONTEXT_CHARS = 2000


@dataclass
class _Hit:
    start: int
    end: int
    category: str
    level: str
    escalates: bool = True  # False once softened: softened risk must not become imminent


class LexiconCheck(SafetyCheck):
    """English and Chinese rules and lexicons; see the module docstring for the levels."""

    name = "lexicon"
    layer = "rules"
    blocking = False  # pure CPU, well under a millisecond

    def __init__(self, rules: Iterable[Rule] | None = None) -> None:
        self.rules: tuple[Rule, ...] = tuple(DEFAULT_RULES if rules is None else rules)
        self._finders = [(rule, _Finder(rule.pattern)) for rule in self.rules]
        for rule, finder in self._finders:
            if rule not in _DEFAULT_SET:  # parts compile on first use; a bad pattern of one's own fails here
                for part in finder.parts:
                    part.compiled()
        self._parts = [(rule, part) for rule, finder in self._finders for part in finder.parts]
        self._index = _PartIndex(part for _, part in self._parts)
        self._needs = {rule: _cx(rule.needs) for rule in self.rules if rule.needs}
        self._idioms = _Finder(*_EN_IDIOMS, *_ZH_IDIOMS)

    def screen(self, text: str, *, language: str | None = None) -> RiskAssessment:
        if not isinstance(text, str) or not text.strip():
            return RiskAssessment(layer=self.layer)
        try:
            return self._screen(text)
        except Exception:  # pragma: no cover - a screen must never break a session
            # Failing to screen is worth a log line and a note in the trace, not a crisis path.
            logger.exception("lexicon screen failed on a %d-character message", len(text))
            return RiskAssessment(level="none", layer=self.layer, evidence=["(screening failed)"])

    # -- internals -------------------------------------------------------------------

    def _screen(self, text: str) -> RiskAssessment:
        norm = normalise(text)
        n = len(norm)
        gate = _Gate(norm)
        parts = [self._parts[i] for i in self._index.allowed(gate)]

        # Pass 1, on the unmasked text: where could anything match, and which parts?
        # Idioms are then masked only there, and pass 2 reruns only those parts, so a
        # long message costs about one quick scan. (Masking blanks text, so it can
        # only remove matches, never create them.)
        matched, spans = [], []
        short = n <= MAX_NEED_TEXT
        for rule, part in parts:
            # Most parts cannot match: a needed literal is missing, or the regex finds nothing.
            # (part.may_match inlined: this loop is most of the cost of an ordinary message.)
            literals = part.literals if part.literals is not None else part.needed_literals()
            if literals and short:
                for lit in literals:
                    if lit in norm:
                        break
                else:
                    continue
            if (part.regex or part.compiled()).search(norm) is None:
                continue
            found = list(islice(part.finditer(norm, 0, n), MAX_MATCHES_PER_RULE))
            if found:
                matched.append((rule, part))
                spans += found
        farewell = _FAREWELL.search(norm, gate=gate)
        if farewell:
            spans.append(farewell)
        veiled = _veiled_cues(norm, gate)
        if len(veiled) >= 2:
            spans += veiled.values()
        else:
            veiled = {}
        if not spans:
            return RiskAssessment(layer=self.layer)
        windows = _merge((max(0, a - MAX_MATCH_CHARS), min(n, b + MAX_MATCH_CHARS)) for a, b in spans)
        masked = _blank(norm, [span for a, b in windows for span in self._idioms.finditer(norm, a, b, gate=gate)])

        # Pass 2, on the masked text, inside the windows.
        ctx = _Context(masked, max(0, windows[0][0] - MESSAGE_CONTEXT_CHARS), min(n, windows[-1][1] + MESSAGE_CONTEXT_CHARS),
                       gate if masked is norm else _Gate(masked))
        hits: list[_Hit] = []
        negated: list[tuple[int, int]] = []
        for rule, part in matched:
            matches = (span for a, b in windows for span in part.finditer(masked, a, b))
            for start, end in islice(matches, MAX_MATCHES_PER_RULE):
                if rule.needs and not self._needs[rule].search(ctx.sentence(start, end)[1]):
                    continue
                hit = self._judge(rule, start, end, ctx)
                if hit is None:
                    negated.append((start, end))
                else:
                    hits.append(hit)
        # A word inside a negated phrase is negated too: in 我从来没有想过要自杀 the
        # negator is far from 自杀 but governs 想过要自杀, which contains it.
        hits = _drop_covered(_drop_inside(hits, negated))
        if veiled:
            hits += self._veiled(veiled, ctx)
        aggressive = [h for h in hits if h.category == "aggression_to_others" and h.escalates and h.level == "moderate"]
        if aggressive and ctx.present(_TARGET_KNOWN):
            for h in aggressive:  # thoughts of harming someone, and knowing when they are alone: a plan
                h.level = "high"
        passive = [h for h in hits if h.category == "passive_suicidal_ideation" and h.escalates]
        if passive:
            acting = ctx.present(_ACTING_ON)
            if acting:
                hits.append(_Hit(*acting, "active_suicidal_ideation", "moderate"))
        cues = self._escalation(hits, ctx)
        if not hits:
            return RiskAssessment(layer=self.layer)
        level = "imminent" if cues else max((h.level for h in hits), key=level_index)
        hits.sort(key=lambda h: (-level_index(h.level), h.start))
        categories: list[str] = []
        evidence: list[str] = []
        for h in hits:
            if h.category not in categories:
                categories.append(h.category)
        for start, end in [(h.start, h.end) for h in hits] + cues:
            phrase = text[start:end].strip()
            if phrase and phrase not in evidence and len(evidence) < MAX_EVIDENCE:
                evidence.append(phrase)
        return RiskAssessment(level=level, categories=categories, layer=self.layer, evidence=evidence)

    def _judge(self, rule: Rule, start: int, end: int, ctx: "_Context") -> _Hit | None:
        """Apply negation, person, media, hypothetical and past context to one match; None if negated."""
        before = ctx.clause_before(start)
        if _negated(before):
            return None
        if rule.category in SELF_RISK_CATEGORIES and _TOLD_TO.search(before[-24:]):
            return None  # "told me to kill myself": the abuse rule covers it
        hit = _Hit(start, end, rule.category, rule.level)
        person = rule.person
        if person == "any":
            person = _subject(before)
        _, sentence = ctx.sentence(start, end)
        if person != "mention" and (ctx.reported(start) or _ZH_RELATIVE.match(ctx.text, end) or _SINGING.search(sentence)):
            person = "other"  # quoted words of someone else; 有自杀念头的同学 is about classmates
        if rule.category in ("aggression_to_others", "aggression_from_others") and _JOKE.search(sentence):
            return None
        if _JOKE.search(sentence) and rule.category in ("active_suicidal_ideation", "passive_suicidal_ideation") and not at_least(rule.level, "high"):
            return None  # "想死的心都有了哈哈", "i want to die lol": hyperbole
        if _RETRACTED.search(sentence):
            return None  # "...哈哈哈开玩笑的", "I said no": taken back or denied
        if rule.now and (_RECENT_PAST.search(sentence) or _PAST.search(sentence) or _EN_PAST_VERB.search(sentence)):
            # On the roof three days ago, pulled back: an interrupted attempt, over now.
            hit.category, hit.level, hit.escalates = "suicide_attempt", "high", False
        if person in ("other", "mention"):
            if (_MEDIA.search(sentence) or _JOKE.search(sentence)) and not rule.firm:
                return None
            if person == "other" and _ANIMAL.search(before[-8:]):
                return None  # 我家猫从阳台跳下去了: a pet, not a person
            if person == "other" and ctx.resolved and _PAST.search(sentence):
                return None  # someone else's risk that is over ("my friend used to..., she's fine now")
            if rule.category in SELF_RISK_CATEGORIES or person == "mention":
                hit.category, hit.level, hit.escalates = "asking_about_suicide", "low", False
        if _HYPOTHETICAL.search(sentence) and not rule.firm:
            _cap(hit, "low")
            if hit.category in SELF_RISK_CATEGORIES:
                hit.category = "asking_about_suicide"
        sentence_before = ctx.sentence_before(start)
        if ctx.resolved and (_PAST.search(sentence) or (not _PRESENT.search(sentence) and _PAST.search(ctx.previous_sentence(start)))):
            # Risk that is over ("...but I'm in a good place now"), in this sentence or a past story just before.
            _cap(hit, "low")
        elif _PAST.search(sentence_before) and _DISTANT_PAST.search(sentence_before):
            _cap(hit, "moderate")
        return hit

    def _veiled(self, found: dict[str, tuple[int, int]], ctx: "_Context") -> list[_Hit]:
        """A hit for several veiled cues of different kinds together; none for one kind alone."""
        kinds = {kind: span for kind, span in found.items()
                 if not ctx.reported(span[0]) and (kind in _VEILED_PAST_OK or not ctx.in_past(span[0]))}
        if len(kinds) < 2 or _TRAVEL.search(ctx.text, ctx.lo, ctx.hi):
            return []
        weight = sum(_VEILED_WEIGHT[kind] for kind in kinds)
        if not _VEILED_LEANING & kinds.keys() or weight < VEILED_HIGH:
            return []
        if weight >= VEILED_IMMINENT and kinds.keys() & {"place", "edge", "time", "in_progress", "at_hand", "overdose", "depart"}:
            level = "imminent"
        else:
            level = "high"
        start, end = min(kinds.values())
        return [_Hit(start, end, "suicide_preparation", level, escalates=False)] + [
            _Hit(a, b, "suicide_preparation", "none", escalates=False) for a, b in sorted(kinds.values())[1:]
        ]

    def _escalation(self, hits: list[_Hit], ctx: "_Context") -> list[tuple[int, int]]:
        """Spans of the cues that make this message imminent (adding a hit if needed); empty if none."""
        suicidal = [h for h in hits if h.escalates and h.category in SUICIDE_CATEGORIES]
        # Intent to harm someone with a knife ready or "tonight" is immediate danger to them.
        violent = [h for h in hits if h.escalates and h.category in ("aggression_to_others", "aggression_from_others") and at_least(h.level, "high")]
        farewell = ctx.present(_FAREWELL)
        if not suicidal and not violent and not any(h.escalates and h.category == "self_harm_behavior" for h in hits):
            distress = ctx.present(_DISTRESS) if farewell else None
            if farewell and distress:
                hits.append(_Hit(*farewell, "suicide_preparation", "imminent"))
                return [distress]
            return []
        for h in suicidal + violent:
            if h.category != "passive_suicidal_ideation" and at_least(h.level, "moderate"):
                lo, sentence = ctx.sentence(h.start, h.end)
                m = _TIMEFRAME.search(sentence)
                if m and not _RECENT_PAST.search(sentence):
                    return [(lo + m.start(), lo + m.end())]
        cue = ctx.present(_MEANS_AT_HAND)
        if cue is None and any(h.category in ("suicide_attempt", "suicide_preparation", "suicide_plan") for h in suicidal) or any(
            h.escalates and h.category == "self_harm_behavior" for h in hits
        ):
            cue = ctx.present(_IN_PROGRESS, past_ok=True)  # "ten minutes ago" is past, and now
        if cue is None and farewell is not None and suicidal:
            # A final farewell is itself a hit; it needs other suicidal content beside it.
            if any(h.end <= farewell[0] or h.start >= farewell[1] for h in suicidal):
                cue = farewell
        return [cue] if cue else []


class _Context:
    """Clauses and sentences around a match, looked up locally so cost does not grow with the message."""

    def __init__(self, text: str, lo: int, hi: int, gate: "_Gate | None" = None) -> None:
        self.text, self.lo, self.hi = text, lo, hi
        self.gate = gate  # of ``text``: context finders run only the parts its words allow
        self.resolved = _RESOLVED.search(text, lo, hi, gate=gate) is not None

    def _start_after_last(self, rx: re.Pattern[str], pos: int) -> int:
        lo = max(0, pos - CONTEXT_CHARS)
        last = None
        for last in rx.finditer(self.text, lo, pos):
            pass
        return last.end() if last else lo

    def clause_before(self, pos: int) -> str:
        return self.text[self._start_after_last(_CLAUSE_BREAK, pos):pos]

    def sentence_before(self, pos: int) -> str:
        return self.text[self._start_after_last(_SENTENCE_BREAK, pos):pos]

    def previous_sentence(self, pos: int) -> str:
        """The sentence before the one around ``pos``."""
        start = self._start_after_last(_SENTENCE_BREAK, pos)
        end = start
        while end > 0 and (_SENTENCE_BREAK.match(self.text, end - 1) or self.text[end - 1].isspace()):
            end -= 1
        return self.text[self._start_after_last(_SENTENCE_BREAK, end):end] if end > 0 else ""

    def in_past(self, pos: int) -> bool:
        """Whether the sentence around ``pos`` is told in the past ("three days ago", 昨天)."""
        _, sentence = self.sentence(pos, pos)
        return bool(_RECENT_PAST.search(sentence) or _PAST.search(sentence))

    def present(self, finder: _Finder, past_ok: bool = False) -> tuple[int, int] | None:
        """The first span ``finder`` matches in this context that is neither past nor someone else's words."""
        for span in sorted(finder.finditer(self.text, self.lo, self.hi, limit=MAX_MATCHES_PER_RULE, gate=self.gate)):
            if (past_ok or not self.in_past(span[0])) and not self.reported(span[0]):
                return span
        return None

    def reported(self, pos: int) -> bool:
        """Whether ``pos`` is inside a quotation of someone else's words (她发朋友圈说“再见了这个世界”)."""
        lo = max(0, pos - CONTEXT_CHARS)
        opened = None
        for m in _QUOTE.finditer(self.text, lo, pos):
            q, i = m.group(), m.start()
            if q in "“「『":
                opened = i
            elif q in "”」』":
                opened = None
            elif q == '"':
                opened = None if opened is not None else i
            else:  # ' is a quote only at a word's edge, not inside "don't"
                before_alnum = i > 0 and self.text[i - 1].isalnum()
                after_alnum = i + 1 < len(self.text) and self.text[i + 1].isalnum()
                if not before_alnum and after_alnum:
                    opened = i
                elif before_alnum and not after_alnum and opened is not None and self.text[opened] == "'":
                    opened = None
        if opened is None:
            return False
        lead = self.text[max(0, opened - 80):opened]
        return bool(_SPEECH_BEFORE_QUOTE.search(lead)) and _subject(lead) == "other"

    def sentence(self, start: int, end: int) -> tuple[int, str]:
        """(offset, text) of the sentence around a span, at most CONTEXT_CHARS either side."""
        lo = self._start_after_last(_SENTENCE_BREAK, start)
        m = _SENTENCE_BREAK.search(self.text, end, min(len(self.text), end + CONTEXT_CHARS))
        hi = m.start() if m else min(len(self.text), end + CONTEXT_CHARS)
        return lo, self.text[lo:hi]


def _merge(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with ``spans`` replaced by spaces (same length)."""
    if not spans:
        return text
    pieces, last = [], 0
    for a, b in _merge(spans):
        pieces += [text[last:a], " " * (b - a)]
        last = b
    pieces.append(text[last:])
    return "".join(pieces)


def _negated(before: str) -> bool:
    """Whether a negator governs the phrase that follows ``before`` (same clause)."""
    breaks = list(_SCOPE_BREAK.finditer(before))
    if breaks:
        before = before[breaks[-1].end():]
    if _IS_CJK.search(before[-8:] or " "):
        window = _ZH_NOT_NEGATION.sub("", before[-8:])
        # Chinese negators sit right before what they negate (不会自杀, 没有想过).
        return bool(_ZH_NEGATION.search(window[-4:]) or _ZH_NEGATION_ADJACENT.search(window))
    window = _EN_NOT_NEGATION.sub(" ", before[-40:])
    return bool(_EN_NEGATION.search(window))


def _subject(before: str) -> str:
    """'self' or 'other': the nearest person named before the phrase; none named means the speaker."""
    if _IS_CJK.search(before[-12:] or " "):
        # The person after 被 is the agent: in 被我妈发现 the speaker is the subject.
        window, self_rx, other_rx = _ZH_AGENT.sub("被", before)[-8:], _ZH_SELF, _ZH_OTHER
    else:
        window, self_rx, other_rx = before[-60:], _EN_SELF, _EN_OTHER
    last_self = max((m.end() for m in self_rx.finditer(window)), default=-1)
    last_other = max((m.end() for m in other_rx.finditer(window)), default=-1)
    return "other" if last_other > last_self else "self"


def _cap(hit: _Hit, level: str) -> None:
    if level_index(hit.level) > level_index(level):
        hit.level = level
    hit.escalates = False


def _drop_inside(hits: list[_Hit], spans: list[tuple[int, int]]) -> list[_Hit]:
    """Drop hits lying inside any of ``spans``."""
    if not spans:
        return hits
    spans.sort()
    starts = [a for a, _ in spans]
    reach: list[int] = []  # furthest end among spans starting at or before each one
    for _, b in spans:
        reach.append(max(b, reach[-1]) if reach else b)
    keep = []
    for h in hits:
        i = bisect.bisect_right(starts, h.start) - 1
        if i < 0 or reach[i] < h.end:
            keep.append(h)
    return keep


def _drop_covered(hits: list[_Hit]) -> list[_Hit]:
    """Drop a hit lying inside a longer one of at least its level: the longer phrase says more."""
    hits = sorted(hits, key=lambda h: (h.start, -h.end))
    keep: list[_Hit] = []
    open_hits: list[_Hit] = []  # earlier hits that may still cover later ones
    for h in hits:
        open_hits = [o for o in open_hits if o.end > h.start]
        if not any(h.end <= o.end and (o.end - o.start) > (h.end - h.start) and level_index(o.level) >= level_index(h.level) for o in open_hits):
            keep.append(h)
        open_hits.append(h)
    return keep


@functools.lru_cache(maxsize=1)
def default_check() -> LexiconCheck:
    """The shared check with the default rules (it holds no state; building it takes ~15 ms, its parts compile as they are first needed)."""
    return LexiconCheck()


@hookimpl(trylast=True)
def register_safety_checks(register):
    register(default_check())
