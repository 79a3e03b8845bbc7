"""What the bot says to members outside the cards (check results, "nothing found", feedback), in the cards'
languages.

Members see these in answer to ``/check``, ``/context`` and ``!cb check`` / ``!cb context``, and on the
feedback buttons under a card and the answers to them. English is the fallback for any other language.
Moderator-facing text (incident lists, settings) stays English, like the dashboard. In English, stances are
shown by their values, as moderators and the JSON output see them.
"""

from __future__ import annotations

from .models import Action, Decision, Stance

PHRASES: dict[str, dict[str, str]] = {
    "en": {
        "no_match": "No known talking point found",
        "resembles": "Resembles: {title}",
        "talking_point": "Talking point",
        "stance": "Stance",
        "score": "Score",
        "score_value": "{score} (match {match})",
        "check_footer": "Language: {language} · Nothing was logged for this check.",
        "card_footer": "{pack} v{version} · Why am I seeing this? The message above resembles a known talking "
        "point ({tp}). This card adds context; it does not judge the author.",
        "no_text": "There is no text to check.",
        "no_topic": "No known talking point matches that. Start typing to see suggestions.",
        "no_topic_named": "No talking point matches “{topic}”.",
        "closest": "Closest talking point: {name} · stance: {stance} · score {score} · "
        "in a reply-mode room this {verdict}.",
        "verdict_reply": "would get a context card",
        "verdict_review": "would be sent to moderators for review",
        "verdict_none": "would not be acted on",
        "helpful": "Helpful",
        "not_relevant": "Not relevant",
        "feedback_helpful": "Thanks, noted: helpful.",
        "feedback_not_relevant": "Thanks, noted: not relevant. Moderators review this feedback.",
        "feedback_again": "Your vote on this card was already recorded.",
        "feedback_failed": "Sorry, your feedback could not be saved.",
        "card_withdrawn": "This context card was withdrawn: the message it answered was deleted or changed.",
    },
    "ru": {
        "no_match": "Известный тезис не найден",
        "resembles": "Похоже на: {title}",
        "talking_point": "Тезис",
        "stance": "Позиция",
        "score": "Оценка",
        "score_value": "{score} (совпадение {match})",
        "check_footer": "Язык: {language} · Результат этой проверки нигде не сохранён.",
        "card_footer": "{pack} v{version} · Почему я это вижу? Сообщение выше похоже на известное утверждение "
        "({tp}). Карточка добавляет контекст и не оценивает автора.",
        "no_text": "Нет текста для проверки.",
        "no_topic": "Такого известного тезиса нет. Начните вводить текст, чтобы увидеть подсказки.",
        "no_topic_named": "Ни один тезис не подходит к «{topic}».",
        "closest": "Ближайший тезис: {name} · позиция: {stance} · оценка {score} · "
        "в комнате в режиме reply это сообщение {verdict}.",
        "verdict_reply": "получило бы карточку с контекстом",
        "verdict_review": "было бы передано модераторам на проверку",
        "verdict_none": "осталось бы без последствий",
        "helpful": "Полезно",
        "not_relevant": "Не по теме",
        "feedback_helpful": "Спасибо, учтено: полезно.",
        "feedback_not_relevant": "Спасибо, учтено: не по теме. Модераторы просматривают такие отзывы.",
        "feedback_again": "Ваш голос за эту карточку уже учтён.",
        "feedback_failed": "Извините, не удалось сохранить ваш отзыв.",
        "card_withdrawn": "Эта карточка с контекстом снята: сообщение, на которое она отвечала, удалено или изменено.",
    },
    "uk": {
        "no_match": "Відомого наративу не знайдено",
        "resembles": "Схоже на: {title}",
        "talking_point": "Наратив",
        "stance": "Позиція",
        "score": "Оцінка",
        "score_value": "{score} (збіг {match})",
        "check_footer": "Мова: {language} · Результат цієї перевірки ніде не збережено.",
        "card_footer": "{pack} v{version} · Чому я це бачу? Повідомлення вище схоже на відоме твердження "
        "({tp}). Картка додає контекст і не оцінює автора.",
        "no_text": "Немає тексту для перевірки.",
        "no_topic": "Такого відомого наративу немає. Почніть вводити текст, щоб побачити підказки.",
        "no_topic_named": "Жоден наратив не відповідає «{topic}».",
        "closest": "Найближчий наратив: {name} · позиція: {stance} · оцінка {score} · "
        "у кімнаті в режимі reply це повідомлення {verdict}.",
        "verdict_reply": "отримало б картку з контекстом",
        "verdict_review": "було б передано модераторам на перевірку",
        "verdict_none": "залишилося б без наслідків",
        "helpful": "Корисно",
        "not_relevant": "Не по темі",
        "feedback_helpful": "Дякуємо, враховано: корисно.",
        "feedback_not_relevant": "Дякуємо, враховано: не по темі. Модератори переглядають такі відгуки.",
        "feedback_again": "Ваш голос за цю картку вже враховано.",
        "feedback_failed": "Вибачте, не вдалося зберегти ваш відгук.",
        "card_withdrawn": "Цю картку з контекстом знято: повідомлення, на яке вона відповідала, видалено або змінено.",
    },
    "de": {
        "no_match": "Kein bekanntes Narrativ gefunden",
        "resembles": "Ähnelt: {title}",
        "talking_point": "Narrativ",
        "stance": "Haltung",
        "score": "Wert",
        "score_value": "{score} (Übereinstimmung {match})",
        "check_footer": "Sprache: {language} · Diese Prüfung wurde nirgends gespeichert.",
        "card_footer": "{pack} v{version} · Warum sehe ich das? Die Nachricht oben ähnelt einer bekannten "
        "Behauptung ({tp}). Diese Karte ergänzt Kontext und ist kein Urteil über die Person, die die Nachricht "
        "geschrieben hat.",
        "no_text": "Es gibt keinen Text zu prüfen.",
        "no_topic": "Dazu passt kein bekanntes Narrativ. Tippe, um Vorschläge zu sehen.",
        "no_topic_named": "Zu „{topic}“ passt kein Narrativ.",
        "closest": "Nächstes Narrativ: {name} · Haltung: {stance} · Wert {score} · "
        "in einem Raum im Modus reply {verdict}.",
        "verdict_reply": "bekäme diese Nachricht eine Kontextkarte",
        "verdict_review": "ginge diese Nachricht zur Prüfung an die Moderation",
        "verdict_none": "bliebe diese Nachricht ohne Folgen",
        "helpful": "Hilfreich",
        "not_relevant": "Nicht relevant",
        "feedback_helpful": "Danke, notiert: hilfreich.",
        "feedback_not_relevant": "Danke, notiert: nicht relevant. Die Moderation sieht sich solche Rückmeldungen an.",
        "feedback_again": "Deine Stimme zu dieser Karte ist schon gespeichert.",
        "feedback_failed": "Entschuldigung, deine Rückmeldung konnte nicht gespeichert werden.",
        "card_withdrawn": "Diese Kontextkarte wurde zurückgezogen: Die Nachricht, auf die sie antwortete, wurde gelöscht oder geändert.",
    },
}

STANCE_NAMES: dict[str, dict[Stance | None, str]] = {
    "en": {Stance.ASSERT: "assert", Stance.REFUTE: "refute", Stance.REPORT: "report", Stance.ASK: "ask",
           Stance.OTHER: "other", None: "unknown"},
    "ru": {Stance.ASSERT: "утверждает", Stance.REFUTE: "опровергает", Stance.REPORT: "пересказывает",
           Stance.ASK: "спрашивает", Stance.OTHER: "другое", None: "неизвестно"},
    "uk": {Stance.ASSERT: "стверджує", Stance.REFUTE: "спростовує", Stance.REPORT: "переказує",
           Stance.ASK: "запитує", Stance.OTHER: "інше", None: "невідомо"},
    "de": {Stance.ASSERT: "behauptet es", Stance.REFUTE: "widerlegt es", Stance.REPORT: "berichtet darüber",
           Stance.ASK: "fragt danach", Stance.OTHER: "anderes", None: "unbekannt"},
}


def phrase_lang(lang: str | None) -> str:
    """``lang`` when the bot speaks it, else "en"."""
    return lang if lang in PHRASES else "en"


def phrase(lang: str | None, key: str, /, **values: object) -> str:
    """The member-facing text ``key`` in ``lang`` (English otherwise), with ``values`` filled in."""
    text = PHRASES[phrase_lang(lang)][key]
    return text.format(**values) if values else text


def stance_name(lang: str | None, stance: Stance | None) -> str:
    return STANCE_NAMES[phrase_lang(lang)][stance]


def check_reason(decision: Decision, lang: str | None) -> str | None:
    """The detector's reason for a member's check: an English diagnostic sentence, so shown under English
    answers only (None otherwise)."""
    return decision.explanation.reason if phrase_lang(lang) == "en" else None


def check_summary(decision: Decision, title: str | None, lang: str | None) -> str:
    """One line answering a member's check: the closest talking point, the stance, and what the bot would do.
    The detector's reason (an internal diagnostic such as "weak match (0.31 < 0.45)") is left out in every
    language: moderators see it in the dashboard and ``python -m bot check``."""
    if decision.talking_point_id is None:
        return phrase(lang, "no_match") + "."
    name = f"{title} ({decision.talking_point_id})" if title else decision.talking_point_id
    verdict = phrase(lang, {Action.REPLY: "verdict_reply", Action.REVIEW: "verdict_review",
                            Action.NONE: "verdict_none"}[decision.action])
    return phrase(lang, "closest", name=name, stance=stance_name(lang, decision.stance),
                  score=f"{decision.score:.2f}", verdict=verdict)
