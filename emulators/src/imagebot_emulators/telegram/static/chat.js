// The chat page: plays one of several users in a private chat with the bot through the emulator's control
// API, and shows the chat as the server's event stream reports it (one event per change, no polling).
import { bubble, renderReplyKeyboard } from "./bubbles.js";
import { element, link, text } from "./dom.js";
import { Users } from "./users.js";

const $ = (id) => document.getElementById(id);
const query = new URLSearchParams(location.search);
const ACTIONS = {
  typing: "typing…", upload_photo: "sending photo…", upload_document: "sending file…",
  choose_sticker: "choosing a sticker…", record_voice: "recording voice…",
};

const users = new Users(query);
const state = {
  token: query.get("token"),   // from the URL, or the only bot there is
  tokenFromUrl: Boolean(query.get("token")),
  view: null,
  source: null,
  bubbles: new Map(),          // message_id → {row, signature}
  toastsShown: new Set(),
};
const bubbleActions = {
  fileUrl: (fileId) => `/control/bots/${state.token}/files/${encodeURIComponent(fileId)}`,
  press,
  sendText,
};

// ---- the event streams -----------------------------------------------------------------------------

function connect() {
  if (state.source) state.source.close();
  setStatus("connecting…");
  const url = state.token ? `/control/bots/${state.token}/chats/${users.current.id}/events` : "/control/events";
  const source = new EventSource(url);
  state.source = source;
  source.onmessage = (event) => {
    const data = JSON.parse(event.data);
    if (state.token) renderChat(data); else pickBot(data.bots);
  };
  source.onerror = () => setStatus("reconnecting to the emulator…");
}

function pickBot(bots) {
  if (bots.length === 1) { state.token = bots[0].token; connect(); return; }
  renderHeader(null);
  setComposerEnabled(false);
  const empty = $("empty-state");
  empty.hidden = false;
  if (bots.length === 0) {
    empty.replaceChildren(text("div", "Waiting for the bot to connect…"),
      text("small", "It appears here as soon as it calls the Bot API (start the stack with make run)."));
    setStatus("waiting for the bot to connect…");
    return;
  }
  const choices = bots.map((b) => {
    const href = `?token=${encodeURIComponent(b.token)}&user=${users.current.id}`;
    return link(href, `${b.me.first_name} (@${b.me.username})`);
  });
  empty.replaceChildren(text("div", "Several bots use this emulator — pick one:"), ...choices);
  setStatus("choose a bot");
}

// ---- rendering the chat ----------------------------------------------------------------------------

function renderChat(view) {
  if (!view.bot) {  // not there yet, or the emulator was reset
    clearChat();
    if (state.tokenFromUrl) pickBot([]); else { state.token = null; connect(); }
    return;
  }
  state.view = view;
  for (const user of view.users) users.add(user);
  users.renderSelect($("user-select"));
  renderHeader(view);
  setComposerEnabled(true);
  const empty = $("empty-state");
  empty.hidden = view.messages.length > 0;
  if (!empty.hidden) empty.replaceChildren(text("div", "No messages here yet."), text("small", "Send /start to begin."));
  renderMessages(view.messages);
  renderReplyKeyboard($("reply-keyboard"), view.messages, sendText);
  renderCommands();
  if (view.toast && !state.toastsShown.has(view.toast.id)) {
    state.toastsShown.add(view.toast.id);
    showToast(view.toast.text, view.toast.alert);
  }
}

function renderHeader(view) {
  const me = view && view.bot;
  $("bot-name").textContent = me ? me.first_name : "Local Telegram";
  $("bot-avatar").textContent = me ? me.first_name.slice(0, 1).toUpperCase() : "?";
  if (!me) return;
  if (view.action) setStatus(ACTIONS[view.action] || `${view.action.replace(/_/g, " ")}…`, true);
  else setStatus(view.connected ? `bot · @${me.username}` : `bot · @${me.username} · no webhook yet`);
}

function setStatus(message, active = false) {
  $("bot-status").textContent = message;
  $("bot-status").classList.toggle("active", active);
}

function clearChat() {
  state.bubbles.clear();
  state.view = null;
  $("messages").replaceChildren();
  $("reply-keyboard").hidden = true;
}

function renderMessages(messages) {
  const chat = $("chat");
  const list = $("messages");
  const atBottom = chat.scrollHeight - chat.scrollTop - chat.clientHeight < 80;
  const seen = new Set();
  let added = false;
  let previous = null;
  for (const message of messages) {
    seen.add(message.message_id);
    const signature = JSON.stringify(message);
    let entry = state.bubbles.get(message.message_id);
    if (!entry || entry.signature !== signature) {  // new or edited: (re)build just this bubble
      const row = bubble(message, bubbleActions);
      if (entry) entry.row.replaceWith(row); else added = true;
      entry = { row, signature };
      state.bubbles.set(message.message_id, entry);
    }
    const expected = previous ? previous.nextSibling : list.firstChild;
    if (entry.row !== expected) list.insertBefore(entry.row, expected);
    previous = entry.row;
  }
  for (const [id, entry] of state.bubbles) {
    if (!seen.has(id)) { entry.row.remove(); state.bubbles.delete(id); }  // deleted by the bot
  }
  // Follow the conversation unless the user scrolled up to read; their own new message always shows.
  const last = messages[messages.length - 1];
  if (atBottom || (added && last && last.sender === "user")) chat.scrollTop = chat.scrollHeight;
}

// ---- acting as the user ----------------------------------------------------------------------------

async function control(path, body) {
  const user = users.current;
  const response = await fetch(`/control/bots/${state.token}/users/${user.id}${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ ...body, first_name: user.first_name, language_code: user.language_code || undefined }),
  });
  if (!response.ok) {
    const problem = await response.json().catch(() => ({}));
    showToast(`The emulator refused: ${problem.error || response.status}`);
  }
}

function sendText(message) {
  if (!state.token || !message.trim()) return;
  $("commands").hidden = true;
  control("/messages", { text: message });
}

async function press(messageId, data, button) {
  button.classList.add("pressed");
  await control("/callbacks", { message_id: messageId, data });
  setTimeout(() => button.classList.remove("pressed"), 400);
}

function submitInput() {
  const input = $("input");
  const message = input.value;
  input.value = "";
  autosize();
  sendText(message);
}

function renderCommands() {
  const commands = state.view && state.view.commands.length
    ? state.view.commands : [{ command: "start", description: "start the bot" }];
  const typed = $("input").value;
  const prefix = typed.startsWith("/") ? typed.slice(1).toLowerCase() : "";
  const items = commands.filter((c) => c.command.startsWith(prefix)).map((c) => {
    const item = element("button", "command-item");
    item.type = "button";
    item.append(text("b", `/${c.command}`), text("span", c.description));
    item.addEventListener("click", () => { $("input").value = ""; autosize(); sendText(`/${c.command}`); });
    return item;
  });
  $("commands").replaceChildren(...items);
  if (!items.length) $("commands").hidden = true;
}

function toggleCommands(show) {
  renderCommands();
  $("commands").hidden = !show || !$("commands").childElementCount;
}

function setComposerEnabled(enabled) {
  $("composer").classList.toggle("disabled", !enabled);
  $("input").placeholder = enabled ? "Message" : "Waiting for the bot…";
}

function switchUser(id) {
  users.current = users.find(id);
  const url = new URL(location.href);
  url.searchParams.set("user", String(id));
  for (const name of ["name", "lang"]) url.searchParams.delete(name);
  history.replaceState(null, "", url);
  users.renderSelect($("user-select"));
  clearChat();
  connect();
}

function askForNewUser() {
  const dialog = $("new-user-dialog");
  const form = $("new-user-form");
  form.reset();
  dialog.returnValue = "";
  dialog.showModal();
  dialog.addEventListener("close", () => {
    const fields = new FormData(form);
    const firstName = String(fields.get("first_name")).trim();
    if (dialog.returnValue !== "ok" || !firstName) { users.renderSelect($("user-select")); return; }
    const id = users.nextId();
    users.add({ id, first_name: firstName, language_code: String(fields.get("language_code")) });
    switchUser(id);
  }, { once: true });
}

// ---- small helpers ---------------------------------------------------------------------------------

let toastTimer = null;
function showToast(message, alert = false) {
  const toast = $("toast");
  toast.textContent = message;
  toast.classList.toggle("alert", alert);
  toast.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { toast.hidden = true; }, alert ? 5000 : 2500);
}

function autosize() {
  const input = $("input");
  input.style.height = "auto";
  input.style.height = `${Math.min(input.scrollHeight, 140)}px`;
}

// ---- start -------------------------------------------------------------------------------------------

$("composer").addEventListener("submit", (event) => { event.preventDefault(); submitInput(); });
$("input").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { event.preventDefault(); submitInput(); }
  if (event.key === "Escape") $("commands").hidden = true;
});
$("input").addEventListener("input", () => { autosize(); toggleCommands($("input").value.startsWith("/")); });
$("menu-button").addEventListener("click", () => toggleCommands($("commands").hidden));
$("toast").addEventListener("click", () => { $("toast").hidden = true; });
$("user-select").addEventListener("change", (event) => {
  if (event.target.value === "new") askForNewUser(); else switchUser(Number(event.target.value));
});

users.renderSelect($("user-select"));
connect();
$("input").focus();
