"""Sentence material for the embedded corpus.

Each utterance's transcript is a short clause, optionally with an opener, drawn from one of
five pools: four that *lean* toward an emotion (``angry``, ``sad``, ``happy`` wording, and
everyday ``neutral`` wording) and the slot fillers (names, things, places, times) that carry
no emotion. The generator decides, per utterance, whether the wording matches the spoken
emotion, is neutral, or is *misleading* (the wording of another emotion), so that a text
classifier learns something real but cannot be perfect -- as with scripted and improvised
IEMOCAP dialogues, where "I'm fine." is said angrily.

The pools are plain data; :func:`compose` fills a clause's slots from a NumPy random
generator, so the same generator state gives the same sentence.
"""

from __future__ import annotations

import re

import numpy as np

__all__ = ["CLAUSES", "OPENERS", "SLOTS", "compose"]

CLAUSES: dict[str, tuple[str, ...]] = {
    "angry": (
        "I told you a hundred times to stop doing that.",
        "This is absolutely unacceptable.",
        "Don't you dare talk to me like that.",
        "Get out of my way right now.",
        "You ruined everything, {name}.",
        "I am sick and tired of your excuses.",
        "How could you be so careless with {thing}?",
        "That's it, I have had enough of this.",
        "Stop lying to me.",
        "Why do you never listen to me?",
        "You had one job and you failed.",
        "This is the worst service I have ever seen.",
        "I want my money back, right now.",
        "Who do you think you are?",
        "Leave me alone, I mean it.",
        "You broke {thing} again, didn't you?",
        "I hate waiting in this stupid line.",
        "Nobody asked for your opinion.",
        "You are wasting my time.",
        "I can't stand this noise anymore.",
        "That is a ridiculous thing to say.",
        "Give me a straight answer for once.",
        "You lied to my face, {name}.",
        "Don't touch {thing} ever again.",
        "What on earth were you thinking?",
        "I'm furious about what happened {time}.",
        "Get your hands off my stuff.",
        "You always blame everybody else.",
        "I'm not going to say it again.",
        "This is a complete disaster, and it's your fault.",
    ),
    "sad": (
        "I miss her so much.",
        "Nothing I do seems to matter anymore.",
        "I wish things had turned out differently.",
        "He never came back after {time}.",
        "I feel so alone at {place}.",
        "It's over, there is nothing left to say.",
        "I lost {thing} and I will never get it back.",
        "Everyone has already gone home.",
        "I really tried, but it wasn't enough.",
        "We used to be so close, {name}.",
        "I don't think I can do this anymore.",
        "The old dog died last night.",
        "I'm sorry, I let you down.",
        "Nobody even remembered my birthday.",
        "It still hurts to think about it.",
        "I just want to stay in bed all day.",
        "She said goodbye and never called.",
        "All those years, gone just like that.",
        "I keep crying and I don't know why.",
        "We lost the house {time}.",
        "I'm tired of feeling this way.",
        "There is no point in trying again.",
        "I never got to tell him goodbye.",
        "The funeral is on {day}.",
        "I feel so empty inside.",
        "Maybe it was all my fault.",
        "Nobody wants me around anymore.",
        "I failed the exam again.",
    ),
    "happy": (
        "I can't believe we actually won!",
        "This is the best day of my life.",
        "Oh, I love it, thank you so much!",
        "We're getting married in {month}!",
        "That's wonderful news, {name}!",
        "I got the job!",
        "You really made my day.",
        "Let's celebrate tonight at {place}!",
        "Everything worked out perfectly.",
        "I'm so proud of you.",
        "What a beautiful surprise!",
        "We finally did it, {name}!",
        "I passed the exam with full marks.",
        "This party is amazing.",
        "I haven't laughed like this in years.",
        "The baby is healthy and beautiful.",
        "You look fantastic today.",
        "I'm so excited about the trip.",
        "That was so much fun, let's do it again.",
        "Best news I've heard all week!",
        "I feel great, honestly.",
        "They loved my presentation!",
        "We're going on vacation {time}!",
        "Thank you, this means the world to me.",
        "I found {thing}, what luck!",
        "You are the best friend ever.",
        "We won the tickets for {day}!",
        "I'm so happy to see you, {name}.",
    ),
    "neutral": (
        "The meeting starts at ten {time}.",
        "I left {thing} on the kitchen table.",
        "Can you pass me the salt?",
        "The train leaves from platform four.",
        "We need to buy milk and bread.",
        "Turn left at the next corner.",
        "I'll call you when I get to {place}.",
        "The report is due on {day}.",
        "It might rain later this afternoon.",
        "Put the boxes in the garage.",
        "My brother lives near {place}.",
        "I think the store closes at nine.",
        "Did you feed the cat?",
        "The printer is on the second floor.",
        "Let me check my calendar.",
        "We moved here three years ago.",
        "The keys are in the top drawer.",
        "She works at the hospital.",
        "Please sign the form at the bottom.",
        "I'm going to take the bus.",
        "What time is the appointment?",
        "The package arrived {time}.",
        "He said he would be here at noon.",
        "Bring {thing} when you come over.",
        "The window in the office is open.",
        "We have a test on {day}.",
        "I usually walk to work.",
        "The number is on the back of the card.",
        "Tell {name} I'll be a little late.",
        "The car needs new tires.",
        "I read that book last summer.",
        "Could you send me the address?",
        "The shop is next to {place}.",
        "I had soup for lunch {time}.",
        "The bus was on time {time}.",
        "We talked about it on {day}.",
        "There are two chairs in the hall.",
        "I have to work on {day}.",
    ),
}
"""Clauses by the emotion their wording leans toward. ``{slot}`` fields are filled from
:data:`SLOTS`."""

OPENERS: dict[str, tuple[str, ...]] = {
    "angry": ("Look,", "Listen,", "Oh come on,", "Seriously,", "No,"),
    "sad": ("Well,", "I guess", "Oh,", "Honestly,", "You know,"),
    "happy": ("Wow,", "Oh yes,", "Guess what,", "Hey,", "Yes,"),
    "neutral": ("Okay,", "So,", "Right,", "By the way,", "Also,"),
}
"""Short openers, leaning like the clause pools; prepended to some utterances."""

SLOTS: dict[str, tuple[str, ...]] = {
    "name": ("Sam", "Alex", "Maria", "John", "Lucy", "Peter", "Anna", "Mark", "Emma", "David"),
    "thing": ("the keys", "the laptop", "the car", "my phone", "the tickets", "the camera",
              "the bike", "the letter"),
    "place": ("the station", "the office", "the park", "the airport", "the library",
              "the hotel", "the beach"),
    "time": ("yesterday", "this morning", "last night", "today", "on Monday", "last week"),
    "day": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"),
    "month": ("June", "May", "April", "October", "September"),
}
"""Emotion-free slot fillers."""

_SLOT = re.compile(r"\{(\w+)\}")


def compose(category: str, rng: np.random.Generator, opener_prob: float = 0.25) -> str:
    """One sentence whose wording leans toward ``category`` (an emotion or ``neutral``).

    Draws a clause from :data:`CLAUSES` ``[category]``, fills its slots, and with probability
    ``opener_prob`` prepends an opener of the same leaning.
    """
    if category not in CLAUSES:
        raise KeyError(f"no sentence pool {category!r}; pools: {sorted(CLAUSES)}")
    pool = CLAUSES[category]
    clause = pool[int(rng.integers(len(pool)))]
    clause = _SLOT.sub(lambda m: SLOTS[m.group(1)][int(rng.integers(len(SLOTS[m.group(1)])))], clause)
    if rng.random() < opener_prob:
        openers = OPENERS[category]
        opener = openers[int(rng.integers(len(openers)))]
        if not clause.startswith(("I ", "I'")):
            clause = clause[0].lower() + clause[1:]
        clause = f"{opener} {clause}"
    return clause
