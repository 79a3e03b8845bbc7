"""Deterministic synthetic chat for the throughput benchmark: ordinary multilingual chatter from templates.

Not used for tuning anything; it only has to look like the traffic of a busy community server.
"""

from __future__ import annotations

import random

SUBJECTS = {
    "en": ["the new patch", "my cat", "this pizza", "the raid tonight", "my build", "the final", "our landlord",
           "the bus", "that movie", "the playoffs", "my code review", "the weather", "this album", "the meetup",
           "grandma's soup", "the server", "my bike", "the exam", "this meme", "the new keyboard"],
    "ru": ["новый патч", "мой кот", "эта пицца", "рейд вечером", "мой билд", "финал", "наш сосед", "автобус",
           "этот фильм", "плей-офф", "код-ревью", "погода", "новый альбом", "встреча", "бабушкин суп", "сервер",
           "мой велик", "экзамен", "этот мем", "новая клавиатура"],
    "uk": ["новий патч", "мій кіт", "ця піца", "рейд увечері", "мій білд", "фінал", "наш сусід", "автобус",
           "цей фільм", "плей-оф", "код-рев'ю", "погода", "новий альбом", "зустріч", "бабусин борщ", "сервер",
           "мій велосипед", "іспит", "цей мем", "нова клавіатура"],
    "de": ["der neue Patch", "meine Katze", "diese Pizza", "der Raid heute", "mein Build", "das Finale",
           "unser Vermieter", "der Bus", "der Film", "die Playoffs", "mein Code-Review", "das Wetter",
           "das neue Album", "das Treffen", "Omas Suppe", "der Server", "mein Fahrrad", "die Prüfung",
           "dieses Meme", "die neue Tastatur"],
}
TEMPLATES = {
    "en": ["{s} is {a} lol", "anyone else think {s} is {a}?", "ok {s} was {a} today", "brb, {s} again",
           "can someone help me with {s}? it's {a}", "honestly {s} is {a} 😂", "{s} at 8pm, who's in?",
           "good morning all! {s} looks {a}", "wait, {s} is {a} now??", "gg everyone, {s} was {a}"],
    "ru": ["{s} просто {a}", "кто-нибудь знает, {s} сегодня {a}?", "ну {s} конечно {a} 😂", "{s} в 8, кто идёт?",
           "всем привет, {s} {a}", "помогите с {s}, он {a}", "короче {s} {a}"],
    "uk": ["{s} просто {a}", "хтось знає, {s} сьогодні {a}?", "ну {s} звісно {a} 😂", "{s} о 8, хто йде?",
           "всім привіт, {s} {a}", "допоможіть з {s}, він {a}", "коротше {s} {a}"],
    "de": ["{s} ist echt {a}", "findet ihr {s} auch {a}?", "ok {s} war heute {a}", "{s} um 20 Uhr, wer ist dabei?",
           "guten Morgen! {s} ist {a}", "kann mir jemand bei {s} helfen? ist {a}", "gg, {s} war {a}"],
}
ADJ = {
    "en": ["amazing", "broken", "so slow", "weird", "hilarious", "overrated", "fine I guess", "too expensive"],
    "ru": ["огонь", "сломан", "тормозит", "странный", "смешной", "переоценён", "норм", "дорогой"],
    "uk": ["вогонь", "зламаний", "гальмує", "дивний", "смішний", "переоцінений", "норм", "дорогий"],
    "de": ["super", "kaputt", "so langsam", "komisch", "lustig", "überbewertet", "ganz ok", "zu teuer"],
}
LANG_MIX = ["en"] * 5 + ["ru"] * 2 + ["uk"] * 2 + ["de"]


def ordinary_chat(n: int, seed: int = 7) -> list[str]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        lang = rnd.choice(LANG_MIX)
        text = rnd.choice(TEMPLATES[lang]).format(s=rnd.choice(SUBJECTS[lang]), a=rnd.choice(ADJ[lang]))
        if rnd.random() < 0.1:
            text += f" #{i % 97}"
        out.append(text)
    return out
