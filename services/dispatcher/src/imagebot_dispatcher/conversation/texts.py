"""Everything the bot says, in Russian (the default, as in the original bot) and English (language_code "en*").

Texts are HTML (the bot's default parse mode); values that come from users (prompts) are never put here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from imagebot_common.messages.v1 import ErrorKind


@dataclass(frozen=True)
class Texts:
    language: str
    welcome: str
    degraded_note: str
    btn_create: str
    btn_help: str
    btn_models: str
    btn_more: str
    btn_menu: str
    btn_retry: str
    btn_cancel: str
    ask_prompt: str  # {model}, {limit}
    prompt_empty: str
    prompt_too_long: str  # {length}, {limit}
    prompt_not_text: str
    choose_ratio: str
    ratio_labels: dict[str, str]
    generating: str
    done: str
    busy: str
    failures: dict[str, str]
    limit_active: str  # {active}, {limit}
    limit_hourly: str  # {limit}, {wait}
    limit_daily: str  # {limit}, {wait}
    minutes: str  # {m}
    hours_minutes: str  # {h}, {m}
    help: str  # {hourly}, {daily}, {active}
    unlimited: str
    support: str  # {contact}
    cancelled: str
    nothing_to_cancel: str
    outside_flow: str
    file_received: str
    stale_button: str
    models_title: str
    model_beta: str
    command_descriptions: dict[str, str] = field(default_factory=dict)

    def failure(self, kind: ErrorKind | str) -> str:
        return self.failures.get(kind, self.failures["internal"])

    def ratio_label(self, ratio: str) -> str:
        return self.ratio_labels.get(ratio, ratio)

    def wait(self, seconds: float) -> str:
        """A human wait time, rounded up to the minute."""
        total_minutes = max(1, int(-(-seconds // 60)))
        hours, minutes = divmod(total_minutes, 60)
        return self.hours_minutes.format(h=hours, m=minutes) if hours else self.minutes.format(m=minutes)


RU = Texts(
    language="ru",
    welcome="👋 <b>Привет!</b> Я превращаю текст в картинку.\nНажмите «🖼 Создать картинку» и опишите, что нарисовать.",
    degraded_note="⚠️ Сервис сейчас работает с перебоями: если что-то не сработает, повторите чуть позже.",
    btn_create="🖼 Создать картинку",
    btn_help="❓ Помощь",
    btn_models="🧠 Модели",
    btn_more="🖼 Создать ещё",
    btn_menu="◀️ В меню",
    btn_retry="🔄 Попробовать снова",
    btn_cancel="✖️ Отмена",
    ask_prompt="✍️ <b>Опишите картинку</b> одним сообщением (до {limit} символов).\nМодель: {model}",
    prompt_empty="Описание пустое. Напишите, что нарисовать.",
    prompt_too_long=(
        "Слишком длинное описание: {length} символов, а можно не больше {limit}. Сократите и отправьте ещё раз."
    ),
    prompt_not_text="Пришлите описание текстом.",
    choose_ratio="📐 Выберите формат:",
    ratio_labels={
        "1:1": "Квадрат 1:1",
        "16:9": "Широкий 16:9",
        "9:16": "Вертикальный 9:16",
        "4:3": "Классический 4:3",
        "3:4": "Портрет 3:4",
    },
    generating="⏳ Генерирую…\n⏱ Обычно это занимает 10–30 секунд.",
    done="✅ Готово",
    busy="😔 Сервис сейчас перегружен. Попробуйте через пару минут.",
    failures={
        "insufficient_credits": "💳 Генерация временно недоступна: у сервиса закончились кредиты. Попробуйте позже.",
        "content_rejected": "🚫 Описание не прошло проверку содержимого. Измените его и попробуйте снова.",
        "generation_failed": "❌ Не получилось создать картинку. Попробуйте ещё раз — иногда помогает другое описание.",
        "provider_unavailable": "🛠 Сервис генерации сейчас недоступен. Попробуйте через несколько минут.",
        "timeout": "⌛ Генерация заняла слишком много времени. Попробуйте снова.",
        "internal": "❌ Что-то пошло не так. Попробуйте снова.",
    },
    limit_active="⏳ Уже идёт генерация ({active} из {limit}). Дождитесь результата и попробуйте снова.",
    limit_hourly="⏰ Часовой лимит исчерпан ({limit} в час). Попробуйте снова через {wait}.",
    limit_daily="⏰ Дневной лимит исчерпан ({limit} в сутки). Попробуйте снова через {wait}.",
    minutes="{m} мин",
    hours_minutes="{h} ч {m} мин",
    help=(
        "<b>Как это работает</b>\n"
        "1. Нажмите «🖼 Создать картинку».\n"
        "2. Опишите картинку одним сообщением.\n"
        "3. Выберите формат — через 10–30 секунд придёт картинка.\n\n"
        "Лимиты: {hourly} в час, {daily} в сутки, одновременно — {active}.\n\n"
        "Команды: /start — меню, /help — помощь, /cancel — отменить."
    ),
    unlimited="без ограничений",
    support="\n\nПоддержка: {contact}",
    cancelled="Отменено.",
    nothing_to_cancel="Нечего отменять.",
    outside_flow="Я готов начать работу! Нажмите «🖼 Создать картинку» или отправьте /start.",
    file_received="📎 Файл получен, но я рисую только по текстовому описанию.",
    stale_button="⚠️ Эта кнопка устарела. Обновите меню: /start",
    models_title="🧠 <b>Выберите модель</b>:",
    model_beta="β",
    command_descriptions={"start": "Главное меню", "help": "Помощь", "cancel": "Отменить"},
)

EN = Texts(
    language="en",
    welcome="👋 <b>Hi!</b> I turn text into pictures.\nTap “🖼 Create a picture” and describe what to draw.",
    degraded_note="⚠️ The service is having trouble right now: if something fails, try again a bit later.",
    btn_create="🖼 Create a picture",
    btn_help="❓ Help",
    btn_models="🧠 Models",
    btn_more="🖼 Create another",
    btn_menu="◀️ Menu",
    btn_retry="🔄 Try again",
    btn_cancel="✖️ Cancel",
    ask_prompt="✍️ <b>Describe the picture</b> in one message (up to {limit} characters).\nModel: {model}",
    prompt_empty="The description is empty. Write what to draw.",
    prompt_too_long="That description is {length} characters long; the limit is {limit}. Shorten it and send it again.",
    prompt_not_text="Please send the description as text.",
    choose_ratio="📐 Choose a format:",
    ratio_labels={
        "1:1": "Square 1:1",
        "16:9": "Wide 16:9",
        "9:16": "Vertical 9:16",
        "4:3": "Classic 4:3",
        "3:4": "Portrait 3:4",
    },
    generating="⏳ Generating…\n⏱ This usually takes 10–30 seconds.",
    done="✅ Done",
    busy="😔 The service is busy right now. Please try again in a couple of minutes.",
    failures={
        "insufficient_credits": "💳 Generation is unavailable for now: the service ran out of credits. Try later.",
        "content_rejected": "🚫 The description did not pass the content check. Change it and try again.",
        "generation_failed": "❌ The picture could not be created. Try again — a different description may help.",
        "provider_unavailable": "🛠 The image service is unavailable right now. Try again in a few minutes.",
        "timeout": "⌛ Generation took too long. Please try again.",
        "internal": "❌ Something went wrong. Please try again.",
    },
    limit_active="⏳ A generation is already running ({active} of {limit}). Wait for the result and try again.",
    limit_hourly="⏰ Hourly limit reached ({limit} per hour). Try again in {wait}.",
    limit_daily="⏰ Daily limit reached ({limit} per day). Try again in {wait}.",
    minutes="{m} min",
    hours_minutes="{h} h {m} min",
    help=(
        "<b>How it works</b>\n"
        "1. Tap “🖼 Create a picture”.\n"
        "2. Describe the picture in one message.\n"
        "3. Choose a format — the picture arrives in 10–30 seconds.\n\n"
        "Limits: {hourly} per hour, {daily} per day, {active} at a time.\n\n"
        "Commands: /start — menu, /help — help, /cancel — cancel."
    ),
    unlimited="unlimited",
    support="\n\nSupport: {contact}",
    cancelled="Cancelled.",
    nothing_to_cancel="Nothing to cancel.",
    outside_flow="Ready when you are! Tap “🖼 Create a picture” or send /start.",
    file_received="📎 Got your file, but I only draw from a text description.",
    stale_button="⚠️ This button is outdated. Refresh the menu: /start",
    models_title="🧠 <b>Choose a model</b>:",
    model_beta="β",
    command_descriptions={"start": "Main menu", "help": "Help", "cancel": "Cancel"},
)


def texts_for(language_code: str | None) -> Texts:
    """English for `en`, `en-US`…; Russian for everything else (the bot's audience)."""
    return EN if (language_code or "").lower().startswith("en") else RU
