"""Node factories for session graphs: client, safety, technique, counsellor, crisis and end.

A factory takes ``(ctx, name, params)`` and returns a node: a function of the
state returning a partial update. Nodes write the trace as they go (through
``ctx.trace``), so a crash loses nothing already said, and emit ``custom``
stream events (``turn``, ``guard``, ``screen``, ``crisis``, ``end``) that the CLI shows.

The built-in nodes are ``TwinNode``s: their bodies yield their model calls and anything that
may block (see ``psyagents/steps.py``), so the same code runs as a plain function in
``run_session`` and on the event loop in a batch.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langgraph.config import get_stream_writer

from . import guard
from .closing import accepts_close, is_closing
from .prompts import END_SIGNAL, client_messages, counselor_messages, counselor_system_prompt
from .reply_safety import HINTS as REPLY_HINTS, safe_reply, screen_reply
from .risk import RiskAssessment, at_least, highest
from .state import CLIENT, COUNSELOR, SessionContext, SessionState, history
from .steps import ModelCall, Steps, TwinNode, call, is_blocking, run_steps
from .styles import Plan, PlanView, StyleLimits
from .text import sanitize
from .tracing import Turn

Node = Callable[[SessionState], dict[str, Any]]

CLIENT_LIMITS = StyleLimits(max_sentences=6, max_chars=700, allow_lists=True)
CRISIS_LIMITS = StyleLimits(max_sentences=6, max_chars=800)
GUARD_HINTS = {
    "too_long": "Say less: a few short sentences.",
    "list": "Speak in plain sentences, with no list, numbering or formatting.",
    "role_break": "Stay in your role and speak only your own words.",
    "empty": "Say something.",
}
FALLBACK = {
    COUNSELOR: {"en": "Could you tell me a little more about that?", "zh": "能再多和我说说吗？"},
    CLIENT: {"en": "I'm not sure what to say.", "zh": "我也不知道该说什么。"},
}
SAFETY_PLAN = Plan(
    stage="safety",
    technique="risk-assessment",
    instruction=(
        "The client has said something that suggests risk to their safety. Stay calm and caring. Ask directly "
        "and kindly whether they are having thoughts of suicide or of harming themselves, and if so whether "
        "they have a plan, the means and a time in mind. Encourage them to reach people they trust, and let "
        "them know that help is available."
    ),
    reason="risk at moderate or above",
)
SAFETY_FOLLOW_UP = Plan(
    stage="safety",
    technique="safety-planning",
    instruction=(
        "The client disclosed serious risk earlier. Stay with their safety before anything else: check how "
        "safe they are right now, build a safety plan together (warning signs, what helps them cope, people "
        "and places to turn to, professional help, keeping the means out of reach) and keep encouraging them "
        "to contact the crisis line or a trusted person."
    ),
    reason="serious risk earlier in the session",
)
CLOSING_PLAN = Plan(
    stage="closing",
    technique="closing",
    instruction="The client is ending the session: acknowledge their work, sum up in a sentence and say goodbye warmly.",
    reason="client closed",
)
CRISIS_PLAN = Plan(
    stage="crisis",
    technique="crisis-protocol",
    instruction=(
        "The client may be in immediate danger. Respond with calm, direct care: say you are glad they told you, "
        "ask whether they are safe right now and whether they have the means with them, ask them to put distance "
        "between themselves and any means, urge them to contact a crisis line or emergency services now and to "
        "reach a trusted person, and say you will stay with them in this conversation."
    ),
    reason="risk at high or above",
)


def _writer() -> Callable[[dict], None]:
    try:
        return get_stream_writer()
    except RuntimeError:  # called outside a graph run (unit tests)
        return lambda _event: None


def _seed(ctx: SessionContext, idx: int, attempt: int) -> dict[str, int]:
    """Per-call seed: reproducible for the session, different for each turn and retry."""
    return {} if ctx.seed is None else {"seed": ctx.seed * 1000 + idx * 10 + attempt}


def guarded_reply(*args: Any, **kwargs: Any) -> tuple[str, dict[str, Any]]:
    """``guarded_reply_steps`` (same arguments), making its model calls in this thread."""
    return run_steps(guarded_reply_steps(*args, **kwargs))


def guarded_reply_steps(
    ctx: SessionContext,
    role: str,
    build: Callable[[str], list[BaseMessage]],
    limits: StyleLimits,
    idx: int,
    *,
    postprocess: Callable[[str], str] = lambda t: t,
    risk: str = "none",
) -> Steps[tuple[str, dict[str, Any]]]:
    """Generate a reply, regenerating while the guard or the reply screen rejects it.

    ``build(note)`` returns the prompt, ``note`` telling the model why its last draft was rejected.
    Model output is sanitised first. The response guard checks both sides; the counsellor's drafts
    also go through ``ctx.reply_checks``. When the retries run out, a draft that still fails the
    reply screen is replaced by a safe reply (which says help is available when ``risk`` is above
    none); one that only breaks the guard is repaired.
    Returns the text and the turn's measurements (latency, tokens, attempts).
    """
    model = ctx.counselor if role == COUNSELOR else ctx.client
    emit = _writer()
    note, text = "", ""
    unsafe: list[str] = []
    info: dict[str, Any] = {"latency_ms": 0.0, "prompt_tokens": 0, "completion_tokens": 0, "attempts": 0}
    for attempt in range(ctx.guard_retries + 1):
        start = time.perf_counter()
        message = yield ModelCall(model, build(note), _seed(ctx, idx, attempt))
        info["latency_ms"] += (time.perf_counter() - start) * 1000
        usage = getattr(message, "usage_metadata", None) or {}
        info["prompt_tokens"] += usage.get("input_tokens", 0)
        info["completion_tokens"] += usage.get("output_tokens", 0)
        info["attempts"] = attempt + 1
        text = postprocess(guard.clean(sanitize(str(message.content)), role))
        bad = guard.violations(text, limits, role)
        unsafe = (yield from _screen_reply_steps(ctx, text)) if role == COUNSELOR else []
        if not bad and not unsafe:
            return text, info
        if ctx.trace and bad:
            ctx.trace.add_event(ctx.session_id, "guard", turn_idx=idx, speaker=role, reasons=bad, attempt=attempt + 1, rejected=text)
        if ctx.trace and unsafe:
            ctx.trace.add_event(ctx.session_id, "reply_screen", turn_idx=idx, violations=unsafe, rejected=text, attempt=attempt + 1)
        emit({"event": "guard", "speaker": role, "reasons": bad + unsafe, "attempt": attempt + 1})
        note = "Your previous reply was rejected. " + " ".join(
            [GUARD_HINTS[b] for b in bad] + [REPLY_HINTS.get(v, f"Avoid {v.replace('_', ' ')}.") for v in unsafe]
        )
    if unsafe:  # repair only fixes style: an unsafe draft is never sent, whatever shape it is in
        return _replace_unsafe(ctx, idx, text, unsafe, risk, info), info
    repaired = guard.repair(text, limits, role) or FALLBACK[role].get(ctx.persona.language, FALLBACK[role]["en"])
    if ctx.trace:
        ctx.trace.add_event(ctx.session_id, "guard", turn_idx=idx, speaker=role, action="repaired", original=text, repaired=repaired)
    emit({"event": "guard", "speaker": role, "action": "repaired"})
    info["repaired"] = True
    if role == COUNSELOR and (unsafe := (yield from _screen_reply_steps(ctx, repaired))):  # a repair joins sentences anew
        return _replace_unsafe(ctx, idx, repaired, unsafe, risk, info), info
    return repaired, info


def _screen_reply(ctx: SessionContext, text: str) -> list[str]:
    return screen_reply(text, language=ctx.persona.language, checks=ctx.reply_checks) if ctx.reply_checks else []


def _screen_reply_steps(ctx: SessionContext, text: str) -> Steps[list[str]]:
    blocking = any(is_blocking(c, "check") for c in ctx.reply_checks)
    return (yield from call(lambda: _screen_reply(ctx, text), blocking=blocking))


def _replace_unsafe(ctx: SessionContext, idx: int, text: str, violations: list[str], risk: str, info: dict[str, Any]) -> str:
    """The safe reply that stands in for a counsellor draft the reply screen kept rejecting."""
    replacement = safe_reply(ctx.persona.language, risk=at_least(risk, "low"))
    if ctx.trace:
        ctx.trace.add_event(
            ctx.session_id, "reply_screen", turn_idx=idx, action="replaced", violations=violations, original=text, replacement=replacement
        )
    _writer()({"event": "guard", "speaker": COUNSELOR, "action": "replaced"})
    info["replaced"] = True
    return replacement


def _record(ctx: SessionContext, idx: int, speaker: str, text: str, info: dict[str, Any], plan: Plan | None = None) -> None:
    model = ctx.counselor_spec if speaker == COUNSELOR else ctx.client_spec
    turn = Turn(
        idx=idx,
        speaker=speaker,
        text=text,
        stage=plan.stage if plan else None,
        technique=plan.technique if plan else None,
        model=model,
        latency_ms=round(info.get("latency_ms", 0.0), 2),
        prompt_tokens=info.get("prompt_tokens"),
        completion_tokens=info.get("completion_tokens"),
    )
    if ctx.trace:
        meta = {k: v for k, v in info.items() if k not in ("latency_ms", "prompt_tokens", "completion_tokens")}
        if plan:
            meta["plan_reason"] = plan.reason
        ctx.trace.add_turn(ctx.session_id, turn, meta)
    _writer()({"event": "turn", **turn.__dict__})


def make_client(ctx: SessionContext, name: str, params: dict) -> Node:
    """The simulated client: the persona, on the client model, with the whole role-swapped history."""
    persona = ctx.persona

    def client(state: SessionState) -> Steps[dict[str, Any]]:
        msgs = state.get("messages", [])
        dialogue = history(state)
        idx = len(msgs)
        counselor_closed = state.get("closing") == COUNSELOR
        ended_by_signal = False
        if not dialogue and persona.opening:
            text, info = sanitize(persona.opening), {"scripted_opening": True}
        else:
            def strip_signal(t: str) -> str:
                nonlocal ended_by_signal
                if END_SIGNAL in t:
                    ended_by_signal = True
                    t = t.replace(END_SIGNAL, "").strip()
                return t

            text, info = yield from guarded_reply_steps(
                ctx,
                CLIENT,
                # The guard's note goes into the brief, not the dialogue, so the client never answers it.
                lambda note: client_messages(persona, dialogue, state.get("turn", 0), counselor_closed, note),
                CLIENT_LIMITS,
                idx,
                postprocess=strip_signal,
            )
        _record(ctx, idx, CLIENT, text, info)
        update: dict[str, Any] = {"messages": [HumanMessage(text, name=CLIENT)]}
        last_counselor = next((t for s, t in reversed(dialogue) if s == COUNSELOR), "")
        if ended_by_signal:
            update["end_reason"] = "client_end_signal"
        elif counselor_closed:
            update["end_reason"] = "counselor_closing"
        elif is_closing(text) or accepts_close(text, last_counselor):
            update["closing"] = CLIENT
            if ctx.trace:
                ctx.trace.add_event(ctx.session_id, "closing", turn_idx=idx, by=CLIENT)
        return update

    return TwinNode(client)


def make_safety(ctx: SessionContext, name: str, params: dict) -> Node:
    """Screens the client's last message with every safety check; the highest level wins."""

    def safety(state: SessionState) -> Steps[dict[str, Any]]:
        msgs = state.get("messages", [])
        idx = len(msgs) - 1
        text = str(msgs[-1].content) if msgs else ""
        results = []
        for check in ctx.safety_checks:
            screen = partial(check.screen, text, language=ctx.persona.language)
            results.append((yield from call(screen, blocking=is_blocking(check, "screen"))))
        risk = RiskAssessment.combine(results)
        update: dict[str, Any] = {"risk": risk.model_dump(), "max_risk": highest([state.get("max_risk", "none"), risk.level])}
        if ctx.trace:
            ctx.trace.add_screen(ctx.session_id, idx, risk.level, categories=risk.categories, layer=risk.layer, evidence=risk.evidence)
        _writer()({"event": "screen", "idx": idx, **risk.model_dump()})
        # Risk outweighs a closing: the session goes on so the counsellor can respond to it.
        if at_least(risk.level, "moderate") and state.get("end_reason") == "counselor_closing":
            update["end_reason"] = None
            update["closing"] = None
            if ctx.trace:
                ctx.trace.add_event(ctx.session_id, "closing", turn_idx=idx, action="cancelled", reason=f"risk {risk.level}")
        elif at_least(risk.level, "moderate") and state.get("closing") == CLIENT:
            update["closing"] = None
        return update

    return TwinNode(safety)


def plan_view(ctx: SessionContext, state: SessionState) -> PlanView:
    return PlanView(
        turn=state.get("turn", 0) + 1,
        max_turns=ctx.max_turns,
        history=tuple(history(state)),
        language=ctx.persona.language,
        previous=tuple(Plan(**p) for p in state.get("plans", [])),
    )


def choose_plan(ctx: SessionContext, state: SessionState) -> Plan:
    """``choose_plan_steps`` in this thread."""
    return run_steps(choose_plan_steps(ctx, state))


def choose_plan_steps(ctx: SessionContext, state: SessionState) -> Steps[Plan]:
    """The style's plan for the next counsellor turn, unless safety or a closing comes first.

    Risk in the last message gets the risk assessment; after serious risk earlier in the
    session the counsellor stays with safety planning rather than returning to the style.
    From moderate risk up the plan carries the crisis resources for the client's locale.
    """
    from .crisis import format_resources

    current = state.get("risk", {}).get("level", "none")
    if at_least(current, "moderate"):
        plan = SAFETY_PLAN
    elif state.get("closing") == CLIENT:
        plan = CLOSING_PLAN
    elif at_least(state.get("max_risk", "none"), "high"):
        plan = SAFETY_FOLLOW_UP
    else:
        view = plan_view(ctx, state)
        return (yield from call(lambda: ctx.style.plan(view), blocking=is_blocking(ctx.style, "plan")))
    if at_least(current, "moderate") or at_least(state.get("max_risk", "none"), "high"):
        resources = format_resources(ctx.persona.locale, ctx.persona.language)
        plan = plan.model_copy(update={"instruction": f"{plan.instruction} Crisis resources: {resources}"})
    return plan


def make_technique(ctx: SessionContext, name: str, params: dict) -> Node:
    """Asks the style's policy for this turn's stage and technique."""

    def technique(state: SessionState) -> Steps[dict[str, Any]]:
        plan = yield from choose_plan_steps(ctx, state)
        record = {**plan.model_dump(), "turn": state.get("turn", 0) + 1}
        return {"plan": record, "plans": [*state.get("plans", []), plan.model_dump()]}

    return TwinNode(technique)


def _counselor_turn_steps(
    ctx: SessionContext, state: SessionState, plan: Plan, limits: StyleLimits, extra: str = ""
) -> Steps[tuple[str, dict, int]]:
    dialogue = history(state)
    idx = len(state.get("messages", []))
    turn = state.get("turn", 0) + 1

    def build(note: str) -> list[BaseMessage]:
        system = counselor_system_prompt(
            ctx.style, plan, language=ctx.persona.language, turn=turn, max_turns=ctx.max_turns,
            client_name=ctx.persona.name, limits=limits, extra=" ".join(x for x in (extra, note) if x),
        )
        return counselor_messages(system, dialogue)

    risk = highest([state.get("risk", {}).get("level", "none"), state.get("max_risk", "none")])
    text, info = yield from guarded_reply_steps(ctx, COUNSELOR, build, limits, idx, risk=risk)
    return text, info, idx


def _after_counselor(ctx: SessionContext, state: SessionState, text: str, idx: int) -> dict[str, Any]:
    turn = state.get("turn", 0) + 1
    update: dict[str, Any] = {"messages": [AIMessage(text, name=COUNSELOR)], "turn": turn}
    if state.get("end_reason"):
        return update  # e.g. a crisis reply to a client who signalled the end
    if state.get("closing") == CLIENT:
        update["end_reason"] = "client_closing"
    elif is_closing(text):
        update["closing"] = COUNSELOR
        if ctx.trace:
            ctx.trace.add_event(ctx.session_id, "closing", turn_idx=idx, by=COUNSELOR)
    if "end_reason" not in update and turn >= ctx.max_turns:
        update["end_reason"] = "turn_cap"
    return update


def make_counselor(ctx: SessionContext, name: str, params: dict) -> Node:
    """The counsellor: follows the plan from the technique node (or asks the style itself) under the guard."""

    def counselor(state: SessionState) -> Steps[dict[str, Any]]:
        turn = state.get("turn", 0) + 1
        stored = state.get("plan")
        if stored and stored.get("turn") == turn:
            plan = Plan(**{k: v for k, v in stored.items() if k != "turn"})
        else:
            plan = yield from choose_plan_steps(ctx, state)
        text, info, idx = yield from _counselor_turn_steps(ctx, state, plan, ctx.style.limits)
        _record(ctx, idx, COUNSELOR, text, info, plan)
        return _after_counselor(ctx, state, text, idx)

    return TwinNode(counselor)


def make_crisis(ctx: SessionContext, name: str, params: dict) -> Node:
    """The crisis path: a direct, caring reply that always carries crisis resources for the client's locale."""
    from .crisis import format_resources, resources_for

    def crisis(state: SessionState) -> Steps[dict[str, Any]]:
        resources = resources_for(ctx.persona.locale)
        line = format_resources(ctx.persona.locale, ctx.persona.language)
        text, info, idx = yield from _counselor_turn_steps(ctx, state, CRISIS_PLAN, CRISIS_LIMITS, extra=f"Crisis resources to give: {line}")
        added = not any(r.contact in text for r in resources)
        if added:  # the resources must reach the client whatever the model wrote
            text = f"{text} {line}".strip()
        info["resources_added"] = added
        _record(ctx, idx, COUNSELOR, text, info, CRISIS_PLAN)
        level = state.get("risk", {}).get("level", "high")
        if ctx.trace:
            ctx.trace.add_event(ctx.session_id, "crisis", turn_idx=idx, level=level, action="crisis_reply", resources=[r.contact for r in resources], resources_added=added)
        _writer()({"event": "crisis", "idx": idx, "level": level})
        return _after_counselor(ctx, state, text, idx)

    return TwinNode(crisis)


def make_end(ctx: SessionContext, name: str, params: dict) -> Node:
    """Closes the session in the trace store with its end reason."""

    def end(state: SessionState) -> dict[str, Any]:
        reason = state.get("end_reason") or "graph_end"
        if ctx.trace:
            ctx.trace.add_event(ctx.session_id, "end", turn_idx=len(state.get("messages", [])) - 1, reason=reason, max_risk=state.get("max_risk", "none"))
            ctx.trace.set_status(ctx.session_id, "completed", end_reason=reason)
        _writer()({"event": "end", "reason": reason})
        return {"end_reason": reason}

    return TwinNode(end)


BUILTIN_NODE_TYPES: dict[str, tuple[Callable[..., Node], str]] = {
    "client": (make_client, "the simulated client (persona) on the client model"),
    "safety": (make_safety, "screens the last client message with every safety check"),
    "technique": (make_technique, "the therapy style's policy picks this turn's stage and technique"),
    "counselor": (make_counselor, "the counsellor on the counsellor model, under the response guard"),
    "crisis": (make_crisis, "crisis reply with resources for the client's locale"),
    "end": (make_end, "records the end reason and closes the session"),
}
