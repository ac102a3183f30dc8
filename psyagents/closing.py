"""Recognise when a speaker is closing the session.

A bare keyword list loops: the client says "bye", the counsellor says "bye,
take care", the client answers "bye!" and so on. So closing is judged in
context: a farewell or wrap-up counts only near the end of the message, not
when it is reported speech ("I never got to say goodbye to my dad") and not
when it is only a proposal ("Shall we stop here?"), which becomes a closing
once the other side agrees. The session nodes add the dialogue rule that
ends the loop: once one side has closed, the other side gets exactly one
reply and the session ends.
"""

from __future__ import annotations

import re

from .text import sentences

_FAREWELL = re.compile(
    r"\b(good ?-?bye|bye(-bye| for now)?|see (you|ya)( next (time|week|session)| soon| then| later)?|take care( of yourself)?|"
    r"talk (to you )?(soon|next time|later)|until next (time|week|session)|have a (good|nice|great|lovely) (day|evening|night|week|weekend))\b"
    r"|(再见|再會|拜拜|下次见|下次見|回头见|下周见|下週見|保重|慢走)",
    re.IGNORECASE,
)
_WRAP_UP = re.compile(
    r"(that'?s (all|it|everything) (for (today|now)|i wanted to say)|let'?s (stop|end|finish|wrap (it )?up|leave it) (here|there|for today)|"
    r"we'?ll (stop|end|leave it) (here|there)|i (think|guess) (i'?m|that'?s) (done|all)( for today)?|i (have|need|got) to go( now)?|"
    r"our time is (up|over)|end (our|the) session|(shall|should|can|could) we (stop|end|finish|wrap (it )?up|leave it)|"
    r"(do you want|would you like) to (stop|end|finish) (here|there|for today|now))"
    r"|(今天就(到这|先到这|聊到这)|先这样吧|就聊到这|我们今天就到这里|我(得|要|先)走了|今天先到这)",
    re.IGNORECASE,
)
_REPORTED = re.compile(
    r"((say|said|saying|says|wave|waved) (good ?-?bye|bye)( to)?|good ?-?bye to (my|his|her|their|the|our|him|them)|"
    r"(never|didn'?t|couldn'?t|can'?t|won'?t|not) (get to |got to |able to )?say (good ?-?bye|bye))"
    r"|((跟|和|向).{0,8}(说|道)(再见|拜拜)|没(能|有)?说再见|告别)",
    re.IGNORECASE,
)
_AGREEMENT = re.compile(r"^(yes|yeah|yep|ok(ay)?|sure|alright|sounds good|好的?|嗯|可以|行)\b", re.IGNORECASE)
_PROPOSAL_END = re.compile(r"[?？]\s*$")


def _closing_sentence(sentence: str) -> bool:
    if _REPORTED.search(sentence):
        return False
    return bool(_FAREWELL.search(sentence) or _WRAP_UP.search(sentence))


def is_closing(text: str) -> bool:
    """True when ``text`` closes the conversation: a farewell or wrap-up at its end.

    The last sentence counts; so does the one before it when the last is a short
    pleasantry ("Goodbye. Thanks again!"), but not when the speaker goes on to say
    more ("Bye. No, wait, there is something else..."). A closing phrased as a
    question ("Shall we stop here?") is a proposal, not a closing.
    """
    parts = sentences(text)
    if not parts:
        return False
    tail = parts[-1:]
    if len(parts) > 1 and len(parts[-1].split()) <= 6 and len(parts[-1]) <= 16 and not _PROPOSAL_END.search(parts[-1]):
        tail = parts[-2:]
    return any(_closing_sentence(s) and not _PROPOSAL_END.search(s) for s in tail)


def is_close_proposal(text: str) -> bool:
    """True when the last sentence proposes to end ("Shall we stop here for today?")."""
    parts = sentences(text)
    return bool(parts) and _closing_sentence(parts[-1]) and bool(_PROPOSAL_END.search(parts[-1]))


def accepts_close(reply: str, previous: str) -> bool:
    """True when ``reply`` agrees to a closing that ``previous`` proposed."""
    return is_close_proposal(previous) and (is_closing(reply) or bool(_AGREEMENT.search(reply.strip())))
