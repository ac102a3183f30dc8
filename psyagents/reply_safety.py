"""Reply checks: screen what the counsellor says before the client hears it.

A counsellor reply must not diagnose the client, give medication doses or advice
to start, stop or change medication, give harmful instructions (methods, lethal
amounts, how to self-harm or hide it), or agree with or encourage self-harm or
suicide. Checks are registered through the ``register_reply_checks`` hook;
``screen_reply`` runs all of them and returns the names of the violations. The
counsellor node regenerates a reply that has any, and replaces the last draft
with ``safe_reply`` when every retry still has one.

The built-in ``ReplyRules`` are English and Chinese patterns. Good practice is
not a violation: asking about a diagnosis ("have you been diagnosed with
anything?"), sending medication questions to the prescriber ("it might help to
talk to your doctor about your medication"), asking about risk and means
("are you having thoughts of killing yourself?", "do you have the pills with
you?") and reflecting what the client feels ("it sounds like part of you feels
dying would solve everything"). So a match does not count when its clause is
negated, when it is a question, when it reports someone else's words or the
client's feelings, or (for medication) when the sentence defers to a doctor.

Speed: each rule runs only on a reply holding the literals it cannot match without
(a drug name, "you're right", 致死), found in one pass over the reply, so an ordinary
reply runs almost no rule (``bench/screen.py`` measures it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .default_plugins.basic_safety import _LiteralFinder, _required_literals, normalise
from .plugins import collect

VIOLATIONS = ("diagnosis", "medication", "harmful_instructions", "self_harm_agreement")
# Notes for the model when a draft is rejected: what to avoid and what to do instead.
HINTS = {
    "diagnosis": "Do not diagnose or label the client; describe what they told you in their own words.",
    "medication": "Give no medication doses or advice to start, stop or change medication; suggest they talk to their doctor.",
    "harmful_instructions": "Never describe methods, amounts or ways to hurt oneself or to hide it.",
    "self_harm_agreement": "Never agree with or encourage self-harm or suicide; acknowledge the pain and ask about their safety.",
}
SAFE_REPLY = {
    "en": "I'm here with you, and I want to understand what this is like for you. Could you tell me a little more about it?",
    "zh": "我在这里陪着你，也很想了解你现在的感受。能再多和我说说吗？",
}
HELP_AVAILABLE = {
    "en": "If you are thinking of harming yourself, help is available right now, and you don't have to face this alone.",
    "zh": "如果你有伤害自己的念头，现在就可以得到帮助，你不必一个人扛着。",
}


class ReplyCheck:
    """Base class for a check on counsellor replies. ``check`` must never raise on odd text."""

    name: str = ""
    blocking: bool = True  # as SafetyCheck.blocking: False for quick checks that never wait

    def check(self, reply: str, *, language: str | None = None) -> list[str]:  # pragma: no cover - abstract
        """Names of the violations in ``reply``: ``diagnosis``, ``medication``, ``harmful_instructions``, ``self_harm_agreement``."""
        raise NotImplementedError


def reply_checks() -> list[ReplyCheck]:
    """All registered reply checks, plugins first."""
    return list(collect("register_reply_checks", keyed=False))  # type: ignore[arg-type]


def screen_reply(reply: str, *, language: str | None = None, checks: list[ReplyCheck] | None = None) -> list[str]:
    """Every check's violations for one reply, each name once, the known ones in ``VIOLATIONS`` order."""
    checks = reply_checks() if checks is None else checks
    found = {v for c in checks for v in c.check(reply, language=language)}
    return [v for v in VIOLATIONS if v in found] + sorted(found - set(VIOLATIONS))


def safe_reply(language: str | None, *, risk: bool = False) -> str:
    """A warm, non-committal reply that invites the client to say more; with ``risk`` it says help is available."""
    lang = language if language in SAFE_REPLY else "en"
    if not risk:
        return SAFE_REPLY[lang]
    first, _, question = SAFE_REPLY[lang].rpartition(". " if lang == "en" else "。")
    sep = " " if lang == "en" else ""
    return sep.join([first + ("." if lang == "en" else "。"), HELP_AVAILABLE[lang], question])


# --- The built-in rules ----------------------------------------------------------


@dataclass(frozen=True)
class ReplyRule:
    """One pattern for one violation.

    ``unless`` names the contexts that excuse a match: ``negated`` (a negation earlier in the
    clause), ``question`` (the sentence asks rather than tells), ``reported`` (someone else's
    words or the client's feelings), ``doctor`` (the sentence sends the client to a prescriber).
    ``advice`` matches only as advice: an imperative, or after "you should", "try", "I'd suggest"...
    ``clause_start`` matches only at the start of a clause (after "maybe", "yes", "you're right"...).
    """

    violation: str
    pattern: str
    unless: tuple[str, ...] = ()
    advice: bool = False
    clause_start: bool = False


def _alt(*words: str) -> str:
    return "(?:" + "|".join(words) + ")"


_ALL = ("negated", "question", "reported")

# English ------------------------------------------------------------------------
_DISORDER = (
    r"(?:(?:clinical|major|severe|mild|moderate|chronic|postpartum|postnatal|seasonal|manic) )?"
    + _alt(
        r"depression", r"(?:a )?depressive disorder", r"bipolar(?: disorder| i{1,2}\b| [12]\b)?", r"manic depression",
        r"c-?ptsd", r"ptsd", r"post-?traumatic stress(?: disorder)?", r"ocd", r"obsessive[- ]compulsive disorder", r"adhd",
        r"(?:an? )?(?:generali[sz]ed |social )?anxiety disorder", r"gad", r"(?:a )?panic disorder",
        r"(?:an? )?(?:borderline|narcissistic|antisocial|avoidant|dependent|histrionic|schizoid) personality(?: disorder)?",
        r"bpd", r"npd", r"(?:a )?personality disorder", r"schizophrenia", r"schizoaffective(?: disorder)?", r"psychosis",
        r"(?:an? )?(?:eating|mental|psychiatric|psychotic|mood|bipolar|anxiety|dissociative|sleep) (?:disorder|illness)",
        r"(?:a )?mental illness", r"anorexia(?: nervosa)?", r"bulimia(?: nervosa)?", r"binge[- ]eating disorder",
        r"dysthymia", r"cyclothymia", r"autism", r"asperger'?s", r"agoraphobia", r"social phobia", r"alcoholism",
        r"(?:an? )?(?:alcohol|substance) use disorder", r"dementia", r"dissociative identity disorder", r"hypochondria",
    )
)
_HEDGE = r"(?:(?:clearly|definitely|probably|obviously|likely|certainly|really|actually|also|might|may|must|could|do|just) )*"
_LABEL = _alt(
    r"clinically depressed", r"bipolar", r"schizophrenic", r"psychotic", r"anorexic", r"bulimic", r"manic", r"an alcoholic",
    r"an addict", r"a narcissist", r"a psychopath", r"a sociopath", r"autistic", r"borderline", r"delusional", r"mentally ill",
)
_DRUG = _alt(
    r"meds", r"medications?", r"medicines?", r"pills", r"tablets", r"capsules", r"anti-?depressants?", r"ssris?", r"snris?",
    r"benzos?", r"benzodiazepines?", r"sleeping (?:pills|tablets)", r"sleep aids?", r"pain ?killers", r"opioids",
    r"antipsychotics?", r"mood stabili[sz]ers?", r"stimulants?", r"sedatives?", r"tranquili[sz]ers?", r"prescriptions?",
    r"doses?", r"dosage", r"lithium", r"sertraline", r"zoloft", r"fluoxetine", r"prozac", r"citalopram", r"celexa",
    r"escitalopram", r"lexapro", r"paroxetine", r"paxil", r"venlafaxine", r"effexor", r"duloxetine", r"cymbalta",
    r"bupropion", r"wellbutrin", r"mirtazapine", r"remeron", r"trazodone", r"quetiapine", r"seroquel", r"olanzapine",
    r"risperidone", r"aripiprazole", r"abilify", r"lamotrigine", r"valproate", r"depakote", r"diazepam", r"valium",
    r"lorazepam", r"ativan", r"alprazolam", r"xanax", r"clonazepam", r"klonopin", r"zolpidem", r"ambien", r"melatonin",
    r"ritalin", r"adderall", r"methylphenidate", r"propranolol", r"ibuprofen", r"paracetamol", r"acetaminophen",
    r"tylenol", r"codeine", r"oxycodone", r"tramadol", r"gabapentin", r"pregabalin", r"naltrexone",
)
_COUNT = _alt(r"one", r"two", r"three", r"four", r"five", r"six", r"ten", r"a couple(?: of)?", r"a few", r"several",
              r"half(?: a)?", r"an extra", r"another", r"extra", r"double", r"\d+")
_DET = r"(?:(?:your|the|those|these|some|all|all of|any|an?|my|of) )*"
_MED_VERB = _alt(
    r"stop", r"stopping", r"quit", r"quitting", r"come off", r"coming off", r"get off", r"getting off", r"go off",
    r"going off", r"wean(?:ing)? (?:yourself )?off", r"cut(?:ting)? (?:down|back) on", r"skip", r"skipping", r"ditch",
    r"ditching", r"throw away", r"flush", r"double", r"doubling", r"increase", r"increasing", r"decrease", r"decreasing",
    r"lower", r"lowering", r"reduce", r"reducing", r"raise", r"raising", r"up", r"upping", r"change", r"changing",
    r"switch", r"switching", r"start", r"starting", r"begin", r"halve", r"halving", r"give up", r"giving up", r"stop using",
)
_SELF_HARM_ACT = _alt(
    r"kill(?:ing)? yourself", r"end(?:ing)? (?:it all|your (?:own )?life|it)(?! with| between)", r"die", r"dying",
    r"commit(?:ting)? suicide", r"take (?:your (?:own )?)life", r"hurt(?:ing)? yourself", r"harm(?:ing)? yourself",
    r"cut(?:ting)? yourself", r"self-?harm(?:ing)?", r"take (?:all )?(?:of )?(?:the|those|your) pills", r"overdos(?:e|ing)",
    r"hang(?:ing)? yourself",
)

# Chinese ------------------------------------------------------------------------
_ZH_DISORDER = _alt(
    "抑郁症", "抑郁障碍", "忧郁症", "重度抑郁", "产后抑郁症?", "焦虑症", "焦虑障碍", "广泛性焦虑", "社交焦虑障碍", "社交恐惧症",
    "惊恐障碍", "惊恐症", "双相(?:情感)?障碍", "双相", "躁郁症", "躁狂症", "创伤后应激障碍", "ptsd", "强迫症", "强迫障碍",
    "精神分裂症?", "人格障碍", "边缘型人格(?:障碍)?", "自恋型人格(?:障碍)?", "反社会人格(?:障碍)?", "进食障碍", "厌食症",
    "暴食症", "神经性厌食", "多动症", "adhd", "自闭症", "孤独症", "精神病", "心理疾病", "精神疾病", "心理障碍", "精神障碍",
    "失眠症", "酒精依赖", "妄想症", "疑病症",
)
_ZH_ADV = "(?:可能|应该|肯定|明显|显然|其实|大概|估计|很可能|多半|确实|绝对|一定|就|已经)*"
_ZH_DRUG = _alt(
    "药物", "药片", "安眠药", "抗抑郁药", "镇静剂", "镇定剂", "止痛药", "褪黑素", "舍曲林", "氟西汀", "帕罗西汀", "西酞普兰",
    "艾司西酞普兰", "文拉法辛", "度洛西汀", "米氮平", "曲唑酮", "喹硫平", "奥氮平", "利培酮", "阿立哌唑", "碳酸锂", "锂盐",
    "丙戊酸", "拉莫三嗪", "地西泮", "安定", "劳拉西泮", "阿普唑仑", "氯硝西泮", "唑吡坦", "右佐匹克隆", "百忧解", "左洛复", "药",
)
_ZH_NUM = "(?:[一二两三四五六七八九十百半几]+|\\d+)"
_ZH_DEATH = _alt("想死", "自杀", "去死", "寻死", "轻生", "结束(?:自己的)?生命", "离开这个世界", "不想活")
_ZH_NOT_NEG = "(?:(?!不|没|别|非|未)[^，。！？；\n])"  # one clause character that is not a negation

DEFAULT_RULES: tuple[ReplyRule, ...] = (
    # diagnosis
    ReplyRule("diagnosis", rf"\byou {_HEDGE}(?:have|'ve got|have got|got|suffer from|are suffering from|'re suffering from|"
              rf"meet the criteria for|fit the criteria for|(?:are )?(?:showing|show|have|display) (?:all )?(?:the )?(?:classic )?"
              rf"(?:signs|symptoms) of) {_DISORDER}\b", _ALL),
    ReplyRule("diagnosis", rf"\byou(?:'re| are) {_HEDGE}(?:just |kind of |a bit |so )?{_LABEL}\b", _ALL),
    ReplyRule("diagnosis", rf"\b(?:this|that|it|these|those|what you(?:'re| are)? describ(?:e|ed|ing)|your symptoms)"
              rf"(?:'s| is| are| sounds? like| looks? like| seems? like| sound| look) {_HEDGE}(?:a )?"
              rf"(?:classic |textbook |clear |typical )?(?:(?:case|sign|signs|symptom|symptoms|example) of )?{_DISORDER}\b", _ALL),
    ReplyRule("diagnosis", r"\bdiagnos(?:e|ing) you (?:with|as)\b", _ALL),
    ReplyRule("diagnosis", rf"你(?:这|这个|这种情况|的情况|的症状|这些症状|这些表现)?{_ZH_ADV}(?:是|属于|得了|得的是|患了|患有|有了|有)"
              rf"(?:一种|典型的|明显的|严重的|轻度|中度|重度|轻微的|一点)?{_ZH_DISORDER}", _ALL),
    ReplyRule("diagnosis", rf"(?:这|这个|这些|这种情况|这些症状|你说的|你描述的|听起来|看起来){_ZH_ADV}(?:是|像是?|属于)"
              rf"(?:一种|典型的|明显的|很典型的)?(?:的)?{_ZH_DISORDER}", _ALL),
    ReplyRule("diagnosis", "(?:诊断|判断)你(?:是|为|有|得了)", _ALL),
    # medication
    ReplyRule("medication", r"\b\d+(?:[.,]\d+)?\s?(?:mg|milligrams?|mcg|micrograms?|µg|ml|millilit(?:er|re)s?)\b",
              ("question", "reported", "doctor")),
    ReplyRule("medication", rf"\b(?:take|try|have|pop|swallow|use|add)\s+{_COUNT}\s+(?:more\s+)?{_DET}{_DRUG}\b",
              ("negated", "question", "doctor"), advice=True),
    ReplyRule("medication", rf"\b(?:{_MED_VERB}\s+(?:taking\s+|using\s+)?|(?:try|trying)\s+){_DET}{_DRUG}\b", ("negated", "question", "doctor"),
              advice=True),
    ReplyRule("medication", rf"\byou (?:don't|do not) (?:really )?need (?:to take )?{_DET}{_DRUG}\b", ("question", "doctor")),
    ReplyRule("medication", r"\b(?:meds|medication|medicine|pills|anti-?depressants?)\s+(?:are|is)\s+(?:just\s+)?"
              r"(?:poison|a crutch|bad for you|dangerous|useless|pointless|unnecessary)\b", ("negated", "question", "reported")),
    ReplyRule("medication", r"\d+(?:\.\d+)?\s?(?:mg|毫克|微克|毫升)", ("question", "reported", "doctor")),
    ReplyRule("medication", f"(?:吃|服|吞|吞下|来|加|加到|减到|再吃|多吃|吃上){_ZH_NUM}(?:片|粒|颗)", ("negated", "question", "reported", "doctor")),
    ReplyRule("medication", f"(?:停|停掉|停用|停了|断|断掉|戒掉|减掉|扔掉|别吃|不要吃|不用吃|不用再吃|不必吃|别再吃|不要再吃|少吃|多吃|加大|"
              f"减少|换成|换掉|开始吃|试试|试一下|吃点|吃些|吃一些)(?:你的|那些|这些|掉)?{_ZH_DRUG}", ("negated", "question", "doctor")),
    ReplyRule("medication", f"把(?:你的)?{_ZH_DRUG}(?:停|断|扔|减|加|换)", ("negated", "question", "doctor")),
    ReplyRule("medication", "(?:剂量|药量)(?:加倍|翻倍|减半|加大|减少|加一倍)|(?:加|减|调)(?:大|小|整|高|低)?(?:剂量|药量)",
              ("negated", "question", "doctor")),
    # harmful instructions
    ReplyRule("harmful_instructions", r"\b(?:best|easiest|quickest|fastest|surest|most (?:painless|effective|reliable|certain)|"
              r"least painful|painless|simplest|safest|quietest) (?:way|ways|method|methods|means) (?:to|of) "
              r"(?:die|dying|kill(?:ing)? yourself|end(?:ing)? (?:it|it all|your life)|commit(?:ting)? suicide|overdos(?:e|ing)|"
              r"cut(?:ting)?|hurt(?:ing)? yourself|harm(?:ing)? yourself|self-?harm(?:ing)?|hang(?:ing)? yourself|burn(?:ing)? yourself)\b",
              ("negated",)),
    ReplyRule("harmful_instructions", r"\b(?:lethal|fatal|deadly|toxic) (?:dose|amount|quantity|number|level)s?\b", _ALL),
    ReplyRule("harmful_instructions", r"\b(?:\d+|a few|a handful of|ten|twenty|thirty|fifty|a hundred|enough) (?:of (?:those|these|the|your) )?"
              r"(?:pills|tablets|capsules|grams|g|mg)\b[^.!?\n]{0,30}?\b(?:would|will|should|is|are|could|might) (?:be )?(?:enough )?(?:to )?"
              r"(?:kill|be (?:lethal|fatal|deadly|enough)|do it|end it|finish)", ("negated", "question")),
    ReplyRule("harmful_instructions", r"\bhow to (?:kill yourself|commit suicide|end your life|overdose|hang yourself|cut (?:yourself|deeper)|"
              r"slit|self-?harm|hurt yourself|tie a noose|hide (?:the|your) (?:cuts|scars|marks|wounds|burns|bruises|self-?harm))", _ALL),
    ReplyRule("harmful_instructions", r"\b(?:cut|slice|slash) (?:deeper|vertically|lengthwise|along the veins?|down the (?:arm|wrist)s?)|"
              r"\b(?:tie|make|making|tying) a noose|\bmix(?:ing)? (?:the |your |those )?(?:pills|tablets|meds|medication|them) with "
              r"(?:alcohol|vodka|wine|beer|drinks?)|\b(?:jump|jumping) from (?:higher|high enough|a height|\d+)|"
              r"\b(?:clean|sterili[sz]e|disinfect) (?:the|your) (?:blade|razor|knife)", ("negated", "question")),
    ReplyRule("harmful_instructions", r"\b(?:hide|cover(?: up)?|conceal|disguise) (?:the |your |those )?(?:cuts|scars|marks|wounds|burns|"
              r"bruises|self-?harm|injuries)|\bwear (?:long sleeves|a long-sleeved \w+|a bracelet|bandages) (?:to|so)\b",
              _ALL, advice=True),
    ReplyRule("harmful_instructions", "(?:最|比较|更)?(?:好|快|容易|简单|稳妥|可靠|有效|不痛|无痛|没有痛苦|不疼|舒服)的?(?:自杀|死|死法|结束生命|"
              "轻生|割腕|上吊)(?:的)?(?:方法|方式|办法)|(?:自杀|死|结束生命)(?:最|比较)(?:好|快|容易|不痛|无痛)的(?:方法|方式|办法)", ("negated",)),
    ReplyRule("harmful_instructions", "(?:致死|致命)(?:的)?(?:剂量|量)", _ALL),
    ReplyRule("harmful_instructions", f"(?:吃|吞|服)(?:下)?{_ZH_NUM}(?:片|粒|颗|克|毫克)(?:以上|左右)?[^，。！？]{{0,6}}?(?:就|才|便)?"
              "(?:能|会|可以|足以|足够)(?:致死|致命|死|没命|要命)", ("negated", "question")),
    ReplyRule("harmful_instructions", "(?:割|划)(?:得)?(?:深一点|更深|深一些|竖着)|(?:竖着|顺着血管|顺着动脉)(?:割|划)|"
              "(?:混着|混合|加上|配着|和)(?:酒|白酒|啤酒)(?:一起)?(?:吃|吞|服)", ("negated", "question")),
    ReplyRule("harmful_instructions", "(?:遮住|藏好|藏起来|掩盖|盖住|遮掩|遮挡|挡住|藏住)(?:你的|手上的|胳膊上的)?(?:伤口|疤痕|伤疤|伤痕|割痕|划痕)|"
              "穿(?:上)?长袖(?:衣服)?(?:就|来|可以)?(?:能)?(?:遮|挡|藏|盖)", _ALL),
    ReplyRule("harmful_instructions", "(?:告诉你|教你)(?:怎么|如何)(?:自杀|割腕|死|上吊|自残|结束生命)", ("negated",)),
    # agreement with or encouragement of self-harm or suicide
    ReplyRule("self_harm_agreement", r"\b(?:that|it|this|dying|death|ending it|ending it all|ending your life|killing yourself|suicide|"
              r"going through with it|not being here|being gone|not waking up) (?:really |probably |honestly )?(?:would|will|might|could|may) "
              r"(?:really |probably |honestly |actually )?(?:be (?:for the best|the best (?:thing|option|choice|solution)|best for everyone|"
              r"a relief|a release|the answer|the solution|your way out|the only way out|a good (?:idea|option|choice)|"
              r"the right (?:thing|choice|decision)|peaceful|better for (?:everyone|you|them|your family))|"
              r"solve (?:everything|it all|all (?:of )?your problems|your problems)|fix (?:everything|it all|all your problems)|"
              r"end (?:your|the) (?:pain|suffering)|make (?:everything|it all|things) (?:better|easier|stop))"
              r"(?!\s*(?:to|if|when|once|for you to)\b)", _ALL, clause_start=True),
    ReplyRule("self_harm_agreement", r"\b(?:everyone|they|your family|your kids|your children|your parents|your friends|people|the world) "
              r"(?:would|will|might) (?:really |probably |honestly )?be better off (?:without you|if you (?:were|weren't|died|were gone))"
              r"|\byou(?:'d| would) be better off dead\b", _ALL),
    ReplyRule("self_harm_agreement", rf"\b(?:you should|you might as well|go ahead and|it's (?:okay|ok|fine|alright|"
              rf"understandable|reasonable|your (?:right|choice)) to|it is (?:okay|ok|fine|alright|understandable|reasonable|your (?:right|choice)) to|"
              rf"you have (?:every|the) right to|nobody can stop you from|i won't stop you from|i (?:support|respect|accept) (?:your|the) "
              rf"(?:decision|choice|wish) to|i agree (?:that )?you should|feel free to) {_SELF_HARM_ACT}\b", _ALL),
    ReplyRule("self_harm_agreement", r"\bif you (?:really |truly )?(?:want|wanna|need|have decided|decided|'ve decided) to (?:die|end (?:it|it all|your life)|"
              r"kill yourself|hurt yourself)\b[^.!?\n]{0,30}?\b(?:go ahead|do it|i won't stop you|that's (?:your (?:choice|decision|right)|okay|ok|fine))",
              ("negated", "question")),
    ReplyRule("self_harm_agreement", r"\b(?:suicide|dying|death|killing yourself|ending (?:it|it all|your life)|self-?harm|cutting) "
              r"(?:is|would be|might be|could be|may be|seems like) (?:a |an |the )?(?:relief|release|escape|answer|solution|way out|"
              r"good (?:option|choice|idea)|reasonable (?:option|choice)|valid (?:option|choice)|right (?:choice|option|thing)|peaceful|"
              r"only (?:way|option))\b", _ALL),
    ReplyRule("self_harm_agreement", r"\byou(?:'re| are) right\b[^.!?\n]{0,40}\b(?:dying|death|suicide|kill yourself|killing yourself|"
              r"end it|ending it|better off (?:dead|without you)|no (?:reason|point) (?:to|in) (?:live|living|go on|going on))", ("question",)),
    ReplyRule("self_harm_agreement", r"\bthere(?:'s| is) (?:really )?no (?:point|reason) (?:in|to) (?:living|live|going on|go on|carrying on|"
              r"staying alive)|\bi (?:won't|will not) (?:try to )?stop you\b", _ALL),
    ReplyRule("self_harm_agreement", f"{_ZH_DEATH}[^。！？\n]{{0,15}}(?:那就|就|那你就)(?:去|去做|做|去死|动手)吧|去死吧|你(?:可以|就|还是)去死",
              ("negated", "reported")),
    ReplyRule("self_harm_agreement", f"(?:死|死了|自杀|结束生命|一了百了){_ZH_NOT_NEG}{{0,6}}(?:是|算是?)(?:一种|一个|最好的|更好的)?"
              "(?:解脱|出路|办法|选择|好事|好的选择|答案|解决办法)", _ALL),
    ReplyRule("self_harm_agreement", f"(?:死|死了|自杀|一了百了){_ZH_NOT_NEG}{{0,4}}(?:就|能|可以|会)(?:都)?(?:解决|结束|摆脱)"
              "(?:一切|所有(?:的)?(?:问题|痛苦)|问题|痛苦)", _ALL),
    ReplyRule("self_harm_agreement", "(?:他们|大家|家人|你的家人|所有人|别人|孩子|父母)(?:没有你|没了你)(?:会|就会|反而|可能)?(?:更好|过得更好|更轻松)", _ALL),
    ReplyRule("self_harm_agreement", f"(?:支持|尊重|同意)(?:你)?(?:的)?{_ZH_DEATH}(?:的)?(?:决定|选择|想法)?", ("negated", "question")),
    ReplyRule("self_harm_agreement", "你说得对[^。！？\n]{0,20}(?:死|活着[^，。！？]{0,4}(?:没意思|没有意义|没意义|没必要)|不如死|解脱)", ("question",)),
    ReplyRule("self_harm_agreement", f"(?:伤害|划伤|割伤|弄伤|割|划)(?:一下|几下)?自己{_ZH_NOT_NEG}{{0,3}}(?:没关系|没什么|可以|挺好|也行|也好)", _ALL),
)

# Contexts ------------------------------------------------------------------------
_CJK = re.compile(r"[\u4e00-\u9fff]")
_CLAUSE_BREAK = re.compile(r"[,;:，；：。！？!?\n—–]|\.(?!\d)|\bbut\b")
_SENTENCE_END = re.compile(r"[!?。！？\n]|\.(?!\d)")
_NEGATION = re.compile(
    r"\b(?:not|never|no|nor|without|neither|nobody|don't|dont|doesn't|didn't|won't|wouldn't|isn't|aren't|wasn't|haven't|hasn't|"
    r"can't|cannot|shouldn't|mustn't|no one|avoid)\b|不|没|别|勿|未|并非|千万别"
)
# Suggestions that carry a negation word: "why don't you stop your meds" is advice, not a negation.
_NOT_NEGATION = re.compile(r"\bwhy (?:don't|dont|not)\b(?: you)?|\bdon't forget to\b|\bno need to\b")
_QUESTION_OPENER = re.compile(
    r"^\s*(?:(?:and|so|or|also|now|okay|ok|then)\s+)?(?:do|does|did|have|has|had|are|is|was|were|how (?:many|much|long|often)|"
    r"when|where|who|whether)\b"
)
_ZH_QUESTION = re.compile(r"吗|呢|么|是不是|有没有|是否|多少|几|怎么样|为什么|什么|哪")
_ZH_SUGGESTION = re.compile(r"要不要|不如|何不|试试|建议|可以")
_REPORTED = re.compile(
    r"\b(?:you|you've|you're|you'd|they|they've|he|she|someone|somebody|anyone|people|others|doctors?|psychiatrists?|gp|therapists?|"
    r"family|friends?|parents?|mum|mom|dad|mother|father|wife|husband|partner|boss|teacher)\b[^,;.!?]{0,30}?\b(?:think|thinks|thought|"
    r"feel|feels|felt|believe|believes|believed|worry|worries|worried|fear|fears|feared|wonder|wondered|wondering|said|say|says|saying|"
    r"told|tell|mentioned|mention|suspect|suspects|suspected|diagnosed|looked|looking|searched|searching|researched|read|reading|heard|"
    r"hear|describe|described|call|called|label|labelled|labeled|been|were)\b"
    r"|\bpart of you\b|\b(?:feels?|felt|feeling) like\b|\bsounds? like you(?:'re| are)? (?:feel|think|believ|wonder|worr)"
    r"|\bthe (?:thought|belief|idea|voice) that\b|\bwhen you say\b|\bdepression (?:tells|says)\b"
    r"|\b(?:you're|you are|you've been|you were) (?:currently |still |now )?(?:on|taking)\b"
    r"|\b(?:prescribed|put you on|has you on|had you on|gave you|started you on)\b"
    r"|(?:医生|大夫|别人|他们|有人|家人|父母|你)(?:说|觉得|认为|担心|怀疑|诊断|提到|感觉|以为|相信|一直)|被诊断|诊断(?:过|为|出)|听起来你|开了"
)
_DOCTOR = re.compile(
    r"\b(?:talk|talking|speak|speaking|ask|asking|check|checking|discuss|discussing|consult|consulting|see|seeing|call|calling|"
    r"raise|raising|mention|mentioning|bring|bringing|review|reviewing)\b[^.!?\n]{0,60}\b(?:doctor|doctors|gp|psychiatrist|prescriber|"
    r"pharmacist|physician|nurse|care team|medical team)\b"
    r"|\b(?:doctor|gp|psychiatrist|prescriber|pharmacist|physician)\b[^.!?\n]{0,40}\b(?:about|before|first|whether)\b"
    r"|(?:和|跟|问|咨询|请教|找|联系|告诉|听|遵|按照?)[^。！？\n]{0,6}(?:医生|大夫|医师|精神科|药剂师|医嘱)"
    r"|(?:医生|大夫|医师|精神科|药剂师)[^。！？\n]{0,6}(?:商量|沟通|谈|聊|讨论|确认|评估|指导|建议)"
)
_ADVICE = re.compile(
    r"(?:^|\b(?:you (?:should|could|can|might want to|may want to|need to|ought to|'d better|had better|might|may)|try(?: to)?|why not|"
    r"why don't you|how about|what about|consider|i(?:'d| would)? (?:suggest|recommend|advise)(?: that)?(?: you)?|my advice is(?: to)?|"
    r"it(?:'s| is| would be|'d be) (?:fine|okay|ok|safe|alright|better|best) (?:to|if you)|feel free to|go ahead and|let's|"
    r"the trick is to|make sure (?:to|you)|remember to|if you|you just|i think you should|i'd)\b)"
    r"(?:\s*\b(?:just|please|then|so|and|also|simply|maybe|perhaps|definitely|really|now|tonight|today)\b)*\s*$"
)
_FRAMING = re.compile(
    r"^\s*(?:(?:maybe|perhaps|honestly|yes|yeah|yep|and|so|then|well|really|truly|probably|i think|i guess|i agree|i suppose|"
    r"i believe|in a way|you're right|you are right|it's true|true|sure|okay|ok|of course|i know|i understand|i see)\b\s*)*$"
)
MAX_MATCHES_PER_RULE = 32
_DEFAULT_SET = frozenset(DEFAULT_RULES)


def _clause_prefix(text: str, start: int) -> str:
    window_start = max(0, start - 200)
    window = text[window_start:start]
    last = None
    for last in _CLAUSE_BREAK.finditer(window):
        pass
    return window[last.end():] if last else window


def _sentence(text: str, start: int, end: int) -> tuple[str, str]:
    """The sentence around a match and its last character (its end mark, if any)."""
    s = max(0, start - 300)
    before = [m.end() for m in _SENTENCE_END.finditer(text, s, start)]
    s = before[-1] if before else s
    m = _SENTENCE_END.search(text, end)
    e = m.end() if m else len(text)
    return text[s:e], text[e - 1] if e > s else ""


def _is_question(sentence: str, mark: str, prefix: str) -> bool:
    if mark not in "?？" and not _CJK.search(sentence):
        return False
    if _CJK.search(sentence):
        return (mark in "?？" or bool(_ZH_QUESTION.search(sentence))) and not _ZH_SUGGESTION.search(sentence)
    return bool(_QUESTION_OPENER.search(sentence) or _QUESTION_OPENER.search(prefix))


class ReplyRules(ReplyCheck):
    """English and Chinese rules for the four violations; the patterns of both languages run on any reply."""

    name = "reply-rules"
    blocking = False

    def __init__(self, rules: tuple[ReplyRule, ...] | list[ReplyRule] = DEFAULT_RULES):
        self.rules: tuple[ReplyRule, ...] = tuple(rules)
        for rule in set(self.rules) - _DEFAULT_SET:
            re.compile(rule.pattern)  # a bad pattern of one's own fails here, not in a session
        # Speed: a rule runs only on text holding one literal of each set it cannot match
        # without (basic_safety._required_literals), so an ordinary reply runs almost none;
        # a rule is compiled the first time it runs.
        self._patterns: list[re.Pattern[str] | None] = [None] * len(self.rules)
        self._needs = [(_CJK.search(r.pattern) is not None, _required_literals(r.pattern)) for r in self.rules]
        self._literals = _LiteralFinder(lit for _, needs in self._needs for need in needs for lit in need)

    def check(self, reply: str, *, language: str | None = None) -> list[str]:
        found = {r.violation for r, _ in self.matches(reply)}
        return [v for v in VIOLATIONS if v in found]

    def matches(self, reply: str) -> list[tuple[ReplyRule, str]]:
        """Every rule that fires on ``reply``, with the text it matched (for tests and debugging)."""
        text = normalise(reply or "")
        has_cjk = bool(_CJK.search(text))
        present = self._literals.present(text)
        found: list[tuple[ReplyRule, str]] = []
        for i, (rule, (cjk_rule, needs)) in enumerate(zip(self.rules, self._needs)):
            if (cjk_rule and not has_cjk) or any(present.isdisjoint(need) for need in needs):
                continue
            pattern = self._patterns[i]
            if pattern is None:
                pattern = self._patterns[i] = re.compile(rule.pattern)
            for n, m in enumerate(pattern.finditer(text)):
                if n >= MAX_MATCHES_PER_RULE:
                    break
                if self._counts(rule, text, m):
                    found.append((rule, m.group(0)))
                    break
        return found

    @staticmethod
    def _counts(rule: ReplyRule, text: str, m: re.Match[str]) -> bool:
        prefix = _clause_prefix(text, m.start())
        if rule.clause_start and not _FRAMING.match(prefix):
            return False
        if rule.advice and not _CJK.match(m.group(0)) and not _ADVICE.search(prefix.strip()):
            return False
        if "negated" in rule.unless and _NEGATION.search(_NOT_NEGATION.sub(" ", prefix)):
            return False
        if "reported" in rule.unless and _REPORTED.search(prefix):
            return False
        if "question" in rule.unless or "doctor" in rule.unless:
            sentence, mark = _sentence(text, m.start(), m.end())
            if "question" in rule.unless and _is_question(sentence, mark, prefix):
                return False
            if "doctor" in rule.unless and _DOCTOR.search(sentence):
                return False
        return True
