// DOM helpers and message entities → elements. Nothing the bot sends is ever inserted as HTML: text goes in
// as text nodes and each entity becomes an element built here.

export function element(tag, className) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  return node;
}

/** text(tag, content) or text(tag, className, content) */
export function text(tag, classOrContent, content) {
  const node = element(tag, content === undefined ? null : classOrContent);
  node.textContent = content === undefined ? classOrContent : content;
  return node;
}

export function link(href, label, className) {
  const a = element("a", className);
  a.href = href;
  if (label !== null) a.textContent = label;
  return a;
}

/** An absolute URL of a scheme a chat may link to, or null. */
export function safeUrl(raw) {
  try {
    const url = new URL(/^[a-z][a-z0-9+.-]*:/i.test(raw) ? raw : `http://${raw}`);
    return ["http:", "https:", "tg:", "mailto:"].includes(url.protocol) ? url.href : null;
  } catch { return null; }
}

const SIMPLE = {
  bold: "b", italic: "i", underline: "u", strikethrough: "s", code: "code", pre: "pre",
  blockquote: "blockquote", expandable_blockquote: "blockquote",
};

/** Text with Telegram entities as a fragment; offsets count UTF-16 code units, as JavaScript strings do. */
export function renderEntities(body, entities, onCommand) {
  const fragment = document.createDocumentFragment();
  const sorted = [...(entities || [])].sort((a, b) => a.offset - b.offset || b.length - a.length);
  appendRange(fragment, body, 0, body.length, sorted, onCommand);
  return fragment;
}

function appendRange(parent, body, start, end, entities, onCommand) {
  let pos = start;
  let i = 0;
  while (i < entities.length) {
    const entity = entities[i];
    const stop = Math.min(entity.offset + entity.length, end);
    let j = i + 1;
    while (j < entities.length && entities[j].offset < stop) j++;  // the ones nested inside this one
    const from = Math.max(entity.offset, pos);
    if (from > pos) parent.append(body.slice(pos, from));
    if (stop > from) {
      const node = entityElement(entity, body.slice(from, stop), onCommand);
      appendRange(node, body, from, stop, entities.slice(i + 1, j), onCommand);
      parent.append(node);
      pos = stop;
    }
    i = j;
  }
  if (pos < end) parent.append(body.slice(pos, end));
}

function entityElement(entity, content, onCommand) {
  if (SIMPLE[entity.type]) return element(SIMPLE[entity.type]);
  switch (entity.type) {
    case "text_link": return safeUrl(entity.url) ? link(safeUrl(entity.url), null) : element("span");
    case "url": return safeUrl(content) ? link(safeUrl(content), null) : element("span");
    case "email": return link(`mailto:${content}`, null);
    case "bot_command": {
      const span = element("span", "command");
      span.addEventListener("click", () => onCommand(content));
      return span;
    }
    case "spoiler": {
      const span = element("span", "spoiler");
      span.addEventListener("click", () => span.classList.add("revealed"));
      return span;
    }
    default: return element("span", entity.type);
  }
}
