"""Solution-focused brief therapy (de Shazer, Berg) as a psyagents therapy style.

The session follows the usual SFBT arc: the client's goals (best hopes, the
miracle question), exceptions to the problem, scaling, and end-of-session
feedback (compliments and a task). The arc sets the stage from the turn's
progress; cues in the client's last message can call for a different
technique: hopelessness gets a coping question, a better moment gets amplified.
"""

from __future__ import annotations

from psyagents import Plan, PlanView, TherapyStyle, hookimpl
from psyagents.styles import cue

# Checked before EXCEPTION_CUES: "it was better for a day, but now it's only getting worse" needs coping.
HOPELESS_CUES = [
    r"\b(hopeless|pointless|no point|give up|giving up|can'?t cope|can'?t take (it|this)|too much for me)\b",
    r"\b(nothing|no one|nobody) (ever )?(works|helps|changes)\b",
    r"\bnot (getting )?any better\b",
    r"\b(getting|only getting) worse\b",
    r"(没希望|绝望|没有用|没办法|撑不住|受不了|越来越糟|越来越差|放弃|没意义)",
]
# A better moment the client has already had (not one they hope for), or something they managed.
EXCEPTION_CUES = [
    r"(?<!to )\b(feel|felt|was|were|got|went|it'?s been|has been) (a (bit|little|lot) |slightly |much )?(better|easier|calmer)\b",
    r"\b(a good (day|week|night|morning)|managed to|was able to|for once|except when|the only time)\b",
    r"\b(it|that|this) (really )?help(s|ed)\b",
    r"(好一点了|好一些了|好多了|轻松了|没那么(紧张|焦虑|难受|害怕|累)|做到了|还不错|有帮助|管用)",
]


def _avoid_repeat(view: PlanView, candidates: list[str]) -> str:
    """The first candidate not used in the last two turns (or the first one)."""
    recent = view.recent_techniques(2)
    return next((c for c in candidates if c not in recent), candidates[0])


def _used(view: PlanView, technique: str) -> bool:
    return any(p.technique == technique for p in view.previous)


class SolutionFocusedStyle(TherapyStyle):
    """Solution-focused brief therapy: goals, exceptions, scaling, then compliments and a task."""

    name = "sfbt"
    blocking = False  # rules over the dialogue: a batch runs plan() on its event loop
    title = "Solution-focused brief therapy"
    description = (
        "Brief and future-focused (de Shazer, Berg): builds a picture of the client's preferred future, "
        "finds exceptions when the problem is absent or smaller, scales progress, and ends with "
        "compliments and a small task, so the client does more of what already works."
    )
    stages = ("goals", "exceptions", "scaling", "feedback")
    techniques = {
        "goal-formulation": (
            "Ask what the client's best hopes are from talking today: what will be different, described as "
            "something they will be doing, in their own words."
        ),
        "miracle-question": (
            "Ask the miracle question: suppose that tonight, while they sleep, a miracle happens and the problem "
            "is solved; when they wake up, what is the first small thing they would notice that tells them so?"
        ),
        "relationship-question": (
            "Ask who in the client's life would be first to notice things getting better, and what they would "
            "see the client doing differently."
        ),
        "exception-seeking": (
            "Ask about a recent time when the problem was absent or a little less bad, even slightly, "
            "and what was different then."
        ),
        "exception-amplification": (
            "Take up the better moment the client just mentioned: ask what exactly was different and how they "
            "made it happen, treating it as their own success."
        ),
        "coping-question": (
            "Acknowledge how hard things are without arguing, then ask how the client has managed to keep going "
            "or stop things from getting even worse."
        ),
        "scaling-question": (
            "Ask the client to rate where things are now on a scale from 0 to 10, where 10 means the preferred "
            "future they described and 0 the worst things have been."
        ),
        "scaling-next-step": (
            "Ask what already keeps the client at their number rather than lower, or what one point higher "
            "would look like in their everyday life."
        ),
        "compliment": (
            "Compliment a real strength, effort or success the client has shown, pointing to what they said; "
            "be specific and sincere, not effusive."
        ),
        "what-else": (
            "Ask 'What else?' to draw out more of what the client just described: more signs of the preferred "
            "future, more exceptions, or more of what helped."
        ),
        "end-of-session-feedback": (
            "Close with feedback: compliment what the client is already doing that helps, link it to their goal, "
            "and suggest one small task, such as noticing what happens when things are a little better."
        ),
    }
    instructions = (
        "You are a counsellor practising solution-focused brief therapy. Focus on what the client wants rather "
        "than on the problem's causes, look for exceptions, strengths and resources, and treat the client as the "
        "expert on their own life. Use their words, ask one question at a time, and do not give advice: when "
        "something works, help them do more of it."
    )

    def stage_for(self, view: PlanView) -> str:
        """The stage in the SFBT arc for this turn, from the session's progress."""
        if view.turn >= view.max_turns:
            return "feedback"
        if view.progress < 0.3:
            return "goals"
        if view.progress < 0.6:
            return "exceptions"
        return "scaling"

    def plan(self, view: PlanView) -> Plan:
        stage = self.stage_for(view)
        if stage == "feedback":
            return self.technique_plan(stage, "end-of-session-feedback", "last turn")
        text = view.last_client
        found = cue(text, HOPELESS_CUES)
        if found:
            technique = _avoid_repeat(view, ["coping-question", "what-else"])
            return self.technique_plan(stage, technique, f"hopelessness: {found}")
        found = cue(text, EXCEPTION_CUES)
        if found:
            technique = _avoid_repeat(view, ["exception-amplification", "compliment", "what-else"])
            return self.technique_plan(stage, technique, f"better moment: {found}")
        if stage == "goals":
            for technique in ("goal-formulation", "miracle-question"):
                if not _used(view, technique):
                    return self.technique_plan(stage, technique, "building the preferred future")
            technique = _avoid_repeat(view, ["relationship-question", "what-else"])
            return self.technique_plan(stage, technique, "widening the picture")
        if stage == "exceptions":
            technique = _avoid_repeat(view, ["exception-seeking", "relationship-question", "what-else"])
            return self.technique_plan(stage, technique, "looking for exceptions")
        if not _used(view, "scaling-question"):
            return self.technique_plan(stage, "scaling-question", "first scaling")
        technique = _avoid_repeat(view, ["scaling-next-step", "compliment", "what-else"])
        return self.technique_plan(stage, technique, "building on the scale")


@hookimpl
def register_therapy_styles(register):
    register(SolutionFocusedStyle())
