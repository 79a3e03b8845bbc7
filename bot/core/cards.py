"""Turn a talking point into a card in the reader's language."""

from __future__ import annotations

from .models import RenderedCard, TalkingPoint

_FOOTER = {
    "en": "{pack} v{version} · Why am I seeing this? The message above resembles a known talking point "
    "({tp}). This card adds context; it does not judge the author.",
    "ru": "{pack} v{version} · Почему я это вижу? Сообщение выше похоже на известный пропагандистский тезис "
    "({tp}). Карточка добавляет контекст и не оценивает автора.",
    "uk": "{pack} v{version} · Чому я це бачу? Повідомлення вище схоже на відомий пропагандистський наратив "
    "({tp}). Картка додає контекст і не оцінює автора.",
}


def render_card(tp: TalkingPoint, lang: str | None) -> RenderedCard:
    """The card for ``tp`` in ``lang`` if the pack has it, else English."""
    card_lang, text = tp.card_for(lang)
    footer = _FOOTER.get(card_lang, _FOOTER["en"]).format(pack=tp.pack_id, version=tp.pack_version, tp=tp.id)
    return RenderedCard(
        talking_point_id=tp.id,
        lang=card_lang,
        title=text.title,
        summary=text.summary,
        key_facts=tuple(text.key_facts),
        why_it_matters=text.why_it_matters,
        sources=tuple(tp.sources),
        footer=footer,
        pack_version=tp.pack_version,
    )


def card_as_text(card: RenderedCard) -> str:
    """Plain-text rendering (console, Matrix plain body, logs)."""
    lines = [f"ℹ️ {card.title}", "", card.summary, ""]
    lines += [f"• {fact}" for fact in card.key_facts]
    lines += ["", card.why_it_matters, "", "Sources:"]
    lines += [f"  - {s.publisher}: {s.title} ({s.date}) {s.url}" for s in card.sources]
    lines += ["", card.footer]
    return "\n".join(lines)
