"""Built-in therapy styles: integrative, CBT, motivational interviewing and person-centred.

Each policy looks only at the dialogue (``PlanView``), never at the persona's
file: a counsellor does not know the client's hidden history. Cue patterns are
English and Chinese, since the shipped personas speak both.
"""

from __future__ import annotations

from psyagents.hookspecs import hookimpl
from psyagents.styles import Plan, PlanView, StyleLimits, TherapyStyle, cue

EMOTION_CUES = [
    r"\b(sad|angry|scared|afraid|anxious|ashamed|guilty|lonely|hopeless|overwhelmed|hurt|exhausted|numb|worried|upset|frustrated)\b",
    r"(难过|伤心|生气|害怕|焦虑|羞愧|内疚|孤独|绝望|崩溃|委屈|累|烦|担心|痛苦)",
]
HELP_SEEKING_CUES = [r"what (should|can|do) i do", r"how (do|can|should) i", r"\badvice\b", r"(怎么办|该怎么|有什么办法)"]


def _avoid_repeat(view: PlanView, candidates: list[str]) -> str:
    """The first candidate not used in the last two turns (or the first one)."""
    recent = view.recent_techniques(2)
    for c in candidates:
        if c not in recent:
            return c
    return candidates[0]


class IntegrativeStyle(TherapyStyle):
    """Hill's three stages, as the Interactive Agents counsellor uses them."""

    name = "integrative"
    blocking = False  # rules over the dialogue: no model call
    title = "Integrative therapy (exploration → insight → action)"
    description = (
        "Moves through three stages: explore the client's story and feelings, help them gain insight "
        "into patterns and meanings, then support small, concrete actions."
    )
    stages = ("exploration", "insight", "action")
    techniques = {
        "open-question": "Ask one open question that invites the client to say more about what matters most to them.",
        "reflection-of-feeling": "Reflect the feeling behind what the client just said, in your own words.",
        "restatement": "Briefly restate the heart of what the client said, so they feel heard.",
        "clarification": "Gently ask the client to clarify something vague or important in what they said.",
        "challenge": "Gently point out a contradiction or an unhelpful pattern, with warmth and without judgement.",
        "interpretation": "Offer a tentative link between the client's feelings now and earlier experiences or patterns.",
        "immediacy": "Comment on what is happening between you and the client right now in the conversation.",
        "goal-setting": "Help the client name one realistic goal that follows from what they have discovered.",
        "action-planning": "Work out with the client one small, concrete step and when they will take it.",
        "feedback": "Acknowledge the client's effort and progress, and check how the plan feels to them.",
    }
    instructions = (
        "You are a warm, professional counsellor using integrative therapy. Listen closely, respond to what "
        "the client actually says, and guide them gently through exploration, insight and action."
    )

    def plan(self, view: PlanView) -> Plan:
        p = view.progress
        text = view.last_client
        if p < 0.4:
            stage = "exploration"
            if cue(text, EMOTION_CUES):
                return self.technique_plan(stage, _avoid_repeat(view, ["reflection-of-feeling", "restatement"]), "emotion in last message")
            if view.turn == 1:
                return self.technique_plan(stage, "open-question", "first turn")
            return self.technique_plan(stage, _avoid_repeat(view, ["open-question", "clarification", "restatement"]), "exploring")
        if p < 0.75:
            stage = "insight"
            if cue(text, [r"\b(always|never|every time)\b", r"(总是|从来|每次)"]):
                return self.technique_plan(stage, "challenge", "absolute language")
            return self.technique_plan(stage, _avoid_repeat(view, ["interpretation", "reflection-of-feeling", "immediacy"]), "building insight")
        stage = "action"
        if view.turn == view.max_turns:
            return self.technique_plan(stage, "feedback", "last turn")
        return self.technique_plan(stage, _avoid_repeat(view, ["goal-setting", "action-planning", "feedback"]), "moving to action")


class CBTStyle(TherapyStyle):
    """Cognitive behavioural therapy with a cue-driven technique planner."""

    name = "cbt"
    blocking = False  # rules over the dialogue: no model call
    title = "Cognitive behavioural therapy"
    description = (
        "Collaborative and structured: identifies automatic thoughts, examines them with Socratic questions, "
        "and tests them with behavioural experiments and problem solving."
    )
    stages = ("assessment", "intervention", "consolidation")
    techniques = {
        "agenda-setting": "Collaboratively agree what the client most wants to work on today.",
        "guided-discovery": "Use a Socratic question to help the client discover the thought behind their feeling.",
        "identify-automatic-thought": "Help the client catch the exact thought that went through their mind in the situation.",
        "evidence-questioning": "Ask what evidence supports the thought and what evidence does not.",
        "decatastrophizing": "Explore the worst, best and most likely outcomes, and how the client would cope.",
        "alternative-perspective": "Invite a more balanced view, for example what they would say to a friend thinking this.",
        "behavioural-experiment": "Propose a small experiment to test the thought in real life, designed together.",
        "problem-solving": "Break the problem into parts and brainstorm one or two options with the client.",
        "activity-scheduling": "Plan one small, rewarding or meaningful activity for the coming days.",
        "summary-feedback": "Summarise the key insight of the session and ask the client for feedback.",
    }
    instructions = (
        "You are a counsellor practising cognitive behavioural therapy. Be collaborative and curious, help the "
        "client notice links between situations, thoughts, feelings and behaviours, and test unhelpful thoughts."
    )
    # Cue → technique, in priority order (checked against the client's last message): the more
    # specific cue first, so avoidance ("cancelled everything") wins over overgeneralisation.
    CUES = [
        ("decatastrophizing", [r"what if", r"\b(disaster|ruined|worst|catastroph|never recover|end of the world)\b", r"(完了|最坏|毁了|完蛋)"]),
        ("alternative-perspective", [r"\bi'?m (a failure|useless|worthless|stupid|not good enough|a burden)\b", r"(我没用|我是个失败|我很差劲|废物|拖累)"]),
        ("behavioural-experiment", [r"\b(avoid|can'?t face|stay(ed)? in bed|cancel(l)?ed|skip(ped)?)\b", r"(逃避|不敢|躲|取消)"]),
        ("evidence-questioning", [r"\b(always|never|everyone|nobody|no one|everything)\b", r"(总是|从来|所有人|没有人|每次)"]),
        ("problem-solving", HELP_SEEKING_CUES),
    ]

    def plan(self, view: PlanView) -> Plan:
        text = view.last_client
        if view.turn == view.max_turns:
            return self.technique_plan("consolidation", "summary-feedback", "last turn")
        if view.turn == 1:
            return self.technique_plan("assessment", "agenda-setting", "first turn")
        if view.progress < 0.3:
            found = cue(text, EMOTION_CUES)
            technique = "identify-automatic-thought" if found else "guided-discovery"
            return self.technique_plan("assessment", _avoid_repeat(view, [technique, "guided-discovery"]), f"cue: {found}" if found else "assessing")
        for technique, patterns in self.CUES:
            found = cue(text, patterns)
            if found and technique not in view.recent_techniques(1):
                stage = "consolidation" if view.progress >= 0.8 else "intervention"
                return self.technique_plan(stage, technique, f"cue: {found}")
        if view.progress >= 0.7:
            return self.technique_plan("consolidation", _avoid_repeat(view, ["behavioural-experiment", "activity-scheduling"]), "late in session")
        return self.technique_plan("intervention", _avoid_repeat(view, ["guided-discovery", "identify-automatic-thought", "evidence-questioning"]), "no specific cue")


CHANGE_TALK = [
    r"\bi (want|need|have|ought) to (change|stop|cut|quit|get|do)", r"\bi'?(m| am) (going|ready|planning) to\b", r"\bi (could|might) try\b",
    r"\bi'?ve (started|stopped|cut down)\b", r"\bi (will|can) (do|try|start)\b",
    r"(我想改变|我要戒|我打算|我准备|我可以试试|我已经开始)",
]
SUSTAIN_TALK = [
    r"\b(not a problem|no problem|i'?m fine|it'?s fine|don'?t need|i can handle it|everyone does|not that bad|why should i)\b",
    r"(没什么问题|没问题|我没事|不需要|大家都这样|没那么严重|凭什么)",
]


def estimate_stage_of_change(client_texts: list[str]) -> str:
    """Estimate the client's stage of change from change talk against sustain talk so far."""
    change = sum(1 for t in client_texts if cue(t, CHANGE_TALK))
    sustain = sum(1 for t in client_texts if cue(t, SUSTAIN_TALK))
    if change == 0 and sustain > 0:
        return "precontemplation"
    if change <= sustain:
        return "contemplation"
    recent = client_texts[-2:]
    if any(cue(t, [r"\bi'?ve (started|stopped|cut down|been)\b", r"(我已经开始|我已经戒|这周我)"]) for t in recent):
        return "action"
    return "preparation"


class MotivationalInterviewingStyle(TherapyStyle):
    """Motivational interviewing with OARS, adapted to an estimated stage of change."""

    name = "mi"
    blocking = False  # rules over the dialogue: no model call
    title = "Motivational interviewing"
    description = (
        "Evokes the client's own reasons for change with OARS (open questions, affirmations, reflections, "
        "summaries), adapting to their stage of change and rolling with resistance."
    )
    stages = ("precontemplation", "contemplation", "preparation", "action", "maintenance")
    techniques = {
        "open-question": "Ask one open question that invites the client to talk about their own reasons and values.",
        "affirmation": "Affirm a genuine strength, effort or value the client has shown.",
        "simple-reflection": "Reflect back what the client said, slightly rephrased, without adding advice.",
        "complex-reflection": "Reflect the meaning or feeling underneath, or both sides of their ambivalence.",
        "summary": "Summarise what the client has said so far, highlighting their own words about change.",
        "develop-discrepancy": "Help the client notice the gap between their current behaviour and what they value.",
        "elicit-change-talk": "Ask an evocative question about the benefits of change or the costs of staying the same.",
        "rolling-with-resistance": "Do not argue; acknowledge their view and emphasise that the choice is theirs.",
        "planning": "Ask what a first step might look like for them, if and when they decide to take it.",
    }
    instructions = (
        "You are a counsellor practising motivational interviewing. Be collaborative and non-judgemental, "
        "evoke the client's own motivation, respect their autonomy, never lecture or push. Aim for more "
        "reflections than questions."
    )
    STAGE_STRATEGY = {
        "precontemplation": ["rolling-with-resistance", "develop-discrepancy", "complex-reflection"],
        "contemplation": ["complex-reflection", "elicit-change-talk", "develop-discrepancy"],
        "preparation": ["planning", "affirmation", "complex-reflection"],
        "action": ["affirmation", "planning", "simple-reflection"],
        "maintenance": ["affirmation", "complex-reflection", "open-question"],
    }

    def plan(self, view: PlanView) -> Plan:
        stage = estimate_stage_of_change(view.client_texts)
        text = view.last_client
        if view.turn == 1:
            return self.technique_plan(stage, "open-question", "first turn")
        if view.turn == view.max_turns or (view.turn > 1 and view.turn % 4 == 0):
            return self.technique_plan(stage, "summary", "periodic summary")
        if cue(text, SUSTAIN_TALK):
            return self.technique_plan(stage, "rolling-with-resistance", "sustain talk")
        if cue(text, CHANGE_TALK):
            return self.technique_plan(stage, _avoid_repeat(view, ["affirmation", "complex-reflection"]), "change talk")
        # Keep roughly two reflections per question (MITI's benchmark for proficiency).
        recent = view.recent_techniques(2)
        if all(t.endswith("reflection") for t in recent) and len(recent) == 2:
            return self.technique_plan(stage, "open-question", "reflection/question balance")
        return self.technique_plan(stage, _avoid_repeat(view, self.STAGE_STRATEGY[stage]), f"strategy for {stage}")


class PersonCenteredStyle(TherapyStyle):
    """Rogers' person-centred therapy: non-directive, empathic, congruent, accepting."""

    name = "person-centered"
    blocking = False  # rules over the dialogue: no model call
    title = "Person-centred therapy"
    description = (
        "Non-directive: follows the client's lead, offers accurate empathy, unconditional positive regard and "
        "genuineness, and trusts the client to find their own direction."
    )
    stages = ("relationship",)
    techniques = {
        "empathic-reflection": "Reflect the client's feeling and experience accurately and warmly, without interpreting.",
        "reflection-of-meaning": "Reflect what this experience seems to mean to the client.",
        "unconditional-positive-regard": "Convey acceptance of the client as they are, without judging what they feel or did.",
        "congruence": "Respond genuinely, as a real person, sharing your honest, caring reaction briefly.",
        "following": "Invite the client to continue in whatever direction they choose, without steering.",
    }
    instructions = (
        "You are a person-centred counsellor. Do not give advice, diagnose or steer. Follow the client's lead, "
        "understand their inner world and reflect it back with warmth and acceptance."
    )
    limits = StyleLimits(max_sentences=3, max_chars=350)

    def plan(self, view: PlanView) -> Plan:
        text = view.last_client
        if cue(text, [r"\b(my fault|i'?m (bad|terrible|ashamed|disgusting)|i shouldn'?t have)\b", r"(都怪我|我太差|我很丢人|我不该)"]):
            return self.technique_plan("relationship", "unconditional-positive-regard", "self-blame")
        if cue(text, EMOTION_CUES):
            return self.technique_plan("relationship", _avoid_repeat(view, ["empathic-reflection", "reflection-of-meaning"]), "feeling expressed")
        if view.turn == 1:
            return self.technique_plan("relationship", "following", "first turn")
        return self.technique_plan("relationship", _avoid_repeat(view, ["reflection-of-meaning", "following", "congruence"]), "following the client")


@hookimpl(trylast=True)
def register_therapy_styles(register):
    for style in (IntegrativeStyle(), CBTStyle(), MotivationalInterviewingStyle(), PersonCenteredStyle()):
        register(style)
