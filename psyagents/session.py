"""Run and resume counselling sessions: the public Python API.

One session is one LangGraph thread whose id is the session id. The graph's
checkpoints (LangGraph's SqliteSaver, as a ``TurnSaver``: see checkpoints.py) and the trace (``TraceStore``) live in
the same SQLite file, so ``resume_session(id, db)`` can pick up after a crash.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.metadata
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessageChunk
from langgraph.types import Command
from pydantic import ValidationError

from .checkpoints import TurnSaver
from .errors import PsyagentsError, SessionBusy
from .graphs import build_session_graph, validate
from .models import get_chat_model, parse_model_spec
from .registry import format_validation_error, get_graph_spec, get_persona, get_style
from .reply_safety import reply_checks
from .risk import highest
from .safety import safety_checks
from .specs import GraphSpec, Persona
from .styles import TherapyStyle
from .state import SessionContext
from .supervision import parse_decision
from .text import sanitize
from .tracing import IMPORTED, TraceStore, Turn, busy_elsewhere, connect

DEFAULT_MODEL = "local:smollm2"
VERSIONED_PACKAGES = ("psyagents", "langgraph", "langchain-core", "pluggy", "pydantic", "transformers", "torch", "langchain-openai")

EventHandler = Callable[[str, Any], None]
FRESH_INPUT = {"messages": [], "turn": 0, "max_risk": "none"}


def package_versions() -> dict[str, str]:
    return dict(_package_versions())


@functools.lru_cache(maxsize=1)
def _package_versions() -> dict[str, str]:
    # Reading package metadata costs ~5 ms; a batch records it for every session.
    out = {}
    for name in VERSIONED_PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return out


@dataclass
class Session:
    """A finished (or interrupted) session as recorded in the trace store."""

    id: str
    db: Path
    persona_id: str
    style: str
    status: str
    end_reason: str | None
    turns: list[Turn] = field(default_factory=list)
    max_risk: str = "none"
    pending: dict | None = None  # what a paused session asks its supervisor (see supervision.py)

    def transcript(self) -> str:
        """The dialogue as ``Speaker: text`` lines."""
        return "\n".join(f"{t.speaker.capitalize()}: {t.text}" for t in self.turns)

    @classmethod
    def load(cls, store: TraceStore, session_id: str) -> "Session":
        row = store.session(session_id)
        levels = [e["level"] for e in store.events(session_id, "screen") if e["level"]]
        return cls(
            id=session_id,
            db=store.path,
            persona_id=row["persona_id"],
            style=row["style"],
            status=row["status"],
            end_reason=row["end_reason"],
            turns=store.turns(session_id),
            max_risk=highest(levels),
        )


def build_context(
    session_id: str,
    persona: Persona,
    style: TherapyStyle,
    counselor: str,
    client: str,
    *,
    max_turns: int,
    seed: int | None,
    trace: TraceStore | None,
    supervise: bool = False,
    models: Mapping[str, BaseChatModel] | None = None,
) -> SessionContext:
    """Build the models and everything else the nodes need; one model serves both sides when the strings match.

    ``models`` maps model strings to models already built (a batch shares them between sessions).
    """
    models = models or {}
    counselor_model = models.get(counselor) or get_chat_model(counselor)
    client_model = counselor_model if client == counselor else (models.get(client) or get_chat_model(client))
    return SessionContext(
        session_id=session_id, persona=persona, style=style, counselor=counselor_model, client=client_model,
        counselor_spec=counselor, client_spec=client, max_turns=max_turns, seed=seed, trace=trace,
        safety_checks=safety_checks(), reply_checks=reply_checks(), supervise=supervise,
    )


def _validate_args(max_turns: int, seed: int | None) -> None:
    if not isinstance(max_turns, int) or max_turns < 1:
        raise PsyagentsError(f"max_turns must be a whole number of at least 1, not {max_turns!r}")
    if seed is not None and (not isinstance(seed, int) or seed < 0):
        raise PsyagentsError(f"seed must be a non-negative whole number, not {seed!r}")


def _drive(graph, graph_input: Any, thread_id: str, max_turns: int, on_event: EventHandler | None) -> dict | None:
    """Stream the graph to ``on_event``; returns the interrupt payload if the session paused for a human."""
    config = {"configurable": {"thread_id": thread_id}, "recursion_limit": 12 * max_turns + 40}
    # Nobody listening: no token stream (its callbacks cost more than a scripted model's reply).
    modes = ["messages", "custom"] if on_event is not None else ["updates"]
    # durability="sync": LangGraph waits for each checkpoint before the next step starts instead
    # of overlapping the two; TurnSaver makes most checkpoints free, so the overlap cost more.
    for mode, payload in graph.stream(graph_input, config, stream_mode=modes, durability="sync"):
        if on_event is None:
            continue
        if mode == "messages":
            chunk, meta = payload
            # Only streamed chunks: LangGraph also emits each node's finished messages here.
            text = chunk.content if isinstance(chunk, AIMessageChunk) and isinstance(chunk.content, str) else ""
            if text:  # model output goes to a terminal: no control sequences
                on_event("token", {"node": meta.get("langgraph_node"), "text": sanitize(text)})
        else:
            on_event(payload.get("event", "custom"), payload)
    interrupts = graph.get_state(config).interrupts
    return interrupts[0].value if interrupts else None


def _open_graph(store: TraceStore, ctx: SessionContext, spec: GraphSpec):
    """The session's compiled graph on a checkpointer connection of its own; returns ``(conn, graph)``.

    Called before a new session's row is written: a graph that cannot be built leaves no session behind.
    """
    conn = connect(store.path)
    try:
        return conn, build_session_graph(spec, ctx, checkpointer=TurnSaver(conn))
    except BaseException:
        conn.close()
        raise


def _run(
    store: TraceStore, ctx: SessionContext, graph: Any, graph_input: Any, on_event: EventHandler | None,
    before: Callable[[], None] | None = None,
) -> Session:
    """Run ``graph`` for a session whose row is written; ``before`` runs first (marking it running, announcing it).

    Whatever stops it early, the session never stays ``running``: Ctrl-C marks it ``interrupted``,
    an error ``failed``.
    """
    try:
        if before is not None:
            before()
        pending = _drive(graph, graph_input, ctx.session_id, ctx.max_turns, on_event)
    except SessionBusy:  # another process holds it: its record is not ours to mark
        raise
    except KeyboardInterrupt:
        store.set_status(ctx.session_id, "interrupted")
        raise
    except Exception as exc:
        store.set_status(ctx.session_id, "failed", error=f"{type(exc).__name__}: {exc}")
        raise
    _finish(store, ctx.session_id, pending, on_event)
    session = Session.load(store, ctx.session_id)
    session.pending = pending
    return session


def _finish(store: TraceStore, session_id: str, pending: dict | None, on_event: EventHandler | None) -> str:
    """Record how a graph run stopped (paused for a human, or ended); returns the session's status."""
    if pending is not None:
        store.set_status(session_id, "paused")
        store.add_event(session_id, "paused", turn_idx=pending.get("turn_idx"), level=pending.get("risk"), draft=pending.get("draft"))
        if on_event:
            on_event("paused", {"session_id": session_id, **pending})
        return "paused"
    with store._lock:  # the store may be shared with node threads (a batch)
        row = store.session(session_id)
    if row["status"] == "running":  # a graph that ends without an end node
        store.set_status(session_id, "completed", end_reason=row["end_reason"] or "graph_end")
        return "completed"
    return row["status"]


# async path (batches: psyagents.simulate) ------------------------------------
async def _adrive(graph, graph_input: Any, thread_id: str, max_turns: int, on_event: EventHandler | None, tokens: bool) -> dict | None:
    """``_drive`` on the graph's async API.

    With ``tokens=False`` (a batch) only ``turn`` events are reported, read from the nodes'
    state updates: the custom stream wakes the event loop from the node threads for every
    event, which costs a batch more CPU per turn than it is worth.
    """
    config = {"configurable": {"thread_id": thread_id}, "recursion_limit": 12 * max_turns + 40}
    modes = ["messages", "custom"] if tokens else ["updates"]
    # durability="sync", as in _drive: TurnSaver gets each checkpoint before the writes of the step after it.
    async for mode, payload in graph.astream(graph_input, config, stream_mode=modes, durability="sync"):
        if on_event is None:
            continue
        if mode == "updates":
            for node, update in payload.items():
                for message in (update or {}).get("messages", []) if isinstance(update, dict) else []:
                    on_event("turn", {"node": node, "speaker": message.name, "text": str(message.content)})
        elif mode == "messages":
            chunk, meta = payload
            text = chunk.content if isinstance(chunk, AIMessageChunk) and isinstance(chunk.content, str) else ""
            if text:
                on_event("token", {"node": meta.get("langgraph_node"), "text": sanitize(text)})
        else:
            on_event(payload.get("event", "custom"), payload)
    interrupts = (await graph.aget_state(config)).interrupts
    return interrupts[0].value if interrupts else None


async def _arun(
    store: TraceStore, ctx: SessionContext, spec: GraphSpec, graph_input: Any, *, checkpointer: Any,
    on_event: EventHandler | None = None, tokens: bool = False, on_loop: bool = False,
) -> str:
    """Run a session's graph to its end or pause with ``graph.astream``; returns its status.

    Sync nodes run in the event loop's default executor, so sessions overlap while their
    model calls wait. With ``on_loop=True`` the built-in nodes (``TwinNode``) run on the
    event loop itself and await their model calls, writing the trace in place: only for a
    checkpointer that shares the store's connection and lock (``simulate.StoreSaver``).
    The driver's own trace-store calls leave the event loop (``asyncio.to_thread``): with
    a checkpointer on a connection of its own, a write blocked on SQLite's lock while that
    checkpointer holds it would otherwise stop the loop that is about to commit it.
    """
    try:
        graph = build_session_graph(spec, ctx, checkpointer=checkpointer, on_loop=on_loop)
        pending = await _adrive(graph, graph_input, ctx.session_id, ctx.max_turns, on_event, tokens)
    except (asyncio.CancelledError, KeyboardInterrupt):
        await asyncio.to_thread(store.set_status, ctx.session_id, "interrupted")
        raise
    except Exception as exc:
        await asyncio.to_thread(store.set_status, ctx.session_id, "failed", error=f"{type(exc).__name__}: {exc}")
        raise
    return await asyncio.to_thread(_finish, store, ctx.session_id, pending, on_event)


def new_session_config(
    persona: Persona, style: TherapyStyle, spec: GraphSpec, graph_ref: Any, counselor: str, client: str,
    max_turns: int, seed: int | None, supervise: bool = False,
) -> dict:
    """What a session records as its configuration (and what resuming it rebuilds it from)."""
    return {
        "persona": persona.id,
        "style": style.name,
        "graph": spec.id,
        "graph_ref": str(graph_ref),  # an id or a file path: what resume loads
        "counselor": counselor,
        "client": client,
        "max_turns": max_turns,
        "seed": seed,
        "supervise": supervise,
    }


async def astart_session(
    store: TraceStore, session_id: str, persona: Persona, style: TherapyStyle, spec: GraphSpec, config: dict, *,
    checkpointer: Any, models: Mapping[str, BaseChatModel] | None = None, run_id: str | None = None,
    key: str | None = None, on_event: EventHandler | None = None, tokens: bool = False, on_loop: bool = False,
) -> str:
    """Start a new session on a shared store and async checkpointer (a batch's building block); returns its status."""
    ctx = build_context(
        session_id, persona, style, config["counselor"], config["client"], max_turns=config["max_turns"],
        seed=config["seed"], trace=store, supervise=config.get("supervise", False), models=models,
    )
    validate(spec)  # an unknown node type or condition: no session row
    await asyncio.to_thread(
        store.start_session, session_id, config=config, persona=persona.model_dump(), versions=package_versions(), run_id=run_id, key=key
    )
    if on_event:
        on_event("start", {"session_id": session_id, "db": str(store.path), **config})
    return await _arun(store, ctx, spec, dict(FRESH_INPUT), checkpointer=checkpointer, on_event=on_event, tokens=tokens, on_loop=on_loop)


async def aresume_session(
    store: TraceStore, session_id: str, *, checkpointer: Any, models: Mapping[str, BaseChatModel] | None = None,
    on_event: EventHandler | None = None, tokens: bool = False, reason: str = "resume", on_loop: bool = False,
) -> str:
    """Continue a session from its last checkpoint on a shared store and async checkpointer; returns its status."""
    def read() -> dict:
        with store._lock:
            return store.session(session_id)

    row = await asyncio.to_thread(read)
    check_not_running_elsewhere(row)
    cfg = row["config"]
    persona = stored_persona(row)
    ctx = build_context(
        session_id, persona, get_style(cfg["style"]), cfg["counselor"], cfg["client"], max_turns=cfg["max_turns"],
        seed=cfg["seed"], trace=store, supervise=cfg.get("supervise", False), models=models,
    )
    has_checkpoint = await checkpointer.aget_tuple({"configurable": {"thread_id": session_id}}) is not None
    graph_input = None if has_checkpoint else dict(FRESH_INPUT)
    await asyncio.to_thread(store.set_status, session_id, "running")  # the claim: SessionBusy, nothing written, if taken
    await asyncio.to_thread(store.add_event, session_id, "resume", from_checkpoint=has_checkpoint, reason=reason)
    spec = get_graph_spec(cfg.get("graph_ref", cfg["graph"]))
    return await _arun(store, ctx, spec, graph_input, checkpointer=checkpointer, on_event=on_event, tokens=tokens, on_loop=on_loop)


def run_session(
    persona: str | Persona,
    style: str = "integrative",
    counselor: str = DEFAULT_MODEL,
    client: str = DEFAULT_MODEL,
    *,
    max_turns: int = 8,
    db: str | Path = "traces.db",
    graph: str = "default",
    seed: int | None = 0,
    session_id: str | None = None,
    on_event: EventHandler | None = None,
    supervise: bool = False,
    run_id: str | None = None,
    key: str | None = None,
) -> Session:
    """Run one session between a simulated client (``persona``) and a counsellor following ``style``.

    ``counselor`` and ``client`` are model strings (``local:smollm2``, ``openai:NAME``,
    ``scripted:counselor``...). Every turn is written to ``db`` as it happens.
    ``on_event(kind, data)`` receives tokens as they stream and the session's events.
    With ``supervise=True`` a crisis reply at imminent risk pauses the session for a
    human supervisor: the returned session has status ``paused`` and ``pending`` set;
    continue it with ``resume_session(id, db, decision="approve" or "reply:TEXT")``.
    ``run_id`` and ``key`` tie the session to a batch run (see ``psyagents.simulate``).
    """
    _validate_args(max_turns, seed)
    persona_obj = get_persona(persona)
    style_obj = get_style(style)
    spec = get_graph_spec(graph)
    for spec_string in (counselor, client):
        parse_model_spec(spec_string)
    session_id = session_id or uuid.uuid4().hex[:12]
    # Models are built before the database is touched: a bad model leaves no file behind.
    ctx = build_context(session_id, persona_obj, style_obj, counselor, client, max_turns=max_turns, seed=seed, trace=None, supervise=supervise)
    config = new_session_config(persona_obj, style_obj, spec, graph, counselor, client, max_turns, seed, supervise)
    validate(spec)  # an unknown node type or condition fails before the database is touched
    store = TraceStore(db)
    conn = None
    try:
        ctx.trace = store
        # The graph is built before the session's row is written: a node that cannot be built leaves no session.
        conn, compiled = _open_graph(store, ctx, spec)
        store.start_session(session_id, config=config, persona=persona_obj.model_dump(), versions=package_versions(), run_id=run_id, key=key)

        def announce() -> None:
            if on_event:
                on_event("start", {"session_id": session_id, "db": str(store.path), **config})

        return _run(store, ctx, compiled, dict(FRESH_INPUT), on_event, before=announce)
    finally:
        if conn is not None:
            conn.close()
        store.close()


def stored_persona(row: dict) -> Persona:
    """The persona a session recorded, for resuming it; a one-line error for an imported or damaged record."""
    cfg = row.get("config") if isinstance(row.get("config"), dict) else {}
    session_id = row.get("id")
    if IMPORTED in (row.get("persona_id"), row.get("graph"), cfg.get("graph"), cfg.get("persona")):
        raise PsyagentsError(f"session '{session_id}' was imported (not run by psyagents) and cannot be resumed")
    try:
        return Persona.model_validate(row["persona"])  # the persona as it was, even if its file changed
    except ValidationError as exc:
        raise PsyagentsError(f"session '{session_id}': stored persona: {format_validation_error(exc)}; it cannot be resumed") from None


def check_not_running_elsewhere(row: dict) -> None:
    """Refuse to resume a session another live process is running: both would write its turns.

    A session whose process died (a crash, kill -9) is still marked ``running``; its ``owner``
    then names a process that is gone, and it may be resumed. A process on another machine
    cannot be checked, so a database shared between machines is not protected.
    """
    if busy := busy_elsewhere(str(row.get("id")), row.get("status"), row.get("owner")):
        raise busy


def check_resumable(row: dict) -> tuple[dict, Persona]:
    """A session's record checked for resuming (not imported, not running elsewhere, persona and configuration readable).

    Returns its configuration and persona.
    """
    check_not_running_elsewhere(row)
    persona = stored_persona(row)
    cfg = row.get("config")
    missing = [k for k in ("style", "graph", "counselor", "client", "max_turns", "seed") if not isinstance(cfg, dict) or k not in cfg]
    if missing:
        raise PsyagentsError(f"session '{row.get('id')}': stored config lacks field '{missing[0]}'; it cannot be resumed")
    return cfg, persona


def resume_session(
    session_id: str, db: str | Path = "traces.db", *, on_event: EventHandler | None = None, decision: Any = None
) -> Session:
    """Continue an interrupted, crashed or paused session from its last checkpoint.

    A session paused for its supervisor needs ``decision``: ``"approve"``,
    ``"reply:TEXT"`` or ``{"action": "edit" | "take_over", "text": ...}``.
    """
    store = TraceStore(db, create=False)
    try:
        row = store.session(session_id)
        cfg, persona = check_resumable(row)  # an imported session or a damaged record: one line, nothing written
        if row["status"] == "completed":
            raise PsyagentsError(f"session '{session_id}' already ended ({row['end_reason']}); nothing to resume")
        if row["status"] == "paused" and decision is None:
            raise PsyagentsError(f"session '{session_id}' awaits its supervisor: give a decision, 'approve' or 'reply:TEXT'")
        if decision is not None and row["status"] != "paused":
            raise PsyagentsError(f"session '{session_id}' is not waiting for a supervisor decision")
        ctx = build_context(
            session_id, persona, get_style(cfg["style"]), cfg["counselor"], cfg["client"],
            max_turns=cfg["max_turns"], seed=cfg["seed"], trace=store, supervise=cfg.get("supervise", False),
        )
        # The graph is built before anything is written: one that cannot be built leaves the record as it was.
        conn, compiled = _open_graph(store, ctx, get_graph_spec(cfg.get("graph_ref", cfg["graph"])))
        try:
            if decision is not None:
                graph_input: Any = Command(resume=parse_decision(decision))
                detail: dict[str, Any] = {"decision": str(decision)}
            else:
                # With no checkpoint yet (a crash before the first node finished) the session starts over.
                has_checkpoint = TurnSaver(conn).get_tuple({"configurable": {"thread_id": session_id}}) is not None
                graph_input = None if has_checkpoint else dict(FRESH_INPUT)
                detail = {"from_checkpoint": has_checkpoint}

            def claim() -> None:
                # Marked running (the claim: SessionBusy if another process took it meanwhile) inside _run's
                # guard, so a Ctrl-C from here on leaves it interrupted, never running; then the resume event.
                store.set_status(session_id, "running")
                store.add_event(session_id, "resume", **detail)

            return _run(store, ctx, compiled, graph_input, on_event, before=claim)
        finally:
            conn.close()
    finally:
        store.close()


def load_session(session_id: str, db: str | Path = "traces.db") -> Session:
    """Read a recorded session."""
    store = TraceStore(db, create=False)
    try:
        return Session.load(store, session_id)
    finally:
        store.close()
