"""The emulator's chat page in a real browser: the test plays the bot through the Bot API, the page the users."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.bot_client import BotApiClient, draw_png
from tests.browser.conftest import OpenPage
from tests.support.emulators import TelegramEmulator

pytestmark = pytest.mark.browser

TOKEN = "4242:chat-page-test-token-0000000000"
ANN, BOB = 1001, 1002


@pytest.fixture(scope="module")
def shared_emulator() -> Iterator[TelegramEmulator]:
    with TelegramEmulator() as emulator:
        yield emulator


@pytest.fixture
def telegram_emulator(shared_emulator: TelegramEmulator) -> TelegramEmulator:
    """One emulator process for the module (starting one costs a second), emptied before each test."""
    httpx.post(f"{shared_emulator.url}/control/reset").raise_for_status()
    return shared_emulator


@pytest.fixture
def bot(telegram_emulator: TelegramEmulator) -> Iterator[BotApiClient]:
    client = BotApiClient(telegram_emulator.url, TOKEN)
    yield client
    client.close()


@pytest.fixture
def chat_url(telegram_emulator: TelegramEmulator, bot: BotApiClient) -> str:
    bot.call("getMe")  # the bot exists once it has called the API, as in `make run`
    return telegram_emulator.url


def test_the_page_waits_for_the_bot_and_then_shows_its_name(
    telegram_emulator: TelegramEmulator, bot: BotApiClient, open_page: OpenPage
) -> None:
    page = open_page(f"{telegram_emulator.url}/")
    expect(page.locator("#empty-state")).to_contain_text("Waiting for the bot to connect")
    expect(page.locator("#composer")).to_have_class(re.compile("disabled"))

    bot.call("getMe")
    expect(page.locator("#bot-name")).to_have_text("Emulated Bot")
    expect(page.locator("#empty-state")).to_contain_text("Send /start")
    expect(page.locator("#composer")).not_to_have_class(re.compile("disabled"))

    bot.patch_bot(first_name="Picture Bot")
    expect(page.locator("#bot-name")).to_have_text("Picture Bot")


def test_typed_text_and_menu_commands_reach_the_bot_from_the_chosen_user(
    chat_url: str, bot: BotApiClient, open_page: OpenPage
) -> None:
    bot.call("setMyCommands", commands=[{"command": "start", "description": "главное меню"}], language_code="ru")
    page = open_page(f"{chat_url}/?user={ANN}")
    expect(page.locator("#user-select option:checked")).to_have_text("Ann (ru)")

    page.locator("#input").fill("/start")
    page.locator("#input").press("Enter")
    expect(page.locator(".row.out", has_text="/start")).to_be_visible()
    expect(page.locator("#input")).to_have_value("")
    message = bot.next_update()["message"]
    assert message["text"] == "/start"
    assert message["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert message["chat"]["id"] == ANN
    assert {k: message["from"][k] for k in ("id", "first_name", "language_code")} == {
        "id": ANN,
        "first_name": "Ann",
        "language_code": "ru",
    }

    page.locator("#menu-button").click()
    expect(page.locator(".command-item")).to_have_text(["/startглавное меню"])
    page.locator(".command-item").click()
    assert bot.next_update()["message"]["text"] == "/start"

    page.locator("#input").fill("a cat in a hat")
    page.locator("#send-button").click()
    assert bot.next_update()["message"]["text"] == "a cat in a hat"

    # Live updates come from one event stream: an idle page makes no requests at all.
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.wait_for_timeout(1000)  # measuring the absence of traffic needs a fixed window
    assert requests == []


def test_bot_messages_appear_live_with_formatting_and_never_as_raw_html(
    chat_url: str, bot: BotApiClient, open_page: OpenPage
) -> None:
    page = open_page(f"{chat_url}/?user={ANN}")
    page.locator("#input").fill("hi")
    page.locator("#input").press("Enter")
    bot.next_update()

    html = '👋 <b>Привет!</b> <i>italic</i> <code>x = 1</code> <a href="https://example.com/doc">docs</a>'
    html += " &lt;img src=x&gt;"
    bot.call("sendMessage", chat_id=ANN, text=html, parse_mode="HTML")
    bubble = page.locator(".row.in", has_text="Привет")
    expect(bubble.locator("b")).to_have_text("Привет!")
    expect(bubble.locator("i")).to_have_text("italic")
    expect(bubble.locator("code")).to_have_text("x = 1")
    expect(bubble.locator("a")).to_have_attribute("href", "https://example.com/doc")
    expect(bubble).to_contain_text("<img src=x>")
    expect(bubble.locator("img")).to_have_count(0)

    bot.call("sendMessage", chat_id=ANN, text="<b>plain, not bold</b>")
    plain = page.locator(".row.in", has_text="plain, not bold")
    expect(plain).to_contain_text("<b>plain, not bold</b>")
    expect(plain.locator("b")).to_have_count(0)


def test_inline_buttons_send_callbacks_and_url_buttons_open_links(
    chat_url: str, bot: BotApiClient, open_page: OpenPage
) -> None:
    page = open_page(f"{chat_url}/?user={BOB}")
    page.locator("#input").fill("/start")
    page.locator("#input").press("Enter")
    bot.next_update()
    keyboard = {
        "inline_keyboard": [
            [{"text": "🖼 Create a picture", "callback_data": "menu:create"}],
            [{"text": "Kie.ai", "url": "https://kie.ai/"}],
        ]
    }
    sent = bot.call("sendMessage", chat_id=BOB, text="Main menu", reply_markup=keyboard)

    page.get_by_role("button", name="🖼 Create a picture").click()
    query = bot.next_update()["callback_query"]
    assert query["data"] == "menu:create"
    assert query["message"]["message_id"] == sent["message_id"]
    assert query["from"]["id"] == BOB
    bot.call("answerCallbackQuery", callback_query_id=query["id"], text="On it!")
    expect(page.locator("#toast")).to_have_text("On it!")

    link = page.get_by_role("link", name="Kie.ai")
    expect(link).to_have_attribute("href", "https://kie.ai/")
    expect(link).to_have_attribute("target", "_blank")


def test_edits_chat_actions_photos_and_deletions_show_in_place(
    chat_url: str, bot: BotApiClient, open_page: OpenPage, tmp_path: Path
) -> None:
    page = open_page(f"{chat_url}/?user={ANN}")
    page.locator("#input").fill("/start")
    page.locator("#input").press("Enter")
    bot.next_update()
    ratios = [{"text": "Квадрат 1:1", "callback_data": "r:1"}, {"text": "16:9", "callback_data": "r:2"}]
    menu = {"inline_keyboard": [ratios]}
    first = bot.call("sendMessage", chat_id=ANN, text="Выберите формат", reply_markup=menu)
    row = page.locator(f'.row[data-message-id="{first["message_id"]}"]')
    expect(row.get_by_role("button")).to_have_count(2)

    bot.call("editMessageText", chat_id=ANN, message_id=first["message_id"], text="⏳ Генерирую…")
    expect(row.locator(".text")).to_have_text("⏳ Генерирую…")
    expect(row.locator(".edited")).to_have_text("edited")
    expect(row.get_by_role("button")).to_have_count(0)  # an edit without reply_markup drops the keyboard

    bot.call("sendChatAction", chat_id=ANN, action="upload_photo")
    expect(page.locator("#bot-status")).to_have_text("sending photo…")

    bot.send_photo(ANN, draw_png(640, 480), caption="Готово: <b>солнце</b>", parse_mode="HTML")
    photo = page.locator(".row.in img.photo")
    expect(photo).to_have_js_property("naturalWidth", 640)  # the bytes loaded from the emulator's file store
    expect(page.locator(".row.in .text b")).to_have_text("солнце")
    expect(page.locator("#bot-status")).to_have_text(re.compile(r"^bot · @"))  # a message ends the action

    page.screenshot(path=str(tmp_path / "chat.png"))
    print(f"screenshot: {tmp_path / 'chat.png'}")

    bot.call("deleteMessage", chat_id=ANN, message_id=first["message_id"])
    expect(row).to_have_count(0)
    expect(page.locator(".row")).to_have_count(2)  # the user's /start and the photo


def test_each_user_has_a_private_chat_and_two_tabs_can_be_two_users(
    chat_url: str, bot: BotApiClient, open_page: OpenPage
) -> None:
    ann, bob = open_page(f"{chat_url}/?user={ANN}"), open_page(f"{chat_url}/?user={BOB}")
    ann.locator("#input").fill("I am Ann")
    ann.locator("#input").press("Enter")
    bob.locator("#input").fill("I am Bob")
    bob.locator("#input").press("Enter")
    senders = {bot.next_update()["message"]["from"]["first_name"] for _ in range(2)}
    assert senders == {"Ann", "Bob"}
    bot.call("sendMessage", chat_id=BOB, text="Hello, Bob")

    expect(bob.locator(".row.in")).to_have_text(re.compile("Hello, Bob"))
    expect(ann.locator(".row")).to_have_count(1)
    expect(ann.locator(".row.out")).to_have_text(re.compile("I am Ann"))

    ann.locator("#user-select").select_option(label="Bob (en)")
    expect(ann.locator(".row.in")).to_have_text(re.compile("Hello, Bob"))
    expect(ann.locator(".row", has_text="I am Ann")).to_have_count(0)
    assert ann.url.endswith(f"?user={BOB}")

    ann.locator("#user-select").select_option(label="+ new user")
    ann.locator("#new-user-dialog input[name=first_name]").fill("Carl")
    ann.locator("#new-user-dialog select[name=language_code]").select_option("de")
    ann.get_by_role("button", name="Add user").click()
    expect(ann.locator("#user-select option:checked")).to_have_text("Carl (de)")
    expect(ann.locator(".row")).to_have_count(0)
    ann.locator("#input").fill("/start")
    ann.locator("#input").press("Enter")
    carl = bot.next_update()["message"]["from"]
    assert (carl["first_name"], carl["language_code"]) == ("Carl", "de")
    assert carl["id"] not in (ANN, BOB)


def test_with_several_bots_the_page_offers_a_choice_and_token_in_the_url_picks_one(
    telegram_emulator: TelegramEmulator, bot: BotApiClient, open_page: OpenPage
) -> None:
    other = BotApiClient(telegram_emulator.url, "5151:another-bot-token-0000000000000")
    bot.patch_bot(first_name="Picture Bot")
    other.patch_bot(first_name="Other Bot")
    other.close()

    page = open_page(f"{telegram_emulator.url}/?user={BOB}")
    expect(page.locator("#empty-state a")).to_have_count(2)
    page.get_by_role("link", name=re.compile("Other Bot")).click()
    expect(page.locator("#bot-name")).to_have_text("Other Bot")
    assert "token=5151" in page.url

    direct = open_page(f"{telegram_emulator.url}/?token={TOKEN}&user={ANN}")
    expect(direct.locator("#bot-name")).to_have_text("Picture Bot")
