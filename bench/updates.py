"""Realistic Telegram webhook bodies: a private-chat text message update of ~400 bytes, unique update ids.

Dated when they are made, as Telegram dates a message when it is sent: the dispatcher reads the date (a fresh
update's first copy needs no handled check, idempotency.first_copy), so a fixed old date would make every
update look like a late retry. The same shape is produced by the wrk Lua script (bench/wrk.py), so open- and
closed-loop runs send alike.
"""

from __future__ import annotations

import time

BOT_TOKEN = "123456789:BENCH-token-0000000000000000"
BOT_ID = 123456789
WEBHOOK_SECRET = "bench-webhook-secret-0123456789"
WEBHOOK_PATH = "/webhook"
FIRST_USER_ID = 5_000_000
PROMPT = "кот-космонавт в открытом космосе, цифровая живопись, мягкий свет, 4k"  # a typical picture prompt

# %(uid)d update id, %(cid)d chat (= user) id, %(mid)d message id; the text is JSON-escaped already.
_TEMPLATE = (
    '{"update_id":%(uid)d,"message":{"message_id":%(mid)d,"from":{"id":%(cid)d,"is_bot":false,'
    '"first_name":"Александр","last_name":"Петров","username":"user%(cid)d","language_code":"ru"},'
    '"chat":{"id":%(cid)d,"first_name":"Александр","last_name":"Петров","username":"user%(cid)d",'
    '"type":"private"},"date":%(date)d,"text":"%(text)s"%(entities)s}}'
)
_START_ENTITIES = ',"entities":[{"offset":0,"length":6,"type":"bot_command"}]'


def message_update(update_id: int, chat_id: int, text: str = PROMPT) -> bytes:
    entities = _START_ENTITIES if text == "/start" else ""
    mid = update_id % 1_000_000 + 1
    values = {"uid": update_id, "cid": chat_id, "mid": mid, "date": time.time(), "text": text, "entities": entities}
    return (_TEMPLATE % values).encode()


def lua_template() -> str:
    """The body as a Lua string.format pattern: update id, message id, chat id (x3), in that order."""
    values = {"uid": 0, "cid": 0, "mid": 0, "date": time.time(), "text": PROMPT, "entities": ""}
    pattern = _TEMPLATE.replace("%(uid)d", "\x01").replace("%(mid)d", "\x02").replace("%(cid)d", "\x03")
    body = pattern % {k: v for k, v in values.items() if k in ("date", "text", "entities")}
    return body.replace("%", "%%").replace("\x01", "%d").replace("\x02", "%d").replace("\x03", "%d")


def http_request(path: str, port: int, body: bytes, secret: str = WEBHOOK_SECRET) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"X-Telegram-Bot-Api-Secret-Token: {secret}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body
