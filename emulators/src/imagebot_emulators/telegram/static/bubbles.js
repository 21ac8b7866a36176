// One message as a bubble (photo, text, time, "edited", inline keyboard), and the reply keyboard.
import { element, link, renderEntities, safeUrl, text } from "./dom.js";

const PHOTO_BOX = 420;  // px: photos are scaled to fit a square of this side, like Telegram's bubbles

/** actions: {fileUrl(fileId), press(messageId, data, button), sendText(text)} */
export function bubble(message, actions) {
  const row = element("div", `row ${message.sender === "bot" ? "in" : "out"}`);
  row.dataset.messageId = String(message.message_id);
  row.dataset.sender = message.sender;
  const column = element("div", "msg");
  const box = element("div", "bubble");
  if (message.photo) {
    box.classList.add("has-photo");
    box.append(photo(message, actions.fileUrl(message.photo.file_id)));
  }
  const body = message.text ?? message.caption;
  if (body) {
    const content = element("div", "text");
    const entities = message.text != null ? message.entities : message.caption_entities;
    content.append(renderEntities(body, entities, actions.sendText));
    box.append(content);
  }
  const meta = element("span", "meta");
  if (message.edited) meta.append(text("span", "edited", "edited"));
  meta.append(text("time", formatTime(message.date)));
  box.append(meta);
  column.append(box);
  if (message.inline_keyboard) column.append(inlineKeyboard(message, actions));
  row.append(column);
  return row;
}

function photo(message, src) {
  // A definite size from the PhotoSize reserves the space before the bytes arrive, so nothing jumps.
  const { width, height } = message.photo;
  const scale = Math.min(1, PHOTO_BOX / width, PHOTO_BOX / height);
  const img = element("img", "photo");
  img.src = src;
  img.width = width;
  img.height = height;
  img.style.width = `${Math.round(width * scale)}px`;
  img.alt = message.caption || "photo";
  return img;
}

function inlineKeyboard(message, actions) {
  const keyboard = element("div", "keyboard");
  for (const buttons of message.inline_keyboard) {
    const row = element("div", "keyboard-row");
    for (const button of buttons) {
      if (button.url) {
        const a = link(safeUrl(button.url) || "#", button.text, "kb-button url");
        a.target = "_blank";
        a.rel = "noopener noreferrer";
        row.append(a);
        continue;
      }
      const b = text("button", "kb-button", button.text);
      b.type = "button";
      if (button.callback_data) b.addEventListener("click", () => actions.press(message.message_id, button.callback_data, b));
      else { b.disabled = true; b.title = "this kind of button is not emulated"; }
      row.append(b);
    }
    keyboard.append(row);
  }
  return keyboard;
}

/** Fill `box` with the reply keyboard of the last bot message that set or removed one. */
export function renderReplyKeyboard(box, messages, sendText) {
  const last = [...messages].reverse().find((m) => m.sender === "bot" && m.reply_keyboard);
  const rows = last && last.reply_keyboard.keyboard;
  box.hidden = !rows;
  if (!rows) return;
  box.replaceChildren(...rows.map((buttons) => {
    const row = element("div", "keyboard-row");
    for (const button of buttons) {
      const label = typeof button === "string" ? button : button.text;
      const b = text("button", "kb-button", label);
      b.type = "button";
      b.addEventListener("click", () => sendText(label));
      row.append(b);
    }
    return row;
  }));
}

function formatTime(seconds) {
  return new Date(seconds * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hour12: false });
}
