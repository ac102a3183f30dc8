"""The basic safety screen: English and Chinese rules and lexicons (layer "rules").

This is the first, cheapest layer of screening: precompiled regular expressions
over one message, with no model. It errs towards sensitivity (a missed crisis is
worse than a counsellor checking in needlessly) but handles the common ways a
risk word appears without risk: negation, idioms, fiction and media, other
people, hypotheticals and risk that is over. Later layers (a classifier, an LLM
assessor) add their own checks; ``safety.screen`` keeps the highest level.

Levels (aligned loosely with the C-SSRS screener; categories are fixed strings):

* **imminent** - intent with a timeframe or the means at hand now ("tonight",
  "the pills are in front of me", "this is goodbye", 今晚就, 已经准备好了) next to
  suicidal content, or an attempt in progress ("I've just taken the whole bottle").
* **high** - a plan (a chosen method, a question about lethality), preparation
  (notes, stockpiled pills, final farewells), a recent attempt, stated intent
  ("I'm going to kill myself", 我要自杀), self-harm intent, intent to harm others.
* **moderate** - active suicidal ideation without a plan ("I want to kill myself",
  "I want to die", 想死, 想自杀), self-harm behaviour, wishing others dead,
  violence or threats from others against the speaker.
* **low** - passive ideation ("I wish I could just disappear", 活着没意思,
  不想醒来), talking or asking about suicide (bare mentions, other people's
  risk), verbal abuse from others; and any risk that is over ("years ago ... but
  I'm in a good place now").
* **none** otherwise.

How a match is softened, and why:

* Negated ("I would never kill myself", 我不会自杀): dropped. The negation must
  govern the phrase (same clause, just before it, not across "but"/"why"/因为).
* Idioms and hyperbole ("this deadline is killing me", 累死了, 笑死我了): masked
  before matching, so they never match at all.
* Someone else's risk ("my friend wants to die", 她有自杀倾向): low, as
  asking_about_suicide - the speaker is worried, not at risk themselves. Chinese
  often drops the subject, so a clause with no subject counts as the speaker's.
* Fiction, media and study (films, novels, essays, "suicide prevention"): none,
  but only for mentions and other people - "after the film I want to die" is
  still the speaker's own ideation.
* Hypotheticals about someone ("hypothetically, if someone...", 假如有人): low.
* Past risk: with a sign that it is resolved anywhere in the message ("but I'm
  in a good place now", 现在好多了) at most low; distant past without one
  ("when I was 15") at most moderate; recent past (a recent attempt) unchanged.

Both lexicons run on any message containing their script, whatever ``language``
says, because clients switch languages mid-message and the two sets of patterns
do not collide. Traditional Chinese is folded to Simplified, full-width forms to
ASCII and case to lower before matching, character for character, so evidence is
quoted from the original text.

Speed: every pattern is cut into parts that open with a literal, which the regex
engine can skip to quickly; a first pass finds where anything could match, and
idiom masks and context checks run only there. A 100k-character message takes
roughly 10-40 ms; at most 64 matches of one rule are considered.

To extend: pass your own ``Rule`` list (``LexiconCheck(rules=DEFAULT_RULES +
mine)``) or register another ``SafetyCheck`` - the highest level wins.
"""

from __future__ import annotations

import bisect
import functools
import logging
import re
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
    """

    category: str
    level: str
    pattern: str
    person: str = "any"

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            raise ValueError(f"unknown safety category '{self.category}'")
        level_index(self.level)
        if self.person not in ("self", "any", "other", "mention"):
            raise ValueError(f"unknown person '{self.person}' in rule {self.pattern!r}")


def _rules(category: str, level: str, person: str, *patterns: str) -> list[Rule]:
    return [Rule(category, level, p, person) for p in patterns]


# --- Normalisation ----------------------------------------------------------------
# Every replacement is one character for one, so match offsets index the original.
# The Traditional characters are those the lexicon and its context words use.

_TRAD_TO_SIMP = dict(zip(
    "殺準備傷藥樓見後遺書說這個沒過會為來與從時經絕們麼還對著裡開電應歲學覺實殘劃聽讓給臨別計畫醫囑農燒繩橋顆願錯點兒"
    "現頭話讀關於劇視聞報導論題寫課氣熱餓無難嚇煩醜萬離種盡厭滅媽親長師體動憂鬱結東車淨壓滿輕誰進處發問腦將斷邊陽臺臉"
    "夢懷輩雙爾麗樂歡戀愛隨強騷擾罵護獲認識狀態傾衝該樣條試嘗嚐嗎選擇鐘脈劑緒極慮療癒禮歷隻幾億",
    "杀准备伤药楼见后遗书说这个没过会为来与从时经绝们么还对着里开电应岁学觉实残划听让给临别计画医嘱农烧绳桥颗愿错点儿"
    "现头话读关于剧视闻报导论题写课气热饿无难吓烦丑万离种尽厌灭妈亲长师体动忧郁结东车净压满轻谁进处发问脑将断边阳台脸"
    "梦怀辈双尔丽乐欢恋爱随强骚扰骂护获认识状态倾冲该样条试尝尝吗选择钟脉剂绪极虑疗愈礼历只几亿",
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
]
_ZH_IDIOMS = [
    # Adjective + 死 as "extremely": 累死了, 热死了, 气死我了, 笑死, 烦得要死, 吓个半死.
    r"(?:累|热|冷|饿|渴|困|忙|烦|气|笑|吓|急|闷|晒|撑|痛|疼|苦|难受|无聊|丑|笨|蠢|臭|吵|挤|懒|美|帅|爽|萌|可爱|羡慕|嫉妒|"
    r"开心|高兴|恨|怕|紧张|尴尬|恶心|麻烦|讨厌|心疼|馋|忙活|折腾|憋|郁闷|冻|捂|酸|辣|咸|甜|香|胖|瘦|穷|难看|难吃|难听|"
    r"想你想|可怜|倒霉|担心|着急)"
    r"(?:得要|得快要?|得|个半|个)?死(?:了|我了|人了|啦|掉了|人|我|你了|你)?",
    r"想死(?:你们?|您|他们?|她们?|它)(?:了|啦)?|想死我(?:了|啦)",  # "miss you to death"
    # 死 in words that are not about dying; none of them ends a risk phrase (想死心 would).
    r"死(?:党|心眼|心塌地|心了|机|角|板|胡同|记硬背|磕|宅|忠|皮赖脸|性不改|不承认|活不|定了|鬼|对头|缠烂打|里逃生|气沉沉|循环)",
    r"生活不下去|要死不活|要死要活|死去活来|生不如死|半死不活|往死里(?:学|练|吃|喝|干|卷)|生死(?:攸关|之交|与共)|笑死",
    r"(?:杀|砍)(?:价|毒|菌|虫|时间|青|手锏)|杀(?:马特|疯了)|秒杀|抹杀|扼杀|自杀式(?:袭击|攻击)?",
]


# --- The lexicon --------------------------------------------------------------------
# Patterns run on normalised text (lower case, Simplified). English ones use \b;
# Chinese ones are bounded by clause punctuation via [^，。！？...] where needed.

_I = r"\bi(?:'m| am|'ve| have|'d| would|'ll| will)?"  # the speaker as subject
_ADV = r"(?:(?:really|just|honestly|seriously|sometimes|often|still|actually|literally|kind of|kinda|so|truly|always|totally|genuinely) )*"
_NC = r"[^，。！？；,.!?;\n]"  # any character inside a clause

_EN_METHOD = (
    r"(?:jump(?:ing)? (?:off|from|in front of)|hang(?:ing)? myself|shoot(?:ing)? myself|overdos(?:e|ing)|"
    r"slit(?:ting)? my wrists?|cut(?:ting)? my wrists?|drown(?:ing)? myself|poison(?:ing)? myself|"
    r"throw(?:ing)? myself|step(?:ping)? in front of|take (?:all|the rest) of my (?:pills|meds)|"
    r"take all (?:my|the|of my) (?:pills|meds|tablets)|gas(?:sing)? myself|crash(?:ing)? my car|"
    r"(?:take|swallow) (?:them|these|those) all|(?:take|swallow) (?:the )?(?:whole|entire) (?:bottle|packet|box))"
)
_ZH_METHOD = r"(?:跳楼|跳河|跳江|跳海|跳桥|跳湖|跳崖|跳轨|卧轨|上吊|吊死自己|割腕|割脉|烧炭|喝农药|吃农药|喝敌敌畏|吞药|服毒|吃安眠药|吞安眠药|开煤气|跳下去|从楼上跳|安乐死)"
_ZH_MEANS_WORD = r"(?:药|片|颗|粒|楼|跳|割|农药|安眠药|煤气|炭|绳|河|海|刀|血)"

EN_RULES: list[Rule] = [
    # Attempt in progress: imminent.
    *_rules("suicide_attempt", "imminent", "self",
            rf"{_I} (?:just |already )+(?:took|taken|swallowed|downed|drank|drunk) (?:all|the whole|a whole|an entire|the entire|a bunch of|a handful of|too many|\d{{2,}}|dozens of|every one of|the rest of)\b(?: [\w']+){{0,4}}",
            rf"{_I} (?:just |already )*(?:took|taken|swallowed|drank|drunk) (?:some |the )?(?:bleach|poison|antifreeze|rat poison|weedkiller|pesticide)",
            rf"{_I} (?:just |already )+(?:overdosed|od'd|cut (?:too )?deep|slit my wrists?)",
            r"\bi(?:'m| am) (?:overdosing|bleeding out)\b",
            r"\b(?:the )?(?:rope|noose) is (?:around|on) my neck\b",
            r"\b(?:the )?gun is (?:to|against|at) my head\b"),
    # Recent attempt: high.
    *_rules("suicide_attempt", "high", "self",
            rf"{_I} (?:tried|attempted|tried again) to (?:kill myself|end (?:my life|it all)|take my (?:own )?life|commit suicide|hang myself|overdose|die)\b",
            rf"{_I} (?:tried|attempted) suicide\b",
            r"\bi (?:overdosed|od'd|took an overdose)\b",
            r"\b(?:my|a|the) (?:(?:last|first|second|third|recent) )?suicide attempt\b",
            r"\bsurvived (?:my|an|a|the) (?:suicide )?attempt\b",
            r"\bi (?:almost|nearly) (?:killed myself|died by suicide|jumped|hanged myself|overdosed)\b",
            r"\bstomach pumped\b"),
    *_rules("suicide_attempt", "low", "other",
            r"\b(?:he|she|they|friend|brother|sister|mom|mum|dad|son|daughter|wife|husband|partner|boyfriend|girlfriend) (?:tried|attempted) (?:to kill (?:himself|herself|themselves)|suicide)\b"),
    # Preparation: high.
    *_rules("suicide_preparation", "high", "self",
            r"\b(?:suicide|goodbye|farewell) (?:note|letter|message|video)s?\b",
            r"\bgiv(?:e|en|ing) away (?:all )?(?:of )?my (?:stuff|things|belongings|possessions|pets?)\b",
            r"\b(?:stockpil|hoard|sav|collect)(?:e|ed|ing) (?:up )?(?:my |some |all )?(?:pills|meds|medication|tablets|sleeping pills)\b",
            r"\b(?:said|saying) (?:my )?(?:final |last )?goodbyes\b",
            r"\bi(?:'m| am) ready to (?:die|go|end it)\b",
            r"\b(?:getting|got|put|putting) my affairs in order\b",
            r"\bgoodbye (?:forever|world|cruel world|everyone forever)\b",
            r"\bthis is my (?:last|final) (?:message|post|goodbye|words|note|text)\b",
            r"\bby the time (?:you|anyone|someone) (?:read|reads|see|sees|find|finds) this\b",
            r"\b(?:won't|will not|wont) be (?:here|around|alive) (?:tomorrow|much longer|by morning|anymore)\b"),
    # Plan: a chosen method, research, or a question about lethality. High.
    *_rules("suicide_plan", "high", "self",
            r"\b(?:a|my|the) (?:suicide )?plan (?:to|for|of how to) (?:kill myself|end (?:it|my life)|die|take my (?:own )?life|do it)\b",
            rf"{_I} (?:planned|worked out|figured out|decided|chosen|picked) (?:how|when|where|the (?:date|day|way|method)) (?:to |i(?:'ll| will| would|'d) )?(?:do it|kill myself|end it|die)?",
            r"\bi know (?:exactly )?how i(?:'d| would| will|'ll) do it\b",
            rf"\b(?:i(?:'m| am)? )?(?:going to|gonna|will|'ll|about to|want to|wanna|plan to|planning to) {_EN_METHOD}",
            r"\b(?:going to|gonna|about to|ready to) jump\b(?! (?:in|into|on|at|up|rope|start|ahead|ship|the gun|to conclusions)\b)",
            rf"\b(?:thinking|thought|think|thinking a lot|considering|considered) (?:about |of )?{_EN_METHOD}",
            r"\b(?:looked up|googled|researched|researching|searched|searching for) (?:how to (?:kill myself|die|overdose|hang myself)|ways to (?:die|kill myself)|suicide methods|lethal doses?)\b",
            r"\bhow (?:many|much) [^.?!\n]{0,40}(?:to (?:die|kill (?:myself|yourself|a person|someone|me)|overdose|be (?:fatal|lethal)|od)|would (?:kill|be (?:fatal|lethal)))",
            r"\b(?:lethal|fatal) (?:dose|amount|overdose)\b",
            r"\b(?:painless|quickest|fastest|easiest|best|surest|quick|quiet|peaceful|least painful|most effective) (?:way|ways|method|methods) (?:to|of) (?:die|dying|kill myself|killing myself|end (?:it|my life)|commit(?:ting)? suicide|suicide|go)\b",
            r"\bhow (?:to|do i|can i|would i|should i|could i) (?:kill myself|commit suicide|end my life|end it all|die without pain|die painlessly)\b",
            r"\bhow long (?:does|would|will|did) it take to (?:die|bleed out|drown|suffocate)\b"),
    # Stated intent is more than ideation (C-SSRS item 4): high, category active ideation.
    *_rules("active_suicidal_ideation", "high", "self",
            rf"{_I} {_ADV}(?:going to|gonna|about to|will|'ll|decided to|have decided to|'ve decided to) {_ADV}(?:kill myself|end (?:my life|it all)|take my (?:own )?life|commit suicide|die by suicide)\b",
            r"\bi(?:'ve| have) decided to (?:die|end it)\b"),
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
            r"\b(?:urge|urges|impulse|impulses) to (?:kill myself|die|end it)\b"),
    *_rules("asking_about_suicide", "low", "other",
            r"\bkill(?:s|ed|ing)? (?:himself|herself|themselves|yourself)\b",
            r"\b(?:he|she|they|you) (?:is|are|was|were|'s|'re|seems?) (?:feeling )?suicidal\b",
            r"\bcommitted suicide\b"),
    # Passive ideation: low.
    *_rules("passive_suicidal_ideation", "low", "self",
            r"\bwish (?:i|i'd) (?:could |would |had )?(?:just )?(?:disappear|vanish|not wake up|never wake up|die|be dead|was dead|were dead|had never been born|never been born|was never born|wasn't born|weren't born|sleep forever|didn't exist|wasn't here|wasn't alive|not exist|stop existing|cease to exist|fall asleep and never wake up)\b",
            r"\bwhat(?:'s| is) the (?:point|use) (?:of|in) (?:living|life|being alive|going on|existing|me being here|my life|even trying to live)\b",
            r"\bno (?:reason|point) (?:to|in) (?:live|living|go on|going on|be alive|being alive|keep living|exist|existing)\b",
            r"\b(?:don't|do not|dont) (?:really |even )?want to (?:live|be alive|exist|be here anymore|wake up|go on|keep living)\b",
            r"\bnot sure (?:i|if i) want to (?:live|be alive|go on|keep living)\b",
            r"\b(?:tired|sick) of (?:living|life|being alive|existing)\b",
            r"\b(?:better off|be better) (?:dead|without me)\b",
            r"\b(?:can't|cannot|can not|cant) (?:go on|keep going|carry on|keep) (?:living|anymore)\b",
            r"\blife (?:isn't|is not|ain't|isnt) worth living\b",
            r"\bnot worth living\b",
            r"\bhate being alive\b",
            r"\b(?:don't|do not|dont) care (?:if|whether) i (?:die|live|wake up|don't wake up)\b",
            r"\bhope i (?:don't|never|do not) wake up\b",
            r"\bwant to (?:just )?(?:disappear|vanish|sleep forever|stop existing|not exist|not be here)\b",
            r"\b(?:go|fall) to sleep and (?:never|not) wake up\b",
            r"\b(?:nobody|no one|noone) would (?:care|notice|miss me) if i (?:died|was gone|were gone|disappeared|wasn't here|weren't here)\b",
            r"\bwish (?:it|everything) would (?:all )?(?:end|stop)\b",
            r"\b(?:i would|i'd|id) rather (?:be dead|not exist|not be alive|die)\b",
            r"\bwish i (?:was|were) dead\b"),
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
            r"\bmy (?:cuts|self[- ]?harm scars|scars from cutting)\b"),
    *_rules("asking_about_suicide", "low", "mention",
            r"\bsuicid(?:e|es|al|ality)\b",
            r"\bself[- ]?harm(?:ing)?\b",
            r"\bkill(?:ing)? (?:oneself|themself)\b"),
    # Aggression.
    *_rules("aggression_to_others", "high", "self",
            rf"\bi(?:'m| am|'ll| will)? {_ADV}(?:want|wanna|going|gonna|plan|planning|intend|about) (?:to )?(?:kill|hurt|stab|shoot|murder|strangle|beat up|attack|poison|choke) (?:him|her|them|you|someone|somebody|people|everyone|everybody|all of (?:them|you)|my \w+|the \w+|that \w+|those \w+)\b",
            r"\bi(?:'ll| will) (?:kill|murder|stab|shoot|hurt) (?:you|him|her|them)\b",
            r"\b(?:thoughts|urges?|fantasies|fantasizing|fantasising|thinking) (?:of|about|to) (?:killing|hurting|stabbing|shooting|murdering|strangling|kill|hurt|stab|shoot|murder) (?:him|her|them|someone|somebody|people|others|my \w+)\b",
            r"\bshoot up (?:the|my|a) (?:school|office|workplace|class|mall)\b"),
    *_rules("aggression_to_others", "moderate", "self",
            r"\bi hope (?:he|she|they|you|it|my \w+) (?:dies|die|rots?|gets? (?:hit|killed))\b",
            r"\b(?:go|just go|just|should|please) (?:die|kill yourself|kill urself)\b",
            r"\bkys\b",
            r"\bdrop dead\b",
            r"\bwish (?:he|she|they|you|my \w+) (?:was|were) dead\b",
            r"\b(?:he|she|they|you) deserves? to die\b"),
    *_rules("aggression_from_others", "moderate", "self",
            r"\b(?:he|she|they|someone|somebody|people|kids|my (?:partner|husband|wife|boyfriend|girlfriend|dad|father|mom|mum|mother|stepdad|stepfather|stepmom|stepmother|brother|sister|boss|ex|uncle|teacher|coach|parents)) (?:\w+ )?(?:hits|hit|beats|beat|punches|punched|kicks|kicked|slaps|slapped|chokes|choked|strangles|strangled|abuses|abused|rapes|raped|molests|molested|assaults|assaulted|threatens|threatened|hurts|burns|burned|touches|touched) me\b",
            r"\bthreaten(?:s|ed|ing)? to (?:kill|hurt|beat|stab|shoot) me\b",
            r"\b(?:said|says) (?:he|she|they)(?:'d| would| will|'ll) kill me\b",
            r"\b(?:i am|i'm|i was|i've been|i have been|keep getting|being) (?:being )?(?:abused|beaten|beaten up|raped|molested|assaulted|bullied|threatened|stalked|trafficked|sexually abused)\b",
            r"\btold me to (?:go )?(?:kill myself|die|drop dead)\b"),
]

ZH_RULES: list[Rule] = [
    # Attempt in progress: imminent.
    *_rules("suicide_attempt", "imminent", "self",
            rf"(?:刚|刚刚|刚才|已经)(?:吃|吞|服|喝)(?:了|下|掉)(?:一整瓶|整瓶|一瓶|一大把|一把|全部|所有的?|好多|很多|大量|\d{{2,}}|几十|[二三四五六七八九两几]十){_NC}{{0,6}}(?:药|片|颗|粒)",
            r"(?:刚|刚刚|刚才|已经)(?:吃|吞|服|喝)(?:了|下)(?:农药|百草枯|老鼠药|敌敌畏|毒药|安眠药)",
            r"(?:刚|刚刚|刚才|已经)(?:割|划)(?:了|开|破)?(?:手腕|腕|动脉|脉)",
            r"绳子?(?:已经)?(?:套在|在)(?:我的?)?脖子上"),
    # Recent attempt: high.
    *_rules("suicide_attempt", "high", "any",
            r"自杀未遂|自杀过|自杀了?[一二三两几\d]次|有过自杀(?:行为|经历)",
            r"(?:试|尝试)(?:过|着|了)?(?:去)?(?:自杀|去死|结束(?:自己的?)?生命)",
            r"没死成|没死掉|死了?[一二三两几\d]次(?:都)?没死",
            r"被(?:送(?:到|去|进)?医院)?抢救|洗胃",
            r"差点(?:就)?(?:死了|杀死自己|杀了自己|自杀|跳(?:下去|楼|河|海)|割腕)",
            rf"(?:吃|吞|服)(?:了)?(?:很多|好多|一瓶|一把|大量|一整瓶|\d+){_NC}{{0,6}}(?:自杀|想死|去死)",
            r"(?:吃|吞|服)药自杀",
            rf"(?:吃|吞|服|喝)了{_NC}{{0,10}}(?:药|片|颗|粒|农药){_NC}{{0,4}}[，,]?(?:会不会死|会死吗|能死吗|会死么|会不会有事)"),
    # Preparation and final farewells: high.
    *_rules("suicide_preparation", "high", "any",
            r"准备(?:去|好)?(?:自杀|去死|结束(?:自己的?)?生命)",
            r"(?:写|留|准备)(?:好|了|下)?(?:了)?(?:一封)?(?:遗书|遗言)|遗书(?:已经)?写好",
            r"交代(?:好)?后事",
            rf"(?:攒|囤|存)(?:了|着)?{_NC}{{0,4}}(?:安眠药|药片|药)",
            rf"(?:买|准备)(?:好|了)?(?:了)?(?:绳子|安眠药|木炭|炭|农药|刀片){_NC}{{0,4}}(?:自杀|去死|结束)",
            r"(?:再见了?|永别了?|告别)(?:这个|这)?世界|永别了|下辈子(?:再)?见|来生再见",
            r"这是我(?:的)?最后(?:一条|一次|的)?(?:消息|留言|一句话|的话)"),
    # Plan: a named method, a decision, or a lethality question. High.
    *_rules("suicide_plan", "high", "any",
            rf"(?:想|要|打算|准备|计划|决定|想要|好想|想去|去|真想)(?:去|来个|来一个|用)?{_ZH_METHOD}",
            rf"{_ZH_METHOD}(?:的)?(?:想法|念头|冲动)|{_ZH_METHOD}(?:去死|自杀)",
            r"死法|(?:死|死去|死掉|自杀)(?:的|有)?(?:好|哪些|什么|快的|一种|好的)?(?:方法|方式|办法)|(?:快速|慢慢|彻底|无痛|不痛苦|没有痛苦|毫无痛苦|轻松|安静)(?:地|的)?(?:死|死亡|死掉|自杀)",
            rf"(?:怎么|怎样|如何)(?:样)?(?:才能|可以|能|让自己)?{_NC}{{0,6}}?(?:死掉|死亡|自杀|死)(?!的|了)",
            r"约(?:人)?(?:一起)?(?:死|自杀|烧炭)|一起(?:去)?(?:自杀|烧炭)",
            r"计(?:划|画)(?:自杀|死亡|去死|结束)",
            r"(?:想好|决定好|选好|定好)(?:了)?(?:怎么死|死法|自杀的?(?:时间|地点|方式|方法)|去死的?(?:时间|日子))",
            r"(?:什么|哪种|怎样的?|最好的?|无痛的?|不痛的?|没有痛苦的?|不痛苦的?|最轻松的?|轻松的?|快速的?|最快的?)(?:的)?(?:死法|自杀方式|自杀方法|方式(?:去)?死|方法(?:去)?死)",
            r"(?:怎么|怎样|如何)(?:才能)?(?:自杀|去死)|(?:怎么|怎样|如何)(?:才能)?死(?:才|会|得)?(?:不痛|快|没有痛苦|比较快|舒服|彻底|干净)",
            rf"致死量|(?:多少|几)(?:片|颗|粒|克|毫克|mg|瓶){_NC}{{0,6}}(?:会|能|可以)?(?:致死|死)",
            r"死得(?:快|透|彻底|干脆|干净)|(?:会|能)死(?:得)?(?:透|彻底)|多久(?:会|能|才)?死",
            rf"{_ZH_MEANS_WORD}{_NC}{{0,12}}(?:会|能|可以)(?:不会|不能)?(?:瞬间|直接|马上)?(?:死|死亡|致死)(?:吗|么|嘛|吧|呢|掉吗)"),
    # Stated intent: high.
    *_rules("active_suicidal_ideation", "high", "any",
            r"(?:我要|我决定|决定|我打算|打算)(?:去)?(?:自杀|去死|结束(?:自己的?|我的)?生命|了结自己)"),
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
            r"(?:就|要|去|会)(?:去)?(?:自杀|自尽|轻生)"),
    # Passive ideation: low.
    *_rules("passive_suicidal_ideation", "low", "any",
            r"活着(?:真|好|太|也|都)?(?:没|没有)(?:什么)?(?:意思|意义|希望|盼头)|活着(?:有|还有)?什么(?:意思|意义|用)",
            r"不(?:想|要)(?:再)?(?:这样)?活(?:了|下去|着)?(?!得)",
            r"活不下去|(?:不知道|不知)(?:该)?怎么(?:继续)?活下去",
            r"(?:找不到|没有)(?:活下去|活着)的(?:理由|意义|动力|勇气|信念)",
            r"不想(?:再)?醒(?:来|过来)|一(?:睡|觉)不醒|(?:睡着了?|睡过去)(?:就)?(?:不要|别|不|再也不)(?:再)?醒",
            r"(?:希望|宁愿|但愿|真希望)(?:我)?(?:自己)?(?:能|可以)?(?:从来)?(?:没有出生|没出生|没被生下来|消失|死掉|死了|不存在|不在了)",
            r"想(?:要)?消失|消失(?:就好|算了|掉就好)",
            r"死了(?:就)?(?:算了|解脱|一了百了|好了)|死掉(?:就)?(?:好了|算了)|(?:还)?不如死(?:了|掉)?(?:算了)?|一了百了",
            r"生无可恋|渴望死亡|向往死亡|死亡(?:是|很)?(?:一种)?(?:美好|美丽|解脱)",
            r"不想(?:再)?存在|活够了|宁(?:可|愿)(?:就|去)?死",
            r"死(?:了|掉|亡)?(?:才|就|会|也)?(?:能|可以)?(?:轻松|解脱|摆脱|不难受|不痛苦|一了百了|好了)|只有(?:我)?死(?:了|掉)?(?:才|就)",
            r"死亡(?:比活着|真好|更好)|早死(?:好|算了|早超生)|我死了(?:是不是|会不会|就|他们|大家|世界|对)",
            r"活着(?:好|太|真|很)?(?:累|痛苦)"),
    # Self-harm.
    *_rules("self_harm_intent", "high", "any",
            r"想(?:过|到|着)?(?:要)?(?:去)?(?:自残|自伤|伤害自己|割(?:自己|手|腕|手腕)|划(?:自己|手|伤自己)|打自己|扇自己|伤自己|虐待自己|惩罚自己)",
            r"自残的?(?:冲动|念头|想法|欲望)|忍不住(?:想)?(?:自残|割|划)"),
    *_rules("self_harm_behavior", "moderate", "any",
            r"自残|自伤|自虐",
            r"(?:割|划)(?:伤|破)?(?:了)?(?:自己|手腕|手臂|胳膊|大腿|腕|手)|割腕|割手|划手",
            r"(?:扇|抽|掐|咬|烫|烧)(?:了)?自己(?:的)?(?:耳光|巴掌|脸|头|手)?|打自己(?:的)?(?:耳光|巴掌|头)",
            r"(?:用|拿)?头撞墙|伤害(?:了)?自己(?!或|和|及|与|的人)|烟头烫|割(?:下去|了一刀|了几刀)"),
    *_rules("asking_about_suicide", "low", "mention",
            r"自杀|轻生|寻死|自尽|跳楼|安乐死|遗书"),
    # Aggression.
    *_rules("aggression_to_others", "high", "self",
            r"想(?:要)?(?:去)?(?:杀|砍|捅|弄死|打死|杀死|杀掉|掐死|毒死|报复)(?:了|死|掉)?(?:他|她|他们|她们|你|你们|人|所有人|全家|别人|全人类|人类|(?:我的?)?(?:老公|老婆|丈夫|妻子|领导|父母|爸|妈|同学|同事|老师|室友|老板|男朋友|女朋友|孩子))",
            rf"想(?:要)?把{_NC}{{1,10}}(?:杀|砍|剁|捅|掐|打|弄|毒|烧)(?:死|了|掉)",
            r"杀人的?(?:冲动|念头|想法|欲望)|报复社会|同归于尽",
            r"(?:拿|带|握)(?:着)?刀(?:去)?(?:找|砍|杀|捅)",
            r"杀了?(?:你|他|她|他们|你们)(?:全家)?"),
    *_rules("aggression_to_others", "moderate", "self",
            rf"(?:你|你们|他|她|他们|她们|全家){_NC}{{0,4}}(?:去死|死光|死绝|不得好死|死全家|都得死|快点死|早点死)",
            r"去死吧|死全家|不得好死",
            rf"(?:希望|恨不得|巴不得|想让|想|让|盼着|但愿)(?:他|她|他们|她们|你|你们|别人|所有人){_NC}{{0,4}}(?:去)?死"),
    *_rules("aggression_from_others", "moderate", "self",
            r"(?:打|揍|扇|踢|掐|虐待|家暴|性侵|猥亵|强奸|威胁|侵犯|性骚扰|霸凌|欺凌|殴打|暴打)(?:了|过)?我(?!电话|手机|的电话|的手机)",
            rf"被{_NC}{{0,4}}?(?:暴打|殴打|毒打|揍|虐待|家暴|性侵|猥亵|强奸|性骚扰|霸凌|欺凌|扇(?:了)?(?:一|几|两)?(?:个)?(?:耳光|巴掌|脸))",
            rf"被{_NC}{{0,4}}?打(?:了|伤|得|过)",
            r"(?:让|叫|要|逼)我(?:去)?死|说我怎么不去死",
            r"(?:要|想|说要|威胁要?)(?:把我)?(?:杀|砍|打|弄|掐)(?:了|死)我|把我(?:往死里)?(?:打|砍|杀|掐|弄)(?:死|伤)|往死里(?:打|骂)",
            r"以死相逼|(?:拿|用)(?:自己的)?(?:命|生命|死)(?:来)?(?:威胁|逼)"),
    *_rules("aggression_from_others", "low", "self",
            r"(?:辱骂|谩骂|折磨|羞辱)我|语言暴力|冷暴力"),
]

DEFAULT_RULES: tuple[Rule, ...] = (*EN_RULES, *ZH_RULES)


# --- Fast matching ----------------------------------------------------------------
# Python's regex engine skips quickly through text only to a pattern's literal first
# characters; a pattern opening with \b, an optional word or an alternation of
# differently-shaped branches is tried at every position instead, about a
# millisecond per 100k characters each. So each rule is cut into literal-led parts.

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
    """One alternative, compiled so the regex engine can skip ahead to its first characters."""

    __slots__ = ("regex", "word_start", "cjk")

    def __init__(self, pattern: str, word_start: bool) -> None:
        self.regex = re.compile(pattern)
        self.word_start = word_start
        self.cjk = _IS_CJK.search(pattern) is not None

    @classmethod
    def parts_of(cls, pattern: str) -> list["_Part"]:
        parts = []
        for alt in _split_alternatives(pattern):
            # A leading \b hides the literal prefix the engine uses to skip through
            # text, so it is dropped here and checked by hand in finditer.
            word_start = _WORD_START.match(alt) is not None
            for expanded in _expand_leading(alt[2:] if word_start else alt):
                parts.append(cls(expanded, word_start))
        return parts

    def finditer(self, text: str, pos: int, endpos: int) -> Iterator[tuple[int, int]]:
        search = self.regex.search
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


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


class _Finder:
    """Several patterns searched as one, each cut into literal-led parts."""

    def __init__(self, *patterns: str) -> None:
        self.parts = [part for p in patterns for part in _Part.parts_of(p)]

    def finditer(self, text: str, pos: int = 0, endpos: int | None = None, *, limit: int | None = None) -> Iterator[tuple[int, int]]:
        """Spans matched by any part (in part order, not text order); ``limit`` per part."""
        endpos = len(text) if endpos is None else endpos
        for part in self.parts:
            yield from islice(part.finditer(text, pos, endpos), limit)

    def search(self, text: str, pos: int = 0, endpos: int | None = None) -> tuple[int, int] | None:
        """The earliest span matched by any part, or None."""
        endpos = len(text) if endpos is None else endpos
        best = None
        for part in self.parts:
            span = next(part.finditer(text, pos, endpos), None)
            if span is not None and (best is None or span < best):
                best = span
        return best


# --- Context cues -----------------------------------------------------------------


def _cx(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns))


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
_ZH_OTHER = re.compile(
    r"他|她|它|你|您|妈|爸|母亲|父亲|哥|姐|弟|妹|儿子|女儿|孩子|小孩|朋友|同学|室友|同事|老公|老婆|丈夫|妻子|男友|女友|"
    r"闺蜜|亲戚|家人|对方|他人|某人|主角|角色|人物|别人|有人|人们|学生|学妹|学弟|学姐|学长|患者|来访者|病人|宝宝|老师|网友|邻居|作者|"
    r"演员|明星|歌手|爷爷|奶奶|外婆|外公|叔叔|阿姨|表妹|表哥|表姐|表弟|领导|上司|老板")

_MEDIA = _cx(
    # Words that rarely describe the speaker's own life; "story" or "class" alone would.
    r"\b(?:movies?|films?|novels?|tv|characters?|protagonist|lyrics|video games?|poems?|poetry|anime|manga|"
    r"documentar(?:y|ies)|articles?|news|headlines?|essays?|papers?|thesis|dissertation|research|study|studies|"
    r"statistics|stats|rates|lectures?|presentation|podcast|prevention|awareness|campaign|training|workshop|seminar|"
    r"fiction|author|script|hamlet|romeo|juliet)\b",
    r"\b(?:in|from) (?:the|a|this|that) (?:story|show|game|play|series|episode|scene|book|song)\b",
    r"电影|电视剧|剧里|剧中|小说|动漫|动画|漫画|游戏里|歌词|这首歌|新闻|报道|文章|论文|作文|研究|统计|数据|"
    r"讲座|预防|干预|科普|宣传|培训|主角|角色|剧情|书里|书中|纪录片|案例",
)
_HYPOTHETICAL = _cx(
    r"\b(?:hypothetical(?:ly)?|what if (?:someone|somebody|a person|people)|if (?:someone|somebody|a person|a friend|people)|"
    r"suppose|supposing|imagine (?:if|that|someone)|let's say|in theory|if i ever)\b",
    r"假如|假设|如果有人|要是有人|假若|比如说有人",
)
_PAST = _cx(
    r"\b(?:years ago|a long time ago|long ago|used to|in the past|back then|back in|at one point|previously|as a (?:kid|teen|teenager|child)|"
    r"when i was|in (?:high )?school|in college|last year)\b",
    r"以前|曾经|过去|之前|那时候?|当时|当年|很久以前|年前|小时候|上学的?时候|(?:高中|初中|大学|小学)(?:的)?时候?",
)
_DISTANT_PAST = _cx(
    r"\b(?:\w+ years ago|a long time ago|long ago|as a (?:kid|teen|teenager|child)|when i was (?:younger|little|small|a (?:kid|child|teen|teenager)|in (?:high )?school|in college|\d+)|in high school|back in (?:19|20)\d\d)\b",
    r"(?:几|\d+|[一二三四五六七八九十两]+)年前|很久以前|小时候|当年|上学的?时候|(?:高中|初中|大学|小学)(?:的)?时候?",
)
_RESOLVED = _Finder(
    r"\b(?:i'm|i am|im) (?:now )?(?:in a (?:good|better|much better|great|healthy|safe) place|doing (?:much |a lot |so much |way )?(?:better|well|fine|okay|ok|great)|"
    r"(?:much |a lot |so much |way )?better now|fine now|ok(?:ay)? now|safe now|happy now|over (?:it|that)|past (?:it|that)|recovered)\b",
    r"\b(?:got|gotten|getting) (?:better|help|through it)\b",
    r"\b(?:not anymore|no longer|not any more)\b",
    r"\bhaven't (?:felt|thought|had)(?: \w+){0,3} (?:since|in years)\b",
    r"\b(?:that's|it's) (?:all )?(?:behind me|in the past)\b",
    r"\b(?:these days|now) i(?:'m| am) (?:good|fine|happy|ok|okay|better|well|doing well)\b",
    r"\bglad i(?:'m| am) (?:still )?(?:here|alive)\b",
    r"现在(?:已经|都|挺|很|好|也)?(?:好多了|好了|好很多|很好|挺好|没事了?|不会了|不这么想了|走出来了|康复|过得(?:很|挺)?好|很开心|很幸福)",
    r"已经(?:走出来|康复|好了|好多了|过去了|不再)|不再(?:想|有)|早就(?:好了|走出来|过去了|不这么想)|都过去了",
)
# Escalators: they never raise anything on their own, only next to suicidal content.
_TIMEFRAME = _cx(
    r"\b(?:tonight|right now|this (?:evening|afternoon)|in (?:a few|an|the next|a couple of) (?:minutes?|hours?)|"
    r"before (?:the )?(?:morning|sunrise)|when everyone(?:'s| is) asleep|(?:today|tomorrow|tonight) is the (?:day|night))\b",
    r"\b(?:myself|die|it all|my life|it|do it) (?:now|today|tomorrow)\b",
    r"今晚|今夜|今天(?:就|晚上)|明天就|现在就|就现在|现在(?:准备|马上)|马上|立刻|立即|等(?:一)?会儿?就|一会儿就|待会儿?就|这就|此刻",
)
_MEANS_AT_HAND = _Finder(
    r"\b(?:pills|tablets|rope|noose|gun|knife|blade|razor|bottle|meds)\b[^.!?\n]{0,20}\b(?:is|are)\b[^.!?\n]{0,10}(?:in front of me|right here|here|next to me|beside me|in my hand|ready|loaded|with me)\b",
    r"\b(?:holding|have|got|bought) (?:the|a|my|some) (?:gun|rope|charcoal|poison)\b",
    r"\bi(?: have|'ve got| got) (?:the |my |some |all (?:the |my )?)?(?:pills|tablets|meds) (?:here|with me|right here|in front of me|ready)\b",
    r"\b(?:holding|bought) (?:the|a|my|some) (?:knife|blade|razor|pills)\b",
    r"\b(?:standing|sitting|i'm|i am) (?:on|at) (?:the )?(?:edge|ledge|roof|rooftop|bridge|cliff|railway|tracks|platform edge)\b",
    r"\bloaded (?:the |my )?gun\b|\btied (?:the|a) (?:rope|noose)\b",
    r"(?:药|安眠药|刀|刀片|绳子?|农药|炭)(?:就|已经)?(?:在|放在|摆在)(?:我)?(?:的)?(?:面前|手上|手里|手边|身边|旁边|桌上|眼前)",
    r"手(?:里|上)(?:拿着|握着|攥着)(?:刀|药|刀片|绳)",
    r"(?:站在|坐在|爬上|到了)(?:楼顶|天台|窗台|窗边|桥上|楼边|阳台边|河边|江边|海边|顶楼)",
    r"已经准备好了|(?:都|一切都?)准备好了|(?:买|准备)(?:好|了)(?:了)?(?:绳子|安眠药|木炭|炭|农药|刀片)|绳子(?:已经)?(?:挂|系|绑)好",
)
# A farewell makes suicidal content imminent; with plain distress ("I can't take it
# anymore. This is goodbye.") it is read as a final message too.
_FAREWELL = _Finder(
    r"\bthis is goodbye\b|\bgoodbye (?:everyone|all|guys|forever|world)\b|\bsaying goodbye\b|\bi love you all\b|\bsorry for everything\b",
    r"再见了|永别|对不起大家|再见(?:了)?(?:这个)?世界",
)
_DISTRESS = _Finder(
    r"\b(?:can't|cannot|can not) (?:take|do|handle|bear|stand) (?:it|this) any ?more\b|\bi(?:'m| am) done\b|\bcan't go on\b",
    r"撑不下去|受不了了|坚持不下去|熬不下去|撑不住了",
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

    def __init__(self, rules: Iterable[Rule] | None = None) -> None:
        self.rules: tuple[Rule, ...] = tuple(DEFAULT_RULES if rules is None else rules)
        self._finders = [(rule, _Finder(rule.pattern)) for rule in self.rules]
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
        scripts = {False: _HAS_LATIN.search(norm) is not None, True: _IS_CJK.search(norm) is not None}
        parts = [(rule, part) for rule, finder in self._finders for part in finder.parts if scripts[part.cjk]]

        # Pass 1, on the unmasked text: where could anything match, and which parts?
        # Idioms are then masked only there, and pass 2 reruns only those parts, so a
        # long message costs about one quick scan. (Masking blanks text, so it can
        # only remove matches, never create them.)
        matched, spans = [], []
        for rule, part in parts:
            found = list(islice(part.finditer(norm, 0, n), MAX_MATCHES_PER_RULE))
            if found:
                matched.append((rule, part))
                spans += found
        farewell = _FAREWELL.search(norm)
        if farewell:
            spans.append(farewell)
        if not spans:
            return RiskAssessment(layer=self.layer)
        windows = _merge((max(0, a - MAX_MATCH_CHARS), min(n, b + MAX_MATCH_CHARS)) for a, b in spans)
        masked = _blank(norm, [span for a, b in windows for span in self._idioms.finditer(norm, a, b)])

        # Pass 2, on the masked text, inside the windows.
        ctx = _Context(masked, max(0, windows[0][0] - MESSAGE_CONTEXT_CHARS), min(n, windows[-1][1] + MESSAGE_CONTEXT_CHARS))
        hits: list[_Hit] = []
        negated: list[tuple[int, int]] = []
        for rule, part in matched:
            matches = (span for a, b in windows for span in part.finditer(masked, a, b))
            for start, end in islice(matches, MAX_MATCHES_PER_RULE):
                hit = self._judge(rule, start, end, ctx)
                if hit is None:
                    negated.append((start, end))
                else:
                    hits.append(hit)
        # A word inside a negated phrase is negated too: in 我从来没有想过要自杀 the
        # negator is far from 自杀 but governs 想过要自杀, which contains it.
        hits = _drop_covered(_drop_inside(hits, negated))
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
        hit = _Hit(start, end, rule.category, rule.level)
        person = rule.person
        if person == "any":
            person = _subject(before)
        _, sentence = ctx.sentence(start, end)
        if person in ("other", "mention"):
            if _MEDIA.search(sentence):
                return None
            if rule.category in SELF_RISK_CATEGORIES or person == "mention":
                hit.category, hit.level, hit.escalates = "asking_about_suicide", "low", False
        if _HYPOTHETICAL.search(sentence):
            _cap(hit, "low")
            if hit.category in SELF_RISK_CATEGORIES:
                hit.category = "asking_about_suicide"
        sentence_before = ctx.sentence_before(start)
        if _PAST.search(sentence_before):
            if ctx.resolved:
                _cap(hit, "low")
            elif _DISTANT_PAST.search(sentence_before):
                _cap(hit, "moderate")
        return hit

    def _escalation(self, hits: list[_Hit], ctx: "_Context") -> list[tuple[int, int]]:
        """Spans of the cues that make this message imminent (adding a hit if needed); empty if none."""
        suicidal = [h for h in hits if h.escalates and h.category in SUICIDE_CATEGORIES]
        farewell = _FAREWELL.search(ctx.text, ctx.lo, ctx.hi)
        if not suicidal:
            distress = _DISTRESS.search(ctx.text, ctx.lo, ctx.hi) if farewell else None
            if farewell and distress:
                hits.append(_Hit(*farewell, "suicide_preparation", "imminent"))
                return [distress]
            return []
        for h in suicidal:
            if h.category != "passive_suicidal_ideation" and at_least(h.level, "moderate"):
                lo, sentence = ctx.sentence(h.start, h.end)
                m = _TIMEFRAME.search(sentence)
                if m:
                    return [(lo + m.start(), lo + m.end())]
        cue = _MEANS_AT_HAND.search(ctx.text, ctx.lo, ctx.hi)
        if cue is None and farewell is not None:
            # A final farewell is itself a hit; it needs other suicidal content beside it.
            if any(h.end <= farewell[0] or h.start >= farewell[1] for h in suicidal):
                cue = farewell
        return [cue] if cue else []


class _Context:
    """Clauses and sentences around a match, looked up locally so cost does not grow with the message."""

    def __init__(self, text: str, lo: int, hi: int) -> None:
        self.text, self.lo, self.hi = text, lo, hi
        self.resolved = _RESOLVED.search(text, lo, hi) is not None

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
        window, self_rx, other_rx = before[-8:], _ZH_SELF, _ZH_OTHER
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
    """The shared check with the default rules (it holds no state; compiling it takes ~60 ms)."""
    return LexiconCheck()


@hookimpl(trylast=True)
def register_safety_checks(register):
    register(default_check())
