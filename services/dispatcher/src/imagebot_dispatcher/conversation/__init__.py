"""The bot's conversation: aiogram routers, texts, keyboards, FSM on NATS KV, result delivery."""
